//! Several controllers on one store: `patch --workers N` leases the hosts of each wave to
//! workers — its own N tasks, and any `fearless worker --rollout R` that joins from another
//! process or machine with the same config and store — and waits until every host of the
//! wave has an end on its lease, whoever handled it; then the bake, the gate, rollbacks and
//! the canary's bisect decide from those ends, in the coordinator, as without workers.
//!
//! A worker claims one host at a time ([`fearless_store::Store::claim_lease`]), renews its
//! lease while it works (a heartbeat every quarter of the lease) and writes the host's end on
//! the lease. A host whose worker stopped renewing (it died, or lost the store) is taken over
//! once the lease expired — journaled as `lease.taken-over` — and settled by the
//! recovery rules of `rollout resume` (`recover_host`), never applied twice: the lease says
//! who works on a host, the host's compare-and-set steps say what was done to it. A worker
//! that finds its lease taken over stops working on that host.

use std::future::Future;
use std::time::Duration;

use fearless_rollout::{HostState, RolloutState};
use fearless_store::Claim;

use super::host::Run;
use crate::fleet::Fleetwide;
use crate::progress::{Event, HostEvent};
use crate::record::{self, HostEnd, LeaseTakenOver, Leasing, WorkerJoined};
use crate::{Engine, EngineError};

/// How often an idle worker looks again for a host to claim, at most.
const POLL: Duration = Duration::from_secs(1);

/// The shortest lease: a heartbeat every quarter of it must fit a store round trip.
pub const MIN_LEASE: Duration = Duration::from_secs(2);

/// `patch --workers N --lease D`: how many hosts this process works on at once, and how long
/// a lease lasts without a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    /// Hosts worked on at once by this process (at least 1).
    pub tasks: usize,
    /// How long a host stays leased to a worker that stopped renewing.
    pub lease: Duration,
}

impl Workers {
    /// The default lease: 2 minutes (a heartbeat every 30 s).
    pub const LEASE: Duration = Duration::from_secs(120);

    pub(crate) fn check(self) -> Result<(), EngineError> {
        if self.tasks == 0 {
            return Err(EngineError::bad_input(
                "--workers 0: a controller needs at least one worker",
                Some("--workers 1 works one host at a time; `fearless worker` adds others"),
            ));
        }
        if self.lease < MIN_LEASE {
            return Err(EngineError::bad_input(
                format!(
                    "--lease {}: a lease is at least {}",
                    humantime::format_duration(self.lease),
                    humantime::format_duration(MIN_LEASE)
                ),
                Some("e.g. --lease 2m"),
            ));
        }
        Ok(())
    }
}

/// `fearless worker --rollout R`: join rollout `R-<rollout>` with `tasks` hosts at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkRequest {
    /// `R-<n>`.
    pub rollout: u64,
    /// Hosts worked on at once (at least 1).
    pub tasks: usize,
}

/// How `fearless worker` ended: the rollout left `running` (it ended, or was paused or is
/// being aborted), and what this worker did, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerEnd {
    /// `R-<n>`.
    pub rollout: u64,
    /// This worker's id.
    pub worker: String,
    /// The rollout's state when the worker stopped.
    pub state: RolloutState,
    /// The hosts whose end this worker wrote, with their wave and end.
    pub hosts: Vec<HostEnd>,
    /// Of those, the ones it took over from a worker whose lease expired.
    pub taken_over: Vec<String>,
}

/// This process's workers on one rollout: its id, hosts at once, the lease.
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub(crate) id: String,
    pub(crate) tasks: usize,
    pub(crate) lease: Duration,
}

impl Team {
    pub(crate) fn new(tasks: usize, lease: Duration) -> Self {
        Self {
            id: worker_id(),
            tasks,
            lease,
        }
    }

    /// How often a worker renews its lease.
    pub(crate) fn heartbeat(&self) -> Duration {
        (self.lease / 4).max(Duration::from_millis(100))
    }

    /// What `claim` by this team says of its host.
    pub(crate) fn claimed(&self, claim: &Claim) -> HostEvent {
        match claim.taken_from.clone() {
            None => HostEvent::Claimed {
                worker: self.id.clone(),
            },
            Some(from) => HostEvent::TakenOver {
                from,
                by: self.id.clone(),
            },
        }
    }

