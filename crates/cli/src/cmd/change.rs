//! `fearless change …`: change records through their life. The domain (`fearless-change`)
//! decides every transition and `fearless-engine` records it with its journal entry; this
//! module parses and renders.

use super::{Session, only_human_or_json, print, print_json};
use crate::args::{
    ChangeAction, ChangeArgs, ChangeFields, EditChangeArgs, Format, Global, NewChangeArgs,
};
use crate::exit::{Failure, Outcome};
use crate::render::{self, text};
use fearless_change::{
    ChangeRecord, Command, Edit, NewChange, SCAN_FIRST_FINDINGS, ScanFindingRef, ScanRuleCount,
    ScanSeverity, ScanSummary,
};
use fearless_engine::record::{self, RcaAttached, RehearsalAttached};
use fearless_engine::views::{ChangeJson, ChangeList};
use fearless_io::Escaped;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

pub(crate) async fn run(g: &Global, a: ChangeArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "change")?;
    // An id is checked before the store is opened: bad input is said as such.
    if let Some(id) = change_id(&a.action) {
        fearless_engine::changes::number(id)?;
    }
    let session = match a.action {
        ChangeAction::List { .. } | ChangeAction::Show { .. } => Session::open_to_read(g).await?,
        _ => Session::open(g).await?,
    };
    let result = act(g, &session, a).await;
    session.close().await;
    result
}

/// The change id an action names, if it names one.
fn change_id(action: &ChangeAction) -> Option<&str> {
    match action {
        ChangeAction::New(_) | ChangeAction::List { .. } => None,
        ChangeAction::Edit(e) => Some(&e.id),
        ChangeAction::Show { id }
        | ChangeAction::Submit { id }
        | ChangeAction::Approve { id, .. }
        | ChangeAction::Reject { id, .. }
        | ChangeAction::Schedule { id, .. }
        | ChangeAction::Start { id }
        | ChangeAction::Complete { id, .. }
        | ChangeAction::Review { id, .. }
        | ChangeAction::Close { id }
        | ChangeAction::Cancel { id, .. } => Some(id),
    }
}

async fn act(g: &Global, session: &Session, a: ChangeArgs) -> Result<Outcome, Failure> {
    let (id, command) = match a.action {
        ChangeAction::New(n) => {
            let spec = new_from_args(&n)?;
            let record = session.acting()?.create_change(spec).await?;
            render_record(g, &record, &[])?;
            return Ok(Outcome::Success);
        }
        ChangeAction::List { state } => return list(g, session, state.as_deref()).await,
        ChangeAction::Show { id } => return show(g, session, &id).await,
        ChangeAction::Edit(e) => {
            let edit = edit_from_args(&e)?;
            (e.id, Command::Edit(Box::new(edit)))
        }
        ChangeAction::Submit { id } => (id, Command::Submit),
        ChangeAction::Approve { id, reason } => (id, Command::Approve { reason }),
        ChangeAction::Reject { id, reason } => (id, Command::Reject { reason }),
        ChangeAction::Schedule { id, window } => {
            let window = window.as_deref().map(parse_window).transpose()?;
            (id, Command::Schedule { window })
        }
        ChangeAction::Start { id } => (id, Command::Start),
        ChangeAction::Complete { id, code, notes } => {
            let code = code.parse().map_err(|e: String| {
                Failure::bad_input(
                    format!("--code: {e}"),
                    Some("successful, successful-with-issues, unsuccessful or backed-out"),
                )
            })?;
            (id, Command::Complete { code, notes })
        }
        ChangeAction::Review { id, notes } => (id, Command::Review { notes }),
        ChangeAction::Close { id } => (id, Command::Close),
        ChangeAction::Cancel { id, reason } => (id, Command::Cancel { reason }),
    };
    let applied = session.acting()?.advance_id(&id, command).await?;
    render_record(g, &applied.record, &applied.warnings)?;
    Ok(Outcome::Success)
}

fn parse_window(text: &str) -> Result<fearless_change::Window, Failure> {
    fearless_change::parse_window(text).map_err(|e| {
        Failure::bad_input(
            format!("--window: {e}"),
            Some("START..END in RFC 3339, e.g. 2026-12-01T22:00:00Z..2026-12-02T02:00:00Z"),
        )
    })
}

fn read_text(path: &Path, what: &str) -> Result<String, Failure> {
    super::read_input(path, what)
}

