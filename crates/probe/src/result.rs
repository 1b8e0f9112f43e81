//! Check results: status, typed failure reason, timing — the data every output format and
//! the localisation work from.

use serde::Serialize;
use std::time::Duration;

/// The outcome class of one check run (DESIGN.md §4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed on the first attempt.
    Pass,
    /// Passed, but only after retries (or a Nagios WARNING).
    Degraded,
    /// Ran, and the assertion did not hold.
    Fail,
    /// Could not run (transport down, bad response, internal problem).
    Error,
    /// Not run because it is not meaningful (e.g. its host is unreachable).
    Skipped,
}

impl Status {
    /// Whether the check counts as healthy.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Pass | Status::Degraded)
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Degraded => "degraded",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }
}

/// Why a check did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// A name did not resolve.
    Dns,
    /// The connection was refused or reset.
    Refused,
    /// No answer in time.
    Timeout,
    /// TLS handshake or certificate problem.
    Tls,
    /// It answered, but not what was expected.
    Assertion,
    /// The host could not be reached through its transport.
    Transport,
    /// Authentication was refused.
    Auth,
    /// The check cannot run as configured (e.g. an unsupported host).
    Config,
}

impl Reason {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Dns => "dns",
            Reason::Refused => "refused",
            Reason::Timeout => "timeout",
            Reason::Tls => "tls",
            Reason::Assertion => "assertion",
            Reason::Transport => "transport",
            Reason::Auth => "auth",
            Reason::Config => "config",
        }
    }
}

/// The outcome of one attempt of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Pass, fail or error (the runner turns retried passes into `degraded`).
    pub status: Status,
    /// Set for every non-pass.
    pub reason: Option<Reason>,
    /// What was observed, one line, e.g. "HTTP 502 (expected 200)".
    pub message: String,
}

impl Outcome {
    /// A pass with what was observed.
    pub fn pass(message: impl Into<String>) -> Self {
        Self {
            status: Status::Pass,
            reason: None,
            message: message.into(),
        }
    }

    /// An assertion that did not hold.
    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            reason: Some(Reason::Assertion),
            message: message.into(),
        }
    }

    /// A failure of a given kind (refused, timeout, dns, tls…): the check ran and the
    /// component did not answer as it must.
    pub fn fail_because(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            reason: Some(reason),
            message: message.into(),
        }
    }

    /// The check could not run.
    pub fn error(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            status: Status::Error,
            reason: Some(reason),
            message: message.into(),
        }
    }
}

/// The result of one check on one target (a host, or the controller).
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Component name.
    pub component: String,
    /// Check name.
    pub check: String,
    /// Check kind (`http`, `process`, …).
    pub kind: &'static str,
    /// The host it ran for; `None` when it ran once from the controller.
    pub host: Option<String>,
    /// Where it executed: through the host's transport, or on the controller.
    pub runs_on: fearless_config::RunOn,
    /// Final status.
    pub status: Status,
    /// Typed reason for every non-pass.
    pub reason: Option<Reason>,
    /// What was observed.
    pub message: String,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// Wall time of all attempts.
    #[serde(serialize_with = "ser_ms", rename = "duration_ms")]
    pub duration: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
}
