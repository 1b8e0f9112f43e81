//! Every SQL statement the store runs, one set per backend. All of them are constants with
//! bind parameters: sqlx only accepts `&'static str` here, so no statement can be built from
//! data. The two sets differ only where the dialects do (locking, JSONB casts).

/// The statements of one backend.
#[derive(Debug)]
pub(crate) struct Sql {
    /// Starts a write transaction. SQLite takes its write lock at once (`BEGIN IMMEDIATE`), so
    /// two writers queue on the busy timeout instead of failing to upgrade a read lock.
    pub(crate) begin_write: &'static str,
    /// Reads the journal head `(seq, hash)` and, on PostgreSQL, locks it until commit: every
    /// write transaction starts here, which serialises appends and change numbering.
    pub(crate) lock_head: &'static str,
    pub(crate) head: &'static str,
    pub(crate) next_number: &'static str,
    /// `$1` number, `$2` state, `$3` record, `$4` time.
    pub(crate) insert_change: &'static str,
    /// `$1` number, `$2` expected version, `$3` state, `$4` record, `$5` time.
    pub(crate) update_change: &'static str,
    pub(crate) change_version: &'static str,
    pub(crate) get_change: &'static str,
    pub(crate) list_changes: &'static str,
    /// `$1` seq … `$8` hash.
    pub(crate) insert_entry: &'static str,
    /// `$1` seq, `$2` hash.
    pub(crate) move_head: &'static str,
    /// `$1` after this seq, `$2` at most this many.
    pub(crate) journal_page: &'static str,
    /// `$1` since (text, or NULL), `$2` subject (or NULL).
    pub(crate) journal_filtered: &'static str,
    /// Does the migrations table exist? One row, one boolean-ish integer.
    pub(crate) has_migrations_table: &'static str,
    pub(crate) schema_version: &'static str,
    pub(crate) next_snapshot: &'static str,
    /// `$1` number, `$2` time, `$3` actor, `$4` record.
    pub(crate) insert_snapshot: &'static str,
    pub(crate) get_snapshot: &'static str,
    pub(crate) list_snapshots: &'static str,
    pub(crate) next_rollout: &'static str,
    /// `$1` number, `$2` state, `$3` record, `$4` time.
    pub(crate) insert_rollout: &'static str,
    /// `$1` rollout, `$2` host, `$3` wave, `$4` state, `$5` time.
    pub(crate) insert_rollout_host: &'static str,
    /// `$1` number, `$2` expected version, `$3` state, `$4` record, `$5` time.
    pub(crate) update_rollout: &'static str,
    pub(crate) rollout_version: &'static str,
    pub(crate) get_rollout: &'static str,
    pub(crate) list_rollouts: &'static str,
    pub(crate) rollout_hosts: &'static str,
    /// `$1` rollout, `$2` host, `$3` expected state, `$4` new state, `$5` snapshot or NULL, `$6` time.
    pub(crate) move_host: &'static str,
    pub(crate) host_state: &'static str,
    pub(crate) next_incident: &'static str,
    /// `$1` number, `$2` state, `$3` record, `$4` time.
    pub(crate) insert_incident: &'static str,
    pub(crate) get_incident: &'static str,
    pub(crate) list_incidents: &'static str,
    /// `$1` number, `$2` expected version, `$3` state, `$4` record, `$5` time.
    pub(crate) update_incident: &'static str,
    pub(crate) incident_version: &'static str,
}

