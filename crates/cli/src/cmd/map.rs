//! `fearless map`: the declared dependency map on one page (`fearless-engine::map` builds
//! it, `fearless-map` lays it out and draws it), a component's blast radius or needs, the
//! health of a saved run, and — with `--observe` — the drift between what the config
//! declares and what the hosts' live connections show, kept in the store (`map list`,
//! `map show OBS-N`, `map diff OBS-1 OBS-2`).

use std::path::Path;

use fearless_engine::map::{self as engine_map, KeptObservation, ObserveRequest};
use fearless_map::{Direction, Map, MapError};
use fearless_observe::{Drift, sarif};
use fearless_probe::baseline::Baseline;
use serde::Serialize;

use super::{Session, duration, load_inventory, print, selector, writable, write_output};
use crate::args::{Format, Global, MapAction, MapArgs};
use crate::exit::{Failure, Outcome};

/// JSON schema identifier of `fearless map --format json`.
const SCHEMA: &str = "fearless.map/v1";

pub(crate) async fn run(g: &Global, a: MapArgs) -> Result<Outcome, Failure> {
    let drawing_flags = a.output.is_some()
        || !a.components.is_empty()
        || a.status.is_some()
        || a.impact.is_some()
        || a.needs.is_some()
        || a.observe;
    if a.action.is_some() && drawing_flags {
        return Err(Failure::bad_input(
            "`map list`, `map show` and `map diff` take no drawing options",
            Some(
                "draw with `fearless map [OPTIONS]`; read observations with `fearless map show OBS-N`",
            ),
        ));
    }
    match a.action {
        Some(MapAction::List) => list(g).await,
        Some(MapAction::Show { ref id }) => show(g, id).await,
        Some(MapAction::Diff { ref from, ref to }) => diff(g, from, to).await,
        None => draw(g, &a).await,
    }
}

/// The map as the options ask: declared, coloured, focused, observed.
async fn draw(g: &Global, a: &MapArgs) -> Result<Outcome, Failure> {
    let drawing = matches!(
        g.format,
        Format::Human | Format::Json | Format::Svg | Format::Mermaid | Format::Dot
    );
    if !(drawing || (a.observe && g.format == Format::Sarif)) {
        return Err(Failure::bad_input(
            format!(
                "`map` prints human, json, svg, mermaid or dot{}, not {:?}",
                if a.observe {
                    " (and sarif with --observe)"
                } else {
                    ""
                },
                g.format
            )
            .to_lowercase(),
            Some("e.g. fearless map --format svg -o map.svg"),
        ));
    }
    if let Some(path) = &a.output {
        writable(path)?;
    }
    // Every option is checked before a host is contacted.
    let observe = if a.observe {
        let request = ObserveRequest {
            hosts: selector(a.hosts.as_deref())?,
            window: duration("--for", &a.window, "30s")?,
            interval: duration("--interval", &a.interval, "500ms")?,
        };
        request.check()?;
        Some(request)
    } else {
        None
    };
    let run = a.status.as_deref().map(load_run).transpose()?;

    let (config, observed) = match observe {
        Some(request) => {
            let session = Session::open(g).await?;
            let observed = match session.acting() {
                Ok(engine) => engine.observe(&request).await.map_err(Failure::from),
                Err(e) => Err(e),
            };
            let config = session.config.clone();
            session.close().await;
            (config, Some(observed?))
        }
        None => (load_inventory(g).await?, None),
    };

    let mut map = engine_map::declared(&config);
    if let Some(run) = &run {
        engine_map::with_status(&mut map, &config, run);
    }
    if let Some(o) = &observed {
        engine_map::with_drift(&mut map, &o.record.drift);
    }
    if !a.components.is_empty() {
        map = map.subset(&a.components).map_err(|e| map_input(&e))?;
    }
    let focus = match (&a.impact, &a.needs) {
        (Some(c), _) => Some((c.as_str(), Direction::Impact)),
        (None, Some(c)) => Some((c.as_str(), Direction::Needs)),
        (None, None) => None,
    };
    let reached = match focus {
        Some((c, direction)) => {
            let reached = map.reach(c, direction).map_err(|e| map_input(&e))?;
            map.focus(c, direction).map_err(|e| map_input(&e))?;
            Some(Focus {
                component: c.to_owned(),
                direction: match direction {
                    Direction::Impact => "impact",
                    Direction::Needs => "needs",
                },
                components: reached,
            })
        }
        None => None,
    };

    let text = match g.format {
        Format::Svg => fearless_map::svg(&map),
        Format::Mermaid => fearless_map::mermaid(&map),
        Format::Dot => fearless_map::dot(&map),
        Format::Sarif => {
            let o = observed
                .as_ref()
                .ok_or_else(|| Failure::bad_input("sarif needs --observe", None))?;
            let log = sarif(&o.record.drift, &config.path);
            serde_json::to_string_pretty(&log).map_err(|e| Failure::Environment(e.into()))? + "\n"
        }
        Format::Json => {
            let doc = MapJson {
                schema: SCHEMA,
                focus: reached.as_ref(),
                observation: observed.as_ref().map(|o| o.id()),
                drift: observed.as_ref().map(|o| &o.record.drift),
                map: &map,
            };
            serde_json::to_string_pretty(&doc).map_err(|e| Failure::Environment(e.into()))? + "\n"
        }
        _ => human(&map, reached.as_ref(), observed.as_ref()),
    };
    match &a.output {
        Some(path) => {
            write_output(path, text.as_bytes())?;
            print(&format!(
                "wrote {}\n",
                fearless_io::Escaped(&path.to_string_lossy())
            ))?;
        }
        None => print(&text)?,
    }
    Ok(match &observed {
        Some(o) if o.record.drift.has_undeclared() => Outcome::Failed,
        _ => Outcome::Success,
    })
}

