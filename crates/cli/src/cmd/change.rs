//! `fearless change …`: change records through their life. The domain (`fearless-change`)
//! decides every transition; the store writes the record and its journal entry in one
//! transaction; this module only wires them and renders.

use super::{identity, load_config, only_human_or_json, print, print_json, store_url};
use crate::args::{ChangeAction, ChangeArgs, EditChangeArgs, Format, Global, NewChangeArgs};
use crate::exit::{Failure, Outcome};
use crate::render;
use fearless_change::{ChangeError, ChangeNumber, ChangeRecord, Command, Edit, NewChange, Policy};
use fearless_store::{Access, ErrorClass, NewEvent, Store, StoreError};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

pub(crate) async fn run(g: &Global, a: ChangeArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "change")?;
    let config = load_config(g)?;
    let store = match a.action {
        ChangeAction::List { .. } | ChangeAction::Show { .. } => {
            open_store_to_read(g, &config).await?
        }
        _ => open_store(g, &config).await?,
    };
    let result = match a.action {
        ChangeAction::New(n) => new(g, &config, &store, n).await,
        ChangeAction::List { state } => list(g, &store, state.as_deref()).await,
        ChangeAction::Show { id } => show(g, &store, &id).await,
        ChangeAction::Edit(e) => {
            let edit = edit_from_args(&e)?;
            transition(g, &config, &store, &e.id, Command::Edit(Box::new(edit))).await
        }
        ChangeAction::Submit { id } => transition(g, &config, &store, &id, Command::Submit).await,
        ChangeAction::Approve { id, reason } => {
            transition(g, &config, &store, &id, Command::Approve { reason }).await
        }
        ChangeAction::Reject { id, reason } => {
            transition(g, &config, &store, &id, Command::Reject { reason }).await
        }
        ChangeAction::Schedule { id, window } => {
            let window = window.as_deref().map(parse_window).transpose()?;
            transition(g, &config, &store, &id, Command::Schedule { window }).await
        }
        ChangeAction::Start { id } => transition(g, &config, &store, &id, Command::Start).await,
        ChangeAction::Complete { id, code, notes } => {
            let code = code.parse().map_err(|e: String| {
                Failure::bad_input(
                    format!("--code: {e}"),
                    Some("successful, successful-with-issues, unsuccessful or backed-out"),
                )
            })?;
            transition(g, &config, &store, &id, Command::Complete { code, notes }).await
        }
        ChangeAction::Review { id, notes } => {
            transition(g, &config, &store, &id, Command::Review { notes }).await
        }
        ChangeAction::Close { id } => transition(g, &config, &store, &id, Command::Close).await,
        ChangeAction::Cancel { id, reason } => {
            transition(g, &config, &store, &id, Command::Cancel { reason }).await
        }
    };
    store.close().await;
    result
}

/// Open the store named by `--store`, the config, or the default SQLite file.
pub(crate) async fn open_store(
    g: &Global,
    config: &fearless_config::Config,
) -> Result<Store, Failure> {
    Store::open(&store_url(g, config))
        .await
        .map_err(store_failure)
}

/// Open the store for a command that only reads: it must exist (nothing is created, a
/// mistyped path is exit 3) and is opened read-only, so it works on a store the user cannot
/// write. A store older than this fearless cannot be read read-only: it is migrated first,
/// where it can be written.
pub(crate) async fn open_store_to_read(
    g: &Global,
    config: &fearless_config::Config,
) -> Result<Store, Failure> {
    let url = store_url(g, config);
    match Store::open_existing(&url, Access::ReadOnly).await {
        Err(StoreError::Outdated {
            location,
            found,
            supported,
            ..
        }) => Store::open_existing(&url, Access::ReadWrite)
            .await
            .map_err(|e| {
                store_failure(StoreError::Outdated {
                    location,
                    found,
                    supported,
                    reason: Some(e.to_string()),
                })
            }),
        opened => opened.map_err(store_failure),
    }
}

