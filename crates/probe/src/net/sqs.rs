//! The `sqs` check kind (Amazon SQS): a message round trip, or a look at the queue's depth
//! and at its dead-letter queue's.

use super::common::{excerpt, one_line, timed_out};
use super::context::NetContext;
use crate::result::{Outcome, Reason};
use fearless_aws::sqs::{Attribute, Message, ReceiveMessage, SendMessage, Sqs};
use fearless_aws::{AwsError, Client, ClientOptions, Credentials, Unreached};
use fearless_config::{SqsCheck, SqsMode};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The message attribute that carries a round trip's tag (a UUID, also in the body).
const TAG: &str = "fearless-check";

/// How long a received message stays hidden from other consumers. Messages that are not the
/// check's are made visible again at once; this bounds how long one stays hidden when that
/// cannot be done (the attempt was cut short by its timeout).
const HOLD_SECONDS: u32 = 5;

/// The queue attributes and the message system attribute the check reads.
const VISIBLE: &str = "ApproximateNumberOfMessages";
const IN_FLIGHT: &str = "ApproximateNumberOfMessagesNotVisible";
const REDRIVE_POLICY: &str = "RedrivePolicy";
const SENT_TIMESTAMP: &str = "SentTimestamp";

/// SQS's longest long poll.
const MAX_WAIT_SECONDS: u64 = 20;

/// A check message older than this is the litter of an attempt that gave up (no check
/// waits longer than an hour), and the next round trip that receives it deletes it.
const STALE: Duration = Duration::from_secs(2 * 3600);

/// Service error codes that mean "you may not" (IAM, signatures, credentials, KMS).
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSecurity",
    "ExpiredToken",
    "MissingAuthenticationToken",
    "InvalidAccessKeyId",
    "KMS.AccessDeniedException",
];

/// Service error codes that mean the queue does not exist (the query-compatible code and
/// the JSON protocol's).
const MISSING: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
];

/// `sqs`: an Amazon SQS queue, through the AWS API.
///
/// **What it does**: builds a client for `spec.region` (and `endpoint`, when set: an
/// emulator or a VPC endpoint) with the credentials given to the [`NetContext`], else those
/// of the standard environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`); finds the queue's URL
/// (`GetQueueUrl`, unless `queue` is a URL already). Then, in `roundtrip` mode, sends one
/// message tagged with a fresh UUID (in the `fearless-check` message attribute and in the
/// body; FIFO queues get a message group and deduplication id), long-polls until that
/// message comes back and deletes it. Every other message received meanwhile is made
/// visible again at once (`ChangeMessageVisibility` to 0) and never deleted, except
/// round-trip messages of this check kind older than two hours (left by attempts cut
/// short). Receiving still counts toward a message's `maxReceiveCount`, so a round trip
/// belongs on a queue of its own, not on one an application consumes. In `inspect` mode nothing is sent or received: it reads the queue's
/// `ApproximateNumberOfMessages` (visible) and `…NotVisible` (in flight) and, for
/// `max_dead_letter`, finds the dead-letter queue named by its `RedrivePolicy` and reads
/// its `ApproximateNumberOfMessages`. All within `timeout`; the client's own retries are off
/// (the runner retries).
///
/// **Passes when**: the tagged message came back (`round trip through queue "orders"
/// (sent, received, deleted; 2 other messages left visible)`), or the counts are within
/// their bounds (`queue "orders": 3 visible, 1 in flight; dead-letter queue "orders-dlq":
/// 0`).
///
/// **Fails with**: `assertion` when the queue (or its dead-letter queue) does not exist —
/// the message says it is missing —, a count is over its bound, `max_dead_letter` is set on
/// a queue without a `RedrivePolicy`, or SQS answers another error; `auth` when access is
/// denied or the credentials are refused (an error code saying so, or HTTP 403); `timeout` when the message does not come back (or
/// SQS does not answer) in time; `refused`, `dns`, `tls` when the endpoint cannot be
/// reached. An `error` with `config` when the credentials are not in the environment. No
/// credential ever appears in a message.
pub async fn sqs(
    net: &NetContext,
    spec: &SqsCheck,
    queue: &str,
    endpoint: Option<&str>,
    timeout: Duration,
) -> Outcome {
    let client = match client(net, &spec.region, endpoint, timeout) {
        Ok(c) => c,
        Err(message) => return Outcome::error(Reason::Config, message),
    };
    let deadline = Instant::now() + timeout;
    let host = endpoint_host(&spec.region, endpoint);
    let sent = AtomicBool::new(false);
    let ctx = Ctx {
        client: &client,
        host: &host,
        name: queue_name(queue),
    };
    let work = async {
        let url = ctx.queue_url(queue).await?;
        match spec.mode {
            SqsMode::Roundtrip => ctx.round_trip(&url, &sent, deadline).await,
            SqsMode::Inspect {
                max_depth,
                max_dead_letter,
            } => ctx.inspect(&url, max_depth, max_dead_letter).await,
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) if sent.load(Ordering::Relaxed) => timed_out(
            &format!(
                "the message sent to queue {} did not come back",
                excerpt(&ctx.name)
            ),
            timeout,
        ),
        Err(_) => timed_out(&format!("no answer from SQS at {host}"), timeout),
        Ok(Err(outcome)) => outcome,
        Ok(Ok(outcome)) => outcome,
    }
}

