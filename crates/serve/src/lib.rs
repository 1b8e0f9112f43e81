//! `fearless serve`: the team's dashboard over the store the CLI uses — the environment's
//! health from the continuous test plan, changes waiting for approval, rollouts (live over
//! Server-Sent Events), incidents with their report, the journal and its verification —
//! with the same actions as the CLI (approve, reject, pause, abort, acknowledge), a JSON API
//! under `/api/v1`, `/healthz`, `/readyz` and Prometheus `/metrics`.
//!
//! Every page is rendered on the server (maud); a few lines of script follow live parts.
//! Every action calls the engine the CLI calls, as the logged-in user, so the same rules
//! hold (roles, separation of duties, the change and rollout state machines). Nothing
//! changes without a session and its CSRF token, or HTTP basic credentials on the API.
//!
//! [`router`] is the whole application (the tests drive it); [`serve`] binds it and stops
//! on a shutdown signal, ending live streams so that nothing hangs.

#![warn(missing_docs)]

mod actions;
mod api;
pub mod auth;
mod error;
mod health;
mod html;
mod live;
mod metrics;
mod pages;
mod viewer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::routing::{get, post};
use fearless_config::Config;
use fearless_events::Events;
use fearless_store::Store;
use tokio::sync::watch;

pub use auth::{Users, UsersError};

/// How the dashboard is reached and who may see it.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The users file (`serve.users`), resolved; `None`: nobody can log in.
    pub users: Option<PathBuf>,
    /// Whether read-only pages are open without logging in (`serve.open_read`; only ever
    /// honoured on a loopback address).
    pub open_read: bool,
    /// A directory whose files are served under `/files/NAME` (`serve.files`).
    pub files: Option<PathBuf>,
}

/// Why the dashboard will not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without anybody able to log in.
    #[error(
        "refusing to listen on {0}: it is not a loopback address and no user can log in (serve.users is {1})"
    )]
    Unprotected(SocketAddr, &'static str),
    /// The users file is wrong.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed.
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Rendered check-history pages by (component, check, host), with the run each shows up to.
type HistoryPages = std::collections::HashMap<(String, String, Option<String>), (u64, Arc<String>)>;

/// The state every handler shares.
#[derive(Debug)]
pub struct App {
    /// The loaded configuration.
    pub config: Arc<Config>,
    /// The store.
    pub store: Arc<Store>,
    /// The `send_message` sinks.
    pub events: Arc<Events>,
    options: Options,
    sessions: auth::Sessions,
    /// Set to `true` when the server is stopping: live streams end.
    stopping: watch::Receiver<bool>,
    verified: Mutex<Option<pages::Verified>>,
    /// The latest run's health section of the overview, by run id.
    overview_cache: Mutex<Option<(u64, Arc<String>)>>,
    /// Rendered check-history pages (component, check, host), each with the latest run it
    /// shows.
    history_cache: Mutex<HistoryPages>,
    /// The latest run's `/metrics` section, by run id.
    metrics_cache: Mutex<Option<(u64, Arc<String>)>>,
    /// `/metrics` as last rendered.
    metrics_body: Mutex<metrics::MetricsBody>,
    started: Instant,
}

impl App {
    /// The state of a dashboard over `config`, `store` and `events`. Checks that it may be
    /// served as `options` say (a non-loopback address needs users) and that the users
    /// file reads.
    pub fn new(
        config: Arc<Config>,
        store: Arc<Store>,
        events: Arc<Events>,
        options: Options,
        stopping: watch::Receiver<bool>,
    ) -> Result<Arc<App>, ServeError> {
        let users = match &options.users {
            Some(path) => Users::load(path)?,
            None => Users::default(),
        };
        if !options.listen.ip().is_loopback() && users.is_empty() {
            let why = if options.users.is_some() {
                "a file with no users yet: add one with `fearless user add NAME`"
            } else {
                "not set"
            };
            return Err(ServeError::Unprotected(options.listen, why));
        }
        Ok(Arc::new(App {
            config,
            store,
            events,
            options,
            sessions: auth::Sessions::default(),
            stopping,
            verified: Mutex::new(None),
            metrics_cache: Mutex::new(None),
            metrics_body: Mutex::new(metrics::MetricsBody::default()),
            overview_cache: Mutex::new(None),
            history_cache: Mutex::new(HistoryPages::new()),
            started: Instant::now(),
        }))
    }

    /// Whether pages that only read may be shown to someone not logged in.
    fn open_read(&self) -> bool {
        self.options.open_read && self.options.listen.ip().is_loopback()
    }

    /// The users file as it is now (re-read, so `fearless user add` takes effect at once).
    fn users(&self) -> Result<Users, UsersError> {
        match &self.options.users {
            Some(path) => Users::load(path),
            None => Ok(Users::default()),
        }
    }
}

/// The whole application.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/map", get(pages::map))
        .route("/checks", get(pages::checks))
        .route("/checks/{component}/{check}", get(pages::check_history))
        .route("/changes", get(pages::changes))
        .route("/changes/{id}", get(pages::change))
        .route("/changes/{id}/approve", post(actions::approve))
        .route("/changes/{id}/reject", post(actions::reject))
        .route("/rollouts", get(pages::rollouts))
        .route("/rollouts/{id}", get(pages::rollout))
        .route("/rollouts/{id}/live", get(live::rollout))
        .route("/rollouts/{id}/pause", post(actions::pause))
        .route("/rollouts/{id}/abort", post(actions::abort))
        .route("/incidents", get(pages::incidents))
        .route("/incidents/{id}", get(pages::incident))
        .route("/incidents/{id}/acknowledge", post(actions::acknowledge))
        .route("/journal", get(pages::journal))
        .route("/live", get(live::runs))
        .route("/files/{name}", get(pages::file))
        .route("/login", get(pages::login_form).post(actions::login))
        .route("/logout", post(actions::logout))
        .route("/healthz", get(metrics::healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", api::routes())
        .layer(axum::middleware::from_fn(log_request))
        .with_state(app)
}

/// One structured log line per request: method, path (no query: it may carry a search),
/// status and time taken; and the headers that keep pages out of other sites' frames and
/// scripts out of other origins.
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (axum::http::header::X_FRAME_OPTIONS, "DENY"),
        (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (axum::http::header::REFERRER_POLICY, "same-origin"),
    ] {
        h.entry(name)
            .or_insert(axum::http::HeaderValue::from_static(value));
    }
    h.entry(axum::http::header::CONTENT_SECURITY_POLICY)
        .or_insert(axum::http::HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ));
    tracing::info!(
        target: "fearless::serve",
        %method,
        path = %fearless_io::Escaped(&path),
        status = res.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    res
}

/// Serves `app` on `listener` until `shutdown` resolves; then live streams end, the
/// connections in flight finish, and it returns.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Binds `options.listen`.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}
