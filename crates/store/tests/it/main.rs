//! The integration tests of `fearless-store`: one binary, the same suite on SQLite and on
//! PostgreSQL (`common::backend_tests!` expands every case once per backend).
//!
//! PostgreSQL tests need a server at `FEARLESS_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets a fresh database, dropped at
//! the end. An unreachable server fails the tests: it never skips them.

mod common;

mod bad_input;
mod changes;
mod checks;
mod concurrency;
mod export;
mod journal;
mod leases;
mod opening;
mod rollouts;
mod snapshots;
mod tamper;
