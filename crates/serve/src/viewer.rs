//! Who is looking: the session a cookie names, or HTTP basic credentials (for API clients),
//! or nobody.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine as _;

use crate::App;
use crate::auth::{self, COOKIE};
use crate::error::PageError;

/// How a request was authenticated.
#[derive(Debug, Clone)]
pub(crate) enum Viewer {
    /// Nobody logged in.
    Anonymous,
    /// A browser session: actions need its CSRF token.
    Session {
        /// Who.
        user: String,
        /// The session id (to log out).
        id: String,
        /// Its CSRF token.
        csrf: String,
    },
    /// HTTP basic credentials checked against the users file (API clients: no cookie, so
    /// no cross-site request can carry them, and no CSRF token is needed).
    Basic {
        /// Who.
        user: String,
    },
}

impl Viewer {
    /// The logged-in user's name.
    pub(crate) fn user(&self) -> Option<&str> {
        match self {
            Viewer::Anonymous => None,
            Viewer::Session { user, .. } | Viewer::Basic { user } => Some(user),
        }
    }

    /// The CSRF token forms must carry.
    pub(crate) fn csrf(&self) -> Option<&str> {
        match self {
            Viewer::Session { csrf, .. } => Some(csrf),
            _ => None,
        }
    }

    /// May this viewer read pages?
    pub(crate) fn may_read(&self, app: &App) -> bool {
        app.open_read() || self.user().is_some()
    }
}

impl FromRequestParts<Arc<App>> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(id) = session_id(&parts.headers)
            && let Some(s) = app.sessions.get(id)
        {
            return Ok(Viewer::Session {
                user: s.user,
                id: id.to_owned(),
                csrf: s.csrf,
            });
        }
        if let Some((user, password)) = basic(&parts.headers) {
            let users = app
                .users()
                .map_err(|e| PageError::unavailable(e.to_string()))?;
            // argon2 takes a while on purpose: off the async threads.
            let ok = {
                let user = user.clone();
                tokio::task::spawn_blocking(move || users.verify(&user, &password))
                    .await
                    .unwrap_or(false)
            };
            if ok {
                return Ok(Viewer::Basic { user });
            }
            return Err(PageError::unauthorized("wrong user name or password"));
        }
        Ok(Viewer::Anonymous)
    }
}

/// The session id in the request's cookie.
fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| auth::cookie(h, COOKIE))
}

/// `Authorization: Basic …` as a user and password.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Whether a state-changing request comes from this site: an `Origin` (or, without one,
/// `Sec-Fetch-Site`) that says another site is refused, on top of the CSRF token.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority == host)
}
