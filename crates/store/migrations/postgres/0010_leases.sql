-- fearless store, schema 10 (PostgreSQL): host leases, how several controllers split the
-- hosts of a rollout's wave. Keep in step with the SQLite one.

-- One row per host of a round (`R-3`: a rollout) once its wave is opened. A worker claims an
-- unheld row (`SELECT … FOR UPDATE SKIP LOCKED`, so claimers never wait for each other),
-- renews `expires_at` by its heartbeat while it works, and writes the host's end. A row whose
-- holder stopped renewing is taken over after `expires_at` (journaled). Coordination state,
-- not history: claims and renewals are not journaled; a host's steps are, as always.
CREATE TABLE leases (
    round      TEXT   NOT NULL,
    host       TEXT   NOT NULL,
    wave       BIGINT NOT NULL CHECK (wave >= 1),
    worker     TEXT,
    claimed_at TEXT,
    expires_at TEXT,
    takeovers  BIGINT NOT NULL DEFAULT 0,
    end_state  TEXT,
    end_detail TEXT,
    PRIMARY KEY (round, host)
);
CREATE INDEX leases_by_wave ON leases (round, wave);

-- A round that is not a rollout (a check round, `check --workers`): what it is about, as its
-- opener wrote it (JSON), for the workers that join it, and when it was over. A rollout's
-- record says the same of its rounds.
CREATE TABLE lease_rounds (
    round     TEXT PRIMARY KEY,
    spec      TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT
);
