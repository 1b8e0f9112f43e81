//! `fearless rehearse --role HOST (--onto TARGET | --release NAME)`: a host's role rebuilt
//! on a brand-new OS (`fearless-engine::rehearse` decides and journals; with `--release`,
//! `fearless-lab` brings the host up next to the lab and removes it). Exit 0 when the role
//! works there, 1 when something broke, 2 on bad input, 3 when the rehearsal could not run
//! (or its host could not be removed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use fearless_engine::EngineError;
use fearless_engine::rehearse::{
    Action, Finding, NewHost, Onto, Provision, Report, Request, Severity, Verdict, Why,
};
use fearless_lab::{LabError, Release};
use futures::future::BoxFuture;
use serde::Serialize;

use super::{Session, only_human_or_json, print, print_json};
use crate::args::{Format, Global, RehearseArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

/// A fresh host of a release, next to the lab in `dir`.
struct LabRelease {
    dir: PathBuf,
    cache: PathBuf,
    release: Release,
    quiet: bool,
}

fn lab_error(e: &LabError) -> EngineError {
    EngineError::Environment(match e.hint() {
        Some(h) => format!("{e}\nhint: {h}"),
        None => e.to_string(),
    })
}

impl Provision for LabRelease {
    fn describe(&self) -> String {
        format!("{}, a new lab host", self.release.describe())
    }

    fn up(&self) -> BoxFuture<'_, Result<NewHost, EngineError>> {
        let (dir, cache, release, quiet) = (
            self.dir.clone(),
            self.cache.clone(),
            self.release,
            self.quiet,
        );
        Box::pin(async move {
            // The lab library blocks (processes, mounts): off the async workers.
            let host = tokio::task::spawn_blocking(move || {
                fearless_lab::rehearsal_up(&dir, &cache, release, &mut super::lab::progress(quiet))
            })
            .await
            .map_err(|e| EngineError::Environment(format!("the lab task failed: {e}")))?
            .map_err(|e| lab_error(&e))?;
            Ok(NewHost {
                name: host.name,
                address: host.address.to_string(),
                port: host.port,
                user: "root".into(),
            })
        })
    }

    fn remove(&self, _host: &NewHost) -> Result<(), EngineError> {
        remove_rehearsal_host(&self.dir, self.quiet)
    }
}

/// Remove the lab's rehearsal host; another lab command holding the lab a moment (a
/// rehearsal host still coming up when Ctrl-C came) is waited for, a while.
fn remove_rehearsal_host(dir: &Path, quiet: bool) -> Result<(), EngineError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match fearless_lab::rehearsal_down(dir, &mut super::lab::progress(quiet)) {
            Err(LabError::Busy { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => return Err(lab_error(&e)),
            Ok(_) => return Ok(()),
        }
    }
}

