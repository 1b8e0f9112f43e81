//! The persisted state machine of one host in a rollout, and what to do with a host found
//! in an intermediate state after the controller died.
//!
//! `pending → snapshotted → applying → applied → verifying → verified | failed →
//! rolling-back → rolled-back | rollback-failed`. Every step is written before the work it
//! announces starts, so a crash leaves the host in the state of the step it was in; on
//! resume, [`recover`] compares the live package set with the host's snapshot and the
//! manifest and says how to reach a consistent end state without applying twice.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where one host is in a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostState {
    /// Not touched yet.
    Pending,
    /// Its package set is recorded.
    Snapshotted,
    /// The manifest is being applied.
    Applying,
    /// The manifest is applied.
    Applied,
    /// Its checks are running.
    Verifying,
    /// Its checks passed on the manifest.
    Verified,
    /// Applying or verifying failed.
    Failed,
    /// Going back to the snapshot.
    RollingBack,
    /// Back on the snapshot, verified.
    RolledBack,
    /// Going back failed: a human must look.
    RollbackFailed,
}

/// What happened to a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The snapshot was recorded.
    Snapshot,
    /// Applying starts.
    Apply,
    /// Applying finished.
    Applied,
    /// Checks start.
    Verify,
    /// Checks passed.
    Pass,
    /// Applying or checks failed.
    Fail,
    /// Rolling back starts.
    RollBack,
    /// Rolling back finished and verified.
    RolledBack,
    /// Rolling back failed.
    RollbackFailed,
}

/// A step that is not allowed from a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a host that is {from} cannot take the step `{step:?}`")]
pub struct InvalidStep {
    /// The state.
    pub from: HostState,
    /// The step refused.
    pub step: Step,
}

impl HostState {
    /// The state after `step`, or why it is not allowed.
    pub fn on(self, step: Step) -> Result<HostState, InvalidStep> {
        use HostState as S;
        use Step as T;
        let next = match (self, step) {
            (S::Pending, T::Snapshot) => S::Snapshotted,
            (S::Snapshotted, T::Apply) => S::Applying,
            (S::Applying, T::Applied) => S::Applied,
            (S::Applied, T::Verify) | (S::Verified, T::Verify) => S::Verifying,
            (S::Verifying, T::Pass) => S::Verified,
            (S::Applying | S::Applied | S::Verifying, T::Fail) => S::Failed,
            // A whole wave may be rolled back, verified hosts included.
            (S::Failed | S::Verified | S::Applied | S::RollingBack, T::RollBack) => S::RollingBack,
            (S::RollingBack, T::RolledBack) => S::RolledBack,
            (S::RollingBack, T::RollbackFailed) => S::RollbackFailed,
            (from, step) => return Err(InvalidStep { from, step }),
        };
        Ok(next)
    }

    /// The state `to` when one step leads there from this state (a journal's `from → to`
    /// is one such step), else `None`.
    pub fn on_step_to(self, to: HostState) -> Option<HostState> {
        [
            Step::Snapshot,
            Step::Apply,
            Step::Applied,
            Step::Verify,
            Step::Pass,
            Step::Fail,
            Step::RollBack,
            Step::RolledBack,
            Step::RollbackFailed,
        ]
        .into_iter()
        .filter_map(|s| self.on(s).ok())
        .find(|s| *s == to)
    }

    /// No further step is taken by fearless on its own.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            HostState::Verified | HostState::RolledBack | HostState::RollbackFailed
        )
    }

    /// Every state, for listings and tests.
    pub const ALL: [HostState; 10] = [
        HostState::Pending,
        HostState::Snapshotted,
        HostState::Applying,
        HostState::Applied,
        HostState::Verifying,
        HostState::Verified,
        HostState::Failed,
        HostState::RollingBack,
        HostState::RolledBack,
        HostState::RollbackFailed,
    ];
}

impl fmt::Display for HostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            HostState::Pending => "pending",
            HostState::Snapshotted => "snapshotted",
            HostState::Applying => "applying",
            HostState::Applied => "applied",
            HostState::Verifying => "verifying",
            HostState::Verified => "verified",
            HostState::Failed => "failed",
            HostState::RollingBack => "rolling-back",
            HostState::RolledBack => "rolled-back",
            HostState::RollbackFailed => "rollback-failed",
        };
        f.write_str(s)
    }
}

impl std::str::FromStr for HostState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HostState::ALL
            .into_iter()
            .find(|x| x.to_string() == s)
            .ok_or_else(|| format!("`{s}` is not a host state"))
    }
}

/// What the host's packages look like now, against its snapshot and the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// The live package set equals the snapshot exactly.
    pub at_snapshot: bool,
    /// Every pin of the manifest is installed at its version.
    pub at_manifest: bool,
}

