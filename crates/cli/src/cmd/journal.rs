//! `fearless journal [verify | export]`: read and check the hash-chained journal.

use super::{load_config, only_human_or_json, print, print_json};
use super::{open_store, store_failure};
use crate::args::{Format, Global, JournalAction, JournalArgs};
use crate::exit::{Failure, Outcome};
use crate::render;
use fearless_store::JournalFilter;
use std::io::Write as _;

pub(crate) async fn run(g: &Global, a: JournalArgs) -> Result<Outcome, Failure> {
    let config = load_config(g)?;
    let store = open_store(g, &config).await?;
    let result = match a.action {
        None => list(g, &store, &a).await,
        Some(JournalAction::Verify) => verify(g, &store).await,
        Some(JournalAction::Export) => export(&store).await,
    };
    store.close().await;
    result
}

async fn list(
    g: &Global,
    store: &fearless_store::Store,
    a: &JournalArgs,
) -> Result<Outcome, Failure> {
    only_human_or_json(g, "journal")?;
    let since = match &a.since {
        Some(s) => {
            let d = humantime::parse_duration(s).map_err(|e| {
                Failure::bad_input(format!("--since {s}: {e}"), Some("write e.g. 30m, 24h, 7d"))
            })?;
            let d = time::Duration::try_from(d)
                .map_err(|e| Failure::bad_input(format!("--since {s}: {e}"), None))?;
            Some(time::OffsetDateTime::now_utc() - d)
        }
        None => None,
    };
    let entries = store
        .journal(&JournalFilter {
            since,
            subject: a.subject.clone(),
        })
        .await
        .map_err(store_failure)?;
    if g.format == Format::Json {
        print_json(&serde_json::json!({ "schema": "fearless.journal/v1", "entries": entries }))?;
    } else {
        let mut t = render::table(&["SEQ", "TIME", "ACTOR", "KIND", "SUBJECT"]);
        for e in &entries {
            t.add_row(vec![
                e.seq.to_string(),
                e.time.clone(),
                e.actor.clone(),
                e.kind.clone(),
                e.subject.clone(),
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

async fn verify(g: &Global, store: &fearless_store::Store) -> Result<Outcome, Failure> {
    only_human_or_json(g, "journal verify")?;
    let report = store.verify().await.map_err(store_failure)?;
    if g.format == Format::Json {
        print_json(&report)?;
    } else {
        match &report.broken {
            None => print(&format!(
                "journal intact: {} entries, every link verified\n",
                report.entries
            ))?,
            Some(b) => print(&format!(
                "journal BROKEN at seq {}: {}\n{} entries before it verified\n",
                b.seq, b.why, report.entries
            ))?,
        }
    }
    Ok(if report.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

async fn export(store: &fearless_store::Store) -> Result<Outcome, Failure> {
    let mut buf = Vec::new();
    store.export(&mut buf).await.map_err(store_failure)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(Outcome::Success)
}
