//! The `sqs` check against a real `moto_server` (moto's AWS emulator) started by each test
//! on a free loopback port and stopped by PID when dropped; the queues, a dead-letter queue
//! and its redrive policy are made here with `fearless-aws`'s SQS client. Tests fail, never skip, when moto
//! is missing (`scripts/test.sh` installs `moto[server]`).

use fearless_aws::sqs::{ReceiveMessage, SendMessage, Sqs};
use fearless_aws::{Client, ClientOptions, Credentials};
use fearless_config::{SqsCheck, SqsMode, Template};
use fearless_probe::net::{self, NetContext};
use fearless_probe::result::{Outcome, Reason, Status};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);
const REGION: &str = "us-east-1";

/// moto's server of one test, with an SDK client to set it up and look into it.
struct Moto {
    child: Child,
    endpoint: String,
    client: Sqs,
}

impl Moto {
    fn start() -> Self {
        Self::spawn(false)
    }

    /// A moto that checks credentials against its IAM (it knows none but its own).
    fn start_with_iam() -> Self {
        Self::spawn(true)
    }

    fn spawn(iam: bool) -> Self {
        let port = fearless_testkit::free_port("127.0.0.1");
        let mut command = Command::new("moto_server");
        if iam {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is required: pip install 'moto[server]' (scripts/test.sh does)");
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            client: sqs_client(&format!("http://127.0.0.1:{port}")),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto_server did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    async fn create_queue(&self, name: &str) -> String {
        self.create(name, BTreeMap::new()).await
    }

    /// `CreateQueue` (not an operation fearless calls, so spelled out here); its URL.
    async fn create(&self, name: &str, attributes: BTreeMap<&str, String>) -> String {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Created {
            queue_url: String,
        }
        let created: Created = self
            .client
            .client()
            .json_1_0(
                "AmazonSQS",
                "CreateQueue",
                &serde_json::json!({"QueueName": name, "Attributes": attributes}),
            )
            .await
            .expect("create queue");
        created.queue_url
    }

    /// A queue whose dead letters go to a new `NAME-dlq`; both URLs.
    async fn create_queue_with_dlq(&self, name: &str) -> (String, String) {
        let dlq = self.create_queue(&format!("{name}-dlq")).await;
        let arn = self
            .client
            .get_queue_attributes(&dlq, &["QueueArn"])
            .await
            .expect("dlq attributes")
            .remove("QueueArn")
            .expect("dlq arn");
        let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}"#);
        let queue = self
            .create(name, BTreeMap::from([("RedrivePolicy", policy)]))
            .await;
        (queue, dlq)
    }

    async fn send(&self, queue: &str, body: &str) {
        self.client
            .send_message(&SendMessage {
                queue_url: queue.to_owned(),
                message_body: body.to_owned(),
                ..SendMessage::default()
            })
            .await
            .expect("send");
    }

    /// The bodies of every message visible in `queue` now (received and made visible again).
    async fn visible(&self, queue: &str) -> Vec<String> {
        let messages = self
            .client
            .receive_message(&ReceiveMessage {
                queue_url: queue.to_owned(),
                max_number_of_messages: 10,
                visibility_timeout: 0,
                ..ReceiveMessage::default()
            })
            .await
            .expect("receive");
        let mut bodies: Vec<String> = messages.into_iter().filter_map(|m| m.body).collect();
        bodies.sort();
        bodies
    }

    async fn check(&self, queue: &str, mode: SqsMode) -> Outcome {
        let ctx = NetContext::new()
            .expect("context")
            .with_aws_credentials("test", "test");
        let spec = SqsCheck {
            queue: Template::parse(queue).expect("template"),
            region: REGION.to_owned(),
            endpoint_url: Some(Template::parse(&self.endpoint).expect("template")),
            mode,
        };
        net::sqs(&ctx, &spec, queue, Some(&self.endpoint), TIMEOUT).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's own SQS client, on the same signed client the check uses.
fn sqs_client(endpoint: &str) -> Sqs {
    let mut options = ClientOptions::new(REGION);
    options.endpoint_url = Some(endpoint.to_owned());
    options.credentials = Some(Credentials::new("test", "test", None, None, "test"));
    Sqs::new(Client::new("sqs", options).expect("client"))
}

fn inspect(max_depth: Option<u64>, max_dead_letter: Option<u64>) -> SqsMode {
    SqsMode::Inspect {
        max_depth,
        max_dead_letter,
    }
}

#[track_caller]
fn assert_outcome(outcome: &Outcome, status: Status, reason: Option<Reason>) {
    assert_eq!(
        (outcome.status, outcome.reason),
        (status, reason),
        "{outcome:?}"
    );
    assert!(!outcome.message.contains('\n'), "one line: {outcome:?}");
}

#[tokio::test]
async fn round_trip_passes_by_name_and_by_url_and_leaves_the_queue_empty() {
    let moto = Moto::start();
    let url = moto.create_queue("checks").await;
    let outcome = moto.check("checks", SqsMode::Roundtrip).await;
    assert_outcome(&outcome, Status::Pass, None);
    assert_eq!(
        outcome.message,
        "round trip through queue \"checks\" (sent, received, deleted)"
    );
    let outcome = moto.check(&url, SqsMode::Roundtrip).await;
    assert_outcome(&outcome, Status::Pass, None);
    assert!(
        moto.visible(&url).await.is_empty(),
        "the check's messages are deleted"
    );
}

#[tokio::test]
async fn a_fifo_queue_round_trips() {
    let moto = Moto::start();
    moto.create(
        "checks.fifo",
        BTreeMap::from([("FifoQueue", "true".to_owned())]),
    )
    .await;
    let outcome = moto.check("checks.fifo", SqsMode::Roundtrip).await;
    assert_outcome(&outcome, Status::Pass, None);
}

#[tokio::test]
async fn a_missing_queue_fails_saying_so() {
    let moto = Moto::start();
    let outcome = moto.check("no-such-queue", SqsMode::Roundtrip).await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Assertion));
    assert!(
        outcome
            .message
            .starts_with("queue \"no-such-queue\" is missing"),
        "{outcome:?}"
    );
    let outcome = moto.check("no-such-queue", inspect(Some(10), None)).await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Assertion));
    assert!(outcome.message.contains("is missing"), "{outcome:?}");
}

