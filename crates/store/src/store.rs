//! [`Store`]: opening either backend (with migrations and the schema-version check) and every
//! read and write of change records and the journal.
//!
//! Every write is one transaction that starts by reading the journal head under the write
//! lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL `SELECT … FOR UPDATE` on `journal_head`), then
//! does its work, appends its journal entry and moves the head. So writers are serialised,
//! change numbers come out 1, 2, … without races, and no state change exists without its entry.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::StoreError;
use crate::canonical::{self, GENESIS, Hashed};
use crate::location::{Location, redact};
use crate::model::{
    Backend, BrokenLink, JournalEntry, JournalFilter, NewEvent, RolloutHost, Stored,
    StoredSnapshot, VerifyReport,
};
use crate::sql::{POSTGRES, SQLITE, Sql};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a SQLite writer waits for another (process) to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a PostgreSQL server to answer the first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many journal rows `verify` and `export` hold in memory at once.
const PAGE: i64 = 1000;

/// The fixed-width form of every time the store writes; fixed width makes text order time order.
const TIME_FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Change records and the journal, on SQLite or PostgreSQL behind one type.
///
/// Cheap to share by reference across tasks; it holds a connection pool.
#[derive(Debug)]
pub struct Store {
    pool: Pool,
    location: String,
}

#[derive(Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool and `$sql` to its statements. The
/// body is compiled once per backend, so the same code serves both.
macro_rules! on_backend {
    ($store:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => {
                let $sql: &'static Sql = &SQLITE;
                $body
            }
            Pool::Postgres($pool) => {
                let $sql: &'static Sql = &POSTGRES;
                $body
            }
        }
    };
}

/// Inserts `$entry` (a [`Pending`]) into the journal and moves the head, inside `$tx`.
macro_rules! write_entry {
    ($tx:ident, $sql:ident, $entry:expr) => {{
        let entry: &Pending = $entry;
        sqlx::query($sql.insert_entry)
            .bind(entry.seq)
            .bind(&entry.time)
            .bind(&entry.event.actor)
            .bind(&entry.event.kind)
            .bind(&entry.event.subject)
            .bind(&entry.payload)
            .bind(&entry.prev_hash)
            .bind(&entry.hash)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query)?;
        sqlx::query($sql.move_head)
            .bind(entry.seq)
            .bind(&entry.hash)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query)?;
    }};
}

/// A journal row as read: seq, time, actor, kind, subject, payload, prev_hash, hash.
type EntryRow = (i64, String, String, String, String, String, String, String);
/// A change row as read: number, version, state, record, created_at, updated_at.
type ChangeRow = (i64, i64, String, String, String, String);
/// A snapshot row as read: number, taken_at, actor, record.
type SnapshotRow = (i64, String, String, String);

impl Store {
    /// Open the store at `url`: `sqlite:PATH` (the file and its directories are created on
    /// first use; WAL mode) or `postgres://…`. Migrates an older schema; a schema newer than
    /// this binary is [`StoreError::TooNew`].
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        match Location::parse(url)? {
            Location::Sqlite(path) => open_sqlite(&path).await,
            Location::Postgres(url) => open_postgres(&url).await,
        }
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Where the store is, fit to print: the SQLite path or the PostgreSQL URL without its password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Close every connection, waiting for work in progress. Dropping the store also closes
    /// them, without waiting.
    pub async fn close(&self) {
        on_backend!(self, |pool, _sql| pool.close().await);
    }

    /// Insert a new change: assigns the next number (1, 2, …) and version 1, and appends
    /// `event` to the journal in the same transaction, with its subject set to `CHG-<number>`.
    pub async fn insert_change(
        &self,
        state: &str,
        record: &Value,
        event: NewEvent,
    ) -> Result<Stored, StoreError> {
        self.insert_change_with(|_| (state.to_owned(), record.clone(), event))
            .await
    }

