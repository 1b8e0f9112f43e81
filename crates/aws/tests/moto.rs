//! The AWS client against a real `moto_server`: EC2 `DescribeInstances` with filters and
//! pagination, and the SSM Run Command contract as far as moto goes (it answers
//! `SendCommand` and `GetCommandInvocation` but executes nothing: every invocation is
//! `Success` with empty output).

use fearless_aws::ec2::{self, Filter};
use fearless_aws::ssm::{Ended, Runner, RunnerOptions, Ssm};
use fearless_aws::{AwsError, Client, ClientOptions};
use fearless_testkit::moto::{BOTO3_PRELUDE, Moto};
use std::time::Duration;

fn client(moto: &Moto, service: &'static str) -> Client {
    let mut o = ClientOptions::new("eu-west-1");
    o.endpoint_url = Some(moto.url());
    o.credentials = Some(test_credentials());
    Client::new(service, o).expect("client")
}

fn test_credentials() -> fearless_aws::Credentials {
    fearless_aws::Credentials::new("test", "test", None, None, "test")
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.into(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

#[tokio::test]
async fn instances_are_found_by_tags_wildcards_and_state_over_pages() {
    let moto = Moto::start();
    moto.python(&format!(
        // moto pages by reservation (as EC2 may): one instance each, so 15 make 3 pages.
        "{BOTO3_PRELUDE}\nfor _ in range(7): run(1, {{'role': 'web'}}, 'eu-west-1a')\nfor _ in range(5): run(1, {{'role': 'web'}}, 'eu-west-1b')\nfor _ in range(2): run(1, {{'role': 'api'}}, 'eu-west-1a')\nrun(1, {{'role': 'web'}}, 'eu-west-1b', 'stopped')"
    ));
    let c = client(&moto, "ec2");
    let all = ec2::describe_instances_paged(&c, &[], 5)
        .await
        .expect("all");
    assert_eq!(all.len(), 15);
    let pages = c.calls().snapshot()["DescribeInstances"];
    assert!(
        pages >= 3,
        "15 instances at 5 a page take 3 pages or more, took {pages}"
    );

    let web = ec2::describe_instances_paged(
        &c,
        &[
            filter("tag:role", &["web"]),
            filter("instance-state-name", &["running"]),
        ],
        5,
    )
    .await
    .expect("web");
    assert_eq!(web.len(), 12);
    assert!(
        web.iter()
            .all(|i| i.state == "running" && i.tags["role"] == "web")
    );
    let azs: std::collections::BTreeSet<_> = web.iter().filter_map(|i| i.az.clone()).collect();
    assert_eq!(azs.len(), 2);

    let wild = ec2::describe_instances(&c, &[filter("tag:role", &["a*"])])
        .await
        .expect("wildcard");
    assert_eq!(wild.len(), 2);
    let stopped = ec2::describe_instances(&c, &[filter("instance-state-name", &["stopped"])])
        .await
        .expect("stopped");
    assert_eq!(stopped.len(), 1);
    assert!(stopped[0].private_ip.is_some() && stopped[0].instance_type.is_some());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_said_at_once() {
    let port = fearless_testkit::free_port("127.0.0.1");
    let mut o = ClientOptions::new("eu-west-1");
    o.endpoint_url = Some(format!("http://127.0.0.1:{port}"));
    o.credentials = Some(test_credentials());
    let c = Client::new("ec2", o).expect("client");
    let started = std::time::Instant::now();
    let err = ec2::describe_instances(&c, &[])
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, AwsError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refused connection is not retried"
    );
}

#[tokio::test]
async fn run_command_contract_as_moto_answers_it() {
    let moto = Moto::start();
    let ids = moto.python(&format!(
        "{BOTO3_PRELUDE}\nprint(' '.join(run(3, {{'role': 'web'}}, 'eu-west-1a')))"
    ));
    let ids: Vec<String> = ids.split_whitespace().map(str::to_owned).collect();
    let options = RunnerOptions {
        first_poll: Duration::from_millis(50),
        ..RunnerOptions::default()
    };
    let runner = Runner::new(Ssm::new(client(&moto, "ssm")), options, None);
    // Three instances, one script, sent at once: one SendCommand.
    let ends = futures::future::join_all(
        ids.iter()
            .map(|id| runner.run(id, "echo hello; exit 3", Duration::from_secs(10))),
    )
    .await;
    for end in ends {
        // moto executes nothing: every invocation is Success with code 0 and no output.
        match end.expect("answered") {
            Ended::Exited { code, stdout, .. } => assert_eq!((code, stdout.as_str()), (0, "")),
            other => panic!("{other:?}"),
        }
    }
    let calls = runner.ssm().client().calls().snapshot();
    assert_eq!(calls.get("SendCommand"), Some(&1), "{calls:?}");
    assert!(calls["GetCommandInvocation"] >= 3, "{calls:?}");
}
