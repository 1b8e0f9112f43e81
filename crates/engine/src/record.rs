//! The records the engine writes and other code reads back: a rollout's stored document
//! ([`RolloutRecord`]), an incident's ([`Incident`]), and the payload of every journal entry
//! that is read again — by `rollout resume`, the RCA evidence, the dashboard — each a serde
//! type with a version (`v`), written and read through the same type.
//!
//! Version 1 is what fearless wrote before these types existed (no `v` field); every
//! version-1 document and payload reads into the version-2 type (a golden test reads a
//! store written by that release). Fields added since are optional, and a reader that needs
//! one says what is unknown when it is missing.

use std::collections::BTreeMap;

use fearless_pkg::backend::Restarts;
use fearless_pkg::restart::Restarted;
use fearless_probe::baseline::Baseline;
use fearless_probe::result::{CheckResult, Reason, Status};
use fearless_rollout::HostState;
use fearless_store::{JournalEntry, NewEvent};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::bisect::BisectReport;

/// The version this build writes.
pub const VERSION: u32 = 2;

fn v1() -> u32 {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A journal payload of a fixed kind.
pub trait Payload: Serialize + DeserializeOwned {
    /// The journal entry kind it is written under.
    const KIND: &'static str;
}

/// The journal event for `payload`, by `actor`, about `subject` (empty: the store sets it).
pub fn event<'a, P: Payload>(
    actor: impl Into<crate::identity::Who<'a>>,
    subject: impl Into<String>,
    payload: &P,
) -> NewEvent {
    event_of(actor, P::KIND, subject, payload)
}

/// The journal event of kind `kind` for `payload`.
pub fn event_of<'a, T: Serialize>(
    actor: impl Into<crate::identity::Who<'a>>,
    kind: &str,
    subject: impl Into<String>,
    payload: &T,
) -> NewEvent {
    let who = actor.into();
    NewEvent {
        actor: who.name.to_owned(),
        vouched_by: who.vouched_by.map(|v| v.as_str().to_owned()),
        kind: kind.to_owned(),
        subject: subject.into(),
        // A payload type whose fields are all strings, numbers, lists and maps always
        // serialises; `Null` would only say the type is broken, and the journal keeps it.
        payload: serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
        sign: is_state_change(kind),
    }
}

/// Whether an entry of `kind` records a state-changing request — a change or incident
/// transition, a rollout started or moved to a new state (paused, resumed, aborting, …) —
/// which the actor signs when a signing key is set, and which `journal verify --strict`
/// requires signed. The work such a request sets off (a host's steps, a wave baked, a
/// snapshot) follows from the signed request and is not signed itself.
pub fn is_state_change(kind: &str) -> bool {
    let mut parts = kind.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("change" | "incident"), Some(_), _) | (Some("rollout"), Some(_), None)
    )
}

/// `entry`'s payload as `P`, when the entry is of `P`'s kind.
pub fn decode<P: Payload>(entry: &JournalEntry) -> Option<Result<P, EngineError>> {
    (entry.kind == P::KIND).then(|| decode_as(entry))
}

/// `entry`'s payload as `T`, whatever its kind.
pub fn decode_as<T: DeserializeOwned>(entry: &JournalEntry) -> Result<T, EngineError> {
    serde_json::from_value(entry.payload.clone()).map_err(|e| {
        EngineError::corrupt(format!("journal entry {} ({})", entry.seq, entry.kind), e)
    })
}

/// When `entry` was appended.
pub fn entry_time(entry: &JournalEntry) -> Result<Timestamp, EngineError> {
    entry
        .time
        .parse()
        .map_err(|e| EngineError::corrupt(format!("journal entry {}", entry.seq), e))
}

// ---------------------------------------------------------------------------------------
// The continuous test plan

/// A hard transition of a check's damped state (`engine::monitor`): what `check.failed` and
/// `check.recovered` entries hold, and the data of their events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckHardState {
    /// Record version.
    pub v: u32,
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// Host (`None`: run from the controller).
    pub host: Option<String>,
    /// The hard status before (`pass`, `fail`, …, or `unknown` for a check never confirmed).
    pub from: String,
    /// The hard status now.
    pub to: String,
    /// When the streak that confirmed it began (its first result's run start).
    pub since: Timestamp,
    /// The run that confirmed it.
    pub run: u64,
    /// What ran that run (`monitor`, `check`).
    pub trigger: String,
    /// How many results in a row confirmed it.
    pub consecutive: u32,
    /// The confirming result's reason, if any.
    pub reason: Option<String>,
    /// The confirming result's message.
    pub message: String,
}

