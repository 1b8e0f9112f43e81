//! The life of an incident: `open → mitigated → resolved → closed`, and the milestones that
//! give time-to-detect and time-to-mitigate.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// Impact is ongoing.
    Open,
    /// Impact is stopped (rolled back, failed over), the cause may remain.
    Mitigated,
    /// The cause is fixed.
    Resolved,
    /// Reviewed and done.
    Closed,
}

/// What someone does to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The impact stopped.
    Mitigate,
    /// The cause is fixed.
    Resolve,
    /// Reviewed; nothing more to do.
    Close,
}

impl IncidentState {
    /// Every state.
    pub const ALL: [Self; 4] = [Self::Open, Self::Mitigated, Self::Resolved, Self::Closed];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Mitigated => "mitigated",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The state after `action`, or why not. An incident may be resolved without a separate
    /// mitigation (the fix stopped the impact too); nothing goes backwards.
    pub fn on(self, action: Action) -> Result<Self, String> {
        match (self, action) {
            (Self::Open, Action::Mitigate) => Ok(Self::Mitigated),
            (Self::Open | Self::Mitigated, Action::Resolve) => Ok(Self::Resolved),
            (Self::Resolved, Action::Close) => Ok(Self::Closed),
            (from, action) => Err(format!(
                "an incident that is {from} cannot be {}",
                match action {
                    Action::Mitigate => "mitigated",
                    Action::Resolve => "resolved",
                    Action::Close => "closed (resolve it first)",
                }
            )),
        }
    }

    /// The milestone an action records.
    pub fn milestone(action: Action) -> &'static str {
        match action {
            Action::Mitigate => "mitigated",
            Action::Resolve => "resolved",
            Action::Close => "closed",
        }
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incidents_only_go_forward() {
        let s = IncidentState::Open.on(Action::Mitigate).expect("ok");
        let s = s.on(Action::Resolve).expect("ok");
        assert_eq!(s.on(Action::Close), Ok(IncidentState::Closed));
        assert_eq!(
            IncidentState::Open.on(Action::Resolve),
            Ok(IncidentState::Resolved)
        );
        let refused = IncidentState::Open.on(Action::Close).expect_err("refused");
        assert!(refused.contains("resolve it first"), "{refused}");
        assert!(IncidentState::Closed.on(Action::Mitigate).is_err());
        assert!(IncidentState::Resolved.on(Action::Mitigate).is_err());
        for s in IncidentState::ALL {
            assert_eq!(IncidentState::parse(s.as_str()), Some(s));
        }
    }
}
