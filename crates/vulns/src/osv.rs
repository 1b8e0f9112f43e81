//! OSV records (<https://ossf.github.io/osv-schema/>): one record per file as OSV publishes
//! them (a directory or a zip of `ID.json`), or a JSON array of records.
//!
//! The Linux ecosystems fearless matches are scoped to a release — `Debian:12`,
//! `Ubuntu:22.04:LTS`, `AlmaLinux:9`, `Rocky Linux:9` — and name **source** packages. An
//! entry without a release (`Debian`) is not matched: its fixed version belongs to some
//! release, and applied to another it would be a false positive or a miss. Ubuntu Pro
//! (`Ubuntu:Pro:…`) fixes need an attached host and are not matched; Red Hat's CPE-scoped
//! streams and every other ecosystem (npm, PyPI, …) are counted and said, never errors.
//! Ranges of type `ECOSYSTEM` are evaluated (`introduced`, `fixed`, `last_affected`,
//! `limit`); `GIT` and `SEMVER` ranges of these ecosystems cannot be, and are counted.

use std::borrow::Cow;

use fearless_pkg::version::Kind;
use serde::Deserialize;

use crate::error::FeedError;
use crate::model::{
    Advisory, Affected, Bound, By, Event, FeedSource, Rule, Scope, Status, sort_events, version,
};

// Versions and event bounds are borrowed from the text (no copy before they are parsed):
// a dump has hundreds of thousands.
#[derive(Debug, Deserialize)]
struct RawRecord<'a> {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    upstream: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default, borrow)]
    affected: Vec<RawAffected<'a>>,
}

#[derive(Debug, Deserialize)]
struct RawAffected<'a> {
    #[serde(default)]
    package: Option<RawPackage>,
    #[serde(default, borrow)]
    ranges: Vec<RawRange<'a>>,
    #[serde(default, borrow)]
    versions: Vec<Cow<'a, str>>,
    #[serde(default)]
    ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct RawRange<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, borrow)]
    events: Vec<RawEvent<'a>>,
}

#[derive(Debug, Deserialize)]
struct RawEvent<'a> {
    #[serde(default, borrow)]
    introduced: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    fixed: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    last_affected: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    limit: Option<Cow<'a, str>>,
}

/// Where an ecosystem string leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ecosystem {
    /// A release fearless matches.
    Scoped(Scope),
    /// Not matched, for this reason (counted).
    Unmatched(String),
}

/// The scope of an OSV ecosystem string.
pub(crate) fn ecosystem(text: &str) -> Ecosystem {
    let mut parts = text.split(':');
    let name = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let product = match name {
        "Debian" => "debian",
        "Ubuntu" => "ubuntu",
        "AlmaLinux" => "almalinux",
        "Rocky Linux" => "rocky-linux",
        "Red Hat" => return Ecosystem::Unmatched("Red Hat (CPE streams are not read)".into()),
        other => return Ecosystem::Unmatched(format!("ecosystem {other}")),
    };
    match rest.as_slice() {
        [] | [""] => Ecosystem::Unmatched(format!("{name} without a release")),
        ["Pro", ..] => Ecosystem::Unmatched(format!("{name} Pro (ESM) only")),
        [release, ..] => {
            let release = release.trim();
            // The RHEL family is matched by major release (`9.4` hosts take `9` advisories).
            let cycle = match product {
                "almalinux" | "rocky-linux" => release.split('.').next().unwrap_or(release),
                _ => release,
            };
            Ecosystem::Scoped(Scope::new(product, cycle))
        }
    }
}

/// Read OSV JSON (`text`, one record or an array of them) from `at` into `out`; what
/// cannot be matched is counted in `src`.
pub(crate) fn parse(
    text: &str,
    at: &str,
    source: usize,
    src: &mut FeedSource,
    out: &mut Vec<Advisory>,
) -> Result<(), FeedError> {
    let records: Vec<RawRecord<'_>> = if text.trim_start().starts_with('[') {
        serde_json::from_str(text).map_err(|e| FeedError::json(at, &e))?
    } else {
        vec![serde_json::from_str(text).map_err(|e| FeedError::json(at, &e))?]
    };
    for r in records {
        src.records += 1;
        if r.withdrawn.is_some() {
            src.unmatched("withdrawn");
            continue;
        }
        if let Some(a) = record(r, at, source, src)? {
            out.push(a);
        }
    }
    Ok(())
}

