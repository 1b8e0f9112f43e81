//! `fearless incident list|show|open|mitigate|resolve|close`: incidents opened by failed
//! rollouts or by hand (with the checks failing at that moment); `fearless rca` reports on
//! them.

use fearless_rca::{Action, IncidentState};
use fearless_store::{NewEvent, Store};
use serde_json::{Value, json};

use super::change::{open_store, store_failure};
use super::{identity, load_config, only_human_or_json, print, print_json, selector};
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
        IncidentAction::Open {
            components,
            hosts,
            since,
            title,
        } => {
            return open(
                g,
                &config,
                &store,
                &components,
                hosts.as_deref(),
                since.as_deref(),
                title,
            )
            .await;
        }
        IncidentAction::Mitigate { id, note } => {
            return act(g, &store, &id, Action::Mitigate, note).await;
        }
        IncidentAction::Resolve { id, note } => {
            return act(g, &store, &id, Action::Resolve, note).await;
        }
        IncidentAction::Close { id, note } => {
            return act(g, &store, &id, Action::Close, note).await;
        }
        IncidentAction::Show { id } => {
            let (n, i) = get(&store, &id).await?;
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
                let m = &i.record["milestones"];
                for k in ["started", "detected", "mitigated", "resolved", "closed"] {
                    if let Some(t) = m[k].as_str() {
                        text.push_str(&format!("  {k}: {t}\n"));
                    }
                }
                if let Some(d) = between(m, "started", "detected") {
                    text.push_str(&format!("  time to detect: {d}\n"));
                }
                if let Some(d) = between(m, "detected", "mitigated") {
                    text.push_str(&format!("  time to mitigate: {d}\n"));
                }
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

/// The incident `id` (`INC-3` or `3`); one that does not exist is bad input.
pub(crate) async fn get(store: &Store, id: &str) -> Result<(u64, fearless_store::Stored), Failure> {
    let n = number(id)?;
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
    Ok((n, i))
}

fn number(id: &str) -> Result<u64, Failure> {
    id.strip_prefix("INC-").unwrap_or(id).parse().map_err(|_| {
        Failure::bad_input(
            format!("`{id}` is not an incident id"),
            Some("incident ids look like INC-3"),
        )
    })
}

/// `later - earlier` between two milestones, humanised, when both are there.
fn between(milestones: &Value, earlier: &str, later: &str) -> Option<String> {
    let a: jiff::Timestamp = milestones[earlier].as_str()?.parse().ok()?;
    let b: jiff::Timestamp = milestones[later].as_str()?.parse().ok()?;
    let d = b.duration_since(a);
    let secs = u64::try_from(d.as_secs()).ok()?;
    Some(humantime::format_duration(std::time::Duration::from_secs(secs)).to_string())
}

/// `incident open`: by hand, for impact fearless did not see on its own.
async fn open(
    g: &Global,
    config: &fearless_config::Config,
    store: &Store,
    components: &[String],
    hosts: Option<&str>,
    since: Option<&str>,
    title: Option<String>,
) -> Result<Outcome, Failure> {
    let actor = identity(g)?;
    for c in components {
        if !config.components.contains_key(c) {
            return Err(Failure::bad_input(
                format!("unknown component `{c}`"),
                Some("list components with `fearless check --dry-run`"),
            ));
        }
    }
    let sel = selector(hosts)?;
    let inv = &config.inventory;
    let matched: Vec<String> = inv
        .hosts
        .values()
        .filter(|h| sel.as_ref().is_none_or(|s| s.matches(h, &inv.groups)))
        .map(|h| h.name.clone())
        .collect();
    let now = jiff::Timestamp::now();
    let started = match since {
        Some(s) => {
            let d = humantime::parse_duration(s)
                .map_err(|e| Failure::bad_input(format!("--since {s:?}: {e}"), Some("e.g. 2h")))?;
            let d = jiff::SignedDuration::try_from(d)
                .map_err(|e| Failure::bad_input(format!("--since {s:?}: {e}"), None))?;
            now.checked_sub(d)
                .map_err(|e| Failure::bad_input(format!("--since {s:?}: {e}"), None))?
        }
        None => now,
    };
    let title = title.unwrap_or_else(|| format!("impact on {}", components.join(", ")));
    // What fails now, on those hosts: the evidence the report starts from.
    let checks = super::rca::failing_checks(config, components, &matched).await?;
    let record = json!({
        "title": title,
        "opened_by": actor,
        "components": components,
        "checks": checks,
        "hosts": matched.iter().map(|h| json!({"host": h})).collect::<Vec<_>>(),
        "milestones": {"started": started.to_string(), "detected": now.to_string()},
        "notes": [],
    });
    let stored = store
        .insert_incident(
            IncidentState::Open.as_str(),
            &record,
            NewEvent {
                actor,
                kind: "incident.opened".into(),
                subject: String::new(),
                payload: json!({"components": components, "hosts": matched}),
            },
        )
        .await
        .map_err(store_failure)?;
    if g.format == Format::Json {
        print_json(
            &json!({"schema": "fearless.incident/v1", "incident": format!("INC-{}", stored.number), "state": stored.state, "record": stored.record}),
        )?;
    } else {
        print(&format!(
            "INC-{} open: {title} ({} failing check(s) now)\n",
            stored.number,
            checks.len()
        ))?;
    }
    Ok(Outcome::Success)
}

/// `incident mitigate|resolve|close`: move the state forward and record the milestone.
async fn act(
    g: &Global,
    store: &Store,
    id: &str,
    action: Action,
    note: Option<String>,
) -> Result<Outcome, Failure> {
    let actor = identity(g)?;
    let (n, i) = get(store, id).await?;
    let from = IncidentState::parse(&i.state).ok_or_else(|| {
        Failure::Environment(anyhow::anyhow!(
            "INC-{n} has an unknown state `{}`",
            i.state
        ))
    })?;
    let to = from.on(action).map_err(|e| Failure::Gate {
        message: format!("INC-{n}: {e}"),
        hint: None,
    })?;
    let mut record = i.record.clone();
    let now = jiff::Timestamp::now().to_string();
    if let Some(o) = record.as_object_mut() {
        let milestones = o.entry("milestones").or_insert_with(|| json!({}));
        if let Some(m) = milestones.as_object_mut() {
            m.insert(
                IncidentState::milestone(action).into(),
                Value::String(now.clone()),
            );
        }
        if let Some(note) = &note {
            let notes = o.entry("notes").or_insert_with(|| json!([]));
            if let Some(list) = notes.as_array_mut() {
                list.push(json!({"at": now, "by": actor, "state": to.as_str(), "note": note}));
            }
        }
    }
    let stored = store
        .update_incident(
            n,
            i.version,
            to.as_str(),
            &record,
            NewEvent {
                actor,
                kind: format!("incident.{}", to.as_str()),
                subject: String::new(),
                payload: json!({"from": from.as_str(), "to": to.as_str(), "note": note}),
            },
        )
        .await
        .map_err(store_failure)?;
    if g.format == Format::Json {
        print_json(
            &json!({"schema": "fearless.incident/v1", "incident": format!("INC-{n}"), "state": stored.state, "record": stored.record}),
        )?;
    } else {
        print(&format!("INC-{n} {from} → {to}\n"))?;
    }
    Ok(Outcome::Success)
}
