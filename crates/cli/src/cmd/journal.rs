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
use fearless_store::{JournalFilter, JournalHead, Store};
use std::io::Write as _;
use time::OffsetDateTime;

/// What to do, with its arguments checked before the store is opened.
enum Action {
    List(JournalFilter),
    Verify {
        expected: Option<JournalHead>,
        allowed_signers: Option<std::path::PathBuf>,
        strict: bool,
    },
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
        Some(JournalAction::Verify {
            expect_head,
            allowed_signers,
            strict,
        }) => {
            only_human_or_json(g, "journal verify")?;
            Action::Verify {
                expected: expect_head.as_deref().map(expected_head).transpose()?,
                allowed_signers,
                strict,
            }
        }
        Some(JournalAction::Export) => Action::Export,
    };
    let config = load_config(g)?;
    // The allowed signers are read before the store is opened: a bad file is bad input.
    let allowed = match &action {
        Action::Verify {
            allowed_signers, ..
        } => match allowed_signers
            .as_deref()
            .or(config.identity.allowed_signers.as_deref())
        {
            Some(path) => Some(fearless_sign::AllowedSigners::read(path).map_err(|e| {
                Failure::bad_input(
                    format!("allowed signers: {e}"),
                    Some("OpenSSH's format, one key a line: `alice ssh-ed25519 AAAA… [comment]`"),
                )
            })?),
            None => None,
        },
        _ => None,
    };
    let store = open_store_to_read(g, &config).await?;
    let result = match action {
        Action::List(filter) => list(g, &store, &filter).await,
        Action::Verify {
            expected, strict, ..
        } => verify(g, &store, expected.as_ref(), allowed.as_ref(), strict).await,
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
        print_json(&JournalJson {
            schema: "fearless.journal/v1",
            entries: &entries,
        })?;
    } else {
        let mut t = render::table(&["SEQ", "TIME", "ACTOR", "VOUCHED BY", "KIND", "SUBJECT"]);
        for e in &entries {
            t.add_row(vec![
                e.seq.to_string(),
                e.time.clone(),
                render::text(&e.actor),
                render::text(&match (e.vouched_by.as_deref(), &e.signature) {
                    (by, Some(_)) => format!("{}, signed", by.unwrap_or("-")),
                    (by, None) => by.unwrap_or("-").to_owned(),
                }),
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
    allowed: Option<&fearless_sign::AllowedSigners>,
    strict: bool,
) -> Result<Outcome, Failure> {
    let check = fearless_engine::journal::verify(store, expected, allowed, strict)
        .await
        .map_err(store_failure)?;
    let report = &check.chain;
    if g.format == Format::Json {
        print_json(&VerifyJson {
            schema: "fearless.journal-verify/v1",
            intact: check.is_ok(),
            chain_intact: report.is_ok(),
            entries: report.entries,
            head: &report.head,
            expected_head: report.expected.as_ref(),
            broken: report.broken.as_ref(),
            signatures: &check.signatures,
            strict,
        })?;
    } else {
        print(&human(&check))?;
    }
    Ok(if check.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// The report for people: the verdict on the chain, the head to keep (`SEQ:HASH`, as
/// `--expect-head` takes it), what was compared, and the signatures.
fn human(check: &fearless_engine::journal::JournalCheck) -> String {
    let report = &check.chain;
    let head = &report.head;
    let mut out = match &report.broken {
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
            b.seq,
            render::text(&b.why),
            report.entries
        ),
    };
    let s = &check.signatures;
    let against = match &s.allowed_signers {
        Some(path) => format!("against {}", render::text(path)),
        None => "only that each signs its entry: no allowed signers (identity.allowed_signers or --allowed-signers) say whose keys they are".to_owned(),
    };
    out.push_str(&format!(
        "signatures: {} signed entr{}, {} verified {against}\n",
        s.signed,
        if s.signed == 1 { "y" } else { "ies" },
        s.verified + s.not_checked,
    ));
    if s.unsigned_state_changes > 0 {
        let shown: Vec<String> = s.unsigned.iter().map(u64::to_string).collect();
        out.push_str(&format!(
            "unsigned state changes: {} (seq {}{}){}\n",
            s.unsigned_state_changes,
            shown.join(", "),
            if s.unsigned_state_changes > s.unsigned.len() as u64 {
                ", …"
            } else {
                ""
            },
            if check.strict {
                ""
            } else {
                "; --strict fails on them"
            }
        ));
    }
    for p in &s.problems {
        out.push_str(&format!(
            "signature BAD at seq {}: {}\n",
            p.seq,
            render::text(&p.why)
        ));
    }
    if check.strict && s.not_checked > 0 {
        out.push_str(&format!(
            "{} signature(s) not checked against allowed signers (--strict)\n",
            s.not_checked
        ));
    }
    out
}

async fn export(store: &Store) -> Result<Outcome, Failure> {
    let mut buf = Vec::new();
    store.export(&mut buf).await.map_err(store_failure)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(Outcome::Success)
}

/// `journal verify --format json`: the verdict (chain and signatures), the chain's head, the
/// first broken link, and the signatures' report.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct VerifyJson<'a> {
    /// `fearless.journal-verify/v1`.
    #[schemars(extend("const" = "fearless.journal-verify/v1"))]
    schema: &'static str,
    /// The chain is whole and the signatures pass.
    intact: bool,
    /// The chain alone is whole.
    chain_intact: bool,
    /// How many entries it read.
    entries: u64,
    /// The head (`SEQ:HASH`).
    #[schemars(with = "serde_json::Value")]
    head: &'a JournalHead,
    /// The head it was told to expect.
    #[schemars(with = "serde_json::Value")]
    expected_head: Option<&'a JournalHead>,
    /// The first broken link.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    broken: Option<&'a fearless_store::BrokenLink>,
    /// The signatures' report.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    signatures: &'a fearless_engine::journal::SignatureReport,
    /// Whether an unsigned entry fails it.
    strict: bool,
}

/// `journal --format json`: the entries, oldest first.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct JournalJson<'a> {
    /// `fearless.journal/v1`.
    #[schemars(extend("const" = "fearless.journal/v1"))]
    schema: &'static str,
    /// The entries as the store keeps them.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    entries: &'a [fearless_store::JournalEntry],
}
