//! The `amqp` sink: RabbitMQ through lapin. A durable topic exchange, the event type as
//! routing key, persistent messages, and the publisher confirm awaited before `send`
//! returns. One connection and channel, reused; dropped on any error and reopened on the
//! next send.

use super::{Capabilities, Sink, SinkError};
use crate::Event;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::time::Duration;
use tokio::sync::Mutex;

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// Publishes events to a topic exchange with publisher confirms.
#[derive(Debug)]
pub struct AmqpSink {
    url: String,
    exchange: String,
    endpoint: String,
    timeout: Duration,
    link: Mutex<Option<Link>>,
}

#[derive(Debug)]
struct Link {
    // Kept so the connection lives as long as the channel.
    _connection: Connection,
    channel: Channel,
}

impl AmqpSink {
    /// A sink for `url` (`amqp://user:pass@host:port/vhost`) and `exchange`; nothing is
    /// opened until the first send.
    pub fn new(url: &str, exchange: &str, timeout: Duration) -> Self {
        let endpoint = url
            .parse::<AMQPUri>()
            .map(|u| format!("{}:{}", u.authority.host, u.authority.port))
            .unwrap_or_else(|_| "?".into());
        Self {
            url: url.to_owned(),
            exchange: exchange.to_owned(),
            endpoint,
            timeout,
            link: Mutex::new(None),
        }
    }

    fn fail(&self, e: &lapin::Error) -> SinkError {
        SinkError::Connect {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }

    async fn connect(&self) -> Result<Link, SinkError> {
        let uri: AMQPUri = self.url.parse().map_err(|e: String| SinkError::Connect {
            endpoint: self.endpoint.clone(),
            message: e,
        })?;
        let properties =
            ConnectionProperties::default().with_connection_name("fearless events".into());
        let connection = Connection::connect_uri(uri, properties)
            .await
            .map_err(|e| self.fail(&e))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| self.fail(&e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| self.fail(&e))?;
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| self.fail(&e))?;
        Ok(Link {
            _connection: connection,
            channel,
        })
    }

    async fn publish(&self, link: &Link, event: &Event) -> Result<(), SinkError> {
        let properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/cloudevents+json".into())
            .with_message_id(event.id.as_str().into())
            .with_type(event.ty.as_str().into());
        let confirm = link
            .channel
            .basic_publish(
                self.exchange.as_str().into(),
                event.ty.as_str().into(),
                BasicPublishOptions::default(),
                &event.to_json(),
                properties,
            )
            .await
            .map_err(|e| self.fail(&e))?
            .await
            .map_err(|e| self.fail(&e))?;
        if confirm.is_nack() {
            return Err(SinkError::Rejected {
                endpoint: self.endpoint.clone(),
                message: "the broker nacked the message".into(),
            });
        }
        Ok(())
    }

    async fn send_inner(&self, event: &Event) -> Result<(), SinkError> {
        let mut guard = self.link.lock().await;
        let link = match guard.take() {
            Some(l) if l.channel.status().connected() => l,
            _ => self.connect().await?,
        };
        let result = self.publish(&link, event).await;
        if result.is_ok() {
            *guard = Some(link);
        }
        result
    }
}

impl Sink for AmqpSink {
    async fn send(&self, event: &Event) -> Result<(), SinkError> {
        match tokio::time::timeout(self.timeout, self.send_inner(event)).await {
            Ok(r) => r,
            Err(_) => {
                // The link may be half-open; start afresh next time.
                *self.link.lock().await = None;
                Err(SinkError::Timeout {
                    endpoint: self.endpoint.clone(),
                    after: self.timeout,
                })
            }
        }
    }

    async fn probe(&self) -> Result<(), SinkError> {
        let probe = async {
            let mut guard = self.link.lock().await;
            if guard
                .as_ref()
                .is_none_or(|l| !l.channel.status().connected())
            {
                *guard = Some(self.connect().await?);
            }
            Ok(())
        };
        tokio::time::timeout(self.timeout, probe)
            .await
            .unwrap_or_else(|_| {
                Err(SinkError::Timeout {
                    endpoint: self.endpoint.clone(),
                    after: self.timeout,
                })
            })
    }

    fn capabilities(&self) -> Capabilities {
        // RabbitMQ's default max message size is 128 MiB.
        Capabilities {
            acknowledged: true,
            durable: true,
            max_bytes: Some(128 * 1024 * 1024),
        }
    }
}
