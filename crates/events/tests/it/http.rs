//! The HTTP sinks against local servers: signatures, failures into the outbox, payloads.

use crate::common::{Answer, HttpServer, events_in, one_sink, started};
use base64::Engine as _;
use fearless_events::{Event, Outcome, Severity, types};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

fn fixed(mut e: Event) -> Event {
    e.id = "0190c0de-0000-7000-8000-000000000001".into();
    e.time = "2026-05-01T12:00:00.000Z".into();
    e
}

fn hook_yaml(url: &str) -> String {
    one_sink(
        "hook",
        &format!("{{ webhook: {{ url: \"{url}\", secret_env: HOME }} }}"),
    )
}

/// The signing secret: the tests name `HOME` as `secret_env` (setting a variable needs
/// `unsafe`, which the workspace forbids), so its value is the secret.
fn secret() -> String {
    std::env::var("HOME").expect("HOME is set")
}

#[tokio::test]
async fn webhook_is_signed_the_standard_webhooks_way() {
    let server = HttpServer::start(Answer::Status(204)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let events = events_in(dir.path(), &hook_yaml(&server.url("/hooks/fearless")));
    let e = Event::for_change(
        types::CHANGE_APPROVED,
        "fearless://ctl",
        "CHG-3",
        json!({ "by": "alice" }),
    );
    let d = events.send_message(&e).await;
    assert!(d.is_complete(), "{d:?}");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/hooks/fearless");
    assert_eq!(r.headers["webhook-id"], e.id);
    assert_eq!(r.headers["content-type"], "application/cloudevents+json");
    // Verify independently of the crate's own signing code.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret().as_bytes()).expect("key");
    mac.update(
        format!(
            "{}.{}.",
            r.headers["webhook-id"], r.headers["webhook-timestamp"]
        )
        .as_bytes(),
    );
    mac.update(&r.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(r.headers["webhook-signature"], expected);
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["type"], "fearless.change.approved.v1");
    assert_eq!(body["data"]["by"], "alice");
}

#[tokio::test]
async fn a_500_and_a_timeout_go_to_the_outbox_with_attempt_counts() {
    let failing = HttpServer::start(Answer::Status(500)).await;
    let hanging = HttpServer::start(Answer::Hang).await;
    let dir = tempfile::tempdir().expect("tmp");
    let yaml = format!(
        "events:\n  sinks:\n    broken: {{ webhook: {{ url: \"{}\" }} }}\n    slow: {{ webhook: {{ url: \"{}\" }} }}\n  routes:\n    - {{ types: \"fearless.*\", sinks: [broken, slow] }}\n",
        failing.url("/h"),
        hanging.url("/h")
    );
    let events = events_in(dir.path(), &yaml);
    let e = started();
    let d = events.send_message(&e).await;
    let reasons: Vec<String> = d
        .sinks
        .iter()
        .map(|s| match &s.outcome {
            Outcome::Queued {
                reason,
                attempts: 1,
            } => reason.clone(),
            other => panic!("{}: {other:?}", s.sink),
        })
        .collect();
    assert!(reasons[0].contains("HTTP 500"), "{}", reasons[0]);
    assert!(reasons[1].contains("no answer"), "{}", reasons[1]);

    let report = events.replay().await.expect("replay");
    assert_eq!(report.delivered, 0);
    assert_eq!(report.still_queued.len(), 2);
    assert!(
        report
            .still_queued
            .iter()
            .all(|s| matches!(s.outcome, Outcome::Queued { attempts: 2, .. })),
        "{report:?}"
    );
    let status = events.status().await.expect("status");
    assert_eq!(
        (status.sinks["broken"].pending, status.sinks["slow"].pending),
        (1, 1)
    );
    events.replay().await.expect("replay");
    let status = events.status().await.expect("status");
    assert_eq!(
        (
            status.sinks["broken"].failed,
            status.sinks["broken"].pending
        ),
        (1, 0),
        "max_attempts 3 reached"
    );
    assert_eq!(failing.requests().len(), 3);
}

#[tokio::test]
async fn slack_payload_is_posted() {
    let server = HttpServer::start(Answer::Status(200)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let yaml = one_sink(
        "chat",
        &format!(
            "{{ slack: {{ url: \"{}\" }} }}",
            server.url("/services/T0/B0/XXXX")
        ),
    );
    let events = events_in(dir.path(), &yaml);
    let e = fixed(
        Event::for_change(
            types::CHANGE_APPROVED,
            "fearless://ctl",
            "CHG-3",
            json!({ "summary": "CHG-3 approved by alice" }),
        )
        .host("web-1"),
    );
    assert!(events.send_message(&e).await.is_complete());
    let body: serde_json::Value = serde_json::from_slice(&server.requests()[0].body).expect("json");
    insta::assert_json_snapshot!("slack", body);
}

#[tokio::test]
async fn pagerduty_incidents_trigger_and_changes_are_change_events() {
    let server = HttpServer::start(Answer::Status(202)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let yaml = one_sink(
        "pd",
        &format!(
            "{{ pagerduty: {{ url: \"{}\", routing_key_env: PATH }} }}",
            server.url("")
        ),
    );
    let events = events_in(dir.path(), &yaml);
    let incident = fixed(
        Event::new(
            types::INCIDENT_OPENED,
            "fearless://ctl",
            json!({ "summary": "orders-api down on web-1" }),
        )
        .severity(Severity::Critical)
        .host("web-1")
        .subject("INC-7"),
    );
    let change = fixed(Event::for_change(
        types::CHANGE_CLOSED,
        "fearless://ctl",
        "CHG-3",
        json!({}),
    ));
    assert!(events.send_message(&incident).await.is_complete());
    assert!(events.send_message(&change).await.is_complete());
    let reqs = server.requests();
    assert_eq!(
        reqs.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/v2/enqueue", "/v2/change/enqueue"]
    );
    let settings = {
        let mut s = insta::Settings::clone_current();
        // The routing key comes from $PATH here, which differs between machines.
        s.add_redaction(".routing_key", "[routing key]");
        s
    };
    settings.bind(|| {
        insta::assert_json_snapshot!(
            "pagerduty-incident",
            serde_json::from_slice::<serde_json::Value>(&reqs[0].body).expect("json")
        );
        insta::assert_json_snapshot!(
            "pagerduty-change",
            serde_json::from_slice::<serde_json::Value>(&reqs[1].body).expect("json")
        );
    });
}

#[tokio::test]
async fn test_sends_a_test_event_to_one_sink() {
    let server = HttpServer::start(Answer::Status(200)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let yaml = format!(
        "events:\n  sinks:\n    chat: {{ slack: {{ url: \"{}\" }} }}\n",
        server.url("/x")
    );
    let events = events_in(dir.path(), &yaml);
    events.test("chat").await.expect("delivered");
    assert!(String::from_utf8_lossy(&server.requests()[0].body).contains("fearless.test.v1"));
    assert!(events.test("nope").await.is_err());
}
