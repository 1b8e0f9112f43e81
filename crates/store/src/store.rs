//! [`Store`]: every read and write of versioned records (changes, rollouts, incidents),
//! snapshots, rollout hosts and the journal. Opening is in `open.rs`, verification in
//! `verify.rs`.
//!
//! Every write is one transaction, [`write_tx!`]: it starts by reading the journal head under
//! the write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL `SELECT … FOR UPDATE` on
//! `journal_head`), does its work, appends its journal entry and moves the head. So writers
//! are serialised, numbers come out 1, 2, … without races, and no state change exists
//! without its entry.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::StoreError;
use crate::canonical::{self, Hashed};
use crate::model::{
    Backend, Document, JournalEntry, JournalFilter, Kept, NewEvent, RolloutHost, Stored,
    StoredObservation, StoredRecord, StoredSnapshot,
};
use crate::rows::RawEntry;

/// How long a SQLite writer waits for another (process) to finish before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many journal rows `verify` and `export` hold in memory at once.
pub(crate) const PAGE: i64 = 1000;

/// The fixed-width form of every time the store writes; fixed width makes text order time order.
const TIME_FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Change records, rollouts, incidents, snapshots and the journal, on SQLite or PostgreSQL
/// behind one type.
///
/// Cheap to share by reference across tasks; it holds a connection pool.
#[derive(Debug)]
pub struct Store {
    pub(crate) pool: Pool,
    pub(crate) location: String,
    /// Opened with [`Access::ReadOnly`](crate::Access::ReadOnly): every write is refused.
    pub(crate) read_only: bool,
    /// Signs the entries whose event asks for it ([`NewEvent::sign`]).
    pub(crate) signer: Option<std::sync::Arc<dyn Signer>>,
}

/// Signs journal entries: the actor's key over the entry's hash (64 lower-case hex
/// characters, the message `ssh-keygen -Y verify` checks), returning the armored signature.
/// Called inside the write transaction, so an entry that cannot be signed is not written.
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// The armored signature over `message`, or why there is none.
    fn sign(&self, message: &[u8]) -> Result<String, String>;
}

#[derive(Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool (and `$sql` to the statements that
/// differ between the backends). The body is compiled once per backend, so the same code
/// serves both.
macro_rules! on_backend {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
    ($store:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => {
                let $sql: &'static $crate::sql::Sql = &$crate::sql::SQLITE;
                $body
            }
            $crate::store::Pool::Postgres($pool) => {
                let $sql: &'static $crate::sql::Sql = &$crate::sql::POSTGRES;
                $body
            }
        }
    };
}
pub(crate) use on_backend;

/// Inside an open write transaction `$tx` that holds the journal head `$head` (`(seq, hash)`,
/// locked by `lock_head`): the entry for `$event` at `$time`, signed when the event asks for
/// it, inserted. Evaluates to the entry ([`Pending`], with its signature). The head is not
/// moved: the caller moves it once, to its last entry.
macro_rules! insert_entry {
    ($store:expr, $tx:ident, $head:expr, $time:expr, $event:expr) => {{
        let entry = $crate::store::Pending::new($head, $time, $event);
        let signature =
            match (&$store.signer, entry.event.sign) {
                (Some(signer), true) => Some(signer.sign(entry.hash.as_bytes()).map_err(
                    |reason| StoreError::Sign {
                        kind: entry.event.kind.clone(),
                        reason,
                    },
                )?),
                _ => None,
            };
        sqlx::query($crate::sql::INSERT_ENTRY)
            .bind(entry.seq)
            .bind(&entry.time)
            .bind(&entry.event.actor)
            .bind(&entry.event.kind)
            .bind(&entry.event.subject)
            .bind(&entry.payload)
            .bind(&entry.prev_hash)
            .bind(&entry.hash)
            .bind(&entry.event.vouched_by)
            .bind(&signature)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query)?;
        entry.signed(signature)
    }};
}
pub(crate) use insert_entry;