    /// Like [`Store::insert_change`], for records that carry their own number: `build` gets
    /// the number the store assigns and returns the state, the record and the journal event,
    /// all written in the same transaction.
    pub async fn insert_change_with<F>(&self, build: F) -> Result<Stored, StoreError>
    where
        F: FnOnce(u64) -> (String, Value, NewEvent),
    {
        let (now, now_text) = now();
        let (number, state, record) = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: (i64, String) = sqlx::query_as(sql.lock_head)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let (number,): (i64,) = sqlx::query_as(sql.next_number)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let (state, record, mut event) = build(to_u64(number));
            let record_text = canonical::to_canonical(&record);
            sqlx::query(sql.insert_change)
                .bind(number)
                .bind(&state)
                .bind(&record_text)
                .bind(&now_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            event.subject = Doc::Change.id(to_u64(number));
            let entry = Pending::new(head, &now_text, event);
            write_entry!(tx, sql, &entry);
            tx.commit().await.map_err(StoreError::query)?;
            (number, state, record)
        });
        Ok(Stored {
            number: to_u64(number),
            version: 1,
            state,
            record,
            created_at: now,
            updated_at: now,
        })
    }

    /// The change with this number, if there is one.
    pub async fn get_change(&self, number: u64) -> Result<Option<Stored>, StoreError> {
        self.get_document(Doc::Change, number).await
    }

    /// Every change, by number.
    pub async fn list_changes(&self) -> Result<Vec<Stored>, StoreError> {
        self.list_documents(Doc::Change).await
    }

    /// Replace the record if its version is still `expected_version` (optimistic locking),
    /// bump the version and append `event` (subject set to `CHG-<number>`) in the same
    /// transaction. Someone else got there first → [`StoreError::Conflict`] and nothing is
    /// written; no such change → [`StoreError::UnknownChange`].
    pub async fn update_change(
        &self,
        number: u64,
        expected_version: u64,
        state: &str,
        record: &Value,
        event: NewEvent,
    ) -> Result<Stored, StoreError> {
        self.update_document(Doc::Change, number, expected_version, state, record, event)
            .await
    }

    /// Insert a package snapshot: assigns the next number (`SNAP-1`, `SNAP-2`, …) and appends
    /// `event` (subject set to `SNAP-<number>`) in the same transaction. `record` is stored
    /// as canonical JSON text, so it reads back byte for byte.
    pub async fn insert_snapshot(
        &self,
        record: &Value,
        mut event: NewEvent,
    ) -> Result<StoredSnapshot, StoreError> {
        let (now, now_text) = now();
        let record_text = canonical::to_canonical(record);
        let actor = event.actor.clone();
        let number = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: (i64, String) = sqlx::query_as(sql.lock_head)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let (number,): (i64,) = sqlx::query_as(sql.next_snapshot)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            sqlx::query(sql.insert_snapshot)
                .bind(number)
                .bind(&now_text)
                .bind(&actor)
                .bind(&record_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            event.subject = snapshot_subject(number);
            let entry = Pending::new(head, &now_text, event);
            write_entry!(tx, sql, &entry);
            tx.commit().await.map_err(StoreError::query)?;
            number
        });
        Ok(StoredSnapshot {
            number: to_u64(number),
            taken_at: now,
            actor,
            record: record.clone(),
        })
    }

    /// The snapshot with this number, if there is one.
    pub async fn get_snapshot(&self, number: u64) -> Result<Option<StoredSnapshot>, StoreError> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        let row: Option<SnapshotRow> =
            on_backend!(self, |pool, sql| sqlx::query_as(sql.get_snapshot)
                .bind(number)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query)?);
        row.map(snapshot_from_row).transpose()
    }

    /// Every snapshot, by number.
    pub async fn list_snapshots(&self) -> Result<Vec<StoredSnapshot>, StoreError> {
        let rows: Vec<SnapshotRow> =
            on_backend!(self, |pool, sql| sqlx::query_as(sql.list_snapshots)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?);
        rows.into_iter().map(snapshot_from_row).collect()
    }

    /// Insert a rollout with its hosts (all `initial_state`) and `event` (subject set to
    /// `R-<number>`) in one transaction; numbers are 1, 2, … like changes.
    pub async fn insert_rollout(
        &self,
        state: &str,
        record: &Value,
        hosts: &[(String, u32)],
        initial_state: &str,
        mut event: NewEvent,
    ) -> Result<Stored, StoreError> {
        let (now, now_text) = now();
        let record_text = canonical::to_canonical(record);
        let number = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: (i64, String) = sqlx::query_as(sql.lock_head)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let (number,): (i64,) = sqlx::query_as(sql.next_rollout)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            sqlx::query(sql.insert_rollout)
                .bind(number)
                .bind(state)
                .bind(&record_text)
                .bind(&now_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            for (host, wave) in hosts {
                sqlx::query(sql.insert_rollout_host)
                    .bind(number)
                    .bind(host)
                    .bind(i64::from(*wave))
                    .bind(initial_state)
                    .bind(&now_text)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
            }
            event.subject = Doc::Rollout.id(to_u64(number));
            let entry = Pending::new(head, &now_text, event);
            write_entry!(tx, sql, &entry);
            tx.commit().await.map_err(StoreError::query)?;
            number
        });
        Ok(Stored {
            number: to_u64(number),
            version: 1,
            state: state.to_owned(),
            record: record.clone(),
            created_at: now,
            updated_at: now,
        })
    }

    /// The rollout with this number, if there is one.
    pub async fn get_rollout(&self, number: u64) -> Result<Option<Stored>, StoreError> {
        self.get_document(Doc::Rollout, number).await
    }

    /// Every rollout, by number.
    pub async fn list_rollouts(&self) -> Result<Vec<Stored>, StoreError> {
        self.list_documents(Doc::Rollout).await
    }

    /// Replace a rollout record if its version is still `expected_version`, with `event`
    /// (subject `R-<number>`), in one transaction; else [`StoreError::RolloutConflict`] (or
    /// `UnknownRollout`) and nothing is written.
    pub async fn update_rollout(
        &self,
        number: u64,
        expected_version: u64,
        state: &str,
        record: &Value,
        event: NewEvent,
    ) -> Result<Stored, StoreError> {
        self.update_document(Doc::Rollout, number, expected_version, state, record, event)
            .await
    }

    /// The hosts of a rollout, by wave then name.
    pub async fn rollout_hosts(&self, number: u64) -> Result<Vec<RolloutHost>, StoreError> {
        let Ok(key) = i64::try_from(number) else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, i64, String, Option<i64>, String)> =
            on_backend!(self, |pool, sql| sqlx::query_as(sql.rollout_hosts)
                .bind(key)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?);
        rows.into_iter()
            .map(|(host, wave, state, snapshot, updated_at)| {
                Ok(RolloutHost {
                    updated_at: parse_time(&updated_at, format!("rollout R-{number} host {host}"))?,
                    host,
                    wave: u32::try_from(wave).unwrap_or(0),
                    state,
                    snapshot: snapshot.map(to_u64),
                })
            })
            .collect()
    }

    /// Move one host of a rollout from `from` to `to` (recording its snapshot when given),
    /// with `event` (subject `R-<number>`), in one transaction — only if the host is still
    /// in `from`: a host another controller moved is [`StoreError::HostMoved`] and nothing
    /// is written.
    pub async fn move_host(
        &self,
        number: u64,
        host: &str,
        from: &str,
        to: &str,
        snapshot: Option<u64>,
        mut event: NewEvent,
    ) -> Result<(), StoreError> {
        let Ok(key) = i64::try_from(number) else {
            return Err(StoreError::UnknownRollout { number });
        };
        let snapshot = snapshot.and_then(|s| i64::try_from(s).ok());
        let (_, now_text) = now();
        on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: (i64, String) = sqlx::query_as(sql.lock_head)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let moved = sqlx::query(sql.move_host)
                .bind(key)
                .bind(host)
                .bind(from)
                .bind(to)
                .bind(snapshot)
                .bind(&now_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            if moved.rows_affected() != 1 {
                let found: Option<(String,)> = sqlx::query_as(sql.host_state)
                    .bind(key)
                    .bind(host)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
                return Err(StoreError::HostMoved {
                    rollout: number,
                    host: host.to_owned(),
                    expected: from.to_owned(),
                    found: found.map(|(s,)| s),
                });
            }
            event.subject = Doc::Rollout.id(to_u64(key));
            let entry = Pending::new(head, &now_text, event);
            write_entry!(tx, sql, &entry);
            tx.commit().await.map_err(StoreError::query)?;
        });
        Ok(())
    }

    /// Open an incident: assigns the next number (`INC-1`, …) and appends `event` (subject
    /// set to `INC-<number>`) in the same transaction. The record is a JSON document with a
    /// state and a version, like a change.
    pub async fn insert_incident(
        &self,
        state: &str,
        record: &Value,
        mut event: NewEvent,
    ) -> Result<Stored, StoreError> {
        let (now, now_text) = now();
        let record_text = canonical::to_canonical(record);
        let number = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: (i64, String) = sqlx::query_as(sql.lock_head)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let (number,): (i64,) = sqlx::query_as(sql.next_incident)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            sqlx::query(sql.insert_incident)
                .bind(number)
                .bind(state)
                .bind(&record_text)
                .bind(&now_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            event.subject = Doc::Incident.id(to_u64(number));
            let entry = Pending::new(head, &now_text, event);
            write_entry!(tx, sql, &entry);
            tx.commit().await.map_err(StoreError::query)?;
            number
        });
        Ok(Stored {
            number: to_u64(number),
            version: 1,
            state: state.to_owned(),
            record: record.clone(),
            created_at: now,
            updated_at: now,
        })
    }

    /// The incident with this number, if there is one.
    pub async fn get_incident(&self, number: u64) -> Result<Option<Stored>, StoreError> {
        self.get_document(Doc::Incident, number).await
    }

    /// Replace an incident record if its version is still `expected_version`, with `event`
    /// (subject `INC-<number>`), in one transaction; else [`StoreError::IncidentConflict`]
    /// (or `UnknownIncident`) and nothing is written.
    pub async fn update_incident(
        &self,
        number: u64,
        expected_version: u64,
        state: &str,
        record: &Value,
        event: NewEvent,
    ) -> Result<Stored, StoreError> {
        self.update_document(
            Doc::Incident,
            number,
            expected_version,
            state,
            record,
            event,
        )
        .await
    }

    /// One versioned document by number, from `doc`'s table.
    async fn get_document(&self, doc: Doc, number: u64) -> Result<Option<Stored>, StoreError> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        let row: Option<ChangeRow> = on_backend!(self, |pool, sql| sqlx::query_as(doc.get(sql))
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::query)?);
        row.map(|r| document_from_row(doc, r)).transpose()
    }

    /// Every document of `doc`'s table, by number.
    async fn list_documents(&self, doc: Doc) -> Result<Vec<Stored>, StoreError> {
        let rows: Vec<ChangeRow> = on_backend!(self, |pool, sql| sqlx::query_as(doc.list(sql))
            .fetch_all(pool)
            .await
            .map_err(StoreError::query)?);
        rows.into_iter()
            .map(|r| document_from_row(doc, r))
            .collect()
    }

    /// The optimistic-locking update every versioned document shares: replace the record if
    /// its version is still `expected_version`, bump it and append `event` (subject set to the
    /// document's id) in one transaction; a lost race or an unknown number writes nothing.
    async fn update_document(
        &self,
        doc: Doc,
        number: u64,
        expected_version: u64,
        state: &str,
        record: &Value,
        mut event: NewEvent,
    ) -> Result<Stored, StoreError> {
        let Ok(key) = i64::try_from(number) else {
            return Err(doc.unknown(number));
        };
        // A version beyond i64 cannot be in the store: let the UPDATE miss and report the conflict.
        let expected = i64::try_from(expected_version).unwrap_or(-1);
        let record_text = canonical::to_canonical(record);
        let (now, now_text) = now();
        let created_at = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: (i64, String) = sqlx::query_as(sql.lock_head)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let updated = sqlx::query(doc.update(sql))
                .bind(key)
                .bind(expected)
                .bind(state)
                .bind(&record_text)
                .bind(&now_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            if updated.rows_affected() != 1 {
                let found: Option<(i64,)> = sqlx::query_as(doc.version(sql))
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
                return Err(match found {
                    Some((found,)) => doc.conflict(number, expected_version, to_u64(found)),
                    None => doc.unknown(number),
                });
            }
            let row: ChangeRow = sqlx::query_as(doc.get(sql))
                .bind(key)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            event.subject = doc.id(number);
            let entry = Pending::new(head, &now_text, event);
            write_entry!(tx, sql, &entry);
            tx.commit().await.map_err(StoreError::query)?;
            row.4
        });
        Ok(Stored {
            number,
            version: expected_version + 1,
            state: state.to_owned(),
            record: record.clone(),
            created_at: parse_time(&created_at, doc.what(number))?,
            updated_at: now,
        })
    }

    /// Every incident, by number.
    pub async fn list_incidents(&self) -> Result<Vec<Stored>, StoreError> {
        self.list_documents(Doc::Incident).await
    }

    /// Append an event that is not a change-record transition (host actions and the like).
    pub async fn append(&self, event: NewEvent) -> Result<JournalEntry, StoreError> {
        let (_, now_text) = now();
        let entry = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: (i64, String) = sqlx::query_as(sql.lock_head)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let entry = Pending::new(head, &now_text, event);
            write_entry!(tx, sql, &entry);
            tx.commit().await.map_err(StoreError::query)?;
            entry
        });
        Ok(entry.into_entry())
    }

    /// The journal entries that match `filter`, in order.
    pub async fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>, StoreError> {
        let since = filter
            .since
            .map(|t| format_time(t.to_offset(time::UtcOffset::UTC)));
        let rows: Vec<EntryRow> =
            on_backend!(self, |pool, sql| sqlx::query_as(sql.journal_filtered)
                .bind(since.as_deref())
                .bind(filter.subject.as_deref())
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?);
        rows.into_iter().map(entry_from_row).collect()
    }

    /// Walk the whole chain, recomputing every hash and link; the first broken link, if any.
    ///
    /// Detects an edited entry (its hash no longer matches), a deleted one (a gap in `seq`, or
    /// a tail shorter than the head recorded), and reordered or inserted ones (a `prev_hash`
    /// that is not the previous entry's hash).
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut intact = 0u64;
        let mut prev_hash = GENESIS.to_owned();
        let mut after = 0i64;
        loop {
            let rows = self.page(after).await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            for (seq, time, actor, kind, subject, payload, stored_prev, hash) in rows {
                let expected = intact + 1;
                let broken = |seq: u64, why: String| {
                    Ok(VerifyReport {
                        entries: intact,
                        broken: Some(BrokenLink { seq, why }),
                    })
                };
                if seq != i64::try_from(expected).unwrap_or(i64::MAX) {
                    return broken(
                        expected,
                        format!(
                            "entry {expected} is missing: the journal goes from entry {intact} to entry {seq}"
                        ),
                    );
                }
                if stored_prev != prev_hash {
                    return broken(
                        expected,
                        format!(
                            "its prev_hash is not the hash of entry {intact}: an entry was deleted, inserted or moved here"
                        ),
                    );
                }
                let hashed = Hashed {
                    seq: expected,
                    time: &time,
                    actor: &actor,
                    kind: &kind,
                    subject: &subject,
                    payload: &payload,
                };
                if hashed.hash(&prev_hash) != hash {
                    return broken(
                        expected,
                        "its content does not match its hash: the entry was edited".to_owned(),
                    );
                }
                prev_hash = hash;
                intact = expected;
            }
        }
        let (head_seq, head_hash): (i64, String) =
            on_backend!(self, |pool, sql| sqlx::query_as(sql.head)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query)?);
        let broken = if head_seq != i64::try_from(intact).unwrap_or(i64::MAX) {
            Some(BrokenLink {
                seq: intact + 1,
                why: format!(
                    "the journal ends at entry {intact} but its head records entry {head_seq}: entries were deleted from, or added to, its end"
                ),
            })
        } else if head_hash != prev_hash {
            Some(BrokenLink {
                seq: intact,
                why: "the last entry's hash differs from the one its head records: the entry was replaced".to_owned(),
            })
        } else {
            None
        };
        Ok(VerifyReport {
            entries: intact,
            broken,
        })
    }

    /// Write the whole journal to `out` as JSON lines, one [`JournalEntry`] per line, in order;
    /// how many entries were written. `VERIFY.md` shows how to check an export without fearless.
    pub async fn export<W: Write>(&self, out: &mut W) -> Result<u64, StoreError> {
        let mut written = 0;
        let mut after = 0i64;
        loop {
            let rows = self.page(after).await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            for row in rows {
                let entry = entry_from_row(row)?;
                let mut line = serde_json::to_vec(&entry)
                    .map_err(|e| StoreError::Export { error: e.into() })?;
                line.push(b'\n');
                out.write_all(&line)
                    .map_err(|error| StoreError::Export { error })?;
                written += 1;
            }
        }
        out.flush().map_err(|error| StoreError::Export { error })?;
        Ok(written)
    }

    /// Up to [`PAGE`] journal rows after `after`, in order.
    async fn page(&self, after: i64) -> Result<Vec<EntryRow>, StoreError> {
        Ok(on_backend!(self, |pool, sql| sqlx::query_as(
            sql.journal_page
        )
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await
        .map_err(StoreError::query)?))
    }
}

