//! The continuous test plan and its history: [`Engine::record_checks`] stores a run of the
//! plan and moves each check's damped state, [`Monitor`] runs the whole plan every
//! `monitor.interval` (jittered, never two runs at once, history pruned to
//! `monitor.retention`), and [`localise`] / [`localise_run`] lay a run's results over the
//! dependency graph — the one place that turns results into localisation's observations, for
//! `fearless check`, the dashboard and its metrics alike.
//!
//! Damping is Nagios' soft and hard states: a check turns hard-failed after
//! `monitor.confirm` failing results in a row (`fail`, `error`) and hard-recovered after as
//! many ok ones (`pass`, `degraded`); `skipped` counts neither way. A check's first ok
//! result sets its state quietly; its first failing ones must be confirmed like any other.
//! Only hard transitions are journaled (`check.failed`, `check.recovered`, in the same
//! transaction as the state) and sent (`fearless.check.failed.v1`,
//! `fearless.check.recovered.v1`); the runs themselves are history, not journal.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fearless_config::{Config, MonitorPolicy, RunOn};
use fearless_graph::{Graph, Localisation, Observation};
use fearless_probe::result::{CheckResult, Reason, Status};
use fearless_probe::runner;
use fearless_store::{CheckRow, CheckRun, CheckState, NewCheckRun, StateUpdate, StatusCounts};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::{Mutex, watch};

use crate::record::{self, CheckFailed, CheckHardState, CheckRecovered};
use crate::{CheckSet, Engine, EngineError};

/// The event type of a check that turned hard-failed.
pub const CHECK_FAILED: &str = "fearless.check.failed.v1";
/// The event type of a check that turned hard-recovered.
pub const CHECK_RECOVERED: &str = "fearless.check.recovered.v1";

/// What ran a check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The continuous test plan ([`Monitor`]).
    Monitor,
    /// `fearless check --record`.
    Check,
}

impl Trigger {
    /// `monitor`, `check`: how the store keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Monitor => "monitor",
            Trigger::Check => "check",
        }
    }
}

/// Which way a check's hard state turned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Turn {
    /// It was ok (or not known yet) and is now confirmed failing.
    Failed,
    /// It was failing and is now confirmed ok.
    Recovered,
}

/// A hard transition of one check, as journaled and sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// Which way.
    pub turn: Turn,
    /// The journal subject, `check:COMPONENT/CHECK@HOST` (`@HOST` absent for a check run
    /// from the controller).
    pub subject: String,
    /// What was recorded.
    pub state: CheckHardState,
}

/// A recorded run: its id in the store and the hard transitions it caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRun {
    /// The run's id (`Store::latest_check_run`, `check_history`'s `run_id`).
    pub id: u64,
    /// Its results counted by status.
    pub counts: StatusCounts,
    /// The hard transitions, in result order.
    pub transitions: Vec<Transition>,
}

/// The journal subject of a check: `check:orders-api/http@web-2`, or `check:dns/resolve`.
pub fn subject(component: &str, check: &str, host: Option<&str>) -> String {
    match host {
        Some(h) => format!("check:{component}/{check}@{h}"),
        None => format!("check:{component}/{check}"),
    }
}

/// A result as the store keeps it.
pub fn row(r: &CheckResult) -> CheckRow {
    CheckRow {
        component: r.component.clone(),
        check: r.check.clone(),
        host: r.host.clone(),
        kind: r.kind.to_owned(),
        runs_on: run_on_str(r.runs_on).to_owned(),
        status: r.status.as_str().to_owned(),
        reason: r.reason.map(|x| x.as_str().to_owned()),
        message: r.message.clone(),
        duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
    }
}

fn run_on_str(r: RunOn) -> &'static str {
    match r {
        RunOn::Hosts => "hosts",
        RunOn::Controller => "controller",
    }
}

/// The declared dependency graph of `config`.
pub fn graph(config: &Config) -> Graph {
    Graph::new(
        config
            .components
            .values()
            .map(|c| (c.name.as_str(), c.depends_on.as_slice())),
    )
}

/// Root suspects, impacted components and unreachable hosts of results just taken.
pub fn localise(config: &Config, results: &[CheckResult]) -> Localisation {
    let observations: Vec<Observation> = results
        .iter()
        .map(|r| Observation {
            component: r.component.clone(),
            host: r.host.clone(),
            ok: r.status.is_ok(),
            skipped: r.status == Status::Skipped,
            transport: runner::is_transport_failure(r),
            via_transport: runner::ran_through_transport(r),
        })
        .collect();
    fearless_graph::localise(&graph(config), &observations)
}

