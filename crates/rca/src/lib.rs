//! Root-cause analysis, the pure part: [`bisect`], the package bisect as a sans-I/O state
//! machine (it proposes subsets of a manifest to test, the caller applies them on an
//! isolated host and reports pass/fail), and [`attribution`], which ranks package changes
//! as causes from host evidence alone. Gathering the evidence and the report come with the
//! incidents work.

pub mod attribution;
pub mod bisect;
pub mod incident;

pub use attribution::{Candidate, attribute};
pub use bisect::{Bisect, Next, Verdict};
pub use incident::{Action, IncidentState};
