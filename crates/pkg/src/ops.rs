//! What fearless does to one host's packages, on any [`PackageManager`]: apply an exact
//! manifest, roll back to a package set, and the rollback-feasibility check that comes
//! before either changes anything.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::backend::{CACHE_DIR, InstallItem, Offered, PackageManager, Request, Restarts, Target};
use crate::error::PkgError;
use crate::manifest::Manifest;
use crate::model::{Diff, Installed, PackageSet};
use crate::version::{Kind, RpmVersion, compare};

/// Packages the distributions do not support downgrading (kernel, C library, SELinux
/// policy): a plan that would downgrade one is reported, never attempted silently.
const NOT_DOWNGRADABLE: &[&str] = &[
    "kernel",
    "linux-image",
    "glibc",
    "libc6",
    "libc-bin",
    "selinux-policy",
];

/// Whether the distributions say `name` cannot be safely downgraded.
pub fn not_downgradable(name: &str) -> bool {
    NOT_DOWNGRADABLE
        .iter()
        .any(|p| name == *p || name.starts_with(&format!("{p}-")))
}

/// What happened on one host.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The package set before.
    #[serde(skip)]
    pub before: PackageSet,
    /// The package set after.
    #[serde(skip)]
    pub after: PackageSet,
    /// From before to after.
    pub changes: Diff,
    /// Old versions kept in the host's cache for a later rollback.
    pub cached: Vec<String>,
    /// Warnings that did not stop the operation (forced, not downgradable).
    pub warnings: Vec<String>,
    /// Reboot and restart needs afterwards.
    pub restarts: Restarts,
}

/// Options of [`apply`] and [`rollback`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Go ahead although rollback would not be possible.
    pub force: bool,
}

/// Whether `installed` is the version `pin` asks for, by the tool's rules (an rpm pin
/// without a release matches any release).
pub fn matches_pin(kind: Kind, installed: &str, pin: &str) -> bool {
    match kind {
        Kind::Deb => compare(kind, installed, pin) == Ok(Ordering::Equal),
        Kind::Rpm => match (RpmVersion::parse(installed), RpmVersion::parse(pin)) {
            (Ok(a), Ok(b)) => a.cmp_dependency(&b) == Ordering::Equal,
            _ => installed == pin,
        },
    }
}

/// The host's package set now.
pub async fn package_set<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
) -> Result<PackageSet, PkgError> {
    Ok(PackageSet::new(pm.manager(), pm.installed(t).await?))
}

fn by_name(installed: &[Installed]) -> BTreeMap<&str, &Installed> {
    installed.iter().map(|p| (p.name.as_str(), p)).collect()
}

/// Whether a repository offers exactly `p`'s version.
fn offered_in(kind: Kind, offered: &[Offered], p: &Installed) -> bool {
    offered.iter().any(|o| {
        o.name == p.name
            && o.arch.as_deref().is_none_or(|a| a == p.arch)
            && compare(kind, &o.version, &p.version) == Ok(Ordering::Equal)
    })
}

/// The transaction that brings the pins not yet at their version there.
fn pin_request(kind: Kind, installed: &BTreeMap<&str, &Installed>, manifest: &Manifest) -> Request {
    Request {
        install: manifest
            .pins
            .iter()
            .filter(|pin| {
                installed
                    .get(pin.name.as_str())
                    .is_none_or(|p| !matches_pin(kind, &p.version, &pin.version))
            })
            .map(|pin| InstallItem {
                name: pin.name.clone(),
                arch: pin.arch.clone(),
                version: pin.version.clone(),
                file: None,
            })
            .collect(),
        remove: Vec::new(),
    }
}

/// Bring the packages of `manifest` to exactly its versions on one host.
///
/// Before anything changes: the manifest is checked against the host's version rules, the
/// change is simulated, and every version it replaces is made obtainable for a rollback
/// (kept in [`CACHE_DIR`] on the host); if one cannot be, or one is not downgradable, it
/// refuses with [`PkgError::Infeasible`] unless forced. Afterwards the manual/auto marks
/// of replaced packages are restored and every pin is verified.
pub async fn apply<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    manifest: &Manifest,
    options: Options,
) -> Result<Report, PkgError> {
    let before = package_set(pm, t).await?;
    apply_on(pm, t, manifest, options, before).await
}

