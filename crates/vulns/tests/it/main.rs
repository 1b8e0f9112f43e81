//! The feeds read from files as a user gives them, matched against host inventories:
//! OSV ranges and version lists, release scoping, Debian's tracker statuses, ALAS, rpm
//! epochs, offers and fix plans; and every malformed feed a located error, never a partly
//! read feed.

mod feeds;
mod malformed;
mod matching;

use std::path::{Path, PathBuf};

use fearless_pkg::Built;
use fearless_pkg::version::Kind;
use fearless_vulns::{Feed, Index, Report, Scope};

/// `text` written to `dir/name`; its path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write");
    p
}

/// The feed of one document `text` named `name`.
#[track_caller]
pub(crate) fn feed_of(name: &str, text: &str) -> Feed {
    let dir = tempfile::tempdir().expect("tmp");
    let p = write(dir.path(), name, text);
    fearless_vulns::load(&[p]).unwrap_or_else(|e| panic!("{e}"))
}

/// A package built from `source` at `source_version`.
pub(crate) fn built(name: &str, version: &str, source: &str, source_version: &str) -> Built {
    Built {
        name: name.into(),
        arch: "amd64".into(),
        version: version.into(),
        source: source.into(),
        source_version: source_version.into(),
    }
}

/// A package that is its own source.
pub(crate) fn own(name: &str, version: &str) -> Built {
    built(name, version, name, version)
}

/// What applies to a host of `product cycle` with `packages`.
pub(crate) fn assess(
    feed: &Feed,
    product: &str,
    cycle: &str,
    kind: Kind,
    packages: &[Built],
) -> Report {
    let scope = Scope::new(product, cycle);
    Index::new(feed).assess(&fearless_vulns::Host {
        scope: Some(&scope),
        kind,
        packages,
    })
}

/// `(advisory, package, status, fixed)` of every finding.
pub(crate) fn rows(r: &Report) -> Vec<(String, String, String, Option<String>)> {
    r.findings
        .iter()
        .map(|f| {
            (
                f.advisory.to_string(),
                f.package.to_string(),
                f.status.to_string(),
                f.fixed.as_deref().map(str::to_owned),
            )
        })
        .collect()
}

/// An OSV record of `ecosystem`/`package` with `ranges` (JSON) and `versions`.
pub(crate) fn osv(
    id: &str,
    ecosystem: &str,
    package: &str,
    ranges: &str,
    versions: &str,
) -> String {
    format!(
        r#"{{"id": "{id}", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-{id}"],
  "affected": [{{"package": {{"ecosystem": "{ecosystem}", "name": "{package}"}},
    "ranges": {ranges}, "versions": {versions}}}]}}"#
    )
}
