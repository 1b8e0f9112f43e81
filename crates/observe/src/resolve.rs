//! From what was observed to the components of the config (pure).
//!
//! An endpoint (address, port) belongs to the component that accepts connections on it:
//! its `listens:` entries (a bare port: that port on every host it runs on), and what its
//! checks show — `port` checks, the host and port of `http`, `tcp`, `tls`, `amqp` and
//! `sql` checks, rendered for each of its hosts (as written for an external component).
//! A host name in a check that names an inventory host (by name or address) stands for
//! that host; any other DNS name is kept as a note (unresolved). A loopback address stands
//! for the connecting host itself; an address no claim covers is looked up among the
//! observed listeners, whose process may name the component.
//!
//! A process belongs to a component that runs on its host when a `process` or `service`
//! check names it, when it listens on one of the component's endpoints, or when a
//! `package` check names its program's package — in that order of strength.

use crate::observe::{HostObservation, Observation, ObservedListener, ObservedProcess};
use crate::program::{basename, exe_path};
use fearless_config::{CheckKind, Component, Config, Host, Template};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A component's claim on an endpoint, and where the config says so.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Claim {
    /// The component.
    pub component: String,
    /// `listens`, or `check NAME (KIND)`.
    pub source: String,
}

/// Endpoints and processes → components.
#[derive(Debug)]
pub struct Resolver<'a> {
    config: &'a Config,
    /// Fixed endpoints.
    fixed: BTreeMap<(IpAddr, u16), Vec<Claim>>,
    /// A port on every address of a host.
    on_host: BTreeMap<(String, u16), Vec<Claim>>,
    /// Inventory addresses that are IPs → host names.
    host_ips: BTreeMap<IpAddr, Vec<String>>,
    /// Host → the components placed on it, in config order.
    placed: BTreeMap<String, Vec<&'a Component>>,
    /// What could not be resolved, and ambiguities.
    notes: Vec<String>,
}

/// An observation indexed for lookups: listeners by port, hosts by address.
#[derive(Debug)]
pub struct Seen<'o> {
    obs: &'o Observation,
    by_port: BTreeMap<u16, Vec<(&'o str, &'o ObservedListener)>>,
    by_ip: BTreeMap<IpAddr, Vec<&'o str>>,
}

impl<'o> Seen<'o> {
    /// Index `obs`.
    pub fn new(obs: &'o Observation) -> Self {
        let mut by_port: BTreeMap<u16, Vec<(&'o str, &'o ObservedListener)>> = BTreeMap::new();
        let mut by_ip: BTreeMap<IpAddr, Vec<&'o str>> = BTreeMap::new();
        for (name, h) in &obs.hosts {
            for l in &h.listeners {
                by_port.entry(l.port).or_default().push((name, l));
            }
            for a in &h.addresses {
                by_ip.entry(*a).or_default().push(name);
            }
        }
        Self {
            obs,
            by_port,
            by_ip,
        }
    }

    /// The observation.
    pub fn observation(&self) -> &'o Observation {
        self.obs
    }
}

/// Where a check's host:port points.
enum Target {
    Ip(IpAddr),
    Host(String),
}

impl<'a> Resolver<'a> {
    /// Every endpoint the config's components claim.
    pub fn new(config: &'a Config) -> Self {
        let mut r = Self {
            config,
            fixed: BTreeMap::new(),
            on_host: BTreeMap::new(),
            host_ips: BTreeMap::new(),
            placed: BTreeMap::new(),
            notes: Vec::new(),
        };
        for h in config.inventory.hosts.values() {
            if let Ok(ip) = h.address.parse::<IpAddr>() {
                r.host_ips.entry(ip).or_default().push(h.name.clone());
            }
        }
        for comp in config.components.values() {
            let hosts = r.hosts_of(comp);
            for h in &hosts {
                r.placed.entry(h.name.clone()).or_default().push(comp);
            }
            r.claim_component(comp, &hosts);
        }
        for ((ip, port), claims) in &r.fixed {
            let mut names: Vec<&str> = claims.iter().map(|c| c.component.as_str()).collect();
            names.dedup();
            if names.len() > 1 {
                r.notes.push(format!(
                    "{} is claimed by {}: `{}` is used",
                    endpoint(*ip, *port),
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(" and "),
                    names[0]
                ));
            }
        }
        r
    }

