//! The post-incident report: from the [`Evidence`] the CLI gathers (store, journal, the
//! hosts' own package history, the dependency graph, a bisect) to a [`Report`] — the
//! one-line attribution, summary, impact, merged timeline, trigger and contributing factors
//! in blameless wording, detection, actions taken, evidence tables, a Mermaid diagram of the
//! affected subgraph and action items — rendered as Markdown, HTML or JSON.
//!
//! Pure: no I/O and no clock; the same evidence gives the same report, byte for byte.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

use crate::attribution::{Candidate, Changed, HostEvidence, attribute};

/// Everything known about an incident, gathered by the caller.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// The incident record.
    pub incident: IncidentFacts,
    /// Every host in scope: changed and failed, changed and passed, not changed.
    pub hosts: Vec<HostFacts>,
    /// Checks that changed state, with times.
    pub checks: Vec<CheckTransition>,
    /// Change records whose scope touches the hosts or components, active in the window.
    pub changes: Vec<ChangeFacts>,
    /// The dependency graph around the failing components.
    pub graph: Subgraph,
    /// A package bisect of the incident's manifest, if one ran.
    pub bisect: Option<BisectFacts>,
    /// What happened, from the journal (rollout steps, change and incident transitions).
    pub events: Vec<TimedEvent>,
    /// Evidence that could not be gathered, and why (an unreachable host, say).
    pub gaps: Vec<String>,
    /// Where the continuous test plan's history has them: the first recorded failure of the
    /// failing streak of each check that fails in the incident.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_failures: Vec<FirstFailure>,
}

/// The first recorded failure of a check's failing streak, from the check history (runs of
/// the continuous test plan and of `fearless check --record`).
#[derive(Debug, Clone, Serialize)]
pub struct FirstFailure {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// Host, for per-host checks.
    pub host: Option<String>,
    /// When the run that recorded it started.
    pub at: Timestamp,
    /// That run's id.
    pub run: u64,
    /// What ran it: `monitor` or `check`.
    pub trigger: String,
    /// Its status (`fail`, `error`).
    pub status: String,
    /// What it said.
    pub detail: String,
    /// The ok result just before the streak; `None` when none is recorded.
    pub last_ok: Option<RecordedRun>,
}

/// A run of the check history, at its start time.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RecordedRun {
    /// The run's id.
    pub run: u64,
    /// When it started.
    pub at: Timestamp,
}

/// The incident record, as far as the report needs it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentFacts {
    /// `INC-3`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// `open`, `mitigated`, `resolved`, `closed`.
    pub state: String,
    /// Who or what opened it: an identity, or `R-2` for a rollout gate.
    pub opened_by: String,
    /// The change it is linked to.
    pub change: Option<String>,
    /// The rollout that opened it.
    pub rollout: Option<String>,
    /// The wave that failed.
    pub wave: Option<usize>,
    /// The rollout's frozen manifest (`name=version`).
    pub manifest: Vec<String>,
    /// The components it is about (hand-opened incidents name them).
    pub components: Vec<String>,
    /// When the impact started.
    pub started: Option<Timestamp>,
    /// When it was detected.
    pub detected: Option<Timestamp>,
    /// When the impact stopped.
    pub mitigated: Option<Timestamp>,
    /// When the cause was fixed.
    pub resolved: Option<Timestamp>,
    /// Who moved it through its life (mitigated, resolved, closed), when, with their note.
    pub transitions: Vec<TimedEvent>,
}

/// One host in scope.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostFacts {
    /// Inventory name.
    pub host: String,
    /// Its checks failed.
    pub failed: bool,
    /// When the failure was first seen.
    pub failed_at: Option<Timestamp>,
    /// Package changes on it in the window, before any rollback.
    pub packages: Vec<PackageChange>,
    /// How the rollout left it (`verified`, `rolled-back`, …), if it was in one.
    pub outcome: Option<String>,
    /// Its wave in the rollout.
    pub wave: Option<usize>,
    /// When the rollout first touched it (its snapshot); `None`: never touched.
    pub touched_at: Option<Timestamp>,
    /// When it was rolled back, and whether its checks passed again then.
    pub rolled_back: Option<Restore>,
}

/// A rollback of one host.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Restore {
    /// When it ended.
    pub at: Timestamp,
    /// It ended back on its snapshot with no regression against the baseline.
    pub restored: bool,
    /// The checks' results after it were recorded (each failed check's status after the
    /// rollback is then a transition of its own); without them only the step's verdict is
    /// known.
    pub checks_recorded: bool,
}

/// One package change on one host.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PackageChange {
    /// Package name.
    pub name: String,
    /// Version before (`None`: newly installed).
    pub from: Option<String>,
    /// Version after (`None`: removed).
    pub to: Option<String>,
    /// When.
    pub at: Option<Timestamp>,
    /// The change record or rollout that made it; `None` is an **unrecorded change**.
    pub recorded_by: Option<String>,
}

/// A check that changed state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckTransition {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// Host, for per-host checks.
    pub host: Option<String>,
    /// State before (`pass`); `None`: not observed (not in the baseline, or nobody saw it).
    pub from: Option<String>,
    /// State after (`fail`).
    pub to: String,
    /// What it said (`HTTP 500`).
    pub detail: String,
    /// When.
    pub at: Option<Timestamp>,
}

/// A change record in the window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeFacts {
    /// `CHG-4`.
    pub id: String,
    /// Title.
    pub title: String,
    /// State now.
    pub state: String,
    /// Hosts in its frozen scope.
    pub hosts: Vec<String>,
    /// Components in its scope.
    pub components: Vec<String>,
    /// Implementation start.
    pub started: Option<Timestamp>,
    /// Implementation end.
    pub ended: Option<Timestamp>,
}

/// How a component stands in the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeState {
    /// Its checks fail and its dependencies are healthy: where the break is.
    Failing,
    /// It fails, or may, because something it depends on fails.
    Impacted,
    /// Healthy neighbour.
    Healthy,
}

/// The dependency graph around the failing components.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Subgraph {
    /// Components and how they stand.
    pub nodes: Vec<(String, NodeState)>,
    /// `(a, b)`: a depends on b.
    pub edges: Vec<(String, String)>,
}

/// The outcome of a package bisect.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BisectFacts {
    /// The host it ran on.
    pub host: String,
    /// The minimal failing set; empty when the failure did not reproduce.
    pub culprits: Vec<String>,
    /// Rounds (subsets tested).
    pub rounds: usize,
    /// Test runs, re-runs included.
    pub tests: usize,
    /// Rounds that failed once and passed on the re-run.
    pub flaky: usize,
    /// When it ended.
    pub at: Option<Timestamp>,
    /// The host was back on its snapshot, passing, afterwards.
    pub restored: bool,
}

/// Something that happened, at a time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TimedEvent {
    /// When.
    pub at: Timestamp,
    /// What, in a sentence.
    pub what: String,
}

/// The three kinds of action item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// Keep it from happening again.
    Prevent,
    /// See it sooner.
    Detect,
    /// Stop the impact faster.
    Mitigate,
}

/// One follow-up.
#[derive(Debug, Clone, Serialize)]
pub struct ActionItem {
    /// Prevent, detect or mitigate.
    pub kind: ItemKind,
    /// What to do.
    pub text: String,
}

