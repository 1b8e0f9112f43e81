//! Sinks: where events go. One trait ([`Sink`]), one type per kind, and [`AnySink`], the
//! closed set the configuration can name (so `Events` holds them without boxing futures).

mod amqp;
#[cfg(feature = "aws")]
mod aws;
mod file;
mod http;

pub use amqp::AmqpSink;
#[cfg(feature = "aws")]
pub use aws::{SnsSink, SqsSink};
pub use file::FileSink;
pub use http::{PagerDutySink, SlackSink, WebhookSink, webhook_signature};

use crate::{Event, Options};
use fearless_config::SinkSpec;
use std::future::Future;
use std::time::Duration;

/// Why a sink did not take an event. Messages never contain a secret (no signing key, no
/// routing key, no URL path that could hold a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// A file could not be written.
    #[error("cannot write {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// Nothing answered, or the connection broke.
    #[error("cannot reach {endpoint}: {message}")]
    Connect {
        /// host:port.
        endpoint: String,
        /// What failed.
        message: String,
    },
    /// The receiver answered with a non-success HTTP status.
    #[error("{endpoint} answered HTTP {status}")]
    Status {
        /// host:port.
        endpoint: String,
        /// The status code.
        status: u16,
    },
    /// No answer in time.
    #[error("no answer from {endpoint} within {}", humantime::format_duration(*.after))]
    Timeout {
        /// host:port.
        endpoint: String,
        /// The deadline.
        after: Duration,
    },
    /// The broker or service refused the message (e.g. a publisher-confirm nack).
    #[error("{endpoint} refused the event: {message}")]
    Rejected {
        /// host:port or service.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// A secret the sink needs is not in the environment.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The event is larger than the sink accepts.
    #[error("event is {size} bytes; this sink takes at most {max}")]
    TooLarge {
        /// Body size.
        size: usize,
        /// The sink's limit.
        max: usize,
    },
    /// This build cannot deliver to this kind of sink.
    #[error("sink kind `{kind}` is not available: {reason}")]
    Unavailable {
        /// The kind.
        kind: &'static str,
        /// Why (e.g. "built without the aws feature").
        reason: String,
    },
    /// No sink of this name is configured.
    #[error("no sink named `{0}` in events.sinks")]
    UnknownSink(String),
}

/// What a sink promises, so callers and docs can tell sinks apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `send` returns only once the receiver acknowledged the event (HTTP 2xx, publisher
    /// confirm, fsync).
    pub acknowledged: bool,
    /// The receiver keeps the event durably (disk, persistent queue).
    pub durable: bool,
    /// Largest body the receiver accepts.
    pub max_bytes: Option<usize>,
}

/// A destination for events.
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// Deliver one event; `Ok` means the receiver acknowledged it (see [`Capabilities`]).
    fn send(&self, event: &Event) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Check that the sink is reachable without delivering an event.
    fn probe(&self) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// What this sink promises.
    fn capabilities(&self) -> Capabilities;
}

/// A sink of any configured kind.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per configured sink, built once (large only without the aws feature)"
)]
pub enum AnySink {
    /// `file`.
    File(FileSink),
    /// `webhook`.
    Webhook(WebhookSink),
    /// `slack`.
    Slack(SlackSink),
    /// `pagerduty`.
    PagerDuty(PagerDutySink),
    /// `amqp`.
    Amqp(AmqpSink),
    /// `sqs`.
    #[cfg(feature = "aws")]
    Sqs(SqsSink),
    /// `sns`.
    #[cfg(feature = "aws")]
    Sns(SnsSink),
    /// A kind this build cannot deliver to; every send fails with the reason.
    Unavailable {
        /// The kind.
        kind: &'static str,
        /// Why.
        reason: String,
    },
}

impl AnySink {
    /// Build the sink a validated spec describes (connections are opened on first use).
    pub fn from_spec(spec: &SinkSpec, options: &Options) -> Self {
        let client = http::client(options.http_timeout);
        match spec {
            SinkSpec::File { path } => AnySink::File(FileSink::new(path.clone())),
            SinkSpec::Webhook { url, secret_env } => AnySink::Webhook(WebhookSink::new(
                client,
                url,
                secret_env.clone(),
                options.http_timeout,
            )),
            SinkSpec::Slack { url } => {
                AnySink::Slack(SlackSink::new(client, url, options.http_timeout))
            }
            SinkSpec::PagerDuty {
                url,
                routing_key_env,
            } => AnySink::PagerDuty(PagerDutySink::new(
                client,
                url,
                routing_key_env.clone(),
                options.http_timeout,
            )),
            SinkSpec::Amqp { url, exchange } => {
                AnySink::Amqp(AmqpSink::new(url, exchange, options.amqp_timeout))
            }
            #[cfg(feature = "aws")]
            SinkSpec::Sqs {
                queue_url,
                region,
                endpoint,
            } => AnySink::Sqs(SqsSink::new(
                queue_url,
                region.as_deref(),
                endpoint.as_deref(),
                options.http_timeout,
            )),
            #[cfg(feature = "aws")]
            SinkSpec::Sns {
                topic_arn,
                region,
                endpoint,
            } => AnySink::Sns(SnsSink::new(
                topic_arn,
                region.as_deref(),
                endpoint.as_deref(),
                options.http_timeout,
            )),
            #[cfg(not(feature = "aws"))]
            SinkSpec::Sqs { .. } | SinkSpec::Sns { .. } => AnySink::Unavailable {
                kind: spec.kind(),
                reason: "built without the aws feature".into(),
            },
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr, $unavailable:expr) => {
        match $self {
            AnySink::File($s) => $e,
            AnySink::Webhook($s) => $e,
            AnySink::Slack($s) => $e,
            AnySink::PagerDuty($s) => $e,
            AnySink::Amqp($s) => $e,
            #[cfg(feature = "aws")]
            AnySink::Sqs($s) => $e,
            #[cfg(feature = "aws")]
            AnySink::Sns($s) => $e,
            AnySink::Unavailable { kind, reason } => $unavailable(*kind, reason.clone()),
        }
    };
}

fn unavailable(kind: &'static str, reason: String) -> Result<(), SinkError> {
    Err(SinkError::Unavailable { kind, reason })
}

impl Sink for AnySink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        if let Some(max) = self.capabilities().max_bytes {
            let size = event.to_json().len();
            if size > max {
                return Err(SinkError::TooLarge { size, max });
            }
        }
        dispatch!(self, s => s.send(event).await, unavailable)
    }

    async fn probe(&self) -> Result<(), SinkError> {
        dispatch!(self, s => s.probe().await, unavailable)
    }

    fn capabilities(&self) -> Capabilities {
        dispatch!(self, s => s.capabilities(), |_, _| Capabilities { acknowledged: false, durable: false, max_bytes: None })
    }
}
