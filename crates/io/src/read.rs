//! Bounded reads: regular files only, never blocking on open, at most a limit, UTF-8 checked.
//!
//! A configuration or inventory path is user input: `-c /dev/zero`, a FIFO without a writer,
//! a directory or a symlink loop must each give a plain error at once, not a hang or a
//! process that grows to gigabytes. The file type is checked before the file is opened (so
//! opening never has a device's side effects), the open is non-blocking, and the type is
//! checked again on the open descriptor (the path may have been swapped in between).

use crate::escape::escape_terminal;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The most bytes a read may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Limit(u64);

impl Limit {
    /// The limit for configuration files and inventories: 64 MiB (a 100,000-host inventory
    /// is a few MiB).
    pub const CONFIG: Limit = Limit(64 * 1024 * 1024);

    /// A limit of `n` bytes.
    pub const fn bytes(n: u64) -> Self {
        Self(n)
    }

    /// The limit in bytes.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        const GIB: u64 = 1024 * MIB;
        match self.0 {
            n if n >= GIB && n % GIB == 0 => write!(f, "{} GiB", n / GIB),
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// What a path turned out to be when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// A symbolic link (only reported where links are refused, e.g. as a write target).
    Symlink,
    /// Anything else that is not a regular file.
    Other,
}

impl FileKind {
    /// The kind of a non-regular file type; `None` for a regular file.
    pub fn of(ft: std::fs::FileType) -> Option<Self> {
        Some(if ft.is_file() {
            return None;
        } else if ft.is_dir() {
            FileKind::Directory
        } else if ft.is_symlink() {
            FileKind::Symlink
        } else if ft.is_fifo() {
            FileKind::Fifo
        } else if ft.is_char_device() {
            FileKind::CharDevice
        } else if ft.is_block_device() {
            FileKind::BlockDevice
        } else if ft.is_socket() {
            FileKind::Socket
        } else {
            FileKind::Other
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a named pipe (FIFO)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Symlink => "a symbolic link",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why a bounded read failed. Every message names the path (escaped for the terminal).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing at the path (or a component of it is not a directory).
    #[error("cannot read {}: no such file or directory", shown(.path))]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The file exists but may not be read.
    #[error("cannot read {}: permission denied", shown(.path))]
    PermissionDenied {
        /// The path as given.
        path: PathBuf,
    },
    /// A directory, FIFO, device or socket.
    #[error("cannot read {}: it is {kind}, not a regular file", shown(.path))]
    NotRegular {
        /// The path as given.
        path: PathBuf,
        /// What it is.
        kind: FileKind,
    },
    /// Symbolic links that point at each other.
    #[error("cannot read {}: too many levels of symbolic links (a symlink loop)", shown(.path))]
    SymlinkLoop {
        /// The path as given.
        path: PathBuf,
    },
    /// More bytes than the limit.
    #[error("cannot read {}: it is larger than the {limit} limit", shown(.path))]
    TooLarge {
        /// The path (or stream name) as given.
        path: PathBuf,
        /// The limit that was reached.
        limit: Limit,
    },
    /// Bytes that are not UTF-8.
    #[error("cannot read {}: not valid UTF-8 (first bad byte at offset {offset})", shown(.path))]
    InvalidUtf8 {
        /// The path (or stream name) as given.
        path: PathBuf,
        /// Byte offset of the first byte that is not part of valid UTF-8.
        offset: usize,
    },
    /// Any other I/O error.
    #[error("cannot read {}: {source}", shown(.path))]
    Io {
        /// The path (or stream name) as given.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl ReadError {
    /// The path (or stream name) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::NotFound { path }
            | ReadError::PermissionDenied { path }
            | ReadError::NotRegular { path, .. }
            | ReadError::SymlinkLoop { path }
            | ReadError::TooLarge { path, .. }
            | ReadError::InvalidUtf8 { path, .. }
            | ReadError::Io { path, .. } => path,
        }
    }
}

fn shown(path: &Path) -> String {
    escape_terminal(&path.to_string_lossy()).into_owned()
}

/// Map an error of `stat`/`open` to what the user should be told.
fn classify(path: &Path, e: io::Error) -> ReadError {
    let path = path.to_owned();
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => ReadError::NotFound { path },
        Some(libc::EACCES | libc::EPERM) => ReadError::PermissionDenied { path },
        Some(libc::ELOOP) => ReadError::SymlinkLoop { path },
        Some(libc::EISDIR) => ReadError::NotRegular {
            path,
            kind: FileKind::Directory,
        },
        _ => ReadError::Io { path, source: e },
    }
}

fn regular(path: &Path, meta: &std::fs::Metadata, limit: Limit) -> Result<(), ReadError> {
    if let Some(kind) = FileKind::of(meta.file_type()) {
        return Err(ReadError::NotRegular {
            path: path.to_owned(),
            kind,
        });
    }
    if meta.len() > limit.0 {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(())
}

/// Read the regular file at `path` (symlinks followed), at most `limit` bytes.
///
/// Refuses directories, FIFOs, devices and sockets before opening them, opens with
/// `O_NONBLOCK|O_NOCTTY`, checks the opened file again, and refuses a file that grows past
/// `limit` while it is read.
pub fn read_bytes(path: &Path, limit: Limit) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| classify(path, e))?;
    regular(path, &meta, limit)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| classify(path, e))?;
    let meta = file.metadata().map_err(|e| classify(path, e))?;
    regular(path, &meta, limit)?;
    let capacity = usize::try_from(meta.len()).unwrap_or(0);
    read_limited(file, path, limit, capacity)
}