/// The impact in numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    /// Components whose checks failed where the break is.
    pub failing: Vec<String>,
    /// Components impacted through their dependencies.
    pub impacted: Vec<String>,
    /// Hosts whose checks failed.
    pub hosts: Vec<String>,
    /// Start of impact.
    pub started: Option<Timestamp>,
    /// End of impact (service restored), if it ended.
    pub ended: Option<Timestamp>,
    /// `ended - started`, in seconds.
    pub seconds: Option<i64>,
}

/// The post-incident report (`fearless.rca/v1`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// `fearless.rca/v1`.
    #[schemars(extend("const" = "fearless.rca/v1"))]
    pub schema: &'static str,
    /// `INC-3`.
    #[schemars(pattern(r"^INC-[0-9]+$"))]
    pub incident: String,
    /// Title.
    pub title: String,
    /// State.
    pub state: String,
    /// The sentence: which change broke which check of which component, on which hosts.
    pub attribution: String,
    /// Confirmed by a bisect (rather than inferred from host evidence).
    pub confirmed: bool,
    /// The culprit packages, most likely first; empty when nothing explains it.
    pub culprits: Vec<String>,
    /// A paragraph.
    pub summary: String,
    /// Components, hosts, duration.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub impact: Impact,
    /// Everything, merged and in order.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub timeline: Vec<TimedEvent>,
    /// What set it off, blamelessly.
    pub trigger: String,
    /// What made it possible or worse.
    pub contributing_factors: Vec<String>,
    /// How and when it was noticed.
    pub detection: String,
    /// What was done about it.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub actions: Vec<TimedEvent>,
    /// Ranked candidate causes from host evidence.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub candidates: Vec<Candidate>,
    /// A Mermaid `graph` of the affected subgraph.
    pub mermaid: String,
    /// Prevent / detect / mitigate.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub action_items: Vec<ActionItem>,
    /// The evidence it was built from.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub evidence: Evidence,
}

/// The confidence host evidence alone needs to name a culprit: the change is on every failing
/// host, and on no more passing hosts than failing ones. Below it, candidates are listed as
/// evidence, and the report says that no package change explains the failure.
const INFERRED: f64 = 0.5;

/// Build the report.
pub fn build(evidence: Evidence) -> Report {
    let mut candidates = attribute(&host_evidence(&evidence.hosts));
    // The dependency path the break took: each impacted component and what it depends on.
    let path: Vec<String> = evidence
        .graph
        .edges
        .iter()
        .filter(|(a, b)| {
            evidence
                .graph
                .nodes
                .iter()
                .any(|(n, s)| n == a && *s == NodeState::Impacted)
                && evidence
                    .graph
                    .nodes
                    .iter()
                    .any(|(n, s)| n == b && *s != NodeState::Healthy)
        })
        .map(|(a, b)| format!("{a} → {b}"))
        .collect();
    // The effect of the rollback: undoing the change on a failing host restored it (or not).
    for c in &mut candidates {
        if !path.is_empty() && !c.changed_and_failing.is_empty() {
            c.evidence.push(format!(
                "dependency path of the failure: {} (depends on)",
                path.join(", ")
            ));
        }
        for h in evidence
            .hosts
            .iter()
            .filter(|h| c.changed_and_failing.contains(&h.host))
        {
            if let Some(r) = h.rolled_back {
                c.evidence.push(match (r.restored, r.checks_recorded) {
                    (true, true) => format!(
                        "rolling {} back on {} restored its checks",
                        c.package, h.host
                    ),
                    (true, false) => format!(
                        "rolling {} back on {} left no regression against the baseline (its rolled-back step)",
                        c.package, h.host
                    ),
                    (false, _) => format!(
                        "rolling {} back on {} did not restore its checks",
                        c.package, h.host
                    ),
                });
            }
        }
    }
    let bisected = evidence
        .bisect
        .as_ref()
        .filter(|b| !b.culprits.is_empty())
        .map(|b| b.culprits.clone());
    let confirmed = bisected.is_some();
    // A rollback that did not bring a failing host back speaks against its changes being
    // the cause: host evidence alone then names none.
    let rollback_failed = evidence
        .hosts
        .iter()
        .any(|h| h.failed && h.rolled_back.is_some_and(|r| !r.restored));
    let culprits: Vec<String> = bisected.unwrap_or_else(|| {
        if rollback_failed {
            return Vec::new();
        }
        candidates
            .iter()
            .filter(|c| c.confidence >= INFERRED)
            .take_while(|c| (c.confidence - candidates[0].confidence).abs() < 1e-9)
            .map(|c| c.package.clone())
            .collect()
    });
    let failed_hosts: Vec<&HostFacts> = evidence.hosts.iter().filter(|h| h.failed).collect();
    let failing = nodes(&evidence.graph, NodeState::Failing);
    let impacted = nodes(&evidence.graph, NodeState::Impacted);
    // The check that names the break: a failing check of a root component, earliest first.
    let broken = first_broken(&evidence.checks, &failing);
    let started = evidence
        .incident
        .started
        .or_else(|| {
            evidence
                .hosts
                .iter()
                .flat_map(|h| h.packages.iter().filter_map(|p| p.at))
                .min()
        })
        .or(evidence.incident.detected);
    let restores: Vec<Restore> = failed_hosts.iter().filter_map(|h| h.rolled_back).collect();
    let restored_at = if !restores.is_empty() && restores.iter().all(|r| r.restored) {
        restores.iter().map(|r| r.at).max()
    } else {
        None
    };
    let ended = restored_at
        .or(evidence.incident.mitigated)
        .or(evidence.incident.resolved);

    let attribution = attribution_line(
        &evidence,
        &culprits,
        confirmed,
        broken,
        &impacted,
        restored_at,
        &candidates,
    );
    let trigger = trigger(&evidence, &culprits, confirmed, broken);
    let contributing_factors = contributing(&evidence, &culprits, &impacted);
    let detection = detection(&evidence, started);
    let mut actions: Vec<TimedEvent> = evidence
        .hosts
        .iter()
        .filter_map(|h| {
            h.rolled_back.map(|r| TimedEvent {
                at: r.at,
                what: format!(
                    "{} rolled back to its snapshot{}",
                    h.host,
                    match (r.restored, r.checks_recorded) {
                        (true, true) => "; its checks pass again",
                        (true, false) =>
                            "; its rolled-back step recorded no regression against the baseline",
                        (false, _) => "; its checks STILL FAIL",
                    }
                ),
            })
        })
        .collect();
    if let Some(b) = &evidence.bisect
        && let Some(at) = b.at
    {
        actions.push(TimedEvent {
            at,
            what: format!(
                "package bisect on {} ({} rounds, {} tests): {}",
                b.host,
                b.rounds,
                b.tests,
                if b.culprits.is_empty() {
                    "the failure did not reproduce".to_owned()
                } else {
                    format!("culprit {}", b.culprits.join(" + "))
                }
            ),
        });
    }
    actions.extend(evidence.incident.transitions.iter().cloned());
    actions.sort();

    let timeline = timeline(&evidence, &actions);
    let summary = summary(&evidence, &culprits, confirmed, &failing, &impacted, ended);
    let action_items = action_items(&evidence, &culprits, broken, &failing);
    let mermaid = mermaid(&evidence, &culprits, confirmed);
    Report {
        schema: "fearless.rca/v1",
        incident: evidence.incident.id.clone(),
        title: evidence.incident.title.clone(),
        state: evidence.incident.state.clone(),
        attribution,
        confirmed,
        culprits,
        summary,
        impact: Impact {
            failing,
            impacted,
            hosts: failed_hosts.iter().map(|h| h.host.clone()).collect(),
            started,
            ended,
            seconds: match (started, ended) {
                (Some(s), Some(e)) => Some(e.as_second() - s.as_second()),
                _ => None,
            },
        },
        timeline,
        trigger,
        contributing_factors,
        detection,
        actions,
        candidates,
        mermaid,
        action_items,
        evidence,
    }
}

