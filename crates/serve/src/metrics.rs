//! `/healthz` (the process answers), `/readyz` (the store answers) and `/metrics`
//! (Prometheus text exposition format 0.0.4: the latest check run per component, check and
//! host, run durations, rollouts by state, incidents by state, the events outbox's depth).
//!
//! `/metrics` is rendered at most once every [`MAX_AGE`], and gzipped then, once: a scrape
//! reads the rendered bytes (gzipped when it accepts gzip, as Prometheus does), and the first
//! scrape after they are older starts one new rendering in the background and is answered
//! with them meanwhile. Without that, 1,000 hosts × 20 checks (3.7 MB of text) made every
//! scrape copy and send megabytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
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

/// How old the rendered `/metrics` may be before a scrape starts a new rendering.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);

/// `/metrics` as rendered at one moment, as text and gzipped.
#[derive(Debug)]
pub(crate) struct Rendered {
    at: Instant,
    text: Bytes,
    gzip: Bytes,
}

/// The rendered `/metrics` and whether a rendering is under way.
#[derive(Debug, Default)]
pub(crate) struct MetricsBody {
    rendered: Option<Arc<Rendered>>,
    rendering: bool,
}

/// `GET /metrics`.
pub(crate) async fn metrics(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if !viewer.may_read(&app) {
        return Err(PageError::unauthorized(
            "log in (HTTP basic credentials) to read /metrics",
        ));
    }
    let body = current(&app).await?;
    let content_type = (
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    );
    let vary = (header::VARY, "accept-encoding");
    Ok(if accepts_gzip(&headers) {
        (
            [content_type, vary, (header::CONTENT_ENCODING, "gzip")],
            body.gzip.clone(),
        )
            .into_response()
    } else {
        ([content_type, vary], body.text.clone()).into_response()
    })
}

/// Whether `Accept-Encoding` names gzip (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The rendered `/metrics`: fresh ones as they are; older ones while one new rendering
/// runs in the background (started by the first scrape to find them old); none yet, or
/// the last rendering failed: rendered now.
async fn current(app: &Arc<App>) -> Result<Arc<Rendered>, PageError> {
    let stale = {
        let mut m = app
            .metrics_body
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match m.rendered.clone() {
            Some(r) if r.at.elapsed() < MAX_AGE || m.rendering => return Ok(r),
            Some(r) => {
                m.rendering = true;
                Some(r)
            }
            None => None,
        }
    };
    if let Some(stale) = stale {
        let app = Arc::clone(app);
        tokio::spawn(async move {
            let fresh = render_both(&app).await;
            let mut m = app
                .metrics_body
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            m.rendering = false;
            match fresh {
                Ok(r) => m.rendered = Some(Arc::new(r)),
                Err(e) => {
                    tracing::warn!(target: "fearless::serve", "rendering /metrics failed: {}", e.message);
                    m.rendered = None;
                }
            }
        });
        return Ok(stale);
    }
    let fresh = Arc::new(render_both(app).await?);
    app.metrics_body
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .rendered = Some(Arc::clone(&fresh));
    Ok(fresh)
}

/// `/metrics` rendered now, as text and gzipped (the fastest level: the text is labels
/// repeated, which it shrinks about twentyfold).
async fn render_both(app: &App) -> Result<Rendered, PageError> {
    let at = Instant::now();
    let text = render(app).await?;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 8),
        flate2::Compression::fast(),
    );
    gz.write_all(text.as_bytes())
        .and_then(|()| gz.finish())
        .map(|gzip| Rendered {
            at,
            text: Bytes::from(text),
            gzip: Bytes::from(gzip),
        })
        .map_err(|e| {
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("gzip of /metrics: {e}"),
            )
        })
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