fn read_list(path: &Path) -> Result<Vec<String>, Failure> {
    Ok(read_text(path, "test plan")?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

fn parse_enum<T: std::str::FromStr<Err = String>>(
    flag: &str,
    v: Option<&str>,
) -> Result<Option<T>, Failure> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|e| Failure::bad_input(format!("--{flag}: {e}"), None))
    })
    .transpose()
}

fn new_from_args(n: &NewChangeArgs) -> Result<NewChange, Failure> {
    if let Some(file) = &n.file {
        let text = read_text(file, "change file")?;
        let mut new = serde_saphyr::from_str::<NewChange>(&text).map_err(|e| {
            Failure::bad_input(
                format!("{}: {e}", file.display()),
                Some("the keys are those of `fearless change new --help`"),
            )
        })?;
        if let Some(report) = &n.fields.scan {
            new.scan = Some(read_scan(report)?);
        }
        return Ok(new);
    }
    let e = edit_of(&n.fields, n.title.clone(), None)?;
    Ok(NewChange {
        title: e.title.unwrap_or_default(),
        description: e.description.unwrap_or_default(),
        justification: e.justification.unwrap_or_default(),
        change_type: n
            .change_type
            .parse()
            .map_err(|e: String| Failure::bad_input(format!("--type: {e}"), None))?,
        hosts: n.hosts.clone().unwrap_or_default(),
        components: n.components.clone(),
        impact: e.impact,
        urgency: e.urgency,
        risk_override: None,
        implementation_plan: e.implementation_plan.unwrap_or_default(),
        test_plan: e.test_plan.unwrap_or_default(),
        rollback_plan: e.rollback_plan.unwrap_or_default(),
        window: e.window,
        links: n.links.clone(),
        scan: e.scan,
    })
}

fn edit_from_args(e: &EditChangeArgs) -> Result<Edit, Failure> {
    edit_of(&e.fields, e.title.clone(), e.change_type.as_deref())
}

/// The fields `change new` and `change edit` share, read (plans from their files) and
/// checked.
fn edit_of(
    f: &ChangeFields,
    title: Option<String>,
    change_type: Option<&str>,
) -> Result<Edit, Failure> {
    Ok(Edit {
        title,
        description: f.description.clone(),
        justification: f.justification.clone(),
        change_type: parse_enum("type", change_type)?,
        impact: parse_enum("impact", f.impact.as_deref())?,
        urgency: parse_enum("urgency", f.urgency.as_deref())?,
        risk_override: None,
        implementation_plan: f
            .plan
            .as_deref()
            .map(|p| read_text(p, "plan"))
            .transpose()?,
        test_plan: f.test_plan.as_deref().map(read_list).transpose()?,
        rollback_plan: f
            .rollback_plan
            .as_deref()
            .map(|p| read_text(p, "rollback plan"))
            .transpose()?,
        window: f.window.as_deref().map(parse_window).transpose()?,
        links: None,
        scan: f.scan.as_deref().map(read_scan).transpose()?,
    })
}

/// Read a scan report (`fearless scan --format json`) and summarise it for the record. A
/// file that is not JSON, or JSON that is not a scan report, is bad input naming the file
/// (and the line and column where it went wrong).
fn read_scan(path: &Path) -> Result<ScanSummary, Failure> {
    const HINT: &str = "give the JSON `fearless scan --format json -o REPORT` writes";
    let text = read_text(path, "scan report")?;
    let shown = Escaped(&path.to_string_lossy()).to_string();
    let report: fearless_scan::Report = match serde_json::from_str(&text) {
        Ok(report) => report,
        Err(e) => {
            // Valid JSON of another kind says what it is; anything else where it broke.
            let schema = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .map(|v| v.get("schema").and_then(|s| s.as_str()).map(str::to_owned));
            let message = match schema {
                Some(Some(schema)) if schema != fearless_scan::report::SCHEMA => format!(
                    "{shown}: not a scan report: its schema is `{}`, not `{}`",
                    Escaped(&schema),
                    fearless_scan::report::SCHEMA
                ),
                Some(None) => format!(
                    "{shown}: not a scan report: no `schema` (`{}`)",
                    fearless_scan::report::SCHEMA
                ),
                _ => format!(
                    "{shown}:{}:{}: not a scan report: {e}",
                    e.line(),
                    e.column()
                ),
            };
            return Err(Failure::bad_input(message, Some(HINT)));
        }
    };
    if report.schema != fearless_scan::report::SCHEMA {
        return Err(Failure::bad_input(
            format!(
                "{shown}: not a scan report: its schema is `{}`, not `{}`",
                Escaped(&report.schema),
                fearless_scan::report::SCHEMA
            ),
            Some(HINT),
        ));
    }
    Ok(scan_summary(&report))
}

