//! `fearless discover`: a configuration drafted from the live fleet (`fearless-engine`
//! observes, drafts and validates it); this module writes it and says how it differs from
//! the configuration it ran with.
//!
//! Without `-o` the draft goes to stdout (`fearless discover > draft.yaml`) and the
//! proposals to stderr. With `-o FILE` the draft is written to FILE, or — when FILE exists
//! — beside it as `FILE.draft`, never over it; the proposals go to stdout.

use std::fmt::Write as _;
use std::path::PathBuf;

use fearless_engine::discover::{Proposal, propose};
use fearless_engine::map::ObserveRequest;
use fearless_io::Escaped;
use serde::Serialize;

use super::{Session, duration, print, print_json, selector, writable, write_output};
use crate::args::{DiscoverArgs, Format, Global};
use crate::exit::{Failure, Outcome};

pub(crate) async fn run(g: &Global, a: DiscoverArgs) -> Result<Outcome, Failure> {
    if !matches!(g.format, Format::Human | Format::Yaml | Format::Json) {
        return Err(Failure::bad_input(
            format!(
                "`discover` prints yaml (the draft) or json, not {:?}",
                g.format
            )
            .to_lowercase(),
            Some("use --format yaml (the default) or --format json"),
        ));
    }
    let request = ObserveRequest {
        hosts: selector(a.hosts.as_deref())?,
        window: duration("--for", &a.window, "10s")?,
        interval: duration("--interval", &a.interval, "500ms")?,
    };
    request.check()?;
    let target = match &a.output {
        Some(path) if path.exists() => Some((draft_beside(path), true)),
        Some(path) => Some((path.clone(), false)),
        None => None,
    };
    if let Some((path, _)) = &target {
        writable(path)?;
    }
    let session = Session::open(g).await?;
    let found = match session.acting() {
        Ok(engine) => engine.discover(&request).await.map_err(Failure::from),
        Err(e) => Err(e),
    };
    let proposals = found
        .as_ref()
        .map(|d| propose(&session.config, &d.draft))
        .unwrap_or_default();
    session.close().await;
    let found = found?;

    if g.format == Format::Json {
        if let Some((path, _)) = &target {
            write_output(path, found.yaml.as_bytes())?;
        }
        print_json(&DiscoverJson {
            schema: "fearless.discover/v1",
            observation: found.observation.id(),
            written: target.as_ref().map(|(p, _)| p.display().to_string()),
            draft: &found.draft,
            proposals: &proposals,
            yaml: &found.yaml,
        })?;
        return Ok(Outcome::Success);
    }
    let summary = summary(&found.draft, &proposals);
    match &target {
        Some((path, beside)) => {
            write_output(path, found.yaml.as_bytes())?;
            let mut out = format!(
                "wrote the draft to {}{}\n",
                Escaped(&path.to_string_lossy()),
                if *beside {
                    " (the file you named exists: it was left as it is)"
                } else {
                    ""
                }
            );
            out.push_str(&summary);
            print(&out)?;
        }
        None => {
            print(&found.yaml)?;
            eprint_summary(&summary);
        }
    }
    Ok(Outcome::Success)
}

/// `FILE.draft` beside `FILE`.
fn draft_beside(path: &std::path::Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".draft");
    path.with_file_name(name)
}

/// `discover --format json`: the draft, how it differs from the config, and its YAML.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct DiscoverJson<'a> {
    /// `fearless.discover/v1`.
    #[schemars(extend("const" = "fearless.discover/v1"))]
    schema: &'static str,
    /// `OBS-N`, the observation it drafted from.
    #[schemars(pattern(r"^OBS-[0-9]+$"))]
    observation: String,
    /// The file written (`-o`), if any.
    written: Option<String>,
    /// The drafted components.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    draft: &'a fearless_engine::discover::Draft,
    /// What it proposes to change in the config.
    #[schemars(with = "Vec<serde_json::Value>")]
    proposals: &'a [Proposal],
    /// The draft as YAML.
    yaml: &'a str,
}

/// What was drafted and how it differs from the configuration.
fn summary(draft: &fearless_engine::discover::Draft, proposals: &[Proposal]) -> String {
    let mut out = String::new();
    let hosted = draft.components.iter().filter(|c| !c.external).count();
    let edges: usize = draft.components.iter().map(|c| c.depends_on.len()).sum();
    let _ = writeln!(
        out,
        "{}: {hosted} component(s) on the hosts, {} external, {edges} dependencies",
        draft.observation,
        draft.components.len() - hosted
    );
    if proposals.is_empty() {
        out.push_str("the configuration already declares everything that was seen\n");
    }
    for p in proposals {
        let line = match p {
            Proposal::NewComponent { name, seen } => format!("+ component {name} ({seen})"),
            Proposal::NewDependency { from, to, seen } => {
                format!("+ UNDECLARED dependency {from} → {to} (seen: {seen})")
            }
            Proposal::NewDependencyOnNew { from, to, seen } => {
                format!("+ dependency {from} → {to} (seen: {seen})")
            }
            Proposal::NotSeen { from, to } => {
                format!("? {from} → {to}: declared, not seen in the window")
            }
        };
        let _ = writeln!(out, "{}", Escaped(&line));
    }
    for n in &draft.notes {
        let _ = writeln!(out, "note: {}", Escaped(n));
    }
    out
}

fn eprint_summary(text: &str) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}
