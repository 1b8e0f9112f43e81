//! A rehearsal host: one more host next to a running lab fleet, on a release of its own —
//! a brand-new Debian ([`Release::Trixie`], from a cached root of its own), the fleet's
//! own release ([`Release::Bookworm`], a control), or the dnf host's root
//! ([`Release::Rpm`]) — for `fearless rehearse` to rebuild a fleet host's role on.
//!
//! It is started like every lab host (overlay, namespaces, the lab init, its own sshd) on
//! its own loopback address, [`REHEARSAL_ADDRESS`], outside the fleet's range, and reaches
//! the lab's package repository as the fleet does (bind-mounted read-only, the host's only
//! source). It is recorded in `state.json` (so `down` removes it with the lab) and in the
//! lab's `ssh_config` and `known_hosts`, but not in `fearless.yaml`: it is not part of the
//! inventory. A new rehearsal host replaces the one before; [`rehearsal_down`] removes it.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::error::{LabError, Result};
use crate::host::{self, HostSpec};
use crate::progress::{Progress, Step};
use crate::render::HostEntry;
use crate::rootfs::{self, Suite};
use crate::state::{HostPaths, HostState, State};
use crate::{DownReport, KilledProcess, Packaging, Role, rpmrepo, rpmroot, sys, up};

/// The rehearsal host's name.
pub const REHEARSAL_HOST: &str = "rehearse-1";

/// The rehearsal host's address: below the fleet's `127.0.0.11…` and the payments
/// provider's `127.0.0.10`, so no lab host ever has it.
pub const REHEARSAL_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);

/// The release a rehearsal host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Release {
    /// Debian 12, the fleet's own release: a control (a role must work there).
    Bookworm,
    /// Debian 13, a brand-new release: python3 is 3.13, `/usr/bin/python3.11` is gone.
    Trixie,
    /// The lab's dnf host: the acme shop from the lab's RPM repository, managed by rpm.
    Rpm,
}

impl Release {
    /// Every release, in the order `--help` lists them.
    pub const ALL: [Self; 3] = [Self::Trixie, Self::Bookworm, Self::Rpm];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bookworm => "bookworm",
            Self::Trixie => "trixie",
            Self::Rpm => "rpm",
        }
    }

    /// What it is, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Bookworm => "Debian 12 (bookworm)",
            Self::Trixie => "Debian 13 (trixie)",
            Self::Rpm => "the lab's dnf host (Debian 12 with dnf and rpm)",
        }
    }

    /// The package manager that owns the acme shop there.
    pub fn packaging(self) -> Packaging {
        match self {
            Self::Bookworm | Self::Trixie => Packaging::Deb,
            Self::Rpm => Packaging::Rpm,
        }
    }

    /// The valid names, comma-separated.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A release name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown release `{0}`; the lab can bring up: {names}", names = Release::names())]
pub struct UnknownRelease(pub String);

impl FromStr for Release {
    type Err = UnknownRelease;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        let alias = match wanted.as_str() {
            "debian-12" | "debian12" => "bookworm",
            "debian-13" | "debian13" => "trixie",
            "dnf" => "rpm",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|r| r.name() == alias)
            .ok_or_else(|| UnknownRelease(s.to_owned()))
    }
}

/// A rehearsal host, as [`rehearsal_up`] started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RehearsalHost {
    /// [`REHEARSAL_HOST`].
    pub name: String,
    /// [`REHEARSAL_ADDRESS`].
    pub address: Ipv4Addr,
    /// The lab's sshd port.
    pub port: u16,
    /// What it runs.
    pub release: Release,
    /// The lab directory (its `ssh_config` reaches the host by name or address).
    pub dir: PathBuf,
    /// The cached root under its overlay.
    pub root: PathBuf,
}

