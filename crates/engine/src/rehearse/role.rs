//! A host's role, the pure part: which of its packages make the role, which belong to
//! which component, and what to ask of the new host's package manager.
//!
//! The role is what a rebuild must ask for by name: the packages installed on purpose
//! that nothing else on the host needs, except the base system (Debian's `required` and
//! `important` priorities, essential packages: every install of a release has its own).
//! Their dependencies are left to the new OS's package manager — that is how `libssl3`
//! becomes `libssl3t64` on Debian 13 — except that a dependency the new host offers in the
//! role host's exact version keeps it (`libacme 1.0` stays 1.0 under `acme-api`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use fearless_config::{CheckKind, Component};
use fearless_pkg::backend::{InstallItem, Offered};
use fearless_pkg::version::{self, Kind};
use fearless_pkg::{Installed, PackageSet, Relations};

use super::report::{Action, PackageOutcome, Why};

/// What a component's checks name on its hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named {
    /// `process:` names.
    pub processes: BTreeSet<String>,
    /// `service:` names.
    pub services: BTreeSet<String>,
    /// `package:` names.
    pub packages: BTreeSet<String>,
}

/// What `component`'s checks name.
pub fn named(component: &Component) -> Named {
    let mut n = Named::default();
    for c in &component.checks {
        match &c.kind {
            CheckKind::Process(p) => {
                n.processes.insert(p.name.clone());
            }
            CheckKind::Service(s) => {
                n.services.insert(s.name.clone());
                if let Some(p) = &s.process {
                    n.processes.insert(p.clone());
                }
            }
            CheckKind::Package(p) => {
                n.packages.insert(p.name.clone());
            }
            _ => {}
        }
    }
    n
}

/// The packages of each component: those its `package:` checks name, and those that own
/// the programs of its `process:` and `service:` checks on the role host (`programs`:
/// process or service name → paths of its program or init script; `owners`: path →
/// package).
pub fn attribute(
    components: &[(&str, Named)],
    programs: &BTreeMap<String, BTreeSet<String>>,
    owners: &BTreeMap<String, String>,
) -> BTreeMap<String, BTreeSet<String>> {
    components
        .iter()
        .map(|(name, n)| {
            let mut packages = n.packages.clone();
            for what in n.processes.iter().chain(&n.services) {
                for path in programs.get(what).into_iter().flatten() {
                    if let Some(p) = owners.get(path) {
                        packages.insert(p.clone());
                    }
                }
            }
            ((*name).to_owned(), packages)
        })
        .collect()
}

/// The packages that belong to `excluded` components and to no selected one.
pub fn excluded_packages(
    packages: &BTreeMap<String, BTreeSet<String>>,
    selected: &[String],
    excluded: &[String],
) -> BTreeMap<String, BTreeSet<String>> {
    let kept: BTreeSet<&String> = selected
        .iter()
        .filter_map(|c| packages.get(c))
        .flatten()
        .collect();
    excluded
        .iter()
        .map(|c| {
            let only: BTreeSet<String> = packages
                .get(c)
                .into_iter()
                .flatten()
                .filter(|p| !kept.contains(p))
                .cloned()
                .collect();
            (c.clone(), only)
        })
        .collect()
}

/// A package of the role, before the new host is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePackage {
    /// The package on the role host.
    pub package: Installed,
    /// Why it is part of the role.
    pub why: Why,
}

/// The role in `set` (the role host's packages) with `relations` (theirs), without the
/// packages in `left_out`: the requested packages (installed on purpose, not base, needed
/// by nothing installed), then their dependencies (recursively, not base), by name.
pub fn role(
    set: &PackageSet,
    relations: &[Relations],
    left_out: &BTreeSet<String>,
) -> Vec<RolePackage> {
    let rel: BTreeMap<&str, &Relations> = relations.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut providers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in relations {
        for p in &r.provides {
            providers
                .entry(p.as_str())
                .or_default()
                .insert(r.name.as_str());
        }
    }
    // A name, and the packages that provide it.
    let resolve = |name: &str| -> Vec<String> {
        let mut out = vec![name.to_owned()];
        out.extend(
            providers
                .get(name)
                .into_iter()
                .flatten()
                .map(|p| (*p).to_owned()),
        );
        out
    };
    let needed: BTreeSet<String> = relations
        .iter()
        .flat_map(|r| r.depends.iter())
        .flat_map(|d| resolve(d))
        .collect();
    let base = |name: &str| rel.get(name).is_some_and(|r| r.is_base());
    let requested: Vec<&Installed> = set
        .packages
        .iter()
        .filter(|p| p.manual && !base(&p.name) && !needed.contains(&p.name))
        .filter(|p| !left_out.contains(&p.name))
        .collect();
    // Their dependencies, breadth first.
    let mut deps: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<String> = requested.iter().map(|p| p.name.clone()).collect();
    while let Some(name) = queue.pop() {
        for d in rel
            .get(name.as_str())
            .map(|r| r.depends.as_slice())
            .unwrap_or_default()
        {
            for n in resolve(d) {
                if rel.contains_key(n.as_str()) && !base(&n) && deps.insert(n.clone()) {
                    queue.push(n);
                }
            }
        }
    }
    let requested_names: BTreeSet<&str> = requested.iter().map(|p| p.name.as_str()).collect();
    let mut out: Vec<RolePackage> = requested
        .iter()
        .map(|p| RolePackage {
            package: (*p).clone(),
            why: Why::Requested,
        })
        .collect();
    out.extend(
        set.packages
            .iter()
            .filter(|p| deps.contains(&p.name) && !requested_names.contains(p.name.as_str()))
            .filter(|p| !left_out.contains(&p.name))
            .map(|p| RolePackage {
                package: p.clone(),
                why: Why::Dependency,
            }),
    );
    out
}

