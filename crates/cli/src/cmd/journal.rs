//! `fearless journal [verify | export]`: read and check the hash-chained journal.
//!
//! Every journal command only reads: the store must exist (nothing is created) and is opened
//! read-only, so an auditor can run them on a copy or a store they cannot write.

use super::{
    load_config, only_human_or_json, open_store_to_read, print, print_json, store_failure,
};
use crate::args::{Format, Global, JournalAction, JournalArgs};
use crate::exit::{Failure, Outcome};
use crate::render;
use fearless_store::{JournalFilter, JournalHead, Store, VerifyReport};
use std::io::Write as _;
use time::OffsetDateTime;

/// What to do, with its arguments checked before the store is opened.
enum Action {
    List(JournalFilter),
    Verify(Option<JournalHead>),
    Export,
}

pub(crate) async fn run(g: &Global, a: JournalArgs) -> Result<Outcome, Failure> {
    let action = match a.action {
        None => {
            only_human_or_json(g, "journal")?;
            Action::List(JournalFilter {
                since: a.since.as_deref().map(since).transpose()?,
                subject: a.subject,
            })
        }
        Some(JournalAction::Verify { expect_head }) => {
            only_human_or_json(g, "journal verify")?;
            Action::Verify(expect_head.as_deref().map(expected_head).transpose()?)
        }
        Some(JournalAction::Export) => Action::Export,
    };
    let config = load_config(g)?;
    let store = open_store_to_read(g, &config).await?;
    let result = match action {
        Action::List(filter) => list(g, &store, &filter).await,
        Action::Verify(expected) => verify(g, &store, expected.as_ref()).await,
        Action::Export => export(&store).await,
    };
    store.close().await;
    result
}

/// `--since 24h`: the time that long ago. A duration reaching before the earliest time there
/// is (about 10 000 years back) is bad input, not a panic.
fn since(text: &str) -> Result<OffsetDateTime, Failure> {
    let bad = |why: String| {
        Failure::bad_input(
            format!("--since {text}: {why}"),
            Some("write e.g. 30m, 24h, 7d"),
        )
    };
    let d = super::window("--since", text, "write e.g. 30m, 24h, 7d")?;
    let d = time::Duration::try_from(d).map_err(|e| bad(e.to_string()))?;
    OffsetDateTime::now_utc()
        .checked_sub(d)
        .ok_or_else(|| bad("that reaches back before the earliest time there is".to_owned()))
}

/// `--expect-head SEQ:HASH`.
fn expected_head(text: &str) -> Result<JournalHead, Failure> {
    text.parse().map_err(|e: fearless_store::StoreError| {
        Failure::bad_input(
            format!("--expect-head: {e}"),
            Some("pass the `head:` line an earlier `fearless journal verify` printed"),
        )
    })
}

async fn list(g: &Global, store: &Store, filter: &JournalFilter) -> Result<Outcome, Failure> {
    let entries = store.journal(filter).await.map_err(store_failure)?;
    if g.format == Format::Json {
        print_json(&serde_json::json!({ "schema": "fearless.journal/v1", "entries": entries }))?;
    } else {
        let mut t = render::table(&["SEQ", "TIME", "ACTOR", "VOUCHED BY", "KIND", "SUBJECT"]);
        for e in &entries {
            t.add_row(vec![
                e.seq.to_string(),
                e.time.clone(),
                render::text(&e.actor),
                render::text(e.vouched_by.as_deref().unwrap_or("-")),
                render::text(&e.kind),
                render::text(&e.subject),
            ]);
        }
        print(&format!(
            "{t}\n{} entr{}\n",
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" }
        ))?;
    }
    Ok(Outcome::Success)
}

async fn verify(
    g: &Global,
    store: &Store,
    expected: Option<&JournalHead>,
) -> Result<Outcome, Failure> {
    let report = store
        .verify_expecting(expected)
        .await
        .map_err(store_failure)?;
    if g.format == Format::Json {
        print_json(&serde_json::json!({
            "schema": "fearless.journal-verify/v1",
            "intact": report.is_ok(),
            "entries": report.entries,
            "head": report.head,
            "expected_head": report.expected,
            "broken": report.broken,
        }))?;
    } else {
        print(&human(&report))?;
    }
    Ok(if report.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// The report for people: the verdict, the head to keep (`SEQ:HASH`, as `--expect-head`
/// takes it), and what was compared.
fn human(report: &VerifyReport) -> String {
    let head = &report.head;
    match &report.broken {
        None => {
            let mut out = format!(
                "journal intact: {} entries, every link verified\nhead: {head}\n",
                report.entries
            );
            match &report.expected {
                Some(expected) => out.push_str(&format!(
                    "expected head {expected}: held, as entry {} of {}\n",
                    expected.seq, report.entries
                )),
                None => out.push_str(&format!(
                    "hint: keep the head somewhere fearless cannot write; later, `fearless journal verify --expect-head {head}` shows whether entries were cut off\n"
                )),
            }
            out
        }
        Some(b) => format!(
            "journal BROKEN at seq {}: {}\n{} entries before it verified (last verified: {head})\n",
            b.seq, b.why, report.entries
        ),
    }
}

async fn export(store: &Store) -> Result<Outcome, Failure> {
    let mut buf = Vec::new();
    store.export(&mut buf).await.map_err(store_failure)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(Outcome::Success)
}