/// A journal entry computed inside a write transaction, before it is inserted.
#[derive(Debug)]
struct Pending {
    seq: i64,
    time: String,
    event: NewEvent,
    payload: String,
    prev_hash: String,
    hash: String,
}

impl Pending {
    /// The entry that follows `head` (`(seq, hash)` of the last entry).
    fn new((head_seq, head_hash): (i64, String), time: &str, event: NewEvent) -> Pending {
        let seq = head_seq + 1;
        let payload = canonical::to_canonical(&event.payload);
        let hash = Hashed {
            seq: to_u64(seq),
            time,
            actor: &event.actor,
            kind: &event.kind,
            subject: &event.subject,
            payload: &payload,
        }
        .hash(&head_hash);
        Pending {
            seq,
            time: time.to_owned(),
            event,
            payload,
            prev_hash: head_hash,
            hash,
        }
    }

    fn into_entry(self) -> JournalEntry {
        JournalEntry {
            seq: to_u64(self.seq),
            time: self.time,
            actor: self.event.actor,
            kind: self.event.kind,
            subject: self.event.subject,
            payload: self.event.payload,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir {
            path: dir.to_owned(),
            error,
        })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let fail = |error: sqlx::Error| sqlite_error(path, error);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(fail)?;
    let store = Store {
        pool: Pool::Sqlite(pool.clone()),
        location: path.display().to_string(),
    };
    // A database with tables but no migrations belongs to another program: leave it alone.
    if !store.has_migrations_table().await.map_err(fail)? {
        let (tables,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_one(&pool)
        .await
        .map_err(fail)?;
        if tables > 0 {
            return Err(StoreError::NotAStore {
                path: path.to_owned(),
            });
        }
    }
    store
        .migrate(&SQLITE_MIGRATIONS)
        .await
        .map_err(|e| match e {
            StoreError::Query { error } | StoreError::OpenSqlite { error, .. } => fail(error),
            other => other,
        })?;
    Ok(store)
}

async fn open_postgres(url: &str) -> Result<Store, StoreError> {
    let location = redact(url);
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
        url: location.clone(),
        reason: e.to_string(),
    })?;
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
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy_with(options);
    let store = Store {
        pool: Pool::Postgres(pool),
        location,
    };
    store.migrate(&POSTGRES_MIGRATIONS).await?;
    Ok(store)
}