/// What the new host has and offers.
#[derive(Debug, Clone, Copy)]
pub struct NewHost<'a> {
    /// Its installed packages (the new OS's own).
    pub installed: &'a [Installed],
    /// What its repositories offer of the role's names.
    pub offered: &'a [Offered],
    /// Every name its repositories and database know (for renames).
    pub names: &'a [String],
    /// Its version rules.
    pub kind: Kind,
}

/// The role host's version rules, for comparing across families.
fn same_version(role_kind: Kind, new_kind: Kind, role: &str, offered: &str) -> bool {
    if version::compare(new_kind, offered, role) == Ok(Ordering::Equal) {
        return true;
    }
    // Across families only the upstream version can be the same (`1.0` and `1.0-1`).
    role_kind != new_kind && upstream(role) == upstream(offered)
}

/// The upstream part of a version: no epoch, no Debian revision or rpm release (both
/// families put them the same way).
fn upstream(v: &str) -> &str {
    let v = v.split_once(':').map_or(v, |(_, rest)| rest);
    v.rsplit_once('-').map_or(v, |(up, _)| up)
}

/// The offered version closest to `wanted`: the lowest one above it, else the highest below.
fn closest(kind: Kind, wanted: &str, offered: &[String]) -> Option<String> {
    let cmp = |a: &String, b: &String| version::compare(kind, a, b).unwrap_or(Ordering::Equal);
    let mut sorted = offered.to_vec();
    sorted.sort_by(cmp);
    sorted.dedup();
    sorted
        .iter()
        .find(|v| version::compare(kind, v, wanted) == Ok(Ordering::Greater))
        .or_else(|| sorted.last())
        .cloned()
}

/// Offered names that look like `name` renamed: `name` plus a suffix (`libssl3` →
/// `libssl3t64`), or the same name with other numbers (`gcc-12-base` → `gcc-14-base`,
/// `python3.11` → `python3.13`). At most four, closest first.
pub fn similar(name: &str, names: &[String]) -> Vec<String> {
    let shape = |n: &str| -> String {
        let mut out = String::new();
        let mut in_number = false;
        for c in n.chars() {
            if c.is_ascii_digit() || (in_number && c == '.') {
                if !in_number {
                    out.push('#');
                }
                in_number = true;
            } else {
                in_number = false;
                out.push(c);
            }
        }
        out
    };
    let wanted = shape(name);
    let mut found: Vec<&String> = names
        .iter()
        .filter(|n| n.as_str() != name)
        .filter(|n| {
            n.strip_prefix(name).is_some_and(|rest| {
                rest.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
            }) || (wanted.contains('#') && shape(n) == wanted)
        })
        .collect();
    found.sort_by_key(|n| (n.len().abs_diff(name.len()), (*n).clone()));
    found.into_iter().take(4).cloned().collect()
}

