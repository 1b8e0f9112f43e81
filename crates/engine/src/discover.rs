//! `fearless discover`: a configuration drafted from a live fleet. An observation of the
//! hosts' listeners and connections ([`Engine::observe`]) gives the services (port,
//! process, program, package), grouped into components by package across hosts; the
//! connections between them give `depends_on`; peers outside the inventory become
//! external components; each listener gets a check, and one that answers HTTP 200 on
//! `/health` or `/` an HTTP check. Where the configuration already names a component for
//! what was seen, the draft keeps that name, so the draft reads as a proposal against it.
//!
//! The draft is honest: every component and edge carries, as a YAML comment, what it was
//! inferred from, and a selector that does not select exactly the hosts seen says so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use fearless_config::{Config, Host, Selector};
use fearless_observe::observe::{HostObservation, ObservedProcess};
use fearless_observe::parse::{Direction, TcpState};
use fearless_observe::{Resolver, Seen, Served};
use serde::Serialize;

use crate::map::{KeptObservation, ObserveRequest};
use crate::{Engine, EngineError};

/// How long an HTTP probe of a listener may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The paths an HTTP probe asks, in order.
const PROBE_PATHS: [&str; 2] = ["/health", "/"];

/// A configuration drafted from an observation.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    /// The observation it was drafted from (`OBS-N`).
    pub observation: String,
    /// Components, hosted ones first (in the order their hosts were seen), then external.
    pub components: Vec<Drafted>,
    /// What the reader should know.
    pub notes: Vec<String>,
}

/// One drafted component.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Drafted {
    /// Its name: the configuration's name for it when there is one, else its package (or
    /// program), or for an external peer a well-known service name or its address.
    pub name: String,
    /// The configuration already has a component of this name for it.
    pub known: bool,
    /// Outside the inventory (a peer no observed host serves).
    pub external: bool,
    /// The configuration's tier for it, when it knows it.
    pub tier: Option<String>,
    /// The hosts it was seen on.
    pub hosts: Vec<String>,
    /// A selector for those hosts, and whether it selects exactly them.
    pub runs_on: Option<(String, bool)>,
    /// Ports it listens on (hosted), or `ADDRESS:PORT` (external).
    pub listens: Vec<String>,
    /// The process name (`comm`) of its listeners.
    pub process: Option<String>,
    /// The program (the script of an interpreter).
    pub program: Option<String>,
    /// The package owning the program.
    pub package: Option<String>,
    /// Ports (hosted) or endpoints (external) that answered HTTP 200, with the path.
    pub http: Vec<(String, String)>,
    /// Components it was seen connecting to, each with what was seen.
    pub depends_on: BTreeMap<String, String>,
}

impl Drafted {
    fn new(name: String, known: bool, external: bool) -> Self {
        Self {
            name,
            known,
            external,
            tier: None,
            hosts: Vec::new(),
            runs_on: None,
            listens: Vec::new(),
            process: None,
            program: None,
            package: None,
            http: Vec::new(),
            depends_on: BTreeMap::new(),
        }
    }
}

/// What [`Engine::discover`] found.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The observation (kept in the store).
    pub observation: KeptObservation,
    /// The draft.
    pub draft: Draft,
    /// The draft as a commented `fearless.yaml`, validated by fearless' own loader.
    pub yaml: String,
}

impl Engine<'_> {
    /// Observes the hosts ([`Engine::observe`]), drafts the components, probes each
    /// listener for HTTP, and writes the draft as YAML that loads. The configuration's
    /// inventory is the draft's; its components name what they already cover.
    pub async fn discover(&self, request: &ObserveRequest) -> Result<Discovery, EngineError> {
        let observation = self.observe(request).await?;
        let mut draft = draft(self.config, &observation);
        probe_http(self.config, &observation, &mut draft).await;
        let yaml = yaml(self.config, &draft, &observation);
        if let Err(e) = fearless_config::load_str(&self.config.path, yaml.clone()) {
            return Err(EngineError::corrupt(
                "the drafted configuration".to_owned(),
                format!("it does not load: {e:?}"),
            ));
        }
        Ok(Discovery {
            observation,
            draft,
            yaml,
        })
    }
}

