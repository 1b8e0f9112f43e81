//! The evidence of an incident, for its post-incident report: the rollout's host steps and
//! snapshots from the store, check transitions as they were recorded, change records in the
//! window, who moved the incident, the hosts' own package history (changes no record covers
//! are flagged unrecorded), the dependency subgraph localised on the failing checks, the
//! bisect. Every fact comes from a record; what is not recorded is a gap, said as one.
//! [`Engine::rca`] builds the report (`fearless-rca`) and keeps it with the incident.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fearless_change::ChangeRecord;
use fearless_config::{Config, Host};
use fearless_graph::{Graph, Observation, localise};
use fearless_pkg::PackageManager;
use fearless_rca::report::{
    self, BisectFacts, ChangeFacts, CheckTransition, Evidence, FirstFailure, HostFacts,
    IncidentFacts, NodeState, PackageChange, RecordedRun, Report, Restore, Subgraph, TimedEvent,
};
use fearless_rollout::HostState;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::incident::StoredIncident;
use crate::record::{
    self, AttachedReport, Bisected, HostStep, IncidentMoved, KeptBisect, RcaAttached,
    RebootFinished, RebootStarted, Regression, ReportWritten, RestartFinished, RolloutMoved,
    RolloutStarted, SnapshotDoc, WaveBaked,
};
use crate::{Engine, EngineError, Fleetwide};

/// A post-incident report, built and kept with its incident.
#[derive(Debug, Clone)]
pub struct Rca {
    /// `INC-<n>`.
    pub incident: String,
    /// The report.
    pub report: Report,
    /// The report in Markdown (what is kept and digested).
    pub markdown: String,
}

