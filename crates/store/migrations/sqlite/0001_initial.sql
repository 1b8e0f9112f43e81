-- fearless store, schema 1 (SQLite). Keep in step with migrations/postgres/0001_initial.sql.

-- Change records: JSON documents with a state and a version for optimistic locking.
CREATE TABLE changes (
    number     INTEGER PRIMARY KEY,
    version    INTEGER NOT NULL CHECK (version >= 1),
    state      TEXT    NOT NULL,
    record     TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

-- The hash-chained, append-only journal. `payload` is canonical JSON, hashed as stored.
CREATE TABLE journal (
    seq       INTEGER PRIMARY KEY,
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

-- Append-only by default: an accidental UPDATE or DELETE is refused. (Whoever can drop a
-- trigger can also edit rows; that is what `verify` is for.)
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN
    SELECT RAISE(ABORT, 'the journal is append-only');
END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN
    SELECT RAISE(ABORT, 'the journal is append-only');
END;

-- The last appended entry. Appends read and move it inside their transaction, which
-- serialises them; `verify` compares it with the last row to detect a truncated tail.
CREATE TABLE journal_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO journal_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
