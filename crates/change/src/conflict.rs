//! Conflicts between changes: overlapping windows over shared hosts, shared components, or
//! components where one depends (transitively) on the other.

use crate::record::{ChangeRecord, State};
use fearless_graph::Graph;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Another change that overlaps this one in time and in what it touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The other change's number.
    pub with: u64,
    /// Its title.
    pub title: String,
    /// Its state.
    pub state: State,
    /// Its window, `START..END`.
    pub window: String,
    /// What the two share, at least one.
    pub reasons: Vec<ConflictReason>,
}

/// Why two changes conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ConflictReason {
    /// Both change this host.
    Host {
        /// The host.
        host: String,
    },
    /// Both change this component.
    Component {
        /// The component.
        component: String,
    },
    /// `dependent` depends, directly or not, on `component`, and each change touches one.
    Dependency {
        /// The component depended on.
        component: String,
        /// The component that depends on it.
        dependent: String,
    },
}

impl fmt::Display for ConflictReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConflictReason::Host { host } => write!(f, "both change host {host}"),
            ConflictReason::Component { component } => {
                write!(f, "both change component {component}")
            }
            ConflictReason::Dependency {
                component,
                dependent,
            } => write!(f, "{dependent} depends on {component}"),
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reasons = self
            .reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        write!(
            f,
            "conflicts with CHG-{} \"{}\" ({}, {}): {reasons}",
            self.with, self.title, self.state, self.window
        )
    }
}

/// States whose window still matters: submitted and not yet finished.
fn is_live(state: State) -> bool {
    matches!(
        state,
        State::Assess | State::Authorize | State::Scheduled | State::Implement
    )
}

/// Changes among `others` that conflict with `record`: live (submitted, not done), with a
/// window overlapping `record`'s, and sharing a host, a component, or a dependency between
/// their components. A record without a window conflicts with nothing.
pub fn conflicts(record: &ChangeRecord, others: &[ChangeRecord], graph: &Graph) -> Vec<Conflict> {
    let Some(window) = record.window else {
        return Vec::new();
    };
    others
        .iter()
        .filter(|o| o.number != record.number && is_live(o.state))
        .filter_map(|o| {
            let theirs = o.window.filter(|w| w.overlaps(&window))?;
            let reasons = shared(record, o, graph);
            (!reasons.is_empty()).then(|| Conflict {
                with: o.number,
                title: o.title.clone(),
                state: o.state,
                window: theirs.to_string(),
                reasons,
            })
        })
        .collect()
}

fn shared(a: &ChangeRecord, b: &ChangeRecord, graph: &Graph) -> Vec<ConflictReason> {
    let mut reasons = Vec::new();
    for h in a.scope.hosts.iter().filter(|h| b.scope.hosts.contains(h)) {
        reasons.push(ConflictReason::Host { host: h.clone() });
    }
    for c in a
        .scope
        .components
        .iter()
        .filter(|c| b.scope.components.contains(c))
    {
        reasons.push(ConflictReason::Component {
            component: c.clone(),
        });
    }
    for (mine, theirs) in [
        (&a.scope.components, &b.scope.components),
        (&b.scope.components, &a.scope.components),
    ] {
        for c in mine {
            let radius = graph.blast_radius(c);
            for d in theirs.iter().filter(|d| radius.contains(*d)) {
                reasons.push(ConflictReason::Dependency {
                    component: c.clone(),
                    dependent: d.clone(),
                });
            }
        }
    }
    reasons
}
