//! A rollout after its first controller: `rollout resume` (settle the hosts a dead
//! controller left mid-way, then go on — also continues a paused rollout), `rollout pause`
//! (no new wave starts) and `rollout abort` (no new host is touched, every changed host goes
//! back to its snapshot, the change is completed `backed-out`).

use std::collections::BTreeMap;
use std::time::Duration;

use fearless_config::Host;
use fearless_pkg::{Limits, Manifest};
use fearless_rollout::{HostState, RolloutState, Step};
use fearless_store::Stored;

use super::drive::{self, Ending, Halt};
use super::host::{End, Run};
use super::{RolloutOutcome, parse_state};
use crate::checks::CheckSet;
use crate::fleet::{Fleetwide, HostResult};
use crate::progress::Event;
use crate::record::{self, HostEnd, RolloutMoved, RolloutRecord, WaveBaked};
use crate::{Engine, EngineError};

/// A stored rollout, read back for `resume` and `abort`, with what driving it needs.
pub(super) struct Loaded {
    stored: Stored,
    pub(super) state: RolloutState,
    pub(super) record: RolloutRecord,
    manifest: Manifest,
    /// Each host's recorded state and wave.
    hosts: Vec<(String, HostState, usize)>,
    inventory: Vec<Host>,
}

impl Loaded {
    fn state_of(&self, host: &str) -> HostState {
        self.hosts
            .iter()
            .find(|(h, _, _)| h == host)
            .map_or(HostState::Pending, |(_, s, _)| *s)
    }

    fn wave_of(&self, host: &str) -> usize {
        self.hosts
            .iter()
            .find(|(h, _, _)| h == host)
            .map_or(0, |(_, _, w)| *w)
    }

    fn bake(&self) -> Duration {
        Duration::from_millis(self.record.bake_ms)
    }

    /// Its hosts whose recorded state `keep` accepts.
    fn hosts_where(&self, keep: impl Fn(HostState) -> bool) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|(_, s, _)| keep(*s))
            .map(|(h, _, _)| h.as_str())
            .collect()
    }

    /// What driving it needs: its checks and its hosts' connections.
    pub(super) fn open(&self, config: &fearless_config::Config) -> Result<Opened, EngineError> {
        let names: Vec<String> = self.hosts.iter().map(|(h, _, _)| h.clone()).collect();
        Ok(Opened {
            checks: CheckSet::for_components(config, &self.record.components, &names)?,
            fw: Fleetwide::with_hosts(
                config.clone(),
                self.inventory.clone(),
                Limits::default().lock_wait,
            ),
        })
    }

    /// The host steps of this rollout, by `engine`, with `opened`'s checks.
    pub(super) fn run<'e, 'a>(&'e self, engine: &'e Engine<'a>, opened: &'e Opened) -> Run<'e, 'a> {
        Run {
            engine,
            rollout: self.stored.number,
            manifest: &self.manifest,
            checks: &opened.checks,
            baseline: &self.record.baseline,
            // A resumed rollout has no preflight: a host applied to plans again.
            prepared: BTreeMap::new(),
            // `rollout resume` and `abort` drive every host themselves.
            team: None,
        }
    }

    /// The ends of host work on its hosts: a host the fleet could not reach for it keeps
    /// its recorded state.
    fn ends(
        &self,
        results: Vec<HostResult<Result<End, EngineError>>>,
    ) -> Result<Vec<HostEnd>, EngineError> {
        drive::ends_of(results, |h| self.wave_of(h), |h| self.state_of(h))
    }
}

/// A loaded rollout's checks and connections, closed after use.
pub(super) struct Opened {
    checks: CheckSet,
    pub(super) fw: Fleetwide,
}

impl Opened {
    pub(super) async fn close(self) {
        self.checks.close().await;
        self.fw.close().await;
    }
}