/// The SQS client of one check: the credentials given to the [`NetContext`], else those of
/// the environment, the check's region and endpoint, every call bounded by `timeout`, no
/// retries (the runner retries; a retry here would hide the failure it retried). The one
/// place the client is built.
fn client(
    net: &NetContext,
    region: &str,
    endpoint: Option<&str>,
    timeout: Duration,
) -> Result<Sqs, String> {
    let credentials = net
        .aws_credentials()
        .or_else(env_credentials)
        .ok_or_else(|| {
            "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".to_owned()
        })?;
    let mut options = ClientOptions::new(region);
    options.endpoint_url = endpoint.map(str::to_owned);
    options.timeout = timeout;
    options.attempts = 1;
    options.credentials = Some(credentials);
    options.http = Some(net.aws_http()?);
    Client::new("sqs", options)
        .map(Sqs::new)
        .map_err(|e| one_line(&e.to_string(), 160))
}

/// Static credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, when set,
/// `AWS_SESSION_TOKEN` (their values are never shown).
fn env_credentials() -> Option<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "fearless-environment",
    ))
}

/// The host requests go to, for messages and for classifying name-resolution failures.
fn endpoint_host(region: &str, endpoint: Option<&str>) -> String {
    endpoint
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_else(|| format!("sqs.{region}.amazonaws.com"))
}

/// The queue's name: the last segment of a queue URL, or the name as written.
fn queue_name(queue: &str) -> String {
    if queue.contains("://") {
        queue
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(queue)
            .to_owned()
    } else {
        queue.to_owned()
    }
}

/// One check's client and the names its messages use.
struct Ctx<'a> {
    client: &'a Sqs,
    host: &'a str,
    name: String,
}

