//! The JSON shapes of records as front ends show them — `fearless … --format json` and the
//! dashboard's `/api/v1` print the same types, so the two cannot drift apart. Each carries
//! its `schema` and the id as a user types it next.

use fearless_change::ChangeRecord;
use fearless_rollout::HostState;
use fearless_store::{RolloutHost, Stored};
use serde::Serialize;

use crate::incident::StoredIncident;
use crate::record::{Incident, RolloutRecord};

/// A change (`change show`, `/api/v1/changes/CHG-N`): its id (`CHG-3`) and schema beside
/// the record's own fields.
#[derive(Debug, Serialize)]
pub struct ChangeJson<'a> {
    /// `fearless.change/v1`.
    pub schema: &'static str,
    /// `CHG-N`.
    pub id: String,
    /// The record.
    #[serde(flatten)]
    pub record: &'a ChangeRecord,
}

impl<'a> ChangeJson<'a> {
    /// The change as shown.
    pub fn of(record: &'a ChangeRecord) -> Self {
        Self {
            schema: "fearless.change/v1",
            id: record.id().to_string(),
            record,
        }
    }
}

/// A list of changes (`change list`, `/api/v1/changes`).
#[derive(Debug, Serialize)]
pub struct ChangeList<'a> {
    /// `fearless.changes/v1`.
    pub schema: &'static str,
    /// The changes.
    pub changes: Vec<ChangeJson<'a>>,
}

/// An incident: its id as typed next (`INC-1`, also under the older key `incident`), its
/// state and its record. `schema` is set where it is shown alone.
#[derive(Debug, Serialize)]
pub struct IncidentJson<'a> {
    /// `fearless.incident/v1` when shown alone; absent in a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'static str>,
    /// `INC-N`.
    pub id: String,
    /// `INC-N` (the key of earlier releases).
    pub incident: String,
    /// Its state.
    pub state: &'static str,
    /// The record.
    pub record: &'a Incident,
}

impl<'a> IncidentJson<'a> {
    /// The incident as a list shows it.
    pub fn of(i: &'a StoredIncident) -> Self {
        Self {
            schema: None,
            id: i.id(),
            incident: i.id(),
            state: i.state.as_str(),
            record: &i.record,
        }
    }

    /// The incident shown alone (with its schema).
    pub fn alone(i: &'a StoredIncident) -> Self {
        Self {
            schema: Some("fearless.incident/v1"),
            ..Self::of(i)
        }
    }
}

/// A list of incidents (`incident list`, `/api/v1/incidents`).
#[derive(Debug, Serialize)]
pub struct IncidentList<'a> {
    /// `fearless.incidents/v1`.
    pub schema: &'static str,
    /// The incidents.
    pub incidents: Vec<IncidentJson<'a>>,
}

/// `rollout list` (`/api/v1/rollouts`).
#[derive(Debug, Serialize)]
pub struct RolloutList<'a> {
    /// `fearless.rollouts/v1`.
    pub schema: &'static str,
    /// The rollouts.
    pub rollouts: Vec<RolloutLine<'a>>,
}

impl<'a> RolloutList<'a> {
    /// The list of `all`.
    pub fn of(all: &'a [(Stored, RolloutRecord)]) -> Self {
        Self {
            schema: "fearless.rollouts/v1",
            rollouts: all
                .iter()
                .map(|(s, r)| RolloutLine {
                    id: format!("R-{}", s.number),
                    rollout: format!("R-{}", s.number),
                    state: &s.state,
                    change: &r.change,
                    manifest: &r.manifest,
                })
                .collect(),
        }
    }
}

/// One rollout of a list: its id as typed next (`R-2`; `rollout` is the same, the key of
/// earlier releases), state, change and frozen manifest.
#[derive(Debug, Serialize)]
pub struct RolloutLine<'a> {
    /// `R-N`.
    pub id: String,
    /// `R-N` (the key of earlier releases).
    pub rollout: String,
    /// Its state.
    pub state: &'a str,
    /// Its change.
    pub change: &'a str,
    /// The frozen manifest.
    pub manifest: &'a [String],
}

/// `rollout show` (`/api/v1/rollouts/R-N`): the record and each host's state.
#[derive(Debug, Serialize)]
pub struct RolloutShow<'a> {
    /// `fearless.rollout/v1`.
    pub schema: &'static str,
    /// `R-N`.
    pub id: String,
    /// `R-N` (the key of earlier releases).
    pub rollout: String,
    /// Its state.
    pub state: &'a str,
    /// The record.
    pub record: &'a RolloutRecord,
    /// Its hosts, by wave then name.
    pub hosts: Vec<RolloutHostJson<'a>>,
}

/// One host of a rollout.
#[derive(Debug, Serialize)]
pub struct RolloutHostJson<'a> {
    /// Inventory name.
    pub host: &'a str,
    /// Its wave, from 1.
    pub wave: u32,
    /// Its state.
    pub state: HostState,
    /// Its snapshot, `SNAP-N`.
    pub snapshot: Option<String>,
}

impl<'a> RolloutShow<'a> {
    /// `R-<n>` as shown.
    pub fn of(
        stored: &'a Stored,
        record: &'a RolloutRecord,
        hosts: &'a [(RolloutHost, HostState)],
    ) -> Self {
        Self {
            schema: "fearless.rollout/v1",
            id: format!("R-{}", stored.number),
            rollout: format!("R-{}", stored.number),
            state: &stored.state,
            record,
            hosts: hosts
                .iter()
                .map(|(h, state)| RolloutHostJson {
                    host: &h.host,
                    wave: h.wave,
                    state: *state,
                    snapshot: h.snapshot.map(|s| format!("SNAP-{s}")),
                })
                .collect(),
        }
    }
}