/// [`apply`], from `before`, the host's package set read just now by the caller (a
/// rollout's snapshot), instead of reading it again.
pub async fn apply_on<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    manifest: &Manifest,
    options: Options,
    before: PackageSet,
) -> Result<Report, PkgError> {
    let kind = pm.manager().kind();
    let invalid = manifest.invalid_for(kind);
    if !invalid.is_empty() {
        return Err(PkgError::BadInput {
            host: t.name.to_owned(),
            detail: format!(
                "the manifest is not valid for {}: {}",
                pm.manager(),
                invalid.join("; ")
            ),
        });
    }
    let by_name = by_name(&before.packages);
    let request = pin_request(kind, &by_name, manifest);
    let mut warnings = Vec::new();
    let mut cached = Vec::new();
    if !request.is_empty() {
        let deltas = pm.simulate(t, &request).await?;
        let replaced: Vec<Installed> = deltas
            .iter()
            .filter(|d| d.from.is_some())
            .filter_map(|d| by_name.get(d.name.as_str()).map(|p| (*p).clone()))
            .collect();
        let mut reasons: Vec<String> = replaced
            .iter()
            .filter(|p| not_downgradable(&p.name))
            .map(|p| {
                format!(
                    "{} {}: the distribution does not support downgrading it, a rollback could not restore it",
                    p.name, p.version
                )
            })
            .collect();
        let have = pm.cached(t).await?;
        let missing_from_cache: Vec<Installed> = replaced
            .iter()
            .filter(|p| {
                !have
                    .iter()
                    .any(|c| c.name == p.name && c.arch == p.arch && c.version == p.version)
            })
            .cloned()
            .collect();
        let not_obtainable = if missing_from_cache.is_empty() {
            Vec::new()
        } else {
            pm.cache(t, &missing_from_cache).await?
        };
        cached = missing_from_cache
            .iter()
            .filter(|p| !not_obtainable.contains(p))
            .map(|p| format!("{}={}", p.name, p.version))
            .collect();
        for p in &not_obtainable {
            reasons.push(format!(
                "{}={}: the version installed now is in no repository, so it cannot be kept in {CACHE_DIR} for a rollback",
                p.name, p.version
            ));
        }
        if !reasons.is_empty() {
            if !options.force {
                return Err(PkgError::Infeasible {
                    host: t.name.to_owned(),
                    reasons,
                });
            }
            warnings.extend(reasons.into_iter().map(|r| format!("forced: {r}")));
        }
        pm.execute(t, &request).await?;
    }
    let mut after = package_set(pm, t).await?;
    // Installing an exact version marks a package manual; keep what it was.
    let was_auto: Vec<String> = after
        .packages
        .iter()
        .filter(|p| p.manual && by_name.get(p.name.as_str()).is_some_and(|b| !b.manual))
        .map(Installed::key)
        .collect();
    if !was_auto.is_empty() {
        pm.mark(t, &[], &was_auto).await?;
        after = package_set(pm, t).await?;
    }
    let mismatches: Vec<String> = manifest
        .pins
        .iter()
        .filter_map(|pin| {
            let now = after.packages.iter().find(|p| p.name == pin.name);
            match now {
                Some(p) if matches_pin(kind, &p.version, &pin.version) => None,
                Some(p) => Some(format!("{pin}: {} is installed", p.version)),
                None => Some(format!("{pin}: not installed")),
            }
        })
        .collect();
    if !mismatches.is_empty() {
        return Err(PkgError::NotExact {
            host: t.name.to_owned(),
            mismatches,
        });
    }
    let changes = Diff::between(kind, &before.packages, &after.packages);
    let restarts = pm.restarts(t).await?;
    Ok(Report {
        before,
        after,
        changes,
        cached,
        warnings,
        restarts,
    })
}

