//! `fearless check`: run the environment test plan, localise failures, render.

use super::{Session, load_inventory, print, print_json, selector};
use crate::args::{CheckArgs, Format, Global};
use crate::exit::{Failure, Outcome};
use crate::render;
use fearless_engine::RecordedRun;
use fearless_engine::monitor::{Trigger, Turn};
use fearless_graph::Localisation;
use fearless_probe::baseline::{Baseline, Diff};
use fearless_probe::result::{CheckResult, Status};
use fearless_probe::runner::{self, PlanItem, Runner, Selection};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// JSON schema identifier of `fearless check --format json` (documented in docs/check-json.md).
const SCHEMA: &str = "fearless.check/v1";

pub(crate) async fn run(g: &Global, a: CheckArgs) -> Result<Outcome, Failure> {
    if !matches!(
        g.format,
        Format::Human | Format::Json | Format::Junit | Format::Tap | Format::Prometheus
    ) {
        return Err(Failure::bad_input(
            "`check` prints human, json, junit, tap or prometheus",
            Some(
                "md and html are the formats of `fearless rca`; svg, mermaid, dot and sarif of `fearless map`",
            ),
        ));
    }
    // A run to record needs the store (and who acts) before anything runs: a bad store
    // fails fast.
    let session = if (a.record || a.workers.is_some()) && !a.dry_run {
        Some(Session::open(g).await?)
    } else {
        None
    };
    let loaded;
    let config = match &session {
        Some(s) => &s.config,
        None => {
            loaded = load_inventory(g).await?;
            &loaded
        }
    };
    let engine = session.as_ref().map(Session::acting).transpose()?;
    let sel = Selection {
        hosts: selector(a.hosts.as_deref())?,
        components: a.components.clone(),
    };
    let items = runner::plan(config, &sel).map_err(|e| {
        Failure::bad_input(
            e.to_string(),
            Some("list components with `fearless check --dry-run`"),
        )
    })?;
    // Read the baseline before running, so a bad path fails fast.
    let baseline = match &a.baseline {
        Some(p) => Some(Baseline::load(p).map_err(|e| {
            Failure::bad_input(
                e.to_string(),
                Some("create one with `fearless check --save-baseline FILE`"),
            )
        })?),
        None => None,
    };
    // Where the baseline will be saved must be a file fearless may replace: said now,
    // before anything runs.
    if let Some(path) = &a.save_baseline {
        super::writable(path)?;
    }
    if a.dry_run {
        return dry_run(g, &items);
    }
    if items.is_empty() {
        return Err(Failure::bad_input(
            "nothing to check: no check matches the selection",
            Some("check --hosts/--component, and that components have checks"),
        ));
    }

    let runner = Runner::new(config)
        .map_err(|e| Failure::Environment(anyhow::anyhow!("cannot set up network checks: {e}")))?;
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc();
    let bar = progress_bar(g, items.len());
    let on_result = |r: &CheckResult| {
        bar.inc(1);
        if bar.is_hidden()
            && started.elapsed() > Duration::from_secs(1)
            && std::io::stderr().is_terminal()
            && !g.quiet
        {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        tracing::debug!(component = %r.component, check = %r.check, host = ?r.host, status = r.status.as_str(), "check done");
    };
    let results = match (&engine, workers(&a)?) {
        // Leased to workers, whoever runs a host's checks: one run all the same.
        (Some(engine), Some(workers)) => {
            let spec = (a.hosts.as_deref(), a.components.as_slice());
            engine
                .check_round(spec, &items, workers, &on_result)
                .await?
        }
        // The round is the runner's last: a host read in one command is not given a master.
        _ => runner.run_last_pass(&items, &on_result).await,
    };
    bar.finish_and_clear();
    runner.close().await;
    let elapsed = started.elapsed();
    let finished_at = started_at + elapsed;
    let recorded = match &engine {
        Some(engine) => Some(
            engine
                .record_checks(started_at, finished_at, &results, Trigger::Check)
                .await?,
        ),
        None => None,
    };

    let loc = fearless_engine::monitor::localise(config, &results);
    let diff = baseline.as_ref().map(|b| b.diff(&results));

    let failed = match &diff {
        Some(d) => !d.regressions.is_empty(),
        None => results
            .iter()
            .any(|r| !r.status.is_ok() && r.status != Status::Skipped),
    };
    let outcome = if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    };

    let report = Report {
        per_host: a.per_host,
        config: config.path.clone(),
        results: &results,
        elapsed,
        localisation: &loc,
        baseline: a.baseline.clone(),
        diff: diff.as_ref(),
        recorded: recorded.as_ref(),
    };
    let printed = match g.format {
        Format::Human => print(&human(&report)),
        Format::Json => print_json(&report.json()),
        Format::Junit => print(&junit(&report)),
        Format::Tap => print(&tap(&report)),
        Format::Prometheus => print(&prometheus(&report)),
        _ => Ok(()),
    };
    match printed {
        // `fearless check | head` must still fail when checks failed.
        Ok(()) | Err(Failure::BrokenPipe) => {}
        Err(other) => return Err(other),
    }
    if let Some(session) = session {
        session.close().await;
    }
    // Saved after the report is out, so a bad path never hides the results.
    if let Some(path) = &a.save_baseline {
        Baseline::from_results(&results)
            .save(path)
            .map_err(|e| match e {
                fearless_probe::baseline::BaselineError::Write(
                    fearless_io::WriteError::NotRegular { .. },
                ) => Failure::bad_input(e.to_string(), None),
                e => Failure::Environment(e.into()),
            })?;
        tracing::info!(path = %path.display(), "baseline saved");
    }
    Ok(outcome)
}

