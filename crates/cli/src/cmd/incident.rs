//! `fearless incident list|show`: the incidents failed rollouts open (the RCA work builds
//! on these records).

use serde_json::{Value, json};

use super::change::{open_store, store_failure};
use super::{load_config, only_human_or_json, print, print_json};
use crate::args::{Format, Global, IncidentAction, IncidentArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

pub(crate) async fn run(g: &Global, a: IncidentArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "incident")?;
    let config = load_config(g)?;
    let store = open_store(g, &config).await?;
    match a.action {
        IncidentAction::List => {
            let all = store.list_incidents().await.map_err(store_failure)?;
            if g.format == Format::Json {
                let list: Vec<Value> = all
                    .iter()
                    .map(|i| json!({"incident": format!("INC-{}", i.number), "state": i.state, "record": i.record}))
                    .collect();
                print_json(&json!({"schema": "fearless.incidents/v1", "incidents": list}))?;
            } else {
                let mut t = render::table(&["INCIDENT", "STATE", "OPENED", "TITLE"]);
                for i in &all {
                    t.add_row(vec![
                        format!("INC-{}", i.number),
                        i.state.clone(),
                        i.created_at.date().to_string(),
                        i.record["title"].as_str().unwrap_or("-").to_owned(),
                    ]);
                }
                print(&format!("{t}\n{} incident(s)\n", all.len()))?;
            }
        }
        IncidentAction::Show { id } => {
            let n: u64 = id
                .strip_prefix("INC-")
                .unwrap_or(&id)
                .parse()
                .map_err(|_| {
                    Failure::bad_input(
                        format!("`{id}` is not an incident id"),
                        Some("incident ids look like INC-3"),
                    )
                })?;
            let i = store
                .get_incident(n)
                .await
                .map_err(store_failure)?
                .ok_or_else(|| {
                    Failure::bad_input(
                        format!("there is no incident INC-{n}"),
                        Some("see `fearless incident list`"),
                    )
                })?;
            if g.format == Format::Json {
                print_json(
                    &json!({"schema": "fearless.incident/v1", "incident": format!("INC-{n}"), "state": i.state, "record": i.record}),
                )?;
            } else {
                let mut text = format!(
                    "INC-{n} {}: {}\nchange {} · rollout {} · wave {}\nmanifest: {}\n",
                    i.state,
                    i.record["title"].as_str().unwrap_or("-"),
                    i.record["change"].as_str().unwrap_or("-"),
                    i.record["rollout"].as_str().unwrap_or("-"),
                    i.record["wave"],
                    i.record["manifest"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" "))
                        .unwrap_or_default(),
                );
                for h in i.record["hosts"].as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "  {} ({}): {}\n",
                        h["host"].as_str().unwrap_or("-"),
                        h["state"].as_str().unwrap_or("-"),
                        h["detail"].as_str().unwrap_or("-")
                    ));
                }
                print(&text)?;
            }
        }
    }
    Ok(Outcome::Success)
}