impl Ctx<'_> {
    /// The queue's URL: `queue` itself when it is one, else `GetQueueUrl`.
    async fn queue_url(&self, queue: &str) -> Result<String, Outcome> {
        if queue.contains("://") {
            return Ok(queue.to_owned());
        }
        self.lookup(queue, None, "queue").await
    }

    /// `GetQueueUrl` of `name` (owned by `account`, when given); `what` names it in messages.
    async fn lookup(
        &self,
        name: &str,
        account: Option<&str>,
        what: &str,
    ) -> Result<String, Outcome> {
        let url = self
            .client
            .get_queue_url(name, account)
            .await
            .map_err(|e| self.failure(&e, what, name))?;
        url.ok_or_else(|| {
            Outcome::fail(format!("SQS returned no URL for {what} {}", excerpt(name)))
        })
    }

    /// Send a tagged message, receive it back, delete it; give back every other message.
    async fn round_trip(
        &self,
        url: &str,
        sent: &AtomicBool,
        deadline: Instant,
    ) -> Result<Outcome, Outcome> {
        let tag = uuid::Uuid::new_v4().to_string();
        let mut send = SendMessage {
            queue_url: url.to_owned(),
            message_body: format!("fearless round trip {tag}"),
            ..SendMessage::default()
        };
        send.message_attributes
            .insert(TAG.to_owned(), Attribute::string(&tag));
        if url.ends_with(".fifo") {
            send.message_group_id = Some(TAG.to_owned());
            send.message_deduplication_id = Some(tag.clone());
        }
        self.client
            .send_message(&send)
            .await
            .map_err(|e| self.failure(&e, "queue", &self.name))?;
        sent.store(true, Ordering::Relaxed);
        let mut others = 0usize;
        loop {
            let wait = long_poll(deadline.saturating_duration_since(Instant::now()));
            let messages = self
                .client
                .receive_message(&ReceiveMessage {
                    queue_url: url.to_owned(),
                    max_number_of_messages: 10,
                    wait_time_seconds: wait,
                    visibility_timeout: HOLD_SECONDS,
                    message_attribute_names: vec![TAG.to_owned()],
                    message_system_attribute_names: vec![SENT_TIMESTAMP.to_owned()],
                })
                .await
                .map_err(|e| self.failure(&e, "queue", &self.name))?;
            let mut found = false;
            let mut give_back = Vec::new();
            for m in &messages {
                let Some(handle) = m.receipt_handle.as_deref() else {
                    continue;
                };
                match m.attribute(TAG) {
                    Some(t) if t == tag && m.body.as_deref().is_some_and(|b| b.contains(&tag)) => {
                        found = true;
                        self.delete(url, handle).await?;
                    }
                    Some(_) if is_stale(m) => {
                        // Litter of an earlier attempt of this check kind: ours to remove.
                        let _ = self.delete(url, handle).await;
                    }
                    _ => give_back.push(handle),
                }
            }
            others += give_back.len();
            // Make the others visible again at once: never consume someone else's message.
            let results = futures::future::join_all(
                give_back
                    .into_iter()
                    .map(|handle| self.client.change_message_visibility(url, handle, 0)),
            )
            .await;
            if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                return Err(self.failure(&e, "queue", &self.name));
            }
            if found {
                let left = match others {
                    0 => String::new(),
                    1 => "; 1 other message left visible".to_owned(),
                    n => format!("; {n} other messages left visible"),
                };
                return Ok(Outcome::pass(format!(
                    "round trip through queue {} (sent, received, deleted{left})",
                    excerpt(&self.name)
                )));
            }
            if wait == 0 && messages.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    async fn delete(&self, url: &str, handle: &str) -> Result<(), Outcome> {
        self.client
            .delete_message(url, handle)
            .await
            .map_err(|e| self.failure(&e, "queue", &self.name))
    }

    /// Read the counts and compare them with their bounds.
    async fn inspect(
        &self,
        url: &str,
        max_depth: Option<u64>,
        max_dead_letter: Option<u64>,
    ) -> Result<Outcome, Outcome> {
        let mut names = vec![VISIBLE, IN_FLIGHT];
        if max_dead_letter.is_some() {
            names.push(REDRIVE_POLICY);
        }
        let attributes = self.attributes(url, &names, "queue", &self.name).await?;
        let visible = count(&attributes, VISIBLE)?;
        let in_flight = count(&attributes, IN_FLIGHT)?;
        let mut seen = format!(
            "queue {}: {visible} visible, {in_flight} in flight",
            excerpt(&self.name)
        );
        let mut over = Vec::new();
        if let Some(max) = max_depth
            && visible > max
        {
            over.push(format!(
                "queue {} holds {visible} visible messages (at most {max})",
                excerpt(&self.name)
            ));
        }
        if let Some(max) = max_dead_letter {
            let policy = attributes
                .get(REDRIVE_POLICY)
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| {
                    Outcome::fail(format!(
                        "queue {} has no dead-letter queue (no RedrivePolicy), so \
                         max_dead_letter cannot be checked",
                        excerpt(&self.name)
                    ))
                })?;
            let (account, dlq) = dead_letter_target(policy)?;
            let dlq_url = self
                .lookup(&dlq, Some(&account), "dead-letter queue")
                .await?;
            let dlq_attributes = self
                .attributes(&dlq_url, &[VISIBLE], "dead-letter queue", &dlq)
                .await?;
            let dead = count(&dlq_attributes, VISIBLE)?;
            seen.push_str(&format!("; dead-letter queue {}: {dead}", excerpt(&dlq)));
            if dead > max {
                over.push(format!(
                    "dead-letter queue {} holds {dead} messages (at most {max})",
                    excerpt(&dlq)
                ));
            }
        }
        Ok(if over.is_empty() {
            Outcome::pass(seen)
        } else {
            Outcome::fail(over.join("; "))
        })
    }

    async fn attributes(
        &self,
        url: &str,
        names: &[&str],
        what: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>, Outcome> {
        self.client
            .get_queue_attributes(url, names)
            .await
            .map_err(|e| self.failure(&e, what, name))
    }

    /// What an AWS error says about the queue (`what` `name`: `queue "orders"`).
    fn failure(&self, e: &AwsError, what: &str, name: &str) -> Outcome {
        match e {
            AwsError::Api {
                code,
                status,
                message,
                ..
            } => {
                let code = code.as_str();
                let detail = if message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", one_line(message, 160))
                };
                if MISSING.contains(&code) {
                    Outcome::fail(format!(
                        "{what} {} is missing: it does not exist ({code})",
                        excerpt(name)
                    ))
                } else if DENIED.contains(&code) || code.contains("AccessDenied") {
                    Outcome::fail_because(
                        Reason::Auth,
                        format!("access to {what} {} denied: {code}{detail}", excerpt(name)),
                    )
                } else if *status == 403 {
                    // An answer without a code this check knows, with the status that says
                    // "not you".
                    Outcome::fail_because(
                        Reason::Auth,
                        format!("access to {what} {} denied (HTTP 403)", excerpt(name)),
                    )
                } else if code.is_empty() {
                    Outcome::fail(format!(
                        "SQS at {} answered with an error{detail}",
                        self.host
                    ))
                } else {
                    Outcome::fail(format!("SQS answered {code}{detail}"))
                }
            }
            AwsError::Throttled { code, .. } => {
                Outcome::fail(format!("SQS at {} is throttling: {code}", self.host))
            }
            AwsError::Unreachable { cause, detail, .. } => {
                // The innermost cause: "Connection refused (os error 111)".
                let root = one_line(detail.rsplit(": ").next().unwrap_or(detail), 160);
                match cause {
                    Unreached::Timeout => Outcome::fail_because(
                        Reason::Timeout,
                        format!("no answer from SQS at {}", self.host),
                    ),
                    Unreached::Dns => Outcome::fail_because(
                        Reason::Dns,
                        format!("{} does not resolve", excerpt(self.host)),
                    ),
                    Unreached::Tls => {
                        Outcome::fail_because(Reason::Tls, format!("TLS handshake failed: {root}"))
                    }
                    Unreached::Refused | Unreached::Other => Outcome::fail_because(
                        Reason::Refused,
                        format!("cannot reach SQS at {}: {root}", self.host),
                    ),
                }
            }
            AwsError::Credentials(reason) => Outcome::error(
                Reason::Config,
                format!("cannot sign the SQS request: {}", one_line(reason, 160)),
            ),
            AwsError::Parse { detail, .. } => Outcome::fail(format!(
                "SQS at {} gave an answer that cannot be read: {}",
                self.host,
                one_line(detail, 160)
            )),
        }
    }
}

