//! `fearless packages [apply|rollback]`, `fearless snapshot [list|show|diff]` and
//! `fearless whatchanged`: package state across the fleet (crates/pkg does the work).

use std::io::Write as _;

use fearless_engine::Fleetwide;
use fearless_engine::fleet::HostResult;
use fearless_engine::packages::{self, PackageWork};
use fearless_engine::record;
use fearless_engine::snapshots;
use fearless_pkg::ops::{self, Report};
use fearless_pkg::{Diff, Manifest, PackageSet, PkgError};
use fearless_store::StoredSnapshot;
use schemars::JsonSchema;
use serde::Serialize;

use super::{ErrorJson, identify, load_inventory, only_human_or_json, print, print_json, selector};
use super::{Session, open_store, open_store_to_read, store_failure};
use crate::args::{
    Format, Global, PackagesAction, PackagesArgs, PkgOptions, SnapshotAction, SnapshotArgs,
    WhatchangedArgs,
};
use crate::exit::{Failure, Outcome};
use crate::render;

/// Every package of every host's set, one row each, and how many.
fn package_table<'a>(
    sets: impl Iterator<Item = (&'a str, &'a PackageSet)>,
) -> (comfy_table::Table, usize) {
    let mut t = render::table(&["HOST", "PACKAGE", "ARCH", "VERSION", "MARK"]);
    let mut count = 0;
    for (host, set) in sets {
        for p in &set.packages {
            count += 1;
            t.add_row(vec![
                host.to_owned(),
                p.name.clone(),
                p.arch.clone(),
                p.version.clone(),
                if p.manual { "manual" } else { "auto" }.into(),
            ]);
        }
    }
    (t, count)
}

/// The hosts `options` select, with their connections and the lock wait.
async fn fleet(g: &Global, options: &PkgOptions) -> Result<Fleetwide, Failure> {
    fleet_of(load_inventory(g).await?, options)
}

/// [`fleet`] over an already loaded `config`.
fn fleet_of(config: fearless_config::Config, options: &PkgOptions) -> Result<Fleetwide, Failure> {
    let lock_wait = super::duration(
        "--lock-wait",
        &options.lock_wait,
        "a duration such as 30s or 2m",
    )?;
    let sel = selector(options.hosts.as_deref())?;
    Ok(Fleetwide::select(config, sel.as_ref(), lock_wait)?)
}

pub(crate) fn progress(g: &Global, line: &str) {
    if !g.quiet {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// The exit after per-host results were printed: environment failures first, then bad
/// input, then refusals (a feasibility gate).
fn exit_for<'a>(errors: impl IntoIterator<Item = &'a PkgError>) -> Outcome {
    let mut code = 0;
    for e in errors {
        let c = match e {
            PkgError::Infeasible { .. } => 1,
            PkgError::BadInput { .. } => 2,
            _ => 3,
        };
        code = code.max(c);
    }
    match code {
        0 => Outcome::Success,
        1 => Outcome::Failed,
        c => Outcome::PassThrough(c),
    }
}

fn print_errors<'a>(results: impl IntoIterator<Item = &'a PkgError>) -> Result<(), Failure> {
    let mut text = String::new();
    for e in results {
        text.push_str(&format!("error: {e}\n"));
    }
    if !text.is_empty() {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
    Ok(())
}

pub(crate) async fn run(g: &Global, a: PackagesArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "packages")?;
    match a.action {
        None if a.pending || a.security => pending(g, &a).await,
        None => installed(g, &a.options).await,
        Some(PackagesAction::Apply {
            manifest,
            packages,
            force,
        }) => apply(g, &a.options, manifest.as_deref(), &packages, force).await,
        Some(PackagesAction::Rollback { snapshot, force }) => {
            rollback(g, &a.options, &snapshot, force).await
        }
    }
}

