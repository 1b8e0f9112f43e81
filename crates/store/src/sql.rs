//! Every SQL statement the store runs. All of them are constants with bind parameters: sqlx
//! only accepts `&'static str` here, so no statement can be built from data. The statements
//! of the three versioned-document tables are put together at compile time by [`doc_sql!`]
//! (`concat!` of literals: still constants), so the tables cannot drift apart. [`Sql`] holds
//! the few that differ between the dialects (locking, JSONB casts, typed NULLs, catalogs), one
//! table per backend; the rest are plain constants, the same text on both.

/// The statements of one versioned-document table (`changes`, `rollouts`, `incidents`): a
/// JSON record with a state and a version for optimistic locking.
#[derive(Debug)]
pub(crate) struct DocSql {
    pub(crate) next_number: &'static str,
    /// `$1` number, `$2` state, `$3` record, `$4` time.
    pub(crate) insert: &'static str,
    /// `$1` number, `$2` expected version, `$3` state, `$4` record, `$5` time.
    pub(crate) update: &'static str,
    /// `$1` number.
    pub(crate) version: &'static str,
    /// `$1` number.
    pub(crate) get: &'static str,
    pub(crate) list: &'static str,
}

/// The [`DocSql`] of `$table`, whose record is bound as `$3$cast` and read as `$read`.
macro_rules! doc_sql {
    ($table:literal, cast = $cast:literal, read = $read:literal) => {
        DocSql {
            next_number: concat!("SELECT COALESCE(MAX(number), 0) + 1 FROM ", $table),
            insert: concat!(
                "INSERT INTO ",
                $table,
                " (number, version, state, record, created_at, updated_at) VALUES ($1, 1, $2, $3",
                $cast,
                ", $4, $4)"
            ),
            update: concat!(
                "UPDATE ",
                $table,
                " SET version = version + 1, state = $3, record = $4",
                $cast,
                ", updated_at = $5 WHERE number = $1 AND version = $2"
            ),
            version: concat!("SELECT version FROM ", $table, " WHERE number = $1"),
            get: concat!(
                "SELECT number, version, state, ",
                $read,
                ", created_at, updated_at FROM ",
                $table,
                " WHERE number = $1"
            ),
            list: concat!(
                "SELECT number, version, state, ",
                $read,
                ", created_at, updated_at FROM ",
                $table,
                " ORDER BY number"
            ),
        }
    };
}

/// The statements whose text differs between the backends; every other statement is a
/// constant below, the same on both.
#[derive(Debug)]
pub(crate) struct Sql {
    /// Starts a write transaction. SQLite takes its write lock at once (`BEGIN IMMEDIATE`), so
    /// two writers queue on the busy timeout instead of failing to upgrade a read lock.
    pub(crate) begin_write: &'static str,
    /// Reads the journal head `(seq, hash)` and, on PostgreSQL, locks it until commit: every
    /// write transaction starts here, which serialises appends and numbering.
    pub(crate) lock_head: &'static str,
    /// PostgreSQL keeps the change records as JSONB (schema 1); later tables keep text.
    pub(crate) changes: DocSql,
    /// `$1` since (text, or NULL), `$2` subject (or NULL): PostgreSQL wants the NULLs typed.
    pub(crate) journal_filtered: &'static str,
    /// Does the migrations table exist? One row, one boolean-ish integer.
    pub(crate) has_migrations_table: &'static str,
    /// How many tables there are besides the database's own.
    pub(crate) user_tables: &'static str,
    /// The check history's statements that differ (JSON, typed NULLs).
    pub(crate) checks: CheckSql,
    /// `$1` round, `$2` wave: `(host)` of one lease of the wave that nobody holds and that
    /// has no end, taken for the transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two
    /// claimers never wait for each other nor get the same row).
    pub(crate) claim_free: &'static str,
    /// `$1` round, `$2` wave, `$3` now: `(host, worker)` of one lease of the wave with no
    /// end whose holder let it expire, taken likewise.
    pub(crate) claim_expired: &'static str,
}