/// Store errors to exit codes: bad input 2, a lost race 1 (nothing written), else 3.
pub(crate) fn store_failure(e: StoreError) -> Failure {
    match e.class() {
        ErrorClass::BadInput => Failure::bad_input(e.to_string(), None),
        ErrorClass::Conflict => Failure::Gate {
            message: e.to_string(),
            hint: Some(
                "someone changed it at the same time; nothing was written — run the command again"
                    .into(),
            ),
        },
        ErrorClass::Environment => Failure::Environment(anyhow::Error::new(e)),
    }
}

/// Domain refusals: wrong input is 2; a rule that stopped the action (separation of duties,
/// blackouts, windows) is a gate, 1.
#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(change_failure)`"
)]
pub(crate) fn change_failure(e: ChangeError) -> Failure {
    let gate = matches!(
        e,
        ChangeError::SelfApproval { .. }
            | ChangeError::AlreadyApproved { .. }
            | ChangeError::InBlackout { .. }
            | ChangeError::OutsideWindows { .. }
            | ChangeError::OutsideScheduledWindow { .. }
            | ChangeError::StandardTooRisky { .. }
            | ChangeError::ReviewRequired { .. }
    );
    if gate {
        Failure::Gate {
            message: e.to_string(),
            hint: None,
        }
    } else {
        Failure::bad_input(e.to_string(), None)
    }
}

fn parse_number(id: &str) -> Result<u64, Failure> {
    id.parse::<ChangeNumber>().map(|n| n.0).map_err(|e| {
        Failure::bad_input(
            format!("`{id}` is not a change number: {e}"),
            Some("write CHG-12 or 12"),
        )
    })
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
    std::fs::read_to_string(path).map_err(|e| {
        Failure::bad_input(format!("cannot read {what} {}: {e}", path.display()), None)
    })
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
        return serde_saphyr::from_str::<NewChange>(&text).map_err(|e| {
            Failure::bad_input(
                format!("{}: {e}", file.display()),
                Some("the keys are those of `fearless change new --help`"),
            )
        });
    }
    Ok(NewChange {
        title: n.title.clone().unwrap_or_default(),
        description: n.description.clone().unwrap_or_default(),
        justification: n.justification.clone().unwrap_or_default(),
        change_type: n
            .change_type
            .parse()
            .map_err(|e: String| Failure::bad_input(format!("--type: {e}"), None))?,
        hosts: n.hosts.clone().unwrap_or_default(),
        components: n.components.clone(),
        impact: parse_enum("impact", n.impact.as_deref())?,
        urgency: parse_enum("urgency", n.urgency.as_deref())?,
        risk_override: None,
        implementation_plan: n
            .plan
            .as_deref()
            .map(|p| read_text(p, "plan"))
            .transpose()?
            .unwrap_or_default(),
        test_plan: n
            .test_plan
            .as_deref()
            .map(read_list)
            .transpose()?
            .unwrap_or_default(),
        rollback_plan: n
            .rollback_plan
            .as_deref()
            .map(|p| read_text(p, "rollback plan"))
            .transpose()?
            .unwrap_or_default(),
        window: n.window.as_deref().map(parse_window).transpose()?,
        links: n.links.clone(),
    })
}

fn edit_from_args(e: &EditChangeArgs) -> Result<Edit, Failure> {
    Ok(Edit {
        title: e.title.clone(),
        description: e.description.clone(),
        justification: e.justification.clone(),
        change_type: parse_enum("type", e.change_type.as_deref())?,
        impact: parse_enum("impact", e.impact.as_deref())?,
        urgency: parse_enum("urgency", e.urgency.as_deref())?,
        risk_override: None,
        implementation_plan: e
            .plan
            .as_deref()
            .map(|p| read_text(p, "plan"))
            .transpose()?,
        test_plan: e.test_plan.as_deref().map(read_list).transpose()?,
        rollback_plan: e
            .rollback_plan
            .as_deref()
            .map(|p| read_text(p, "rollback plan"))
            .transpose()?,
        window: e.window.as_deref().map(parse_window).transpose()?,
        links: None,
    })
}