/// Who a process is, across hosts: name and program.
fn who(p: &ObservedProcess) -> (String, Option<String>) {
    (p.name.clone(), p.program.clone())
}

/// A component name from what is known of a process: letters, digits, `-`, `_`, `.`.
fn name_of(p: &ObservedProcess) -> String {
    let raw = p.package.clone().unwrap_or_else(|| p.label());
    sanitize(&raw)
}

fn sanitize(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() { "service".into() } else { s }
}

/// The name of an external peer: the service a well-known port usually is, else its
/// address.
fn peer_name(addr: SocketAddr) -> String {
    let known = match addr.port() {
        5672 | 5671 => Some("rabbitmq"),
        5432 => Some("postgresql"),
        3306 => Some("mysql"),
        6379 => Some("redis"),
        11211 => Some("memcached"),
        9092 => Some("kafka"),
        27017 => Some("mongodb"),
        9200 => Some("elasticsearch"),
        25 | 587 => Some("smtp"),
        53 => Some("dns"),
        _ => None,
    };
    match known {
        Some(k) => k.to_owned(),
        None => {
            sanitize(&format!("external-{}-{}", addr.ip(), addr.port()).replace([':', '.'], "-"))
        }
    }
}

/// The drafting itself (pure): services from listeners, edges from outbound connections.
pub fn draft(config: &Config, kept: &KeptObservation) -> Draft {
    let obs = &kept.record.observation;
    let resolver = Resolver::new(config);
    let seen = Seen::new(obs);
    let mut comps: Vec<Drafted> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    // (host, process identity) → component index
    let mut owner: BTreeMap<(String, (String, Option<String>)), usize> = BTreeMap::new();
    // (host, port) → component index, for the services' own listeners
    let mut serving: BTreeMap<(String, u16), usize> = BTreeMap::new();

    let index_of = |comps: &mut Vec<Drafted>, name: String, known: bool, external: bool| match comps
        .iter()
        .position(|c| c.name == name)
    {
        Some(i) => i,
        None => {
            comps.push(Drafted::new(name, known, external));
            comps.len() - 1
        }
    };

    for (host, h) in &obs.hosts {
        for l in &h.listeners {
            let Some(p) = &l.process else {
                notes.push(format!(
                    "{host}: a listener on {} whose process could not be read (observe as root to name it)",
                    SocketAddr::new(l.address, l.port)
                ));
                continue;
            };
            if p.name == "sshd" {
                continue;
            }
            let (name, known) = match resolver.process(host, p, h) {
                Some((c, _)) => (c, true),
                None => (name_of(p), false),
            };
            let i = index_of(&mut comps, name, known, false);
            let c = &mut comps[i];
            if !c.hosts.contains(host) {
                c.hosts.push(host.clone());
            }
            let port = l.port.to_string();
            if !c.listens.contains(&port) {
                c.listens.push(port);
            }
            c.process.get_or_insert_with(|| p.name.clone());
            if c.program.is_none() {
                c.program.clone_from(&p.program);
            }
            if c.package.is_none() {
                c.package.clone_from(&p.package);
            }
            owner.insert((host.clone(), who(p)), i);
            serving.insert((host.clone(), l.port), i);
        }
    }

    for (host, h) in &obs.hosts {
        for conn in &h.connections {
            if conn.direction != Direction::Outbound
                || !conn.states.contains(&TcpState::Established)
            {
                continue;
            }
            let (Some(p), Some(port)) = (&conn.process, conn.remote_port) else {
                continue;
            };
            if p.name == "sshd" {
                continue;
            }
            let from = match owner.get(&(host.clone(), who(p))) {
                Some(i) => *i,
                None => {
                    // a client only: a worker, a cron job
                    let (name, known) = match resolver.process(host, p, h) {
                        Some((c, _)) => (c, true),
                        None => (name_of(p), false),
                    };
                    let i = index_of(&mut comps, name, known, false);
                    let c = &mut comps[i];
                    if !c.hosts.contains(host) {
                        c.hosts.push(host.clone());
                    }
                    c.process.get_or_insert_with(|| p.name.clone());
                    if c.package.is_none() {
                        c.package.clone_from(&p.package);
                    }
                    owner.insert((host.clone(), who(p)), i);
                    i
                }
            };
            let remote = SocketAddr::new(conn.remote_address, port);
            let to = match served_by(&serving, obs, host, remote) {
                Some(i) => i,
                None => match resolver.endpoint(host, remote.ip(), port, &seen) {
                    Served::Component(claim) => {
                        let external = config
                            .components
                            .get(&claim.component)
                            .is_none_or(|c| c.external);
                        let i = index_of(&mut comps, claim.component, true, external);
                        if external && !comps[i].listens.contains(&remote.to_string()) {
                            comps[i].listens.push(remote.to_string());
                        }
                        i
                    }
                    Served::Process { .. } => continue,
                    Served::Unknown => {
                        let i = index_of(&mut comps, peer_name(remote), false, true);
                        if !comps[i].listens.contains(&remote.to_string()) {
                            comps[i].listens.push(remote.to_string());
                        }
                        i
                    }
                },
            };
            if to == from {
                continue;
            }
            let target = comps[to].name.clone();
            let why = format!(
                "{} on {host} → {remote}, {}/{} samples",
                p.label(),
                conn.samples_seen,
                h.samples
            );
            comps[from].depends_on.entry(target).or_insert(why);
        }
    }

    for c in &mut comps {
        c.tier = config.components.get(&c.name).and_then(|k| k.tier.clone());
        if !c.external {
            c.runs_on = selector_for(config, &c.hosts);
            if let Some((sel, false)) = &c.runs_on {
                notes.push(format!(
                    "{}: no selector picks exactly {}; `{sel}` is a guess",
                    c.name,
                    c.hosts.join(", ")
                ));
            }
        }
    }
    for (host, error) in &obs.unreachable {
        notes.push(format!("{host} was not observed: {error}"));
    }
    // the configuration's order for what it knows, then what is new; external ones last
    let position = |name: &str| config.components.get_index_of(name).unwrap_or(usize::MAX);
    comps.sort_by_key(|c| (c.external, position(&c.name)));
    Draft {
        observation: kept.id(),
        components: comps,
        notes,
    }
}

