//! The lab: a real, disposable fleet on one Linux machine, for demos, rehearsals and tests.
//!
//! `up` builds (once, cached) a Debian bookworm root with debootstrap, then starts hosts
//! `web-1`…`web-N`, each an overlay over that root, in its own UTS/PID/mount/IPC namespaces,
//! chrooted, with its own sshd on its own loopback address (`127.0.0.11`, `.12`, …, then
//! `127.0.1.1`… past the 244th host, see [`MAX_HOSTS`]), started [`HOST_WORKERS`] at a time. A flat
//! apt repository in `DIR/repo`, bind-mounted read-only into every host as its only package
//! source, holds the demo application "acme shop" as real `.deb` packages; `up` installs
//! version 1.0 everywhere, and `publish` adds new versions (a routine batch, a batch whose
//! `libacme 2.0` breaks the orders API, the fix). `up` writes `DIR/fearless.yaml`,
//! `DIR/ssh_config` and a key, so every other fearless command runs against the lab
//! unchanged, and a small OSV feed about the acme packages in `DIR/osv/` (for `fearless
//! vulns`); `down` leaves no process or mount behind.
//!
//! With `light`, hosts run nothing but their init and sshd on the root's real dpkg
//! database: no repository is mounted and no acme shop installed, so up to
//! [`MAX_LIGHT_HOSTS`] fit on one machine (about a thousand in a few GiB). `up` measures
//! what the hosts' processes take ([`Footprint`]) and how long the bring-up took.
//!
//! With `rpm_host`, one more host, `rpm-1`, on the next address, overlays a second cached
//! root (the Debian root plus Debian's `dnf` and `rpm`, see `rpmroot`) and gets the acme
//! shop as RPMs built from the same sources (`rpmrepo`) from `DIR/rpmrepo`, bind-mounted
//! read-only at `/srv/lab-rpmrepo`, installed with `dnf`: there the acme shop is managed by
//! rpm only. Its services run as on the Debian hosts, so it carries `role: web` (and
//! `pkg: rpm`) and every acme check applies to it.
//!
//! `rehearsal_up` starts one more host next to a running lab, `rehearse-1` on
//! `127.0.0.9`, on a release of its own (Debian 13 `trixie` from a cached root of its own,
//! or the dnf host's root), for `fearless rehearse`; `rehearsal_down` removes it.
//!
//! The lab never prints: progress goes through a callback, problems come back as
//! [`LabError`] (with [`LabError::hint`]). Everything but `status`, `ssh_argv` and `publish`
//! needs root.

mod catalog;
mod down;
mod error;
mod feed;
mod host;
mod payments;
mod pool;
mod procs;
mod progress;
mod rehearsal;
mod remote;
mod render;
mod repo;
mod rootfs;
mod rpmrepo;
mod rpmroot;
mod state;
mod status;
mod sys;
mod topology;
mod up;

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use catalog::{INITIAL, PACKAGES, PackageVersion, Scenario, UnknownScenario};
pub use down::down;
pub use error::{LabError, Result};
pub use pool::HOST_WORKERS;
pub use progress::{Progress, Step};
pub use rehearsal::{
    REHEARSAL_ADDRESS, REHEARSAL_HOST, RehearsalHost, Release, UnknownRelease, rehearsal_down,
    rehearsal_up,
};
pub use status::status;
pub use topology::{
    API_PORT, BROKER, LEDGER_PORT, PAYMENTS, Role, Topology, UnknownTopology, WEB_PORT,
};
pub use up::up;

