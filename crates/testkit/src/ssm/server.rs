//! The HTTP side: `POST /` with `X-Amz-Target: AmazonSSM.<Operation>`, a SigV4
//! `Authorization` header required (not verified), the test controls applied before the
//! operation runs.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::wire::{self, AwsError, CONTENT_TYPE};
use super::{Operation, Shared, ops};

/// The endpoint's routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(handle).fallback(fallback))
        .fallback(fallback)
        .with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = wire::uuid();
    match dispatch(&shared, &headers, &body) {
        Ok(answer) => wire::answer(StatusCode::OK, &answer, &request_id),
        Err(error) => error.into_response(&request_id),
    }
}

/// Anything but `POST /`.
async fn fallback() -> Response {
    AwsError::bare("UnknownOperationException")
        .status(StatusCode::NOT_FOUND)
        .into_response(&wire::uuid())
}

fn dispatch(shared: &Arc<Shared>, headers: &HeaderMap, body: &[u8]) -> Result<Value, AwsError> {
    authenticate(headers)?;
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("AmazonSSM."))
        .and_then(Operation::from_name)
        .ok_or_else(|| AwsError::bare("UnknownOperationException"))?;
    shared.admit(op)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.split(';').next().map(str::trim) != Some(CONTENT_TYPE) {
        return Err(AwsError::serialization(format!(
            "expected Content-Type {CONTENT_TYPE}, got {content_type:?}"
        )));
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| AwsError::serialization(e.to_string()))?
    };
    if !body.is_object() {
        return Err(AwsError::serialization(
            "the request body is not a JSON object",
        ));
    }
    match op {
        Operation::SendCommand => ops::send_command(shared, body),
        Operation::GetCommandInvocation => ops::get_command_invocation(shared, body),
        Operation::ListCommandInvocations => ops::list_command_invocations(shared, body),
        Operation::DescribeInstanceInformation => ops::describe_instance_information(shared, body),
        Operation::CancelCommand => ops::cancel_command(shared, body),
    }
}

/// A request must carry a SigV4 `Authorization` header and its date; neither the
/// signature nor the credentials are checked.
fn authenticate(headers: &HeaderMap) -> Result<(), AwsError> {
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Err(AwsError::new(
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
        ));
    };
    let auth = auth.to_str().unwrap_or("");
    let sigv4 = auth.starts_with("AWS4-HMAC-SHA256 ")
        && ["Credential=", "SignedHeaders=", "Signature="]
            .iter()
            .all(|part| auth.contains(part));
    if !sigv4 {
        return Err(AwsError::new(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters (AWS4-HMAC-SHA256).",
        ));
    }
    if !headers.contains_key("x-amz-date") && !headers.contains_key(header::DATE) {
        return Err(AwsError::new(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    }
    Ok(())
}
