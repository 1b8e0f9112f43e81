//! The states of a rollout as a whole, as the store keeps them beside its record.
//!
//! `running → paused → running …`, `running | paused → aborting`, and one end:
//! `completed` (every wave passed), `backed-out` (stopped, every failing host back on its
//! snapshot) or `failed` (stopped, and a host could not be rolled back).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutState {
    /// A controller is driving it (or died doing so: `rollout resume`).
    Running,
    /// No new wave starts until `rollout resume`.
    Paused,
    /// `rollout abort` is rolling its hosts back.
    Aborting,
    /// Every wave passed.
    Completed,
    /// Stopped; every failing host is back on its snapshot.
    BackedOut,
    /// Stopped, and a host could not be rolled back: a human must look.
    Failed,
}

impl RolloutState {
    /// Every state.
    pub const ALL: [Self; 6] = [
        Self::Running,
        Self::Paused,
        Self::Aborting,
        Self::Completed,
        Self::BackedOut,
        Self::Failed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Aborting => "aborting",
            Self::Completed => "completed",
            Self::BackedOut => "backed-out",
            Self::Failed => "failed",
        }
    }

    /// No controller moves it any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::BackedOut | Self::Failed)
    }
}

impl fmt::Display for RolloutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RolloutState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a rollout state"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in RolloutState::ALL {
            assert_eq!(s.as_str().parse::<RolloutState>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).expect("json"),
                serde_json::Value::String(s.as_str().into())
            );
        }
        assert!("done".parse::<RolloutState>().is_err());
    }
}
