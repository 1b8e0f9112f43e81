//! The manifest that closes advisories: [`plan`] takes each host's findings (with what its
//! repositories offer, [`crate::Report::offer`]) and its installed packages, and gives
//! exactly the pins needed — per binary package, the lowest offered version that closes
//! every selected advisory on every host, the highest of those across hosts — or says why
//! it cannot: no fixed version yet, a fix not offered, a pin that would downgrade or
//! newly install a package on a host of the rollout, two package families.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use fearless_pkg::Installed;
use fearless_pkg::version::{Kind, Version};
use serde::Serialize;

use crate::assess::Finding;
use crate::model::cmp;

/// Which advisories to close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every advisory that applies and has a fix (deferred ones left out).
    All,
    /// These, by id or alias.
    Named(Vec<String>),
}

impl Selection {
    fn takes(&self, f: &Finding) -> bool {
        match self {
            Selection::All => !f.status.deferred(),
            Selection::Named(names) => names.iter().any(|n| f.named(n)),
        }
    }
}

/// One host of the rollout.
#[derive(Debug, Clone, Copy)]
pub struct HostFindings<'a> {
    /// Its name.
    pub host: &'a str,
    /// Its package family.
    pub kind: Kind,
    /// Its findings, with offers.
    pub findings: &'a [Finding],
    /// Its installed packages.
    pub installed: &'a [Installed],
}

/// An advisory a pin closes, on which hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closes {
    /// Advisory id.
    pub advisory: String,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// The package (source or binary) it is about.
    pub package: String,
    /// The fixed version.
    pub fixed: String,
    /// The hosts it applies to.
    pub hosts: Vec<String>,
}

/// What closing the selection takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FixPlan {
    /// `name=version`, sorted by name.
    pub pins: Vec<String>,
    /// What the pins close.
    pub closes: Vec<Closes>,
    /// Selected findings without a fixed version (with [`Selection::All`], left out and
    /// said; named ones are problems).
    pub unfixed: Vec<String>,
    /// Why the plan cannot be applied (empty: it can).
    pub problems: Vec<String>,
}

/// The pins that close `selection` on `hosts`.
pub fn plan(selection: &Selection, hosts: &[HostFindings<'_>]) -> FixPlan {
    let mut out = FixPlan::default();
    let kinds: Vec<Kind> = {
        let mut k: Vec<Kind> = hosts.iter().map(|h| h.kind).collect();
        k.dedup();
        k
    };
    if kinds.len() > 1 {
        out.problems.push(
            "the hosts use both deb and rpm packages: one manifest cannot pin both (narrow --hosts to one family)"
                .into(),
        );
        return out;
    }
    let Some(&kind) = kinds.first() else {
        return out;
    };
    // Per binary: the highest of each host's lowest closing offer.
    let mut pins: BTreeMap<String, (Version, String)> = BTreeMap::new();
    let mut closes: BTreeMap<(String, String), Closes> = BTreeMap::new();
    for h in hosts {
        for f in h.findings.iter().filter(|f| selection.takes(f)) {
            let what = format!("{} ({} {})", f.advisory, f.package, f.installed);
            let Some(fixed) = &f.fixed else {
                let line = format!("{}: {what}: no fixed version yet ({})", h.host, f.status);
                match selection {
                    Selection::All => out.unfixed.push(line),
                    Selection::Named(_) => out.problems.push(line),
                }
                continue;
            };
            for b in &f.binaries {
                let Some(offered) = &b.offered else {
                    out.problems.push(format!(
                        "{}: {what}: {} {fixed} or later is not offered by its repositories (installed {})",
                        h.host, b.name, b.installed
                    ));
                    continue;
                };
                let Ok(v) = Version::parse(kind, offered) else {
                    out.problems.push(format!(
                        "{}: {} {offered}: not a {kind} version",
                        h.host, b.name
                    ));
                    continue;
                };
                let higher = pins
                    .get(&*b.name)
                    .is_none_or(|(old, _)| cmp(&v, old) == Ordering::Greater);
                if higher {
                    pins.insert(b.name.to_string(), (v, offered.clone()));
                }
            }
            let c = closes
                .entry((f.advisory.to_string(), f.package.to_string()))
                .or_insert_with(|| Closes {
                    advisory: f.advisory.to_string(),
                    aliases: f.aliases.to_vec(),
                    package: f.package.to_string(),
                    fixed: fixed.to_string(),
                    hosts: Vec::new(),
                });
            if !c.hosts.iter().any(|x| x == h.host) {
                c.hosts.push(h.host.to_owned());
            }
        }
    }
    // Every host of the rollout takes the manifest exactly: none may lose a newer version
    // or gain a package it does not have.
    for h in hosts {
        for (name, (v, text)) in &pins {
            match h.installed.iter().find(|p| &p.name == name) {
                None => out.problems.push(format!(
                    "{}: {name}={text} would install {name}, which it does not have (narrow --hosts to the affected hosts)",
                    h.host
                )),
                Some(p) => {
                    if Version::parse(kind, &p.version)
                        .is_ok_and(|i| cmp(&i, v) == Ordering::Greater)
                    {
                        out.problems.push(format!(
                            "{}: {name}={text} would downgrade it from {} (narrow --hosts to the affected hosts)",
                            h.host, p.version
                        ));
                    }
                }
            }
        }
    }
    out.pins = pins
        .into_iter()
        .map(|(name, (_, text))| format!("{name}={text}"))
        .collect();
    out.closes = closes.into_values().collect();
    out
}
