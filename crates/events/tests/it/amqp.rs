//! The amqp sink against the real RabbitMQ at 127.0.0.1:5672 (guest/guest).

use crate::common::{Proxy, events_in, one_sink};
use fearless_events::{Event, Events, Outcome, types};
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use serde_json::json;
use std::collections::BTreeSet;

const BROKER: &str = "127.0.0.1:5672";

/// A connection to the broker and a channel on it.
async fn connect() -> (Connection, Channel) {
    let conn = Connection::connect(
        &format!("amqp://guest:guest@{BROKER}/%2f"),
        ConnectionProperties::default(),
    )
    .await
    .expect("RabbitMQ must listen on 127.0.0.1:5672 with guest/guest (scripts/test.sh starts it)");
    let ch = conn.create_channel().await.expect("channel");
    (conn, ch)
}

/// Every message waiting on `queue`: (routing key, delivery mode, body).
async fn drain(ch: &Channel, queue: &str) -> Vec<(String, Option<u8>, serde_json::Value)> {
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
    {
        let body = serde_json::from_slice(&m.delivery.data).expect("json body");
        out.push((
            m.delivery.routing_key.to_string(),
            *m.delivery.properties.delivery_mode(),
            body,
        ));
    }
    out
}

fn yaml(url: &str, exchange: &str) -> String {
    one_sink(
        "bus",
        &format!("{{ amqp: {{ url: \"{url}\", exchange: {exchange} }} }}"),
    )
}

// The exchange is declared auto-delete by the test and durable by both, so the sink's
// declaration (durable, not auto-delete) must match: use a separate exchange per test and
// let the sink declare it first.
async fn bound_queue_after_sink(
    events: &Events,
    ch: &Channel,
    exchange: &str,
    pattern: &str,
) -> String {
    events.sink("bus").expect("sink").probe_now().await;
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue");
    let queue = q.name().to_string();
    ch.queue_bind(
        queue.as_str().into(),
        exchange.into(),
        pattern.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");
    queue
}

trait ProbeNow {
    async fn probe_now(&self);
}

impl ProbeNow for fearless_events::AnySink {
    async fn probe_now(&self) {
        use fearless_events::Sink as _;
        self.probe().await.expect("the sink reaches RabbitMQ");
    }
}

#[tokio::test]
async fn events_arrive_on_a_bound_queue_with_the_type_as_routing_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_conn, ch) = connect().await;
    let exchange = format!("fearless.it.{}", uuid::Uuid::now_v7());
    let url = format!("amqp://guest:guest@{BROKER}/%2f");
    let events = events_in(dir.path(), &yaml(&url, &exchange));
    let queue = bound_queue_after_sink(&events, &ch, &exchange, "fearless.change.#").await;

    let approved = Event::for_change(
        types::CHANGE_APPROVED,
        "fearless://ctl",
        "CHG-3",
        json!({ "by": "alice" }),
    );
    let incident = Event::new(types::INCIDENT_OPENED, "fearless://ctl", json!({}));
    assert!(events.send_message(&approved).await.is_complete());
    assert!(
        events.send_message(&incident).await.is_complete(),
        "published and confirmed, though no queue takes it"
    );

    let got = drain(&ch, &queue).await;
    assert_eq!(got.len(), 1, "only the change event matches the binding");
    let (key, mode, body) = &got[0];
    assert_eq!(key, "fearless.change.approved.v1");
    assert_eq!(*mode, Some(2), "persistent");
    assert_eq!(body["id"], approved.id.as_str());
    assert_eq!(body["subject"], "CHG-3");
    assert_eq!(body["data"]["by"], "alice");
    let _ = ch
        .exchange_delete(exchange.as_str().into(), Default::default())
        .await;
}

#[tokio::test]
async fn broker_gone_mid_run_queues_events_and_replay_delivers_them_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_conn, ch) = connect().await;
    let mut proxy = Proxy::start(BROKER.parse().expect("addr")).await;
    let exchange = format!("fearless.it.{}", uuid::Uuid::now_v7());
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port);
    let events = events_in(dir.path(), &yaml(&url, &exchange));
    let queue = bound_queue_after_sink(&events, &ch, &exchange, "#").await;

    let mut sent = Vec::new();
    for i in 0..3 {
        let e = Event::for_change(
            types::CHANGE_STARTED,
            "fearless://ctl",
            &format!("CHG-{i}"),
            json!({}),
        );
        assert!(events.send_message(&e).await.is_complete());
        sent.push(e.id);
    }

    proxy.stop().await;
    for i in 3..6 {
        let e = Event::for_change(
            types::CHANGE_STARTED,
            "fearless://ctl",
            &format!("CHG-{i}"),
            json!({}),
        );
        let d = events.send_message(&e).await;
        assert!(
            matches!(d.sinks[0].outcome, Outcome::Queued { attempts: 1, .. }),
            "{d:?}"
        );
        sent.push(e.id);
    }
    let status = events.status().await.expect("status");
    assert_eq!(status.sinks["bus"].pending, 3);
    // Still down: replay keeps one entry per event, with the attempt counted.
    let report = events.replay().await.expect("replay");
    assert_eq!((report.delivered, report.still_queued.len()), (0, 3));
    assert_eq!(events.status().await.expect("status").total(), 3);

    proxy.restart().await;
    let report = events.replay().await.expect("replay");
    assert_eq!(
        (report.delivered, report.still_queued.len()),
        (3, 0),
        "{report:?}"
    );
    assert_eq!(events.status().await.expect("status").total(), 0);
    assert_eq!(
        events.replay().await.expect("replay").delivered,
        0,
        "nothing left to send twice"
    );

    let got: Vec<String> = drain(&ch, &queue)
        .await
        .into_iter()
        .map(|(_, _, b)| b["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>(),
        sent.iter().collect::<BTreeSet<_>>()
    );
    let _ = ch
        .exchange_delete(exchange.as_str().into(), Default::default())
        .await;
}
