//! Observed edges against the declared `depends_on` (pure).
//!
//! An edge is an outbound connection of a process on host H: from the component the
//! process belongs to (or the unknown process itself) to the component serving the remote
//! endpoint (or an unknown peer). Inbound connections are not edges from this side — the
//! peer's own sample holds the outbound side (for a loopback connection, the same host's) —
//! and connections of a component to itself are ignored (two processes of one component,
//! or its instances on other hosts: a component cannot depend on itself).

use crate::observe::{HostObservation, Observation, ObservedConnection, ObservedProcess};
use crate::parse::Direction;
use crate::resolve::{Resolver, Seen, Served, endpoint};
use fearless_config::Config;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The drift of an observation from the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// Declared edges that were seen.
    pub observed: Vec<ObservedEdge>,
    /// Edges seen but not declared: `from` does not list `to` in `depends_on`.
    pub undeclared: Vec<UndeclaredEdge>,
    /// A component talks to an address and port no component claims.
    pub unknown_peers: Vec<UnknownPeer>,
    /// Declared edges never seen (`from`, `to`), for components whose hosts were observed.
    pub unobserved: Vec<(String, String)>,
    /// Connections of processes that belong to no component.
    pub unattributed: Vec<Unattributed>,
    /// What the reader should know (unresolved check endpoints, unobserved components, …).
    pub notes: Vec<String>,
}

impl Drift {
    /// Whether any edge was seen that the config does not declare.
    pub fn has_undeclared(&self) -> bool {
        !self.undeclared.is_empty()
    }
}

/// One process' use of an edge on one host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Use {
    /// Inventory name of the host the process runs on.
    pub host: String,
    /// The process' kernel name.
    pub process: String,
    /// Its program (the script of an interpreter).
    pub program: Option<String>,
    /// The package owning the program.
    pub package: Option<String>,
    /// The remote endpoint, `address:port`.
    pub remote: String,
    /// Samples that saw the connection.
    pub samples_seen: u32,
    /// Samples read on the host.
    pub samples: u32,
    /// The most connections of it in one sample.
    pub peak: u32,
    /// Whether it was ever seen established (else only connecting or closing).
    pub established: bool,
}

/// A declared edge that was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedEdge {
    /// The depending component.
    pub from: String,
    /// The component depended on.
    pub to: String,
    /// Who used it.
    pub uses: Vec<Use>,
}

/// An edge seen but not declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndeclaredEdge {
    /// The component whose process connected.
    pub from: String,
    /// The component serving the endpoint.
    pub to: String,
    /// How the endpoint was recognised as `to`'s (`listens`, `check NAME (KIND)`, …).
    pub via: String,
    /// Who used it.
    pub uses: Vec<Use>,
}

impl UndeclaredEdge {
    /// The hosts it was seen from.
    pub fn hosts(&self) -> Vec<&str> {
        let mut h: Vec<&str> = self.uses.iter().map(|u| u.host.as_str()).collect();
        h.dedup();
        h
    }
}

/// A component talking to an endpoint no component claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownPeer {
    /// The component whose process connected.
    pub from: String,
    /// Remote address.
    pub address: IpAddr,
    /// Remote port.
    pub port: u16,
    /// The observed process listening there, when one of the observed hosts has it.
    pub served_by: Option<Party>,
    /// Who used it.
    pub uses: Vec<Use>,
}

/// A process, named for a person.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Party {
    /// Inventory name of its host.
    pub host: String,
    /// Kernel name.
    pub process: String,
    /// Program.
    pub program: Option<String>,
    /// Package owning the program.
    pub package: Option<String>,
}

/// A connection from a process that belongs to no component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unattributed {
    /// The process (`None`: its owner could not be read).
    pub process: Option<Party>,
    /// Inventory name of the host.
    pub host: String,
    /// The remote endpoint.
    pub remote: String,
    /// The component serving it, if known.
    pub to: Option<String>,
    /// A component whose `process` check names this process, though it is not declared
    /// to run on this host.
    pub looks_like: Option<String>,
    /// Samples that saw it.
    pub samples_seen: u32,
    /// Samples read on the host.
    pub samples: u32,
}

fn party(host: &str, p: &ObservedProcess) -> Party {
    Party {
        host: host.to_owned(),
        process: p.name.clone(),
        program: p.program.clone(),
        package: p.package.clone(),
    }
}

fn use_of(host: &str, h: &HostObservation, c: &ObservedConnection, remote: &str) -> Use {
    let p = c.process.as_ref();
    Use {
        host: host.to_owned(),
        process: p.map(|p| p.name.clone()).unwrap_or_default(),
        program: p.and_then(|p| p.program.clone()),
        package: p.and_then(|p| p.package.clone()),
        remote: remote.to_owned(),
        samples_seen: c.samples_seen,
        samples: h.samples,
        peak: c.peak,
        established: c.states.contains(&crate::parse::TcpState::Established),
    }
}

