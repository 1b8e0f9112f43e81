//! Persistence for fearless: change records and the hash-chained journal, on SQLite (a local
//! file, the default) or PostgreSQL (for a team), behind one [`Store`].
//!
//! The store knows nothing of change rules: a change, a rollout or an incident is a JSON
//! document with a state and a version (for optimistic locking). Every write appends its
//! journal entry in the same transaction. The journal is append-only and hash-chained;
//! [`Store::verify`] finds the first broken link (whatever was done to the rows), reports the
//! head to keep elsewhere, and [`Store::verify_expecting`] checks the journal still holds a
//! head kept before; `VERIFY.md` shows how to check an [`Store::export`] without fearless.
//!
//! The check history (schema 8: runs of the test plan, their results, each check's damped
//! state) is kept beside them: runs are data, not journal; a check's hard transition is
//! journaled with the state it moves ([`Store::record_check_run`]).
//!
//! Host leases (schema 10) let several controllers split the hosts of a rollout's wave
//! through the store: claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, renewed by a
//! heartbeat, taken over (journaled) once expired ([`Store::claim_lease`]).
//!
//! [`Store::open`] creates a store; [`Store::open_existing`] insists that there is one and,
//! with [`Access::ReadOnly`], never writes to it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fearless_store::StoreError> {
//! use fearless_store::{NewEvent, Store};
//! let store = Store::open("sqlite:.fearless/state.db").await?;
//! let event = NewEvent { actor: "ann".into(), kind: "change.created".into(), subject: String::new(), payload: serde_json::json!({}), vouched_by: None, sign: false };
//! let change = store.insert_change("new", &serde_json::json!({"title": "patch openssl"}), event).await?;
//! assert_eq!(change.version, 1);
//! assert!(store.verify().await?.is_ok());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod canonical;
mod checks;
mod error;
mod leases;
mod location;
mod model;
mod open;
mod rows;
mod sql;
mod store;
mod verify;

pub use canonical::{GENESIS, to_canonical};
pub use checks::{
    CheckRow, CheckRun, CheckRunSummary, CheckState, HistoryFilter, HistorySpan, NewCheckRun,
    RecordedCheckRun, StateUpdate, StatusCounts, Streak,
};
pub use error::{ErrorClass, StoreError};
pub use leases::{Claim, Lease};
pub use location::redact;
pub use model::{
    Backend, BrokenLink, ChainEntry, Document, JournalEntry, JournalFilter, JournalHead, NewEvent,
    RolloutHost, Stored, StoredObservation, StoredRecord, StoredSnapshot, VerifyReport,
};
pub use open::Access;
pub use store::{Signer, Store};
