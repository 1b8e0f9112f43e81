//! Observations of live connections in words: the drift report of `map --observe` and
//! `map show OBS-N`, `map list`, `map diff OBS-1 OBS-2`.

use std::fmt::Write as _;

use fearless_engine::map::{
    self as engine_map, KeptObservation, ObservationDiff, ObservationRecord,
};
use fearless_io::Escaped;
use fearless_observe::Use;
use schemars::JsonSchema;
use serde::Serialize;

use super::{Session, print, print_json};
use crate::args::{Format, Global};
use crate::exit::{Failure, Outcome};
use crate::render;

/// The drift report: undeclared dependencies first (they fail the command), then unknown
/// peers, unattributed connections, declared edges never seen, unreachable hosts, notes.
pub(crate) fn human(o: &KeptObservation) -> String {
    let r = &o.record;
    let obs = &r.observation;
    let d = &r.drift;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} host(s) observed for {}s ({} sample(s)){}",
        o.id(),
        obs.hosts.len(),
        obs.window_ms / 1000,
        obs.hosts.values().map(|h| h.samples).sum::<u32>(),
        if obs.unreachable.is_empty() {
            String::new()
        } else {
            format!(", {} unreachable", obs.unreachable.len())
        }
    );
    if d.undeclared.is_empty() {
        out.push_str("no undeclared dependency\n");
    } else {
        let _ = writeln!(out, "UNDECLARED dependencies ({}):", d.undeclared.len());
        for u in &d.undeclared {
            let _ = writeln!(
                out,
                "  {} → {}  (not in {}'s depends_on; {} recognised by {})",
                Escaped(&u.from),
                Escaped(&u.to),
                Escaped(&u.from),
                Escaped(&u.to),
                Escaped(&u.via)
            );
            for used in &u.uses {
                let _ = writeln!(out, "    {}", use_line(used));
            }
        }
    }
    if !d.unknown_peers.is_empty() {
        let _ = writeln!(
            out,
            "unknown peers ({}): addresses no component claims",
            d.unknown_peers.len()
        );
        for p in &d.unknown_peers {
            let served = p.served_by.as_ref().map_or(String::new(), |s| {
                format!(
                    " (served by {} on {})",
                    Escaped(&s.process),
                    Escaped(&s.host)
                )
            });
            let _ = writeln!(
                out,
                "  {} → {}{served}",
                Escaped(&p.from),
                std::net::SocketAddr::new(p.address, p.port)
            );
            for used in &p.uses {
                let _ = writeln!(out, "    {}", use_line(used));
            }
        }
    }
    if !d.unattributed.is_empty() {
        let _ = writeln!(
            out,
            "connections of processes that belong to no component ({}):",
            d.unattributed.len()
        );
        for u in &d.unattributed {
            let who = u.process.as_ref().map_or_else(
                || "a socket whose process could not be read (or had just exited)".to_owned(),
                |p| {
                    format!(
                        "{}{}",
                        Escaped(&p.process),
                        p.package
                            .as_ref()
                            .map_or(String::new(), |k| format!(" (package {})", Escaped(k)))
                    )
                },
            );
            let to =
                u.to.as_ref()
                    .map_or(String::new(), |c| format!(" ({})", Escaped(c)));
            let _ = writeln!(
                out,
                "  {} on {} → {}{to}, {}/{} samples",
                who,
                Escaped(&u.host),
                Escaped(&u.remote),
                u.samples_seen,
                u.samples
            );
        }
    }
    if !d.unobserved.is_empty() {
        out.push_str("declared but not seen in this window (informational):\n");
        for (from, to) in &d.unobserved {
            let _ = writeln!(out, "  {} → {}", Escaped(from), Escaped(to));
        }
    }
    for (host, error) in &obs.unreachable {
        let _ = writeln!(out, "not observed: {}: {}", Escaped(host), Escaped(error));
    }
    let notes = obs
        .notes
        .iter()
        .map(|n| (None, n))
        .chain(
            obs.hosts
                .iter()
                .flat_map(|(h, o)| o.notes.iter().map(move |n| (Some(h), n))),
        )
        .chain(d.notes.iter().map(|n| (None, n)));
    for (host, note) in notes {
        match host {
            Some(h) => {
                let _ = writeln!(out, "note: {}: {}", Escaped(h), Escaped(note));
            }
            None => {
                let _ = writeln!(out, "note: {}", Escaped(note));
            }
        }
    }
    out
}

/// `acme-api (/usr/sbin/acme-api, package acme-api) on api-1 → 127.0.0.1:5672, 10/10 samples`.
fn use_line(u: &Use) -> String {
    let mut what = Vec::new();
    if let Some(p) = &u.program {
        what.push(Escaped(p).to_string());
    }
    if let Some(k) = &u.package {
        what.push(format!("package {}", Escaped(k)));
    }
    let detail = if what.is_empty() {
        String::new()
    } else {
        format!(" ({})", what.join(", "))
    };
    format!(
        "{}{detail} on {} → {}, {}/{} samples",
        Escaped(&u.process),
        Escaped(&u.host),
        Escaped(&u.remote),
        u.samples_seen,
        u.samples
    )
}

fn only_human_or_json(g: &Global, verb: &str) -> Result<(), Failure> {
    super::only_human_or_json(g, verb)
}

/// `map list --format json`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObservationList<'a> {
    /// `fearless.observations/v1`.
    #[schemars(extend("const" = "fearless.observations/v1"))]
    schema: &'static str,
    /// The observations, oldest first.
    observations: Vec<ObservationLine<'a>>,
}

