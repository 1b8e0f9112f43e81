//! The environment's health from the recorded check runs (the monitor's, and `fearless check
//! --record`'s): the components × hosts grid of the latest run with its root suspects and
//! impacted components, every check's state, and one check's history.

use std::collections::{BTreeMap, BTreeSet};

use fearless_graph::Localisation;
use fearless_store::{CheckRun, HistoryFilter, HistorySpan};
use maud::{Markup, html};

use crate::App;
use crate::error::PageError;
use crate::html::{ago, at, badge};

/// How many spans (stretches of equal results) a check's history page shows for one host.
const HISTORY_SPANS: u32 = 200;
/// How many it shows of each host when it shows every host.
const FLEET_SPANS: usize = 30;
/// How many spans the fleet view reads at most, newest first.
const FLEET_READ: u32 = 30_000;
/// How many spans a host's table lists.
const TABLE_SPANS: usize = 10;
/// How many hosts get a timeline of their own on the fleet view (the failing first).
const FLEET_HOSTS: usize = 50;

pub(crate) fn ts(t: time::OffsetDateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Worst first: the status a cell of several checks shows.
fn rank(status: &str) -> u8 {
    match status {
        "error" => 5,
        "fail" => 4,
        "degraded" => 3,
        "pass" => 2,
        "skipped" => 1,
        _ => 0,
    }
}

/// A stored run as a baseline (what the map colours nodes by); a status the probe does
/// not know (a newer release's) is left out.
pub(crate) fn baseline_of(run: &CheckRun) -> fearless_probe::baseline::Baseline {
    use fearless_probe::baseline::{Baseline, Entry, FORMAT};
    use fearless_probe::result::Status;
    let status = |s: &str| -> Option<Status> {
        [
            Status::Pass,
            Status::Degraded,
            Status::Fail,
            Status::Error,
            Status::Skipped,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    };
    Baseline {
        format: FORMAT,
        results: run
            .results
            .iter()
            .filter_map(|r| {
                Some(Entry {
                    component: r.component.clone(),
                    check: r.check.clone(),
                    host: r.host.clone(),
                    status: status(&r.status)?,
                })
            })
            .collect(),
    }
}

/// The column a result belongs to: its host, or the controller for checks run from it.
const CONTROLLER: &str = "(controller)";

/// The overview's health section: the latest run as a grid, suspects and impacted marked,
/// unreachable hosts, the age of the data. Followed live: a new run reloads the page.
pub(crate) async fn overview(app: &App) -> Result<Markup, PageError> {
    let Some(latest) = app.store.check_runs(None, 1).await?.into_iter().next() else {
        return Ok(html! {
            div.banner role="status" {
                "No check run is recorded yet. " code { "fearless serve" } " runs the test plan every "
                (humantime_secs(app.config.monitor.interval.as_secs())) "; " code { "fearless check --record" } " records one now."
            }
            script { (maud::PreEscaped(RELOAD_ON_RUN)) }
        });
    };
    // A run never changes once recorded: its localisation and grid are rendered once per run
    // (reading 20,000 results back and localising them is most of a page's cost), and only
    // the age is rendered each time.
    let cached = app
        .overview_cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .filter(|(id, _)| *id == latest.id);
    let section = match cached {
        Some((_, html)) => html,
        None => {
            let Some(run) = app.store.latest_check_run().await? else {
                return Err(PageError::unavailable(
                    "the latest run went away while it was read",
                ));
            };
            let loc = fearless_engine::monitor::localise_run(&app.config, &run);
            let html = std::sync::Arc::new(
                html! { (localised(&run, &loc)) (grid(app, &run, &loc)) }.into_string(),
            );
            *app.overview_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((run.id, std::sync::Arc::clone(&html)));
            html
        }
    };
    Ok(html! {
        (age(&latest))
        (maud::PreEscaped(section.as_str()))
        script { (maud::PreEscaped(RELOAD_ON_RUN)) }
    })
}

/// Reloads the page when the server says a new run was recorded.
const RELOAD_ON_RUN: &str = "(function(){var es=new EventSource('/live');es.addEventListener('run',function(){es.close();location.reload();});})();";

fn humantime_secs(s: u64) -> String {
    if s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// The run and the age of its data.
fn age(run: &fearless_store::CheckRunSummary) -> Markup {
    let c = &run.counts;
    html! {
        p #age {
            "Run " (run.id) " (" (run.trigger) "), finished " (ago(ts(run.finished_at))) " at " (at(ts(run.finished_at)))
            ": " (c.total()) " results, " (c.fail + c.error) " failing."
        }
    }
}

/// What the graph makes of a run: every check passing, or its root suspects, the impacted
/// components and the unreachable hosts.
fn localised(run: &CheckRun, loc: &Localisation) -> Markup {
    let failing = run.results.iter().filter(|r| rank(&r.status) >= 4).count();
    html! {
        @if loc.suspects.is_empty() && failing == 0 {
            div.ok role="status" { "Every check passes." }
        }
        @for s in &loc.suspects {
            div.banner role="alert" data-suspect=(s.component) {
                strong { "Root suspect: " (s.component) }
                @if !s.hosts.is_empty() { " on " (s.hosts.join(", ")) }
                " — explains " (s.explains) " failing check" @if s.explains != 1 { "s" } " (its own and those of the components impacted through it)."
            }
        }
        @if !loc.impacted.is_empty() {
            p { strong { "Impacted: " }
                @for (i, x) in loc.impacted.iter().enumerate() {
                    @if i > 0 { ", " }
                    span data-impacted=(x.component) { (x.component) } " (because of " (x.because_of.join(", ")) ")"
                }
            }
        }
        @if !loc.unreachable.is_empty() {
            p { strong { "Unreachable hosts: " } (loc.unreachable.join(", ")) }
        }
    }
}

fn grid(app: &App, run: &CheckRun, loc: &Localisation) -> Markup {
    let mut hosts: BTreeSet<&str> = BTreeSet::new();
    // component → host → (worst status, the checks that are not ok, with their messages)
    let mut cells: BTreeMap<&str, BTreeMap<&str, (&str, Vec<String>)>> = BTreeMap::new();
    for r in &run.results {
        let host = r.host.as_deref().unwrap_or(CONTROLLER);
        hosts.insert(host);
        let cell = cells
            .entry(&r.component)
            .or_default()
            .entry(host)
            .or_insert((r.status.as_str(), Vec::new()));
        if rank(&r.status) > rank(cell.0) {
            cell.0 = &r.status;
        }
        if rank(&r.status) >= 3 {
            cell.1
                .push(format!("{} {}: {}", r.check, r.status, r.message));
        }
    }
    let suspect_on = |c: &str, h: &str| {
        loc.suspects
            .iter()
            .any(|s| s.component == c && (s.hosts.is_empty() || s.hosts.iter().any(|x| x == h)))
    };
    let impacted = |c: &str| loc.impacted.iter().any(|i| i.component == c);
    let components: Vec<&str> = app
        .config
        .components
        .keys()
        .map(String::as_str)
        .filter(|c| cells.contains_key(c))
        .collect();
    html! {
        div.scroll { table #grid {
            tr { th { "component" } @for h in &hosts { th.cell { (h) } } }
            @for c in &components { tr data-component=(c) {
                th {
                    a href={"/checks#" (c)} { (c) }
                    @if loc.suspects.iter().any(|s| s.component == *c) { " " span.mark.fail-text { "root suspect" } }
                    @else if impacted(c) { " " span.mark { "impacted" } }
                }
                @for h in &hosts {
                    @match cells.get(c).and_then(|m| m.get(h)) {
                        Some((status, problems)) => td.cell class=[suspect_on(c, h).then_some("suspect")]
                            data-host=(h) data-status=(status) title=(problems.join("\n")) { (badge(status)) },
                        None => td.cell data-host=(h) { span.note { "·" } },
                    }
                }
            } }
        } }
    }
}

/// `/checks`: every check of the latest run, with its hard state since when.
pub(crate) async fn checks_page(app: &App) -> Result<Markup, PageError> {
    let states = app.store.check_states().await?;
    // component → check → [(host, state)]
    let mut by: BTreeMap<&str, BTreeMap<&str, Vec<&fearless_store::CheckState>>> = BTreeMap::new();
    for s in &states {
        by.entry(&s.component)
            .or_default()
            .entry(&s.check)
            .or_default()
            .push(s);
    }
    Ok(html! {
        h1 { "Checks" }
        @if states.is_empty() { p.note { "No check run is recorded yet." } }
        @for (component, checks) in &by {
            h2 id=(component) { (component) }
            table {
                tr { th { "check" } th { "hosts" } }
                @for (check, hosts) in checks { tr {
                    td { a href={"/checks/" (component) "/" (check)} { (check) } }
                    td { @for s in hosts {
                        span title={"since " (at(ts(s.since)))} {
                            (s.host.as_deref().unwrap_or(CONTROLLER)) " " (badge(&s.hard))
                            @if let Some(soft) = &s.soft { " " span.note { "(soft " (soft) ")" } }
                        } " "
                    } }
                } }
            }
        }
    })
}

/// `/checks/{component}/{check}`: per host, a status timeline (oldest left, each stretch of
/// equal results as wide as it has results), durations and messages.
pub(crate) async fn history_page(
    app: &App,
    component: &str,
    check: &str,
    host: Option<&str>,
) -> Result<Markup, PageError> {
    // Recorded runs never change: a check's page is rendered once per latest run (the
    // first look after each run reads the history; the others reuse it).
    let latest = app.store.check_runs(None, 1).await?.first().map(|r| r.id);
    let key = (
        component.to_owned(),
        check.to_owned(),
        host.map(str::to_owned),
    );
    if let Some(latest) = latest {
        let cache = app
            .history_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((id, html)) = cache.get(&key)
            && *id == latest
        {
            return Ok(maud::PreEscaped(html.as_str().to_owned()));
        }
    }
    let page = history_of(app, component, check, host).await?;
    if let Some(latest) = latest {
        let mut cache = app
            .history_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= HISTORY_PAGES_KEPT {
            cache.clear();
        }
        cache.insert(
            key,
            (latest, std::sync::Arc::new(page.clone().into_string())),
        );
    }
    Ok(page)
}

/// How many rendered history pages are kept (all are dropped when it is reached).
const HISTORY_PAGES_KEPT: usize = 256;

async fn history_of(
    app: &App,
    component: &str,
    check: &str,
    host: Option<&str>,
) -> Result<Markup, PageError> {
    let known = app
        .config
        .components
        .get(component)
        .is_some_and(|c| c.checks.iter().any(|k| k.name == check));
    if !known {
        return Err(PageError::not_found(format!(
            "no check `{check}` in component `{component}` of the configuration"
        )));
    }
    let spans = app
        .store
        .check_history(&HistoryFilter {
            component: component.to_owned(),
            check: check.to_owned(),
            host: host.map(str::to_owned),
            since: None,
            until: None,
            limit: if host.is_some() {
                HISTORY_SPANS
            } else {
                FLEET_READ
            },
        })
        .await?;
    let per_host = if host.is_some() {
        HISTORY_SPANS as usize
    } else {
        FLEET_SPANS
    };
    let mut by_host: BTreeMap<&str, Vec<&HistorySpan>> = BTreeMap::new();
    for p in &spans {
        let v = by_host
            .entry(p.host.as_deref().unwrap_or(CONTROLLER))
            .or_default();
        if v.len() < per_host {
            v.push(p);
        }
    }
    // On the fleet view, the hosts with a result that is not ok get a timeline (at most
    // FLEET_HOSTS); the others are counted, each a link to its own history.
    let all_ok = |ps: &Vec<&HistorySpan>| ps.iter().all(|p| rank(&p.status) <= 3);
    let quiet: Vec<&str> = if host.is_some() {
        Vec::new()
    } else {
        let noisy = by_host.values().filter(|ps| !all_ok(ps)).count();
        let room = FLEET_HOSTS.saturating_sub(noisy);
        by_host
            .iter()
            .filter(|(_, ps)| all_ok(ps))
            .map(|(h, _)| *h)
            .skip(room)
            .collect()
    };
    by_host.retain(|h, _| !quiet.contains(h));
    let mut kept = 0usize;
    let mut more: Vec<&str> = Vec::new();
    by_host.retain(|h, _| {
        kept += 1;
        if kept > FLEET_HOSTS {
            more.push(h);
        }
        kept <= FLEET_HOSTS
    });
    Ok(html! {
        h1 { (component) "/" (check) @if let Some(h) = host { " on " (h) } }
        @if host.is_some() { p { a href={"/checks/" (component) "/" (check)} { "every host" } } }
        @else { p.note { "The last " (FLEET_SPANS) " stretches of equal results of every host; a host's name opens its last " (HISTORY_SPANS) "." } }
        @if spans.is_empty() { p.note { "No recorded result yet." } }
        @if !more.is_empty() {
            p #more { (more.len()) " more host" @if more.len() != 1 { "s" } " with a result that is not ok: "
                @for (i, h) in more.iter().enumerate() { @if i > 0 { ", " } a href={"?host=" (h)} { (h) } } }
        }
        @if !quiet.is_empty() {
            p #quiet { (quiet.len()) " other host" @if quiet.len() != 1 { "s" } " passed in every run shown: "
                @for (i, h) in quiet.iter().enumerate() { @if i > 0 { ", " } a href={"?host=" (h)} { (h) } } }
        }
        @for (host, spans) in &by_host {
            @let newest = spans[0];
            @let first_fail = first_failure(spans);
            @let results: u64 = spans.iter().map(|s| s.results).sum();
            h2 { a href={"/checks/" (component) "/" (check) "?host=" (host)} { (host) } " " (badge(&newest.status)) }
            p.note {
                "Latest at " (at(ts(newest.last_at))) " (run " (newest.last_run) "), " (newest.last_ms) " ms"
                @if let Some(f) = first_fail { "; failing since " (at(ts(f.first_at))) " (run " (f.first_run) ")" }
                "."
            }
            div.timeline role="img" aria-label={(results) " results in " (spans.len()) " stretches, oldest first"} {
                @for p in spans.iter().rev() {
                    span class=(p.status) style={"flex-grow:" (p.results)}
                        title={(at(ts(p.first_at))) " – " (at(ts(p.last_at))) ": " (p.results) " × " (p.status) ", " (p.mean_ms) " ms mean: " (p.last_message)} {}
                }
            }
            table {
                tr { th { "from" } th { "to" } th { "status" } th { "results" } th { "ms (mean / max)" } th { "message" } }
                @for p in spans.iter().take(TABLE_SPANS) { tr {
                    td { (at(ts(p.first_at))) " (run " (p.first_run) ")" }
                    td { (at(ts(p.last_at))) " (run " (p.last_run) ")" }
                    td { (badge(&p.status)) } td { (p.results) } td { (p.mean_ms) " / " (p.max_ms) }
                    td { (p.last_message)
                        @if p.first_message != p.last_message { br; span.note { "first: " (p.first_message) } } }
                } }
            }
        }
    })
}

/// The span the current failing streak starts with (newest first in `spans`).
fn first_failure<'a>(spans: &[&'a HistorySpan]) -> Option<&'a HistorySpan> {
    let mut first = None;
    for p in spans {
        match p.status.as_str() {
            "fail" | "error" => first = Some(*p),
            "skipped" => {}
            _ => break,
        }
    }
    first
}