/// `--workers N --lease D`, checked by the engine.
fn workers(a: &CheckArgs) -> Result<Option<fearless_engine::rollout::Workers>, Failure> {
    use fearless_engine::rollout::Workers;
    let Some(tasks) = a.workers else {
        return Ok(None);
    };
    let lease = match &a.lease {
        Some(lease) => super::duration("--lease", lease, "e.g. 2m")?,
        None => Workers::LEASE,
    };
    Ok(Some(Workers { tasks, lease }))
}

fn progress_bar(g: &Global, len: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::hidden();
    bar.set_length(u64::try_from(len).unwrap_or(u64::MAX));
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} checking {pos}/{len} {wide_bar} {elapsed}",
    ) {
        bar.set_style(style);
    }
    if g.quiet {
        return bar;
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// `check --dry-run --format json`: what would run, where.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct PlanJson<'a> {
    /// `fearless.plan/v1`.
    #[schemars(extend("const" = "fearless.plan/v1"))]
    schema: &'static str,
    /// One item per check and host.
    items: Vec<Item<'a>>,
}

/// A check on a host (or the controller) as planned.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Item<'a> {
    /// Its component.
    component: &'a str,
    /// Its name.
    check: &'a str,
    /// Its kind (`http`, `tcp`, …).
    kind: &'static str,
    /// The host it is about, if any.
    host: Option<&'a str>,
    /// `host` or `controller`.
    runs_on: &'static str,
    /// Its timeout.
    timeout_ms: u128,
    /// Its retries.
    retries: u32,
}