/// Where the lab lives unless told otherwise (relative to the working directory).
pub const DEFAULT_DIR: &str = ".fearless/lab";
/// Where the Debian root is cached unless told otherwise.
pub const DEFAULT_CACHE_DIR: &str = "/var/cache/fearless/lab";
/// The environment variable that overrides the cache directory (read by the CLI).
pub const CACHE_DIR_ENV: &str = "FEARLESS_LAB_CACHE";
/// The first host's address; host `i` (from 0) gets `127.0.0.(11 + i)` up to
/// `127.0.0.254`, then `127.0.1.1…127.0.1.254`, `127.0.2.1…`, and so on.
pub const FIRST_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// At most this many hosts with the acme shop (Debian hosts plus the RPM host): the ones
/// in `127.0.0.11..=127.0.0.254` (each runs four daemons and was installed by apt).
pub const MAX_HOSTS: usize = 244;
/// At most this many light hosts (init and sshd only). Each host's mount namespace copies
/// the overlays mounted before it, so mounts grow with the square of the hosts (a thousand
/// hosts: about half a million, a few hundred MiB of kernel memory); and each host is four
/// processes, more while ssh sessions run, against `kernel.pid_max`.
pub const MAX_LIGHT_HOSTS: usize = 4000;
/// The number of addresses of the plan: `127.0.0.11..=127.0.0.254`, then 254 in each of
/// `127.0.1.0/24` … `127.0.255.0/24`.
pub const MAX_ADDRESSES: usize = MAX_HOSTS + 255 * 254;
const _: () = assert!(
    MAX_LIGHT_HOSTS <= MAX_ADDRESSES,
    "every light host needs an address"
);
/// The name of the RPM host, which takes the address after the last Debian host.
pub const RPM_HOST: &str = "rpm-1";

/// Which package manager owns the acme shop on a lab host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Packaging {
    /// apt/dpkg, from the lab's apt repository (`web-N`).
    #[default]
    Deb,
    /// dnf/rpm, from the lab's RPM repository (`rpm-1`).
    Rpm,
}

impl Packaging {
    /// `deb` or `rpm`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Deb => "deb",
            Self::Rpm => "rpm",
        }
    }
}

/// Options of [`up`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOptions {
    /// The lab directory (hosts, repository, state, generated config).
    pub dir: PathBuf,
    /// Number of Debian hosts, `web-1`…`web-N`.
    pub hosts: usize,
    /// Add the RPM host `rpm-1`, whose acme shop is managed by dnf/rpm.
    pub rpm_host: bool,
    /// Where the Debian root is built once and kept.
    pub cache_dir: PathBuf,
    /// The sshd port of every host.
    pub port: u16,
    /// Used instead of `port` when `port` is taken on a lab address (e.g. a system sshd
    /// listening on `0.0.0.0:22`); `None` makes that an error.
    pub fallback_port: Option<u16>,
    /// The shape of the site; [`Topology::Tiered`] has its own five hosts (`hosts` and
    /// `rpm_host` do not apply).
    pub topology: Topology,
    /// Hosts run only their init and sshd (no repository, no acme shop): flat topology,
    /// no RPM host, up to [`MAX_LIGHT_HOSTS`] hosts.
    pub light: bool,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(DEFAULT_DIR),
            hosts: 4,
            rpm_host: false,
            cache_dir: PathBuf::from(DEFAULT_CACHE_DIR),
            port: 22,
            fallback_port: Some(2222),
            topology: Topology::Flat,
            light: false,
        }
    }
}

/// A running lab, as returned by [`up`].
#[derive(Debug, Clone, Serialize)]
pub struct Lab {
    /// The lab directory (absolute).
    pub dir: PathBuf,
    /// `DIR/fearless.yaml`, for `fearless -c`.
    pub config: PathBuf,
    /// `DIR/ssh_config`, for `ssh -F`.
    pub ssh_config: PathBuf,
    /// `DIR/id_ed25519`, the key root logs in with.
    pub key: PathBuf,
    /// The cached Debian root under the hosts' overlays.
    pub root: PathBuf,
    /// The cached RPM root under the RPM host's overlay, when there is one.
    pub rpm_root: Option<PathBuf>,
    /// The sshd port of every host.
    pub port: u16,
    /// The hosts (the Debian hosts, then the RPM host).
    pub hosts: Vec<LabHost>,
    /// The shape of the site.
    pub topology: Topology,
    /// The payments provider outside the inventory (tiered topology only).
    pub payments: Option<std::net::SocketAddrV4>,
    /// `up` found the lab already running and changed nothing.
    pub already_running: bool,
    /// The hosts run only their init and sshd.
    pub light: bool,
    /// How long this `up` took to start the hosts (`None` when it found them running).
    pub bring_up: Option<BringUp>,
    /// What the hosts' processes take, measured at the end of `up`.
    pub footprint: Footprint,
}

