//! Actions: log in and out, approve or reject a change, pause or abort a rollout,
//! acknowledge an incident. Each needs a session and its CSRF token (checked before
//! anything is read), then calls the engine as the logged-in user, so the CLI's rules hold.

use std::sync::Arc;

use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use fearless_change::Command;
use fearless_engine::identity::{Vouch, Who};
use serde::Deserialize;

use crate::App;
use crate::auth::{self, same};
use crate::error::PageError;
use crate::pages::{self, engine};
use crate::viewer::{self, Viewer};

/// A form that acts: its CSRF token and an optional reason. Read leniently (a body that is
/// not a form is a form without a token), so that who asks is checked before anything else.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// Who may act on this request: a session whose CSRF token the form carries (401 without a
/// session, 403 with a wrong token or from another site), or API basic credentials.
pub(crate) fn actor(viewer: &Viewer, headers: &HeaderMap, csrf: &str) -> Result<String, PageError> {
    match viewer {
        Viewer::Anonymous => Err(PageError::unauthorized("log in to act")),
        Viewer::Basic { user } => Ok(user.clone()),
        Viewer::Session {
            user,
            csrf: expected,
            ..
        } => {
            if !viewer::same_origin(headers) {
                return Err(PageError::forbidden("the request came from another site"));
            }
            if csrf.is_empty() || !same(csrf, expected) {
                return Err(PageError::forbidden(
                    "the form's CSRF token is missing or wrong: reload the page and try again",
                ));
            }
            Ok(user.clone())
        }
    }
}

/// Who acts in the engine: the user, vouched for by the dashboard's login.
pub(crate) fn who(user: &str) -> Who<'_> {
    Who {
        name: user,
        vouched_by: Some(Vouch::Password),
    }
}

fn act_form(body: &[u8]) -> ActForm {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn reason(form: &ActForm) -> Option<String> {
    Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty())
}

