//! The `sqs` and `sns` sinks (cargo feature `aws`): the CloudEvent as the message body,
//! the event type as a message attribute. Credentials come from the standard environment
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the region
//! from the config or `AWS_REGION`; `endpoint` overrides the service URL (tests use moto).
//! Requests are signed and sent by `fearless-aws`'s client.

use super::{Capabilities, Sink, SinkError};
use crate::Event;
use fearless_aws::sns::Sns;
use fearless_aws::sqs::{Attribute, SendMessage, Sqs};
use fearless_aws::{AwsError, Client, ClientOptions, Credentials, Unreached};
use std::time::Duration;

/// What both sinks offer: acknowledged, durable, and at most 256 KiB (the limit of both).
const CAPABILITIES: Capabilities = Capabilities {
    acknowledged: true,
    durable: true,
    max_bytes: Some(256 * 1024),
};

/// Attempts of one delivery for a throttled or failing service (the outbox retries later).
const ATTEMPTS: u32 = 3;

fn credentials() -> Option<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "fearless-env",
    ))
}

fn region(configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_REGION").ok())
        .unwrap_or_else(|| "us-east-1".into())
}

/// The signed client of one sink: credentials from the environment, the region, the
/// request timeout and the endpoint override. `Err` says why there can be no client.
fn client(
    service: &'static str,
    region_name: Option<&str>,
    endpoint: Option<&str>,
    timeout: Duration,
) -> Result<Client, String> {
    let creds = credentials()
        .ok_or_else(|| "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".to_owned())?;
    let mut options = ClientOptions::new(region(region_name));
    options.endpoint_url = endpoint.map(str::to_owned);
    options.timeout = timeout;
    options.attempts = ATTEMPTS;
    options.credentials = Some(creds);
    Client::new(service, options).map_err(|e| e.to_string())
}

/// The client, or [`SinkError::Unavailable`] with the reason there is none.
fn ready<'a, C>(client: &'a Result<C, String>, kind: &'static str) -> Result<&'a C, SinkError> {
    client.as_ref().map_err(|e| SinkError::Unavailable {
        kind,
        reason: e.clone(),
    })
}

fn service_error(endpoint: &str, e: &AwsError, timeout: Duration) -> SinkError {
    match e {
        AwsError::Unreachable {
            cause: Unreached::Timeout,
            ..
        } => SinkError::Timeout {
            endpoint: endpoint.to_owned(),
            after: timeout,
        },
        _ => SinkError::Connect {
            endpoint: endpoint.to_owned(),
            message: e.to_string(),
        },
    }
}

/// Sends each event as one SQS message.
#[derive(Debug)]
pub struct SqsSink {
    client: Result<Sqs, String>,
    queue_url: String,
    timeout: Duration,
}

impl SqsSink {
    pub(super) fn new(
        queue_url: &str,
        region_name: Option<&str>,
        endpoint: Option<&str>,
        timeout: Duration,
    ) -> Self {
        Self {
            client: client("sqs", region_name, endpoint, timeout).map(Sqs::new),
            queue_url: queue_url.to_owned(),
            timeout,
        }
    }
}

impl Sink for SqsSink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        let client = ready(&self.client, "sqs")?;
        let mut req = SendMessage {
            queue_url: self.queue_url.clone(),
            message_body: String::from_utf8_lossy(&event.to_json()).into_owned(),
            ..SendMessage::default()
        };
        req.message_attributes
            .insert("type".into(), Attribute::string(&event.ty));
        client
            .send_message(&req)
            .await
            .map_err(|e| service_error("sqs", &e, self.timeout))
    }

    async fn probe(&self) -> Result<(), SinkError> {
        let client = ready(&self.client, "sqs")?;
        client
            .get_queue_attributes(&self.queue_url, &["QueueArn"])
            .await
            .map(|_| ())
            .map_err(|e| service_error("sqs", &e, self.timeout))
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }
}

/// Publishes each event to an SNS topic.
#[derive(Debug)]
pub struct SnsSink {
    client: Result<Sns, String>,
    topic_arn: String,
    timeout: Duration,
}

impl SnsSink {
    pub(super) fn new(
        topic_arn: &str,
        region_name: Option<&str>,
        endpoint: Option<&str>,
        timeout: Duration,
    ) -> Self {
        Self {
            client: client("sns", region_name, endpoint, timeout).map(Sns::new),
            topic_arn: topic_arn.to_owned(),
            timeout,
        }
    }
}

impl Sink for SnsSink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        let client = ready(&self.client, "sns")?;
        let body = String::from_utf8_lossy(&event.to_json()).into_owned();
        client
            .publish(&self.topic_arn, &body, &[("type", event.ty.as_str())])
            .await
            .map_err(|e| service_error("sns", &e, self.timeout))
    }

    async fn probe(&self) -> Result<(), SinkError> {
        let client = ready(&self.client, "sns")?;
        client
            .get_topic_attributes(&self.topic_arn)
            .await
            .map_err(|e| service_error("sns", &e, self.timeout))
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }
}
