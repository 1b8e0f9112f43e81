//! `fearless events status | replay | test SINK`; the outbox every command's events go through.

use super::{load_config, only_human_or_json, print, print_json};
use crate::args::{EventsAction, EventsArgs, Format, Global};
use crate::exit::{Failure, Outcome};
use crate::render;
use fearless_events::Events;

/// The outbox: `events.outbox` from the config, else `.fearless/outbox` beside the config.
pub(crate) fn events_for(config: &fearless_config::Config) -> Events {
    let dir = config
        .events
        .outbox
        .clone()
        .unwrap_or_else(|| config.base_dir().join(".fearless/outbox"));
    Events::new(&config.events, &dir)
}

pub(crate) async fn run(g: &Global, a: EventsArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "events")?;
    let config = load_config(g)?;
    let events = events_for(&config);
    match a.action {
        EventsAction::Status => {
            let st = events
                .status()
                .await
                .map_err(|e| Failure::Environment(e.into()))?;
            if g.format == Format::Json {
                let sinks = st
                    .sinks
                    .iter()
                    .map(|(name, b)| {
                        (
                            name.as_str(),
                            SinkJson {
                                pending: b.pending,
                                failed: b.failed,
                                configured: b.configured,
                                oldest_s: b.oldest.map(|d| d.as_secs()),
                                last_error: b.last_error.as_deref(),
                            },
                        )
                    })
                    .collect();
                print_json(&OutboxJson {
                    schema: "fearless.outbox/v1",
                    dir: &st.dir,
                    sinks,
                    unreadable: &st.unreadable,
                })?;
            } else {
                let mut t = render::table(&["SINK", "PENDING", "FAILED", "OLDEST", "LAST ERROR"]);
                for (name, b) in &st.sinks {
                    let name = if b.configured {
                        name.clone()
                    } else {
                        format!("{name} (no longer configured)")
                    };
                    t.add_row(vec![
                        name,
                        b.pending.to_string(),
                        b.failed.to_string(),
                        b.oldest.map(render::duration).unwrap_or_else(|| "-".into()),
                        b.last_error.clone().unwrap_or_default(),
                    ]);
                }
                print(&format!(
                    "{t}\n{} undelivered event(s) in {}\n",
                    st.total(),
                    st.dir.display()
                ))?;
            }
            Ok(if st.total() == 0 {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
        EventsAction::Replay => {
            let r = events
                .replay()
                .await
                .map_err(|e| Failure::Environment(e.into()))?;
            if g.format == Format::Json {
                let still_queued = r
                    .still_queued
                    .iter()
                    .map(|s| StillQueued {
                        sink: &s.sink,
                        outcome: format!("{:?}", s.outcome),
                    })
                    .collect();
                print_json(&ReplayJson {
                    schema: "fearless.replay/v1",
                    delivered: r.delivered,
                    still_queued,
                })?;
            } else {
                print(&format!(
                    "replay: {} delivered, {} still queued\n",
                    r.delivered,
                    r.still_queued.len()
                ))?;
            }
            Ok(if r.still_queued.is_empty() {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
        EventsAction::Test { sink } => {
            if events.sink(&sink).is_none() {
                let names: Vec<&str> = config.events.sinks.keys().map(String::as_str).collect();
                return Err(Failure::bad_input(
                    format!("unknown sink `{sink}`"),
                    Some(&format!(
                        "sinks in the config: {}",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    )),
                ));
            }
            match events.test(&sink).await {
                Ok(()) => {
                    print(&format!("sink `{sink}`: test event delivered\n"))?;
                    Ok(Outcome::Success)
                }
                Err(e) => Err(Failure::Environment(anyhow::anyhow!("sink `{sink}`: {e}"))),
            }
        }
    }
}

/// `events status --format json`: the outbox and each sink's queue.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct OutboxJson<'a> {
    /// `fearless.outbox/v1`.
    #[schemars(extend("const" = "fearless.outbox/v1"))]
    schema: &'static str,
    /// The outbox directory.
    #[schemars(with = "String")]
    dir: &'a std::path::Path,
    /// Each sink's queue, by name.
    sinks: std::collections::BTreeMap<&'a str, SinkJson<'a>>,
    /// Files of the outbox it could not read.
    #[schemars(with = "Vec<String>")]
    unreadable: &'a [std::path::PathBuf],
}

/// One sink's queue.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct SinkJson<'a> {
    /// Events waiting.
    pending: usize,
    /// Of them, how many failed at least once.
    failed: usize,
    /// The sink is still in the config.
    configured: bool,
    /// The age of the oldest, in seconds.
    oldest_s: Option<u64>,
    /// The last delivery's error.
    last_error: Option<&'a str>,
}

/// `events replay --format json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ReplayJson<'a> {
    /// `fearless.replay/v1`.
    #[schemars(extend("const" = "fearless.replay/v1"))]
    schema: &'static str,
    /// Events delivered.
    delivered: usize,
    /// Events still queued, with why.
    still_queued: Vec<StillQueued<'a>>,
}

/// An event replay could not deliver.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct StillQueued<'a> {
    /// Its sink.
    sink: &'a str,
    /// What the attempt said.
    outcome: String,
}
