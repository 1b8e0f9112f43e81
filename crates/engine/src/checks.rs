//! [`CheckSet`]: the one place the engine plans checks, cuts the plan down to what it is
//! about, and runs it — a rollout's gate and verification, a bisect's rounds, the failing
//! checks an incident is opened with.
//!
//! Checks that run right after a package transaction may meet a service that is still
//! starting: [`CheckSet::run_settled`] waits on the check itself (a refused connection is
//! tried again, for a bounded time) instead of sleeping a fixed time first.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fearless_config::Config;
use fearless_probe::result::{CheckResult, Reason};
use fearless_probe::runner::{self, PlanItem, Runner, Selection};

use crate::EngineError;

/// How long checks wait for a service that refuses connections after a transaction.
pub const SETTLE: Duration = Duration::from_secs(5);

/// The pause between two tries of a refusing check while settling.
const SETTLE_STEP: Duration = Duration::from_millis(250);

/// A plan of checks and the runner that runs them.
#[derive(Debug)]
pub struct CheckSet {
    runner: Runner,
    items: Vec<PlanItem>,
}

impl CheckSet {
    /// The checks of `components` (all of them when empty) that are about `hosts` — per-host
    /// checks of those hosts, and run-once checks.
    pub fn for_components(
        config: &Config,
        components: &[String],
        hosts: &[String],
    ) -> Result<Self, EngineError> {
        let items = runner::plan(
            config,
            &Selection {
                hosts: None,
                components: components.to_vec(),
            },
        )
        .map_err(|e| {
            EngineError::bad_input(
                e.to_string(),
                Some("list components with `fearless check --dry-run`"),
            )
        })?
        .into_iter()
        .filter(|i| i.host.as_ref().is_none_or(|h| hosts.contains(&h.name)))
        .collect();
        let runner = Runner::new(config)
            .map_err(|e| EngineError::Environment(format!("cannot set up network checks: {e}")))?;
        Ok(Self { runner, items })
    }

    /// The checks named `component/check` in `wanted`, on `host`.
    pub fn named(
        config: &Config,
        host: &str,
        wanted: &[(String, String)],
    ) -> Result<(Self, Vec<PlanItem>), EngineError> {
        let components: Vec<String> = wanted
            .iter()
            .map(|(c, _)| c.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let set = Self::for_components(config, &components, &[host.to_owned()])?;
        let items = set.select(host, wanted)?;
        Ok((set, items))
    }

    /// Every item of the plan.
    pub fn items(&self) -> &[PlanItem] {
        &self.items
    }

    /// The items of the named `(component, check)` pairs that run for `host`; a pair that
    /// runs nowhere there is bad input.
    pub fn select(
        &self,
        host: &str,
        wanted: &[(String, String)],
    ) -> Result<Vec<PlanItem>, EngineError> {
        let items: Vec<PlanItem> = self
            .items
            .iter()
            .filter(|i| {
                i.host.as_ref().is_none_or(|h| h.name == host)
                    && wanted
                        .iter()
                        .any(|(c, k)| *c == i.component && *k == i.check.name)
            })
            .cloned()
            .collect();
        for (c, k) in wanted {
            if !items
                .iter()
                .any(|i| i.component == *c && i.check.name == *k)
            {
                return Err(EngineError::bad_input(
                    format!("no check `{c}/{k}` runs on {host}"),
                    Some("list checks with `fearless check --dry-run`"),
                ));
            }
        }
        Ok(items)
    }

    /// The items about `host`: its per-host checks.
    pub fn of_host(&self, host: &str) -> Vec<PlanItem> {
        self.items
            .iter()
            .filter(|i| i.host.as_ref().is_some_and(|h| h.name == host))
            .cloned()
            .collect()
    }

    /// Run the whole plan once.
    pub async fn run_all(&self) -> Vec<CheckResult> {
        self.runner.run(&self.items, &|_| {}).await
    }

    /// Run `items`, waiting for services that are still starting: a check whose connection
    /// is refused is tried again until it answers or [`SETTLE`] has passed. Any other
    /// result (a pass, an assertion that fails, a timeout) stands at once.
    pub async fn run_settled(&self, items: &[PlanItem]) -> Vec<CheckResult> {
        let started = Instant::now();
        let mut results = self.runner.run(items, &|_| {}).await;
        loop {
            let refused: Vec<usize> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.status.is_ok() && r.reason == Some(Reason::Refused))
                .map(|(i, _)| i)
                .collect();
            if refused.is_empty() || started.elapsed() >= SETTLE {
                return results;
            }
            tokio::time::sleep(SETTLE_STEP).await;
            let again: Vec<PlanItem> = refused.iter().map(|i| items[*i].clone()).collect();
            let fresh = self.runner.run(&again, &|_| {}).await;
            for (i, r) in refused.into_iter().zip(fresh) {
                results[i] = r;
            }
        }
    }

    /// [`CheckSet::run_settled`] over the checks about `host`.
    pub async fn run_host(&self, host: &str) -> Vec<CheckResult> {
        self.run_settled(&self.of_host(host)).await
    }

    /// Drop the connection to `host` (it rebooted): its next check connects again.
    pub async fn reconnect(&self, host: &str) {
        self.runner.reconnect(host).await;
    }

    /// Close every connection.
    pub async fn close(self) {
        self.runner.close().await;
    }
}
