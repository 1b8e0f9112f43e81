//! Restarting what still runs replaced code after a transaction, when the package manager's
//! own means (maintainer scripts, needrestart) did not.
//!
//! The needs come from [`Restarts`](crate::backend::Restarts): service names (needrestart,
//! `needs-restarting -s`) and processes (pid and executable) that map replaced files. A
//! process is restarted through the service that owns it: its systemd unit (from
//! `/proc/PID/cgroup`) where systemd runs, else the init script whose pid file
//! (`/run/NAME.pid`, `/run/*/NAME.pid`) holds its pid. A process no service owns is left
//! alone and reported: killing an unknown process is never safe.
//!
//! Some services are never restarted, as needrestart's own defaults keep them: D-Bus,
//! systemd's own units, gettys, user managers and display managers (a restart logs people
//! out or breaks the bus). And where needrestart is installed it already restarted what it
//! would (fearless runs it in automatic mode): what it left is reported, not restarted.

use std::time::Duration;

use crate::backend::{Restarts, Target, run_script};
use crate::error::PkgError;

/// `$@`: `service:NAME` and `pid:PID` items. Prints `restarted NAME`, `failed NAME`,
/// `unknown NAME` (no such service), `kept NAME` (never restarted) or `unowned PID` (no
/// service owns the process), one per line, each service once.
const RESTART: &str = r#"systemd=
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemd=yes; fi
restart() {
	if [ -n "$systemd" ]; then
		if systemctl try-restart -- "$1" >/dev/null 2>&1; then echo "restarted $1"; else echo "failed $1"; fi
	elif [ -x "/etc/init.d/$1" ]; then
		if "/etc/init.d/$1" restart >/dev/null 2>&1 </dev/null; then echo "restarted $1"; else echo "failed $1"; fi
	else
		echo "unknown $1"
	fi
}
done_names=" "
for item in "$@"; do
	case "$item" in
	service:*) name=${item#service:} ;;
	pid:*)
		pid=${item#pid:}
		name=
		if [ -n "$systemd" ]; then
			name=$(sed -n 's|^0::.*/\([^/]*\.service\)$|\1|p' "/proc/$pid/cgroup" 2>/dev/null | head -n 1)
		else
			for f in /run/*.pid /run/*/*.pid; do
				[ -r "$f" ] || continue
				[ "$(cat "$f" 2>/dev/null)" = "$pid" ] || continue
				candidate=$(basename "$f" .pid)
				if [ -x "/etc/init.d/$candidate" ]; then name=$candidate; break; fi
			done
		fi
		if [ -z "$name" ]; then echo "unowned $pid"; continue; fi
		;;
	*) continue ;;
	esac
	case "$done_names" in *" $name "*) continue ;; esac
	done_names="$done_names$name "
	case "$name" in
	dbus*|systemd-*|*getty@*|user@*|gdm*|lightdm*|sddm*|xdm*|display-manager*)
		echo "kept $name"
		continue
		;;
	esac
	restart "$name"
done
exit 0
"#;

/// How long the restarts may take in all.
const LIMIT: Duration = Duration::from_secs(300);

/// What [`restart`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Restarted {
    /// Services restarted.
    pub restarted: Vec<String>,
    /// Services whose restart failed, or that do not exist.
    pub failed: Vec<String>,
    /// Services never restarted by fearless (D-Bus, systemd's own, gettys, user and
    /// display managers): left for a human or a reboot.
    pub kept: Vec<String>,
    /// Processes (`PID EXE`) no service owns: left running.
    pub unowned: Vec<String>,
}

impl Restarted {
    /// Nothing was there to restart.
    pub fn is_empty(&self) -> bool {
        self.restarted.is_empty()
            && self.failed.is_empty()
            && self.kept.is_empty()
            && self.unowned.is_empty()
    }
}

/// Restarts the services in `needs` and the services owning its processes (nothing when
/// needrestart found them: it already restarted what it would).
///
/// # Errors
/// The host could not be reached or the script did not run.
pub async fn restart(t: &Target<'_>, needs: &Restarts) -> Result<Restarted, PkgError> {
    if needs.restart_source.starts_with("needrestart") {
        return Ok(Restarted::default());
    }
    let mut args: Vec<String> = needs
        .services
        .iter()
        .map(|s| format!("service:{s}"))
        .collect();
    args.extend(
        needs
            .processes
            .iter()
            .filter_map(|p| p.split_whitespace().next())
            .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
            .map(|pid| format!("pid:{pid}")),
    );
    if args.is_empty() {
        return Ok(Restarted::default());
    }
    let out = run_script(t, "restart what runs replaced code", RESTART, &args, LIMIT).await?;
    Ok(parse(&out.stdout_str(), needs))
}

/// [`RESTART`]'s answer: one `restarted|failed|unknown|kept|unowned WHAT` line per unit.
pub(crate) fn parse(text: &str, needs: &Restarts) -> Restarted {
    let mut r = Restarted::default();
    for line in text.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim().to_owned();
        match tag {
            "restarted" => r.restarted.push(rest),
            "failed" => r.failed.push(rest),
            "unknown" => r.failed.push(format!("{rest} (no such service)")),
            "kept" => r.kept.push(rest),
            "unowned" => r.unowned.push(
                needs
                    .processes
                    .iter()
                    .find(|p| p.split_whitespace().next() == Some(rest.as_str()))
                    .cloned()
                    .unwrap_or(rest),
            ),
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_answer_is_read_per_service_and_unowned_processes_keep_their_exe() {
        let needs = Restarts {
            processes: vec!["166 /usr/bin/python3.11".into(), "200 /usr/bin/perl".into()],
            ..Restarts::default()
        };
        let r = parse(
            "restarted acme-web\nfailed db.service\nunknown ghost\nkept dbus.service\nunowned 200\nnoise\n",
            &needs,
        );
        assert_eq!(r.restarted, ["acme-web"]);
        assert_eq!(r.failed, ["db.service", "ghost (no such service)"]);
        assert_eq!(r.kept, ["dbus.service"]);
        assert_eq!(r.unowned, ["200 /usr/bin/perl"]);
        assert!(!r.is_empty());
        assert!(parse("", &needs).is_empty());
    }
}
