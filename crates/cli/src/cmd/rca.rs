//! `fearless rca INC-N`: gather the evidence of an incident — its rollout's host steps and
//! snapshots from the store, check transitions, change records in the window, the hosts'
//! own package history (changes no record covers are flagged unrecorded), the dependency
//! subgraph, a bisect — and print the post-incident report `fearless_rca::report` builds.
//! The report is kept with the incident and announced on the change's journal.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fearless_change::ChangeRecord;
use fearless_config::{Config, Host};
use fearless_graph::Graph;
use fearless_pkg::PackageManager;
use fearless_probe::runner::{self, Runner, Selection};
use fearless_rca::report::{
    self, BisectFacts, ChangeFacts, CheckTransition, Evidence, HostFacts, IncidentFacts, NodeState,
    PackageChange, Restore, Subgraph, TimedEvent,
};
use fearless_store::{JournalEntry, NewEvent, Store, Stored};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::change::{journal_of, open_store, store_failure};
use super::packages::{Fleetwide, progress};
use super::{identity, load_config, print};
use crate::args::{Format, Global, RcaArgs};
use crate::exit::{Failure, Outcome};

pub(crate) async fn run(g: &Global, a: RcaArgs) -> Result<Outcome, Failure> {
    if !matches!(
        g.format,
        Format::Human | Format::Md | Format::Html | Format::Json
    ) {
        return Err(Failure::bad_input(
            format!("`rca` prints md, html or json, not {:?}", g.format).to_lowercase(),
            Some("use --format md, --format html or --format json"),
        ));
    }
    let config = load_config(g)?;
    let actor = identity(g)?;
    let store = open_store(g, &config).await?;
    let (n, incident) = super::incident::get(&store, &a.id).await?;
    let evidence = gather(g, &config, &store, &incident, !a.no_live).await?;
    let built = report::build(evidence);
    let markdown = report::markdown(&built);
    let text = match g.format {
        Format::Html => report::html(&built),
        Format::Json => serde_json::to_string_pretty(&built)
            .map(|s| s + "\n")
            .map_err(|e| Failure::Environment(e.into()))?,
        _ => markdown.clone(),
    };
    attach(&store, &actor, n, &incident, &built, markdown).await?;
    store.close().await;
    match &a.output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| {
                Failure::Environment(anyhow::anyhow!("cannot write {}: {e}", path.display()))
            })?;
            progress(g, &format!("INC-{n}: report written to {}", path.display()));
            print(&format!("{}\n", built.attribution))?;
        }
        None => print(&text)?,
    }
    Ok(Outcome::Success)
}

/// Keep the report with the incident (Markdown, digest, attribution) and say so on the
/// change's journal, where its review reads it.
async fn attach(
    store: &Store,
    actor: &str,
    n: u64,
    incident: &Stored,
    built: &report::Report,
    markdown: String,
) -> Result<(), Failure> {
    let digest = hex::encode(Sha256::digest(markdown.as_bytes()));
    if incident.record["report"]["sha256"].as_str() == Some(digest.as_str()) {
        return Ok(());
    }
    let mut record = incident.record.clone();
    if let Some(o) = record.as_object_mut() {
        o.insert(
            "report".into(),
            json!({
                "attribution": built.attribution,
                "culprits": built.culprits,
                "confirmed": built.confirmed,
                "sha256": digest,
                "markdown": markdown,
                "generated_at": Timestamp::now().to_string(),
            }),
        );
    }
    let change = incident.record["change"].as_str().map(str::to_owned);
    store
        .update_incident(
            n,
            incident.version,
            &incident.state,
            &record,
            NewEvent {
                actor: actor.to_owned(),
                kind: "incident.report".into(),
                subject: String::new(),
                payload: json!({"sha256": digest, "attribution": built.attribution, "change": change}),
            },
        )
        .await
        .map_err(store_failure)?;
    if let Some(change) = change {
        store
            .append(NewEvent {
                actor: actor.to_owned(),
                kind: "change.rca-attached".into(),
                subject: change,
                payload: json!({"incident": format!("INC-{n}"), "sha256": digest, "attribution": built.attribution}),
            })
            .await
            .map_err(store_failure)?;
    }
    Ok(())
}

fn ts(s: Option<&str>) -> Option<Timestamp> {
    s?.parse().ok()
}

