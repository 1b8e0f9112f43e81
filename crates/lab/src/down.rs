//! `down`: stops every lab process (by recorded pid), unmounts everything under the lab
//! directory and removes what `up` created (the RPM host and repository included). Safe
//! after a crashed `up`, safe twice; the cached Debian and RPM roots are kept.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::progress::{Progress, Step};
use crate::state::{HostState, State};
use crate::{DownReport, KilledProcess, host, payments, pool, sys};

/// What `up` creates in the lab directory (besides the lock).
const GENERATED: &[&str] = &[
    "hosts",
    "repo",
    "rpmrepo",
    "build",
    "state.json",
    "ssh_config",
    "known_hosts",
    "fearless.yaml",
    "osv",
    crate::payments::LOG,
    "id_ed25519",
    "id_ed25519.pub",
];

/// Tears down the lab in `dir`; see the module documentation.
pub fn down(dir: &Path, progress: &mut dyn FnMut(Progress)) -> Result<DownReport> {
    sys::require_root()?;
    if !dir.exists() {
        return Ok(DownReport::default());
    }
    let dir =
        fs::canonicalize(dir).map_err(|e| LabError::io(format!("resolve {}", dir.display()), e))?;
    let lock = sys::DirLock::acquire(&dir)?;
    let report = teardown(&dir, progress)?;
    drop(lock);
    let _ = fs::remove_file(dir.join(".lock"));
    let _ = fs::remove_dir(&dir); // only if empty: other files there are not ours
    Ok(report)
}

/// The work of `down`, for a canonical `dir` whose lock the caller holds.
pub(crate) fn teardown(dir: &Path, progress: &mut dyn FnMut(Progress)) -> Result<DownReport> {
    let mut report = DownReport::default();
    // A corrupt state file must not stop the cleanup: the mount scan below still works.
    let state = match State::load(dir) {
        Ok(state) => state,
        Err(LabError::State { .. }) => None,
        Err(e) => return Err(e),
    };
    // One host that will not stop must not keep the others running: stop them all, sweep and
    // unmount what we can, then report the first failure.
    let mut first_error: Option<LabError> = None;
    if let Some(state) = &state {
        // the last hosts first (as they were started), many at once
        let hosts: Vec<&HostState> = state.hosts.iter().rev().collect();
        let total = hosts.len();
        progress(Progress::new(Step::StopHost, 0, total, "SIGKILL init"));
        let mut done = 0;
        let results = pool::run(
            &hosts,
            pool::HOST_WORKERS,
            |h| host::stop(h),
            |_| false,
            |i, _| {
                done += 1;
                progress(
                    Progress::new(Step::StopHost, done, total, "stopped").host(&hosts[i].name),
                );
            },
        );
        for (h, result) in hosts.iter().zip(results) {
            match result {
                Some(Ok(stopped)) => {
                    report
                        .killed
                        .extend(stopped.killed.into_iter().map(|pid| KilledProcess {
                            host: Some(h.name.clone()),
                            pid,
                        }));
                }
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {}
            }
        }
    }
    if let Some(state) = &state {
        progress(Progress::new(Step::StopPayments, 0, 1, "SIGKILL"));
        match payments::stop(state) {
            Ok(Some(pid)) => report.killed.push(KilledProcess { host: None, pid }),
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // Anything still chrooted into a host (a crash before its pid was recorded).
    for stray in host::chrooted_under(&dir.join("hosts")) {
        if stray
            .kill()
            .map_err(|e| LabError::io(format!("kill stray lab process {}", stray.pid), e))?
        {
            report.killed.push(KilledProcess {
                host: None,
                pid: stray.pid,
            });
        }
        stray.wait_gone(Duration::from_secs(5));
    }

    // Each unmount waits for the kernel's RCU grace period (milliseconds): a thousand
    // overlays one after the other take a minute, so the outermost mounts are unmounted
    // many at once, each with what is mounted under it (`umount -R`).
    let mounts = sys::mounts_under(dir)?;
    let outermost: Vec<&PathBuf> = mounts
        .iter()
        .filter(|m| !mounts.iter().any(|o| o != *m && m.starts_with(o)))
        .collect();
    let total = outermost.len();
    if total > 0 {
        progress(Progress::new(Step::Unmount, 0, total, "umount -R"));
    }
    let mut done = 0;
    let results = pool::run(
        &outermost,
        pool::HOST_WORKERS,
        |m| sys::unmount(m),
        |_| false,
        |i, _| {
            done += 1;
            progress(Progress::new(
                Step::Unmount,
                done,
                total,
                outermost[i].display().to_string(),
            ));
        },
    );
    let left = sys::mounts_under(dir)?;
    for mount in &mounts {
        if !left.contains(mount) {
            report.unmounted.push(mount.clone());
        }
    }
    if let Some(e) = results.into_iter().flatten().find_map(Result::err) {
        first_error.get_or_insert(e);
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let left = sys::mounts_under(dir)?;
    if !left.is_empty() {
        let mounts = left
            .iter()
            .map(|m| m.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(LabError::StillMounted {
            path: dir.to_owned(),
            mounts,
        });
    }

    remove_hosts(&dir.join("hosts"))?;
    for (i, name) in GENERATED.iter().enumerate() {
        let path = dir.join(name);
        let removed = if path.is_dir() {
            sys::remove_tree(&path)?
        } else {
            sys::remove_file_if_exists(&path)?
        };
        if removed {
            progress(Progress::new(
                Step::Remove,
                i + 1,
                GENERATED.len(),
                path.display().to_string(),
            ));
            report.removed.push(path);
        }
    }
    Ok(report)
}

/// Removes each host's directory under `hosts`, many at once: a host is a few dozen small
/// files, but a thousand hosts are tens of thousands of unlinks, each a disk operation of
/// its own. `hosts` itself goes with the other generated paths.
fn remove_hosts(hosts: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(hosts) else {
        return Ok(());
    };
    let dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    pool::map(&dirs, pool::HOST_WORKERS, |d| sys::remove_tree(d))
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), Err)
}
