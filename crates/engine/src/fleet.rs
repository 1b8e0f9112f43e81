//! [`Fleetwide`]: the one per-host fan-out of package work — the selected hosts, their
//! connections, each host's package manager (from the config, else detected once), and
//! the time limits. Every package verb and every rollout runs its hosts through it, so a
//! fleet operation always returns a result per host.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fearless_config::{Config, Host, Selector};
use fearless_exec::Fleet;
use fearless_pkg::{Backend, Limits, Manager, PkgError, Target};

use crate::EngineError;

/// One host's result.
pub type HostResult<T> = (String, Result<T, PkgError>);

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
    pub async fn each_of<'s, T, F, Fut>(&'s self, names: &[&str], op: F) -> Vec<HostResult<T>>
    where
        F: Fn(Backend, Target<'s>) -> Fut,
        Fut: Future<Output = Result<T, PkgError>>,
    {
        let op = &op;
        let chosen = self
            .hosts
            .iter()
            .filter(|h| names.contains(&h.name.as_str()));
        let futs = chosen.map(|h| async move {
            let result = async {
                let Some(transport) = self.fleet.transport(&h.name) else {
                    return Err(PkgError::Unsupported {
                        host: h.name.clone(),
                        detail: "not in the inventory".into(),
                    });
                };
                let _slot = self.fleet.slot().await;
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
                op(Backend::for_manager(manager), t).await
            }
            .await;
            (h.name.clone(), result)
        });
        futures::future::join_all(futs).await
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
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ping {
    /// The host's name.
    pub host: String,
    /// It ran a command through its transport.
    pub reachable: bool,
    /// The round trip of a second command on the open connection, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Why it could not be reached.
    pub error: Option<String>,
}

/// Reach every host of `hosts` through its transport (all at once): the first command
/// opens the connection, a second one measures a round trip on it.
pub async fn ping(inventory: &fearless_config::Inventory, hosts: &[&Host]) -> Vec<Ping> {
    let fleet = Fleet::new(inventory);
    let argv = vec!["true".to_owned()];
    let timeout = inventory.ssh.connect_timeout + Duration::from_secs(10);
    let pings = futures::future::join_all(hosts.iter().map(|h| {
        let (fleet, argv) = (&fleet, &argv);
        async move {
            let result = match fleet.run(&h.name, argv, timeout).await {
                Ok(_) => {
                    let rt = std::time::Instant::now();
                    fleet
                        .run(&h.name, argv, timeout)
                        .await
                        .map(|_| rt.elapsed())
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(rtt) => Ping {
                    host: h.name.clone(),
                    reachable: true,
                    latency_ms: Some((rtt.as_secs_f64() * 1e5).round() / 100.0),
                    error: None,
                },
                Err(e) => Ping {
                    host: h.name.clone(),
                    reachable: false,
                    latency_ms: None,
                    error: Some(e.to_string()),
                },
            }
        }
    }))
    .await;
    fleet.close().await;
    pings
}