/// How long the next receive may wait, in whole seconds: up to SQS's 20, and a second less
/// than the check has `left`, so that what it receives can still be given back in time. A
/// long poll returns as soon as a message is there, so a fast queue stays fast.
fn long_poll(left: Duration) -> u32 {
    let seconds = left.as_secs().saturating_sub(1).min(MAX_WAIT_SECONDS);
    u32::try_from(seconds).unwrap_or(0)
}

/// Whether a check message was sent long enough ago to be litter.
fn is_stale(m: &Message) -> bool {
    let sent_ms = m
        .attributes
        .get(SENT_TIMESTAMP)
        .and_then(|t| t.parse::<u128>().ok());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    sent_ms.is_some_and(|sent| now_ms.saturating_sub(sent) > STALE.as_millis())
}

/// A count attribute as a number.
fn count(attributes: &BTreeMap<String, String>, name: &str) -> Result<u64, Outcome> {
    let value = attributes
        .get(name)
        .ok_or_else(|| Outcome::fail(format!("SQS did not return {name}")))?;
    value.trim().parse().map_err(|_| {
        Outcome::fail(format!(
            "SQS returned {name} {} (expected a number)",
            excerpt(value)
        ))
    })
}

/// The account and name of the dead-letter queue in a `RedrivePolicy`
/// (`{"deadLetterTargetArn":"arn:aws:sqs:REGION:ACCOUNT:NAME","maxReceiveCount":5}`).
fn dead_letter_target(policy: &str) -> Result<(String, String), Outcome> {
    let arn = serde_json::from_str::<serde_json::Value>(policy)
        .ok()
        .and_then(|v| v.get("deadLetterTargetArn")?.as_str().map(str::to_owned))
        .ok_or_else(|| {
            Outcome::fail(format!(
                "the queue's RedrivePolicy names no dead-letter queue: {}",
                excerpt(policy)
            ))
        })?;
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "sqs", _, account, name] if !name.is_empty() => {
            Ok(((*account).to_owned(), (*name).to_owned()))
        }
        _ => Err(Outcome::fail(format!(
            "the dead-letter target {} is not an SQS queue ARN",
            excerpt(&arn)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_dead_letter_target() {
        assert_eq!(
            dead_letter_target(
                r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:orders-dlq","maxReceiveCount":"5"}"#
            ),
            Ok(("123456789012".into(), "orders-dlq".into()))
        );
        assert!(dead_letter_target("{}").is_err());
        assert_eq!(long_poll(Duration::from_secs(10)), 9);
        assert_eq!(long_poll(Duration::from_secs(60)), 20);
        assert_eq!(long_poll(Duration::from_millis(800)), 0);
        assert!(dead_letter_target(r#"{"deadLetterTargetArn":"arn:aws:sns:x:1:t"}"#).is_err());
    }

    #[test]
    fn names_queues_and_endpoints() {
        assert_eq!(
            queue_name("https://sqs.eu-west-1.amazonaws.com/123456789012/orders"),
            "orders"
        );
        assert_eq!(queue_name("orders.fifo"), "orders.fifo");
        assert_eq!(
            endpoint_host("eu-west-1", None),
            "sqs.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_host("us-east-1", Some("http://127.0.0.1:4566")),
            "127.0.0.1:4566"
        );
    }
}
