//! Incidents: opened by a stopped rollout (with the milestones its journal shows) or by a
//! person (with the checks failing at that moment), moved through their life
//! (`fearless-rca`'s [`IncidentState`] decides), read back as [`Incident`] records.

use std::time::Duration;

use fearless_config::Selector;
use fearless_rca::{Action, IncidentState};
use fearless_rollout::HostState;
use fearless_store::Stored;
use jiff::Timestamp;

use crate::checks::CheckSet;
use crate::record::{
    self, HostEnd, HostStep, Incident, IncidentAcknowledged, IncidentHost, IncidentMoved,
    IncidentOpened, KeptBisect, Milestones, Note, Regression, RolloutRecord,
};
use crate::{Engine, EngineError};

/// The number of `INC-3` (or `3`).
pub fn number(id: &str) -> Result<u64, EngineError> {
    crate::number_of(id, "INC", "an incident id", "incident ids look like INC-3")
}

/// An incident as stored: its number and version, its state, its record.
#[derive(Debug, Clone)]
pub struct StoredIncident {
    /// As the store holds it.
    pub stored: Stored,
    /// Its state.
    pub state: IncidentState,
    /// Its record.
    pub record: Incident,
}

impl StoredIncident {
    /// `INC-<n>`.
    pub fn id(&self) -> String {
        format!("INC-{}", self.stored.number)
    }

    fn decode(stored: Stored) -> Result<Self, EngineError> {
        let what = || format!("incident INC-{}", stored.number);
        let state = IncidentState::parse(&stored.state).ok_or_else(|| {
            EngineError::corrupt(what(), format!("unknown state `{}`", stored.state))
        })?;
        let mut record: Incident = serde_json::from_value(stored.record.clone())
            .map_err(|e| EngineError::corrupt(what(), e))?;
        // Version 1 wrote `before: pass` for the checks of an incident opened by hand,
        // although nobody had seen them pass: not a fact.
        if record.v < 2 && record.rollout.is_none() {
            for c in &mut record.checks {
                c.before = None;
            }
        }
        Ok(Self {
            stored,
            state,
            record,
        })
    }
}

/// `fearless incident open`: by hand, for impact fearless did not see on its own.
#[derive(Debug, Clone, Default)]
pub struct OpenIncident {
    /// The components it is about.
    pub components: Vec<String>,
    /// The hosts it is about (all without a selector).
    pub hosts: Option<Selector>,
    /// The impact started this long ago (now without).
    pub since: Option<Duration>,
    /// One line; made from the components without one.
    pub title: Option<String>,
}