/// The drafted service whose listener `remote` reaches, from a process on `from`.
fn served_by(
    serving: &BTreeMap<(String, u16), usize>,
    obs: &fearless_observe::Observation,
    from: &str,
    remote: SocketAddr,
) -> Option<usize> {
    obs.hosts.iter().find_map(|(host, h)| {
        let i = serving.get(&(host.clone(), remote.port()))?;
        let reaches = h.listeners.iter().any(|l| {
            l.port == remote.port()
                && (l.address == remote.ip()
                    || (l.address.is_unspecified()
                        && (h.addresses.contains(&remote.ip())
                            || (remote.ip().is_loopback() && host == from))))
        });
        reaches.then_some(*i)
    })
}

/// A selector for exactly `hosts`: one label they share and no other host has, else one
/// host's name, else a glob of their common prefix; `false` when the best found selects
/// more (or other) hosts than these.
fn selector_for(config: &Config, hosts: &[String]) -> Option<(String, bool)> {
    let inv = &config.inventory;
    let wanted: BTreeSet<&str> = hosts.iter().map(String::as_str).collect();
    let exact = |text: &str| {
        Selector::parse(text).ok().is_some_and(|sel| {
            inv.select(&sel)
                .iter()
                .map(|h| h.name.as_str())
                .collect::<BTreeSet<_>>()
                == wanted
        })
    };
    let first: &Host = inv.hosts.get(hosts.first()?)?;
    for (k, v) in &first.labels {
        let text = format!("{k}={v}");
        if exact(&text) {
            return Some((text, true));
        }
    }
    if let [one] = hosts {
        return Some((one.clone(), exact(one)));
    }
    let prefix: String = hosts.iter().skip(1).fold(hosts[0].clone(), |p, h| {
        p.chars()
            .zip(h.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect()
    });
    if !prefix.is_empty() {
        let glob = format!("{prefix}*");
        if exact(&glob) {
            return Some((glob, true));
        }
    }
    let guess = first
        .labels
        .iter()
        .next()
        .map_or_else(|| "all".to_owned(), |(k, v)| format!("{k}={v}"));
    Some((guess, false))
}

/// Asks each listener (from this machine) `GET /health`, then `GET /`; a 200 makes an HTTP
/// check. Anything else (another status, no HTTP at all) leaves the TCP check alone.
async fn probe_http(config: &Config, kept: &KeptObservation, draft: &mut Draft) {
    let obs = &kept.record.observation;
    for c in &mut draft.components {
        let targets: Vec<(String, SocketAddr)> = if c.external {
            c.listens
                .iter()
                .filter_map(|l| l.parse::<SocketAddr>().ok())
                .map(|a| (a.to_string(), a))
                .collect()
        } else {
            c.listens
                .iter()
                .filter_map(|port| port.parse::<u16>().ok())
                .filter_map(|port| {
                    let addr = c
                        .hosts
                        .iter()
                        .find_map(|h| reachable_address(config, obs.hosts.get(h)?, h, port))?;
                    Some((port.to_string(), SocketAddr::new(addr, port)))
                })
                .collect()
        };
        for (key, addr) in targets {
            for path in PROBE_PATHS {
                if http_status(addr, path).await == Some(200) {
                    c.http.push((key.clone(), path.to_owned()));
                    break;
                }
            }
        }
    }
}

/// An address of `host` where its listener on `port` can be reached from here.
fn reachable_address(
    config: &Config,
    h: &HostObservation,
    host: &str,
    port: u16,
) -> Option<IpAddr> {
    let inventory: Option<IpAddr> = config
        .inventory
        .hosts
        .get(host)
        .and_then(|x| x.address.parse().ok());
    h.listeners.iter().filter(|l| l.port == port).find_map(|l| {
        if l.address.is_unspecified() {
            inventory.or_else(|| h.addresses.first().copied())
        } else {
            Some(l.address)
        }
    })
}

/// The status of `GET path` on `addr`, when it answers HTTP within [`PROBE_TIMEOUT`].
async fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: fearless-discover\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 64];
        let mut got = 0;
        while got < 12 {
            let n = stream.read(&mut head[got..]).await.ok()?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let line = std::str::from_utf8(&head[..got]).ok()?;
        let rest = line.strip_prefix("HTTP/1.")?;
        rest.get(2..5)?.parse::<u16>().ok()
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
}