async fn installed(g: &Global, options: &PkgOptions) -> Result<Outcome, Failure> {
    let fw = fleet(g, options).await?;
    let results = snapshots::read_sets(&fw).await;
    fw.close().await;
    if g.format == Format::Json {
        let hosts = results
            .iter()
            .map(|(host, r)| match r {
                Ok(set) => HostPackages {
                    host,
                    manager: Some(set.manager),
                    packages: &set.packages,
                    error: None,
                },
                Err(e) => HostPackages {
                    host,
                    manager: None,
                    packages: &[],
                    error: Some(ErrorJson::of(e)),
                },
            })
            .collect();
        print_json(&PackagesJson {
            schema: "fearless.packages/v1",
            hosts,
        })?;
    } else {
        let sets = results
            .iter()
            .filter_map(|(h, r)| r.as_ref().ok().map(|set| (h.as_str(), set)));
        let (t, count) = package_table(sets);
        print(&format!(
            "{t}\n{count} package(s) on {} host(s)\n",
            results.iter().filter(|(_, r)| r.is_ok()).count()
        ))?;
        print_errors(results.iter().filter_map(|(_, r)| r.as_ref().err()))?;
    }
    Ok(exit_for(
        results.iter().filter_map(|(_, r)| r.as_ref().err()),
    ))
}

async fn pending(g: &Global, a: &PackagesArgs) -> Result<Outcome, Failure> {
    let fw = fleet(g, &a.options).await?;
    let security = a.security;
    let results = packages::pending(&fw, !a.no_refresh, security).await;
    fw.close().await;
    if g.format == Format::Json {
        let hosts = results
            .iter()
            .map(|(host, r)| match r {
                Ok((m, p)) => HostPending {
                    host,
                    manager: Some(*m),
                    pending: p,
                    error: None,
                },
                Err(e) => HostPending {
                    host,
                    manager: None,
                    pending: &[],
                    error: Some(ErrorJson::of(e)),
                },
            })
            .collect();
        print_json(&PendingJson {
            schema: "fearless.pending/v1",
            security_only: security,
            hosts,
        })?;
    } else {
        let mut t = render::table(&[
            "HOST", "PACKAGE", "ARCH", "FROM", "TO", "ORIGIN", "SECURITY",
        ]);
        let mut count = 0;
        for (host, r) in &results {
            if let Ok((_, pending)) = r {
                for p in pending {
                    count += 1;
                    t.add_row(vec![
                        host.clone(),
                        p.name.clone(),
                        p.arch.clone(),
                        p.from.clone().unwrap_or_else(|| "(new)".into()),
                        p.to.clone().unwrap_or_else(|| "(removed)".into()),
                        p.origin.clone(),
                        if p.security { "yes" } else { "" }.into(),
                    ]);
                }
            }
        }
        let what = if security {
            "security update(s)"
        } else {
            "update(s)"
        };
        print(&format!("{t}\n{count} pending {what}\n"))?;
        print_errors(results.iter().filter_map(|(_, r)| r.as_ref().err()))?;
    }
    Ok(exit_for(
        results.iter().filter_map(|(_, r)| r.as_ref().err()),
    ))
}

/// Read the manifest from a file and `--package` pins; every problem is bad input, found
/// before any host is contacted.
fn manifest_from(file: Option<&std::path::Path>, inline: &[String]) -> Result<Manifest, Failure> {
    let mut text = String::new();
    let origin = match file {
        Some(path) => {
            text = super::read_input(path, "manifest")?;
            path.display().to_string()
        }
        None if inline.is_empty() => {
            return Err(Failure::bad_input(
                "nothing to apply",
                Some("give --manifest FILE (name=version lines) or --package NAME=VERSION"),
            ));
        }
        None => "--package".to_owned(),
    };
    for p in inline {
        text.push('\n');
        text.push_str(p);
    }
    Manifest::parse(&origin, &text).map_err(|e| Failure::bad_input(e.to_string(), None))
}

/// One host of `packages apply` / `rollback`: its report, or its error.
#[derive(Debug, Serialize, JsonSchema)]
struct HostReport<'a> {
    /// Inventory name.
    host: &'a str,
    /// What changed (the report's fields), when it worked.
    #[serde(flatten)]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    report: Option<&'a Report>,
    /// Why not.
    error: Option<ErrorJson>,
}

/// `packages apply --format json`: the manifest and each host's report.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ApplyJson<'a> {
    /// `fearless.apply/v1`.
    #[schemars(extend("const" = "fearless.apply/v1"))]
    schema: &'static str,
    /// The pins applied (`name=version`).
    manifest: &'a [String],
    /// Each host.
    hosts: Vec<HostReport<'a>>,
}

