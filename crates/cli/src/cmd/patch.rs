//! `fearless patch --change CHG-N` and `fearless rollout list|show`: apply updates to a
//! change's hosts in canary waves gated by the test plan, rolling failing hosts back to
//! their snapshots. Every host step is a compare-and-set in the store with its journal
//! entry, written before the work it announces.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fearless_change::{ChangeError, ChangeRecord, CloseCode, Command};
use fearless_config::{Config, Host, PatchPolicy, RebootPolicy};
use fearless_pkg::ops::{self, Options};
use fearless_pkg::version::compare;
use fearless_pkg::{Limits, Manager, Manifest, PackageManager, PackageSet, Pending};
use fearless_probe::baseline::Baseline;
use fearless_probe::result::CheckResult;
use fearless_probe::runner::{self, PlanItem, Runner, Selection};
use fearless_rollout::{HostState, Member, Step, default_max_unavailable, parse_waves, plan};
use fearless_store::{NewEvent, Store};
use serde::Serialize;
use serde_json::{Value, json};

use super::change::{advance, change_failure, journal_of, load, open_store, store_failure};
use super::packages::{Fleetwide, error_json, progress};
use super::{identity, load_config, only_human_or_json, print, print_json, selector};
use crate::args::{Format, Global, PatchArgs, RolloutAction, RolloutArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

/// Free space a host needs on `/var` before it is patched.
const MIN_FREE_KIB: u64 = 200 * 1024;

/// What the preflight learned of one host.
struct Preflight {
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

/// How one host ended.
#[derive(Debug, Clone, Serialize)]
struct HostEnd {
    host: String,
    wave: usize,
    state: HostState,
    detail: String,
}

pub(crate) async fn run(g: &Global, a: PatchArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "patch")?;
    let config = load_config(g)?;
    let actor = identity(g)?;
    let lock_wait = humantime::parse_duration(&a.options.lock_wait).map_err(|e| {
        Failure::bad_input(format!("--lock-wait {:?}: {e}", a.options.lock_wait), None)
    })?;
    let waves_text = a
        .waves
        .clone()
        .unwrap_or_else(|| config.patch.waves.join(","));
    let sizes = parse_waves(&waves_text).map_err(|e| {
        Failure::bad_input(format!("--waves: {e}"), Some("e.g. --waves 1,25%,100%"))
    })?;
    let bake = match &a.bake {
        Some(b) => humantime::parse_duration(b)
            .map_err(|e| Failure::bad_input(format!("--bake {b:?}: {e}"), Some("e.g. 30s")))?,
        None => config.patch.bake,
    };
    let sel = selector(a.options.hosts.as_deref())?;
    let store = open_store(g, &config).await?;
    let (stored, record) = load(&store, &a.change).await?;

    // The gate, before anything runs: approved, scheduled and in its window.
    let others: Vec<ChangeRecord> = Vec::new();
    fearless_change::apply(
        &record,
        Command::Start,
        &actor,
        jiff::Timestamp::now(),
        &fearless_change::Policy::from_config(&config),
        &others,
    )
    .map_err(gate)?;

    let inv = &config.inventory;
    let hosts: Vec<Host> = record
        .scope
        .hosts
        .iter()
        .filter_map(|h| inv.hosts.get(h))
        .filter(|h| sel.as_ref().is_none_or(|s| s.matches(h, &inv.groups)))
        .cloned()
        .collect();
    if hosts.is_empty() {
        return Err(Failure::bad_input(
            format!("{} has no host in scope that matches", record.id()),
            Some("the change's frozen scope gives the hosts; --hosts only narrows it"),
        ));
    }
    let components = in_scope(&config, &record, &hosts);
    let fw = Fleetwide::with_hosts(config.clone(), hosts.clone(), lock_wait);

    // Preflight (every host reachable, its metadata fresh, room on /var) and the baseline
    // of the test plan for the components in scope run side by side: neither changes a host.
    let checks = Checks::new(&config, &components, &hosts)?;
    progress(
        g,
        &format!(
            "preflight: {} host(s); baseline: {} check(s)",
            hosts.len(),
            checks.items.len()
        ),
    );
    // Every host's package manager first, on a quiet machine (one short round trip each;
    // kept, failures included, for the preflight below to report).
    fw.each(|_, _| async { Ok(()) }).await;
    let baseline_run = async {
        let started = std::time::Instant::now();
        let results = checks.run_all().await;
        (results, started.elapsed())
    };
    let preflight = fw.each(|b, t| async move {
        // The metadata refresh, the pending list and the package set, one after the other
        // (apt rebuilds its package cache for each: side by side they race on it), with
        // the free space and the lock's holder read alongside (neither touches apt).
        let manager = async {
            let started = std::time::Instant::now();
            b.refresh(&t).await?;
            let pending = b.pending(&t).await?;
            let installed = ops::package_set(&b, &t).await?;
            Ok::<_, fearless_pkg::PkgError>((pending, installed, started.elapsed()))
        };
        let (pm, free_kib, lock) = tokio::join!(
            manager,
            fearless_pkg::backend::free_kib(&t, "/var"),
            fearless_pkg::backend::lock_holder(&t)
        );
        let (pending, installed, package_manager) = pm?;
        let (free_kib, lock) = (free_kib?, lock?);
        Ok(Preflight {
            manager: b.manager(),
            installed,
            pending,
            free_kib,
            package_manager,
            lock,
        })
    });
    let (pre, (baseline_results, baseline_time)) = tokio::join!(preflight, baseline_run);
    let mut problems = Vec::new();
    for (host, r) in &pre {
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
        fw.close().await;
        return Err(Failure::Gate {
            message: format!(
                "preflight failed, nothing was changed: {}",
                problems.join("; ")
            ),
            hint: None,
        });
    }
    let pre: Vec<(String, Preflight)> = pre
        .into_iter()
        .filter_map(|(h, r)| r.ok().map(|p| (h, p)))
        .collect();
    let frozen = match &a.manifest {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::bad_input(
                    format!("cannot read manifest {}: {e}", path.display()),
                    None,
                )
            })?;
            let m = Manifest::parse(&path.display().to_string(), &text)
                .map_err(|e| Failure::bad_input(e.to_string(), None))?;
            let kept: Vec<String> = m
                .pins
                .iter()
                .filter(|p| !config.patch.exclude.iter().any(|g| glob(g, &p.name)))
                .map(ToString::to_string)
                .collect();
            if kept.is_empty() {
                None
            } else {
                Some(
                    Manifest::parse(&path.display().to_string(), &kept.join("\n"))
                        .map_err(|e| Failure::bad_input(e.to_string(), None))?,
                )
            }
        }
        None => freeze(&pre, &config.patch.exclude, a.security)?,
    };
    let Some(manifest) = frozen else {
        fw.close().await;
        print(&format!(
            "nothing to patch: no pending update on {} host(s)\n",
            hosts.len()
        ))?;
        return Ok(Outcome::Success);
    };

    let baseline_failures: Vec<String> = baseline_results
        .iter()
        .filter(|r| !r.status.is_ok())
        .map(describe_check)
        .collect();
    // Every host must be able to take the manifest with a way back, before any package
    // changes. A rollout that will go on keeps the versions it replaces in the hosts'
    // caches now, all hosts at once (a dry run, or one the baseline stops, only asks).
    let keep = !a.dry_run && (baseline_failures.is_empty() || a.accept_baseline_failures);
    let manifest_ref = &manifest;
    let pre_ref = &pre;
    let feasible = fw
        .each(|b, t| async move {
            let started = std::time::Instant::now();
            let (problems, prepared) = match pre_ref.iter().find(|(h, _)| h == t.name) {
                Some((_, p)) => {
                    ops::prepare(&b, &t, manifest_ref, keep, &p.installed, &p.pending).await?
                }
                None => {
                    let on = ops::package_set(&b, &t).await?;
                    ops::prepare(&b, &t, manifest_ref, keep, &on, &[]).await?
                }
            };
            Ok((problems, prepared, started.elapsed()))
        })
        .await;
    let problems: Vec<String> = feasible
        .iter()
        .flat_map(|(host, r)| match r {
            Ok((lines, _, _)) => lines
                .iter()
                .map(|l| format!("{host}: {l}"))
                .collect::<Vec<_>>(),
            Err(e) => vec![e.to_string()],
        })
        .collect();
    // Package-manager time of the preflight: hosts run in parallel, so the slowest counts,
    // in each of its two phases (the manifest is frozen between them, from every host's
    // pending list, so the second starts when the slowest host ends the first).
    let refresh_pm = pre.iter().map(|(_, p)| p.package_manager).max();
    let prepare_pm = feasible
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(|(_, _, d)| *d))
        .max();
    let preflight_pm = refresh_pm.unwrap_or_default() + prepare_pm.unwrap_or_default();
    if !problems.is_empty() {
        fw.close().await;
        return Err(Failure::Gate {
            message: format!(
                "preflight: the manifest could not be rolled back everywhere, nothing was changed: {}",
                problems.join("; ")
            ),
            hint: Some(
                "restore the missing versions to a repository, or exclude those packages".into(),
            ),
        });
    }

    // Waves: spread across failure domains, never a whole component at once.
    let members: Vec<Member> = hosts
        .iter()
        .map(|h| Member {
            host: h.name.clone(),
            domain: h.labels.get(&config.patch.failure_domain).cloned(),
            components: components
                .iter()
                .filter(|c| runs_on(&config, c, h))
                .cloned()
                .collect(),
        })
        .collect();
    let per_component: BTreeMap<&str, usize> = components
        .iter()
        .map(|c| {
            (
                c.as_str(),
                members.iter().filter(|m| m.components.contains(c)).count(),
            )
        })
        .collect();
    let waves = plan(&members, &sizes, |c| {
        default_max_unavailable(per_component.get(c).copied().unwrap_or(1))
    });

    let baseline = Baseline::from_results(&baseline_results);
    // Used only by a rollout that goes on: every host prepared, with nothing wrong.
    let prepared: BTreeMap<String, ops::Prepared> = feasible
        .into_iter()
        .filter_map(|(host, r)| r.ok().map(|(_, p, _)| (host, p)))
        .collect();

    if a.dry_run || (!baseline_failures.is_empty() && !a.accept_baseline_failures) {
        checks.close().await;
        fw.close().await;
        let doc = json!({
            "schema": "fearless.patch-plan/v1",
            "change": record.id().to_string(),
            "manifest": manifest.pins.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "waves": waves,
            "bake": humantime::format_duration(bake).to_string(),
            "reboot": reboot_policy_json(&config.patch),
            "baseline_failures": baseline_failures,
        });
        if g.format == Format::Json {
            print_json(&doc)?;
        } else {
            print(&plan_text(
                &record,
                &manifest,
                &waves,
                bake,
                &config.patch,
                &baseline_failures,
            ))?;
        }
        if a.dry_run {
            return Ok(Outcome::Success);
        }
        return Err(Failure::Gate {
            message: format!(
                "the baseline has {} failing check(s); nothing was changed",
                baseline_failures.len()
            ),
            hint: Some(
                "fix them, or pass --accept-baseline-failures (then only regressions count)".into(),
            ),
        });
    }

    // Start implementing the change, then record the rollout.
    advance(&config, &store, &actor, &stored, &record, Command::Start).await?;
    let pins: Vec<String> = manifest.pins.iter().map(ToString::to_string).collect();
    let wave_of: Vec<(String, u32)> = waves
        .iter()
        .enumerate()
        .flat_map(|(i, w)| {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            w.iter().map(move |h| (h.clone(), n))
        })
        .collect();
    let rollout = store
        .insert_rollout(
            "running",
            &json!({
                "change": record.id().to_string(),
                "manifest": pins,
                "waves": waves,
                "bake_ms": u64::try_from(bake.as_millis()).unwrap_or(u64::MAX),
                "accept_baseline_failures": a.accept_baseline_failures,
                "components": components,
                "baseline": baseline,
                "timings": {
                    "preflight_package_manager_ms": u64::try_from(preflight_pm.as_millis()).unwrap_or(u64::MAX),
                    "baseline_checks_ms": u64::try_from(baseline_time.as_millis()).unwrap_or(u64::MAX),
                },
            }),
            &wave_of,
            &HostState::Pending.to_string(),
            event(
                &actor,
                "rollout.started",
                json!({"change": record.id().to_string(), "manifest": pins, "waves": waves}),
            ),
        )
        .await
        .map_err(store_failure)?;
    let r = rollout.number;
    progress(
        g,
        &format!("R-{r}: {} pin(s), {} wave(s)", pins.len(), waves.len()),
    );

    let ctx = Ctx {
        store: &store,
        actor: &actor,
        rollout: r,
        manifest: &manifest,
        checks: &checks,
        baseline: &baseline,
        prepared,
        policy: &config.patch,
    };
    let (ends, halt) = drive(g, &config, &fw, &ctx, &waves, Vec::new(), 0, bake).await?;
    checks.close().await;
    fw.close().await;
    conclude(
        g,
        &config,
        &store,
        &actor,
        &record.id().to_string(),
        r,
        &pins,
        &waves,
        &ends,
        halt,
    )
    .await
}