/// How long `up` took.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BringUp {
    /// The whole `up`, in seconds (a first `up` includes building the cached root).
    pub total_secs: f64,
    /// From the first host's start to the last host's sshd answering, in seconds.
    pub hosts_secs: f64,
    /// Hosts started at once.
    pub workers: usize,
}

/// The memory the lab hosts' processes take, read from `/proc` (each host's `unshare` and
/// every process of its PID namespace; `smaps_rollup`). PSS shares the pages the hosts have
/// in common (the same sshd and libc from the cached root) among them; RSS counts them in
/// every process. Kernel memory (namespaces, mounts, the overlays' page cache) is not in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Hosts measured.
    pub hosts: usize,
    /// Their processes.
    pub processes: usize,
    /// Sum of the processes' proportional set sizes, in bytes.
    pub pss_bytes: u64,
    /// Sum of their resident set sizes, in bytes.
    pub rss_bytes: u64,
}

impl Footprint {
    /// PSS per host, in bytes (0 without hosts).
    pub fn pss_per_host(&self) -> u64 {
        self.pss_bytes / u64::try_from(self.hosts.max(1)).unwrap_or(u64::MAX)
    }

    /// RSS per host, in bytes (0 without hosts).
    pub fn rss_per_host(&self) -> u64 {
        self.rss_bytes / u64::try_from(self.hosts.max(1)).unwrap_or(u64::MAX)
    }
}

/// A lab host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabHost {
    /// `web-1`…, `rpm-1`
    pub name: String,
    /// `127.0.0.11`…
    pub address: Ipv4Addr,
    /// Which package manager owns the acme shop there.
    pub packaging: Packaging,
    /// What it runs.
    pub role: Role,
}

/// What [`down`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DownReport {
    /// Processes killed, per host.
    pub killed: Vec<KilledProcess>,
    /// File systems unmounted.
    pub unmounted: Vec<PathBuf>,
    /// Files and directories removed.
    pub removed: Vec<PathBuf>,
}

impl DownReport {
    /// `down` found nothing to undo.
    pub fn is_empty(&self) -> bool {
        self.killed.is_empty() && self.unmounted.is_empty() && self.removed.is_empty()
    }
}

/// A process `down` killed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KilledProcess {
    /// The host it belonged to (`None` for a stray found by the sweep).
    pub host: Option<String>,
    /// Its pid on the controller.
    pub pid: u32,
}

/// What [`status`] sees.
#[derive(Debug, Clone, Serialize)]
pub struct LabStatus {
    /// The lab directory.
    pub dir: PathBuf,
    /// There is a lab (a state file) in `dir`.
    pub present: bool,
    /// The sshd port, when present.
    pub port: Option<u16>,
    /// One entry per host; a dead host is data, not an error.
    pub hosts: Vec<HostStatus>,
}

impl LabStatus {
    /// Every fleet host's init runs, its sshd answers, and every service runs (a kept
    /// rehearsal host is not part of the fleet: it may well be broken, that is its point).
    pub fn healthy(&self) -> bool {
        let mut fleet = self
            .hosts
            .iter()
            .filter(|h| h.rehearsal.is_none())
            .peekable();
        self.present
            && fleet.peek().is_some()
            && fleet
                .all(|h| h.init_alive && h.ssh_reachable && h.services.iter().all(|s| s.running))
    }
}

