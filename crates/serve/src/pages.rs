//! The pages: each reads through the engine the CLI uses and renders what the records say.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use fearless_change::{ChangeRecord, State as ChangeState};
use fearless_engine::identity::Who;
use fearless_engine::{Engine, Silent, SystemClock};
use fearless_rollout::RolloutState;
use fearless_store::JournalFilter;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::App;
use crate::error::PageError;
use crate::html::{Page, action, ago, at, badge, page};
use crate::viewer::Viewer;

/// How long a journal verification is shown before it is run again.
const VERIFY_FOR: Duration = Duration::from_secs(300);

/// The engine, reading (or acting as `who`).
pub(crate) fn engine<'a>(app: &'a App, who: Who<'a>) -> Engine<'a> {
    Engine {
        config: &app.config,
        store: &app.store,
        events: &app.events,
        actor: who,
        progress: &Silent,
        clock: &SystemClock,
    }
}

/// A reader that nobody in particular is (pages that only read).
pub(crate) fn reader(app: &App) -> Engine<'_> {
    engine(app, Who::from("dashboard"))
}

/// Refuse a viewer who may not read (a non-loopback dashboard without a login).
pub(crate) fn may_read(app: &App, viewer: &Viewer) -> Result<(), Box<Response>> {
    if viewer.may_read(app) {
        Ok(())
    } else {
        Err(Box::new(Redirect::to("/login").into_response()))
    }
}

macro_rules! readable {
    ($app:expr, $viewer:expr) => {
        if let Err(r) = may_read(&$app, &$viewer) {
            return Ok(*r);
        }
    };
}

/// A unit enum's name as its records spell it (`high`, `approved`).
fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_owned(),
    }
}