/// [`localise`] of a stored run: the same observations, read from the rows as recorded
/// (the kind and place each check ran then, not the configuration's now).
pub fn localise_run(config: &Config, run: &CheckRun) -> Localisation {
    let observations: Vec<Observation> = run
        .results
        .iter()
        .map(|r| {
            let status = class(&r.status);
            let transport_reason = matches!(
                r.reason.as_deref(),
                Some(x) if x == Reason::Transport.as_str() || x == Reason::Auth.as_str()
            );
            Observation {
                component: r.component.clone(),
                host: r.host.clone(),
                ok: status == Class::Ok,
                skipped: status == Class::Skipped,
                transport: r.status == Status::Error.as_str() && transport_reason,
                via_transport: r.runs_on == run_on_str(RunOn::Hosts) && r.host.is_some(),
            }
        })
        .collect();
    fearless_graph::localise(&graph(config), &observations)
}

/// How a status counts for damping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Ok,
    Failing,
    Skipped,
    /// `unknown`: a check whose first results fail, not confirmed yet.
    Unknown,
}

fn class(status: &str) -> Class {
    match status {
        "pass" | "degraded" => Class::Ok,
        "fail" | "error" => Class::Failing,
        "skipped" => Class::Skipped,
        _ => Class::Unknown,
    }
}

/// The hard status of a check whose first results fail, before they are confirmed.
pub const UNKNOWN: &str = "unknown";

/// One result against its check's state: the state to write when it moved, and the turn
/// when it turned hard. Pure: the rules of the module's doc.
fn damp(
    before: Option<&CheckState>,
    r: &CheckRow,
    (run, at): (u64, OffsetDateTime),
    confirm: u32,
) -> (Option<CheckState>, Option<(Turn, CheckState)>) {
    let now = class(&r.status);
    if now == Class::Skipped {
        return (None, None);
    }
    let fresh = |hard: &str, since| CheckState {
        component: r.component.clone(),
        check: r.check.clone(),
        host: r.host.clone(),
        hard: hard.to_owned(),
        since,
        consecutive: 0,
        soft: None,
        soft_since: None,
        moved_in: run,
    };
    let Some(s) = before else {
        // First ever: an ok result is the state; a failing one starts a soft streak.
        return match now {
            Class::Ok => (Some(fresh(&r.status, at)), None),
            _ => soft(&fresh(UNKNOWN, at), r, (run, at), confirm),
        };
    };
    let hard = class(&s.hard);
    if hard == now {
        // Agrees with the hard state: a soft streak, if any, is over.
        if s.consecutive == 0 && s.hard == r.status {
            return (None, None);
        }
        return (
            Some(CheckState {
                hard: r.status.clone(),
                consecutive: 0,
                soft: None,
                soft_since: None,
                moved_in: run,
                ..s.clone()
            }),
            None,
        );
    }
    if hard == Class::Unknown && now == Class::Ok {
        // Never confirmed failing: an ok result settles it quietly.
        return (Some(fresh(&r.status, at)), None);
    }
    soft(s, r, (run, at), confirm)
}

/// A result that disagrees with the hard state: the soft streak grows, and turns hard at
/// `confirm`.
fn soft(
    s: &CheckState,
    r: &CheckRow,
    (run, at): (u64, OffsetDateTime),
    confirm: u32,
) -> (Option<CheckState>, Option<(Turn, CheckState)>) {
    let consecutive = s.consecutive.saturating_add(1);
    let soft_since = s.soft_since.filter(|_| s.consecutive > 0).unwrap_or(at);
    if consecutive < confirm {
        let next = CheckState {
            consecutive,
            soft: Some(r.status.clone()),
            soft_since: Some(soft_since),
            moved_in: run,
            ..s.clone()
        };
        return (Some(next), None);
    }
    let next = CheckState {
        hard: r.status.clone(),
        since: soft_since,
        consecutive: 0,
        soft: None,
        soft_since: None,
        moved_in: run,
        ..s.clone()
    };
    let turn = if class(&r.status) == Class::Failing {
        Turn::Failed
    } else {
        Turn::Recovered
    };
    let mut from = s.clone();
    from.consecutive = consecutive;
    (Some(next), Some((turn, from)))
}

