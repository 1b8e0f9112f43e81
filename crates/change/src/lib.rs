//! Change records and their state machine (DESIGN.md §3, "change flow"): ITIL-style records
//! with types, risk, approvals under separation of duties, windows, blackouts and conflicts.
//!
//! Pure domain logic: no I/O, no SQL, no printing. The CLI loads a record from the store,
//! calls [`apply`], and writes [`Applied::record`] back together with the one journal event
//! ([`Applied::kind`], [`Applied::payload`]) in the same transaction.

mod conflict;
mod error;
mod machine;
mod policy;
mod record;
mod window;

pub use conflict::{Conflict, ConflictReason, conflicts};
pub use error::ChangeError;
pub use machine::{Applied, Command, Edit, allowed, apply};
pub use policy::{Policy, check_test_plan};
pub use record::{
    Approval, Assessment, ChangeNumber, ChangeRecord, ChangeType, CloseCode, Decision, NewChange,
    Rating, Risk, RiskLevel, RiskOverride, SCAN_FIRST_FINDINGS, ScanFindingRef, ScanRuleCount,
    ScanSeverity, ScanSummary, Scope, State, TimelineEntry,
};
pub use window::{Blackout, DEFAULT_WINDOW, Window, parse_window};
