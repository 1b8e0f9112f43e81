//! `DIR/state.json`: what `up` has created so far, written after every step so that `down`
//! can undo a crashed `up`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};
use crate::sys::{self, ProcRef};
use crate::{Packaging, Role, Topology};

const STATE_VERSION: u32 = 1;

/// The recorded state of a lab.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) version: u32,
    /// The cached Debian root used as the overlays' lower layer.
    pub(crate) root: PathBuf,
    /// The cached RPM root under the RPM host's overlay, when there is an RPM host.
    #[serde(default)]
    pub(crate) rpm_root: Option<PathBuf>,
    /// The sshd port of every host.
    pub(crate) port: u16,
    /// The shape of the site (labs recorded before topologies were flat).
    #[serde(default)]
    pub(crate) topology: Topology,
    pub(crate) hosts: Vec<HostState>,
    /// The tiered lab's payments provider process, outside every host.
    #[serde(default)]
    pub(crate) payments: Option<ProcRef>,
}

/// The recorded state of one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HostState {
    pub(crate) name: String,
    pub(crate) address: Ipv4Addr,
    /// Which package manager owns the acme shop there.
    #[serde(default)]
    pub(crate) packaging: Packaging,
    /// What it runs (labs recorded before roles ran the whole shop).
    #[serde(default)]
    pub(crate) role: Role,
    /// The overlay at `hosts/NAME/merged` is mounted.
    pub(crate) overlay: bool,
    /// The `unshare` process (parent of the host's PID namespace).
    pub(crate) unshare: Option<ProcRef>,
    /// The host's init (PID 1 inside the namespace), as seen from the controller. Labs made
    /// before hosts could reboot ran sshd there and recorded it as `sshd`.
    #[serde(alias = "sshd")]
    pub(crate) init: Option<ProcRef>,
    /// A rehearsal host (not part of the fleet): the release it runs (`trixie`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rehearsal: Option<String>,
}

impl State {
    pub(crate) fn new(
        root: PathBuf,
        rpm_root: Option<PathBuf>,
        port: u16,
        topology: Topology,
    ) -> Self {
        Self {
            version: STATE_VERSION,
            root,
            rpm_root,
            port,
            topology,
            hosts: Vec::new(),
            payments: None,
        }
    }

    pub(crate) fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Reads the state, `None` when there is none.
    pub(crate) fn load(dir: &Path) -> Result<Option<Self>> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::io(format!("read {}", path.display()), e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| LabError::State { path, source })
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let path = Self::path(dir);
        let text = serde_json::to_string_pretty(self).map_err(|source| LabError::State {
            path: path.clone(),
            source,
        })?;
        sys::write_atomic(&path, text.as_bytes(), 0o644)
    }

    /// The number of Debian hosts and whether there is an RPM host (rehearsal hosts are not
    /// part of the fleet).
    pub(crate) fn shape(&self) -> (usize, bool) {
        let fleet: Vec<&HostState> = self.fleet().collect();
        let rpm = fleet.iter().any(|h| h.packaging == Packaging::Rpm);
        (fleet.len() - usize::from(rpm), rpm)
    }

    /// A light lab: its fleet's hosts run only their init and sshd.
    pub(crate) fn light(&self) -> bool {
        let mut fleet = self.fleet().peekable();
        fleet.peek().is_some() && fleet.all(|h| h.role == Role::Light)
    }

    /// The fleet's hosts: every host but a rehearsal host.
    pub(crate) fn fleet(&self) -> impl Iterator<Item = &HostState> {
        self.hosts.iter().filter(|h| h.rehearsal.is_none())
    }

    pub(crate) fn host_mut(&mut self, name: &str) -> Option<&mut HostState> {
        self.hosts.iter_mut().find(|h| h.name == name)
    }
}

/// Where a host lives under the lab directory.
#[derive(Debug, Clone)]
pub(crate) struct HostPaths {
    pub(crate) upper: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) merged: PathBuf,
    pub(crate) sshd_log: PathBuf,
}

impl HostPaths {
    pub(crate) fn new(dir: &Path, name: &str) -> Self {
        let base = dir.join("hosts").join(name);
        Self {
            upper: base.join("upper"),
            work: base.join("work"),
            merged: base.join("merged"),
            sshd_log: base.join("sshd.log"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, packaging: Packaging, rehearsal: Option<&str>) -> HostState {
        HostState {
            name: name.into(),
            address: Ipv4Addr::LOCALHOST,
            packaging,
            role: Role::Shop,
            overlay: true,
            unshare: None,
            init: None,
            rehearsal: rehearsal.map(str::to_owned),
        }
    }

    #[test]
    fn a_rehearsal_host_is_not_part_of_the_fleets_shape_and_reads_back() {
        let mut state = State::new(PathBuf::from("/r"), None, 22, Topology::Flat);
        state.hosts = vec![
            host("web-1", Packaging::Deb, None),
            host("rpm-1", Packaging::Rpm, None),
            host("rehearse-1", Packaging::Rpm, Some("rpm")),
        ];
        assert_eq!(state.shape(), (1, true));
        assert_eq!(state.fleet().count(), 2);
        let text = serde_json::to_string(&state).expect("json");
        let back: State = serde_json::from_str(&text).expect("reads");
        assert_eq!(back.hosts[2].rehearsal.as_deref(), Some("rpm"));
        // a state written before rehearsal hosts existed reads as a fleet
        let old = text.replace(",\"rehearsal\":\"rpm\"", "");
        let back: State = serde_json::from_str(&old).expect("reads");
        assert_eq!(back.shape(), (2, true));
    }
}
