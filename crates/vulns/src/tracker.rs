//! Debian's security-tracker JSON (`https://security-tracker.debian.org/tracker/data/json`):
//! `{SOURCE: {ISSUE: {releases: {CODENAME: {status, fixed_version, urgency, nodsa,
//! nodsa_reason, repositories}}}}}`. Each issue of each source package is an advisory;
//! each release entry is scoped by the release's number (the codename looked up in the
//! embedded distro-info-data; a codename it does not know, such as `sid`, is counted).
//!
//! The policy (also in the README):
//! - `resolved` with `fixed_version: "0"`: the release was never affected — not an entry;
//! - `resolved` with a version: affected below it ([`Status::Fixable`]);
//! - `open`: affected, no fix yet ([`Status::Open`]); with `nodsa`, deferred:
//!   [`Status::NoDsa`] (a minor issue), [`Status::Postponed`], [`Status::Ignored`]
//!   (its `nodsa_reason`); urgency `end-of-life`: [`Status::EndOfLife`];
//! - urgency `unimportant` (whatever the status): [`Status::Unimportant`], never listed;
//! - `undetermined`, or `resolved` without a version: counted, not matched.

use std::collections::BTreeMap;

use fearless_pkg::version::Kind;
use serde::Deserialize;

use crate::error::FeedError;
use crate::model::{Advisory, Affected, By, FeedSource, Rule, Scope, Status, version};

#[derive(Debug, Deserialize)]
struct RawIssue {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    releases: BTreeMap<String, RawRelease>,
}

#[derive(Debug, Deserialize)]
struct RawRelease {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

/// Debian's release numbers by codename, from the embedded distro-info-data.
fn releases() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for t in fearless_platform::Table::embedded() {
        if let Some(cycles) = t.products.get("debian") {
            for c in cycles {
                if let Some(code) = &c.codename {
                    out.entry(code.to_ascii_lowercase())
                        .or_insert_with(|| c.release_cycle.clone());
                }
            }
        }
    }
    out
}

/// Read a tracker document (`text`, from `at`) into `out`.
pub(crate) fn parse(
    text: &str,
    at: &str,
    source: usize,
    src: &mut FeedSource,
    out: &mut Vec<Advisory>,
) -> Result<(), FeedError> {
    let doc: BTreeMap<String, BTreeMap<String, RawIssue>> =
        serde_json::from_str(text).map_err(|e| FeedError::json(at, &e))?;
    let numbers = releases();
    for (package, issues) in doc {
        for (id, issue) in issues {
            src.records += 1;
            let mut affected = Vec::new();
            let mut severity: Option<String> = None;
            let name: std::sync::Arc<str> = package.as_str().into();
            for (codename, r) in issue.releases {
                let Some(cycle) = numbers.get(&codename.to_ascii_lowercase()) else {
                    src.unmatched(format!("release {codename} (no release number)"));
                    continue;
                };
                let urgency = r
                    .urgency
                    .as_deref()
                    .map(|u| u.trim_end_matches('*').trim().to_owned());
                let unimportant = urgency.as_deref() == Some("unimportant");
                let (rule, status) = match r.status.as_deref() {
                    Some("resolved") => match r.fixed_version.as_deref().map(str::trim) {
                        Some("0") => {
                            src.unmatched("resolved: never affected (fixed_version 0)");
                            continue;
                        }
                        Some(v) if !v.is_empty() => {
                            let fixed = version(Kind::Deb, v).map_err(|m| {
                                FeedError::record(
                                    at,
                                    &format!("{package}/{id}"),
                                    &format!("releases.{codename}.fixed_version"),
                                    m,
                                )
                            })?;
                            (
                                Rule::FixedIn(fixed),
                                unimportant.then_some(Status::Unimportant),
                            )
                        }
                        _ => {
                            src.unmatched("resolved without a fixed version");
                            continue;
                        }
                    },
                    Some("open") => {
                        let status = if unimportant {
                            Status::Unimportant
                        } else if r.nodsa.is_some() {
                            match r.nodsa_reason.as_deref() {
                                Some("postponed") => Status::Postponed,
                                Some("ignored") => Status::Ignored,
                                _ => Status::NoDsa,
                            }
                        } else if urgency.as_deref() == Some("end-of-life") {
                            Status::EndOfLife
                        } else {
                            Status::Open
                        };
                        (Rule::Unfixed, Some(status))
                    }
                    Some("undetermined") => {
                        src.unmatched("undetermined");
                        continue;
                    }
                    other => {
                        return Err(FeedError::record(
                            at,
                            &format!("{package}/{id}"),
                            &format!("releases.{codename}.status"),
                            format!("{other:?}: expected resolved, open or undetermined"),
                        ));
                    }
                };
                if severity.is_none() {
                    severity = urgency.filter(|u| u != "not yet assigned");
                }
                let scope = Scope::new("debian", cycle);
                *src.scopes.entry(scope.to_string()).or_default() += 1;
                affected.push(Affected {
                    scope,
                    by: By::Source,
                    package: name.clone(),
                    rule,
                    status,
                });
            }
            if affected.is_empty() {
                continue;
            }
            out.push(Advisory {
                id: id.into(),
                aliases: Vec::new().into(),
                summary: issue
                    .description
                    .filter(|d| !d.trim().is_empty())
                    .map(|d| d.lines().next().unwrap_or_default().into()),
                severity: severity.map(Into::into),
                source,
                affected,
            });
        }
    }
    Ok(())
}