    pub(crate) fn poll(&self) -> Duration {
        POLL.min(self.heartbeat())
    }
}

/// `MACHINE-PID-RANDOM`: unique among the workers of a store (the random part tells apart
/// two processes that got the same pid on two machines of the same name).
fn worker_id() -> String {
    let machine = fearless_events::local_source();
    let machine = machine.strip_prefix("fearless://").unwrap_or(&machine);
    // A version-4 UUID from the kernel's random source; the clock when it cannot be read.
    let random = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .ok()
        .and_then(|u| u.split('-').next().map(str::to_owned))
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            format!("{nanos:08x}")
        });
    format!("{machine}-{}-{random}", std::process::id())
}

impl Engine<'_> {
    /// Refuse workers the request or the store cannot have.
    pub(crate) async fn check_workers(&self, workers: Workers) -> Result<(), EngineError> {
        workers.check()?;
        match self.store.can_lease().await? {
            Ok(()) => Ok(()),
            Err(why) => Err(EngineError::bad_input(
                format!("several workers need a store that can lease hosts: {why}"),
                Some("use PostgreSQL 9.5 or newer as `store:` (SQLite: processes on one machine)"),
            )),
        }
    }

    /// Journal that `team` joins `round` (`R-3`, a check round), and say so.
    pub(crate) async fn join(&self, round: &str, team: &Team) -> Result<(), EngineError> {
        let joined = WorkerJoined {
            v: record::VERSION,
            worker: team.id.clone(),
            tasks: team.tasks,
            lease_ms: u64::try_from(team.lease.as_millis()).unwrap_or(u64::MAX),
        };
        self.store
            .append(record::event(self.actor, round, &joined))
            .await?;
        self.progress.event(Event::WorkerJoined {
            round: round.to_owned(),
            worker: team.id.clone(),
            tasks: team.tasks,
        });
        Ok(())
    }

    /// `fearless worker --rollout R`: take hosts of the rollout's current wave, beside its
    /// coordinator and other workers, until it leaves `running` (a paused rollout's wave in
    /// progress is finished first). A rollout that does not exist is bad input; one that
    /// ended, or was not started with `patch --workers`, is refused.
    pub async fn work(&self, req: WorkRequest) -> Result<WorkerEnd, EngineError> {
        let n = req.rollout;
        self.may_patch("work on", &format!("R-{n}"))?;
        let l = self.load(n).await?;
        if l.state.is_final() {
            return Err(EngineError::gate(
                format!("R-{n} is {}: there is nothing left for a worker", l.state),
                Some("`fearless rollout list` shows the rollouts still running"),
            ));
        }
        let Some(Leasing { lease_ms }) = l.record.leasing else {
            return Err(EngineError::gate(
                format!(
                    "R-{n} was not started with `patch --workers`: its hosts are not leased to workers"
                ),
                Some(
                    "start a rollout with `fearless patch --change CHG-N --workers N` for workers to join",
                ),
            ));
        };
        let lease = Duration::from_millis(lease_ms);
        self.check_workers(Workers {
            tasks: req.tasks,
            lease,
        })
        .await?;
        let team = Team::new(req.tasks, lease);
        let waves = l.record.waves.clone();
        let opened = l.open(self.config)?;
        let mut run = l.run(self, &opened);
        run.team = Some(team.clone());
        let outcome = async {
            let round = run.subject();
            self.join(&round, &team).await?;
            let state = loop {
                let state = self.rollout_state(n).await?;
                let working = matches!(state, RolloutState::Running | RolloutState::Paused);
                match self.store.open_wave(&round).await? {
                    Some(wave) if working => {
                        let number = usize::try_from(wave).unwrap_or(usize::MAX);
                        self.progress.event(Event::WaveStarted {
                            wave: number,
                            waves: waves.len(),
                            hosts: number
                                .checked_sub(1)
                                .and_then(|i| waves.get(i))
                                .cloned()
                                .unwrap_or_default(),
                            shared: true,
                        });
                        work_wave(&run, &opened.fw, &team, wave).await?;
                        self.wave_ended(&round, n, wave, waves.len()).await?;
                    }
                    None if state == RolloutState::Running => {
                        tokio::time::sleep(team.poll()).await;
                    }
                    _ => break state,
                }
            };
            self.worked(n, &team.id, state).await
        }
        .await;
        opened.close().await;
        outcome
    }

    /// Say how wave `wave` of rollout `r` (`round`) ended, whoever handled its hosts, as
    /// its leases hold it — once every host of it has an end (an abort stops the wave
    /// before: the coordinator says nothing of such a wave's end either).
    async fn wave_ended(
        &self,
        round: &str,
        r: u64,
        wave: u32,
        waves: usize,
    ) -> Result<(), EngineError> {
        let mut verified = 0;
        let mut failed = 0;
        for lease in self.store.leases(round).await? {
            if lease.wave != wave {
                continue;
            }
            match end_of(r, &lease)? {
                Some(end) if end.state == HostState::Verified => verified += 1,
                Some(_) => failed += 1,
                None => return Ok(()),
            }
        }
        self.progress.event(Event::WaveEnded {
            wave: usize::try_from(wave).unwrap_or(usize::MAX),
            waves,
            verified,
            failed,
        });
        Ok(())
    }

    /// What worker `id` did on rollout `r`, from the leases.
    async fn worked(
        &self,
        r: u64,
        id: &str,
        state: RolloutState,
    ) -> Result<WorkerEnd, EngineError> {
        let mut hosts = Vec::new();
        let mut taken_over = Vec::new();
        for lease in self.store.leases(&format!("R-{r}")).await? {
            if lease.worker.as_deref() != Some(id) {
                continue;
            }
            let Some(end) = end_of(r, &lease)? else {
                continue;
            };
            if lease.takeovers > 0 {
                taken_over.push(lease.host.clone());
            }
            hosts.push(end);
        }
        Ok(WorkerEnd {
            rollout: r,
            worker: id.to_owned(),
            state,
            hosts,
            taken_over,
        })
    }
}

