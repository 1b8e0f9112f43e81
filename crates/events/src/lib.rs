//! Events: one [`Events::send_message`] wrapper in front of pluggable sinks.
//!
//! Every notable thing fearless does goes out as a CloudEvents 1.0 [`Event`] through
//! [`Events::send_message`]; the configuration (`events:` in `fearless.yaml`, validated into
//! [`fearless_config::EventsConfig`]) alone decides which sinks receive it. Delivery never
//! fails the caller: a sink that does not take an event gets it queued in a durable outbox
//! and retried with exponential backoff, and the returned [`Delivery`] says so, sink by
//! sink, so the caller can warn. Nothing is dropped silently.

mod event;
mod outbox;
mod sink;

pub use event::{Event, ExtensionNameError, local_source, types};
pub use fearless_config::EventSeverity as Severity;
pub use outbox::OutboxEntry;
pub use sink::{
    AmqpSink, AnySink, Capabilities, FileSink, PagerDutySink, Sink, SinkError, SlackSink,
    WebhookSink, webhook_signature,
};
#[cfg(feature = "aws")]
pub use sink::{SnsSink, SqsSink};

use fearless_config::EventsConfig;
use outbox::{Outbox, backoff, now_ms};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Tunables of delivery; the defaults suit production.
#[derive(Debug, Clone)]
pub struct Options {
    /// Per-request deadline of the HTTP sinks (webhook, Slack, PagerDuty, AWS).
    pub http_timeout: Duration,
    /// Deadline of one AMQP publish, connection included.
    pub amqp_timeout: Duration,
    /// Delay before the first retry; doubles with each failed attempt.
    pub backoff_base: Duration,
    /// Longest delay between retries.
    pub backoff_max: Duration,
    /// Attempts after which an entry counts as failed (it is kept; `replay` still retries it).
    pub max_attempts: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            http_timeout: Duration::from_secs(10),
            amqp_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            max_attempts: 12,
        }
    }
}

/// What became of an event at one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The sink acknowledged it.
    Delivered,
    /// Not delivered; saved in the outbox for a retry.
    Queued {
        /// Why the attempt failed.
        reason: String,
        /// Attempts so far.
        attempts: u32,
    },
    /// Not delivered, and the outbox could not be written either.
    Lost {
        /// Why the attempt failed, and why the outbox write failed.
        reason: String,
    },
}

/// One sink's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkOutcome {
    /// Sink name.
    pub sink: String,
    /// What happened.
    pub outcome: Outcome,
}

/// The report of [`Events::send_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event's id.
    pub event_id: String,
    /// One entry per sink the routes selected (none when no route matched).
    pub sinks: Vec<SinkOutcome>,
}

impl Delivery {
    /// Whether every selected sink acknowledged the event.
    pub fn is_complete(&self) -> bool {
        self.sinks.iter().all(|s| s.outcome == Outcome::Delivered)
    }

    /// The sinks that did not take the event, for a warning.
    pub fn problems(&self) -> impl Iterator<Item = &SinkOutcome> {
        self.sinks
            .iter()
            .filter(|s| s.outcome != Outcome::Delivered)
    }
}

/// Outbox counts for one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkBacklog {
    /// Entries still within `max_attempts`.
    pub pending: usize,
    /// Entries past `max_attempts`.
    pub failed: usize,
    /// Age of the oldest entry (since its first failure).
    pub oldest: Option<Duration>,
    /// The last error of the most recent entry.
    pub last_error: Option<String>,
    /// Whether the sink is still configured.
    pub configured: bool,
}

/// The report of [`Events::status`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    /// The outbox directory.
    pub dir: PathBuf,
    /// Per sink name, every configured sink included.
    pub sinks: BTreeMap<String, SinkBacklog>,
    /// Files in the outbox that are not readable entries.
    pub unreadable: Vec<PathBuf>,
}

impl OutboxStatus {
    /// Pending plus failed entries over all sinks.
    pub fn total(&self) -> usize {
        self.sinks.values().map(|s| s.pending + s.failed).sum()
    }
}

/// The report of [`Events::replay`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Entries delivered and removed.
    pub delivered: usize,
    /// Entries that failed again (kept, attempts counted).
    pub still_queued: Vec<SinkOutcome>,
    /// Entries not yet due (only for [`Events::replay_due`]).
    pub not_due: usize,
}

/// The outbox itself could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the event outbox {}: {source}", dir.display())]
pub struct OutboxError {
    /// The outbox directory.
    pub dir: PathBuf,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

/// The one wrapper: routes, sinks and the outbox.
#[derive(Debug)]
pub struct Events {
    config: EventsConfig,
    /// Sinks in config order, by name.
    sinks: Vec<(String, AnySink)>,
    outbox: Outbox,
    options: Options,
}

impl Events {
    /// Events for a validated config, queuing into `outbox_dir` (config `events.outbox`
    /// wins when set). Nothing is contacted until the first send.
    pub fn new(config: &EventsConfig, outbox_dir: &Path) -> Self {
        Self::with_options(config, outbox_dir, Options::default())
    }

    /// [`Events::new`] with explicit [`Options`].
    pub fn with_options(config: &EventsConfig, outbox_dir: &Path, options: Options) -> Self {
        let dir = config
            .outbox
            .clone()
            .unwrap_or_else(|| outbox_dir.to_owned());
        let sinks = config
            .sinks
            .iter()
            .map(|(name, spec)| (name.clone(), AnySink::from_spec(spec, &options)))
            .collect();
        Self {
            config: config.clone(),
            sinks,
            outbox: Outbox::new(dir),
            options,
        }
    }