/// Whether `manifest` could be applied to this host now with a way back: every version it
/// would replace is in the host cache or a repository, and none is a package the
/// distributions do not support downgrading. Changes nothing (a preflight for rollouts);
/// the returned lines say what is wrong (empty: it can).
pub async fn check_apply<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    manifest: &Manifest,
) -> Result<Vec<String>, PkgError> {
    let kind = pm.manager().kind();
    let mut problems = manifest.invalid_for(kind);
    if !problems.is_empty() {
        return Ok(problems);
    }
    let installed = pm.installed(t).await?;
    let by_name = by_name(&installed);
    let request = pin_request(kind, &by_name, manifest);
    if request.is_empty() {
        return Ok(problems);
    }
    let deltas = pm.simulate(t, &request).await?;
    let replaced: Vec<&Installed> = deltas
        .iter()
        .filter(|d| d.from.is_some())
        .filter_map(|d| by_name.get(d.name.as_str()).copied())
        .collect();
    let cached = pm.cached(t).await?;
    let names: Vec<String> = replaced.iter().map(|p| p.name.clone()).collect();
    let offered = pm.offered(t, &names).await?;
    for p in replaced {
        if not_downgradable(&p.name) {
            problems.push(format!(
                "{} {}: the distribution does not support downgrading it",
                p.name, p.version
            ));
        }
        let kept = cached
            .iter()
            .any(|c| c.name == p.name && c.arch == p.arch && c.version == p.version);
        let in_repo = offered_in(kind, &offered, p);
        if !kept && !in_repo {
            problems.push(format!(
                "{}={}: the version installed now is in no repository and not in {CACHE_DIR}",
                p.name, p.version
            ));
        }
    }
    Ok(problems)
}

/// What a rollback to `target` would do and whether it can.
#[derive(Debug, Clone, Serialize)]
pub struct Feasibility {
    /// The transaction that goes back.
    pub request: Request,
    /// Marks to set afterwards (`name:arch`).
    pub manual: Vec<String>,
    /// Marks to clear afterwards (`name:arch`).
    pub auto: Vec<String>,
    /// Why it cannot (empty: it can).
    pub problems: Vec<String>,
}

