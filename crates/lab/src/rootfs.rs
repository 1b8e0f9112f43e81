//! The cached Debian root file system every lab host overlays: built once with
//! `debootstrap` into a temporary directory and renamed into place, so a crash never leaves
//! a half-built cache behind.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{LabError, Result};
use crate::sys;

/// The cache entry name; bump the suffix when the recipe below changes.
pub(crate) const ROOT_NAME: &str = "debian-bookworm-minbase-v1";
const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";
const INCLUDE: &str = "openssh-server,python3,python3-apt";

/// The path of the cached root in `cache_dir` (whether or not it exists).
pub(crate) fn root_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join(ROOT_NAME)
}

/// Whether the cached root is complete.
pub(crate) fn is_cached(cache_dir: &Path) -> bool {
    root_path(cache_dir).join("usr/sbin/sshd").exists()
}

/// Returns the cached root, building it first if needed (this takes a minute or two).
pub(crate) fn ensure(cache_dir: &Path) -> Result<PathBuf> {
    let root = root_path(cache_dir);
    if is_cached(cache_dir) {
        return Ok(root);
    }
    sys::require_tool(sys::DEBOOTSTRAP)?;
    sys::create_dir_all(cache_dir)?;
    remove_stale_builds(cache_dir, ROOT_NAME)?;
    let tmp = cache_dir.join(format!(".building-{ROOT_NAME}-{}", std::process::id()));
    let log_path = cache_dir.join(format!(".building-{ROOT_NAME}-{}.log", std::process::id()));
    let log = File::create(&log_path)
        .map_err(|e| LabError::io(format!("create {}", log_path.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| LabError::io(format!("open {}", log_path.display()), e))?;
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", &format!("--include={INCLUDE}"), SUITE])
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
            action: format!("build the Debian {SUITE} root in {}", tmp.display()),
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
        Err(_) if is_cached(cache_dir) => cleanup_build(&tmp)?,
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
