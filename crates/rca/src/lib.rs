//! Root-cause analysis, the pure part: [`bisect`], the package bisect as a sans-I/O state
//! machine (it proposes subsets of a manifest to test, the caller applies them on an
//! isolated host and reports pass/fail), and [`attribution`], which ranks package changes
//! as causes from host evidence alone, [`incident`], the incident life cycle, and [`report`],
//! the post-incident report built from the evidence the CLI gathers.

pub mod attribution;
pub mod bisect;
pub mod incident;
pub mod report;

pub use attribution::{Candidate, attribute};
pub use bisect::{Bisect, Next, Verdict};
pub use incident::{Action, IncidentState};
pub use report::{Evidence, Report};