/// `fearless map --format json`.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct MapJson<'a> {
    /// `fearless.map/v1`.
    #[schemars(extend("const" = "fearless.map/v1"))]
    schema: &'static str,
    /// What `--impact` or `--needs` found.
    #[serde(skip_serializing_if = "Option::is_none")]
    focus: Option<&'a Focus>,
    /// `OBS-N` (`--observe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^OBS-[0-9]+$"))]
    observation: Option<String>,
    /// The drift report (`--observe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    drift: Option<&'a Drift>,
    /// The laid-out map.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    map: &'a Map,
}

/// What `--impact C` or `--needs C` found.
#[derive(Serialize, schemars::JsonSchema)]
struct Focus {
    /// The component asked about.
    component: String,
    /// `impact` or `needs`.
    direction: &'static str,
    /// The components reached.
    components: Vec<String>,
}

/// The text view: the focus list first, then the drift, then the map.
fn human(map: &Map, focus: Option<&Focus>, observed: Option<&KeptObservation>) -> String {
    let mut out = String::new();
    if let Some(f) = focus {
        let what = match f.direction {
            "impact" => format!("if {} breaks, these break too", shown(&f.component)),
            _ => format!("{} needs", shown(&f.component)),
        };
        if f.components.is_empty() {
            out.push_str(&format!("{what}: nothing\n\n"));
        } else {
            out.push_str(&format!("{what} ({}):\n", f.components.len()));
            for c in &f.components {
                out.push_str(&format!("  {}\n", shown(c)));
            }
            out.push('\n');
        }
    }
    if let Some(o) = observed {
        out.push_str(&super::drift::human(o));
        out.push('\n');
    }
    out.push_str(&fearless_map::human(map));
    out
}

fn shown(text: &str) -> String {
    fearless_io::escape_terminal(text).into_owned()
}

/// A saved run for `--status`: a baseline file.
fn load_run(path: &Path) -> Result<Baseline, Failure> {
    Baseline::load(path).map_err(|e| {
        Failure::bad_input(
            format!("--status: {e}"),
            Some("give a file written by `fearless check --save-baseline FILE`"),
        )
    })
}

/// A component the options name that the map does not have.
fn map_input(e: &MapError) -> Failure {
    Failure::bad_input(e.to_string(), Some("`fearless map` lists the components"))
}

async fn list(g: &Global) -> Result<Outcome, Failure> {
    super::drift::list(g).await
}

async fn show(g: &Global, id: &str) -> Result<Outcome, Failure> {
    super::drift::show(g, id).await
}

async fn diff(g: &Global, from: &str, to: &str) -> Result<Outcome, Failure> {
    super::drift::diff(g, from, to).await
}