fn host_evidence(hosts: &[HostFacts]) -> Vec<HostEvidence> {
    hosts
        .iter()
        .map(|h| HostEvidence {
            host: h.host.clone(),
            failed: h.failed,
            failed_at: h.failed_at.map(Timestamp::as_second),
            changes: h
                .packages
                .iter()
                .map(|p| Changed {
                    name: p.name.clone(),
                    from: p.from.clone(),
                    to: p.to.clone(),
                    at: p.at.map(Timestamp::as_second),
                })
                .collect(),
        })
        .collect()
}

fn nodes(graph: &Subgraph, state: NodeState) -> Vec<String> {
    graph
        .nodes
        .iter()
        .filter(|(_, s)| *s == state)
        .map(|(n, _)| n.clone())
        .collect()
}

fn first_broken<'a>(
    checks: &'a [CheckTransition],
    failing: &[String],
) -> Option<&'a CheckTransition> {
    let bad = |c: &&CheckTransition| c.to != "pass";
    let mut roots: Vec<&CheckTransition> = checks
        .iter()
        .filter(bad)
        .filter(|c| failing.contains(&c.component))
        .collect();
    if roots.is_empty() {
        roots = checks.iter().filter(bad).collect();
    }
    roots.sort_by_key(|c| c.at);
    roots.first().copied()
}

/// The culprit's change on the failing hosts: `libacme 1.0 → 2.0` and where.
fn culprit_changes<'a>(evidence: &'a Evidence, culprit: &str) -> Vec<(&'a str, &'a PackageChange)> {
    evidence
        .hosts
        .iter()
        .filter(|h| h.failed)
        .flat_map(|h| {
            h.packages
                .iter()
                .filter(move |p| p.name == culprit)
                .map(move |p| (h.host.as_str(), p))
        })
        .collect()
}

fn verb(p: &PackageChange) -> String {
    match (&p.from, &p.to) {
        (Some(f), Some(t)) => format!("upgrading {} {f} → {t}", p.name),
        (None, Some(t)) => format!("installing {} {t}", p.name),
        (Some(f), None) => format!("removing {} {f}", p.name),
        (None, None) => format!("changing {}", p.name),
    }
}

/// The culprits' changes on the failing hosts, in words: joined "together with" when a bisect
/// confirmed they fail together, "or" when the host evidence cannot tell them apart.
fn what_changed(evidence: &Evidence, culprits: &[String], confirmed: bool) -> Option<String> {
    let mut parts = Vec::new();
    let mut hosts = BTreeSet::new();
    for c in culprits {
        let changes = culprit_changes(evidence, c);
        if let Some((_, p)) = changes.first() {
            parts.push(verb(p));
        } else {
            parts.push(format!("changing {c}"));
        }
        hosts.extend(changes.iter().map(|(h, _)| *h));
    }
    if parts.is_empty() {
        return None;
    }
    let on = if hosts.is_empty() {
        String::new()
    } else {
        format!(" on {}", hosts.into_iter().collect::<Vec<_>>().join(", "))
    };
    let joiner = if confirmed { " together with " } else { " or " };
    Some(format!("{}{on}", parts.join(joiner)))
}

fn check_phrase(c: &CheckTransition) -> String {
    let detail = if c.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.detail)
    };
    format!("check '{}' of {}{detail}", c.check, c.component)
}

fn hhmm(t: Timestamp) -> String {
    t.strftime("%H:%M").to_string()
}

fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn attribution_line(
    evidence: &Evidence,
    culprits: &[String],
    confirmed: bool,
    broken: Option<&CheckTransition>,
    impacted: &[String],
    restored_at: Option<Timestamp>,
    candidates: &[Candidate],
) -> String {
    let mut line = match what_changed(evidence, culprits, confirmed) {
        Some(what) => capitalise(&what),
        None => "No package change explains the failure".to_owned(),
    };
    if culprits.is_empty() {
        if let Some(b) = broken {
            line.push_str(&format!(" of {}", check_phrase(b)));
        }
    } else if let Some(b) = broken {
        line.push_str(&format!(" broke {}", check_phrase(b)));
    } else {
        line.push_str(" broke the checks");
    }
    if !impacted.is_empty() {
        line.push_str(&format!(", impacting {}", impacted.join(", ")));
    }
    if confirmed {
        if let Some(b) = &evidence.bisect {
            line.push_str(&format!("; confirmed by bisect in {} rounds", b.rounds));
        }
    } else if let Some(top) = candidates.first().filter(|_| !culprits.is_empty()) {
        line.push_str(&format!(
            "; inferred from host evidence (confidence {:.0}%), not confirmed by bisect",
            top.confidence * 100.0
        ));
    }
    if let Some(b) = evidence.bisect.as_ref().filter(|b| b.culprits.is_empty()) {
        line.push_str(&format!(
            "; a bisect on {} did not reproduce the failure",
            b.host
        ));
    }
    if let Some(at) = restored_at {
        line.push_str(&format!(
            "; rolled back at {} UTC, service restored",
            hhmm(at)
        ));
    } else if evidence
        .hosts
        .iter()
        .any(|h| h.rolled_back.is_some_and(|r| !r.restored))
    {
        line.push_str("; rolled back, but the checks still fail");
    }
    line.push('.');
    line
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn trigger(
    evidence: &Evidence,
    culprits: &[String],
    confirmed: bool,
    broken: Option<&CheckTransition>,
) -> String {
    let i = &evidence.incident;
    let by = match (&i.change, &i.rollout) {
        (Some(c), Some(r)) => format!("Change {c} (rollout {r})"),
        (Some(c), None) => format!("Change {c}"),
        _ => "A package change".to_owned(),
    };
    let changed: Vec<&HostFacts> = evidence
        .hosts
        .iter()
        .filter(|h| !h.packages.is_empty())
        .collect();
    let batch = changed.iter().map(|h| h.packages.len()).max().unwrap_or(0);
    let mut text = if i.manifest.is_empty() {
        format!(
            "{by} changed {batch} package(s) on {}.",
            list_or_none(changed.iter().map(|h| h.host.as_str()))
        )
    } else {
        format!(
            "{by} applied a batch of {} package update(s) to {}{}.",
            i.manifest.len(),
            list_or_none(changed.iter().map(|h| h.host.as_str())),
            i.wave
                .map(|w| format!("; the failure was seen in wave {w}"))
                .unwrap_or_default()
        )
    };
    match (what_changed(evidence, culprits, confirmed), broken) {
        (Some(what), Some(b)) => text.push_str(&format!(
            " After {what}, {} {}.",
            check_phrase(b),
            if b.to == "fail" {
                "fails"
            } else {
                b.to.as_str()
            }
        )),
        (Some(what), None) => text.push_str(&format!(" The failure follows {what}.")),
        (None, Some(b)) => text.push_str(&format!(
            " {} fails, and no package change seen on the hosts explains it.",
            capitalise(&check_phrase(b))
        )),
        (None, None) => {}
    }
    text
}

fn list_or_none<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = items.collect();
    if v.is_empty() {
        "no host".into()
    } else {
        v.join(", ")
    }
}