/// The statements of the check history (schema 8) whose text differs between the dialects.
/// A run's results travel as one bound JSON array of
/// `[component, check, host, kind, runs_on, status, reason, message, duration_ms]` (host
/// `""` for a check run from the controller), expanded by the database (`json_each`,
/// `jsonb_array_elements`): one statement per run, whatever its size, and still a constant.
#[derive(Debug)]
pub(crate) struct CheckSql {
    /// `$1` the results: add the keys not seen before.
    pub(crate) insert_keys: &'static str,
    /// `$1` run id, `$2` its start, `$3` the results: extend each key's open span that has
    /// the result's status and reason.
    pub(crate) extend_spans: &'static str,
    /// `$1` run id, `$2` the results: copy to `check_spans` the open spans of the run's keys
    /// that [`CheckSql::extend_spans`] did not extend (their result disagreed).
    pub(crate) close_spans: &'static str,
    /// `$1` run id, `$2` the results: delete those from `check_open`.
    pub(crate) drop_closed: &'static str,
    /// `$1` run id, `$2` its start, `$3` the results: open a span for each result whose key
    /// has none open.
    pub(crate) open_spans: &'static str,
    /// `$1` since (text or NULL), `$2` limit.
    pub(crate) runs: &'static str,
    /// `$1` component, `$2` check, `$3` host (text or NULL: every host), `$4` since,
    /// `$5` until (text or NULL), `$6` limit.
    pub(crate) history: &'static str,
    /// `$1` the states as a JSON array of
    /// `[component, check, host, hard, since, consecutive, soft, soft_since, moved_in]`.
    pub(crate) upsert_states: &'static str,
}

/// The key of a results element `e` (SQLite), joined as `k`.
macro_rules! sqlite_key_join {
    () => {
        "JOIN check_keys k ON k.component = json_extract(e.value, '$[0]') \
         AND k.check_name = json_extract(e.value, '$[1]') AND k.host = json_extract(e.value, '$[2]') \
         AND k.kind = json_extract(e.value, '$[3]') AND k.runs_on = json_extract(e.value, '$[4]')"
    };
}

/// The key of a results element `e` (PostgreSQL), joined as `k`.
macro_rules! postgres_key_join {
    () => {
        "JOIN check_keys k ON k.component = e->>0 AND k.check_name = e->>1 AND k.host = e->>2 \
         AND k.kind = e->>3 AND k.runs_on = e->>4"
    };
}

/// The columns of a span, in `check_open`, `check_spans` and the `check_history` view.
macro_rules! span_columns {
    () => {
        "key_id, first_run, first_at, last_run, last_at, status, reason, results, \
         first_message, last_message, last_ms, min_ms, max_ms, total_ms"
    };
}

/// The history query of one dialect: `$text` casts a possibly-NULL text bind.
macro_rules! history_sql {
    ($text:literal) => {
        concat!(
            "SELECT k.host, s.status, s.reason, s.first_run, s.first_at, s.last_run, s.last_at, s.results, \
             s.first_message, s.last_message, s.last_ms, s.min_ms, s.max_ms, s.total_ms \
             FROM check_keys k JOIN check_history s ON s.key_id = k.id \
             WHERE k.component = $1 AND k.check_name = $2 AND ($3",
            $text,
            " IS NULL OR k.host = $3",
            $text,
            ") AND ($4",
            $text,
            " IS NULL OR s.last_at >= $4",
            $text,
            ") AND ($5",
            $text,
            " IS NULL OR s.first_at <= $5",
            $text,
            ") ORDER BY s.first_run DESC, k.host LIMIT $6"
        )
    };
}

impl Sql {
    /// The statements of a document table.
    pub(crate) fn doc(&self, doc: crate::Document) -> &DocSql {
        match doc {
            crate::Document::Change => &self.changes,
            crate::Document::Rollout => &ROLLOUTS,
            crate::Document::Incident => &INCIDENTS,
        }
    }
}

/// The claim statements of one dialect: `$lock` ends each (PostgreSQL's row lock).
macro_rules! claim_sql {
    (free, $lock:literal) => {
        concat!(
            "SELECT host FROM leases WHERE round = $1 AND wave = $2 AND end_state IS NULL \
             AND worker IS NULL ORDER BY host LIMIT 1",
            $lock
        )
    };
    (expired, $lock:literal) => {
        concat!(
            "SELECT host, worker FROM leases WHERE round = $1 AND wave = $2 AND end_state IS NULL \
             AND worker IS NOT NULL AND expires_at < $3 ORDER BY expires_at, host LIMIT 1",
            $lock
        )
    };
}