/// `check.failed`: a check turned hard-failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CheckFailed(pub CheckHardState);

impl Payload for CheckFailed {
    const KIND: &'static str = "check.failed";
}

/// `check.recovered`: a check turned hard-recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CheckRecovered(pub CheckHardState);

impl Payload for CheckRecovered {
    const KIND: &'static str = "check.recovered";
}

// ---------------------------------------------------------------------------------------
// Rollouts

/// The stored document of rollout `R-<n>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutRecord {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// The change it implements (`CHG-3`).
    pub change: String,
    /// The frozen manifest, `name=version` (or `name:arch=version`) per pin.
    pub manifest: Vec<String>,
    /// The hosts of each wave, in order.
    pub waves: Vec<Vec<String>>,
    /// How long each wave bakes, in milliseconds.
    pub bake_ms: u64,
    /// The baseline's failures were accepted: only regressions count.
    #[serde(default)]
    pub accept_baseline_failures: bool,
    /// The components whose checks gate it.
    pub components: Vec<String>,
    /// The test plan's results before anything changed.
    pub baseline: Baseline,
    /// Where the preflight spent its time.
    #[serde(default)]
    pub timings: Timings,
    /// Started with `patch --workers`: its waves' hosts are leased to workers, with this
    /// lease, and `fearless worker` may join it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leasing: Option<Leasing>,
    /// How it ended, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RolloutResult>,
}

/// How a rollout started with `patch --workers` leases its hosts: every worker that joins
/// it uses the same lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leasing {
    /// How long a lease lasts without its holder's heartbeat, in milliseconds.
    pub lease_ms: u64,
}

/// `worker.joined` (on `R-<n>` or a check round): a worker (`patch --workers`' or `check
/// --workers`' own, or `fearless worker`) started taking hosts of the rollout or round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerJoined {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// Its id: the machine's name, the process id and a random part.
    pub worker: String,
    /// How many hosts it works on at once.
    pub tasks: usize,
    /// The lease it holds hosts with, in milliseconds.
    pub lease_ms: u64,
}

impl Payload for WorkerJoined {
    const KIND: &'static str = "worker.joined";
}

/// `lease.taken-over` (on `R-<n>` or a check round): a worker took over a host whose
/// holder let its lease expire (it died, or lost the store); in a rollout it settles the
/// host by the recovery rules, never applying twice; in a check round it checks it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseTakenOver {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// Inventory name.
    pub host: String,
    /// Its wave, from 1.
    pub wave: usize,
    /// The worker whose lease expired.
    pub from: String,
    /// The worker that took it over.
    pub by: String,
}

impl Payload for LeaseTakenOver {
    const KIND: &'static str = "lease.taken-over";
}

/// What a check round leased to workers (`check --workers`) is about, kept with the round
/// so that a worker that joins (`fearless worker --check`) plans the same checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRoundSpec {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// The hosts selector (`--hosts`), as typed; every host when `None`.
    #[serde(default)]
    pub hosts: Option<String>,
    /// The components (`--component`); every one when empty.
    #[serde(default)]
    pub components: Vec<String>,
    /// The lease every worker of the round holds hosts with, in milliseconds.
    pub lease_ms: u64,
}

/// One host's checks as a worker ran them in a check round: written on the host's lease,
/// read by the round's coordinator into its one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedHost {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// Each check as it ran.
    pub results: Vec<CheckRan>,
}

/// A check's result as a worker ran it (what [`CheckResult`] holds besides what the plan
/// says: kind and where it runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRan {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// Its status.
    pub status: Status,
    /// Why it is not passing.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// What it saw.
    #[serde(default)]
    pub message: String,
    /// Attempts made.
    pub attempts: u32,
    /// Wall time of all attempts, in microseconds.
    pub duration_us: u64,
}