fn ts(t: time::OffsetDateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// `/`: what is healthy, what is changing, what waits for approval, what is open.
pub(crate) async fn overview(
    State(app): State<Arc<App>>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let e = reader(&app);
    let changes = e.changes().await?;
    let rollouts = e.rollouts().await?;
    let incidents = e.incidents().await?;
    let waiting: Vec<&ChangeRecord> = changes
        .iter()
        .filter(|c| c.state == ChangeState::Authorize)
        .collect();
    let changing: Vec<_> = rollouts
        .iter()
        .filter(|(s, _)| matches!(s.state.as_str(), "running" | "paused" | "aborting"))
        .collect();
    let open: Vec<_> = incidents
        .iter()
        .filter(|i| {
            use fearless_rca::incident::IncidentState;
            matches!(i.state, IncidentState::Open | IncidentState::Mitigated)
        })
        .collect();
    let health = crate::health::overview(&app).await?;
    let body = html! {
        h1 { "Overview" }
        (health)
        h2 { "Changing now" }
        @if changing.is_empty() { p.note { "No rollout is running." } }
        @else { table { tr { th { "rollout" } th { "state" } th { "change" } th { "packages" } }
            @for (s, r) in &changing { tr {
                td { a href={"/rollouts/R-" (s.number)} { "R-" (s.number) } }
                td { (badge(&s.state)) } td { a href={"/changes/" (r.change)} { (r.change) } }
                td { (r.manifest.join(", ")) } } } } }
        h2 { "Waiting for approval" }
        @if waiting.is_empty() { p.note { "No change waits for approval." } }
        @else { table { tr { th { "change" } th { "title" } th { "requester" } th { "risk" } }
            @for c in &waiting { tr {
                td { a href={"/changes/" (c.id())} { (c.id()) } } td { (c.title) }
                td { (c.requester) } td { (word(&c.risk.level)) } } } } }
        h2 { "Open incidents" }
        @if open.is_empty() { p.note { "No incident is open or mitigated." } }
        @else { table { tr { th { "incident" } th { "state" } th { "title" } th { "opened" } }
            @for i in &open { tr {
                td { a href={"/incidents/" (i.id())} { (i.id()) } } td { (badge(i.state.as_str())) }
                td { (i.record.title) } td { (ago(ts(i.stored.created_at))) } } } } }
    };
    Ok(page("Overview", "/", &viewer, body).into_response())
}

/// `/map`: the declared graph, coloured by the latest run.
pub(crate) async fn map(
    State(app): State<Arc<App>>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let latest = app.store.latest_check_run().await?;
    let mut map = fearless_engine::map::declared(&app.config);
    let note = match &latest {
        Some(run) => {
            fearless_engine::map::with_status(
                &mut map,
                &app.config,
                &crate::health::baseline_of(run),
            );
            format!("Coloured by run {} ({}).", run.id, ago(ts(run.finished_at)))
        }
        None => "No check run is recorded yet: the map shows the declared graph only.".to_owned(),
    };
    let svg = fearless_map::render::svg(&map);
    let body = html! {
        h1 { "Map" }
        p.note { (note) " Root suspects are outlined." }
        div.scroll { (PreEscaped(svg)) }
    };
    Ok(page("Map", "/map", &viewer, body).into_response())
}

/// `/checks`: every check with its state.
pub(crate) async fn checks(
    State(app): State<Arc<App>>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let body = crate::health::checks_page(&app).await?;
    Ok(page("Checks", "/checks", &viewer, body).into_response())
}

/// `?host=` on a check's history.
#[derive(Debug, Deserialize)]
pub(crate) struct HostFilter {
    host: Option<String>,
}

/// `/checks/{component}/{check}[?host=H]`: one check's history, on every host or one.
pub(crate) async fn check_history(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((component, check)): Path<(String, String)>,
    Query(filter): Query<HostFilter>,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let host = filter.host.as_deref().filter(|h| !h.is_empty());
    let body = crate::health::history_page(&app, &component, &check, host).await?;
    Ok(page(&format!("{component}/{check}"), "/checks", &viewer, body).into_response())
}

/// `?state=` on the list of changes.
#[derive(Debug, Deserialize)]
pub(crate) struct ChangeFilter {
    state: Option<String>,
}

/// `/changes`.
pub(crate) async fn changes(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Query(filter): Query<ChangeFilter>,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let state = match filter.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            ChangeState::ALL
                .into_iter()
                .find(|x| x.as_str() == s)
                .ok_or_else(|| {
                    PageError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        format!("`{s}` is not a change state"),
                    )
                })?,
        ),
        None => None,
    };
    let mut all = reader(&app).changes().await?;
    all.retain(|c| state.is_none_or(|s| c.state == s));
    all.reverse();
    let body = html! {
        h1 { "Changes" }
        form method="get" action="/changes" {
            select name="state" aria-label="state" {
                option value="" { "every state" }
                @for s in ChangeState::ALL { option value=(s.as_str()) selected[state == Some(s)] { (s.as_str()) } }
            }
            " " button type="submit" { "filter" }
        }
        @if all.is_empty() { p.note { "No change." } }
        @else { div.scroll { table {
            tr { th { "change" } th { "state" } th { "title" } th { "type" } th { "risk" } th { "requester" } th { "window" } }
            @for c in &all { tr {
                td { a href={"/changes/" (c.id())} { (c.id()) } } td { (badge(c.state.as_str())) } td { (c.title) }
                td { (c.change_type.as_str()) } td { (word(&c.risk.level)) } td { (c.requester) }
                td { @if let Some(w) = &c.window { (at(w.start)) " – " (at(w.end)) } @else { "-" } }
            } }
        } } }
    };
    Ok(page("Changes", "/changes", &viewer, body).into_response())
}

/// `/changes/{id}`.
pub(crate) async fn change(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    Ok(change_page(&app, &viewer, &id, None).await?.into_response())
}