pub(crate) static SQLITE: Sql = Sql {
    begin_write: "BEGIN IMMEDIATE",
    lock_head: "SELECT seq, hash FROM journal_head WHERE id = 1",
    changes: doc_sql!("changes", cast = "", read = "record"),
    journal_filtered: "SELECT seq, time, actor, kind, subject, payload, prev_hash, hash, vouched_by, signature FROM journal \
                       WHERE ($1 IS NULL OR time >= $1) AND ($2 IS NULL OR subject = $2) ORDER BY seq",
    has_migrations_table: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    user_tables: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    checks: CheckSql {
        insert_keys: "INSERT INTO check_keys (component, check_name, host, kind, runs_on) SELECT DISTINCT \
             json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'), json_extract(e.value, '$[2]'), \
             json_extract(e.value, '$[3]'), json_extract(e.value, '$[4]') \
             FROM json_each($1) AS e WHERE NOT EXISTS (SELECT 1 FROM check_keys k \
             WHERE k.component = json_extract(e.value, '$[0]') AND k.check_name = json_extract(e.value, '$[1]') \
             AND k.host = json_extract(e.value, '$[2]') AND k.kind = json_extract(e.value, '$[3]') \
             AND k.runs_on = json_extract(e.value, '$[4]'))",
        extend_spans: concat!(
            "UPDATE check_open AS o SET last_run = $1, last_at = $2, results = o.results + 1, \
             last_message = r.message, last_ms = r.ms, min_ms = MIN(o.min_ms, r.ms), \
             max_ms = MAX(o.max_ms, r.ms), total_ms = o.total_ms + r.ms \
             FROM (SELECT k.id AS key_id, json_extract(e.value, '$[5]') AS status, \
             json_extract(e.value, '$[6]') AS reason, json_extract(e.value, '$[7]') AS message, \
             json_extract(e.value, '$[8]') AS ms FROM json_each($3) AS e ",
            sqlite_key_join!(),
            ") AS r WHERE o.key_id = r.key_id AND o.status = r.status AND o.reason IS r.reason"
        ),
        close_spans: concat!(
            "INSERT INTO check_spans (",
            span_columns!(),
            ") SELECT ",
            span_columns!(),
            " FROM check_open WHERE last_run <> $1 AND key_id IN (SELECT k.id FROM json_each($2) AS e ",
            sqlite_key_join!(),
            ")"
        ),
        drop_closed: concat!(
            "DELETE FROM check_open WHERE last_run <> $1 AND key_id IN (SELECT k.id FROM json_each($2) AS e ",
            sqlite_key_join!(),
            ")"
        ),
        open_spans: concat!(
            "INSERT INTO check_open (",
            span_columns!(),
            ") SELECT k.id, $1, $2, $1, $2, json_extract(e.value, '$[5]'), json_extract(e.value, '$[6]'), 1, \
             json_extract(e.value, '$[7]'), json_extract(e.value, '$[7]'), json_extract(e.value, '$[8]'), \
             json_extract(e.value, '$[8]'), json_extract(e.value, '$[8]'), json_extract(e.value, '$[8]') \
             FROM json_each($3) AS e ",
            sqlite_key_join!(),
            " WHERE NOT EXISTS (SELECT 1 FROM check_open o WHERE o.key_id = k.id)"
        ),
        runs: "SELECT id, started_at, finished_at, triggered, actor, pass, degraded, fail, error, skipped \
               FROM check_runs WHERE ($1 IS NULL OR started_at >= $1) ORDER BY id DESC LIMIT $2",
        history: history_sql!(""),
        upsert_states: "INSERT INTO check_states (component, check_name, host, hard, since, consecutive, soft, soft_since, moved_in) \
             SELECT json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'), json_extract(e.value, '$[2]'), \
             json_extract(e.value, '$[3]'), json_extract(e.value, '$[4]'), json_extract(e.value, '$[5]'), \
             json_extract(e.value, '$[6]'), json_extract(e.value, '$[7]'), json_extract(e.value, '$[8]') \
             FROM json_each($1) AS e WHERE true \
             ON CONFLICT (component, check_name, host) DO UPDATE SET hard = excluded.hard, since = excluded.since, \
             consecutive = excluded.consecutive, soft = excluded.soft, soft_since = excluded.soft_since, \
             moved_in = excluded.moved_in",
    },
    claim_free: claim_sql!(free, ""),
    claim_expired: claim_sql!(expired, ""),
};