impl Store {
    async fn has_migrations_table(&self) -> Result<bool, sqlx::Error> {
        let (count,): (i64,) =
            on_backend!(self, |pool, sql| sqlx::query_as(sql.has_migrations_table)
                .fetch_one(pool)
                .await?);
        Ok(count > 0)
    }

    /// Refuse a schema newer than `migrator`, then apply what is missing.
    async fn migrate(&self, migrator: &Migrator) -> Result<(), StoreError> {
        let supported = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        if self
            .has_migrations_table()
            .await
            .map_err(StoreError::query)?
        {
            let (found,): (Option<i64>,) =
                on_backend!(self, |pool, sql| sqlx::query_as(sql.schema_version)
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::query)?);
            if let Some(found) = found.filter(|found| *found > supported) {
                return Err(StoreError::TooNew { found, supported });
            }
        }
        let result = on_backend!(self, |pool, _sql| migrator.run(pool).await);
        result.map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(error) => StoreError::query(error),
            error => StoreError::Migrate { error },
        })
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
            path: PathBuf::from(path),
            error,
        }
    }
}

fn snapshot_subject(number: i64) -> String {
    format!("SNAP-{number}")
}

fn snapshot_from_row(
    (number, taken_at, actor, record): SnapshotRow,
) -> Result<StoredSnapshot, StoreError> {
    let number = to_u64(number);
    let what = || format!("snapshot SNAP-{number}");
    let record = serde_json::from_str(&record).map_err(|e| StoreError::Corrupt {
        what: what(),
        reason: format!("its record is not JSON: {e}"),
    })?;
    Ok(StoredSnapshot {
        number,
        taken_at: parse_time(&taken_at, what())?,
        actor,
        record,
    })
}