/// `packages rollback --format json`: the snapshot and each host's report.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RollbackJson<'a> {
    /// `fearless.rollback/v1`.
    #[schemars(extend("const" = "fearless.rollback/v1"))]
    schema: &'static str,
    /// `SNAP-N`.
    #[schemars(pattern(r"^SNAP-[0-9]+$"))]
    snapshot: String,
    /// Each host.
    hosts: Vec<HostReport<'a>>,
}

/// What `packages apply` / `rollback` changed.
enum Reported<'a> {
    /// The pins applied.
    Apply(&'a [String]),
    /// The snapshot rolled back to.
    Rollback(String),
}

fn print_reports(
    g: &Global,
    what: Reported<'_>,
    results: &[(String, Result<Report, PkgError>)],
) -> Result<(), Failure> {
    if g.format == Format::Json {
        let hosts: Vec<HostReport<'_>> = results
            .iter()
            .map(|(host, r)| HostReport {
                host,
                report: r.as_ref().ok(),
                error: r.as_ref().err().map(ErrorJson::of),
            })
            .collect();
        return match what {
            Reported::Apply(manifest) => print_json(&ApplyJson {
                schema: "fearless.apply/v1",
                manifest,
                hosts,
            }),
            Reported::Rollback(snapshot) => print_json(&RollbackJson {
                schema: "fearless.rollback/v1",
                snapshot,
                hosts,
            }),
        };
    }
    let mut t = render::table(&["HOST", "RESULT", "CHANGES", "REBOOT", "RESTART"]);
    for (host, r) in results {
        match r {
            Ok(rep) => {
                let c = &rep.changes;
                let changes = if c.is_empty() {
                    "none".to_owned()
                } else {
                    format!(
                        "{} upgraded, {} downgraded, {} added, {} removed",
                        c.upgraded.len(),
                        c.downgraded.len(),
                        c.added.len(),
                        c.removed.len()
                    )
                };
                let reboot = match rep.restarts.reboot_required {
                    Some(true) => "required",
                    Some(false) => "no",
                    None => "unknown",
                };
                let restart: Vec<String> = rep
                    .restarts
                    .services
                    .iter()
                    .chain(&rep.restarts.processes)
                    .cloned()
                    .collect();
                t.add_row(vec![
                    render::colored("ok", Some(true)),
                    changes.into(),
                    reboot.into(),
                    if restart.is_empty() {
                        "none".into()
                    } else {
                        restart.join(", ").into()
                    },
                ]);
                // The row above lacks the host; insert it first.
                let last = t.row_count() - 1;
                if let Some(row) = t.row_mut(last) {
                    let mut cells: Vec<comfy_table::Cell> = vec![host.as_str().into()];
                    cells.extend(row.cell_iter().cloned());
                    *row = comfy_table::Row::from(cells);
                }
            }
            Err(e) => {
                t.add_row(vec![
                    host.as_str().into(),
                    render::colored(e.kind(), Some(false)),
                    "none".into(),
                    "-".into(),
                    "-".into(),
                ]);
            }
        }
    }
    print(&format!("{t}\n"))?;
    for (host, r) in results {
        if let Ok(rep) = r {
            for line in ops::describe(&rep.changes) {
                progress(g, &format!("{host}: {line}"));
            }
            for w in &rep.warnings {
                progress(g, &format!("{host}: warning: {w}"));
            }
        }
    }
    print_errors(results.iter().filter_map(|(_, r)| r.as_ref().err()))
}

