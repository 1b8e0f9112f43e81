//! Shared helpers: a fresh store per test on either backend, stores with a few entries, the
//! journal as a test reads it, and raw SQL access for tampering.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use fearless_store::{JournalEntry, JournalFilter, NewEvent, Store, StoreError, Stored};
use serde_json::json;
use sqlx::{Connection, PgConnection, SqliteConnection};

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
}

/// The admin URL of the test server.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("FEARLESS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh, empty database for one test; removed when dropped.
#[derive(Debug)]
pub(crate) struct TestDb {
    pub(crate) kind: Kind,
    pub(crate) url: String,
    dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub(crate) async fn new(kind: Kind) -> TestDb {
        TestDb::with_encoding(kind, "UTF8").await
    }

    /// A fresh database; on PostgreSQL with this server encoding (`SQL_ASCII` stores any bytes
    /// as text, as an old database may).
    pub(crate) async fn with_encoding(kind: Kind, encoding: &str) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite:{}",
                    dir.path().join("nested/dir/state.db").display()
                );
                TestDb {
                    kind,
                    url,
                    dir: Some(dir),
                    pg_name: None,
                }
            }
            Kind::Postgres => {
                let name = format!(
                    "fearless_test_{}_{}",
                    std::process::id(),
                    NEXT_DB.fetch_add(1, Ordering::Relaxed)
                );
                let admin = postgres_admin_url();
                let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for these tests and is unreachable at {admin}: {e}"
                    )
                });
                // A database name cannot be a bind parameter; `name` is ours (letters, digits, _),
                // and so is the encoding.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {name} ENCODING '{encoding}' TEMPLATE template0"
                )))
                .execute(&mut conn)
                .await
                .expect("create test database");
                let _ = conn.close().await;
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                TestDb {
                    kind,
                    url,
                    dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", self.url))
    }

    /// The store with `n` appended entries (payloads `{"n": i, "approved": true}`), verified intact.
    pub(crate) async fn with_entries(&self, n: u64) -> Store {
        let store = self.open().await;
        for i in 1..=n {
            // odd entries say what vouched for ann, even ones do not (as before schema 6)
            store
                .append(NewEvent {
                    vouched_by: (i % 2 == 1).then(|| "os-account".to_owned()),
                    ..event(
                        "ann",
                        "host.package.upgraded",
                        json!({"n": i, "approved": true}),
                    )
                })
                .await
                .expect("append");
        }
        let report = store.verify().await.expect("verify");
        assert!(report.is_ok() && report.entries == n, "{report:?}");
        store
    }

    /// The SQLite file (SQLite only).
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(self.url.strip_prefix("sqlite:").expect("a sqlite test db"))
    }

    /// A plain connection that bypasses the store, as an attacker or an admin with psql would.
    pub(crate) async fn raw(&self) -> Raw {
        match self.kind {
            Kind::Sqlite => Raw::Sqlite(
                SqliteConnection::connect(&self.url)
                    .await
                    .expect("raw sqlite"),
            ),
            Kind::Postgres => Raw::Postgres(
                PgConnection::connect(&self.url)
                    .await
                    .expect("raw postgres"),
            ),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&postgres_admin_url()).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        });
        let _ = cleanup.join();
        drop(self.dir.take());
    }
}

