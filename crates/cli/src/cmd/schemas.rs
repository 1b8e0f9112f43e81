//! The JSON Schemas of `--format json`: one per `schema` name (`fearless.change/v1` is
//! `docs/schemas/fearless.change.v1.json`), generated with `schemars` from the types the
//! verbs print. The test here renders each one and compares it with the file; with
//! `FEARLESS_BLESS=1` it writes the files instead. A name printed by two shapes (a rollout
//! shown, or left by `patch`) is the `anyOf` of both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fearless_engine::views;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

use super::{
    bisect, check, discover, drift, events, init, journal, lab, map, os, packages, parity, patch,
    rca, rehearse, serve, vulns, worker,
};

/// `fearless.rollout/v1`: `rollout show`, or what `patch` / `rollout resume` left.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Rollout<'a> {
    /// `rollout show`.
    Show(views::RolloutShow<'a>),
    /// Paused, aborting or ended.
    Progress(patch::RolloutProgress<'a>),
}

/// `fearless.snapshot/v1`: a snapshot just taken, or one shown.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Snapshot<'a> {
    /// `snapshot`.
    Taken(packages::SnapshotTakenJson<'a>),
    /// `snapshot show SNAP-N`.
    Shown(packages::SnapshotShowJson<'a>),
}

/// Names printed in a `schema` field that have no generated schema yet, and why. Each is a
/// known gap: remove it here when its producer derives `JsonSchema` and is listed in [`all`].
const NOT_YET: &[(&str, &str)] = &[
    (
        "fearless.check-run/v1",
        "the dashboard API's (crates/serve/src/api.rs), not a CLI output",
    ),
    (
        "fearless.check-history/v1",
        "the dashboard API's (crates/serve/src/api.rs), not a CLI output",
    ),
    (
        "fearless.journal-verified/v1",
        "the dashboard API's (crates/serve/src/api.rs), not a CLI output",
    ),
];

/// The schema of `T` for output (what serialising produces), titled `name`.
fn schema<T: JsonSchema>(name: &'static str) -> (&'static str, Schema) {
    let mut s = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    s.insert("title".into(), name.into());
    (name, s)
}

/// Every schema, by name.
pub(crate) fn all() -> BTreeMap<&'static str, Schema> {
    [
        schema::<packages::ApplyJson<'_>>("fearless.apply/v1"),
        schema::<init::Report>("fearless.init/v1"),
        schema::<bisect::BisectJson<'_>>("fearless.bisect/v1"),
        schema::<views::ChangeJson<'_>>("fearless.change/v1"),
        schema::<views::ChangeList<'_>>("fearless.changes/v1"),
        schema::<check::CheckJson<'_>>("fearless.check/v1"),
        schema::<worker::WorkerJson<'_>>("fearless.worker/v1"),
        schema::<worker::CheckWorkerJson<'_>>("fearless.check-worker/v1"),
        schema::<discover::DiscoverJson<'_>>("fearless.discover/v1"),
        schema::<views::HostsJson<'_>>("fearless.hosts/v1"),
        schema::<views::IncidentJson<'_>>("fearless.incident/v1"),
        schema::<views::IncidentList<'_>>("fearless.incidents/v1"),
        schema::<journal::JournalJson<'_>>("fearless.journal/v1"),
        schema::<journal::VerifyJson<'_>>("fearless.journal-verify/v1"),
        schema::<lab::LabJson<'_>>("fearless.lab/v1"),
        schema::<lab::LabDownJson<'_>>("fearless.lab-down/v1"),
        schema::<lab::LabExtrasJson<'_>>("fearless.lab-extras/v1"),
        schema::<lab::LabPublishJson<'_>>("fearless.lab-publish/v1"),
        schema::<lab::LabStatusJson<'_>>("fearless.lab-status/v1"),
        schema::<lab::LabWithdrawJson<'_>>("fearless.lab-withdraw/v1"),
        schema::<map::MapJson<'_>>("fearless.map/v1"),
        schema::<drift::ObservationJson<'_>>("fearless.observation/v1"),
        schema::<drift::ObservationDiffJson<'_>>("fearless.observation-diff/v1"),
        schema::<drift::ObservationList<'_>>("fearless.observations/v1"),
        schema::<os::OsJson<'_>>("fearless.os/v1"),
        schema::<os::OsSummaryJson<'_>>("fearless.os-summary/v1"),
        schema::<events::OutboxJson<'_>>("fearless.outbox/v1"),
        schema::<packages::PackagesJson<'_>>("fearless.packages/v1"),
        schema::<parity::ParityJson<'_>>("fearless.parity/v1"),
        schema::<patch::PlanJson<'_>>("fearless.patch-plan/v1"),
        schema::<packages::PendingJson<'_>>("fearless.pending/v1"),
        schema::<views::PingJson<'_>>("fearless.ping/v1"),
        schema::<check::PlanJson<'_>>("fearless.plan/v1"),
        schema::<rca::RcaJson<'_>>("fearless.rca/v1"),
        schema::<rehearse::ReportJson<'_>>("fearless.rehearse/v1"),
        schema::<events::ReplayJson<'_>>("fearless.replay/v1"),
        schema::<packages::RollbackJson<'_>>("fearless.rollback/v1"),
        schema::<Rollout<'_>>("fearless.rollout/v1"),
        schema::<views::RolloutList<'_>>("fearless.rollouts/v1"),
        schema::<fearless_scan::Report>("fearless.scan/v1"),
        schema::<fearless_scan::baseline::Baseline>("fearless.scan.baseline/v1"),
        schema::<Snapshot<'_>>("fearless.snapshot/v1"),
        schema::<packages::SnapshotDiffJson<'_>>("fearless.snapshot-diff/v1"),
        schema::<packages::SnapshotList<'_>>("fearless.snapshots/v1"),
        schema::<serve::UsersJson<'_>>("fearless.users/v1"),
        schema::<vulns::VulnsJson<'_>>("fearless.vulns/v1"),
        schema::<packages::WhatChangedJson<'_>>("fearless.whatchanged/v1"),
    ]
    .into_iter()
    .collect()
}

/// `fearless.change/v1` → `fearless.change.v1.json`.
pub(crate) fn file_name(name: &str) -> String {
    format!("{}.json", name.replace('/', "."))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `"fearless.NAME/vN"` string literal in the workspace's sources.
fn names_in_sources() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for krate in std::fs::read_dir(repo().join("crates"))
        .expect("crates/")
        .flatten()
    {
        walk(&krate.path().join("src"), &mut files);
    }
    let mut names = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("a source file");
        for (i, _) in text.match_indices("\"fearless.") {
            let rest = &text[i + 1..];
            let Some(end) = rest.find('"') else { continue };
            let name = &rest[..end];
            let ok = name.split_once('/').is_some_and(|(stem, v)| {
                v.strip_prefix('v')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    && stem.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                    })
            });
            if ok {
                names.entry(name.to_owned()).or_insert_with(|| f.clone());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/schemas/` holds exactly the generated schemas, byte for byte.
    /// `FEARLESS_BLESS=1 cargo test -p fearless-cli schemas` rewrites it.
    #[test]
    fn docs_schemas_are_generated_from_the_types() {
        let dir = repo().join("docs/schemas");
        let bless = std::env::var_os("FEARLESS_BLESS").is_some_and(|v| v == "1");
        let schemas = all();
        let mut problems = Vec::new();
        if bless {
            std::fs::create_dir_all(&dir).expect("docs/schemas/");
        }
        for (name, schema) in &schemas {
            let path = dir.join(file_name(name));
            let text = serde_json::to_string_pretty(schema).expect("a schema") + "\n";
            if bless {
                std::fs::write(&path, &text).expect("write a schema");
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                problems.push(format!("{} is missing or stale", path.display()));
            }
        }
        let wanted: Vec<String> = schemas.keys().map(|n| file_name(n)).collect();
        for e in std::fs::read_dir(&dir).expect("docs/schemas/").flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if !wanted.contains(&file) {
                if bless {
                    std::fs::remove_file(e.path()).expect("remove a stale schema");
                } else {
                    problems.push(format!(
                        "{} has no producer (no type prints that schema name)",
                        e.path().display()
                    ));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "{}\nthe JSON Schemas are generated from the output types: run \
             `FEARLESS_BLESS=1 cargo test -p fearless-cli schemas` and commit docs/schemas/",
            problems.join("\n")
        );
    }

    /// Every name a `schema` field carries has a schema (or is a listed gap), and every
    /// schema is named in the sources.
    #[test]
    fn every_schema_name_in_the_sources_has_a_schema() {
        let schemas = all();
        let in_sources = names_in_sources();
        let missing: Vec<String> = in_sources
            .iter()
            .filter(|(n, _)| {
                !schemas.contains_key(n.as_str()) && !NOT_YET.iter().any(|(m, _)| m == n)
            })
            .map(|(n, f)| format!("{n} (in {})", f.display()))
            .collect();
        assert!(
            missing.is_empty(),
            "schema names without a generated schema: {missing:?}; list their types in cmd/schemas.rs"
        );
        let unused: Vec<&&str> = schemas
            .keys()
            .filter(|n| !in_sources.contains_key(**n))
            .collect();
        assert!(unused.is_empty(), "schemas no source prints: {unused:?}");
        for (n, why) in NOT_YET {
            assert!(
                in_sources.contains_key(*n) && !schemas.contains_key(n),
                "{n} is listed as not yet generated ({why}) but is generated or printed nowhere: drop it from NOT_YET"
            );
        }
    }

    /// Each schema pins its `schema` value.
    #[test]
    fn each_schema_pins_its_name() {
        for (name, schema) in all() {
            let text = serde_json::to_string(&schema).expect("a schema");
            assert!(
                text.contains(&format!("\"const\":\"{name}\"")),
                "{name}: the schema does not pin `schema` to its name"
            );
        }
    }
}