async fn apply(
    g: &Global,
    options: &PkgOptions,
    file: Option<&std::path::Path>,
    inline: &[String],
    force: bool,
) -> Result<Outcome, Failure> {
    let manifest = manifest_from(file, inline)?;
    let session = Session::open(g).await?;
    let fw = fleet_of(session.config.clone(), options)?;
    progress(
        g,
        &format!(
            "applying {} pin(s) to {} host(s)",
            manifest.pins.len(),
            fw.hosts().len()
        ),
    );
    let results = match session.acting() {
        Ok(engine) => engine
            .change_packages(&fw, PackageWork::Apply(&manifest), force)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    fw.close().await;
    session.close().await;
    let results = results?;
    let pins: Vec<String> = manifest.pins.iter().map(ToString::to_string).collect();
    print_reports(g, Reported::Apply(&pins), &results)?;
    Ok(exit_for(
        results.iter().filter_map(|(_, r)| r.as_ref().err()),
    ))
}

async fn rollback(
    g: &Global,
    options: &PkgOptions,
    id: &str,
    force: bool,
) -> Result<Outcome, Failure> {
    let session = Session::open(g).await?;
    let (snap, doc) = record::load_snapshot(&session.store, id).await?;
    let mut fw = fleet_of(session.config.clone(), options)?;
    packages::covered_by(&mut fw, snap.number, &doc.hosts, options.hosts.is_some())?;
    progress(
        g,
        &format!(
            "rolling back {} host(s) to SNAP-{}",
            fw.hosts().len(),
            snap.number
        ),
    );
    let work = PackageWork::Rollback {
        snapshot: snap.number,
        sets: &doc.hosts,
    };
    let results = match session.acting() {
        Ok(engine) => engine
            .change_packages(&fw, work, force)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    fw.close().await;
    session.close().await;
    let results = results?;
    print_reports(
        g,
        Reported::Rollback(format!("SNAP-{}", snap.number)),
        &results,
    )?;
    Ok(exit_for(
        results.iter().filter_map(|(_, r)| r.as_ref().err()),
    ))
}

pub(crate) async fn snapshot(g: &Global, a: SnapshotArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "snapshot")?;
    // Ids are checked before the store is opened: bad input is said as such.
    match &a.action {
        Some(SnapshotAction::Show { id }) => {
            record::snapshot_number(id)?;
        }
        Some(SnapshotAction::Diff { a: from, b, .. }) => {
            for id in std::iter::once(from).chain(b) {
                record::snapshot_number(id)?;
            }
        }
        _ => {}
    }
    match a.action {
        None => take(g, &a.options).await,
        Some(SnapshotAction::List) => list(g).await,
        Some(SnapshotAction::Show { id }) => show(g, &id).await,
        Some(SnapshotAction::Diff { a: from, b, live }) => {
            diff(g, &a.options, &from, b.as_deref().filter(|_| !live)).await
        }
    }
}

async fn take(g: &Global, options: &PkgOptions) -> Result<Outcome, Failure> {
    let fw = fleet(g, options).await?;
    let store = open_store(g, fw.config()).await?;
    let actor = identify(g, fw.config(), &store).await?;
    super::warn_if_trusted(g.quiet, &actor);
    let results = snapshots::read_sets(&fw).await;
    fw.close().await;
    let taken = snapshots::record(&store, &actor, &results).await;
    store.close().await;
    let Some(taken) = taken? else {
        print_errors(results.iter().filter_map(|(_, r)| r.as_ref().err()))?;
        return Err(Failure::Environment(anyhow::anyhow!(
            "no host answered: nothing recorded"
        )));
    };
    let id = format!("SNAP-{}", taken.stored.number);
    if g.format == Format::Json {
        print_json(&SnapshotTakenJson {
            schema: "fearless.snapshot/v1",
            id,
            taken_at: jiff_time(&taken.stored),
            hosts: taken.doc.hosts.keys().map(String::as_str).collect(),
            packages: taken.packages,
            errors: &taken.doc.errors,
        })?;
    } else {
        print(&format!(
            "{id}: {} package(s) on {} host(s)\n",
            taken.packages,
            taken.doc.hosts.len()
        ))?;
        print_errors(results.iter().filter_map(|(_, r)| r.as_ref().err()))?;
    }
    Ok(exit_for(
        results.iter().filter_map(|(_, r)| r.as_ref().err()),
    ))
}

fn jiff_time(s: &StoredSnapshot) -> String {
    s.taken_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn list(g: &Global) -> Result<Outcome, Failure> {
    let config = load_inventory(g).await?;
    let store = open_store_to_read(g, &config).await?;
    let all = store.list_snapshots().await.map_err(store_failure)?;
    store.close().await;
    let rows: Vec<SnapshotLine<'_>> = all
        .iter()
        .map(|s| SnapshotLine {
            id: format!("SNAP-{}", s.number),
            taken_at: jiff_time(s),
            by: &s.actor,
            hosts: serde_json::from_value::<record::SnapshotDoc>(s.record.clone())
                .map(|d| d.hosts.into_keys().collect())
                .unwrap_or_default(),
        })
        .collect();
    if g.format == Format::Json {
        print_json(&SnapshotList {
            schema: "fearless.snapshots/v1",
            snapshots: rows,
        })?;
    } else {
        let mut t = render::table(&["ID", "TAKEN", "BY", "HOSTS"]);
        for r in &rows {
            t.add_row(vec![
                r.id.clone(),
                r.taken_at.clone(),
                r.by.to_owned(),
                render::names(&r.hosts),
            ]);
        }
        print(&format!("{t}\n{} snapshot(s)\n", rows.len()))?;
    }
    Ok(Outcome::Success)
}

async fn show(g: &Global, id: &str) -> Result<Outcome, Failure> {
    let config = load_inventory(g).await?;
    let store = open_store_to_read(g, &config).await?;
    let (snap, doc) = record::load_snapshot(&store, id).await?;
    store.close().await;
    if g.format == Format::Json {
        print_json(&SnapshotShowJson {
            schema: "fearless.snapshot/v1",
            id: format!("SNAP-{}", snap.number),
            taken_at: jiff_time(&snap),
            by: &snap.actor,
            record: &snap.record,
        })?;
        return Ok(Outcome::Success);
    }
    let (t, _) = package_table(doc.hosts.iter().map(|(h, set)| (h.as_str(), set)));
    print(&format!(
        "{t}\nSNAP-{} taken {} by {}\n",
        snap.number,
        jiff_time(&snap),
        snap.actor
    ))?;
    Ok(Outcome::Success)
}

async fn diff(
    g: &Global,
    options: &PkgOptions,
    from: &str,
    to: Option<&str>,
) -> Result<Outcome, Failure> {
    let config = load_inventory(g).await?;
    let store = open_store_to_read(g, &config).await?;
    let (a, a_doc) = record::load_snapshot(&store, from).await?;
    let (to_label, b_results): (String, Vec<HostResult<PackageSet>>) = match to {
        Some(to) => {
            let (b, b_doc) = record::load_snapshot(&store, to).await?;
            let sets = snapshots::later_sets(&a_doc.hosts, &b_doc, b.number);
            (format!("SNAP-{}", b.number), sets)
        }
        None => {
            let mut fw = fleet(g, options).await?;
            fw.retain(|h| a_doc.hosts.contains_key(&h.name));
            let results = snapshots::read_sets(&fw).await;
            fw.close().await;
            ("live".to_owned(), results)
        }
    };
    store.close().await;
    let sel = selector(options.hosts.as_deref())?;
    let wanted = |host: &str| {
        sel.as_ref().is_none_or(|s| {
            config
                .inventory
                .hosts
                .get(host)
                .is_some_and(|h| s.matches(h, &config.inventory.groups))
        })
    };
    let per_host = snapshots::diffs(&a_doc.hosts, &b_results, wanted);
    let from_label = format!("SNAP-{}", a.number);
    if g.format == Format::Json {
        let hosts = per_host
            .iter()
            .map(|(host, r)| HostDiff {
                host,
                diff: r.as_ref().ok(),
                error: r.as_ref().err().map(ErrorJson::of),
            })
            .collect();
        print_json(&SnapshotDiffJson {
            schema: "fearless.snapshot-diff/v1",
            from: &from_label,
            to: &to_label,
            hosts,
        })?;
    } else {
        let mut t = render::table(&["HOST", "CHANGE", "PACKAGE", "FROM", "TO"]);
        let mut count = 0;
        for (host, r) in &per_host {
            let Ok(d) = r else { continue };
            for (what, list) in [
                ("upgraded", &d.upgraded),
                ("downgraded", &d.downgraded),
                ("added", &d.added),
                ("removed", &d.removed),
            ] {
                for x in list {
                    count += 1;
                    t.add_row(vec![
                        host.clone(),
                        what.to_owned(),
                        format!("{}:{}", x.name, x.arch),
                        x.from.clone().unwrap_or_else(|| "-".into()),
                        x.to.clone().unwrap_or_else(|| "-".into()),
                    ]);
                }
            }
            for m in &d.marks {
                count += 1;
                t.add_row(vec![
                    host.clone(),
                    if m.manual {
                        "marked manual"
                    } else {
                        "marked auto"
                    }
                    .to_owned(),
                    format!("{}:{}", m.name, m.arch),
                    "-".into(),
                    "-".into(),
                ]);
            }
        }
        print(&format!(
            "{t}\n{count} difference(s) from {from_label} to {to_label}\n"
        ))?;
        print_errors(per_host.iter().filter_map(|(_, r)| r.as_ref().err()))?;
    }
    Ok(exit_for(
        per_host.iter().filter_map(|(_, r)| r.as_ref().err()),
    ))
}

pub(crate) async fn whatchanged(g: &Global, a: WhatchangedArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "whatchanged")?;
    let window = super::window("--since", &a.since, "a duration such as 30m, 24h or 7d")?;
    let since = jiff::Timestamp::now()
        .checked_sub(
            jiff::SignedDuration::try_from(window)
                .map_err(|e| Failure::bad_input(format!("--since {:?}: {e}", a.since), None))?,
        )
        .map_err(|e| Failure::bad_input(format!("--since {:?}: {e}", a.since), None))?;
    let fw = fleet(g, &a.options).await?;
    let results = packages::history(&fw, since).await;
    fw.close().await;
    if g.format == Format::Json {
        let hosts = results
            .iter()
            .map(|(host, r)| match r {
                Ok((m, txs)) => HostHistory {
                    host,
                    manager: Some(*m),
                    transactions: txs,
                    error: None,
                },
                Err(e) => HostHistory {
                    host,
                    manager: None,
                    transactions: &[],
                    error: Some(ErrorJson::of(e)),
                },
            })
            .collect();
        print_json(&WhatChangedJson {
            schema: "fearless.whatchanged/v1",
            since: since.to_string(),
            hosts,
        })?;
    } else {
        let mut t = render::table(&["TIME", "HOST", "BY", "ACTION", "PACKAGE", "FROM", "TO"]);
        let mut rows = Vec::new();
        for (host, r) in &results {
            let Ok((_, txs)) = r else { continue };
            for tx in txs {
                let by = match (&tx.user, &tx.command) {
                    (Some(u), _) => format!("{} ({u})", tx.tool),
                    _ => tx.tool.clone(),
                };
                for c in &tx.changes {
                    rows.push((
                        tx.start,
                        vec![
                            tx.start.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                            host.clone(),
                            by.clone(),
                            format!("{:?}", c.action).to_lowercase(),
                            format!("{}:{}", c.name, c.arch),
                            c.from.clone().unwrap_or_else(|| "-".into()),
                            c.to.clone().unwrap_or_else(|| "-".into()),
                        ],
                    ));
                }
            }
        }
        rows.sort_by_key(|(at, _)| *at);
        let count = rows.len();
        for (_, row) in rows {
            t.add_row(row);
        }
        let since = since.round(jiff::Unit::Second).unwrap_or(since);
        print(&format!("{t}\n{count} package change(s) since {since}\n"))?;
        print_errors(results.iter().filter_map(|(_, r)| r.as_ref().err()))?;
    }
    Ok(exit_for(
        results.iter().filter_map(|(_, r)| r.as_ref().err()),
    ))
}

/// `packages --format json`: each host's installed packages.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PackagesJson<'a> {
    /// `fearless.packages/v1`.
    #[schemars(extend("const" = "fearless.packages/v1"))]
    schema: &'static str,
    /// Each host.
    hosts: Vec<HostPackages<'a>>,
}

