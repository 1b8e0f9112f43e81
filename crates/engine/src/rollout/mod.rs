//! Patch rollouts end to end: [`Engine::patch`] (the gate, the preflight and the baseline
//! side by side, the frozen manifest, the waves, the record, the drive, the end),
//! [`Engine::resume`], [`Engine::pause`] and [`Engine::abort`].
//!
//! Every host step is a compare-and-set in the store with its journal entry, written before
//! the work it announces; the pure rules (wave planning, the host state machine and its
//! crash recovery) are `fearless-rollout`'s.
//!
//! With `patch --workers` a wave's hosts are leased to workers, this process's and any
//! `fearless worker` ([`Engine::work`]) that joins on the same store (`workers.rs`); the
//! gate decides from the ends they write on the leases.

mod control;
mod drive;
mod host;
mod preflight;
mod recover;
pub(crate) mod workers;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fearless_change::{CloseCode, Command};
use fearless_config::{Host, RebootPolicy, Selector};
use fearless_pkg::Manifest;
use fearless_probe::baseline::Baseline;
use fearless_rollout::{
    HostState, Member, RolloutState, WaveSize, default_max_unavailable, parse_waves, plan,
};
use fearless_store::{RolloutHost, Stored};

use crate::checks::CheckSet;
use crate::fleet::Fleetwide;
use crate::progress::Event;
use crate::record::{self, RolloutRecord, RolloutResult, RolloutStarted, Timings};
use crate::{Engine, EngineError};
use host::Run;
pub use workers::{MIN_LEASE, WorkRequest, WorkerEnd, Workers};

/// What `fearless patch` asks for.
#[derive(Debug, Clone, Default)]
pub struct PatchRequest {
    /// The change (`CHG-3`): approved, scheduled, in its window; its frozen scope gives
    /// the hosts.
    pub change: String,
    /// Narrow the change's hosts.
    pub hosts: Option<Selector>,
    /// Wave sizes; the config's `patch.waves` when `None`.
    pub waves: Option<Vec<WaveSize>>,
    /// How long each wave bakes; the config's `patch.bake` when `None`.
    pub bake: Option<Duration>,
    /// Exactly these pins instead of the pending updates (`patch.exclude` still applies).
    pub manifest: Option<Manifest>,
    /// Only security updates.
    pub security_only: bool,
    /// Exactly the fixed versions that close these advisories (`--fixes`, `--feed`)
    /// instead of the pending updates.
    pub fixes: Option<Fixes>,
    /// Go ahead although the baseline has failures (then only regressions count).
    pub accept_baseline_failures: bool,
    /// Plan only: change nothing.
    pub dry_run: bool,
    /// How long to wait for another process's package lock.
    pub lock_wait: Duration,
    /// `--workers N`: lease each wave's hosts to workers (N of this process's own, and any
    /// `fearless worker` that joins) instead of patching them all from here.
    pub workers: Option<Workers>,
}

/// The advisories `fearless patch --fixes` closes: from this feed, the selected ones.
#[derive(Debug, Clone)]
pub struct Fixes {
    /// Every advisory of the `--feed` paths.
    pub feed: std::sync::Arc<fearless_vulns::Feed>,
    /// Which of them.
    pub selection: fearless_vulns::Selection,
}

/// What a rollout would do: the manifest, the waves, the bake, the reboot policy, and the
/// baseline's failures.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPlan {
    /// `CHG-3`.
    pub change: String,
    /// The change's title.
    pub title: String,
    /// The frozen manifest.
    pub manifest: Vec<String>,
    /// With `--fixes`: what the manifest closes, one line per advisory and package.
    pub fixes: Vec<String>,
    /// The hosts of each wave.
    pub waves: Vec<Vec<String>>,
    /// Each wave's bake.
    pub bake: Duration,
    /// `patch.reboot`.
    pub reboot: RebootPolicy,
    /// `patch.reboot_timeout`.
    pub reboot_timeout: Duration,
    /// The baseline's failing checks, one line each.
    pub baseline_failures: Vec<String>,
}

/// How `fearless patch` ended.
#[derive(Debug, Clone)]
pub enum PatchOutcome {
    /// No host has a pending update (after excludes).
    NothingToPatch {
        /// Hosts in scope.
        hosts: usize,
    },
    /// `--fixes`: no selected advisory with a fix applies to a host in scope.
    NothingToFix {
        /// Hosts in scope.
        hosts: usize,
        /// Selected advisories that apply but have no fixed version yet.
        unfixed: Vec<String>,
    },
    /// A dry run: the plan, nothing changed.
    DryRun(PatchPlan),
    /// The baseline has failing checks and they were not accepted: nothing changed.
    BaselineFailing(PatchPlan),
    /// The rollout ran.
    Rollout(RolloutOutcome),
}