async fn new(
    g: &Global,
    config: &fearless_config::Config,
    store: &Store,
    n: NewChangeArgs,
) -> Result<Outcome, Failure> {
    let actor = identity(g)?;
    let spec = new_from_args(&n)?;
    let now = jiff::Timestamp::now();
    // Validate fully before the store assigns a number: nothing is written on bad input.
    let draft = ChangeRecord::new(spec, 0, &actor, now, config).map_err(change_failure)?;
    let stored = store
        .insert_change_with(|number| {
            let mut record = draft;
            record.number = number;
            let state = record.state.as_str().to_owned();
            let applied = record.created();
            let value = serde_json::to_value(&applied.record).unwrap_or(serde_json::Value::Null);
            (
                state,
                value,
                NewEvent {
                    actor: actor.clone(),
                    kind: applied.kind.into(),
                    subject: String::new(),
                    payload: applied.payload,
                },
            )
        })
        .await
        .map_err(store_failure)?;
    let record = decode(&stored.record)?;
    announce(
        config,
        "change.created",
        &record,
        serde_json::json!({ "number": record.id().to_string(), "title": record.title }),
    )
    .await;
    render_record(g, &record, &[])?;
    Ok(Outcome::Success)
}

/// Tell the configured sinks, after the record and its journal entry are committed.
async fn announce(
    config: &fearless_config::Config,
    kind: &str,
    record: &ChangeRecord,
    payload: serde_json::Value,
) {
    let events = super::events::events_for(config);
    let event = fearless_events::Event::for_change(
        format!("fearless.{kind}.v1"),
        fearless_events::local_source(),
        &record.id().to_string(),
        payload,
    );
    super::events::emit(&events, &event).await;
}

fn decode(v: &serde_json::Value) -> Result<ChangeRecord, Failure> {
    serde_json::from_value(v.clone()).map_err(|e| {
        Failure::Environment(anyhow::anyhow!(
            "a stored change record does not decode: {e}"
        ))
    })
}

pub(crate) async fn load(
    store: &Store,
    id: &str,
) -> Result<(fearless_store::Stored, ChangeRecord), Failure> {
    let number = parse_number(id)?;
    let stored = store
        .get_change(number)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| {
            Failure::bad_input(
                format!("unknown change CHG-{number}"),
                Some("list changes with `fearless change list`"),
            )
        })?;
    let record = decode(&stored.record)?;
    Ok((stored, record))
}

async fn transition(
    g: &Global,
    config: &fearless_config::Config,
    store: &Store,
    id: &str,
    command: Command,
) -> Result<Outcome, Failure> {
    let actor = identity(g)?;
    let (stored, record) = load(store, id).await?;
    let applied = advance(config, store, &actor, &stored, &record, command).await?;
    render_record(g, &applied.record, &applied.warnings)?;
    Ok(Outcome::Success)
}

/// Apply `command` to a loaded change and store the new record with its journal entry
/// (optimistic locking on the version read), then tell the configured sinks.
pub(crate) async fn advance(
    config: &fearless_config::Config,
    store: &Store,
    actor: &str,
    stored: &fearless_store::Stored,
    record: &ChangeRecord,
    command: Command,
) -> Result<fearless_change::Applied, Failure> {
    let actor = actor.to_owned();
    let others: Vec<ChangeRecord> = store
        .list_changes()
        .await
        .map_err(store_failure)?
        .iter()
        .filter(|s| s.number != stored.number)
        .map(|s| decode(&s.record))
        .collect::<Result<_, _>>()?;
    let policy = Policy::from_config(config);
    let applied = fearless_change::apply(
        record,
        command,
        &actor,
        jiff::Timestamp::now(),
        &policy,
        &others,
    )
    .map_err(change_failure)?;
    let value =
        serde_json::to_value(&applied.record).map_err(|e| Failure::Environment(e.into()))?;
    let event = NewEvent {
        actor,
        kind: applied.kind.into(),
        subject: format!("CHG-{}", stored.number),
        payload: applied.payload.clone(),
    };
    store
        .update_change(
            stored.number,
            stored.version,
            applied.record.state.as_str(),
            &value,
            event,
        )
        .await
        .map_err(store_failure)?;
    announce(
        config,
        applied.kind,
        &applied.record,
        applied.payload.clone(),
    )
    .await;
    Ok(applied)
}