/// The tables of versioned JSON documents (a state, a version for optimistic locking).
#[derive(Debug, Clone, Copy)]
enum Doc {
    Change,
    Rollout,
    Incident,
}

impl Doc {
    /// `CHG-3`, `R-3`, `INC-3`: the id users see and the journal subject.
    fn id(self, number: u64) -> String {
        let prefix = match self {
            Doc::Change => "CHG",
            Doc::Rollout => "R",
            Doc::Incident => "INC",
        };
        format!("{prefix}-{number}")
    }

    /// `change CHG-3`, for error messages.
    fn what(self, number: u64) -> String {
        let kind = match self {
            Doc::Change => "change",
            Doc::Rollout => "rollout",
            Doc::Incident => "incident",
        };
        format!("{kind} {}", self.id(number))
    }

    fn get(self, sql: &Sql) -> &'static str {
        match self {
            Doc::Change => sql.get_change,
            Doc::Rollout => sql.get_rollout,
            Doc::Incident => sql.get_incident,
        }
    }

    fn list(self, sql: &Sql) -> &'static str {
        match self {
            Doc::Change => sql.list_changes,
            Doc::Rollout => sql.list_rollouts,
            Doc::Incident => sql.list_incidents,
        }
    }

    fn update(self, sql: &Sql) -> &'static str {
        match self {
            Doc::Change => sql.update_change,
            Doc::Rollout => sql.update_rollout,
            Doc::Incident => sql.update_incident,
        }
    }

    fn version(self, sql: &Sql) -> &'static str {
        match self {
            Doc::Change => sql.change_version,
            Doc::Rollout => sql.rollout_version,
            Doc::Incident => sql.incident_version,
        }
    }

    fn unknown(self, number: u64) -> StoreError {
        match self {
            Doc::Change => StoreError::UnknownChange { number },
            Doc::Rollout => StoreError::UnknownRollout { number },
            Doc::Incident => StoreError::UnknownIncident { number },
        }
    }

    fn conflict(self, number: u64, expected: u64, found: u64) -> StoreError {
        match self {
            Doc::Change => StoreError::Conflict {
                number,
                expected,
                found,
            },
            Doc::Rollout => StoreError::RolloutConflict {
                number,
                expected,
                found,
            },
            Doc::Incident => StoreError::IncidentConflict {
                number,
                expected,
                found,
            },
        }
    }
}