impl From<&CheckResult> for CheckRan {
    fn from(r: &CheckResult) -> Self {
        Self {
            component: r.component.clone(),
            check: r.check.clone(),
            status: r.status,
            reason: r.reason,
            message: r.message.clone(),
            attempts: r.attempts,
            duration_us: u64::try_from(r.duration.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

/// Where a rollout's preflight spent its time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// In the package manager (the slowest host, per phase).
    #[serde(default)]
    pub preflight_package_manager_ms: u64,
    /// Running the baseline.
    #[serde(default)]
    pub baseline_checks_ms: u64,
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutResult {
    /// The incident it opened (`INC-2`).
    #[serde(default)]
    pub incident: Option<String>,
    /// The change.
    pub change: String,
    /// The manifest.
    pub manifest: Vec<String>,
    /// The waves.
    pub waves: Vec<Vec<String>>,
    /// How each host it touched ended.
    pub hosts: Vec<HostEnd>,
    /// Why it stopped, if it did.
    #[serde(default)]
    pub stopped: Option<String>,
}

/// How one host of a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEnd {
    /// Inventory name.
    pub host: String,
    /// Its wave, from 1.
    pub wave: usize,
    /// Its state at the end.
    pub state: HostState,
    /// What happened, in words.
    pub detail: String,
}

/// `rollout.started`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutStarted {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// The change.
    pub change: String,
    /// The manifest.
    pub manifest: Vec<String>,
    /// The waves.
    pub waves: Vec<Vec<String>>,
}

impl Payload for RolloutStarted {
    const KIND: &'static str = "rollout.started";
}

/// `rollout.<state>`: the rollout moved to `running`, `paused` or `aborting` (empty), or
/// ended (`completed`, `backed-out`, `failed`: why it stopped and the change's close code).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutMoved {
    /// Why it stopped, for an end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The change's close code, for an end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `rollout.host.<to>`: one step of one host, journaled with the compare-and-set that
/// makes it (the kind names the state it moved to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostStep {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// Inventory name.
    pub host: String,
    /// The state it left.
    pub from: HostState,
    /// The state it entered.
    pub to: HostState,
    /// What the step says.
    #[serde(default)]
    pub detail: StepDetail,
}

/// The kind prefix of [`HostStep`] entries.
pub const HOST_STEP: &str = "rollout.host.";

impl HostStep {
    /// The journal kind of a step to `to`.
    pub fn kind(to: HostState) -> String {
        format!("{HOST_STEP}{to}")
    }

    /// `entry` as a host step, when it is one.
    pub fn decode(entry: &JournalEntry) -> Option<Result<Self, EngineError>> {
        entry.kind.starts_with(HOST_STEP).then(|| decode_as(entry))
    }
}

/// What a host step says; which fields are set depends on the step:
///
/// | to | fields |
/// |---|---|
/// | `snapshotted` | `snapshot` |
/// | `applying` | `manifest` |
/// | `applied` | `changed`, `restarts`, `package_manager_ms` |
/// | `verifying` | `bake: "end"` when it re-checks a verified host after its wave's bake |
/// | `verified` | after a bake: `regressions` (empty), `checks` (empty) |
/// | `failed` | `error` (why, in words) and `checks` (the regressions, when checks failed) |
/// | `rolled-back`, `rollback-failed` | `detail`, and since version 2 `after`: every check of the host as it ran after the rollback |
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepDetail {
    /// `SNAP-<n>`, the snapshot just taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Pins about to be applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<usize>,
    /// Packages the transaction changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<usize>,
    /// Reboot and restart needs after the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<Restarts>,
    /// Time in the package manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_manager_ms: Option<u64>,
    /// `end`: the re-check at the end of a bake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake: Option<String>,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The checks that regressed against the baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Regression>,
    /// The same regressions, one line each (bake re-checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regressions: Vec<String>,
    /// How a rollback ended, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every check of the host, as it ran after a rollback (version 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<CheckSeen>,
}

/// A check that regressed against the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regression {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// Host, for per-host checks.
    #[serde(default)]
    pub host: Option<String>,
    /// Its status in the baseline; `None`: the baseline did not have it (or, in an
    /// incident opened by hand, nobody saw it before).
    #[serde(default)]
    pub before: Option<Status>,
    /// Its status now.
    pub after: Status,
    /// Why it is not passing.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// What it saw.
    #[serde(default)]
    pub message: Option<String>,
}

