//! The `amqp` check kind: a publish → consume round trip through the broker.

use super::common::{classify, excerpt, one_line, redact_url, root_message, timed_out};
use crate::result::{Outcome, Reason};
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Connection, ConnectionProperties, ErrorKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// AMQP reply codes that mean "who you are is not allowed".
const ACCESS_REFUSED: u16 = 403;
const NOT_ALLOWED: u16 = 530;

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// `amqp`: a message round trip through an AMQP 0-9-1 broker (RabbitMQ).
///
/// **What it does**: connects to `url` (`amqp://user:pass@host:port/vhost`, or `amqps://`),
/// opens a channel in publisher-confirm mode, declares a server-named exclusive auto-delete
/// queue, consumes from it, publishes one persistent message with a fresh correlation id to
/// the default exchange with the queue's name as routing key, waits for the broker's
/// confirm, then waits for that message to come back; finally closes the connection
/// cleanly. All within `timeout`.
///
/// **Passes when**: the broker confirms the message and delivers it back. Message:
/// `round trip through 127.0.0.1:5672 (published, confirmed, consumed)`.
///
/// **Fails with**: `auth` when the broker refuses the credentials or the vhost
/// (ACCESS_REFUSED, NOT_ALLOWED); `refused` when nothing listens or the connection drops;
/// `timeout` when the round trip does not complete in time; `dns` when the host does not
/// resolve; `tls` for an `amqps` handshake failure; `assertion` when the broker nacks or
/// returns the message, or answers with another error. An `error` with `config` when the
/// URL does not parse. The password of the URL never appears in a message.
pub async fn amqp(url: &str, timeout: Duration) -> Outcome {
    let uri: AMQPUri = match url.parse() {
        Ok(u) => u,
        Err(e) => {
            return Outcome::error(
                Reason::Config,
                format!(
                    "invalid AMQP URL {}: {}",
                    redact_url(url),
                    one_line(&e, 120)
                ),
            );
        }
    };
    let endpoint = format!("{}:{}", uri.authority.host, uri.authority.port);
    let host = uri.authority.host.clone();
    match tokio::time::timeout(timeout, round_trip(uri, &host)).await {
        Err(_) => timed_out(&format!("no round trip through {endpoint}"), timeout),
        Ok(Err(outcome)) => outcome,
        Ok(Ok(())) => Outcome::pass(format!(
            "round trip through {endpoint} (published, confirmed, consumed)"
        )),
    }
}

async fn round_trip(uri: AMQPUri, host: &str) -> Result<(), Outcome> {
    let properties = ConnectionProperties::default().with_connection_name("fearless check".into());
    let connection = Connection::connect_uri(uri, properties)
        .await
        .map_err(|e| failure(&e, host))?;
    let result = exchange(&connection, host).await;
    // Close cleanly either way; a failure to close does not change what was observed.
    let _ = connection.close(200, "OK".into()).await;
    result
}

async fn exchange(connection: &Connection, host: &str) -> Result<(), Outcome> {
    let fail = |e: lapin::Error| failure(&e, host);
    let channel = connection.create_channel().await.map_err(fail)?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(fail)?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(fail)?;
    let queue_name = queue.name().clone();
    let mut consumer = channel
        .basic_consume(
            queue_name.clone(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                exclusive: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(fail)?;
    let id = correlation_id();
    let confirm = channel
        .basic_publish(
            "".into(),
            queue_name,
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            b"fearless round trip",
            BasicProperties::default()
                .with_correlation_id(id.as_str().into())
                .with_delivery_mode(PERSISTENT),
        )
        .await
        .map_err(fail)?
        .await
        .map_err(fail)?;
    if confirm.is_nack() {
        return Err(Outcome::fail("the broker refused the message (nack)"));
    }
    if let Some(returned) = confirm.take_message() {
        return Err(Outcome::fail(format!(
            "the broker returned the message: {} {}",
            returned.reply_code,
            excerpt(returned.reply_text.as_str())
        )));
    }
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery.map_err(fail)?;
        if delivery
            .properties
            .correlation_id()
            .as_ref()
            .is_some_and(|c| c.as_str() == id)
        {
            return Ok(());
        }
    }
    Err(Outcome::fail_because(
        Reason::Refused,
        "the broker closed the consumer before the message arrived",
    ))
}

/// A correlation id unique to this attempt.
fn correlation_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "fearless-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn failure(e: &lapin::Error, host: &str) -> Outcome {
    match e.kind() {
        ErrorKind::ProtocolError(amqp) => {
            let text = one_line(amqp.get_message().as_str(), 160);
            match amqp.get_id() {
                ACCESS_REFUSED | NOT_ALLOWED => Outcome::fail_because(
                    Reason::Auth,
                    format!("the broker refused access: {text}"),
                ),
                code => Outcome::fail(format!("the broker answered {code}: {text}")),
            }
        }
        ErrorKind::AuthProviderError(text) => Outcome::fail_because(
            Reason::Auth,
            format!("authentication failed: {}", one_line(text, 160)),
        ),
        ErrorKind::IOError(io) | ErrorKind::RuntimeShutdownError(io) => {
            match classify(io.as_ref(), host) {
                Some(outcome) => outcome,
                None => Outcome::fail_because(
                    Reason::Refused,
                    format!("connection failed: {}", root_message(io.as_ref())),
                ),
            }
        }
        ErrorKind::MissingHeartbeatError => {
            Outcome::fail_because(Reason::Timeout, "the broker stopped sending heartbeats")
        }
        ErrorKind::InvalidConnectionState(state) => Outcome::fail_because(
            Reason::Refused,
            format!(
                "the connection was closed ({})",
                one_line(&format!("{state:?}"), 60)
            ),
        ),
        _ => Outcome::fail(format!("AMQP error: {}", one_line(&e.to_string(), 160))),
    }
}
