-- fearless store, schema 8 (SQLite): the continuous test plan's history. Keep in step with the
-- PostgreSQL one. Runs are not journaled (one a minute, thousands of results each); the hard
-- transitions of `check_states` are.

-- One row per run of the test plan (`monitor`: the continuous plan; `check`: `check --record`),
-- with its results counted by status, so listing runs never reads their results.
CREATE TABLE check_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT    NOT NULL,
    finished_at TEXT    NOT NULL,
    triggered   TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    pass        INTEGER NOT NULL,
    degraded    INTEGER NOT NULL,
    fail        INTEGER NOT NULL,
    error       INTEGER NOT NULL,
    skipped     INTEGER NOT NULL
);
CREATE INDEX check_runs_by_start ON check_runs (started_at);

-- What a result is about: a check of a component on a host ('' for a check run once from the
-- controller), with its kind and where it ran, named once rather than in every result.
CREATE TABLE check_keys (
    id         INTEGER PRIMARY KEY,
    component  TEXT NOT NULL,
    check_name TEXT NOT NULL,
    host       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    runs_on    TEXT NOT NULL,
    UNIQUE (component, check_name, host, kind, runs_on)
);

-- Every result, kept as spans: one row per stretch of results of a key with the same status and
-- reason. A check that passes all month is one span, not 43,200 rows; a check flapping every
-- run costs a span a run. A span keeps the first and last result's message, the last duration
-- and the durations' minimum, maximum and sum; the messages between are not kept.
--
-- Each key's open span (the one its latest result belongs to) lives in `check_open`, one row
-- a key, which every run rewrites: a small table, so a run of 20,000 results writes a few
-- megabytes whatever the length of the history. When a result disagrees with its key's open
-- span, the span is closed — copied to `check_spans`, which only ever gets inserts and
-- prunes — and the result opens the next.
CREATE TABLE check_open (
    key_id        INTEGER NOT NULL PRIMARY KEY REFERENCES check_keys (id),
    first_run     INTEGER NOT NULL,
    first_at      TEXT    NOT NULL,
    last_run      INTEGER NOT NULL,
    last_at       TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    reason        TEXT,
    results       INTEGER NOT NULL CHECK (results > 0),
    first_message TEXT    NOT NULL,
    last_message  TEXT    NOT NULL,
    last_ms       INTEGER NOT NULL,
    min_ms        INTEGER NOT NULL,
    max_ms        INTEGER NOT NULL,
    total_ms      INTEGER NOT NULL,
    CHECK (first_run <= last_run)
);
-- The runs an open span starts in (a run is pruned only when no span starts in it).
CREATE INDEX check_open_by_first_run ON check_open (first_run);

-- The closed spans. Clustered by key, oldest first, so one
-- check's history is one range.
CREATE TABLE check_spans (
    key_id        INTEGER NOT NULL REFERENCES check_keys (id),
    first_run     INTEGER NOT NULL,
    first_at      TEXT    NOT NULL,
    last_run      INTEGER NOT NULL,
    last_at       TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    reason        TEXT,
    results       INTEGER NOT NULL CHECK (results > 0),
    first_message TEXT    NOT NULL,
    last_message  TEXT    NOT NULL,
    last_ms       INTEGER NOT NULL,
    min_ms        INTEGER NOT NULL,
    max_ms        INTEGER NOT NULL,
    total_ms      INTEGER NOT NULL,
    PRIMARY KEY (key_id, first_run)
) WITHOUT ROWID;
-- The runs a closed span starts in: a run is pruned only when no span starts in it (a
-- failing streak's first run keeps its trigger).
CREATE INDEX check_spans_by_first_run ON check_spans (first_run);

-- Every span, open or closed: what the history is read from.
CREATE VIEW check_history AS
    SELECT key_id, first_run, first_at, last_run, last_at, status, reason, results,
           first_message, last_message, last_ms, min_ms, max_ms, total_ms FROM check_spans
    UNION ALL
    SELECT key_id, first_run, first_at, last_run, last_at, status, reason, results,
           first_message, last_message, last_ms, min_ms, max_ms, total_ms FROM check_open;

-- Each check's damped state (Nagios' soft and hard states): the confirmed (`hard`) status
-- since when, and the run of results that disagree with it (`soft`, `consecutive`, since
-- `soft_since`), and the run that last moved it (`moved_in`). Written with the journal
-- entry of each hard transition.
CREATE TABLE check_states (
    component   TEXT    NOT NULL,
    check_name  TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    hard        TEXT    NOT NULL,
    since       TEXT    NOT NULL,
    consecutive INTEGER NOT NULL CHECK (consecutive >= 0),
    soft        TEXT,
    soft_since  TEXT,
    moved_in    INTEGER NOT NULL,
    PRIMARY KEY (component, check_name, host)
);