    /// Notes: check endpoints that could not be resolved, endpoints claimed twice.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The hosts a component runs on (none for an external one).
    pub fn hosts_of(&self, comp: &Component) -> Vec<&'a Host> {
        match &comp.runs_on {
            Some(sel) => self.config.inventory.select(sel),
            None => Vec::new(),
        }
    }

    fn claim_component(&mut self, comp: &Component, hosts: &[&Host]) {
        for ep in &comp.listens {
            let claim = Claim {
                component: comp.name.clone(),
                source: "listens".into(),
            };
            match ep.address {
                Some(ip) if !ip.is_unspecified() => self.add_fixed(ip, ep.port, claim),
                _ => {
                    for h in hosts {
                        self.add_on_host(&h.name, ep.port, claim.clone());
                    }
                }
            }
        }
        for check in &comp.checks {
            let claim = Claim {
                component: comp.name.clone(),
                source: format!("check `{}` ({})", check.name, check.kind.name()),
            };
            // Rendered for each host of a hosted component; once, as written, otherwise.
            let renders: Vec<Option<&Host>> = if hosts.is_empty() {
                vec![None]
            } else {
                hosts.iter().map(|h| Some(*h)).collect()
            };
            for host in renders {
                let x = |t: &Template| t.expand(host);
                let found: Option<(String, Option<u16>)> = match &check.kind {
                    CheckKind::Port(c) => match (c.address.as_ref().map(x), host) {
                        (None, Some(h)) => {
                            self.add_on_host(&h.name, c.port, claim.clone());
                            None
                        }
                        (None, None) => None,
                        (Some(a), _) => Some((a, Some(c.port))),
                    },
                    CheckKind::Http(c) => url_target(&x(&c.url)),
                    CheckKind::Amqp(c) => url_target(&x(&c.url)),
                    CheckKind::Sql(c) => url_target(&x(&c.url)),
                    CheckKind::Tcp(c) => host_port(&x(&c.address)),
                    CheckKind::Tls(c) => host_port(&x(&c.address)),
                    _ => None,
                };
                let Some((name, port)) = found else { continue };
                let Some(port) = port else {
                    self.notes.push(format!(
                        "{}: the {} of `{}` names no port: not used to recognise it",
                        claim.source, name, comp.name
                    ));
                    continue;
                };
                match self.target(&name) {
                    Some(Target::Ip(ip)) if ip.is_unspecified() => {
                        if let Some(h) = host {
                            self.add_on_host(&h.name, port, claim.clone());
                        }
                    }
                    Some(Target::Ip(ip)) => self.add_fixed(ip, port, claim.clone()),
                    Some(Target::Host(h)) => self.add_on_host(&h, port, claim.clone()),
                    None => {
                        let note = format!(
                            "`{}` {}: `{name}` is not an inventory host or an IP address: connections to it are not recognised (unresolved)",
                            comp.name, claim.source
                        );
                        if !self.notes.contains(&note) {
                            self.notes.push(note);
                        }
                    }
                }
            }
        }
    }

    /// An IP, an inventory host (by name or address), `localhost`, or nothing.
    fn target(&self, name: &str) -> Option<Target> {
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(Target::Ip(ip));
        }
        if name.eq_ignore_ascii_case("localhost") {
            return Some(Target::Ip(IpAddr::from([127, 0, 0, 1])));
        }
        let inv = &self.config.inventory.hosts;
        if let Some(h) = inv.get(name) {
            return Some(match h.address.parse::<IpAddr>() {
                Ok(ip) => Target::Ip(ip),
                Err(_) => Target::Host(h.name.clone()),
            });
        }
        inv.values()
            .find(|h| h.address.eq_ignore_ascii_case(name))
            .map(|h| Target::Host(h.name.clone()))
    }

    fn add_fixed(&mut self, ip: IpAddr, port: u16, claim: Claim) {
        let v = self.fixed.entry((ip, port)).or_default();
        if !v.contains(&claim) {
            v.push(claim);
        }
    }

    fn add_on_host(&mut self, host: &str, port: u16, claim: Claim) {
        let v = self.on_host.entry((host.to_owned(), port)).or_default();
        if !v.contains(&claim) {
            v.push(claim);
        }
    }

    /// The addresses of `host`: those its observation used, else its inventory address.
    fn addresses_of(&self, host: &str, seen: &Seen<'_>) -> Vec<IpAddr> {
        if let Some(h) = seen.obs.hosts.get(host)
            && !h.addresses.is_empty()
        {
            return h.addresses.clone();
        }
        self.config
            .inventory
            .hosts
            .get(host)
            .and_then(|h| h.address.parse().ok())
            .into_iter()
            .collect()
    }

    /// The hosts whose address `ip` is.
    fn hosts_at(&self, ip: IpAddr, seen: &Seen<'_>) -> Vec<String> {
        let mut out: Vec<String> = self.host_ips.get(&ip).cloned().unwrap_or_default();
        for name in seen.by_ip.get(&ip).into_iter().flatten() {
            if !out.iter().any(|o| o == name) {
                out.push((*name).to_owned());
            }
        }
        out
    }

    /// The claims on `ip:port` as seen from a process on `from` (config only).
    pub fn claims(&self, from: &str, ip: IpAddr, port: u16, seen: &Seen<'_>) -> Vec<Claim> {
        let mut out: Vec<Claim> = self.fixed.get(&(ip, port)).cloned().unwrap_or_default();
        let mut hosts = self.hosts_at(ip, seen);
        if ip.is_loopback() && !hosts.iter().any(|h| h == from) {
            hosts.push(from.to_owned());
        }
        for h in hosts {
            for c in self.on_host.get(&(h, port)).into_iter().flatten() {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        out
    }

    /// What serves `ip:port` for a connection from `from`: a component (and how it was
    /// recognised), else the observed listener's process on its host, if any.
    pub fn endpoint(&self, from: &str, ip: IpAddr, port: u16, seen: &Seen<'_>) -> Served {
        if let Some(c) = self.claims(from, ip, port, seen).into_iter().next() {
            return Served::Component(c);
        }
        for (name, l) in seen.by_port.get(&port).into_iter().flatten() {
            let matches = l.address == ip
                || (l.address.is_unspecified()
                    && ((ip.is_loopback() && *name == from)
                        || self.addresses_of(name, seen).contains(&ip)));
            if !matches {
                continue;
            }
            let Some(p) = &l.process else { continue };
            let Some(h) = seen.obs.hosts.get(*name) else {
                continue;
            };
            if let Some((comp, how)) = self.process(name, p, h) {
                return Served::Component(Claim {
                    component: comp,
                    source: format!("its listener on {name} ({how})"),
                });
            }
            return Served::Process {
                host: (*name).to_owned(),
                process: p.clone(),
            };
        }
        Served::Unknown
    }

    /// The component `p` on `host` belongs to, and why.
    pub fn process(
        &self,
        host: &str,
        p: &ObservedProcess,
        obs: &HostObservation,
    ) -> Option<(String, String)> {
        let here: &[&Component] = self.placed.get(host).map_or(&[], Vec::as_slice);
        for c in here {
            if let Some(why) = named_by(c, p) {
                return Some((c.name.clone(), why));
            }
        }
        // Listens on one of the component's endpoints on this host.
        let addrs: Vec<IpAddr> = obs.addresses.clone();
        for l in obs
            .listeners
            .iter()
            .filter(|l| l.process.as_ref().is_some_and(|lp| same(lp, p)))
        {
            let mut claims: Vec<&Claim> = Vec::new();
            claims.extend(
                self.on_host
                    .get(&(host.to_owned(), l.port))
                    .into_iter()
                    .flatten(),
            );
            if l.address.is_unspecified() {
                for a in &addrs {
                    claims.extend(self.fixed.get(&(*a, l.port)).into_iter().flatten());
                }
            } else {
                claims.extend(self.fixed.get(&(l.address, l.port)).into_iter().flatten());
            }
            if let Some(c) = claims
                .into_iter()
                .find(|c| here.iter().any(|h| h.name == c.component))
            {
                return Some((
                    c.component.clone(),
                    format!("listens on {} ({})", endpoint(l.address, l.port), c.source),
                ));
            }
        }
        if let Some(pkg) = &p.package {
            for c in here {
                if c.checks
                    .iter()
                    .any(|k| matches!(&k.kind, CheckKind::Package(pc) if &pc.name == pkg))
                {
                    return Some((c.name.clone(), format!("package `{pkg}`")));
                }
            }
        }
        None
    }

    /// Components not declared on `host` whose `process`/`service` check names `p`.
    pub fn elsewhere(&self, host: &str, p: &ObservedProcess) -> Option<String> {
        let here: &[&Component] = self.placed.get(host).map_or(&[], Vec::as_slice);
        self.config
            .components
            .values()
            .filter(|c| c.runs_on.is_some() && !here.iter().any(|h| h.name == c.name))
            .find(|c| named_by(c, p).is_some())
            .map(|c| c.name.clone())
    }

    /// Whether `component` runs on `host`.
    pub fn runs_on(&self, component: &str, host: &str) -> bool {
        self.placed
            .get(host)
            .is_some_and(|v| v.iter().any(|c| c.name == component))
    }
}

/// What serves an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// A component claims it.
    Component(Claim),
    /// No component: an observed process listens there.
    Process {
        /// Its host.
        host: String,
        /// The process.
        process: ObservedProcess,
    },
    /// Nothing known.
    Unknown,
}

