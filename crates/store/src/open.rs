//! Opening a store: creating it ([`Store::open`]) or insisting that it exists
//! ([`Store::open_existing`]), read-write or read-only ([`Access`]), the schema-version check
//! and migrations.
//!
//! A read-only open never writes: SQLite opens the file with `SQLITE_OPEN_READONLY` (so it
//! works on a file, or in a directory, the user cannot write) and sets no pragma that writes;
//! PostgreSQL sessions run with `default_transaction_read_only`. A schema older than this
//! binary cannot be migrated then, and is [`StoreError::Outdated`].

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::StoreError;
use crate::location::{Location, redact};
use crate::model::Backend;
use crate::store::{BUSY_TIMEOUT, Pool, Store, on_backend};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long to wait for a PostgreSQL server to answer the first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How [`Store::open_existing`] may use a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write; a schema older than this binary is migrated.
    ReadWrite,
    /// Read only, and never write anything: not a row, not a pragma, not a migration. Works
    /// on a SQLite file or directory the user cannot write. A schema older than this binary
    /// is [`StoreError::Outdated`]; every write is [`StoreError::ReadOnly`].
    ReadOnly,
}

/// What an open may do.
#[derive(Debug, Clone, Copy)]
struct Mode {
    /// Create the store (the SQLite file and its directories, the schema) if it is not there.
    create: bool,
    access: Access,
}

impl Store {
    /// Open the store at `url`: `sqlite:PATH` (the file and its directories are created on
    /// first use; WAL mode) or `postgres://…` (the schema is created in the database).
    /// Migrates an older schema; a schema newer than this binary is [`StoreError::TooNew`].
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let mode = Mode {
            create: true,
            access: Access::ReadWrite,
        };
        open(url, mode).await
    }

    /// Open the store at `url`, which must exist: a missing SQLite file (or an empty one), or
    /// a PostgreSQL database without the fearless schema, is [`StoreError::NoStore`], and
    /// nothing is created. With [`Access::ReadOnly`] nothing is written either.
    pub async fn open_existing(url: &str, access: Access) -> Result<Store, StoreError> {
        let mode = Mode {
            create: false,
            access,
        };
        open(url, mode).await
    }
}

async fn open(url: &str, mode: Mode) -> Result<Store, StoreError> {
    match Location::parse(url)? {
        Location::Sqlite(path) => open_sqlite(&path, mode).await,
        Location::Postgres(url) => open_postgres(&url, mode).await,
    }
}

async fn open_sqlite(path: &Path, mode: Mode) -> Result<Store, StoreError> {
    let fail = |error: sqlx::Error| sqlite_error(path, error);
    let store = |pool, read_only| Store {
        pool: Pool::Sqlite(pool),
        location: path.display().to_string(),
        read_only,
        signer: None,
    };
    let options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let read_write = |options: SqliteConnectOptions| {
        options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
    };
    let has_data = match std::fs::metadata(path) {
        Ok(meta) => meta.len() > 0,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        // A path that cannot even be looked at is left to SQLite, which says why.
        Err(_) => true,
    };
    if !has_data {
        // Missing or empty: nothing to look at first.
        if !mode.create {
            return Err(StoreError::NoStore {
                location: path.display().to_string(),
            });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir {
                path: dir.to_owned(),
                error,
            })?;
        }
        let pool = connect_sqlite(read_write(options).create_if_missing(true))
            .await
            .map_err(fail)?;
        let fresh = store(pool, false);
        fresh
            .migrate(&SQLITE_MIGRATIONS)
            .await
            .map_err(|e| e.on_sqlite(path))?;
        return Ok(fresh);
    }
    // Look before writing anything: a file of another program, a schema of another version.
    let looked = store(
        connect_sqlite_read_only(options.clone())
            .await
            .map_err(fail)?,
        true,
    );
    let schema = looked
        .schema(mode.create, &SQLITE_MIGRATIONS)
        .await
        .map_err(|e| e.on_sqlite(path))?;
    if mode.access == Access::ReadOnly {
        looked.current(schema)?;
        return Ok(looked);
    }
    looked.close().await;
    let pool = connect_sqlite(read_write(options)).await.map_err(fail)?;
    let opened = store(pool, false);
    opened
        .migrate(&SQLITE_MIGRATIONS)
        .await
        .map_err(|e| e.on_sqlite(path))?;
    Ok(opened)
}

/// How long a task may wait for a pool connection before the pool logs a warning. Writers
/// take turns (one at a time, under the journal head's lock), so the hosts of a large wave
/// queue for seconds by design; sqlx's 2 s default warned 88 times in a 1,000-host rollout.
const SLOW_ACQUIRE: Duration = Duration::from_secs(15);

async fn connect_sqlite(options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
    SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_slow_threshold(SLOW_ACQUIRE)
        .connect_with(options)
        .await
}

/// A read-only pool. A database in WAL mode is read through its `-shm` index, which a reader
/// creates when there is none; where it cannot (a directory the user cannot write), the file
/// is opened as immutable instead: read as it is on disk, without locks. No writer has the
/// database open at that moment (a writer keeps that index); one that starts while it is read
/// can make the read fail, and running the command again is the remedy.
async fn connect_sqlite_read_only(
    options: SqliteConnectOptions,
) -> Result<SqlitePool, sqlx::Error> {
    let options = options.read_only(true);
    let shared = async {
        let pool = connect_sqlite(options.clone()).await?;
        // The first read opens the write-ahead log, if the database has one.
        sqlx::query(crate::sql::SQLITE_PROBE).execute(&pool).await?;
        Ok::<_, sqlx::Error>(pool)
    };
    match shared.await {
        Err(error) if cannot_open_wal(&error) => connect_sqlite(options.immutable(true)).await,
        other => other,
    }
}

