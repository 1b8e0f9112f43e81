//! What a request that could not be answered gets: a page with a banner (never a crash, never
//! a blank page) or, on the API, `{"error": …, "hint": …}`, with the status that says why.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fearless_engine::{Class, EngineError};
use fearless_store::StoreError;

/// A page that could not be rendered as asked.
#[derive(Debug)]
pub(crate) struct PageError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl PageError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// The status an engine error class maps to: bad input 400, a gate 409 (a refusal of
    /// who asked — a role, separation of duties — 403), the environment or the store 503.
    pub(crate) fn from_engine(e: &EngineError) -> Self {
        let message = e.to_string();
        let status = match e.class() {
            Class::BadInput => StatusCode::BAD_REQUEST,
            Class::Gate if e.is_refusal() => StatusCode::FORBIDDEN,
            Class::Gate => StatusCode::CONFLICT,
            Class::Environment => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self {
            status,
            message,
            hint: e.hint(),
        }
    }

    /// Whether the store could not be reached (the banner says so).
    pub(crate) fn is_unavailable(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
    }
}

impl From<EngineError> for PageError {
    fn from(e: EngineError) -> Self {
        Self::from_engine(&e)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self::from_engine(&EngineError::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status;
        let page = crate::html::error_page(&self);
        (status, axum::response::Html(page.into_string())).into_response()
    }
}

/// An API request that could not be answered.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) PageError);

impl<E: Into<PageError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            error: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            hint: Option<&'a str>,
        }
        let body = Body {
            error: &self.0.message,
            hint: self.0.hint.as_deref(),
        };
        (self.0.status, axum::Json(body)).into_response()
    }
}
