-- fearless store, schema 5 (SQLite): dependency observations. Keep in step with the PostgreSQL one.

-- One row per `fearless map --observe` (`OBS-N`): `record` is canonical JSON (the hosts
-- sampled, the window, listeners and connections with their processes and packages, the
-- drift against the declared graph), kept as text so it reads back byte for byte.
CREATE TABLE observations (
    number   INTEGER PRIMARY KEY,
    taken_at TEXT    NOT NULL,
    actor    TEXT    NOT NULL,
    record   TEXT    NOT NULL
);