pub(crate) async fn run(g: &Global, a: RehearseArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "rehearse")?;
    let release = a
        .release
        .as_deref()
        .map(str::parse::<Release>)
        .transpose()
        .map_err(|e| Failure::bad_input(format!("--release: {e}"), None))?;
    let session = Session::open(g).await?;
    let engine = session.acting()?;
    let provision = match release {
        Some(release) => {
            let dir = a.lab.clone().unwrap_or_else(|| session.config.base_dir());
            let dir = std::path::absolute(&dir)
                .map_err(|e| Failure::bad_input(format!("--lab {}: {e}", dir.display()), None))?;
            if !dir.join("state.json").is_file() {
                return Err(Failure::bad_input(
                    format!(
                        "--release brings a host up next to a lab, and there is no lab in {}",
                        render::text(&dir.display().to_string())
                    ),
                    Some(
                        "use the lab's configuration (-c .fearless/lab/fearless.yaml) or --lab DIR; for a host of your own, --onto HOST",
                    ),
                ));
            }
            Some(LabRelease {
                dir,
                cache: a.cache.clone(),
                release,
                quiet: g.quiet,
            })
        }
        None => None,
    };
    let onto = match (&provision, &a.onto) {
        (Some(p), _) => Onto::New(p),
        (None, Some(host)) => Onto::Host(host),
        (None, None) => {
            return Err(Failure::bad_input(
                "say where to rebuild the role: --onto HOST or --release NAME",
                None,
            ));
        }
    };
    let req = Request {
        role: a.role.clone(),
        components: a.components.clone(),
        keep: a.keep,
        change: a.change.clone(),
    };
    let ended = tokio::select! {
        r = engine.rehearse(&req, onto) => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    let Some(result) = ended else {
        // The rehearsal was dropped (its host removed as it went); a host still coming up
        // then is removed once it is up.
        let removed = match &provision {
            Some(p) => {
                let (dir, quiet) = (p.dir.clone(), p.quiet);
                tokio::task::spawn_blocking(move || remove_rehearsal_host(&dir, quiet))
                    .await
                    .map_err(|e| EngineError::Environment(e.to_string()))
                    .and_then(|r| r)
            }
            None => Ok(()),
        };
        session.close().await;
        return Err(Failure::Environment(anyhow::anyhow!(
            "interrupted: the rehearsal did not finish{}",
            match removed {
                Ok(()) if provision.is_some() => "; its host was removed".to_owned(),
                Ok(()) => String::new(),
                Err(e) => format!("; its host could not be removed: {e}"),
            }
        )));
    };
    session.close().await;
    let report = result?;
    if g.format == Format::Json {
        print_json(&ReportJson {
            schema: "fearless.rehearse/v1",
            report: &report,
        })?;
    } else {
        print(&human(&report))?;
    }
    if let Some(e) = &report.target.remove_error {
        return Err(Failure::Environment(anyhow::anyhow!(
            "the rehearsal host {} could not be removed: {e}",
            report.target.host
        )));
    }
    Ok(match report.verdict {
        Verdict::Works => Outcome::Success,
        Verdict::Broken => Outcome::Failed,
    })
}

/// The report as `--format json` prints it.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ReportJson<'a> {
    /// `fearless.rehearse/v1`.
    #[schemars(extend("const" = "fearless.rehearse/v1"))]
    schema: &'static str,
    /// The rehearsal's report.
    #[serde(flatten)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    report: &'a Report,
}

fn finding_lines(f: &Finding, out: &mut String) {
    let package = f
        .package
        .as_deref()
        .filter(|p| *p != f.subject)
        .map(|p| format!(" ({})", render::text(p)))
        .unwrap_or_default();
    out.push_str(&format!(
        "{} {}: {}{package}\n   {}\n",
        f.id,
        f.kind.title(),
        render::text(&f.subject),
        render::text(&f.detail)
    ));
    for e in &f.evidence {
        out.push_str(&format!("   seen: {}\n", render::text(e)));
    }
    if !f.breaks.is_empty() {
        out.push_str(&format!(
            "   breaks: {}\n",
            render::text(&f.breaks.join(", "))
        ));
    }
    if !f.caused_by.is_empty() {
        out.push_str(&format!("   because of: {}\n", f.caused_by.join(", ")));
    }
}