/// How a draft differs from the configuration it was run with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Proposal {
    /// A component the configuration does not have.
    NewComponent {
        /// Its drafted name.
        name: String,
        /// Where it was seen.
        seen: String,
    },
    /// A dependency seen between two components the configuration has, not declared.
    NewDependency {
        /// The component that depends.
        from: String,
        /// The one it depends on.
        to: String,
        /// What was seen.
        seen: String,
    },
    /// A dependency of a drafted component on a new one.
    NewDependencyOnNew {
        /// The component that depends.
        from: String,
        /// The new one.
        to: String,
        /// What was seen.
        seen: String,
    },
    /// A declared dependency not seen in the window (informational).
    NotSeen {
        /// The component that depends.
        from: String,
        /// The one it depends on.
        to: String,
    },
}

/// What the configuration should gain from `draft`, and what it declares that was not seen.
pub fn propose(config: &Config, draft: &Draft) -> Vec<Proposal> {
    let mut out = Vec::new();
    let known: BTreeSet<&str> = config.components.keys().map(String::as_str).collect();
    for c in &draft.components {
        if !known.contains(c.name.as_str()) {
            let seen = if c.external {
                format!("external, at {}", c.listens.join(", "))
            } else {
                format!(
                    "on {}: {}",
                    c.hosts.join(", "),
                    c.process.as_deref().unwrap_or("?")
                )
            };
            out.push(Proposal::NewComponent {
                name: c.name.clone(),
                seen,
            });
        }
        for (to, seen) in &c.depends_on {
            let declared = config
                .components
                .get(&c.name)
                .is_some_and(|k| k.depends_on.contains(to));
            if declared {
                continue;
            }
            let (from, to, seen) = (c.name.clone(), to.clone(), seen.clone());
            out.push(
                if known.contains(from.as_str()) && known.contains(to.as_str()) {
                    Proposal::NewDependency { from, to, seen }
                } else {
                    Proposal::NewDependencyOnNew { from, to, seen }
                },
            );
        }
    }
    for (name, c) in &config.components {
        let drafted = draft.components.iter().find(|d| &d.name == name);
        for dep in &c.depends_on {
            let seen = drafted.is_some_and(|d| d.depends_on.contains_key(dep));
            if !seen {
                out.push(Proposal::NotSeen {
                    from: name.clone(),
                    to: dep.clone(),
                });
            }
        }
    }
    out
}

