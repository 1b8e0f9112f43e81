//! `fearless scan`: a source scan for fragile coupling to the OS and to vendors.
//!
//! The tree is walked in parallel ([`walk`]: `.gitignore` honoured, vendored and generated
//! directories skipped, symlinks never followed, oversized, binary and non-UTF-8 files noted
//! and skipped), each file is parsed with tree-sitter through the ast-grep crates and matched
//! against rules in ast-grep's YAML format ([`rules`]: built-in ones embedded in the binary,
//! a user's with `--rules DIR`), and the matches become typed [`Finding`]s ([`analyze`]):
//! a `shell` match whose command is not a constant on the syntax tree becomes `injection`,
//! IP addresses are checked against the loopback and documentation ranges and a literal
//! whose whole value is a host name (or a URL's authority) is told from file names, packages
//! and reserved names (module `address`), broker imports are aggregated into one
//! project-level `lock-in` finding. Inline `fearless: ignore[ID] reason`
//! comments and a [`Baseline`] drop what the team has accepted. [`sarif`] renders a
//! [`Report`] as SARIF 2.1.0.
//!
//! A Dockerfile has no grammar here: its `RUN` instructions are scanned with the shell rules
//! on a same-length view of the file in which everything but their shell text is blank
//! (module `dockerfile`), so findings point at the Dockerfile's own lines and columns.

mod address;
pub mod analyze;
pub mod baseline;
mod dockerfile;
pub mod lang;
pub mod report;
pub mod rules;
pub mod sarif;
pub mod walk;

pub use baseline::{Baseline, BaselineError};
pub use lang::Lang;
pub use report::{Finding, Note, NoteKind, Report, RuleInfo, Severity, Site};
pub use rules::{RuleError, RuleSet};
pub use walk::{ScanError, ScanOptions, scan};
