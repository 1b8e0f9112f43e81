//! A run of the test plan split between controllers: `check --workers N` leases each host's
//! checks to workers — its own N tasks and any `fearless worker --check ROUND` that joins
//! with the same config and store — runs the checks that run once from the controller
//! itself, and waits until every host's lease holds its results, whoever ran them; the
//! caller records them as one run and localises as without workers.
//!
//! The leases are a rollout's (`rollout::workers`): one claim at a time, a heartbeat, a
//! takeover of a dead worker's host once its lease expired (journaled on the round). A
//! host's results travel on its lease ([`CheckedHost`]); checks are read-only, so a host a
//! dead worker left is simply checked again.

use std::collections::BTreeMap;
use std::time::Duration;

use fearless_config::{RunOn, Selector};
use fearless_probe::result::{CheckResult, Reason, Status};
use fearless_probe::runner::{self, PlanItem, Runner, Selection};

use crate::progress::{Event, HostEvent};
use crate::record::{self, CheckRan, CheckRoundSpec, CheckedHost};
use crate::rollout::Workers;
use crate::rollout::workers::{Team, claim, leased};
use crate::{Engine, EngineError};

/// What a check round's results report to as they come: each result once.
pub type OnResult<'f> = &'f (dyn Fn(&CheckResult) + Sync);

/// How `fearless worker --check ROUND` ended: the round is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckWorkerEnd {
    /// The round's id.
    pub round: String,
    /// This worker's id.
    pub worker: String,
    /// The hosts whose checks this worker ran and wrote on their lease.
    pub hosts: Vec<String>,
    /// Of those, the ones it took over from a worker whose lease expired.
    pub taken_over: Vec<String>,
}

/// The hosts with checks of their own in `items`, in plan order.
fn hosts_of(items: &[PlanItem]) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for item in items {
        if let Some(h) = &item.host
            && !hosts.contains(&h.name)
        {
            hosts.push(h.name.clone());
        }
    }
    hosts
}

fn network_checks(config: &fearless_config::Config) -> Result<Runner, EngineError> {
    Runner::new(config)
        .map_err(|e| EngineError::Environment(format!("cannot set up network checks: {e}")))
}