/// The state of one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    /// `web-1`…, `rpm-1`
    pub name: String,
    /// `127.0.0.11`…
    pub address: Ipv4Addr,
    /// Which package manager owns the acme shop there.
    pub packaging: Packaging,
    /// The host's init (PID 1 of its namespace: it boots and reboots the host), as a
    /// controller pid.
    pub init_pid: Option<u32>,
    /// That init still runs (the host is up).
    pub init_alive: bool,
    /// The sshd the init started, as a controller pid.
    pub sshd_pid: Option<u32>,
    /// An SSH server answers on the host's address and port.
    pub ssh_reachable: bool,
    /// The acme services.
    pub services: Vec<ServiceStatus>,
    /// A rehearsal host (`fearless rehearse --keep`), not part of the fleet: its release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rehearsal: Option<String>,
}

/// The state of one acme service inside a host.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// `acme-web`, `acme-api`, `acme-agent`.
    pub name: &'static str,
    /// A process of that name runs in the host's PID namespace.
    pub running: bool,
    /// Its controller pid.
    pub pid: Option<u32>,
    /// `GET /health` answered 200 (`None` for services without HTTP).
    pub healthy: Option<bool>,
}

/// What [`publish`] did.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The scenario published.
    pub scenario: Scenario,
    /// Versions added to the repository.
    pub added: Vec<PackageVersion>,
    /// Versions that were already there (publishing twice is harmless).
    pub already_present: Vec<PackageVersion>,
    /// The repository directory.
    pub repo: PathBuf,
    /// The RPM repository directory, when the lab has an RPM host (the same versions were
    /// added there).
    pub rpm_repo: Option<PathBuf>,
}

/// Adds the versions of `scenario` to the lab repository and regenerates its index; older
/// versions stay. Hosts see them after their next `apt-get update`. When the lab has an
/// RPM host, the same versions go into the RPM repository too (`dnf` sees them at once).
pub fn publish(dir: &Path, scenario: Scenario) -> Result<PublishReport> {
    let (repo, build, _lock) = open_repo(dir)?;
    let mut added = Vec::new();
    let mut already_present = Vec::new();
    for pv in scenario.packages() {
        if repo::ensure_deb(pv, &build, &repo)? {
            added.push(pv);
        } else {
            already_present.push(pv);
        }
    }
    repo::index(&repo)?;
    let rpm_repo = dir.join("rpmrepo");
    let rpm_repo = if rpm_repo.join("repodata").exists() {
        for tool in sys::RPM_TOOLS {
            sys::require_tool(*tool)?;
        }
        for pv in scenario.packages() {
            rpmrepo::ensure_rpm(pv, &build, &rpm_repo)?;
        }
        rpmrepo::index(&rpm_repo)?;
        Some(rpm_repo)
    } else {
        None
    };
    Ok(PublishReport {
        scenario,
        added,
        already_present,
        repo,
        rpm_repo,
    })
}

/// The lab's apt repository and build folder, locked for writing; an error when no lab is up.
fn open_repo(dir: &Path) -> Result<(PathBuf, PathBuf, sys::DirLock)> {
    let repo = dir.join("repo");
    if !repo.join("Packages").exists() {
        return Err(LabError::NotUp {
            dir: dir.to_owned(),
        });
    }
    let lock = sys::DirLock::acquire(dir)?;
    let build = dir.join("build");
    sys::create_dir_all(&build)?;
    Ok((repo, build, lock))
}

/// Publishes `count` filler packages, `acme-extra-01`, `acme-extra-02`, … at version 1.0
/// (new installs: no dependencies, nothing uses them) to the apt repository, for bisect
/// tests and benchmarks that need many packages. Returns their `name=version` pins.
pub fn publish_extras(dir: &Path, count: usize) -> Result<Vec<String>> {
    let (repo, build, _lock) = open_repo(dir)?;
    let mut pins = Vec::with_capacity(count);
    for i in 1..=count {
        let name = format!("acme-extra-{i:02}");
        repo::ensure_extra_deb(&name, "1.0", &build, &repo)?;
        pins.push(format!("{name}=1.0"));
    }
    repo::index(&repo)?;
    Ok(pins)
}

