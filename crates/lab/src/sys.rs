//! Small, safe wrappers over the operating system: running programs (argv only, never a
//! shell string), `/proc` process identity, `/proc/self/mountinfo`, and the lab lock.

use std::fs::{self, File, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};
use rustix::process::{Pid, Signal, WaitOptions, geteuid, kill_process, waitpid};
use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};

/// Fails unless we run as root.
pub(crate) fn require_root() -> Result<()> {
    let uid = geteuid();
    if uid.is_root() {
        Ok(())
    } else {
        Err(LabError::NotRoot { uid: uid.as_raw() })
    }
}

/// A program the lab needs, with the Debian package that provides it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool {
    pub(crate) program: &'static str,
    pub(crate) package: &'static str,
}

pub(crate) const DEBOOTSTRAP: Tool = Tool {
    program: "debootstrap",
    package: "debootstrap",
};

/// Programs the RPM host needs on the controller (to build and index the RPM repository).
pub(crate) const RPM_TOOLS: &[Tool] = &[
    Tool {
        program: "rpmbuild",
        package: "rpm",
    },
    Tool {
        program: "createrepo_c",
        package: "createrepo-c",
    },
];

/// Programs every lab command needs (debootstrap only matters for a cold cache).
pub(crate) const TOOLS: &[Tool] = &[
    Tool {
        program: "dpkg-deb",
        package: "dpkg",
    },
    Tool {
        program: "dpkg-scanpackages",
        package: "dpkg-dev",
    },
    Tool {
        program: "gzip",
        package: "gzip",
    },
    Tool {
        program: "sha256sum",
        package: "coreutils",
    },
    Tool {
        program: "chroot",
        package: "coreutils",
    },
    Tool {
        program: "unshare",
        package: "util-linux",
    },
    Tool {
        program: "mount",
        package: "mount",
    },
    Tool {
        program: "umount",
        package: "mount",
    },
    Tool {
        program: "ssh",
        package: "openssh-client",
    },
    Tool {
        program: "ssh-keygen",
        package: "openssh-client",
    },
];

/// Fails with an install hint when `tool` is not an executable in PATH (or the sbin dirs).
pub(crate) fn require_tool(tool: Tool) -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    let found = dirs.iter().any(|d| {
        fs::metadata(d.join(tool.program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    if found {
        Ok(())
    } else {
        Err(LabError::ToolMissing {
            program: tool.program,
            package: tool.package,
        })
    }
}

/// Runs `cmd` to completion, capturing its output; a non-zero exit is a `LabError::Command`.
pub(crate) fn run(cmd: &mut Command, action: &str) -> Result<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::io(format!("{action} (running `{program}`)"), e))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LabError::Command {
            action: action.to_owned(),
            program,
            status: describe_status(output.status),
            stderr: tail(
                &format!("{}{}", lossy(&output.stdout), lossy(&output.stderr)),
                20,
            ),
        })
    }
}

pub(crate) fn describe_status(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("was killed ({status})"),
    }
}

pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The last `lines` lines of a file, or an empty string if it cannot be read.
pub(crate) fn tail_file(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    match File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => tail(&text, lines),
        Err(_) => String::new(),
    }
}

/// Writes `contents` to `path` atomically (temp file + rename) with `mode`.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp-fearless");
    fs::write(&tmp, contents).map_err(|e| LabError::io(format!("write {}", tmp.display()), e))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .map_err(|e| LabError::io(format!("set permissions of {}", tmp.display()), e))?;
    fs::rename(&tmp, path)
        .map_err(|e| LabError::io(format!("rename {} into place", tmp.display()), e))
}

/// Writes a file, creating its parent directories.
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        create_dir_all(parent)?;
    }
    fs::write(path, contents).map_err(|e| LabError::io(format!("write {}", path.display()), e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| LabError::io(format!("set permissions of {}", path.display()), e))
}

pub(crate) fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| LabError::io(format!("create {}", path.display()), e))
}

/// Removes a file if it exists.
pub(crate) fn remove_file_if_exists(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(LabError::io(format!("remove {}", path.display()), e)),
    }
}

/// Removes a directory tree, but only when nothing is mounted at or under it: a recursive
/// delete that walks into a bind-mounted `/dev` or a lower layer would be a disaster.
pub(crate) fn remove_tree(path: &Path) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let mounts = mounts_under(path)?;
    if !mounts.is_empty() {
        let mounts = mounts
            .iter()
            .map(|m| m.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(LabError::StillMounted {
            path: path.to_owned(),
            mounts,
        });
    }
    fs::remove_dir_all(path).map_err(|e| LabError::io(format!("remove {}", path.display()), e))?;
    Ok(true)
}

// ---------------------------------------------------------------------------------------
// Processes

/// A process identified by pid *and* start time, so that a recycled pid is never mistaken
/// for a lab process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcRef {
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
}

/// What `/proc/PID/stat` says about a process.
#[derive(Debug, Clone)]
pub(crate) struct ProcStat {
    pub(crate) comm: String,
    pub(crate) state: char,
    pub(crate) ppid: u32,
    pub(crate) start_time: u64,
}