impl Engine<'_> {
    /// Store a run of checks (`started`..`finished`, by `trigger`) and move each check's
    /// damped state by `self.config.monitor.confirm`, journaling and then sending each hard
    /// transition. The run, the states and the journal entries are one transaction; the
    /// events go out after it committed.
    pub async fn record_checks(
        &self,
        started: OffsetDateTime,
        finished: OffsetDateTime,
        results: &[CheckResult],
        trigger: Trigger,
    ) -> Result<RecordedRun, EngineError> {
        let run = NewCheckRun {
            started_at: started,
            finished_at: finished,
            trigger: trigger.as_str().to_owned(),
            actor: self.actor.name.to_owned(),
            results: results.iter().map(row).collect(),
        };
        let confirm = self.config.monitor.confirm.max(1);
        let mut transitions = Vec::new();
        let recorded = self
            .store
            .record_check_run(&run, |id, before| {
                let mut states: Vec<CheckState> = Vec::new();
                let mut events = Vec::new();
                let by_key: std::collections::HashMap<(&str, &str, Option<&str>), &CheckState> =
                    before
                        .iter()
                        .map(|s| {
                            (
                                (s.component.as_str(), s.check.as_str(), s.host.as_deref()),
                                s,
                            )
                        })
                        .collect();
                for r in &run.results {
                    let key = (r.component.as_str(), r.check.as_str(), r.host.as_deref());
                    let (next, turned) = damp(by_key.get(&key).copied(), r, (id, started), confirm);
                    if let Some((turn, from)) = turned
                        && let Some(to) = &next
                    {
                        let t = transition(turn, &from, to, r, (id, trigger));
                        events.push(match turn {
                            Turn::Failed => {
                                record::event(self.actor, &t.subject, &CheckFailed(t.state.clone()))
                            }
                            Turn::Recovered => record::event(
                                self.actor,
                                &t.subject,
                                &CheckRecovered(t.state.clone()),
                            ),
                        });
                        transitions.push(t);
                    }
                    states.extend(next);
                }
                StateUpdate { states, events }
            })
            .await?;
        for t in &transitions {
            self.emit(&message(t)).await;
        }
        Ok(RecordedRun {
            id: recorded.id,
            counts: StatusCounts::of(&run.results),
            transitions,
        })
    }
}

fn transition(
    turn: Turn,
    from: &CheckState,
    to: &CheckState,
    r: &CheckRow,
    (run, trigger): (u64, Trigger),
) -> Transition {
    Transition {
        turn,
        subject: subject(&r.component, &r.check, r.host.as_deref()),
        state: CheckHardState {
            v: record::VERSION,
            component: r.component.clone(),
            check: r.check.clone(),
            host: r.host.clone(),
            from: from.hard.clone(),
            to: to.hard.clone(),
            since: timestamp(to.since),
            run,
            trigger: trigger.as_str().to_owned(),
            consecutive: from.consecutive,
            reason: r.reason.clone(),
            message: r.message.clone(),
        },
    }
}

/// The event of a hard transition.
fn message(t: &Transition) -> fearless_events::Event {
    let s = &t.state;
    let on = s
        .host
        .as_deref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default();
    let (ty, severity, summary) = match t.turn {
        Turn::Failed => (
            CHECK_FAILED,
            fearless_events::Severity::Error,
            format!(
                "{}/{}{on} failed ({}{}) after {} result(s) in a row",
                s.component,
                s.check,
                s.to,
                if s.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.message)
                },
                s.consecutive
            ),
        ),
        Turn::Recovered => (
            CHECK_RECOVERED,
            fearless_events::Severity::Info,
            format!(
                "{}/{}{on} recovered ({}) after {} result(s) in a row",
                s.component, s.check, s.to, s.consecutive
            ),
        ),
    };
    let mut data = serde_json::to_value(s).unwrap_or(serde_json::Value::Null);
    if let Some(map) = data.as_object_mut() {
        map.insert("summary".into(), summary.into());
    }
    let event = fearless_events::Event::new(ty, fearless_events::local_source(), data)
        .subject(t.subject.clone())
        .severity(severity);
    match &s.host {
        Some(h) => event.host(h.clone()),
        None => event,
    }
}