/// `1 package`, `3 packages`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn human(r: &Report) -> String {
    let mut out = String::new();
    let os = |o: &Option<String>| {
        o.as_deref()
            .map(|s| format!(" ({})", render::text(s)))
            .unwrap_or_default()
    };
    out.push_str(&format!(
        "rehearsal of {}{} on {}{}, {}: {:.1} s\n",
        render::text(&r.role.host),
        os(&r.role.os),
        render::text(&r.target.host),
        os(&r.target.os),
        if r.target.provisioned {
            "brought up for it"
        } else {
            "an inventory host"
        },
        r.timings.total_ms as f64 / 1000.0
    ));
    let requested = r
        .packages
        .iter()
        .filter(|p| p.why == Why::Requested)
        .count();
    let kept = r.packages.len() - requested;
    out.push_str(&format!(
        "role: {} — {} asked for by name, {} at {}; components {}; {}\n",
        r.role.snapshot,
        count(requested, "package", "packages"),
        count(kept, "dependency", "dependencies"),
        if kept == 1 {
            "its version"
        } else {
            "their versions"
        },
        r.role.components.join(", "),
        count(r.files.len(), "declared file", "declared files")
    ));
    for x in &r.role.excluded {
        out.push_str(&format!(
            "left out: {} ({})\n",
            x.component,
            if x.packages.is_empty() {
                "no package of its own".to_owned()
            } else {
                x.packages.join(", ")
            }
        ));
    }
    out.push('\n');

    let mut t = render::table(&["PACKAGE", &r.role.host, "ASKED", &r.target.host]);
    for p in &r.packages {
        let (asked, good) = match &p.action {
            Action::Exact { version } => (version.clone(), Some(true)),
            Action::Closest { version, .. } => (format!("{version} (closest)"), None),
            Action::NewOs { .. } => ("the new OS's".to_owned(), Some(true)),
            Action::Missing { .. } => ("not offered".to_owned(), Some(false)),
        };
        let now = match (&p.installed, p.unconfigured) {
            (Some(v), false) => render::colored(v, Some(true)),
            (Some(v), true) => render::colored(&format!("{v} (not configured)"), Some(false)),
            (None, _) => render::colored("-", good.map(|_| false)),
        };
        t.add_row(vec![
            render::text(&p.name).into(),
            render::text(&p.role_version).into(),
            render::colored(&render::text(&asked), good),
            now,
        ]);
    }
    out.push_str(&format!("{t}\n\n"));
    if !r.services.is_empty() {
        let mut t = render::table(&["SERVICE", "PACKAGE", "ON NEW HOST"]);
        for s in &r.services {
            let state = if s.running {
                "running".to_owned()
            } else if s.missing {
                "missing".to_owned()
            } else {
                match s.exit {
                    Some(code) => format!("not running (start exited {code})"),
                    None => "not running".to_owned(),
                }
            };
            t.add_row(vec![
                render::text(&s.name).into(),
                render::text(&s.package).into(),
                render::colored(&state, Some(s.running)),
            ]);
        }
        out.push_str(&format!("{t}\n\n"));
    }
    if !r.files.is_empty() {
        let mut t = render::table(&["FILE", "COMPONENTS", "CARRIED OVER"]);
        for f in &r.files {
            t.add_row(vec![
                render::text(&f.path).into(),
                render::text(&f.components.join(", ")).into(),
                render::colored(
                    &match (&f.problem, f.bytes) {
                        (None, Some(b)) => format!("yes, {b} bytes"),
                        (None, None) => "yes".to_owned(),
                        (Some(p), _) => render::text(p),
                    },
                    Some(f.copied && f.problem.is_none()).filter(|ok| *ok || !f.copied),
                ),
            ]);
        }
        out.push_str(&format!("{t}\n\n"));
    }
    let mut t = render::table(&["CHECK", "STATUS", "MESSAGE"]);
    for c in &r.checks {
        t.add_row(vec![
            render::text(&c.id()).into(),
            render::colored(&c.status, Some(c.ok())),
            render::text(&c.message).into(),
        ]);
    }
    out.push_str(&format!("{t}\n\n"));

    let errors: Vec<&Finding> = r.errors().collect();
    let failing = r.checks.iter().filter(|c| !c.ok()).count();
    match r.verdict {
        Verdict::Broken => out.push_str(&format!(
            "BROKEN: {}'s role does not work on {} ({} finding(s), {failing} of {} check(s) fail)\n",
            render::text(&r.role.host),
            render::text(&r.target.host),
            errors.len(),
            r.checks.len()
        )),
        Verdict::Works => out.push_str(&format!(
            "WORKS: {}'s role works on {}: installed, started, {} check(s) pass\n",
            render::text(&r.role.host),
            render::text(&r.target.host),
            r.checks.len()
        )),
    }
    for f in &errors {
        finding_lines(f, &mut out);
    }
    let warnings: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .collect();
    if !warnings.is_empty() {
        out.push_str("warnings (it works, but differs):\n");
        for f in warnings {
            finding_lines(f, &mut out);
        }
    }
    if r.target.provisioned {
        if r.target.kept {
            out.push_str(&format!(
                "hint: {} is kept: fearless lab ssh {}; the next rehearsal replaces it, `fearless lab down` removes it with the lab\n",
                render::text(&r.target.host),
                render::text(&r.target.host)
            ));
        } else if r.target.remove_error.is_none() {
            out.push_str(&format!(
                "{} was removed (--keep leaves it up to explore)\n",
                render::text(&r.target.host)
            ));
        }
    }
    out
}
