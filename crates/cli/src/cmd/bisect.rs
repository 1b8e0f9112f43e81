//! `fearless bisect --host H --snapshot S --manifest M --check C…`: which packages of a
//! manifest break the named checks. Every round restores the host to the snapshot, applies a
//! subset (with its dependencies), runs the checks; `fearless-rca` decides the subsets. The
//! host ends restored to the snapshot, verified.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fearless_pkg::ops::{self, Options};
use fearless_pkg::{Manifest, PackageManager, PackageSet, PkgError};
use fearless_probe::runner::{self, PlanItem, Runner, Selection};
use fearless_rca::{Bisect, Next, Verdict};
use fearless_store::NewEvent;
use serde::Serialize;
use serde_json::json;

use super::change::{open_store, store_failure};
use super::packages::{Fleetwide, load_snapshot, progress, snapshot_sets};
use super::{identity, load_config, only_human_or_json, print, print_json};
use crate::args::{BisectArgs, Format, Global};
use crate::exit::{Failure, Outcome};
use crate::render;

/// What a bisect found (`fearless.bisect/v1`'s `report`; also journaled and kept with the
/// incident of a rollout that bisected its canary).
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) verdict: Verdict,
    pub(crate) rounds: Vec<fearless_rca::bisect::Round>,
    pub(crate) tests: usize,
    pub(crate) restored: bool,
    pub(crate) seconds: f64,
}