/// One host's packages, or its error.
#[derive(Debug, Serialize, JsonSchema)]
struct HostPackages<'a> {
    /// Inventory name.
    host: &'a str,
    /// `apt`, `dnf`, … (null on an error).
    #[schemars(with = "Option<String>")]
    manager: Option<fearless_pkg::Manager>,
    /// The packages, sorted (empty on an error).
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    packages: &'a [fearless_pkg::Installed],
    /// Why it could not be read.
    error: Option<ErrorJson>,
}

/// `packages --pending --format json`: each host's pending updates.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PendingJson<'a> {
    /// `fearless.pending/v1`.
    #[schemars(extend("const" = "fearless.pending/v1"))]
    schema: &'static str,
    /// `--security`: only security updates are listed.
    security_only: bool,
    /// Each host.
    hosts: Vec<HostPending<'a>>,
}

/// One host's pending updates, or its error.
#[derive(Debug, Serialize, JsonSchema)]
struct HostPending<'a> {
    /// Inventory name.
    host: &'a str,
    /// `apt`, `dnf`, … (null on an error).
    #[schemars(with = "Option<String>")]
    manager: Option<fearless_pkg::Manager>,
    /// The pending updates (empty on an error).
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pending: &'a [fearless_pkg::Pending],
    /// Why it could not be read.
    error: Option<ErrorJson>,
}

