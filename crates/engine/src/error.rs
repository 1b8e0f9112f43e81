//! [`EngineError`]: why an engine operation could not do its job, classed so that every
//! front end maps it to the same outcome (the CLI: exit codes 1, 2 and 3).

use fearless_change::ChangeError;
use fearless_rollout::HostState;
use fearless_store::{ErrorClass, StoreError};

/// Why an engine operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is wrong: an unknown id, a host out of scope, a manifest that cannot be.
    #[error("{message}")]
    BadInput {
        /// What is wrong, and where.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
    /// A rule or a gate stopped the operation (separation of duties, a window, a failing
    /// preflight); nothing was changed.
    #[error("{message}")]
    Gate {
        /// What stopped it.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
    /// Who asked may not do it (a role in `identity.roles`, separation of duties): a gate
    /// about the actor rather than the record; nothing was changed.
    #[error("{message}")]
    Refused {
        /// Who was refused what, and why.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
    /// A read or write of the store failed; nothing of this write was recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A host step of a rollout was not recorded (the store is gone, or another controller
    /// moved the host: a racing `rollout abort`): the rollout stopped there, and the host
    /// keeps the state the store holds.
    #[error(
        "R-{rollout} stopped: {host}'s step from {from} to {to} was not recorded: {}",
        lost(error, host, *from)
    )]
    StepLost {
        /// The rollout.
        rollout: u64,
        /// The host whose step was lost.
        host: String,
        /// Its last recorded state.
        from: HostState,
        /// The state it was moving to.
        to: HostState,
        /// What the store said.
        error: StoreError,
    },
    /// A stored record cannot be read as the type that wrote it.
    #[error("{what} cannot be read: {detail}")]
    Corrupt {
        /// Which record (`rollout R-3`, `journal entry 12`).
        what: String,
        /// Why.
        detail: String,
    },
    /// The environment failed (a network check could not be set up, a host tool is missing).
    #[error("{0}")]
    Environment(String),
}

/// Why a step was not recorded, and what the store holds instead.
fn lost(error: &StoreError, host: &str, from: HostState) -> String {
    match error {
        StoreError::HostMoved { found, .. } => format!(
            "another controller moved it (`rollout abort`?): the store holds {host} as {}",
            found.as_deref().unwrap_or("not part of the rollout")
        ),
        e => format!("{e}; the store holds {host} as {from}"),
    }
}

/// How a front end should treat an [`EngineError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Wrong input (exit 2).
    BadInput,
    /// A gate or a lost race stopped it before anything changed (exit 1).
    Gate,
    /// The environment or the store failed (exit 3).
    Environment,
}

impl EngineError {
    /// Bad input with a hint.
    pub fn bad_input(message: impl Into<String>, hint: Option<&str>) -> Self {
        Self::BadInput {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }

    /// A gate with a hint.
    pub fn gate(message: impl Into<String>, hint: Option<&str>) -> Self {
        Self::Gate {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }

    /// A record that does not decode.
    pub fn corrupt(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    /// Whether it refused who asked (a role, separation of duties) rather than what they
    /// asked for: a dashboard answers 403.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }

    /// How to treat it.
    pub fn class(&self) -> Class {
        match self {
            Self::BadInput { .. } => Class::BadInput,
            Self::Gate { .. } | Self::Refused { .. } => Class::Gate,
            Self::Store(e) => match e.class() {
                ErrorClass::BadInput => Class::BadInput,
                ErrorClass::Conflict => Class::Gate,
                ErrorClass::Environment => Class::Environment,
            },
            Self::StepLost { .. } | Self::Corrupt { .. } | Self::Environment(_) => {
                Class::Environment
            }
        }
    }

    /// What the user can do next, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::BadInput { hint, .. } | Self::Gate { hint, .. } | Self::Refused { hint, .. } => {
                hint.clone()
            }
            Self::Store(e) if e.class() == ErrorClass::Conflict => Some(
                "someone changed it at the same time; nothing was written — run the command again"
                    .into(),
            ),
            Self::StepLost { rollout, .. } => Some(format!(
                "`fearless rollout show R-{rollout}` shows what the store holds; once the store answers again (or the other controller is done), `fearless rollout resume R-{rollout}` settles every host"
            )),
            _ => None,
        }
    }

    /// A refusal of the change domain: wrong input, or a rule that stopped the action
    /// (separation of duties, blackouts, windows), which is a gate.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "used as `map_err(EngineError::from_change)`"
    )]
    pub fn from_change(e: ChangeError) -> Self {
        if matches!(
            e,
            ChangeError::SelfApproval { .. } | ChangeError::NotInRole { .. }
        ) {
            return Self::Refused {
                message: e.to_string(),
                hint: None,
            };
        }
        let gate = matches!(
            e,
            ChangeError::AlreadyApproved { .. }
                | ChangeError::InBlackout { .. }
                | ChangeError::OutsideWindows { .. }
                | ChangeError::OutsideScheduledWindow { .. }
                | ChangeError::StandardTooRisky { .. }
                | ChangeError::ReviewRequired { .. }
        );
        let message = e.to_string();
        if gate {
            Self::Gate {
                message,
                hint: None,
            }
        } else {
            Self::BadInput {
                message,
                hint: None,
            }
        }
    }
}
