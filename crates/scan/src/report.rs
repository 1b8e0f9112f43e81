//! What a scan found: [`Finding`]s, [`Note`]s about files it could not scan, the [`Report`].

use serde::{Deserialize, Serialize};

/// JSON schema identifier of a report (`fearless scan --format json`).
pub const SCHEMA: &str = "fearless.scan/v1";

/// How serious a finding is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Fragile: breaks on a patch or an OS change.
    Warning,
    /// Dangerous (a command built from data).
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One place a project-level finding (`lock-in`) is made of.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Site {
    /// The file, relative to the scanned root.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// The matched text (first line, shortened).
    pub matched: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// The rule id (`shell`, `injection`, …, or a user rule's).
    pub rule: String,
    /// Its severity.
    pub severity: Severity,
    /// The file, relative to the scanned root (lossy if the name is not UTF-8).
    pub path: String,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start (characters).
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end (characters, exclusive).
    pub end_column: usize,
    /// The matched text (first line, shortened).
    pub matched: String,
    /// The source line the match starts on (shortened), for the code frame.
    pub source_line: String,
    /// What was found, naming the construct.
    pub message: String,
    /// The one-line fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// rule + file + normalised matched text: stable when lines move (see [`crate::Baseline`]).
    pub fingerprint: String,
    /// Every call site of a project-level finding (`lock-in`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<Site>,
}

/// Why a file was not scanned, or scanned only in part.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// Larger than the size cap.
    TooLarge,
    /// Looks binary (a NUL byte near the start).
    Binary,
    /// Not valid UTF-8.
    NotUtf8,
    /// A symbolic link: never followed.
    Symlink,
    /// Not a regular file (FIFO, socket, device).
    NotRegular,
    /// The parser recovered from syntax errors: findings in the broken part may be missing.
    SyntaxErrors,
    /// Could not be read, or the walk failed there.
    Unreadable,
    /// A suppression comment with no reason.
    SuppressionWithoutReason,
}

/// A note about one path.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Note {
    /// The path, relative to the scanned root where it can be.
    pub path: String,
    /// What happened.
    pub kind: NoteKind,
    /// In words.
    pub detail: String,
}

/// A rule's metadata, for SARIF and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RuleInfo {
    /// The id.
    pub id: String,
    /// Its default severity.
    pub severity: Severity,
    /// One line saying what it catches.
    pub summary: String,
    /// Its documentation page (`docs/rules/ID.md` for the built-in rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<String>,
    /// Built in, or from `--rules DIR`.
    pub builtin: bool,
}

/// The result of a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// [`SCHEMA`].
    #[schemars(extend("const" = "fearless.scan/v1"))]
    pub schema: String,
    /// The paths scanned, as given.
    pub roots: Vec<String>,
    /// Files parsed and matched.
    pub files_scanned: usize,
    /// Bytes of those files.
    pub bytes_scanned: u64,
    /// The findings, sorted by path, line, column and rule.
    pub findings: Vec<Finding>,
    /// Files skipped or scanned in part, sorted by path.
    pub notes: Vec<Note>,
    /// Findings dropped by an inline `fearless: ignore[ID]` comment.
    pub suppressed: usize,
    /// Findings dropped because the baseline has them.
    pub baselined: usize,
    /// The rules that can be reported, sorted by id.
    pub rules: Vec<RuleInfo>,
}

impl Report {
    /// How many findings each rule has, sorted by rule id.
    pub fn counts(&self) -> std::collections::BTreeMap<&str, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.rule.as_str()).or_insert(0) += 1;
        }
        counts
    }
}

/// The stable fingerprint of a finding: FNV-1a 64 of rule, path and the matched text with
/// its whitespace collapsed, as 16 hex digits.
pub fn fingerprint(rule: &str, path: &str, matched: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(rule.as_bytes());
    eat(&[0]);
    eat(path.as_bytes());
    eat(&[0]);
    let mut first = true;
    for word in matched.split_whitespace() {
        if !first {
            eat(b" ");
        }
        first = false;
        eat(word.as_bytes());
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_whitespace_but_not_path() {
        let a = fingerprint("shell", "a.py", "os.system( 'ls' )");
        assert_eq!(a, fingerprint("shell", "a.py", "os.system(\n    'ls' )"));
        assert_ne!(a, fingerprint("shell", "b.py", "os.system( 'ls' )"));
        assert_eq!(a.len(), 16);
    }
}
