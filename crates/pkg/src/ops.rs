//! What fearless does to one host's packages, on any [`PackageManager`]: apply an exact
//! manifest, roll back to a package set, and the rollback-feasibility check that comes
//! before either changes anything.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::backend::{CACHE_DIR, InstallItem, Offered, PackageManager, Request, Restarts, Target};
use crate::error::PkgError;
use crate::manifest::Manifest;
use crate::model::{Delta, Diff, Installed, PackageSet, Pending};
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
    /// Wall time in the package manager: planning, the transaction, the reads after it
    /// (not what ran beside them).
    #[serde(skip)]
    pub took: std::time::Duration,
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

/// `manifest` checked against the host's version rules: bad input, naming every pin that
/// is not valid there.
fn valid_for<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    manifest: &Manifest,
) -> Result<(), PkgError> {
    let invalid = manifest.invalid_for(pm.manager().kind());
    if invalid.is_empty() {
        return Ok(());
    }
    Err(PkgError::BadInput {
        host: t.name.to_owned(),
        detail: format!(
            "the manifest is not valid for {}: {}",
            pm.manager(),
            invalid.join("; ")
        ),
    })
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
    apply_with(pm, t, manifest, options, before, None, async {})
        .await
        .map(|(report, ())| report)
}

/// [`apply`] for a rollout, from `before` (its snapshot, just read): with what [`prepare`] found on this host, if anything —
/// when `before` is still the package set the preparation planned on, its simulation and
/// kept versions stand and the apply goes straight to the transaction; when the host
/// changed since, it plans again — and with `then`, started once the transaction is done
/// and run beside the reads that follow it (a rollout's verification: it reads the host,
/// as they do, and changes nothing).
pub async fn apply_then<M: PackageManager, T>(
    pm: &M,
    t: &Target<'_>,
    manifest: &Manifest,
    before: PackageSet,
    prepared: Option<&Prepared>,
    then: impl Future<Output = T>,
) -> Result<(Report, T), PkgError> {
    let still = prepared.filter(|p| p.on == before && p.manifest == manifest.pins);
    apply_with(pm, t, manifest, Options::default(), before, still, then).await
}

