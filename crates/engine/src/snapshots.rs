//! Package snapshots outside a rollout (`fearless snapshot`): every selected host's package
//! set read and stored with the journal entry that says so (`snapshot.taken`), and what
//! changed between a snapshot and a later one, or the hosts as they are now.

use std::collections::BTreeMap;

use fearless_pkg::{Diff, PackageSet, PkgError, ops};
use fearless_store::{Store, StoredSnapshot};

use crate::fleet::HostResult;
use crate::identity::Who;
use crate::record::{self, SnapshotDoc, SnapshotTaken};
use crate::{EngineError, Fleetwide};

/// Every selected host's package set, as it is now.
pub async fn read_sets(fw: &Fleetwide) -> Vec<HostResult<PackageSet>> {
    fw.each(|b, t| async move { ops::package_set(&b, &t).await })
        .await
}

/// A snapshot stored: its record, what it holds, and how many packages across its hosts.
#[derive(Debug)]
pub struct Taken {
    /// The stored record (`SNAP-<number>`, when).
    pub stored: StoredSnapshot,
    /// Each host's package set, and the hosts that could not be read.
    pub doc: SnapshotDoc,
    /// Packages across the hosts.
    pub packages: usize,
}

/// Store what [`read_sets`] read as a snapshot taken by `actor`, in one transaction with
/// its journal entry. `None` when no host answered: nothing is stored.
pub async fn record<'a>(
    store: &Store,
    actor: impl Into<Who<'a>>,
    results: &[HostResult<PackageSet>],
) -> Result<Option<Taken>, EngineError> {
    let mut doc = SnapshotDoc::default();
    for (host, r) in results {
        match r {
            Ok(set) => {
                doc.hosts.insert(host.clone(), set.clone());
            }
            Err(e) => {
                doc.errors.insert(host.clone(), e.to_string());
            }
        }
    }
    if doc.hosts.is_empty() {
        return Ok(None);
    }
    let packages: usize = doc.hosts.values().map(|s| s.packages.len()).sum();
    let event = record::event(
        actor,
        "",
        &SnapshotTaken {
            hosts: doc.hosts.keys().cloned().collect(),
            rollout: None,
            packages: Some(packages),
            errors: doc.errors.clone(),
        },
    );
    let value = serde_json::to_value(&doc).map_err(|e| EngineError::corrupt("a snapshot", e))?;
    let stored = store.insert_snapshot(&value, event).await?;
    Ok(Some(Taken {
        stored,
        doc,
        packages,
    }))
}

/// The package sets of the later snapshot `SNAP-<number>` for each host of `earlier`, in
/// its order; a host the later one does not hold is an error of its own.
pub fn later_sets(
    earlier: &BTreeMap<String, PackageSet>,
    later: &SnapshotDoc,
    number: u64,
) -> Vec<HostResult<PackageSet>> {
    earlier
        .keys()
        .map(|host| {
            let set = later
                .hosts
                .get(host)
                .cloned()
                .ok_or_else(|| PkgError::BadInput {
                    host: host.clone(),
                    detail: format!("not in SNAP-{number}"),
                });
            (host.clone(), set)
        })
        .collect()
}

/// What changed on each host of `earlier` that `wanted` keeps, to its set in `later` (a
/// host `later` has no answer for is left out; one it could not read is that error).
pub fn diffs(
    earlier: &BTreeMap<String, PackageSet>,
    later: &[HostResult<PackageSet>],
    wanted: impl Fn(&str) -> bool,
) -> Vec<HostResult<Diff>> {
    earlier
        .iter()
        .filter(|(host, _)| wanted(host))
        .filter_map(|(host, before)| {
            let (_, after) = later.iter().find(|(h, _)| h == host)?;
            let diff = after
                .as_ref()
                .map(|after| {
                    Diff::between(before.manager.kind(), &before.packages, &after.packages)
                })
                .map_err(Clone::clone);
            Some((host.clone(), diff))
        })
        .collect()
}
