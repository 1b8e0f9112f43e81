//! Why a package operation on a host did not happen, or did not end as asked, and why a
//! package manager's output could not be read ([`OutputError`]).

use std::time::Duration;

use fearless_exec::ExecError;

/// A failed package operation. Every variant names the host.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PkgError {
    /// The host could not be reached or the command not run.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// No supported package manager on the host.
    #[error("{host}: {detail}")]
    Unsupported {
        /// Inventory name.
        host: String,
        /// What was found.
        detail: String,
    },
    /// Another process held the package lock for the whole wait.
    #[error("{host}: the package lock is held by {holder}; gave up after waiting {}s", waited.as_secs())]
    Locked {
        /// Inventory name.
        host: String,
        /// Who holds it: `process 1234 (dpkg)`, or what the tool said.
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The package manager ran and failed.
    #[error("{host}: {action} failed ({status}): {stderr}")]
    Failed {
        /// Inventory name.
        host: String,
        /// What we asked for.
        action: String,
        /// Exit status, described.
        status: String,
        /// The end of what it said.
        stderr: String,
    },
    /// Output we could not read.
    #[error("{host}: cannot read the output of {what}: {detail}")]
    Parse {
        /// Inventory name.
        host: String,
        /// Which command.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// The request itself is wrong for this host (e.g. a version its manager rejects).
    #[error("{host}: {detail}")]
    BadInput {
        /// Inventory name.
        host: String,
        /// What is wrong.
        detail: String,
    },
    /// Going back would not be possible, so nothing was changed.
    #[error("{host}: rollback would not be possible, nothing was changed: {}", reasons.join("; "))]
    Infeasible {
        /// Inventory name.
        host: String,
        /// One line per missing version or unsafe downgrade.
        reasons: Vec<String>,
    },
    /// A host rebooted for an update did not come back (on a new boot) in time.
    #[error("{host}: not back from the reboot after {}s: {last}", waited.as_secs())]
    RebootTimeout {
        /// Inventory name.
        host: String,
        /// How long we waited.
        waited: Duration,
        /// What the last attempt to reach it saw.
        last: String,
    },
    /// The operation ran but the host did not end in the state asked for.
    #[error("{host}: the host did not end as asked: {}", mismatches.join("; "))]
    NotExact {
        /// Inventory name.
        host: String,
        /// One line per package that differs.
        mismatches: Vec<String>,
    },
}

impl PkgError {
    /// The host it is about.
    pub fn host(&self) -> &str {
        match self {
            PkgError::Exec(e) => e.host(),
            PkgError::Unsupported { host, .. }
            | PkgError::Locked { host, .. }
            | PkgError::Failed { host, .. }
            | PkgError::Parse { host, .. }
            | PkgError::BadInput { host, .. }
            | PkgError::Infeasible { host, .. }
            | PkgError::RebootTimeout { host, .. }
            | PkgError::NotExact { host, .. } => host,
        }
    }

    /// Whether the request was at fault (vs. the host or the environment).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            PkgError::BadInput { .. } | PkgError::Infeasible { .. }
        )
    }

    /// A short machine-readable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            PkgError::Exec(e) if e.is_transport() => "unreachable",
            PkgError::Exec(_) => "exec",
            PkgError::Unsupported { .. } => "unsupported",
            PkgError::Locked { .. } => "locked",
            PkgError::Failed { .. } => "failed",
            PkgError::Parse { .. } => "parse",
            PkgError::BadInput { .. } => "bad-input",
            PkgError::Infeasible { .. } => "infeasible",
            PkgError::RebootTimeout { .. } => "reboot-timeout",
            PkgError::NotExact { .. } => "not-exact",
        }
    }
}

/// Output of a package manager (or of our script around it) that a parser cannot read; the
/// caller names the host and the command in [`PkgError::Parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// A section our script prints (`@@manual`, `@@dpkg`) is missing: it did not run to the end.
    #[error("missing the {0} section")]
    MissingSection(&'static str),
    /// A line that does not have the fields the format asks for.
    #[error("unexpected line {0:?}")]
    UnexpectedLine(String),
    /// A value that does not read as what it must be.
    #[error("unexpected {what}: {text:?}")]
    Unexpected {
        /// What was expected (`UTC offset`).
        what: &'static str,
        /// What came instead.
        text: String,
    },
}
