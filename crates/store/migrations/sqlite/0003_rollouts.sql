-- fearless store, schema 3 (SQLite): patch rollouts. Keep in step with the PostgreSQL one.

-- One row per rollout (`R-N`): a JSON document (change, frozen manifest, waves, options)
-- with a state and a version for optimistic locking, like changes.
CREATE TABLE rollouts (
    number     INTEGER PRIMARY KEY,
    version    INTEGER NOT NULL CHECK (version >= 1),
    state      TEXT    NOT NULL,
    record     TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

-- Each host of a rollout, its wave and where it is in the per-host state machine. A step
-- moves a host only from the state the caller saw (compare-and-set), with its journal
-- entry in the same transaction.
CREATE TABLE rollout_hosts (
    rollout    INTEGER NOT NULL REFERENCES rollouts (number),
    host       TEXT    NOT NULL,
    wave       INTEGER NOT NULL CHECK (wave >= 1),
    state      TEXT    NOT NULL,
    snapshot   INTEGER,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (rollout, host)
);
