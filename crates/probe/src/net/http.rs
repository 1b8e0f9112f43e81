//! The `http` check kind.

use super::NetContext;
use super::common::{classify, excerpt, one_line, redact_url, root_message, timed_out};
use crate::result::{Outcome, Reason};
use fearless_config::HttpCheck;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use std::time::Duration;

/// How much of a body is read when looking for the expected substring; a larger body is
/// searched in its first part only (and the connection is not reused).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// `http`: an HTTP request and its answer.
///
/// **What it does**: sends `method` to `url` with the extra `headers` through the shared,
/// pooled client of `ctx` (certificates verified against the system's roots unless
/// `insecure: true`; redirects are not followed, a redirect is the answer), and reads the
/// response within `timeout`.
///
/// **Passes when**: the status is `spec.status` and, if `spec.body` is set, the body (its
/// first 4 MiB) contains that substring. Message: `HTTP 200`.
///
/// **Fails with**: `assertion` for another status (`HTTP 502 (expected 200)`) or a body
/// without the substring; `refused` when nothing listens or the connection is reset;
/// `timeout` when no complete answer arrives in time (including a server that accepts and
/// never answers); `dns` when the host name does not resolve; `tls` when the handshake or
/// certificate verification fails. An `error` with `config` when the URL, method or a header
/// is invalid, or `https` cannot be verified on this machine.
pub async fn http(
    ctx: &NetContext,
    spec: &HttpCheck,
    url: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Outcome {
    let request = match Request::build(spec, url, headers) {
        Ok(r) => r,
        Err(message) => return Outcome::error(Reason::Config, message),
    };
    let client = match ctx.http_client(spec.insecure) {
        Ok(c) => c,
        Err(why) => {
            return Outcome::error(
                Reason::Config,
                format!("{why}; set `insecure: true` to skip verification"),
            );
        }
    };
    let host = request.url.host_str().unwrap_or_default().to_owned();
    let builder = client
        .request(request.method, request.url)
        .headers(request.headers)
        .timeout(timeout);
    let exchange = async {
        let mut response = builder.send().await?;
        let status = response.status().as_u16();
        let body = read_body(&mut response).await?;
        Ok::<_, reqwest::Error>((status, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => timed_out("no answer", timeout),
        Ok(Err(e)) => failure(e, &host, timeout),
        Ok(Ok((status, body))) => assess(spec, status, &body),
    }
}

/// A request ready to send: everything validated.
struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
}

impl Request {
    fn build(spec: &HttpCheck, url: &str, headers: &[(String, String)]) -> Result<Self, String> {
        let parsed =
            Url::parse(url).map_err(|e| format!("invalid URL {}: {e}", redact_url(url)))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("URL {} is not http or https", redact_url(url)));
        }
        let method = Method::from_bytes(spec.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("invalid HTTP method {}", excerpt(&spec.method)))?;
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {}", excerpt(name)))?;
            // The value may be a credential: name the header, never echo the value.
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header {name}"))?;
            map.append(name, value);
        }
        Ok(Self {
            method,
            url: parsed,
            headers: map,
        })
    }
}

/// Reads up to [`MAX_BODY`] bytes of the body.
async fn read_body(response: &mut reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY {
            break;
        }
    }
    Ok(body)
}

fn assess(spec: &HttpCheck, status: u16, body: &[u8]) -> Outcome {
    if status != spec.status {
        return Outcome::fail(format!("HTTP {status} (expected {})", spec.status));
    }
    let Some(needle) = &spec.body else {
        return Outcome::pass(format!("HTTP {status}"));
    };
    let text = String::from_utf8_lossy(body);
    if text.contains(needle.as_str()) {
        Outcome::pass(format!("HTTP {status}, body contains {}", excerpt(needle)))
    } else if text.trim().is_empty() {
        Outcome::fail(format!(
            "HTTP {status} with an empty body (expected it to contain {})",
            excerpt(needle)
        ))
    } else {
        Outcome::fail(format!(
            "HTTP {status} but the body does not contain {} (it starts {})",
            excerpt(needle),
            excerpt(text.trim_start())
        ))
    }
}

/// Turns a client error into a typed failure. reqwest's own message names the URL, which
/// may carry credentials, so the message is built from the causes instead.
fn failure(e: reqwest::Error, host: &str, timeout: Duration) -> Outcome {
    let e = e.without_url();
    if e.is_timeout() {
        return timed_out("no answer", timeout);
    }
    if let Some(outcome) = classify(&e, host) {
        return outcome;
    }
    let cause = root_message(&e);
    if e.is_body() || e.is_decode() {
        return Outcome::fail_because(Reason::Refused, format!("the response broke off: {cause}"));
    }
    if e.is_builder() {
        return Outcome::error(
            Reason::Config,
            format!("cannot build the request: {}", one_line(&cause, 160)),
        );
    }
    // hyper's "connection closed before message completed" and the like: the server hung up.
    Outcome::fail_because(Reason::Refused, format!("request failed: {cause}"))
}
