//! The dependency map: the graph the configuration declares, as a [`fearless_map::Map`],
//! with the health a saved run recorded (`--status`) and the drift an observation found
//! (`--observe`) laid over it; [`Engine::observe`] samples the hosts' live connections,
//! compares them with `depends_on` and keeps the observation in the store (`OBS-N`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use fearless_config::{Config, Selector};
use fearless_exec::Fleet;
use fearless_graph::{Graph, Observation, localise};
use fearless_map::{Edge, EdgeKind, Map, Node, Status};
use fearless_observe::{Drift, ObserveProgress, Settings};
use fearless_probe::baseline::Baseline;
use fearless_probe::result::Status as CheckStatus;
use serde::{Deserialize, Serialize};

use crate::record::{Payload, event};
use crate::{Engine, EngineError, Event};

/// Every component of `config` (its tier, whether it is external, the hosts its `runs_on`
/// selects, its description) and every `depends_on` edge, in the config's order.
pub fn declared(config: &Config) -> Map {
    let nodes = config
        .components
        .values()
        .map(|c| Node {
            tier: c.tier.clone(),
            external: c.external,
            hosts: c
                .runs_on
                .as_ref()
                .map(|sel| {
                    config
                        .inventory
                        .select(sel)
                        .into_iter()
                        .map(|h| h.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            description: c.description.clone(),
            ..Node::new(c.name.clone())
        })
        .collect();
    let edges = config
        .components
        .values()
        .flat_map(|c| {
            c.depends_on
                .iter()
                .map(|d| Edge::new(c.name.clone(), d.clone(), EdgeKind::Declared))
        })
        .collect();
    Map { nodes, edges }
}

/// Colours each component by the results of a saved run (`check --save-baseline`): fail
/// when one of its checks failed or could not run, degraded when one passed only after
/// retries, pass when all passed, unknown when none of its checks is in the run; marks the
/// root suspects the dependency graph localises from the failures.
pub fn with_status(map: &mut Map, config: &Config, run: &Baseline) {
    for node in &mut map.nodes {
        let statuses: Vec<CheckStatus> = run
            .results
            .iter()
            .filter(|e| e.component == node.name && e.status != CheckStatus::Skipped)
            .map(|e| e.status)
            .collect();
        node.status = Some(if statuses.is_empty() {
            Status::Unknown
        } else if statuses.iter().any(|s| !s.is_ok()) {
            Status::Fail
        } else if statuses.contains(&CheckStatus::Degraded) {
            Status::Degraded
        } else {
            Status::Pass
        });
    }
    let graph = Graph::new(
        config
            .components
            .iter()
            .map(|(n, c)| (n.as_str(), c.depends_on.as_slice())),
    );
    let observations: Vec<Observation> = run
        .results
        .iter()
        .map(|e| Observation {
            component: e.component.clone(),
            host: e.host.clone(),
            ok: e.status.is_ok(),
            skipped: e.status == CheckStatus::Skipped,
            transport: false,
            via_transport: false,
        })
        .collect();
    let found = localise(&graph, &observations);
    for suspect in found.suspects {
        if let Some(node) = map.nodes.iter_mut().find(|n| n.name == suspect.component) {
            node.suspect = true;
        }
    }
}

/// Lays an observation's drift over `map`: declared edges seen stay declared, declared
/// edges never seen become unobserved, edges seen but not declared are added as
/// undeclared.
pub fn with_drift(map: &mut Map, drift: &Drift) {
    for edge in &mut map.edges {
        if edge.kind == EdgeKind::Declared
            && drift
                .unobserved
                .iter()
                .any(|(from, to)| *from == edge.from && *to == edge.to)
        {
            edge.kind = EdgeKind::Unobserved;
        }
    }
    for u in &drift.undeclared {
        let known = map.edges.iter().any(|e| e.from == u.from && e.to == u.to);
        if !known && u.from != u.to {
            map.edges.push(Edge::new(
                u.from.clone(),
                u.to.clone(),
                EdgeKind::Undeclared,
            ));
        }
    }
}

/// What [`Engine::observe`] samples.
#[derive(Debug, Clone)]
pub struct ObserveRequest {
    /// Only these hosts (all when `None`).
    pub hosts: Option<Selector>,
    /// For how long.
    pub window: Duration,
    /// Between two samples of a host.
    pub interval: Duration,
}

impl ObserveRequest {
    /// The window holds at least one sample, and samples are apart.
    pub fn check(&self) -> Result<(), EngineError> {
        if self.interval.is_zero() || self.window < self.interval {
            return Err(EngineError::BadInput {
                message: format!(
                    "--for ({}) must be at least --interval ({}), and --interval more than 0",
                    humantime::format_duration(self.window),
                    humantime::format_duration(self.interval)
                ),
                hint: Some("e.g. --for 30s --interval 500ms".into()),
            });
        }
        Ok(())
    }
}

/// The stored document of an observation (`OBS-N`): what was seen and the drift it showed
/// against the config of the time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationRecord {
    /// Record version.
    pub v: u32,
    /// The configuration file it was compared with.
    pub config: String,
    /// What the hosts showed.
    pub observation: fearless_observe::Observation,
    /// Its drift from `depends_on`.
    pub drift: Drift,
}

/// The journal payload of `map.observed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Record version.
    pub v: u32,
    /// Hosts observed.
    pub hosts: Vec<String>,
    /// Hosts that could not be reached.
    pub unreachable: Vec<String>,
    /// The window, in milliseconds.
    pub window_ms: u64,
    /// Undeclared edges, `from → to`.
    pub undeclared: Vec<String>,
    /// Unknown peers, `from → address:port`.
    pub unknown_peers: Vec<String>,
}

impl Payload for Observed {
    const KIND: &'static str = "map.observed";
}

/// An observation as kept: its number and record.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptObservation {
    /// `OBS-<number>`.
    pub number: u64,
    /// When it was stored.
    pub taken_at: jiff::Timestamp,
    /// Who took it.
    pub actor: String,
    /// What it holds.
    pub record: ObservationRecord,
}