pub(crate) static SQLITE: Sql = Sql {
    begin_write: "BEGIN IMMEDIATE",
    lock_head: "SELECT seq, hash FROM journal_head WHERE id = 1",
    head: "SELECT seq, hash FROM journal_head WHERE id = 1",
    next_number: "SELECT COALESCE(MAX(number), 0) + 1 FROM changes",
    insert_change: "INSERT INTO changes (number, version, state, record, created_at, updated_at) \
                    VALUES ($1, 1, $2, $3, $4, $4)",
    update_change: "UPDATE changes SET version = version + 1, state = $3, record = $4, updated_at = $5 \
                    WHERE number = $1 AND version = $2",
    change_version: "SELECT version FROM changes WHERE number = $1",
    get_change: "SELECT number, version, state, record, created_at, updated_at \
                 FROM changes WHERE number = $1",
    list_changes: "SELECT number, version, state, record, created_at, updated_at \
                   FROM changes ORDER BY number",
    insert_entry: "INSERT INTO journal (seq, time, actor, kind, subject, payload, prev_hash, hash) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    move_head: "UPDATE journal_head SET seq = $1, hash = $2 WHERE id = 1",
    journal_page: "SELECT seq, time, actor, kind, subject, payload, prev_hash, hash \
                   FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2",
    journal_filtered: "SELECT seq, time, actor, kind, subject, payload, prev_hash, hash FROM journal \
                       WHERE ($1 IS NULL OR time >= $1) AND ($2 IS NULL OR subject = $2) ORDER BY seq",
    has_migrations_table: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    schema_version: "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
    next_snapshot: "SELECT COALESCE(MAX(number), 0) + 1 FROM snapshots",
    insert_snapshot: "INSERT INTO snapshots (number, taken_at, actor, record) VALUES ($1, $2, $3, $4)",
    get_snapshot: "SELECT number, taken_at, actor, record FROM snapshots WHERE number = $1",
    list_snapshots: "SELECT number, taken_at, actor, record FROM snapshots ORDER BY number",
    next_rollout: "SELECT COALESCE(MAX(number), 0) + 1 FROM rollouts",
    insert_rollout: "INSERT INTO rollouts (number, version, state, record, created_at, updated_at) \
                     VALUES ($1, 1, $2, $3, $4, $4)",
    insert_rollout_host: "INSERT INTO rollout_hosts (rollout, host, wave, state, snapshot, updated_at) \
                          VALUES ($1, $2, $3, $4, NULL, $5)",
    update_rollout: "UPDATE rollouts SET version = version + 1, state = $3, record = $4, updated_at = $5 \
                     WHERE number = $1 AND version = $2",
    rollout_version: "SELECT version FROM rollouts WHERE number = $1",
    get_rollout: "SELECT number, version, state, record, created_at, updated_at FROM rollouts WHERE number = $1",
    list_rollouts: "SELECT number, version, state, record, created_at, updated_at FROM rollouts ORDER BY number",
    rollout_hosts: "SELECT host, wave, state, snapshot, updated_at FROM rollout_hosts \
                    WHERE rollout = $1 ORDER BY wave, host",
    move_host: "UPDATE rollout_hosts SET state = $4, snapshot = COALESCE($5, snapshot), updated_at = $6 \
                WHERE rollout = $1 AND host = $2 AND state = $3",
    host_state: "SELECT state FROM rollout_hosts WHERE rollout = $1 AND host = $2",
    next_incident: "SELECT COALESCE(MAX(number), 0) + 1 FROM incidents",
    insert_incident: "INSERT INTO incidents (number, version, state, record, created_at, updated_at) \
                      VALUES ($1, 1, $2, $3, $4, $4)",
    get_incident: "SELECT number, version, state, record, created_at, updated_at FROM incidents WHERE number = $1",
    list_incidents: "SELECT number, version, state, record, created_at, updated_at FROM incidents ORDER BY number",
    update_incident: "UPDATE incidents SET version = version + 1, state = $3, record = $4, updated_at = $5 \
                      WHERE number = $1 AND version = $2",
    incident_version: "SELECT version FROM incidents WHERE number = $1",
};