fn odt(t: time::OffsetDateTime) -> Timestamp {
    Timestamp::from_second(t.unix_timestamp()).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn transition(c: &Regression, at: Option<Timestamp>) -> CheckTransition {
    CheckTransition {
        component: c.component.clone(),
        check: c.check.clone(),
        host: c.host.clone(),
        from: c.before.map(|s| s.as_str().to_owned()),
        to: c.after.as_str().to_owned(),
        detail: match (&c.message, c.reason) {
            (Some(m), _) if !m.is_empty() => m.clone(),
            (_, Some(r)) => r.as_str().to_owned(),
            _ => String::new(),
        },
        at,
    }
}

impl Engine<'_> {
    /// Gather the evidence of incident `id`, build its report, and keep it with the
    /// incident (announced on its change's journal, where the change's review reads it).
    /// `live`: read the hosts' own package history too.
    pub async fn rca(&self, id: &str, live: bool) -> Result<Rca, EngineError> {
        let incident = self.incident(id).await?;
        let evidence = self.evidence(&incident, live).await?;
        let report = report::build(evidence);
        let markdown = report::markdown(&report);
        self.attach(&incident, &report, &markdown).await?;
        Ok(Rca {
            incident: incident.id(),
            report,
            markdown,
        })
    }

    /// Keep the report with the incident (Markdown, digest, attribution) and say so on the
    /// change's journal; the same report again writes nothing.
    async fn attach(
        &self,
        incident: &StoredIncident,
        built: &Report,
        markdown: &str,
    ) -> Result<(), EngineError> {
        let digest = hex::encode(Sha256::digest(markdown.as_bytes()));
        if incident
            .record
            .report
            .as_ref()
            .is_some_and(|r| r.sha256 == digest)
        {
            return Ok(());
        }
        let mut record = incident.record.clone();
        record.v = record::VERSION;
        record.report = Some(AttachedReport {
            attribution: built.attribution.clone(),
            culprits: built.culprits.clone(),
            confirmed: built.confirmed,
            sha256: digest.clone(),
            markdown: markdown.to_owned(),
            generated_at: self.clock.now(),
        });
        let change = record.change.clone();
        self.store
            .update_incident(
                incident.stored.number,
                incident.stored.version,
                incident.state.as_str(),
                &serde_json::to_value(&record)
                    .map_err(|e| EngineError::corrupt(incident.id(), e))?,
                record::event(
                    self.actor,
                    "",
                    &ReportWritten {
                        sha256: digest.clone(),
                        attribution: built.attribution.clone(),
                        change: change.clone(),
                    },
                ),
            )
            .await?;
        if let Some(change) = change {
            self.store
                .append(record::event(
                    self.actor,
                    change,
                    &RcaAttached {
                        incident: incident.id(),
                        sha256: digest,
                        attribution: built.attribution.clone(),
                    },
                ))
                .await?;
        }
        Ok(())
    }

    /// Everything the store, the hosts (with `live`) and the configuration say about the
    /// incident.
    pub async fn evidence(
        &self,
        incident: &StoredIncident,
        live: bool,
    ) -> Result<Evidence, EngineError> {
        let rec = &incident.record;
        let m = &rec.milestones;
        let mut e = Evidence {
            incident: IncidentFacts {
                id: incident.id(),
                title: rec.title.clone(),
                state: incident.state.as_str().to_owned(),
                opened_by: rec.opened_by.clone(),
                change: rec.change.clone(),
                rollout: rec.rollout.clone(),
                wave: rec.wave,
                manifest: rec.manifest.clone(),
                components: rec.components.clone(),
                started: m.started,
                detected: m.detected,
                mitigated: m.mitigated,
                resolved: m.resolved,
                transitions: self.incident_transitions(&incident.id()).await?,
            },
            ..Evidence::default()
        };
        let mut hosts: Vec<String> = rec.hosts.iter().map(|h| h.host.clone()).collect();

        // The window opens when the rollout began (what changed before it is in the
        // baseline the rollout compared against), or when the impact started.
        let mut from = None;
        if let Some(rollout) = e.incident.rollout.clone() {
            from = self.rollout_facts(&rollout, &mut e, &mut hosts).await?;
        } else {
            // By hand: the checks failing when it was opened.
            for c in &rec.checks {
                e.checks.push(transition(c, e.incident.detected));
            }
            for h in &hosts {
                let failed = e.checks.iter().any(|c| c.host.as_deref() == Some(h));
                e.hosts.push(HostFacts {
                    host: h.clone(),
                    failed,
                    failed_at: failed.then_some(e.incident.detected).flatten(),
                    ..HostFacts::default()
                });
            }
        }
        e.graph = subgraph(self.config, &e.checks, &e.incident.components);
        if e.incident.components.is_empty() {
            e.incident.components = e
                .graph
                .nodes
                .iter()
                .filter(|(_, s)| *s != NodeState::Healthy)
                .map(|(n, _)| n.clone())
                .collect();
        }
        let from = from
            .or(e.incident.started)
            .or(e.incident.detected)
            .unwrap_or_else(|| odt(incident.stored.created_at));
        let to = e.incident.resolved.unwrap_or_else(|| self.clock.now());
        e.bisect = self.bisect_of(rec.bisect.as_ref(), &e, from).await?;

        // Change records that touch these hosts or components in the window.
        let changes = self.changes().await?;
        for c in &changes {
            let touches = c.scope.hosts.iter().any(|h| hosts.contains(h))
                || c.scope
                    .components
                    .iter()
                    .any(|x| e.incident.components.contains(x));
            let start = c.actual_start.or(Some(c.created_at));
            let active =
                start.is_some_and(|s| s <= to) && c.actual_end.is_none_or(|end| end >= from);
            if touches && active {
                e.changes.push(ChangeFacts {
                    id: c.id().to_string(),
                    title: c.title.clone(),
                    state: c.state.to_string(),
                    hosts: c.scope.hosts.clone(),
                    components: c.scope.components.clone(),
                    started: c.actual_start,
                    ended: c.actual_end,
                });
            }
        }
        if let Some(chg) = e.incident.change.clone() {
            for entry in self.journal_of(&chg).await? {
                // The report's own attachment is not part of the story it tells.
                if record::decode::<RcaAttached>(&entry).is_some() {
                    continue;
                }
                e.events.push(TimedEvent {
                    at: record::entry_time(&entry)?,
                    what: format!(
                        "{chg}: {} by {}",
                        entry.kind.trim_start_matches("change."),
                        entry.actor
                    ),
                });
            }
        }

        // The hosts' own history: what changed, and whether any change record covers it.
        if live && !hosts.is_empty() {
            self.history(&changes, &hosts, from, &mut e).await;
        } else if !live {
            e.gaps
                .push("the hosts' own package history was not read (--no-live)".into());
        }
        e.first_failures = self.first_failures(&e.checks, to).await?;
        Ok(e)
    }

    /// From the check history: for each check failing in the incident, the first failing
    /// result of its failing streak under way at `until` (the streak's newest failure at or
    /// before it), with the ok result before the streak. Checks without recorded history
    /// have none.
    async fn first_failures(
        &self,
        checks: &[CheckTransition],
        until: Timestamp,
    ) -> Result<Vec<FirstFailure>, EngineError> {
        let failing: BTreeSet<(&str, &str, Option<&str>)> = checks
            .iter()
            .filter(|c| c.to == "fail" || c.to == "error")
            .map(|c| (c.component.as_str(), c.check.as_str(), c.host.as_deref()))
            .collect();
        let mut out = Vec::new();
        for (component, check, host) in failing {
            let Some(streak) = self
                .store
                .failing_streak(component, check, host, crate::monitor::offset(until))
                .await?
            else {
                continue;
            };
            let first = &streak.first;
            out.push(FirstFailure {
                component: component.to_owned(),
                check: check.to_owned(),
                host: host.map(str::to_owned),
                at: crate::monitor::timestamp(first.first_at),
                run: first.first_run,
                trigger: streak.first_trigger.clone(),
                status: first.status.clone(),
                detail: match (&first.reason, first.first_message.is_empty()) {
                    (_, false) => first.first_message.clone(),
                    (Some(r), true) => r.clone(),
                    (None, true) => String::new(),
                },
                last_ok: streak.last_ok.as_ref().map(|ok| RecordedRun {
                    run: ok.last_run,
                    at: crate::monitor::timestamp(ok.last_at),
                }),
            });
        }
        Ok(out)
    }

    /// Who moved incident `id` through its life, from its journal.
    async fn incident_transitions(&self, id: &str) -> Result<Vec<TimedEvent>, EngineError> {
        let mut out = Vec::new();
        for entry in self.journal_of(id).await? {
            let moved = ["incident.mitigated", "incident.resolved", "incident.closed"]
                .contains(&entry.kind.as_str());
            if !moved {
                continue;
            }
            let m: IncidentMoved = record::decode_as(&entry)?;
            out.push(TimedEvent {
                at: record::entry_time(&entry)?,
                what: format!(
                    "{} marked {id} {}{}",
                    entry.actor,
                    m.to,
                    m.note.map(|n| format!(": {n}")).unwrap_or_default()
                ),
            });
        }
        Ok(out)
    }

    /// A rollout's incident: per host, the snapshot against the manifest, the steps and
    /// their times, the failing checks, the rollback and the checks after it. Returns when
    /// the rollout began.
    async fn rollout_facts(
        &self,
        rollout: &str,
        e: &mut Evidence,
        hosts: &mut Vec<String>,
    ) -> Result<Option<Timestamp>, EngineError> {
        let r = crate::rollout::number(rollout)?;
        let Some(stored) = self.store.get_rollout(r).await? else {
            e.gaps
                .push(format!("rollout {rollout} is not in the store"));
            return Ok(None);
        };
        let (_, record) = self.rollout(r).await?;
        if e.incident.manifest.is_empty() {
            e.incident.manifest.clone_from(&record.manifest);
        }
        let began = odt(stored.created_at);
        if e.incident.started.is_none() {
            e.incident.started = Some(began);
        }
        let pins: BTreeMap<String, String> = e
            .incident
            .manifest
            .iter()
            .filter_map(|p| p.split_once('=').map(|(n, v)| (n.to_owned(), v.to_owned())))
            .collect();
        let recorded_by = e
            .incident
            .change
            .clone()
            .unwrap_or_else(|| rollout.to_owned());
        let entries = self.journal_of(rollout).await?;
        let rows = self.rollout_hosts(r).await?;
        *hosts = rows.iter().map(|(h, _)| h.host.clone()).collect();
        let mut steps: Vec<(Timestamp, HostStep)> = Vec::new();
        for entry in &entries {
            let at = record::entry_time(entry)?;
            if let Some(step) = HostStep::decode(entry) {
                steps.push((at, step?));
                continue;
            }
            if let Some(what) = rollout_event(rollout, entry, pins.len())? {
                e.events.push(TimedEvent { at, what });
            }
        }
        for (row, state) in &rows {
            let mine: Vec<&(Timestamp, HostStep)> =
                steps.iter().filter(|(_, s)| s.host == row.host).collect();
            let when = |to: HostState| mine.iter().find(|(_, s)| s.to == to).map(|(t, _)| *t);
            let mut facts = HostFacts {
                host: row.host.clone(),
                outcome: Some(state.to_string()),
                wave: Some(row.wave as usize),
                touched_at: mine.first().map(|(t, _)| *t),
                ..HostFacts::default()
            };
            if let (Some(snap), Some(at)) = (row.snapshot, when(HostState::Applied)) {
                e.events.push(TimedEvent {
                    at,
                    what: format!(
                        "{}: manifest applied (wave {}, snapshot SNAP-{snap})",
                        row.host, row.wave
                    ),
                });
                let before = match self.store.get_snapshot(snap).await? {
                    Some(s) => serde_json::from_value::<SnapshotDoc>(s.record)
                        .map_err(|err| EngineError::corrupt(format!("snapshot SNAP-{snap}"), err))?
                        .hosts
                        .remove(&row.host),
                    None => None,
                };
                match before {
                    Some(set) => {
                        let was: BTreeMap<&str, &str> = set
                            .packages
                            .iter()
                            .map(|p| (p.name.as_str(), p.version.as_str()))
                            .collect();
                        for (name, version) in &pins {
                            let from = was.get(name.as_str()).map(|v| (*v).to_owned());
                            if from.as_deref() != Some(version.as_str()) {
                                facts.packages.push(PackageChange {
                                    name: name.clone(),
                                    from,
                                    to: Some(version.clone()),
                                    at: Some(at),
                                    recorded_by: Some(recorded_by.clone()),
                                });
                            }
                        }
                    }
                    None => e.gaps.push(format!(
                        "{}: snapshot SNAP-{snap} holds no package set for it: what the manifest changed there is unknown",
                        row.host
                    )),
                }
            }
            if let Some(at) = when(HostState::Verified) {
                e.events.push(TimedEvent {
                    at,
                    what: format!("{}: verified", row.host),
                });
            }
            let first_failure = mine.iter().find(|(_, s)| s.to == HostState::Failed);
            let mut failed_checks: Vec<CheckTransition> = Vec::new();
            if let Some((at, step)) = first_failure {
                facts.failed = true;
                facts.failed_at = Some(*at);
                for c in &step.detail.checks {
                    failed_checks.push(transition(c, Some(*at)));
                }
                if step.detail.checks.is_empty()
                    && let Some(why) = &step.detail.error
                {
                    e.events.push(TimedEvent {
                        at: *at,
                        what: format!("{}: failed: {why}", row.host),
                    });
                }
            } else if !matches!(state, HostState::Verified | HostState::Pending) {
                // Not verified, never recorded failing: it stopped short (unreachable,
                // an aborted rollout). Its state is the fact.
                facts.failed = *state != HostState::Snapshotted;
            }
            let rollback = mine
                .iter()
                .rev()
                .find(|(_, s)| matches!(s.to, HostState::RolledBack | HostState::RollbackFailed));
            if let Some((at, step)) = rollback {
                let recorded = !step.detail.after.is_empty();
                facts.rolled_back = Some(Restore {
                    at: *at,
                    restored: step.to == HostState::RolledBack,
                    checks_recorded: recorded,
                });
                if recorded {
                    // Each failed check as it ran after the rollback.
                    let after: Vec<CheckTransition> = failed_checks
                        .iter()
                        .filter_map(|c| {
                            let seen = step.detail.after.iter().find(|s| {
                                s.component == c.component && s.check == c.check && s.host == c.host
                            })?;
                            Some(CheckTransition {
                                from: Some(c.to.clone()),
                                to: seen.status.as_str().to_owned(),
                                detail: if seen.message.is_empty() {
                                    "after the rollback".into()
                                } else {
                                    format!("after the rollback: {}", seen.message)
                                },
                                at: Some(*at),
                                ..c.clone()
                            })
                        })
                        .collect();
                    failed_checks.extend(after);
                } else if facts.failed {
                    e.gaps.push(format!(
                        "{}: the checks' results after its rollback were not recorded (a journal written before version 2); its {} step says: {}",
                        row.host,
                        step.to,
                        step.detail.detail.as_deref().unwrap_or("nothing")
                    ));
                }
            }
            e.checks.extend(failed_checks);
            e.hosts.push(facts);
        }
        Ok(Some(began))
    }

    /// The bisect of the incident: the one `bisect: auto` kept with it, else the latest
    /// `fearless bisect` journaled on one of its failed hosts since the window opened.
    async fn bisect_of(
        &self,
        kept: Option<&KeptBisect>,
        e: &Evidence,
        from: Timestamp,
    ) -> Result<Option<BisectFacts>, EngineError> {
        let facts =
            |host: &str, report: &crate::bisect::BisectReport, at: Option<Timestamp>| BisectFacts {
                host: host.to_owned(),
                culprits: match &report.verdict {
                    fearless_rca::Verdict::Culprits { packages, .. } => packages.clone(),
                    fearless_rca::Verdict::NotReproducible => Vec::new(),
                },
                rounds: report.rounds.len(),
                tests: report.tests,
                flaky: report.rounds.iter().filter(|r| r.flaky).count(),
                at,
                restored: report.restored,
            };
        if let Some(b) = kept {
            return Ok(Some(facts(&b.host, &b.report, Some(b.at))));
        }
        let mut found = None;
        for h in e.hosts.iter().filter(|h| h.failed) {
            for entry in self.journal_of(&format!("host:{}", h.host)).await? {
                let at = record::entry_time(&entry)?;
                if let Some(b) = record::decode::<Bisected>(&entry)
                    && at >= from
                {
                    found = Some(facts(&h.host, &b?.report, Some(at)));
                }
            }
        }
        Ok(found)
    }

    /// Read the hosts' package history since `from`; mark what a change record covers.
    async fn history(
        &self,
        changes: &[ChangeRecord],
        hosts: &[String],
        from: Timestamp,
        e: &mut Evidence,
    ) {
        let chosen: Vec<Host> = hosts
            .iter()
            .filter_map(|h| self.config.inventory.hosts.get(h).cloned())
            .collect();
        // dpkg stamps whole seconds; the window starts mid-second.
        let since = from
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .unwrap_or(from);
        let fw = Fleetwide::with_hosts(self.config.clone(), chosen, Duration::from_secs(30));
        let results = fw
            .each(|b, t| async move { b.history(&t, since).await })
            .await;
        fw.close().await;
        let rollout_made = !e.incident.manifest.is_empty();
        let slack = jiff::SignedDuration::from_secs(5);
        for (host, r) in results {
            let txs = match r {
                Ok(txs) => txs,
                Err(err) => {
                    e.gaps
                        .push(format!("{host}: package history unavailable: {err}"));
                    continue;
                }
            };
            let covering = |at: Timestamp| {
                changes.iter().find(|c| {
                    c.scope.hosts.contains(&host)
                        && c.actual_start
                            .is_some_and(|s| s.checked_sub(slack).unwrap_or(s) <= at)
                        && c.actual_end
                            .is_none_or(|end| at <= end.checked_add(slack).unwrap_or(end))
                })
            };
            // Net change per package over the window, with the record that made it.
            let mut net: BTreeMap<String, PackageChange> = BTreeMap::new();
            for tx in &txs {
                let by = covering(tx.start).map(|c| c.id().to_string());
                for c in &tx.changes {
                    let entry = net.entry(c.name.clone()).or_insert_with(|| PackageChange {
                        name: c.name.clone(),
                        from: c.from.clone(),
                        ..PackageChange::default()
                    });
                    entry.to.clone_from(&c.to);
                    entry.at = Some(tx.start);
                    entry.recorded_by.clone_from(&by);
                }
            }
            let Some(facts) = e.hosts.iter_mut().find(|h| h.host == host) else {
                continue;
            };
            for (_, p) in net {
                if p.from == p.to {
                    continue;
                }
                // A rollout's own changes are already there, from its snapshots.
                if rollout_made && p.recorded_by.is_some() {
                    continue;
                }
                facts.packages.push(p);
            }
        }
    }
}