impl KeptObservation {
    /// `OBS-<number>`.
    pub fn id(&self) -> String {
        format!("OBS-{}", self.number)
    }
}

/// The number of an observation id (`OBS-3` or `3`).
pub fn number(id: &str) -> Result<u64, EngineError> {
    crate::number_of(
        id,
        "OBS",
        "an observation id",
        "observation ids look like OBS-3",
    )
}

impl Engine<'_> {
    /// Samples the established connections and listeners of the selected hosts over the
    /// window, resolves them to components, compares them with `depends_on` and keeps the
    /// observation in the store with a `map.observed` journal entry. A host that cannot be
    /// reached is reported (progress, and in the record) and the others are observed.
    pub async fn observe(&self, request: &ObserveRequest) -> Result<KeptObservation, EngineError> {
        request.check()?;
        let inventory = &self.config.inventory;
        let hosts: Vec<&fearless_config::Host> = match &request.hosts {
            Some(sel) => inventory.select(sel),
            None => inventory.hosts.values().collect(),
        };
        if hosts.is_empty() {
            return Err(EngineError::BadInput {
                message: "no host matches the selector: nothing to observe".into(),
                hint: Some("`fearless hosts` lists the inventory".into()),
            });
        }
        self.progress.event(Event::Observing {
            hosts: hosts.len(),
            window: request.window,
        });
        let fleet = Fleet::new(inventory);
        let started = Instant::now();
        let ticker = Mutex::new((0u64, 0u32));
        let progress = |p: ObserveProgress| match p {
            ObserveProgress::Sampled { .. } => {
                let Ok(mut t) = ticker.lock() else { return };
                t.1 += 1;
                let elapsed = started.elapsed();
                if elapsed.as_secs() > t.0 {
                    t.0 = elapsed.as_secs();
                    self.progress.event(Event::ObservingFor {
                        elapsed,
                        window: request.window,
                        samples: t.1,
                    });
                }
            }
            ObserveProgress::Unreachable { host, error } => {
                self.progress.event(Event::NotObserved { host, error });
            }
            _ => {}
        };
        let settings = Settings::new(request.window, request.interval);
        let observation =
            fearless_observe::observe::observe_fleet(&fleet, &hosts, settings, progress).await;
        fleet.close().await;
        let drift = fearless_observe::drift(self.config, &observation);
        let record = ObservationRecord {
            v: 1,
            config: self.config.path.display().to_string(),
            observation,
            drift,
        };
        let payload = Observed {
            v: 1,
            hosts: record.observation.hosts.keys().cloned().collect(),
            unreachable: record.observation.unreachable.keys().cloned().collect(),
            window_ms: record.observation.window_ms,
            undeclared: record
                .drift
                .undeclared
                .iter()
                .map(|u| format!("{} → {}", u.from, u.to))
                .collect(),
            unknown_peers: record
                .drift
                .unknown_peers
                .iter()
                .map(|p| {
                    format!(
                        "{} → {}",
                        p.from,
                        std::net::SocketAddr::new(p.address, p.port)
                    )
                })
                .collect(),
        };
        let value = serde_json::to_value(&record)
            .map_err(|e| EngineError::corrupt("the observation".to_owned(), e))?;
        let stored = self
            .store
            .insert_observation(&value, event(self.actor, "", &payload))
            .await?;
        Ok(KeptObservation {
            number: stored.number,
            taken_at: timestamp(stored.taken_at),
            actor: stored.actor,
            record,
        })
    }

    /// The observation `OBS-N` (or `N`).
    pub async fn observation(&self, id: &str) -> Result<KeptObservation, EngineError> {
        let number = number(id)?;
        let stored =
            self.store
                .get_observation(number)
                .await?
                .ok_or_else(|| EngineError::BadInput {
                    message: format!("no observation OBS-{number}"),
                    hint: Some("`fearless map list` lists them".into()),
                })?;
        kept(stored)
    }

    /// Every observation, oldest first.
    pub async fn observations(&self) -> Result<Vec<KeptObservation>, EngineError> {
        self.store
            .list_observations()
            .await?
            .into_iter()
            .map(kept)
            .collect()
    }
}

