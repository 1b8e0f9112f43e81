-- fearless store, schema 2 (SQLite): package snapshots. Keep in step with the PostgreSQL one.

-- One row per `fearless snapshot`: `record` is canonical JSON
-- {"hosts": {"web-1": {"manager": "apt", "packages": [...]}, ...}, "errors": {...}},
-- kept as text so a package set reads back byte for byte as it was taken.
CREATE TABLE snapshots (
    number   INTEGER PRIMARY KEY,
    taken_at TEXT    NOT NULL,
    actor    TEXT    NOT NULL,
    record   TEXT    NOT NULL
);
