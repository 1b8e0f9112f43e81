//! Events through the binary: a change emits through the configured sinks; an unreachable
//! broker never fails the command, queues in the outbox, and `replay` delivers once the
//! broker is reachable (real RabbitMQ at 127.0.0.1:5672).

use super::{exits, fails_with, fearless, run_tool, stderr, stdout, write_config};

fn config(dir: &std::path::Path, amqp_port: u16) -> String {
    write_config(
        dir,
        &format!(
            "identity: {{ mode: trust }}\ninventory:\n  hosts:\n    web-1: {{ address: 10.9.0.1 }}\ncomponents:\n  app:\n    runs_on: all\nevents:\n  sinks:\n    log: {{ file: {{ path: events.jsonl }} }}\n    bus: {{ amqp: {{ url: \"amqp://guest:guest@127.0.0.1:{amqp_port}/%2f\", exchange: fearless.cli-test }} }}\n  routes:\n    - {{ types: \"fearless.*\", sinks: [log, bus] }}\n"
        ),
    )
}

#[test]
fn an_unreachable_sink_queues_and_replay_delivers() {
    let dir = tempfile::tempdir().expect("tmp");
    let closed = fearless_testkit::free_port("127.0.0.1");
    let cfg = config(dir.path(), closed);
    let store = format!("sqlite:{}", dir.path().join("state.db").display());
    let out = fearless(&[
        "change", "new", "--title", "t", "--hosts", "web-1", "-c", &cfg, "--store", &store, "--as",
        "alice",
    ]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a failed delivery never fails the command: {err}"
    );
    assert!(
        err.contains("queued in the outbox"),
        "and it is never silent: {err}"
    );
    let lines = std::fs::read_to_string(dir.path().join("events.jsonl")).expect("file sink");
    let first: serde_json::Value =
        serde_json::from_str(lines.lines().next().expect("one event")).expect("json");
    assert_eq!(first["type"], "fearless.change.created.v1");
    assert_eq!(first["subject"], "CHG-1");

    let status = fearless(&["events", "status", "-c", &cfg, "--format", "json"]);
    assert_eq!(status.status.code(), Some(1));
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(st["sinks"]["bus"]["pending"], 1);

    // The broker is "back": the same sink name now points at the real RabbitMQ.
    let cfg = config(dir.path(), 5672);
    let (replayed, _) = exits(0, &["events", "replay", "-c", &cfg]);
    assert!(replayed.contains("1 delivered"), "{replayed}");
    exits(0, &["events", "status", "-c", &cfg]);
    // Replaying again delivers nothing twice.
    let again = stdout(&fearless(&["events", "replay", "-c", &cfg]));
    assert!(again.contains("0 delivered"), "{again}");

    exits(0, &["events", "test", "log", "-c", &cfg]);
    fails_with(
        2,
        "unknown sink `nope`",
        &["events", "test", "nope", "-c", &cfg],
    );
}

/// moto's AWS server on loopback, stopped by PID when dropped.
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Self {
        let port = fearless_testkit::free_port("127.0.0.1");
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server is required: pip install 'moto[server]' (scripts/test.sh does)");
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "moto_server did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Run a boto3 snippet against moto; `E` is the endpoint, argv follows.
    fn py(&self, script: &str, args: &[&str]) -> String {
        let prelude = "import boto3,sys,json\nE=sys.argv[1]\nkw=dict(endpoint_url=E,region_name='us-east-1',aws_access_key_id='test',aws_secret_access_key='test')\nsqs=boto3.client('sqs',**kw)\nsns=boto3.client('sns',**kw)\n";
        let out = run_tool(
            std::process::Command::new("python3")
                .arg("-c")
                .arg(format!("{prelude}{script}"))
                .arg(&self.endpoint)
                .args(args),
            "boto3 (python3 with boto3, installed with moto)",
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sqs_and_sns_sinks_deliver_to_moto() {
    let moto = Moto::start();
    let setup = moto.py(
        "q=sqs.create_queue(QueueName='fearless-events')['QueueUrl']\nsubq=sqs.create_queue(QueueName='fearless-topic-tap')['QueueUrl']\narn=sqs.get_queue_attributes(QueueUrl=subq,AttributeNames=['QueueArn'])['Attributes']['QueueArn']\nt=sns.create_topic(Name='fearless-events')['TopicArn']\nsns.subscribe(TopicArn=t,Protocol='sqs',Endpoint=arn,Attributes={'RawMessageDelivery':'true'})\nprint(q); print(subq); print(t)\n",
        &[],
    );
    let mut it = setup.lines();
    let (queue, tap, topic) = (
        it.next().expect("queue"),
        it.next().expect("tap"),
        it.next().expect("topic"),
    );
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        &format!(
            "identity: {{ mode: trust }}\ninventory:\n  hosts:\n    web-1: {{ address: 10.9.0.1 }}\ncomponents:\n  app:\n    runs_on: all\nevents:\n  sinks:\n    bus: {{ sqs: {{ queue_url: \"{queue}\", endpoint: \"{e}\", region: us-east-1 }} }}\n    fan: {{ sns: {{ topic_arn: \"{topic}\", endpoint: \"{e}\", region: us-east-1 }} }}\n  routes:\n    - {{ types: \"fearless.change.*\", sinks: [bus, fan] }}\n",
            e = moto.endpoint
        ),
    );
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("NO_COLOR", "1")
            .output()
            .expect("run fearless")
    };
    for sink in ["bus", "fan"] {
        let out = run(&["events", "test", sink, "-c", &cfg]);
        assert_eq!(out.status.code(), Some(0), "{sink}: {}", stderr(&out));
    }
    let store = format!("sqlite:{}", dir.path().join("state.db").display());
    let out = run(&[
        "change", "new", "--title", "via aws", "--hosts", "web-1", "-c", &cfg, "--store", &store,
        "--as", "alice",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("queued"), "delivered, not queued: {err}");

    let receive = "msgs=[]\nfor _ in range(5):\n    r=sqs.receive_message(QueueUrl=sys.argv[2],MaxNumberOfMessages=10,WaitTimeSeconds=1)\n    msgs+= [json.loads(m['Body'])['type'] for m in r.get('Messages',[])]\nprint(' '.join(sorted(msgs)))\n";
    for delivered_to in [queue, tap] {
        assert_eq!(
            moto.py(receive, &[delivered_to]),
            "fearless.change.created.v1 fearless.test.v1",
            "{delivered_to}"
        );
    }
}