/// How a rollout's controller ended.
#[derive(Debug, Clone)]
pub enum RolloutOutcome {
    /// Every wave passed, or it stopped and was backed out (or not: `failed`).
    Ended(RolloutEnd),
    /// `rollout pause`: stopped before wave `before_wave`.
    Paused {
        /// `R-<n>`.
        rollout: u64,
        /// The wave that did not start (1-based).
        before_wave: usize,
    },
    /// `rollout abort` took it over.
    Aborting {
        /// `R-<n>`.
        rollout: u64,
    },
    /// `rollout resume` / `abort` of a rollout already in `state`: nothing to do.
    Nothing {
        /// `R-<n>`.
        rollout: u64,
        /// Its state.
        state: RolloutState,
    },
}

/// A rollout's end.
#[derive(Debug, Clone)]
pub struct RolloutEnd {
    /// `R-<n>`.
    pub rollout: u64,
    /// `completed`, `backed-out` or `failed`.
    pub state: RolloutState,
    /// The change's close code.
    pub code: CloseCode,
    /// What happened to every host it touched.
    pub result: RolloutResult,
    /// Hosts of its waves it never touched.
    pub untouched: Vec<String>,
}

impl Engine<'_> {
    /// `R-<n>` as stored, with its record decoded; one that does not exist is bad input.
    pub async fn rollout(&self, n: u64) -> Result<(Stored, RolloutRecord), EngineError> {
        let stored = self.store.get_rollout(n).await?.ok_or_else(|| {
            EngineError::bad_input(
                format!("there is no rollout R-{n}"),
                Some("see `fearless rollout list`"),
            )
        })?;
        let record = decode_rollout(&stored)?;
        Ok((stored, record))
    }

    /// Every rollout, by number.
    pub async fn rollouts(&self) -> Result<Vec<(Stored, RolloutRecord)>, EngineError> {
        self.store
            .list_rollouts()
            .await?
            .into_iter()
            .map(|s| decode_rollout(&s).map(|r| (s, r)))
            .collect()
    }

    /// The hosts of `R-<n>` with their states, by wave then name.
    pub async fn rollout_hosts(
        &self,
        n: u64,
    ) -> Result<Vec<(RolloutHost, HostState)>, EngineError> {
        self.store
            .rollout_hosts(n)
            .await?
            .into_iter()
            .map(|h| {
                let state = h.state.parse::<HostState>().map_err(|e| {
                    EngineError::corrupt(format!("rollout R-{n} host {}", h.host), e)
                })?;
                Ok((h, state))
            })
            .collect()
    }

    /// One host of `R-<n>` with its parsed state (`None`: the rollout has no such host).
    pub async fn rollout_host(
        &self,
        n: u64,
        host: &str,
    ) -> Result<Option<(RolloutHost, HostState)>, EngineError> {
        let Some(h) = self.store.rollout_host(n, host).await? else {
            return Ok(None);
        };
        let state = h
            .state
            .parse::<HostState>()
            .map_err(|e| EngineError::corrupt(format!("rollout R-{n} host {}", h.host), e))?;
        Ok(Some((h, state)))
    }

    /// The state the store holds for `R-<n>`.
    pub async fn rollout_state(&self, n: u64) -> Result<RolloutState, EngineError> {
        let stored = self.store.get_rollout(n).await?.ok_or_else(|| {
            EngineError::corrupt(format!("rollout R-{n}"), "it is no longer in the store")
        })?;
        parse_state(&stored)
    }

    /// Refuse the actor `action` (patch, resume, pause, abort) on `what` unless
    /// `identity.roles.patch` names them (absent: anyone may).
    pub(crate) fn may_patch(&self, action: &str, what: &str) -> Result<(), EngineError> {
        match &self.config.identity.roles.patch {
            Some(allowed) if !allowed.contains(self.actor.name) => Err(EngineError::Refused {
                message: format!(
                    "{} may not {action} {what}: identity.roles.patch allows {}",
                    self.actor.name,
                    if allowed.is_empty() {
                        "nobody".to_owned()
                    } else {
                        allowed.iter().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
                hint: None,
            }),
            _ => Ok(()),
        }
    }

    /// `fearless patch`: apply updates to a change's hosts in canary waves gated by the
    /// test plan, rolling failing hosts back to their snapshots.
    pub async fn patch(&self, req: PatchRequest) -> Result<PatchOutcome, EngineError> {
        if !req.dry_run {
            self.may_patch("patch", &req.change)?;
        }
        if let Some(workers) = req.workers {
            self.check_workers(workers).await?;
        }
        let config = self.config;
        let sizes = match &req.waves {
            Some(sizes) => sizes.clone(),
            None => parse_waves(&config.patch.waves.join(",")).map_err(|e| {
                EngineError::bad_input(format!("patch.waves: {e}"), Some("e.g. 1,25%,100%"))
            })?,
        };
        let bake = req.bake.unwrap_or(config.patch.bake);
        let (stored, record) = self.change(&req.change).await?;

        // The gate, before anything runs: approved, scheduled and in its window.
        fearless_change::apply(
            &record,
            Command::Start,
            self.actor.name,
            self.clock.now(),
            &fearless_change::Policy::from_config(config),
            &[],
        )
        .map_err(|e| match e {
            fearless_change::ChangeError::IllegalTransition { .. } => EngineError::gate(
                format!("{e}: only an approved, scheduled change can be patched"),
                Some("submit, approve (by someone else) and schedule it first"),
            ),
            other => match EngineError::from_change(other) {
                EngineError::BadInput { message, hint } => EngineError::Gate { message, hint },
                e => e,
            },
        })?;

        let inv = &config.inventory;
        let hosts: Vec<Host> = record
            .scope
            .hosts
            .iter()
            .filter_map(|h| inv.hosts.get(h))
            .filter(|h| req.hosts.as_ref().is_none_or(|s| s.matches(h, &inv.groups)))
            .cloned()
            .collect();
        if hosts.is_empty() {
            return Err(EngineError::bad_input(
                format!("{} has no host in scope that matches", record.id()),
                Some("the change's frozen scope gives the hosts; --hosts only narrows it"),
            ));
        }
        let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
        let components = preflight::in_scope(config, &record, &hosts);
        let fw = Fleetwide::with_hosts(config.clone(), hosts.clone(), req.lock_wait);
        let checks = CheckSet::for_components(config, &components, &names)?;
        let outcome = self
            .patch_with(
                &req,
                &record,
                &stored,
                &fw,
                &checks,
                &components,
                &sizes,
                bake,
            )
            .await;
        checks.close().await;
        fw.close().await;
        outcome
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the steps of `patch` after its resources are open, which `patch` closes"
    )]
    async fn patch_with(
        &self,
        req: &PatchRequest,
        record: &fearless_change::ChangeRecord,
        stored: &Stored,
        fw: &Fleetwide,
        checks: &CheckSet,
        components: &[String],
        sizes: &[WaveSize],
        bake: Duration,
    ) -> Result<PatchOutcome, EngineError> {
        let config = self.config;
        let hosts = fw.hosts();
        // Preflight (every host reachable, its metadata fresh, room on /var) and the
        // baseline of the test plan run side by side: neither changes a host.
        self.progress.event(Event::Preflight {
            hosts: hosts.len(),
            checks: checks.items().len(),
        });
        let baseline_run = async {
            let started = Instant::now();
            let results = checks.run_all().await;
            (results, started.elapsed())
        };
        let (pre, (baseline_results, baseline_time)) =
            tokio::join!(preflight::preflight(fw), baseline_run);
        let pre = pre?;
        let mut fix_lines = Vec::new();
        let frozen = match (&req.manifest, &req.fixes) {
            (Some(m), _) => preflight::without_excluded(m, "--manifest", &config.patch.exclude)?,
            (None, Some(fixes)) => {
                let plan = preflight::fixes(fw, fixes, &pre, &config.patch.exclude).await?;
                let Some((manifest, lines)) = plan.manifest else {
                    return Ok(PatchOutcome::NothingToFix {
                        hosts: hosts.len(),
                        unfixed: plan.unfixed,
                    });
                };
                self.progress.event(Event::Fixes {
                    lines: lines.clone(),
                });
                fix_lines = lines;
                Some(manifest)
            }
            (None, None) => preflight::freeze(&pre, &config.patch.exclude, req.security_only)?,
        };
        let Some(manifest) = frozen else {
            return Ok(PatchOutcome::NothingToPatch { hosts: hosts.len() });
        };
        let baseline_failures: Vec<String> = baseline_results
            .iter()
            .filter(|r| !r.status.is_ok())
            .map(host::describe_check)
            .collect();
        // Every host must be able to take the manifest with a way back, before any package
        // changes. A rollout that will go on keeps the versions it replaces in the hosts'
        // caches now, all hosts at once (a dry run, or one the baseline stops, only asks).
        let keep = !req.dry_run && (baseline_failures.is_empty() || req.accept_baseline_failures);
        let (prepared, preflight_pm) = preflight::prepare(fw, &manifest, keep, &pre).await?;

        // Waves: spread across failure domains, never a whole component at once.
        let members: Vec<Member> = hosts
            .iter()
            .map(|h| Member {
                host: h.name.clone(),
                domain: h.labels.get(&config.patch.failure_domain).cloned(),
                components: components
                    .iter()
                    .filter(|c| preflight::runs_on(config, c, h))
                    .cloned()
                    .collect(),
            })
            .collect();
        let per_component: BTreeMap<&str, usize> = components
            .iter()
            .map(|c| {
                (
                    c.as_str(),
                    members.iter().filter(|m| m.components.contains(c)).count(),
                )
            })
            .collect();
        let waves = plan(&members, sizes, |c| {
            default_max_unavailable(per_component.get(c).copied().unwrap_or(1))
        });
        let pins: Vec<String> = manifest.pins.iter().map(ToString::to_string).collect();
        let the_plan = PatchPlan {
            change: record.id().to_string(),
            title: record.title.clone(),
            manifest: pins.clone(),
            fixes: fix_lines,
            waves: waves.clone(),
            bake,
            reboot: config.patch.reboot,
            reboot_timeout: config.patch.reboot_timeout,
            baseline_failures: baseline_failures.clone(),
        };
        if req.dry_run {
            return Ok(PatchOutcome::DryRun(the_plan));
        }
        if !baseline_failures.is_empty() && !req.accept_baseline_failures {
            return Ok(PatchOutcome::BaselineFailing(the_plan));
        }

        // Start implementing the change, then record the rollout.
        self.advance(stored, record, Command::Start).await?;
        let baseline = Baseline::from_results(&baseline_results);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let rollout = RolloutRecord {
            v: record::VERSION,
            change: record.id().to_string(),
            manifest: pins.clone(),
            waves: waves.clone(),
            bake_ms: ms(bake),
            accept_baseline_failures: req.accept_baseline_failures,
            components: components.to_vec(),
            baseline,
            timings: Timings {
                preflight_package_manager_ms: ms(preflight_pm),
                baseline_checks_ms: ms(baseline_time),
            },
            leasing: req.workers.map(|w| record::Leasing {
                lease_ms: ms(w.lease),
            }),
            result: None,
        };
        let wave_of: Vec<(String, u32)> = waves
            .iter()
            .enumerate()
            .flat_map(|(i, w)| {
                let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
                w.iter().map(move |h| (h.clone(), n))
            })
            .collect();
        let r = self
            .store
            .insert_rollout(
                RolloutState::Running.as_str(),
                &serde_json::to_value(&rollout)
                    .map_err(|e| EngineError::corrupt("the new rollout", e))?,
                &wave_of,
                &HostState::Pending.to_string(),
                record::event(
                    self.actor,
                    "",
                    &RolloutStarted {
                        v: record::VERSION,
                        change: rollout.change.clone(),
                        manifest: pins.clone(),
                        waves: waves.clone(),
                    },
                ),
            )
            .await?
            .number;
        self.progress.event(Event::RolloutStarted {
            rollout: r,
            pins: pins.len(),
            waves: waves.len(),
        });
        let team = req.workers.map(|w| workers::Team::new(w.tasks, w.lease));
        if let Some(team) = &team {
            self.join(&format!("R-{r}"), team).await?;
        }
        let run = Run {
            engine: self,
            rollout: r,
            manifest: &manifest,
            checks,
            baseline: &rollout.baseline,
            prepared,
            team,
        };
        let (ends, halt) = drive::drive(&run, fw, &waves, Vec::new(), 0, bake).await?;
        let outcome = drive::conclude(self, r, &rollout, &ends, halt).await?;
        Ok(PatchOutcome::Rollout(outcome))
    }
}

/// A stored rollout's record.
fn decode_rollout(stored: &Stored) -> Result<RolloutRecord, EngineError> {
    serde_json::from_value(stored.record.clone())
        .map_err(|e| EngineError::corrupt(format!("rollout R-{}", stored.number), e))
}

/// A stored rollout's state.
fn parse_state(stored: &Stored) -> Result<RolloutState, EngineError> {
    stored
        .state
        .parse()
        .map_err(|e| EngineError::corrupt(format!("rollout R-{}", stored.number), e))
}

/// The number of `R-3` (or `3`).
pub fn number(id: &str) -> Result<u64, EngineError> {
    crate::number_of(id, "R", "a rollout id", "rollout ids look like R-3")
}