/// A YAML double-quoted scalar: every character shown, nothing interpreted.
pub(crate) fn q(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for a YAML comment: one line, every control character shown as `?`.
pub(crate) fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The draft as a commented configuration: the inventory as loaded, then the components.
pub fn yaml(config: &Config, draft: &Draft, kept: &KeptObservation) -> String {
    let obs = &kept.record.observation;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Drafted by `fearless discover` from {} ({} host(s) observed for {}s, {}).",
        draft.observation,
        obs.hosts.len(),
        obs.window_ms / 1000,
        obs.started_at.strftime("%Y-%m-%d %H:%M UTC")
    );
    out.push_str(
        "# Everything under `components` is INFERRED from what was seen: review the names,\n\
         # selectors, checks and dependencies before relying on them. A connection that did\n\
         # not happen during the window is not here.\n",
    );
    for n in &draft.notes {
        let _ = writeln!(out, "# note: {}", comment(n));
    }
    inventory(config, &mut out);
    out.push_str(&components_yaml(draft));
    out
}

/// The draft's `components:` section alone, each component commented with what it was
/// inferred from (`fearless init` puts it under an inventory it writes itself).
pub fn components_yaml(draft: &Draft) -> String {
    let mut out = String::from("components:\n");
    if draft.components.is_empty() {
        out.pop();
        out.push_str(" {}\n");
    }
    for c in &draft.components {
        component(c, &mut out);
    }
    out
}

fn inventory(config: &Config, out: &mut String) {
    let inv = &config.inventory;
    out.push_str("inventory:\n");
    if let Some(file) = &inv.ssh.config_file {
        let _ = writeln!(
            out,
            "  ssh: {{ config: {} }}",
            q(&file.display().to_string())
        );
    }
    out.push_str("  hosts:\n");
    for h in inv.hosts.values() {
        let transport = match h.transport {
            fearless_config::TransportKind::Ssh => "ssh",
            fearless_config::TransportKind::Local => "local",
            fearless_config::TransportKind::Ssm => "ssm",
        };
        let mut fields = vec![
            format!("address: {}", q(&h.address)),
            format!("port: {}", h.port),
            format!("user: {}", q(&h.user)),
            format!("transport: {transport}"),
        ];
        if h.become_.is_some() {
            fields.push("become: sudo".into());
        }
        if let Some(pm) = h.package_manager {
            let pm = match pm {
                fearless_config::PackageManager::Apt => "apt",
                fearless_config::PackageManager::Dnf => "dnf",
                fearless_config::PackageManager::Yum => "yum",
            };
            fields.push(format!("package_manager: {pm}"));
        }
        if !h.labels.is_empty() {
            let labels: Vec<String> = h
                .labels
                .iter()
                .map(|(k, v)| format!("{}: {}", q(k), q(v)))
                .collect();
            fields.push(format!("labels: {{ {} }}", labels.join(", ")));
        }
        let _ = writeln!(out, "    {}: {{ {} }}", q(&h.name), fields.join(", "));
    }
}