/// A lease's end as a host's end; `None` while it has none.
fn end_of(r: u64, lease: &fearless_store::Lease) -> Result<Option<HostEnd>, EngineError> {
    let Some((state, detail)) = &lease.end else {
        return Ok(None);
    };
    let state = state
        .parse::<HostState>()
        .map_err(|e| EngineError::corrupt(format!("R-{r}: the lease of {}", lease.host), e))?;
    Ok(Some(HostEnd {
        host: lease.host.clone(),
        wave: usize::try_from(lease.wave).unwrap_or(usize::MAX),
        state,
        detail: detail.clone(),
    }))
}

/// Wave `wave`'s `hosts` leased to workers: this process's tasks work on them beside any
/// worker that joined, taking over the hosts of one whose lease expired. Returns once
/// every host of the wave has an end on its lease (or the rollout stopped taking work: an
/// abort, whose hosts nobody claimed are left out), with those ends.
pub(crate) async fn leased_wave(
    run: &Run<'_, '_>,
    fw: &Fleetwide,
    team: &Team,
    wave: usize,
    hosts: &[&str],
) -> Result<Vec<HostEnd>, EngineError> {
    let store = run.engine.store;
    let round = run.subject();
    let number = u32::try_from(wave).unwrap_or(u32::MAX);
    let names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
    store.open_leases(&round, number, &names).await?;
    work_wave(run, fw, team, number).await?;
    let mut ends = Vec::new();
    for lease in store.leases(&round).await? {
        if lease.wave == number && names.contains(&lease.host) {
            ends.extend(end_of(run.rollout, &lease)?);
        }
    }
    Ok(ends)
}

/// `team`'s tasks on wave `wave` until every host of it has an end (or the rollout stops
/// taking work). The first step the store did not take stops them all.
async fn work_wave(
    run: &Run<'_, '_>,
    fw: &Fleetwide,
    team: &Team,
    wave: u32,
) -> Result<(), EngineError> {
    let tasks = (0..team.tasks).map(|_| task(run, fw, team, wave));
    futures::future::try_join_all(tasks).await?;
    Ok(())
}

