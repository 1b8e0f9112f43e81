//! Events through the binary: a change emits through the configured sinks; an unreachable
//! broker never fails the command, queues in the outbox, and `replay` delivers once the
//! broker is reachable (real RabbitMQ at 127.0.0.1:5672).

use super::{fearless, stderr, stdout, write_config};

fn config(dir: &std::path::Path, amqp_port: u16) -> String {
    write_config(
        dir,
        &format!(
            "inventory:\n  hosts:\n    web-1: {{ address: 10.9.0.1 }}\ncomponents:\n  app:\n    runs_on: all\nevents:\n  sinks:\n    log: {{ file: {{ path: events.jsonl }} }}\n    bus: {{ amqp: {{ url: \"amqp://guest:guest@127.0.0.1:{amqp_port}/%2f\", exchange: fearless.cli-test }} }}\n  routes:\n    - {{ types: \"fearless.*\", sinks: [log, bus] }}\n"
        ),
    )
}

#[test]
fn an_unreachable_sink_queues_and_replay_delivers() {
    let dir = tempfile::tempdir().expect("tmp");
    let closed = fearless_testkit::free_port("127.0.0.1");
    let cfg = config(dir.path(), closed);
    let store = format!("sqlite:{}", dir.path().join("state.db").display());
    let out = fearless(&["change", "new", "--title", "t", "--hosts", "web-1", "-c", &cfg, "--store", &store, "--as", "alice"]);
    assert_eq!(out.status.code(), Some(0), "a failed delivery never fails the command: {}", stderr(&out));
    assert!(stderr(&out).contains("queued in the outbox"), "and it is never silent: {}", stderr(&out));
    let lines = std::fs::read_to_string(dir.path().join("events.jsonl")).expect("file sink");
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().expect("one event")).expect("json");
    assert_eq!(first["type"], "fearless.change.created.v1");
    assert_eq!(first["subject"], "CHG-1");

    let status = fearless(&["events", "status", "-c", &cfg, "--format", "json"]);
    assert_eq!(status.status.code(), Some(1));
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(st["sinks"]["bus"]["pending"], 1);

    // The broker is "back": the same sink name now points at the real RabbitMQ.
    let cfg = config(dir.path(), 5672);
    let replay = fearless(&["events", "replay", "-c", &cfg]);
    assert_eq!(replay.status.code(), Some(0), "{}{}", stdout(&replay), stderr(&replay));
    assert!(stdout(&replay).contains("1 delivered"), "{}", stdout(&replay));
    assert_eq!(fearless(&["events", "status", "-c", &cfg]).status.code(), Some(0));
    // Replaying again delivers nothing twice.
    assert!(stdout(&fearless(&["events", "replay", "-c", &cfg])).contains("0 delivered"));

    assert_eq!(fearless(&["events", "test", "log", "-c", &cfg]).status.code(), Some(0));
    let unknown = fearless(&["events", "test", "nope", "-c", &cfg]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("unknown sink `nope`"), "{}", stderr(&unknown));
}
