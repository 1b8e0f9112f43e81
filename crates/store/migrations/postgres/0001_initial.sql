-- fearless store, schema 1 (PostgreSQL). Keep in step with migrations/sqlite/0001_initial.sql.

-- Change records: JSON documents with a state and a version for optimistic locking.
CREATE TABLE changes (
    number     BIGINT PRIMARY KEY,
    version    BIGINT NOT NULL CHECK (version >= 1),
    state      TEXT   NOT NULL,
    record     JSONB  NOT NULL,
    created_at TEXT   NOT NULL,
    updated_at TEXT   NOT NULL
);

-- The hash-chained, append-only journal. `payload` is canonical JSON, hashed as stored
-- (TEXT, not JSONB: JSONB would not keep the bytes that were hashed).
CREATE TABLE journal (
    seq       BIGINT PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    payload   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX journal_by_subject ON journal (subject, seq);
CREATE INDEX journal_by_time ON journal (time);

-- Append-only by default: an accidental UPDATE, DELETE or TRUNCATE is refused. (Whoever
-- can drop a trigger can also edit rows; that is what `verify` is for.)
CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only';
END
$$;
CREATE TRIGGER journal_no_change BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();

-- The last appended entry. Appends lock this row (SELECT … FOR UPDATE) for the length of
-- their transaction, which serialises them; `verify` compares it with the last row to
-- detect a truncated tail.
CREATE TABLE journal_head (
    id   SMALLINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT   NOT NULL
);
INSERT INTO journal_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
