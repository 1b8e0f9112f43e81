//! Root-cause analysis, the pure part. Today: [`bisect`], the package bisect as a sans-I/O
//! state machine (it proposes subsets of a manifest to test, the caller applies them on an
//! isolated canary and reports pass/fail). Evidence, attribution and the report come with
//! the incidents work.

pub mod bisect;

pub use bisect::{Bisect, Next, Verdict};