/// An action's answer: the record's page with the outcome above it, and a status that
/// says whether it was done (200) or refused (its error's status).
fn answer(page: Result<crate::html::Page, PageError>, refused: Option<StatusCode>) -> Response {
    match page {
        Ok(p) => (refused.unwrap_or(StatusCode::OK), p).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn change_action(
    app: &App,
    viewer: &Viewer,
    headers: &HeaderMap,
    id: &str,
    form: &ActForm,
    approve: bool,
) -> Response {
    let user = match actor(viewer, headers, &form.csrf) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let command = if approve {
        Command::Approve {
            reason: reason(form),
        }
    } else {
        Command::Reject {
            reason: reason(form).unwrap_or_default(),
        }
    };
    let done = engine(app, who(&user)).advance_id(id, command).await;
    let (outcome, status) = match done {
        Ok(a) => (
            Ok(format!(
                "{} {}: it is now {}",
                a.record.id(),
                if approve { "approved" } else { "rejected" },
                a.record.state
            )),
            None,
        ),
        Err(e) => {
            let e = PageError::from(e);
            let s = e.status;
            (Err(e), Some(s))
        }
    };
    answer(
        pages::change_page(app, viewer, id, Some(outcome)).await,
        status,
    )
}

/// `POST /changes/{id}/approve`.
pub(crate) async fn approve(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = act_form(&body);
    change_action(&app, &viewer, &headers, &id, &form, true).await
}

/// `POST /changes/{id}/reject`.
pub(crate) async fn reject(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = act_form(&body);
    change_action(&app, &viewer, &headers, &id, &form, false).await
}

/// `POST /rollouts/{id}/pause`.
pub(crate) async fn pause(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = act_form(&body);
    let user = match actor(&viewer, &headers, &form.csrf) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let n = match fearless_engine::rollout::number(&id) {
        Ok(n) => n,
        Err(e) => return PageError::from(e).into_response(),
    };
    let (outcome, status) = match engine(&app, who(&user)).pause(n).await {
        Ok(()) => (
            Ok(format!(
                "R-{n} paused: no new wave starts until `fearless rollout resume R-{n}`"
            )),
            None,
        ),
        Err(e) => {
            let e = PageError::from(e);
            let s = e.status;
            (Err(e), Some(s))
        }
    };
    answer(
        pages::rollout_page(&app, &viewer, &id, Some(outcome)).await,
        status,
    )
}

/// `POST /rollouts/{id}/abort`: moves the rollout to `aborting` at once and rolls its hosts
/// back in the background (the page follows it live).
pub(crate) async fn abort(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = act_form(&body);
    let user = match actor(&viewer, &headers, &form.csrf) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let n = match fearless_engine::rollout::number(&id) {
        Ok(n) => n,
        Err(e) => return PageError::from(e).into_response(),
    };
    // The role and the state are checked before anything moves, so a refusal is answered
    // here rather than lost in the background.
    if let Err(e) = engine(&app, who(&user)).may_abort(n).await {
        let e = PageError::from(e);
        let s = e.status;
        return answer(
            pages::rollout_page(&app, &viewer, &id, Some(Err(e))).await,
            Some(s),
        );
    }
    let task_app = Arc::clone(&app);
    tokio::spawn(async move {
        let done = engine(&task_app, who(&user)).abort(n).await;
        match done {
            Ok(outcome) => {
                tracing::info!(target: "fearless::serve", rollout = n, ?outcome, "abort finished");
            }
            Err(e) => {
                tracing::error!(target: "fearless::serve", rollout = n, error = %e, "abort failed");
            }
        }
    });
    // Give the state change a moment to land, so the page shows `aborting`.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    answer(
        pages::rollout_page(
            &app,
            &viewer,
            &id,
            Some(Ok(format!(
                "R-{n} is being aborted: every host it changed goes back to its snapshot"
            ))),
        )
        .await,
        None,
    )
}

/// `POST /incidents/{id}/acknowledge`.
pub(crate) async fn acknowledge(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = act_form(&body);
    let user = match actor(&viewer, &headers, &form.csrf) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let (outcome, status) = match engine(&app, who(&user))
        .acknowledge_incident(&id, reason(&form))
        .await
    {
        Ok(i) => (Ok(format!("{} acknowledged by {user}", i.id())), None),
        Err(e) => {
            let e = PageError::from(e);
            let s = e.status;
            (Err(e), Some(s))
        }
    };
    answer(
        pages::incident_page(&app, &viewer, &id, Some(outcome)).await,
        status,
    )
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    user: String,
    password: String,
}

/// `POST /login`: a session cookie for a user whose password verifies.
pub(crate) async fn login(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !viewer::same_origin(&headers) {
        return PageError::forbidden("the request came from another site").into_response();
    }
    let users = match app.users() {
        Ok(u) => u,
        Err(e) => return PageError::unavailable(e.to_string()).into_response(),
    };
    let user = form.user.trim().to_owned();
    let ok = {
        let user = user.clone();
        tokio::task::spawn_blocking(move || users.verify(&user, &form.password))
            .await
            .unwrap_or(false)
    };
    if !ok {
        tracing::warn!(target: "fearless::serve", user = %fearless_io::Escaped(&user), "login refused");
        return (
            StatusCode::UNAUTHORIZED,
            pages::login_page(&viewer, Some("Wrong user name or password.")),
        )
            .into_response();
    }
    let id = app.sessions.start(&user);
    tracing::info!(target: "fearless::serve", %user, "logged in");
    let mut res = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(Some(&id))) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// `POST /logout`.
pub(crate) async fn logout(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = act_form(&body);
    if let Err(e) = actor(&viewer, &headers, &form.csrf) {
        return e.into_response();
    }
    if let Viewer::Session { id, .. } = &viewer {
        app.sessions.end(id);
    }
    let mut res = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(None)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