/// One observation of `map list`.
#[derive(Debug, Serialize, JsonSchema)]
struct ObservationLine<'a> {
    /// `OBS-N`.
    #[schemars(pattern(r"^OBS-[0-9]+$"))]
    id: String,
    /// When it was taken (RFC 3339).
    taken_at: String,
    /// Who took it.
    actor: &'a str,
    /// The hosts observed.
    hosts: Vec<&'a str>,
    /// How many undeclared dependencies it found.
    undeclared: usize,
    /// How many unknown peers it found.
    unknown_peers: usize,
}

/// `map show OBS-N --format json`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObservationJson<'a> {
    /// `fearless.observation/v1`.
    #[schemars(extend("const" = "fearless.observation/v1"))]
    schema: &'static str,
    /// `OBS-N`.
    #[schemars(pattern(r"^OBS-[0-9]+$"))]
    id: String,
    /// When it was taken (RFC 3339).
    taken_at: String,
    /// Who took it.
    actor: &'a str,
    /// The observation and its drift report.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    record: &'a ObservationRecord,
}

/// `map diff OBS-1 OBS-2 --format json`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObservationDiffJson<'a> {
    /// `fearless.observation-diff/v1`.
    #[schemars(extend("const" = "fearless.observation-diff/v1"))]
    schema: &'static str,
    /// `OBS-N`, the first.
    #[schemars(pattern(r"^OBS-[0-9]+$"))]
    from: String,
    /// `OBS-N`, the second.
    #[schemars(pattern(r"^OBS-[0-9]+$"))]
    to: String,
    /// What changed.
    diff: &'a ObservationDiff,
}

/// `fearless map list`.
pub(crate) async fn list(g: &Global) -> Result<Outcome, Failure> {
    only_human_or_json(g, "map list")?;
    let session = Session::open_to_read(g).await?;
    let all = session
        .reading()
        .observations()
        .await
        .map_err(Failure::from);
    session.close().await;
    let all = all?;
    if g.format == Format::Json {
        let rows: Vec<_> = all
            .iter()
            .map(|o| ObservationLine {
                id: o.id(),
                taken_at: o.taken_at.to_string(),
                actor: &o.actor,
                hosts: o
                    .record
                    .observation
                    .hosts
                    .keys()
                    .map(String::as_str)
                    .collect(),
                undeclared: o.record.drift.undeclared.len(),
                unknown_peers: o.record.drift.unknown_peers.len(),
            })
            .collect();
        print_json(&ObservationList {
            schema: "fearless.observations/v1",
            observations: rows,
        })?;
        return Ok(Outcome::Success);
    }
    let mut t = render::table(&["ID", "TAKEN", "BY", "HOSTS", "UNDECLARED", "UNKNOWN PEERS"]);
    for o in &all {
        t.add_row(vec![
            o.id(),
            o.taken_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            render::text(&o.actor),
            o.record.observation.hosts.len().to_string(),
            o.record.drift.undeclared.len().to_string(),
            o.record.drift.unknown_peers.len().to_string(),
        ]);
    }
    print(&format!("{t}\n{} observation(s)\n", all.len()))?;
    Ok(Outcome::Success)
}

/// `fearless map show OBS-N`: exit 1 when it holds an undeclared dependency, like the run
/// that took it.
pub(crate) async fn show(g: &Global, id: &str) -> Result<Outcome, Failure> {
    only_human_or_json(g, "map show")?;
    // An id is checked before the store is opened: bad input is said as such.
    engine_map::number(id).map_err(Failure::from)?;
    let session = Session::open_to_read(g).await?;
    let one = session
        .reading()
        .observation(id)
        .await
        .map_err(Failure::from);
    session.close().await;
    let one = one?;
    if g.format == Format::Json {
        print_json(&ObservationJson {
            schema: "fearless.observation/v1",
            id: one.id(),
            taken_at: one.taken_at.to_string(),
            actor: &one.actor,
            record: &one.record,
        })?;
    } else {
        print(&human(&one))?;
    }
    Ok(if one.record.drift.has_undeclared() {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// `fearless map diff OBS-1 OBS-2`.
pub(crate) async fn diff(g: &Global, from: &str, to: &str) -> Result<Outcome, Failure> {
    only_human_or_json(g, "map diff")?;
    engine_map::number(from).map_err(Failure::from)?;
    engine_map::number(to).map_err(Failure::from)?;
    let session = Session::open_to_read(g).await?;
    let engine = session.reading();
    let pair = match engine.observation(from).await {
        Ok(a) => engine
            .observation(to)
            .await
            .map(|b| (a, b))
            .map_err(Failure::from),
        Err(e) => Err(Failure::from(e)),
    };
    session.close().await;
    let (a, b) = pair?;
    let d = engine_map::diff(&a, &b);
    if g.format == Format::Json {
        print_json(&ObservationDiffJson {
            schema: "fearless.observation-diff/v1",
            from: a.id(),
            to: b.id(),
            diff: &d,
        })?;
        return Ok(Outcome::Success);
    }
    let mut out = format!("{} → {}\n", a.id(), b.id());
    if d.is_empty() {
        out.push_str("no change: the same edges, peers and listeners\n");
    }
    let sections: [(&str, &Vec<String>); 9] = [
        ("+ edge", &d.edges_added),
        ("- edge", &d.edges_gone),
        ("+ UNDECLARED", &d.undeclared_added),
        ("- undeclared", &d.undeclared_gone),
        ("+ unknown peer", &d.peers_added),
        ("- unknown peer", &d.peers_gone),
        ("+ listener", &d.listeners_added),
        ("- listener", &d.listeners_gone),
        ("host", &d.hosts),
    ];
    for (label, items) in sections {
        for item in items {
            let _ = writeln!(out, "{label}: {}", Escaped(item));
        }
    }
    print(&out)?;
    Ok(Outcome::Success)
}