fn same(a: &ObservedProcess, b: &ObservedProcess) -> bool {
    a.name == b.name && a.program == b.program && a.exe == b.exe && a.uid == b.uid
}

/// Whether a `process` or `service` check of `c` names `p`, and which.
fn named_by(c: &Component, p: &ObservedProcess) -> Option<String> {
    for k in &c.checks {
        let names: Vec<&str> = match &k.kind {
            CheckKind::Process(pc) => vec![pc.name.as_str()],
            CheckKind::Service(sc) => {
                let mut v = vec![sc.name.as_str()];
                v.extend(sc.process.as_deref());
                v
            }
            _ => continue,
        };
        if names.iter().any(|n| proc_named(p, n)) {
            return Some(format!("check `{}` ({})", k.name, k.kind.name()));
        }
    }
    None
}

/// Whether `name` (as a `process` check writes it) names `p`: its kernel name (which the
/// kernel cuts at 15 bytes), its program's or executable's basename or path, or — for a
/// name with a space or slash — a part of its program or executable path.
pub fn proc_named(p: &ObservedProcess, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let exe = p.exe.as_deref().map(exe_path);
    let comm_cut = name.len() > 15 && name.is_char_boundary(15) && p.name == name[..15];
    p.name == name
        || comm_cut
        || p.program.as_deref() == Some(name)
        || exe == Some(name)
        || p.program.as_deref().map(basename) == Some(name)
        || exe.map(basename) == Some(name)
        || ((name.contains(' ') || name.contains('/'))
            && (p.program.as_deref().is_some_and(|x| x.contains(name))
                || exe.is_some_and(|x| x.contains(name))))
}

