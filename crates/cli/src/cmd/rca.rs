//! `fearless rca INC-N`: the post-incident report of an incident — `fearless-engine`
//! gathers the evidence and keeps the report with the incident; this module renders it
//! (Markdown, HTML or JSON) to stdout or a file.

use fearless_rca::report;

use super::{Session, print};
use crate::args::{Format, Global, RcaArgs};
use crate::exit::{Failure, Outcome};

pub(crate) async fn run(g: &Global, a: RcaArgs) -> Result<Outcome, Failure> {
    if !matches!(
        g.format,
        Format::Human | Format::Md | Format::Html | Format::Json
    ) {
        return Err(Failure::bad_input(
            format!("`rca` prints md, html or json, not {:?}", g.format).to_lowercase(),
            Some("use --format md, --format html or --format json"),
        ));
    }
    if let Some(path) = &a.output {
        super::writable(path)?;
    }
    let session = Session::open(g).await?;
    let rca = match session.acting() {
        Ok(engine) => engine.rca(&a.id, !a.no_live).await.map_err(Failure::from),
        Err(e) => Err(e),
    };
    session.close().await;
    let rca = rca?;
    let text = match g.format {
        Format::Html => report::html(&rca.report),
        Format::Json => serde_json::to_string_pretty(&RcaJson {
            id: &rca.report.incident,
            report: &rca.report,
        })
        .map(|s| s + "\n")
        .map_err(|e| Failure::Environment(e.into()))?,
        _ => rca.markdown.clone(),
    };
    match &a.output {
        Some(path) => {
            super::write_output(path, text.as_bytes())?;
            if !g.quiet {
                super::progress::note(&format!(
                    "{}: report written to {}",
                    rca.incident,
                    path.display()
                ));
            }
            print(&format!("{}\n", rca.report.attribution))?;
        }
        None => print(&text)?,
    }
    Ok(Outcome::Success)
}

/// `rca INC-N --format json`: the report (`fearless.rca/v1`) with the incident's id as typed
/// (`INC-N`, also the report's `incident`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct RcaJson<'a> {
    /// `INC-N`.
    #[schemars(pattern(r"^INC-[0-9]+$"))]
    id: &'a str,
    /// The report.
    #[serde(flatten)]
    report: &'a report::Report,
}