/// The counts by rule and severity, the paths and the first findings of a scan report.
fn scan_summary(report: &fearless_scan::Report) -> ScanSummary {
    let severity = |s: fearless_scan::Severity| match s {
        fearless_scan::Severity::Info => ScanSeverity::Info,
        fearless_scan::Severity::Warning => ScanSeverity::Warning,
        fearless_scan::Severity::Error => ScanSeverity::Error,
    };
    let mut counts = std::collections::BTreeMap::new();
    for f in &report.findings {
        *counts
            .entry((f.rule.as_str(), severity(f.severity)))
            .or_insert(0) += 1;
    }
    ScanSummary {
        paths: report.roots.clone(),
        files_scanned: report.files_scanned,
        findings: report.findings.len(),
        by_rule: counts
            .into_iter()
            .map(|((rule, severity), count)| ScanRuleCount {
                rule: rule.to_owned(),
                severity,
                count,
            })
            .collect(),
        first: report
            .findings
            .iter()
            .take(SCAN_FIRST_FINDINGS)
            .map(|f| ScanFindingRef {
                rule: f.rule.clone(),
                severity: severity(f.severity),
                path: f.path.clone(),
                line: f.line,
                message: f.message.clone(),
            })
            .collect(),
        suppressed: report.suppressed,
        baselined: report.baselined,
        notes: report.notes.len(),
    }
}

async fn list(g: &Global, session: &Session, state: Option<&str>) -> Result<Outcome, Failure> {
    let records: Vec<ChangeRecord> = session
        .reading()
        .changes()
        .await?
        .into_iter()
        .filter(|r| state.is_none_or(|st| r.state.as_str() == st))
        .collect();
    if g.format == Format::Json {
        let changes: Vec<ChangeJson<'_>> = records.iter().map(ChangeJson::of).collect();
        return print_json(&ChangeList {
            schema: "fearless.changes/v1",
            changes,
        })
        .map(|()| Outcome::Success);
    }
    let mut t = render::table(&[
        "CHANGE",
        "STATE",
        "TYPE",
        "RISK",
        "REQUESTER",
        "WINDOW",
        "TITLE",
    ]);
    for r in &records {
        t.add_row(vec![
            r.id().to_string(),
            r.state.as_str().to_owned(),
            r.change_type.as_str().to_owned(),
            r.risk.level.as_str().to_owned(),
            text(&r.requester),
            window(r.window.as_ref()),
            text(&r.title),
        ]);
    }
    print(&format!("{t}\n{} change(s)\n", records.len()))?;
    Ok(Outcome::Success)
}

async fn show(g: &Global, session: &Session, id: &str) -> Result<Outcome, Failure> {
    let engine = session.reading();
    let (_, record) = engine.change(id).await?;
    render_record(g, &record, &[])?;
    if g.format == Format::Human {
        // Post-incident reports attached to this change (by `fearless rca`), for its review.
        let mut latest = std::collections::BTreeMap::new();
        let mut rehearsals = String::new();
        for e in engine.journal_of(&record.id().to_string()).await? {
            if let Some(attached) = record::decode::<RcaAttached>(&e) {
                let attached = attached?;
                latest.insert(attached.incident, attached.attribution);
            }
            // Rehearsals run for this change (`fearless rehearse --change`).
            if let Some(r) = record::decode::<RehearsalAttached>(&e) {
                let r = r?;
                let verdict = match r.verdict {
                    fearless_engine::rehearse::Verdict::Works => "works".to_owned(),
                    fearless_engine::rehearse::Verdict::Broken => {
                        format!("broken: {}", r.errors.join("; "))
                    }
                };
                let _ = writeln!(
                    rehearsals,
                    "  {} on {}: {} (journal entry {})",
                    text(&r.role),
                    text(&r.onto),
                    text(&verdict),
                    r.entry
                );
            }
        }
        if !rehearsals.is_empty() {
            print(&format!("rehearsals\n{rehearsals}"))?;
        }
        let mut text = String::new();
        for (inc, line) in &latest {
            let _ = writeln!(text, "  {inc}: {line} (fearless rca {inc})");
        }
        if !text.is_empty() {
            print(&format!("post-incident reports\n{text}"))?;
        }
    }
    Ok(Outcome::Success)
}

