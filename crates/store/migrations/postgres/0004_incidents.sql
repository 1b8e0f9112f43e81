-- fearless store, schema 4 (PostgreSQL): incidents. Keep in step with the SQLite one.

-- One row per incident (`INC-N`): a JSON document (what opened it, the rollout, change,
-- hosts, manifest, failing checks, milestones) with a state and a version, like changes.
CREATE TABLE incidents (
    number     BIGINT PRIMARY KEY,
    version    BIGINT  NOT NULL CHECK (version >= 1),
    state      TEXT    NOT NULL,
    record     TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
