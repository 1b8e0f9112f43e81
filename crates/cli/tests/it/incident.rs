//! Incidents by hand: open with a start time, mitigate, resolve, close; milestones give
//! time-to-detect and time-to-mitigate; wrong orders and unknown components are refused.

use super::{fearless, stderr, stdout, write_config};

const CONFIG: &str = "identity: { mode: trust }\ninventory:\n  hosts:\n    web-1: { address: 127.0.0.1, labels: { role: web } }\ncomponents:\n  orders-api:\n    runs_on: \"role=web\"\n    checks:\n      - { name: orders, http: { url: \"http://{host.address}:9/orders\" } }\n";

#[test]
fn an_incident_goes_open_mitigated_resolved_closed_with_milestones() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), CONFIG);
    let run = |args: &[&str]| {
        let mut all = vec!["-c", config.as_str(), "--as", "ops"];
        all.extend_from_slice(args);
        fearless(&all)
    };
    let bad = run(&["incident", "open", "--component", "nope"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("unknown component `nope`"));

    let opened = run(&[
        "incident",
        "open",
        "--component",
        "orders-api",
        "--since",
        "2h",
        "--title",
        "orders 500",
        "--format",
        "json",
    ]);
    assert_eq!(opened.status.code(), Some(0), "{}", stderr(&opened));
    let doc: serde_json::Value = serde_json::from_slice(&opened.stdout).expect("json");
    assert_eq!(doc["incident"], "INC-1");
    assert_eq!(doc["id"], "INC-1", "the id as it is typed next");
    assert_eq!(doc["schema"], "fearless.incident/v1");
    assert_eq!(doc["state"], "open");
    assert_eq!(doc["record"]["hosts"][0]["host"], "web-1");

    let early = run(&["incident", "close", "INC-1"]);
    assert_eq!(
        early.status.code(),
        Some(1),
        "closing an open incident is refused"
    );
    assert!(
        stderr(&early).contains("resolve it first"),
        "{}",
        stderr(&early)
    );

    for (verb, note) in [
        ("mitigate", "rolled back libacme"),
        ("resolve", "libacme 2.0.1"),
        ("close", "reviewed"),
    ] {
        let out = run(&["incident", verb, "INC-1", "--note", note]);
        assert_eq!(out.status.code(), Some(0), "{verb}: {}", stderr(&out));
    }
    let shown = run(&["incident", "show", "INC-1"]);
    let text = stdout(&shown);
    assert!(text.starts_with("INC-1 closed: orders 500"), "{text}");
    assert!(text.contains("time to detect: 2h"), "{text}");
    assert!(text.contains("time to mitigate:"), "{text}");
    let again = run(&["incident", "mitigate", "INC-1"]);
    assert_eq!(again.status.code(), Some(1));
    let journal = run(&["journal", "--subject", "INC-1", "--format", "json"]);
    let kinds: Vec<String> = serde_json::from_slice::<serde_json::Value>(&journal.stdout)
        .expect("json")["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "incident.opened",
            "incident.mitigated",
            "incident.resolved",
            "incident.closed"
        ]
    );
}

#[test]
fn an_open_incident_is_acknowledged_once_and_the_state_stays() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), CONFIG);
    let run = |who: &str, args: &[&str]| {
        let mut all = vec!["-c", config.as_str(), "--as", who];
        all.extend_from_slice(args);
        fearless(&all)
    };
    let opened = run("ops", &["incident", "open", "--component", "orders-api"]);
    assert_eq!(opened.status.code(), Some(0), "{}", stderr(&opened));
    let ack = run(
        "carol",
        &[
            "incident",
            "acknowledge",
            "INC-1",
            "--note",
            "on it",
            "--format",
            "json",
        ],
    );
    assert_eq!(ack.status.code(), Some(0), "{}", stderr(&ack));
    let doc: serde_json::Value = serde_json::from_slice(&ack.stdout).expect("json");
    assert_eq!(doc["state"], "open", "acknowledging moves no state");
    assert_eq!(doc["record"]["milestones"]["acknowledged_by"], "carol");
    assert!(doc["record"]["milestones"]["acknowledged"].is_string());
    assert_eq!(doc["record"]["notes"][0]["note"], "on it");
    let again = run("dave", &["incident", "acknowledge", "INC-1"]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("was acknowledged by carol"),
        "{}",
        stderr(&again)
    );
    let shown = stdout(&run("ops", &["incident", "show", "INC-1"]));
    assert!(shown.contains("acknowledged by: carol"), "{shown}");
    assert!(shown.contains("time to acknowledge:"), "{shown}");
    let resolved = run("ops", &["incident", "resolve", "INC-1"]);
    assert_eq!(resolved.status.code(), Some(0));
    let late = run("dave", &["incident", "acknowledge", "INC-1"]);
    assert_eq!(late.status.code(), Some(1));
    assert!(
        stderr(&late).contains("only an open incident"),
        "{}",
        stderr(&late)
    );
    let unknown = run("dave", &["incident", "acknowledge", "INC-x"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
}