fn dry_run(g: &Global, items: &[PlanItem]) -> Result<Outcome, Failure> {
    let rows: Vec<Item<'_>> = items
        .iter()
        .map(|i| Item {
            component: &i.component,
            check: &i.check.name,
            kind: i.check.kind.name(),
            host: i.host.as_ref().map(|h| h.name.as_str()),
            runs_on: if i.runs_on_host() {
                "host"
            } else {
                "controller"
            },
            timeout_ms: i.check.timeout.as_millis(),
            retries: i.check.retries,
        })
        .collect();
    match g.format {
        Format::Json => {
            print_json(&PlanJson {
                schema: "fearless.plan/v1",
                items: rows,
            })?;
        }
        Format::Human => {
            let mut t = render::table(&["COMPONENT", "CHECK", "KIND", "HOST", "RUNS ON"]);
            let mut last = "";
            for r in &rows {
                let comp = if r.component == last { "" } else { r.component };
                last = r.component;
                t.add_row(vec![
                    comp,
                    r.check,
                    r.kind,
                    r.host.unwrap_or("-"),
                    r.runs_on,
                ]);
            }
            print(&format!(
                "{t}\n{} checks would run (dry run: nothing was contacted)\n",
                rows.len()
            ))?;
        }
        other => {
            return Err(Failure::bad_input(
                format!("--dry-run prints human or json, not {other:?}").to_lowercase(),
                None,
            ));
        }
    }
    Ok(Outcome::Success)
}

struct Report<'a> {
    /// `--per-host`: every result a row, however many.
    per_host: bool,
    config: PathBuf,
    results: &'a [CheckResult],
    elapsed: Duration,
    localisation: &'a Localisation,
    baseline: Option<PathBuf>,
    diff: Option<&'a Diff>,
    /// The run as `--record` kept it.
    recorded: Option<&'a RecordedRun>,
}

/// The counts of a run.
#[derive(Debug, Serialize, Default, schemars::JsonSchema)]
struct Summary {
    /// Checks run.
    checks: usize,
    /// Passed.
    pass: usize,
    /// Passed slowly.
    degraded: usize,
    /// Failed.
    fail: usize,
    /// Could not run.
    error: usize,
    /// Skipped.
    skipped: usize,
    /// How long the run took.
    duration_ms: u128,
    /// Nothing failed or errored.
    ok: bool,
}

impl Report<'_> {
    fn summary(&self) -> Summary {
        let mut s = Summary {
            checks: self.results.len(),
            duration_ms: self.elapsed.as_millis(),
            ..Summary::default()
        };
        for r in self.results {
            match r.status {
                Status::Pass => s.pass += 1,
                Status::Degraded => s.degraded += 1,
                Status::Fail => s.fail += 1,
                Status::Error => s.error += 1,
                Status::Skipped => s.skipped += 1,
            }
        }
        s.ok = s.fail == 0 && s.error == 0;
        s
    }

    fn json(&self) -> CheckJson<'_> {
        CheckJson {
            baseline: self.diff.map(|d| BaselineJson {
                file: self.baseline.as_deref(),
                missing: &d.missing,
                recoveries: &d.recoveries,
                regressions: &d.regressions,
            }),
            config: &self.config,
            localisation: self.localisation,
            results: self.results,
            run_id: self.recorded.map(|r| r.id),
            schema: SCHEMA,
            summary: self.summary(),
        }
    }
}

/// `check --format json` (docs/check-json.md). Keys in alphabetical order, as the format
/// has always printed them; `run_id` only with `--record`.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct CheckJson<'a> {
    /// The baseline comparison (`--baseline`), else null.
    baseline: Option<BaselineJson<'a>>,
    /// The config file.
    #[schemars(with = "String")]
    config: &'a std::path::Path,
    /// Where the failures point.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    localisation: &'a Localisation,
    /// Each check's result.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    results: &'a [CheckResult],
    /// The recorded run's id (`--record`).
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<u64>,
    /// `fearless.check/v1`.
    #[schemars(extend("const" = "fearless.check/v1"))]
    schema: &'static str,
    /// The counts.
    summary: Summary,
}

/// The baseline comparison of `check --baseline FILE --format json`.
#[derive(Serialize, schemars::JsonSchema)]
struct BaselineJson<'a> {
    /// The baseline file.
    #[schemars(with = "Option<String>")]
    file: Option<&'a std::path::Path>,
    /// Checks of the baseline that did not run.
    #[schemars(with = "Vec<serde_json::Value>")]
    missing: &'a [fearless_probe::baseline::Entry],
    /// Checks that failed then and pass now.
    #[schemars(with = "Vec<serde_json::Value>")]
    recoveries: &'a [fearless_probe::baseline::Change],
    /// Checks that passed then and fail now.
    #[schemars(with = "Vec<serde_json::Value>")]
    regressions: &'a [fearless_probe::baseline::Change],
}

