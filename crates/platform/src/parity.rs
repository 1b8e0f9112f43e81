//! Environment parity, the pure part: two sides (the hosts two selectors match), what each
//! host showed (release, packages, listening ports, the components the config deploys on
//! it), and every way the sides differ — OS releases, packages on one side only, version
//! skew per package with the newer side, ports and components on one side only — each
//! marked ignored or not by the allow-list ([`Ignore`]).
//!
//! A side is the union of its hosts: a package is on a side when one of its hosts has it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use fearless_pkg::PackageSet;
use fearless_pkg::version::{self, Kind};
use serde::Serialize;

/// One of the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The first selector's hosts.
    A,
    /// The second selector's hosts.
    B,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::A => "A",
            Side::B => "B",
        })
    }
}

/// A listening TCP port and the process that owns it, when that could be read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Port {
    /// The port.
    pub port: u16,
    /// The process name (`comm`), when the owner could be read.
    pub process: Option<String>,
}

/// What one host showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// Inventory name.
    pub host: String,
    /// Its release, as shown (`Debian GNU/Linux 12 (bookworm)`).
    pub release: Option<String>,
    /// Its packages.
    pub packages: Option<PackageSet>,
    /// Its listening ports.
    pub ports: Vec<Port>,
    /// The config's components whose `runs_on` selects it.
    pub components: Vec<String>,
}

/// The allow-list: differences that do not count (`parity.ignore` in the config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    /// Package names (every architecture).
    pub packages: BTreeSet<String>,
    /// Ports.
    pub ports: BTreeSet<u16>,
    /// Component names.
    pub components: BTreeSet<String>,
    /// OS release differences.
    pub releases: bool,
}

/// A package on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OneSidedPackage {
    /// `name`.
    pub name: String,
    /// Its architecture, as Debian names it (`all` for `noarch`).
    pub arch: String,
    /// The side that has it.
    pub side: Side,
    /// Its versions there.
    pub versions: Vec<String>,
    /// The hosts there that have it.
    pub hosts: Vec<String>,
    /// Allowed by `parity.ignore`.
    pub ignored: bool,
}

/// A package on both sides in different versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skew {
    /// `name`.
    pub name: String,
    /// Its architecture, as Debian names it (`all` for `noarch`).
    pub arch: String,
    /// Its versions on side A.
    pub a: Vec<String>,
    /// Its versions on side B.
    pub b: Vec<String>,
    /// The side with the newest version, by the package family's own order (`None` when
    /// both newest versions are equal to the tool, or the sides' families differ).
    pub newer: Option<Side>,
    /// Allowed by `parity.ignore`.
    pub ignored: bool,
}

/// A listening port on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OneSidedPort {
    /// The port.
    pub port: u16,
    /// The side that listens on it.
    pub side: Side,
    /// The processes that do.
    pub processes: Vec<String>,
    /// The hosts that do.
    pub hosts: Vec<String>,
    /// Allowed by `parity.ignore`.
    pub ignored: bool,
}

/// A component deployed on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OneSidedComponent {
    /// The component.
    pub name: String,
    /// The side its `runs_on` selects.
    pub side: Side,
    /// Allowed by `parity.ignore`.
    pub ignored: bool,
}

/// The releases of the two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Releases {
    /// Side A's releases and the hosts that run each.
    pub a: BTreeMap<String, Vec<String>>,
    /// Side B's.
    pub b: BTreeMap<String, Vec<String>>,
    /// Whether the sets of releases differ.
    pub differ: bool,
    /// Allowed by `parity.ignore` (`release`).
    pub ignored: bool,
}

/// How two sides differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parity {
    /// OS releases per side.
    pub releases: Releases,
    /// Packages on one side only.
    pub packages: Vec<OneSidedPackage>,
    /// Packages in different versions.
    pub skew: Vec<Skew>,
    /// Listening ports on one side only.
    pub ports: Vec<OneSidedPort>,
    /// Components deployed on one side only.
    pub components: Vec<OneSidedComponent>,
}