#[tokio::test]
async fn a_round_trip_leaves_other_messages_in_the_queue() {
    let moto = Moto::start();
    let url = moto.create_queue("shared").await;
    moto.send(&url, "someone else's order 1").await;
    moto.send(&url, "someone else's order 2").await;
    let outcome = moto.check("shared", SqsMode::Roundtrip).await;
    assert_outcome(&outcome, Status::Pass, None);
    assert!(
        outcome.message.ends_with("other messages left visible)"),
        "{outcome:?}"
    );
    assert_eq!(
        moto.visible(&url).await,
        ["someone else's order 1", "someone else's order 2"],
        "their messages are still there, visible, and nothing of the check's is"
    );
}

#[tokio::test]
async fn inspect_compares_the_depth_with_max_depth() {
    let moto = Moto::start();
    let url = moto.create_queue("orders").await;
    for n in 0..3 {
        moto.send(&url, &format!("order {n}")).await;
    }
    let under = moto.check("orders", inspect(Some(5), None)).await;
    assert_outcome(&under, Status::Pass, None);
    assert_eq!(under.message, "queue \"orders\": 3 visible, 0 in flight");
    let over = moto.check("orders", inspect(Some(2), None)).await;
    assert_outcome(&over, Status::Fail, Some(Reason::Assertion));
    assert_eq!(
        over.message,
        "queue \"orders\" holds 3 visible messages (at most 2)"
    );
    // Inspecting consumed nothing.
    assert_eq!(moto.visible(&url).await.len(), 3);
}

