//! [`Fleetwide`]: the one per-host fan-out of package work — the selected hosts, their
//! connections, each host's package manager (from the config, else detected once), and
//! the time limits. Every package verb and every rollout runs its hosts through it, so a
//! fleet operation always returns a result per host.

use std::collections::HashMap;
use std::future::Future;

use futures::future::BoxFuture;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fearless_config::{Config, Host, Selector};
use fearless_exec::Fleet;
use fearless_pkg::{Backend, Limits, Manager, PkgError, Target};

use crate::EngineError;

/// One host's result.
pub type HostResult<T> = (String, Result<T, PkgError>);

/// A host reached: its backend, its target, and the fleet slot held while it works.
type Reached<'s> = (Backend, Target<'s>, tokio::sync::SemaphorePermit<'s>);

/// The selected hosts, their connections and the time limits.
#[derive(Debug)]
pub struct Fleetwide {
    config: Config,
    hosts: Vec<Host>,
    fleet: Fleet,
    limits: Limits,
    /// Each host's package manager once detected (or why it could not be): one round trip
    /// per host per process.
    detected: Mutex<HashMap<String, Result<Manager, PkgError>>>,
}

impl Fleetwide {
    /// For `hosts` of `config`, waiting up to `lock_wait` for a package lock.
    pub fn with_hosts(config: Config, hosts: Vec<Host>, lock_wait: Duration) -> Self {
        let fleet = Fleet::new(&config.inventory);
        Self {
            config,
            hosts,
            fleet,
            limits: Limits {
                lock_wait,
                ..Limits::default()
            },
            detected: Mutex::default(),
        }
    }

    /// The inventory's hosts that `selector` matches (all without one); none is bad input.
    pub fn select(
        config: Config,
        selector: Option<&Selector>,
        lock_wait: Duration,
    ) -> Result<Self, EngineError> {
        let inv = &config.inventory;
        let hosts: Vec<Host> = inv
            .hosts
            .values()
            .filter(|h| selector.is_none_or(|s| s.matches(h, &inv.groups)))
            .cloned()
            .collect();
        if hosts.is_empty() {
            return Err(EngineError::bad_input(
                "no host matches",
                Some("check --hosts against `fearless hosts`"),
            ));
        }
        Ok(Self::with_hosts(config, hosts, lock_wait))
    }

    /// The configuration the hosts come from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The selected hosts, in inventory order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Keep only the hosts `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&Host) -> bool) {
        self.hosts.retain(keep);
    }

    /// Run `op` on every selected host at once (within the fleet's concurrency limit),
    /// with the host's backend: from config, else detected. Results in inventory order.
    pub async fn each<'s, T, F, Fut>(&'s self, op: F) -> Vec<HostResult<T>>
    where
        F: Fn(Backend, Target<'s>) -> Fut,
        Fut: Future<Output = Result<T, PkgError>>,
    {
        let all: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        self.each_of(&all, op).await
    }

    /// Like [`Fleetwide::each`], for the hosts named in `names` only.
    ///
    /// Only the call of `op` is generic; reaching a host is [`Fleetwide::reach`], compiled
    /// once here rather than in every crate that calls this with its own closure.
    pub async fn each_of<'s, T, F, Fut>(&'s self, names: &[&str], op: F) -> Vec<HostResult<T>>
    where
        F: Fn(Backend, Target<'s>) -> Fut,
        Fut: Future<Output = Result<T, PkgError>>,
    {
        let op = &op;
        let futs = self.chosen(names).into_iter().map(|h| async move {
            let result = match self.reach(h).await {
                Ok((backend, t, _slot)) => op(backend, t).await,
                Err(e) => Err(e),
            };
            (h.name.clone(), result)
        });
        futures::future::join_all(futs).await
    }

    /// The selected hosts named in `names`, in inventory order.
    fn chosen(&self, names: &[&str]) -> Vec<&Host> {
        let names: std::collections::HashSet<&str> = names.iter().copied().collect();
        self.hosts
            .iter()
            .filter(|h| names.contains(h.name.as_str()))
            .collect()
    }

    /// A concurrency slot, the connection and the package manager of `h`: what
    /// [`Fleetwide::each_of`] needs before it calls its operation.
    ///
    /// Boxed, so that the crates instantiating `each_of` call it rather than inline it: a
    /// change here recompiles this crate, not every caller's copy (one allocation a host).
    fn reach<'s>(&'s self, h: &'s Host) -> BoxFuture<'s, Result<Reached<'s>, PkgError>> {
        Box::pin(async move {
            let Some(transport) = self.fleet.transport(&h.name) else {
                return Err(PkgError::Unsupported {
                    host: h.name.clone(),
                    detail: "not in the inventory".into(),
                });
            };
            let slot = self.fleet.slot().await;
            let t = Target {
                name: &h.name,
                transport,
                limits: self.limits,
            };
            let manager = match h.package_manager {
                Some(fearless_config::PackageManager::Apt) => Manager::Apt,
                Some(fearless_config::PackageManager::Dnf) => Manager::Dnf,
                Some(fearless_config::PackageManager::Yum) => Manager::Yum,
                None => self.detect(&h.name, &t).await?,
            };
            Ok((Backend::for_manager(manager), t, slot))
        })
    }

    /// `host`'s package manager, detected on first use.
    async fn detect(&self, host: &str, t: &Target<'_>) -> Result<Manager, PkgError> {
        let known = self.detected().get(host).cloned();
        match known {
            Some(m) => m,
            None => {
                let m = fearless_pkg::detect(t).await;
                self.detected().insert(host.to_owned(), m.clone());
                m
            }
        }
    }

    fn detected(&self) -> MutexGuard<'_, HashMap<String, Result<Manager, PkgError>>> {
        // A panic while holding it cannot leave the map half-written: take it anyway.
        self.detected.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Close every connection.
    pub async fn close(self) {
        self.fleet.close().await;
    }
}