pub(crate) static POSTGRES: Sql = Sql {
    begin_write: "BEGIN",
    lock_head: "SELECT seq, hash FROM journal_head WHERE id = 1 FOR UPDATE",
    changes: doc_sql!("changes", cast = "::jsonb", read = "record::text"),
    journal_filtered: "SELECT seq, time, actor, kind, subject, payload, prev_hash, hash, vouched_by, signature FROM journal \
                       WHERE ($1::text IS NULL OR time >= $1::text) AND ($2::text IS NULL OR subject = $2::text) \
                       ORDER BY seq",
    has_migrations_table: "SELECT COUNT(*) FROM pg_catalog.pg_tables \
                           WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'",
    user_tables: "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()",
    checks: CheckSql {
        insert_keys: "INSERT INTO check_keys (component, check_name, host, kind, runs_on) \
             SELECT DISTINCT e->>0, e->>1, e->>2, e->>3, e->>4 FROM jsonb_array_elements($1::jsonb) AS e \
             WHERE NOT EXISTS (SELECT 1 FROM check_keys k WHERE k.component = e->>0 AND k.check_name = e->>1 \
             AND k.host = e->>2 AND k.kind = e->>3 AND k.runs_on = e->>4) ON CONFLICT DO NOTHING",
        extend_spans: concat!(
            "UPDATE check_open AS o SET last_run = $1, last_at = $2, results = o.results + 1, \
             last_message = r.message, last_ms = r.ms, min_ms = LEAST(o.min_ms, r.ms), \
             max_ms = GREATEST(o.max_ms, r.ms), total_ms = o.total_ms + r.ms \
             FROM (SELECT k.id AS key_id, e->>5 AS status, e->>6 AS reason, e->>7 AS message, \
             (e->>8)::bigint AS ms FROM jsonb_array_elements($3::jsonb) AS e ",
            postgres_key_join!(),
            ") AS r WHERE o.key_id = r.key_id AND o.status = r.status \
             AND o.reason IS NOT DISTINCT FROM r.reason"
        ),
        close_spans: concat!(
            "INSERT INTO check_spans (",
            span_columns!(),
            ") SELECT ",
            span_columns!(),
            " FROM check_open WHERE last_run <> $1 AND key_id IN (SELECT k.id FROM jsonb_array_elements($2::jsonb) AS e ",
            postgres_key_join!(),
            ")"
        ),
        drop_closed: concat!(
            "DELETE FROM check_open WHERE last_run <> $1 AND key_id IN (SELECT k.id FROM jsonb_array_elements($2::jsonb) AS e ",
            postgres_key_join!(),
            ")"
        ),
        open_spans: concat!(
            "INSERT INTO check_open (",
            span_columns!(),
            ") SELECT k.id, $1, $2::text, $1, $2::text, e->>5, e->>6, 1, e->>7, e->>7, (e->>8)::bigint, \
             (e->>8)::bigint, (e->>8)::bigint, (e->>8)::bigint FROM jsonb_array_elements($3::jsonb) AS e ",
            postgres_key_join!(),
            " WHERE NOT EXISTS (SELECT 1 FROM check_open o WHERE o.key_id = k.id)"
        ),
        runs: "SELECT id, started_at, finished_at, triggered, actor, pass, degraded, fail, error, skipped \
               FROM check_runs WHERE ($1::text IS NULL OR started_at >= $1::text) ORDER BY id DESC LIMIT $2",
        history: history_sql!("::text"),
        upsert_states: "INSERT INTO check_states (component, check_name, host, hard, since, consecutive, soft, soft_since, moved_in) \
             SELECT e->>0, e->>1, e->>2, e->>3, e->>4, (e->>5)::bigint, e->>6, e->>7, (e->>8)::bigint \
             FROM jsonb_array_elements($1::jsonb) AS e \
             ON CONFLICT (component, check_name, host) DO UPDATE SET hard = excluded.hard, since = excluded.since, \
             consecutive = excluded.consecutive, soft = excluded.soft, soft_since = excluded.soft_since, \
             moved_in = excluded.moved_in",
    },
    claim_free: claim_sql!(free, " FOR UPDATE SKIP LOCKED"),
    claim_expired: claim_sql!(expired, " FOR UPDATE SKIP LOCKED"),
};

pub(crate) static ROLLOUTS: DocSql = doc_sql!("rollouts", cast = "", read = "record");
pub(crate) static INCIDENTS: DocSql = doc_sql!("incidents", cast = "", read = "record");

