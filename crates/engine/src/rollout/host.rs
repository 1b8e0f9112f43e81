//! One host through a rollout: snapshot, apply, (reboot or restart), verify, and the way
//! back. Every step is a compare-and-set in the store with its journal entry, written
//! before the work it announces. Host work has two ways to end badly, kept apart:
//! the host fails (a result, `Ok((failed, why))`) or the store did not take a step
//! (`Err`: the rollout stops, and the host keeps the state the store holds).

use std::collections::BTreeMap;

use fearless_config::{PatchPolicy, RebootPolicy};
use fearless_pkg::backend::Restarts;
use fearless_pkg::ops::{self, Options, Prepared};
use fearless_pkg::{Backend, Manifest, PackageManager, PackageSet, Target};
use fearless_probe::baseline::Baseline;
use fearless_probe::result::CheckResult;
use fearless_rollout::{HostState, RolloutState, Step};

use crate::checks::CheckSet;
use crate::progress::{Event, HostEvent};
use crate::record::{
    self, BisectUndone, CheckSeen, HostStep, Payload, RebootFinished, RebootStarted, Regression,
    RestartFinished, SnapshotDoc, StepDetail,
};
use crate::{Engine, EngineError};

/// A host's end: its state and what happened, in words.
pub(crate) type End = (HostState, String);

/// Host work whose outer `Err` stops the rollout (the store did not take a write) and whose
/// inner `Err` is why the host fails.
pub(crate) type Work<T> = Result<Result<T, String>, EngineError>;

/// A host's regressions against the baseline.
#[derive(Debug, Default)]
pub(crate) struct Regressions {
    /// One line each, for people.
    pub(crate) lines: Vec<String>,
    /// The same, as data (journaled with the failure, for the RCA report).
    pub(crate) checks: Vec<Regression>,
    /// Every check of the host as it ran.
    pub(crate) seen: Vec<CheckSeen>,
}

impl Regressions {
    pub(crate) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub(crate) fn joined(&self) -> String {
        self.lines.join("; ")
    }
}

/// What every host step of one rollout needs.
pub(crate) struct Run<'e, 'a> {
    pub(crate) engine: &'e Engine<'a>,
    pub(crate) rollout: u64,
    pub(crate) manifest: &'e Manifest,
    pub(crate) checks: &'e CheckSet,
    pub(crate) baseline: &'e Baseline,
    /// What the preflight prepared per host (a resumed rollout has none: it plans again).
    pub(crate) prepared: BTreeMap<String, Prepared>,
    /// `patch --workers`, `fearless worker`: this process's workers, to which each wave's
    /// hosts are leased; `None`: the controller patches every host of a wave itself.
    pub(crate) team: Option<super::workers::Team>,
}

/// `component/check on host: status (message)`.
pub(crate) fn describe_check(r: &CheckResult) -> String {
    let host = r
        .host
        .as_deref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default();
    if r.message.is_empty() {
        format!("{}/{}{host}: {}", r.component, r.check, r.status.as_str())
    } else {
        format!(
            "{}/{}{host}: {} ({})",
            r.component,
            r.check,
            r.status.as_str(),
            r.message
        )
    }
}

impl Run<'_, '_> {
    pub(crate) fn subject(&self) -> String {
        format!("R-{}", self.rollout)
    }

    fn policy(&self) -> &PatchPolicy {
        &self.engine.config.patch
    }

    pub(crate) fn say(&self, host: &str, what: HostEvent) {
        self.engine.progress.event(Event::Host {
            host: host.to_owned(),
            what,
        });
    }

    /// Append `payload` to the rollout's journal.
    pub(crate) async fn note<P: Payload>(&self, payload: &P) -> Result<(), EngineError> {
        self.engine
            .store
            .append(record::event(self.engine.actor, self.subject(), payload))
            .await?;
        Ok(())
    }

    /// Record a step (compare-and-set in the store, journaled) and return the new state.
    /// A step the store does not take stops the rollout.
    pub(crate) async fn step(
        &self,
        host: &str,
        from: HostState,
        step: Step,
        snapshot: Option<u64>,
        detail: StepDetail,
    ) -> Result<HostState, EngineError> {
        self.step_if(host, from, step, snapshot, detail, false)
            .await
    }

