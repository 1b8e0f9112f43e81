//! The cached Debian root file systems lab hosts overlay: built once with `debootstrap`
//! into a temporary directory and renamed into place, so a crash never leaves a half-built
//! cache behind. The fleet runs on [`BOOKWORM`]; a rehearsal host may run on [`TRIXIE`],
//! a brand-new release next to it, cached under its own name.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{LabError, Result};
use crate::sys;

/// The cache entry name of the fleet's root; bump the suffix when the recipe changes.
pub(crate) const ROOT_NAME: &str = "debian-bookworm-minbase-v2";
const MIRROR: &str = "http://deb.debian.org/debian";
/// Past minbase, what every lab host needs: sshd, python3 (Ansible, apt's bindings).
const INCLUDE: &str = "openssh-server,python3,python3-apt";

/// A Debian release the lab can build a root of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Suite {
    /// The cache entry name; bump its suffix when the recipe changes.
    pub(crate) cache_name: &'static str,
    /// The debootstrap suite.
    pub(crate) suite: &'static str,
    /// Packages past [`INCLUDE`] (comma-first, as debootstrap's `--include` continues).
    pub(crate) extra: &'static str,
}

/// Debian 12, the lab fleet's release.
/// Its hosts have iproute2, as cloud images do: the `port` check asks `ss`, which reads
/// the listening sockets alone.
pub(crate) const BOOKWORM: Suite = Suite {
    cache_name: ROOT_NAME,
    suite: "bookworm",
    extra: ",iproute2",
};

/// Debian 13, the brand-new release a rehearsal can bring up (python3 is 3.13 there:
/// `/usr/bin/python3.11` does not exist).
/// Its host has no iproute2: the lab's one host where the `port` check reads the socket
/// tables in `/proc` instead of `ss`.
pub(crate) const TRIXIE: Suite = Suite {
    cache_name: "debian-trixie-minbase-v1",
    suite: "trixie",
    extra: "",
};

/// The path of the cached root of `suite` in `cache_dir`.
pub(crate) fn suite_path(cache_dir: &Path, suite: Suite) -> PathBuf {
    cache_dir.join(suite.cache_name)
}

/// Whether the cached fleet root is complete.
pub(crate) fn is_cached(cache_dir: &Path) -> bool {
    suite_cached(cache_dir, BOOKWORM)
}

/// Whether the cached root of `suite` is complete.
pub(crate) fn suite_cached(cache_dir: &Path, suite: Suite) -> bool {
    suite_path(cache_dir, suite).join("usr/sbin/sshd").exists()
}

/// Returns the cached fleet root, building it first if needed (this takes a minute or two).
pub(crate) fn ensure(cache_dir: &Path) -> Result<PathBuf> {
    ensure_suite(cache_dir, BOOKWORM)
}

/// Returns the cached root of `suite`, building it first if needed.
pub(crate) fn ensure_suite(cache_dir: &Path, suite: Suite) -> Result<PathBuf> {
    let root = suite_path(cache_dir, suite);
    if suite_cached(cache_dir, suite) {
        return Ok(root);
    }
    let name = suite.cache_name;
    sys::require_tool(sys::DEBOOTSTRAP)?;
    sys::create_dir_all(cache_dir)?;
    remove_stale_builds(cache_dir, name)?;
    let tmp = cache_dir.join(format!(".building-{name}-{}", std::process::id()));
    let log_path = cache_dir.join(format!(".building-{name}-{}.log", std::process::id()));
    let log = File::create(&log_path)
        .map_err(|e| LabError::io(format!("create {}", log_path.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| LabError::io(format!("open {}", log_path.display()), e))?;
    let status = Command::new("debootstrap")
        .args([
            "--variant=minbase",
            &format!("--include={INCLUDE}{}", suite.extra),
            suite.suite,
        ])
        .arg(&tmp)
        .arg(MIRROR)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .status()
        .map_err(|e| LabError::io("run debootstrap", e))?;
    if !status.success() {
        let stderr = sys::tail_file(&log_path, 20);
        cleanup_build(&tmp)?;
        return Err(LabError::Command {
            action: format!("build the Debian {} root in {}", suite.suite, tmp.display()),
            program: "debootstrap".into(),
            status: sys::describe_status(status),
            stderr,
        });
    }
    prepare(&tmp)?;
    if !sys::mounts_under(&tmp)?.is_empty() {
        cleanup_build(&tmp)?;
        return Err(LabError::io(
            format!(
                "finish {}: debootstrap left file systems mounted",
                tmp.display()
            ),
            std::io::ErrorKind::ResourceBusy.into(),
        ));
    }
    match fs::rename(&tmp, &root) {
        Ok(()) => {}
        // Someone else finished first: theirs is as good as ours.
        Err(_) if suite_cached(cache_dir, suite) => cleanup_build(&tmp)?,
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

/// Makes the fresh root fit for sharing: no host keys (each host makes its own) and nothing
/// that would stop services from starting inside hosts.
pub(crate) fn prepare(root: &Path) -> Result<()> {
    let ssh = root.join("etc/ssh");
    if let Ok(entries) = fs::read_dir(&ssh) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
                sys::remove_file_if_exists(&entry.path())?;
            }
        }
    }
    sys::remove_file_if_exists(&root.join("usr/sbin/policy-rc.d"))?;
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        if let Ok(entries) = fs::read_dir(root.join(dir)) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_file()) && entry.file_name() != "lock" {
                    sys::remove_file_if_exists(&entry.path())?;
                }
            }
        }
    }
    Ok(())
}

/// Removes build directories of the cache entry `name` left by a crashed build (unless
/// their builder still runs).
pub(crate) fn remove_stale_builds(cache_dir: &Path, name: &str) -> Result<()> {
    let Ok(entries) = fs::read_dir(cache_dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = entry_name.strip_prefix(&format!(".building-{name}-")) else {
            continue;
        };
        let pid = rest.trim_end_matches(".log");
        if pid
            .parse::<u32>()
            .is_ok_and(|pid| sys::proc_stat(pid).is_some())
        {
            continue;
        }
        if entry_name.ends_with(".log") {
            sys::remove_file_if_exists(&entry.path())?;
        } else {
            cleanup_build(&entry.path())?;
        }
    }
    Ok(())
}

/// Unmounts whatever a build left mounted in `tmp`, then removes it.
pub(crate) fn cleanup_build(tmp: &Path) -> Result<()> {
    for mount in sys::mounts_under(tmp)?.iter().rev() {
        sys::unmount(mount)?;
    }
    sys::remove_tree(tmp).map(drop)
}