/// What to ask of the new host for each package of the role, and the one transaction
/// that does it.
pub fn plan(
    role: &[RolePackage],
    role_kind: Kind,
    new: NewHost<'_>,
) -> (Vec<PackageOutcome>, Vec<InstallItem>) {
    let installed: BTreeMap<&str, &Installed> =
        new.installed.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut outcomes = Vec::new();
    let mut items = Vec::new();
    for rp in role {
        let p = &rp.package;
        let offered: Vec<String> = new
            .offered
            .iter()
            .filter(|o| o.name == p.name)
            .map(|o| o.version.clone())
            .collect();
        let exact = offered
            .iter()
            .find(|v| same_version(role_kind, new.kind, &p.version, v));
        let action = if let Some(have) = installed.get(p.name.as_str()) {
            if rp.why == Why::Dependency {
                // the new OS's own, as every package its base brings
                continue;
            }
            // The new OS has it: its version is the new OS's, unless it is the very same.
            Action::NewOs {
                version: have.version.clone(),
            }
        } else if let Some(v) = exact {
            Action::Exact { version: v.clone() }
        } else if rp.why == Why::Dependency {
            // Not offered in the role host's version: the package manager picks one, if
            // anything needs it there.
            continue;
        } else if let Some(v) = closest(new.kind, &p.version, &offered) {
            Action::Closest {
                version: v,
                offered: offered.clone(),
            }
        } else {
            Action::Missing {
                similar: similar(&p.name, new.names),
            }
        };
        if let Action::Exact { version } | Action::Closest { version, .. } = &action {
            items.push(InstallItem {
                name: p.name.clone(),
                arch: None,
                version: version.clone(),
                file: None,
            });
        }
        outcomes.push(PackageOutcome {
            name: p.name.clone(),
            role_version: p.version.clone(),
            why: rp.why,
            action,
            installed: None,
            unconfigured: false,
        });
    }
    (outcomes, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fearless_pkg::Manager;

    fn inst(name: &str, version: &str, manual: bool) -> Installed {
        Installed {
            name: name.into(),
            arch: "all".into(),
            version: version.into(),
            manual,
        }
    }

    fn rel(name: &str, priority: &str, depends: &[&str], provides: &[&str]) -> Relations {
        Relations {
            name: name.into(),
            arch: "all".into(),
            version: "1".into(),
            configured: true,
            priority: Some(priority.into()),
            essential: false,
            depends: depends.iter().map(|s| (*s).to_owned()).collect(),
            provides: provides.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// A Debian 12 lab host: debootstrap marks everything manual.
    fn web1() -> (PackageSet, Vec<Relations>) {
        let set = PackageSet::new(
            Manager::Apt,
            vec![
                inst("libc6", "2.36-9", true),
                inst("libssl3", "3.0.15-1", true),
                inst("openssh-server", "1:9.2p1-2", true),
                inst("python3", "3.11.2-1", true),
                inst("python3.11", "3.11.2-6", true),
                inst("acme-web", "1.0", true),
                inst("acme-api", "1.0", true),
                inst("libacme", "1.0", false),
                inst("acme-docs", "1.0", true),
            ],
        );
        let relations = vec![
            rel("libc6", "required", &[], &[]),
            rel("libssl3", "optional", &["libc6"], &[]),
            rel("openssh-server", "optional", &["libssl3", "libc6"], &[]),
            rel("python3", "optional", &["python3.11"], &["python3-any"]),
            rel("python3.11", "optional", &["libc6"], &[]),
            rel("acme-web", "optional", &["python3"], &[]),
            rel("acme-api", "optional", &["python3-any", "libacme"], &[]),
            rel("libacme", "optional", &[], &[]),
            rel("acme-docs", "optional", &[], &[]),
        ];
        (set, relations)
    }

    fn names(role: &[RolePackage], why: Why) -> Vec<&str> {
        role.iter()
            .filter(|r| r.why == why)
            .map(|r| r.package.name.as_str())
            .collect()
    }

    #[test]
    fn the_role_is_what_nothing_needs_and_the_base_is_not_part_of_it() {
        let (set, relations) = web1();
        let r = role(&set, &relations, &BTreeSet::new());
        assert_eq!(
            names(&r, Why::Requested),
            ["acme-api", "acme-docs", "acme-web", "openssh-server"]
        );
        // through a virtual name (python3-any) too; the base (libc6) never
        assert_eq!(
            names(&r, Why::Dependency),
            ["libacme", "libssl3", "python3", "python3.11"]
        );
    }

    #[test]
    fn left_out_packages_and_their_own_dependencies_go() {
        let (set, relations) = web1();
        let out = BTreeSet::from(["acme-api".to_owned(), "libacme".to_owned()]);
        let r = role(&set, &relations, &out);
        assert_eq!(
            names(&r, Why::Requested),
            ["acme-docs", "acme-web", "openssh-server"]
        );
        assert!(!names(&r, Why::Dependency).contains(&"libacme"));
    }

    #[test]
    fn the_plan_keeps_exact_versions_and_says_what_is_missing_or_differs() {
        let (set, relations) = web1();
        let r = role(&set, &relations, &BTreeSet::new());
        let offered = |n: &str, v: &str| Offered {
            name: n.into(),
            arch: None,
            version: v.into(),
        };
        let new_installed = vec![
            inst("openssh-server", "1:10.0p1-7", true),
            inst("python3", "3.13.5-1", true),
            inst("libc6", "2.41-12", true),
        ];
        let offered = vec![
            offered("acme-web", "1.0"),
            offered("acme-api", "1.1"),
            offered("acme-api", "0.9"),
            offered("acme-api", "2.0"),
            offered("libacme", "1.0"),
        ];
        // a suffix after a separator is another package (`-dev`, `-ng`), not a rename
        let names = vec![
            "libssl3t64".to_owned(),
            "acme-docs-ng".to_owned(),
            "acme-docs2".to_owned(),
        ];
        let (outcomes, items) = plan(
            &r,
            Kind::Deb,
            NewHost {
                installed: &new_installed,
                offered: &offered,
                names: &names,
                kind: Kind::Deb,
            },
        );
        let action = |n: &str| {
            outcomes
                .iter()
                .find(|o| o.name == n)
                .map(|o| o.action.clone())
        };
        assert_eq!(
            action("acme-web"),
            Some(Action::Exact {
                version: "1.0".into()
            })
        );
        assert_eq!(
            action("acme-api"),
            Some(Action::Closest {
                version: "1.1".into(),
                offered: vec!["1.1".into(), "0.9".into(), "2.0".into()],
            })
        );
        assert_eq!(
            action("openssh-server"),
            Some(Action::NewOs {
                version: "1:10.0p1-7".into()
            })
        );
        // a dependency the new OS has is its own: not part of the plan
        assert_eq!(action("python3"), None);
        assert_eq!(
            action("acme-docs"),
            Some(Action::Missing {
                similar: vec!["acme-docs2".into()]
            })
        );
        // a dependency not offered in its version is left to the package manager
        assert_eq!(action("libssl3"), None);
        assert_eq!(
            action("libacme"),
            Some(Action::Exact {
                version: "1.0".into()
            })
        );
        assert_eq!(
            items
                .iter()
                .map(|i| format!("{}={}", i.name, i.version))
                .collect::<Vec<_>>(),
            ["acme-api=1.1", "acme-web=1.0", "libacme=1.0"]
        );
    }

    #[test]
    fn versions_compare_across_families_by_their_upstream_part() {
        assert!(same_version(Kind::Deb, Kind::Rpm, "1.0", "1.0-1"));
        assert!(!same_version(Kind::Deb, Kind::Rpm, "1.0", "1.1-1"));
        assert!(same_version(Kind::Deb, Kind::Deb, "1:2.0-1", "1:2.0-1"));
        assert!(!same_version(Kind::Deb, Kind::Deb, "2.0-1", "2.0-2"));
    }

    #[test]
    fn renamed_packages_are_found_by_suffix_or_numbers() {
        let names: Vec<String> = [
            "libssl3t64",
            "gcc-14-base",
            "python3.13",
            "python3",
            "libssl-dev",
            "pythonista",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(similar("libssl3", &names), ["libssl3t64"]);
        assert_eq!(similar("gcc-12-base", &names), ["gcc-14-base"]);
        assert_eq!(similar("python3.11", &names), ["python3.13", "python3"]);
        assert!(similar("acme-web", &names).is_empty());
    }

    #[test]
    fn components_own_the_packages_of_their_processes_services_and_package_checks() {
        let web = Named {
            processes: BTreeSet::from(["acme-web".to_owned()]),
            ..Named::default()
        };
        let api = Named {
            processes: BTreeSet::from(["acme-api".to_owned()]),
            packages: BTreeSet::from(["libacme".to_owned()]),
            ..Named::default()
        };
        let programs = BTreeMap::from([
            (
                "acme-web".to_owned(),
                BTreeSet::from(["/usr/sbin/acme-web".to_owned()]),
            ),
            (
                "acme-api".to_owned(),
                BTreeSet::from(["/usr/sbin/acme-api".to_owned()]),
            ),
        ]);
        let owners = BTreeMap::from([
            ("/usr/sbin/acme-web".to_owned(), "acme-web".to_owned()),
            ("/usr/sbin/acme-api".to_owned(), "acme-api".to_owned()),
        ]);
        let packages = attribute(
            &[("checkout", web), ("orders-api", api)],
            &programs,
            &owners,
        );
        assert_eq!(
            packages["orders-api"],
            BTreeSet::from(["acme-api".to_owned(), "libacme".to_owned()])
        );
        let out = excluded_packages(&packages, &["orders-api".into()], &["checkout".into()]);
        assert_eq!(out["checkout"], BTreeSet::from(["acme-web".to_owned()]));
    }
}
