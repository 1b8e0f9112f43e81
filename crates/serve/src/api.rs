//! `/api/v1`: the records as the CLI's `--format json` prints them (the same types,
//! `fearless_engine::views`), the check history, and the actions. Reads are open where
//! pages are; actions need HTTP basic credentials of the users file (or a browser session
//! with its token in `X-CSRF-Token`). Documented in `docs/api.md`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fearless_change::Command;
use fearless_engine::views::{
    ChangeJson, ChangeList, IncidentJson, IncidentList, RolloutList, RolloutShow,
};
use fearless_store::{HistoryFilter, JournalFilter};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::actions::{actor, who};
use crate::error::{ApiError, PageError};
use crate::pages::{engine, reader};
use crate::viewer::Viewer;

/// The routes under `/api/v1`.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/changes", get(changes))
        .route("/changes/{id}", get(change))
        .route("/changes/{id}/approve", post(approve))
        .route("/changes/{id}/reject", post(reject))
        .route("/rollouts", get(rollouts))
        .route("/rollouts/{id}", get(rollout))
        .route("/rollouts/{id}/pause", post(pause))
        .route("/incidents", get(incidents))
        .route("/incidents/{id}", get(incident))
        .route("/incidents/{id}/acknowledge", post(acknowledge))
        .route("/checks/latest", get(latest))
        .route("/checks/{component}/{check}", get(history))
        .route("/journal", get(journal))
        .route("/journal/verify", get(verify))
}

fn readable(app: &App, viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.may_read(app) {
        Ok(())
    } else {
        Err(ApiError(PageError::unauthorized(
            "log in: HTTP basic credentials of a user of serve.users",
        )))
    }
}

fn json<T: Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

/// `?state=`.
#[derive(Debug, Deserialize)]
struct StateFilter {
    state: Option<String>,
}

async fn changes(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Query(f): Query<StateFilter>,
) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let mut all = reader(&app).changes().await?;
    if let Some(s) = f.state.as_deref().filter(|s| !s.is_empty()) {
        all.retain(|c| c.state.as_str() == s);
    }
    Ok(json(&ChangeList {
        schema: "fearless.changes/v1",
        changes: all.iter().map(ChangeJson::of).collect(),
    }))
}

async fn change(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let (_, c) = reader(&app).change(&id).await?;
    Ok(json(&ChangeJson::of(&c)))
}

/// The body of an action: an optional reason (also accepted empty).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    #[serde(default)]
    reason: Option<String>,
}

/// The reason of an action's body, read after the caller is authenticated: an empty body is
/// none; anything else must be `{"reason": "…"}`.
fn reason_of(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let r: Reason = serde_json::from_slice(body).map_err(|e| {
        ApiError(PageError::new(
            axum::http::StatusCode::BAD_REQUEST,
            format!("the body must be {{\"reason\": \"…\"}}: {e}"),
        ))
    })?;
    Ok(r.reason.filter(|r| !r.trim().is_empty()))
}

/// The CSRF token of a browser session calling the API.
fn header_csrf(headers: &HeaderMap) -> &str {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn decide(
    app: &App,
    viewer: &Viewer,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
    approve: bool,
) -> Result<Response, ApiError> {
    let user = actor(viewer, headers, header_csrf(headers))?;
    let reason = reason_of(body)?;
    let command = if approve {
        Command::Approve { reason }
    } else {
        Command::Reject {
            reason: reason.unwrap_or_default(),
        }
    };
    let applied = engine(app, who(&user)).advance_id(id, command).await?;
    Ok(json(&ChangeJson::of(&applied.record)))
}

async fn approve(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    decide(&app, &viewer, &headers, &id, &body, true).await
}

async fn reject(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    decide(&app, &viewer, &headers, &id, &body, false).await
}

async fn rollouts(State(app): State<Arc<App>>, viewer: Viewer) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let all = reader(&app).rollouts().await?;
    Ok(json(&RolloutList::of(&all)))
}

async fn rollout(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let n = fearless_engine::rollout::number(&id)?;
    let e = reader(&app);
    let (stored, record) = e.rollout(n).await?;
    let hosts = e.rollout_hosts(n).await?;
    Ok(json(&RolloutShow::of(&stored, &record, &hosts)))
}