/// An unknown peer: the component, the remote address and port.
type PeerKey = (String, IpAddr, u16);

/// Compare what `obs` saw with what `config` declares.
pub fn drift(config: &Config, obs: &Observation) -> Drift {
    let r = Resolver::new(config);
    let seen = Seen::new(obs);
    let mut out = Drift {
        notes: r.notes().to_vec(),
        ..Drift::default()
    };
    let mut observed: BTreeMap<(String, String), Vec<Use>> = BTreeMap::new();
    let mut undeclared: BTreeMap<(String, String), (String, Vec<Use>)> = BTreeMap::new();
    let mut unknown: BTreeMap<PeerKey, (Option<Party>, Vec<Use>)> = BTreeMap::new();
    let mut misplaced: BTreeSet<String> = BTreeSet::new();
    for (host, h) in &obs.hosts {
        for c in h
            .connections
            .iter()
            .filter(|c| c.direction == Direction::Outbound)
        {
            let Some(port) = c.remote_port else { continue };
            let remote = endpoint(c.remote_address, port);
            let served = r.endpoint(host, c.remote_address, port, &seen);
            let from = c
                .process
                .as_ref()
                .and_then(|p| r.process(host, p, h).map(|(comp, _)| comp));
            let Some(from) = from else {
                let looks_like = c.process.as_ref().and_then(|p| r.elsewhere(host, p));
                if let (Some(l), Some(p)) = (&looks_like, &c.process) {
                    misplaced.insert(format!(
                        "process `{}` on {host} looks like `{l}` (its check names it), which is not declared to run there",
                        p.label()
                    ));
                }
                out.unattributed.push(Unattributed {
                    process: c.process.as_ref().map(|p| party(host, p)),
                    host: host.clone(),
                    remote,
                    to: match &served {
                        Served::Component(claim) => Some(claim.component.clone()),
                        _ => None,
                    },
                    looks_like,
                    samples_seen: c.samples_seen,
                    samples: h.samples,
                });
                continue;
            };
            let u = use_of(host, h, c, &remote);
            match served {
                Served::Component(claim) if claim.component == from => {}
                Served::Component(claim) => {
                    let declared = config
                        .components
                        .get(&from)
                        .is_some_and(|comp| comp.depends_on.contains(&claim.component));
                    let key = (from.clone(), claim.component.clone());
                    if declared {
                        observed.entry(key).or_default().push(u);
                    } else {
                        undeclared
                            .entry(key)
                            .or_insert_with(|| (claim.source.clone(), Vec::new()))
                            .1
                            .push(u);
                    }
                }
                Served::Process { host: at, process } => {
                    unknown
                        .entry((from, c.remote_address, port))
                        .or_insert_with(|| (Some(party(&at, &process)), Vec::new()))
                        .1
                        .push(u);
                }
                Served::Unknown => {
                    unknown
                        .entry((from, c.remote_address, port))
                        .or_insert_with(|| (None, Vec::new()))
                        .1
                        .push(u);
                }
            }
        }
    }
    out.notes.extend(misplaced);
    for ((from, to), mut uses) in observed {
        uses.sort();
        out.observed.push(ObservedEdge { from, to, uses });
    }
    for ((from, to), (via, mut uses)) in undeclared {
        uses.sort();
        out.undeclared.push(UndeclaredEdge {
            from,
            to,
            via,
            uses,
        });
    }
    for ((from, address, port), (served_by, mut uses)) in unknown {
        uses.sort();
        out.unknown_peers.push(UnknownPeer {
            from,
            address,
            port,
            served_by,
            uses,
        });
    }
    out.unattributed
        .sort_by(|a, b| (&a.host, &a.process, &a.remote).cmp(&(&b.host, &b.process, &b.remote)));
    // Declared edges never seen, from components some host of which was observed.
    for comp in config.components.values() {
        let watched = obs
            .hosts
            .iter()
            .any(|(name, o)| o.samples > 0 && r.runs_on(&comp.name, name));
        if comp.depends_on.is_empty() {
            continue;
        }
        if !watched {
            out.notes.push(if comp.external {
                format!(
                    "`{}` is external: its dependencies cannot be observed",
                    comp.name
                )
            } else {
                format!(
                    "no host of `{}` was observed: its dependencies were not checked",
                    comp.name
                )
            });
            continue;
        }
        for dep in &comp.depends_on {
            if !out
                .observed
                .iter()
                .any(|e| e.from == comp.name && &e.to == dep)
            {
                out.unobserved.push((comp.name.clone(), dep.clone()));
            }
        }
    }
    out
}