fn component(c: &Drafted, out: &mut String) {
    let _ = writeln!(out, "  {}:", q(&c.name));
    let seen = if c.external {
        format!(
            "a peer outside the inventory, reached at {}",
            c.listens.join(", ")
        )
    } else {
        let mut what = c.process.clone().unwrap_or_default();
        if let Some(p) = &c.program {
            let _ = write!(what, " ({p}");
            if let Some(k) = &c.package {
                let _ = write!(what, ", package {k}");
            }
            what.push(')');
        }
        format!("seen on {}: {what}", c.hosts.join(", "))
    };
    let _ = writeln!(
        out,
        "    # {}{}",
        if c.known { "" } else { "INFERRED: " },
        comment(&seen)
    );
    let description = if c.external {
        "external peer (drafted)".to_owned()
    } else {
        match &c.package {
            Some(p) => format!("package {p} (drafted)"),
            None => "drafted".to_owned(),
        }
    };
    let _ = writeln!(out, "    description: {}", q(&description));
    if let Some(tier) = &c.tier {
        let _ = writeln!(out, "    tier: {}", q(tier));
    }
    if c.external {
        out.push_str("    external: true\n");
    } else if let Some((sel, exact)) = &c.runs_on {
        let _ = writeln!(
            out,
            "    runs_on: {}{}",
            q(sel),
            if *exact {
                ""
            } else {
                "  # GUESS: selects other hosts too; adjust"
            }
        );
    }
    if !c.listens.is_empty() {
        let items: Vec<String> = c
            .listens
            .iter()
            .map(|l| match l.parse::<u16>() {
                Ok(port) => port.to_string(),
                Err(_) => q(l),
            })
            .collect();
        let _ = writeln!(out, "    listens: [{}]", items.join(", "));
    }
    if !c.depends_on.is_empty() {
        out.push_str("    depends_on:\n");
        for (dep, why) in &c.depends_on {
            let _ = writeln!(out, "      - {}  # seen: {}", q(dep), comment(why));
        }
    }
    out.push_str("    checks:\n");
    let check = |out: &mut String, name: String, body: String| {
        let _ = writeln!(out, "      - {{ name: {}, {body} }}", q(&name));
    };
    if c.external {
        for l in &c.listens {
            match c.http.iter().find(|(k, _)| k == l) {
                Some((_, path)) => check(
                    out,
                    format!("http {l}{path}"),
                    format!(
                        "http: {{ url: {}, status: 200 }}",
                        q(&format!("http://{l}{path}"))
                    ),
                ),
                None => check(
                    out,
                    format!("tcp {l}"),
                    format!("tcp: {{ address: {} }}", q(l)),
                ),
            }
        }
    } else {
        for port in &c.listens {
            check(
                out,
                format!("port {port}"),
                format!(
                    "tcp: {{ address: {} }}",
                    q(&format!("{{host.address}}:{port}"))
                ),
            );
            if let Some((_, path)) = c.http.iter().find(|(k, _)| k == port) {
                check(
                    out,
                    format!("http {port}{path}"),
                    format!(
                        "http: {{ url: {}, status: 200 }}",
                        q(&format!("http://{{host.address}}:{port}{path}"))
                    ),
                );
            }
        }
        if let Some(p) = &c.process {
            check(
                out,
                format!("process {p}"),
                format!("process: {{ name: {} }}", q(p)),
            );
        }
        // a name a package check would refuse is only a comment
        if let Some(k) = c
            .package
            .as_ref()
            .filter(|k| fearless_config::valid_package_name(k))
        {
            check(
                out,
                format!("package {k}"),
                format!("package: {{ name: {} }}", q(k)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::ObservationRecord;

    const INVENTORY: &str = r#"
inventory:
  hosts:
    web-1: { address: 127.0.0.11, transport: local, labels: { role: web } }
    web-2: { address: 127.0.0.12, transport: local, labels: { role: web } }
    api-1: { address: 127.0.0.13, transport: local, labels: { role: api } }
components: {}
"#;

    fn config() -> Config {
        fearless_config::load_str(
            std::path::Path::new("/x/fearless.yaml"),
            INVENTORY.to_owned(),
        )
        .unwrap_or_else(|e| panic!("{e:?}"))
        .config
    }

    fn kept() -> KeptObservation {
        KeptObservation {
            number: 7,
            taken_at: jiff::Timestamp::UNIX_EPOCH,
            actor: "ops".into(),
            record: ObservationRecord {
                v: 1,
                config: "/x/fearless.yaml".into(),
                observation: fearless_observe::Observation {
                    version: 1,
                    started_at: jiff::Timestamp::UNIX_EPOCH,
                    window_ms: 10_000,
                    interval_ms: 500,
                    hosts: BTreeMap::new(),
                    unreachable: BTreeMap::new(),
                    notes: Vec::new(),
                },
                drift: fearless_observe::Drift::default(),
            },
        }
    }

    #[test]
    fn a_hostile_process_drafts_yaml_that_loads_and_keeps_its_text() {
        let hostile = "evil\"\n  components: {}\u{1b}[2J #{host.address}";
        let mut c = Drafted::new(sanitize(hostile), false, false);
        c.hosts = vec!["web-1".into(), "web-2".into()];
        c.runs_on = selector_for(&config(), &c.hosts);
        c.listens = vec!["8080".into()];
        c.process = Some(hostile.into());
        c.package = Some(hostile.into());
        c.program = Some(hostile.into());
        let mut peer = Drafted::new(
            peer_name("127.0.0.1:5672".parse().expect("addr")),
            false,
            true,
        );
        peer.listens = vec!["127.0.0.1:5672".into()];
        c.depends_on.insert(peer.name.clone(), hostile.into());
        let draft = Draft {
            observation: "OBS-7".into(),
            components: vec![c, peer],
            notes: vec![hostile.into()],
        };
        let text = yaml(&config(), &draft, &kept());
        let loaded = fearless_config::load_str(std::path::Path::new("/x/draft.yaml"), text.clone())
            .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let comps = &loaded.config.components;
        assert_eq!(
            comps.keys().collect::<Vec<_>>(),
            ["evil----components------2j---host.address", "rabbitmq"],
            "{text}"
        );
        let web = &comps["evil----components------2j---host.address"];
        assert_eq!(web.depends_on, ["rabbitmq"]);
        assert_eq!(
            web.runs_on.as_ref().map(ToString::to_string).as_deref(),
            Some("role=web")
        );
        assert!(
            web.checks.iter().any(|k| matches!(&k.kind,
                fearless_config::CheckKind::Process(p) if p.name == hostile)),
            "the process check names the process exactly"
        );
        assert!(!text.contains('\u{1b}'), "no raw escape in the file");
        assert!(comps["rabbitmq"].external);
    }

    #[test]
    fn a_selector_is_exact_or_said_to_be_a_guess() {
        let config = config();
        let hosts = |h: &[&str]| h.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            selector_for(&config, &hosts(&["web-1", "web-2"])),
            Some(("role=web".into(), true))
        );
        assert_eq!(
            selector_for(&config, &hosts(&["api-1"])),
            Some(("role=api".into(), true))
        );
        // web-1 and api-1 share no label and no prefix that selects only them
        assert_eq!(
            selector_for(&config, &hosts(&["web-1", "api-1"])),
            Some(("role=web".into(), false))
        );
    }

    #[test]
    fn peers_are_named_after_well_known_ports_or_their_address() {
        assert_eq!(
            peer_name("10.0.0.5:5432".parse().expect("addr")),
            "postgresql"
        );
        assert_eq!(
            peer_name("127.0.0.10:8088".parse().expect("addr")),
            "external-127-0-0-10-8088"
        );
        assert_eq!(
            peer_name("[2001:db8::1]:8443".parse().expect("addr")),
            "external-2001-db8--1-8443"
        );
        assert_eq!(sanitize("\u{1b}"), "service");
        assert_eq!(q("a\"b\\c\nd\u{1b}"), "\"a\\\"b\\\\c\\u000ad\\u001b\"");
    }
}