/// Starts a rehearsal host of `release` next to the lab in `dir` (which must be up),
/// building its root in `cache_dir` first when it is not cached (`trixie`: a debootstrap
/// of about a minute, once). A rehearsal host already there is removed first.
pub fn rehearsal_up(
    dir: &Path,
    cache_dir: &Path,
    release: Release,
    progress: &mut dyn FnMut(Progress),
) -> Result<RehearsalHost> {
    sys::require_root()?;
    let dir = std::fs::canonicalize(dir).map_err(|_| LabError::NotUp {
        dir: dir.to_owned(),
    })?;
    let _lock = sys::DirLock::acquire(&dir)?;
    let mut state = match State::load(&dir)? {
        Some(state) if up::running(&state) => state,
        _ => return Err(LabError::NotUp { dir }),
    };
    remove_rehearsal_hosts(&dir, &mut state, progress)?;

    sys::create_dir_all(cache_dir)?;
    let cache_dir = std::fs::canonicalize(cache_dir)
        .map_err(|e| LabError::io(format!("resolve {}", cache_dir.display()), e))?;
    let (root, repo) = match release {
        Release::Bookworm => (
            root_of(&cache_dir, rootfs::BOOKWORM, progress)?,
            dir.join("repo"),
        ),
        Release::Trixie => (
            root_of(&cache_dir, rootfs::TRIXIE, progress)?,
            dir.join("repo"),
        ),
        Release::Rpm => {
            for tool in sys::RPM_TOOLS {
                sys::require_tool(*tool)?;
            }
            rpmrepo::check_path(&dir)?;
            let debian = root_of(&cache_dir, rootfs::BOOKWORM, progress)?;
            let build = dir.join("build");
            sys::create_dir_all(&build)?;
            progress(Progress::new(
                Step::BuildRpmRoot,
                0,
                1,
                if rpmroot::is_cached(&cache_dir) {
                    "cached"
                } else {
                    "Debian root + dnf and rpm (once; about half a minute)"
                },
            ));
            let rpm_root = rpmroot::ensure(&cache_dir, &debian, &build)?;
            progress(Progress::new(
                Step::BuildRpmRoot,
                1,
                1,
                rpm_root.display().to_string(),
            ));
            let rpm_repo = dir.join("rpmrepo");
            let rpm_repo = if rpm_repo.join("repodata").exists() {
                rpm_repo
            } else {
                up::build_rpm_repo(&dir, progress)?
            };
            (rpm_root, rpm_repo)
        }
    };
    let port = state.port;
    let address = REHEARSAL_ADDRESS;
    if TcpListener::bind(SocketAddr::from((address, port))).is_err() {
        return Err(LabError::PortTaken { address, port });
    }
    for (service, service_port) in Role::Shop.http_services() {
        if TcpListener::bind(SocketAddr::from((address, *service_port))).is_err() {
            return Err(LabError::ServicePortTaken {
                address,
                port: *service_port,
                service,
            });
        }
    }
    let key = up::ensure_key(&dir)?;
    state.hosts.push(HostState {
        name: REHEARSAL_HOST.to_owned(),
        address,
        packaging: release.packaging(),
        role: Role::Shop,
        overlay: false,
        unshare: None,
        init: None,
        rehearsal: Some(release.name().to_owned()),
    });
    state.save(&dir)?;
    progress(
        Progress::new(
            Step::StartHost,
            0,
            1,
            format!("{address}:{port}, {}", release.describe()),
        )
        .host(REHEARSAL_HOST),
    );
    let spec = HostSpec {
        dir: &dir,
        root: &root,
        repo: &repo,
        packaging: release.packaging(),
        name: REHEARSAL_HOST,
        address,
        port,
        authorized_key: &key,
        role: Role::Shop,
        acme_conf: "",
    };
    let state = std::sync::Mutex::new(state);
    host::start(&spec, &state)?;
    let state = state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    up::write_ssh_files(&dir, port, &entries(&state))?;
    progress(Progress::new(Step::StartHost, 1, 1, "sshd up").host(REHEARSAL_HOST));
    Ok(RehearsalHost {
        name: REHEARSAL_HOST.to_owned(),
        address,
        port,
        release,
        dir,
        root,
    })
}

/// Stops and removes the rehearsal host of the lab in `dir`, if there is one (the fleet is
/// left alone); safe twice, and when no lab is there.
pub fn rehearsal_down(dir: &Path, progress: &mut dyn FnMut(Progress)) -> Result<DownReport> {
    sys::require_root()?;
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return Ok(DownReport::default());
    };
    let _lock = sys::DirLock::acquire(&dir)?;
    let Some(mut state) = State::load(&dir)? else {
        return Ok(DownReport::default());
    };
    remove_rehearsal_hosts(&dir, &mut state, progress)
}

