//! What can go wrong with a store, and whose fault it is ([`ErrorClass`]), so the CLI can map
//! every error to an exit code without knowing SQL.

use std::path::PathBuf;

use crate::Document;

/// An error from a [`Store`](crate::Store) operation.
///
/// Messages are lower-case and name what failed. A PostgreSQL URL in a message always has its
/// password replaced by `***`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL has neither a `sqlite:` nor a `postgres://` scheme, or cannot be parsed.
    #[error("unsupported store url `{url}`: {reason}")]
    BadUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The directory that should hold the SQLite file could not be created.
    #[error("failed to create the directory {} for the store: {error}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why it failed.
        error: std::io::Error,
    },
    /// The file exists but is not a SQLite database.
    #[error("{} is not a SQLite database, so it cannot be a fearless store", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is a SQLite database, but of another program: it has tables and no fearless schema.
    #[error("{} is a SQLite database of another program, not a fearless store", path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
    },
    /// The SQLite file could not be opened (permissions, disk, locking).
    #[error("failed to open the store {}: {error}", path.display())]
    OpenSqlite {
        /// The file.
        path: PathBuf,
        /// The driver's error.
        error: sqlx::Error,
    },
    /// The PostgreSQL server refused the connection, did not answer, or refused the login.
    #[error("failed to connect to the store {url}: {error}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        error: sqlx::Error,
    },
    /// The store was written by a newer fearless: its schema is ahead of this binary.
    #[error(
        "the store's schema is version {found}, newer than the version {supported} this fearless \
         supports: upgrade fearless"
    )]
    TooNew {
        /// The schema version in the store.
        found: i64,
        /// The newest schema version this binary knows.
        supported: i64,
    },
    /// There is no store where one must already be: the SQLite file is missing (or empty), or
    /// the PostgreSQL database has no fearless schema. Nothing was created.
    #[error(
        "no store at {location}: check the path (a store is created by the first command that \
         records something)"
    )]
    NoStore {
        /// The SQLite path or the PostgreSQL URL, password redacted.
        location: String,
    },
    /// The store was opened read-only and its schema is older than this binary: it cannot be
    /// migrated, so it cannot be read safely.
    #[error(
        "the store {location} has schema version {found}, older than version {supported} of \
         this fearless, and it was opened read-only, so it cannot be migrated{}",
        reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
    )]
    Outdated {
        /// The SQLite path or the PostgreSQL URL, password redacted.
        location: String,
        /// The newest schema version in the store (0: none).
        found: i64,
        /// The newest schema version this binary knows.
        supported: i64,
        /// Why a migration could not be done instead, when one was tried.
        reason: Option<String>,
    },
    /// A write on a store opened read-only.
    #[error("the store {location} was opened read-only: nothing can be written to it")]
    ReadOnly {
        /// The SQLite path or the PostgreSQL URL, password redacted.
        location: String,
    },
    /// A journal head given by the user (`SEQ:HASH`) cannot be parsed.
    #[error(
        "`{value}` is not a journal head (expected SEQ:HASH, e.g. `12:` and 64 hex digits): {reason}"
    )]
    BadHead {
        /// What was given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Migrating the schema to the version of this binary failed.
    #[error("failed to migrate the store's schema: {error}")]
    Migrate {
        /// The migrator's error.
        error: sqlx::migrate::MigrateError,
    },
    /// No change, rollout or incident has this number.
    #[error("there is no {document} {}", document.id(*number))]
    Unknown {
        /// Which kind of record.
        document: Document,
        /// The number asked for.
        number: u64,
    },
    /// Optimistic locking lost: the record was updated by someone else since it was read.
    #[error(
        "{document} {} was changed by someone else (expected version {expected}, found \
         {found}): reload it and try again",
        document.id(*number)
    )]
    Conflict {
        /// Which kind of record.
        document: Document,
        /// Its number.
        number: u64,
        /// The version the caller read.
        expected: u64,
        /// The version in the store.
        found: u64,
    },
    /// A host step that starts new work was refused: the rollout is no longer in the state
    /// the step needs (a `rollout abort` or `pause` was recorded first).
    #[error("rollout R-{rollout} is {found}, not {expected}")]
    RolloutMoved {
        /// The rollout.
        rollout: u64,
        /// The state the step needs.
        expected: String,
        /// The state in the store.
        found: String,
    },
    /// A host step lost its compare-and-set: the host is not in the state the caller saw
    /// (another controller moved it), or is not part of the rollout.
    #[error("rollout R-{rollout}: {host} is {}, not {expected}", found.as_deref().unwrap_or("not part of it"))]
    HostMoved {
        /// The rollout.
        rollout: u64,
        /// The host.
        host: String,
        /// The state the caller expected.
        expected: String,
        /// The state in the store, if the host is in the rollout.
        found: Option<String>,
    },
    /// A state change could not be signed (no agent, the key not in it, `ssh-keygen`
    /// failed): nothing was written.
    #[error("could not sign the {kind} entry, so nothing was recorded: {reason}")]
    Sign {
        /// The kind of the entry (`change.approved`).
        kind: String,
        /// Why, in the signer's words.
        reason: String,
    },
    /// A check run names the same check on the same host twice: which result stands is
    /// unknown, so nothing was written.
    #[error("the check run holds two results of {component}/{check}{}: nothing was recorded", host.as_deref().map(|h| format!(" on {h}")).unwrap_or_default())]
    DuplicateCheck {
        /// The component.
        component: String,
        /// The check.
        check: String,
        /// The host, when it ran for one.
        host: Option<String>,
    },
    /// A row in the store cannot be read back (hand-edited or damaged).
    #[error("the store holds an unreadable {what}: {reason}")]
    Corrupt {
        /// Which row, e.g. "journal entry 12".
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A query failed (lost connection, disk full, …).
    #[error("store query failed: {error}")]
    Query {
        /// The driver's error.
        error: sqlx::Error,
    },
    /// Writing an export failed.
    #[error("failed to write the journal export: {error}")]
    Export {
        /// Why.
        error: std::io::Error,
    },
}

