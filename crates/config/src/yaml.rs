//! How fearless reads YAML — `fearless.yaml` and Ansible YAML inventories alike: budgets
//! sized for real fleets and against bombs, and the parser's errors in fearless's words.
//!
//! serde-saphyr's defaults stop at 250,000 nodes, which a 25,000-host inventory exceeds.
//! fearless allows [`MAX_NODES`] (a 100,000-host inventory with a few labels per host is
//! about 1.2 million) and stops what is not a real inventory another way: aliases may
//! replay at most [`MAX_REPLAYED`] events in all (a "billion laughs" stops there), nesting
//! stops at [`MAX_DEPTH`] levels, and the file itself is at most 64 MiB
//! (`fearless_io::Limit::CONFIG`). Messages never show the parser's internal words
//! (`budget breached: Nodes {…}`, `DuplicateKeyPolicy`).

use crate::diag::{Problem, SourceFile};
use crate::source::{SourceMap, location_span, path_string};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Error, Options};
use std::sync::Arc;

/// The most YAML nodes (scalars, mappings, lists — alias replays included) a document may hold.
pub(crate) const MAX_NODES: usize = 4_000_000;
/// The most events all alias references together may replay.
pub(crate) const MAX_REPLAYED: usize = 100_000;
/// The deepest nesting of mappings and lists.
pub(crate) const MAX_DEPTH: usize = 64;

fn budget() -> Budget {
    let mut b = Budget::default();
    b.max_nodes = MAX_NODES;
    b.max_events = MAX_NODES * 2;
    b.max_depth = MAX_DEPTH;
    // Anchors used once per host (`<<: *defaults`) are fine in a large fleet; what they
    // expand to is bounded by MAX_REPLAYED and MAX_NODES instead of by a ratio.
    b.max_aliases = MAX_NODES;
    b.max_anchors = MAX_NODES;
    b.enforce_alias_anchor_ratio = false;
    b
}

/// Options of the typed pass and of the span index ([`SourceMap`]): repeated keys reach the
/// visitors (`raw::Map` notes them, derived structs refuse them), so that the index — built
/// only then — reports every one of them, located.
pub(crate) fn options() -> Options {
    let mut o = serde_saphyr::options! {
        with_snippet: false,
        budget: Some(budget()),
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
    };
    o.alias_limits.max_total_replayed_events = MAX_REPLAYED;
    o
}

/// Whether `e` is serde's "duplicate field" (a repeated key of a struct).
pub(crate) fn is_duplicate_field(e: &Error) -> bool {
    matches!(original(e), Error::Message { msg, .. } if msg.starts_with("duplicate field"))
}

/// A parser error as a located problem with `code`, naming the key where it can.
pub(crate) fn problem(
    code: &'static str,
    e: &Error,
    src: &Arc<SourceFile>,
    map: Option<&SourceMap>,
) -> Problem {
    let e = original(e);
    // An error the parser could not place is shown at the start of the document.
    let span = e
        .location()
        .and_then(|l| location_span(&l, &src.text))
        .or(Some(crate::source::Span { offset: 0, len: 0 }));
    let mut key = span
        .zip(map)
        .map(|(s, m)| m.path_at(s.offset))
        .unwrap_or_default();
    if let (Error::SerdeMissingField { .. }, Some(s), Some(m)) = (e, span, map)
        && m.key(&key).is_some_and(|k| k.offset == s.offset)
    {
        // Pointing at the first key of the mapping that lacks the field: name the mapping.
        key.pop();
    }
    let found = map.and_then(|m| m.kind_name(&key));
    // A null or complex key (`~`, `?` in the index) has no name to show.
    let name = key
        .last()
        .map(|s| s.to_string())
        .filter(|k| k != "~" && k != "?");
    let place = path_string(&key);
    // Without a key, say "the document" only where the document starts.
    let at_start = span.is_none_or(|s| {
        src.text[..s.offset]
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    });
    let (mut message, hint) = describe(e, name.as_deref(), &place, at_start);
    if let (Error::Unexpected { .. }, Some(found)) = (e, found) {
        message.push_str(&format!(", found {found}"));
    }
    let mut pr = Problem::error(code, message).at(src, span);
    pr.hint = hint;
    pr
}

/// Whether `e` is a budget or alias limit (the document is a bomb, or far too large).
pub(crate) fn is_budget(e: &Error) -> bool {
    matches!(
        original(e),
        Error::Budget { .. }
            | Error::AliasReplayLimitExceeded { .. }
            | Error::AliasExpansionLimitExceeded { .. }
            | Error::AliasReplayStackDepthExceeded { .. }
    )
}

