//! Server-Sent Events: a rollout's hosts as they move, and each new check run. The store is
//! the source (a rollout driven by the CLI in another process shows the same way), read at
//! a short interval and sent only when something changed. Every stream ends when the
//! server stops, so a graceful shutdown never waits on a browser.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;

use crate::App;
use crate::error::PageError;
use crate::pages::{may_read, rollout_live};
use crate::viewer::Viewer;

/// How often a followed rollout is read.
const ROLLOUT_EVERY: Duration = Duration::from_millis(500);
/// How often the latest check run is looked for.
const RUNS_EVERY: Duration = Duration::from_secs(2);

/// Waits `every`, or returns `false` at once when the server stops.
async fn tick(app: &App, every: Duration) -> bool {
    let mut stopping = app.stopping.clone();
    if *stopping.borrow() {
        return false;
    }
    tokio::select! {
        () = tokio::time::sleep(every) => !*stopping.borrow(),
        _ = stopping.changed() => false,
    }
}

/// `GET /rollouts/{id}/live`: `hosts` (the hosts table, HTML) each time it changes, then
/// `end` (the last table) when the rollout is no longer running, paused or aborting.
pub(crate) async fn rollout(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    if let Err(r) = may_read(&app, &viewer) {
        return Ok(*r);
    }
    let n = fearless_engine::rollout::number(&id)?;
    // An unknown rollout is a 404 now, not an empty stream.
    crate::pages::reader(&app).rollout(n).await?;
    let stream = rollout_stream(app, n);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn rollout_stream(app: Arc<App>, n: u64) -> impl Stream<Item = Result<Event, Infallible>> {
    struct S {
        app: Arc<App>,
        n: u64,
        last: Option<String>,
        done: bool,
    }
    futures::stream::unfold(
        S {
            app,
            n,
            last: None,
            done: false,
        },
        |mut s| async move {
            loop {
                if s.done {
                    return None;
                }
                if s.last.is_some() && !tick(&s.app, ROLLOUT_EVERY).await {
                    return None;
                }
                let state = crate::pages::reader(&s.app).rollout_state(s.n).await;
                let table = rollout_live(&s.app, s.n).await;
                let (Ok(state), Ok(table)) = (state, table) else {
                    // The store did not answer: try again at the next tick.
                    if s.last.is_none() {
                        s.last = Some(String::new());
                    }
                    continue;
                };
                let html = table.into_string();
                let ended = !matches!(
                    state,
                    fearless_rollout::RolloutState::Running
                        | fearless_rollout::RolloutState::Paused
                        | fearless_rollout::RolloutState::Aborting
                );
                if ended {
                    s.done = true;
                    let event = Event::default().event("end").data(html);
                    return Some((Ok(event), s));
                }
                if s.last.as_deref() != Some(html.as_str()) {
                    s.last = Some(html.clone());
                    let event = Event::default().event("hosts").data(html);
                    return Some((Ok(event), s));
                }
            }
        },
    )
}

/// `GET /live`: `run` (the new run's id) each time a check run is recorded.
pub(crate) async fn runs(
    State(app): State<Arc<App>>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    if let Err(r) = may_read(&app, &viewer) {
        return Ok(*r);
    }
    let first = latest_run(&app).await;
    let stream = futures::stream::unfold((app, first), |(app, mut last)| async move {
        loop {
            if !tick(&app, RUNS_EVERY).await {
                return None;
            }
            let now = latest_run(&app).await;
            if now.is_some() && now != last {
                last = now;
                let id = now.map(|n| n.to_string()).unwrap_or_default();
                return Some((
                    Ok::<_, Infallible>(Event::default().event("run").data(id)),
                    (app, last),
                ));
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn latest_run(app: &App) -> Option<u64> {
    app.store
        .check_runs(None, 1)
        .await
        .ok()
        .and_then(|runs| runs.first().map(|r| r.id))
}