/// The cached root of `suite`, built first when it is not there.
fn root_of(cache_dir: &Path, suite: Suite, progress: &mut dyn FnMut(Progress)) -> Result<PathBuf> {
    let cached = rootfs::suite_cached(cache_dir, suite);
    progress(Progress::new(
        Step::BuildRoot,
        0,
        1,
        if cached {
            format!("{} (cached)", suite.suite)
        } else {
            format!("debootstrap {} (once; about a minute)", suite.suite)
        },
    ));
    let root = rootfs::ensure_suite(cache_dir, suite)?;
    progress(Progress::new(
        Step::BuildRoot,
        1,
        1,
        root.display().to_string(),
    ));
    Ok(root)
}

/// Every host of `state` as the ssh files list them.
fn entries(state: &State) -> Vec<HostEntry> {
    state
        .hosts
        .iter()
        .map(|h| HostEntry {
            name: h.name.clone(),
            address: h.address,
            packaging: h.packaging,
            role: h.role,
        })
        .collect()
}

/// Stops every rehearsal host of `state`, unmounts and removes its directory, and writes
/// the state and the ssh files without it.
fn remove_rehearsal_hosts(
    dir: &Path,
    state: &mut State,
    progress: &mut dyn FnMut(Progress),
) -> Result<DownReport> {
    let mut report = DownReport::default();
    let gone: Vec<HostState> = state
        .hosts
        .iter()
        .filter(|h| h.rehearsal.is_some())
        .cloned()
        .collect();
    if gone.is_empty() {
        return Ok(report);
    }
    for h in &gone {
        progress(Progress::new(Step::StopHost, 0, 1, "SIGKILL init").host(&h.name));
        let stopped = host::stop(h)?;
        report
            .killed
            .extend(stopped.killed.into_iter().map(|pid| KilledProcess {
                host: Some(h.name.clone()),
                pid,
            }));
        let paths = HostPaths::new(dir, &h.name);
        let base = paths
            .merged
            .parent()
            .map_or_else(|| paths.merged.clone(), Path::to_path_buf);
        // Anything still chrooted into it (a crash before its pid was recorded).
        for stray in host::chrooted_under(&base) {
            if stray
                .kill()
                .map_err(|e| LabError::io(format!("kill stray process {}", stray.pid), e))?
            {
                report.killed.push(KilledProcess {
                    host: Some(h.name.clone()),
                    pid: stray.pid,
                });
            }
            stray.wait_gone(std::time::Duration::from_secs(5));
        }
        for mount in sys::mounts_under(&base)?.iter().rev() {
            if !sys::mounts_under(&base)?.contains(mount) {
                continue; // went with a recursive unmount of its parent
            }
            progress(Progress::new(
                Step::Unmount,
                0,
                1,
                mount.display().to_string(),
            ));
            sys::unmount(mount)?;
            report.unmounted.push(mount.clone());
        }
        if sys::remove_tree(&base)? {
            progress(Progress::new(
                Step::Remove,
                1,
                1,
                base.display().to_string(),
            ));
            report.removed.push(base);
        }
    }
    state.hosts.retain(|h| h.rehearsal.is_none());
    state.save(dir)?;
    up::write_ssh_files(dir, state.port, &entries(state))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_by_name_and_alias() {
        for r in Release::ALL {
            assert_eq!(r.name().parse::<Release>(), Ok(r));
        }
        assert_eq!("Debian-13".parse::<Release>(), Ok(Release::Trixie));
        assert_eq!("dnf".parse::<Release>(), Ok(Release::Rpm));
        assert_eq!(
            "sid".parse::<Release>().err().map(|e| e.to_string()),
            Some("unknown release `sid`; the lab can bring up: trixie, bookworm, rpm".into())
        );
    }

    #[test]
    fn the_rehearsal_address_is_no_fleet_or_payments_address() {
        let fleet = crate::lab_plan(crate::MAX_HOSTS - 1, true);
        assert!(fleet.iter().all(|h| h.address != REHEARSAL_ADDRESS));
        assert_ne!(*crate::PAYMENTS.ip(), REHEARSAL_ADDRESS);
        assert!(REHEARSAL_ADDRESS.is_loopback());
    }
}