fn odt(t: time::OffsetDateTime) -> Timestamp {
    Timestamp::from_second(t.unix_timestamp()).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// Everything the store, the hosts and the configuration say about the incident.
async fn gather(
    g: &Global,
    config: &Config,
    store: &Store,
    incident: &Stored,
    live: bool,
) -> Result<Evidence, Failure> {
    let rec = &incident.record;
    let m = &rec["milestones"];
    let mut e = Evidence {
        incident: IncidentFacts {
            id: format!("INC-{}", incident.number),
            title: rec["title"].as_str().unwrap_or("-").to_owned(),
            state: incident.state.clone(),
            opened_by: rec["opened_by"].as_str().unwrap_or("-").to_owned(),
            change: rec["change"].as_str().map(str::to_owned),
            rollout: rec["rollout"].as_str().map(str::to_owned),
            wave: rec["wave"].as_u64().and_then(|w| usize::try_from(w).ok()),
            manifest: strings(&rec["manifest"]),
            components: strings(&rec["components"]),
            started: ts(m["started"].as_str()),
            detected: ts(m["detected"].as_str()),
            mitigated: ts(m["mitigated"].as_str()),
            resolved: ts(m["resolved"].as_str()),
        },
        ..Evidence::default()
    };
    let mut hosts: Vec<String> = rec["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["host"].as_str().map(str::to_owned))
        .collect();
    let mut failing_components: BTreeSet<String> = BTreeSet::new();

    // The window opens when the rollout began (what changed before it is in the baseline
    // the rollout compared against), or when the impact started.
    let mut from = None;
    if let Some(rollout) = e.incident.rollout.clone() {
        from = from_rollout(store, &rollout, &mut e, &mut hosts).await?;
    } else {
        // By hand: the failing checks recorded when it was opened.
        for c in rec["checks"].as_array().into_iter().flatten() {
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
        if e.checks.is_empty() {
            failing_components.extend(e.incident.components.iter().cloned());
        }
    }
    for c in &e.checks {
        if c.to != "pass" {
            failing_components.insert(c.component.clone());
        }
    }
    if e.incident.components.is_empty() {
        e.incident.components = failing_components.iter().cloned().collect();
    }

    let from = from
        .or(e.incident.started)
        .or(e.incident.detected)
        .unwrap_or_else(|| odt(incident.created_at));
    let to = e.incident.resolved.unwrap_or_else(Timestamp::now);
    e.bisect = bisect_of(store, rec, &e, from).await?;

    // Change records that touch these hosts or components in the window.
    let changes: Vec<ChangeRecord> = store
        .list_changes()
        .await
        .map_err(store_failure)?
        .into_iter()
        .filter_map(|s| serde_json::from_value(s.record).ok())
        .collect();
    for c in &changes {
        let touches = c.scope.hosts.iter().any(|h| hosts.contains(h))
            || c.scope
                .components
                .iter()
                .any(|x| e.incident.components.contains(x));
        let start = c.actual_start.or(Some(c.created_at));
        let active = start.is_some_and(|s| s <= to) && c.actual_end.is_none_or(|end| end >= from);
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
    if let Some(chg) = &e.incident.change {
        for entry in journal_of(store, chg.clone()).await? {
            // The report's own attachment is not part of the story it tells.
            if entry.kind == "change.rca-attached" {
                continue;
            }
            if let Some(at) = ts(Some(&entry.time)) {
                e.events.push(TimedEvent {
                    at,
                    what: format!(
                        "{chg}: {} by {}",
                        entry.kind.replace("change.", ""),
                        entry.actor
                    ),
                });
            }
        }
    }

    // The hosts' own history: what changed, and whether any change record covers it.
    if live && !hosts.is_empty() {
        history(g, config, &changes, &hosts, from, &mut e).await;
    } else if !live {
        e.gaps
            .push("the hosts' own package history was not read (--no-live)".into());
    }

    e.graph = subgraph(config, &failing_components, &e.incident.components);
    Ok(e)
}

fn transition(c: &Value, at: Option<Timestamp>) -> CheckTransition {
    let message = c["message"].as_str().unwrap_or("");
    let reason = c["reason"].as_str().unwrap_or("");
    CheckTransition {
        component: c["component"].as_str().unwrap_or("-").to_owned(),
        check: c["check"].as_str().unwrap_or("-").to_owned(),
        host: c["host"].as_str().map(str::to_owned),
        from: c["before"].as_str().unwrap_or("pass").to_owned(),
        to: c["after"].as_str().unwrap_or("fail").to_owned(),
        detail: if message.is_empty() {
            reason.to_owned()
        } else {
            message.to_owned()
        },
        at,
    }
}

/// A rollout's incident: per host, the snapshot against the manifest, the steps and their
/// times, the failing checks, the rollback. Returns when the rollout began.
async fn from_rollout(
    store: &Store,
    rollout: &str,
    e: &mut Evidence,
    hosts: &mut Vec<String>,
) -> Result<Option<Timestamp>, Failure> {
    let r: u64 = rollout
        .strip_prefix("R-")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Failure::Environment(anyhow::anyhow!("bad rollout id `{rollout}`")))?;
    let Some(stored) = store.get_rollout(r).await.map_err(store_failure)? else {
        e.gaps
            .push(format!("rollout {rollout} is not in the store"));
        return Ok(None);
    };
    if e.incident.manifest.is_empty() {
        e.incident.manifest = strings(&stored.record["manifest"]);
    }
    if e.incident.started.is_none() {
        e.incident.started = Some(odt(stored.created_at));
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
    let entries = journal_of(store, rollout.to_owned()).await?;
    let rows = store.rollout_hosts(r).await.map_err(store_failure)?;
    *hosts = rows.iter().map(|h| h.host.clone()).collect();
    for entry in &entries {
        let at = ts(Some(&entry.time));
        match (entry.kind.as_str(), at) {
            ("rollout.started", Some(at)) => e.events.push(TimedEvent {
                at,
                what: format!(
                    "{rollout} started: {} package(s) in {} wave(s)",
                    pins.len(),
                    entry.payload["waves"].as_array().map_or(0, Vec::len)
                ),
            }),
            ("rollout.wave.baked", Some(at)) => e.events.push(TimedEvent {
                at,
                what: format!(
                    "{rollout}: wave {} baked, checks pass",
                    entry.payload["wave"]
                ),
            }),
            // Host steps are told per host below; bisect markers by the bisect itself.
            (k, Some(at))
                if k.starts_with("rollout.")
                    && !k.starts_with("rollout.host.")
                    && !k.starts_with("rollout.bisect.") =>
            {
                e.events.push(TimedEvent {
                    at,
                    what: format!("{rollout} {}", k.trim_start_matches("rollout.")),
                });
            }
            _ => {}
        }
    }
    for row in &rows {
        let mine: Vec<&JournalEntry> = entries
            .iter()
            .filter(|x| x.payload["host"].as_str() == Some(row.host.as_str()))
            .collect();
        let when = |kind: &str| {
            mine.iter()
                .find(|x| x.kind == kind)
                .and_then(|x| ts(Some(&x.time)))
        };
        let applied_at = when("rollout.host.applied");
        let mut facts = HostFacts {
            host: row.host.clone(),
            outcome: Some(row.state.clone()),
            ..HostFacts::default()
        };
        if let (Some(snap), Some(at)) = (row.snapshot, applied_at) {
            e.events.push(TimedEvent {
                at,
                what: format!(
                    "{}: manifest applied (wave {}, snapshot SNAP-{snap})",
                    row.host, row.wave
                ),
            });
            let before: BTreeMap<String, String> = store
                .get_snapshot(snap)
                .await
                .map_err(store_failure)?
                .and_then(|s| s.record["hosts"][&row.host]["packages"].as_array().cloned())
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    Some((
                        p["name"].as_str()?.to_owned(),
                        p["version"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            for (name, version) in &pins {
                let from = before.get(name).cloned();
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
        if let Some(at) = when("rollout.host.verified") {
            e.events.push(TimedEvent {
                at,
                what: format!("{}: verified", row.host),
            });
        }
        let failures: Vec<&&JournalEntry> = mine
            .iter()
            .filter(|x| x.kind == "rollout.host.failed")
            .collect();
        if let Some(first) = failures.first() {
            facts.failed = true;
            facts.failed_at = ts(Some(&first.time));
            for c in first.payload["detail"]["checks"]
                .as_array()
                .into_iter()
                .flatten()
            {
                e.checks.push(transition(c, facts.failed_at));
            }
            if first.payload["detail"]["checks"]
                .as_array()
                .is_none_or(Vec::is_empty)
                && let (Some(why), Some(at)) =
                    (first.payload["detail"]["error"].as_str(), facts.failed_at)
            {
                e.events.push(TimedEvent {
                    at,
                    what: format!("{}: failed: {why}", row.host),
                });
            }
        }
        for (kind, restored) in [
            ("rollout.host.rolled-back", true),
            ("rollout.host.rollback-failed", false),
        ] {
            if let Some(at) = when(kind) {
                facts.rolled_back = Some(Restore { at, restored });
                if restored {
                    // Back on the snapshot, its checks pass again.
                    let fixed: Vec<CheckTransition> = e
                        .checks
                        .iter()
                        .filter(|c| c.host.as_deref() == Some(row.host.as_str()) && c.to != "pass")
                        .map(|c| CheckTransition {
                            from: c.to.clone(),
                            to: "pass".into(),
                            detail: "after the rollback".into(),
                            at: Some(at),
                            ..c.clone()
                        })
                        .collect();
                    e.checks.extend(fixed);
                }
            }
        }
        e.hosts.push(facts);
    }
    Ok(Some(odt(stored.created_at)))
}

/// The bisect of the incident: the one `bisect: auto` kept with it, else the latest
/// `fearless bisect` journaled on one of its failed hosts since the window opened.
async fn bisect_of(
    store: &Store,
    incident: &Value,
    e: &Evidence,
    from: Timestamp,
) -> Result<Option<BisectFacts>, Failure> {
    let facts = |host: &str, report: &Value, at: Option<Timestamp>| {
        let rounds = report["rounds"].as_array().map_or(0, Vec::len);
        BisectFacts {
            host: host.to_owned(),
            culprits: strings(&report["verdict"]["packages"]),
            rounds,
            tests: report["tests"]
                .as_u64()
                .and_then(|t| usize::try_from(t).ok())
                .unwrap_or(rounds),
            flaky: report["rounds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["flaky"].as_bool() == Some(true))
                .count(),
            at,
            restored: report["restored"].as_bool() == Some(true),
        }
    };
    let b = &incident["bisect"];
    if let Some(host) = b["host"].as_str() {
        return Ok(Some(facts(host, &b["report"], ts(b["at"].as_str()))));
    }
    let mut found: Option<BisectFacts> = None;
    for h in e.hosts.iter().filter(|h| h.failed) {
        for entry in journal_of(store, format!("host:{}", h.host)).await? {
            let at = ts(Some(&entry.time));
            if entry.kind == "bisect.finished" && at.is_some_and(|t| t >= from) {
                found = Some(facts(&h.host, &entry.payload["report"], at));
            }
        }
    }
    Ok(found)
}

/// Read the hosts' package history since `from`; mark what a change record covers.
async fn history(
    g: &Global,
    config: &Config,
    changes: &[ChangeRecord],
    hosts: &[String],
    from: Timestamp,
    e: &mut Evidence,
) {
    let chosen: Vec<Host> = hosts
        .iter()
        .filter_map(|h| config.inventory.hosts.get(h).cloned())
        .collect();
    progress(
        g,
        &format!("reading the package history of {} host(s)", chosen.len()),
    );
    // dpkg stamps whole seconds; the window starts mid-second.
    let since = from
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap_or(from);
    let fw = Fleetwide::with_hosts(config.clone(), chosen, Duration::from_secs(30));
    let results = fw
        .each(|b, t| async move { b.history(&t, since).await })
        .await;
    fw.close().await;
    let rollout_made = !e.incident.manifest.is_empty();
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
                    && c.actual_start.is_some_and(|s| {
                        s.checked_sub(jiff::SignedDuration::from_secs(5))
                            .unwrap_or(s)
                            <= at
                    })
                    && c.actual_end.is_none_or(|end| {
                        at <= end
                            .checked_add(jiff::SignedDuration::from_secs(5))
                            .unwrap_or(end)
                    })
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

/// The failing components, what depends on them, and their direct neighbours.
fn subgraph(config: &Config, failing: &BTreeSet<String>, named: &[String]) -> Subgraph {
    let graph = Graph::new(
        config
            .components
            .iter()
            .map(|(n, c)| (n.as_str(), c.depends_on.as_slice())),
    );
    let mut nodes: BTreeMap<String, NodeState> = BTreeMap::new();
    for c in failing {
        let root = !graph.dependencies(c).iter().any(|d| failing.contains(d));
        nodes.insert(
            c.clone(),
            if root {
                NodeState::Failing
            } else {
                NodeState::Impacted
            },
        );
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

/// The failing checks of `components` on `hosts` now (for `incident open`): one JSON
/// object per failing check, as a rollout journals them.
pub(crate) async fn failing_checks(
    config: &Config,
    components: &[String],
    hosts: &[String],
) -> Result<Vec<Value>, Failure> {
    let items: Vec<_> = runner::plan(
        config,
        &Selection {
            hosts: None,
            components: components.to_vec(),
        },
    )
    .map_err(|e| Failure::bad_input(e.to_string(), None))?
    .into_iter()
    .filter(|i| i.host.as_ref().is_none_or(|h| hosts.contains(&h.name)))
    .collect();
    let runner = Runner::new(config)
        .map_err(|e| Failure::Environment(anyhow::anyhow!("cannot set up network checks: {e}")))?;
    let results = runner.run(&items, &|_| {}).await;
    runner.close().await;
    Ok(results
        .iter()
        .filter(|r| !r.status.is_ok())
        .map(|r| {
            json!({
                "component": r.component,
                "check": r.check,
                "host": r.host,
                "before": "pass",
                "after": r.status.as_str(),
                "reason": r.reason,
                "message": r.message,
            })
        })
        .collect())
}
