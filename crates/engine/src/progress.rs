//! What the engine says while it works: typed [`Event`]s sent to a [`Progress`] sink. The
//! CLI renders them as lines on stderr; a dashboard streams them; a test collects them.
//! The engine never prints.

use std::time::Duration;

use fearless_rollout::{HostState, Recovery};

/// Where the engine's events go. Called from the engine's tasks, so it must be cheap and
/// must not block for long.
pub trait Progress: Send + Sync {
    /// One event happened.
    fn event(&self, event: Event);
}

/// A sink that drops everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event) {}
}

/// Something the engine did or found, as it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The preflight started on `hosts`, beside the baseline of `checks` checks.
    Preflight {
        /// Hosts in scope.
        hosts: usize,
        /// Checks in the baseline.
        checks: usize,
    },
    /// `patch --fixes`: what the frozen manifest closes, one line per advisory and package.
    Fixes {
        /// `ACME-2099-0001 (CVE-2099-0001): libacme fixed in 1.1 on web-1, web-2`.
        lines: Vec<String>,
    },
    /// A rollout was recorded and starts.
    RolloutStarted {
        /// `R-<n>`.
        rollout: u64,
        /// Pins in its manifest.
        pins: usize,
        /// Its waves.
        waves: usize,
    },
    /// `rollout resume` settles the hosts a dead controller left.
    Resuming {
        /// `R-<n>`.
        rollout: u64,
        /// Hosts to settle.
        hosts: usize,
    },
    /// `rollout abort` rolls back the hosts the rollout changed.
    Aborting {
        /// `R-<n>`.
        rollout: u64,
        /// Hosts to roll back.
        hosts: usize,
    },
    /// A wave starts (1-based).
    WaveStarted {
        /// Its number.
        wave: usize,
        /// How many there are.
        waves: usize,
        /// Its hosts still to patch.
        hosts: Vec<String>,
        /// Its hosts are leased to workers (`patch --workers`, `fearless worker`): this
        /// process brings some of them to an end, other workers the rest.
        shared: bool,
    },
    /// Every host of a wave has an end (before the bake and the gate).
    WaveEnded {
        /// Its number.
        wave: usize,
        /// How many there are.
        waves: usize,
        /// Its hosts verified.
        verified: usize,
        /// Its hosts not verified (failed, or left in another state).
        failed: usize,
    },
    /// A wave passed and bakes.
    Baking {
        /// Its number.
        wave: usize,
        /// For how long.
        bake: Duration,
    },
    /// Resume found a wave whose bake has no end on record: it bakes again.
    NotBaked {
        /// `R-<n>`.
        rollout: u64,
        /// The wave.
        wave: usize,
    },
    /// Something about one host.
    Host {
        /// Inventory name.
        host: String,
        /// What.
        what: HostEvent,
    },
    /// An observation of live connections started.
    Observing {
        /// Hosts sampled.
        hosts: usize,
        /// For how long.
        window: Duration,
    },
    /// An observation goes on (at most one a second).
    ObservingFor {
        /// Time since it started.
        elapsed: Duration,
        /// Its window.
        window: Duration,
        /// Samples read so far, every host together.
        samples: u32,
    },
    /// A host could not be observed (it is left out; the others are observed).
    NotObserved {
        /// The host.
        host: String,
        /// Why.
        error: String,
    },
    /// An event for the configured sinks was not delivered (queued or lost): the command
    /// goes on, but a person should know.
    Undelivered {
        /// The event, in a few words.
        event: String,
        /// The sink's name.
        sink: String,
        /// What happened to it: queued in the outbox, or lost.
        outcome: fearless_events::Outcome,
    },
    /// A worker joined a rollout or a check round (`patch --workers`, `check --workers`,
    /// `fearless worker`).
    WorkerJoined {
        /// `R-<n>`, or the check round's id.
        round: String,
        /// Its id.
        worker: String,
        /// How many hosts it works on at once.
        tasks: usize,
    },
    /// A check round was opened to workers (`check --workers`).
    RoundOpened {
        /// Its id, for `fearless worker --check`.
        round: String,
        /// Hosts whose checks are leased.
        hosts: usize,
    },
    /// A rehearsal moved on (`fearless rehearse`).
    Rehearsing {
        /// What it does now, in words.
        step: String,
    },
}

/// Something about one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    /// Its snapshot is recorded; the manifest goes on.
    Applying {
        /// `SNAP-<n>`.
        snapshot: u64,
    },
    /// It failed: its regressions, or why.
    Failed {
        /// In words.
        why: String,
    },
    /// Its checks pass on the manifest.
    Verified,
    /// It still runs replaced code after the transaction.
    Stale {
        /// What, and what found it.
        said: String,
    },
    /// Services that ran replaced code were restarted.
    Restarted {
        /// Their names.
        services: Vec<String>,
    },
    /// It asked for a reboot, and is being rebooted.
    Rebooting {
        /// What asked.
        asked: String,
    },
    /// It is back on a new boot.
    Rebooted {
        /// How long it took.
        took: Duration,
        /// The command that rebooted it.
        command: String,
    },
    /// Resume: a reboot the dead controller started; looking for the new boot.
    SettlingReboot,
    /// Resume: the reboot the dead controller started ran, and the host is back.
    RebootSettled,
    /// Resume: the reboot the dead controller meant to run never ran.
    RebootNeverRan,
    /// Going back to its snapshot.
    RollingBack,
    /// Back on its snapshot, its checks pass.
    RolledBack,
    /// Resume found it in `state` and decided `action`.
    Found {
        /// Its recorded state.
        state: HostState,
        /// What resume does with it.
        action: Recovery,
    },
    /// A worker claimed it (`patch --workers`, `fearless worker`).
    Claimed {
        /// The worker.
        worker: String,
    },
    /// A worker took it over from one whose lease expired; it is settled by the recovery
    /// rules.
    TakenOver {
        /// The worker whose lease expired.
        from: String,
        /// The worker that took it over.
        by: String,
    },
    /// A worker lost its lease on it (taken over by another): it stops working on it.
    LeaseLost {
        /// The worker.
        worker: String,
    },
    /// Resume: a bisect the dead controller left unfinished is undone.
    UndoingBisect,
    /// A package bisect starts on it.
    Bisecting {
        /// Packages in the manifest.
        packages: usize,
        /// Checks it tests with.
        checks: usize,
    },
    /// One test of a bisect.
    BisectTest {
        /// Its number (re-runs count).
        n: usize,
        /// The packages on top of the snapshot.
        packages: Vec<String>,
        /// Whether the checks failed.
        failed: bool,
    },
    /// A bisect that could not run.
    NoBisect {
        /// Why.
        why: String,
    },
    /// `packages apply` or `rollback` ended on it.
    PackagesChanged {
        /// A rollback (else an apply).
        rollback: bool,
        /// Packages changed.
        changed: usize,
    },
    /// `packages apply` or `rollback` failed on it.
    PackagesFailed {
        /// The kind of error (`infeasible`, `locked`, …).
        kind: String,
    },
}