/// A check as it ran, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSeen {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// Host, for per-host checks.
    #[serde(default)]
    pub host: Option<String>,
    /// Its status.
    pub status: Status,
    /// Why it is not passing.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// What it saw.
    #[serde(default)]
    pub message: String,
}

impl From<&CheckResult> for CheckSeen {
    fn from(r: &CheckResult) -> Self {
        Self {
            component: r.component.clone(),
            check: r.check.clone(),
            host: r.host.clone(),
            status: r.status,
            reason: r.reason,
            message: r.message.clone(),
        }
    }
}

/// `rollout.wave.baked`: a wave baked, and its hosts still pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveBaked {
    /// The wave, from 1.
    pub wave: usize,
}

impl Payload for WaveBaked {
    const KIND: &'static str = "rollout.wave.baked";
}

/// `rollout.restart.finished`: services that still ran replaced code were restarted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartFinished {
    /// Inventory name.
    pub host: String,
    /// What found them (`needrestart -b`, `/proc scan`).
    pub found_by: String,
    /// What was done.
    pub done: Restarted,
}

impl Payload for RestartFinished {
    const KIND: &'static str = "rollout.restart.finished";
}

/// `rollout.reboot.started`: journaled before the reboot command runs; its token tells a
/// resuming controller whether the reboot happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootStarted {
    /// Inventory name.
    pub host: String,
    /// What asked for the reboot.
    pub asked: String,
    /// How long the host may take to come back.
    pub timeout_s: u64,
    /// The marker the reboot proves itself by.
    pub token: String,
}

impl Payload for RebootStarted {
    const KIND: &'static str = "rollout.reboot.started";
}

/// `rollout.reboot.finished`: how a reboot ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootFinished {
    /// Inventory name.
    pub host: String,
    /// It came back on a new boot.
    pub ok: bool,
    /// The command that rebooted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// How long it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// Whether the kernel's boot id changed (a namespace restarted on a shared kernel
    /// keeps it; the token marker proves the reboot then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_boot_id: Option<bool>,
    /// Why it did not come back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Settled by `rollout resume` after the controller that started it died.
    #[serde(default, skip_serializing_if = "is_false")]
    pub resumed: bool,
    /// How long resume waited for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_ms: Option<u64>,
}

impl Payload for RebootFinished {
    const KIND: &'static str = "rollout.reboot.finished";
}

impl RebootFinished {
    /// A reboot of `host` that did not end on a new boot, and why (`resumed`: as settled by
    /// `rollout resume`).
    pub fn failed(host: &str, why: String, resumed: bool) -> Self {
        Self {
            host: host.to_owned(),
            ok: false,
            error: Some(why),
            resumed,
            ..Self::default()
        }
    }
}

/// `rollout.bisect.started`: the canary's packages are a bisect round's from here on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BisectStarted {
    /// Inventory name.
    pub host: String,
}

impl Payload for BisectStarted {
    const KIND: &'static str = "rollout.bisect.started";
}

/// `rollout.bisect.finished`: the canary is back on its snapshot after a bisect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BisectEnded {
    /// Inventory name.
    pub host: String,
}

impl Payload for BisectEnded {
    const KIND: &'static str = "rollout.bisect.finished";
}

/// `rollout.bisect.undone`: resume put a canary a dead controller left mid-bisect back on
/// its snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BisectUndone {
    /// Inventory name.
    pub host: String,
    /// How it ended, in words.
    pub detail: String,
}

impl Payload for BisectUndone {
    const KIND: &'static str = "rollout.bisect.undone";
}

/// `bisect.finished` (subject `host:<name>`): what a package bisect found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bisected {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// The rollout whose canary it ran on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// The snapshot every round started from.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// The manifest bisected.
    pub manifest: Vec<String>,
    /// The checks it tested with (`component/check`).
    pub checks: Vec<String>,
    /// What it found.
    pub report: BisectReport,
}

impl Payload for Bisected {
    const KIND: &'static str = "bisect.finished";
}

/// `snapshot.taken`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotTaken {
    /// The hosts it holds.
    pub hosts: Vec<String>,
    /// The rollout that took it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// Packages across hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<usize>,
    /// Hosts that could not be read, and why.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
}

