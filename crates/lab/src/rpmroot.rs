//! The cached root file system of the RPM host: a copy of the cached Debian root plus
//! Debian's own `dnf` and `rpm`, set up so that the acme shop on that host is managed by
//! rpm only. Built once next to the Debian root, in a temporary directory renamed into
//! place, like the Debian root.
//!
//! In that root:
//! - `/etc/yum.repos.d/lab.repo` is the only repository (`file:///srv/lab-rpmrepo`, the
//!   lab's RPM repository, bind-mounted read-only by the host; `gpgcheck=0`;
//!   `metadata_expire=0` so a `publish` is seen at once), `/etc/dnf/vars/releasever` is set;
//! - the RPM database holds one package, `fearless-lab-system`, which stands for the
//!   dpkg-managed base system (`/bin/sh`, `python3`);
//! - `dpkg-query`, `apt-get` and `apt` are diverted to `NAME.debian` (`dpkg-divert
//!   --rename`), so the host presents itself as an RPM host to anything that looks for a
//!   package manager (the `package` check asks dpkg first when it finds `dpkg-query`) and
//!   nobody installs acme packages with apt there by mistake. dpkg itself stays: the base
//!   system and `start-stop-daemon` come from it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{LabError, Result};
use crate::{rootfs, rpmrepo, sys};

/// Where the RPM host sees the lab's RPM repository (relative to its root).
pub(crate) const REPO_MOUNT: &str = "srv/lab-rpmrepo";

/// The only dnf repository of the RPM host.
const LAB_REPO: &str = "# fearless lab: the lab RPM repository is this host's only package source\n\
[lab]\nname=fearless lab\nbaseurl=file:///srv/lab-rpmrepo\nenabled=1\ngpgcheck=0\n\
repo_gpgcheck=0\nmetadata_expire=0\n";

/// Programs hidden from the RPM host (see the module documentation).
const HIDDEN: &[&str] = &["/usr/bin/dpkg-query", "/usr/bin/apt-get", "/usr/bin/apt"];

/// Where the base-system RPM is put inside the root while it is installed.
const SYSTEM_RPM_IN_ROOT: &str = "/tmp/fearless-lab-system.noarch.rpm";

/// Runs in a private mount namespace (its mounts vanish with it): `$1` the root being
/// built, `$2` the base-system RPM inside it, then the programs to hide.
const BUILD_SCRIPT: &str = r#"set -e
root=$1
rpm=$2
shift 2
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
export DEBIAN_FRONTEND=noninteractive
chroot "$root" apt-get -q update
chroot "$root" apt-get -q -y --no-install-recommends install dnf rpm
chroot "$root" apt-get -q clean
chroot "$root" dnf -q -y --disablerepo='*' install "$rpm"
for f in "$@"; do
	chroot "$root" dpkg-divert --quiet --local --rename --divert "$f.debian" --add "$f"
done
"#;

/// The cache entry name: bump the suffix when the recipe changes.
fn name() -> String {
    format!("{}-rpm-v1", rootfs::ROOT_NAME)
}

/// The path of the cached RPM root in `cache_dir` (whether or not it exists).
pub(crate) fn root_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join(name())
}

/// Whether the cached RPM root is complete.
pub(crate) fn is_cached(cache_dir: &Path) -> bool {
    root_path(cache_dir)
        .join("etc/yum.repos.d/lab.repo")
        .exists()
}