/// Run waves `first..` of `waves` (hosts already settled are in `ends`): per host
/// snapshot/apply/verify, bake, and on failure roll the failing hosts back and stop.
/// Returns every host's end and why the rollout stopped, if it did.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per command; a struct would only rename them"
)]
async fn drive(
    g: &Global,
    config: &Config,
    fw: &Fleetwide,
    ctx: &Ctx<'_>,
    waves: &[Vec<String>],
    mut ends: Vec<HostEnd>,
    first: usize,
    bake: Duration,
) -> Result<(Vec<HostEnd>, Option<Halt>), Failure> {
    let mut stopped: Option<String> = None;
    for (i, wave) in waves.iter().enumerate().skip(first) {
        // `rollout pause` / `rollout abort` take effect between waves.
        if i > 0 {
            let now = ctx
                .store
                .get_rollout(ctx.rollout)
                .await
                .map_err(store_failure)?;
            match now.map(|r| r.state).as_deref() {
                Some("running") => {}
                Some("paused") => return Ok((ends, Some(Halt::Paused(i + 1)))),
                // Aborting, or already ended by `rollout abort`: hands off.
                _ => return Ok((ends, Some(Halt::Aborted))),
            }
        }
        // Hosts of this wave already settled (resume) are not patched again.
        let names: Vec<&str> = wave
            .iter()
            .map(String::as_str)
            .filter(|h| !ends.iter().any(|e| e.host == *h))
            .collect();
        let settled: Vec<HostEnd> = ends.iter().filter(|e| e.wave == i + 1).cloned().collect();
        ends.retain(|e| e.wave != i + 1);
        progress(
            g,
            &format!("wave {}/{}: {}", i + 1, waves.len(), names.join(", ")),
        );
        let results = fw
            .each_of(&names, |b, t| {
                let ctx = &ctx;
                async move { Ok(ctx.patch_host(g, &b, &t).await) }
            })
            .await;
        let mut wave_ends: Vec<HostEnd> = results
            .into_iter()
            .map(|(host, r)| match r {
                Ok((state, detail)) => HostEnd {
                    host,
                    wave: i + 1,
                    state,
                    detail,
                },
                Err(e) => HostEnd {
                    host,
                    wave: i + 1,
                    state: HostState::Failed,
                    detail: e.to_string(),
                },
            })
            .collect();
        wave_ends.extend(settled);
        let mut failed = wave_ends
            .iter()
            .filter(|e| e.state != HostState::Verified)
            .count();
        if failed == 0 && !bake.is_zero() {
            progress(
                g,
                &format!(
                    "wave {}: baking {}",
                    i + 1,
                    humantime::format_duration(bake)
                ),
            );
            tokio::time::sleep(bake).await;
            // An abort during the bake has taken the hosts over.
            let now = ctx
                .store
                .get_rollout(ctx.rollout)
                .await
                .map_err(store_failure)?;
            if now.is_none_or(|r| r.state != "running" && r.state != "paused") {
                ends.extend(wave_ends);
                return Ok((ends, Some(Halt::Aborted)));
            }
            for e in &mut wave_ends {
                let regressions = ctx.verify_again(&e.host).await?;
                if !regressions.is_empty() {
                    e.state = HostState::Failed;
                    e.detail = format!("after the bake: {}", regressions.join("; "));
                }
            }
            failed = wave_ends
                .iter()
                .filter(|e| e.state != HostState::Verified)
                .count();
            if failed == 0 {
                // `rollout resume` bakes again a wave whose bake has no end on record.
                let baked = NewEvent {
                    subject: format!("R-{}", ctx.rollout),
                    ..event(ctx.actor, "rollout.wave.baked", json!({"wave": i + 1}))
                };
                ctx.store.append(baked).await.map_err(store_failure)?;
            }
        }
        if failed > usize::try_from(config.patch.max_failed_hosts).unwrap_or(usize::MAX)
            || failed > 0 && i == 0
        {
            stopped = Some(format!("wave {} failed on {failed} host(s)", i + 1));
        }
        if stopped.is_some() {
            if config.patch.rollback_auto {
                // The failing hosts, or every changed host of the wave (`rollback_scope: wave`).
                let failing: Vec<&str> = wave_ends
                    .iter()
                    .filter(|e| {
                        e.state == HostState::Failed
                            || (config.patch.rollback_wave && e.state == HostState::Verified)
                    })
                    .map(|e| e.host.as_str())
                    .collect();
                let from: Vec<(String, HostState)> = wave_ends
                    .iter()
                    .map(|e| (e.host.clone(), e.state))
                    .collect();
                let back = fw
                    .each_of(&failing, |b, t| {
                        let ctx = &ctx;
                        let state = from
                            .iter()
                            .find(|(h, _)| h == t.name)
                            .map_or(HostState::Failed, |(_, s)| *s);
                        async move { Ok(ctx.roll_back(g, &b, &t, state).await) }
                    })
                    .await;
                for (host, r) in back {
                    if let Some(e) = wave_ends.iter_mut().find(|e| e.host == host) {
                        match r {
                            Ok((state, detail)) => {
                                e.state = state;
                                e.detail = format!("{}; {detail}", e.detail);
                            }
                            Err(err) => {
                                e.state = HostState::RollbackFailed;
                                e.detail = format!("{}; {err}", e.detail);
                            }
                        }
                    }
                }
            }
            // `bisect: auto`: the canary, back on its snapshot, names the culprit.
            let bisect = if i == 0 && config.patch.bisect_auto {
                ctx.bisect_canary(g, config, fw, &wave_ends).await
            } else {
                None
            };
            ends.extend(wave_ends);
            return Ok((ends, stopped.map(|why| Halt::Stopped { why, bisect })));
        }
        ends.extend(wave_ends);
    }
    Ok((ends, None))
}

