//! `fearless vulns --feed PATH…`: which advisories of the feeds apply to each host, with
//! the installed and fixed versions and whether the fix is offered now
//! (`fearless-vulns` reads and matches, `fearless-engine::vulns` reads the hosts). Exit 1
//! when an advisory applies (deferred ones only with `--deferred`), 0 when none does, 3
//! when a host could not be read (never called clean), 2 for a feed that cannot be read
//! (located; nothing of it is used).

use std::path::PathBuf;
use std::time::Duration;

use fearless_engine::Fleetwide;
use fearless_engine::vulns::{self as engine_vulns, HostVulns};
use fearless_vulns::{Feed, FeedSource, Finding, Index, Offer, Status};
use schemars::JsonSchema;
use serde::Serialize;

use super::{load_inventory, only_human_or_json, print, print_json, selector};
use crate::args::{Format, Global, VulnsArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

/// Read `--feed` paths whole, or say where they are malformed (exit 2).
pub(crate) fn load_feed(paths: &[PathBuf]) -> Result<Feed, Failure> {
    fearless_vulns::load(paths).map_err(|e| {
        Failure::bad_input(
            format!("--feed: {e}"),
            Some("a feed is OSV JSON (a record, a directory or a zip of them), Debian's security-tracker JSON or an updateinfo.xml, each maybe .gz"),
        )
    })
}

/// `fearless.vulns/v1`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct VulnsJson<'a> {
    /// `fearless.vulns/v1`.
    #[schemars(extend("const" = "fearless.vulns/v1"))]
    schema: &'static str,
    policy: PolicyJson,
    /// The feeds read.
    #[schemars(with = "Vec<serde_json::Value>")]
    feeds: &'a [FeedSource],
    hosts: Vec<HostJson<'a>>,
    summary: Summary,
}

