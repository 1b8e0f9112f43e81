//! The check runner: expand the config into a plan (which check runs where, for which
//! host), run it concurrently, retry, and return one [`CheckResult`] per plan item.
//!
//! Host-local kinds run on each host of their component through the host's transport.
//! Network kinds run from the controller: once per host when a template uses `{host.*}`,
//! else once. A check whose dependency failed still runs: localisation needs the data.

use crate::hostlocal;
use crate::net::{self, NetContext};
use crate::result::{CheckResult, Outcome, Reason, Status};
use fearless_config::{CheckKind, CheckSpec, Config, Host, RunOn, Selector};
use fearless_exec::{Fleet, Transport};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these hosts (components are cut down to them; controller-once checks still run).
    pub hosts: Option<Selector>,
    /// Only these components (all when empty).
    pub components: Vec<String>,
}

/// One unit of work: a check, for a host or once.
#[derive(Debug, Clone)]
pub struct PlanItem {
    /// Component name.
    pub component: String,
    /// The check.
    pub check: CheckSpec,
    /// The host it is about (`None`: runs once from the controller).
    pub host: Option<Host>,
}

impl PlanItem {
    /// Where it executes: the host's transport, or the controller.
    pub fn runs_on_host(&self) -> bool {
        self.check.on == RunOn::Hosts && self.host.is_some()
    }
}

/// An unknown `--component`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown component `{name}`{}", .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct PlanError {
    /// What was asked for.
    pub name: String,
    /// The closest component name.
    pub suggestion: Option<String>,
}

/// Expand `config` into plan items, in component and check order.
pub fn plan(config: &Config, sel: &Selection) -> Result<Vec<PlanItem>, PlanError> {
    for c in &sel.components {
        if !config.components.contains_key(c) {
            let suggestion = config
                .components
                .keys()
                .map(|k| (strsim::jaro_winkler(c, k), k))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| k.clone());
            return Err(PlanError {
                name: c.clone(),
                suggestion,
            });
        }
    }
    let inv = &config.inventory;
    let mut items = Vec::new();
    for comp in config.components.values() {
        if !sel.components.is_empty() && !sel.components.contains(&comp.name) {
            continue;
        }
        let hosts: Vec<&Host> = match &comp.runs_on {
            Some(s) => inv
                .select(s)
                .into_iter()
                .filter(|h| sel.hosts.as_ref().is_none_or(|f| f.matches(h, &inv.groups)))
                .collect(),
            None => Vec::new(),
        };
        for check in &comp.checks {
            let per_host = check.on == RunOn::Hosts || check.kind.uses_host();
            if per_host {
                for h in &hosts {
                    items.push(PlanItem {
                        component: comp.name.clone(),
                        check: check.clone(),
                        host: Some((*h).clone()),
                    });
                }
            } else if sel.hosts.is_none() || comp.external || !hosts.is_empty() {
                items.push(PlanItem {
                    component: comp.name.clone(),
                    check: check.clone(),
                    host: None,
                });
            }
        }
    }
    Ok(items)
}

/// Shared state of one run.
#[derive(Debug)]
pub struct Runner {
    fleet: Fleet,
    controller: Transport,
    net: NetContext,
    net_slots: Semaphore,
}

impl Runner {
    /// A runner over `config`'s inventory; no connection is opened until needed.
    pub fn new(config: &Config) -> Result<Self, net::NetError> {
        Ok(Self {
            fleet: Fleet::new(&config.inventory),
            controller: Transport::controller(),
            net: NetContext::new()?,
            net_slots: Semaphore::new(256),
        })
    }

    /// Run every item concurrently; `progress` is called as each finishes. Results come
    /// back in plan order.
    pub async fn run(
        &self,
        items: &[PlanItem],
        progress: &(dyn Fn(&CheckResult) + Sync),
    ) -> Vec<CheckResult> {
        let shared = SharedReads::for_items(items);
        let shared = &shared;
        let futs = items.iter().map(|item| async move {
            let r = self.run_item(item, shared).await;
            progress(&r);
            r
        });
        futures::future::join_all(futs).await
    }

    /// [`Runner::run`] for a pass after which the runner is closed (the `check` verb's
    /// round): a host whose checks this pass reads in one command (one shared read, or one
    /// check of its own) gets it over a connection of its own
    /// ([`Transport::expect_one`]), since no later pass would reuse a master.
    pub async fn run_last_pass(
        &self,
        items: &[PlanItem],
        progress: &(dyn Fn(&CheckResult) + Sync),
    ) -> Vec<CheckResult> {
        for (host, commands) in commands_per_host(items) {
            if commands == 1
                && let Some(t) = self.fleet.transport(host)
            {
                t.expect_one();
            }
        }
        self.run(items, progress).await
    }