/// A change's page, with `outcome` (an action's result) above it.
pub(crate) async fn change_page(
    app: &App,
    viewer: &Viewer,
    id: &str,
    outcome: Option<Result<String, PageError>>,
) -> Result<Page, PageError> {
    let e = reader(app);
    let (_, c) = e.change(id).await?;
    let journal = e.journal_of(&c.id().to_string()).await?;
    let body = html! {
        (outcome_box(outcome.as_ref()))
        h1 { (c.id()) " " (c.title) " " (badge(c.state.as_str())) }
        table {
            tr { th { "type" } td { (c.change_type.as_str()) } }
            tr { th { "requester" } td { (c.requester) } }
            tr { th { "risk" } td { (word(&c.risk.level)) " (impact " (word(&c.risk.impact)) ", urgency " (word(&c.risk.urgency)) "; " (c.risk.impact_basis) ")" } }
            tr { th { "scope" } td { (c.scope.selector) ": " (c.scope.hosts.join(", ")) @if !c.scope.components.is_empty() { " — " (c.scope.components.join(", ")) } } }
            tr { th { "window" } td { @if let Some(w) = &c.window { (at(w.start)) " – " (at(w.end)) } @else { "-" } } }
            @if let Some(a) = &c.assessment {
                tr { th { "conflicts" } td { @if a.conflicts.is_empty() { "none" } @else { @for x in &a.conflicts { (x.to_string()) br; } } } }
            }
        }
        @if !c.description.is_empty() { h2 { "Description" } p { (c.description) } }
        @if !c.implementation_plan.is_empty() { h2 { "Plan" } pre { (c.implementation_plan) } }
        @if !c.test_plan.is_empty() { h2 { "Test plan" } ul { @for t in &c.test_plan { li { (t) } } } }
        @if !c.rollback_plan.is_empty() { h2 { "Rollback" } pre { (c.rollback_plan) } }
        h2 { "Approvals" }
        @if c.approvals.is_empty() { p.note { "None yet." } }
        @else { table { tr { th { "by" } th { "decision" } th { "at" } th { "reason" } th { "round" } }
            @for a in &c.approvals { tr { td { (a.by) } td { (word(&a.decision)) } td { (at(a.at)) } td { (a.reason.as_deref().unwrap_or("")) } td { (a.round) } } } } }
        @if c.state == ChangeState::Authorize {
            @if viewer.csrf().is_some() {
                (action(viewer, &format!("/changes/{}/approve", c.id()), "approve", true))
                (action(viewer, &format!("/changes/{}/reject", c.id()), "reject", true))
            } @else { p.note { a href="/login" { "Log in" } " to approve or reject." } }
        }
        h2 { "Journal" }
        (journal_table(&journal))
    };
    Ok(page(&c.id().to_string(), "/changes", viewer, body))
}

/// The result of an action, above the page it acted on.
fn outcome_box(outcome: Option<&Result<String, PageError>>) -> Markup {
    html! {
        @match outcome {
            Some(Ok(done)) => div.ok role="status" { (done) },
            Some(Err(e)) => div.banner role="alert" { strong { "Refused" } ": " (e.message) @if let Some(h) = &e.hint { br; span.note { (h) } } },
            None => {},
        }
    }
}

fn journal_table(entries: &[fearless_store::JournalEntry]) -> Markup {
    html! {
        div.scroll { table {
            tr { th { "seq" } th { "time" } th { "actor" } th { "kind" } th { "subject" } }
            @for j in entries { tr {
                td { (j.seq) } td { (j.time) } td { (j.actor) @if let Some(v) = &j.vouched_by { " " span.note { "(" (v) ")" } } }
                td { (j.kind) } td { (j.subject) }
            } }
        } }
    }
}

/// `/rollouts`.
pub(crate) async fn rollouts(
    State(app): State<Arc<App>>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let mut all = reader(&app).rollouts().await?;
    all.reverse();
    let body = html! {
        h1 { "Rollouts" }
        @if all.is_empty() { p.note { "No rollout yet." } }
        @else { div.scroll { table {
            tr { th { "rollout" } th { "state" } th { "change" } th { "packages" } th { "waves" } th { "started" } th { "updated" } }
            @for (s, r) in &all { tr {
                td { a href={"/rollouts/R-" (s.number)} { "R-" (s.number) } } td { (badge(&s.state)) }
                td { a href={"/changes/" (r.change)} { (r.change) } } td { (r.manifest.join(", ")) }
                td { (r.waves.iter().map(|w| w.len().to_string()).collect::<Vec<_>>().join(" · ")) }
                td { (ago(ts(s.created_at))) } td { (ago(ts(s.updated_at))) }
            } }
        } } }
    };
    Ok(page("Rollouts", "/rollouts", &viewer, body).into_response())
}

/// `/rollouts/{id}`: the waves and each host's state, followed live while it runs.
pub(crate) async fn rollout(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    Ok(rollout_page(&app, &viewer, &id, None)
        .await?
        .into_response())
}