/// Whose fault an error is, for the CLI's exit code (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The user gave something wrong: a bad URL, a file that is not a store, an unknown record
    /// number, a malformed journal head. Exit code 2.
    BadInput,
    /// Someone else changed the record first: nothing was written; reloading and retrying is
    /// the remedy. The CLI decides its exit code (a gate that stopped the operation: 1).
    Conflict,
    /// The environment failed: server unreachable, disk, no store where one must be, a store
    /// newer than the binary (or older and read-only), corruption. Exit code 3.
    Environment,
}

impl StoreError {
    /// Whose fault this error is.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::BadUrl { .. }
            | StoreError::NotADatabase { .. }
            | StoreError::NotAStore { .. }
            | StoreError::Unknown { .. }
            | StoreError::BadHead { .. }
            | StoreError::DuplicateCheck { .. } => ErrorClass::BadInput,
            StoreError::Conflict { .. }
            | StoreError::HostMoved { .. }
            | StoreError::RolloutMoved { .. } => ErrorClass::Conflict,
            StoreError::CreateDir { .. }
            | StoreError::OpenSqlite { .. }
            | StoreError::Connect { .. }
            | StoreError::TooNew { .. }
            | StoreError::Migrate { .. }
            | StoreError::NoStore { .. }
            | StoreError::Outdated { .. }
            | StoreError::ReadOnly { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Sign { .. }
            | StoreError::Query { .. }
            | StoreError::Export { .. } => ErrorClass::Environment,
        }
    }

    /// True when the user gave bad input (exit code 2); see [`StoreError::class`].
    pub fn is_bad_input(&self) -> bool {
        self.class() == ErrorClass::BadInput
    }

    pub(crate) fn query(error: sqlx::Error) -> Self {
        StoreError::Query { error }
    }
}
