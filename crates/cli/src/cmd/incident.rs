//! `fearless incident list|show|open|mitigate|resolve|close`: incidents opened by failed
//! rollouts or by hand (with the checks failing at that moment), through
//! `fearless-engine`; `fearless rca` reports on them.

use fearless_engine::incident::{OpenIncident, StoredIncident};
use fearless_engine::views::{IncidentJson, IncidentList};
use fearless_rca::Action;

use super::{Session, only_human_or_json, print, print_json, selector};
use crate::args::{Format, Global, IncidentAction, IncidentArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

pub(crate) async fn run(g: &Global, a: IncidentArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "incident")?;
    // An id is checked before the store is opened: bad input is said as such.
    match &a.action {
        IncidentAction::Show { id }
        | IncidentAction::Acknowledge { id, .. }
        | IncidentAction::Mitigate { id, .. }
        | IncidentAction::Resolve { id, .. }
        | IncidentAction::Close { id, .. } => {
            fearless_engine::incident::number(id)?;
        }
        IncidentAction::List | IncidentAction::Open { .. } => {}
    }
    let session = match a.action {
        IncidentAction::List | IncidentAction::Show { .. } => Session::open_to_read(g).await?,
        _ => Session::open(g).await?,
    };
    let result = act(g, &session, a.action).await;
    session.close().await;
    result
}

async fn act(g: &Global, session: &Session, action: IncidentAction) -> Result<Outcome, Failure> {
    let (id, action, note) = match action {
        IncidentAction::List => {
            let all = session.reading().incidents().await?;
            if g.format == Format::Json {
                let list: Vec<IncidentJson<'_>> = all.iter().map(IncidentJson::of).collect();
                print_json(&IncidentList {
                    schema: "fearless.incidents/v1",
                    incidents: list,
                })?;
            } else {
                let mut t = render::table(&["INCIDENT", "STATE", "OPENED", "TITLE"]);
                for i in &all {
                    t.add_row(vec![
                        i.id(),
                        i.state.to_string(),
                        i.stored.created_at.date().to_string(),
                        render::text(&i.record.title),
                    ]);
                }
                print(&format!("{t}\n{} incident(s)\n", all.len()))?;
            }
            return Ok(Outcome::Success);
        }
        IncidentAction::Show { id } => {
            let i = session.reading().incident(&id).await?;
            if g.format == Format::Json {
                print_json(&IncidentJson::alone(&i))?;
            } else {
                print(&show(&i))?;
            }
            return Ok(Outcome::Success);
        }
        IncidentAction::Open {
            components,
            hosts,
            since,
            title,
        } => {
            let req = OpenIncident {
                components,
                hosts: selector(hosts.as_deref())?,
                since: since
                    .as_deref()
                    .map(|s| super::window("--since", s, "e.g. 2h"))
                    .transpose()?,
                title,
            };
            let i = session.acting()?.open_incident(req).await?;
            if g.format == Format::Json {
                print_json(&IncidentJson::alone(&i))?;
            } else {
                print(&format!(
                    "{} open: {} ({} failing check(s) now)\n",
                    i.id(),
                    render::text(&i.record.title),
                    i.record.checks.len()
                ))?;
            }
            return Ok(Outcome::Success);
        }
        IncidentAction::Acknowledge { id, note } => {
            let i = session.acting()?.acknowledge_incident(&id, note).await?;
            if g.format == Format::Json {
                print_json(&IncidentJson::alone(&i))?;
            } else {
                print(&format!(
                    "{} acknowledged by {} ({})\n",
                    i.id(),
                    render::text(
                        i.record
                            .milestones
                            .acknowledged_by
                            .as_deref()
                            .unwrap_or("-")
                    ),
                    i.state
                ))?;
            }
            return Ok(Outcome::Success);
        }
        IncidentAction::Mitigate { id, note } => (id, Action::Mitigate, note),
        IncidentAction::Resolve { id, note } => (id, Action::Resolve, note),
        IncidentAction::Close { id, note } => (id, Action::Close, note),
    };
    let (from, i) = session.acting()?.move_incident(&id, action, note).await?;
    if g.format == Format::Json {
        print_json(&IncidentJson::alone(&i))?;
    } else {
        print(&format!("{} {from} → {}\n", i.id(), i.state))?;
    }
    Ok(Outcome::Success)
}

fn show(i: &StoredIncident) -> String {
    let r = &i.record;
    let dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    let mut text = format!(
        "{} {}: {}\nchange {} · rollout {} · wave {}\nmanifest: {}\n",
        i.id(),
        i.state,
        render::text(&r.title),
        dash(r.change.as_deref()),
        dash(r.rollout.as_deref()),
        r.wave.map_or_else(|| "-".into(), |w| w.to_string()),
        r.manifest.join(" "),
    );
    let m = &r.milestones;
    for (k, t) in [
        ("started", m.started),
        ("detected", m.detected),
        ("acknowledged", m.acknowledged),
        ("mitigated", m.mitigated),
        ("resolved", m.resolved),
        ("closed", m.closed),
    ] {
        if let Some(t) = t {
            text.push_str(&format!("  {k}: {t}\n"));
        }
    }
    let between = |a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>| {
        let secs = u64::try_from(b?.duration_since(a?).as_secs()).ok()?;
        Some(humantime::format_duration(std::time::Duration::from_secs(secs)).to_string())
    };
    if let Some(d) = between(m.started, m.detected) {
        text.push_str(&format!("  time to detect: {d}\n"));
    }
    if let Some(by) = &m.acknowledged_by {
        text.push_str(&format!("  acknowledged by: {}\n", render::text(by)));
    }
    if let Some(d) = between(m.detected, m.acknowledged) {
        text.push_str(&format!("  time to acknowledge: {d}\n"));
    }
    if let Some(d) = between(m.detected, m.mitigated) {
        text.push_str(&format!("  time to mitigate: {d}\n"));
    }
    for h in &r.hosts {
        text.push_str(&format!(
            "  {} ({}): {}\n",
            h.host,
            h.state.map_or_else(|| "-".into(), |s| s.to_string()),
            render::text(&dash(h.detail.as_deref()))
        ));
    }
    text
}