impl Payload for SnapshotTaken {
    const KIND: &'static str = "snapshot.taken";
}

// ---------------------------------------------------------------------------------------
// Incidents

/// The stored document of incident `INC-<n>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Record version.
    #[serde(default = "v1")]
    pub v: u32,
    /// One line.
    pub title: String,
    /// Who opened it: a person, or `R-2` for a rollout gate.
    pub opened_by: String,
    /// The change it is linked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// The rollout that opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// The wave that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<usize>,
    /// The rollout's manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest: Vec<String>,
    /// The hosts it is about (a rollout's: how each ended).
    #[serde(default)]
    pub hosts: Vec<IncidentHost>,
    /// The bisect of the failed canary, kept with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bisect: Option<KeptBisect>,
    /// When things happened.
    #[serde(default)]
    pub milestones: Milestones,
    /// The components it is about (opened by hand).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// The checks failing when it was opened by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Regression>,
    /// Notes added with each state change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// The post-incident report, once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<AttachedReport>,
}

/// One host of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentHost {
    /// Inventory name.
    pub host: String,
    /// Its wave, for a rollout's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<usize>,
    /// How the rollout left it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<HostState>,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<&HostEnd> for IncidentHost {
    fn from(e: &HostEnd) -> Self {
        Self {
            host: e.host.clone(),
            wave: Some(e.wave),
            state: Some(e.state),
            detail: Some(e.detail.clone()),
        }
    }
}

/// A bisect kept with the incident of the rollout whose canary it ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptBisect {
    /// The canary.
    pub host: String,
    /// The checks it tested with (`component/check`).
    pub checks: Vec<String>,
    /// What it found.
    pub report: BisectReport,
    /// When it ended.
    pub at: Timestamp,
}

/// When an incident's impact started, was detected, stopped, and was fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestones {
    /// Impact started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
    /// Detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<Timestamp>,
    /// Somebody said they are on it (`incident acknowledge`, the dashboard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Timestamp>,
    /// Who acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// Impact stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigated: Option<Timestamp>,
    /// The cause was fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Timestamp>,
    /// Reviewed and done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Timestamp>,
}

/// A note added to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub by: String,
    /// The state it moved to.
    pub state: String,
    /// What they said.
    pub note: String,
}

/// The post-incident report kept with its incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedReport {
    /// Its one-line attribution.
    pub attribution: String,
    /// The culprit packages.
    #[serde(default)]
    pub culprits: Vec<String>,
    /// Confirmed by a bisect.
    #[serde(default)]
    pub confirmed: bool,
    /// SHA-256 of the Markdown.
    pub sha256: String,
    /// The report, in Markdown.
    pub markdown: String,
    /// When it was written.
    pub generated_at: Timestamp,
}

/// `incident.opened`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentOpened {
    /// The rollout that opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// Its change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// The components it is about (by hand).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// The hosts it is about (by hand).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

impl Payload for IncidentOpened {
    const KIND: &'static str = "incident.opened";
}

/// `incident.<state>`: a person moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentMoved {
    /// From.
    pub from: String,
    /// To.
    pub to: String,
    /// What they said.
    #[serde(default)]
    pub note: Option<String>,
}

/// `incident.acknowledged`: somebody is on it; the state does not move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAcknowledged {
    /// The state it was in (and stays in).
    pub state: String,
    /// What they said.
    #[serde(default)]
    pub note: Option<String>,
}

impl Payload for IncidentAcknowledged {
    const KIND: &'static str = "incident.acknowledged";
}

/// `incident.report`: the post-incident report was written (or rewritten).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportWritten {
    /// SHA-256 of the Markdown.
    pub sha256: String,
    /// Its attribution.
    pub attribution: String,
    /// The change the incident is linked to.
    #[serde(default)]
    pub change: Option<String>,
}

impl Payload for ReportWritten {
    const KIND: &'static str = "incident.report";
}

/// `change.rca-attached` (subject the change): a post-incident report about the change,
/// for its review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RcaAttached {
    /// `INC-<n>`.
    pub incident: String,
    /// SHA-256 of the Markdown.
    pub sha256: String,
    /// Its attribution.
    pub attribution: String,
}

impl Payload for RcaAttached {
    const KIND: &'static str = "change.rca-attached";
}

