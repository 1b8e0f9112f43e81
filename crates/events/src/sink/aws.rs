//! The `sqs` and `sns` sinks (cargo feature `aws`): the CloudEvent as the message body,
//! the event type as a message attribute. Credentials and region come from the standard
//! environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`) unless
//! the config names a region; `endpoint` overrides the service URL (tests use moto).

use super::{Capabilities, Sink, SinkError};
use crate::Event;
use std::time::Duration;

/// What both sinks offer: acknowledged, durable, and at most 256 KiB (the limit of both).
const CAPABILITIES: Capabilities = Capabilities {
    acknowledged: true,
    durable: true,
    max_bytes: Some(256 * 1024),
};

fn credentials() -> Option<aws_sdk_sqs::config::Credentials> {
    let id = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").ok()?;
    Some(aws_sdk_sqs::config::Credentials::new(
        id,
        secret,
        std::env::var("AWS_SESSION_TOKEN").ok(),
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

/// What both clients are built from: credentials from the environment, the region, the
/// operation timeout and the endpoint override. `Err` says why there can be no client.
fn sdk_config(
    region_name: Option<&str>,
    endpoint: Option<&str>,
    timeout: Duration,
) -> Result<aws_types::SdkConfig, String> {
    let creds = credentials()
        .ok_or_else(|| "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".to_owned())?;
    let mut b = aws_types::SdkConfig::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(region(region_name)))
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(creds))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .timeout_config(
            aws_types::sdk_config::TimeoutConfig::builder()
                .operation_timeout(timeout)
                .build(),
        );
    if let Some(e) = endpoint {
        b = b.endpoint_url(e);
    }
    Ok(b.build())
}

/// The client, or [`SinkError::Unavailable`] with the reason there is none.
fn ready<'a, C>(client: &'a Result<C, String>, kind: &'static str) -> Result<&'a C, SinkError> {
    client.as_ref().map_err(|e| SinkError::Unavailable {
        kind,
        reason: e.clone(),
    })
}

fn service_error(
    endpoint: &str,
    e: &(dyn std::error::Error + 'static),
    timeout: Duration,
) -> SinkError {
    let mut text = e.to_string();
    let mut cur = e;
    while let Some(next) = cur.source() {
        text = next.to_string();
        cur = next;
    }
    if text.contains("timed out") || text.contains("timeout") {
        return SinkError::Timeout {
            endpoint: endpoint.to_owned(),
            after: timeout,
        };
    }
    SinkError::Connect {
        endpoint: endpoint.to_owned(),
        message: text,
    }
}

/// Sends each event as one SQS message.
#[derive(Debug)]
pub struct SqsSink {
    client: Result<aws_sdk_sqs::Client, String>,
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
        let client =
            sdk_config(region_name, endpoint, timeout).map(|c| aws_sdk_sqs::Client::new(&c));
        Self {
            client,
            queue_url: queue_url.to_owned(),
            timeout,
        }
    }
}

impl Sink for SqsSink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        let client = ready(&self.client, "sqs")?;
        let body = String::from_utf8_lossy(&event.to_json()).into_owned();
        let attr = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&event.ty)
            .build()
            .map_err(|e| service_error("sqs", &e, self.timeout))?;
        client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("type", attr)
            .send()
            .await
            .map_err(|e| service_error("sqs", &e, self.timeout))?;
        Ok(())
    }

    async fn probe(&self) -> Result<(), SinkError> {
        let client = ready(&self.client, "sqs")?;
        client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .send()
            .await
            .map_err(|e| service_error("sqs", &e, self.timeout))?;
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }
}

/// Publishes each event to an SNS topic.
#[derive(Debug)]
pub struct SnsSink {
    client: Result<aws_sdk_sns::Client, String>,
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
        let client =
            sdk_config(region_name, endpoint, timeout).map(|c| aws_sdk_sns::Client::new(&c));
        Self {
            client,
            topic_arn: topic_arn.to_owned(),
            timeout,
        }
    }
}

impl Sink for SnsSink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        let client = ready(&self.client, "sns")?;
        let body = String::from_utf8_lossy(&event.to_json()).into_owned();
        let attr = aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&event.ty)
            .build()
            .map_err(|e| service_error("sns", &e, self.timeout))?;
        client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(body)
            .message_attributes("type", attr)
            .send()
            .await
            .map_err(|e| service_error("sns", &e, self.timeout))?;
        Ok(())
    }

    async fn probe(&self) -> Result<(), SinkError> {
        let client = ready(&self.client, "sns")?;
        client
            .get_topic_attributes()
            .topic_arn(&self.topic_arn)
            .send()
            .await
            .map_err(|e| service_error("sns", &e, self.timeout))?;
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }
}
