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

pub(crate) static SQLITE: Sql = Sql {
    begin_write: "BEGIN IMMEDIATE",
    lock_head: "SELECT seq, hash FROM journal_head WHERE id = 1",
    changes: doc_sql!("changes", cast = "", read = "record"),
    journal_filtered: "SELECT seq, time, actor, kind, subject, payload, prev_hash, hash, vouched_by, signature FROM journal \
                       WHERE ($1 IS NULL OR time >= $1) AND ($2 IS NULL OR subject = $2) ORDER BY seq",
    has_migrations_table: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    user_tables: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
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