impl Parity {
    /// Differences that count (not allowed by the ignore list).
    pub fn differences(&self) -> usize {
        usize::from(self.releases.differ && !self.releases.ignored)
            + self.packages.iter().filter(|p| !p.ignored).count()
            + self.skew.iter().filter(|s| !s.ignored).count()
            + self.ports.iter().filter(|p| !p.ignored).count()
            + self.components.iter().filter(|c| !c.ignored).count()
    }

    /// Differences the ignore list allowed.
    pub fn ignored(&self) -> usize {
        usize::from(self.releases.differ && self.releases.ignored)
            + self.packages.iter().filter(|p| p.ignored).count()
            + self.skew.iter().filter(|s| s.ignored).count()
            + self.ports.iter().filter(|p| p.ignored).count()
            + self.components.iter().filter(|c| c.ignored).count()
    }
}

/// One side's packages: `(name, arch)` → version → hosts; and its version family.
struct SidePackages {
    by_key: BTreeMap<(String, String), BTreeMap<String, Vec<String>>>,
    kind: Option<Kind>,
    mixed: bool,
}

/// An architecture as Debian names it, so that the same package compares across families
/// (`noarch` is `all`, `x86_64` is `amd64`, `aarch64` is `arm64`).
fn arch(a: &str) -> String {
    match a {
        "noarch" => "all",
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" | "i586" | "i386" => "i386",
        other => other,
    }
    .to_owned()
}

fn packages_of(side: &[HostFacts]) -> SidePackages {
    let mut by_key: BTreeMap<(String, String), BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut kinds = BTreeSet::new();
    for h in side {
        let Some(set) = &h.packages else { continue };
        kinds.insert(set.manager.kind() == Kind::Deb);
        for p in &set.packages {
            by_key
                .entry((p.name.clone(), arch(&p.arch)))
                .or_default()
                .entry(p.version.clone())
                .or_default()
                .push(h.host.clone());
        }
    }
    let kind = match kinds.iter().collect::<Vec<_>>().as_slice() {
        [true] => Some(Kind::Deb),
        [false] => Some(Kind::Rpm),
        _ => None,
    };
    SidePackages {
        by_key,
        kind,
        mixed: kinds.len() > 1,
    }
}

/// The newest of `versions` by `kind`'s order (text order for what does not parse).
fn newest<'v>(kind: Kind, versions: impl Iterator<Item = &'v String>) -> Option<&'v String> {
    versions.max_by(|a, b| version::compare(kind, a, b).unwrap_or_else(|_| a.cmp(b)))
}

fn ports_of(side: &[HostFacts]) -> BTreeMap<u16, (BTreeSet<String>, BTreeSet<String>)> {
    let mut out: BTreeMap<u16, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for h in side {
        for p in &h.ports {
            let e = out.entry(p.port).or_default();
            if let Some(name) = &p.process {
                e.0.insert(name.clone());
            }
            e.1.insert(h.host.clone());
        }
    }
    out
}