/// The first read of a read-only SQLite open: it opens the write-ahead log, if there is one.
pub(crate) const SQLITE_PROBE: &str = "SELECT COUNT(*) FROM sqlite_master";
/// `(seq, hash)` of every row of `journal_head`, whatever it holds: `verify` checks there is
/// exactly one.
pub(crate) const HEAD_ROWS: &str = "SELECT seq, hash FROM journal_head ORDER BY id";
/// How many rows of `journal_head` have id 1.
pub(crate) const HEAD_WITH_ID_ONE: &str = "SELECT COUNT(*) FROM journal_head WHERE id = 1";
/// `(rows, rows with a seq)` of the journal.
pub(crate) const JOURNAL_COUNT: &str = "SELECT COUNT(*), COUNT(seq) FROM journal";
/// `$1` seq … `$8` hash, `$9` vouched_by, `$10` signature.
pub(crate) const INSERT_ENTRY: &str = "INSERT INTO journal (seq, time, actor, kind, subject, payload, prev_hash, hash, vouched_by, signature) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
/// `$1` seq, `$2` hash.
pub(crate) const MOVE_HEAD: &str = "UPDATE journal_head SET seq = $1, hash = $2 WHERE id = 1";
/// `$1` after this seq, `$2` at most this many.
pub(crate) const JOURNAL_PAGE: &str = "SELECT seq, time, actor, kind, subject, payload, prev_hash, hash, vouched_by, signature \
     FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2";
/// The versions of the migrations applied successfully.
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
/// The statements of a kind of kept record (`Kept`): the same in both dialects.
#[derive(Debug)]
pub(crate) struct KeptSql {
    pub(crate) next_number: &'static str,
    /// `$1` number, `$2` time, `$3` actor, `$4` record.
    pub(crate) insert: &'static str,
    /// `$1` number.
    pub(crate) get: &'static str,
    pub(crate) list: &'static str,
}

/// `KeptSql` of a table with columns `number, taken_at, actor, record`.
macro_rules! kept_sql {
    ($table:literal) => {
        KeptSql {
            next_number: concat!("SELECT COALESCE(MAX(number), 0) + 1 FROM ", $table),
            insert: concat!(
                "INSERT INTO ",
                $table,
                " (number, taken_at, actor, record) VALUES ($1, $2, $3, $4)"
            ),
            get: concat!(
                "SELECT number, taken_at, actor, record FROM ",
                $table,
                " WHERE number = $1"
            ),
            list: concat!(
                "SELECT number, taken_at, actor, record FROM ",
                $table,
                " ORDER BY number"
            ),
        }
    };
}

pub(crate) static SNAPSHOTS: KeptSql = kept_sql!("snapshots");
pub(crate) static OBSERVATIONS: KeptSql = kept_sql!("observations");
/// `$1` rollout, `$2` host, `$3` wave, `$4` state, `$5` time.
pub(crate) const INSERT_ROLLOUT_HOST: &str = "INSERT INTO rollout_hosts (rollout, host, wave, state, snapshot, updated_at) \
     VALUES ($1, $2, $3, $4, NULL, $5)";
pub(crate) const ROLLOUT_HOSTS: &str = "SELECT host, wave, state, snapshot, updated_at FROM rollout_hosts \
     WHERE rollout = $1 ORDER BY wave, host";
/// `$1` rollout, `$2` host → the row of one host (the primary key: one row or none).
pub(crate) const ROLLOUT_HOST: &str = "SELECT host, wave, state, snapshot, updated_at FROM rollout_hosts \
     WHERE rollout = $1 AND host = $2";
/// `$1` rollout, `$2` host, `$3` expected state, `$4` new state, `$5` snapshot or NULL, `$6` time.
pub(crate) const MOVE_HOST: &str = "UPDATE rollout_hosts SET state = $4, snapshot = COALESCE($5, snapshot), updated_at = $6 \
     WHERE rollout = $1 AND host = $2 AND state = $3";
pub(crate) const HOST_STATE: &str =
    "SELECT state FROM rollout_hosts WHERE rollout = $1 AND host = $2";
/// [`MOVE_HOST`], only while the rollout itself is in state `$7` or `$8`: a step that
/// starts new work cannot slip past a `rollout abort` recorded in between.
pub(crate) const MOVE_HOST_WHILE: &str = "UPDATE rollout_hosts SET state = $4, snapshot = COALESCE($5, snapshot), updated_at = $6 \
     WHERE rollout = $1 AND host = $2 AND state = $3 \
     AND EXISTS (SELECT 1 FROM rollouts WHERE number = $1 AND state IN ($7, $8))";
