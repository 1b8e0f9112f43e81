//! A baseline: the findings a team has accepted, by fingerprint, so that only new ones are
//! reported. A fingerprint is rule + file + normalised matched text (no line number), so a
//! finding that moves does not resurface; one listed twice covers two identical matches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::Finding;

/// JSON schema identifier of a baseline file.
pub const BASELINE_SCHEMA: &str = "fearless.scan.baseline/v1";

/// Why a baseline could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file cannot be read.
    #[error("cannot read baseline {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: fearless_io::ReadError,
    },
    /// The file is not a baseline.
    #[error("{} is not a fearless scan baseline ({BASELINE_SCHEMA}): {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The accepted findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Baseline {
    /// [`BASELINE_SCHEMA`].
    #[schemars(extend("const" = "fearless.scan.baseline/v1"))]
    pub schema: String,
    /// Fingerprints with the rule and file they came from (for people reading the file).
    pub findings: Vec<BaselineEntry>,
}

/// One accepted finding.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct BaselineEntry {
    /// The fingerprint.
    pub fingerprint: String,
    /// The rule id.
    pub rule: String,
    /// The file.
    pub path: String,
}

impl Baseline {
    /// The baseline of a report's findings.
    pub fn of(findings: &[Finding]) -> Baseline {
        let mut entries: Vec<BaselineEntry> = findings
            .iter()
            .map(|f| BaselineEntry {
                fingerprint: f.fingerprint.clone(),
                rule: f.rule.clone(),
                path: f.path.clone(),
            })
            .collect();
        entries.sort();
        Baseline {
            schema: BASELINE_SCHEMA.to_owned(),
            findings: entries,
        }
    }

    /// Read a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = fearless_io::read_text(path, fearless_io::Limit::bytes(256 * 1024 * 1024))
            .map_err(|source| BaselineError::Read {
                path: path.to_owned(),
                source,
            })?;
        let baseline: Baseline =
            serde_json::from_str(&text).map_err(|e| BaselineError::Format {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        if baseline.schema != BASELINE_SCHEMA {
            return Err(BaselineError::Format {
                path: path.to_owned(),
                message: format!("schema is `{}`", baseline.schema),
            });
        }
        Ok(baseline)
    }

    /// The findings not in the baseline, and how many were in it.
    pub fn filter(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let mut budget: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &self.findings {
            *budget.entry(e.fingerprint.as_str()).or_insert(0) += 1;
        }
        let mut kept = Vec::with_capacity(findings.len());
        let mut dropped = 0;
        for f in findings {
            match budget.get_mut(f.fingerprint.as_str()) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    dropped += 1;
                }
                _ => kept.push(f),
            }
        }
        (kept, dropped)
    }
}