fn record(
    r: RawRecord<'_>,
    at: &str,
    source: usize,
    src: &mut FeedSource,
) -> Result<Option<Advisory>, FeedError> {
    if r.id.trim().is_empty() {
        return Err(FeedError::new(at, "a record with an empty id"));
    }
    let mut affected = Vec::new();
    let mut severity = None;
    for (i, a) in r.affected.into_iter().enumerate() {
        let field = |f: &str| format!("affected[{i}]{f}");
        let Some(pkg) = a.package else {
            src.unmatched("affected entry without a package");
            continue;
        };
        let scope = match ecosystem(&pkg.ecosystem) {
            Ecosystem::Scoped(s) => s,
            Ecosystem::Unmatched(reason) => {
                src.unmatched(reason);
                continue;
            }
        };
        if pkg.name.trim().is_empty() {
            return Err(FeedError::record(
                at,
                &r.id,
                &field(".package.name"),
                "empty",
            ));
        }
        let kind = scope.kind();
        let mut ranges = Vec::new();
        for (j, range) in a.ranges.iter().enumerate() {
            if range.kind != "ECOSYSTEM" {
                src.unmatched(format!("{} range", range.kind));
                continue;
            }
            let mut events = Vec::new();
            for (k, e) in range.events.iter().enumerate() {
                let path = field(&format!(".ranges[{j}].events[{k}]"));
                if let Some(e) =
                    event(kind, e).map_err(|m| FeedError::record(at, &r.id, &path, m))?
                {
                    events.push(e);
                }
            }
            sort_events(&mut events);
            ranges.push(events);
        }
        let mut versions = Vec::new();
        for (j, v) in a.versions.iter().enumerate() {
            versions.push(version(kind, v).map_err(|m| {
                FeedError::record(at, &r.id, &field(&format!(".versions[{j}]")), m)
            })?);
        }
        versions.sort_by(crate::model::cmp);
        if ranges.is_empty() && versions.is_empty() {
            src.unmatched("entry without an ECOSYSTEM range or versions");
            continue;
        }
        let urgency = a
            .ecosystem_specific
            .as_ref()
            .and_then(|e| e.get("urgency"))
            .and_then(|u| u.as_str())
            .map(|u| u.trim_end_matches('*').to_owned());
        let status = (urgency.as_deref() == Some("unimportant")).then_some(Status::Unimportant);
        if severity.is_none() {
            severity = urgency.filter(|u| u != "not yet assigned");
        }
        *src.scopes.entry(scope.to_string()).or_default() += 1;
        affected.push(Affected {
            scope,
            by: By::Source,
            package: pkg.name.into(),
            rule: Rule::Ranges { ranges, versions },
            status,
        });
    }
    if affected.is_empty() {
        return Ok(None);
    }
    let mut aliases = r.aliases;
    for u in r.upstream {
        if !aliases.contains(&u) && u != r.id {
            aliases.push(u);
        }
    }
    Ok(Some(Advisory {
        id: r.id.into(),
        aliases: aliases.into(),
        summary: r.summary.filter(|s| !s.trim().is_empty()).map(Into::into),
        severity: severity.map(Into::into),
        source,
        affected,
    }))
}

/// One event: exactly one of its four fields; `None` for `limit: "*"`, which bounds
/// nothing.
fn event(kind: Kind, e: &RawEvent<'_>) -> Result<Option<Event>, String> {
    let given = [&e.introduced, &e.fixed, &e.last_affected, &e.limit]
        .iter()
        .filter(|f| f.is_some())
        .count();
    if given != 1 {
        return Err(format!(
            "an event has exactly one of introduced, fixed, last_affected, limit ({given} given)"
        ));
    }
    let v = |t: &str| version(kind, t);
    Ok(Some(
        match (&e.introduced, &e.fixed, &e.last_affected, &e.limit) {
            (Some(t), ..) if t.trim() == "0" => Event::Introduced(Bound::Zero),
            (Some(t), ..) => Event::Introduced(Bound::At(v(t)?)),
            (_, Some(t), ..) => Event::Fixed(v(t)?),
            (_, _, Some(t), _) => Event::LastAffected(v(t)?),
            (.., Some(t)) if t.trim() == "*" => return Ok(None),
            (.., Some(t)) => Event::Limit(v(t)?),
            _ => return Err("an empty event".into()),
        },
    ))
}
