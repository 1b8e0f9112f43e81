//! The JSON shapes of records as front ends show them — `fearless … --format json` and the
//! dashboard's `/api/v1` print the same types, so the two cannot drift apart. Each carries
//! its `schema` and the id as a user types it next.
//!
//! Every type here derives [`JsonSchema`]: `docs/schemas/` holds the schemas generated from
//! them (the CLI's `schemas` test writes and checks them). A record of another crate inside
//! one is described as an open JSON value (`#[schemars(with = …)]`) until that crate derives
//! its own schema.

use fearless_change::ChangeRecord;
use fearless_rollout::HostState;
use fearless_store::{RolloutHost, Stored};
use schemars::JsonSchema;
use serde::Serialize;

use crate::incident::StoredIncident;
use crate::record::{Incident, RolloutRecord};

/// A change (`change show`, `/api/v1/changes/CHG-N`): its id (`CHG-3`) and schema beside
/// the record's own fields.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeJson<'a> {
    /// `fearless.change/v1`.
    #[schemars(extend("const" = "fearless.change/v1"))]
    pub schema: &'static str,
    /// `CHG-N`.
    #[schemars(pattern(r"^CHG-[0-9]+$"))]
    pub id: String,
    /// The record.
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeList<'a> {
    /// `fearless.changes/v1`.
    #[schemars(extend("const" = "fearless.changes/v1"))]
    pub schema: &'static str,
    /// The changes.
    pub changes: Vec<ChangeJson<'a>>,
}

/// An incident: its id as typed next (`INC-1`, also under the older key `incident`), its
/// state and its record. `schema` is set where it is shown alone.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IncidentJson<'a> {
    /// `fearless.incident/v1` when shown alone; absent in a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("const" = "fearless.incident/v1"))]
    pub schema: Option<&'static str>,
    /// `INC-N`.
    #[schemars(pattern(r"^INC-[0-9]+$"))]
    pub id: String,
    /// `INC-N` (the key of earlier releases).
    #[schemars(pattern(r"^INC-[0-9]+$"))]
    pub incident: String,
    /// Its state.
    pub state: &'static str,
    /// The record.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct IncidentList<'a> {
    /// `fearless.incidents/v1`.
    #[schemars(extend("const" = "fearless.incidents/v1"))]
    pub schema: &'static str,
    /// The incidents.
    pub incidents: Vec<IncidentJson<'a>>,
}

/// `rollout list` (`/api/v1/rollouts`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct RolloutList<'a> {
    /// `fearless.rollouts/v1`.
    #[schemars(extend("const" = "fearless.rollouts/v1"))]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct RolloutLine<'a> {
    /// `R-N`.
    #[schemars(pattern(r"^R-[0-9]+$"))]
    pub id: String,
    /// `R-N` (the key of earlier releases).
    #[schemars(pattern(r"^R-[0-9]+$"))]
    pub rollout: String,
    /// Its state.
    pub state: &'a str,
    /// Its change.
    pub change: &'a str,
    /// The frozen manifest.
    pub manifest: &'a [String],
}

/// `rollout show` (`/api/v1/rollouts/R-N`): the record and each host's state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RolloutShow<'a> {
    /// `fearless.rollout/v1`.
    #[schemars(extend("const" = "fearless.rollout/v1"))]
    pub schema: &'static str,
    /// `R-N`.
    #[schemars(pattern(r"^R-[0-9]+$"))]
    pub id: String,
    /// `R-N` (the key of earlier releases).
    #[schemars(pattern(r"^R-[0-9]+$"))]
    pub rollout: String,
    /// Its state.
    pub state: &'a str,
    /// The record.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub record: &'a RolloutRecord,
    /// Its hosts, by wave then name.
    pub hosts: Vec<RolloutHostJson<'a>>,
}

/// One host of a rollout.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RolloutHostJson<'a> {
    /// Inventory name.
    pub host: &'a str,
    /// Its wave, from 1.
    pub wave: u32,
    /// Its state (`pending`, `snapshotted`, … in kebab-case).
    #[schemars(with = "String")]
    pub state: HostState,
    /// Its snapshot, `SNAP-N`.
    #[schemars(pattern(r"^SNAP-[0-9]+$"))]
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

/// `hosts --format json`: the inventory's hosts as the config holds them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HostsJson<'a> {
    /// `fearless.hosts/v1`.
    #[schemars(extend("const" = "fearless.hosts/v1"))]
    pub schema: &'static str,
    /// The hosts, by name.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub hosts: &'a [&'a fearless_config::Host],
}

impl<'a> HostsJson<'a> {
    /// The list of `hosts`.
    pub fn of(hosts: &'a [&'a fearless_config::Host]) -> Self {
        Self {
            schema: "fearless.hosts/v1",
            hosts,
        }
    }
}

/// `hosts ping --format json`: each host's reachability.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PingJson<'a> {
    /// `fearless.ping/v1`.
    #[schemars(extend("const" = "fearless.ping/v1"))]
    pub schema: &'static str,
    /// Each host's answer.
    pub hosts: &'a [crate::fleet::Ping],
}

impl<'a> PingJson<'a> {
    /// The answers `pings`.
    pub fn of(pings: &'a [crate::fleet::Ping]) -> Self {
        Self {
            schema: "fearless.ping/v1",
            hosts: pings,
        }
    }
}