/// A rollout's page with `outcome` above it.
pub(crate) async fn rollout_page(
    app: &App,
    viewer: &Viewer,
    id: &str,
    outcome: Option<Result<String, PageError>>,
) -> Result<Page, PageError> {
    let n = fearless_engine::rollout::number(id)?;
    let e = reader(app);
    let (stored, record) = e.rollout(n).await?;
    let live = rollout_live(app, n).await?;
    let state: Option<RolloutState> = stored.state.parse().ok();
    let body = html! {
        (outcome_box(outcome.as_ref()))
        h1 { "R-" (n) " " span #state { (badge(&stored.state)) } }
        table {
            tr { th { "change" } td { a href={"/changes/" (record.change)} { (record.change) } } }
            tr { th { "packages" } td { (record.manifest.join(", ")) } }
            tr { th { "bake" } td { (record.bake_ms / 1000) " s" } }
            tr { th { "started" } td { (at(ts(stored.created_at))) } }
            tr { th { "preflight" } td { "package manager " (record.timings.preflight_package_manager_ms) " ms, baseline checks " (record.timings.baseline_checks_ms) " ms" } }
            @if let Some(r) = &record.result {
                @if let Some(i) = &r.incident { tr { th { "incident" } td { a href={"/incidents/" (i)} { (i) } } } }
                @if let Some(s) = &r.stopped { tr { th { "stopped" } td { (s) } } }
            }
        }
        div #actions {
            @if matches!(state, Some(RolloutState::Running | RolloutState::Paused)) {
                @if viewer.csrf().is_some() {
                    @if state == Some(RolloutState::Running) { (action(viewer, &format!("/rollouts/R-{n}/pause"), "pause", false)) }
                    (action(viewer, &format!("/rollouts/R-{n}/abort"), "abort", false))
                } @else { p.note { a href="/login" { "Log in" } " to pause or abort." } }
            }
        }
        h2 { "Hosts" }
        div #live data-rollout=(n) { (live) }
        @if matches!(state, Some(RolloutState::Running | RolloutState::Paused | RolloutState::Aborting)) {
            p.note #follow { "Following live." }
            script { (PreEscaped(LIVE_SCRIPT)) }
        }
    };
    Ok(page(&format!("R-{n}"), "/rollouts", viewer, body))
}

/// Replaces the hosts table with each update the server sends; when it ends, the state badge
/// and the actions (pause and abort no longer apply) from the page as it is now.
const LIVE_SCRIPT: &str = r#"(function(){var el=document.getElementById('live');var es=new EventSource('/rollouts/R-'+el.dataset.rollout+'/live');
es.addEventListener('hosts',function(e){el.innerHTML=e.data;});
es.addEventListener('end',function(e){el.innerHTML=e.data;es.close();var f=document.getElementById('follow');
if(f){f.textContent='Finished.';}fetch(location.href).then(function(r){return r.text();}).then(function(t){var d=new DOMParser().parseFromString(t,'text/html');['state','actions'].forEach(function(id){var n=d.getElementById(id);var o=document.getElementById(id);if(n&&o){o.innerHTML=n.innerHTML;}});});});})();"#;

/// The hosts of `R-<n>` by wave with their states and when each last moved.
pub(crate) async fn rollout_live(app: &App, n: u64) -> Result<Markup, PageError> {
    let hosts = reader(app).rollout_hosts(n).await?;
    let mut by_wave: BTreeMap<u32, Vec<_>> = BTreeMap::new();
    for (h, s) in &hosts {
        by_wave.entry(h.wave).or_default().push((h, *s));
    }
    Ok(html! {
        @for (wave, hosts) in &by_wave {
            h3 { "Wave " (wave) }
            table { tr { th { "host" } th { "state" } th { "snapshot" } th { "moved" } }
                @for (h, s) in hosts { tr data-host=(h.host) {
                    td { (h.host) } td { (badge(&s.to_string())) }
                    td { @if let Some(n) = h.snapshot { "SNAP-" (n) } @else { "-" } }
                    td { (at(ts(h.updated_at))) }
                } } }
        }
    })
}

/// `/incidents`.
pub(crate) async fn incidents(
    State(app): State<Arc<App>>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let mut all = reader(&app).incidents().await?;
    all.reverse();
    let body = html! {
        h1 { "Incidents" }
        @if all.is_empty() { p.note { "No incident." } }
        @else { div.scroll { table {
            tr { th { "incident" } th { "state" } th { "title" } th { "attribution" } th { "opened" } }
            @for i in &all { tr {
                td { a href={"/incidents/" (i.id())} { (i.id()) } } td { (badge(i.state.as_str())) } td { (i.record.title) }
                td { @if let Some(r) = &i.record.report { (r.attribution) } @else { span.note { "no report yet" } } }
                td { (ago(ts(i.stored.created_at))) }
            } }
        } } }
    };
    Ok(page("Incidents", "/incidents", &viewer, body).into_response())
}

