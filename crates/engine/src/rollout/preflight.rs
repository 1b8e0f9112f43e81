//! Before a rollout changes anything: the hosts and components in scope, the preflight of
//! every host (reachable, metadata fresh, room on `/var`, the package lock free), the frozen
//! manifest, and the way back prepared on every host at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fearless_change::ChangeRecord;
use fearless_config::{Config, Host};
use fearless_pkg::ops::{self, Prepared};
use fearless_pkg::version::compare;
use fearless_pkg::{Manager, Manifest, PackageManager, PackageSet, Pending, PkgError};

use crate::{EngineError, Fleetwide};

/// Free space a host needs on `/var` before it is patched.
const MIN_FREE_KIB: u64 = 200 * 1024;

/// What the preflight learned of one host.
#[derive(Debug)]
pub(crate) struct Preflight {
    manager: Manager,
    /// The package set, read after the pending list.
    installed: PackageSet,
    pending: Vec<Pending>,
    free_kib: u64,
    /// Time spent in the package manager (metadata refresh, pending list, package set).
    package_manager: Duration,
    /// Who holds the package lock, if anyone.
    lock: Option<String>,
}

/// Every host's preflight; a host that fails it stops the rollout before anything changes.
pub(crate) async fn preflight(fw: &Fleetwide) -> Result<Vec<(String, Preflight)>, EngineError> {
    // Every host's package manager first, on a quiet machine (one short round trip each;
    // kept, failures included, for the preflight below to report).
    fw.each(|_, _| async { Ok(()) }).await;
    let results = fw
        .each(|b, t| async move {
            // The metadata refresh, the pending list and the package set, one after the
            // other (apt rebuilds its package cache for each: side by side they race on
            // it), with the free space and the lock's holder read alongside.
            let manager = async {
                let started = Instant::now();
                b.refresh(&t).await?;
                let pending = b.pending(&t).await?;
                let installed = ops::package_set(&b, &t).await?;
                Ok::<_, PkgError>((pending, installed, started.elapsed()))
            };
            let (pm, free_kib, lock) = tokio::join!(
                manager,
                fearless_pkg::backend::free_kib(&t, "/var"),
                fearless_pkg::backend::lock_holder(&t)
            );
            let (pending, installed, package_manager) = pm?;
            Ok(Preflight {
                manager: b.manager(),
                installed,
                pending,
                free_kib: free_kib?,
                package_manager,
                lock: lock?,
            })
        })
        .await;
    let mut problems = Vec::new();
    for (host, r) in &results {
        match r {
            Err(e) => problems.push(e.to_string()),
            Ok(Preflight {
                lock: Some(holder), ..
            }) => problems.push(format!("{host}: the package lock is held by {holder}")),
            Ok(p) if p.free_kib < MIN_FREE_KIB => problems.push(format!(
                "{host}: only {} MiB free on /var (needs {})",
                p.free_kib / 1024,
                MIN_FREE_KIB / 1024
            )),
            Ok(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(EngineError::gate(
            format!(
                "preflight failed, nothing was changed: {}",
                problems.join("; ")
            ),
            None,
        ));
    }
    Ok(results
        .into_iter()
        .filter_map(|(h, r)| r.ok().map(|p| (h, p)))
        .collect())
}

/// The way back of `manifest`, prepared on every host: with `keep`, the versions it
/// replaces are kept in each host's cache now (a dry run only asks). Returns each host's
/// preparation and how long the package managers took (the slowest host, both phases).
pub(crate) async fn prepare(
    fw: &Fleetwide,
    manifest: &Manifest,
    keep: bool,
    pre: &[(String, Preflight)],
) -> Result<(BTreeMap<String, Prepared>, Duration), EngineError> {
    let feasible = fw
        .each(|b, t| async move {
            let started = Instant::now();
            let (problems, prepared) = match pre.iter().find(|(h, _)| h == t.name) {
                Some((_, p)) => {
                    ops::prepare(&b, &t, manifest, keep, &p.installed, &p.pending).await?
                }
                None => {
                    let on = ops::package_set(&b, &t).await?;
                    ops::prepare(&b, &t, manifest, keep, &on, &[]).await?
                }
            };
            Ok((problems, prepared, started.elapsed()))
        })
        .await;
    let problems: Vec<String> = feasible
        .iter()
        .flat_map(|(host, r)| match r {
            Ok((lines, _, _)) => lines.iter().map(|l| format!("{host}: {l}")).collect(),
            Err(e) => vec![e.to_string()],
        })
        .collect();
    if !problems.is_empty() {
        return Err(EngineError::gate(
            format!(
                "preflight: the manifest could not be rolled back everywhere, nothing was changed: {}",
                problems.join("; ")
            ),
            Some("restore the missing versions to a repository, or exclude those packages"),
        ));
    }
    // Hosts run in parallel, so the slowest counts, in each of the two phases (the
    // manifest is frozen between them, so the second starts when the first ends).
    let refresh = pre.iter().map(|(_, p)| p.package_manager).max();
    let prepare = feasible
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(|(_, _, d)| *d))
        .max();
    let took = refresh.unwrap_or_default() + prepare.unwrap_or_default();
    let prepared = feasible
        .into_iter()
        .filter_map(|(host, r)| r.ok().map(|(_, p, _)| (host, p)))
        .collect();
    Ok((prepared, took))
}

/// What `patch --fixes` found: the manifest that closes the selected advisories with one
/// line per advisory and package, or `None` when none applies; and the selected ones that
/// apply without a fix yet.
#[derive(Debug)]
pub(crate) struct FixManifest {
    pub(crate) manifest: Option<(Manifest, Vec<String>)>,
    pub(crate) unfixed: Vec<String>,
}

/// The manifest of exactly the fixed versions that close `fixes` on the hosts of `fw`,
/// read after the preflight refreshed their metadata: each host's packages and sources,
/// the feeds' verdict, what its repositories offer ([`crate::vulns::read`]), and
/// [`fearless_vulns::fix::plan`] over them with the package sets the preflight read.
/// Anything that stands in the way — a fix not offered, none yet for a named advisory, a
/// pin that would downgrade or install a package on a host, an excluded package, a host
/// that could not be read — refuses the rollout before any host is touched.
pub(crate) async fn fixes(
    fw: &Fleetwide,
    fixes: &super::Fixes,
    pre: &[(String, Preflight)],
    exclude: &[String],
) -> Result<FixManifest, EngineError> {
    let index = fearless_vulns::Index::new(&fixes.feed);
    let read = crate::vulns::read(fw, &index, false).await;
    let mut problems = Vec::new();
    let mut hosts = Vec::new();
    for (host, r) in &read {
        match r {
            Ok(v) => hosts.push(v),
            Err(e) => problems.push(format!("{host}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(EngineError::gate(
            format!(
                "the advisories could not be assessed, nothing was changed: {}",
                problems.join("; ")
            ),
            None,
        ));
    }
    let inputs: Vec<fearless_vulns::HostFindings<'_>> = hosts
        .iter()
        .map(|v| fearless_vulns::HostFindings {
            host: &v.host,
            kind: v.manager.kind(),
            findings: &v.report.findings,
            installed: pre
                .iter()
                .find(|(h, _)| *h == v.host)
                .map_or(&[][..], |(_, p)| p.installed.packages.as_slice()),
        })
        .collect();
    let plan = fearless_vulns::fix::plan(&fixes.selection, &inputs);
    let mut problems = plan.problems;
    for pin in &plan.pins {
        let name = pin.split('=').next().unwrap_or(pin);
        if exclude.iter().any(|g| glob(g, name)) {
            problems.push(format!("{pin}: {name} is in patch.exclude"));
        }
    }
    if !problems.is_empty() {
        return Err(EngineError::gate(
            format!(
                "the advisories cannot be closed, nothing was changed: {}",
                problems.join("; ")
            ),
            Some("publish or mirror the fixed versions, or narrow --fixes / --hosts"),
        ));
    }
    if plan.pins.is_empty() {
        return Ok(FixManifest {
            manifest: None,
            unfixed: plan.unfixed,
        });
    }
    let manifest = Manifest::parse("--fixes", &plan.pins.join("\n")).map_err(|e| {
        EngineError::Environment(format!("a host offered a fix fearless cannot pin: {e}"))
    })?;
    let lines = plan
        .closes
        .iter()
        .map(|c| {
            let aliases = if c.aliases.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.aliases.join(", "))
            };
            format!(
                "{}{aliases}: {} fixed in {} on {}",
                c.advisory,
                c.package,
                c.fixed,
                c.hosts.join(", ")
            )
        })
        .chain(
            plan.unfixed
                .iter()
                .map(|u| format!("not closed (no fix yet): {u}")),
        )
        .collect();
    Ok(FixManifest {
        manifest: Some((manifest, lines)),
        unfixed: plan.unfixed,
    })
}