/// One write: a transaction under the journal head lock. `$body` runs with `$tx` (the open
/// transaction) and `$sql` (the backend's statements) and evaluates to `(value, event)`; the
/// event becomes the next journal entry (at time `$time`), the head moves to it, and the
/// transaction commits. Evaluates to `(value, Pending)`. An error leaving `$body` (by `?` or
/// `return`) drops the transaction: nothing is written.
macro_rules! write_tx {
    ($store:expr, $time:expr, |$tx:ident, $sql:ident| $body:block) => {{
        $store.writable()?;
        on_backend!($store, |pool, $sql| {
            let mut $tx = pool
                .begin_with($sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: Option<(i64, String)> = sqlx::query_as($sql.lock_head)
                .fetch_optional(&mut *$tx)
                .await
                .map_err(StoreError::query)?;
            let head = head.ok_or_else(missing_head)?;
            let (value, event): (_, NewEvent) = $body;
            let entry = insert_entry!($store, $tx, head, $time, event);
            sqlx::query($crate::sql::MOVE_HEAD)
                .bind(entry.seq)
                .bind(&entry.hash)
                .execute(&mut *$tx)
                .await
                .map_err(StoreError::query)?;
            $tx.commit().await.map_err(StoreError::query)?;
            (value, entry)
        })
    }};
}

/// A versioned record row as read: number, version, state, record, created_at, updated_at.
type DocRow = (i64, i64, String, String, String, String);
/// A snapshot row as read: number, taken_at, actor, record.
/// A kept record's row: number, time, actor, record.
type KeptRow = (i64, String, String, String);
/// A rollout host row as read: host, wave, state, snapshot, updated_at.
type HostRow = (String, i64, String, Option<i64>, String);

/// The hosts a new rollout starts with: each with its wave, all in `state`.
#[derive(Debug, Clone, Copy)]
struct NewHosts<'a> {
    hosts: &'a [(String, u32)],
    state: &'a str,
}

impl Store {
    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Sign, from now on, every entry whose event asks for it ([`NewEvent::sign`]) with
    /// `signer`.
    pub fn set_signer(&mut self, signer: std::sync::Arc<dyn Signer>) {
        self.signer = Some(signer);
    }

