//! `/healthz` (the process answers), `/readyz` (the store answers) and `/metrics`
//! (Prometheus text exposition format 0.0.4: the latest check run per component, check and
//! host, run durations, rollouts by state, incidents by state, the events outbox's depth).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::App;
use crate::error::PageError;
use crate::viewer::Viewer;

/// `GET /healthz`: the process is up.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the store answers, 503 with the reason when it does not.
pub(crate) async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the store does not answer: {e}\n"),
        )
            .into_response(),
    }
}

/// A label value as the text format writes it: `\`, `"` and line breaks escaped.
pub(crate) fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Every status a check can have.
const STATUSES: [&str; 5] = ["pass", "degraded", "fail", "error", "skipped"];

/// `GET /metrics`.
pub(crate) async fn metrics(
    State(app): State<Arc<App>>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    if !viewer.may_read(&app) {
        return Err(PageError::unauthorized(
            "log in (HTTP basic credentials) to read /metrics",
        ));
    }
    let text = render(&app).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn render(app: &App) -> Result<String, PageError> {
    let mut out = String::with_capacity(64 * 1024);
    let up = app.store.ping().await.is_ok();
    let _ = writeln!(
        out,
        "# HELP fearless_store_up Whether the store answers (1) or not (0)."
    );
    let _ = writeln!(out, "# TYPE fearless_store_up gauge");
    let _ = writeln!(out, "fearless_store_up {}", u8::from(up));
    let _ = writeln!(
        out,
        "# HELP fearless_uptime_seconds Seconds since the dashboard started."
    );
    let _ = writeln!(out, "# TYPE fearless_uptime_seconds gauge");
    let _ = writeln!(
        out,
        "fearless_uptime_seconds {}",
        app.started.elapsed().as_secs()
    );
    if up {
        checks(app, &mut out).await?;
        records(app, &mut out).await?;
    }
    if let Ok(status) = app.events.status().await {
        let _ = writeln!(
            out,
            "# HELP fearless_events_outbox_depth Events waiting in the outbox for a sink that did not take them."
        );
        let _ = writeln!(out, "# TYPE fearless_events_outbox_depth gauge");
        let _ = writeln!(out, "fearless_events_outbox_depth {}", status.total());
    }
    Ok(out)
}

async fn checks(app: &App, out: &mut String) -> Result<(), PageError> {
    // The latest run's section is rendered once per run: a scrape reads only the run's id.
    let Some(latest) = app.store.check_runs(None, 1).await?.into_iter().next() else {
        return Ok(());
    };
    let cached = app
        .metrics_cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .filter(|(id, _)| *id == latest.id);
    let text = match cached {
        Some((_, text)) => text,
        None => {
            let Some(run) = app.store.latest_check_run().await? else {
                return Ok(());
            };
            let text = Arc::new(check_section(&run));
            *app.metrics_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((run.id, Arc::clone(&text)));
            text
        }
    };
    out.push_str(&text);
    Ok(())
}

/// The metrics of one run: each check's status and duration, counts by status, the run's
/// duration, time and id.
fn check_section(run: &fearless_store::CheckRun) -> String {
    let mut out = String::with_capacity(run.results.len() * 200 + 1024);
    let _ = writeln!(
        out,
        "# HELP fearless_check_status The latest recorded status of each check (the series of its status is 1)."
    );
    let _ = writeln!(out, "# TYPE fearless_check_status gauge");
    let mut counts: BTreeMap<&str, u64> = STATUSES.iter().map(|s| (*s, 0)).collect();
    for r in &run.results {
        if let Some(n) = counts.get_mut(r.status.as_str()) {
            *n += 1;
        }
        let _ = writeln!(
            out,
            "fearless_check_status{{component=\"{}\",check=\"{}\",host=\"{}\",status=\"{}\"}} 1",
            label(&r.component),
            label(&r.check),
            label(r.host.as_deref().unwrap_or("")),
            label(&r.status)
        );
    }
    let _ = writeln!(
        out,
        "# HELP fearless_check_duration_seconds How long each check took in the latest run."
    );
    let _ = writeln!(out, "# TYPE fearless_check_duration_seconds gauge");
    for r in &run.results {
        let _ = writeln!(
            out,
            "fearless_check_duration_seconds{{component=\"{}\",check=\"{}\",host=\"{}\"}} {:.3}",
            label(&r.component),
            label(&r.check),
            label(r.host.as_deref().unwrap_or("")),
            r.duration_ms as f64 / 1000.0
        );
    }
    let _ = writeln!(
        out,
        "# HELP fearless_check_results Results of the latest run by status."
    );
    let _ = writeln!(out, "# TYPE fearless_check_results gauge");
    for (s, n) in &counts {
        let _ = writeln!(out, "fearless_check_results{{status=\"{s}\"}} {n}");
    }
    let took = (run.finished_at - run.started_at).as_seconds_f64().max(0.0);
    let _ = writeln!(
        out,
        "# HELP fearless_check_run_duration_seconds How long the latest test-plan run took."
    );
    let _ = writeln!(out, "# TYPE fearless_check_run_duration_seconds gauge");
    let _ = writeln!(out, "fearless_check_run_duration_seconds {took:.3}");
    let _ = writeln!(
        out,
        "# HELP fearless_check_run_timestamp_seconds When the latest test-plan run finished (Unix time)."
    );
    let _ = writeln!(out, "# TYPE fearless_check_run_timestamp_seconds gauge");
    let _ = writeln!(
        out,
        "fearless_check_run_timestamp_seconds {}",
        run.finished_at.unix_timestamp()
    );
    let _ = writeln!(
        out,
        "# HELP fearless_check_run_id The id of the latest recorded run."
    );
    let _ = writeln!(out, "# TYPE fearless_check_run_id gauge");
    let _ = writeln!(out, "fearless_check_run_id {}", run.id);
    out
}

async fn records(app: &App, out: &mut String) -> Result<(), PageError> {
    let e = crate::pages::reader(app);
    let mut rollouts: BTreeMap<&str, u64> = fearless_rollout::RolloutState::ALL
        .iter()
        .map(|s| (s.as_str(), 0))
        .collect();
    let all = e.rollouts().await?;
    for (s, _) in &all {
        if let Some(n) = rollouts.get_mut(s.state.as_str()) {
            *n += 1;
        }
    }
    let _ = writeln!(out, "# HELP fearless_rollouts Rollouts by state.");
    let _ = writeln!(out, "# TYPE fearless_rollouts gauge");
    for (state, n) in &rollouts {
        let _ = writeln!(out, "fearless_rollouts{{state=\"{state}\"}} {n}");
    }
    let mut incidents: BTreeMap<&str, u64> = fearless_rca::incident::IncidentState::ALL
        .iter()
        .map(|s| (s.as_str(), 0))
        .collect();
    for i in &e.incidents().await? {
        if let Some(n) = incidents.get_mut(i.state.as_str()) {
            *n += 1;
        }
    }
    let _ = writeln!(out, "# HELP fearless_incidents Incidents by state.");
    let _ = writeln!(out, "# TYPE fearless_incidents gauge");
    for (state, n) in &incidents {
        let _ = writeln!(out, "fearless_incidents{{state=\"{state}\"}} {n}");
    }
    let changes = e.changes().await?;
    let waiting = changes
        .iter()
        .filter(|c| c.state == fearless_change::State::Authorize)
        .count();
    let _ = writeln!(
        out,
        "# HELP fearless_changes_awaiting_approval Changes waiting for approval."
    );
    let _ = writeln!(out, "# TYPE fearless_changes_awaiting_approval gauge");
    let _ = writeln!(out, "fearless_changes_awaiting_approval {waiting}");
    Ok(())
}