/// How to bring a host found in some state to a consistent end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Never touched: carry on as planned.
    Untouched,
    /// Nothing was applied: apply now (the only case that applies).
    Apply,
    /// The manifest is on the host (applied before the crash): run the checks, do not apply.
    Verify,
    /// Partly applied, failed, or an interrupted rollback: roll back to the snapshot.
    RollBack,
    /// Already back on the snapshot: record it as rolled back (after verifying).
    RecordRolledBack,
    /// Already at an end state that still holds.
    Done,
    /// The host changed outside fearless: leave it, and say so.
    Investigate(String),
}

/// Decide, for a host found in `state` after a crash, how to reach a consistent end.
///
/// Never [`Recovery::Apply`] when the manifest is already on the host (no double apply);
/// never touches a host whose end state still holds.
pub fn recover(state: HostState, live: Live) -> Recovery {
    use HostState as S;
    match state {
        S::Pending => Recovery::Untouched,
        S::Snapshotted | S::Applying if live.at_manifest => Recovery::Verify,
        S::Snapshotted | S::Applying if live.at_snapshot => Recovery::Apply,
        S::Snapshotted => {
            Recovery::Investigate("its packages changed outside fearless since the snapshot".into())
        }
        // Half applied: the only safe end is the snapshot.
        S::Applying => Recovery::RollBack,
        S::Applied | S::Verifying if live.at_manifest => Recovery::Verify,
        S::Applied | S::Verifying => Recovery::RollBack,
        S::Verified if live.at_manifest => Recovery::Done,
        S::Verified => Recovery::Investigate(
            "verified on the manifest, but the manifest is no longer installed".into(),
        ),
        S::Failed | S::RollingBack if live.at_snapshot => Recovery::RecordRolledBack,
        S::Failed | S::RollingBack => Recovery::RollBack,
        S::RolledBack if live.at_snapshot => Recovery::Done,
        S::RolledBack => Recovery::Investigate(
            "rolled back, but its packages no longer equal the snapshot".into(),
        ),
        S::RollbackFailed => Recovery::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: [Live; 4] = [
        Live {
            at_snapshot: false,
            at_manifest: false,
        },
        Live {
            at_snapshot: true,
            at_manifest: false,
        },
        Live {
            at_snapshot: false,
            at_manifest: true,
        },
        Live {
            at_snapshot: true,
            at_manifest: true,
        },
    ];

    #[test]
    fn the_happy_path_and_the_rollback_path() {
        let mut s = HostState::Pending;
        for step in [
            Step::Snapshot,
            Step::Apply,
            Step::Applied,
            Step::Verify,
            Step::Pass,
        ] {
            s = s.on(step).expect("allowed");
        }
        assert_eq!(s, HostState::Verified);
        let mut s = HostState::Applying;
        for step in [Step::Fail, Step::RollBack, Step::RolledBack] {
            s = s.on(step).expect("allowed");
        }
        assert_eq!(s, HostState::RolledBack);
        assert!(
            HostState::Pending.on(Step::Apply).is_err(),
            "no apply without a snapshot"
        );
        assert!(HostState::RolledBack.on(Step::Apply).is_err());
        assert!(
            HostState::Verified.on(Step::Apply).is_err(),
            "never apply twice"
        );
    }

    #[test]
    fn recovery_never_applies_twice_and_only_applies_from_the_snapshot() {
        for state in HostState::ALL {
            for live in LIVE {
                let r = recover(state, live);
                if r == Recovery::Apply {
                    assert!(live.at_snapshot && !live.at_manifest, "{state} {live:?}");
                    assert!(matches!(
                        state,
                        HostState::Snapshotted | HostState::Applying
                    ));
                }
                if live.at_manifest && !state.is_final() && state != HostState::Pending {
                    assert_ne!(r, Recovery::Apply, "{state} {live:?}");
                }
            }
        }
    }

    #[test]
    fn recovery_ends_in_a_consistent_state() {
        // Every non-final, touched state resolves to verify-on-manifest, the snapshot, or a
        // report — never "carry on as if nothing happened".
        for state in HostState::ALL {
            for live in LIVE {
                let r = recover(state, live);
                match state {
                    HostState::Pending => assert_eq!(r, Recovery::Untouched),
                    HostState::Applying if !live.at_manifest && !live.at_snapshot => {
                        assert_eq!(r, Recovery::RollBack);
                    }
                    HostState::RollingBack if live.at_snapshot => {
                        assert_eq!(r, Recovery::RecordRolledBack);
                    }
                    HostState::RollbackFailed => assert_eq!(r, Recovery::Done),
                    _ => assert_ne!(r, Recovery::Untouched, "{state} {live:?}"),
                }
            }
        }
    }

    #[test]
    fn display_and_serialisation_agree() {
        for s in HostState::ALL {
            assert_eq!(serde_json::to_string(&s).expect("json"), format!("\"{s}\""));
        }
    }
}