impl Engine<'_> {
    /// The incident `id`; one that does not exist is bad input.
    pub async fn incident(&self, id: &str) -> Result<StoredIncident, EngineError> {
        let n = number(id)?;
        let stored = self.store.get_incident(n).await?.ok_or_else(|| {
            EngineError::bad_input(
                format!("there is no incident INC-{n}"),
                Some("see `fearless incident list`"),
            )
        })?;
        StoredIncident::decode(stored)
    }

    /// Every incident, by number.
    pub async fn incidents(&self) -> Result<Vec<StoredIncident>, EngineError> {
        self.store
            .list_incidents()
            .await?
            .into_iter()
            .map(StoredIncident::decode)
            .collect()
    }

    /// Open the incident of a rollout that stopped (`why`), with the milestones its
    /// journal shows and the canary's bisect; `INC-<n>`.
    pub(crate) async fn open_rollout_incident(
        &self,
        r: u64,
        rollout: &RolloutRecord,
        ends: &[HostEnd],
        why: &str,
        bisect: Option<KeptBisect>,
    ) -> Result<String, EngineError> {
        let failing: Vec<&HostEnd> = ends
            .iter()
            .filter(|e| e.state != HostState::Verified)
            .collect();
        let milestones = self.milestones(r, &failing).await?;
        let state = if milestones.mitigated.is_some() {
            IncidentState::Mitigated
        } else {
            IncidentState::Open
        };
        let incident = Incident {
            v: record::VERSION,
            title: format!("{}: rollout R-{r} stopped: {why}", rollout.change),
            opened_by: format!("R-{r}"),
            change: Some(rollout.change.clone()),
            rollout: Some(format!("R-{r}")),
            wave: failing.first().map(|e| e.wave),
            manifest: rollout.manifest.clone(),
            hosts: failing.iter().map(|e| IncidentHost::from(*e)).collect(),
            bisect,
            milestones,
            ..Incident::default()
        };
        let stored = self
            .store
            .insert_incident(
                state.as_str(),
                &to_value(&incident)?,
                record::event(
                    self.actor,
                    "",
                    &IncidentOpened {
                        rollout: Some(format!("R-{r}")),
                        change: Some(rollout.change.clone()),
                        ..IncidentOpened::default()
                    },
                ),
            )
            .await?;
        Ok(format!("INC-{}", stored.number))
    }

    /// The milestones of a stopped rollout's incident, from its journal: impact started
    /// when the manifest landed on the first failing host, was detected at its first
    /// failure, and was mitigated when the last failing host was back on its snapshot —
    /// if every failing host is back (or was never changed).
    async fn milestones(&self, r: u64, failing: &[&HostEnd]) -> Result<Milestones, EngineError> {
        let mut steps: Vec<(Timestamp, HostStep)> = Vec::new();
        for e in self.journal_of(&format!("R-{r}")).await? {
            if let Some(step) = HostStep::decode(&e) {
                let step = step?;
                if failing.iter().any(|f| f.host == step.host) {
                    steps.push((record::entry_time(&e)?, step));
                }
            }
        }
        let first = |to: HostState| steps.iter().find(|(_, s)| s.to == to).map(|(t, _)| *t);
        let started = first(HostState::Applied).or_else(|| first(HostState::Applying));
        let detected = first(HostState::Failed).or(Some(self.clock.now()));
        let unchanged = |s: HostState| {
            matches!(
                s,
                HostState::RolledBack | HostState::Pending | HostState::Snapshotted
            )
        };
        let mitigated = (!failing.is_empty() && failing.iter().all(|f| unchanged(f.state)))
            .then(|| {
                steps
                    .iter()
                    .rev()
                    .find(|(_, s)| s.to == HostState::RolledBack)
                    .map(|(t, _)| *t)
            })
            .flatten();
        Ok(Milestones {
            started,
            detected,
            mitigated,
            ..Milestones::default()
        })
    }

    /// `fearless incident open`: the incident with the checks of `components` failing on
    /// its hosts now (the evidence its report starts from).
    pub async fn open_incident(&self, req: OpenIncident) -> Result<StoredIncident, EngineError> {
        for c in &req.components {
            if !self.config.components.contains_key(c) {
                return Err(EngineError::bad_input(
                    format!("unknown component `{c}`"),
                    Some("list components with `fearless check --dry-run`"),
                ));
            }
        }
        let inv = &self.config.inventory;
        let hosts: Vec<String> = inv
            .hosts
            .values()
            .filter(|h| req.hosts.as_ref().is_none_or(|s| s.matches(h, &inv.groups)))
            .map(|h| h.name.clone())
            .collect();
        let now = self.clock.now();
        let started = match req.since {
            Some(d) => {
                let d = jiff::SignedDuration::try_from(d)
                    .ok()
                    .and_then(|d| now.checked_sub(d).ok())
                    .ok_or_else(|| {
                        EngineError::bad_input(
                            format!(
                                "--since {}: that is before any time fearless can record",
                                humantime::format_duration(d)
                            ),
                            Some("e.g. 2h"),
                        )
                    })?;
                Some(d)
            }
            None => Some(now),
        };
        let set = CheckSet::for_components(self.config, &req.components, &hosts)?;
        let results = set.run_all().await;
        set.close().await;
        let checks: Vec<Regression> = results
            .iter()
            .filter(|r| !r.status.is_ok())
            .map(|r| Regression {
                component: r.component.clone(),
                check: r.check.clone(),
                host: r.host.clone(),
                // Nobody saw it before; the incident starts from what fails now.
                before: None,
                after: r.status,
                reason: r.reason,
                message: Some(r.message.clone()),
            })
            .collect();
        let incident = Incident {
            v: record::VERSION,
            title: req
                .title
                .clone()
                .unwrap_or_else(|| format!("impact on {}", req.components.join(", "))),
            opened_by: self.actor.name.to_owned(),
            components: req.components.clone(),
            checks,
            hosts: hosts
                .iter()
                .map(|h| IncidentHost {
                    host: h.clone(),
                    wave: None,
                    state: None,
                    detail: None,
                })
                .collect(),
            milestones: Milestones {
                started,
                detected: Some(now),
                ..Milestones::default()
            },
            ..Incident::default()
        };
        let stored = self
            .store
            .insert_incident(
                IncidentState::Open.as_str(),
                &to_value(&incident)?,
                record::event(
                    self.actor,
                    "",
                    &IncidentOpened {
                        components: req.components.clone(),
                        hosts,
                        ..IncidentOpened::default()
                    },
                ),
            )
            .await?;
        StoredIncident::decode(stored)
    }

    /// `incident mitigate|resolve|close`: move the state forward and record the milestone
    /// (and the note). Returns the state it left and the incident now.
    pub async fn move_incident(
        &self,
        id: &str,
        action: Action,
        note: Option<String>,
    ) -> Result<(IncidentState, StoredIncident), EngineError> {
        let i = self.incident(id).await?;
        let n = i.stored.number;
        let from = i.state;
        let to = from
            .on(action)
            .map_err(|e| EngineError::gate(format!("INC-{n}: {e}"), None))?;
        let now = self.clock.now();
        let mut record = i.record.clone();
        match action {
            Action::Mitigate => record.milestones.mitigated = Some(now),
            Action::Resolve => record.milestones.resolved = Some(now),
            Action::Close => record.milestones.closed = Some(now),
        }
        if let Some(note) = &note {
            record.notes.push(Note {
                at: now,
                by: self.actor.name.to_owned(),
                state: to.as_str().to_owned(),
                note: note.clone(),
            });
        }
        let moved = IncidentMoved {
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
            note,
        };
        let stored = self
            .store
            .update_incident(
                n,
                i.stored.version,
                to.as_str(),
                &to_value(&record)?,
                record::event_of(self.actor, &format!("incident.{}", to.as_str()), "", &moved),
            )
            .await?;
        Ok((from, StoredIncident::decode(stored)?))
    }
}