fn document_from_row(
    doc: Doc,
    (number, version, state, record, created_at, updated_at): ChangeRow,
) -> Result<Stored, StoreError> {
    let number = to_u64(number);
    let record = serde_json::from_str(&record).map_err(|e| StoreError::Corrupt {
        what: doc.what(number),
        reason: format!("its record is not JSON: {e}"),
    })?;
    Ok(Stored {
        number,
        version: to_u64(version),
        state,
        record,
        created_at: parse_time(&created_at, doc.what(number))?,
        updated_at: parse_time(&updated_at, doc.what(number))?,
    })
}

/// Numbers, versions and seqs are written by the store from 1 up, so they are never negative.
fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn now() -> (OffsetDateTime, String) {
    let now = OffsetDateTime::now_utc();
    // Keep microseconds only, so the time handed back equals the time read back.
    let now = now
        .replace_nanosecond(now.microsecond() * 1000)
        .unwrap_or(now);
    (now, format_time(now))
}

fn format_time(t: OffsetDateTime) -> String {
    // Formatting a UTC time with a fixed description only fails for years past 9999.
    t.format(TIME_FORMAT).unwrap_or_else(|_| t.to_string())
}

fn parse_time(text: &str, what: String) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| StoreError::Corrupt {
        what,
        reason: format!("bad time `{text}`: {e}"),
    })
}

fn entry_from_row(
    (seq, time, actor, kind, subject, payload, prev_hash, hash): EntryRow,
) -> Result<JournalEntry, StoreError> {
    let payload = serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
        what: format!("journal entry {seq}"),
        reason: format!("its payload is not JSON: {e}"),
    })?;
    Ok(JournalEntry {
        seq: to_u64(seq),
        time,
        actor,
        kind,
        subject,
        payload,
        prev_hash,
        hash,
    })
}
