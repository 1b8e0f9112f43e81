//! The package bisect on a host: `fearless-rca`'s [`Bisect`] proposes the subsets, this
//! module makes the host hold them and runs the checks. A round moves the host from the
//! last subset straight to "snapshot + next subset" in one package transaction
//! ([`fearless_pkg::ops::transition`]); the host ends on its snapshot again, exactly, with
//! its checks run there.

use std::time::Instant;

use fearless_pkg::ops::{self, Options};
use fearless_pkg::{Backend, Manifest, PackageManager, PackageSet, PkgError, Target};
use fearless_probe::runner::PlanItem;
use fearless_rca::bisect::Round;
use fearless_rca::{Bisect, Next, Verdict};
use serde::{Deserialize, Serialize};

use crate::checks::CheckSet;
use crate::progress::{Event, HostEvent, Progress};

/// How to take the manifest apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Halving, then ddmin for packages that fail only together.
    #[default]
    Halving,
    /// Each package alone (with what it needs): every package that fails alone.
    OneAtATime,
}

/// What a bisect found (`fearless.bisect/v1`'s `report`; journaled as `bisect.finished`
/// and kept with the incident of a rollout that bisected its canary).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisectReport {
    /// Culprits, or not reproducible.
    pub verdict: Verdict,
    /// Every round, in order.
    pub rounds: Vec<Round>,
    /// Check runs, re-runs included.
    pub tests: usize,
    /// The host ended on its snapshot with its checks passing.
    pub restored: bool,
    /// Wall time.
    pub seconds: f64,
}