    /// Where the store is, fit to print: the SQLite path or the PostgreSQL URL without its password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether the store was opened read-only ([`Access::ReadOnly`](crate::Access::ReadOnly)).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The database role the connection authenticated as (`session_user`) on PostgreSQL,
    /// where each operator connecting as themselves makes the store vouch for who acts;
    /// `None` on SQLite, which has no users.
    pub async fn database_role(&self) -> Result<Option<String>, StoreError> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(pool) => {
                let role: String = sqlx::query_scalar("SELECT session_user::text")
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::query)?;
                Ok(Some(role))
            }
        }
    }

    /// Whether the store answers: the journal's head is read (a query on the schema, so a
    /// database that was dropped or a file that lost its tables fails).
    pub async fn ping(&self) -> Result<(), StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM journal_head";
        on_backend!(self, |pool| sqlx::query_scalar::<_, i64>(SQL)
            .fetch_one(pool)
            .await
            .map(drop)
            .map_err(StoreError::query))
    }

    /// A discovery source's cached answer: when it was fetched (Unix milliseconds) and
    /// the answer as it was stored.
    pub async fn discovery_cached(
        &self,
        source: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        on_backend!(self, |pool| sqlx::query_as::<_, (i64, String)>(
            crate::sql::DISCOVERY_CACHED
        )
        .bind(source)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::query))
    }

    /// Keep a discovery source's answer (replacing the one before). Not journaled:
    /// discovering changes nothing.
    pub async fn cache_discovery(
        &self,
        source: &str,
        fetched_ms: i64,
        answer: &str,
    ) -> Result<(), StoreError> {
        on_backend!(self, |pool| sqlx::query(crate::sql::CACHE_DISCOVERY)
            .bind(source)
            .bind(fetched_ms)
            .bind(answer)
            .execute(pool)
            .await
            .map(drop)
            .map_err(StoreError::query))
    }

    /// Close every connection, waiting for work in progress. Dropping the store also closes
    /// them, without waiting.
    pub async fn close(&self) {
        on_backend!(self, |pool| pool.close().await);
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
        self.insert_document(Document::Change, None, build).await
    }

    /// Insert a rollout with its hosts (all `initial_state`) and `event` (subject set to
    /// `R-<number>`) in one transaction; numbers are 1, 2, … like changes.
    pub async fn insert_rollout(
        &self,
        state: &str,
        record: &Value,
        hosts: &[(String, u32)],
        initial_state: &str,
        event: NewEvent,
    ) -> Result<Stored, StoreError> {
        let hosts = NewHosts {
            hosts,
            state: initial_state,
        };
        self.insert_document(Document::Rollout, Some(hosts), |_| {
            (state.to_owned(), record.clone(), event)
        })
        .await
    }

    /// The hosts of a rollout, by wave then name.
    pub async fn rollout_hosts(&self, number: u64) -> Result<Vec<RolloutHost>, StoreError> {
        let Ok(key) = i64::try_from(number) else {
            return Ok(Vec::new());
        };
        let rows: Vec<HostRow> =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::ROLLOUT_HOSTS)
                .bind(key)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?);
        rows.into_iter()
            .map(|row| rollout_host(number, row))
            .collect()
    }

    /// One host of rollout `number` (`None` when the rollout has no such host): one row
    /// by its key, for a caller working on that host alone — a worker claims one host at
    /// a time, and reading the rollout's every host for each would grow with the square of
    /// the fleet.
    pub async fn rollout_host(
        &self,
        number: u64,
        host: &str,
    ) -> Result<Option<RolloutHost>, StoreError> {
        let Ok(key) = i64::try_from(number) else {
            return Ok(None);
        };
        let row: Option<HostRow> =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::ROLLOUT_HOST)
                .bind(key)
                .bind(host)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query)?);
        row.map(|row| rollout_host(number, row)).transpose()
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
        event: NewEvent,
    ) -> Result<(), StoreError> {
        self.move_host_if(number, host, from, to, snapshot, None, event)
            .await
    }

    /// [`Store::move_host`], only while the rollout itself is in one of the two states
    /// `rollout_in` (checked in the same transaction): a step that starts new work on a host
    /// cannot slip past a `rollout abort` recorded in between. Otherwise
    /// [`StoreError::RolloutMoved`] and nothing is written.
    pub async fn move_host_while(
        &self,
        number: u64,
        host: &str,
        (from, to): (&str, &str),
        snapshot: Option<u64>,
        rollout_in: [&str; 2],
        event: NewEvent,
    ) -> Result<(), StoreError> {
        self.move_host_if(number, host, from, to, snapshot, Some(rollout_in), event)
            .await
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the two public moves, which say what each argument is"
    )]
    async fn move_host_if(
        &self,
        number: u64,
        host: &str,
        from: &str,
        to: &str,
        snapshot: Option<u64>,
        rollout_in: Option<[&str; 2]>,
        mut event: NewEvent,
    ) -> Result<(), StoreError> {
        let Ok(key) = i64::try_from(number) else {
            return Err(Document::Rollout.unknown(number));
        };
        let snapshot = snapshot.and_then(|s| i64::try_from(s).ok());
        let (_, now_text) = now();
        write_tx!(self, &now_text, |tx, sql| {
            let query = match rollout_in {
                None => sqlx::query(crate::sql::MOVE_HOST),
                Some(_) => sqlx::query(crate::sql::MOVE_HOST_WHILE),
            };
            let query = query
                .bind(key)
                .bind(host)
                .bind(from)
                .bind(to)
                .bind(snapshot)
                .bind(&now_text);
            let query = match rollout_in {
                None => query,
                Some([a, b]) => query.bind(a).bind(b),
            };
            let moved = query.execute(&mut *tx).await.map_err(StoreError::query)?;
            if moved.rows_affected() != 1 {
                let found: Option<(String,)> = sqlx::query_as(crate::sql::HOST_STATE)
                    .bind(key)
                    .bind(host)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
                if let (Some(wanted), Some((state,))) = (rollout_in, &found)
                    && state == from
                {
                    let (now,): (String,) = sqlx::query_as(crate::sql::ROLLOUT_STATE)
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::query)?;
                    return Err(StoreError::RolloutMoved {
                        rollout: number,
                        expected: wanted.join(" or "),
                        found: now,
                    });
                }
                return Err(StoreError::HostMoved {
                    rollout: number,
                    host: host.to_owned(),
                    expected: from.to_owned(),
                    found: found.map(|(s,)| s),
                });
            }
            event.subject = Document::Rollout.id(number);
            ((), event)
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
        event: NewEvent,
    ) -> Result<Stored, StoreError> {
        self.insert_document(Document::Incident, None, |_| {
            (state.to_owned(), record.clone(), event)
        })
        .await
    }

    /// Insert a package snapshot: assigns the next number (`SNAP-1`, `SNAP-2`, …) and appends
    /// `event` (subject set to `SNAP-<number>`) in the same transaction. `record` is stored
    /// as canonical JSON text, so it reads back byte for byte.
    pub async fn insert_snapshot(
        &self,
        record: &Value,
        event: NewEvent,
    ) -> Result<StoredSnapshot, StoreError> {
        self.insert_kept(Kept::Snapshot, record, event).await
    }

    /// The snapshot with this number, if there is one.
    pub async fn get_snapshot(&self, number: u64) -> Result<Option<StoredSnapshot>, StoreError> {
        self.get_kept(Kept::Snapshot, number).await
    }

    /// Every snapshot, by number.
    pub async fn list_snapshots(&self) -> Result<Vec<StoredSnapshot>, StoreError> {
        self.list_kept(Kept::Snapshot).await
    }

    /// Insert a dependency observation (`fearless map --observe`): the next number
    /// (`OBS-1`, …), `event` (subject `OBS-<number>`) in the same transaction, `record` as
    /// canonical JSON text.
    pub async fn insert_observation(
        &self,
        record: &Value,
        event: NewEvent,
    ) -> Result<StoredObservation, StoreError> {
        self.insert_kept(Kept::Observation, record, event).await
    }

    /// The observation with this number, if there is one.
    pub async fn get_observation(
        &self,
        number: u64,
    ) -> Result<Option<StoredObservation>, StoreError> {
        self.get_kept(Kept::Observation, number).await
    }

    /// Every observation, by number.
    pub async fn list_observations(&self) -> Result<Vec<StoredObservation>, StoreError> {
        self.list_kept(Kept::Observation).await
    }

    async fn insert_kept(
        &self,
        kind: Kept,
        record: &Value,
        mut event: NewEvent,
    ) -> Result<StoredRecord, StoreError> {
        let (now, now_text) = now();
        let record_text = canonical::to_canonical(record);
        let actor = event.actor.clone();
        let (number, _) = write_tx!(self, &now_text, |tx, sql| {
            let (number,): (i64,) = sqlx::query_as(kind.sql().next_number)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            sqlx::query(kind.sql().insert)
                .bind(number)
                .bind(&now_text)
                .bind(&actor)
                .bind(&record_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            event.subject = kind.id(to_u64(number));
            (number, event)
        });
        Ok(StoredRecord {
            number: to_u64(number),
            taken_at: now,
            actor,
            record: record.clone(),
        })
    }

    async fn get_kept(&self, kind: Kept, number: u64) -> Result<Option<StoredRecord>, StoreError> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        let row: Option<KeptRow> = on_backend!(self, |pool| sqlx::query_as(kind.sql().get)
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::query)?);
        row.map(|r| kept_from_row(kind, r)).transpose()
    }

    async fn list_kept(&self, kind: Kept) -> Result<Vec<StoredRecord>, StoreError> {
        let rows: Vec<KeptRow> = on_backend!(self, |pool| sqlx::query_as(kind.sql().list)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query)?);
        rows.into_iter().map(|r| kept_from_row(kind, r)).collect()
    }

    /// Append an event that is not a record transition (host actions and the like).
    pub async fn append(&self, event: NewEvent) -> Result<JournalEntry, StoreError> {
        let (_, now_text) = now();
        let ((), entry) = write_tx!(self, &now_text, |tx, sql| { ((), event) });
        Ok(entry.into_entry())
    }

    /// The journal entries that match `filter`, in order. A row that cannot be read back
    /// (see [`Store::verify`]) is [`StoreError::Corrupt`].
    pub async fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>, StoreError> {
        let since = match filter.since.map(|t| t.to_offset(time::UtcOffset::UTC)) {
            // Beyond the last time the store can write: nothing is that recent.
            Some(t) if t.year() > 9999 => return Ok(Vec::new()),
            // Before the first: everything is.
            Some(t) if t.year() < 0 => None,
            since => since.map(format_time),
        };
        let rows = on_backend!(self, |pool, sql| sqlx::query(sql.journal_filtered)
            .persistent(false)
            .bind(since.as_deref())
            .bind(filter.subject.as_deref())
            .fetch_all(pool)
            .await
            .map_err(unreadable)?
            .iter()
            .map(RawEntry::read)
            .collect::<Vec<_>>());
        let mut after = 0;
        rows.into_iter()
            .map(|raw| {
                let entry = raw.into_entry(after)?;
                after = entry.seq;
                Ok(entry)
            })
            .collect()
    }

    /// Write the whole journal to `out` as JSON lines, one [`JournalEntry`] per line, in order;
    /// how many entries were written. `VERIFY.md` shows how to check an export without fearless.
    /// A row that cannot be read back is [`StoreError::Corrupt`] ([`Store::verify`] says more).
    pub async fn export<W: Write>(&self, out: &mut W) -> Result<u64, StoreError> {
        let mut written = 0;
        let mut after = 0u64;
        loop {
            let rows = self.page(after, PAGE).await.map_err(unreadable)?;
            if rows.is_empty() {
                break;
            }
            for raw in rows {
                let entry = raw.into_entry(after)?;
                after = entry.seq;
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

    /// Up to `limit` journal rows after seq `after`, in order, read without trusting their
    /// types. Not a prepared statement the server keeps: a column whose type was altered
    /// since would fail it ("cached plan must not change result type") instead of being reported.
    pub(crate) async fn page(&self, after: u64, limit: i64) -> Result<Vec<RawEntry>, sqlx::Error> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        Ok(on_backend!(self, |pool| sqlx::query(
            crate::sql::JOURNAL_PAGE
        )
        .persistent(false)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(RawEntry::read)
        .collect()))
    }

    /// Refuse to write to a store opened read-only.
    pub(crate) fn writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            Err(StoreError::ReadOnly {
                location: self.location.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Insert a versioned record of kind `doc` (and, for a rollout, its hosts): the next
    /// number, version 1, and the journal event `build` returns (subject set to the record's
    /// id), in one transaction.
    async fn insert_document<F>(
        &self,
        doc: Document,
        hosts: Option<NewHosts<'_>>,
        build: F,
    ) -> Result<Stored, StoreError>
    where
        F: FnOnce(u64) -> (String, Value, NewEvent),
    {
        let (now, now_text) = now();
        let ((number, state, record), _) = write_tx!(self, &now_text, |tx, sql| {
            let (number,): (i64,) = sqlx::query_as(sql.doc(doc).next_number)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let number = to_u64(number);
            let (state, record, mut event) = build(number);
            sqlx::query(sql.doc(doc).insert)
                .bind(to_i64(number))
                .bind(&state)
                .bind(canonical::to_canonical(&record))
                .bind(&now_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            for (host, wave) in hosts.map_or(&[][..], |h| h.hosts) {
                sqlx::query(crate::sql::INSERT_ROLLOUT_HOST)
                    .bind(to_i64(number))
                    .bind(host)
                    .bind(i64::from(*wave))
                    .bind(hosts.map_or("", |h| h.state))
                    .bind(&now_text)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
            }
            event.subject = doc.id(number);
            ((number, state, record), event)
        });
        Ok(Stored {
            number,
            version: 1,
            state,
            record,
            created_at: now,
            updated_at: now,
        })
    }

    /// One versioned record by number, from `doc`'s table.
    async fn get_document(&self, doc: Document, number: u64) -> Result<Option<Stored>, StoreError> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        let row: Option<DocRow> = on_backend!(self, |pool, sql| sqlx::query_as(sql.doc(doc).get)
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::query)?);
        row.map(|r| document_from_row(doc, r)).transpose()
    }

    /// Every record of `doc`'s table, by number.
    async fn list_documents(&self, doc: Document) -> Result<Vec<Stored>, StoreError> {
        let rows: Vec<DocRow> = on_backend!(self, |pool, sql| sqlx::query_as(sql.doc(doc).list)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query)?);
        rows.into_iter()
            .map(|r| document_from_row(doc, r))
            .collect()
    }

    /// The optimistic-locking update every versioned record shares: replace the record if
    /// its version is still `expected_version`, bump it and append `event` (subject set to the
    /// record's id) in one transaction; a lost race or an unknown number writes nothing.
    async fn update_document(
        &self,
        doc: Document,
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
        let (created_at, _) = write_tx!(self, &now_text, |tx, sql| {
            let updated = sqlx::query(sql.doc(doc).update)
                .bind(key)
                .bind(expected)
                .bind(state)
                .bind(&record_text)
                .bind(&now_text)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            if updated.rows_affected() != 1 {
                let found: Option<(i64,)> = sqlx::query_as(sql.doc(doc).version)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
                return Err(match found {
                    Some((found,)) => doc.conflict(number, expected_version, to_u64(found)),
                    None => doc.unknown(number),
                });
            }
            let row: DocRow = sqlx::query_as(sql.doc(doc).get)
                .bind(key)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            event.subject = doc.id(number);
            (row.4, event)
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
}

/// The public methods of one kind of versioned record, each one call of the generic path:
/// `get_*`, `list_*` and `update_*` (inserts differ per kind, so they are written out).
macro_rules! record_methods {
    ($doc:expr, $kind:literal, $prefix:literal, $get:ident, $list:ident, $update:ident) => {
        impl Store {
            #[doc = concat!("The ", $kind, " with this number, if there is one.")]
            pub async fn $get(&self, number: u64) -> Result<Option<Stored>, StoreError> {
                self.get_document($doc, number).await
            }

            #[doc = concat!("Every ", $kind, ", by number.")]
            pub async fn $list(&self) -> Result<Vec<Stored>, StoreError> {
                self.list_documents($doc).await
            }

            #[doc = concat!(
                "Replace a ", $kind, " record if its version is still `expected_version` ",
                "(optimistic locking), bump the version and append `event` (subject set to `",
                $prefix, "-<number>`) in the same transaction. Someone else got there first → ",
                "[`StoreError::Conflict`] and nothing is written; no such ", $kind, " → ",
                "[`StoreError::Unknown`]."
            )]
            pub async fn $update(
                &self,
                number: u64,
                expected_version: u64,
                state: &str,
                record: &Value,
                event: NewEvent,
            ) -> Result<Stored, StoreError> {
                self.update_document($doc, number, expected_version, state, record, event)
                    .await
            }
        }
    };
}

record_methods!(
    Document::Change,
    "change",
    "CHG",
    get_change,
    list_changes,
    update_change
);
record_methods!(
    Document::Rollout,
    "rollout",
    "R",
    get_rollout,
    list_rollouts,
    update_rollout
);
record_methods!(
    Document::Incident,
    "incident",
    "INC",
    get_incident,
    list_incidents,
    update_incident
);

/// A journal entry computed inside a write transaction, before it is inserted.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) seq: i64,
    pub(crate) time: String,
    pub(crate) event: NewEvent,
    pub(crate) payload: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
    signature: Option<String>,
}

impl Pending {
    /// The entry that follows `head` (`(seq, hash)` of the last entry).
    pub(crate) fn new(
        (head_seq, head_hash): (i64, String),
        time: &str,
        event: NewEvent,
    ) -> Pending {
        let seq = head_seq + 1;
        let payload = canonical::to_canonical(&event.payload);
        let hash = Hashed {
            seq: to_u64(seq),
            time,
            actor: &event.actor,
            kind: &event.kind,
            subject: &event.subject,
            payload: &payload,
            vouched_by: event.vouched_by.as_deref(),
        }
        .hash(&head_hash);
        Pending {
            seq,
            time: time.to_owned(),
            event,
            payload,
            prev_hash: head_hash,
            hash,
            signature: None,
        }
    }

    pub(crate) fn signed(self, signature: Option<String>) -> Pending {
        Pending { signature, ..self }
    }

    pub(crate) fn into_entry(self) -> JournalEntry {
        JournalEntry {
            seq: to_u64(self.seq),
            time: self.time,
            actor: self.event.actor,
            kind: self.event.kind,
            subject: self.event.subject,
            payload: self.event.payload,
            prev_hash: self.prev_hash,
            hash: self.hash,
            vouched_by: self.event.vouched_by,
            signature: self.signature,
        }
    }
}

/// A query of the journal that failed; text the server cannot send as UTF-8 is the data's
/// fault ([`StoreError::Corrupt`]), which `verify` pins to its entry.
fn unreadable(error: sqlx::Error) -> StoreError {
    match not_utf8(&error) {
        Some(message) => StoreError::Corrupt {
            what: "journal".to_owned(),
            reason: format!(
                "it holds text that is not valid UTF-8 ({message}): `fearless journal verify` names the entry"
            ),
        },
        None => StoreError::query(error),
    }
}

/// PostgreSQL refusing to send text that is not valid in the client's encoding (UTF-8): a
/// database in `SQL_ASCII` stores any bytes.
pub(crate) fn not_utf8(error: &sqlx::Error) -> Option<String> {
    let db = error.as_database_error()?;
    (db.code().as_deref() == Some("22021")).then(|| db.message().to_owned())
}

/// A write found no journal head to lock: the store was tampered with; nothing is written.
pub(crate) fn missing_head() -> StoreError {
    StoreError::Corrupt {
        what: "journal head".to_owned(),
        reason: "the table journal_head has no row with id 1: run `fearless journal verify`"
            .to_owned(),
    }
}

impl Document {
    /// `change CHG-3`, for error messages.
    fn what(self, number: u64) -> String {
        format!("{self} {}", self.id(number))
    }

    fn unknown(self, number: u64) -> StoreError {
        StoreError::Unknown {
            document: self,
            number,
        }
    }

    fn conflict(self, number: u64, expected: u64, found: u64) -> StoreError {
        StoreError::Conflict {
            document: self,
            number,
            expected,
            found,
        }
    }
}

fn kept_from_row(
    kind: Kept,
    (number, taken_at, actor, record): KeptRow,
) -> Result<StoredRecord, StoreError> {
    let number = to_u64(number);
    let what = || format!("{} {}", kind.noun(), kind.id(number));
    let record = serde_json::from_str(&record).map_err(|e| StoreError::Corrupt {
        what: what(),
        reason: format!("its record is not JSON: {e}"),
    })?;
    Ok(StoredRecord {
        number,
        taken_at: parse_time(&taken_at, what())?,
        actor,
        record,
    })
}

fn document_from_row(
    doc: Document,
    (number, version, state, record, created_at, updated_at): DocRow,
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

/// A `rollout_hosts` row of rollout `number` as a [`RolloutHost`].
fn rollout_host(number: u64, row: HostRow) -> Result<RolloutHost, StoreError> {
    let (host, wave, state, snapshot, updated_at) = row;
    Ok(RolloutHost {
        updated_at: parse_time(&updated_at, format!("rollout R-{number} host {host}"))?,
        host,
        wave: u32::try_from(wave).unwrap_or(0),
        state,
        snapshot: snapshot.map(to_u64),
    })
}

/// Numbers, versions and seqs are written by the store from 1 up, so they are never negative.
pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The numbers the store hands out come from `i64` columns, so they fit back.
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn now() -> (OffsetDateTime, String) {
    let now = OffsetDateTime::now_utc();
    // Keep microseconds only, so the time handed back equals the time read back.
    let now = now
        .replace_nanosecond(now.microsecond() * 1000)
        .unwrap_or(now);
    (now, format_time(now))
}

pub(crate) fn format_time(t: OffsetDateTime) -> String {
    // Formatting a UTC time with a fixed description only fails for years past 9999.
    t.format(TIME_FORMAT).unwrap_or_else(|_| t.to_string())
}

pub(crate) fn parse_time(text: &str, what: String) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| StoreError::Corrupt {
        what,
        reason: format!("bad time `{text}`: {e}"),
    })
}
