//! The file and terminal edges of fearless, made safe once for every caller.
//!
//! - [`read`]: one bounded reader. It never blocks on open (a FIFO without a writer is
//!   refused, not waited on), reads only regular files (FIFOs, devices, sockets and
//!   directories are named and refused), stops at a byte limit and says which, and decodes
//!   UTF-8 with the offset of the first bad byte.
//! - [`write`]: one atomic write. A temporary file is created beside the target with
//!   `O_EXCL|O_NOFOLLOW` (a symlink planted at its name is never followed), written,
//!   fsynced and renamed over the target, then the directory is fsynced; a target that is
//!   not a regular file (device node, FIFO, symlink, directory) is refused.
//! - [`escape`]: one escape for free text shown on a terminal. Control characters, escape
//!   sequences, newlines and bidirectional overrides in user-supplied text are rendered
//!   visibly (`\x1b`, `\n`, `\u{202e}`) and never reach the terminal as themselves.
//! - [`account`]: the OS account the process runs as, from its real user id and the
//!   system's user database — never from `$USER` or `$LOGNAME`, which anyone can set.

pub mod account;
pub mod escape;
pub mod read;
pub mod write;

pub use escape::{Escaped, escape_terminal, is_terminal_unsafe};
pub use read::{FileKind, Limit, ReadError, read_bytes, read_stream_text, read_text};
pub use write::{WriteError, WriteOptions, write_atomic, write_atomic_with};
