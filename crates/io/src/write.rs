//! Atomic replacement of a file: readers see the old content or the new, never a mix, and
//! a crash leaves one of the two.
//!
//! The temporary file lives in the target's directory (a rename never crosses file
//! systems) and is created with `O_CREAT|O_EXCL|O_NOFOLLOW`: whatever already exists at
//! its name — a symlink planted to redirect the write — makes the create fail and another
//! name is tried, so nothing is ever written through a link. The target itself must be a
//! regular file or absent: fearless does not replace a device node, a FIFO, a socket, a
//! directory or a symbolic link (an `-o /dev/null` stays a device). Data and then the
//! directory are fsynced, so the new name survives a power cut.

use crate::escape::escape_terminal;
use crate::read::FileKind;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many temporary names are tried before giving up.
const TEMP_ATTEMPTS: u32 = 16;

/// Options of [`write_atomic_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Permission bits of the written file. `None`: keep those of the file being replaced,
    /// or `0o666` less the umask for a new file.
    pub mode: Option<u32>,
}

/// Why an atomic write failed. Nothing at the target changed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target exists and is not a regular file.
    #[error("cannot write {}: it is {kind}; fearless replaces only regular files", shown(.path))]
    NotRegular {
        /// The target.
        path: PathBuf,
        /// What is there.
        kind: FileKind,
    },
    /// The path names no file (`/`, `dir/..`).
    #[error("cannot write {}: the path does not name a file", shown(.path))]
    NoFileName {
        /// The target.
        path: PathBuf,
    },
    /// Every temporary name was taken (something keeps creating files beside the target).
    #[error("cannot write {}: no free temporary name in its directory after {TEMP_ATTEMPTS} attempts", shown(.path))]
    TempNames {
        /// The target.
        path: PathBuf,
    },
    /// An I/O step failed.
    #[error("cannot write {}: {step}: {source}", shown(.path))]
    Io {
        /// The target.
        path: PathBuf,
        /// What was being done (`create a temporary file`, `rename`, …).
        step: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
}

fn shown(path: &Path) -> String {
    escape_terminal(&path.to_string_lossy()).into_owned()
}

/// Replace (or create) `path` with `contents` atomically; see the module docs.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    write_atomic_with(path, contents, WriteOptions::default())
}

/// [`write_atomic`] with options (permission bits).
pub fn write_atomic_with(
    path: &Path,
    contents: &[u8],
    options: WriteOptions,
) -> Result<(), WriteError> {
    let io_err = |step: &'static str| {
        move |source: io::Error| WriteError::Io {
            path: path.to_owned(),
            step,
            source,
        }
    };
    let Some(name) = path.file_name() else {
        return Err(WriteError::NoFileName {
            path: path.to_owned(),
        });
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let existing_mode = match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if let Some(kind) = FileKind::of(meta.file_type()) {
                return Err(WriteError::NotRegular {
                    path: path.to_owned(),
                    kind,
                });
            }
            Some(meta.permissions().mode() & 0o7777)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("inspect the target")(e)),
    };
    let (mut file, temp) = create_temp(dir, &name.to_string_lossy(), existing_mode.is_some())
        .map_err(|e| match e {
            TempError::Exhausted => WriteError::TempNames {
                path: path.to_owned(),
            },
            TempError::Io(e) => io_err("create a temporary file")(e),
        })?;
    let result = (|| {
        file.write_all(contents)
            .map_err(io_err("write the temporary file"))?;
        if let Some(mode) = options.mode.or(existing_mode) {
            file.set_permissions(Permissions::from_mode(mode))
                .map_err(io_err("set permissions"))?;
        }
        file.sync_all()
            .map_err(io_err("fsync the temporary file"))?;
        drop(file);
        std::fs::rename(&temp, path).map_err(io_err("rename over the target"))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync the directory"))
}

enum TempError {
    Exhausted,
    Io(io::Error),
}

/// The name of the first temporary file tried for `name` (tests plant links there).
fn first_temp_name(name: &str) -> String {
    format!(".{name}.{}.tmp", std::process::id())
}

/// Create a new temporary file in `dir` that did not exist before, never through a link.
fn create_temp(dir: &Path, name: &str, replacing: bool) -> Result<(File, PathBuf), TempError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // A file being replaced gets its own mode after the write; until then only we read it.
    let mode = if replacing { 0o600 } else { 0o666 };
    for attempt in 0..TEMP_ATTEMPTS {
        let temp_name = if attempt == 0 {
            first_temp_name(name)
        } else {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            format!(".{name}.{}.{n}.{nanos:x}.tmp", std::process::id())
        };
        let temp = dir.join(temp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(mode)
            .open(&temp)
        {
            Ok(f) => return Ok((f, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(TempError::Io(e)),
        }
    }
    Err(TempError::Exhausted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
    }

    #[test]
    fn creates_and_replaces_keeping_the_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("baseline.json");
        write_atomic(&path, b"one").expect("create");
        assert_eq!(std::fs::read(&path).expect("read"), b"one");
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).expect("chmod");
        write_atomic(&path, b"two").expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(mode(&path), 0o640);
        write_atomic_with(&path, b"three", WriteOptions { mode: Some(0o600) }).expect("mode");
        assert_eq!(mode(&path), 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["baseline.json"], "no temporary file is left behind");
    }

    #[test]
    fn a_symlink_planted_at_the_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").expect("victim");
        let planted = dir.path().join(first_temp_name("report.html"));
        std::os::unix::fs::symlink(&victim, &planted).expect("plant");
        let target = dir.path().join("report.html");
        write_atomic(&target, b"<html>").expect("write beside the planted link");
        assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");
        assert_eq!(std::fs::read(&target).expect("target"), b"<html>");
        assert!(
            std::fs::symlink_metadata(&target)
                .expect("stat")
                .file_type()
                .is_file()
        );
        assert!(
            std::fs::symlink_metadata(&planted)
                .expect("planted link is still there")
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn a_device_node_target_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = dir.path().join("null");
        // A private copy of /dev/null where we may create one (root); else /dev/null itself,
        // which an unprivileged user could not replace anyway.
        let made = std::process::Command::new("mknod")
            .arg(&node)
            .args(["c", "1", "3"])
            .status()
            .is_ok_and(|s| s.success());
        let target = if made {
            node
        } else {
            PathBuf::from("/dev/null")
        };
        let err = write_atomic(&target, b"data").expect_err("a device is not replaced");
        assert!(
            matches!(
                err,
                WriteError::NotRegular {
                    kind: FileKind::CharDevice,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("it is a character device"),
            "{err}"
        );
        assert!(
            std::fs::symlink_metadata(&target)
                .expect("stat")
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn fifos_symlinks_and_directories_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo")
                .success()
        );
        let err = write_atomic(&fifo, b"x").expect_err("fifo");
        assert!(
            matches!(
                err,
                WriteError::NotRegular {
                    kind: FileKind::Fifo,
                    ..
                }
            ),
            "{err}"
        );
        let real = dir.path().join("real");
        std::fs::write(&real, b"real").expect("real");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("link");
        let err = write_atomic(&link, b"x").expect_err("symlink");
        assert!(
            matches!(
                err,
                WriteError::NotRegular {
                    kind: FileKind::Symlink,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::read(&real).expect("real"), b"real");
        let err = write_atomic(dir.path(), b"x").expect_err("dir");
        assert!(
            matches!(
                err,
                WriteError::NotRegular {
                    kind: FileKind::Directory,
                    ..
                }
            ),
            "{err}"
        );
    }
}