/// One task: claim a host of the wave, bring it to an end, write the end; again, until
/// the wave is done.
async fn task(
    run: &Run<'_, '_>,
    fw: &Fleetwide,
    team: &Team,
    wave: u32,
) -> Result<(), EngineError> {
    let engine = run.engine;
    let round = run.subject();
    loop {
        let state = engine.rollout_state(run.rollout).await?;
        if !matches!(state, RolloutState::Running | RolloutState::Paused) {
            return Ok(());
        }
        match claim(engine, &round, wave, team).await? {
            Some(claimed) => work_host(run, fw, team, claimed).await?,
            None if engine.store.unended_leases(&round, wave).await? == 0 => return Ok(()),
            None => tokio::time::sleep(team.poll()).await,
        }
    }
}

/// Bring a claimed host to an end — patched from `pending`, else settled by the recovery
/// rules (a host taken over from a dead worker) — while renewing its lease, and write the
/// end on the lease. A lease found taken over stops the work on the host: its new holder
/// settles it.
async fn work_host(
    run: &Run<'_, '_>,
    fw: &Fleetwide,
    team: &Team,
    claim: Claim,
) -> Result<(), EngineError> {
    let engine = run.engine;
    let round = run.subject();
    let host = claim.host.as_str();
    run.say(host, team.claimed(&claim));
    let state = engine
        .rollout_host(run.rollout, host)
        .await?
        .map(|(_, s)| s)
        .ok_or_else(|| {
            EngineError::corrupt(
                format!("R-{}: the lease of {host}", run.rollout),
                "the rollout has no such host",
            )
        })?;
    let work = async {
        let mut results = fw
            .each_of(&[host], |b, t| async move {
                Ok(match state {
                    HostState::Pending => run.patch_host(&b, &t).await,
                    recorded => run.recover_host(&b, &t, recorded).await,
                })
            })
            .await;
        match results.pop() {
            Some((_, Ok(end))) => end,
            // Not reached for the work: it keeps its recorded state.
            Some((_, Err(e))) => Ok((state, e.to_string())),
            None => Ok((state, "not in this controller's inventory".to_owned())),
        }
    };
    let ended = match leased(engine.store, &round, host, team, work).await? {
        Some((state, detail)) => {
            engine
                .store
                .end_lease(&round, host, &team.id, (&state.to_string(), &detail))
                .await?
        }
        None => false,
    };
    if !ended {
        run.say(
            host,
            HostEvent::LeaseLost {
                worker: team.id.clone(),
            },
        );
    }
    Ok(())
}

/// Claim a host of `round`'s wave `wave` for `team`: a takeover is journaled on `round`.
pub(crate) async fn claim(
    engine: &Engine<'_>,
    round: &str,
    wave: u32,
    team: &Team,
) -> Result<Option<Claim>, EngineError> {
    Ok(engine
        .store
        .claim_lease(round, wave, &team.id, team.lease, |host, from| {
            let taken = LeaseTakenOver {
                v: record::VERSION,
                host: host.to_owned(),
                wave: usize::try_from(wave).unwrap_or(usize::MAX),
                from: from.to_owned(),
                by: team.id.clone(),
            };
            record::event(engine.actor, round, &taken)
        })
        .await?)
}

/// Run `work` on `host` of `round` while renewing `team`'s lease of it every heartbeat;
/// `None` when the lease was found taken over (the work is dropped: its new holder settles
/// the host, as after a crash).
pub(crate) async fn leased<T>(
    store: &fearless_store::Store,
    round: &str,
    host: &str,
    team: &Team,
    work: impl Future<Output = Result<T, EngineError>>,
) -> Result<Option<T>, EngineError> {
    let heartbeat = async {
        loop {
            tokio::time::sleep(team.heartbeat()).await;
            // A store that does not answer is said by the work's own next write; the
            // heartbeat tries again at the next beat.
            if let Ok(false) = store.renew_lease(round, host, &team.id, team.lease).await {
                return;
            }
        }
    };
    tokio::select! {
        done = work => done.map(Some),
        () = heartbeat => Ok(None),
    }
}
