//! Rebooting a host whose update asked for it, and knowing that it really rebooted.
//!
//! A reboot is proven, not assumed. Before it, a marker with a fresh token is written to
//! `/run` (a tmpfs on every current distribution: empty after a boot) and the kernel's boot
//! id is read. The reboot command (`systemctl reboot` where systemd runs, else
//! `shutdown -r now`) is started detached, a second later, so its own exit status still
//! reaches the controller. Then the host is polled over new connections until it answers
//! with the marker gone or a new boot id, within a bound; an old connection that still
//! answers on the old boot does not count.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::backend::{Target, run, run_script, script_argv};
use crate::error::PkgError;

/// Writes the marker (`$1`) and prints the boot id.
const MARK: &str = r#"set -e
mkdir -p /run/fearless
printf '%s\n' "$1" > /run/fearless/reboot-marker
rm -f /run/fearless/reboot-pending
cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown
"#;

/// Notes that the reboot of `$1` was started, starts it a second from now in a session of
/// its own, and returns at once (with the command it runs).
const REBOOT: &str = r#"if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	set -- "$1" systemctl reboot
else
	set -- "$1" shutdown -r now
fi
if ! command -v "$2" >/dev/null 2>&1; then
	echo "cannot reboot: no $2 on this host" >&2
	exit 127
fi
printf '%s\n' "$1" > /run/fearless/reboot-pending
shift
setsid sh -c 'sleep 1; exec "$@"' reboot "$@" </dev/null >/dev/null 2>&1 &
echo "$*"
"#;

/// Where the host is with the reboot of `$1`: `same-boot` or `new-boot`, the boot id, and
/// `pending` when the reboot command was started on this boot.
const CHECK: &str = r#"if [ "$(cat /run/fearless/reboot-marker 2>/dev/null)" = "$1" ]; then
	echo same-boot
else
	echo new-boot
fi
cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown
if [ "$(cat /run/fearless/reboot-pending 2>/dev/null)" = "$1" ]; then
	echo pending
else
	echo not-started
fi
"#;

/// How long one short command (mark, reboot, one poll) may take.
const SHORT: Duration = Duration::from_secs(30);
/// Pause between two polls.
const POLL: Duration = Duration::from_millis(500);
/// The least time a poll is started with: a connection and a check take about that.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// A reboot that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebooted {
    /// The command that rebooted the host (`shutdown -r now`).
    pub command: String,
    /// From the reboot command to the host answering on its new boot.
    pub took: Duration,
    /// Whether the kernel's boot id changed (a container or namespace that restarts on a
    /// shared kernel keeps it; the marker proves the reboot then).
    pub new_boot_id: bool,
}

/// What became of a reboot whose controller died (see [`settle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The host is on a new boot, after waiting this long for it.
    Rebooted(Duration),
    /// The reboot command never ran: the host is on the boot it was marked on.
    NeverStarted,
}

/// A token for one reboot, which no earlier boot of the host can hold. The caller records
/// it (the journal) before [`reboot`], so that [`settle`] can tell what happened after a
/// crash.
pub fn new_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("fearless-{}-{nanos}", std::process::id())
}

/// Reboots the host and waits, at most `timeout`, until it answers on a new boot.
///
/// # Errors
/// The marker or the reboot command failed (nothing was rebooted), or the host was not
/// back on a new boot within `timeout` ([`PkgError::RebootTimeout`]).
pub async fn reboot(t: &Target<'_>, token: &str, timeout: Duration) -> Result<Rebooted, PkgError> {
    let args = [token.to_owned()];
    let marked = run_script(t, "mark the boot before rebooting", MARK, &args, SHORT).await?;
    let boot_id = marked.stdout_str().trim().to_owned();
    let started = Instant::now();
    let out = run_script(t, "start the reboot", REBOOT, &args, SHORT).await?;
    let command = out.stdout_str().trim().to_owned();
    // The connection dies with the host; the polls open new ones.
    t.transport.reconnect().await;
    let (took, new_boot_id) = new_boot(t, token, Some(&boot_id), started, timeout).await?;
    Ok(Rebooted {
        command,
        took,
        new_boot_id,
    })
}

/// After a crash during [`reboot`] with `token`: waits (at most `timeout`) for the host to
/// answer, and when its reboot command ran but the host is still on the marked boot, for
/// the new boot.
///
/// # Errors
/// [`PkgError::RebootTimeout`] when the host did not answer, or not on a new boot, in time.
pub async fn settle(t: &Target<'_>, token: &str, timeout: Duration) -> Result<Settled, PkgError> {
    let started = Instant::now();
    let check = script_argv(CHECK, &[token.to_owned()]);
    loop {
        let remaining = timeout.saturating_sub(started.elapsed());
        match run(t, &check, remaining.min(SHORT)).await {
            Ok(out) if out.success() => {
                let text = out.stdout_str();
                let lines: Vec<&str> = text.lines().map(str::trim).collect();
                return match (lines.first().copied(), lines.get(2).copied()) {
                    (Some("same-boot"), Some("pending")) => {
                        let (took, _) = new_boot(t, token, None, started, timeout).await?;
                        Ok(Settled::Rebooted(took))
                    }
                    (Some("same-boot"), _) => Ok(Settled::NeverStarted),
                    _ => Ok(Settled::Rebooted(started.elapsed())),
                };
            }
            Ok(out) => {
                return Err(crate::backend::failed(
                    t,
                    "look for an unfinished reboot",
                    &out,
                ));
            }
            Err(e) => {
                t.transport.reconnect().await;
                if started.elapsed() + POLL >= timeout {
                    return Err(PkgError::RebootTimeout {
                        host: t.name.to_owned(),
                        waited: started.elapsed(),
                        last: e.to_string(),
                    });
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls over new connections until the host answers without the marker `token` (or with
/// a boot id other than `boot_id`), at most `timeout` from `started`: how long it took, and
/// whether the boot id changed.
async fn new_boot(
    t: &Target<'_>,
    token: &str,
    boot_id: Option<&str>,
    started: Instant,
    timeout: Duration,
) -> Result<(Duration, bool), PkgError> {
    let check = script_argv(CHECK, &[token.to_owned()]);
    let mut last = String::from("it still answered on the boot before the reboot");
    loop {
        tokio::time::sleep(POLL).await;
        let remaining = timeout.saturating_sub(started.elapsed());
        // An attempt with too little time left could only time out, and would hide what
        // the last real answer said ("still on the old boot").
        if remaining < MIN_ATTEMPT {
            return Err(PkgError::RebootTimeout {
                host: t.name.to_owned(),
                waited: started.elapsed(),
                last,
            });
        }
        match run(t, &check, remaining.min(SHORT)).await {
            Ok(out) if out.success() => {
                let text = out.stdout_str();
                let mut lines = text.lines().map(str::trim);
                let marker = lines.next().unwrap_or_default();
                let now = lines.next().unwrap_or_default();
                let new_boot_id =
                    boot_id.is_some_and(|b| now != b && now != "unknown" && !now.is_empty());
                if marker == "new-boot" || new_boot_id {
                    return Ok((started.elapsed(), new_boot_id));
                }
                "it still answered on the boot before the reboot".clone_into(&mut last);
            }
            Ok(out) => {
                last = format!(
                    "the check exited {:?}: {}",
                    out.code,
                    out.stderr_str().trim()
                );
                t.transport.reconnect().await;
            }
            Err(e) => {
                last = e.to_string();
                t.transport.reconnect().await;
            }
        }
    }
}