async fn pause(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = actor(&viewer, &headers, header_csrf(&headers))?;
    let n = fearless_engine::rollout::number(&id)?;
    let e = engine(&app, who(&user));
    e.pause(n).await?;
    let (stored, record) = e.rollout(n).await?;
    let hosts = e.rollout_hosts(n).await?;
    Ok(json(&RolloutShow::of(&stored, &record, &hosts)))
}

async fn incidents(State(app): State<Arc<App>>, viewer: Viewer) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let all = reader(&app).incidents().await?;
    Ok(json(&IncidentList {
        schema: "fearless.incidents/v1",
        incidents: all.iter().map(IncidentJson::of).collect(),
    }))
}

async fn incident(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let i = reader(&app).incident(&id).await?;
    Ok(json(&IncidentJson::alone(&i)))
}

async fn acknowledge(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let user = actor(&viewer, &headers, header_csrf(&headers))?;
    let note = reason_of(&body)?;
    let i = engine(&app, who(&user))
        .acknowledge_incident(&id, note)
        .await?;
    Ok(json(&IncidentJson::alone(&i)))
}

/// `/api/v1/checks/latest`: the latest recorded run and what the graph makes of it.
#[derive(Debug, Serialize)]
struct LatestJson<'a> {
    schema: &'static str,
    run: &'a fearless_store::CheckRun,
    localisation: &'a fearless_graph::Localisation,
}

async fn latest(State(app): State<Arc<App>>, viewer: Viewer) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let Some(run) = app
        .store
        .latest_check_run()
        .await
        .map_err(PageError::from)?
    else {
        return Err(ApiError(PageError::not_found(
            "no check run is recorded yet: `fearless serve` records one each monitor interval, `fearless check --record` one now",
        )));
    };
    let loc = fearless_engine::monitor::localise_run(&app.config, &run);
    Ok(json(&LatestJson {
        schema: "fearless.check-run/v1",
        run: &run,
        localisation: &loc,
    }))
}

/// `?host=&limit=` on a check's history.
#[derive(Debug, Deserialize)]
struct HistoryQuery {
    host: Option<String>,
    limit: Option<u32>,
}

/// `/api/v1/checks/{component}/{check}`.
#[derive(Debug, Serialize)]
struct HistoryJson<'a> {
    schema: &'static str,
    component: &'a str,
    check: &'a str,
    spans: Vec<fearless_store::HistorySpan>,
}

async fn history(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((component, check)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let known = app
        .config
        .components
        .get(&component)
        .is_some_and(|c| c.checks.iter().any(|k| k.name == check));
    if !known {
        return Err(ApiError(PageError::not_found(format!(
            "no check `{check}` in component `{component}` of the configuration"
        ))));
    }
    let spans = app
        .store
        .check_history(&HistoryFilter {
            component: component.clone(),
            check: check.clone(),
            host: q.host,
            since: None,
            until: None,
            limit: q.limit.unwrap_or(1_000).min(100_000),
        })
        .await
        .map_err(PageError::from)?;
    Ok(json(&HistoryJson {
        schema: "fearless.check-history/v1",
        component: &component,
        check: &check,
        spans,
    }))
}

/// `?subject=` on the journal.
#[derive(Debug, Deserialize)]
struct JournalQuery {
    subject: Option<String>,
}

async fn journal(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Query(q): Query<JournalQuery>,
) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let entries = app
        .store
        .journal(&JournalFilter {
            since: None,
            subject: q.subject.filter(|s| !s.is_empty()),
        })
        .await
        .map_err(PageError::from)?;
    Ok(json(&entries))
}

/// `/api/v1/journal/verify`: the verification the journal page shows.
#[derive(Debug, Serialize)]
struct VerifiedJson {
    schema: &'static str,
    intact: bool,
    entries: u64,
    verified_at: jiff::Timestamp,
    summary: String,
}

async fn verify(State(app): State<Arc<App>>, viewer: Viewer) -> Result<Response, ApiError> {
    readable(&app, &viewer)?;
    let v = crate::pages::verified(&app, false).await?;
    Ok(json(&VerifiedJson {
        schema: "fearless.journal-verified/v1",
        intact: v.intact,
        entries: v.entries,
        verified_at: v.when,
        summary: v.summary,
    }))
}
