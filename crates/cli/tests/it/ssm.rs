//! The `ssm` transport end to end, without a lab: the binary against the test kit's local
//! SSM Run Command endpoint, whose instances run their scripts on this machine.

use crate::{exits, write_config};
use fearless_testkit::ssm::{Instance, Operation, Runner, SsmEndpoint, SsmOptions};
use std::time::Duration;

struct Fixture {
    endpoint: SsmEndpoint,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    cfg: String,
    marker: std::path::PathBuf,
}

/// Three instances served by the endpoint, and `gone`, a well-formed id it does not know.
fn fixture(extra_checks: &str) -> Fixture {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let instances = ["a", "b", "c"]
        .iter()
        .map(|n| Instance::named(*n, Runner::Local))
        .collect();
    let endpoint = rt
        .block_on(SsmEndpoint::start(
            instances,
            SsmOptions::new().region("eu-west-1"),
        ))
        .expect("endpoint");
    let dir = tempfile::tempdir().expect("tmp");
    let marker = dir.path().join("injected");
    let mut hosts = String::new();
    for n in ["a", "b", "c"] {
        let id = endpoint.instance_id(n).expect("id");
        hosts.push_str(&format!(
            "    {n}: {{ transport: ssm, instance: {id}, labels: {{ role: app }} }}\n"
        ));
    }
    hosts.push_str(
        "    gone: { transport: ssm, instance: i-0123456789abcdef0, labels: { role: spare } }\n",
    );
    let cfg = write_config(
        dir.path(),
        &format!(
            "inventory:\n  ssm: {{ region: eu-west-1, endpoint_url: \"{}\" }}\n  hosts:\n{hosts}components:\n  app:\n    runs_on: \"role=app\"\n    checks:\n      - {{ name: shell, command: {{ run: [\"sh\", \"-c\", \"echo \\\"$1\\\"\", \"sh\", \"$(touch {})\"], stdout: touch }} }}\n{extra_checks}",
            endpoint.url(),
            marker.display()
        ),
    );
    Fixture {
        endpoint,
        _rt: rt,
        _dir: dir,
        cfg,
        marker,
    }
}

#[test]
fn checks_run_over_run_command_batched_with_data_quoted() {
    let f = fixture("");
    let (out, err) = exits(0, &["check", "-c", &f.cfg, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "{out}\n{err}");
    for r in results {
        assert_eq!(r["status"], "pass", "{r}");
    }
    // The argument went as data: echoed, never run.
    assert!(!f.marker.exists(), "a quoted argument was executed");
    // One script for three hosts: sent together, each polled.
    let calls = f.endpoint.calls();
    let sends = calls.get(Operation::SendCommand);
    assert!(
        (1..=2).contains(&sends),
        "three hosts, one script: {sends} SendCommand"
    );
    assert!(calls.get(Operation::GetCommandInvocation) >= 3);
}

#[test]
fn ping_names_what_ssm_cannot_reach() {
    let f = fixture("");
    let (out, _) = exits(1, &["hosts", "ping", "-c", &f.cfg, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let hosts = v["hosts"].as_array().expect("hosts");
    for h in hosts {
        let name = h["host"].as_str().unwrap_or_default();
        if name == "gone" {
            assert_eq!(h["reachable"], false, "{h}");
            let e = h["error"].as_str().unwrap_or_default();
            assert!(
                e.contains("i-0123456789abcdef0") && e.contains("managed node"),
                "{e}"
            );
            assert!(
                e.contains("instance profile"),
                "the hint says what to do: {e}"
            );
            assert_eq!(h["ssm"]["ping_status"], serde_json::Value::Null, "{h}");
        } else {
            assert_eq!(h["reachable"], true, "{h}");
            assert_eq!(h["ssm"]["ping_status"], "Online", "{h}");
            assert!(h["ssm"]["agent_version"].is_string(), "{h}");
        }
    }
}

#[test]
fn a_deadline_is_the_execution_timeout_and_exit_codes_are_data() {
    let f = fixture(
        "      - { name: slow, timeout: 1s, retries: 0, command: { run: [\"sleep\", \"20\"] } }\n      - { name: three, command: { run: [\"sh\", \"-c\", \"exit 3\"] } }\n",
    );
    let started = std::time::Instant::now();
    let (out, _) = exits(
        1,
        &["check", "-c", &f.cfg, "--format", "json", "--hosts", "a"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the deadline held"
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let by = |name: &str| {
        v["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["check"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by("shell")["status"], "pass");
    let slow = by("slow");
    assert_eq!(slow["reason"], "timeout", "{slow}");
    let three = by("three");
    assert_eq!(three["status"], "fail", "{three}");
}

#[test]
fn throttling_is_retried() {
    let f = fixture("");
    f.endpoint
        .throttle_operation(Operation::GetCommandInvocation, 4);
    f.endpoint.throttle_operation(Operation::SendCommand, 1);
    exits(0, &["check", "-c", &f.cfg]);
    assert!(f.endpoint.calls().throttled() >= 5);
}
