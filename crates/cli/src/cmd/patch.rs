//! `fearless patch --change CHG-N` and `fearless rollout list|show|resume|pause|abort`:
//! arguments to a request for the rollout engine (`fearless-engine`), and its outcome
//! rendered.

use fearless_config::RebootPolicy;
use fearless_engine::record::{HostEnd, RolloutResult};
use fearless_engine::rollout::{
    self, Fixes, PatchOutcome, PatchPlan, PatchRequest, RolloutEnd, RolloutOutcome,
};
use fearless_engine::views::{RolloutList, RolloutShow};
use fearless_rollout::{HostState, RolloutState, parse_waves};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Session, only_human_or_json, print, print_json, read_manifest, selector};
use crate::args::{Format, Global, PatchArgs, RolloutAction, RolloutArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

pub(crate) async fn run(g: &Global, a: PatchArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "patch")?;
    fearless_engine::changes::number(&a.change)?;
    let fixes = fixes_of(&a)?;
    let req = PatchRequest {
        change: a.change.clone(),
        hosts: selector(a.options.hosts.as_deref())?,
        waves: a
            .waves
            .as_deref()
            .map(|w| {
                parse_waves(w).map_err(|e| {
                    Failure::bad_input(format!("--waves: {e}"), Some("e.g. --waves 1,25%,100%"))
                })
            })
            .transpose()?,
        bake: a
            .bake
            .as_deref()
            .map(|b| super::duration("--bake", b, "e.g. 30s"))
            .transpose()?,
        manifest: a.manifest.as_deref().map(read_manifest).transpose()?,
        security_only: a.security,
        fixes,
        accept_baseline_failures: a.accept_baseline_failures,
        dry_run: a.dry_run,
        lock_wait: super::duration("--lock-wait", &a.options.lock_wait, "e.g. 30s or 2m")?,
        workers: a
            .workers
            .map(|tasks| {
                Ok::<_, Failure>(rollout::Workers {
                    tasks,
                    lease: match &a.lease {
                        Some(lease) => super::duration("--lease", lease, "e.g. 2m")?,
                        None => rollout::Workers::LEASE,
                    },
                })
            })
            .transpose()?,
    };
    let session = Session::open(g).await?;
    let outcome = session.acting()?.patch(req).await;
    session.close().await;
    match outcome? {
        PatchOutcome::NothingToPatch { hosts } => {
            print(&format!(
                "nothing to patch: no pending update on {hosts} host(s)\n"
            ))?;
            Ok(Outcome::Success)
        }
        PatchOutcome::NothingToFix { hosts, unfixed } => {
            let mut text = format!(
                "nothing to fix: no selected advisory with a fixed version applies to the {hosts} host(s) in scope\n"
            );
            for u in &unfixed {
                text.push_str(&format!("not closed (no fix yet): {}\n", render::text(u)));
            }
            print(&text)?;
            Ok(Outcome::Success)
        }
        PatchOutcome::DryRun(plan) => {
            show_plan(g, &plan)?;
            Ok(Outcome::Success)
        }
        PatchOutcome::BaselineFailing(plan) => {
            show_plan(g, &plan)?;
            Err(Failure::Gate {
                message: format!(
                    "the baseline has {} failing check(s); nothing was changed",
                    plan.baseline_failures.len()
                ),
                hint: Some(
                    "fix them, or pass --accept-baseline-failures (then only regressions count)"
                        .into(),
                ),
            })
        }
        PatchOutcome::Rollout(outcome) => show_outcome(g, "patch", &outcome),
    }
}

/// `--feed` (read whole, before anything else) and `--fixes`: every named advisory must be
/// in the feed.
fn fixes_of(a: &PatchArgs) -> Result<Option<Fixes>, Failure> {
    if a.feed.is_empty() {
        return Ok(None);
    }
    let feed = super::vulns::load_feed(&a.feed)?;
    if let Some(unknown) = a.fixes.iter().find(|id| !feed.knows(id)) {
        return Err(Failure::bad_input(
            format!("--fixes {unknown}: no advisory of the feed has that id or alias"),
            Some("`fearless vulns --feed …` lists the advisories that apply"),
        ));
    }
    let selection = if a.fixes.is_empty() {
        fearless_vulns::Selection::All
    } else {
        fearless_vulns::Selection::Named(a.fixes.clone())
    };
    Ok(Some(Fixes {
        feed: std::sync::Arc::new(feed),
        selection,
    }))
}

/// `patch --dry-run --format json`: what a patch would do.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PlanJson<'a> {
    /// `fearless.patch-plan/v1`.
    #[schemars(extend("const" = "fearless.patch-plan/v1"))]
    schema: &'static str,
    /// `CHG-N`.
    #[schemars(pattern(r"^CHG-[0-9]+$"))]
    change: &'a str,
    /// The pins (`name=version`).
    manifest: &'a [String],
    /// The advisories it fixes.
    fixes: &'a [String],
    /// The hosts of each wave.
    waves: &'a [Vec<String>],
    /// The bake after each wave (`5m`).
    bake: String,
    /// Whether hosts may reboot.
    reboot: RebootJson,
    /// The checks failing before it starts.
    baseline_failures: &'a [String],
}