    /// Drop the connection to `host` (it rebooted): its next check connects again.
    pub async fn reconnect(&self, host: &str) {
        if let Some(t) = self.fleet.transport(host) {
            t.reconnect().await;
        }
    }

    /// Close connections.
    pub async fn close(self) {
        self.fleet.close().await;
    }

    async fn run_item(&self, item: &PlanItem, shared: &SharedReads) -> CheckResult {
        let start = Instant::now();
        let max = item.check.retries + 1;
        let mut attempts = 0;
        let mut outcome;
        // The last attempt that did not pass: a late pass is `degraded` *because* of it, so
        // its reason (timeout, refused…) travels with the result.
        let mut failed: Option<Outcome> = None;
        loop {
            attempts += 1;
            // The first attempt judges what the pass read once per host; a retry reads again.
            outcome = match shared.judge(self, item, attempts == 1).await {
                Some(o) => o,
                None => self.attempt(item).await,
            };
            let retriable = outcome.status != Status::Pass && !is_transport(&outcome);
            if !retriable || attempts >= max {
                break;
            }
            failed = Some(outcome.clone());
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempts))).await;
        }
        if outcome.status == Status::Pass && attempts > 1 {
            let before = failed.unwrap_or_else(|| Outcome::fail("an earlier attempt failed"));
            outcome.status = Status::Degraded;
            outcome.reason = before.reason;
            outcome.message = format!(
                "{} (passed on attempt {attempts}; attempt {} said: {})",
                outcome.message,
                attempts - 1,
                before.message
            );
        }
        CheckResult {
            component: item.component.clone(),
            check: item.check.name.clone(),
            kind: item.check.kind.name(),
            host: item.host.as_ref().map(|h| h.name.clone()),
            runs_on: if item.runs_on_host() {
                RunOn::Hosts
            } else {
                RunOn::Controller
            },
            status: outcome.status,
            reason: if outcome.status == Status::Pass {
                None
            } else {
                outcome.reason
            },
            message: outcome.message,
            attempts,
            duration: start.elapsed(),
        }
    }

    async fn attempt(&self, item: &PlanItem) -> Outcome {
        let host = item.host.as_ref();
        let t = item.check.timeout;
        let x = |tpl: &fearless_config::Template| tpl.expand(host);
        let transport = || -> Result<&Transport, Outcome> {
            if item.runs_on_host() {
                let name = host.map(|h| h.name.as_str()).unwrap_or_default();
                self.fleet.transport(name).ok_or_else(|| {
                    Outcome::error(Reason::Config, format!("host `{name}` has no transport"))
                })
            } else {
                Ok(&self.controller)
            }
        };
        let host_local = || async {
            let tr = transport()?;
            let _slot = if item.runs_on_host() {
                Some(self.fleet.slot().await)
            } else {
                None
            };
            Ok::<Outcome, Outcome>(match &item.check.kind {
                CheckKind::Command(c) => {
                    hostlocal::command(tr, c, c.run.iter().map(x).collect(), t).await
                }
                CheckKind::Process(c) => hostlocal::process(tr, c, t).await,
                CheckKind::Service(c) => hostlocal::service(tr, c, t).await,
                CheckKind::Package(c) => hostlocal::package(tr, c, t).await,
                CheckKind::File(c) => hostlocal::file(tr, c, x(&c.path), t).await,
                CheckKind::Port(c) => hostlocal::port(tr, c, c.address.as_ref().map(x), t).await,
                _ => Outcome::error(Reason::Config, "not a host-local kind"),
            })
        };
        if item.check.kind.is_host_local() {
            return host_local().await.unwrap_or_else(|o| o);
        }
        let _slot = self.net_slots.acquire().await;
        match &item.check.kind {
            CheckKind::Http(c) => {
                let headers: Vec<(String, String)> =
                    c.headers.iter().map(|(k, v)| (k.clone(), x(v))).collect();
                net::http(&self.net, c, &x(&c.url), &headers, t).await
            }
            CheckKind::Tcp(c) => net::tcp(&x(&c.address), t).await,
            CheckKind::Dns(c) => net::dns(&self.net, c, &x(&c.name), t).await,
            CheckKind::Tls(c) => {
                net::tls(
                    &x(&c.address),
                    c.server_name.as_ref().map(x).as_deref(),
                    c.min_days,
                    t,
                )
                .await
            }
            CheckKind::Amqp(c) => net::amqp(&x(&c.url), t).await,
            CheckKind::Sql(c) => net::sql(c, &x(&c.url), t).await,
            CheckKind::Sqs(c) => {
                let endpoint = c.endpoint_url.as_ref().map(x);
                net::sqs(&self.net, c, &x(&c.queue), endpoint.as_deref(), t).await
            }
            CheckKind::Ldap(c) => net::ldap(&self.net, c, &x(&c.url), t).await,
            _ => Outcome::error(Reason::Config, "not a network kind"),
        }
    }
}