    /// The outbox directory in use.
    pub fn outbox_dir(&self) -> &Path {
        self.outbox.dir()
    }

    /// The sink named `name`.
    pub fn sink(&self, name: &str) -> Option<&AnySink> {
        self.sinks.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// Send `event` to every sink its routes select, concurrently. Never fails: sinks that
    /// do not take it get it queued in the outbox, and the report says which and why.
    pub async fn send_message(&self, event: &Event) -> Delivery {
        let names = self.config.sinks_for(&event.ty, event.severity);
        let sends = names
            .iter()
            .map(|name| self.deliver(name, event, 0, now_ms()));
        let sinks = futures::future::join_all(sends).await;
        Delivery {
            event_id: event.id.clone(),
            sinks,
        }
    }

    /// One attempt at one sink; on failure, the outbox entry (attempts = `prior` + 1).
    async fn deliver(
        &self,
        name: &str,
        event: &Event,
        prior: u32,
        first_failed_ms: u64,
    ) -> SinkOutcome {
        let result = match self.sink(name) {
            Some(sink) => sink.send(event).await,
            None => Err(SinkError::UnknownSink(name.to_owned())),
        };
        let outcome = match result {
            Ok(()) => Outcome::Delivered,
            Err(e) => {
                let attempts = prior + 1;
                let delay = backoff(
                    attempts,
                    self.options.backoff_base,
                    self.options.backoff_max,
                );
                let entry = OutboxEntry {
                    sink: name.to_owned(),
                    event: event.clone(),
                    attempts,
                    first_failed_ms,
                    next_attempt_ms: now_ms()
                        .saturating_add(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
                    last_error: e.to_string(),
                };
                match self.outbox.put(&entry).await {
                    Ok(()) => Outcome::Queued {
                        reason: e.to_string(),
                        attempts,
                    },
                    Err(io) => Outcome::Lost {
                        reason: format!(
                            "{e}; and cannot write the outbox {}: {io}",
                            self.outbox.dir().display()
                        ),
                    },
                }
            }
        };
        SinkOutcome {
            sink: name.to_owned(),
            outcome,
        }
    }

    /// Pending and failed deliveries per sink.
    pub async fn status(&self) -> Result<OutboxStatus, OutboxError> {
        let (entries, unreadable) = self.list().await?;
        let mut sinks: BTreeMap<String, SinkBacklog> = self
            .sinks
            .iter()
            .map(|(n, _)| {
                (
                    n.clone(),
                    SinkBacklog {
                        configured: true,
                        ..SinkBacklog::default()
                    },
                )
            })
            .collect();
        let now = now_ms();
        for e in entries {
            let b = sinks.entry(e.sink.clone()).or_default();
            if e.attempts >= self.options.max_attempts {
                b.failed += 1;
            } else {
                b.pending += 1;
            }
            let age = Duration::from_millis(now.saturating_sub(e.first_failed_ms));
            b.oldest = Some(b.oldest.map_or(age, |o| o.max(age)));
            b.last_error = Some(e.last_error);
        }
        Ok(OutboxStatus {
            dir: self.outbox.dir().to_owned(),
            sinks,
            unreadable,
        })
    }

    /// Retry every entry now (what `fearless events replay` does); delivered entries are
    /// removed, the others keep one entry each with the attempt counted.
    pub async fn replay(&self) -> Result<ReplayReport, OutboxError> {
        self.replay_where(|_| true).await
    }

    /// Retry only the entries whose backoff has elapsed.
    pub async fn replay_due(&self) -> Result<ReplayReport, OutboxError> {
        let now = now_ms();
        self.replay_where(|e| e.next_attempt_ms <= now).await
    }

    async fn replay_where(
        &self,
        due: impl Fn(&OutboxEntry) -> bool,
    ) -> Result<ReplayReport, OutboxError> {
        let (entries, _) = self.list().await?;
        let mut report = ReplayReport::default();
        // Oldest first, one at a time: replay keeps each sink's order.
        for entry in entries {
            if !due(&entry) {
                report.not_due += 1;
                continue;
            }
            let out = self
                .deliver(
                    &entry.sink,
                    &entry.event,
                    entry.attempts,
                    entry.first_failed_ms,
                )
                .await;
            if out.outcome == Outcome::Delivered {
                if let Err(e) = self.outbox.remove(&entry.event.id, &entry.sink).await {
                    // Delivered but still queued: a later replay sends it again (at least
                    // once), which is said rather than hidden.
                    report.still_queued.push(SinkOutcome {
                        sink: entry.sink,
                        outcome: Outcome::Lost {
                            reason: format!("delivered, but cannot remove it from the outbox: {e}"),
                        },
                    });
                    continue;
                }
                report.delivered += 1;
            } else {
                report.still_queued.push(out);
            }
        }
        Ok(report)
    }

    /// Send a `fearless.test.v1` event straight to sink `name` (no route, no outbox).
    pub async fn test(&self, name: &str) -> Result<(), SinkError> {
        let sink = self
            .sink(name)
            .ok_or_else(|| SinkError::UnknownSink(name.to_owned()))?;
        let event = Event::new(
            types::TEST,
            local_source(),
            serde_json::json!({ "summary": format!("test event from fearless to sink {name}") }),
        );
        sink.send(&event).await
    }

    async fn list(&self) -> Result<(Vec<OutboxEntry>, Vec<PathBuf>), OutboxError> {
        self.outbox.list().await.map_err(|source| OutboxError {
            dir: self.outbox.dir().to_owned(),
            source,
        })
    }
}
