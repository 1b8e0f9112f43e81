-- fearless store, schema 9 (PostgreSQL): the discovery cache. Keep in step with the SQLite one.

-- One row per discovery source (`inventory.ec2[N]`), keyed by everything that decides what
-- it finds: when it was last asked (Unix milliseconds) and its answer (JSON), reused for the
-- source's `cache:` time. Not history: a new answer replaces the old one, and no journal
-- entry is written (discovery changes nothing).
CREATE TABLE discovery_cache (
    source     TEXT   PRIMARY KEY,
    fetched_ms BIGINT NOT NULL,
    answer     TEXT   NOT NULL
);