/// `a.b.c.d:port` / `[v6]:port`.
pub fn endpoint(ip: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}

/// The host and port of a URL (the scheme's default port when none is written).
fn url_target(text: &str) -> Option<(String, Option<u16>)> {
    let u = url::Url::parse(text).ok()?;
    let host = u.host_str()?.to_owned();
    let port = u.port().or_else(|| match u.scheme() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "amqp" => Some(5672),
        "amqps" => Some(5671),
        "postgres" | "postgresql" => Some(5432),
        "mysql" | "mariadb" => Some(3306),
        "redis" => Some(6379),
        _ => None,
    });
    Some((host, port))
}

/// `host:port` / `[v6]:port`.
fn host_port(text: &str) -> Option<(String, Option<u16>)> {
    if let Ok(sa) = text.parse::<std::net::SocketAddr>() {
        return Some((sa.ip().to_string(), Some(sa.port())));
    }
    let (h, p) = text.rsplit_once(':')?;
    Some((h.to_owned(), p.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_of_checks() {
        assert_eq!(
            url_target("http://10.0.0.1:8080/health"),
            Some(("10.0.0.1".into(), Some(8080)))
        );
        assert_eq!(
            url_target("amqp://guest:guest@127.0.0.1/%2f"),
            Some(("127.0.0.1".into(), Some(5672)))
        );
        assert_eq!(
            url_target("https://[::1]/x"),
            Some(("[::1]".into(), Some(443)))
        );
        assert_eq!(
            host_port("payments.example:443"),
            Some(("payments.example".into(), Some(443)))
        );
        assert_eq!(host_port("[::1]:9000"), Some(("::1".into(), Some(9000))));
    }

    #[test]
    fn process_names_match_as_checks_write_them() {
        let p = ObservedProcess {
            name: "acme-api".into(),
            program: Some("/usr/sbin/acme-api".into()),
            exe: Some("/usr/bin/python3.11".into()),
            uid: 0,
            pids: vec![1],
            package: None,
            exe_package: None,
        };
        assert!(proc_named(&p, "acme-api"));
        assert!(proc_named(&p, "/usr/sbin/acme-api"));
        assert!(proc_named(&p, "python3.11"));
        assert!(proc_named(&p, "sbin/acme"));
        assert!(!proc_named(&p, "acme"));
        assert!(!proc_named(&p, ""));
        let long = ObservedProcess {
            name: "a-very-long-nam".into(),
            ..p
        };
        assert!(proc_named(&long, "a-very-long-name-indeed"));
    }
}
