//! The `sql` check kind (PostgreSQL).

use super::common::{classify, excerpt, one_line, redact_url, root_message, timed_out};
use crate::result::{Outcome, Reason};
use fearless_config::SqlCheck;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

/// `sql`: a query against PostgreSQL and its first value.
///
/// **What it does**: connects to `url` (`postgres://user[:pass]@host[:port]/db`, without
/// TLS), runs `spec.query` with the simple query protocol and reads the first column of the
/// first row as text, all within `timeout`.
///
/// **Passes when**: the query succeeds and, if `spec.expect` is set, that value is exactly
/// `expect` (NULL shows as `NULL`). Message: `query returned "1"`.
///
/// **Fails with**: `auth` when the server refuses the credentials or the role;
/// `assertion` when the value differs (`query returned "1" (expected "2")`), there is no row
/// while a value is expected, or the query fails (`ERROR 42P01: relation … does not exist`);
/// `refused` when nothing listens or the connection drops; `timeout`, `dns` as usual. An
/// `error` with `config` when the URL does not parse. The password never appears.
pub async fn sql(spec: &SqlCheck, url: &str, timeout: Duration) -> Outcome {
    let mut config: Config = match url.parse() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::error(
                Reason::Config,
                format!(
                    "invalid PostgreSQL URL {}: {}",
                    redact_url(url),
                    one_line(&e.to_string(), 120)
                ),
            );
        }
    };
    config.connect_timeout(timeout);
    config.application_name("fearless check");
    let host = first_host(&config);
    match tokio::time::timeout(timeout, first_value(&config, &spec.query, &host)).await {
        Err(_) => timed_out("no answer to the query", timeout),
        Ok(Err(outcome)) => outcome,
        Ok(Ok(value)) => assess(spec.expect.as_deref(), value),
    }
}

fn first_host(config: &Config) -> String {
    match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    }
}

/// The first column of the first row as text: `None` when there is no row, `Some(None)` for
/// NULL.
async fn first_value(
    config: &Config,
    query: &str,
    host: &str,
) -> Result<Option<Option<String>>, Outcome> {
    let (client, connection) = config.connect(NoTls).await.map_err(|e| failure(&e, host))?;
    // The connection task ends by itself once the client is dropped (after a clean Terminate).
    tokio::spawn(async move {
        let _ = connection.await;
    });
    run(&client, query, host).await
}

async fn run(client: &Client, query: &str, host: &str) -> Result<Option<Option<String>>, Outcome> {
    let messages = client
        .simple_query(query)
        .await
        .map_err(|e| failure(&e, host))?;
    for message in &messages {
        if let SimpleQueryMessage::Row(row) = message {
            let value = row
                .try_get(0)
                .map_err(|_| Outcome::fail("the query returned a row without columns"))?;
            return Ok(Some(value.map(str::to_owned)));
        }
    }
    Ok(None)
}

fn assess(expect: Option<&str>, value: Option<Option<String>>) -> Outcome {
    let shown = match &value {
        None => None,
        Some(None) => Some("NULL".to_owned()),
        Some(Some(v)) => Some(excerpt(v)),
    };
    match (expect, value, shown) {
        (None, _, None) => Outcome::pass("query ran, no rows"),
        (None, _, Some(shown)) => Outcome::pass(format!("query returned {shown}")),
        (Some(want), None, _) => Outcome::fail(format!(
            "query returned no rows (expected {})",
            excerpt(want)
        )),
        (Some(want), Some(got), shown) => {
            let shown = shown.unwrap_or_default();
            if got.as_deref() == Some(want) {
                Outcome::pass(format!("query returned {shown}"))
            } else {
                Outcome::fail(format!(
                    "query returned {shown} (expected {})",
                    excerpt(want)
                ))
            }
        }
    }
}

fn failure(e: &tokio_postgres::Error, host: &str) -> Outcome {
    if let Some(db) = e.as_db_error() {
        let text = format!(
            "{} {}: {}",
            db.severity(),
            db.code().code(),
            one_line(db.message(), 160)
        );
        let code = db.code();
        let auth = code == &SqlState::INVALID_PASSWORD
            || code == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            || code == &SqlState::INSUFFICIENT_PRIVILEGE
            || code.code().starts_with("28");
        return if auth {
            Outcome::fail_because(Reason::Auth, text)
        } else {
            Outcome::fail(text)
        };
    }
    if let Some(outcome) = classify(e, host) {
        return outcome;
    }
    let cause = root_message(e);
    if e.is_closed() {
        return Outcome::fail_because(
            Reason::Refused,
            format!("the connection was closed: {cause}"),
        );
    }
    if cause.contains("password missing") {
        return Outcome::fail_because(
            Reason::Auth,
            "the server asks for a password and the URL has none",
        );
    }
    if cause.contains("timed out") || cause.contains("timeout") {
        return Outcome::fail_because(Reason::Timeout, format!("no answer: {cause}"));
    }
    Outcome::fail_because(Reason::Refused, format!("connection failed: {cause}"))
}
