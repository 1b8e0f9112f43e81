//! `fearless bisect --host H --snapshot S --manifest M --check C…`: which packages of a
//! manifest break the named checks (`fearless-engine` runs it; this module parses and
//! renders). The host ends restored to the snapshot, verified.

use fearless_engine::bisect::{BisectRequest, Mode};
use fearless_rca::Verdict;

use super::{Session, only_human_or_json, print, print_json, read_manifest};
use crate::args::{BisectArgs, Format, Global};
use crate::exit::{Failure, Outcome};
use crate::render;

pub(crate) async fn run(g: &Global, a: BisectArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "bisect")?;
    let mut checks = Vec::new();
    for c in &a.checks {
        let Some((component, check)) = c.split_once('/') else {
            return Err(Failure::bad_input(
                format!("--check {c:?}: expected COMPONENT/CHECK"),
                Some("e.g. --check orders-api/orders"),
            ));
        };
        checks.push((component.to_owned(), check.to_owned()));
    }
    let req = BisectRequest {
        host: a.host.clone(),
        snapshot: a.snapshot.clone(),
        manifest: read_manifest(&a.manifest)?,
        checks,
        mode: if a.one_at_a_time {
            Mode::OneAtATime
        } else {
            Mode::Halving
        },
        lock_wait: super::duration("--lock-wait", &a.lock_wait, "e.g. 30s or 2m")?,
    };
    let session = Session::open(g).await?;
    let outcome = session.acting()?.bisect(req).await;
    session.close().await;
    let outcome = outcome?;
    let report = &outcome.report;
    if g.format == Format::Json {
        print_json(&BisectJson {
            schema: "fearless.bisect/v1",
            host: &outcome.host,
            report,
        })?;
    } else {
        let mut t = render::table(&["ROUND", "PACKAGES", "CHECKS", "NOTE"]);
        for (i, r) in report.rounds.iter().enumerate() {
            t.add_row(vec![
                (i + 1).to_string().into(),
                r.packages.join(" ").into(),
                render::colored(if r.failed { "fail" } else { "pass" }, Some(!r.failed)),
                if r.flaky {
                    "failed once, passed on re-run"
                } else {
                    ""
                }
                .into(),
            ]);
        }
        let line = match &report.verdict {
            Verdict::Culprits {
                packages,
                with_dependencies,
            } => format!(
                "culprit: {} (applied with: {}) — {} round(s), {} test(s), {:.1}s",
                packages.join(" + "),
                with_dependencies.join(" "),
                report.rounds.len(),
                report.tests,
                report.seconds
            ),
            Verdict::NotReproducible => format!(
                "not reproducible: no subset tested fails on {} — {:.1}s",
                outcome.host, report.seconds
            ),
        };
        print(&format!(
            "{t}\n{line}\n{} restored to SNAP-{}{}\n",
            outcome.host,
            outcome.snapshot,
            if report.restored {
                ", checks pass"
            } else {
                ", but its checks FAIL"
            }
        ))?;
    }
    Ok(if report.restored {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// `bisect --format json`: the host and the bisect's report.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct BisectJson<'a> {
    /// `fearless.bisect/v1`.
    #[schemars(extend("const" = "fearless.bisect/v1"))]
    schema: &'static str,
    /// The host bisected.
    host: &'a str,
    /// The rounds and the culprits.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    report: &'a fearless_engine::bisect::BisectReport,
}