impl Engine<'_> {
    /// `check --workers`: run `items` (planned from `spec`'s selection) with workers; every
    /// result once, in plan order, each told to `on_result` as it is known.
    pub async fn check_round(
        &self,
        spec: (Option<&str>, &[String]),
        items: &[PlanItem],
        workers: Workers,
        on_result: OnResult<'_>,
    ) -> Result<Vec<CheckResult>, EngineError> {
        self.check_workers(workers).await?;
        let team = Team::new(workers.tasks, workers.lease);
        let round = format!("check-{}", team.id);
        let spec = CheckRoundSpec {
            v: record::VERSION,
            hosts: spec.0.map(str::to_owned),
            components: spec.1.to_vec(),
            lease_ms: u64::try_from(workers.lease.as_millis()).unwrap_or(u64::MAX),
        };
        let text = serde_json::to_string(&spec)
            .map_err(|e| EngineError::corrupt(format!("check round {round}"), e))?;
        self.store.open_round(&round, &text).await?;
        let hosts = hosts_of(items);
        self.store.open_leases(&round, 1, &hosts).await?;
        self.join(&round, &team).await?;
        self.progress.event(Event::RoundOpened {
            round: round.clone(),
            hosts: hosts.len(),
        });
        let runner = network_checks(self.config)?;
        let once: Vec<PlanItem> = items.iter().filter(|i| i.host.is_none()).cloned().collect();
        let (once_results, worked) = tokio::join!(
            runner.run(&once, on_result),
            self.work_round(&runner, items, &team, &round, on_result)
        );
        runner.close().await;
        let closed = self.store.close_round(&round).await;
        worked?;
        closed?;
        // Every host's results, from its lease; the ones other workers ran are told now.
        let mut ran: BTreeMap<String, Vec<CheckRan>> = BTreeMap::new();
        for lease in self.store.leases(&round).await? {
            let Some((_, detail)) = &lease.end else {
                continue;
            };
            let checked: CheckedHost = serde_json::from_str(detail).map_err(|e| {
                EngineError::corrupt(format!("{round}: the results of {}", lease.host), e)
            })?;
            if lease.worker.as_deref() != Some(team.id.as_str()) {
                for r in &checked.results {
                    if let Some(item) = items.iter().find(|i| {
                        i.host.as_ref().is_some_and(|h| h.name == lease.host)
                            && i.component == r.component
                            && i.check.name == r.check
                    }) {
                        on_result(&result_of(item, Some(r)));
                    }
                }
            }
            ran.insert(lease.host, checked.results);
        }
        let mut once_results = once_results.into_iter();
        Ok(items
            .iter()
            .filter_map(|item| match &item.host {
                None => once_results.next(),
                Some(h) => {
                    let r = ran.get(&h.name).and_then(|results| {
                        results
                            .iter()
                            .find(|r| r.component == item.component && r.check == item.check.name)
                    });
                    Some(result_of(item, r))
                }
            })
            .collect())
    }

    /// `fearless worker --check ROUND`: run the checks of hosts of a check round beside its
    /// coordinator and other workers, until every host has its results. A round that does
    /// not exist is bad input; one that is over is refused.
    pub async fn work_check(
        &self,
        round: &str,
        tasks: usize,
        on_result: OnResult<'_>,
    ) -> Result<CheckWorkerEnd, EngineError> {
        let Some((spec, closed)) = self.store.lease_round(round).await? else {
            return Err(EngineError::bad_input(
                format!("there is no check round {round}"),
                Some("`check --workers N` prints the id of the round it opens"),
            ));
        };
        if closed {
            return Err(EngineError::gate(
                format!("check round {round} is over: there is nothing left for a worker"),
                None,
            ));
        }
        let spec: CheckRoundSpec = serde_json::from_str(&spec)
            .map_err(|e| EngineError::corrupt(format!("check round {round}"), e))?;
        let lease = Duration::from_millis(spec.lease_ms);
        self.check_workers(Workers { tasks, lease }).await?;
        let hosts = spec
            .hosts
            .as_deref()
            .map(Selector::parse)
            .transpose()
            .map_err(|e| EngineError::corrupt(format!("check round {round}"), e))?;
        let items = runner::plan(
            self.config,
            &Selection {
                hosts,
                components: spec.components.clone(),
            },
        )
        .map_err(|e| {
            EngineError::bad_input(
                format!("check round {round}: {e}"),
                Some("a worker needs the coordinator's configuration"),
            )
        })?;
        let team = Team::new(tasks, lease);
        self.join(round, &team).await?;
        let runner = network_checks(self.config)?;
        let worked = self
            .work_round(&runner, &items, &team, round, on_result)
            .await;
        runner.close().await;
        worked?;
        let mut end = CheckWorkerEnd {
            round: round.to_owned(),
            worker: team.id.clone(),
            hosts: Vec::new(),
            taken_over: Vec::new(),
        };
        for lease in self.store.leases(round).await? {
            if lease.worker.as_deref() == Some(team.id.as_str()) && lease.end.is_some() {
                if lease.takeovers > 0 {
                    end.taken_over.push(lease.host.clone());
                }
                end.hosts.push(lease.host);
            }
        }
        Ok(end)
    }

    /// `team`'s tasks on `round` until every host has its results, or the round is over.
    async fn work_round(
        &self,
        runner: &Runner,
        items: &[PlanItem],
        team: &Team,
        round: &str,
        on_result: OnResult<'_>,
    ) -> Result<(), EngineError> {
        let tasks = (0..team.tasks).map(|_| self.round_task(runner, items, team, round, on_result));
        futures::future::try_join_all(tasks).await?;
        Ok(())
    }

    /// One task: claim a host of the round, run its checks while renewing the lease, write
    /// the results on the lease; again, until every host has its results.
    async fn round_task(
        &self,
        runner: &Runner,
        items: &[PlanItem],
        team: &Team,
        round: &str,
        on_result: OnResult<'_>,
    ) -> Result<(), EngineError> {
        loop {
            let Some(claimed) = claim(self, round, 1, team).await? else {
                let over = self
                    .store
                    .lease_round(round)
                    .await?
                    .is_none_or(|(_, closed)| closed);
                if over || self.store.unended_leases(round, 1).await? == 0 {
                    return Ok(());
                }
                tokio::time::sleep(team.poll()).await;
                continue;
            };
            let host = claimed.host.as_str();
            self.progress.event(Event::Host {
                host: host.to_owned(),
                what: team.claimed(&claimed),
            });
            let own: Vec<PlanItem> = items
                .iter()
                .filter(|i| i.host.as_ref().is_some_and(|h| h.name == host))
                .cloned()
                .collect();
            let work = async { Ok(runner.run(&own, on_result).await) };
            let ended = match leased(self.store, round, host, team, work).await? {
                Some(results) => {
                    let checked = CheckedHost {
                        v: record::VERSION,
                        results: results.iter().map(CheckRan::from).collect(),
                    };
                    let text = serde_json::to_string(&checked).map_err(|e| {
                        EngineError::corrupt(format!("{round}: the results of {host}"), e)
                    })?;
                    self.store
                        .end_lease(round, host, &team.id, ("checked", &text))
                        .await?
                }
                None => false,
            };
            if !ended {
                self.progress.event(Event::Host {
                    host: host.to_owned(),
                    what: HostEvent::LeaseLost {
                        worker: team.id.clone(),
                    },
                });
            }
        }
    }
}

/// `item`'s result as a worker ran it; one the worker did not run (its configuration
/// differs) is an `error` that says so.
fn result_of(item: &PlanItem, ran: Option<&CheckRan>) -> CheckResult {
    let host = item.host.as_ref().map(|h| h.name.clone());
    let base = CheckResult {
        component: item.component.clone(),
        check: item.check.name.clone(),
        kind: item.check.kind.name(),
        host: host.clone(),
        runs_on: if item.runs_on_host() {
            RunOn::Hosts
        } else {
            RunOn::Controller
        },
        status: Status::Error,
        reason: Some(Reason::Config),
        message: format!(
            "not run: the worker that checked {} has no such check (is its configuration the coordinator's?)",
            host.as_deref().unwrap_or("the controller")
        ),
        attempts: 0,
        duration: Duration::ZERO,
    };
    match ran {
        None => base,
        Some(r) => CheckResult {
            status: r.status,
            reason: r.reason,
            message: r.message.clone(),
            attempts: r.attempts,
            duration: Duration::from_micros(r.duration_us),
            ..base
        },
    }
}
