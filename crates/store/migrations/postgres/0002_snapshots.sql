-- fearless store, schema 2 (PostgreSQL): package snapshots. Keep in step with the SQLite one.

-- One row per `fearless snapshot`: `record` is canonical JSON
-- {"hosts": {"web-1": {"manager": "apt", "packages": [...]}, ...}, "errors": {...}},
-- kept as TEXT (not JSONB) so a package set reads back byte for byte as it was taken.
CREATE TABLE snapshots (
    number   BIGINT PRIMARY KEY,
    taken_at TEXT   NOT NULL,
    actor    TEXT   NOT NULL,
    record   TEXT   NOT NULL
);