/// `t` as the journal's and the reports' time.
pub fn timestamp(t: OffsetDateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_nanosecond(t.unix_timestamp_nanos())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// `t` as the store's time.
pub fn offset(t: jiff::Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// What the monitor is doing, for a dashboard (`Monitor::status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MonitorStatus {
    /// A pass is under way.
    pub running: bool,
    /// The last pass that was recorded.
    pub last: Option<LastRun>,
    /// When the next pass starts (while the loop runs and waits).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next: Option<OffsetDateTime>,
    /// Why the last pass failed to be recorded, when it did (cleared by the next success).
    pub error: Option<String>,
    /// Passes recorded since the monitor started.
    pub passes: u64,
}

/// The last recorded pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRun {
    /// Its run id.
    pub id: u64,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// `finished_at - started_at`, in milliseconds.
    pub duration_ms: u64,
    /// Its results counted by status.
    pub counts: StatusCounts,
    /// How many hard transitions it caused.
    pub transitions: usize,
    /// How many old spans of results the retention pruned after it.
    pub pruned: u64,
}

/// Runs the whole test plan — every component, every host — every `interval` (±10%),
/// never two passes at once, and prunes history older than `retention` after each.
#[derive(Debug)]
pub struct Monitor {
    policy: MonitorPolicy,
    /// Held for the whole of a pass: passes never overlap, whoever starts them.
    pass: Mutex<()>,
    status: watch::Sender<MonitorStatus>,
    /// Seed of the jitter.
    seed: AtomicU64,
}