/// Bisect `manifest` on one host: every round brings the host to `target` (its snapshot)
/// with a subset of the manifest on top and runs `items`; a failing round is run again
/// (its checks, on the same packages) before it is trusted. At the end the host is rolled
/// back to `target` exactly and checked again.
#[expect(
    clippy::too_many_arguments,
    reason = "the host, what to test it with, and how"
)]
pub async fn on_host(
    b: &Backend,
    t: &Target<'_>,
    target: &PackageSet,
    manifest: &Manifest,
    checks: &CheckSet,
    items: &[PlanItem],
    mode: Mode,
    progress: &dyn Progress,
) -> Result<BisectReport, PkgError> {
    let started = Instant::now();
    let deps = b.depends(t, manifest).await?;
    let names: Vec<String> = manifest.pins.iter().map(|p| p.name.clone()).collect();
    let requires = |p: &str| deps.get(p).cloned().unwrap_or_default();
    let mut bisect = match mode {
        Mode::Halving => Bisect::new(names, requires),
        Mode::OneAtATime => Bisect::one_at_a_time(names, requires),
    };
    let mut tests = 0;
    // The packages on the host on top of the snapshot, once a round has run.
    let mut holding: Option<Vec<String>> = None;
    let verdict = loop {
        let subset = match bisect.next() {
            Next::Done(v) => break v,
            Next::Test(subset) => subset,
        };
        // A re-run tests the same packages again: only the checks run.
        if holding.as_ref() != Some(&subset) {
            let pins = subset_of(manifest, &subset).map_err(|e| PkgError::BadInput {
                host: t.name.to_owned(),
                detail: e,
            })?;
            ops::transition(b, t, target, &pins).await?;
            holding = Some(subset.clone());
        }
        tests += 1;
        let failed = checks
            .run_settled(items)
            .await
            .iter()
            .any(|r| !r.status.is_ok());
        progress.event(Event::Host {
            host: t.name.to_owned(),
            what: HostEvent::BisectTest {
                n: tests,
                packages: subset,
                failed,
            },
        });
        bisect.record(failed);
    };
    ops::rollback(b, t, target, Options::default()).await?;
    let restored = checks
        .run_settled(items)
        .await
        .iter()
        .all(|r| r.status.is_ok());
    Ok(BisectReport {
        verdict,
        rounds: bisect.rounds().to_vec(),
        tests,
        restored,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The pins of `manifest` named in `subset`.
fn subset_of(manifest: &Manifest, subset: &[String]) -> Result<Manifest, String> {
    let pins: String = manifest
        .pins
        .iter()
        .filter(|p| subset.contains(&p.name))
        .map(|p| format!("{p}\n"))
        .collect();
    Manifest::parse("bisect round", &pins).map_err(|e| e.to_string())
}

/// `fearless bisect`: which packages of a manifest break the named checks on one host.
#[derive(Debug, Clone)]
pub struct BisectRequest {
    /// The host (isolated first: it is changed many times).
    pub host: String,
    /// The snapshot every round starts from (`SNAP-3`).
    pub snapshot: String,
    /// The manifest to take apart.
    pub manifest: Manifest,
    /// The failing checks, `(component, check)`.
    pub checks: Vec<(String, String)>,
    /// Halving or one at a time.
    pub mode: Mode,
    /// How long to wait for another process's package lock.
    pub lock_wait: std::time::Duration,
}

/// What [`Engine::bisect`] found, and where.
#[derive(Debug, Clone)]
pub struct BisectOutcome {
    /// The host.
    pub host: String,
    /// `SNAP-<n>`'s number.
    pub snapshot: u64,
    /// The report.
    pub report: BisectReport,
}

impl crate::Engine<'_> {
    /// Bisect `req.manifest` on `req.host` from its snapshot; the host ends restored to
    /// the snapshot, checked. Journaled as `bisect.finished` on `host:<name>`.
    pub async fn bisect(&self, req: BisectRequest) -> Result<BisectOutcome, crate::EngineError> {
        use crate::EngineError;
        let host = self
            .config
            .inventory
            .hosts
            .get(&req.host)
            .cloned()
            .ok_or_else(|| {
                EngineError::bad_input(
                    format!("unknown host `{}`", req.host),
                    Some("see `fearless hosts`"),
                )
            })?;
        let (checks, items) = CheckSet::named(self.config, &host.name, &req.checks)?;
        let (stored, doc) = crate::record::load_snapshot(self.store, &req.snapshot).await?;
        let Some(target) = doc.hosts.get(&host.name).cloned() else {
            checks.close().await;
            return Err(EngineError::bad_input(
                format!(
                    "SNAP-{} has no package set for {}",
                    stored.number, host.name
                ),
                None,
            ));
        };
        let fw =
            crate::Fleetwide::with_hosts(self.config.clone(), vec![host.clone()], req.lock_wait);
        let (target_ref, manifest, checks_ref, items_ref) =
            (&target, &req.manifest, &checks, &items);
        let mut results = fw
            .each(|b, t| async move {
                on_host(
                    &b,
                    &t,
                    target_ref,
                    manifest,
                    checks_ref,
                    items_ref,
                    req.mode,
                    self.progress,
                )
                .await
            })
            .await;
        fw.close().await;
        checks.close().await;
        let report = match results.pop() {
            Some((_, Ok(report))) => report,
            Some((_, Err(e))) => {
                return Err(EngineError::Environment(format!(
                    "bisect on {} stopped: {e} (restore it with `fearless packages rollback --snapshot SNAP-{} --hosts {}`)",
                    host.name, stored.number, host.name
                )));
            }
            None => return Err(EngineError::Environment("the bisect did not run".into())),
        };
        let bisected = crate::record::Bisected {
            v: crate::record::VERSION,
            rollout: None,
            snapshot: Some(format!("SNAP-{}", stored.number)),
            manifest: req.manifest.pins.iter().map(ToString::to_string).collect(),
            checks: req.checks.iter().map(|(c, k)| format!("{c}/{k}")).collect(),
            report: report.clone(),
        };
        self.store
            .append(crate::record::event(
                self.actor,
                format!("host:{}", host.name),
                &bisected,
            ))
            .await?;
        Ok(BisectOutcome {
            host: host.name,
            snapshot: stored.number,
            report,
        })
    }
}
