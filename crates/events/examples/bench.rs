//! Events per second through the file sink and through RabbitMQ with publisher confirms,
//! and a bare lapin publish-with-confirm loop in the same run, for `bench/events.sh`.
//!
//! Usage: `bench [N] [AMQP_URL]` (defaults 2000 and amqp://guest:guest@127.0.0.1:5672/%2f).
//! Prints one `name events/s` line per measurement, then the wrapper's overhead.

use fearless_config::{EventRoute, EventsConfig, SinkSpec, TypePattern};
use fearless_events::{Event, Events, Severity, types};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use std::time::Instant;

fn config(spec: SinkSpec) -> EventsConfig {
    let route = EventRoute {
        types: TypePattern::parse("fearless.*").unwrap_or_else(|e| panic!("{e}")),
        min_severity: Severity::Info,
        sinks: vec!["s".into()],
    };
    EventsConfig {
        outbox: None,
        sinks: [("s".to_owned(), spec)].into_iter().collect(),
        routes: vec![route],
    }
}

fn event(i: usize) -> Event {
    Event::for_change(
        types::CHANGE_STARTED,
        "fearless://bench",
        &format!("CHG-{i}"),
        serde_json::json!({ "n": i, "summary": "bench event" }),
    )
}

async fn wrapper(events: &Events, n: usize) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        let d = events.send_message(&event(i)).await;
        assert!(d.is_complete(), "{d:?}");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn bare_lapin(url: &str, exchange: &str, n: usize) -> Result<f64, lapin::Error> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    ch.exchange_declare(
        exchange.into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    let start = Instant::now();
    for i in 0..n {
        // Same work per message as the sink: build and serialise the event, publish, await the confirm.
        let e = event(i);
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/cloudevents+json".into());
        ch.basic_publish(
            exchange.into(),
            e.ty.as_str().into(),
            BasicPublishOptions::default(),
            &e.to_json(),
            props,
        )
        .await?
        .await?;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = conn.close(200, "OK".into()).await;
    Ok(rate)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let url = args
        .next()
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let dir = tempfile::tempdir()?;
    let exchange = "fearless.bench";

    let file = Events::new(
        &config(SinkSpec::File {
            path: dir.path().join("events.jsonl"),
        }),
        &dir.path().join("outbox"),
    );
    let file_rate = wrapper(&file, n).await;
    let amqp = Events::new(
        &config(SinkSpec::Amqp {
            url: url.clone(),
            exchange: exchange.into(),
        }),
        &dir.path().join("outbox"),
    );
    // Warm up both paths (connection, exchange declaration), then alternate to share noise.
    wrapper(&amqp, 50).await;
    bare_lapin(&url, exchange, 50).await?;
    let (mut w, mut b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        w.push(wrapper(&amqp, n).await);
        b.push(bare_lapin(&url, exchange, n).await?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (w, b) = (median(&mut w), median(&mut b));
    let overhead = (b / w - 1.0) * 100.0;
    #[expect(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]
    {
        println!("file_sink_events_per_s {file_rate:.0}");
        println!("amqp_sink_events_per_s {w:.0}");
        println!("bare_lapin_events_per_s {b:.0}");
        println!("wrapper_overhead_percent {overhead:.1}");
    }
    Ok(())
}
