//! Package state and changes on the selected hosts outside a rollout: the pending updates
//! (`fearless packages pending`), the hosts' own package history (`fearless whatchanged`),
//! and `fearless packages apply` and `rollback` — the same fan-out for both, each host's
//! outcome said as it ends and journaled on `host:<name>` (`host.packages.applied`,
//! `host.packages.rolled-back`).

use std::collections::BTreeMap;

use fearless_pkg::history::Transaction;
use fearless_pkg::ops::{self, Options, Report};
use fearless_pkg::{Manager, Manifest, PackageManager, PackageSet, Pending, PkgError};

use crate::fleet::HostResult;
use crate::progress::{Event, HostEvent};
use crate::record::{self, PackagesChanged, PackagesDetail};
use crate::{Engine, EngineError, Fleetwide};

/// What to do to every host.
#[derive(Debug, Clone, Copy)]
pub enum PackageWork<'a> {
    /// Bring the manifest's packages to exactly its versions.
    Apply(&'a Manifest),
    /// Bring each host back to its package set in snapshot `SNAP-<number>`.
    Rollback {
        /// The snapshot's number.
        snapshot: u64,
        /// Its package sets, by host.
        sets: &'a BTreeMap<String, PackageSet>,
    },
}

/// Every selected host's pending updates (after refreshing its package metadata when
/// `refresh`; only security updates when `security_only`), with its package manager.
pub async fn pending(
    fw: &Fleetwide,
    refresh: bool,
    security_only: bool,
) -> Vec<HostResult<(Manager, Vec<Pending>)>> {
    fw.each(|b, t| async move {
        if refresh {
            b.refresh(&t).await?;
        }
        let mut pending = b.pending(&t).await?;
        if security_only {
            pending.retain(|p| p.security);
        }
        Ok((b.manager(), pending))
    })
    .await
}

/// Every selected host's package transactions since `since`, from its own history, with
/// its package manager.
pub async fn history(
    fw: &Fleetwide,
    since: jiff::Timestamp,
) -> Vec<HostResult<(Manager, Vec<Transaction>)>> {
    fw.each(|b, t| async move { Ok((b.manager(), b.history(&t, since).await?)) })
        .await
}

/// Keep the selected hosts snapshot `SNAP-<snapshot>` has a package set for (`sets`). A
/// host it does not cover is bad input when the hosts were selected by name
/// (`selected`); otherwise it is left out.
pub fn covered_by(
    fw: &mut Fleetwide,
    snapshot: u64,
    sets: &BTreeMap<String, PackageSet>,
    selected: bool,
) -> Result<(), EngineError> {
    let outside: Vec<&str> = fw
        .hosts()
        .iter()
        .filter(|h| !sets.contains_key(&h.name))
        .map(|h| h.name.as_str())
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    if selected {
        return Err(EngineError::bad_input(
            format!(
                "SNAP-{snapshot} has no package set for {}",
                outside.join(", ")
            ),
            Some("select hosts the snapshot covers (see `fearless snapshot show`)"),
        ));
    }
    fw.retain(|h| sets.contains_key(&h.name));
    Ok(())
}

impl PackageWork<'_> {
    fn kind(self) -> &'static str {
        match self {
            Self::Apply(_) => "host.packages.applied",
            Self::Rollback { .. } => "host.packages.rolled-back",
        }
    }

    fn detail(self, forced: bool) -> PackagesDetail {
        match self {
            Self::Apply(m) => PackagesDetail {
                manifest: Some(m.pins.iter().map(ToString::to_string).collect()),
                snapshot: None,
                forced,
            },
            Self::Rollback { snapshot, .. } => PackagesDetail {
                manifest: None,
                snapshot: Some(format!("SNAP-{snapshot}")),
                forced,
            },
        }
    }
}

impl Engine<'_> {
    /// Do `work` on every host of `fw` at once (`force`: go ahead although the way back
    /// would not be possible), saying each host's outcome as it ends; every outcome is
    /// journaled, a failed host too.
    pub async fn change_packages(
        &self,
        fw: &Fleetwide,
        work: PackageWork<'_>,
        force: bool,
    ) -> Result<Vec<HostResult<Report>>, EngineError> {
        let options = Options { force };
        let results = fw
            .each(|b, t| async move {
                let r = match work {
                    PackageWork::Apply(manifest) => ops::apply(&b, &t, manifest, options).await,
                    PackageWork::Rollback { sets, .. } => match sets.get(t.name) {
                        Some(target) => ops::rollback(&b, &t, target, options).await,
                        None => Err(PkgError::BadInput {
                            host: t.name.to_owned(),
                            detail: "not in the snapshot".into(),
                        }),
                    },
                };
                self.progress.event(Event::Host {
                    host: t.name.to_owned(),
                    what: match &r {
                        Ok(rep) => HostEvent::PackagesChanged {
                            rollback: matches!(work, PackageWork::Rollback { .. }),
                            changed: rep.changes.changed(),
                        },
                        Err(e) => HostEvent::PackagesFailed {
                            kind: e.kind().to_owned(),
                        },
                    },
                });
                r
            })
            .await;
        let detail = work.detail(force);
        for (host, r) in &results {
            let payload = match r {
                Ok(rep) => PackagesChanged {
                    result: "ok".into(),
                    changes: Some(rep.changes.clone()),
                    restarts: Some(rep.restarts.clone()),
                    error: None,
                    detail: detail.clone(),
                },
                Err(e) => PackagesChanged {
                    result: e.kind().to_owned(),
                    changes: None,
                    restarts: None,
                    error: Some(e.to_string()),
                    detail: detail.clone(),
                },
            };
            self.store
                .append(record::event_of(
                    self.actor,
                    work.kind(),
                    format!("host:{host}"),
                    &payload,
                ))
                .await?;
        }
        Ok(results)
    }
}