/// Why the wave driver returned before the last wave.
#[derive(Debug)]
enum Halt {
    /// A wave failed; the canary's bisect, if one ran.
    Stopped { why: String, bisect: Option<Value> },
    /// `rollout pause` asked to stop before this wave (1-based).
    Paused(usize),
    /// `rollout abort` asked to stop; the abort rolls the hosts back.
    Aborted,
}

/// Turn the driver's halt into the command's end: a pause or an abort leaves the rest to
/// `rollout resume` / `rollout abort`; anything else completes the change.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per command; a struct would only rename them"
)]
async fn conclude(
    g: &Global,
    config: &Config,
    store: &Store,
    actor: &str,
    change: &str,
    r: u64,
    pins: &[String],
    waves: &[Vec<String>],
    ends: &[HostEnd],
    halt: Option<Halt>,
) -> Result<Outcome, Failure> {
    match halt {
        Some(Halt::Paused(wave)) => {
            print(&format!(
                "R-{r} paused before wave {wave}; `fearless rollout resume R-{r}` continues, `fearless rollout abort R-{r}` backs out\n"
            ))?;
            Ok(Outcome::Failed)
        }
        Some(Halt::Aborted) => {
            print(&format!(
                "R-{r} is being aborted: `fearless rollout abort R-{r}` rolls its hosts back\n"
            ))?;
            Ok(Outcome::Failed)
        }
        Some(Halt::Stopped { why, bisect }) => {
            finish(
                g,
                config,
                store,
                actor,
                change,
                r,
                pins,
                waves,
                ends,
                Some(&why),
                true,
                bisect,
            )
            .await
        }
        None => {
            finish(
                g, config, store, actor, change, r, pins, waves, ends, None, true, None,
            )
            .await
        }
    }
}

