//! The HTTP sinks: `webhook` (Standard Webhooks signatures), `slack` (incoming webhook) and
//! `pagerduty` (Events API v2 and Change Events). One pooled client per sink, rustls with the
//! platform's trust store.

use super::{Capabilities, Sink, SinkError};
use crate::Event;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A client, or why none could be built (reported on every send, never a panic).
pub(super) type Client = Result<reqwest::Client, String>;

pub(super) fn client(timeout: Duration) -> Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("no trust store: {e}"))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("fearless/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.without_url().to_string())
}

/// `host:port` of a URL: what messages name (the path of a Slack or webhook URL can be a
/// secret).
fn endpoint(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or("?"),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => "?".into(),
    }
}

/// Where an HTTP sink posts: its pooled client, its URL (PagerDuty's base, to which each
/// event adds a path) and the timeout of one request.
#[derive(Debug)]
struct Target {
    client: Client,
    url: String,
    timeout: Duration,
}

impl Target {
    fn new(client: Client, url: &str, timeout: Duration) -> Self {
        Self {
            client,
            url: url.to_owned(),
            timeout,
        }
    }

    /// POST `body` to the URL followed by `path`, and require a 2xx.
    async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(), SinkError> {
        let url = format!("{}{path}", self.url);
        let endpoint = endpoint(&url);
        let client = self.client.as_ref().map_err(|e| SinkError::Connect {
            endpoint: endpoint.clone(),
            message: e.clone(),
        })?;
        let mut req = client
            .post(&url)
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        match req.send().await {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(SinkError::Status {
                endpoint,
                status: resp.status().as_u16(),
            }),
            Err(e) if e.is_timeout() => Err(SinkError::Timeout {
                endpoint,
                after: self.timeout,
            }),
            Err(e) => Err(SinkError::Connect {
                endpoint,
                message: root_cause(&e.without_url()),
            }),
        }
    }

    /// POST `value` as JSON to the URL followed by `path`.
    async fn post_json(&self, path: &str, value: &serde_json::Value) -> Result<(), SinkError> {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.post(path, &[], "application/json", body).await
    }

    /// A TCP connection to the URL's host and port: reachability without sending an event.
    async fn probe(&self) -> Result<(), SinkError> {
        let endpoint = endpoint(&self.url);
        let connect = tokio::net::TcpStream::connect(&endpoint);
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(SinkError::Connect {
                endpoint,
                message: e.to_string(),
            }),
            Err(_) => Err(SinkError::Timeout {
                endpoint,
                after: self.timeout,
            }),
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>` (Standard Webhooks). A
/// `whsec_` secret is base64 after the prefix; any other secret is used as its bytes.
pub fn webhook_signature(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> String {
    let key = match secret.strip_prefix("whsec_").map(|b| STANDARD.decode(b)) {
        Some(Ok(bytes)) => bytes,
        _ => secret.as_bytes().to_vec(),
    };
    // HMAC accepts keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// POSTs the CloudEvent (structured mode) with Standard Webhooks headers `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` when `secret_env` is set.
#[derive(Debug)]
pub struct WebhookSink {
    target: Target,
    secret_env: Option<String>,
}

impl WebhookSink {
    pub(super) fn new(
        client: Client,
        url: &str,
        secret_env: Option<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            target: Target::new(client, url, timeout),
            secret_env,
        }
    }
}

impl Sink for WebhookSink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        let body = event.to_json();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut headers = vec![
            ("webhook-id", event.id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
        ];
        if let Some(var) = &self.secret_env {
            let secret = std::env::var(var).map_err(|_| SinkError::MissingEnv(var.clone()))?;
            headers.push((
                "webhook-signature",
                webhook_signature(&secret, &event.id, timestamp, &body),
            ));
        }
        self.target
            .post("", &headers, "application/cloudevents+json", body)
            .await
    }

    async fn probe(&self) -> Result<(), SinkError> {
        self.target.probe().await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            acknowledged: true,
            durable: false,
            max_bytes: None,
        }
    }
}

/// Posts `{"text": …}` to a Slack incoming webhook.
#[derive(Debug)]
pub struct SlackSink {
    target: Target,
}

impl SlackSink {
    pub(super) fn new(client: Client, url: &str, timeout: Duration) -> Self {
        Self {
            target: Target::new(client, url, timeout),
        }
    }

    /// The JSON body posted for `event`.
    pub fn payload(event: &Event) -> serde_json::Value {
        let mut text = format!("[{}] {}", event.severity, event.summary());
        if let Some(host) = event.extensions.get("host") {
            text.push_str(&format!(" (host {host})"));
        }
        text.push_str(&format!(
            "\n`{}` · {} · {}",
            event.ty, event.source, event.time
        ));
        json!({ "text": text })
    }
}

impl Sink for SlackSink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        self.target.post_json("", &Self::payload(event)).await
    }

    async fn probe(&self) -> Result<(), SinkError> {
        self.target.probe().await
    }

    fn capabilities(&self) -> Capabilities {
        // Slack truncates messages past 40,000 characters.
        Capabilities {
            acknowledged: true,
            durable: true,
            max_bytes: None,
        }
    }
}

/// Posts to PagerDuty: incidents (`fearless.incident.*`) as Events API v2 `trigger`s, every
/// other event as a Change Event.
#[derive(Debug)]
pub struct PagerDutySink {
    target: Target,
    routing_key_env: String,
}

impl PagerDutySink {
    pub(super) fn new(
        client: Client,
        base: &str,
        routing_key_env: String,
        timeout: Duration,
    ) -> Self {
        Self {
            target: Target::new(client, base.trim_end_matches('/'), timeout),
            routing_key_env,
        }
    }

    /// The path (`/v2/enqueue` or `/v2/change/enqueue`) and JSON body posted for `event`.
    pub fn payload(event: &Event, routing_key: &str) -> (&'static str, serde_json::Value) {
        let source = event
            .extensions
            .get("host")
            .cloned()
            .unwrap_or_else(|| event.source.clone());
        let details = json!({ "type": event.ty, "id": event.id, "subject": event.subject, "data": event.data });
        if event.ty.starts_with("fearless.incident.") {
            let mut body = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": event.subject.clone().unwrap_or_else(|| event.id.clone()),
                "payload": {
                    "summary": truncate(&event.summary(), 1024),
                    "source": source,
                    "severity": event.severity.as_str(),
                    "timestamp": event.time,
                    "class": event.ty,
                    "custom_details": details,
                },
            });
            if let Some(component) = event.extensions.get("component") {
                body["payload"]["component"] = json!(component);
            }
            ("/v2/enqueue", body)
        } else {
            let body = json!({
                "routing_key": routing_key,
                "payload": {
                    "summary": truncate(&event.summary(), 1024),
                    "timestamp": event.time,
                    "source": source,
                    "custom_details": details,
                },
            });
            ("/v2/change/enqueue", body)
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

impl Sink for PagerDutySink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        let key = std::env::var(&self.routing_key_env)
            .map_err(|_| SinkError::MissingEnv(self.routing_key_env.clone()))?;
        let (path, body) = Self::payload(event, &key);
        self.target.post_json(path, &body).await
    }

    async fn probe(&self) -> Result<(), SinkError> {
        self.target.probe().await
    }

    fn capabilities(&self) -> Capabilities {
        // PagerDuty rejects events over 512 KB.
        Capabilities {
            acknowledged: true,
            durable: true,
            max_bytes: Some(512 * 1024),
        }
    }
}
