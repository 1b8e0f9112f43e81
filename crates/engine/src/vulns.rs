//! `fearless vulns` and `fearless patch --fixes`: each host's release (the os script),
//! its installed packages with the sources they were built from
//! ([`fearless_pkg::PackageManager::built`]), matched against the feeds' [`Index`]
//! ([`fearless_vulns`]), and what its repositories offer now for the binaries a fix
//! needs ([`fearless_pkg::PackageManager::offered_builds`]). Read only, unless `refresh`
//! asks for the repositories' metadata to be refreshed first.
//!
//! Three phases: every host is read at once (one round trip each); the matching runs on
//! every core ([`Index::assess_all`]: a fleet's hosts are independent, and each package
//! version is evaluated once for all of them); then the hosts with a finding that has a
//! fix are asked what their repositories offer.

use std::collections::BTreeMap;

use fearless_pkg::{Built, Manager, PackageManager, PkgError};
use fearless_vulns::{Host, Index, Report, Scope};
use serde::Serialize;

use crate::Fleetwide;
use crate::fleet::HostResult;

/// What applies to one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostVulns {
    /// Inventory name.
    pub host: String,
    /// Its release as it says it (`Debian GNU/Linux 12 (bookworm)`).
    pub release: String,
    /// Its package manager.
    pub manager: Manager,
    /// The advisories that apply, with offers.
    pub report: Report,
}

/// One host as read.
struct Read {
    release: String,
    scope: Option<Scope>,
    manager: Manager,
    packages: Vec<Built>,
}

/// Every host of `fw` against `index`; with `refresh`, each host's repository metadata is
/// refreshed first (`apt-get update`, `dnf makecache`), so that what is offered is what
/// the repositories hold now. A result per host, in inventory order.
pub async fn read(fw: &Fleetwide, index: &Index<'_>, refresh: bool) -> Vec<HostResult<HostVulns>> {
    let read = fw
        .each(|b, t| async move {
            if refresh {
                b.refresh(&t).await?;
            }
            let answer = crate::os::read_host(&t).await?;
            let release = answer.os.release();
            Ok(Read {
                release: answer.os.display(),
                scope: release
                    .cycle
                    .as_deref()
                    .map(|c| Scope::new(&release.product, c)),
                manager: b.manager(),
                packages: b.built(&t).await?,
            })
        })
        .await;
    let ok: Vec<&Read> = read.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    let hosts: Vec<Host<'_>> = ok
        .iter()
        .map(|r| Host {
            scope: r.scope.as_ref(),
            kind: r.manager.kind(),
            packages: &r.packages,
        })
        .collect();
    let mut reports = index.assess_all(&hosts).into_iter();
    let mut done: Vec<(String, Result<HostVulns, PkgError>)> = Vec::with_capacity(read.len());
    for (host, r) in read {
        done.push(match r {
            Ok(r) => {
                let report = reports.next().unwrap_or_else(|| Report {
                    scope: r.scope.clone(),
                    findings: Vec::new(),
                    unimportant: 0,
                    covered: false,
                    notes: vec!["not assessed".into()],
                });
                let v = HostVulns {
                    host: host.clone(),
                    release: r.release,
                    manager: r.manager,
                    report,
                };
                (host, Ok(v))
            }
            Err(e) => (host, Err(e)),
        });
    }
    // What the repositories offer, for the hosts that have a finding with a fix.
    let wanted: BTreeMap<String, Vec<String>> = done
        .iter()
        .filter_map(|(h, r)| r.as_ref().ok().map(|v| (h.clone(), v.report.wanted())))
        .filter(|(_, w)| !w.is_empty())
        .collect();
    if !wanted.is_empty() {
        let names: Vec<&str> = wanted.keys().map(String::as_str).collect();
        let wanted = &wanted;
        let offers = fw
            .each_of(&names, |b, t| async move {
                let names = wanted.get(t.name).map(Vec::as_slice).unwrap_or_default();
                b.offered_builds(&t, names).await
            })
            .await;
        for (host, offered) in offers {
            let Some((_, slot)) = done.iter_mut().find(|(h, _)| *h == host) else {
                continue;
            };
            match offered {
                Ok(offered) => {
                    if let Ok(v) = slot {
                        let kind = v.manager.kind();
                        v.report.offer(kind, &offered);
                    }
                }
                Err(e) => *slot = Err(e),
            }
        }
    }
    done
}