/// Removes one version of a catalogue package from the lab repositories (apt and, when the
/// lab has an RPM host, RPM) and regenerates their indexes: a mirror that dropped an old
/// version, for rehearsing a rollback that cannot be done. Returns the files removed.
pub fn withdraw(dir: &Path, name: &str, version: &str) -> Result<Vec<PathBuf>> {
    let repo = dir.join("repo");
    if !repo.join("Packages").exists() {
        return Err(LabError::NotUp {
            dir: dir.to_owned(),
        });
    }
    // Only catalogue versions: the name and version become file names.
    let Some(pv) = catalog::all_versions()
        .into_iter()
        .find(|pv| pv.name == name && pv.version == version)
    else {
        return Err(LabError::UnknownPackage {
            name: format!("{name}={version}"),
        });
    };
    let _lock = sys::DirLock::acquire(dir)?;
    let mut removed = Vec::new();
    let deb = repo.join(pv.file_name());
    if deb.exists() {
        sys::remove_file_if_exists(&deb)?;
        removed.push(deb);
    }
    repo::index(&repo)?;
    let rpm_repo = dir.join("rpmrepo");
    if rpm_repo.join("repodata").exists() {
        let rpm = rpm_repo.join(pv.rpm_file_name());
        if rpm.exists() {
            sys::remove_file_if_exists(&rpm)?;
            removed.push(rpm);
        }
        rpmrepo::index(&rpm_repo)?;
    }
    Ok(removed)
}

