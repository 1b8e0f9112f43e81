//! Package state across the fleet: what is installed and pending on each host, exact
//! manifests applied and rolled back, and each host's own history of package changes.
//!
//! - [`version`]: the exact version orderings of dpkg and rpm;
//! - [`model`]: managers, installed packages, package sets and their differences;
//! - [`manifest`]: the validated `name=version` lists a change applies;
//! - [`backend`]: the [`PackageManager`] trait and detection; [`apt`] and [`dnf`] implement it;
//! - [`ops`]: apply, rollback and the rollback-feasibility check, on any backend;
//! - [`history`]: a host's own record of package transactions;
//! - [`reboot`]: rebooting a host an update asked to reboot, proven by a marker and bounded;
//! - [`restart`]: restarting the services that still run replaced code after an update;
//! - `fuzz` (cargo feature `fuzzing`): every parser of host output as a fuzzing entry point.
//!
//! Invariants: every command is argv or a constant script with data as positional
//! parameters; every call is non-interactive and bounded (lock wait, then command time);
//! nothing is changed on a host before the manifest is validated and the way back is known.

pub mod apt;
pub mod backend;
pub mod dnf;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod history;
pub mod manifest;
pub mod model;
pub mod ops;
pub mod reboot;
pub mod restart;
pub mod version;

pub use backend::{Backend, Limits, PackageManager, Target, detect};
pub use error::{OutputError, PkgError};
pub use manifest::Manifest;
pub use model::{Built, Diff, Installed, Manager, PackageSet, Pending, Relations};
