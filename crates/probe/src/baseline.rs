//! Baselines: a saved run, and the diff of a new run against it (regressions and
//! recoveries only), so a patch can be judged by what it changed.

use crate::result::{CheckResult, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file format version.
pub const FORMAT: u32 = 1;

/// A saved run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    /// Format version.
    pub format: u32,
    /// One entry per result.
    pub results: Vec<Entry>,
}

/// One saved result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Component.
    pub component: String,
    /// Check.
    pub check: String,
    /// Host, if per host.
    pub host: Option<String>,
    /// Status then.
    pub status: Status,
}

/// A result that changed class between the baseline and now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    /// Component.
    pub component: String,
    /// Check.
    pub check: String,
    /// Host, if per host.
    pub host: Option<String>,
    /// Status in the baseline; `None` for a check the baseline did not have.
    pub before: Option<Status>,
    /// Status now.
    pub after: Status,
}

/// Regressions (was passing, now not — or new and not passing) and recoveries (the
/// reverse), plus baseline entries this run did not produce.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Diff {
    /// Was ok (or absent from the baseline), now not.
    pub regressions: Vec<Change>,
    /// Was not ok, now ok.
    pub recoveries: Vec<Change>,
    /// In the baseline, not in this run (a removed check or host, or a narrower selection).
    pub missing: Vec<Entry>,
}

/// Reading or writing a baseline failed.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// I/O.
    /// The file could not be read (missing, not a regular file, too large, not UTF-8).
    #[error("baseline: {0}")]
    Read(fearless_io::ReadError),
    /// The file could not be written (nothing at the target changed).
    #[error("baseline: {0}")]
    Write(fearless_io::WriteError),
    #[error("cannot {action} baseline {}: {source}", .path.display())]
    Io {
        /// read or write.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a baseline file.
    #[error("{} is not a fearless baseline: {source}", .path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
    /// From another version of fearless.
    #[error("{} has baseline format {found}, this fearless reads format {FORMAT}", .path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
}

impl Baseline {
    /// Capture `results`.
    pub fn from_results(results: &[CheckResult]) -> Self {
        let results = results
            .iter()
            .map(|r| Entry {
                component: r.component.clone(),
                check: r.check.clone(),
                host: r.host.clone(),
                status: r.status,
            })
            .collect();
        Self {
            format: FORMAT,
            results,
        }
    }

    /// Write as JSON, atomically (`fearless_io::write_atomic`: a temporary file beside it,
    /// never through a planted symlink; a target that is not a regular file is refused).
    pub fn save(&self, path: &Path) -> Result<(), BaselineError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| BaselineError::Io {
            action: "write",
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        fearless_io::write_atomic(path, text.as_bytes()).map_err(BaselineError::Write)
    }

    /// Read a saved baseline (a regular file of at most 64 MiB).
    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let text = fearless_io::read_text(path, fearless_io::Limit::CONFIG)
            .map_err(BaselineError::Read)?;
        let b: Baseline = serde_json::from_str(&text).map_err(|source| BaselineError::Format {
            path: path.to_owned(),
            source,
        })?;
        if b.format != FORMAT {
            return Err(BaselineError::Version {
                path: path.to_owned(),
                found: b.format,
            });
        }
        Ok(b)
    }

    /// Compare `results` with this baseline.
    pub fn diff(&self, results: &[CheckResult]) -> Diff {
        let before: BTreeMap<(&str, &str, Option<&str>), Status> = self
            .results
            .iter()
            .map(|e| {
                (
                    (e.component.as_str(), e.check.as_str(), e.host.as_deref()),
                    e.status,
                )
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut d = Diff::default();
        for r in results {
            let key = (r.component.as_str(), r.check.as_str(), r.host.as_deref());
            seen.insert(key);
            let was = before.get(&key).copied();
            let change = || Change {
                component: r.component.clone(),
                check: r.check.clone(),
                host: r.host.clone(),
                before: was,
                after: r.status,
            };
            let was_ok = was.is_none_or(Status::is_ok);
            match (was_ok, r.status.is_ok() || r.status == Status::Skipped) {
                (true, false) => d.regressions.push(change()),
                (false, true) if r.status.is_ok() => d.recoveries.push(change()),
                _ => {}
            }
        }
        d.missing = self
            .results
            .iter()
            .filter(|e| {
                !seen.contains(&(e.component.as_str(), e.check.as_str(), e.host.as_deref()))
            })
            .cloned()
            .collect();
        d
    }
}