impl Engine<'_> {
    /// `incident acknowledge`: say that somebody is on it — who and when, kept as a
    /// milestone (time to acknowledge) with the note; the state does not move. Only an open
    /// incident that nobody acknowledged yet can be.
    pub async fn acknowledge_incident(
        &self,
        id: &str,
        note: Option<String>,
    ) -> Result<StoredIncident, EngineError> {
        let i = self.incident(id).await?;
        let n = i.stored.number;
        if i.state != IncidentState::Open {
            return Err(EngineError::gate(
                format!(
                    "INC-{n} is {}: only an open incident is acknowledged",
                    i.state
                ),
                None,
            ));
        }
        if let (Some(at), Some(by)) = (
            i.record.milestones.acknowledged,
            &i.record.milestones.acknowledged_by,
        ) {
            return Err(EngineError::gate(
                format!("INC-{n} was acknowledged by {by} at {at}"),
                None,
            ));
        }
        let now = self.clock.now();
        let mut record = i.record.clone();
        record.milestones.acknowledged = Some(now);
        record.milestones.acknowledged_by = Some(self.actor.name.to_owned());
        if let Some(note) = &note {
            record.notes.push(Note {
                at: now,
                by: self.actor.name.to_owned(),
                state: i.state.as_str().to_owned(),
                note: note.clone(),
            });
        }
        let stored = self
            .store
            .update_incident(
                n,
                i.stored.version,
                i.state.as_str(),
                &to_value(&record)?,
                record::event(
                    self.actor,
                    "",
                    &IncidentAcknowledged {
                        state: i.state.as_str().to_owned(),
                        note,
                    },
                ),
            )
            .await?;
        StoredIncident::decode(stored)
    }
}

fn to_value(incident: &Incident) -> Result<serde_json::Value, EngineError> {
    serde_json::to_value(incident).map_err(|e| EngineError::corrupt("an incident record", e))
}