/// SQLITE_READONLY or SQLITE_CANTOPEN (any extended code): a read-only connection could not
/// open or create the write-ahead log's files.
fn cannot_open_wal(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 8 | 14))
}

async fn open_postgres(url: &str, mode: Mode) -> Result<Store, StoreError> {
    let location = redact(url);
    let mut options = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
        url: location.clone(),
        reason: e.to_string(),
    })?;
    if mode.access == Access::ReadOnly {
        options = options.options([("default_transaction_read_only", "on")]);
    }
    let connect_error = |error: sqlx::Error| StoreError::Connect {
        url: location.clone(),
        error,
    };
    // One direct connection first: the pool would retry a refused connection until its
    // timeout and then only say that it timed out.
    let first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
        .await
        .map_err(|_| {
            connect_error(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            )))
        })?
        .map_err(connect_error)?;
    // Closing politely is a courtesy; the server copes with a dropped connection.
    let _ = first.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .acquire_slow_threshold(SLOW_ACQUIRE)
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy_with(options);
    let store = Store {
        pool: Pool::Postgres(pool),
        location,
        read_only: mode.access == Access::ReadOnly,
        signer: None,
    };
    let schema = store.schema(mode.create, &POSTGRES_MIGRATIONS).await?;
    match mode.access {
        Access::ReadOnly => store.current(schema)?,
        // Nothing to apply: the migrator (whose bookkeeping table needs CREATE on the
        // schema) is not run, so an operator connecting as their own role needs only
        // the privileges on the tables its owner granted.
        Access::ReadWrite if schema == Schema::Current => {}
        Access::ReadWrite => store.migrate(&POSTGRES_MIGRATIONS).await?,
    }
    Ok(store)
}

/// A store's schema, as read without writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    /// No schema at all: a new store (only where one may be created).
    Empty,
    /// Every migration of this binary is applied.
    Current,
    /// Some are missing; `found` is the newest applied (0: none).
    Behind { found: i64, supported: i64 },
}

impl Store {
    /// Read the store's schema: a SQLite database of another program is left alone, a store
    /// that must exist (`create` false) but has no schema is [`StoreError::NoStore`], a schema
    /// newer than `migrator` is [`StoreError::TooNew`].
    async fn schema(&self, create: bool, migrator: &Migrator) -> Result<Schema, StoreError> {
        let applied: BTreeSet<i64> = if self.has_migrations_table().await? {
            let rows: Vec<(i64,)> =
                on_backend!(self, |pool| sqlx::query_as(crate::sql::APPLIED_MIGRATIONS)
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::query)?);
            rows.into_iter().map(|(version,)| version).collect()
        } else {
            // A SQLite database with tables but no migrations belongs to another program.
            let (tables,): (i64,) = on_backend!(self, |pool, sql| sqlx::query_as(sql.user_tables)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query)?);
            if self.backend() == Backend::Sqlite && tables > 0 {
                return Err(StoreError::NotAStore {
                    path: self.location.clone().into(),
                });
            }
            if !create {
                return Err(StoreError::NoStore {
                    location: self.location.clone(),
                });
            }
            return Ok(Schema::Empty);
        };
        let supported = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let newest = applied.last().copied().unwrap_or(0);
        if newest > supported {
            return Err(StoreError::TooNew {
                found: newest,
                supported,
            });
        }
        // The schema is as new as its longest run of applied migrations from the first.
        let found = migrator
            .iter()
            .map(|m| m.version)
            .take_while(|v| applied.contains(v))
            .last()
            .unwrap_or(0);
        Ok(if migrator.iter().all(|m| applied.contains(&m.version)) {
            Schema::Current
        } else {
            Schema::Behind { found, supported }
        })
    }

    /// A read-only store can only be used with the current schema.
    fn current(&self, schema: Schema) -> Result<(), StoreError> {
        match schema {
            Schema::Current => Ok(()),
            Schema::Behind { found, supported } => Err(StoreError::Outdated {
                location: self.location.clone(),
                found,
                supported,
                reason: None,
            }),
            Schema::Empty => Err(StoreError::NoStore {
                location: self.location.clone(),
            }),
        }
    }

    /// Apply what `migrator` has that the store has not (checking the applied ones are unchanged).
    async fn migrate(&self, migrator: &Migrator) -> Result<(), StoreError> {
        let result = on_backend!(self, |pool| migrator.run(pool).await);
        result.map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(error) => StoreError::query(error),
            error => StoreError::Migrate { error },
        })
    }

    async fn has_migrations_table(&self) -> Result<bool, StoreError> {
        let (count,): (i64,) =
            on_backend!(self, |pool, sql| sqlx::query_as(sql.has_migrations_table)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query)?);
        Ok(count > 0)
    }
}

impl StoreError {
    /// A driver error while opening `path`, with "not a database" told apart.
    fn on_sqlite(self, path: &Path) -> StoreError {
        match self {
            StoreError::Query { error } => sqlite_error(path, error),
            other => other,
        }
    }
}

/// A SQLite error while opening, with "not a database" told apart.
fn sqlite_error(path: &Path, error: sqlx::Error) -> StoreError {
    // SQLITE_NOTADB
    let not_a_database = error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "26");
    if not_a_database {
        StoreError::NotADatabase {
            path: path.to_owned(),
        }
    } else {
        StoreError::OpenSqlite {
            path: path.to_owned(),
            error,
        }
    }
}