/// `/incidents/{id}`: the attribution first, then the report.
pub(crate) async fn incident(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    Ok(incident_page(&app, &viewer, &id, None)
        .await?
        .into_response())
}

/// An incident's page with `outcome` above it.
pub(crate) async fn incident_page(
    app: &App,
    viewer: &Viewer,
    id: &str,
    outcome: Option<Result<String, PageError>>,
) -> Result<Page, PageError> {
    let i = reader(app).incident(id).await?;
    let m = &i.record.milestones;
    let body = html! {
        (outcome_box(outcome.as_ref()))
        h1 { (i.id()) " " (i.record.title) " " (badge(i.state.as_str())) }
        @if let Some(r) = &i.record.report {
            div.banner { strong { "Attribution" } ": " (r.attribution) @if r.confirmed { " " span.note { "(confirmed by a bisect)" } } }
        } @else { p.note { "No report yet: " code { "fearless rca " (i.id()) } " writes it." } }
        table {
            @if let Some(c) = &i.record.change { tr { th { "change" } td { a href={"/changes/" (c)} { (c) } } } }
            @if let Some(r) = &i.record.rollout { tr { th { "rollout" } td { a href={"/rollouts/" (r)} { (r) } } } }
            tr { th { "opened by" } td { (i.record.opened_by) } }
            @if let Some(t) = m.detected { tr { th { "detected" } td { (at(t)) } } }
            @if let Some(t) = m.acknowledged { tr { th { "acknowledged" } td { (at(t)) @if let Some(b) = &m.acknowledged_by { " by " (b) } } } }
            @if let Some(t) = m.mitigated { tr { th { "mitigated" } td { (at(t)) } } }
            @if let Some(t) = m.resolved { tr { th { "resolved" } td { (at(t)) } } }
        }
        @if m.acknowledged.is_none() && i.state == fearless_rca::incident::IncidentState::Open {
            @if viewer.csrf().is_some() { (action(viewer, &format!("/incidents/{}/acknowledge", i.id()), "acknowledge", true)) }
            @else { p.note { a href="/login" { "Log in" } " to acknowledge." } }
        }
        @if !i.record.notes.is_empty() {
            h2 { "Notes" }
            ul { @for n in &i.record.notes { li { (at(n.at)) " " (n.by) " (" (n.state) "): " (n.note) } } }
        }
        @if let Some(r) = &i.record.report {
            div.report { (PreEscaped(fearless_rca::report::markdown_html(&r.markdown))) }
        }
    };
    Ok(page(&i.id(), "/incidents", viewer, body))
}

/// `?q=` (text in kind, subject or actor) and `?verify=1` on the journal.
#[derive(Debug, Deserialize)]
pub(crate) struct JournalQuery {
    q: Option<String>,
    verify: Option<String>,
}

/// The last verification of the journal, kept a while (walking a long chain is work).
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub(crate) at: Instant,
    pub(crate) when: jiff::Timestamp,
    pub(crate) intact: bool,
    pub(crate) entries: u64,
    pub(crate) summary: String,
}

/// The journal's verification, run again when older than [`VERIFY_FOR`] or when asked.
pub(crate) async fn verified(app: &App, again: bool) -> Result<Verified, PageError> {
    let kept = app
        .verified
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if !again
        && let Some(v) = kept
        && v.at.elapsed() < VERIFY_FOR
    {
        return Ok(v);
    }
    let allowed = match &app.config.identity.allowed_signers {
        Some(path) => Some(
            fearless_sign::AllowedSigners::read(path)
                .map_err(|e| PageError::unavailable(format!("allowed signers: {e}")))?,
        ),
        None => None,
    };
    let check = fearless_engine::journal::verify(&app.store, None, allowed.as_ref(), false).await?;
    let v = Verified {
        at: Instant::now(),
        when: jiff::Timestamp::now(),
        intact: check.is_ok(),
        entries: check.chain.entries,
        summary: verify_summary(&check),
    };
    *app.verified
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(v.clone());
    Ok(v)
}