fn major(v: &str) -> &str {
    let v = v.split_once(':').map_or(v, |(_, rest)| rest);
    v.split(['.', '-', '+', '~']).next().unwrap_or(v)
}

fn contributing(evidence: &Evidence, culprits: &[String], impacted: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let batch = evidence.incident.manifest.len();
    if batch > 1 && !culprits.is_empty() {
        out.push(match evidence.bisect.as_ref().filter(|b| !b.culprits.is_empty()) {
            Some(b) => format!(
                "The culprit shipped in a batch of {batch} packages, so the batch had to be taken apart to find it ({} bisect round(s) on {}).",
                b.rounds, b.host
            ),
            None => format!(
                "The culprit shipped in a batch of {batch} packages, and no bisect took the batch apart: it is inferred from which hosts changed and failed."
            ),
        });
    }
    for c in culprits {
        if let Some((_, p)) = culprit_changes(evidence, c).first()
            && let (Some(f), Some(t)) = (&p.from, &p.to)
            && major(f) != major(t)
        {
            out.push(format!(
                "{c} {f} → {t} is a new major version: a break in its interface is expected there, and nothing held it back."
            ));
        }
    }
    for i in impacted {
        let via: Vec<&str> = evidence
            .graph
            .edges
            .iter()
            .filter(|(a, _)| a == i)
            .map(|(_, b)| b.as_str())
            .collect();
        out.push(format!(
            "{i} depends on {}, so the break spread to it.",
            if via.is_empty() {
                "a failing component".into()
            } else {
                via.join(", ")
            }
        ));
    }
    let unrecorded: Vec<String> = evidence
        .hosts
        .iter()
        .flat_map(|h| {
            h.packages
                .iter()
                .filter(|p| p.recorded_by.is_none())
                .map(move |p| format!("{} on {}", verb(p), h.host))
        })
        .collect();
    if !unrecorded.is_empty() {
        out.push(format!(
            "{} package change(s) were made outside any change record (unrecorded change): {}.",
            unrecorded.len(),
            unrecorded.join("; ")
        ));
    }
    out
}

fn detection(evidence: &Evidence, started: Option<Timestamp>) -> String {
    let i = &evidence.incident;
    let ttd = match (started, i.detected) {
        (Some(s), Some(d)) => format!(
            ", {} after the impact started",
            duration(d.as_second() - s.as_second())
        ),
        _ => String::new(),
    };
    match (&i.rollout, i.detected) {
        (Some(r), Some(d)) => {
            let later: Vec<&str> = evidence
                .hosts
                .iter()
                .filter(|h| h.touched_at.is_some_and(|t| t > d))
                .map(|h| h.host.as_str())
                .collect();
            let after = if !evidence.hosts.iter().any(|h| h.touched_at.is_some()) {
                String::new()
            } else if later.is_empty() {
                "; the rollout touched no other host after that".to_owned()
            } else {
                format!(
                    "; after that, the rollout still touched {}",
                    later.join(", ")
                )
            };
            format!(
                "Detected by the test-plan gate of rollout {r}{} at {} UTC{ttd}{after}.",
                i.wave.map(|w| format!(" in wave {w}")).unwrap_or_default(),
                stamp(d)
            )
        }
        (None, Some(d)) => format!("Reported by {} at {} UTC{ttd}.", i.opened_by, stamp(d)),
        _ => format!("Opened by {}.", i.opened_by),
    }
}

fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

fn timeline(evidence: &Evidence, actions: &[TimedEvent]) -> Vec<TimedEvent> {
    let mut out: Vec<TimedEvent> = evidence.events.clone();
    let i = &evidence.incident;
    for (at, what) in [(i.started, "impact started"), (i.detected, "detected")] {
        if let Some(at) = at {
            out.push(TimedEvent {
                at,
                what: format!("{}: {what}", i.id),
            });
        }
    }
    for c in &evidence.checks {
        if let Some(at) = c.at {
            out.push(TimedEvent {
                at,
                what: format!(
                    "{}/{}{}: {} → {}{}",
                    c.component,
                    c.check,
                    c.host
                        .as_ref()
                        .map(|h| format!(" on {h}"))
                        .unwrap_or_default(),
                    c.from.as_deref().unwrap_or("not observed"),
                    c.to,
                    if c.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", c.detail)
                    }
                ),
            });
        }
    }
    for h in &evidence.hosts {
        for p in h.packages.iter().filter(|p| p.recorded_by.is_none()) {
            if let Some(at) = p.at {
                out.push(TimedEvent {
                    at,
                    what: format!("{} on {} (unrecorded change)", verb(p), h.host),
                });
            }
        }
    }
    for f in &evidence.first_failures {
        out.push(TimedEvent {
            at: f.at,
            what: first_failure(evidence, f),
        });
    }
    out.extend(actions.iter().cloned());
    out.sort();
    out.dedup();
    out
}

/// How many of the changes before a first failure are named; the rest are counted.
const BEFORE_SHOWN: usize = 6;

/// "orders-api/http on web-2 first failed at … (run 17, monitor): fail (HTTP 502); before
/// it, since its last pass at … (run 16): …" — only what the evidence records between the
/// last ok result (or the start of the record) and the failure, on its host.
fn first_failure(evidence: &Evidence, f: &FirstFailure) -> String {
    let on = f
        .host
        .as_ref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default();
    let detail = if f.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", f.detail)
    };
    let after = f.last_ok.map(|ok| ok.at);
    let within = |t: Timestamp| t <= f.at && after.is_none_or(|a| t > a);
    let mut before: Vec<(Timestamp, String)> = Vec::new();
    if let Some(h) = evidence
        .hosts
        .iter()
        .find(|h| Some(&h.host) == f.host.as_ref())
    {
        for p in &h.packages {
            if let Some(at) = p.at.filter(|t| within(*t)) {
                let by = p
                    .recorded_by
                    .as_deref()
                    .map_or_else(|| "unrecorded change".to_owned(), str::to_owned);
                before.push((at, format!("{} at {} UTC ({by})", verb(p), stamp(at))));
            }
        }
        if let (Some(at), Some(r)) = (
            h.touched_at.filter(|t| within(*t)),
            &evidence.incident.rollout,
        ) {
            before.push((at, format!("{r} reached {} at {} UTC", h.host, stamp(at))));
        }
    }
    for c in &evidence.changes {
        let touches = f.host.as_ref().is_some_and(|h| c.hosts.contains(h))
            || c.components.contains(&f.component);
        if let Some(at) = c.started.filter(|t| touches && within(*t)) {
            before.push((
                at,
                format!("{} ({}) started at {} UTC", c.id, c.title, stamp(at)),
            ));
        }
    }
    before.sort();
    before.dedup();
    let since = match f.last_ok {
        Some(ok) => format!(
            "since its last pass at {} UTC (run {})",
            stamp(ok.at),
            ok.run
        ),
        None => "with no earlier pass recorded".to_owned(),
    };
    let place = f
        .host
        .as_ref()
        .map_or_else(|| format!("for {}", f.component), |h| format!("on {h}"));
    let changed = if before.is_empty() {
        format!("nothing recorded changed {place} {since}")
    } else {
        let hidden = before.len().saturating_sub(BEFORE_SHOWN);
        let shown: Vec<String> = before
            .iter()
            .skip(hidden)
            .map(|(_, what)| what.clone())
            .collect();
        let earlier = if hidden > 0 {
            format!(" (and {hidden} earlier)")
        } else {
            String::new()
        };
        format!("{since}: {}{earlier}", shown.join("; "))
    };
    format!(
        "{}/{}{on} first failed at {} UTC (run {}, {}): {}{detail}; before it, {changed}",
        f.component,
        f.check,
        stamp(f.at),
        f.run,
        f.trigger,
        f.status
    )
}

