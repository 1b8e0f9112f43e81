//! A host a dead controller left mid-way: settle an unfinished reboot, wait for a
//! transaction it started, then reach a consistent end by [`fearless_rollout::recover`] —
//! never applying twice. Also the canary's bisect, and undoing one left unfinished.

use std::collections::BTreeSet;

use fearless_pkg::ops;
use fearless_pkg::{Backend, PackageManager, Target};
use fearless_rollout::{HostState, Live, Recovery, Step, recover};

use super::host::{End, Run, Work};
use crate::EngineError;
use crate::bisect::{self, Mode};
use crate::fleet::Fleetwide;
use crate::progress::HostEvent;
use crate::record::{
    self, BisectEnded, BisectStarted, BisectUndone, Bisected, HostEnd, HostStep, KeptBisect,
    RebootFinished, RebootStarted,
};

impl Run<'_, '_> {
    /// Bring a host found in `state` after a crash to a consistent end.
    pub(crate) async fn recover_host(
        &self,
        b: &Backend,
        t: &Target<'_>,
        state: HostState,
    ) -> Result<End, EngineError> {
        let host = t.name;
        // The dead controller was rebooting it: it may still be on its way back.
        if let Some(started) = self.unfinished_reboot(host).await?
            && let Err(why) = self.settle_reboot(t, &started).await?
        {
            return Ok((state, why));
        }
        // A transaction the dead controller started may still be running: its end is the
        // host's state, so wait for it before reading.
        match fearless_pkg::backend::wait_for_lock(t).await {
            Ok(None) => {}
            Ok(Some(holder)) => {
                return Ok((
                    state,
                    format!(
                        "the package lock is still held by {holder}; resume again once it is free"
                    ),
                ));
            }
            Err(e) => return Ok((state, format!("cannot look for the package lock: {e}"))),
        }
        let live = match ops::package_set(b, t).await {
            Ok(set) => set,
            Err(e) => return Ok((state, format!("cannot read its packages: {e}"))),
        };
        let kind = b.manager().kind();
        let at_manifest = self.manifest.pins.iter().all(|pin| {
            live.packages
                .iter()
                .any(|p| p.name == pin.name && ops::matches_pin(kind, &p.version, &pin.version))
        });
        let at_snapshot = self
            .snapshot_of(host)
            .await?
            .is_ok_and(|snap| snap.canonical() == live.canonical());
        let action = recover(
            state,
            Live {
                at_snapshot,
                at_manifest,
            },
        );
        self.say(
            host,
            HostEvent::Found {
                state,
                action: action.clone(),
            },
        );
        use HostState as S;
        match action {
            Recovery::Untouched | Recovery::Done => Ok((state, format!("{state}, unchanged"))),
            // The controller died bisecting the rolled-back canary: finish the restore.
            Recovery::Investigate(_)
                if state == S::RolledBack && self.unfinished_bisect(host).await? =>
            {
                self.restore_snapshot(b, t).await
            }
            Recovery::Investigate(why) => Ok((state, why)),
            Recovery::Apply => {
                let steps: &[Step] = if state == S::Snapshotted {
                    &[Step::Apply]
                } else {
                    &[]
                };
                let s = self.walk(host, state, steps).await?;
                self.apply_from(b, t, s, None).await
            }
            Recovery::Verify => {
                let steps: &[Step] = match state {
                    S::Snapshotted => &[Step::Apply, Step::Applied, Step::Verify],
                    S::Applying => &[Step::Applied, Step::Verify],
                    S::Applied => &[Step::Verify],
                    _ => &[],
                };
                let s = self.walk(host, state, steps).await?;
                self.verify(b, t, s).await
            }
            Recovery::RollBack | Recovery::RecordRolledBack => {
                let steps: &[Step] = match state {
                    S::Applying | S::Applied | S::Verifying => &[Step::Fail],
                    _ => &[],
                };
                let s = self.walk(host, state, steps).await?;
                self.roll_back(b, t, s).await
            }
        }
    }