/// A rollout journal entry that is not a host step, as a sentence of the timeline (none for
/// the bisect's own markers: the bisect tells its story itself).
fn rollout_event(
    rollout: &str,
    entry: &fearless_store::JournalEntry,
    pins: usize,
) -> Result<Option<String>, EngineError> {
    if let Some(s) = record::decode::<RolloutStarted>(entry) {
        let s = s?;
        return Ok(Some(format!(
            "{rollout} started: {pins} package(s) in {} wave(s)",
            s.waves.len()
        )));
    }
    if let Some(b) = record::decode::<WaveBaked>(entry) {
        return Ok(Some(format!(
            "{rollout}: wave {} baked, checks pass",
            b?.wave
        )));
    }
    if let Some(r) = record::decode::<RebootStarted>(entry) {
        let r = r?;
        return Ok(Some(format!("{}: reboot started ({})", r.host, r.asked)));
    }
    if let Some(r) = record::decode::<RebootFinished>(entry) {
        let r = r?;
        return Ok(Some(match (r.ok, r.error) {
            (true, _) => format!("{}: back from its reboot", r.host),
            (false, Some(why)) => format!("{}: reboot failed: {why}", r.host),
            (false, None) => format!("{}: reboot failed", r.host),
        }));
    }
    if let Some(r) = record::decode::<RestartFinished>(entry) {
        let r = r?;
        return Ok(Some(format!(
            "{}: restarted {} (found by {})",
            r.host,
            if r.done.restarted.is_empty() {
                "nothing".to_owned()
            } else {
                r.done.restarted.join(", ")
            },
            r.found_by
        )));
    }
    let state = entry.kind.strip_prefix("rollout.");
    match state.map(str::parse::<fearless_rollout::RolloutState>) {
        Some(Ok(state)) => {
            let moved: RolloutMoved = record::decode_as(entry)?;
            Ok(Some(match moved.stopped {
                Some(why) => format!("{rollout} {state}: {why}"),
                None => format!("{rollout} {state} by {}", entry.actor),
            }))
        }
        _ => Ok(None),
    }
}