fn summary(
    evidence: &Evidence,
    culprits: &[String],
    confirmed: bool,
    failing: &[String],
    impacted: &[String],
    ended: Option<Timestamp>,
) -> String {
    let hosts = &evidence.hosts;
    let count = |f: &dyn Fn(&HostFacts) -> bool| hosts.iter().filter(|h| f(h)).count();
    let changed_failed = count(&|h| !h.packages.is_empty() && h.failed);
    let changed_passed = count(&|h| !h.packages.is_empty() && !h.failed);
    let unchanged = count(&|h| h.packages.is_empty());
    let mut text = format!(
        "{} failed its checks ({}){}. Of the {} host(s) in scope, {changed_failed} changed and failed, {changed_passed} changed and passed, {unchanged} did not change.",
        if failing.is_empty() {
            "Nothing".to_owned()
        } else {
            failing.join(", ")
        },
        list_or_none(hosts.iter().filter(|h| h.failed).map(|h| h.host.as_str())),
        if impacted.is_empty() {
            String::new()
        } else {
            format!(", impacting {}", impacted.join(", "))
        },
        hosts.len(),
    );
    if !culprits.is_empty() && confirmed {
        text.push_str(&format!(
            " The cause is {}, confirmed by a bisect.",
            culprits.join(" + ")
        ));
    } else if !culprits.is_empty() {
        text.push_str(&format!(
            " Host evidence points at {}; no bisect confirmed it.",
            culprits.join(" or ")
        ));
    }
    match ended {
        Some(e) => text.push_str(&format!(" Service was restored at {} UTC.", stamp(e))),
        None => text.push_str(" Service is not known to be restored."),
    }
    text
}

fn action_items(
    evidence: &Evidence,
    culprits: &[String],
    broken: Option<&CheckTransition>,
    failing: &[String],
) -> Vec<ActionItem> {
    let mut items = Vec::new();
    let who = broken
        .map(|b| b.component.clone())
        .or_else(|| failing.first().cloned())
        .unwrap_or_else(|| "the failing component".into());
    for c in culprits {
        let hold = culprit_changes(evidence, c)
            .first()
            .and_then(|(_, p)| Some((p.from.clone(), p.to.clone()?)))
            .map(|(from, to)| {
                // Below the new major version when the change crossed one, else below the
                // new version itself.
                let below = match from {
                    Some(f) if major(&f) != major(&to) => major(&to).to_owned(),
                    _ => to.clone(),
                };
                format!(
                    "Hold {c} below {below} (add `{c}` to `patch.exclude`) until {who} works with {c} {to}; then ship {c} as a change of its own."
                )
            })
            .unwrap_or_else(|| format!("Hold {c} (add `{c}` to `patch.exclude`) until {who} works with the new version."));
        items.push(ActionItem {
            kind: ItemKind::Prevent,
            text: hold,
        });
    }
    if evidence
        .hosts
        .iter()
        .any(|h| h.packages.iter().any(|p| p.recorded_by.is_none()))
    {
        items.push(ActionItem {
            kind: ItemKind::Prevent,
            text: "Make package changes through change records (`fearless patch`), so every change is attributable.".into(),
        });
    }
    match (&evidence.incident.rollout, broken) {
        (Some(r), Some(b)) => items.push(ActionItem {
            kind: ItemKind::Detect,
            text: format!(
                "Run check '{}' of {} on a schedule (`fearless check`) as well as in rollouts: this failure was caught by the gate of rollout {r}.",
                b.check, b.component
            ),
        }),
        (None, Some(b)) => items.push(ActionItem {
            kind: ItemKind::Detect,
            text: format!(
                "Alert on check '{}' of {}: a person noticed this before fearless did.",
                b.check, b.component
            ),
        }),
        (_, None) => items.push(ActionItem {
            kind: ItemKind::Detect,
            text: format!("Add a check to {who} that fails on this impact: none of its checks did."),
        }),
    }
    if evidence.bisect.is_none() && !culprits.is_empty() {
        items.push(ActionItem {
            kind: ItemKind::Mitigate,
            text:
                "Set `patch.bisect: auto` so a failed canary names its culprit during the rollout."
                    .into(),
        });
    }
    let unrestored: Vec<&str> = evidence
        .hosts
        .iter()
        .filter(|h| h.rolled_back.is_some_and(|r| !r.restored))
        .map(|h| h.host.as_str())
        .collect();
    if !unrestored.is_empty() {
        items.push(ActionItem {
            kind: ItemKind::Mitigate,
            text: format!(
                "Restore {} by hand: rolling back to the snapshot did not bring the checks back (`fearless snapshot diff SNAP-N --live` shows what differs from the snapshot).",
                unrestored.join(", ")
            ),
        });
    }
    if evidence
        .hosts
        .iter()
        .any(|h| h.failed && h.rolled_back.is_none())
    {
        items.push(ActionItem {
            kind: ItemKind::Mitigate,
            text: "Roll the failing hosts back to their last snapshot (`fearless packages rollback --snapshot SNAP-N`).".into(),
        });
    } else if let Some(text) = waves_item(evidence) {
        items.push(ActionItem {
            kind: ItemKind::Mitigate,
            text,
        });
    }
    items
}

/// What the rollout's waves did for the impact, when the incident came from a rollout.
fn waves_item(evidence: &Evidence) -> Option<String> {
    let wave = evidence.incident.wave?;
    evidence.incident.rollout.as_ref()?;
    let changed: Vec<&str> = evidence
        .hosts
        .iter()
        .filter(|h| !h.packages.is_empty())
        .map(|h| h.host.as_str())
        .collect();
    let failed: Vec<&str> = evidence
        .hosts
        .iter()
        .filter(|h| h.failed)
        .map(|h| h.host.as_str())
        .collect();
    Some(if wave == 1 && changed.iter().all(|h| failed.contains(h)) {
        format!(
            "Keep canary waves with `patch.rollback: auto`: here the failure stayed on the canary ({}).",
            list_or_none(failed.iter().copied())
        )
    } else {
        format!(
            "Make the waves before wave {wave} catch more (a larger canary, a longer bake, a check that fails earlier): the failure was caught in wave {wave}, after {} host(s) had taken the batch ({}).",
            changed.len(),
            list_or_none(changed.iter().copied())
        )
    })
}

fn node_id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn mermaid_label(s: &str) -> String {
    s.replace('"', "#quot;")
}