/// A plan's reboot policy.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub(crate) enum RebootJson {
    /// A host that needs a reboot fails and is rolled back.
    Never,
    /// A host reboots when it must, and is back within `timeout` (`10m`).
    IfRequired {
        /// How long a host may take to come back.
        timeout: String,
    },
}

/// A rollout as `patch` or `rollout resume/abort` leave it (`fearless.rollout/v1`, like
/// `rollout show`): paused before a wave, being aborted, or ended with its result.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RolloutProgress<'a> {
    /// `fearless.rollout/v1`.
    #[schemars(extend("const" = "fearless.rollout/v1"))]
    schema: &'static str,
    /// `R-N`.
    #[schemars(pattern(r"^R-[0-9]+$"))]
    id: String,
    /// `R-N` (the key of earlier releases).
    #[schemars(pattern(r"^R-[0-9]+$"))]
    rollout: String,
    /// Its state.
    #[schemars(with = "String")]
    state: RolloutState,
    /// The wave it paused before, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    before_wave: Option<usize>,
    /// How it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    result: Option<&'a RolloutResult>,
}

impl<'a> RolloutProgress<'a> {
    fn new(
        r: u64,
        state: RolloutState,
        before_wave: Option<usize>,
        result: Option<&'a RolloutResult>,
    ) -> Self {
        Self {
            schema: "fearless.rollout/v1",
            id: format!("R-{r}"),
            rollout: format!("R-{r}"),
            state,
            before_wave,
            result,
        }
    }
}

fn show_plan(g: &Global, plan: &PatchPlan) -> Result<(), Failure> {
    if g.format == Format::Json {
        return print_json(&PlanJson {
            schema: "fearless.patch-plan/v1",
            change: &plan.change,
            manifest: &plan.manifest,
            fixes: &plan.fixes,
            waves: &plan.waves,
            bake: humantime::format_duration(plan.bake).to_string(),
            reboot: match plan.reboot {
                RebootPolicy::Never => RebootJson::Never,
                RebootPolicy::IfRequired => RebootJson::IfRequired {
                    timeout: humantime::format_duration(plan.reboot_timeout).to_string(),
                },
            },
            baseline_failures: &plan.baseline_failures,
        });
    }
    let mut s = format!(
        "{}: {}\nmanifest ({} pin(s)):\n",
        plan.change,
        render::text(&plan.title),
        plan.manifest.len()
    );
    for p in &plan.manifest {
        s.push_str(&format!("  {p}\n"));
    }
    for f in &plan.fixes {
        s.push_str(&format!("fixes: {}\n", render::text(f)));
    }
    s.push_str(&format!(
        "waves (bake {} each):\n",
        humantime::format_duration(plan.bake)
    ));
    for (i, w) in plan.waves.iter().enumerate() {
        let hosts = match w.len() {
            1 => render::names(w),
            n => format!("{n} hosts: {}", render::names(w)),
        };
        s.push_str(&format!("  {}: {hosts}\n", i + 1));
    }
    s.push_str(&match plan.reboot {
        RebootPolicy::Never => {
            "reboots: never (a host that needs one fails and is rolled back)\n".to_owned()
        }
        RebootPolicy::IfRequired => format!(
            "reboots: if required (a host must be back within {})\n",
            humantime::format_duration(plan.reboot_timeout)
        ),
    });
    if plan.baseline_failures.is_empty() {
        s.push_str("baseline: every check passes\n");
    } else {
        s.push_str(&format!(
            "baseline: {} failing check(s):\n",
            plan.baseline_failures.len()
        ));
        for f in &plan.baseline_failures {
            s.push_str(&format!("  {f}\n"));
        }
    }
    print(&s)
}