    /// Record `step` only while the rollout is running or paused (a pause takes effect
    /// between waves), in the same transaction — the step that starts a host's
    /// transaction: an abort recorded first wins. `Ok(None)`: the rollout is being aborted
    /// or has ended, and the host stays as it is.
    async fn step_while_running(
        &self,
        host: &str,
        from: HostState,
        step: Step,
        detail: StepDetail,
    ) -> Result<Option<HostState>, EngineError> {
        match self.step_if(host, from, step, None, detail, true).await {
            Ok(to) => Ok(Some(to)),
            Err(EngineError::StepLost {
                error: fearless_store::StoreError::RolloutMoved { .. },
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn step_if(
        &self,
        host: &str,
        from: HostState,
        step: Step,
        snapshot: Option<u64>,
        detail: StepDetail,
        while_running: bool,
    ) -> Result<HostState, EngineError> {
        let to = from
            .on(step)
            .map_err(|e| EngineError::Environment(format!("R-{}: {host}: {e}", self.rollout)))?;
        let payload = HostStep {
            v: record::VERSION,
            host: host.to_owned(),
            from,
            to,
            detail,
        };
        let event = record::event_of(self.engine.actor, &HostStep::kind(to), "", &payload);
        let (from_text, to_text) = (from.to_string(), to.to_string());
        let store = self.engine.store;
        let moved = if while_running {
            store
                .move_host_while(
                    self.rollout,
                    host,
                    (&from_text, &to_text),
                    snapshot,
                    [
                        RolloutState::Running.as_str(),
                        RolloutState::Paused.as_str(),
                    ],
                    event,
                )
                .await
        } else {
            store
                .move_host(self.rollout, host, &from_text, &to_text, snapshot, event)
                .await
        };
        moved.map_err(|error| EngineError::StepLost {
            rollout: self.rollout,
            host: host.to_owned(),
            from,
            to,
            error,
        })?;
        Ok(to)
    }

    /// Take `steps` from `state`, one compare-and-set each.
    pub(crate) async fn walk(
        &self,
        host: &str,
        mut state: HostState,
        steps: &[Step],
    ) -> Result<HostState, EngineError> {
        for step in steps {
            state = self
                .step(host, state, *step, None, StepDetail::default())
                .await?;
        }
        Ok(state)
    }

    /// Regressions of `host` against the baseline.
    pub(crate) async fn regressions(&self, host: &str) -> Regressions {
        let results = self.checks.run_host(host).await;
        let diff = self.baseline.diff(&results);
        let mut out = Regressions {
            seen: results.iter().map(CheckSeen::from).collect(),
            ..Regressions::default()
        };
        for c in &diff.regressions {
            let now = results
                .iter()
                .find(|r| r.component == c.component && r.check == c.check && r.host == c.host);
            out.lines.push(now.map_or_else(
                || format!("{}/{}: {}", c.component, c.check, c.after.as_str()),
                describe_check,
            ));
            out.checks.push(Regression {
                component: c.component.clone(),
                check: c.check.clone(),
                host: c.host.clone(),
                before: c.before,
                after: c.after,
                reason: now.and_then(|r| r.reason),
                message: now.map(|r| r.message.clone()),
            });
        }
        out
    }

    /// Record `why` as the failure of a host that was applying or verifying. A host that
    /// failed before its transaction keeps its state (nothing on it changed): the store
    /// holds it so, and so does the result.
    pub(crate) async fn failed(
        &self,
        host: &str,
        state: HostState,
        why: String,
    ) -> Result<End, EngineError> {
        self.say(host, HostEvent::Failed { why: why.clone() });
        let to = match state {
            HostState::Applying | HostState::Applied | HostState::Verifying => {
                let detail = StepDetail {
                    error: Some(why.clone()),
                    ..StepDetail::default()
                };
                self.step(host, state, Step::Fail, None, detail).await?
            }
            other => other,
        };
        Ok((to, why))
    }

    /// Snapshot, apply, verify one host.
    pub(crate) async fn patch_host(&self, b: &Backend, t: &Target<'_>) -> Result<End, EngineError> {
        let host = t.name;
        let state = HostState::Pending;
        let set = match ops::package_set(b, t).await {
            Ok(set) => set,
            Err(e) => return self.failed(host, state, e.to_string()).await,
        };
        let doc = SnapshotDoc {
            hosts: BTreeMap::from([(host.to_owned(), set.clone())]),
            errors: BTreeMap::new(),
            rollout: Some(self.subject()),
        };
        let snap = self
            .engine
            .store
            .insert_snapshot(
                &serde_json::to_value(&doc)
                    .map_err(|e| EngineError::corrupt(format!("{host}'s snapshot"), e))?,
                record::event(
                    self.engine.actor,
                    "",
                    &record::SnapshotTaken {
                        hosts: vec![host.to_owned()],
                        rollout: Some(self.subject()),
                        ..record::SnapshotTaken::default()
                    },
                ),
            )
            .await?
            .number;
        let detail = StepDetail {
            snapshot: Some(format!("SNAP-{snap}")),
            ..StepDetail::default()
        };
        let state = self
            .step(host, state, Step::Snapshot, Some(snap), detail)
            .await?;
        // A `rollout abort` recorded since the wave started: no new host is changed (the
        // store checks the rollout's state in the step's own transaction).
        let detail = StepDetail {
            manifest: Some(self.manifest.pins.len()),
            ..StepDetail::default()
        };
        let Some(state) = self
            .step_while_running(host, state, Step::Apply, detail)
            .await?
        else {
            let now = self.engine.rollout_state(self.rollout).await?;
            return Ok((state, format!("not changed: the rollout is {now}")));
        };
        self.say(host, HostEvent::Applying { snapshot: snap });
        self.apply_from(b, t, state, Some(set)).await
    }

    /// From `applying`: apply the manifest, then verify.
    /// `before`: the package set the snapshot just recorded (read again when `None`).
    pub(crate) async fn apply_from(
        &self,
        b: &Backend,
        t: &Target<'_>,
        state: HostState,
        before: Option<PackageSet>,
    ) -> Result<End, EngineError> {
        let host = t.name;
        let before = match before {
            Some(set) => set,
            None => match ops::package_set(b, t).await {
                Ok(set) => set,
                Err(e) => return self.failed(host, state, e.to_string()).await,
            },
        };
        // The host's checks start as soon as the transaction is done, beside the package
        // reads that follow it; they are journaled (verifying, then verified or failed)
        // after `applied`, as the state machine says.
        let applied = ops::apply_then(
            b,
            t,
            self.manifest,
            before,
            self.prepared.get(host),
            self.regressions(host),
        )
        .await;
        let (report, regressions) = match applied {
            Ok(done) => done,
            Err(e) => return self.failed(host, state, e.to_string()).await,
        };
        let changed = report.changes.changed();
        let detail = StepDetail {
            changed: Some(changed),
            restarts: Some(report.restarts.clone()),
            package_manager_ms: Some(u64::try_from(report.took.as_millis()).unwrap_or(u64::MAX)),
            ..StepDetail::default()
        };
        let state = self.step(host, state, Step::Applied, None, detail).await?;
        // Checks that ran before a reboot or a restart say nothing about the host after it.
        let (acted, stale) = match self.settle_host(b, t, &report.restarts).await? {
            Ok(done) => done,
            Err(why) => return self.failed(host, state, why).await,
        };
        let regressions = if acted {
            self.regressions(host).await
        } else {
            regressions
        };
        let state = self
            .step(host, state, Step::Verify, None, StepDetail::default())
            .await?;
        let (state, detail) = self.judge(host, state, regressions).await?;
        if state != HostState::Verified {
            return Ok((state, detail));
        }
        Ok(match stale {
            None => (state, format!("{changed} package(s) changed")),
            Some(stale) => (state, format!("{changed} package(s) changed; {stale}")),
        })
    }

    /// From `verifying` after a crash: reboot or restart first if the host still needs it
    /// (the dead controller may not have got that far), then the host's checks against the
    /// baseline decide.
    pub(crate) async fn verify(
        &self,
        b: &Backend,
        t: &Target<'_>,
        state: HostState,
    ) -> Result<End, EngineError> {
        let host = t.name;
        let needs = match b.restarts(t).await {
            Ok(r) => r,
            Err(e) => return self.failed(host, state, e.to_string()).await,
        };
        if let Err(why) = self.settle_host(b, t, &needs).await? {
            return self.failed(host, state, why).await;
        }
        let regressions = self.regressions(host).await;
        self.judge(host, state, regressions).await
    }

    /// After the transaction, by policy: reboot a host that asks for it (`patch.reboot`),
    /// else restart what still runs replaced code (`patch.restart`). Returns whether it
    /// did either (the checks must run again), and what still runs replaced code, said for
    /// the operator; the inner `Err` is why the host fails.
    async fn settle_host(
        &self,
        b: &Backend,
        t: &Target<'_>,
        needs: &Restarts,
    ) -> Work<(bool, Option<String>)> {
        let host = t.name;
        if needs.reboot_required == Some(true) {
            return Ok(self.reboot(t, needs).await?.map(|()| (true, None)));
        }
        let stale = |r: &Restarts| -> Vec<String> {
            r.services.iter().chain(&r.processes).cloned().collect()
        };
        if stale(needs).is_empty() {
            return Ok(Ok((false, None)));
        }
        let acted = if self.policy().restart_auto {
            match self.restart(t, needs).await? {
                Ok(acted) => acted,
                Err(why) => return Ok(Err(why)),
            }
        } else {
            false
        };
        let reread;
        let left = if acted {
            reread = match b.restarts(t).await {
                Ok(r) => r,
                Err(e) => return Ok(Err(e.to_string())),
            };
            &reread
        } else {
            needs
        };
        let left_over = stale(left);
        if left_over.is_empty() {
            return Ok(Ok((acted, None)));
        }
        let said = format!(
            "still running replaced code ({}): {}; restart it or reboot",
            left.restart_source,
            left_over.join(", ")
        );
        self.say(host, HostEvent::Stale { said: said.clone() });
        Ok(Ok((acted, Some(said))))
    }

    /// Restart the services that still run replaced code (journaled on the rollout as
    /// `rollout.restart.finished`): whether any was restarted. A restart that failed fails
    /// the host.
    async fn restart(&self, t: &Target<'_>, needs: &Restarts) -> Work<bool> {
        let host = t.name;
        let done = match fearless_pkg::restart::restart(t, needs).await {
            Ok(done) => done,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if done.is_empty() {
            return Ok(Ok(false));
        }
        self.note(&RestartFinished {
            host: host.to_owned(),
            found_by: needs.restart_source.clone(),
            done: done.clone(),
        })
        .await?;
        if !done.restarted.is_empty() {
            self.say(
                host,
                HostEvent::Restarted {
                    services: done.restarted.clone(),
                },
            );
        }
        Ok(if done.failed.is_empty() {
            Ok(!done.restarted.is_empty())
        } else {
            Err(format!(
                "restarting what runs replaced code failed: {}",
                done.failed.join(", ")
            ))
        })
    }

    /// A host that says it needs a reboot: rebooted and back on a new boot when
    /// `patch.reboot` allows it, else the reason it fails. Journaled on the rollout
    /// (`rollout.reboot.started` with its token, then `.finished`).
    async fn reboot(&self, t: &Target<'_>, restarts: &Restarts) -> Work<()> {
        let host = t.name;
        let asked = if restarts.reboot_packages.is_empty() {
            restarts.reboot_source.clone()
        } else {
            format!(
                "{}: {}",
                restarts.reboot_source,
                restarts.reboot_packages.join(", ")
            )
        };
        if self.policy().reboot == RebootPolicy::Never {
            return Ok(Err(format!(
                "a reboot is required ({asked}) and patch.reboot is `never`; \
                 `patch.reboot: if-required` lets the rollout reboot it"
            )));
        }
        self.say(
            host,
            HostEvent::Rebooting {
                asked: asked.clone(),
            },
        );
        let timeout = self.policy().reboot_timeout;
        // The token is journaled first: `rollout resume` after a crash from here on tells
        // by it whether the reboot ran.
        let token = fearless_pkg::reboot::new_token();
        self.note(&RebootStarted {
            host: host.to_owned(),
            asked,
            timeout_s: timeout.as_secs(),
            token: token.clone(),
        })
        .await?;
        let rebooted = fearless_pkg::reboot::reboot(t, &token, timeout).await;
        let finished = match &rebooted {
            Ok(r) => RebootFinished {
                host: host.to_owned(),
                ok: true,
                command: Some(r.command.clone()),
                ms: Some(u64::try_from(r.took.as_millis()).unwrap_or(u64::MAX)),
                new_boot_id: Some(r.new_boot_id),
                ..RebootFinished::default()
            },
            Err(e) => RebootFinished::failed(host, e.to_string(), false),
        };
        self.reboot_ended(&finished).await?;
        Ok(match rebooted {
            Ok(r) => {
                self.say(
                    host,
                    HostEvent::Rebooted {
                        took: r.took,
                        command: r.command,
                    },
                );
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        })
    }

    /// Journal how a reboot ended; the checks reach the host over connections of their
    /// own, which died with it too, so they connect again.
    pub(crate) async fn reboot_ended(&self, finished: &RebootFinished) -> Result<(), EngineError> {
        self.note(finished).await?;
        self.checks.reconnect(&finished.host).await;
        Ok(())
    }

    /// From `verifying`, with the host's regressions against the baseline.
    pub(crate) async fn judge(
        &self,
        host: &str,
        state: HostState,
        regressions: Regressions,
    ) -> Result<End, EngineError> {
        if !regressions.is_empty() {
            let why = regressions.joined();
            self.say(host, HostEvent::Failed { why: why.clone() });
            let detail = StepDetail {
                error: Some(why.clone()),
                checks: regressions.checks,
                ..StepDetail::default()
            };
            let to = self.step(host, state, Step::Fail, None, detail).await?;
            return Ok((to, why));
        }
        let to = self
            .step(host, state, Step::Pass, None, StepDetail::default())
            .await?;
        self.say(host, HostEvent::Verified);
        Ok((to, "verified".into()))
    }

    /// Re-run a verified host's checks (end of the bake); its regressions, if any, after
    /// recording the host as failed.
    pub(crate) async fn verify_again(&self, host: &str) -> Result<Vec<String>, EngineError> {
        let detail = StepDetail {
            bake: Some("end".into()),
            ..StepDetail::default()
        };
        let state = self
            .step(host, HostState::Verified, Step::Verify, None, detail)
            .await?;
        let regressions = self.regressions(host).await;
        let (step, error) = if regressions.is_empty() {
            (Step::Pass, None)
        } else {
            (
                Step::Fail,
                Some(format!("after the bake: {}", regressions.joined())),
            )
        };
        let detail = StepDetail {
            error,
            regressions: regressions.lines.clone(),
            checks: regressions.checks,
            ..StepDetail::default()
        };
        self.step(host, state, step, None, detail).await?;
        Ok(regressions.lines)
    }

    /// Roll a host back to the snapshot recorded for it, and verify. `state` is `failed`,
    /// `verified` or `applied` (a wave rolled back whole), or `rolling-back` (an interrupted
    /// rollback is simply done again: it is exact). The checks as they ran afterwards are
    /// journaled with the end.
    pub(crate) async fn roll_back(
        &self,
        b: &Backend,
        t: &Target<'_>,
        state: HostState,
    ) -> Result<End, EngineError> {
        let host = t.name;
        // A host that failed before it was applied to (unreachable, say) has nothing to undo.
        if matches!(state, HostState::Pending | HostState::Snapshotted) {
            return Ok((
                state,
                "nothing to roll back: it failed before any change".into(),
            ));
        }
        let state = if state == HostState::RollingBack {
            state
        } else {
            self.step(host, state, Step::RollBack, None, StepDetail::default())
                .await?
        };
        self.say(host, HostEvent::RollingBack);
        let target = match self.snapshot_of(host).await? {
            Ok(s) => s,
            Err(why) => return self.rolled_back(host, state, Err(why), Vec::new()).await,
        };
        if let Err(e) = ops::rollback(b, t, &target, Options::default()).await {
            return self
                .rolled_back(
                    host,
                    state,
                    Err(format!("rollback failed: {e}")),
                    Vec::new(),
                )
                .await;
        }
        let regressions = self.regressions(host).await;
        let seen = regressions.seen.clone();
        if regressions.is_empty() {
            self.say(host, HostEvent::RolledBack);
            self.rolled_back(
                host,
                state,
                Ok("rolled back to its snapshot, checks pass".into()),
                seen,
            )
            .await
        } else {
            let why = format!("rolled back, but still failing: {}", regressions.joined());
            self.rolled_back(host, state, Err(why), seen).await
        }
    }

    /// Record the end of a rollback: `rolled-back` with `Ok`, `rollback-failed` with `Err`,
    /// each with why and the checks as they ran after it.
    async fn rolled_back(
        &self,
        host: &str,
        state: HostState,
        outcome: Result<String, String>,
        after: Vec<CheckSeen>,
    ) -> Result<End, EngineError> {
        let (step, why) = match outcome {
            Ok(why) => (Step::RolledBack, why),
            Err(why) => (Step::RollbackFailed, why),
        };
        let detail = StepDetail {
            detail: Some(why.clone()),
            after,
            ..StepDetail::default()
        };
        let to = self.step(host, state, step, None, detail).await?;
        Ok((to, why))
    }

    /// Roll a `rolled-back` host to its snapshot again (exact, so harmless when it is
    /// there already) and verify; the state stays `rolled-back`, the journal says why.
    pub(crate) async fn restore_snapshot(
        &self,
        b: &Backend,
        t: &Target<'_>,
    ) -> Result<End, EngineError> {
        let host = t.name;
        let target = match self.snapshot_of(host).await? {
            Ok(s) => s,
            Err(why) => return Ok((HostState::RolledBack, why)),
        };
        self.say(host, HostEvent::UndoingBisect);
        let detail = match ops::rollback(b, t, &target, Options::default()).await {
            Err(e) => {
                format!("an unfinished bisect left it off its snapshot, and restoring failed: {e}")
            }
            Ok(_) => {
                let regressions = self.regressions(host).await;
                if regressions.is_empty() {
                    "an unfinished bisect was undone: back on its snapshot, checks pass".into()
                } else {
                    format!(
                        "back on its snapshot after an unfinished bisect, but still failing: {}",
                        regressions.joined()
                    )
                }
            }
        };
        self.note(&BisectUndone {
            host: host.to_owned(),
            detail: detail.clone(),
        })
        .await?;
        Ok((HostState::RolledBack, detail))
    }

    /// The package set recorded for `host` before it changed; the inner `Err` says why
    /// there is none (a store that cannot be read stops the rollout).
    pub(crate) async fn snapshot_of(
        &self,
        host: &str,
    ) -> Result<Result<PackageSet, String>, EngineError> {
        let row = self.engine.store.rollout_host(self.rollout, host).await?;
        let Some(n) = row.and_then(|h| h.snapshot) else {
            return Ok(Err(format!("no snapshot recorded for {host}")));
        };
        let Some(snap) = self.engine.store.get_snapshot(n).await? else {
            return Ok(Err(format!("snapshot SNAP-{n} is missing")));
        };
        let doc: SnapshotDoc = serde_json::from_value(snap.record)
            .map_err(|e| EngineError::corrupt(format!("snapshot SNAP-{n}"), e))?;
        Ok(doc
            .hosts
            .get(host)
            .cloned()
            .ok_or_else(|| format!("snapshot SNAP-{n} has no package set for {host}")))
    }
}
