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

-- Every result of every run, clustered by run (a run's results are appended together and
-- pruned together); `check_results_by_key` serves one check's history.
CREATE TABLE check_results (
    run_id      INTEGER NOT NULL REFERENCES check_runs (id),
    key_id      INTEGER NOT NULL REFERENCES check_keys (id),
    status      TEXT    NOT NULL,
    reason      TEXT,
    message     TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (run_id, key_id)
) WITHOUT ROWID;
CREATE INDEX check_results_by_key ON check_results (key_id, run_id);

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