/// Complete the change with the rollout's outcome, record the rollout's end, print.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per command; a struct would only rename them"
)]
async fn finish(
    g: &Global,
    config: &Config,
    store: &Store,
    actor: &str,
    change: &str,
    r: u64,
    pins: &[String],
    waves: &[Vec<String>],
    ends: &[HostEnd],
    stopped: Option<&str>,
    open_incident: bool,
    bisect: Option<Value>,
) -> Result<Outcome, Failure> {
    let (code, rollout_state) = match &stopped {
        None => (CloseCode::Successful, "completed"),
        Some(_) if ends.iter().any(|e| e.state == HostState::RollbackFailed) => {
            (CloseCode::Unsuccessful, "failed")
        }
        Some(_) => (CloseCode::BackedOut, "backed-out"),
    };
    let (stored_now, record_now) = load(store, change).await?;
    advance(
        config,
        store,
        actor,
        &stored_now,
        &record_now,
        Command::Complete {
            code,
            notes: Some(match &stopped {
                None => format!("R-{r}: every wave passed"),
                Some(why) => format!("R-{r}: {why}; failing hosts rolled back"),
            }),
        },
    )
    .await?;
    // A stopped rollout opens an incident with what it knows (the RCA builds on it).
    let incident = match stopped {
        Some(why) if open_incident => {
            let failing: Vec<&HostEnd> = ends
                .iter()
                .filter(|e| e.state != HostState::Verified)
                .collect();
            let (milestones, mitigated) = milestones(store, r, &failing).await?;
            let record = json!({
                "title": format!("{change}: rollout R-{r} stopped: {why}"),
                "opened_by": format!("R-{r}"),
                "change": change,
                "rollout": format!("R-{r}"),
                "wave": failing.first().map(|e| e.wave),
                "manifest": pins,
                "hosts": failing,
                "bisect": bisect,
                "milestones": milestones,
            });
            let stored = store
                .insert_incident(
                    if mitigated { "mitigated" } else { "open" },
                    &record,
                    event(
                        actor,
                        "incident.opened",
                        json!({"rollout": format!("R-{r}"), "change": change}),
                    ),
                )
                .await
                .map_err(store_failure)?;
            Some(format!("INC-{}", stored.number))
        }
        _ => None,
    };
    let events = super::events::events_for(config);
    let sent = fearless_events::Event::for_change(
        format!("fearless.rollout.{rollout_state}.v1"),
        fearless_events::local_source(),
        change,
        json!({"rollout": format!("R-{r}"), "manifest": pins, "hosts": ends, "incident": incident}),
    )
    .severity(if stopped.is_some() {
        fearless_events::Severity::Error
    } else {
        fearless_events::Severity::Info
    });
    super::events::emit(&events, &sent).await;
    if let Some(inc) = &incident {
        let opened = fearless_events::Event::for_change(
            "fearless.incident.opened.v1",
            fearless_events::local_source(),
            change,
            json!({"incident": inc, "rollout": format!("R-{r}"), "reason": stopped}),
        )
        .severity(fearless_events::Severity::Warning);
        super::events::emit(&events, &opened).await;
    }
    let summary = json!({
        "incident": incident,
        "change": change,
        "manifest": pins,
        "waves": waves,
        "hosts": ends,
        "stopped": stopped,
    });
    let now = store
        .get_rollout(r)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| Failure::Environment(anyhow::anyhow!("rollout R-{r} vanished")))?;
    let mut record_now = now.record.clone();
    if let Some(o) = record_now.as_object_mut() {
        o.insert("result".into(), summary.clone());
    }
    store
        .update_rollout(
            r,
            now.version,
            rollout_state,
            &record_now,
            event(
                actor,
                &format!("rollout.{rollout_state}"),
                json!({"stopped": stopped, "code": code.as_str()}),
            ),
        )
        .await
        .map_err(store_failure)?;

    if g.format == Format::Json {
        print_json(
            &json!({"schema": "fearless.rollout/v1", "rollout": format!("R-{r}"), "state": rollout_state, "result": summary}),
        )?;
    } else {
        let mut t = render::table(&["HOST", "WAVE", "STATE", "DETAIL"]);
        for e in ends {
            t.add_row(vec![
                e.host.clone().into(),
                e.wave.to_string().into(),
                render::colored(&e.state.to_string(), Some(e.state == HostState::Verified)),
                e.detail.clone().into(),
            ]);
        }
        let untouched: Vec<&str> = waves
            .iter()
            .flatten()
            .filter(|h| !ends.iter().any(|e| &e.host == *h))
            .map(String::as_str)
            .collect();
        let mut text = format!(
            "{t}\nR-{r} {rollout_state}: {change} closed {}\n",
            code.as_str()
        );
        if !untouched.is_empty() {
            text.push_str(&format!("not touched: {}\n", untouched.join(", ")));
        }
        if let Some(inc) = &incident {
            text.push_str(&format!("{inc} opened (fearless incident show {inc})\n"));
        }
        print(&text)?;
    }
    Ok(if stopped.is_some() {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// The milestones of a stopped rollout's incident, from its journal: impact started when
/// the manifest landed on the first failing host, was detected at the first failed check,
/// and was mitigated when the last failing host was back on its snapshot, passing — if
/// every one of them is.
async fn milestones(store: &Store, r: u64, failing: &[&HostEnd]) -> Result<(Value, bool), Failure> {
    let entries = journal_of(store, format!("R-{r}")).await?;
    let of_failing = |kind: &'static str| {
        entries
            .iter()
            .filter(|e| {
                e.kind == kind
                    && failing
                        .iter()
                        .any(|f| e.payload["host"].as_str() == Some(f.host.as_str()))
            })
            .collect::<Vec<_>>()
    };
    let now = jiff::Timestamp::now().to_string();
    let started = of_failing("rollout.host.applied")
        .first()
        .map(|e| e.time.clone())
        .or_else(|| {
            of_failing("rollout.host.applying")
                .first()
                .map(|e| e.time.clone())
        });
    let detected = of_failing("rollout.host.failed")
        .first()
        .map_or_else(|| now.clone(), |e| e.time.clone());
    let mitigated = !failing.is_empty()
        && failing
            .iter()
            .all(|f| f.state == HostState::RolledBack || f.state == HostState::Pending);
    let mut m = json!({"detected": detected});
    if let Some(s) = started {
        m["started"] = Value::String(s);
    }
    if mitigated {
        m["mitigated"] = of_failing("rollout.host.rolled-back").last().map_or_else(
            || Value::String(now.clone()),
            |e| Value::String(e.time.clone()),
        );
    }
    Ok((m, mitigated))
}

/// A change that may not start yet is a gate (exit 1), whatever the reason.
fn gate(e: ChangeError) -> Failure {
    match e {
        ChangeError::IllegalTransition { .. } => Failure::Gate {
            message: format!("{e}: only an approved, scheduled change can be patched"),
            hint: Some("submit, approve (by someone else) and schedule it first".into()),
        },
        other => match change_failure(other) {
            Failure::BadInput { message, hint } => Failure::Gate { message, hint },
            f => f,
        },
    }
}

fn event(actor: &str, kind: &str, payload: Value) -> NewEvent {
    NewEvent {
        actor: actor.to_owned(),
        kind: kind.to_owned(),
        subject: String::new(),
        payload,
    }
}

/// The components in scope and those that depend on them (their checks prove the change).
fn in_scope(config: &Config, record: &ChangeRecord, hosts: &[Host]) -> Vec<String> {
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

fn runs_on(config: &Config, component: &str, host: &Host) -> bool {
    config
        .components
        .get(component)
        .and_then(|c| c.runs_on.as_ref())
        .is_some_and(|sel| sel.matches(host, &config.inventory.groups))
}

/// The frozen manifest: every pending update (or only security ones), at the highest
/// version any host is offered, minus excluded names. One package family per rollout.
fn freeze(
    pre: &[(String, Preflight)],
    exclude: &[String],
    security: bool,
) -> Result<Option<Manifest>, Failure> {
    let kinds: BTreeSet<String> = pre
        .iter()
        .map(|(_, p)| p.manager.kind().to_string())
        .collect();
    if kinds.len() > 1 {
        return Err(Failure::bad_input(
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
            Failure::Environment(anyhow::anyhow!(
                "a host offered an update fearless cannot pin: {e}"
            ))
        })
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, name: &str) -> bool {
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

fn plan_text(
    record: &ChangeRecord,
    manifest: &Manifest,
    waves: &[Vec<String>],
    bake: Duration,
    policy: &PatchPolicy,
    baseline_failures: &[String],
) -> String {
    let mut s = format!(
        "{}: {}\nmanifest ({} pin(s)):\n",
        record.id(),
        record.title,
        manifest.pins.len()
    );
    for p in &manifest.pins {
        s.push_str(&format!("  {p}\n"));
    }
    s.push_str(&format!(
        "waves (bake {} each):\n",
        humantime::format_duration(bake)
    ));
    for (i, w) in waves.iter().enumerate() {
        s.push_str(&format!("  {}: {}\n", i + 1, w.join(", ")));
    }
    s.push_str(&match policy.reboot {
        RebootPolicy::Never => {
            "reboots: never (a host that needs one fails and is rolled back)\n".to_owned()
        }
        RebootPolicy::IfRequired => format!(
            "reboots: if required (a host must be back within {})\n",
            humantime::format_duration(policy.reboot_timeout)
        ),
    });
    if baseline_failures.is_empty() {
        s.push_str("baseline: every check passes\n");
    } else {
        s.push_str(&format!(
            "baseline: {} failing check(s):\n",
            baseline_failures.len()
        ));
        for f in baseline_failures {
            s.push_str(&format!("  {f}\n"));
        }
    }
    s
}

/// `patch.reboot` in the plan's JSON.
fn reboot_policy_json(policy: &PatchPolicy) -> Value {
    match policy.reboot {
        RebootPolicy::Never => json!({"policy": "never"}),
        RebootPolicy::IfRequired => json!({
            "policy": "if-required",
            "timeout": humantime::format_duration(policy.reboot_timeout).to_string(),
        }),
    }
}

fn describe_check(r: &CheckResult) -> String {
    let host = r
        .host
        .as_deref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default();
    if r.message.is_empty() {
        format!("{}/{}{host}: {}", r.component, r.check, r.status.as_str())
    } else {
        format!(
            "{}/{}{host}: {} ({})",
            r.component,
            r.check,
            r.status.as_str(),
            r.message
        )
    }
}

/// The checks of the components in scope, on the rollout's hosts.
struct Checks {
    runner: Runner,
    items: Vec<PlanItem>,
}

impl Checks {
    fn new(config: &Config, components: &[String], hosts: &[Host]) -> Result<Self, Failure> {
        let items = runner::plan(
            config,
            &Selection {
                hosts: None,
                components: components.to_vec(),
            },
        )
        .map_err(|e| Failure::bad_input(e.to_string(), None))?
        .into_iter()
        .filter(|i| {
            i.host
                .as_ref()
                .is_none_or(|h| hosts.iter().any(|x| x.name == h.name))
        })
        .collect();
        let runner = Runner::new(config).map_err(|e| {
            Failure::Environment(anyhow::anyhow!("cannot set up network checks: {e}"))
        })?;
        Ok(Self { runner, items })
    }

    async fn run_all(&self) -> Vec<CheckResult> {
        self.runner.run(&self.items, &|_| {}).await
    }

    /// The checks about `host`.
    async fn run_host(&self, host: &str) -> Vec<CheckResult> {
        let items: Vec<PlanItem> = self
            .items
            .iter()
            .filter(|i| i.host.as_ref().is_some_and(|h| h.name == host))
            .cloned()
            .collect();
        self.runner.run(&items, &|_| {}).await
    }

    async fn close(self) {
        self.runner.close().await;
    }
}

/// A host's regressions against the baseline.
#[derive(Debug, Default)]
struct Regressions {
    /// One line each, for people.
    lines: Vec<String>,
    /// The same, as data: component, check, host, before, after, reason, message.
    checks: Vec<Value>,
}

impl Regressions {
    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn joined(&self) -> String {
        self.lines.join("; ")
    }
}

/// What every host step needs.
struct Ctx<'a> {
    store: &'a Store,
    actor: &'a str,
    rollout: u64,
    manifest: &'a Manifest,
    checks: &'a Checks,
    baseline: &'a Baseline,
    /// What the preflight prepared per host (a resumed rollout has none: it plans again).
    prepared: BTreeMap<String, ops::Prepared>,
    /// `patch:` of the config (reboots).
    policy: &'a PatchPolicy,
}

impl Ctx<'_> {
    /// Record a step (compare-and-set in the store, journaled) and return the new state.
    async fn step(
        &self,
        host: &str,
        from: HostState,
        step: Step,
        snapshot: Option<u64>,
        detail: Value,
    ) -> Result<HostState, String> {
        let to = from.on(step).map_err(|e| e.to_string())?;
        self.store
            .move_host(
                self.rollout,
                host,
                &from.to_string(),
                &to.to_string(),
                snapshot,
                event(
                    self.actor,
                    &format!("rollout.host.{to}"),
                    json!({"host": host, "from": from.to_string(), "to": to.to_string(), "detail": detail}),
                ),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(to)
    }

    /// Regressions of `host` against the baseline: one line each, and the same as data
    /// (journaled with the failure, for the RCA report).
    async fn regressions(&self, host: &str) -> Regressions {
        let results = self.checks.run_host(host).await;
        let diff = self.baseline.diff(&results);
        let mut out = Regressions::default();
        for c in &diff.regressions {
            let now = results
                .iter()
                .find(|r| r.component == c.component && r.check == c.check && r.host == c.host);
            out.lines.push(now.map_or_else(
                || format!("{}/{}: {}", c.component, c.check, c.after.as_str()),
                describe_check,
            ));
            out.checks.push(json!({
                "component": c.component,
                "check": c.check,
                "host": c.host,
                "before": c.before.map(|b| b.as_str()),
                "after": c.after.as_str(),
                "reason": now.and_then(|r| r.reason.as_ref()),
                "message": now.map(|r| r.message.as_str()),
            }));
        }
        out
    }

    /// Take `steps` from `state`, one compare-and-set each.
    async fn walk(
        &self,
        host: &str,
        mut state: HostState,
        steps: &[Step],
    ) -> Result<HostState, String> {
        for step in steps {
            state = self.step(host, state, *step, None, json!({})).await?;
        }
        Ok(state)
    }

    /// Record `why` as the failure of a host that was applying or verifying.
    async fn failed(&self, host: &str, state: HostState, why: String) -> (HostState, String) {
        let to = match state {
            HostState::Applying | HostState::Applied | HostState::Verifying => self
                .step(host, state, Step::Fail, None, json!({"error": why}))
                .await
                .unwrap_or(state),
            HostState::Pending | HostState::Snapshotted => HostState::Failed,
            other => other,
        };
        (to, why)
    }

    /// Snapshot, apply, verify one host. Never fails as a whole: the end state says.
    async fn patch_host(
        &self,
        g: &Global,
        b: &fearless_pkg::Backend,
        t: &fearless_pkg::Target<'_>,
    ) -> (HostState, String) {
        let host = t.name;
        let state = HostState::Pending;
        let set = match ops::package_set(b, t).await {
            Ok(set) => set,
            Err(e) => return self.failed(host, state, e.to_string()).await,
        };
        let snap = match self
            .store
            .insert_snapshot(
                &json!({"hosts": {host: set}, "errors": {}, "rollout": format!("R-{}", self.rollout)}),
                event(self.actor, "snapshot.taken", json!({"hosts": [host], "rollout": format!("R-{}", self.rollout)})),
            )
            .await
        {
            Ok(s) => s.number,
            Err(e) => return self.failed(host, state, e.to_string()).await,
        };
        let state = match self
            .step(
                host,
                state,
                Step::Snapshot,
                Some(snap),
                json!({"snapshot": format!("SNAP-{snap}")}),
            )
            .await
        {
            Ok(s) => s,
            Err(e) => return self.failed(host, state, e).await,
        };
        let state = match self
            .step(
                host,
                state,
                Step::Apply,
                None,
                json!({"manifest": self.manifest.pins.len()}),
            )
            .await
        {
            Ok(s) => s,
            Err(e) => return self.failed(host, state, e).await,
        };
        progress(g, &format!("{host}: applying (snapshot SNAP-{snap})"));
        self.apply_from(g, b, t, state, Some(set)).await
    }

    /// From `applying`: apply the manifest, then verify.
    /// `before`: the package set the snapshot just recorded (read again when `None`).
    async fn apply_from(
        &self,
        g: &Global,
        b: &fearless_pkg::Backend,
        t: &fearless_pkg::Target<'_>,
        state: HostState,
        before: Option<PackageSet>,
    ) -> (HostState, String) {
        let host = t.name;
        let before = match before {
            Some(set) => set,
            None => match ops::package_set(b, t).await {
                Ok(set) => set,
                Err(e) => return self.failed(host, state, e.to_string()).await,
            },
        };
        // The host's checks start as soon as the transaction is done, beside the package
        // reads that follow it; they are journaled (verifying, then verified or failed)
        // after `applied`, as the state machine says.
        let applied = ops::apply_then(
            b,
            t,
            self.manifest,
            before,
            self.prepared.get(host),
            self.regressions(host),
        )
        .await;
        let (report, regressions) = match applied {
            Ok(done) => done,
            Err(e) => return self.failed(host, state, e.to_string()).await,
        };
        let changed = report.changes.changed();
        let state = match self
            .step(
                host,
                state,
                Step::Applied,
                None,
                json!({
                    "changed": changed,
                    "restarts": report.restarts,
                    "package_manager_ms": u64::try_from(report.took.as_millis()).unwrap_or(u64::MAX),
                }),
            )
            .await
        {
            Ok(s) => s,
            Err(e) => return self.failed(host, state, e).await,
        };
        // Checks that ran before a reboot or a restart say nothing about the host after it.
        let (acted, stale) = match self.settle_host(g, b, t, &report.restarts).await {
            Ok(done) => done,
            Err(why) => return self.failed(host, state, why).await,
        };
        let regressions = if acted {
            self.regressions(host).await
        } else {
            regressions
        };
        let state = match self.step(host, state, Step::Verify, None, json!({})).await {
            Ok(s) => s,
            Err(e) => return self.failed(host, state, e).await,
        };
        let (state, detail) = self.judge(g, host, state, regressions).await;
        if state != HostState::Verified {
            return (state, detail);
        }
        match stale {
            None => (state, format!("{changed} package(s) changed")),
            Some(stale) => (state, format!("{changed} package(s) changed; {stale}")),
        }
    }

    /// From `verifying` after a crash: reboot or restart first if the host still needs it
    /// (the dead controller may not have got that far), then the host's checks against the
    /// baseline decide.
    async fn verify(
        &self,
        g: &Global,
        b: &fearless_pkg::Backend,
        t: &fearless_pkg::Target<'_>,
        state: HostState,
    ) -> (HostState, String) {
        let host = t.name;
        let needs = match b.restarts(t).await {
            Ok(r) => r,
            Err(e) => return self.failed(host, state, e.to_string()).await,
        };
        if let Err(why) = self.settle_host(g, b, t, &needs).await {
            return self.failed(host, state, why).await;
        }
        let regressions = self.regressions(host).await;
        self.judge(g, host, state, regressions).await
    }

    /// After the transaction, by policy: reboot a host that asks for it (`patch.reboot`),
    /// else restart what still runs replaced code (`patch.restart`). Returns whether it
    /// did either (the checks must run again), and what still runs replaced code, said for
    /// the operator (also shown as a warning). `Err`: why the host fails.
    async fn settle_host(
        &self,
        g: &Global,
        b: &fearless_pkg::Backend,
        t: &fearless_pkg::Target<'_>,
        needs: &fearless_pkg::backend::Restarts,
    ) -> Result<(bool, Option<String>), String> {
        let host = t.name;
        if needs.reboot_required == Some(true) {
            self.reboot(g, t, needs).await?;
            return Ok((true, None));
        }
        let stale = |r: &fearless_pkg::backend::Restarts| -> Vec<String> {
            r.services.iter().chain(&r.processes).cloned().collect()
        };
        if stale(needs).is_empty() {
            return Ok((false, None));
        }
        let acted = self.policy.restart_auto && self.restart(g, t, needs).await?;
        let reread;
        let left = if acted {
            reread = b.restarts(t).await.map_err(|e| e.to_string())?;
            &reread
        } else {
            needs
        };
        let left_over = stale(left);
        if left_over.is_empty() {
            return Ok((acted, None));
        }
        let said = format!(
            "still running replaced code ({}): {}; restart it or reboot",
            left.restart_source,
            left_over.join(", ")
        );
        progress(g, &format!("{host}: warning: {said}"));
        Ok((acted, Some(said)))
    }

    /// Restart the services that still run replaced code (journaled on the rollout as
    /// `rollout.restart.finished`): whether any was restarted. A restart that failed fails
    /// the host.
    async fn restart(
        &self,
        g: &Global,
        t: &fearless_pkg::Target<'_>,
        needs: &fearless_pkg::backend::Restarts,
    ) -> Result<bool, String> {
        let host = t.name;
        let done = fearless_pkg::restart::restart(t, needs)
            .await
            .map_err(|e| e.to_string())?;
        if done.is_empty() {
            return Ok(false);
        }
        let note = NewEvent {
            subject: format!("R-{}", self.rollout),
            ..event(
                self.actor,
                "rollout.restart.finished",
                json!({"host": host, "found_by": needs.restart_source, "done": done}),
            )
        };
        self.store.append(note).await.map_err(|e| e.to_string())?;
        if !done.restarted.is_empty() {
            progress(
                g,
                &format!(
                    "{host}: restarted {} (still on replaced code after the transaction)",
                    done.restarted.join(", ")
                ),
            );
        }
        if done.failed.is_empty() {
            Ok(!done.restarted.is_empty())
        } else {
            Err(format!(
                "restarting what runs replaced code failed: {}",
                done.failed.join(", ")
            ))
        }
    }

    /// A host that says it needs a reboot: rebooted and back on a new boot when
    /// `patch.reboot` allows it, else the reason it fails. Journaled on the rollout
    /// (`rollout.reboot.started`, `.finished`).
    async fn reboot(
        &self,
        g: &Global,
        t: &fearless_pkg::Target<'_>,
        restarts: &fearless_pkg::backend::Restarts,
    ) -> Result<(), String> {
        let host = t.name;
        let asked = if restarts.reboot_packages.is_empty() {
            restarts.reboot_source.clone()
        } else {
            format!(
                "{}: {}",
                restarts.reboot_source,
                restarts.reboot_packages.join(", ")
            )
        };
        if self.policy.reboot == RebootPolicy::Never {
            return Err(format!(
                "a reboot is required ({asked}) and patch.reboot is `never`; \
                 `patch.reboot: if-required` lets the rollout reboot it"
            ));
        }
        progress(g, &format!("{host}: rebooting ({asked})"));
        let mark = |kind: &str, detail: Value| NewEvent {
            subject: format!("R-{}", self.rollout),
            ..event(self.actor, kind, detail)
        };
        let timeout = self.policy.reboot_timeout;
        // The token is journaled first: `rollout resume` after a crash from here on tells
        // by it whether the reboot ran.
        let token = fearless_pkg::reboot::new_token();
        self.store
            .append(mark(
                "rollout.reboot.started",
                json!({"host": host, "asked": asked, "timeout_s": timeout.as_secs(), "token": token}),
            ))
            .await
            .map_err(|e| e.to_string())?;
        let rebooted = fearless_pkg::reboot::reboot(t, &token, timeout).await;
        let detail = match &rebooted {
            Ok(r) => json!({
                "host": host,
                "ok": true,
                "command": r.command,
                "ms": u64::try_from(r.took.as_millis()).unwrap_or(u64::MAX),
                "new_boot_id": r.new_boot_id,
            }),
            Err(e) => json!({"host": host, "ok": false, "error": e.to_string()}),
        };
        self.store
            .append(mark("rollout.reboot.finished", detail))
            .await
            .map_err(|e| e.to_string())?;
        // The checks reach the host over connections of their own, which died with it too.
        self.checks.runner.reconnect(host).await;
        let r = rebooted.map_err(|e| e.to_string())?;
        progress(
            g,
            &format!(
                "{host}: back after {:.1}s ({})",
                r.took.as_secs_f64(),
                r.command
            ),
        );
        Ok(())
    }

    /// From `verifying`, with the host's regressions against the baseline.
    async fn judge(
        &self,
        g: &Global,
        host: &str,
        state: HostState,
        regressions: Regressions,
    ) -> (HostState, String) {
        if !regressions.is_empty() {
            let why = regressions.joined();
            progress(g, &format!("{host}: FAILED {why}"));
            let to = self
                .step(
                    host,
                    state,
                    Step::Fail,
                    None,
                    json!({"error": why, "checks": regressions.checks}),
                )
                .await
                .unwrap_or(state);
            return (to, why);
        }
        match self.step(host, state, Step::Pass, None, json!({})).await {
            Ok(s) => {
                progress(g, &format!("{host}: verified"));
                (s, "verified".into())
            }
            Err(e) => self.failed(host, state, e).await,
        }
    }

    /// Bring a host found in `state` after a crash to a consistent end, by the rule of
    /// [`fearless_rollout::recover`]: never applying when the manifest is already there.
    async fn recover_host(
        &self,
        g: &Global,
        b: &fearless_pkg::Backend,
        t: &fearless_pkg::Target<'_>,
        state: HostState,
    ) -> (HostState, String) {
        let host = t.name;
        // The dead controller was rebooting it: it may still be on its way back.
        if let Some(started) = self.unfinished(host, "reboot").await
            && let Err(why) = self.settle_reboot(g, t, &started).await
        {
            return (state, why);
        }
        // A transaction the dead controller started may still be running: its end is the
        // host's state, so wait for it before reading.
        match fearless_pkg::backend::wait_for_lock(t).await {
            Ok(None) => {}
            Ok(Some(holder)) => {
                return (
                    state,
                    format!(
                        "the package lock is still held by {holder}; resume again once it is free"
                    ),
                );
            }
            Err(e) => return (state, format!("cannot look for the package lock: {e}")),
        }
        let live = match ops::package_set(b, t).await {
            Ok(set) => set,
            Err(e) => return (state, format!("cannot read its packages: {e}")),
        };
        let kind = b.manager().kind();
        let at_manifest = self.manifest.pins.iter().all(|pin| {
            live.packages
                .iter()
                .any(|p| p.name == pin.name && ops::matches_pin(kind, &p.version, &pin.version))
        });
        let at_snapshot = match self.snapshot_of(host).await {
            Ok(snap) => snap.canonical() == live.canonical(),
            Err(_) => false,
        };
        let action = fearless_rollout::recover(
            state,
            fearless_rollout::Live {
                at_snapshot,
                at_manifest,
            },
        );
        progress(g, &format!("{host}: found {state}; {action:?}"));
        use HostState as S;
        use fearless_rollout::Recovery as R;
        match action {
            R::Untouched | R::Done => (state, format!("{state}, unchanged")),
            // The controller died bisecting the rolled-back canary: finish the restore.
            R::Investigate(_)
                if state == S::RolledBack && self.unfinished(host, "bisect").await.is_some() =>
            {
                self.restore_snapshot(g, b, t).await
            }
            R::Investigate(why) => (state, why),
            R::Apply => {
                let steps: &[Step] = if state == S::Snapshotted {
                    &[Step::Apply]
                } else {
                    &[]
                };
                match self.walk(host, state, steps).await {
                    Ok(s) => self.apply_from(g, b, t, s, None).await,
                    Err(e) => (state, e),
                }
            }
            R::Verify => {
                let steps: &[Step] = match state {
                    S::Snapshotted => &[Step::Apply, Step::Applied, Step::Verify],
                    S::Applying => &[Step::Applied, Step::Verify],
                    S::Applied => &[Step::Verify],
                    _ => &[],
                };
                match self.walk(host, state, steps).await {
                    Ok(s) => self.verify(g, b, t, s).await,
                    Err(e) => (state, e),
                }
            }
            R::RollBack | R::RecordRolledBack => {
                let steps: &[Step] = match state {
                    S::Applying | S::Applied | S::Verifying => &[Step::Fail],
                    _ => &[],
                };
                match self.walk(host, state, steps).await {
                    Ok(s) => self.roll_back(g, b, t, s).await,
                    Err(e) => (state, e),
                }
            }
        }
    }

    /// Re-run a verified host's checks (end of the bake); its regressions, if any, after
    /// recording the host as failed.
    async fn verify_again(&self, host: &str) -> Result<Vec<String>, Failure> {
        let gate = |e: String| Failure::Environment(anyhow::anyhow!("{host}: {e}"));
        let state = self
            .step(
                host,
                HostState::Verified,
                Step::Verify,
                None,
                json!({"bake": "end"}),
            )
            .await
            .map_err(gate)?;
        let regressions = self.regressions(host).await;
        let step = if regressions.is_empty() {
            Step::Pass
        } else {
            Step::Fail
        };
        self.step(
            host,
            state,
            step,
            None,
            json!({"regressions": regressions.lines, "checks": regressions.checks}),
        )
        .await
        .map_err(gate)?;
        Ok(regressions.lines)
    }

    /// Roll a host back to the snapshot recorded for it, and verify. `state` is `failed`
    /// or `rolling-back` (an interrupted rollback is simply done again: it is exact).
    async fn roll_back(
        &self,
        g: &Global,
        b: &fearless_pkg::Backend,
        t: &fearless_pkg::Target<'_>,
        state: HostState,
    ) -> (HostState, String) {
        let host = t.name;
        // A host that failed before it was applied to (unreachable, say) has nothing to undo.
        if let Ok(rows) = self.store.rollout_hosts(self.rollout).await
            && rows.iter().any(|r| {
                r.host == host
                    && (r.state == HostState::Pending.to_string()
                        || r.state == HostState::Snapshotted.to_string())
            })
        {
            return (
                HostState::Failed,
                "nothing to roll back: it failed before any change".into(),
            );
        }
        let state = if state == HostState::RollingBack {
            state
        } else {
            match self
                .step(host, state, Step::RollBack, None, json!({}))
                .await
            {
                Ok(s) => s,
                Err(e) => return (state, e),
            }
        };
        let finish = |ok: bool, why: String| async move {
            let step = if ok {
                Step::RolledBack
            } else {
                Step::RollbackFailed
            };
            let to = self
                .step(host, state, step, None, json!({"detail": why}))
                .await
                .unwrap_or(if ok {
                    HostState::RolledBack
                } else {
                    HostState::RollbackFailed
                });
            (to, why)
        };
        let target = match self.snapshot_of(host).await {
            Ok(s) => s,
            Err(e) => return finish(false, e).await,
        };
        progress(g, &format!("{host}: rolling back"));
        if let Err(e) = ops::rollback(b, t, &target, Options::default()).await {
            return finish(false, format!("rollback failed: {e}")).await;
        }
        let regressions = self.regressions(host).await;
        if regressions.is_empty() {
            progress(g, &format!("{host}: rolled back and verified"));
            finish(true, "rolled back to its snapshot, checks pass".into()).await
        } else {
            finish(
                false,
                format!("rolled back, but still failing: {}", regressions.joined()),
            )
            .await
        }
    }

    /// `bisect: auto` after a failed canary: on the first canary host that is back on its
    /// snapshot and passing, bisect the manifest against the checks that failed there (read
    /// from its `failed` step in the journal). The host ends on its snapshot again. Returns
    /// what the incident keeps; a bisect that cannot run is said on stderr and skipped.
    async fn bisect_canary(
        &self,
        g: &Global,
        config: &Config,
        fw: &Fleetwide,
        wave: &[HostEnd],
    ) -> Option<Value> {
        let host = wave.iter().find(|e| e.state == HostState::RolledBack)?;
        let host = host.host.as_str();
        let entries = journal_of(self.store, format!("R-{}", self.rollout))
            .await
            .ok()?;
        let failed = entries.iter().rev().find(|e| {
            e.kind == "rollout.host.failed" && e.payload["host"].as_str() == Some(host)
        })?;
        let wanted: Vec<(String, String)> = failed.payload["detail"]["checks"]
            .as_array()?
            .iter()
            .filter_map(|c| {
                Some((
                    c["component"].as_str()?.to_owned(),
                    c["check"].as_str()?.to_owned(),
                ))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return None;
        }
        let skip = |why: String| {
            progress(g, &format!("{host}: no bisect: {why}"));
            None
        };
        let items = match super::bisect::check_items(config, host, &wanted) {
            Ok(items) => items,
            Err(e) => return skip(e.to_string()),
        };
        let target = match self.snapshot_of(host).await {
            Ok(t) => t,
            Err(e) => return skip(e),
        };
        progress(
            g,
            &format!(
                "{host}: bisecting {} package(s) against {} check(s)",
                self.manifest.pins.len(),
                wanted.len()
            ),
        );
        // Marked on the rollout, so that `rollout resume` after a crash mid-bisect knows
        // the host's packages are a bisect round's, and restores its snapshot.
        let mark = |kind: &str| NewEvent {
            subject: format!("R-{}", self.rollout),
            ..event(self.actor, kind, json!({"host": host}))
        };
        if let Err(e) = self.store.append(mark("rollout.bisect.started")).await {
            return skip(e.to_string());
        }
        let (target_ref, items_ref) = (&target, &items);
        let mut results = fw
            .each_of(&[host], |b, t| async move {
                super::bisect::on_host(
                    g,
                    &b,
                    &t,
                    target_ref,
                    self.manifest,
                    &self.checks.runner,
                    items_ref,
                    false,
                )
                .await
            })
            .await;
        let report = match results.pop() {
            Some((_, Ok(report))) => report,
            Some((_, Err(e))) => {
                // Never leave the canary on a bisect round's packages.
                let (state, detail) = self.restore_after_bisect(g, fw, host).await;
                return skip(format!("{e}; {host} is {state}: {detail}"));
            }
            None => return None,
        };
        if let Err(e) = self.store.append(mark("rollout.bisect.finished")).await {
            progress(g, &format!("{host}: {e}"));
        }
        let checks: Vec<String> = wanted.iter().map(|(c, k)| format!("{c}/{k}")).collect();
        let kept = json!({
            "host": host,
            "checks": checks,
            "report": report,
            "at": jiff::Timestamp::now().to_string(),
        });
        let snapshot = self
            .store
            .rollout_hosts(self.rollout)
            .await
            .ok()
            .and_then(|rows| rows.into_iter().find(|r| r.host == host))
            .and_then(|r| r.snapshot)
            .map(|n| format!("SNAP-{n}"));
        let finished = NewEvent {
            subject: format!("host:{host}"),
            ..event(
                self.actor,
                "bisect.finished",
                json!({"rollout": format!("R-{}", self.rollout), "snapshot": snapshot, "manifest": self.manifest.pins.iter().map(ToString::to_string).collect::<Vec<_>>(), "checks": checks, "report": report}),
            )
        };
        if let Err(e) = self.store.append(finished).await {
            progress(
                g,
                &format!("{host}: the bisect could not be journaled: {e}"),
            );
        }
        Some(kept)
    }

    /// Put a rolled-back host whose bisect did not finish back on its snapshot, and verify.
    async fn restore_after_bisect(
        &self,
        g: &Global,
        fw: &Fleetwide,
        host: &str,
    ) -> (HostState, String) {
        let mut results = fw
            .each_of(&[host], |b, t| async move {
                Ok(self.restore_snapshot(g, &b, &t).await)
            })
            .await;
        match results.pop() {
            Some((_, Ok(end))) => end,
            Some((_, Err(e))) => (HostState::RolledBack, format!("cannot restore it: {e}")),
            None => (HostState::RolledBack, "cannot restore it".into()),
        }
    }

    /// Roll a `rolled-back` host to its snapshot again (exact, so harmless when it is
    /// there already) and verify; the state stays `rolled-back`, the journal says why.
    async fn restore_snapshot(
        &self,
        g: &Global,
        b: &fearless_pkg::Backend,
        t: &fearless_pkg::Target<'_>,
    ) -> (HostState, String) {
        let host = t.name;
        let target = match self.snapshot_of(host).await {
            Ok(s) => s,
            Err(e) => return (HostState::RolledBack, e),
        };
        progress(
            g,
            &format!("{host}: restoring its snapshot after an unfinished bisect"),
        );
        let detail = match ops::rollback(b, t, &target, Options::default()).await {
            Err(e) => {
                format!("an unfinished bisect left it off its snapshot, and restoring failed: {e}")
            }
            Ok(_) => {
                let regressions = self.regressions(host).await;
                if regressions.is_empty() {
                    "an unfinished bisect was undone: back on its snapshot, checks pass".into()
                } else {
                    format!(
                        "back on its snapshot after an unfinished bisect, but still failing: {}",
                        regressions.joined()
                    )
                }
            }
        };
        let note = NewEvent {
            subject: format!("R-{}", self.rollout),
            ..event(
                self.actor,
                "rollout.bisect.undone",
                json!({"host": host, "detail": detail}),
            )
        };
        if let Err(e) = self.store.append(note).await {
            progress(g, &format!("{host}: {e}"));
        }
        (HostState::RolledBack, detail)
    }

    /// The `started` entry's payload when `work` (`bisect`, `reboot`) of `host` started in
    /// this rollout and never finished (its last `rollout.WORK.*` entry is `started`).
    async fn unfinished(&self, host: &str, work: &str) -> Option<Value> {
        let entries = journal_of(self.store, format!("R-{}", self.rollout))
            .await
            .ok()?;
        let prefix = format!("rollout.{work}.");
        entries
            .into_iter()
            .rev()
            .find(|e| e.kind.starts_with(&prefix) && e.payload["host"].as_str() == Some(host))
            .filter(|e| e.kind.ends_with(".started"))
            .map(|e| e.payload)
    }

    /// A reboot the dead controller started (`started`: its journal payload): wait for the
    /// host to come back if the reboot ran, and journal how it ended.
    async fn settle_reboot(
        &self,
        g: &Global,
        t: &fearless_pkg::Target<'_>,
        started: &Value,
    ) -> Result<(), String> {
        use fearless_pkg::reboot::{Settled, settle};
        let host = t.name;
        let token = started["token"].as_str().unwrap_or_default();
        progress(
            g,
            &format!("{host}: was being rebooted; looking for its new boot"),
        );
        let settled = settle(t, token, self.policy.reboot_timeout).await;
        let detail = match &settled {
            Ok(Settled::Rebooted(waited)) => json!({
                "host": host,
                "ok": true,
                "resumed": true,
                "waited_ms": u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            }),
            Ok(Settled::NeverStarted) => json!({
                "host": host,
                "ok": false,
                "resumed": true,
                "error": "the controller died before the reboot command ran",
            }),
            Err(e) => json!({"host": host, "ok": false, "resumed": true, "error": e.to_string()}),
        };
        let note = NewEvent {
            subject: format!("R-{}", self.rollout),
            ..event(self.actor, "rollout.reboot.finished", detail)
        };
        self.store.append(note).await.map_err(|e| e.to_string())?;
        self.checks.runner.reconnect(host).await;
        match settled {
            Ok(Settled::Rebooted(_)) => {
                progress(g, &format!("{host}: back from its reboot"));
                Ok(())
            }
            Ok(Settled::NeverStarted) => {
                progress(g, &format!("{host}: its reboot never ran"));
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn snapshot_of(&self, host: &str) -> Result<PackageSet, String> {
        let hosts = self
            .store
            .rollout_hosts(self.rollout)
            .await
            .map_err(|e| e.to_string())?;
        let n = hosts
            .iter()
            .find(|h| h.host == host)
            .and_then(|h| h.snapshot)
            .ok_or_else(|| format!("no snapshot recorded for {host}"))?;
        let snap = self
            .store
            .get_snapshot(n)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("snapshot SNAP-{n} is missing"))?;
        serde_json::from_value(snap.record["hosts"][host].clone())
            .map_err(|e| format!("snapshot SNAP-{n} of {host} cannot be read: {e}"))
    }
}

fn rollout_number(id: &str) -> Result<u64, Failure> {
    id.strip_prefix("R-").unwrap_or(id).parse().map_err(|_| {
        Failure::bad_input(
            format!("`{id}` is not a rollout id"),
            Some("rollout ids look like R-3"),
        )
    })
}

/// A stored rollout, read back for `resume` and `abort`.
struct Loaded {
    record: fearless_store::Stored,
    manifest: Manifest,
    pins: Vec<String>,
    waves: Vec<Vec<String>>,
    components: Vec<String>,
    baseline: Baseline,
    bake: Duration,
    change: String,
    rows: Vec<fearless_store::RolloutHost>,
    hosts: Vec<Host>,
}

impl Loaded {
    async fn read(config: &Config, store: &Store, n: u64) -> Result<Self, Failure> {
        let record = store
            .get_rollout(n)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| {
                Failure::bad_input(
                    format!("there is no rollout R-{n}"),
                    Some("see `fearless rollout list`"),
                )
            })?;
        let corrupt = |what: &str| {
            Failure::Environment(anyhow::anyhow!(
                "rollout R-{n}: its record has no readable {what}"
            ))
        };
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
        };
        let rec = &record.record;
        let pins = strings(&rec["manifest"]).ok_or_else(|| corrupt("manifest"))?;
        let manifest = Manifest::parse(&format!("R-{n}"), &pins.join("\n"))
            .map_err(|_| corrupt("manifest"))?;
        let waves: Vec<Vec<String>> = rec["waves"]
            .as_array()
            .and_then(|ws| ws.iter().map(strings).collect())
            .ok_or_else(|| corrupt("waves"))?;
        let components = strings(&rec["components"]).ok_or_else(|| corrupt("components"))?;
        let baseline: Baseline =
            serde_json::from_value(rec["baseline"].clone()).map_err(|_| corrupt("baseline"))?;
        let bake = Duration::from_millis(rec["bake_ms"].as_u64().ok_or_else(|| corrupt("bake"))?);
        let change = rec["change"]
            .as_str()
            .ok_or_else(|| corrupt("change"))?
            .to_owned();
        let rows = store.rollout_hosts(n).await.map_err(store_failure)?;
        let mut hosts = Vec::new();
        for row in &rows {
            let h = config.inventory.hosts.get(&row.host).ok_or_else(|| {
                Failure::bad_input(
                    format!("R-{n}: host {} is no longer in the inventory", row.host),
                    None,
                )
            })?;
            hosts.push(h.clone());
        }
        Ok(Self {
            record,
            manifest,
            pins,
            waves,
            components,
            baseline,
            bake,
            change,
            rows,
            hosts,
        })
    }

    fn state_of(&self, host: &str) -> HostState {
        self.rows
            .iter()
            .find(|r| r.host == host)
            .and_then(|r| {
                HostState::ALL
                    .into_iter()
                    .find(|s| s.to_string() == r.state)
            })
            .unwrap_or(HostState::Pending)
    }

    fn wave_of(&self, host: &str) -> usize {
        self.rows
            .iter()
            .find(|r| r.host == host)
            .map_or(0, |r| r.wave as usize)
    }

    /// Move the rollout record to `state`, journaled.
    async fn set_state(&mut self, store: &Store, actor: &str, state: &str) -> Result<(), Failure> {
        let n = self.record.number;
        self.record = store
            .update_rollout(
                n,
                self.record.version,
                state,
                &self.record.record,
                event(actor, &format!("rollout.{state}"), json!({})),
            )
            .await
            .map_err(store_failure)?;
        Ok(())
    }
}

/// `rollout resume R`: settle the hosts a dead controller left mid-way, then go on (also
/// continues a paused rollout).
async fn resume(g: &Global, config: Config, store: &Store, id: &str) -> Result<Outcome, Failure> {
    let actor = identity(g)?;
    let n = rollout_number(id)?;
    let mut l = Loaded::read(&config, store, n).await?;
    match l.record.state.as_str() {
        "running" => {}
        "paused" => l.set_state(store, &actor, "running").await?,
        other => {
            print(&format!("R-{n} is {other}: nothing to resume\n"))?;
            return Ok(Outcome::Success);
        }
    }
    let checks = Checks::new(&config, &l.components, &l.hosts)?;
    let fw = Fleetwide::with_hosts(config.clone(), l.hosts.clone(), Limits::default().lock_wait);
    let ctx = Ctx {
        store,
        actor: &actor,
        rollout: n,
        manifest: &l.manifest,
        checks: &checks,
        baseline: &l.baseline,
        prepared: BTreeMap::new(),
        policy: &config.patch,
    };
    let touched: Vec<&str> = l
        .rows
        .iter()
        .filter(|r| r.state != HostState::Pending.to_string())
        .map(|r| r.host.as_str())
        .collect();
    progress(
        g,
        &format!("R-{n}: resuming; {} host(s) to settle", touched.len()),
    );
    let settled = fw
        .each_of(&touched, |b, t| {
            let ctx = &ctx;
            let state = l.state_of(t.name);
            async move { Ok(ctx.recover_host(g, &b, &t, state).await) }
        })
        .await;
    let mut ends: Vec<HostEnd> = settled
        .into_iter()
        .map(|(host, r)| {
            let (state, detail) = r.unwrap_or_else(|e| (HostState::Failed, e.to_string()));
            HostEnd {
                wave: l.wave_of(&host),
                host,
                state,
                detail,
            }
        })
        .collect();
    // Failed hosts the recovery could not settle are rolled back, as the run would have.
    let failing: Vec<&str> = ends
        .iter()
        .filter(|e| e.state == HostState::Failed)
        .map(|e| e.host.as_str())
        .collect();
    let back = fw
        .each_of(&failing, |b, t| {
            let ctx = &ctx;
            async move { Ok(ctx.roll_back(g, &b, &t, HostState::Failed).await) }
        })
        .await;
    for (host, r) in back {
        if let (Some(e), Ok((state, detail))) = (ends.iter_mut().find(|e| e.host == host), r) {
            e.state = state;
            e.detail = format!("{}; {detail}", e.detail);
        }
    }
    let (ends, halt) = if ends.iter().all(|e| e.state == HostState::Verified) {
        let mut first = l
            .waves
            .iter()
            .position(|w| w.iter().any(|h| !ends.iter().any(|e| &e.host == h)))
            .unwrap_or(l.waves.len());
        // The controller died baking the last settled wave: bake it again (and re-check)
        // before the next one; a bake is never skipped.
        if first > 0 && !l.bake.is_zero() && !baked(store, n, first).await? {
            progress(g, &format!("R-{n}: wave {first} was not done baking"));
            first -= 1;
        }
        drive(g, &config, &fw, &ctx, &l.waves, ends, first, l.bake).await?
    } else {
        let bad: Vec<String> = ends
            .iter()
            .filter(|e| e.state != HostState::Verified)
            .map(|e| format!("{} {}", e.host, e.state))
            .collect();
        (
            ends,
            Some(Halt::Stopped {
                why: format!("resumed with {}", bad.join(", ")),
                bisect: None,
            }),
        )
    };
    checks.close().await;
    fw.close().await;
    conclude(
        g, &config, store, &actor, &l.change, n, &l.pins, &l.waves, &ends, halt,
    )
    .await
}

/// Whether wave `wave` (1-based) of rollout `r` finished its bake.
async fn baked(store: &Store, r: u64, wave: usize) -> Result<bool, Failure> {
    let entries = journal_of(store, format!("R-{r}")).await?;
    Ok(entries.iter().any(|e| {
        e.kind == "rollout.wave.baked" && e.payload["wave"].as_u64() == u64::try_from(wave).ok()
    }))
}

/// `rollout pause R`: the controller stops before its next wave.
async fn pause(g: &Global, config: &Config, store: &Store, id: &str) -> Result<Outcome, Failure> {
    let actor = identity(g)?;
    let n = rollout_number(id)?;
    let mut l = Loaded::read(config, store, n).await?;
    if l.record.state != "running" {
        return Err(Failure::Gate {
            message: format!(
                "R-{n} is {}: only a running rollout can be paused",
                l.record.state
            ),
            hint: None,
        });
    }
    l.set_state(store, &actor, "paused").await?;
    print(&format!(
        "R-{n} paused: no new wave starts; `fearless rollout resume R-{n}` continues\n"
    ))?;
    Ok(Outcome::Success)
}

/// `rollout abort R`: no new host is touched, and every host the rollout changed goes back
/// to its snapshot; the change is completed `backed-out`.
async fn abort(g: &Global, config: Config, store: &Store, id: &str) -> Result<Outcome, Failure> {
    let actor = identity(g)?;
    let n = rollout_number(id)?;
    let mut l = Loaded::read(&config, store, n).await?;
    match l.record.state.as_str() {
        "running" | "paused" => l.set_state(store, &actor, "aborting").await?,
        "aborting" => {}
        other => {
            print(&format!("R-{n} is {other}: nothing to abort\n"))?;
            return Ok(Outcome::Success);
        }
    }
    let checks = Checks::new(&config, &l.components, &l.hosts)?;
    let fw = Fleetwide::with_hosts(config.clone(), l.hosts.clone(), Limits::default().lock_wait);
    let ctx = Ctx {
        store,
        actor: &actor,
        rollout: n,
        manifest: &l.manifest,
        checks: &checks,
        baseline: &l.baseline,
        prepared: BTreeMap::new(),
        policy: &config.patch,
    };
    let changed: Vec<&str> = l
        .rows
        .iter()
        .filter(|r| {
            ![
                HostState::Pending,
                HostState::Snapshotted,
                HostState::RolledBack,
                HostState::RollbackFailed,
            ]
            .iter()
            .any(|s| s.to_string() == r.state)
        })
        .map(|r| r.host.as_str())
        .collect();
    progress(
        g,
        &format!("R-{n}: aborting; rolling back {} host(s)", changed.len()),
    );
    let back = fw
        .each_of(&changed, |b, t| {
            let ctx = &ctx;
            let state = l.state_of(t.name);
            async move {
                let steps: &[Step] = match state {
                    HostState::Applying | HostState::Applied | HostState::Verifying => {
                        &[Step::Fail]
                    }
                    _ => &[],
                };
                Ok(match ctx.walk(t.name, state, steps).await {
                    Ok(s) => ctx.roll_back(g, &b, &t, s).await,
                    Err(e) => (state, e),
                })
            }
        })
        .await;
    let ends: Vec<HostEnd> = back
        .into_iter()
        .map(|(host, r)| {
            let (state, detail) = r.unwrap_or_else(|e| (HostState::RollbackFailed, e.to_string()));
            HostEnd {
                wave: l.wave_of(&host),
                host,
                state,
                detail,
            }
        })
        .collect();
    checks.close().await;
    fw.close().await;
    let outcome = finish(
        g,
        &config,
        store,
        &actor,
        &l.change,
        n,
        &l.pins,
        &l.waves,
        &ends,
        Some(&format!("aborted by {actor}")),
        false,
        None,
    )
    .await?;
    // The abort did what was asked when every changed host is back on its snapshot.
    if ends.iter().all(|e| e.state == HostState::RolledBack) {
        Ok(Outcome::Success)
    } else {
        Ok(outcome)
    }
}

pub(crate) async fn rollout(g: &Global, a: RolloutArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "rollout")?;
    let config = load_config(g)?;
    let store = open_store(g, &config).await?;
    match a.action {
        RolloutAction::Resume { id } => return resume(g, config, &store, &id).await,
        RolloutAction::Pause { id } => return pause(g, &config, &store, &id).await,
        RolloutAction::Abort { id } => return abort(g, config, &store, &id).await,
        RolloutAction::List => {
            let all = store.list_rollouts().await.map_err(store_failure)?;
            if g.format == Format::Json {
                let list: Vec<Value> = all
                    .iter()
                    .map(|r| json!({"rollout": format!("R-{}", r.number), "state": r.state, "change": r.record["change"], "manifest": r.record["manifest"]}))
                    .collect();
                print_json(&json!({"schema": "fearless.rollouts/v1", "rollouts": list}))?;
            } else {
                let mut t = render::table(&["ROLLOUT", "STATE", "CHANGE", "PINS", "WAVES"]);
                for r in &all {
                    t.add_row(vec![
                        format!("R-{}", r.number),
                        r.state.clone(),
                        r.record["change"].as_str().unwrap_or("-").to_owned(),
                        r.record["manifest"]
                            .as_array()
                            .map_or(0, Vec::len)
                            .to_string(),
                        r.record["waves"].as_array().map_or(0, Vec::len).to_string(),
                    ]);
                }
                print(&format!("{t}\n{} rollout(s)\n", all.len()))?;
            }
        }
        RolloutAction::Show { id } => {
            let n = rollout_number(&id)?;
            let r = store
                .get_rollout(n)
                .await
                .map_err(store_failure)?
                .ok_or_else(|| {
                    Failure::bad_input(
                        format!("there is no rollout R-{n}"),
                        Some("see `fearless rollout list`"),
                    )
                })?;
            let hosts = store.rollout_hosts(n).await.map_err(store_failure)?;
            if g.format == Format::Json {
                let hs: Vec<Value> = hosts
                    .iter()
                    .map(|h| json!({"host": h.host, "wave": h.wave, "state": h.state, "snapshot": h.snapshot.map(|s| format!("SNAP-{s}"))}))
                    .collect();
                print_json(
                    &json!({"schema": "fearless.rollout/v1", "rollout": format!("R-{n}"), "state": r.state, "record": r.record, "hosts": hs}),
                )?;
            } else {
                let mut t = render::table(&["HOST", "WAVE", "STATE", "SNAPSHOT"]);
                for h in &hosts {
                    t.add_row(vec![
                        h.host.clone(),
                        h.wave.to_string(),
                        h.state.clone(),
                        h.snapshot
                            .map_or_else(|| "-".into(), |s| format!("SNAP-{s}")),
                    ]);
                }
                let pins: Vec<&str> = r.record["manifest"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                print(&format!(
                    "R-{n} {} ({}): {}\n{t}\n",
                    r.state,
                    r.record["change"].as_str().unwrap_or("-"),
                    pins.join(" ")
                ))?;
            }
        }
    }
    let _ = error_json;
    Ok(Outcome::Success)
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
    }
}