/// Read the regular file at `path` as UTF-8 text, at most `limit` bytes.
pub fn read_text(path: &Path, limit: Limit) -> Result<String, ReadError> {
    utf8(path, read_bytes(path, limit)?)
}

/// Read a stream (standard input, a pipe) to its end as UTF-8 text, at most `limit`
/// bytes; `name` is what errors call it (e.g. `<stdin>`). An endless stream is cut at the
/// limit and refused.
pub fn read_stream_text(reader: impl Read, name: &str, limit: Limit) -> Result<String, ReadError> {
    let path = Path::new(name);
    utf8(path, read_limited(reader, path, limit, 0)?)
}

fn read_limited(
    reader: impl Read,
    path: &Path,
    limit: Limit,
    capacity: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::with_capacity(capacity.min(usize::try_from(limit.0).unwrap_or(0)));
    reader
        .take(limit.0.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::Io {
            path: path.to_owned(),
            source: e,
        })?;
    if buf.len() as u64 > limit.0 {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(buf)
}

fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|e| ReadError::InvalidUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn quick<T>(what: &str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{what} took {:?}",
            start.elapsed()
        );
        out
    }

    #[test]
    fn a_regular_file_reads_up_to_and_including_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.yaml");
        std::fs::write(&path, "0123456789").expect("write");
        assert_eq!(
            read_text(&path, Limit::bytes(10)).expect("fits"),
            "0123456789"
        );
        let err = read_text(&path, Limit::bytes(9)).expect_err("too large");
        assert!(matches!(err, ReadError::TooLarge { limit, .. } if limit == Limit::bytes(9)));
        assert!(
            err.to_string().ends_with("larger than the 9 bytes limit"),
            "{err}"
        );
    }

    #[test]
    fn dev_zero_is_refused_at_once_as_a_device() {
        let err = quick("/dev/zero", || {
            read_bytes(Path::new("/dev/zero"), Limit::CONFIG).expect_err("device")
        });
        assert!(
            matches!(
                err,
                ReadError::NotRegular {
                    kind: FileKind::CharDevice,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "cannot read /dev/zero: it is a character device, not a regular file"
        );
    }

    #[test]
    fn a_fifo_without_a_writer_is_refused_without_hanging() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(st.success());
        let err = quick("a FIFO", || {
            read_text(&fifo, Limit::CONFIG).expect_err("fifo")
        });
        assert!(
            matches!(
                err,
                ReadError::NotRegular {
                    kind: FileKind::Fifo,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("named pipe (FIFO)"), "{err}");
    }

    #[test]
    fn directories_and_symlink_loops_are_named_plainly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = read_text(dir.path(), Limit::CONFIG).expect_err("dir");
        assert!(
            err.to_string()
                .ends_with("it is a directory, not a regular file"),
            "{err}"
        );
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).expect("link");
        std::os::unix::fs::symlink(&a, &b).expect("link");
        let err = read_text(&a, Limit::CONFIG).expect_err("loop");
        assert!(matches!(err, ReadError::SymlinkLoop { .. }), "{err}");
        assert!(err.to_string().contains("symlink loop"), "{err}");
        let missing = read_text(&dir.path().join("nope"), Limit::CONFIG).expect_err("missing");
        assert!(matches!(missing, ReadError::NotFound { .. }), "{missing}");
    }

    #[test]
    fn invalid_utf8_reports_the_offset_of_the_first_bad_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("latin1.yaml");
        std::fs::write(&path, b"name: caf\xe9\n").expect("write");
        let err = read_text(&path, Limit::CONFIG).expect_err("latin-1");
        assert!(
            matches!(err, ReadError::InvalidUtf8 { offset: 9, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("first bad byte at offset 9"),
            "{err}"
        );
    }

    #[test]
    fn an_endless_stream_stops_at_the_limit() {
        let err = quick("an endless stream", || {
            read_stream_text(io::repeat(b'a'), "<stdin>", Limit::bytes(1 << 20))
                .expect_err("endless")
        });
        assert_eq!(
            err.to_string(),
            "cannot read <stdin>: it is larger than the 1 MiB limit"
        );
        assert_eq!(
            read_stream_text(&b"ok"[..], "<stdin>", Limit::bytes(2)).expect("fits"),
            "ok"
        );
    }

    #[test]
    fn control_characters_in_paths_are_escaped_in_messages() {
        let err =
            read_text(Path::new("/nonexistent/\x1b[31mred"), Limit::CONFIG).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "cannot read /nonexistent/\\x1b[31mred: no such file or directory"
        );
    }

    #[test]
    fn limits_print_in_binary_units() {
        assert_eq!(Limit::CONFIG.to_string(), "64 MiB");
        assert_eq!(Limit::bytes(3 << 30).to_string(), "3 GiB");
        assert_eq!(Limit::bytes(1536).to_string(), "1536 bytes");
        assert_eq!(Limit::bytes(2048).to_string(), "2 KiB");
    }
}