pub(crate) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    Some(ProcStat {
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        start_time: rest.get(19)?.parse().ok()?,
    })
}

impl ProcRef {
    /// Identifies the running process `pid`.
    pub(crate) fn of(pid: u32) -> Option<Self> {
        proc_stat(pid).map(|s| Self {
            pid,
            start_time: s.start_time,
        })
    }

    /// Whether this very process still runs (a zombie does not count).
    pub(crate) fn alive(self) -> bool {
        proc_stat(self.pid).is_some_and(|s| s.start_time == self.start_time && s.state != 'Z')
    }

    /// Sends SIGKILL if this very process still runs; then reaps it if it is our child.
    pub(crate) fn kill(self) -> std::io::Result<bool> {
        if !self.alive() {
            reap(self.pid);
            return Ok(false);
        }
        let pid = pid_of(self.pid)?;
        match kill_process(pid, Signal::KILL) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }

    /// Waits up to `timeout` for the process to be gone, reaping it if it is our child.
    pub(crate) fn wait_gone(self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            reap(self.pid);
            if !self.alive() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn pid_of(pid: u32) -> std::io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("invalid pid {pid}"),
            )
        })
}

/// Collects the exit status of `pid` if it is our (dead) child; harmless otherwise.
pub(crate) fn reap(pid: u32) {
    if let Ok(pid) = pid_of(pid) {
        let _ = waitpid(Some(pid), WaitOptions::NOHANG);
    }
}

/// All pids currently in /proc.
pub(crate) fn all_pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Children of `ppid` (by scanning /proc; works without CONFIG_PROC_CHILDREN).
pub(crate) fn children_of(ppid: u32) -> Vec<(u32, ProcStat)> {
    all_pids()
        .into_iter()
        .filter_map(|pid| proc_stat(pid).filter(|s| s.ppid == ppid).map(|s| (pid, s)))
        .collect()
}

/// Children of `ppid` among the `span` pids allocated after it (pids are handed out in
/// order, so a fresh child is nearly always there): a few hundred failed opens instead of
/// reading every process of a machine that runs a thousand lab hosts. Wraps at
/// `kernel.pid_max`.
pub(crate) fn children_near(ppid: u32, span: u32) -> Vec<(u32, ProcStat)> {
    let max = pid_max();
    (1..=span)
        .map(|k| {
            let pid = ppid.saturating_add(k);
            if pid >= max { pid - max + 1 } else { pid }
        })
        .filter_map(|pid| proc_stat(pid).filter(|s| s.ppid == ppid).map(|s| (pid, s)))
        .collect()
}

/// `kernel.pid_max` (pids are below it); the kernel's default when it cannot be read.
pub(crate) fn pid_max() -> u32 {
    read_number("/proc/sys/kernel/pid_max").map_or(32_768, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// A number alone in a file (a sysctl under `/proc/sys`).
pub(crate) fn read_number(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The PID namespace of a process, as the `pid:[inode]` link text.
pub(crate) fn pid_namespace(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

// ---------------------------------------------------------------------------------------
// Mounts

/// Mount points at or under `dir`, in mount order, read from `/proc/self/mountinfo`.
pub(crate) fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let text = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| LabError::io("read /proc/self/mountinfo", e))?;
    Ok(parse_mountinfo(&text)
        .into_iter()
        .filter(|m| m.starts_with(dir))
        .collect())
}

/// The mount points (5th field, octal escapes decoded) of a mountinfo text.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_octal(field)))
        .collect()
}

fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Some(value) = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .and_then(|s| u8::from_str_radix(s, 8).ok())
        {
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts `path` (recursively); falls back to a lazy detach if it is busy.
pub(crate) fn unmount(path: &Path) -> Result<()> {
    let first = run(
        Command::new("umount").arg("-R").arg(path),
        &format!("unmount {}", path.display()),
    );
    if first.is_ok() || !mounts_under(path)?.contains(&path.to_path_buf()) {
        return Ok(());
    }
    run(
        Command::new("umount").arg("-R").arg("-l").arg(path),
        &format!("lazily unmount {}", path.display()),
    )
    .map(drop)
}

// ---------------------------------------------------------------------------------------
// Lock

/// An exclusive lock on a lab directory, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| LabError::io(format!("open {}", path.display()), e))?;
        flock(&file, FlockOperation::NonBlockingLockExclusive).map_err(|_| LabError::Busy {
            dir: dir.to_owned(),
        })?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_mount_points_are_unescaped() {
        let text = "36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n\
                    37 35 0:5 / /proc rw - proc proc rw\n";
        assert_eq!(
            parse_mountinfo(text),
            vec![PathBuf::from("/mnt/a b"), PathBuf::from("/proc")]
        );
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 2), "");
    }

    #[test]
    fn own_process_is_alive() {
        let me = ProcRef::of(std::process::id()).expect("own stat");
        assert!(me.alive());
        assert!(
            !ProcRef {
                start_time: me.start_time + 1,
                ..me
            }
            .alive()
        );
    }
}