/// The host state a pass of checks reads once per host and shares: process checks, port
/// checks and package checks of one host are judged against one [`hostlocal::gather`]
/// (one round trip) instead of one read each.
struct SharedReads {
    hosts: HashMap<String, HostReads>,
}

struct HostReads {
    needs: hostlocal::Needs,
    timeout: Duration,
    facts: OnceCell<Result<hostlocal::Facts, Outcome>>,
}

impl SharedReads {
    fn for_items(items: &[PlanItem]) -> Self {
        let mut hosts: HashMap<String, HostReads> = HashMap::new();
        for item in items.iter().filter(|i| i.runs_on_host()) {
            let Some(host) = &item.host else { continue };
            if !is_shared_read(&item.check.kind) {
                continue;
            }
            let r = hosts.entry(host.name.clone()).or_insert_with(|| HostReads {
                needs: hostlocal::Needs::default(),
                timeout: Duration::ZERO,
                facts: OnceCell::new(),
            });
            r.timeout = r.timeout.max(item.check.timeout);
            match &item.check.kind {
                CheckKind::Process(_) => r.needs.processes = true,
                CheckKind::Port(_) => r.needs.sockets = true,
                CheckKind::Package(c) if !r.needs.packages.contains(&c.name) => {
                    r.needs.packages.push(c.name.clone());
                }
                _ => {}
            }
        }
        Self { hosts }
    }

    /// The outcome of `item` from the shared read (`None`: the check reads for itself).
    async fn judge(&self, runner: &Runner, item: &PlanItem, first: bool) -> Option<Outcome> {
        if !first || !item.runs_on_host() {
            return None;
        }
        let host = item.host.as_ref()?;
        let reads = self.hosts.get(&host.name)?;
        let facts = reads
            .facts
            .get_or_init(|| async {
                let Some(t) = runner.fleet.transport(&host.name) else {
                    return Err(Outcome::error(
                        Reason::Config,
                        format!("host `{}` has no transport", host.name),
                    ));
                };
                let _slot = runner.fleet.slot().await;
                hostlocal::gather(t, &reads.needs, reads.timeout).await
            })
            .await;
        let facts = match facts {
            Ok(f) => f,
            Err(o) => return Some(o.clone()),
        };
        let x = |tpl: &fearless_config::Template| tpl.expand(Some(host));
        Some(match &item.check.kind {
            CheckKind::Process(c) => hostlocal::judge_process(&facts.processes, c),
            CheckKind::Port(c) => {
                let address = c.address.as_ref().map(x);
                hostlocal::judge_port(facts.sockets.as_deref(), c, address.as_deref())
            }
            CheckKind::Package(c) => hostlocal::judge_package(facts.packages.get(&c.name)?, c),
            _ => return None,
        })
    }
}

/// Whether a check of this kind is judged from the host's shared read ([`SharedReads`]).
fn is_shared_read(kind: &CheckKind) -> bool {
    matches!(
        kind,
        CheckKind::Process(_) | CheckKind::Port(_) | CheckKind::Package(_)
    )
}

/// How many commands a first attempt of `items` sends each host: one for all of its
/// shared reads, one for each other host-local check.
fn commands_per_host(items: &[PlanItem]) -> HashMap<&str, usize> {
    let mut commands: HashMap<&str, usize> = HashMap::new();
    let mut read: HashSet<&str> = HashSet::new();
    for item in items
        .iter()
        .filter(|i| i.runs_on_host() && i.check.kind.is_host_local())
    {
        let Some(host) = &item.host else { continue };
        // A host's first shared read counts; the rest ride on it.
        if !is_shared_read(&item.check.kind) || read.insert(&host.name) {
            *commands.entry(&host.name).or_default() += 1;
        }
    }
    commands
}

fn is_transport(o: &Outcome) -> bool {
    o.status == Status::Error && matches!(o.reason, Some(Reason::Transport | Reason::Auth))
}

/// Whether a result came from a check run through its host's transport (host-local kinds);
/// only those can tell whether the host itself is reachable.
pub fn ran_through_transport(r: &CheckResult) -> bool {
    r.runs_on == RunOn::Hosts && r.host.is_some()
}

/// Whether a result failed because its host could not be reached.
pub fn is_transport_failure(r: &CheckResult) -> bool {
    r.status == Status::Error && matches!(r.reason, Some(Reason::Transport | Reason::Auth))
}

/// Keep `Arc` in the public surface honest: callers may share a runner across tasks.
pub type SharedRunner = Arc<Runner>;