pub(crate) static POSTGRES: Sql = Sql {
    begin_write: "BEGIN",
    lock_head: "SELECT seq, hash FROM journal_head WHERE id = 1 FOR UPDATE",
    head: "SELECT seq, hash FROM journal_head WHERE id = 1",
    next_number: "SELECT COALESCE(MAX(number), 0) + 1 FROM changes",
    insert_change: "INSERT INTO changes (number, version, state, record, created_at, updated_at) \
                    VALUES ($1, 1, $2, $3::jsonb, $4, $4)",
    update_change: "UPDATE changes SET version = version + 1, state = $3, record = $4::jsonb, updated_at = $5 \
                    WHERE number = $1 AND version = $2",
    change_version: "SELECT version FROM changes WHERE number = $1",
    get_change: "SELECT number, version, state, record::text, created_at, updated_at \
                 FROM changes WHERE number = $1",
    list_changes: "SELECT number, version, state, record::text, created_at, updated_at \
                   FROM changes ORDER BY number",
    insert_entry: "INSERT INTO journal (seq, time, actor, kind, subject, payload, prev_hash, hash) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    move_head: "UPDATE journal_head SET seq = $1, hash = $2 WHERE id = 1",
    journal_page: "SELECT seq, time, actor, kind, subject, payload, prev_hash, hash \
                   FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2",
    journal_filtered: "SELECT seq, time, actor, kind, subject, payload, prev_hash, hash FROM journal \
                       WHERE ($1::text IS NULL OR time >= $1::text) AND ($2::text IS NULL OR subject = $2::text) \
                       ORDER BY seq",
    has_migrations_table: "SELECT COUNT(*) FROM pg_catalog.pg_tables \
                           WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'",
    schema_version: "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
    next_snapshot: "SELECT COALESCE(MAX(number), 0) + 1 FROM snapshots",
    insert_snapshot: "INSERT INTO snapshots (number, taken_at, actor, record) VALUES ($1, $2, $3, $4)",
    get_snapshot: "SELECT number, taken_at, actor, record FROM snapshots WHERE number = $1",
    list_snapshots: "SELECT number, taken_at, actor, record FROM snapshots ORDER BY number",
    next_rollout: "SELECT COALESCE(MAX(number), 0) + 1 FROM rollouts",
    insert_rollout: "INSERT INTO rollouts (number, version, state, record, created_at, updated_at) \
                     VALUES ($1, 1, $2, $3, $4, $4)",
    insert_rollout_host: "INSERT INTO rollout_hosts (rollout, host, wave, state, snapshot, updated_at) \
                          VALUES ($1, $2, $3, $4, NULL, $5)",
    update_rollout: "UPDATE rollouts SET version = version + 1, state = $3, record = $4, updated_at = $5 \
                     WHERE number = $1 AND version = $2",
    rollout_version: "SELECT version FROM rollouts WHERE number = $1",
    get_rollout: "SELECT number, version, state, record, created_at, updated_at FROM rollouts WHERE number = $1",
    list_rollouts: "SELECT number, version, state, record, created_at, updated_at FROM rollouts ORDER BY number",
    rollout_hosts: "SELECT host, wave, state, snapshot, updated_at FROM rollout_hosts \
                    WHERE rollout = $1 ORDER BY wave, host",
    move_host: "UPDATE rollout_hosts SET state = $4, snapshot = COALESCE($5, snapshot), updated_at = $6 \
                WHERE rollout = $1 AND host = $2 AND state = $3",
    host_state: "SELECT state FROM rollout_hosts WHERE rollout = $1 AND host = $2",
    next_incident: "SELECT COALESCE(MAX(number), 0) + 1 FROM incidents",
    insert_incident: "INSERT INTO incidents (number, version, state, record, created_at, updated_at) \
                      VALUES ($1, 1, $2, $3, $4, $4)",
    get_incident: "SELECT number, version, state, record, created_at, updated_at FROM incidents WHERE number = $1",
    list_incidents: "SELECT number, version, state, record, created_at, updated_at FROM incidents ORDER BY number",
    update_incident: "UPDATE incidents SET version = version + 1, state = $3, record = $4, updated_at = $5 \
                      WHERE number = $1 AND version = $2",
    incident_version: "SELECT version FROM incidents WHERE number = $1",
};