/// Plan the way back from the live state to `target` and check that every version it
/// needs can be had: from [`CACHE_DIR`] on the host (preferred: the exact file that was
/// installed) or from a repository. Changes nothing.
pub async fn feasibility<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    target: &PackageSet,
    live: &PackageSet,
) -> Result<Feasibility, PkgError> {
    let kind = pm.manager().kind();
    let diff = Diff::between(kind, &live.packages, &target.packages);
    let wanted: BTreeMap<String, &Installed> = target.by_key();
    // From live to target: versions that differ, and packages the change removed, must be
    // installed at the target's version; packages the change added (`removed` from live to
    // target) are removed below.
    let needed: Vec<&Installed> = diff
        .upgraded
        .iter()
        .chain(&diff.downgraded)
        .chain(&diff.added)
        .filter_map(|d| wanted.get(&format!("{}:{}", d.name, d.arch)).copied())
        .collect();
    let cached = if needed.is_empty() {
        Vec::new()
    } else {
        pm.cached(t).await?
    };
    let names: Vec<String> = needed
        .iter()
        .map(|p| p.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let offered = pm.offered(t, &names).await?;
    let mut problems = Vec::new();
    let mut install = Vec::new();
    for p in needed {
        let file = cached
            .iter()
            .find(|c| c.name == p.name && c.arch == p.arch && c.version == p.version)
            .map(|c| c.path.clone());
        let in_repo = offered_in(kind, &offered, p);
        if file.is_none() && !in_repo {
            problems.push(format!(
                "{}={} is in no repository and not in {CACHE_DIR}",
                p.name, p.version
            ));
        }
        let live_version = live
            .packages
            .iter()
            .find(|l| l.name == p.name && l.arch == p.arch)
            .map(|l| l.version.as_str());
        if let Some(now) = live_version
            && compare(kind, &p.version, now) == Ok(Ordering::Less)
            && not_downgradable(&p.name)
        {
            problems.push(format!(
                "{} {now} → {}: the distribution does not support downgrading it",
                p.name, p.version
            ));
        }
        install.push(InstallItem {
            name: p.name.clone(),
            arch: Some(p.arch.clone()),
            version: p.version.clone(),
            file,
        });
    }
    let remove = diff
        .removed
        .iter()
        .map(|d| format!("{}:{}", d.name, d.arch))
        .collect();
    // Marks: whatever differs once versions are back.
    let live_by_key = live.by_key();
    let mut manual = Vec::new();
    let mut auto = Vec::new();
    for (key, p) in &wanted {
        match live_by_key.get(key) {
            Some(l) if l.manual == p.manual => {}
            _ if p.manual => manual.push(key.clone()),
            _ => auto.push(key.clone()),
        }
    }
    Ok(Feasibility {
        request: Request { install, remove },
        manual,
        auto,
        problems,
    })
}

/// Bring one host back to `target` exactly: downgrade, remove what was added, reinstall
/// what was removed, restore marks; then verify that the host's package set equals
/// `target`. Refuses with [`PkgError::Infeasible`] (unless forced) before changing
/// anything when a needed version cannot be had or is not downgradable.
pub async fn rollback<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    target: &PackageSet,
    options: Options,
) -> Result<Report, PkgError> {
    if target.manager.kind() != pm.manager().kind() {
        return Err(PkgError::BadInput {
            host: t.name.to_owned(),
            detail: format!(
                "the snapshot was taken with {}, the host uses {}",
                target.manager,
                pm.manager()
            ),
        });
    }
    let before = package_set(pm, t).await?;
    let plan = feasibility(pm, t, target, &before).await?;
    let mut warnings = Vec::new();
    if !plan.problems.is_empty() {
        if !options.force {
            return Err(PkgError::Infeasible {
                host: t.name.to_owned(),
                reasons: plan.problems,
            });
        }
        warnings.extend(plan.problems.iter().map(|r| format!("forced: {r}")));
    }
    pm.execute(t, &plan.request).await?;
    let mut after = package_set(pm, t).await?;
    let after_by_key = after.by_key();
    let target_by_key = target.by_key();
    let mut manual = Vec::new();
    let mut auto = Vec::new();
    for (key, want) in &target_by_key {
        if let Some(now) = after_by_key.get(key)
            && now.manual != want.manual
        {
            if want.manual {
                manual.push(key.clone());
            } else {
                auto.push(key.clone());
            }
        }
    }
    if !manual.is_empty() || !auto.is_empty() {
        pm.mark(t, &manual, &auto).await?;
        after = package_set(pm, t).await?;
    }
    let kind = pm.manager().kind();
    let left = Diff::between(kind, &after.packages, &target.packages);
    if !left.is_empty() {
        return Err(PkgError::NotExact {
            host: t.name.to_owned(),
            mismatches: describe(&left),
        });
    }
    let changes = Diff::between(kind, &before.packages, &after.packages);
    let restarts = pm.restarts(t).await?;
    Ok(Report {
        before,
        after,
        changes,
        cached: Vec::new(),
        warnings,
        restarts,
    })
}

/// One line per difference, for error messages.
pub fn describe(diff: &Diff) -> Vec<String> {
    let v = |s: &Option<String>| s.clone().unwrap_or_else(|| "absent".into());
    diff.added
        .iter()
        .chain(&diff.removed)
        .chain(&diff.upgraded)
        .chain(&diff.downgraded)
        .map(|d| format!("{}:{} {} → {}", d.name, d.arch, v(&d.from), v(&d.to)))
        .chain(diff.marks.iter().map(|m| {
            format!(
                "{}:{} should be {}",
                m.name,
                m.arch,
                if m.manual { "manual" } else { "auto" }
            )
        }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_packages_are_not_downgradable() {
        for name in [
            "kernel",
            "kernel-core",
            "linux-image-6.1.0-18-amd64",
            "glibc",
            "glibc-common",
            "libc6",
            "selinux-policy-targeted",
        ] {
            assert!(not_downgradable(name), "{name}");
        }
        for name in ["libacme", "kernelshark", "glibcx", "libc6x"] {
            assert!(!not_downgradable(name), "{name}");
        }
    }

    #[test]
    fn pins_match_by_the_tools_rules() {
        assert!(matches_pin(Kind::Deb, "1.0", "1.00"));
        assert!(!matches_pin(Kind::Deb, "1.0-1", "1.0"));
        assert!(matches_pin(Kind::Rpm, "1.1-1", "1.1"));
        assert!(matches_pin(Kind::Rpm, "1.1-1", "1.1-1"));
        assert!(!matches_pin(Kind::Rpm, "1.1-2", "1.1-1"));
    }
}