/// `snapshot --format json`: the snapshot just taken.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SnapshotTakenJson<'a> {
    /// `fearless.snapshot/v1`.
    #[schemars(extend("const" = "fearless.snapshot/v1"))]
    schema: &'static str,
    /// `SNAP-N`.
    #[schemars(pattern(r"^SNAP-[0-9]+$"))]
    id: String,
    /// When (RFC 3339).
    taken_at: String,
    /// The hosts it holds.
    hosts: Vec<&'a str>,
    /// How many packages it holds.
    packages: usize,
    /// Hosts that could not be read, and why.
    errors: &'a std::collections::BTreeMap<String, String>,
}

/// `snapshot show SNAP-N --format json`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SnapshotShowJson<'a> {
    /// `fearless.snapshot/v1`.
    #[schemars(extend("const" = "fearless.snapshot/v1"))]
    schema: &'static str,
    /// `SNAP-N`.
    #[schemars(pattern(r"^SNAP-[0-9]+$"))]
    id: String,
    /// When (RFC 3339).
    taken_at: String,
    /// Who took it.
    by: &'a str,
    /// Each host's package set and the hosts that could not be read.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    record: &'a serde_json::Value,
}

/// `snapshot list --format json`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SnapshotList<'a> {
    /// `fearless.snapshots/v1`.
    #[schemars(extend("const" = "fearless.snapshots/v1"))]
    schema: &'static str,
    /// The snapshots, oldest first.
    snapshots: Vec<SnapshotLine<'a>>,
}

