//! Running one child process within bounds: a deadline, and a cap on the output kept.
//!
//! Both transports start a local process (the command itself, or the `ssh` client that
//! carries it) and read its pipes here, incrementally. Each stream keeps at most
//! [`Limits::max_output`] bytes; what comes after is read and thrown away, and the stream is
//! marked as cut. The process is not killed when its output passes the cap: its exit status
//! stays the answer (a check that prints a lot and exits 0 still passes), and the deadline
//! bounds how long it may go on in any case. Memory per command is therefore bounded by
//! twice the cap, whatever the command prints and for however long.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The default cap on each output stream of one command: 4 MiB.
pub const DEFAULT_MAX_OUTPUT: usize = 4 * 1024 * 1024;

/// The environment variable that sets [`Limits::max_output`] for every transport built
/// without explicit limits (`4194304`, `512KiB`, `16MiB`, `1GiB`).
pub const MAX_OUTPUT_ENV: &str = "FEARLESS_MAX_OUTPUT";

/// The smallest cap accepted: below it not even our own scripts' answers fit.
const MIN_MAX_OUTPUT: usize = 1024;

/// What one command may produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes kept of each of standard output and standard error; the rest is read and
    /// discarded, and [`crate::Output`] says the stream was cut.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }
}

/// A [`MAX_OUTPUT_ENV`] value that is not a size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{MAX_OUTPUT_ENV}={value:?} is not an output size: {why} (bytes, or a number with KiB, MiB or GiB, at least 1KiB)"
)]
pub struct LimitsError {
    /// The value as set.
    pub value: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Limits {
    /// The limits [`MAX_OUTPUT_ENV`] asks for (the default when it is unset or empty).
    pub fn from_env() -> Result<Self, LimitsError> {
        match std::env::var(MAX_OUTPUT_ENV) {
            Ok(v) if !v.trim().is_empty() => Ok(Self {
                max_output: parse_size(&v)?,
            }),
            _ => Ok(Self::default()),
        }
    }

    /// [`Limits::from_env`], read once per process; a bad value is logged as a warning and
    /// the default used (transports are built where no error can be returned).
    pub(crate) fn configured() -> Self {
        static CONFIGURED: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();
        *CONFIGURED.get_or_init(|| {
            Self::from_env().unwrap_or_else(|e| {
                tracing::warn!(error = %e, default = DEFAULT_MAX_OUTPUT, "using the default output cap");
                Self::default()
            })
        })
    }
}

/// `4194304`, `4096KiB`, `4MiB`, `4M`, `1GiB` → bytes (units are binary).
fn parse_size(value: &str) -> Result<usize, LimitsError> {
    let bad = |why| LimitsError {
        value: value.to_owned(),
        why,
    };
    let v = value.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let number: usize = number.parse().map_err(|_| bad("no number"))?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return Err(bad("unknown unit")),
    };
    let bytes = number.checked_mul(scale).ok_or_else(|| bad("too large"))?;
    if bytes < MIN_MAX_OUTPUT {
        return Err(bad("too small"));
    }
    Ok(bytes)
}

/// One output stream as kept.
#[derive(Debug, Default)]
pub(crate) struct Capped {
    /// The first bytes, at most the cap.
    pub(crate) bytes: Vec<u8>,
    /// Whether more came than was kept.
    pub(crate) cut: bool,
}

/// How a bounded run ended, when not with an exit status.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// The process could not be started, or its pipes not read.
    Spawn(std::io::Error),
    /// The deadline passed (the process was killed); `cut` when a stream had already
    /// passed the cap by then.
    Deadline { cut: bool },
}

/// A finished process.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: Capped,
    pub(crate) stderr: Capped,
}

/// Run `cmd` (stdin from /dev/null, both outputs read through the cap) until it exits and
/// both its pipes close, or until `deadline`; then it is killed.
pub(crate) async fn run(
    mut cmd: tokio::process::Command,
    deadline: Duration,
    limits: Limits,
) -> Result<Finished, Stopped> {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(Stopped::Spawn)?;
    let (Some(out_pipe), Some(err_pipe)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Stopped::Spawn(std::io::Error::other(
            "the child's output pipes are missing",
        )));
    };
    let mut stdout = Capped::default();
    let mut stderr = Capped::default();
    let work = async {
        let (o, e, status) = tokio::join!(
            read_capped(out_pipe, &mut stdout, limits.max_output),
            read_capped(err_pipe, &mut stderr, limits.max_output),
            child.wait()
        );
        o.and(e).and(status)
    };
    // Dropping `child` on the way out kills it if it still runs (`kill_on_drop`).
    match tokio::time::timeout(deadline, work).await {
        Err(_) => Err(Stopped::Deadline {
            cut: stdout.cut || stderr.cut,
        }),
        Ok(Err(e)) => Err(Stopped::Spawn(e)),
        Ok(Ok(status)) => Ok(Finished {
            code: status.code(),
            stdout,
            stderr,
        }),
    }
}

/// Read `r` to its end, keeping its first `max` bytes in `into`.
async fn read_capped(
    mut r: impl AsyncRead + Unpin,
    into: &mut Capped,
    max: usize,
) -> std::io::Result<()> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        let room = max.saturating_sub(into.bytes.len());
        if n > room {
            into.cut = true;
        }
        if room > 0 {
            let keep = n.min(room);
            if into.bytes.capacity() < into.bytes.len() + keep {
                // Never more than the cap, even when doubling would overshoot it.
                let want = (into.bytes.len() * 2).clamp(into.bytes.len() + keep, max);
                into.bytes.reserve_exact(want - into.bytes.len());
            }
            into.bytes.extend_from_slice(&chunk[..keep]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4194304"), Ok(4 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("16 MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        for bad in [
            "",
            "abc",
            "4 MB/s",
            "-1",
            "0",
            "10",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_stream_past_the_cap_is_cut_and_the_exit_status_kept() {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "head -c 100000 /dev/zero; echo err >&2; exit 3"]);
        let limits = Limits { max_output: 4096 };
        let done = run(cmd, Duration::from_secs(10), limits)
            .await
            .expect("runs");
        assert_eq!(done.code, Some(3));
        assert_eq!(done.stdout.bytes.len(), 4096);
        assert!(done.stdout.cut);
        assert!(done.stdout.bytes.capacity() <= 4096);
        assert_eq!(done.stderr.bytes, b"err\n");
        assert!(!done.stderr.cut);
    }
}