fn mermaid(evidence: &Evidence, culprits: &[String], confirmed: bool) -> String {
    let mut m = String::from("graph LR\n");
    for (name, _) in &evidence.graph.nodes {
        let _ = writeln!(m, "  {}[\"{}\"]", node_id(name), mermaid_label(name));
    }
    for (a, b) in &evidence.graph.edges {
        let _ = writeln!(m, "  {} -->|depends on| {}", node_id(a), node_id(b));
    }
    let failing = nodes(&evidence.graph, NodeState::Failing);
    for c in culprits {
        let label = culprit_changes(evidence, c)
            .first()
            .map(|(_, p)| match (&p.from, &p.to) {
                (Some(f), Some(t)) => format!("{c} {f} → {t}"),
                _ => c.clone(),
            })
            .unwrap_or_else(|| c.clone());
        let id = format!("pkg_{}", node_id(c));
        let _ = writeln!(m, "  {id}{{{{\"{}\"}}}}", mermaid_label(&label));
        for f in &failing {
            let verb = if confirmed { "broke" } else { "suspected" };
            let _ = writeln!(m, "  {id} -.->|{verb}| {}", node_id(f));
        }
    }
    m.push_str("  classDef failing fill:#f8d0d0,stroke:#b00000\n");
    m.push_str("  classDef impacted fill:#fde8c8,stroke:#b06000\n");
    m.push_str("  classDef package fill:#e0e0f8,stroke:#303090\n");
    for (name, state) in &evidence.graph.nodes {
        match state {
            NodeState::Failing => {
                let _ = writeln!(m, "  class {} failing", node_id(name));
            }
            NodeState::Impacted => {
                let _ = writeln!(m, "  class {} impacted", node_id(name));
            }
            NodeState::Healthy => {}
        }
    }
    for c in culprits {
        let _ = writeln!(m, "  class pkg_{} package", node_id(c));
    }
    m
}

/// Markdown text: backslash-escape what Markdown would read as syntax, `<` `>` `&`, and
/// control characters written visibly (`\u{1b}`).
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push(' '),
            // A report is read on terminals too: a control character is shown, never obeyed.
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "—".into(), |t| format!("{} UTC", stamp(t)))
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let e = &r.evidence;
    let i = &e.incident;
    let mut s = String::new();
    let _ = writeln!(s, "# {}: {}\n", md(&r.incident), md(&r.title));
    let _ = writeln!(s, "> **{}**\n", md(&r.attribution));
    let mut meta = vec![format!("state: {}", md(&r.state))];
    if let Some(c) = &i.change {
        meta.push(format!("change {}", md(c)));
    }
    if let Some(ro) = &i.rollout {
        meta.push(format!("rollout {}", md(ro)));
    }
    meta.push(format!("opened by {}", md(&i.opened_by)));
    let _ = writeln!(s, "{}\n", meta.join(" · "));

    let _ = writeln!(s, "## Summary\n\n{}\n", md(&r.summary));

    let _ = writeln!(s, "## Impact\n\n| | |\n|---|---|");
    let _ = writeln!(s, "| failing | {} |", md(&list_or_dash(&r.impact.failing)));
    let _ = writeln!(
        s,
        "| impacted | {} |",
        md(&list_or_dash(&r.impact.impacted))
    );
    let _ = writeln!(s, "| hosts | {} |", md(&list_or_dash(&r.impact.hosts)));
    let _ = writeln!(s, "| started | {} |", opt_time(r.impact.started));
    let _ = writeln!(s, "| ended | {} |", opt_time(r.impact.ended));
    let _ = writeln!(
        s,
        "| duration | {} |\n",
        r.impact.seconds.map_or_else(|| "ongoing".into(), duration)
    );

    let _ = writeln!(s, "## Timeline (UTC)\n\n| time | what |\n|---|---|");
    for t in &r.timeline {
        let _ = writeln!(s, "| {} | {} |", stamp(t.at), md(&t.what));
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Trigger\n\n{}\n", md(&r.trigger));
    let _ = writeln!(s, "## Contributing factors\n");
    if r.contributing_factors.is_empty() {
        let _ = writeln!(s, "None found in the evidence.");
    }
    for f in &r.contributing_factors {
        let _ = writeln!(s, "- {}", md(f));
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "## Detection\n\n{}\n", md(&r.detection));
    let _ = writeln!(s, "## Actions taken\n");
    if r.actions.is_empty() {
        let _ = writeln!(s, "None recorded.");
    } else {
        let _ = writeln!(s, "| time | action |\n|---|---|");
        for a in &r.actions {
            let _ = writeln!(s, "| {} | {} |", stamp(a.at), md(&a.what));
        }
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Evidence\n\n### Hosts\n");
    let _ = writeln!(
        s,
        "| host | changed | checks | outcome | packages changed |\n|---|---|---|---|---|"
    );
    for h in &e.hosts {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            md(&h.host),
            if h.packages.is_empty() { "no" } else { "yes" },
            if h.failed {
                "**fail**"
            } else if matches!(h.outcome.as_deref(), Some("pending" | "snapshotted")) {
                "not run"
            } else {
                "pass"
            },
            md(match h.outcome.as_deref() {
                None => "—",
                Some("pending") => "not touched",
                Some(o) => o,
            }),
            md(&h
                .packages
                .iter()
                .map(|p| match (&p.from, &p.to) {
                    (Some(f), Some(t)) => format!("{} {f}→{t}", p.name),
                    (None, Some(t)) => format!("{} +{t}", p.name),
                    (Some(f), None) => format!("{} -{f}", p.name),
                    (None, None) => p.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", "))
        );
    }
    let _ = writeln!(s, "\n### Check transitions\n");
    if e.checks.is_empty() {
        let _ = writeln!(s, "No check changed state.");
    } else {
        let _ = writeln!(
            s,
            "| time | check | host | before | after | detail |\n|---|---|---|---|---|---|"
        );
        for c in &e.checks {
            let _ = writeln!(
                s,
                "| {} | {}/{} | {} | {} | {} | {} |",
                c.at.map_or_else(|| "—".into(), stamp),
                md(&c.component),
                md(&c.check),
                md(c.host.as_deref().unwrap_or("—")),
                md(c.from.as_deref().unwrap_or("not observed")),
                md(&c.to),
                md(&c.detail)
            );
        }
    }
    let _ = writeln!(s, "\n### Candidate causes (host evidence)\n");
    if r.candidates.is_empty() {
        let _ = writeln!(s, "No package changed on a failing host.");
    } else {
        let _ = writeln!(
            s,
            "| package | confidence | changed & failing | changed & passing | failing without it |\n|---|---|---|---|---|"
        );
        for c in &r.candidates {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {} | {} | {} |",
                md(&c.package),
                c.confidence,
                md(&list_or_dash(&c.changed_and_failing)),
                md(&list_or_dash(&c.changed_and_passing)),
                md(&list_or_dash(&c.failing_without_it))
            );
        }
    }
    // The evidence behind the culprit (or, without one, the first candidate).
    let named: Vec<&Candidate> = r
        .candidates
        .iter()
        .filter(|c| r.culprits.contains(&c.package))
        .collect();
    let shown = if named.is_empty() {
        r.candidates.iter().take(1).collect()
    } else {
        named
    };
    for c in shown {
        let _ = writeln!(s, "\nEvidence on {}:\n", md(&c.package));
        for line in &c.evidence {
            let _ = writeln!(s, "- {}", md(line));
        }
    }
    let _ = writeln!(s, "\n### Change records in the window\n");
    if e.changes.is_empty() {
        let _ = writeln!(s, "None touches these hosts or components.");
    } else {
        let _ = writeln!(
            s,
            "| change | state | title | hosts | implemented |\n|---|---|---|---|---|"
        );
        for c in &e.changes {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} → {} |",
                md(&c.id),
                md(&c.state),
                md(&c.title),
                md(&list_or_dash(&c.hosts)),
                c.started.map_or_else(|| "—".into(), stamp),
                c.ended.map_or_else(|| "—".into(), stamp)
            );
        }
    }
    let unrecorded: Vec<(&str, &PackageChange)> = e
        .hosts
        .iter()
        .flat_map(|h| {
            h.packages
                .iter()
                .filter(|p| p.recorded_by.is_none())
                .map(move |p| (h.host.as_str(), p))
        })
        .collect();
    let _ = writeln!(s, "\n### Unrecorded changes\n");
    if unrecorded.is_empty() {
        let _ = writeln!(
            s,
            "None: every package change in the window belongs to a change record."
        );
    } else {
        let _ = writeln!(s, "| time | host | change |\n|---|---|---|");
        for (h, p) in unrecorded {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                p.at.map_or_else(|| "—".into(), stamp),
                md(h),
                md(&verb(p))
            );
        }
    }
    if let Some(b) = &e.bisect {
        let _ = writeln!(s, "\n### Bisect\n");
        let _ = writeln!(
            s,
            "On {}: {} in {} round(s), {} test(s){}; the host {} afterwards.",
            md(&b.host),
            if b.culprits.is_empty() {
                "the failure did not reproduce".to_owned()
            } else {
                format!("culprit {}", md(&b.culprits.join(" + ")))
            },
            b.rounds,
            b.tests,
            if b.flaky > 0 {
                format!(", {} flaky round(s) re-run", b.flaky)
            } else {
                String::new()
            },
            if b.restored {
                "was back on its snapshot, passing,"
            } else {
                "FAILED its checks"
            }
        );
    }
    let _ = writeln!(
        s,
        "\n### Dependency subgraph\n\n```mermaid\n{}```\n",
        r.mermaid
    );
    let _ = writeln!(s, "## Action items\n\n| kind | action |\n|---|---|");
    for a in &r.action_items {
        let kind = match a.kind {
            ItemKind::Prevent => "prevent",
            ItemKind::Detect => "detect",
            ItemKind::Mitigate => "mitigate",
        };
        let _ = writeln!(s, "| {kind} | {} |", md(&a.text));
    }
    if !e.gaps.is_empty() {
        let _ = writeln!(s, "\n## Evidence gaps\n");
        for g in &e.gaps {
            let _ = writeln!(s, "- {}", md(g));
        }
    }
    s
}