/// One snapshot of a list.
#[derive(Debug, Serialize, JsonSchema)]
struct SnapshotLine<'a> {
    /// `SNAP-N`.
    #[schemars(pattern(r"^SNAP-[0-9]+$"))]
    id: String,
    /// When (RFC 3339).
    taken_at: String,
    /// Who took it.
    by: &'a str,
    /// The hosts it holds.
    hosts: Vec<String>,
}

/// `snapshot diff --format json`: what changed on each host.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SnapshotDiffJson<'a> {
    /// `fearless.snapshot-diff/v1`.
    #[schemars(extend("const" = "fearless.snapshot-diff/v1"))]
    schema: &'static str,
    /// `SNAP-N`.
    #[schemars(pattern(r"^SNAP-[0-9]+$"))]
    from: &'a str,
    /// `SNAP-N`, or `live`.
    to: &'a str,
    /// Each host.
    hosts: Vec<HostDiff<'a>>,
}

/// One host's diff, or its error.
#[derive(Debug, Serialize, JsonSchema)]
struct HostDiff<'a> {
    /// Inventory name.
    host: &'a str,
    /// What changed (null on an error).
    #[schemars(with = "Option<serde_json::Value>")]
    diff: Option<&'a Diff>,
    /// Why it could not be compared.
    error: Option<ErrorJson>,
}

/// `whatchanged --format json`: each host's package transactions.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct WhatChangedJson<'a> {
    /// `fearless.whatchanged/v1`.
    #[schemars(extend("const" = "fearless.whatchanged/v1"))]
    schema: &'static str,
    /// The start of the window (RFC 3339).
    since: String,
    /// Each host.
    hosts: Vec<HostHistory<'a>>,
}

/// One host's transactions, or its error.
#[derive(Debug, Serialize, JsonSchema)]
struct HostHistory<'a> {
    /// Inventory name.
    host: &'a str,
    /// `apt`, `dnf`, … (null on an error).
    #[schemars(with = "Option<String>")]
    manager: Option<fearless_pkg::Manager>,
    /// The transactions, oldest first (empty on an error).
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    transactions: &'a [fearless_pkg::history::Transaction],
    /// Why it could not be read.
    error: Option<ErrorJson>,
}