fn original(mut e: &Error) -> &Error {
    loop {
        match e {
            Error::AliasError { error, .. } | Error::WithSnippet { error, .. } => e = error,
            _ => return e,
        }
    }
}

const ALIAS_HINT: &str = "write the repeated values out, use fewer `*alias` references to large \
     anchors, or put what every host shares in `inventory.defaults`";

fn describe(e: &Error, key: Option<&str>, place: &str, at_start: bool) -> (String, Option<String>) {
    let subject = match key {
        Some(k) => format!("`{k}`"),
        None if at_start => "the document".to_owned(),
        None => "this value".to_owned(),
    };
    match e {
        Error::Budget { breach, .. } => breach_message(breach),
        Error::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => (
            format!(
                "YAML aliases expand to more than {max_total_replayed_events} values (an alias bomb?)"
            ),
            Some(ALIAS_HINT.into()),
        ),
        Error::AliasExpansionLimitExceeded { .. } | Error::AliasReplayStackDepthExceeded { .. } => {
            (
                "YAML aliases nest or expand too much (an alias bomb?)".into(),
                Some(ALIAS_HINT.into()),
            )
        }
        Error::DuplicateMappingKey { key, .. } => (
            match key {
                Some(k) => format!("key `{k}` appears twice"),
                None => "a key appears twice in one mapping".into(),
            },
            Some("a mapping holds each key once; remove or merge one of them".into()),
        ),
        Error::MultipleDocuments { .. } => (
            "the file holds more than one YAML document (`---`)".into(),
            Some("fearless reads one document per file; remove the extra `---` sections".into()),
        ),
        Error::Unexpected { expected, .. } => (
            match (key, *expected) {
                (None, "mapping start") if at_start => {
                    "the document must be a mapping (`key: value` lines)".into()
                }
                (_, exp) => format!("{subject} must be {}", expected_words(exp)),
            },
            None,
        ),
        Error::InvalidScalar { ty, .. } => {
            (format!("{subject} must be {}", expected_words(ty)), None)
        }
        Error::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | Error::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => (
            format!("{subject} must be {expected}, found {unexpected}"),
            None,
        ),
        Error::SerdeMissingField { field, .. } if !place.is_empty() => {
            (format!("`{place}` needs `{field}`"), None)
        }
        Error::SerdeMissingField { field, .. } => (format!("missing key `{field}`"), None),
        Error::NullIntoString { .. } => (format!("{subject} must be text, found nothing"), None),
        Error::NonFiniteFloat { value, .. } => (
            format!("{subject} must be a finite number, found `{value}`"),
            None,
        ),
        Error::Message { msg, .. } => (msg.clone(), None),
        other => (crate::strip_location(&other.to_string()), None),
    }
}

fn breach_message(breach: &BudgetBreach) -> (String, Option<String>) {
    match breach {
        BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => (
            format!(
                "the document holds more than {MAX_NODES} YAML values (lists, mappings and \
                 scalars, alias expansions included)"
            ),
            Some(
                "fearless reads inventories of a few hundred thousand hosts; is this the right \
                 file, or do aliases expand to too much?"
                    .into(),
            ),
        ),
        BudgetBreach::Depth { .. } => (
            format!("the document nests deeper than {MAX_DEPTH} levels"),
            Some("a configuration nests a few levels; is this the right file?".into()),
        ),
        BudgetBreach::Aliases { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::AliasAnchorRatio { .. }
        | BudgetBreach::RecordedAnchorEvents { .. }
        | BudgetBreach::RecordedAnchorBytes { .. }
        | BudgetBreach::MergeKeys { .. } => (
            "YAML anchors and aliases expand to too much (an alias bomb?)".into(),
            Some(ALIAS_HINT.into()),
        ),
        BudgetBreach::ScalarBytes { .. } => (
            "the document's text values add up to more than 64 MiB".into(),
            None,
        ),
        BudgetBreach::Documents { .. } => (
            "the file holds too many YAML documents (`---`)".into(),
            Some("fearless reads one document per file".into()),
        ),
        _ => (
            "the document is too large or too deeply nested for fearless to read".into(),
            None,
        ),
    }
}

/// A parser's type name in words.
fn expected_words(ty: &str) -> String {
    match ty {
        "string scalar" | "string" | "str" => "text".into(),
        "mapping start" | "mapping" => "a mapping (`key: value` lines)".into(),
        "sequence start" | "sequence" => "a list".into(),
        "bool" => "true or false".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number of 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        other => other.to_owned(),
    }
}