fn list_or_dash(v: &[String]) -> String {
    if v.is_empty() {
        "—".into()
    } else {
        v.join(", ")
    }
}

/// The report as a standalone HTML page (the Markdown, rendered; raw HTML in the data is
/// shown as text, never interpreted; the Mermaid source is kept in a `mermaid` block).
pub fn html(r: &Report) -> String {
    let body = markdown_html(&markdown(r));
    let title = escape_html(&format!("{}: {}", r.incident, r.title));
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\nbody{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}}\ntable{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}}\nblockquote{{border-left:4px solid #b00000;margin:0;padding:.25rem 1rem;background:#fbeaea}}\npre.mermaid{{background:#f6f6f6;padding:.5rem}}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}

/// A report's Markdown (as kept with its incident) as an HTML fragment: raw HTML in the
/// text is shown as text, never interpreted, a link is kept only when it goes to a web
/// address or within the page, and the Mermaid source stays in a `pre.mermaid` block.
pub fn markdown_html(text: &str) -> String {
    use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd, html};
    let mut in_mermaid = false;
    let mut dropped_links = 0usize;
    let events = Parser::new_ext(text, Options::ENABLE_TABLES).filter_map(|ev| {
        Some(match ev {
            Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) if &*lang == "mermaid" => {
                in_mermaid = true;
                Event::Html(CowStr::Borrowed("<pre class=\"mermaid\">"))
            }
            Event::End(TagEnd::CodeBlock) if in_mermaid => {
                in_mermaid = false;
                Event::Html(CowStr::Borrowed("</pre>\n"))
            }
            Event::Start(Tag::Link { ref dest_url, .. })
                if !["https://", "http://", "#", "/"]
                    .iter()
                    .any(|p| dest_url.starts_with(p)) =>
            {
                dropped_links += 1;
                return None;
            }
            Event::End(TagEnd::Link) if dropped_links > 0 => {
                dropped_links -= 1;
                return None;
            }
            other => other,
        })
    });
    let mut body = String::new();
    html::push_html(&mut body, events);
    body
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn change(name: &str, from: &str, to: &str, at: &str) -> PackageChange {
        PackageChange {
            name: name.into(),
            from: Some(from.into()),
            to: Some(to.into()),
            at: Some(t(at)),
            recorded_by: Some("R-1".into()),
        }
    }

    fn routine(at: &str) -> Vec<PackageChange> {
        ["acme-api", "acme-web", "acme-docs"]
            .iter()
            .map(|n| change(n, "1.0", "1.1", at))
            .collect()
    }

    fn canary() -> Evidence {
        let mut batch = routine("2026-12-02T10:40:05Z");
        batch.push(change("libacme", "1.0", "2.0", "2026-12-02T10:40:05Z"));
        Evidence {
            incident: IncidentFacts {
                id: "INC-1".into(),
                title: "CHG-1: rollout R-1 stopped".into(),
                state: "open".into(),
                opened_by: "R-1".into(),
                change: Some("CHG-1".into()),
                rollout: Some("R-1".into()),
                wave: Some(1),
                manifest: vec![
                    "acme-api=1.1".into(),
                    "acme-web=1.1".into(),
                    "acme-docs=1.1".into(),
                    "libacme=2.0".into(),
                ],
                components: vec![],
                started: Some(t("2026-12-02T10:40:00Z")),
                detected: Some(t("2026-12-02T10:40:12Z")),
                mitigated: None,
                resolved: None,
                transitions: Vec::new(),
            },
            hosts: vec![
                HostFacts {
                    host: "web-1".into(),
                    failed: true,
                    failed_at: Some(t("2026-12-02T10:40:12Z")),
                    packages: batch,
                    outcome: Some("rolled-back".into()),
                    rolled_back: Some(Restore {
                        at: t("2026-12-02T10:42:30Z"),
                        restored: true,
                        checks_recorded: true,
                    }),
                    wave: Some(1),
                    touched_at: Some(t("2026-12-02T10:40:01Z")),
                },
                HostFacts {
                    host: "web-2".into(),
                    ..HostFacts::default()
                },
            ],
            checks: vec![
                CheckTransition {
                    component: "checkout".into(),
                    check: "checkout".into(),
                    host: Some("web-1".into()),
                    from: Some("pass".into()),
                    to: "fail".into(),
                    detail: "HTTP 502".into(),
                    at: Some(t("2026-12-02T10:40:12Z")),
                },
                CheckTransition {
                    component: "orders-api".into(),
                    check: "orders".into(),
                    host: Some("web-1".into()),
                    from: Some("pass".into()),
                    to: "fail".into(),
                    detail: "HTTP 500".into(),
                    at: Some(t("2026-12-02T10:40:12Z")),
                },
            ],
            graph: Subgraph {
                nodes: vec![
                    ("orders-api".into(), NodeState::Failing),
                    ("checkout".into(), NodeState::Impacted),
                ],
                edges: vec![("checkout".into(), "orders-api".into())],
            },
            bisect: Some(BisectFacts {
                host: "web-1".into(),
                culprits: vec!["libacme".into()],
                rounds: 4,
                tests: 6,
                flaky: 0,
                at: Some(t("2026-12-02T10:42:20Z")),
                restored: true,
            }),
            ..Evidence::default()
        }
    }

    #[test]
    fn the_canary_sentence_names_package_versions_check_impact_bisect_and_restore() {
        let r = build(canary());
        assert_eq!(
            r.attribution,
            "Upgrading libacme 1.0 → 2.0 on web-1 broke check 'orders' of orders-api (HTTP 500), impacting checkout; confirmed by bisect in 4 rounds; rolled back at 10:42 UTC, service restored."
        );
        assert!(r.confirmed);
        assert_eq!(r.impact.seconds, Some(150));
        assert!(r.action_items.iter().any(|a| a.kind == ItemKind::Prevent
            && a.text.starts_with("Hold libacme below 2 (add `libacme` to `patch.exclude`) until orders-api works with libacme 2.0")));
        assert!(
            r.contributing_factors
                .iter()
                .any(|f| f.contains("new major version"))
        );
        assert!(
            r.mermaid.contains("checkout -->|depends on| orders_api"),
            "{}",
            r.mermaid
        );
        assert!(
            r.mermaid.contains("pkg_libacme -.->|broke| orders_api"),
            "{}",
            r.mermaid
        );
        let libacme = r
            .candidates
            .iter()
            .find(|c| c.package == "libacme")
            .expect("candidate");
        for line in [
            "dependency path of the failure: checkout → orders-api (depends on)",
            "rolling libacme back on web-1 restored its checks",
        ] {
            assert!(
                libacme.evidence.iter().any(|e| e == line),
                "{:?}",
                libacme.evidence
            );
        }
    }

    #[test]
    fn without_bisect_the_host_evidence_decides_and_says_so() {
        let mut e = canary();
        e.bisect = None;
        let mut passing = routine("2026-12-02T10:40:05Z");
        for p in &mut passing {
            p.recorded_by = None;
        }
        e.hosts[1].packages = passing;
        let r = build(e);
        assert_eq!(r.culprits, ["libacme"]);
        assert!(!r.confirmed);
        assert!(
            r.attribution
                .contains("inferred from host evidence (confidence 100%)"),
            "{}",
            r.attribution
        );
        assert!(
            r.contributing_factors
                .iter()
                .any(|f| f.contains("unrecorded change"))
        );
        assert!(
            r.timeline
                .iter()
                .any(|t| t.what.contains("(unrecorded change)"))
        );
        assert!(
            r.action_items
                .iter()
                .any(|a| a.text.contains("patch.bisect: auto"))
        );
    }

    #[test]
    fn a_failure_no_change_explains_is_said_plainly() {
        let mut e = canary();
        e.bisect = Some(BisectFacts {
            culprits: vec![],
            ..e.bisect.clone().expect("bisect")
        });
        for h in &mut e.hosts {
            h.packages.clear();
        }
        let r = build(e);
        assert!(r.culprits.is_empty());
        assert!(
            r.attribution.starts_with(
                "No package change explains the failure of check 'orders' of orders-api"
            ),
            "{}",
            r.attribution
        );
        assert!(
            r.attribution.contains("did not reproduce"),
            "{}",
            r.attribution
        );
    }

    #[test]
    fn data_is_never_markup() {
        let mut e = canary();
        e.incident.title = "<script>alert(1)</script> | *x*\u{1b}]0;pwned\u{7}".into();
        let r = build(e);
        let text = markdown(&r);
        assert!(
            text.starts_with("# INC-1: &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*x\\*"),
            "{text}"
        );
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("\\u{1b}\\]0;pwned\\u{7}"), "{text}");
        let page = html(&r);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("<pre class=\"mermaid\">"), "{page}");
        assert!(page.contains("<table>"), "{page}");
    }

    fn first_failure(host: &str, at: &str, last_ok: Option<(u64, &str)>) -> FirstFailure {
        FirstFailure {
            component: "orders-api".into(),
            check: "orders".into(),
            host: Some(host.into()),
            at: t(at),
            run: 17,
            trigger: "monitor".into(),
            status: "fail".into(),
            detail: "HTTP 500".into(),
            last_ok: last_ok.map(|(run, at)| RecordedRun { run, at: t(at) }),
        }
    }

    #[test]
    fn a_first_failure_enters_the_timeline_with_what_changed_on_its_host_before_it() {
        let mut e = canary();
        e.changes.push(ChangeFacts {
            id: "CHG-1".into(),
            title: "monthly patch".into(),
            state: "implementing".into(),
            hosts: vec!["web-1".into()],
            components: vec![],
            started: Some(t("2026-12-02T10:39:50Z")),
            ended: None,
        });
        e.first_failures = vec![
            first_failure(
                "web-1",
                "2026-12-02T10:40:30Z",
                Some((16, "2026-12-02T10:39:30Z")),
            ),
            // Nothing of web-2 is recorded after its last pass.
            first_failure(
                "web-2",
                "2026-12-02T10:41:30Z",
                Some((18, "2026-12-02T10:41:00Z")),
            ),
            // No pass recorded: everything before it counts.
            first_failure("web-3", "2026-12-02T10:41:40Z", None),
        ];
        let r = build(e.clone());
        let lines: Vec<&str> = r
            .timeline
            .iter()
            .map(|x| x.what.as_str())
            .filter(|w| w.contains("first failed"))
            .collect();
        assert_eq!(
            lines,
            [
                "orders-api/orders on web-1 first failed at 2026-12-02 10:40:30 UTC (run 17, monitor): fail (HTTP 500); before it, since its last pass at 2026-12-02 10:39:30 UTC (run 16): CHG-1 (monthly patch) started at 2026-12-02 10:39:50 UTC; R-1 reached web-1 at 2026-12-02 10:40:01 UTC; upgrading acme-api 1.0 → 1.1 at 2026-12-02 10:40:05 UTC (R-1); upgrading acme-docs 1.0 → 1.1 at 2026-12-02 10:40:05 UTC (R-1); upgrading acme-web 1.0 → 1.1 at 2026-12-02 10:40:05 UTC (R-1); upgrading libacme 1.0 → 2.0 at 2026-12-02 10:40:05 UTC (R-1)",
                "orders-api/orders on web-2 first failed at 2026-12-02 10:41:30 UTC (run 17, monitor): fail (HTTP 500); before it, nothing recorded changed on web-2 since its last pass at 2026-12-02 10:41:00 UTC (run 18)",
                "orders-api/orders on web-3 first failed at 2026-12-02 10:41:40 UTC (run 17, monitor): fail (HTTP 500); before it, nothing recorded changed on web-3 with no earlier pass recorded",
            ]
        );
        // Same evidence, same report, byte for byte.
        assert_eq!(markdown(&r), markdown(&build(e)));
        assert!(markdown(&r).contains("first failed at 2026-12-02 10:40:30 UTC (run 17, monitor)"));
    }
}