pub(crate) async fn run(g: &Global, a: BisectArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "bisect")?;
    let config = load_config(g)?;
    let actor = identity(g)?;
    let lock_wait = humantime::parse_duration(&a.lock_wait)
        .map_err(|e| Failure::bad_input(format!("--lock-wait {:?}: {e}", a.lock_wait), None))?;
    let host = config
        .inventory
        .hosts
        .get(&a.host)
        .cloned()
        .ok_or_else(|| {
            Failure::bad_input(
                format!("unknown host `{}`", a.host),
                Some("see `fearless hosts`"),
            )
        })?;
    let text = std::fs::read_to_string(&a.manifest).map_err(|e| {
        Failure::bad_input(
            format!("cannot read manifest {}: {e}", a.manifest.display()),
            None,
        )
    })?;
    let manifest = Manifest::parse(&a.manifest.display().to_string(), &text)
        .map_err(|e| Failure::bad_input(e.to_string(), None))?;

    // The named checks, on this host.
    let mut wanted = Vec::new();
    for c in &a.checks {
        let Some((component, check)) = c.split_once('/') else {
            return Err(Failure::bad_input(
                format!("--check {c:?}: expected COMPONENT/CHECK"),
                Some("e.g. --check orders-api/orders"),
            ));
        };
        wanted.push((component.to_owned(), check.to_owned()));
    }
    let items = check_items(&config, &host.name, &wanted)?;

    let store = open_store(g, &config).await?;
    let snap = load_snapshot(&store, &a.snapshot).await?;
    let target = snapshot_sets(&snap)?
        .into_iter()
        .find(|(h, _)| *h == host.name)
        .map(|(_, s)| s)
        .ok_or_else(|| {
            Failure::bad_input(
                format!("SNAP-{} has no package set for {}", snap.number, host.name),
                None,
            )
        })?;
    let checks = Runner::new(&config)
        .map_err(|e| Failure::Environment(anyhow::anyhow!("cannot set up network checks: {e}")))?;
    let fw = Fleetwide::with_hosts(config.clone(), vec![host.clone()], lock_wait);
    let (target_ref, manifest_ref, runner) = (&target, &manifest, &checks);
    let items_ref = &items;
    let one_at_a_time = a.one_at_a_time;
    let mut results = fw
        .each(|b, t| async move {
            on_host(
                g,
                &b,
                &t,
                target_ref,
                manifest_ref,
                runner,
                items_ref,
                one_at_a_time,
            )
            .await
        })
        .await;
    fw.close().await;
    checks.close().await;
    let (_, result) = results
        .pop()
        .ok_or_else(|| Failure::Environment(anyhow::anyhow!("the bisect did not run")))?;
    let report = result.map_err(|e| {
        Failure::Environment(anyhow::anyhow!(
            "bisect on {} stopped: {e} (restore it with `fearless packages rollback --snapshot SNAP-{} --hosts {}`)",
            host.name,
            snap.number,
            host.name
        ))
    })?;
    store
        .append(NewEvent {
            actor,
            kind: "bisect.finished".into(),
            subject: format!("host:{}", host.name),
            payload: json!({"snapshot": format!("SNAP-{}", snap.number), "manifest": manifest.pins.iter().map(ToString::to_string).collect::<Vec<_>>(), "checks": a.checks, "report": report}),
        })
        .await
        .map_err(store_failure)?;
    store.close().await;
    if g.format == Format::Json {
        print_json(&json!({"schema": "fearless.bisect/v1", "host": host.name, "report": report}))?;
    } else {
        let mut t = render::table(&["ROUND", "PACKAGES", "CHECKS", "NOTE"]);
        for (i, r) in report.rounds.iter().enumerate() {
            t.add_row(vec![
                (i + 1).to_string().into(),
                r.packages.join(" ").into(),
                render::colored(if r.failed { "fail" } else { "pass" }, Some(!r.failed)),
                if r.flaky {
                    "failed once, passed on re-run"
                } else {
                    ""
                }
                .into(),
            ]);
        }
        let line = match &report.verdict {
            Verdict::Culprits {
                packages,
                with_dependencies,
            } => format!(
                "culprit: {} (applied with: {}) — {} round(s), {} test(s), {:.1}s",
                packages.join(" + "),
                with_dependencies.join(" "),
                report.rounds.len(),
                report.tests,
                report.seconds
            ),
            Verdict::NotReproducible => format!(
                "not reproducible: the whole manifest passes on {} — {:.1}s",
                host.name, report.seconds
            ),
        };
        print(&format!(
            "{t}\n{line}\n{} restored to SNAP-{}{}\n",
            host.name,
            snap.number,
            if report.restored {
                ", checks pass"
            } else {
                ", but its checks FAIL"
            }
        ))?;
    }
    Ok(if report.restored {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// The plan items of the named `(component, check)` pairs that run for `host`; a pair
/// that runs nowhere there is bad input.
pub(crate) fn check_items(
    config: &fearless_config::Config,
    host: &str,
    wanted: &[(String, String)],
) -> Result<Vec<PlanItem>, Failure> {
    let components: Vec<String> = wanted
        .iter()
        .map(|(c, _)| c.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let items: Vec<PlanItem> = runner::plan(
        config,
        &Selection {
            hosts: None,
            components,
        },
    )
    .map_err(|e| Failure::bad_input(e.to_string(), None))?
    .into_iter()
    .filter(|i| {
        i.host.as_ref().is_none_or(|h| h.name == host)
            && wanted
                .iter()
                .any(|(c, k)| *c == i.component && *k == i.check.name)
    })
    .collect();
    for (c, k) in wanted {
        if !items
            .iter()
            .any(|i| i.component == *c && i.check.name == *k)
        {
            return Err(Failure::bad_input(
                format!("no check `{c}/{k}` runs on {host}"),
                Some("list checks with `fearless check --dry-run`"),
            ));
        }
    }
    Ok(items)
}

/// Bisect `manifest` on one host: every round restores `target` (the host's snapshot),
/// applies a subset with its dependencies and runs `items`; at the end the host is restored
/// to `target` and checked again. `one_at_a_time` tests each package alone instead
/// (debbisect's final step: n rounds, every culprit that fails alone).
#[expect(
    clippy::too_many_arguments,
    reason = "the host, what to test it with, and how"
)]
pub(crate) async fn on_host(
    g: &Global,
    b: &fearless_pkg::Backend,
    t: &fearless_pkg::Target<'_>,
    target: &PackageSet,
    manifest: &Manifest,
    runner: &Runner,
    items: &[PlanItem],
    one_at_a_time: bool,
) -> Result<Report, PkgError> {
    let started = Instant::now();
    let deps = b.depends(t, manifest).await?;
    let names: Vec<String> = manifest.pins.iter().map(|p| p.name.clone()).collect();
    let round = Round {
        g,
        b,
        t,
        target,
        manifest,
        runner,
        items,
    };
    let (verdict, rounds, tests) = if one_at_a_time {
        let mut rounds = Vec::new();
        for name in &names {
            // The package with what it needs from the manifest, transitively.
            let mut subset = vec![name.clone()];
            let mut i = 0;
            while i < subset.len() {
                for d in deps.get(&subset[i]).into_iter().flatten() {
                    if names.contains(d) && !subset.contains(d) {
                        subset.push(d.clone());
                    }
                }
                i += 1;
            }
            let failed = round.test(rounds.len() + 1, &subset).await?;
            rounds.push(fearless_rca::bisect::Round {
                packages: subset,
                failed,
                flaky: false,
            });
        }
        let culprits: Vec<String> = rounds
            .iter()
            .filter(|r| r.failed)
            .filter_map(|r| r.packages.first().cloned())
            .collect();
        let verdict = if culprits.is_empty() {
            Verdict::NotReproducible
        } else {
            Verdict::Culprits {
                with_dependencies: rounds
                    .iter()
                    .filter(|r| r.failed)
                    .flat_map(|r| r.packages.iter().cloned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                packages: culprits,
            }
        };
        let tests = rounds.len();
        (verdict, rounds, tests)
    } else {
        let mut bisect = Bisect::new(names, |p| deps.get(p).cloned().unwrap_or_default());
        let mut n = 0;
        while let Next::Test(subset) = bisect.next() {
            n += 1;
            let failed = round.test(n, &subset).await?;
            bisect.record(failed);
        }
        let verdict = match bisect.next() {
            Next::Done(v) => v,
            Next::Test(_) => Verdict::NotReproducible,
        };
        (verdict, bisect.rounds().to_vec(), n)
    };
    ops::rollback(b, t, target, Options::default()).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let restored = runner
        .run(items, &|_| {})
        .await
        .iter()
        .all(|r| r.status.is_ok());
    Ok(Report {
        verdict,
        rounds,
        tests,
        restored,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What one test of a subset needs.
struct Round<'a> {
    g: &'a Global,
    b: &'a fearless_pkg::Backend,
    t: &'a fearless_pkg::Target<'a>,
    target: &'a PackageSet,
    manifest: &'a Manifest,
    runner: &'a Runner,
    items: &'a [PlanItem],
}

impl Round<'_> {
    /// Restore the snapshot, apply `subset` of the manifest, run the checks: whether any
    /// failed.
    async fn test(&self, n: usize, subset: &[String]) -> Result<bool, PkgError> {
        let (b, t) = (self.b, self.t);
        ops::rollback(b, t, self.target, Options::default()).await?;
        let pins: String = self
            .manifest
            .pins
            .iter()
            .filter(|p| subset.contains(&p.name))
            .map(|p| format!("{p}\n"))
            .collect();
        let sub = Manifest::parse("bisect round", &pins).map_err(|e| PkgError::BadInput {
            host: t.name.to_owned(),
            detail: e.to_string(),
        })?;
        ops::apply(b, t, &sub, Options::default()).await?;
        // Give restarted services a moment, as a rollout's checks would.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let results = self.runner.run(self.items, &|_| {}).await;
        let failed = results.iter().any(|r| !r.status.is_ok());
        progress(
            self.g,
            &format!(
                "{}: test {n}: {} → {}",
                t.name,
                subset.join(" "),
                if failed { "fail" } else { "pass" }
            ),
        );
        Ok(failed)
    }
}