/// Returns the cached RPM root, building it from `debian_root` first if needed (half a
/// minute: it downloads dnf and rpm from deb.debian.org). `build_dir` holds the base-system
/// RPM while it is made.
pub(crate) fn ensure(cache_dir: &Path, debian_root: &Path, build_dir: &Path) -> Result<PathBuf> {
    let root = root_path(cache_dir);
    if is_cached(cache_dir) {
        return Ok(root);
    }
    let name = name();
    rootfs::remove_stale_builds(cache_dir, &name)?;
    let system_rpm = rpmrepo::system_rpm(build_dir)?;
    let tmp = cache_dir.join(format!(".building-{name}-{}", std::process::id()));
    let log_path = cache_dir.join(format!(".building-{name}-{}.log", std::process::id()));
    let result = build(debian_root, &tmp, &system_rpm, &log_path);
    if let Err(e) = result {
        rootfs::cleanup_build(&tmp)?;
        return Err(e);
    }
    match fs::rename(&tmp, &root) {
        Ok(()) => {}
        // Someone else finished first: theirs is as good as ours.
        Err(_) if is_cached(cache_dir) => rootfs::cleanup_build(&tmp)?,
        Err(e) => {
            return Err(LabError::io(
                format!("move {} to {}", tmp.display(), root.display()),
                e,
            ));
        }
    }
    let _ = fs::remove_file(&log_path);
    Ok(root)
}

fn build(debian_root: &Path, tmp: &Path, system_rpm: &Path, log_path: &Path) -> Result<()> {
    sys::run(
        Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(debian_root)
            .arg(tmp),
        &format!("copy the Debian root to {}", tmp.display()),
    )?;
    // apt inside the copy needs a resolver; the hosts' overlays get this copy too, as the
    // Debian hosts get the one debootstrap wrote
    if let Ok(resolv) = fs::read("/etc/resolv.conf") {
        sys::write_file(&tmp.join("etc/resolv.conf"), &resolv, 0o644)?;
    }
    // nothing installed here may start a service on this machine
    sys::write_file(
        &tmp.join("usr/sbin/policy-rc.d"),
        b"#!/bin/sh\nexit 101\n",
        0o755,
    )?;
    let in_root = tmp.join(SYSTEM_RPM_IN_ROOT.trim_start_matches('/'));
    fs::copy(system_rpm, &in_root)
        .map_err(|e| LabError::io(format!("copy {}", system_rpm.display()), e))?;

    let log = File::create(log_path)
        .map_err(|e| LabError::io(format!("create {}", log_path.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| LabError::io(format!("open {}", log_path.display()), e))?;
    let status = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            BUILD_SCRIPT,
            "sh",
        ])
        .arg(tmp)
        .arg(SYSTEM_RPM_IN_ROOT)
        .args(HIDDEN)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .status()
        .map_err(|e| LabError::io("install dnf and rpm into the RPM root (running unshare)", e))?;
    if !status.success() {
        return Err(LabError::Command {
            action: format!("install dnf and rpm into the RPM root {}", tmp.display()),
            program: "apt-get".into(),
            status: sys::describe_status(status),
            stderr: sys::tail_file(log_path, 20),
        });
    }
    if !sys::mounts_under(tmp)?.is_empty() {
        return Err(LabError::io(
            format!("finish {}: file systems are still mounted", tmp.display()),
            std::io::ErrorKind::ResourceBusy.into(),
        ));
    }
    sys::remove_file_if_exists(&in_root)?;
    sys::remove_tree(&tmp.join("var/cache/dnf"))?;
    rootfs::prepare(tmp)?;
    configure(tmp)
}

/// dnf's configuration: the lab repository only, a fixed release version.
fn configure(root: &Path) -> Result<()> {
    sys::write_file(
        &root.join("etc/dnf/vars/releasever"),
        format!("{}\n", rpmrepo::SYSTEM_VERSION).as_bytes(),
        0o644,
    )?;
    let repos = root.join("etc/yum.repos.d");
    sys::create_dir_all(&repos)?;
    if let Ok(entries) = fs::read_dir(&repos) {
        for entry in entries.flatten() {
            sys::remove_file_if_exists(&entry.path())?;
        }
    }
    sys::create_dir_all(&root.join(REPO_MOUNT))?;
    // written last: its presence marks a complete root (see `is_cached`)
    sys::write_file(&repos.join("lab.repo"), LAB_REPO.as_bytes(), 0o644)
}