/// Compare side `a` with side `b`.
pub fn compare(a: &[HostFacts], b: &[HostFacts], ignore: &Ignore) -> Parity {
    let releases_of = |side: &[HostFacts]| {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for h in side {
            if let Some(r) = &h.release {
                m.entry(r.clone()).or_default().push(h.host.clone());
            }
        }
        m
    };
    let (ra, rb) = (releases_of(a), releases_of(b));
    let differ = !ra.keys().eq(rb.keys());
    let releases = Releases {
        a: ra,
        b: rb,
        differ,
        ignored: ignore.releases,
    };

    let (pa, pb) = (packages_of(a), packages_of(b));
    let kind = match (pa.kind, pb.kind) {
        (Some(x), Some(y)) if x == y && !pa.mixed && !pb.mixed => Some(x),
        _ => None,
    };
    let mut packages = Vec::new();
    let mut skew = Vec::new();
    let one_sided = |key: &(String, String), side: Side, vs: &BTreeMap<String, Vec<String>>| {
        let mut hosts: Vec<String> = vs.values().flatten().cloned().collect();
        hosts.sort();
        hosts.dedup();
        OneSidedPackage {
            name: key.0.clone(),
            arch: key.1.clone(),
            side,
            versions: vs.keys().cloned().collect(),
            hosts,
            ignored: ignore.packages.contains(&key.0),
        }
    };
    for (key, va) in &pa.by_key {
        match pb.by_key.get(key) {
            None => packages.push(one_sided(key, Side::A, va)),
            Some(vb) if !va.keys().eq(vb.keys()) => {
                let newer = kind.and_then(|k| {
                    let (na, nb) = (newest(k, va.keys())?, newest(k, vb.keys())?);
                    match version::compare(k, na, nb).ok()? {
                        Ordering::Greater => Some(Side::A),
                        Ordering::Less => Some(Side::B),
                        Ordering::Equal => None,
                    }
                });
                skew.push(Skew {
                    name: key.0.clone(),
                    arch: key.1.clone(),
                    a: va.keys().cloned().collect(),
                    b: vb.keys().cloned().collect(),
                    newer,
                    ignored: ignore.packages.contains(&key.0),
                });
            }
            Some(_) => {}
        }
    }
    for (key, vb) in &pb.by_key {
        if !pa.by_key.contains_key(key) {
            packages.push(one_sided(key, Side::B, vb));
        }
    }

    let (oa, ob) = (ports_of(a), ports_of(b));
    let mut ports = Vec::new();
    for (side, mine, other) in [(Side::A, &oa, &ob), (Side::B, &ob, &oa)] {
        for (port, (procs, hosts)) in mine {
            if !other.contains_key(port) {
                ports.push(OneSidedPort {
                    port: *port,
                    side,
                    processes: procs.iter().cloned().collect(),
                    hosts: hosts.iter().cloned().collect(),
                    ignored: ignore.ports.contains(port),
                });
            }
        }
    }

    let comps = |side: &[HostFacts]| -> BTreeSet<String> {
        side.iter()
            .flat_map(|h| h.components.iter().cloned())
            .collect()
    };
    let (ca, cb) = (comps(a), comps(b));
    let mut components = Vec::new();
    for (side, mine, other) in [(Side::A, &ca, &cb), (Side::B, &cb, &ca)] {
        for c in mine.difference(other) {
            components.push(OneSidedComponent {
                name: c.clone(),
                side,
                ignored: ignore.components.contains(c),
            });
        }
    }

    Parity {
        releases,
        packages,
        skew,
        ports,
        components,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fearless_pkg::{Installed, Manager};

    fn pkg(name: &str, version: &str) -> Installed {
        Installed {
            name: name.into(),
            arch: "all".into(),
            version: version.into(),
            manual: true,
        }
    }

    fn host(name: &str, manager: Manager, packages: Vec<Installed>, ports: &[u16]) -> HostFacts {
        HostFacts {
            host: name.into(),
            release: Some("Debian GNU/Linux 12 (bookworm)".into()),
            packages: Some(PackageSet::new(manager, packages)),
            ports: ports
                .iter()
                .map(|p| Port {
                    port: *p,
                    process: Some("sshd".into()),
                })
                .collect(),
            components: vec!["web".into()],
        }
    }

    #[test]
    fn identical_sides_do_not_differ() {
        let a = [host(
            "web-1",
            Manager::Apt,
            vec![pkg("libacme", "1.0")],
            &[22],
        )];
        let b = [host(
            "web-2",
            Manager::Apt,
            vec![pkg("libacme", "1.0")],
            &[22],
        )];
        let p = compare(&a, &b, &Ignore::default());
        assert_eq!((p.differences(), p.ignored()), (0, 0));
        assert!(!p.releases.differ);
    }

    #[test]
    fn skew_by_the_family_order_and_one_sided_packages() {
        // 1.10 is newer than 1.9 to dpkg, older as text: the family's order decides.
        let a = [host(
            "web-1",
            Manager::Apt,
            vec![
                pkg("libacme", "1.10"),
                pkg("acme-docs", "1.0"),
                pkg("curl", "7.88"),
            ],
            &[22, 8080],
        )];
        let b = [
            host(
                "web-2",
                Manager::Apt,
                vec![
                    pkg("libacme", "1.9"),
                    pkg("acme-docs", "1.1"),
                    pkg("extra", "0.1"),
                ],
                &[22],
            ),
            host(
                "web-3",
                Manager::Apt,
                vec![pkg("libacme", "1.9")],
                &[22, 9000],
            ),
        ];
        let p = compare(&a, &b, &Ignore::default());
        assert_eq!(
            p.skew
                .iter()
                .map(|s| (s.name.as_str(), s.newer))
                .collect::<Vec<_>>(),
            [("acme-docs", Some(Side::B)), ("libacme", Some(Side::A))]
        );
        assert_eq!(
            p.packages
                .iter()
                .map(|s| (s.name.as_str(), s.side, s.hosts.clone()))
                .collect::<Vec<_>>(),
            [
                ("curl", Side::A, vec!["web-1".to_owned()]),
                ("extra", Side::B, vec!["web-2".to_owned()])
            ]
        );
        assert_eq!(
            p.ports.iter().map(|x| (x.port, x.side)).collect::<Vec<_>>(),
            [(8080, Side::A), (9000, Side::B)]
        );
        assert!(p.components.is_empty());
        assert_eq!(p.differences(), 6);

        let ignore = Ignore {
            packages: ["libacme", "acme-docs", "curl", "extra"]
                .map(String::from)
                .into(),
            ports: [8080, 9000].into(),
            ..Ignore::default()
        };
        let p = compare(&a, &b, &ignore);
        assert_eq!((p.differences(), p.ignored()), (0, 6));
    }

    #[test]
    fn rpm_order_and_mixed_families() {
        let a = [host("db-1", Manager::Dnf, vec![pkg("x", "1.0-1.el9")], &[])];
        let b = [host(
            "db-2",
            Manager::Dnf,
            vec![pkg("x", "1.0-1.el9_2")],
            &[],
        )];
        let p = compare(&a, &b, &Ignore::default());
        assert_eq!(p.skew[0].newer, Some(Side::B));
        // Families differ: versions are not comparable, no side is newer; `noarch` is `all`.
        let mut noarch = pkg("x", "1.0-1.el9");
        noarch.arch = "noarch".into();
        let a = [host("db-1", Manager::Dnf, vec![noarch], &[])];
        let b = [host("deb-1", Manager::Apt, vec![pkg("x", "2.0")], &[])];
        let p = compare(&a, &b, &Ignore::default());
        assert!(p.packages.is_empty(), "{:?}", p.packages);
        assert_eq!((p.skew[0].arch.as_str(), p.skew[0].newer), ("all", None));
    }

    #[test]
    fn releases_and_components() {
        let a = [host("web-1", Manager::Apt, vec![], &[])];
        let mut b = host("web-2", Manager::Apt, vec![], &[]);
        b.release = Some("Debian GNU/Linux 13 (trixie)".into());
        b.components.push("canary-agent".into());
        let p = compare(&a, &[b.clone()], &Ignore::default());
        assert!(p.releases.differ);
        assert_eq!(p.components.len(), 1);
        assert_eq!(p.components[0].side, Side::B);
        assert_eq!(p.differences(), 2);
        let ignore = Ignore {
            components: ["canary-agent".to_owned()].into(),
            releases: true,
            ..Ignore::default()
        };
        let p = compare(&a, &[b], &ignore);
        assert_eq!((p.differences(), p.ignored()), (0, 2));
    }
}