/// What a verification found, in one sentence.
fn verify_summary(check: &fearless_engine::journal::JournalCheck) -> String {
    let c = &check.chain;
    let mut out = match &c.broken {
        Some(b) => format!("the chain is broken at seq {}: {}", b.seq, b.why),
        None => format!(
            "{} entries chained up to seq {} ({})",
            c.entries,
            c.head.seq,
            c.head.hash.get(..12).unwrap_or(&c.head.hash)
        ),
    };
    let s = &check.signatures;
    out.push_str(&format!(
        "; {} signed, {} verified against {}",
        s.signed,
        s.verified,
        s.allowed_signers.as_deref().unwrap_or("no allowed signers")
    ));
    if !s.problems.is_empty() {
        let seqs: Vec<String> = s
            .problems
            .iter()
            .map(|p| format!("seq {}: {}", p.seq, p.why))
            .collect();
        out.push_str(&format!("; signature problems: {}", seqs.join("; ")));
    }
    out
}

/// `/journal`: verification first, then the entries (newest first), searchable.
pub(crate) async fn journal(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Query(query): Query<JournalQuery>,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let v = verified(&app, query.verify.is_some()).await?;
    let mut entries = app.store.journal(&JournalFilter::default()).await?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if let Some(q) = q {
        let q = q.to_lowercase();
        entries.retain(|j| {
            j.kind.to_lowercase().contains(&q)
                || j.subject.to_lowercase().contains(&q)
                || j.actor.to_lowercase().contains(&q)
        });
    }
    entries.reverse();
    let shown = entries.len().min(500);
    let body = html! {
        h1 { "Journal" }
        div class=(if v.intact { "ok" } else { "banner" }) role="status" #verify {
            strong { @if v.intact { "Intact" } @else { "NOT intact" } } ": " (v.summary)
            " " span.note { "(verified " (ago(v.when)) ", " (v.entries) " entries) " a href="/journal?verify=1" { "verify now" } }
        }
        form method="get" action="/journal" {
            input type="search" name="q" value=[q] placeholder="kind, subject or actor" aria-label="search";
            " " button type="submit" { "search" }
        }
        p.note { (entries.len()) " entries" @if shown < entries.len() { ", the newest " (shown) " shown" } "." }
        (journal_table(&entries[..shown]))
    };
    Ok(page("Journal", "/journal", &viewer, body).into_response())
}

/// `/login`.
pub(crate) async fn login_form(viewer: Viewer) -> Page {
    login_page(&viewer, None)
}

/// The login form, with `problem` above it.
pub(crate) fn login_page(viewer: &Viewer, problem: Option<&str>) -> Page {
    page(
        "Log in",
        "",
        viewer,
        html! {
            h1 { "Log in" }
            @if let Some(p) = problem { div.banner role="alert" { (p) } }
            form method="post" action="/login" {
                p { label { "user " input type="text" name="user" autocomplete="username" required; } }
                p { label { "password " input type="password" name="password" autocomplete="current-password" required; } }
                button type="submit" { "log in" }
            }
            p.note { "Users are added with " code { "fearless user add NAME" } "." }
        },
    )
}

/// The largest file `/files/NAME` serves.
const FILE_LIMIT: u64 = 64 * 1024 * 1024;

/// `GET /files/{name}`: a file of `serve.files`, by its plain name (no directory, no
/// dot-file), read-only, under the rules of the pages.
pub(crate) async fn file(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    readable!(app, viewer);
    let Some(dir) = &app.options.files else {
        return Err(PageError::not_found(
            "no files are served: serve.files is not set",
        ));
    };
    let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0']);
    if !plain {
        return Err(PageError::not_found(format!(
            "`{}` is not a file name",
            fearless_io::Escaped(&name)
        )));
    }
    let path = dir.join(&name);
    let bytes = tokio::task::spawn_blocking(move || {
        fearless_io::read_bytes(&path, fearless_io::Limit::bytes(FILE_LIMIT))
    })
    .await
    .map_err(|e| PageError::unavailable(e.to_string()))?
    .map_err(|e| match e {
        fearless_io::ReadError::NotFound { .. } => {
            PageError::not_found(format!("no file `{name}`"))
        }
        e => PageError::forbidden(e.to_string()),
    })?;
    let kind = match name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
        Some(e) if e == "html" || e == "htm" => "text/html; charset=utf-8",
        Some(e) if e == "css" => "text/css; charset=utf-8",
        Some(e) if e == "svg" => "image/svg+xml",
        Some(e) if e == "png" => "image/png",
        Some(e) if e == "json" => "application/json",
        Some(e) if e == "md" || e == "txt" || e == "log" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, kind),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // A file is not the dashboard: a script in it runs in no origin of ours.
            (axum::http::header::CONTENT_SECURITY_POLICY, "sandbox"),
        ],
        bytes,
    )
        .into_response())
}