async fn list(g: &Global, store: &Store, state: Option<&str>) -> Result<Outcome, Failure> {
    let records: Vec<ChangeRecord> = store
        .list_changes()
        .await
        .map_err(store_failure)?
        .iter()
        .filter(|s| state.is_none_or(|st| s.state == st))
        .map(|s| decode(&s.record))
        .collect::<Result<_, _>>()?;
    if g.format == Format::Json {
        return print_json(
            &serde_json::json!({ "schema": "fearless.changes/v1", "changes": records }),
        )
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
            r.requester.clone(),
            window(r.window.as_ref()),
            r.title.clone(),
        ]);
    }
    print(&format!("{t}\n{} change(s)\n", records.len()))?;
    Ok(Outcome::Success)
}

async fn show(g: &Global, store: &Store, id: &str) -> Result<Outcome, Failure> {
    let (_, record) = load(store, id).await?;
    render_record(g, &record, &[])?;
    if g.format == Format::Human {
        // Post-incident reports attached to this change (by `fearless rca`), for its review.
        let mut latest = std::collections::BTreeMap::new();
        for e in journal_of(store, record.id().to_string()).await? {
            if e.kind == "change.rca-attached" {
                let inc = e.payload["incident"].as_str().unwrap_or("-").to_owned();
                let line = e.payload["attribution"].as_str().unwrap_or("-").to_owned();
                latest.insert(inc, line);
            }
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
        return print_json(r);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", r.id(), r.title);
    let _ = writeln!(
        out,
        "  state       {}   type {}   requester {}",
        r.state.as_str(),
        r.change_type.as_str(),
        r.requester
    );
    let _ = writeln!(
        out,
        "  scope       {} → {} host(s): {}",
        r.scope.selector,
        r.scope.hosts.len(),
        r.scope.hosts.join(", ")
    );
    if !r.scope.components.is_empty() {
        let _ = writeln!(out, "  components  {}", r.scope.components.join(", "));
    }
    let over = r
        .risk
        .override_reason
        .as_ref()
        .map(|why| format!(" (overridden: {why})"))
        .unwrap_or_default();
    let _ = writeln!(out, "  risk        {}{over}", r.risk.level.as_str());
    let _ = writeln!(out, "  window      {}", window(r.window.as_ref()));
    if !r.test_plan.is_empty() {
        let _ = writeln!(out, "  test plan   {}", r.test_plan.join(", "));
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
                .map(|x| format!(": {x}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}  {:?} by {}{why}", ts(a.at), a.decision, a.by);
        }
    }
    let _ = writeln!(out, "timeline");
    for e in &r.timeline {
        let note = if e.note.is_empty() {
            String::new()
        } else {
            format!(" — {}", e.note)
        };
        let _ = writeln!(
            out,
            "  {}  {:<18} {} → {}  by {}{note}",
            ts(e.at),
            e.kind,
            e.from.as_str(),
            e.to.as_str(),
            e.actor
        );
    }
    print(&out)
}

/// Every journal entry about `subject` (`CHG-3`, `R-2`, `host:web-1`), oldest first.
pub(crate) async fn journal_of(
    store: &Store,
    subject: String,
) -> Result<Vec<fearless_store::JournalEntry>, Failure> {
    store
        .journal(&fearless_store::JournalFilter {
            since: None,
            subject: Some(subject),
        })
        .await
        .map_err(store_failure)
}