/// A raw connection to a test database.
#[derive(Debug)]
pub(crate) enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Raw {
    /// Run statements without binds.
    pub(crate) async fn exec(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            Raw::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
            Raw::Postgres(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
        }
    }

    /// Run the statement written for this backend.
    pub(crate) async fn exec_for(
        &mut self,
        sqlite: &'static str,
        postgres: &'static str,
    ) -> Result<(), sqlx::Error> {
        let sql = match self {
            Raw::Sqlite(_) => sqlite,
            Raw::Postgres(_) => postgres,
        };
        self.exec(sql).await
    }

    /// Close the connection and wait for it: SQLite writes what is in its log into the
    /// database file when the last connection closes.
    pub(crate) async fn close(self) {
        let closed = match self {
            Raw::Sqlite(c) => c.close().await,
            Raw::Postgres(c) => c.close().await,
        };
        closed.expect("close raw connection");
    }

    /// Run the statement written for this backend, which must succeed.
    pub(crate) async fn tamper(&mut self, sqlite: &'static str, postgres: &'static str) {
        self.exec_for(sqlite, postgres)
            .await
            .unwrap_or_else(|e| panic!("tamper: {e}"));
    }

    /// Let the journal take NULLs and repeated seqs (what a hand-made copy of it could hold).
    pub(crate) async fn loosen_journal(&mut self) {
        self.tamper(
            "CREATE TABLE loose (seq, time, actor, kind, subject, payload, prev_hash, hash, vouched_by, signature); \
             INSERT INTO loose SELECT * FROM journal; DROP TABLE journal; \
             ALTER TABLE loose RENAME TO journal;",
            "ALTER TABLE journal DROP CONSTRAINT journal_pkey, ALTER COLUMN seq DROP NOT NULL, \
             ALTER COLUMN time DROP NOT NULL, ALTER COLUMN actor DROP NOT NULL, \
             ALTER COLUMN kind DROP NOT NULL, ALTER COLUMN subject DROP NOT NULL, \
             ALTER COLUMN payload DROP NOT NULL, ALTER COLUMN prev_hash DROP NOT NULL, \
             ALTER COLUMN hash DROP NOT NULL;",
        )
        .await;
    }

    /// Let the journal head take more rows, other ids and NULLs.
    pub(crate) async fn loosen_head(&mut self) {
        self.tamper(
            "CREATE TABLE loose_head (id, seq, hash); \
             INSERT INTO loose_head SELECT * FROM journal_head; DROP TABLE journal_head; \
             ALTER TABLE loose_head RENAME TO journal_head;",
            "ALTER TABLE journal_head DROP CONSTRAINT journal_head_pkey, \
             DROP CONSTRAINT journal_head_id_check, ALTER COLUMN seq DROP NOT NULL, \
             ALTER COLUMN hash DROP NOT NULL;",
        )
        .await;
    }

    /// Remove the append-only triggers, as someone bent on tampering would.
    pub(crate) async fn allow_tampering(&mut self) {
        self.tamper(
            "DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete;",
            "ALTER TABLE journal DISABLE TRIGGER USER",
        )
        .await;
    }
}

/// Every journal entry, in order.
pub(crate) async fn entries(store: &Store) -> Vec<JournalEntry> {
    store
        .journal(&JournalFilter::default())
        .await
        .expect("journal")
}

/// The journal entries about `subject`, in order.
pub(crate) async fn entries_about(store: &Store, subject: &str) -> Vec<JournalEntry> {
    store
        .journal(&JournalFilter {
            subject: Some(subject.to_owned()),
            ..JournalFilter::default()
        })
        .await
        .expect("journal")
}

/// The kinds of the journal entries about `subject`, in order.
pub(crate) async fn kinds_about(store: &Store, subject: &str) -> Vec<String> {
    entries_about(store, subject)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// A new change holding `record`, in state `new` (event `change.created`).
pub(crate) async fn new_change(store: &Store, record: serde_json::Value) -> Stored {
    store
        .insert_change("new", &record, ev("change.created"))
        .await
        .expect("insert change")
}

/// Move change `number` from `version` to `state` with `record` (event `change.<state>`).
pub(crate) async fn move_change(
    store: &Store,
    (number, version): (u64, u64),
    state: &str,
    record: serde_json::Value,
) -> Result<Stored, StoreError> {
    let kind = format!("change.{state}");
    store
        .update_change(number, version, state, &record, ev(&kind))
        .await
}

/// An event by `ops` of `kind` with an empty payload.
pub(crate) fn ev(kind: &str) -> NewEvent {
    event("ops", kind, json!({}))
}

/// An event by `actor` of `kind` with `payload`, subject `host:web-1`.
pub(crate) fn event(actor: &str, kind: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent {
        actor: actor.to_owned(),
        kind: kind.to_owned(),
        subject: "host:web-1".to_owned(),
        payload,
        vouched_by: None,
        sign: false,
    }
}

/// Expands each `async fn NAME(db: &TestDb)` listed into `NAME::sqlite` and `NAME::postgres`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::common::{Kind, TestDb};

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    let db = TestDb::new(Kind::Sqlite).await;
                    super::cases::$name(&db).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let db = TestDb::new(Kind::Postgres).await;
                    super::cases::$name(&db).await;
                }
            }
        )*
    };
}
pub(crate) use backend_tests;