/// Print how a controller ended (`verb`: what it was asked to do); a rollout that did not
/// complete is exit 1.
fn show_outcome(g: &Global, verb: &str, outcome: &RolloutOutcome) -> Result<Outcome, Failure> {
    match outcome {
        RolloutOutcome::Ended(end) => {
            show_end(g, end)?;
            Ok(if end.state == RolloutState::Completed {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
        RolloutOutcome::Paused {
            rollout: r,
            before_wave,
        } => {
            if g.format == Format::Json {
                print_json(&RolloutProgress::new(
                    *r,
                    RolloutState::Paused,
                    Some(*before_wave),
                    None,
                ))?;
            } else {
                print(&format!(
                    "R-{r} paused before wave {before_wave}; `fearless rollout resume R-{r}` continues, `fearless rollout abort R-{r}` backs out\n"
                ))?;
            }
            Ok(Outcome::Failed)
        }
        RolloutOutcome::Aborting { rollout: r } => {
            if g.format == Format::Json {
                print_json(&RolloutProgress::new(
                    *r,
                    RolloutState::Aborting,
                    None,
                    None,
                ))?;
            } else {
                print(&format!(
                    "R-{r} is being aborted: `fearless rollout abort R-{r}` rolls its hosts back\n"
                ))?;
            }
            Ok(Outcome::Failed)
        }
        RolloutOutcome::Nothing { rollout: r, state } => {
            print(&format!("R-{r} is {state}: nothing to {verb}\n"))?;
            Ok(Outcome::Success)
        }
    }
}

fn show_end(g: &Global, end: &RolloutEnd) -> Result<(), Failure> {
    let r = end.rollout;
    let RolloutResult {
        incident,
        change,
        hosts,
        ..
    } = &end.result;
    if g.format == Format::Json {
        return print_json(&RolloutProgress::new(r, end.state, None, Some(&end.result)));
    }
    let t = ends_table(hosts.iter().map(|e| (e, e.detail.clone())));
    let mut text = format!(
        "{t}\nR-{r} {}: {change} closed {}\n",
        end.state,
        end.code.as_str()
    );
    if !end.untouched.is_empty() {
        text.push_str(&format!("not touched: {}\n", end.untouched.join(", ")));
    }
    if let Some(inc) = incident {
        text.push_str(&format!("{inc} opened (fearless incident show {inc})\n"));
    }
    print(&text)
}

/// Hosts' ends as a table, each with its detail as given.
pub(super) fn ends_table<'e>(
    ends: impl Iterator<Item = (&'e HostEnd, String)>,
) -> comfy_table::Table {
    let mut t = render::table(&["HOST", "WAVE", "STATE", "DETAIL"]);
    for (e, detail) in ends {
        t.add_row(vec![
            e.host.clone().into(),
            e.wave.to_string().into(),
            render::colored(&e.state.to_string(), Some(e.state == HostState::Verified)),
            render::text(&detail).into(),
        ]);
    }
    t
}

pub(crate) async fn rollout(g: &Global, a: RolloutArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "rollout")?;
    // An id is checked before the store is opened: bad input is said as such.
    match &a.action {
        RolloutAction::List => {}
        RolloutAction::Show { id }
        | RolloutAction::Resume { id }
        | RolloutAction::Pause { id }
        | RolloutAction::Abort { id } => {
            rollout::number(id)?;
        }
    }
    let session = match a.action {
        RolloutAction::List | RolloutAction::Show { .. } => Session::open_to_read(g).await?,
        _ => Session::open(g).await?,
    };
    let result = act(g, &session, a.action).await;
    session.close().await;
    result
}

async fn act(g: &Global, session: &Session, action: RolloutAction) -> Result<Outcome, Failure> {
    match action {
        RolloutAction::Resume { id } => {
            let outcome = session.acting()?.resume(rollout::number(&id)?).await?;
            show_outcome(g, "resume", &outcome)
        }
        RolloutAction::Pause { id } => {
            let n = rollout::number(&id)?;
            session.acting()?.pause(n).await?;
            print(&format!(
                "R-{n} paused: no new wave starts; `fearless rollout resume R-{n}` continues\n"
            ))?;
            Ok(Outcome::Success)
        }
        RolloutAction::Abort { id } => {
            let outcome = session.acting()?.abort(rollout::number(&id)?).await?;
            let shown = show_outcome(g, "abort", &outcome)?;
            // The abort did what was asked when every changed host is back on its snapshot.
            Ok(match &outcome {
                RolloutOutcome::Ended(end)
                    if end
                        .result
                        .hosts
                        .iter()
                        .all(|e| e.state == HostState::RolledBack) =>
                {
                    Outcome::Success
                }
                _ => shown,
            })
        }
        RolloutAction::List => {
            let all = session.reading().rollouts().await?;
            if g.format == Format::Json {
                print_json(&RolloutList::of(&all))?;
            } else {
                let mut t = render::table(&["ROLLOUT", "STATE", "CHANGE", "PINS", "WAVES"]);
                for (s, r) in &all {
                    t.add_row(vec![
                        format!("R-{}", s.number),
                        s.state.clone(),
                        r.change.clone(),
                        r.manifest.len().to_string(),
                        r.waves.len().to_string(),
                    ]);
                }
                print(&format!("{t}\n{} rollout(s)\n", all.len()))?;
            }
            Ok(Outcome::Success)
        }
        RolloutAction::Show { id } => {
            let engine = session.reading();
            let n = rollout::number(&id)?;
            let (stored, record) = engine.rollout(n).await?;
            let hosts = engine.rollout_hosts(n).await?;
            if g.format == Format::Json {
                print_json(&RolloutShow::of(&stored, &record, &hosts))?;
            } else {
                let mut t = render::table(&["HOST", "WAVE", "STATE", "SNAPSHOT"]);
                for (h, state) in &hosts {
                    t.add_row(vec![
                        h.host.clone(),
                        h.wave.to_string(),
                        state.to_string(),
                        h.snapshot
                            .map_or_else(|| "-".into(), |s| format!("SNAP-{s}")),
                    ]);
                }
                print(&format!(
                    "R-{n} {} ({}): {}\n{t}\n",
                    stored.state,
                    record.change,
                    record.manifest.join(" ")
                ))?;
            }
            Ok(Outcome::Success)
        }
    }
}
