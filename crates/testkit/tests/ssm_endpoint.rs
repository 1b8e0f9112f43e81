//! The local SSM Run Command endpoint, driven over real HTTP as an SDK would drive the real
//! one: AWS JSON 1.1 requests with a SigV4-shaped `Authorization` header.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fearless_testkit::ssm::{
    Instance, Operation, PingStatus, Runner, SsmEndpoint, SsmOptions, instance_id_for,
};
use serde_json::{Value, json};

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/ssm/aws4_request, \
                    SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00ff";

/// A plain-HTTP client. The workspace builds reqwest on rustls without a default crypto
/// provider (one provider, ring, chosen once): installed here before the first client.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A client of the endpoint.
struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    fn new(endpoint: &SsmEndpoint) -> Self {
        Self::at(endpoint.url())
    }

    fn at(url: String) -> Self {
        Self {
            http: client(),
            url,
        }
    }

    /// One call: HTTP status and JSON body.
    async fn call(&self, op: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", format!("AmazonSSM.{op}"))
            .header("X-Amz-Date", "20250101T000000Z")
            .header("Authorization", AUTH)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        assert_eq!(
            response.headers()["content-type"],
            "application/x-amz-json-1.1"
        );
        assert!(response.headers().contains_key("x-amzn-requestid"));
        (status, response.json().await.expect("JSON body"))
    }

    /// A call that must succeed.
    async fn ok(&self, op: &str, body: Value) -> Value {
        let (status, answer) = self.call(op, body).await;
        assert_eq!(status, 200, "{op}: {answer}");
        answer
    }

    /// A call that must fail with `kind`; its message.
    async fn err(&self, op: &str, body: Value, kind: &str) -> String {
        let (status, answer) = self.call(op, body).await;
        assert_eq!(status, 400, "{op}: {answer}");
        assert_eq!(answer["__type"], kind, "{op}: {answer}");
        answer["message"].as_str().unwrap_or_default().to_owned()
    }

    /// Sends `commands` to `ids` (more request members in `extra`); the command id.
    async fn send(&self, ids: &[&str], commands: &[&str], extra: Value) -> String {
        let mut body = json!({
            "DocumentName": "AWS-RunShellScript",
            "InstanceIds": ids,
            "Parameters": { "commands": commands },
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                if k == "Parameters" {
                    for (p, pv) in v.as_object().expect("parameters") {
                        body["Parameters"][p] = pv.clone();
                    }
                } else {
                    body.insert(k.clone(), v.clone());
                }
            }
        }
        let answer = self.ok("SendCommand", body).await;
        let command = &answer["Command"];
        assert_eq!(command["Status"], "Pending");
        assert_eq!(command["DocumentName"], "AWS-RunShellScript");
        assert!(command["RequestedDateTime"].is_f64() || command["RequestedDateTime"].is_u64());
        let id = command["CommandId"].as_str().expect("CommandId").to_owned();
        assert_eq!(id.len(), 36);
        id
    }

    async fn invocation(&self, command: &str, instance: &str) -> Value {
        self.ok(
            "GetCommandInvocation",
            json!({ "CommandId": command, "InstanceId": instance }),
        )
        .await
    }

    /// Polls `GetCommandInvocation` until the invocation ends.
    async fn wait(&self, command: &str, instance: &str) -> Value {
        let start = Instant::now();
        loop {
            let inv = self.invocation(command, instance).await;
            if matches!(
                inv["Status"].as_str(),
                Some("Success" | "Failed" | "TimedOut" | "Cancelled")
            ) {
                return inv;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "still {inv} after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until the invocation has `status`.
    async fn wait_for(&self, command: &str, instance: &str, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let inv = self.invocation(command, instance).await;
            if inv["Status"] == status {
                return inv;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "not {status} after 20 s: {inv}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn local(names: &[&str], options: SsmOptions) -> (SsmEndpoint, Api, Vec<String>) {
    let instances: Vec<Instance> = names
        .iter()
        .map(|n| Instance::named(*n, Runner::Local))
        .collect();
    let endpoint = SsmEndpoint::start(instances, options)
        .await
        .expect("endpoint starts");
    let ids = names
        .iter()
        .map(|n| endpoint.instance_id(n).expect("id").to_owned())
        .collect();
    let api = Api::new(&endpoint);
    (endpoint, api, ids)
}

/// Whether `pid` runs (exists and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s[s.rfind(')')? + 1..].to_owned();
            rest.split_whitespace().next().map(|st| st != "Z")
        })
        .unwrap_or(false)
}

/// Waits until `pid` no longer runs (it may need its new parent to reap it).
fn wait_gone(pid: u32) {
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "process {pid} still runs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

#[tokio::test]
async fn a_script_runs_and_its_output_comes_back() {
    let (_endpoint, api, ids) = local(&["web-1"], SsmOptions::new()).await;
    let id = &ids[0];
    assert_eq!(id, &instance_id_for("web-1"));
    let cmd = api
        .send(
            &[id],
            &[
                "echo hello",
                "echo oops >&2",
                "pwd",
                "echo $AWS_SSM_INSTANCE_ID",
            ],
            json!({ "Comment": "a test" }),
        )
        .await;
    let inv = api.wait(&cmd, id).await;
    assert_eq!(inv["Status"], "Success");
    assert_eq!(inv["StatusDetails"], "Success");
    assert_eq!(inv["ResponseCode"], 0);
    assert_eq!(inv["StandardOutputContent"], format!("hello\n/\n{id}\n"));
    assert_eq!(inv["StandardErrorContent"], "oops\n");
    assert_eq!(inv["PluginName"], "aws:runShellScript");
    assert_eq!(inv["Comment"], "a test");
    assert_eq!(inv["DocumentVersion"], "$DEFAULT");
    let start = inv["ExecutionStartDateTime"].as_str().expect("start");
    assert_eq!(start.len(), 24, "{start}");
    assert!(
        start.ends_with('Z') && start.as_bytes()[10] == b'T',
        "{start}"
    );
    assert!(
        !inv["ExecutionEndDateTime"]
            .as_str()
            .expect("end")
            .is_empty()
    );
    assert!(
        inv["ExecutionElapsedTime"]
            .as_str()
            .expect("elapsed")
            .starts_with("PT")
    );
    let with_plugin = api
        .ok(
            "GetCommandInvocation",
            json!({ "CommandId": cmd, "InstanceId": id, "PluginName": "aws:runShellScript" }),
        )
        .await;
    assert_eq!(with_plugin["Status"], "Success");
    api.err(
        "GetCommandInvocation",
        json!({ "CommandId": cmd, "InstanceId": id, "PluginName": "aws:runPowerShellScript" }),
        "InvalidPluginName",
    )
    .await;
}

#[tokio::test]
async fn a_non_zero_exit_fails_with_its_code() {
    let (_endpoint, api, ids) = local(&["web-1"], SsmOptions::new()).await;
    let cmd = api
        .send(&[&ids[0]], &["echo before", "exit 3"], json!({}))
        .await;
    let inv = api.wait(&cmd, &ids[0]).await;
    assert_eq!(inv["Status"], "Failed");
    assert_eq!(inv["StatusDetails"], "Failed");
    assert_eq!(inv["ResponseCode"], 3);
    assert_eq!(inv["StandardOutputContent"], "before\n");
}

#[tokio::test]
async fn an_invocation_is_pending_then_in_progress_while_its_script_runs() {
    let options = SsmOptions::new().pending_for(Duration::from_secs(1));
    let (_endpoint, api, ids) = local(&["web-1"], options).await;
    let id = &ids[0];
    let cmd = api
        .send(&[id], &["echo started", "sleep 2", "echo done"], json!({}))
        .await;
    let pending = api.invocation(&cmd, id).await;
    assert_eq!(pending["Status"], "Pending");
    assert_eq!(pending["ResponseCode"], -1);
    assert_eq!(pending["ExecutionStartDateTime"], "");
    let running = api.wait_for(&cmd, id, "InProgress").await;
    assert_eq!(running["StatusDetails"], "InProgress");
    assert_eq!(running["ResponseCode"], -1);
    assert_eq!(running["ExecutionEndDateTime"], "");
    assert_ne!(running["ExecutionStartDateTime"], "");
    // Output shows once the command has finished, as the reference says.
    assert_eq!(running["StandardOutputContent"], "");
    let done = api.wait(&cmd, id).await;
    assert_eq!(done["Status"], "Success");
    assert_eq!(done["StandardOutputContent"], "started\ndone\n");
}

#[tokio::test]
async fn long_output_is_cut_at_the_api_limits_and_kept_whole_behind_them() {
    let (endpoint, api, ids) = local(&["web-1"], SsmOptions::new()).await;
    let id = &ids[0];
    let cmd = api
        .send(
            &[id],
            &[
                "head -c 30000 /dev/zero | tr '\\0' a",
                "head -c 9000 /dev/zero | tr '\\0' b >&2",
            ],
            json!({}),
        )
        .await;
    let inv = api.wait(&cmd, id).await;
    assert_eq!(inv["Status"], "Success");
    let out = inv["StandardOutputContent"].as_str().expect("stdout");
    assert_eq!(out.len(), 24_000);
    assert!(out.bytes().all(|b| b == b'a'));
    let err = inv["StandardErrorContent"].as_str().expect("stderr");
    assert_eq!(err.len(), 8_000);
    let whole = endpoint.invocation(&cmd, id).expect("invocation");
    assert_eq!(whole.stdout.len(), 30_000);
    assert_eq!(whole.stderr.len(), 9_000);
    assert_eq!(whole.status, "Success");

    let listed = api
        .ok(
            "ListCommandInvocations",
            json!({ "CommandId": cmd, "Details": true }),
        )
        .await;
    let plugin = &listed["CommandInvocations"][0]["CommandPlugins"][0];
    let output = plugin["Output"].as_str().expect("Output");
    assert!(output.chars().count() <= 2_500, "{}", output.len());
    assert!(output.contains("\n---Output truncated---\n----------ERROR-------\n"));
    assert!(output.ends_with("\n---Error truncated----"));

    // The limits count characters, not bytes.
    let cmd = api
        .send(
            &[id],
            &["head -c 30000 /dev/zero | tr '\\0' x | sed 's/x/é/g'"],
            json!({}),
        )
        .await;
    let inv = api.wait(&cmd, id).await;
    let out = inv["StandardOutputContent"].as_str().expect("stdout");
    assert_eq!(out.chars().count(), 24_000);
    assert!(out.chars().all(|c| c == 'é'));
}

#[tokio::test]
async fn a_script_past_its_execution_timeout_is_killed_with_its_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("child.pid");
    let (_endpoint, api, ids) = local(&["web-1"], SsmOptions::new()).await;
    let id = &ids[0];
    let started = Instant::now();
    let cmd = api
        .send(
            &[id],
            &[
                "echo started",
                &format!("sleep 60 & echo $! > {}", pid_file.display()),
                "sleep 60",
            ],
            json!({ "Parameters": { "executionTimeout": ["1"] } }),
        )
        .await;
    let inv = api.wait(&cmd, id).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(inv["Status"], "TimedOut");
    assert_eq!(inv["StatusDetails"], "ExecutionTimedOut");
    assert_eq!(inv["ResponseCode"], 137);
    assert_eq!(inv["StandardOutputContent"], "started\n");
    let child: u32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    wait_gone(child);
}

#[tokio::test]
async fn requests_are_checked_as_the_service_checks_them() {
    let (_endpoint, api, ids) = local(&["web-1"], SsmOptions::new()).await;
    let id = ids[0].as_str();
    let send = |ids: Vec<String>, params: Value| json!({ "DocumentName": "AWS-RunShellScript", "InstanceIds": ids, "Parameters": params });
    let echo = json!({ "commands": ["true"] });

    // A well-formed id the endpoint does not manage: rejected, as SSM rejects an instance
    // that is not a managed node.
    let message = api
        .err(
            "SendCommand",
            send(vec!["i-00000000000000000".into()], echo.clone()),
            "InvalidInstanceId",
        )
        .await;
    assert_eq!(
        message,
        "Instances [[i-00000000000000000]] not in a valid state for account 123456789012"
    );
    // Not of the pattern: a constraint of the model.
    let message = api
        .err(
            "SendCommand",
            send(vec!["web-1".into()], echo.clone()),
            "ValidationException",
        )
        .await;
    assert!(
        message.starts_with("1 validation error detected: Value '[web-1]' at 'instanceIds'"),
        "{message}"
    );
    // More than 50.
    let many: Vec<String> = (0..51).map(|i| format!("i-{i:017}")).collect();
    let message = api
        .err(
            "SendCommand",
            send(many, echo.clone()),
            "ValidationException",
        )
        .await;
    assert!(
        message.contains("Member must have length less than or equal to 50"),
        "{message}"
    );
    api.err(
        "SendCommand",
        send(vec![id.into(), id.into()], echo.clone()),
        "DuplicateInstanceId",
    )
    .await;
    api.err(
        "SendCommand",
        json!({ "DocumentName": "AWS-RunPowerShellScript", "InstanceIds": [id], "Parameters": echo }),
        "InvalidDocument",
    )
    .await;
    api.err(
        "SendCommand",
        json!({ "InstanceIds": [id], "Parameters": echo }),
        "ValidationException",
    )
    .await;
    for timeout in ["0", "172801", "01", "1.5", "x"] {
        api.err(
            "SendCommand",
            send(
                vec![id.into()],
                json!({ "commands": ["true"], "executionTimeout": [timeout] }),
            ),
            "InvalidParameters",
        )
        .await;
    }
    api.err(
        "SendCommand",
        send(vec![id.into()], json!({})),
        "InvalidParameters",
    )
    .await;
    api.err(
        "SendCommand",
        send(
            vec![id.into()],
            json!({ "commands": ["true"], "extra": ["x"] }),
        ),
        "InvalidParameters",
    )
    .await;
    let mut short = send(vec![id.into()], echo.clone());
    short["TimeoutSeconds"] = json!(10);
    let message = api.err("SendCommand", short, "ValidationException").await;
    assert!(message.contains("'timeoutSeconds'"), "{message}");
    let mut with_bucket = send(
        vec![id.into()],
        json!({ "commands": ["true"], "executionTimeout": ["172800"] }),
    );
    with_bucket["OutputS3BucketName"] = json!("some-bucket");
    with_bucket["TimeoutSeconds"] = json!(30);
    let answer = api.ok("SendCommand", with_bucket).await;
    assert_eq!(answer["Command"]["OutputS3BucketName"], "some-bucket");
    assert_eq!(answer["Command"]["TimeoutSeconds"], 30);

    api.err(
        "GetCommandInvocation",
        json!({ "CommandId": "00000000-0000-4000-8000-000000000000", "InstanceId": id }),
        "InvocationDoesNotExist",
    )
    .await;
    api.err(
        "GetCommandInvocation",
        json!({ "CommandId": "short", "InstanceId": id }),
        "ValidationException",
    )
    .await;
    api.err(
        "GetCommandInvocation",
        json!({ "CommandId": "00000000-0000-4000-8000-000000000000" }),
        "ValidationException",
    )
    .await;
}

#[tokio::test]
async fn nodes_that_are_gone_or_away_do_not_run_commands() {
    let options = SsmOptions::new().delivery_timeout(Duration::from_secs(2));
    let (endpoint, api, ids) = local(&["gone", "away", "back"], options).await;
    let (gone, away, back) = (&ids[0], &ids[1], &ids[2]);
    endpoint
        .set_ping_status(gone, PingStatus::Inactive)
        .expect("known instance");
    endpoint
        .set_ping_status(away, PingStatus::ConnectionLost)
        .expect("known instance");
    endpoint
        .set_ping_status(back, PingStatus::ConnectionLost)
        .expect("known instance");

    let cmd = api
        .send(&[gone, away, back], &["echo ran"], json!({}))
        .await;
    let inv = api.wait(&cmd, gone).await;
    assert_eq!(inv["Status"], "Failed");
    assert_eq!(inv["StatusDetails"], "Undeliverable");
    assert_eq!(inv["ResponseCode"], -1);
    assert_eq!(inv["ExecutionStartDateTime"], "");

    // The node comes back before the delivery timeout: the command is delivered then.
    let waiting = api.invocation(&cmd, back).await;
    assert_eq!(waiting["Status"], "Pending");
    tokio::time::sleep(Duration::from_millis(200)).await;
    endpoint
        .set_ping_status(back, PingStatus::Online)
        .expect("known instance");
    let inv = api.wait(&cmd, back).await;
    assert_eq!(inv["Status"], "Success");
    assert_eq!(inv["StandardOutputContent"], "ran\n");

    let inv = api.wait(&cmd, away).await;
    assert_eq!(inv["Status"], "TimedOut");
    assert_eq!(inv["StatusDetails"], "DeliveryTimedOut");
    assert_eq!(inv["ResponseCode"], -1);

    assert!(
        endpoint
            .set_ping_status("i-00000000000000000", PingStatus::Online)
            .is_err()
    );
}

#[tokio::test]
async fn requests_are_throttled_on_demand_and_counted() {
    let options = SsmOptions::new().throttle(1);
    let (endpoint, api, ids) = local(&["web-1"], options).await;
    let id = &ids[0];
    let describe = json!({});
    let message = api
        .err(
            "DescribeInstanceInformation",
            describe.clone(),
            "ThrottlingException",
        )
        .await;
    assert_eq!(message, "Rate exceeded");
    api.ok("DescribeInstanceInformation", describe.clone())
        .await;

    endpoint.throttle(2);
    api.err(
        "DescribeInstanceInformation",
        describe.clone(),
        "ThrottlingException",
    )
    .await;
    let cmd = json!({ "DocumentName": "AWS-RunShellScript", "InstanceIds": [id], "Parameters": { "commands": ["true"] } });
    api.err("SendCommand", cmd.clone(), "ThrottlingException")
        .await;
    let command = api.send(&[id], &["true"], json!({})).await;

    endpoint.throttle_operation(Operation::GetCommandInvocation, 1);
    let get = json!({ "CommandId": command, "InstanceId": id });
    api.err("GetCommandInvocation", get.clone(), "ThrottlingException")
        .await;
    api.ok("DescribeInstanceInformation", describe).await;
    api.ok("GetCommandInvocation", get).await;

    let calls = endpoint.calls();
    assert_eq!(calls.get(Operation::DescribeInstanceInformation), 4);
    assert_eq!(calls.get(Operation::SendCommand), 2);
    assert_eq!(calls.get(Operation::GetCommandInvocation), 2);
    assert_eq!(calls.get(Operation::CancelCommand), 0);
    assert_eq!(calls.total(), 8);
    assert_eq!(calls.throttled(), 4);
}

#[tokio::test]
async fn invocations_show_after_the_consistency_delay() {
    let options = SsmOptions::new().visible_after(Duration::from_millis(1500));
    let (endpoint, api, ids) = local(&["web-1"], options).await;
    let id = &ids[0];
    let cmd = api.send(&[id], &["echo hi"], json!({})).await;
    api.err(
        "GetCommandInvocation",
        json!({ "CommandId": cmd, "InstanceId": id }),
        "InvocationDoesNotExist",
    )
    .await;
    let listed = api
        .ok("ListCommandInvocations", json!({ "CommandId": cmd }))
        .await;
    assert_eq!(listed["CommandInvocations"], json!([]));
    // The command runs all the same.
    assert!(endpoint.invocation(&cmd, id).is_some());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let inv = api.wait(&cmd, id).await;
    assert_eq!(inv["Status"], "Success");
    let listed = api
        .ok("ListCommandInvocations", json!({ "CommandId": cmd }))
        .await;
    assert_eq!(
        listed["CommandInvocations"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn list_command_invocations_of_a_command_to_three_nodes() {
    let (_endpoint, api, ids) = local(&["web-1", "web-2", "db-1"], SsmOptions::new()).await;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let script = format!(
        "echo $AWS_SSM_INSTANCE_ID; if [ $AWS_SSM_INSTANCE_ID = {} ]; then echo bad >&2; exit 4; fi",
        ids[2]
    );
    let cmd = api.send(&refs, &[&script], json!({})).await;
    for id in &ids {
        api.wait(&cmd, id).await;
    }
    let listed = api
        .ok(
            "ListCommandInvocations",
            json!({ "CommandId": cmd, "Details": true }),
        )
        .await;
    let list = listed["CommandInvocations"].as_array().expect("list");
    assert_eq!(list.len(), 3);
    assert!(listed.get("NextToken").is_none());
    for (inv, (id, name)) in list.iter().zip(ids.iter().zip(["web-1", "web-2", "db-1"])) {
        assert_eq!(inv["InstanceId"], id.as_str());
        assert_eq!(inv["InstanceName"], name);
        assert_eq!(inv["CommandId"], cmd.as_str());
        let plugins = inv["CommandPlugins"].as_array().expect("plugins");
        assert_eq!(plugins.len(), 1);
        assert_eq!(plugins[0]["Name"], "aws:runShellScript");
        assert!(plugins[0]["ResponseStartDateTime"].is_number());
        assert!(plugins[0]["ResponseFinishDateTime"].is_number());
    }
    assert_eq!(list[0]["Status"], "Success");
    assert_eq!(
        list[0]["CommandPlugins"][0]["Output"],
        format!("{}\n", ids[0])
    );
    assert_eq!(list[0]["CommandPlugins"][0]["ResponseCode"], 0);
    assert_eq!(list[2]["Status"], "Failed");
    assert_eq!(list[2]["CommandPlugins"][0]["Status"], "Failed");
    assert_eq!(list[2]["CommandPlugins"][0]["ResponseCode"], 4);
    assert_eq!(
        list[2]["CommandPlugins"][0]["Output"],
        format!("{}\n\n----------ERROR-------\nbad\n", ids[2])
    );

    let first = api
        .ok(
            "ListCommandInvocations",
            json!({ "CommandId": cmd, "MaxResults": 2 }),
        )
        .await;
    assert_eq!(
        first["CommandInvocations"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(first["CommandInvocations"][0]["CommandPlugins"], json!([]));
    let token = first["NextToken"].as_str().expect("NextToken");
    let second = api
        .ok(
            "ListCommandInvocations",
            json!({ "CommandId": cmd, "MaxResults": 2, "NextToken": token }),
        )
        .await;
    assert_eq!(
        second["CommandInvocations"][0]["InstanceId"],
        ids[2].as_str()
    );
    assert!(second.get("NextToken").is_none());
    api.err(
        "ListCommandInvocations",
        json!({ "CommandId": cmd, "NextToken": "nonsense" }),
        "InvalidNextToken",
    )
    .await;
    api.err(
        "ListCommandInvocations",
        json!({ "CommandId": cmd, "MaxResults": 51 }),
        "ValidationException",
    )
    .await;

    let one = api
        .ok(
            "ListCommandInvocations",
            json!({ "CommandId": cmd, "InstanceId": ids[1] }),
        )
        .await;
    assert_eq!(one["CommandInvocations"].as_array().map(Vec::len), Some(1));
    let failed = api
        .ok(
            "ListCommandInvocations",
            json!({ "Filters": [{ "key": "Status", "value": "Failed" }] }),
        )
        .await;
    assert_eq!(
        failed["CommandInvocations"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        failed["CommandInvocations"][0]["InstanceId"],
        ids[2].as_str()
    );
    // An unknown command lists nothing (as a command not yet visible does).
    let none = api
        .ok(
            "ListCommandInvocations",
            json!({ "CommandId": "00000000-0000-4000-8000-000000000000" }),
        )
        .await;
    assert_eq!(none["CommandInvocations"], json!([]));
}

#[tokio::test]
async fn describe_instance_information_shows_lost_connections() {
    let names = ["n-1", "n-2", "n-3", "n-4", "n-5", "n-6"];
    let options = SsmOptions::new().connection_lost(instance_id_for("n-2"));
    let (endpoint, api, ids) = local(&names, options).await;
    let all = api.ok("DescribeInstanceInformation", json!({})).await;
    let list = all["InstanceInformationList"].as_array().expect("list");
    assert_eq!(list.len(), 6);
    assert!(all.get("NextToken").is_none());
    for (info, (id, name)) in list.iter().zip(ids.iter().zip(names)) {
        assert_eq!(info["InstanceId"], id.as_str());
        assert_eq!(info["ComputerName"], name);
        assert_eq!(info["PlatformType"], "Linux");
        assert_eq!(info["ResourceType"], "EC2Instance");
        assert_eq!(info["IPAddress"], "127.0.0.1");
        assert!(info["LastPingDateTime"].is_number());
        assert!(info["AgentVersion"].as_str().is_some_and(|v| !v.is_empty()));
        let expected = if name == "n-2" {
            "ConnectionLost"
        } else {
            "Online"
        };
        assert_eq!(info["PingStatus"], expected);
    }

    let first = api
        .ok("DescribeInstanceInformation", json!({ "MaxResults": 5 }))
        .await;
    assert_eq!(
        first["InstanceInformationList"].as_array().map(Vec::len),
        Some(5)
    );
    let token = first["NextToken"].as_str().expect("NextToken");
    let rest = api
        .ok(
            "DescribeInstanceInformation",
            json!({ "MaxResults": 5, "NextToken": token }),
        )
        .await;
    assert_eq!(
        rest["InstanceInformationList"][0]["InstanceId"],
        ids[5].as_str()
    );

    let lost = api
        .ok(
            "DescribeInstanceInformation",
            json!({ "Filters": [{ "Key": "PingStatus", "Values": ["ConnectionLost"] }] }),
        )
        .await;
    assert_eq!(
        lost["InstanceInformationList"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        lost["InstanceInformationList"][0]["InstanceId"],
        ids[1].as_str()
    );
    let legacy = api
        .ok(
            "DescribeInstanceInformation",
            json!({ "InstanceInformationFilterList": [{ "key": "InstanceIds", "valueSet": [ids[3]] }] }),
        )
        .await;
    assert_eq!(
        legacy["InstanceInformationList"][0]["InstanceId"],
        ids[3].as_str()
    );
    let by_name = api
        .ok(
            "DescribeInstanceInformation",
            json!({ "Filters": [{ "Key": "tag:Name", "Values": ["n-4", "n-5"] }] }),
        )
        .await;
    assert_eq!(
        by_name["InstanceInformationList"].as_array().map(Vec::len),
        Some(2)
    );

    endpoint
        .set_ping_status(&ids[1], PingStatus::Online)
        .expect("known");
    endpoint
        .set_ping_status(&ids[4], PingStatus::ConnectionLost)
        .expect("known");
    let lost = api
        .ok(
            "DescribeInstanceInformation",
            json!({ "Filters": [{ "Key": "PingStatus", "Values": ["ConnectionLost"] }] }),
        )
        .await;
    assert_eq!(
        lost["InstanceInformationList"][0]["InstanceId"],
        ids[4].as_str()
    );

    api.err(
        "DescribeInstanceInformation",
        json!({ "Filters": [{ "Key": "InstanceIds", "Values": ["i-00000000000000000"] }] }),
        "InvalidInstanceId",
    )
    .await;
    api.err(
        "DescribeInstanceInformation",
        json!({ "MaxResults": 4 }),
        "ValidationException",
    )
    .await;
    api.err(
        "DescribeInstanceInformation",
        json!({ "Filters": [{ "Key": "PingStatus", "Values": ["Sleepy"] }] }),
        "InvalidInstanceInformationFilterValue",
    )
    .await;
}

#[tokio::test]
async fn cancel_command_kills_a_running_script_and_drops_a_pending_one() {
    let options = SsmOptions::new().connection_lost(instance_id_for("away"));
    let (_endpoint, api, ids) = local(&["web-1", "away"], options).await;
    let (web, away) = (&ids[0], &ids[1]);
    let cmd = api
        .send(&[web, away], &["echo started", "sleep 60"], json!({}))
        .await;
    api.wait_for(&cmd, web, "InProgress").await;
    let started = Instant::now();
    let answer = api.ok("CancelCommand", json!({ "CommandId": cmd })).await;
    assert_eq!(answer, json!({}));
    let inv = api.wait(&cmd, web).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(inv["Status"], "Cancelled");
    assert_eq!(inv["StatusDetails"], "Cancelled");
    assert_eq!(inv["ResponseCode"], 137);
    let inv = api.wait(&cmd, away).await;
    assert_eq!(inv["Status"], "Cancelled");
    assert_eq!(inv["ResponseCode"], -1);

    api.err(
        "CancelCommand",
        json!({ "CommandId": "00000000-0000-4000-8000-000000000000" }),
        "InvalidCommandId",
    )
    .await;
    // A finished command: nothing to do, no error.
    api.ok(
        "CancelCommand",
        json!({ "CommandId": cmd, "InstanceIds": [web] }),
    )
    .await;
}

#[tokio::test]
async fn a_process_the_script_detaches_outlives_it_and_the_endpoint() {
    let (endpoint, api, ids) = local(&["web-1"], SsmOptions::new()).await;
    let id = &ids[0];
    let started = Instant::now();
    let cmd = api
        .send(
            &[id],
            &[
                "setsid sleep 300 >/dev/null 2>&1 </dev/null & echo $!",
                // Keeps the script's standard output open: the invocation ends with the
                // script all the same, as the agent's does.
                "nohup sleep 301 2>/dev/null & echo $!",
            ],
            json!({}),
        )
        .await;
    let inv = api.wait(&cmd, id).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(inv["Status"], "Success");
    let pids: Vec<u32> = inv["StandardOutputContent"]
        .as_str()
        .expect("stdout")
        .lines()
        .map(|l| l.parse().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pids.iter().all(|p| alive(*p)), "{pids:?}");
    drop(endpoint);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let survived = pids.iter().all(|p| alive(*p));
    for pid in &pids {
        kill(*pid);
    }
    assert!(survived, "a detached process died with the endpoint");
}

#[tokio::test]
async fn dropping_the_endpoint_kills_the_scripts_still_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("script.pid");
    let (endpoint, api, ids) = local(&["web-1"], SsmOptions::new()).await;
    let cmd = api
        .send(
            &[&ids[0]],
            &[&format!("echo $$ > {}", pid_file.display()), "sleep 60"],
            json!({}),
        )
        .await;
    api.wait_for(&cmd, &ids[0], "InProgress").await;
    let start = Instant::now();
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no pid file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(alive(pid));
    drop(endpoint);
    // Killed by the drop; reaped by the runtime or by init.
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "script {pid} still runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_protocol_is_aws_json_1_1_with_sigv4() {
    let (endpoint, api, _ids) = local(&["web-1"], SsmOptions::new()).await;
    let http = client();
    let url = endpoint.url();
    let post = |target: &str, auth: Option<&str>, content_type: &str, body: &str| {
        let mut request = http
            .post(&url)
            .header("Content-Type", content_type)
            .header("X-Amz-Target", target)
            .header("X-Amz-Date", "20250101T000000Z")
            .body(body.to_owned());
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.send()
    };
    let json_of = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.expect("JSON"))
    };
    let ct = "application/x-amz-json-1.1";
    let target = "AmazonSSM.DescribeInstanceInformation";

    let (status, body) = json_of(post(target, None, ct, "{}").await.expect("send")).await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
    let (status, body) = json_of(
        post(target, Some("Bearer abc"), ct, "{}")
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "IncompleteSignatureException");
    let (_, body) = json_of(
        post("AmazonSSM.ListCommands", Some(AUTH), ct, "{}")
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(body["__type"], "UnknownOperationException");
    let (_, body) = json_of(
        post(target, Some(AUTH), "application/json", "{}")
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(body["__type"], "SerializationException");
    let (_, body) = json_of(
        post(target, Some(AUTH), ct, "{not json")
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(body["__type"], "SerializationException");
    let (_, body) = json_of(
        post(target, Some(AUTH), ct, r#"{"MaxResults": "ten"}"#)
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(body["__type"], "SerializationException");
    let (status, _) = json_of(
        http.get(&url)
            .header("Authorization", AUTH)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 404);
    // An empty body is an empty input.
    let (status, _) = json_of(post(target, Some(AUTH), ct, "").await.expect("send")).await;
    assert_eq!(status, 200);
    api.ok("DescribeInstanceInformation", json!({})).await;
    // Only requests that named an operation are counted.
    assert_eq!(
        endpoint.calls().get(Operation::DescribeInstanceInformation),
        5
    );
    assert_eq!(endpoint.calls().total(), 5);
}

#[tokio::test]
async fn the_endpoint_refuses_ids_ssm_would_not_accept() {
    let bad = SsmEndpoint::start(
        vec![Instance::new("web-1", "web-1", Runner::Local)],
        SsmOptions::new(),
    )
    .await;
    assert!(bad.is_err());
    let twice = SsmEndpoint::start(
        vec![
            Instance::named("web-1", Runner::Local),
            Instance::named("web-1", Runner::Local),
        ],
        SsmOptions::new(),
    )
    .await;
    assert!(twice.is_err());
    let no_pid = SsmEndpoint::start(
        vec![Instance::named(
            "web-1",
            Runner::Namespace { pid: u32::MAX - 1 },
        )],
        SsmOptions::new(),
    )
    .await;
    assert!(no_pid.is_err());
    let managed = SsmEndpoint::start(
        vec![Instance::new(
            "mi-0123456789abcdef0",
            "on-prem",
            Runner::Local,
        )],
        SsmOptions::new(),
    )
    .await
    .expect("mi- ids are managed nodes");
    let api = Api::new(&managed);
    let info = api.ok("DescribeInstanceInformation", json!({})).await;
    assert_eq!(
        info["InstanceInformationList"][0]["ResourceType"],
        "ManagedInstance"
    );
}

/// A PID namespace with its own mounted /proc and hostname, its init `sleep`, killed (by
/// PID) when dropped.
struct Namespace {
    unshare: Child,
    init: u32,
}

impl Namespace {
    fn start() -> Self {
        let unshare = Command::new("unshare")
            .args([
                "--fork",
                "--pid",
                "--mount-proc",
                "--uts",
                "sh",
                "-c",
                "hostname ns-host && exec sleep 120",
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare is required (util-linux)");
        let start = Instant::now();
        let init = loop {
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id()))
                    .unwrap_or_default();
            if let Some(pid) = children
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
            {
                // Wait for the exec: the hostname is set once `sleep` runs.
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "sleep" {
                    break pid;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the namespace's init did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { unshare, init }
    }

    /// Ends the namespace: its init killed, `unshare` reaped.
    fn stop(&mut self) {
        kill(self.init);
        let _ = self.unshare.wait();
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn a_script_runs_inside_a_namespace_and_not_once_it_is_gone() {
    assert!(
        std::path::Path::new("/usr/bin/nsenter").exists(),
        "nsenter is required (util-linux)"
    );
    let mut ns = Namespace::start();
    let endpoint = SsmEndpoint::start(
        vec![Instance::named(
            "ns-host",
            Runner::Namespace { pid: ns.init },
        )],
        SsmOptions::new(),
    )
    .await
    .expect("endpoint starts");
    let id = endpoint.instance_id("ns-host").expect("id").to_owned();
    let api = Api::new(&endpoint);
    let cmd = api
        .send(
            &[&id],
            &["hostname", "echo $$", "cat /proc/1/comm", "pwd"],
            json!({ "Parameters": { "workingDirectory": ["/tmp"] } }),
        )
        .await;
    let inv = api.wait(&cmd, &id).await;
    assert_eq!(inv["Status"], "Success", "{inv}");
    let out = inv["StandardOutputContent"].as_str().expect("stdout");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "ns-host");
    let pid_inside: u32 = lines[1].parse().expect("pid");
    assert!(
        pid_inside < 100,
        "the script is not in the namespace's PID space: {pid_inside}"
    );
    assert_eq!(lines[2], "sleep");
    assert_eq!(lines[3], "/tmp");
    let info = api.ok("DescribeInstanceInformation", json!({})).await;
    assert_eq!(info["InstanceInformationList"][0]["PingStatus"], "Online");

    ns.stop();
    let info = api.ok("DescribeInstanceInformation", json!({})).await;
    assert_eq!(
        info["InstanceInformationList"][0]["PingStatus"],
        "ConnectionLost"
    );
    let cmd = api.send(&[&id], &["hostname"], json!({})).await;
    let inv = api.wait(&cmd, &id).await;
    assert_eq!(inv["Status"], "Failed");
    assert_eq!(inv["StatusDetails"], "Undeliverable");
    assert_eq!(inv["ResponseCode"], -1);
}

#[tokio::test]
async fn the_binary_serves_until_sigterm() {
    let id = instance_id_for("bin-1");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fearless-ssm-endpoint"))
        .args(["--listen", "127.0.0.1:0", "--instance"])
        .arg(format!("{id}=bin-1=local"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start fearless-ssm-endpoint");
    let mut url = String::new();
    // Kept open until the end: the endpoint must never write to a closed pipe.
    let mut said = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    said.read_line(&mut url).expect("the URL line");
    let api = Api::at(url.trim().to_owned());
    assert!(api.url.starts_with("http://127.0.0.1:"), "{url}");
    let cmd = api.send(&[&id], &["echo from the binary"], json!({})).await;
    let inv = api.wait(&cmd, &id).await;
    assert_eq!(inv["StandardOutputContent"], "from the binary\n");
    let info = api.ok("DescribeInstanceInformation", json!({})).await;
    assert_eq!(info["InstanceInformationList"][0]["ComputerName"], "bin-1");

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("fearless-ssm-endpoint did not stop on SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit:?}");

    let usage = Command::new(env!("CARGO_BIN_EXE_fearless-ssm-endpoint"))
        .arg("--instance")
        .arg("web-1")
        .output()
        .expect("run");
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("ID=NAME=PID"));
}