/// One host's answer to [`ping`].
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Ping {
    /// The host's name.
    pub host: String,
    /// It ran a command through its transport.
    pub reachable: bool,
    /// The round trip of a second command on the open connection, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Why it could not be reached.
    pub error: Option<String>,
    /// For a host on the `ssm` transport: what Systems Manager says of its agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssm: Option<SsmAgent>,
}

/// What `DescribeInstanceInformation` says of a managed node's agent.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SsmAgent {
    /// `Online`, `ConnectionLost`, `Inactive`; `None` when SSM does not know the instance
    /// as a managed node.
    pub ping_status: Option<String>,
    /// The agent's version.
    pub agent_version: Option<String>,
    /// The OS the agent reports (`Ubuntu 22.04`).
    pub platform: Option<String>,
    /// Why the host cannot be reached through SSM, and what to do, when it cannot.
    pub problem: Option<String>,
}

/// What SSM says of `t`'s instance, with the reason it is not reachable and a hint.
async fn ssm_agent(t: &fearless_exec::SsmTransport) -> SsmAgent {
    match t.information().await {
        Ok(Some(i)) => {
            let problem = match i.ping_status.as_str() {
                "Online" => None,
                "ConnectionLost" => Some(
                    "the SSM agent lost its connection (ConnectionLost): the instance is stopped, \
                     its agent is not running, or it cannot reach the SSM endpoints"
                        .to_owned(),
                ),
                other => Some(format!(
                    "the SSM agent is {other}: start the agent on the instance"
                )),
            };
            SsmAgent {
                ping_status: Some(i.ping_status),
                agent_version: Some(i.agent_version).filter(|v| !v.is_empty()),
                platform: Some(
                    format!("{} {}", i.platform_name, i.platform_version)
                        .trim()
                        .to_owned(),
                )
                .filter(|p| !p.is_empty()),
                problem,
            }
        }
        Ok(None) => SsmAgent {
            ping_status: None,
            agent_version: None,
            platform: None,
            problem: Some(
                "not a managed node: give the instance an IAM instance profile with \
                 AmazonSSMManagedInstanceCore and make sure the SSM agent runs"
                    .to_owned(),
            ),
        },
        Err(e) => SsmAgent {
            ping_status: None,
            agent_version: None,
            platform: None,
            problem: Some(match e {
                fearless_exec::ExecError::Auth { .. } => format!(
                    "{e} (the caller needs ssm:DescribeInstanceInformation, ssm:SendCommand and ssm:GetCommandInvocation)"
                ),
                _ => e.to_string(),
            }),
        },
    }
}

/// Reach every host of `hosts` through its transport (all at once, as many as the fleet's
/// slots allow): the first command opens the connection, a second one measures a round
/// trip on it — in the same slot, so the latency is the round trip, not a wait for a slot.
pub async fn ping(inventory: &fearless_config::Inventory, hosts: &[&Host]) -> Vec<Ping> {
    let fleet = Fleet::new(inventory);
    let argv = vec!["true".to_owned()];
    let timeout = inventory.ssh.connect_timeout + Duration::from_secs(10);
    let pings = futures::future::join_all(hosts.iter().map(|h| {
        let (fleet, argv) = (&fleet, &argv);
        async move {
            let result = match fleet.transport(&h.name) {
                None => Err(fearless_exec::ExecError::Unreachable {
                    host: h.name.clone(),
                    detail: "not in the inventory".into(),
                }),
                Some(t) => {
                    let _slot = fleet.slot().await;
                    match t.run(argv, timeout).await {
                        Ok(_) => {
                            let rt = std::time::Instant::now();
                            t.run(argv, timeout).await.map(|_| rt.elapsed())
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            let ssm = match fleet.transport(&h.name) {
                Some(fearless_exec::Transport::Ssm(t)) => Some(ssm_agent(t).await),
                _ => None,
            };
            match result {
                Ok(rtt) => Ping {
                    host: h.name.clone(),
                    reachable: true,
                    latency_ms: Some((rtt.as_secs_f64() * 1e5).round() / 100.0),
                    error: None,
                    ssm,
                },
                Err(e) => {
                    let why = ssm.as_ref().and_then(|a| a.problem.clone());
                    Ping {
                        host: h.name.clone(),
                        reachable: false,
                        latency_ms: None,
                        error: Some(match why {
                            Some(why) => format!("{e}; {why}"),
                            None => e.to_string(),
                        }),
                        ssm,
                    }
                }
            }
        }
    }))
    .await;
    fleet.close().await;
    pings
}
