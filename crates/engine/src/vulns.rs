//! `fearless vulns` and `fearless patch --fixes`: each host's release (the os script),
//! its installed packages with the sources they were built from
//! ([`fearless_pkg::PackageManager::built`]), matched against the feeds' [`Index`]
//! ([`fearless_vulns`]), and what its repositories offer now for the binaries a fix
//! needs ([`fearless_pkg::PackageManager::offered_builds`]). Read only, unless `refresh`
//! asks for the repositories' metadata to be refreshed first.

use fearless_pkg::{Manager, PackageManager};
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

/// Every host of `fw` against `index`; with `refresh`, each host's repository metadata is
/// refreshed first (`apt-get update`, `dnf makecache`), so that what is offered is what
/// the repositories hold now.
pub async fn read(fw: &Fleetwide, index: &Index<'_>, refresh: bool) -> Vec<HostResult<HostVulns>> {
    fw.each(|b, t| async move {
        if refresh {
            b.refresh(&t).await?;
        }
        let answer = crate::os::read_host(&t).await?;
        let release = answer.os.release();
        let scope = release
            .cycle
            .as_deref()
            .map(|c| Scope::new(&release.product, c));
        let kind = b.manager().kind();
        let packages = b.built(&t).await?;
        let mut report = index.assess(&Host {
            scope: scope.as_ref(),
            kind,
            packages: &packages,
        });
        let wanted = report.wanted();
        if !wanted.is_empty() {
            let offered = b.offered_builds(&t, &wanted).await?;
            report.offer(kind, &offered);
        }
        Ok(HostVulns {
            host: t.name.to_owned(),
            release: answer.os.display(),
            manager: b.manager(),
            report,
        })
    })
    .await
}