/// A timestamp to the second, UTC.
fn ts(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn window(w: Option<&fearless_change::Window>) -> String {
    w.map_or_else(
        || "-".to_owned(),
        |w| format!("{}..{}", ts(w.start), ts(w.end)),
    )
}

fn render_record(g: &Global, r: &ChangeRecord, warnings: &[String]) -> Result<(), Failure> {
    {
        let mut err = std::io::stderr().lock();
        for w in warnings {
            let _ = writeln!(err, "warning: {w}");
        }
    }
    if g.format == Format::Json {
        return print_json(&ChangeJson::of(r));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", r.id(), Escaped(&r.title));
    let _ = writeln!(
        out,
        "  state       {}   type {}   requester {}",
        r.state.as_str(),
        r.change_type.as_str(),
        Escaped(&r.requester)
    );
    let _ = writeln!(
        out,
        "  scope       {} → {} host(s): {}",
        Escaped(&r.scope.selector),
        r.scope.hosts.len(),
        render::names(&r.scope.hosts)
    );
    if !r.scope.components.is_empty() {
        let _ = writeln!(out, "  components  {}", r.scope.components.join(", "));
    }
    let over = r
        .risk
        .override_reason
        .as_ref()
        .map(|why| format!(" (overridden: {})", Escaped(why)))
        .unwrap_or_default();
    let _ = writeln!(out, "  risk        {}{over}", r.risk.level.as_str());
    let _ = writeln!(out, "  window      {}", window(r.window.as_ref()));
    if !r.test_plan.is_empty() {
        let _ = writeln!(out, "  test plan   {}", r.test_plan.join(", "));
    }
    if let Some(scan) = &r.scan {
        render_scan(&mut out, scan);
    }
    if let Some(code) = &r.close_code {
        let _ = writeln!(out, "  close code  {}", code.as_str());
    }
    if !r.approvals.is_empty() {
        let _ = writeln!(out, "approvals");
        for a in &r.approvals {
            let why = a
                .reason
                .as_ref()
                .map(|x| format!(": {}", Escaped(x)))
                .unwrap_or_default();
            let by = Escaped(&a.by);
            let _ = writeln!(out, "  {}  {:?} by {by}{why}", ts(a.at), a.decision);
        }
    }
    let _ = writeln!(out, "timeline");
    for e in &r.timeline {
        let note = if e.note.is_empty() {
            String::new()
        } else {
            format!(" — {}", Escaped(&e.note))
        };
        let _ = writeln!(
            out,
            "  {}  {:<18} {} → {}  by {}{note}",
            ts(e.at),
            e.kind,
            e.from.as_str(),
            e.to.as_str(),
            Escaped(&e.actor)
        );
    }
    print(&out)
}

/// The attached scan: `scan  N finding(s) in F file(s) of PATHS: rule N (severity), …`, then
/// the first findings as `path:line  rule  message`.
fn render_scan(out: &mut String, s: &ScanSummary) {
    let counts: Vec<String> = s
        .by_rule
        .iter()
        .map(|c| format!("{} {} ({})", Escaped(&c.rule), c.count, c.severity.as_str()))
        .collect();
    let mut extra = Vec::new();
    if s.suppressed > 0 {
        extra.push(format!("{} suppressed", s.suppressed));
    }
    if s.baselined > 0 {
        extra.push(format!("{} baselined", s.baselined));
    }
    if s.notes > 0 {
        extra.push(format!("{} file note(s)", s.notes));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" [{}]", extra.join(", "))
    };
    let _ = writeln!(
        out,
        "  scan        {} finding(s) in {} file(s) of {}{}{extra}",
        s.findings,
        s.files_scanned,
        Escaped(&s.paths.join(", ")),
        if counts.is_empty() {
            String::new()
        } else {
            format!(": {}", counts.join(", "))
        },
    );
    for f in &s.first {
        let _ = writeln!(
            out,
            "                {}:{}  {}  {}",
            Escaped(&f.path),
            f.line,
            Escaped(&f.rule),
            Escaped(&f.message)
        );
    }
    if s.findings > s.first.len() {
        let _ = writeln!(
            out,
            "                … and {} more (run the scan for all of them)",
            s.findings - s.first.len()
        );
    }
}