pub(crate) const ROLLOUT_STATE: &str = "SELECT state FROM rollouts WHERE number = $1";

/// `$1` started_at … `$9` skipped: a new run, its id returned.
pub(crate) const INSERT_CHECK_RUN: &str = "INSERT INTO check_runs \
     (started_at, finished_at, triggered, actor, pass, degraded, fail, error, skipped) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
/// The newest run.
pub(crate) const LATEST_CHECK_RUN: &str = "SELECT id, started_at, finished_at, triggered, actor, pass, degraded, fail, error, skipped \
     FROM check_runs ORDER BY id DESC LIMIT 1";
/// `$1` run id: the results it recorded (the spans it ended in), by component, check and
/// host.
pub(crate) const RUN_RESULTS: &str = "SELECT k.component, k.check_name, k.host, k.kind, k.runs_on, o.status, o.reason, \
     o.last_message, o.last_ms FROM check_keys k JOIN check_open o ON o.key_id = k.id \
     WHERE o.last_run = $1 ORDER BY k.component, k.check_name, k.host";
/// Every check's damped state.
pub(crate) const CHECK_STATES: &str = "SELECT component, check_name, host, hard, since, consecutive, soft, soft_since, moved_in \
     FROM check_states ORDER BY component, check_name, host";
/// `$1` component, `$2` check, `$3` host, `$4` until: the newest failing span started by then.
pub(crate) const LAST_FAILING_SPAN: &str = "SELECT MAX(s.first_run) FROM check_keys k \
     JOIN check_history s ON s.key_id = k.id \
     WHERE k.component = $1 AND k.check_name = $2 AND k.host = $3 AND s.first_at <= $4 \
     AND s.status IN ('fail', 'error')";
/// `$1` component, `$2` check, `$3` host, `$4` before this run: the newest ok span.
pub(crate) const LAST_OK_SPAN_BEFORE: &str = "SELECT MAX(s.first_run) FROM check_keys k \
     JOIN check_history s ON s.key_id = k.id \
     WHERE k.component = $1 AND k.check_name = $2 AND k.host = $3 AND s.first_run < $4 \
     AND s.status IN ('pass', 'degraded')";
/// `$1` component, `$2` check, `$3` host, `$4` after this run: the oldest failing span.
pub(crate) const FIRST_FAILING_SPAN_AFTER: &str = "SELECT MIN(s.first_run) FROM check_keys k \
     JOIN check_history s ON s.key_id = k.id \
     WHERE k.component = $1 AND k.check_name = $2 AND k.host = $3 AND s.first_run > $4 \
     AND s.status IN ('fail', 'error')";
/// `$1` component, `$2` check, `$3` host, `$4` first run: that span (as a history row) and
/// the trigger of the run it started in.
pub(crate) const SPAN_FROM: &str = "SELECT k.host, s.status, s.reason, s.first_run, s.first_at, s.last_run, s.last_at, s.results, \
     s.first_message, s.last_message, s.last_ms, s.min_ms, s.max_ms, s.total_ms, u.triggered \
     FROM check_keys k JOIN check_history s ON s.key_id = k.id JOIN check_runs u ON u.id = s.first_run \
     WHERE k.component = $1 AND k.check_name = $2 AND k.host = $3 AND s.first_run = $4 \
     ORDER BY k.id DESC LIMIT 1";
/// `$1` before: the closed spans whose last result is older.
pub(crate) const PRUNE_SPANS: &str = "DELETE FROM check_spans WHERE last_at < $1";
/// `$1` before: the open spans whose last result is older (checks that stopped running).
pub(crate) const PRUNE_OPEN: &str = "DELETE FROM check_open WHERE last_at < $1";
/// `$1` before: the runs that started before it and that no span starts in.
pub(crate) const PRUNE_RUNS: &str = "DELETE FROM check_runs WHERE started_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM check_spans s WHERE s.first_run = check_runs.id) \
     AND NOT EXISTS (SELECT 1 FROM check_open o WHERE o.first_run = check_runs.id)";
/// The keys no span names any more.
pub(crate) const PRUNE_KEYS: &str = "DELETE FROM check_keys \
     WHERE NOT EXISTS (SELECT 1 FROM check_spans s WHERE s.key_id = check_keys.id) \
     AND NOT EXISTS (SELECT 1 FROM check_open o WHERE o.key_id = check_keys.id)";