impl Monitor {
    /// A monitor with `policy` (usually `config.monitor`), not running.
    pub fn new(policy: MonitorPolicy) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| {
                u64::try_from(d.as_nanos() & u128::from(u64::MAX)).unwrap_or(0)
            })
            ^ u64::from(std::process::id());
        Self {
            policy,
            pass: Mutex::new(()),
            status: watch::channel(MonitorStatus::default()).0,
            seed: AtomicU64::new(seed),
        }
    }

    /// Its policy.
    pub fn policy(&self) -> MonitorPolicy {
        self.policy
    }

    /// Its status, updated at the start and end of each pass.
    pub fn status(&self) -> watch::Receiver<MonitorStatus> {
        self.status.subscribe()
    }

    /// One pass now: run every check of the configuration, record the run (trigger
    /// `monitor`), prune what `retention` no longer keeps. Waits for a pass in progress to
    /// end first.
    pub async fn run_once(&self, engine: Engine<'_>) -> Result<RecordedRun, EngineError> {
        let _pass = self.pass.lock().await;
        self.status.send_modify(|s| s.running = true);
        let result = self.pass(engine).await;
        self.status.send_modify(|s| {
            s.running = false;
            match &result {
                Ok((_, last)) => {
                    s.last = Some(last.clone());
                    s.error = None;
                    s.passes += 1;
                }
                Err(e) => s.error = Some(e.to_string()),
            }
        });
        result.map(|(run, _)| run)
    }

    async fn pass(&self, engine: Engine<'_>) -> Result<(RecordedRun, LastRun), EngineError> {
        let hosts: Vec<String> = engine.config.inventory.hosts.keys().cloned().collect();
        let set = CheckSet::for_components(engine.config, &[], &hosts)?;
        let started = offset(engine.clock.now());
        let results = set.run_all().await;
        set.close().await;
        let finished = offset(engine.clock.now());
        let run = engine
            .record_checks(started, finished, &results, Trigger::Monitor)
            .await?;
        let keep = time::Duration::try_from(self.policy.retention).unwrap_or(time::Duration::MAX);
        let pruned = engine
            .store
            .prune_check_history(
                finished
                    .checked_sub(keep)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            )
            .await?;
        let last = LastRun {
            id: run.id,
            started_at: started,
            finished_at: finished,
            duration_ms: u64::try_from((finished - started).whole_milliseconds().max(0))
                .unwrap_or(u64::MAX),
            counts: run.counts,
            transitions: run.transitions.len(),
            pruned,
        };
        Ok((run, last))
    }

    /// Run a pass, wait `interval` ± 10%, and again, until `shutdown` completes. A pass
    /// under way when it does is finished (and recorded) first; a wait is cut short. A pass
    /// that fails to be recorded is in the status (`error`) and the loop goes on.
    pub async fn run(&self, engine: Engine<'_>, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // Not raced against the shutdown: a pass, once started, is recorded.
            let _ = self.run_once(engine).await;
            let wait = self.jittered();
            let next = offset(engine.clock.now())
                .checked_add(time::Duration::try_from(wait).unwrap_or(time::Duration::MAX));
            self.status.send_modify(|s| s.next = next);
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = engine.clock.sleep(wait) => {}
            }
        }
        self.status.send_modify(|s| s.next = None);
    }

    /// `interval` ± 10%, drawn anew each time (splitmix64), so many controllers started
    /// together drift apart.
    fn jittered(&self) -> Duration {
        let mut z = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // A factor in [0.9, 1.1).
        #[expect(
            clippy::cast_precision_loss,
            reason = "a jitter needs no more than 53 bits"
        )]
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        self.policy.interval.mul_f64(0.9 + 0.2 * unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str) -> CheckRow {
        CheckRow {
            component: "orders-api".into(),
            check: "http".into(),
            host: Some("web-2".into()),
            kind: "http".into(),
            runs_on: "controller".into(),
            status: status.into(),
            reason: None,
            message: String::new(),
            duration_ms: 1,
        }
    }

    /// Feed `statuses` through the damping; the turns, by run (1, 2, …).
    fn turns(statuses: &[&str], confirm: u32) -> Vec<(u64, Turn, String, String)> {
        let mut state: Option<CheckState> = None;
        let mut out = Vec::new();
        for (i, s) in statuses.iter().enumerate() {
            let run = u64::try_from(i).expect("run") + 1;
            let at =
                OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(i64::try_from(i).expect("i"));
            let (next, turned) = damp(state.as_ref(), &row(s), (run, at), confirm);
            if let Some((turn, from)) = turned {
                let to = next.as_ref().expect("a turn writes a state");
                out.push((run, turn, from.hard.clone(), to.hard.clone()));
            }
            if next.is_some() {
                state = next;
            }
        }
        out
    }

    #[test]
    fn two_failures_in_a_row_are_one_hard_failure() {
        assert_eq!(
            turns(&["pass", "fail", "fail", "fail", "error"], 2),
            [(3, Turn::Failed, "pass".into(), "fail".into())]
        );
    }

    #[test]
    fn flapping_pass_fail_pass_is_damped() {
        assert!(turns(&["pass", "fail", "pass", "fail", "pass", "fail"], 2).is_empty());
    }

    #[test]
    fn skipped_counts_neither_way() {
        assert_eq!(
            turns(
                &["pass", "fail", "skipped", "fail", "pass", "skipped", "pass"],
                2
            ),
            [
                (4, Turn::Failed, "pass".into(), "fail".into()),
                (7, Turn::Recovered, "fail".into(), "pass".into())
            ]
        );
    }

    #[test]
    fn a_first_ok_result_is_quiet_a_first_failing_one_must_be_confirmed() {
        assert!(turns(&["pass", "pass"], 2).is_empty());
        assert!(turns(&["fail", "pass", "pass"], 2).is_empty());
        assert_eq!(
            turns(&["fail", "fail"], 2),
            [(2, Turn::Failed, UNKNOWN.into(), "fail".into())]
        );
        assert_eq!(
            turns(&["error"], 1),
            [(1, Turn::Failed, UNKNOWN.into(), "error".into())]
        );
    }

    #[test]
    fn a_hard_failure_dates_from_the_first_failing_result() {
        let mut state = None;
        let at = |m| OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(m);
        for (run, (m, s)) in [(0, "pass"), (1, "fail"), (2, "fail"), (3, "fail")]
            .into_iter()
            .enumerate()
        {
            let (next, _) = damp(state.as_ref(), &row(s), (run as u64 + 1, at(m)), 3);
            if next.is_some() {
                state = next;
            }
        }
        let state = state.expect("state");
        assert_eq!((state.hard.as_str(), state.since), ("fail", at(1)));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let m = Monitor::new(MonitorPolicy {
            interval: Duration::from_secs(60),
            ..MonitorPolicy::default()
        });
        let waits: Vec<Duration> = (0..1000).map(|_| m.jittered()).collect();
        assert!(
            waits
                .iter()
                .all(|w| *w >= Duration::from_secs(54) && *w < Duration::from_secs(66))
        );
        let (lo, hi) = (waits.iter().min(), waits.iter().max());
        assert!(
            hi.zip(lo)
                .is_some_and(|(h, l)| *h - *l > Duration::from_secs(8)),
            "spread"
        );
    }
}