fn status_cell(s: Status) -> comfy_table::Cell {
    render::colored(
        s.as_str(),
        match s {
            Status::Pass => Some(true),
            Status::Degraded | Status::Skipped => None,
            Status::Fail | Status::Error => Some(false),
        },
    )
}

fn human(r: &Report<'_>) -> String {
    let mut out = String::new();
    if let Some(d) = r.diff {
        let mut t = render::table(&["COMPONENT", "CHECK", "HOST", "BEFORE", "NOW"]);
        for c in d.regressions.iter().chain(&d.recoveries) {
            let before = c
                .before
                .map_or_else(|| comfy_table::Cell::new("(new)"), status_cell);
            t.add_row(vec![
                c.component.as_str().into(),
                c.check.as_str().into(),
                c.host.as_deref().unwrap_or("-").into(),
                before,
                status_cell(c.after),
            ]);
        }
        for e in &d.missing {
            t.add_row(vec![
                e.component.as_str().into(),
                e.check.as_str().into(),
                e.host.as_deref().unwrap_or("-").into(),
                status_cell(e.status),
                "(not run)".into(),
            ]);
        }
        if d.regressions.is_empty() && d.recoveries.is_empty() && d.missing.is_empty() {
            let _ = writeln!(
                out,
                "no change against the baseline {}",
                r.baseline
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        } else {
            let _ = writeln!(out, "{t}");
            let _ = writeln!(
                out,
                "{} regression(s), {} recovery(ies), {} not run, against the baseline",
                d.regressions.len(),
                d.recoveries.len(),
                d.missing.len()
            );
        }
    } else if !r.per_host && r.results.len() > PER_HOST_ROWS {
        summarised(&mut out, r.results);
    } else {
        let mut t = render::table(&["COMPONENT", "CHECK", "HOST", "STATUS", "TIME", "DETAIL"]);
        let mut last = "";
        for res in r.results {
            let comp = if res.component == last {
                ""
            } else {
                res.component.as_str()
            };
            last = &res.component;
            let detail = match res.reason {
                Some(reason) if !res.status.is_ok() || res.status == Status::Degraded => {
                    format!("[{}] {}", reason.as_str(), res.message)
                }
                _ => res.message.clone(),
            };
            t.add_row(vec![
                comp.into(),
                res.check.as_str().into(),
                res.host.as_deref().unwrap_or("-").into(),
                status_cell(res.status),
                render::duration(res.duration).into(),
                detail.into(),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }
    let s = r.summary();
    let hosts: std::collections::BTreeSet<&str> =
        r.results.iter().filter_map(|x| x.host.as_deref()).collect();
    let _ = writeln!(
        out,
        "{} checks on {} host(s) in {}: {} pass, {} degraded, {} fail, {} error, {} skipped",
        s.checks,
        hosts.len(),
        render::duration(r.elapsed),
        s.pass,
        s.degraded,
        s.fail,
        s.error,
        s.skipped
    );
    if let Some(run) = r.recorded {
        let _ = writeln!(out, "recorded as check run {}", run.id);
        for t in &run.transitions {
            let s = &t.state;
            let on = s
                .host
                .as_deref()
                .map(|h| format!(" on {h}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{}/{}{on} {} ({} → {}, {} result(s) in a row)",
                render::text(&s.component),
                render::text(&s.check),
                match t.turn {
                    Turn::Failed => "turned failing",
                    Turn::Recovered => "recovered",
                },
                s.from,
                s.to,
                s.consecutive
            );
        }
    }
    let loc = r.localisation;
    for sus in &loc.suspects {
        let on = if sus.hosts.is_empty() {
            String::new()
        } else {
            format!(" on {}", render::names(&sus.hosts))
        };
        let _ = writeln!(
            out,
            "root suspect: {}{on} (explains {} failed check(s))",
            sus.component, sus.explains
        );
    }
    for imp in &loc.impacted {
        let on = if imp.hosts.is_empty() {
            String::new()
        } else {
            format!(" on {}", render::names(&imp.hosts))
        };
        let _ = writeln!(
            out,
            "impacted: {}{on} (depends on failing {})",
            imp.component,
            imp.because_of.join(", ")
        );
    }
    for h in &loc.unreachable {
        let _ = writeln!(out, "unreachable: {h} (every check failed to reach it)");
    }
    if let Some(top) = loc.suspects.first() {
        // A selector's comma means AND, so name one host (the first) rather than a list.
        let hosts = top
            .hosts
            .first()
            .map(|h| format!(" --hosts {h}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "hint: start with {}: fearless check --component {}{hosts} -v",
            top.component, top.component
        );
    }
    for h in &loc.unreachable {
        let _ = writeln!(
            out,
            "hint: fearless hosts ping --hosts {h} shows why {h} cannot be reached"
        );
    }
    out
}

/// Past this many results, the human report summarises (`--per-host` prints them all).
const PER_HOST_ROWS: usize = 60;

/// How many hosts a row of the summary of what did not pass names.
const NAMED_HOSTS: usize = 3;

/// A large run in two tables: each check's counts by status, then what did not pass
/// grouped by check, status and reason, with the first hosts and the first message.
fn summarised(out: &mut String, results: &[CheckResult]) {
    use std::collections::BTreeMap;
    let mut counts: BTreeMap<(&str, &str), [usize; 5]> = BTreeMap::new();
    // (component, check, status, reason) → (the hosts, the first message)
    let mut bad: BTreeMap<[&str; 4], (Vec<&str>, &str)> = BTreeMap::new();
    for res in results {
        let c = counts
            .entry((res.component.as_str(), res.check.as_str()))
            .or_default();
        let column = match res.status {
            Status::Pass => 0,
            Status::Degraded => 1,
            Status::Fail => 2,
            Status::Error => 3,
            Status::Skipped => 4,
        };
        c[column] += 1;
        if res.status != Status::Pass {
            let reason = res.reason.map_or("-", |r| r.as_str());
            let (hosts, _) = bad
                .entry([
                    res.component.as_str(),
                    res.check.as_str(),
                    res.status.as_str(),
                    reason,
                ])
                .or_insert_with(|| (Vec::new(), res.message.as_str()));
            hosts.push(res.host.as_deref().unwrap_or("controller"));
        }
    }
    let mut t = render::table(&[
        "COMPONENT",
        "CHECK",
        "PASS",
        "DEGRADED",
        "FAIL",
        "ERROR",
        "SKIPPED",
    ]);
    for ((component, check), c) in &counts {
        let mut row: Vec<comfy_table::Cell> = vec![(*component).into(), (*check).into()];
        row.extend(c.iter().map(comfy_table::Cell::new));
        t.add_row(row);
    }
    let _ = writeln!(out, "{t}");
    if !bad.is_empty() {
        let mut t = render::table(&[
            "COMPONENT",
            "CHECK",
            "STATUS",
            "REASON",
            "HOSTS",
            "FIRST MESSAGE",
        ]);
        for ([component, check, status, reason], (hosts, message)) in &bad {
            let mut named = hosts[..hosts.len().min(NAMED_HOSTS)].join(", ");
            if hosts.len() > NAMED_HOSTS {
                let _ = write!(named, " and {} more", hosts.len() - NAMED_HOSTS);
            }
            t.add_row(vec![
                (*component).to_owned(),
                (*check).to_owned(),
                (*status).to_owned(),
                (*reason).to_owned(),
                format!("{} ({named})", hosts.len()),
                render::text(message),
            ]);
        }
        let _ = writeln!(out, "not passing, by check and reason:\n{t}");
    }
    let _ = writeln!(
        out,
        "{} results summarised; --per-host prints each, --format json has them all",
        results.len()
    );
}

fn junit(r: &Report<'_>) -> String {
    use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
    let mut report = JReport::new("fearless check");
    report.set_time(r.elapsed);
    let mut suites: Vec<TestSuite> = Vec::new();
    for res in r.results {
        let idx = match suites
            .iter()
            .position(|s| s.name.as_str() == res.component.as_str())
        {
            Some(i) => i,
            None => {
                suites.push(TestSuite::new(res.component.clone()));
                suites.len() - 1
            }
        };
        let name = match &res.host {
            Some(h) => format!("{} @ {h}", res.check),
            None => res.check.clone(),
        };
        let status = match res.status {
            Status::Pass | Status::Degraded => TestCaseStatus::success(),
            Status::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(res.message.clone());
                s
            }
            Status::Fail | Status::Error => {
                let kind = if res.status == Status::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_message(res.message.clone());
                s.set_type(res.reason.map_or("unknown", |x| x.as_str()));
                s
            }
        };
        let mut tc = TestCase::new(name, status);
        tc.set_classname(format!("{}.{}", res.component, res.kind));
        tc.set_time(res.duration);
        suites[idx].add_test_case(tc);
    }
    report.add_test_suites(suites);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit: {e} -->\n"))
}

fn tap(r: &Report<'_>) -> String {
    let mut out = format!("TAP version 14\n1..{}\n", r.results.len());
    for (i, res) in r.results.iter().enumerate() {
        let n = i + 1;
        let name = format!(
            "{}/{}{}",
            res.component,
            res.check,
            res.host
                .as_ref()
                .map(|h| format!(" @ {h}"))
                .unwrap_or_default()
        );
        let one_line = res.message.replace('\n', " ");
        match res.status {
            Status::Pass | Status::Degraded => {
                let _ = writeln!(out, "ok {n} - {name}");
            }
            Status::Skipped => {
                let _ = writeln!(out, "ok {n} - {name} # SKIP {one_line}");
            }
            Status::Fail | Status::Error => {
                let _ = writeln!(out, "not ok {n} - {name}");
                let _ = writeln!(
                    out,
                    "  ---\n  status: {}\n  reason: {}\n  message: {}\n  ...",
                    res.status.as_str(),
                    res.reason.map_or("unknown", |x| x.as_str()),
                    serde_json::to_string(&one_line).unwrap_or_default()
                );
            }
        }
    }
    out
}

fn prom_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn prometheus(r: &Report<'_>) -> String {
    let mut out = String::new();
    let labels = |res: &CheckResult| {
        format!(
            "component=\"{}\",check=\"{}\",host=\"{}\",kind=\"{}\"",
            prom_escape(&res.component),
            prom_escape(&res.check),
            prom_escape(res.host.as_deref().unwrap_or("")),
            res.kind
        )
    };
    out.push_str("# HELP fearless_check_up 1 when the check passed (or degraded), else 0.\n# TYPE fearless_check_up gauge\n");
    for res in r.results {
        let _ = writeln!(
            out,
            "fearless_check_up{{{},status=\"{}\"}} {}",
            labels(res),
            res.status.as_str(),
            u8::from(res.status.is_ok())
        );
    }
    out.push_str("# HELP fearless_check_duration_seconds Wall time of the check, all attempts.\n# TYPE fearless_check_duration_seconds gauge\n");
    for res in r.results {
        let _ = writeln!(
            out,
            "fearless_check_duration_seconds{{{}}} {}",
            labels(res),
            res.duration.as_secs_f64()
        );
    }
    out.push_str("# HELP fearless_component_root_suspect 1 for components localised as root suspects.\n# TYPE fearless_component_root_suspect gauge\n");
    for s in &r.localisation.suspects {
        let _ = writeln!(
            out,
            "fearless_component_root_suspect{{component=\"{}\"}} 1",
            prom_escape(&s.component)
        );
    }
    out
}