/// What is listed and what counts for the exit code.
#[derive(Debug, Serialize, JsonSchema)]
struct PolicyJson {
    /// Listed, exit 1.
    #[schemars(with = "Vec<String>")]
    applies: Vec<Status>,
    /// Listed and counted only with `--deferred`.
    #[schemars(with = "Vec<String>")]
    deferred: Vec<Status>,
    /// Whether `--deferred` was given.
    deferred_counted: bool,
    /// Counted, never listed.
    #[schemars(with = "Vec<String>")]
    not_listed: Vec<Status>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct HostJson<'a> {
    host: &'a str,
    release: Option<&'a str>,
    scope: Option<String>,
    manager: Option<&'static str>,
    covered: bool,
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    findings: Vec<&'a Finding>,
    unimportant: usize,
    notes: Vec<&'a str>,
    error: Option<ErrorJson>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct ErrorJson {
    kind: &'static str,
    message: String,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
struct Summary {
    hosts: usize,
    /// Hosts whose release and package family the feeds have entries for.
    covered: usize,
    affected_hosts: usize,
    findings: usize,
    advisories: usize,
    fixable: usize,
    offered: usize,
    open: usize,
    deferred: usize,
    unimportant: usize,
    errors: usize,
}

fn summary(read: &[&HostVulns], errors: usize, deferred: bool) -> Summary {
    let mut s = Summary {
        hosts: read.len() + errors,
        errors,
        ..Summary::default()
    };
    let mut ids: Vec<&str> = Vec::new();
    for h in read {
        s.covered += usize::from(h.report.covered);
        let counted: Vec<&Finding> = h.report.counted(deferred).collect();
        if !counted.is_empty() {
            s.affected_hosts += 1;
        }
        s.findings += counted.len();
        for f in &counted {
            ids.push(&f.advisory);
            match f.status {
                Status::Fixable => s.fixable += 1,
                Status::Open => s.open += 1,
                _ => {}
            }
            if f.offered == Offer::Yes {
                s.offered += 1;
            }
        }
        s.deferred += h
            .report
            .findings
            .iter()
            .filter(|f| f.status.deferred())
            .count();
        s.unimportant += h.report.unimportant;
    }
    ids.sort_unstable();
    ids.dedup();
    s.advisories = ids.len();
    s
}

pub(crate) async fn run(g: &Global, a: VulnsArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "vulns")?;
    // The feeds and the selector are checked before any host is contacted.
    let feed = load_feed(&a.feed)?;
    let sel = selector(a.hosts.as_deref())?;
    let config = load_inventory(g).await?;
    let fw = Fleetwide::select(config, sel.as_ref(), Duration::from_secs(120))?;
    let index = Index::new(&feed);
    let results = engine_vulns::read(&fw, &index, a.refresh).await;
    fw.close().await;

    let read: Vec<&HostVulns> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    let errors: Vec<(&String, String)> = results
        .iter()
        .filter_map(|(h, r)| r.as_ref().err().map(|e| (h, e.to_string())))
        .collect();
    let s = summary(&read, errors.len(), a.deferred);
    let applies = s.findings > 0;

    if g.format == Format::Json {
        let hosts = results
            .iter()
            .map(|(host, r)| match r {
                Ok(h) => HostJson {
                    host,
                    release: Some(&h.release),
                    scope: h.report.scope.as_ref().map(ToString::to_string),
                    manager: Some(h.manager.name()),
                    covered: h.report.covered,
                    findings: h.report.findings.iter().collect(),
                    unimportant: h.report.unimportant,
                    notes: h.report.notes.iter().map(String::as_str).collect(),
                    error: None,
                },
                Err(e) => HostJson {
                    host,
                    release: None,
                    scope: None,
                    manager: None,
                    covered: false,
                    findings: Vec::new(),
                    unimportant: 0,
                    notes: Vec::new(),
                    error: Some(ErrorJson {
                        kind: e.kind(),
                        message: e.to_string(),
                    }),
                },
            })
            .collect();
        let all = [
            Status::Fixable,
            Status::Open,
            Status::NoDsa,
            Status::Postponed,
            Status::Ignored,
            Status::EndOfLife,
        ];
        print_json(&VulnsJson {
            schema: "fearless.vulns/v1",
            policy: PolicyJson {
                applies: all.iter().copied().filter(|x| !x.deferred()).collect(),
                deferred: all.iter().copied().filter(|x| x.deferred()).collect(),
                deferred_counted: a.deferred,
                not_listed: vec![Status::Unimportant],
            },
            feeds: &feed.sources,
            hosts,
            summary: s,
        })?;
    } else {
        print(&human(&read, &feed, &s, &a))?;
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        for (h, e) in &errors {
            let _ = writeln!(err, "error: {h}: {}", render::text(e));
        }
    }
    Ok(if !errors.is_empty() {
        Outcome::PassThrough(3)
    } else if applies {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

fn offer_cell(f: &Finding) -> String {
    match f.offered {
        Offer::Yes => {
            let versions: Vec<&str> = f
                .binaries
                .iter()
                .filter_map(|b| b.offered.as_deref())
                .collect();
            let mut v = versions.clone();
            v.dedup();
            match v.as_slice() {
                [one] => format!("yes ({one})"),
                _ => "yes".into(),
            }
        }
        Offer::Partly => "partly".into(),
        Offer::No => "no".into(),
        Offer::NoFix => "-".into(),
        Offer::Unknown => "?".into(),
    }
}

fn feed_line(src: &FeedSource) -> String {
    let formats: Vec<String> = src.formats.iter().map(ToString::to_string).collect();
    let mut line = format!(
        "feed {}: {} record(s) in {} file(s) ({})",
        src.path,
        src.records,
        src.files,
        formats.join(", ")
    );
    if !src.scopes.is_empty() {
        let scopes: Vec<String> = src
            .scopes
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        line.push_str(&format!("; entries: {}", scopes.join(", ")));
    }
    if !src.unmatched.is_empty() {
        let un: Vec<String> = src
            .unmatched
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        line.push_str(&format!("; not matched: {}", un.join(", ")));
    }
    line
}

fn human(hosts: &[&HostVulns], feed: &Feed, s: &Summary, a: &VulnsArgs) -> String {
    let mut t = render::table(&[
        "HOST",
        "ADVISORY",
        "ALIASES",
        "PACKAGE",
        "INSTALLED",
        "FIXED",
        "OFFERED",
        "STATUS",
    ]);
    let mut rows = 0;
    let mut notes = Vec::new();
    for h in hosts {
        for f in h.report.counted(a.deferred) {
            rows += 1;
            let package = match f.by {
                fearless_vulns::By::Source => format!("{} (source)", f.package),
                fearless_vulns::By::Binary => f.package.to_string(),
            };
            t.add_row(vec![
                render::text(&h.host),
                render::text(&f.advisory),
                render::text(&f.aliases.join(", ")),
                render::text(&package),
                render::text(&f.installed),
                render::text(f.fixed.as_deref().unwrap_or("-")),
                render::text(&offer_cell(f)),
                f.status.to_string(),
            ]);
        }
        for n in &h.report.notes {
            notes.push(format!(
                "note: {}: {}",
                render::text(&h.host),
                render::text(n)
            ));
        }
    }
    let mut out = String::new();
    if rows > 0 {
        out.push_str(&format!("{t}\n"));
    }
    for src in &feed.sources {
        out.push_str(&render::text(&feed_line(src)));
        out.push('\n');
    }
    for n in notes {
        out.push_str(&n);
        out.push('\n');
    }
    if s.deferred > 0 && !a.deferred {
        out.push_str(&format!(
            "{} deferred finding(s) not listed (no-dsa, postponed, ignored, end-of-life): --deferred lists them\n",
            s.deferred
        ));
    }
    if s.unimportant > 0 {
        out.push_str(&format!(
            "{} finding(s) Debian rates unimportant not listed\n",
            s.unimportant
        ));
    }
    let covered = s.covered;
    out.push_str(&if s.findings == 0 {
        format!("no advisory applies to the {covered} host(s) the feeds cover\n")
    } else {
        format!(
            "{} advisory(ies) apply on {} of the {covered} host(s) the feeds cover: {} finding(s), {} fixable ({} offered now), {} open\n",
            s.advisories, s.affected_hosts, s.findings, s.fixable, s.offered, s.open
        )
    });
    let uncovered: Vec<&str> = hosts
        .iter()
        .filter(|h| !h.report.covered)
        .map(|h| h.host.as_str())
        .collect();
    if !uncovered.is_empty() {
        out.push_str(&format!(
            "not covered by any feed: {} (nothing about them is said clean)\n",
            render::text(&uncovered.join(", "))
        ));
    }
    if s.fixable > 0 && !a.refresh {
        out.push_str(
            "offered: from each host's repository metadata as last refreshed (--refresh refreshes it first)\n",
        );
    }
    out
}