/// The argv that opens a shell on `host` (a name or an address):
/// `ssh -F DIR/ssh_config HOST`.
pub fn ssh_argv(dir: &Path, host: &str) -> Result<Vec<OsString>> {
    let state = state::State::load(dir)?.ok_or_else(|| LabError::NotUp {
        dir: dir.to_owned(),
    })?;
    let known = state
        .hosts
        .iter()
        .find(|h| h.name == host || h.address.to_string() == host);
    match known {
        Some(h) => Ok(remote::ssh_base(dir, &h.name)),
        None => Err(LabError::UnknownHost {
            host: host.to_owned(),
            known: state
                .hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The names and addresses of `count` Debian lab hosts (at most [`MAX_HOSTS`]).
pub fn host_plan(count: usize) -> Vec<LabHost> {
    lab_plan(count, false)
}

/// The names and addresses of `count` Debian lab hosts (at most [`MAX_HOSTS`] with the RPM
/// host) and, with `rpm_host`, the RPM host on the next address.
pub fn lab_plan(count: usize, rpm_host: bool) -> Vec<LabHost> {
    let count = count.min(MAX_HOSTS - usize::from(rpm_host));
    let mut plan = web_hosts(count, Role::Shop);
    if rpm_host {
        plan.push(LabHost {
            name: RPM_HOST.to_owned(),
            address: topology::nth_address(count),
            packaging: Packaging::Rpm,
            role: Role::Shop,
        });
    }
    plan
}

/// The names and addresses of `count` light hosts (at most [`MAX_LIGHT_HOSTS`]): `web-1`…
/// on the same addresses as [`host_plan`] for the first [`MAX_HOSTS`], then on
/// `127.0.1.1`…
pub fn light_plan(count: usize) -> Vec<LabHost> {
    web_hosts(count.min(MAX_LIGHT_HOSTS), Role::Light)
}

fn web_hosts(count: usize, role: Role) -> Vec<LabHost> {
    (0..count)
        .map(|i| LabHost {
            name: format!("web-{}", i + 1),
            address: topology::nth_address(i),
            packaging: Packaging::Deb,
            role,
        })
        .collect()
}

/// The hosts `up` starts for `opts`.
pub fn plan_for(opts: &UpOptions) -> Vec<LabHost> {
    match opts.topology {
        Topology::Flat if opts.light => light_plan(opts.hosts),
        Topology::Flat => lab_plan(opts.hosts, opts.rpm_host),
        Topology::Tiered => topology::tiered_plan(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_get_consecutive_loopback_addresses() {
        let plan = host_plan(3);
        assert_eq!(
            plan[0],
            LabHost {
                name: "web-1".into(),
                address: Ipv4Addr::new(127, 0, 0, 11),
                packaging: Packaging::Deb,
                role: Role::Shop,
            }
        );
        assert_eq!(
            plan[2],
            LabHost {
                name: "web-3".into(),
                address: Ipv4Addr::new(127, 0, 0, 13),
                packaging: Packaging::Deb,
                role: Role::Shop,
            }
        );
        assert_eq!(
            host_plan(MAX_HOSTS).last().map(|h| h.address),
            Some(Ipv4Addr::new(127, 0, 0, 254))
        );
    }

    #[test]
    fn the_first_244_addresses_are_as_they_always_were() {
        for (i, h) in light_plan(MAX_HOSTS).iter().enumerate() {
            let last = u8::try_from(11 + i).expect("fits");
            assert_eq!(h.address, Ipv4Addr::new(127, 0, 0, last), "{}", h.name);
        }
        let full: Vec<_> = host_plan(MAX_HOSTS)
            .into_iter()
            .map(|h| h.address)
            .collect();
        let light: Vec<_> = light_plan(MAX_HOSTS)
            .into_iter()
            .map(|h| h.address)
            .collect();
        assert_eq!(full, light);
    }

    #[test]
    fn past_244_hosts_take_127_0_n_1_to_254() {
        let plan = light_plan(1000);
        let at = |n: usize| (plan[n - 1].name.as_str(), plan[n - 1].address);
        assert_eq!(at(244), ("web-244", Ipv4Addr::new(127, 0, 0, 254)));
        assert_eq!(at(245), ("web-245", Ipv4Addr::new(127, 0, 1, 1)));
        assert_eq!(at(498), ("web-498", Ipv4Addr::new(127, 0, 1, 254)));
        assert_eq!(at(499), ("web-499", Ipv4Addr::new(127, 0, 2, 1)));
        assert_eq!(at(1000), ("web-1000", Ipv4Addr::new(127, 0, 3, 248)));
        assert!(plan.iter().all(|h| h.role == Role::Light));
        assert_eq!(
            topology::nth_address(MAX_ADDRESSES - 1),
            Ipv4Addr::new(127, 0, 255, 254)
        );
    }

    #[test]
    fn every_address_is_distinct_loopback_and_none_is_reserved() {
        let all: Vec<Ipv4Addr> = (0..MAX_ADDRESSES).map(topology::nth_address).collect();
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), MAX_ADDRESSES);
        for a in &all {
            let [x, y, _, last] = a.octets();
            assert_eq!((x, y), (127, 0), "{a}");
            assert!(last != 0 && last != 255, "{a}");
            assert!(*a != REHEARSAL_ADDRESS && *a != *PAYMENTS.ip() && *a != Ipv4Addr::LOCALHOST);
        }
        assert_eq!(light_plan(MAX_LIGHT_HOSTS + 5).len(), MAX_LIGHT_HOSTS);
    }

    #[test]
    fn the_rpm_host_takes_the_next_address() {
        let plan = lab_plan(2, true);
        assert_eq!(
            plan.last(),
            Some(&LabHost {
                name: "rpm-1".into(),
                address: Ipv4Addr::new(127, 0, 0, 13),
                packaging: Packaging::Rpm,
                role: Role::Shop,
            })
        );
        assert_eq!(lab_plan(2, false), host_plan(2));
        let full = lab_plan(MAX_HOSTS, true);
        assert_eq!(full.len(), MAX_HOSTS);
        assert_eq!(
            full.last().map(|h| (h.name.as_str(), h.address)),
            Some(("rpm-1", Ipv4Addr::new(127, 0, 0, 254)))
        );
    }
}
