//! Operating-system releases, their support and environment parity — the pure part, no
//! I/O.
//!
//! - [`os_release`]: `/etc/os-release` read as data into an [`OsRelease`], and the
//!   [`Release`] it names in the support table;
//! - [`host`]: the one constant script `fearless os` runs on a host, and its reader;
//! - [`eol`]: the support table — endoflife.date's release shape (embedded, or a newer
//!   file) and Debian's `distro-info-data` CSVs (embedded copies, or a host's own);
//! - [`support`]: a release's tiers (standard, security, extended) on a given day, each
//!   date with its source, and the state that follows (supported, warning, end of life);
//! - [`parity`]: how two sets of hosts differ (releases, packages, version skew by each
//!   family's order, listening ports, components), against an allow-list.

pub mod eol;
pub mod host;
pub mod os_release;
pub mod parity;
pub mod support;

pub use eol::{Cycle, Distro, End, EolError, Table};
pub use os_release::{OsRelease, OsReleaseError, Release};
pub use parity::{HostFacts, Ignore, Parity, Port, Side, compare};
pub use support::{State, Support, Tier, TierEnd, WARN_DAYS, support};