/// What changed from one observation to another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ObservationDiff {
    /// Edges (`from → to`, declared or not) seen in the second and not in the first.
    pub edges_added: Vec<String>,
    /// Edges seen in the first and not in the second.
    pub edges_gone: Vec<String>,
    /// Undeclared edges new in the second.
    pub undeclared_added: Vec<String>,
    /// Undeclared edges of the first that the second does not show.
    pub undeclared_gone: Vec<String>,
    /// Unknown peers (`from → address:port`) new in the second.
    pub peers_added: Vec<String>,
    /// Unknown peers of the first the second does not show.
    pub peers_gone: Vec<String>,
    /// Listeners (`host address:port process`) new in the second.
    pub listeners_added: Vec<String>,
    /// Listeners of the first the second does not show.
    pub listeners_gone: Vec<String>,
    /// Hosts observed in only one of them (`host: observed in OBS-N only`).
    pub hosts: Vec<String>,
}

impl ObservationDiff {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The edges, peers and listeners that came or went from `a` to `b`.
pub fn diff(a: &KeptObservation, b: &KeptObservation) -> ObservationDiff {
    use std::collections::BTreeSet;
    let edges = |r: &ObservationRecord| -> BTreeSet<String> {
        r.drift
            .observed
            .iter()
            .map(|e| format!("{} → {}", e.from, e.to))
            .chain(
                r.drift
                    .undeclared
                    .iter()
                    .map(|e| format!("{} → {}", e.from, e.to)),
            )
            .collect()
    };
    let undeclared = |r: &ObservationRecord| -> BTreeSet<String> {
        r.drift
            .undeclared
            .iter()
            .map(|e| format!("{} → {}", e.from, e.to))
            .collect()
    };
    let peers = |r: &ObservationRecord| -> BTreeSet<String> {
        r.drift
            .unknown_peers
            .iter()
            .map(|p| {
                format!(
                    "{} → {}",
                    p.from,
                    std::net::SocketAddr::new(p.address, p.port)
                )
            })
            .collect()
    };
    let listeners = |r: &ObservationRecord| -> BTreeSet<String> {
        r.observation
            .hosts
            .iter()
            .flat_map(|(host, h)| {
                h.listeners.iter().map(move |l| {
                    let process = l.process.as_ref().map_or("?", |p| p.name.as_str());
                    format!(
                        "{host} {} {process}",
                        std::net::SocketAddr::new(l.address, l.port)
                    )
                })
            })
            .collect()
    };
    let split = |x: BTreeSet<String>, y: BTreeSet<String>| -> (Vec<String>, Vec<String>) {
        (
            y.difference(&x).cloned().collect(),
            x.difference(&y).cloned().collect(),
        )
    };
    let (edges_added, edges_gone) = split(edges(&a.record), edges(&b.record));
    let (undeclared_added, undeclared_gone) = split(undeclared(&a.record), undeclared(&b.record));
    let (peers_added, peers_gone) = split(peers(&a.record), peers(&b.record));
    let (listeners_added, listeners_gone) = split(listeners(&a.record), listeners(&b.record));
    let hosts_of = |k: &KeptObservation| -> BTreeSet<String> {
        k.record.observation.hosts.keys().cloned().collect()
    };
    let (only_b, only_a) = split(hosts_of(a), hosts_of(b));
    let hosts = only_a
        .into_iter()
        .map(|h| format!("{h}: observed in {} only", a.id()))
        .chain(
            only_b
                .into_iter()
                .map(|h| format!("{h}: observed in {} only", b.id())),
        )
        .collect();
    ObservationDiff {
        edges_added,
        edges_gone,
        undeclared_added,
        undeclared_gone,
        peers_added,
        peers_gone,
        listeners_added,
        listeners_gone,
        hosts,
    }
}

fn timestamp(t: time::OffsetDateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn kept(stored: fearless_store::StoredObservation) -> Result<KeptObservation, EngineError> {
    let id = format!("OBS-{}", stored.number);
    let record: ObservationRecord = serde_json::from_value(stored.record)
        .map_err(|e| EngineError::corrupt(format!("observation {id}"), e))?;
    Ok(KeptObservation {
        number: stored.number,
        taken_at: timestamp(stored.taken_at),
        actor: stored.actor,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fearless_probe::baseline::Entry;

    const YAML: &str = r#"
inventory:
  hosts:
    web-1: { address: 127.0.0.11, transport: local, labels: { role: web } }
    api-1: { address: 127.0.0.12, transport: local, labels: { role: api } }
components:
  checkout:
    tier: web
    runs_on: "role=web"
    depends_on: [orders]
    checks: [{ name: up, command: { run: ["true"] } }]
  orders:
    tier: api
    runs_on: "role=api"
    depends_on: [payments]
    checks: [{ name: up, command: { run: ["true"] } }]
  payments:
    external: true
    checks: [{ name: up, tcp: { address: "127.0.0.1:9" } }]
"#;

    fn config() -> Config {
        fearless_config::load_str(std::path::Path::new("/x/fearless.yaml"), YAML.to_owned())
            .unwrap_or_else(|e| panic!("{e:?}"))
            .config
    }

    fn entry(component: &str, status: CheckStatus) -> Entry {
        Entry {
            component: component.into(),
            check: "up".into(),
            host: None,
            status,
        }
    }

    #[test]
    fn the_declared_map_has_every_component_its_hosts_and_every_edge() {
        let map = declared(&config());
        let names: Vec<_> = map.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["checkout", "orders", "payments"]);
        assert_eq!(map.nodes[0].hosts, ["web-1"]);
        assert_eq!(map.nodes[0].tier.as_deref(), Some("web"));
        assert!(map.nodes[2].external && map.nodes[2].hosts.is_empty());
        assert_eq!(
            map.edges,
            [
                Edge::new("checkout", "orders", EdgeKind::Declared),
                Edge::new("orders", "payments", EdgeKind::Declared)
            ]
        );
        assert_eq!(map.validate(), Ok(()));
    }

    #[test]
    fn a_saved_run_colours_components_and_marks_the_root_suspect() {
        let config = config();
        let mut map = declared(&config);
        let run = Baseline {
            format: fearless_probe::baseline::FORMAT,
            results: vec![
                entry("checkout", CheckStatus::Fail),
                entry("orders", CheckStatus::Fail),
                entry("payments", CheckStatus::Degraded),
            ],
        };
        with_status(&mut map, &config, &run);
        let status: Vec<_> = map.nodes.iter().map(|n| n.status).collect();
        assert_eq!(
            status,
            [
                Some(Status::Fail),
                Some(Status::Fail),
                Some(Status::Degraded)
            ]
        );
        let suspects: Vec<_> = map
            .nodes
            .iter()
            .filter(|n| n.suspect)
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(suspects, ["orders"], "checkout fails because orders does");
    }

    #[test]
    fn drift_marks_unseen_edges_and_adds_undeclared_ones() {
        let mut map = declared(&config());
        let drift = Drift {
            unobserved: vec![("orders".into(), "payments".into())],
            undeclared: vec![fearless_observe::UndeclaredEdge {
                from: "checkout".into(),
                to: "payments".into(),
                via: "listens".into(),
                uses: Vec::new(),
            }],
            ..Drift::default()
        };
        with_drift(&mut map, &drift);
        assert_eq!(
            map.edges,
            [
                Edge::new("checkout", "orders", EdgeKind::Declared),
                Edge::new("orders", "payments", EdgeKind::Unobserved),
                Edge::new("checkout", "payments", EdgeKind::Undeclared)
            ]
        );
        with_drift(&mut map, &drift);
        assert_eq!(map.edges.len(), 3, "laid over twice, nothing doubles");
    }

    #[test]
    fn a_component_the_run_did_not_check_is_unknown() {
        let config = config();
        let mut map = declared(&config);
        let run = Baseline {
            format: fearless_probe::baseline::FORMAT,
            results: vec![entry("checkout", CheckStatus::Pass)],
        };
        with_status(&mut map, &config, &run);
        assert_eq!(map.nodes[0].status, Some(Status::Pass));
        assert_eq!(map.nodes[1].status, Some(Status::Unknown));
        assert!(map.nodes.iter().all(|n| !n.suspect));
    }
}