#[tokio::test]
async fn inspect_compares_the_dead_letter_queue_with_max_dead_letter() {
    let moto = Moto::start();
    let (queue, dlq) = moto.create_queue_with_dlq("payments").await;
    moto.send(&queue, "a payment").await;
    let clean = moto.check("payments", inspect(None, Some(0))).await;
    assert_outcome(&clean, Status::Pass, None);
    assert_eq!(
        clean.message,
        "queue \"payments\": 1 visible, 0 in flight; dead-letter queue \"payments-dlq\": 0"
    );
    moto.send(&dlq, "a poisoned payment").await;
    moto.send(&dlq, "another poisoned payment").await;
    let dead = moto.check(&queue, inspect(Some(10), Some(1))).await;
    assert_outcome(&dead, Status::Fail, Some(Reason::Assertion));
    assert_eq!(
        dead.message,
        "dead-letter queue \"payments-dlq\" holds 2 messages (at most 1)"
    );
    // max_dead_letter on a queue without a redrive policy cannot hold.
    moto.create_queue("plain").await;
    let none = moto.check("plain", inspect(None, Some(0))).await;
    assert_outcome(&none, Status::Fail, Some(Reason::Assertion));
    assert!(none.message.contains("no dead-letter queue"), "{none:?}");
}

#[tokio::test]
async fn an_endpoint_that_is_down_is_refused() {
    let ctx = NetContext::new()
        .expect("context")
        .with_aws_credentials("test", "test");
    let endpoint = format!("http://127.0.0.1:{}", crate::closed_port());
    let spec = SqsCheck {
        queue: Template::parse("checks").expect("template"),
        region: REGION.to_owned(),
        endpoint_url: Some(Template::parse(&endpoint).expect("template")),
        mode: SqsMode::Roundtrip,
    };
    let outcome = net::sqs(&ctx, &spec, "checks", Some(&endpoint), TIMEOUT).await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Refused));
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_a_timeout() {
    let addr = crate::silent_server().await;
    let ctx = NetContext::new()
        .expect("context")
        .with_aws_credentials("test", "test");
    let endpoint = format!("http://{addr}");
    let spec = SqsCheck {
        queue: Template::parse("checks").expect("template"),
        region: REGION.to_owned(),
        endpoint_url: Some(Template::parse(&endpoint).expect("template")),
        mode: SqsMode::Roundtrip,
    };
    let outcome = net::sqs(
        &ctx,
        &spec,
        "checks",
        Some(&endpoint),
        Duration::from_millis(500),
    )
    .await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Timeout));
}

#[tokio::test]
async fn refused_credentials_are_auth_and_never_shown() {
    let moto = Moto::start_with_iam();
    let ctx = NetContext::new()
        .expect("context")
        .with_aws_credentials("AKIAFEARLESSTEST0001", "wrong-s3cret-key");
    let spec = SqsCheck {
        queue: Template::parse("checks").expect("template"),
        region: REGION.to_owned(),
        endpoint_url: Some(Template::parse(&moto.endpoint).expect("template")),
        mode: SqsMode::Roundtrip,
    };
    let outcome = net::sqs(&ctx, &spec, "checks", Some(&moto.endpoint), TIMEOUT).await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Auth));
    assert!(outcome.message.contains("denied"), "{outcome:?}");
    assert!(!outcome.message.contains("wrong-s3cret-key"), "{outcome:?}");
}

#[tokio::test]
async fn a_message_that_does_not_come_back_in_time_is_a_timeout() {
    let moto = Moto::start();
    // Every message of this queue is delayed beyond the check's timeout.
    moto.create("slow", BTreeMap::from([("DelaySeconds", "30".to_owned())]))
        .await;
    let ctx = NetContext::new()
        .expect("context")
        .with_aws_credentials("test", "test");
    let spec = SqsCheck {
        queue: Template::parse("slow").expect("template"),
        region: REGION.to_owned(),
        endpoint_url: Some(Template::parse(&moto.endpoint).expect("template")),
        mode: SqsMode::Roundtrip,
    };
    let started = Instant::now();
    let outcome = net::sqs(
        &ctx,
        &spec,
        "slow",
        Some(&moto.endpoint),
        Duration::from_secs(3),
    )
    .await;
    assert_outcome(&outcome, Status::Fail, Some(Reason::Timeout));
    assert_eq!(
        outcome.message,
        "the message sent to queue \"slow\" did not come back within 3 s"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the timeout"
    );
}