impl Engine<'_> {
    pub(super) async fn load(&self, n: u64) -> Result<Loaded, EngineError> {
        let (stored, record) = self.rollout(n).await?;
        let state = parse_state(&stored)?;
        let manifest = Manifest::parse(&format!("R-{n}"), &record.manifest.join("\n"))
            .map_err(|e| EngineError::corrupt(format!("rollout R-{n}'s manifest"), e))?;
        let mut hosts = Vec::new();
        let mut inventory = Vec::new();
        for (row, state) in self.rollout_hosts(n).await? {
            let h = self.config.inventory.hosts.get(&row.host).ok_or_else(|| {
                EngineError::bad_input(
                    format!("R-{n}: host {} is no longer in the inventory", row.host),
                    None,
                )
            })?;
            inventory.push(h.clone());
            hosts.push((row.host, state, row.wave as usize));
        }
        Ok(Loaded {
            stored,
            state,
            record,
            manifest,
            hosts,
            inventory,
        })
    }

    /// Move rollout `l` to `state`, journaled.
    async fn move_rollout(&self, l: &mut Loaded, state: RolloutState) -> Result<(), EngineError> {
        l.stored = self
            .store_rollout(&l.stored, state, &l.record, RolloutMoved::default())
            .await?;
        l.state = state;
        Ok(())
    }

    /// `rollout resume R`: settle the hosts a dead controller left mid-way, then go on.
    pub async fn resume(&self, n: u64) -> Result<RolloutOutcome, EngineError> {
        self.may_patch("resume", &format!("R-{n}"))?;
        let mut l = self.load(n).await?;
        match l.state {
            RolloutState::Running => {}
            RolloutState::Paused => self.move_rollout(&mut l, RolloutState::Running).await?,
            state => return Ok(RolloutOutcome::Nothing { rollout: n, state }),
        }
        let opened = l.open(self.config)?;
        let outcome = self.resume_with(&l, &opened).await;
        opened.close().await;
        outcome
    }

    async fn resume_with(
        &self,
        l: &Loaded,
        opened: &Opened,
    ) -> Result<RolloutOutcome, EngineError> {
        let (n, fw) = (l.stored.number, &opened.fw);
        let run = l.run(self, opened);
        let touched = l.hosts_where(|s| s != HostState::Pending);
        self.progress.event(Event::Resuming {
            rollout: n,
            hosts: touched.len(),
        });
        let settled = fw
            .each_of(&touched, |b, t| {
                let run = &run;
                let state = l.state_of(t.name);
                async move { Ok(run.recover_host(&b, &t, state).await) }
            })
            .await;
        let mut ends = l.ends(settled)?;
        // Failed hosts the recovery could not settle are rolled back, as the run would have.
        let failing: Vec<String> = ends
            .iter()
            .filter(|e| e.state == HostState::Failed)
            .map(|e| e.host.clone())
            .collect();
        let failing: Vec<&str> = failing.iter().map(String::as_str).collect();
        drive::roll_back_all(&run, fw, &failing, &mut ends).await?;
        let (ends, halt) = if ends.iter().all(|e| e.state == HostState::Verified) {
            let mut first = l
                .record
                .waves
                .iter()
                .position(|w| w.iter().any(|h| !ends.iter().any(|e| &e.host == h)))
                .unwrap_or(l.record.waves.len());
            // The controller died baking the last settled wave: bake it again (and
            // re-check) before the next one; a bake is never skipped.
            if first > 0 && !l.bake().is_zero() && !self.baked(n, first).await? {
                self.progress.event(Event::NotBaked {
                    rollout: n,
                    wave: first,
                });
                first -= 1;
            }
            drive::drive(&run, fw, &l.record.waves, ends, first, l.bake()).await?
        } else {
            let bad: Vec<String> = ends
                .iter()
                .filter(|e| e.state != HostState::Verified)
                .map(|e| format!("{} {}", e.host, e.state))
                .collect();
            (
                ends,
                Some(Halt::Stopped {
                    why: format!("resumed with {}", bad.join(", ")),
                    bisect: None,
                }),
            )
        };
        drive::conclude(self, n, &l.record, &ends, halt).await
    }

    /// Whether wave `wave` (1-based) of rollout `r` finished its bake.
    async fn baked(&self, r: u64, wave: usize) -> Result<bool, EngineError> {
        for e in self.journal_of(&format!("R-{r}")).await? {
            if let Some(b) = record::decode::<WaveBaked>(&e)
                && b?.wave == wave
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `rollout pause R`: the controller stops before its next wave.
    pub async fn pause(&self, n: u64) -> Result<(), EngineError> {
        self.may_patch("pause", &format!("R-{n}"))?;
        let mut l = self.load(n).await?;
        if l.state != RolloutState::Running {
            return Err(EngineError::gate(
                format!("R-{n} is {}: only a running rollout can be paused", l.state),
                None,
            ));
        }
        self.move_rollout(&mut l, RolloutState::Paused).await
    }

    /// Whether the actor may abort `R-<n>` and it is in a state to be aborted, without
    /// moving anything (a front end that aborts in the background answers refusals first).
    pub async fn may_abort(&self, n: u64) -> Result<(), EngineError> {
        self.may_patch("abort", &format!("R-{n}"))?;
        let state = self.rollout_state(n).await?;
        match state {
            RolloutState::Running | RolloutState::Paused | RolloutState::Aborting => Ok(()),
            state => Err(EngineError::gate(
                format!("R-{n} is {state}: only a running or paused rollout can be aborted"),
                None,
            )),
        }
    }

    /// `rollout abort R`: no new host is touched, and every host the rollout changed goes
    /// back to its snapshot; the change is completed `backed-out`.
    pub async fn abort(&self, n: u64) -> Result<RolloutOutcome, EngineError> {
        self.may_patch("abort", &format!("R-{n}"))?;
        let mut l = self.load(n).await?;
        match l.state {
            RolloutState::Running | RolloutState::Paused => {
                self.move_rollout(&mut l, RolloutState::Aborting).await?;
            }
            RolloutState::Aborting => {}
            state => return Ok(RolloutOutcome::Nothing { rollout: n, state }),
        }
        let opened = l.open(self.config)?;
        let outcome = self.abort_with(&l, &opened).await;
        opened.close().await;
        outcome
    }

    async fn abort_with(&self, l: &Loaded, opened: &Opened) -> Result<RolloutOutcome, EngineError> {
        let (n, fw) = (l.stored.number, &opened.fw);
        let run = l.run(self, opened);
        let changed = l.hosts_where(|s| {
            !matches!(
                s,
                HostState::Pending
                    | HostState::Snapshotted
                    | HostState::RolledBack
                    | HostState::RollbackFailed
            )
        });
        self.progress.event(Event::Aborting {
            rollout: n,
            hosts: changed.len(),
        });
        let back = fw
            .each_of(&changed, |b, t| {
                let run = &run;
                let state = l.state_of(t.name);
                async move {
                    let steps: &[Step] = match state {
                        HostState::Applying | HostState::Applied | HostState::Verifying => {
                            &[Step::Fail]
                        }
                        _ => &[],
                    };
                    let end = match run.walk(t.name, state, steps).await {
                        Ok(s) => run.roll_back(&b, &t, s).await,
                        Err(e) => Err(e),
                    };
                    Ok(end)
                }
            })
            .await;
        let ends = l.ends(back)?;
        let end = drive::finish(
            self,
            Ending {
                rollout: n,
                record: &l.record,
                ends: &ends,
                stopped: Some(format!("aborted by {}", self.actor.name)),
                open_incident: false,
                bisect: None,
            },
        )
        .await?;
        Ok(RolloutOutcome::Ended(end))
    }
}
