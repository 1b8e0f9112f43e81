//! `fearless os`: each host's release, kernel, package manager and support by tier
//! (`fearless-engine::os` reads and assesses, `fearless-platform` holds the tables), every
//! date with its source; `--summary` counts hosts per release. Exit 1 when a host is past
//! end of life; 3 when a host could not be read.

use std::collections::BTreeMap;
use std::path::Path;

use fearless_engine::Fleetwide;
use fearless_engine::os::{self as engine_os, HostOs};
use fearless_platform::{State, Table, TierEnd};
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::Serialize;

use super::{
    ErrorJson, HostMessage, load_inventory, only_human_or_json, print, print_json, selector,
};
use crate::args::{Format, Global, OsArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

/// How large a support table may be.
const EOL_LIMIT: fearless_io::Limit = fearless_io::Limit::bytes(16 * 1024 * 1024);

pub(crate) async fn run(g: &Global, a: OsArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "os")?;
    // Every option is checked before a host is contacted.
    let today = today(a.today.as_deref())?;
    let eol_data = a.eol_data.as_deref().map(read_table).transpose()?;
    let sel = selector(a.hosts.as_deref())?;
    let config = load_inventory(g).await?;
    let fw = Fleetwide::select(config, sel.as_ref(), std::time::Duration::from_secs(120))?;
    let results = engine_os::read(&fw, eol_data.as_ref(), today).await;
    fw.close().await;

    let read: Vec<&HostOs> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    let errors: Vec<(&String, String)> = results
        .iter()
        .filter_map(|(h, r)| r.as_ref().err().map(|e| (h, e.to_string())))
        .collect();
    let mut tables: Vec<String> = eol_data.iter().map(|t| t.origin.clone()).collect();
    for t in Table::embedded() {
        if !tables.contains(&t.origin) {
            tables.push(t.origin);
        }
    }

    if a.summary {
        let owned: Vec<HostOs> = read.iter().map(|h| (*h).clone()).collect();
        let summary = engine_os::summary(&owned);
        if g.format == Format::Json {
            print_json(&OsSummaryJson {
                schema: "fearless.os-summary/v1",
                today: today.to_string(),
                tables: &tables,
                releases: &summary,
                errors: host_messages(&errors),
            })?;
        } else {
            let mut t = render::table(&["RELEASE", "NAME", "SUPPORT", "HOSTS", "WHICH"]);
            for r in &summary {
                t.add_row(vec![
                    render::text(&r.release).into(),
                    render::text(&r.name).into(),
                    state_cell(r.state),
                    r.count.to_string().into(),
                    render::names(&r.hosts).into(),
                ]);
            }
            print(&format!(
                "{t}\n{} host(s), {} release(s), on {today}\n",
                read.len(),
                summary.len()
            ))?;
        }
    } else if g.format == Format::Json {
        let hosts = results
            .iter()
            .map(|(host, r)| match r {
                Ok(h) => OsHostJson::Read {
                    host,
                    os: &h.os,
                    release: h.support.release.to_string(),
                    kernel: &h.kernel,
                    manager: h.manager.name(),
                    distro_info: &h.distro_info,
                    support: &h.support,
                    error: None,
                },
                Err(e) => OsHostJson::Failed {
                    host,
                    error: ErrorJson::of(e),
                },
            })
            .collect();
        print_json(&OsJson {
            schema: "fearless.os/v1",
            today: today.to_string(),
            warn_days: fearless_platform::WARN_DAYS,
            tables: &tables,
            hosts,
        })?;
    } else {
        print(&human(&read, today, &tables))?;
    }
    for (host, e) in &errors {
        if g.format != Format::Json {
            eprintln_line(&format!("error: {host}: {}", render::text(e)));
        }
    }
    let eol = read.iter().any(|h| h.support.state == State::EndOfLife);
    Ok(if !errors.is_empty() {
        Outcome::PassThrough(3)
    } else if eol {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

fn host_messages<'a>(errors: &'a [(&'a String, String)]) -> Vec<HostMessage<'a>> {
    errors
        .iter()
        .map(|(h, e)| HostMessage {
            host: h,
            message: e,
        })
        .collect()
}

/// `os --summary --format json`: hosts per release.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct OsSummaryJson<'a> {
    /// `fearless.os-summary/v1`.
    #[schemars(extend("const" = "fearless.os-summary/v1"))]
    schema: &'static str,
    /// The day support was judged on (`YYYY-MM-DD`).
    today: String,
    /// The support tables read, newest first.
    tables: &'a [String],
    /// Each release and its hosts.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    releases: &'a [engine_os::ReleaseCount],
    /// Hosts that could not be read.
    errors: Vec<HostMessage<'a>>,
}

/// `os --format json`: each host's release and its support.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct OsJson<'a> {
    /// `fearless.os/v1`.
    #[schemars(extend("const" = "fearless.os/v1"))]
    schema: &'static str,
    /// The day support was judged on (`YYYY-MM-DD`).
    today: String,
    /// Days before an end that warn.
    warn_days: i64,
    /// The support tables read, newest first.
    tables: &'a [String],
    /// Each host.
    hosts: Vec<OsHostJson<'a>>,
}

/// One host of `os`: read, or its error.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
enum OsHostJson<'a> {
    /// Its release was read.
    Read {
        /// Inventory name.
        host: &'a str,
        /// Its os-release.
        #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
        os: &'a fearless_platform::OsRelease,
        /// The release as the support tables name it.
        release: String,
        /// `uname -r`.
        kernel: &'a str,
        /// Its package manager.
        manager: &'static str,
        /// What the host's own distro-info data says.
        distro_info: &'a [String],
        /// Its support.
        #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
        support: &'a fearless_platform::Support,
        /// Always null.
        error: Option<ErrorJson>,
    },
    /// It could not be read.
    Failed {
        /// Inventory name.
        host: &'a str,
        /// Why.
        error: ErrorJson,
    },
}

fn eprintln_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `--today DATE` (or `$FEARLESS_TODAY`), else today in UTC.
fn today(text: Option<&str>) -> Result<Date, Failure> {
    match text {
        Some(t) => t.trim().parse::<Date>().map_err(|e| {
            Failure::bad_input(
                format!("--today {t:?}: {e}"),
                Some("a day such as 2026-12-04"),
            )
        }),
        None => Ok(jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()),
    }
}

/// `--eol-data FILE`: a table in endoflife.date's release shape; what does not read is bad
/// input, located.
fn read_table(path: &Path) -> Result<Table, Failure> {
    let shown = path.display().to_string();
    let text = fearless_io::read_text(path, EOL_LIMIT)
        .map_err(|e| Failure::bad_input(format!("--eol-data: {e}"), None))?;
    Table::from_json(&text, &shown).map_err(|e| {
        Failure::bad_input(
            format!("--eol-data: {e}"),
            Some(
                "the file is {\"date\": \"YYYY-MM-DD\", \"products\": {\"rhel\": [{\"releaseCycle\": \"9\", \"eoas\": …, \"eol\": …, \"eoes\": …}]}} (docs/eol-sources.md)",
            ),
        )
    })
}

fn state_cell(state: State) -> comfy_table::Cell {
    let good = match state {
        State::Supported => Some(true),
        State::EndOfLife => Some(false),
        State::Warning | State::Unknown => None,
    };
    render::colored(&state.to_string(), good)
}

/// The tier a host is in (or its last, once past end of life): what the row shows.
fn shown_tier(h: &HostOs) -> Option<&TierEnd> {
    match h.support.tier {
        Some(t) => h.support.tiers.iter().find(|x| x.tier == t),
        None => h.support.tiers.last(),
    }
}

fn human(hosts: &[&HostOs], today: Date, tables: &[String]) -> String {
    let mut t = render::table(&[
        "HOST", "RELEASE", "KERNEL", "MANAGER", "SUPPORT", "TIER", "UNTIL", "LAST DAY", "SOURCE",
    ]);
    let mut sources: Vec<String> = Vec::new();
    let mut source_ref = |s: &str| -> String {
        let i = sources.iter().position(|x| x == s).unwrap_or_else(|| {
            sources.push(s.to_owned());
            sources.len() - 1
        });
        format!("[{}]", i + 1)
    };
    let mut lines = Vec::new();
    for h in hosts {
        let s = &h.support;
        let tier = shown_tier(h);
        let tier_text = match (s.tier, tier) {
            (Some(_), Some(x)) => format!("{} ({})", x.tier, x.program),
            (None, Some(x)) => format!("ended: {} ({})", x.tier, x.program),
            _ => "-".into(),
        };
        t.add_row(vec![
            render::text(&h.host).into(),
            render::text(&h.os.display()).into(),
            render::text(&h.kernel).into(),
            h.manager.name().into(),
            state_cell(s.state),
            tier_text.into(),
            tier.map_or_else(|| "-".into(), |x| x.ends.to_string())
                .into(),
            s.last_day
                .map_or_else(|| "-".into(), |d| d.to_string())
                .into(),
            tier.map_or_else(|| "-".into(), |x| source_ref(&x.source))
                .into(),
        ]);
        let release = &s.release;
        match (s.state, s.last_day, s.days_left) {
            (State::EndOfLife, Some(d), _) => lines.push(format!(
                "{}: {release} is past end of life since {d}",
                render::text(&h.host)
            )),
            (State::EndOfLife, None, _) => lines.push(format!(
                "{}: {release} is past end of life",
                render::text(&h.host)
            )),
            (State::Warning, Some(d), Some(n)) => lines.push(format!(
                "warning: {}: {release}'s last support tier ends {d}, in {n} day(s)",
                render::text(&h.host)
            )),
            _ => {}
        }
        for n in &s.notes {
            lines.push(format!(
                "note: {}: {}",
                render::text(&h.host),
                render::text(n)
            ));
        }
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for h in hosts {
        *counts.entry(h.support.state.to_string()).or_default() += 1;
    }
    let mut out = format!("{t}\n");
    for (i, s) in sources.iter().enumerate() {
        out.push_str(&format!("[{}] {}\n", i + 1, render::text(s)));
    }
    for l in &lines {
        out.push_str(l);
        out.push('\n');
    }
    let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    out.push_str(&format!(
        "{} host(s) on {today}: {}; tables: {}\n",
        hosts.len(),
        counts.join(", "),
        tables.join("; ")
    ));
    out
}