/// `$1` round, `$2` host, `$3` wave: a lease nobody holds yet (one that exists is kept).
pub(crate) const OPEN_LEASE: &str = "INSERT INTO leases (round, host, wave) VALUES ($1, $2, $3) \
     ON CONFLICT (round, host) DO NOTHING";
/// `$1` round, `$2` wave, `$3` now: how many leases of the wave have no end and expired.
pub(crate) const EXPIRED_LEASES: &str = "SELECT COUNT(*) FROM leases WHERE round = $1 AND wave = $2 \
     AND end_state IS NULL AND worker IS NOT NULL AND expires_at < $3";
/// `$1` round, `$2` host, `$3` worker, `$4` now, `$5` expiry, `$6` 1 for a takeover (else 0).
pub(crate) const TAKE_LEASE: &str = "UPDATE leases SET worker = $3, claimed_at = $4, expires_at = $5, \
     takeovers = takeovers + $6 WHERE round = $1 AND host = $2";
/// `$1` round, `$2` host, `$3` worker, `$4` new expiry: only the holder renews, only before
/// the end.
pub(crate) const RENEW_LEASE: &str = "UPDATE leases SET expires_at = $4 \
     WHERE round = $1 AND host = $2 AND worker = $3 AND end_state IS NULL";
/// `$1` round, `$2` host, `$3` worker, `$4` end state, `$5` detail: only the holder, once.
pub(crate) const END_LEASE: &str = "UPDATE leases SET end_state = $4, end_detail = $5 \
     WHERE round = $1 AND host = $2 AND worker = $3 AND end_state IS NULL";
/// `$1` round, `$2` wave: how many of the wave's leases have no end yet.
pub(crate) const UNENDED_LEASES: &str =
    "SELECT COUNT(*) FROM leases WHERE round = $1 AND wave = $2 AND end_state IS NULL";
/// `$1` round: the first wave with a lease that has no end (NULL: none).
pub(crate) const OPEN_WAVE: &str =
    "SELECT MIN(wave) FROM leases WHERE round = $1 AND end_state IS NULL";
/// `$1` round, `$2` spec, `$3` now: a round that is not a rollout.
pub(crate) const OPEN_ROUND: &str =
    "INSERT INTO lease_rounds (round, spec, opened_at) VALUES ($1, $2, $3)";
/// `$1` round → `(spec, closed_at)`.
pub(crate) const ROUND: &str = "SELECT spec, closed_at FROM lease_rounds WHERE round = $1";
/// `$1` round, `$2` now.
pub(crate) const CLOSE_ROUND: &str =
    "UPDATE lease_rounds SET closed_at = $2 WHERE round = $1 AND closed_at IS NULL";
/// `$1` round: its leases, by wave then host.
pub(crate) const LEASES: &str = "SELECT host, wave, worker, claimed_at, expires_at, takeovers, end_state, end_detail \
     FROM leases WHERE round = $1 ORDER BY wave, host";

/// `$1` source key → `(fetched_ms, answer)`.
pub(crate) const DISCOVERY_CACHED: &str =
    "SELECT fetched_ms, answer FROM discovery_cache WHERE source = $1";
/// `$1` source key, `$2` fetched_ms, `$3` answer: insert or replace.
pub(crate) const CACHE_DISCOVERY: &str = "INSERT INTO discovery_cache (source, fetched_ms, answer) VALUES ($1, $2, $3) \
     ON CONFLICT (source) DO UPDATE SET fetched_ms = excluded.fetched_ms, answer = excluded.answer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_statements_name_their_table_and_cast_only_postgres_changes() {
        assert_eq!(
            ROLLOUTS.insert,
            "INSERT INTO rollouts (number, version, state, record, created_at, updated_at) \
             VALUES ($1, 1, $2, $3, $4, $4)"
        );
        assert_eq!(
            POSTGRES.changes.update,
            "UPDATE changes SET version = version + 1, state = $3, record = $4::jsonb, \
             updated_at = $5 WHERE number = $1 AND version = $2"
        );
        assert_eq!(
            POSTGRES.changes.get,
            "SELECT number, version, state, record::text, created_at, updated_at FROM changes \
             WHERE number = $1"
        );
        assert_eq!(
            INCIDENTS.list,
            "SELECT number, version, state, record, created_at, updated_at FROM incidents \
             ORDER BY number"
        );
    }
}