/// The components in scope of `record` on `hosts`, and those that depend on them (their
/// checks prove the change).
pub(crate) fn in_scope(config: &Config, record: &ChangeRecord, hosts: &[Host]) -> Vec<String> {
    let mut set: BTreeSet<String> = record.scope.components.iter().cloned().collect();
    if set.is_empty() {
        for c in config.components.values() {
            if hosts.iter().any(|h| runs_on(config, &c.name, h)) {
                set.insert(c.name.clone());
            }
        }
    }
    loop {
        let more: Vec<String> = config
            .components
            .values()
            .filter(|c| !set.contains(&c.name) && c.depends_on.iter().any(|d| set.contains(d)))
            .map(|c| c.name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        set.extend(more);
    }
    config
        .components
        .keys()
        .filter(|k| set.contains(*k))
        .cloned()
        .collect()
}

/// Whether `component` runs on `host`.
pub(crate) fn runs_on(config: &Config, component: &str, host: &Host) -> bool {
    config
        .components
        .get(component)
        .and_then(|c| c.runs_on.as_ref())
        .is_some_and(|sel| sel.matches(host, &config.inventory.groups))
}

/// `manifest` without the pins `exclude` names; `None` when nothing is left.
pub(crate) fn without_excluded(
    manifest: &Manifest,
    origin: &str,
    exclude: &[String],
) -> Result<Option<Manifest>, EngineError> {
    let kept: Vec<String> = manifest
        .pins
        .iter()
        .filter(|p| !exclude.iter().any(|g| glob(g, &p.name)))
        .map(ToString::to_string)
        .collect();
    if kept.is_empty() {
        return Ok(None);
    }
    Manifest::parse(origin, &kept.join("\n"))
        .map(Some)
        .map_err(|e| EngineError::bad_input(e.to_string(), None))
}

/// The frozen manifest: every pending update (or only security ones), at the highest
/// version any host is offered, minus excluded names. One package family per rollout.
pub(crate) fn freeze(
    pre: &[(String, Preflight)],
    exclude: &[String],
    security: bool,
) -> Result<Option<Manifest>, EngineError> {
    let kinds: BTreeSet<String> = pre
        .iter()
        .map(|(_, p)| p.manager.kind().to_string())
        .collect();
    if kinds.len() > 1 {
        return Err(EngineError::bad_input(
            "the change's hosts use both deb and rpm packages: one manifest cannot pin both",
            Some("split the change by package family (e.g. --hosts pkg=rpm)"),
        ));
    }
    let mut best: BTreeMap<String, String> = BTreeMap::new();
    for (_, p) in pre {
        let kind = p.manager.kind();
        for u in &p.pending {
            let Some(to) = &u.to else { continue };
            if (security && !u.security) || exclude.iter().any(|g| glob(g, &u.name)) {
                continue;
            }
            let newer = best
                .get(&u.name)
                .is_none_or(|v| compare(kind, to, v) == Ok(std::cmp::Ordering::Greater));
            if newer {
                best.insert(u.name.clone(), to.clone());
            }
        }
    }
    if best.is_empty() {
        return Ok(None);
    }
    let text: String = best.iter().map(|(n, v)| format!("{n}={v}\n")).collect();
    Manifest::parse("pending updates", &text)
        .map(Some)
        .map_err(|e| {
            EngineError::Environment(format!("a host offered an update fearless cannot pin: {e}"))
        })
}

/// `*` matches any run of characters; everything else literally.
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn exclude_globs() {
        assert!(glob("linux-image-*", "linux-image-6.1.0-18-amd64"));
        assert!(!glob("linux-image-*", "linux-headers-6.1"));
        assert!(glob("*acme*", "libacme"));
        assert!(glob("libacme", "libacme"));
        assert!(!glob("libacme", "libacme2"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxc"));
        // Overlapping ends are not a match twice over.
        assert!(!glob("ab*ba", "aba"));
    }
}