async fn apply_with<M: PackageManager, T>(
    pm: &M,
    t: &Target<'_>,
    manifest: &Manifest,
    options: Options,
    before: PackageSet,
    prepared: Option<&Prepared>,
    then: impl Future<Output = T>,
) -> Result<(Report, T), PkgError> {
    let started = std::time::Instant::now();
    let kind = pm.manager().kind();
    valid_for(pm, t, manifest)?;
    let by_name = by_name(&before.packages);
    let request = pin_request(kind, &by_name, manifest);
    let mut warnings = Vec::new();
    let mut cached = Vec::new();
    let planned;
    let plan_used = match prepared {
        _ if request.is_empty() => None,
        Some(p) => Some(p),
        None => {
            let (reasons, fresh) = plan(pm, t, manifest, true, &before, &[]).await?;
            if !reasons.is_empty() {
                if !options.force {
                    return Err(PkgError::Infeasible {
                        host: t.name.to_owned(),
                        reasons,
                    });
                }
                warnings.extend(reasons.into_iter().map(|r| format!("forced: {r}")));
            }
            planned = fresh;
            Some(&planned)
        }
    };
    if let Some(p) = plan_used {
        cached.clone_from(&p.kept);
        pm.execute(t, &request).await?;
    }
    // What is installed now and what needs a restart, read side by side (and `then`).
    let reads = async {
        let r = futures::join!(package_set(pm, t), pm.restarts(t));
        (r, started.elapsed())
    };
    let (((after, restarts), mut took), done) = futures::join!(reads, then);
    let (mut after, restarts) = (after?, restarts?);
    // Installing an exact version marks a package manual; keep what it was.
    let was_auto: Vec<String> = after
        .packages
        .iter()
        .filter(|p| p.manual && by_name.get(p.name.as_str()).is_some_and(|b| !b.manual))
        .map(Installed::key)
        .collect();
    if !was_auto.is_empty() {
        let marking = std::time::Instant::now();
        pm.mark(t, &[], &was_auto).await?;
        after = package_set(pm, t).await?;
        took += marking.elapsed();
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
    if let Some(p) = prepared {
        // The preparation kept what its simulation said would be replaced; say so if the
        // transaction replaced more (the repositories changed in between).
        for d in changes.upgraded.iter().chain(&changes.downgraded) {
            let kept = p
                .replaced
                .iter()
                .any(|r| r.name == d.name && Some(&r.version) == d.from.as_ref());
            if !kept {
                warnings.push(format!(
                    "{} {} was replaced but not kept in {CACHE_DIR} (the repositories changed since the preflight); a rollback needs it from a repository",
                    d.name,
                    d.from.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    let report = Report {
        before,
        after,
        changes,
        cached,
        warnings,
        restarts,
        took,
    };
    Ok((report, done))
}

/// A manifest made ready on one host before anything changes (a rollout's preflight):
/// the package set it was planned on and the versions it will replace, each kept in
/// [`CACHE_DIR`] or offered by a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The pins, as planned.
    pub manifest: Vec<crate::manifest::Pin>,
    /// The host's package set the plan was made on.
    pub on: PackageSet,
    /// The installed versions the transaction replaces.
    pub replaced: Vec<Installed>,
    /// `name=version` of those downloaded into [`CACHE_DIR`] by this preparation.
    pub kept: Vec<String>,
}

impl Prepared {
    /// A plan on `on` that replaces nothing (yet).
    fn nothing(manifest: &Manifest, on: &PackageSet) -> Self {
        Self {
            manifest: manifest.pins.clone(),
            on: on.clone(),
            replaced: Vec::new(),
            kept: Vec::new(),
        }
    }
}

/// Whether `manifest` can be applied to this host now with a way back: every version it
/// would replace is in [`CACHE_DIR`] or a repository, and none is a package the
/// distributions do not support downgrading. With `keep`, the versions not yet in the
/// cache are downloaded there (the only change: no package is touched), so the apply that
/// follows on the same package set has nothing left to fetch; without it, repositories
/// are only asked (a dry run changes nothing). `on`: the host's package set, read by the
/// caller (a preflight reads it after the pending list); `pending`: the host's
/// pending updates read since the last refresh, if the caller has them — when the tool
/// resolved them as a transaction and it is exactly the manifest's, that simulation
/// stands and is not run again. Returns what is wrong (empty: it can) and the preparation.
pub async fn prepare<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    manifest: &Manifest,
    keep: bool,
    on: &PackageSet,
    pending: &[Pending],
) -> Result<(Vec<String>, Prepared), PkgError> {
    let invalid = manifest.invalid_for(pm.manager().kind());
    if !invalid.is_empty() {
        return Ok((invalid, Prepared::nothing(manifest, on)));
    }
    plan(pm, t, manifest, keep, on, pending).await
}

/// The way back of a valid manifest on `on`, as [`prepare`] says; [`apply`] plans with it
/// too, keeping the versions just before its transaction.
async fn plan<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    manifest: &Manifest,
    keep: bool,
    on: &PackageSet,
    pending: &[Pending],
) -> Result<(Vec<String>, Prepared), PkgError> {
    let kind = pm.manager().kind();
    let mut problems = Vec::new();
    let by_name = by_name(&on.packages);
    let request = pin_request(kind, &by_name, manifest);
    let mut prepared = Prepared::nothing(manifest, on);
    if request.is_empty() {
        return Ok((problems, prepared));
    }
    let resolved = pm
        .pending_is_resolved()
        .then(|| same_transaction(kind, pending, &request))
        .flatten();
    let (deltas, cached) = match resolved {
        Some(deltas) => (deltas, pm.cached(t).await?),
        None => {
            // The transaction and what the cache holds, read side by side.
            let (deltas, cached) = futures::join!(pm.simulate(t, &request), pm.cached(t));
            (deltas?, cached?)
        }
    };
    let replaced: Vec<Installed> = deltas
        .iter()
        .filter(|d| d.from.is_some())
        .filter_map(|d| by_name.get(d.name.as_str()).map(|p| (*p).clone()))
        .collect();
    for p in &replaced {
        if not_downgradable(&p.name) {
            problems.push(format!(
                "{} {}: the distribution does not support downgrading it, a rollback could not restore it",
                p.name, p.version
            ));
        }
    }
    let missing: Vec<Installed> = replaced
        .iter()
        .filter(|p| {
            !cached
                .iter()
                .any(|c| c.name == p.name && c.arch == p.arch && c.version == p.version)
        })
        .cloned()
        .collect();
    let absent: Vec<Installed> = if missing.is_empty() {
        Vec::new()
    } else if keep {
        let not_obtainable = pm.cache(t, &missing).await?;
        prepared.kept = missing
            .iter()
            .filter(|p| !not_obtainable.contains(p))
            .map(|p| format!("{}={}", p.name, p.version))
            .collect();
        not_obtainable
    } else {
        let names: Vec<String> = missing.iter().map(|p| p.name.clone()).collect();
        let offered = pm.offered(t, &names).await?;
        missing
            .into_iter()
            .filter(|p| !offered_in(kind, &offered, p))
            .collect()
    };
    for p in &absent {
        problems.push(format!(
            "{}={}: the version installed now is in no repository and not in {CACHE_DIR}",
            p.name, p.version
        ));
    }
    prepared.replaced = replaced;
    Ok((problems, prepared))
}

/// `pending` as the transaction of `request`, when it is exactly that: every package of
/// the request upgraded or downgraded from an installed version to its pinned one, and
/// nothing else installed, removed or changed.
fn same_transaction(kind: Kind, pending: &[Pending], request: &Request) -> Option<Vec<Delta>> {
    if !request.remove.is_empty() || pending.len() != request.install.len() {
        return None;
    }
    request
        .install
        .iter()
        .map(|item| {
            let p = pending
                .iter()
                .find(|p| p.name == item.name && item.arch.as_ref().is_none_or(|a| *a == p.arch))?;
            let to = p.to.as_deref()?;
            (p.from.is_some() && matches_pin(kind, to, &item.version)).then(|| Delta {
                name: p.name.clone(),
                arch: p.arch.clone(),
                from: p.from.clone(),
                to: p.to.clone(),
            })
        })
        .collect()
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

/// Bring one host back to `target` exactly: wait for a transaction still holding the
/// package lock, then downgrade, remove what was added, reinstall what was removed, restore
/// marks; then verify that the host's package set equals `target`. Refuses with [`PkgError::Infeasible`] (unless forced) before changing
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
    let started = std::time::Instant::now();
    // A transaction still running (one a dead or another controller started) decides what
    // is installed: read the host only once it has ended.
    if let Some(holder) = crate::backend::wait_for_lock(t).await? {
        return Err(PkgError::Locked {
            host: t.name.to_owned(),
            holder,
            waited: t.limits.lock_wait,
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
        took: started.elapsed(),
    })
}

/// Bring one host to `base` with `pins` on top, in one transaction: every package `pins`
/// names at its pinned version, every other package as in `base` (downgraded, reinstalled
/// or removed as needed; a package absent from `base` and not pinned is removed). A package
/// bisect moves from one round's subset to the next this way, without a round trip through
/// `base` (half the transactions of "restore, then apply"). Versions `base` needs come
/// from [`CACHE_DIR`] when kept there, else from a repository; marks are left alone (the
/// bisect ends with an exact [`rollback`], which restores them). Verified afterwards: every
/// pin at its version, every other package at `base`'s, nothing else installed.
pub async fn transition<M: PackageManager>(
    pm: &M,
    t: &Target<'_>,
    base: &PackageSet,
    pins: &Manifest,
) -> Result<Report, PkgError> {
    let kind = pm.manager().kind();
    if base.manager.kind() != kind {
        return Err(PkgError::BadInput {
            host: t.name.to_owned(),
            detail: format!(
                "the snapshot was taken with {}, the host uses {}",
                base.manager,
                pm.manager()
            ),
        });
    }
    valid_for(pm, t, pins)?;
    let started = std::time::Instant::now();
    let (live, cached) = futures::join!(package_set(pm, t), pm.cached(t));
    let (live, cached) = (live?, cached?);
    let pinned = |name: &str| pins.pins.iter().find(|p| p.name == name);
    let same = |a: &str, b: &str| compare(kind, a, b) == Ok(Ordering::Equal);
    let mut request = Request::default();
    for pin in &pins.pins {
        let there = live
            .packages
            .iter()
            .any(|p| p.name == pin.name && matches_pin(kind, &p.version, &pin.version));
        if !there {
            request.install.push(InstallItem {
                name: pin.name.clone(),
                arch: pin.arch.clone(),
                version: pin.version.clone(),
                file: None,
            });
        }
    }
    let live_by_key = live.by_key();
    for p in base.packages.iter().filter(|p| pinned(&p.name).is_none()) {
        let there = live_by_key
            .get(&p.key())
            .is_some_and(|l| same(&l.version, &p.version));
        if !there {
            request.install.push(InstallItem {
                name: p.name.clone(),
                arch: Some(p.arch.clone()),
                version: p.version.clone(),
                file: cached
                    .iter()
                    .find(|c| c.name == p.name && c.arch == p.arch && c.version == p.version)
                    .map(|c| c.path.clone()),
            });
        }
    }
    let base_by_key = base.by_key();
    request.remove = live
        .packages
        .iter()
        .filter(|p| pinned(&p.name).is_none() && !base_by_key.contains_key(&p.key()))
        .map(Installed::key)
        .collect();
    pm.execute(t, &request).await?;
    let after = package_set(pm, t).await?;
    let mut mismatches = Vec::new();
    for pin in &pins.pins {
        match after.packages.iter().find(|p| p.name == pin.name) {
            Some(p) if matches_pin(kind, &p.version, &pin.version) => {}
            Some(p) => mismatches.push(format!("{pin}: {} is installed", p.version)),
            None => mismatches.push(format!("{pin}: not installed")),
        }
    }
    let after_by_key = after.by_key();
    for p in base.packages.iter().filter(|p| pinned(&p.name).is_none()) {
        match after_by_key.get(&p.key()) {
            Some(a) if same(&a.version, &p.version) => {}
            Some(a) => mismatches.push(format!(
                "{} should be {}: {} is installed",
                p.key(),
                p.version,
                a.version
            )),
            None => mismatches.push(format!(
                "{} should be {}: not installed",
                p.key(),
                p.version
            )),
        }
    }
    for p in after
        .packages
        .iter()
        .filter(|p| pinned(&p.name).is_none() && !base_by_key.contains_key(&p.key()))
    {
        mismatches.push(format!("{} {} should not be installed", p.key(), p.version));
    }
    if !mismatches.is_empty() {
        return Err(PkgError::NotExact {
            host: t.name.to_owned(),
            mismatches,
        });
    }
    let changes = Diff::between(kind, &live.packages, &after.packages);
    Ok(Report {
        before: live,
        after,
        changes,
        cached: Vec::new(),
        warnings: Vec::new(),
        restarts: Restarts::default(),
        took: started.elapsed(),
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

    fn pending(name: &str, from: Option<&str>, to: Option<&str>) -> Pending {
        Pending {
            name: name.into(),
            arch: "all".into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
            origin: "lab:stable".into(),
            security: false,
        }
    }

    fn install(pins: &[(&str, &str)]) -> Request {
        Request {
            install: pins
                .iter()
                .map(|(n, v)| InstallItem {
                    name: (*n).into(),
                    arch: None,
                    version: (*v).into(),
                    file: None,
                })
                .collect(),
            remove: Vec::new(),
        }
    }

    #[test]
    fn a_resolved_upgrade_stands_for_the_request_only_when_it_is_exactly_that() {
        let up = [
            pending("acme-api", Some("1.0"), Some("1.1")),
            pending("acme-web", Some("1.0"), Some("1.1")),
        ];
        let req = install(&[("acme-web", "1.1"), ("acme-api", "1.1")]);
        let deltas = same_transaction(Kind::Deb, &up, &req).expect("the same transaction");
        assert_eq!(deltas.len(), 2);
        assert_eq!(deltas[0].name, "acme-web");
        assert_eq!(deltas[0].from.as_deref(), Some("1.0"));
        // A package the upgrade would take that the manifest leaves out (an exclude).
        assert!(same_transaction(Kind::Deb, &up, &install(&[("acme-web", "1.1")])).is_none());
        // Another version than the pin.
        assert!(
            same_transaction(
                Kind::Deb,
                &up,
                &install(&[("acme-web", "1.1"), ("acme-api", "1.2")])
            )
            .is_none()
        );
        // The upgrade would newly install a dependency, or remove a package.
        let new_dep = [
            pending("acme-web", Some("1.0"), Some("1.1")),
            pending("libnew", None, Some("1")),
        ];
        assert!(
            same_transaction(
                Kind::Deb,
                &new_dep,
                &install(&[("acme-web", "1.1"), ("libnew", "1")])
            )
            .is_none()
        );
        let removal = [pending("acme-web", Some("1.0"), None)];
        assert!(same_transaction(Kind::Deb, &removal, &install(&[("acme-web", "1.1")])).is_none());
        // Nothing pending known: simulate.
        assert!(same_transaction(Kind::Deb, &[], &req).is_none());
    }
}
