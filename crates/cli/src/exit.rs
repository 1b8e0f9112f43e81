//! Exit codes, in one place (DESIGN.md §4):
//! `0` success / all pass, `1` checks failed or a gate stopped the operation, `2` bad input
//! (config, arguments), `3` environment or internal error.

use fearless_config::ConfigError;

/// How a command ended when it ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything passed.
    Success,
    /// Checks failed, or a gate stopped the operation.
    Failed,
    /// The exit code of a command run on the user's behalf (`fearless lab ssh HOST -- CMD`).
    PassThrough(u8),
}

/// Why a command could not do its job.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The configuration has errors (rendered with their locations).
    Config(ConfigError),
    /// Arguments or other input are wrong.
    BadInput {
        message: String,
        hint: Option<String>,
    },
    /// A rule stopped the operation (separation of duties, a blackout, a lost race).
    Gate {
        message: String,
        hint: Option<String>,
    },
    /// The environment failed us: unreachable store, missing tool, I/O.
    Environment(anyhow::Error),
    /// stdout was closed (e.g. `| head`): not an error.
    BrokenPipe,
}

impl Failure {
    pub(crate) fn bad_input(message: impl Into<String>, hint: Option<&str>) -> Self {
        Failure::BadInput {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Config(e) => write!(f, "{e}"),
            Failure::BadInput { message, .. } | Failure::Gate { message, .. } => {
                f.write_str(message)
            }
            Failure::Environment(e) => write!(f, "{e:#}"),
            Failure::BrokenPipe => f.write_str("stdout was closed"),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Environment(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Environment(e.into())
        }
    }
}

/// The process exit code for a result.
pub(crate) fn code(result: &Result<Outcome, Failure>) -> u8 {
    match result {
        Ok(Outcome::Success) | Err(Failure::BrokenPipe) => 0,
        Ok(Outcome::Failed) | Err(Failure::Gate { .. }) => 1,
        Ok(Outcome::PassThrough(code)) => *code,
        Err(Failure::Config(_) | Failure::BadInput { .. }) => 2,
        Err(Failure::Environment(_)) => 3,
    }
}

impl From<fearless_engine::EngineError> for Failure {
    fn from(e: fearless_engine::EngineError) -> Self {
        use fearless_engine::{Class, EngineError};
        let hint = e.hint();
        match (e.class(), e) {
            (_, EngineError::Store(s)) if s.class() != fearless_store::ErrorClass::Conflict => {
                crate::cmd::store_failure(s)
            }
            (Class::BadInput, e) => Failure::BadInput {
                message: e.to_string(),
                hint,
            },
            (Class::Gate, e) => Failure::Gate {
                message: e.to_string(),
                hint,
            },
            (Class::Environment, e) => Failure::Environment(match hint {
                Some(h) => anyhow::anyhow!("{e}\nhint: {h}"),
                None => anyhow::Error::new(e),
            }),
        }
    }
}