    /// The `rollout.reboot.started` entry of `host` when its last reboot entry is that one
    /// (the reboot never finished on record).
    async fn unfinished_reboot(&self, host: &str) -> Result<Option<RebootStarted>, EngineError> {
        for e in self.engine.journal_of(&self.subject()).await?.iter().rev() {
            if let Some(r) = record::decode::<RebootStarted>(e)
                && r.as_ref().map_or(true, |r| r.host == host)
            {
                return r.map(Some);
            }
            if let Some(r) = record::decode::<RebootFinished>(e)
                && r?.host == host
            {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Whether a bisect of `host` started in this rollout and never ended on record.
    async fn unfinished_bisect(&self, host: &str) -> Result<bool, EngineError> {
        for e in self.engine.journal_of(&self.subject()).await?.iter().rev() {
            if let Some(r) = record::decode::<BisectStarted>(e)
                && r?.host == host
            {
                return Ok(true);
            }
            let ended = match (
                record::decode::<BisectEnded>(e),
                record::decode::<BisectUndone>(e),
            ) {
                (Some(r), _) => r?.host == host,
                (_, Some(r)) => r?.host == host,
                _ => false,
            };
            if ended {
                return Ok(false);
            }
        }
        Ok(false)
    }

    /// A reboot the dead controller started: wait for the host to come back if the reboot
    /// ran, and journal how it ended. The inner `Err` is why the host cannot be settled.
    async fn settle_reboot(&self, t: &Target<'_>, started: &RebootStarted) -> Work<()> {
        use fearless_pkg::reboot::{Settled, settle};
        let host = t.name;
        self.say(host, HostEvent::SettlingReboot);
        let settled = settle(t, &started.token, self.engine.config.patch.reboot_timeout).await;
        let finished = match &settled {
            Ok(Settled::Rebooted(waited)) => RebootFinished {
                host: host.to_owned(),
                ok: true,
                resumed: true,
                waited_ms: Some(u64::try_from(waited.as_millis()).unwrap_or(u64::MAX)),
                ..RebootFinished::default()
            },
            Ok(Settled::NeverStarted) => RebootFinished::failed(
                host,
                "the controller died before the reboot command ran".into(),
                true,
            ),
            Err(e) => RebootFinished::failed(host, e.to_string(), true),
        };
        self.reboot_ended(&finished).await?;
        Ok(match settled {
            Ok(Settled::Rebooted(_)) => {
                self.say(host, HostEvent::RebootSettled);
                Ok(())
            }
            Ok(Settled::NeverStarted) => {
                self.say(host, HostEvent::RebootNeverRan);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        })
    }

    /// `bisect: auto` after a failed canary: on the first canary host that is back on its
    /// snapshot and passing, bisect the manifest against the checks that failed there (read
    /// from its `failed` step in the journal). The host ends on its snapshot again. Returns
    /// what the incident keeps; a bisect that cannot run is said and skipped.
    pub(crate) async fn bisect_canary(
        &self,
        fw: &Fleetwide,
        wave: &[HostEnd],
    ) -> Result<Option<KeptBisect>, EngineError> {
        let Some(host) = wave.iter().find(|e| e.state == HostState::RolledBack) else {
            return Ok(None);
        };
        let host = host.host.as_str();
        let mut failed: Option<HostStep> = None;
        for e in self.engine.journal_of(&self.subject()).await? {
            if let Some(step) = HostStep::decode(&e) {
                let step = step?;
                if step.host == host && step.to == HostState::Failed {
                    failed = Some(step);
                }
            }
        }
        let wanted: Vec<(String, String)> = failed
            .iter()
            .flat_map(|s| &s.detail.checks)
            .map(|c| (c.component.clone(), c.check.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let skip = |why: String| {
            self.say(host, HostEvent::NoBisect { why });
            Ok(None)
        };
        let items = match self.checks.select(host, &wanted) {
            Ok(items) => items,
            Err(e) => return skip(e.to_string()),
        };
        let target = match self.snapshot_of(host).await? {
            Ok(t) => t,
            Err(why) => return skip(why),
        };
        self.say(
            host,
            HostEvent::Bisecting {
                packages: self.manifest.pins.len(),
                checks: wanted.len(),
            },
        );
        // Marked on the rollout, so that `rollout resume` after a crash mid-bisect knows
        // the host's packages are a bisect round's, and restores its snapshot.
        self.note(&BisectStarted {
            host: host.to_owned(),
        })
        .await?;
        let (target, items) = (&target, &items);
        let mut results = fw
            .each_of(&[host], |b, t| async move {
                bisect::on_host(
                    &b,
                    &t,
                    target,
                    self.manifest,
                    self.checks,
                    items,
                    Mode::Halving,
                    self.engine.progress,
                )
                .await
            })
            .await;
        let report = match results.pop() {
            Some((_, Ok(report))) => report,
            Some((_, Err(e))) => {
                // Never leave the canary on a bisect round's packages.
                let (state, detail) = self.restore_after_bisect(fw, host).await?;
                return skip(format!("{e}; {host} is {state}: {detail}"));
            }
            None => return Ok(None),
        };
        self.note(&BisectEnded {
            host: host.to_owned(),
        })
        .await?;
        let checks: Vec<String> = wanted.iter().map(|(c, k)| format!("{c}/{k}")).collect();
        let snapshot = self
            .engine
            .store
            .rollout_host(self.rollout, host)
            .await?
            .and_then(|r| r.snapshot)
            .map(|n| format!("SNAP-{n}"));
        let bisected = Bisected {
            v: record::VERSION,
            rollout: Some(self.subject()),
            snapshot,
            manifest: self.manifest.pins.iter().map(ToString::to_string).collect(),
            checks: checks.clone(),
            report: report.clone(),
        };
        self.engine
            .store
            .append(record::event(
                self.engine.actor,
                format!("host:{host}"),
                &bisected,
            ))
            .await?;
        Ok(Some(KeptBisect {
            host: host.to_owned(),
            checks,
            report,
            at: self.engine.clock.now(),
        }))
    }

    /// Put a rolled-back host whose bisect did not finish back on its snapshot, and verify.
    async fn restore_after_bisect(&self, fw: &Fleetwide, host: &str) -> Result<End, EngineError> {
        let mut results = fw
            .each_of(&[host], |b, t| async move {
                Ok(self.restore_snapshot(&b, &t).await)
            })
            .await;
        match results.pop() {
            Some((_, Ok(end))) => end,
            Some((_, Err(e))) => Ok((HostState::RolledBack, format!("cannot restore it: {e}"))),
            None => Ok((HostState::RolledBack, "cannot restore it".into())),
        }
    }
}