/// The failing components, localised on the dependency graph, what depends on them, and
/// their direct neighbours.
fn subgraph(config: &Config, checks: &[CheckTransition], named: &[String]) -> Subgraph {
    let graph = Graph::new(
        config
            .components
            .iter()
            .map(|(n, c)| (n.as_str(), c.depends_on.as_slice())),
    );
    // The checks as they failed (a later recovery is not the failure).
    let failed: BTreeSet<(&str, &str, Option<&str>)> = checks
        .iter()
        .filter(|c| c.to != "pass" && c.to != "degraded")
        .map(|c| (c.component.as_str(), c.check.as_str(), c.host.as_deref()))
        .collect();
    let observations: Vec<Observation> = failed
        .iter()
        .map(|(component, _, host)| Observation {
            component: (*component).to_owned(),
            host: host.map(str::to_owned),
            ok: false,
            skipped: false,
            transport: false,
            via_transport: false,
        })
        .collect();
    let found = localise(&graph, &observations);
    let mut nodes: BTreeMap<String, NodeState> = BTreeMap::new();
    for s in &found.suspects {
        nodes.insert(s.component.clone(), NodeState::Failing);
    }
    for i in &found.impacted {
        nodes.insert(i.component.clone(), NodeState::Impacted);
    }
    for c in named {
        nodes.entry(c.clone()).or_insert(NodeState::Failing);
    }
    let core: Vec<String> = nodes.keys().cloned().collect();
    for c in &core {
        for d in graph.dependencies(c) {
            nodes.entry(d.clone()).or_insert(NodeState::Healthy);
        }
        for d in graph.dependents(c) {
            nodes.entry(d.to_owned()).or_insert(NodeState::Healthy);
        }
    }
    let mut edges = Vec::new();
    for a in nodes.keys() {
        for b in graph.dependencies(a) {
            if nodes.contains_key(b) {
                edges.push((a.clone(), b.clone()));
            }
        }
    }
    let mut nodes: Vec<(String, NodeState)> = nodes.into_iter().collect();
    nodes.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Subgraph { nodes, edges }
}