// ---------------------------------------------------------------------------------------
// Snapshots

/// The stored document of snapshot `SNAP-<n>`: package sets by host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDoc {
    /// Each host's package set.
    pub hosts: BTreeMap<String, fearless_pkg::PackageSet>,
    /// Hosts that could not be read, and why.
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
    /// The rollout that took it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
}

/// The number of `SNAP-3` (or `3`).
pub fn snapshot_number(id: &str) -> Result<u64, EngineError> {
    crate::number_of(
        id,
        "SNAP",
        "a snapshot id",
        "snapshot ids look like SNAP-3 (see `fearless snapshot list`)",
    )
}

/// `SNAP-<n>` as stored, with its document decoded; one that does not exist is bad input.
pub async fn load_snapshot(
    store: &fearless_store::Store,
    id: &str,
) -> Result<(fearless_store::StoredSnapshot, SnapshotDoc), EngineError> {
    let n = snapshot_number(id)?;
    let stored = store.get_snapshot(n).await?.ok_or_else(|| {
        EngineError::bad_input(
            format!("there is no snapshot SNAP-{n}"),
            Some("see `fearless snapshot list`"),
        )
    })?;
    let doc = serde_json::from_value(stored.record.clone())
        .map_err(|e| EngineError::corrupt(format!("snapshot SNAP-{n}"), e))?;
    Ok((stored, doc))
}

/// `host.packages.applied` / `host.packages.rolled-back` (subject `host:<name>`): one host's
/// outcome of `fearless packages apply` or `rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagesChanged {
    /// `ok`, or the kind of error (`infeasible`, `locked`, …).
    pub result: String,
    /// What changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<fearless_pkg::Diff>,
    /// Reboot and restart needs afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<Restarts>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was asked.
    pub detail: PackagesDetail,
}

/// What `fearless packages apply` or `rollback` was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagesDetail {
    /// The manifest applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Vec<String>>,
    /// The snapshot rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The way back was not possible, and it went ahead anyway.
    #[serde(default)]
    pub forced: bool,
}

// ---------------------------------------------------------------------------------------
// Rehearsals

/// `rehearse.started` (subject `host:<role host>`): a rehearsal of the host's role starts,
/// before anything is brought up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RehearsalStarted {
    /// Record version.
    pub v: u32,
    /// Where the role is rebuilt (`Debian 13 (trixie), a new lab host`; `web-9, an
    /// inventory host`).
    pub onto: String,
    /// The components rehearsed.
    pub components: Vec<String>,
    /// The change it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
}

impl Payload for RehearsalStarted {
    const KIND: &'static str = "rehearse.started";
}

/// `rehearse.finished` (subject `host:<role host>`): how a rehearsal ended — its whole
/// report, or why it could not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RehearsalFinished {
    /// Record version.
    pub v: u32,
    /// The change it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// What it found, when it ran to its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::rehearse::Report>,
    /// Why it could not run to its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Payload for RehearsalFinished {
    const KIND: &'static str = "rehearse.finished";
}

/// `change.rehearsal-attached` (subject the change): a rehearsal run for the change, for
/// its review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RehearsalAttached {
    /// The role host.
    pub role: String,
    /// Where it was rebuilt.
    pub onto: String,
    /// Whether the role works there.
    pub verdict: crate::rehearse::Verdict,
    /// The errors found, one line each (`hard-coded interpreter /usr/bin/python3.11
    /// (acme-web)`).
    pub errors: Vec<String>,
    /// The `rehearse.finished` entry with the whole report.
    pub entry: u64,
}

impl Payload for RehearsalAttached {
    const KIND: &'static str = "change.rehearsal-attached";
}

#[cfg(test)]
mod tests {
    #[test]
    fn state_changes_are_transitions_not_the_work_they_set_off() {
        for kind in [
            "change.created",
            "change.approved",
            "incident.opened",
            "rollout.started",
            "rollout.paused",
            "rollout.running",
            "rollout.aborting",
        ] {
            assert!(super::is_state_change(kind), "{kind}");
        }
        for kind in [
            "rollout.wave.baked",
            "rollout.host.applied",
            "snapshot.taken",
            "map.observed",
            "change",
            "bisect.finished",
        ] {
            assert!(!super::is_state_change(kind), "{kind}");
        }
    }
}
