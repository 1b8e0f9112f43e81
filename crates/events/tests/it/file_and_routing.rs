//! The file sink and routing by type glob and minimum severity.

use crate::common::{events_in, one_sink, started};
use fearless_events::{Event, Outcome, Severity, types};
use serde_json::json;

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test]
async fn file_sink_writes_one_json_line_per_event() {
    let dir = tempfile::tempdir().expect("tmp");
    let events = events_in(
        dir.path(),
        &one_sink("log", "{ file: { path: out/events.jsonl } }"),
    );
    let mut ids = Vec::new();
    for i in 0..5 {
        let e = Event::for_change(
            types::CHANGE_APPROVED,
            "fearless://ctl",
            &format!("CHG-{i}"),
            json!({ "n": i }),
        );
        let d = events.send_message(&e).await;
        assert!(d.is_complete(), "{d:?}");
        ids.push(e.id);
    }
    let got = lines(&dir.path().join("out/events.jsonl"));
    assert_eq!(
        got.iter()
            .map(|v| v["id"].as_str().expect("id").to_owned())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(got[3]["subject"], "CHG-3");
    assert_eq!(got[3]["specversion"], "1.0");
}

#[tokio::test]
async fn routes_select_sinks_by_type_glob_and_min_severity() {
    let dir = tempfile::tempdir().expect("tmp");
    let yaml = r#"
events:
  sinks:
    all: { file: { path: all.jsonl } }
    changes: { file: { path: changes.jsonl } }
    pager: { file: { path: pager.jsonl } }
  routes:
    - { types: "fearless.*", sinks: [all] }
    - { types: "fearless.change.*", sinks: [changes] }
    - { types: "fearless.incident.*", min_severity: error, sinks: [pager, all] }
"#;
    let events = events_in(dir.path(), yaml);
    let sent =
        |d: fearless_events::Delivery| d.sinks.into_iter().map(|s| s.sink).collect::<Vec<_>>();

    let change = Event::new(types::CHANGE_CLOSED, "fearless://ctl", json!({}));
    assert_eq!(sent(events.send_message(&change).await), ["all", "changes"]);
    let minor =
        Event::new(types::INCIDENT_OPENED, "fearless://ctl", json!({})).severity(Severity::Warning);
    assert_eq!(sent(events.send_message(&minor).await), ["all"]);
    let major = Event::new(types::INCIDENT_OPENED, "fearless://ctl", json!({}))
        .severity(Severity::Critical);
    assert_eq!(sent(events.send_message(&major).await), ["all", "pager"]);
    let foreign =
        Event::new("acme.deploy.v1", "fearless://ctl", json!({})).severity(Severity::Critical);
    assert!(events.send_message(&foreign).await.sinks.is_empty());

    assert_eq!(lines(&dir.path().join("all.jsonl")).len(), 3);
    assert_eq!(lines(&dir.path().join("changes.jsonl")).len(), 1);
    assert_eq!(
        lines(&dir.path().join("pager.jsonl"))[0]["id"],
        major.id.as_str()
    );
}

#[tokio::test]
async fn an_unwritable_file_sink_queues_and_says_why() {
    let dir = tempfile::tempdir().expect("tmp");
    // A directory where the file should be: the write fails.
    std::fs::create_dir_all(dir.path().join("events.jsonl")).expect("mkdir");
    let events = events_in(
        dir.path(),
        &one_sink("log", "{ file: { path: events.jsonl } }"),
    );
    let d = events.send_message(&started()).await;
    let Outcome::Queued { reason, attempts } = &d.sinks[0].outcome else {
        panic!("{d:?}")
    };
    assert!(reason.contains("events.jsonl"), "{reason}");
    assert_eq!(*attempts, 1);
    assert_eq!(
        events.status().await.expect("status").sinks["log"].pending,
        1
    );
}

#[tokio::test]
async fn sqs_without_the_aws_feature_is_accepted_and_queues_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let sqs =
        "{ sqs: { queue_url: \"http://127.0.0.1:1/000000000000/fearless\", region: us-east-1 } }";
    let events = events_in(dir.path(), &one_sink("q", sqs));
    let d = events.send_message(&started()).await;
    assert!(!d.is_complete());
    if cfg!(not(feature = "aws")) {
        let Outcome::Queued { reason, .. } = &d.sinks[0].outcome else {
            panic!("{d:?}")
        };
        assert!(reason.contains("built without the aws feature"), "{reason}");
    }
}
