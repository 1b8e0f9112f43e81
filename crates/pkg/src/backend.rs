//! The [`PackageManager`] trait, the host it works on ([`Target`]), detection, and the
//! plumbing every backend shares: running argv or a constant script with positional
//! parameters, and turning failures into [`PkgError`]s.

use std::collections::BTreeMap;
use std::time::Duration;

use fearless_exec::{Output, Transport};
use serde::Serialize;

use crate::error::PkgError;
use crate::history::Transaction;
use crate::model::{Built, Delta, Installed, Manager, Pending, Relations};
use crate::{apt, dnf};

/// Where packages a change replaces are kept on the host, so it can go back even when the
/// repository no longer has them.
pub const CACHE_DIR: &str = "/var/cache/fearless/packages";

/// The packages of `pkgs` whose command-line spec the cache script reported `missing SPEC`.
pub(crate) fn missing(
    pkgs: &[Installed],
    output: &str,
    spec: impl Fn(&Installed) -> String,
) -> Vec<Installed> {
    let said: Vec<&str> = output
        .lines()
        .filter_map(|l| l.strip_prefix("missing "))
        .collect();
    pkgs.iter()
        .filter(|p| said.contains(&spec(p).as_str()))
        .cloned()
        .collect()
}

/// Every backend command runs with this environment: nothing asks a question, nothing
/// pages, needrestart restarts in automatic mode, output is in English and UTC.
pub(crate) const ENV: &[&str] = &[
    "DEBIAN_FRONTEND=noninteractive",
    "DEBCONF_NONINTERACTIVE_SEEN=true",
    "NEEDRESTART_MODE=a",
    "APT_LISTCHANGES_FRONTEND=none",
    "PAGER=cat",
    "SYSTEMD_PAGER=",
    "LC_ALL=C",
    "TZ=UTC",
];

/// A host to work on.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Inventory name.
    pub name: &'a str,
    /// How commands reach it.
    pub transport: &'a Transport,
    /// Limits.
    pub limits: Limits,
}

/// Time limits of package operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long to wait for another process to release the package lock.
    pub lock_wait: Duration,
    /// How long one package-manager command may take (after the lock is ours).
    pub command: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            lock_wait: Duration::from_secs(120),
            command: Duration::from_secs(900),
        }
    }
}

/// One package a transaction installs, upgrades, downgrades or reinstalls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallItem {
    /// Package name.
    pub name: String,
    /// Architecture, when known.
    pub arch: Option<String>,
    /// Exact version.
    pub version: String,
    /// A package file on the host to install it from (the fearless cache), if any.
    pub file: Option<String>,
}

/// What one package-manager transaction does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Packages to bring to an exact version.
    pub install: Vec<InstallItem>,
    /// Packages to remove (`name:arch`), purging configuration on apt: a package the
    /// change added had none before.
    pub remove: Vec<String>,
}

impl Request {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.install.is_empty() && self.remove.is_empty()
    }
}

/// A package file kept in [`CACHE_DIR`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CachedFile {
    /// Package name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Version.
    pub version: String,
    /// Path on the host.
    pub path: String,
}

/// A version a repository offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offered {
    /// Package name.
    pub name: String,
    /// Architecture, when the tool says it.
    pub arch: Option<String>,
    /// Version.
    pub version: String,
}

/// What a host needs after packages changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Restarts {
    /// Whether a reboot is required; `None` when the host has no way to say.
    pub reboot_required: Option<bool>,
    /// What said so (`/var/run/reboot-required`, `needs-restarting -r`).
    pub reboot_source: String,
    /// Packages that asked for the reboot, when known.
    pub reboot_packages: Vec<String>,
    /// Services that run old code and need a restart.
    pub services: Vec<String>,
    /// Processes that run deleted (replaced) executables or libraries.
    pub processes: Vec<String>,
    /// What found them (`needrestart -b`, `needs-restarting -s`, `/proc scan`).
    pub restart_source: String,
}

/// A package manager, driven through a host's transport.
///
/// Every call is non-interactive, waits for the package lock up to [`Limits::lock_wait`]
/// and then fails with [`PkgError::Locked`] naming the holder, and reads machine-readable
/// output only.
#[expect(
    async_fn_in_trait,
    reason = "implemented and awaited inside this workspace only; callers do not spawn these futures"
)]
pub trait PackageManager {
    /// Which manager this is.
    fn manager(&self) -> Manager;

    /// Every installed package with its manual/auto mark.
    async fn installed(&self, t: &Target<'_>) -> Result<Vec<Installed>, PkgError>;

    /// Refresh repository metadata (`apt-get update`, `dnf makecache`).
    async fn refresh(&self, t: &Target<'_>) -> Result<(), PkgError>;

    /// The updates a full upgrade would take now, from the metadata as it is.
    async fn pending(&self, t: &Target<'_>) -> Result<Vec<Pending>, PkgError>;

    /// Whether [`PackageManager::pending`] is a resolved transaction (the tool's own
    /// simulation of the full upgrade, dependencies included) rather than a list of newer
    /// versions.
    fn pending_is_resolved(&self) -> bool {
        false
    }

    /// The versions the repositories offer for `names`.
    async fn offered(&self, t: &Target<'_>, names: &[String]) -> Result<Vec<Offered>, PkgError>;

    /// Every installed package with the source package it was built from.
    async fn built(&self, t: &Target<'_>) -> Result<Vec<Built>, PkgError>;

    /// The versions the repositories offer for the binary packages `names`, each with the
    /// source it was built from (what the host's repositories offer, not what is
    /// installed).
    async fn offered_builds(
        &self,
        t: &Target<'_>,
        names: &[String],
    ) -> Result<Vec<Built>, PkgError>;

    /// The package files in [`CACHE_DIR`].
    async fn cached(&self, t: &Target<'_>) -> Result<Vec<CachedFile>, PkgError>;

    /// Download exactly these versions into [`CACHE_DIR`]; returns the ones it could not get.
    async fn cache(&self, t: &Target<'_>, pkgs: &[Installed]) -> Result<Vec<Installed>, PkgError>;

    /// What `request` would change, without changing anything.
    async fn simulate(&self, t: &Target<'_>, request: &Request) -> Result<Vec<Delta>, PkgError>;

    /// Carry out `request` in as few transactions as the tool allows.
    async fn execute(&self, t: &Target<'_>, request: &Request) -> Result<(), PkgError>;

    /// Mark packages (`name:arch`) as installed on purpose or as dependencies.
    async fn mark(
        &self,
        t: &Target<'_>,
        manual: &[String],
        auto: &[String],
    ) -> Result<(), PkgError>;

    /// Package transactions from the host's own history that started at or after `since`.
    async fn history(
        &self,
        t: &Target<'_>,
        since: jiff::Timestamp,
    ) -> Result<Vec<Transaction>, PkgError>;

    /// What each pinned version depends on (package names), from the repositories.
    async fn depends(
        &self,
        t: &Target<'_>,
        manifest: &crate::Manifest,
    ) -> Result<BTreeMap<String, Vec<String>>, PkgError>;

    /// Whether a reboot is required and what needs a restart.
    async fn restarts(&self, t: &Target<'_>) -> Result<Restarts, PkgError> {
        restarts(t).await
    }

    /// Every installed package's priority, dependencies, provides and configured state.
    async fn relations(&self, t: &Target<'_>) -> Result<Vec<Relations>, PkgError>;

    /// Every package name the host's repositories offer or its database holds, sorted.
    async fn names(&self, t: &Target<'_>) -> Result<Vec<String>, PkgError>;

    /// Which package owns each of `paths` (absolute); a path no package owns is absent.
    async fn owners(
        &self,
        t: &Target<'_>,
        paths: &[String],
    ) -> Result<BTreeMap<String, String>, PkgError>;
}

/// The backend of one host, chosen by [`detect`] or by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// apt/dpkg.
    Apt(apt::Apt),
    /// dnf/rpm (also `yum` where it is dnf).
    Dnf(dnf::Dnf),
}

impl Backend {
    /// The backend for `manager`.
    pub fn for_manager(manager: Manager) -> Self {
        match manager {
            Manager::Apt => Backend::Apt(apt::Apt),
            Manager::Dnf | Manager::Yum => Backend::Dnf(dnf::Dnf { manager }),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            Backend::Apt($b) => $call,
            Backend::Dnf($b) => $call,
        }
    };
}

impl PackageManager for Backend {
    fn manager(&self) -> Manager {
        delegate!(self, b => b.manager())
    }
    async fn installed(&self, t: &Target<'_>) -> Result<Vec<Installed>, PkgError> {
        delegate!(self, b => b.installed(t).await)
    }
    async fn refresh(&self, t: &Target<'_>) -> Result<(), PkgError> {
        delegate!(self, b => b.refresh(t).await)
    }
    async fn pending(&self, t: &Target<'_>) -> Result<Vec<Pending>, PkgError> {
        delegate!(self, b => b.pending(t).await)
    }
    fn pending_is_resolved(&self) -> bool {
        delegate!(self, b => b.pending_is_resolved())
    }
    async fn offered(&self, t: &Target<'_>, names: &[String]) -> Result<Vec<Offered>, PkgError> {
        delegate!(self, b => b.offered(t, names).await)
    }
    async fn built(&self, t: &Target<'_>) -> Result<Vec<Built>, PkgError> {
        delegate!(self, b => b.built(t).await)
    }
    async fn offered_builds(
        &self,
        t: &Target<'_>,
        names: &[String],
    ) -> Result<Vec<Built>, PkgError> {
        delegate!(self, b => b.offered_builds(t, names).await)
    }
    async fn cached(&self, t: &Target<'_>) -> Result<Vec<CachedFile>, PkgError> {
        delegate!(self, b => b.cached(t).await)
    }
    async fn cache(&self, t: &Target<'_>, pkgs: &[Installed]) -> Result<Vec<Installed>, PkgError> {
        delegate!(self, b => b.cache(t, pkgs).await)
    }
    async fn simulate(&self, t: &Target<'_>, request: &Request) -> Result<Vec<Delta>, PkgError> {
        delegate!(self, b => b.simulate(t, request).await)
    }
    async fn execute(&self, t: &Target<'_>, request: &Request) -> Result<(), PkgError> {
        delegate!(self, b => b.execute(t, request).await)
    }
    async fn mark(
        &self,
        t: &Target<'_>,
        manual: &[String],
        auto: &[String],
    ) -> Result<(), PkgError> {
        delegate!(self, b => b.mark(t, manual, auto).await)
    }
    async fn history(
        &self,
        t: &Target<'_>,
        since: jiff::Timestamp,
    ) -> Result<Vec<Transaction>, PkgError> {
        delegate!(self, b => b.history(t, since).await)
    }
    async fn depends(
        &self,
        t: &Target<'_>,
        manifest: &crate::Manifest,
    ) -> Result<BTreeMap<String, Vec<String>>, PkgError> {
        delegate!(self, b => b.depends(t, manifest).await)
    }
    async fn relations(&self, t: &Target<'_>) -> Result<Vec<Relations>, PkgError> {
        delegate!(self, b => b.relations(t).await)
    }
    async fn owners(
        &self,
        t: &Target<'_>,
        paths: &[String],
    ) -> Result<BTreeMap<String, String>, PkgError> {
        delegate!(self, b => b.owners(t, paths).await)
    }
    async fn names(&self, t: &Target<'_>) -> Result<Vec<String>, PkgError> {
        delegate!(self, b => b.names(t).await)
    }
}

/// One package name a line (`apt-cache pkgnames`, `rpm -qa`): sorted, once each; a line
/// that is not a package name is skipped.
pub(crate) fn parse_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|n| {
            !n.is_empty()
                && n.len() <= 256
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._:".contains(c))
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

const DETECT: &str = r#"if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
	echo apt
elif command -v dnf >/dev/null 2>&1; then
	echo dnf
elif command -v yum >/dev/null 2>&1; then
	v=$(yum --version 2>/dev/null | head -n 1)
	case $v in
	[4-9].*) echo yum ;;
	*) echo "classic-yum $v" ;;
	esac
else
	echo none
fi
"#;

/// Find the host's package manager: apt when `apt-get` and `dpkg-query` exist, else dnf,
/// else `yum` when it is dnf (yum 3 is not supported).
pub async fn detect(t: &Target<'_>) -> Result<Manager, PkgError> {
    let said = script_answer(
        t,
        "detect the package manager",
        DETECT,
        &[],
        t.limits.command,
    )
    .await?;
    match said.as_str() {
        "apt" => Ok(Manager::Apt),
        "dnf" => Ok(Manager::Dnf),
        "yum" => Ok(Manager::Yum),
        "none" => Err(PkgError::Unsupported {
            host: t.name.to_owned(),
            detail:
                "no supported package manager found (looked for apt-get with dpkg-query, dnf, yum)"
                    .into(),
        }),
        other => Err(PkgError::Unsupported {
            host: t.name.to_owned(),
            detail: format!(
                "found `{other}`: only yum 4 (dnf) is supported; set `package_manager` for the host to override"
            ),
        }),
    }
}

/// Free space, in KiB, of the file system holding `path` on the host (`df -Pk`).
pub async fn free_kib(t: &Target<'_>, path: &str) -> Result<u64, PkgError> {
    let argv = with_env(&["df", "-Pk", "--", path]);
    let out = run_ok(t, "df -Pk", &argv, t.limits.command).await?;
    let text = out.stdout_str();
    parse_df(&text).ok_or_else(|| parse_error(t, "df -Pk", format!("{text:?}")))
}

/// The `Available` column (KiB) of `df -Pk`'s one file system line.
pub(crate) fn parse_df(text: &str) -> Option<u64> {
    text.lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

/// A shell function, `holder`, that prints who holds the package lock right now, if
/// anyone (and fails if no one does): the dpkg locks (`fcntl` locks, found in `/proc/locks`
/// by inode) and dnf 4's pid-file locks.
macro_rules! holder_fn {
    () => {
        r#"holder() {
for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock; do
	[ -e "$f" ] || continue
	ino=$(stat -c %i "$f") || continue
	while read -r _ _ _ _ pid dev _; do
		case $dev in *:"$ino") ;; *) continue ;; esac
		[ "$pid" = "$$" ] && continue
		echo "process $pid ($(cat "/proc/$pid/comm" 2>/dev/null))"
		return 0
	done < /proc/locks
done
for f in /var/lib/dnf/rpmdb_lock.pid /var/cache/dnf/metadata_lock.pid /var/cache/dnf/download_lock.pid; do
	[ -r "$f" ] || continue
	pid=$(cat "$f" 2>/dev/null)
	case $pid in '' | *[!0-9]*) continue ;; esac
	if [ -d "/proc/$pid" ]; then
		echo "process $pid ($(cat "/proc/$pid/comm" 2>/dev/null))"
		return 0
	fi
done
return 1
}
"#
    };
}

const LOCK_HOLDER: &str = concat!(holder_fn!(), "holder || :\n");

/// `$1`: seconds to wait for the lock to be free; prints the holder if it is not by then.
const WAIT_FOR_LOCK: &str = concat!(
    holder_fn!(),
    "i=0\nwhile h=$(holder); do\n",
    "\t[ \"$i\" -ge $(($1 * 4)) ] && { printf '%s\\n' \"$h\"; exit 0; }\n",
    "\tsleep 0.25\n\ti=$((i + 1))\ndone\n"
);

/// Who holds the host's package lock now (`process 1161 (dpkg)`), if anyone.
pub async fn lock_holder(t: &Target<'_>) -> Result<Option<String>, PkgError> {
    let said = script_answer(
        t,
        "look for the package lock",
        LOCK_HOLDER,
        &[],
        t.limits.command,
    )
    .await?;
    Ok((!said.is_empty()).then_some(said))
}

/// Wait, up to the lock wait, for whoever holds the package lock to let it go (a
/// transaction that outlived the fearless that started it runs to its end, see
/// [`DETACHED`]). Returns the holder if it still holds the lock after that.
pub async fn wait_for_lock(t: &Target<'_>) -> Result<Option<String>, PkgError> {
    let secs = t.limits.lock_wait.as_secs().max(1);
    let said = script_answer(
        t,
        "wait for the package lock",
        WAIT_FOR_LOCK,
        &[secs.to_string()],
        t.limits.command + t.limits.lock_wait,
    )
    .await?;
    Ok((!said.is_empty()).then_some(said))
}

/// `env ENV… argv…`.
pub(crate) fn with_env(argv: &[&str]) -> Vec<String> {
    std::iter::once("env")
        .chain(ENV.iter().copied())
        .chain(argv.iter().copied())
        .map(str::to_owned)
        .collect()
}

/// `env ENV… sh -c SCRIPT sh ARG…`: the script is a constant, data travels as arguments.
pub(crate) fn script_argv(script: &str, args: &[String]) -> Vec<String> {
    let mut argv = with_env(&["sh", "-c", script, "sh"]);
    argv.extend(args.iter().cloned());
    argv
}

/// Runs `"$@"` so that nothing that happens to the session can stop it halfway: in a
/// session of its own, with no terminal, its output in files on the host. A package
/// manager killed in the middle of a transaction (the controller died, the connection
/// dropped, the command's deadline passed) leaves half-configured packages behind; this
/// way it runs to its end, the lock it holds tells the next fearless to wait, and here the
/// shell waits for it and passes on its output and exit status.
const DETACHED: &str = r#": fearless-transaction
d=/var/cache/fearless
mkdir -p "$d" 2>/dev/null || d=${TMPDIR:-/tmp}
out=$(mktemp "$d/transaction.XXXXXX") || exit 70
err=$(mktemp "$d/transaction.XXXXXX") || { rm -f "$out"; exit 70; }
setsid "$@" </dev/null >"$out" 2>"$err" &
wait "$!"
rc=$?
cat "$out"
cat "$err" >&2
rm -f "$out" "$err"
exit "$rc"
"#;

/// `argv`, run as [`DETACHED`] says: for every command that changes packages.
pub(crate) fn detached(argv: Vec<String>) -> Vec<String> {
    ["sh", "-c", DETACHED, "sh"]
        .into_iter()
        .map(str::to_owned)
        .chain(argv)
        .collect()
}

/// Run argv; a non-zero exit is returned as output, not an error. For commands whose
/// standard output is not parsed (a transaction's progress: cut at the transport's cap, it
/// still says nothing about how the transaction went); the others use [`run_read`].
pub(crate) async fn run(
    t: &Target<'_>,
    argv: &[String],
    timeout: Duration,
) -> Result<Output, PkgError> {
    Ok(t.transport.run(argv, timeout).await?)
}

/// [`run`] for a command whose standard output will be parsed: output cut at the
/// transport's cap is an error, a partial answer is never parsed as a whole one.
pub(crate) async fn run_read(
    t: &Target<'_>,
    argv: &[String],
    timeout: Duration,
) -> Result<Output, PkgError> {
    let out = run(t, argv, timeout).await?;
    if out.stdout_truncated {
        let program = argv
            .iter()
            .find(|a| *a != "env" && !a.contains('='))
            .map_or("the command", String::as_str);
        return Err(parse_error(
            t,
            program,
            format!(
                "the output was cut at {} bytes ({} raises the cap)",
                out.stdout.len(),
                fearless_exec::MAX_OUTPUT_ENV
            ),
        ));
    }
    Ok(out)
}

/// [`run_read`]; it must exit 0 (else [`PkgError::Failed`] naming `action`).
pub(crate) async fn run_ok(
    t: &Target<'_>,
    action: &str,
    argv: &[String],
    timeout: Duration,
) -> Result<Output, PkgError> {
    let out = run_read(t, argv, timeout).await?;
    ok(t, action, out)
}

/// Run a constant script; it must exit 0.
pub(crate) async fn run_script(
    t: &Target<'_>,
    action: &str,
    script: &str,
    args: &[String],
    timeout: Duration,
) -> Result<Output, PkgError> {
    run_ok(t, action, &script_argv(script, args), timeout).await
}

/// The packages in the host's cache, as a backend's listing `script` prints them
/// (`NAME\tARCH\tVERSION\tPATH` lines).
pub(crate) async fn cached(
    t: &Target<'_>,
    script: &str,
    args: &[String],
) -> Result<Vec<CachedFile>, PkgError> {
    let out = run_script(
        t,
        "list the fearless package cache",
        script,
        args,
        t.limits.command,
    )
    .await?;
    Ok(parse_cached(&out.stdout_str()))
}

/// `NAME\tARCH\tVERSION\tPATH` lines (the path may hold tabs).
pub(crate) fn parse_cached(text: &str) -> Vec<CachedFile> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, '\t');
            Some(CachedFile {
                name: parts.next()?.to_owned(),
                arch: parts.next()?.to_owned(),
                version: parts.next()?.to_owned(),
                path: parts.next()?.to_owned(),
            })
        })
        .collect()
}

/// [`run_script`]'s standard output, trimmed.
async fn script_answer(
    t: &Target<'_>,
    action: &str,
    script: &str,
    args: &[String],
    timeout: Duration,
) -> Result<String, PkgError> {
    let out = run_script(t, action, script, args, timeout).await?;
    Ok(out.stdout_str().trim().to_owned())
}

/// The output if it exited 0, else [`PkgError::Failed`] with the end of stderr.
pub(crate) fn ok(t: &Target<'_>, action: &str, out: Output) -> Result<Output, PkgError> {
    if out.success() {
        return Ok(out);
    }
    Err(failed(t, action, &out))
}

pub(crate) fn failed(t: &Target<'_>, action: &str, out: &Output) -> PkgError {
    let status = out
        .code
        .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
    let mut said = tail(&out.stderr_str(), 6);
    if said.is_empty() {
        said = tail(&out.stdout_str(), 6);
    }
    PkgError::Failed {
        host: t.name.to_owned(),
        action: action.to_owned(),
        status,
        stderr: said,
    }
}

/// The last `n` non-empty lines, joined with ` | `.
pub(crate) fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// [`PkgError::Locked`]: `holder` kept the package lock for the whole wait.
pub(crate) fn locked(t: &Target<'_>, holder: String) -> PkgError {
    PkgError::Locked {
        host: t.name.to_owned(),
        holder,
        waited: t.limits.lock_wait,
    }
}

/// Add `dep` to the dependencies of `of` in `map`, once.
pub(crate) fn add_dependency(map: &mut BTreeMap<String, Vec<String>>, of: &str, dep: &str) {
    if let Some(list) = map.get_mut(of)
        && !list.iter().any(|d| d == dep)
    {
        list.push(dep.to_owned());
    }
}

pub(crate) fn parse_error(t: &Target<'_>, what: &str, detail: impl Into<String>) -> PkgError {
    PkgError::Parse {
        host: t.name.to_owned(),
        what: what.to_owned(),
        detail: detail.into(),
    }
}

/// Reboot and restart needs, for both families: the distribution's own tools when the host
/// has them, else what the host can tell (`/var/run/reboot-required` on Debian; processes
/// mapping deleted files from `/proc`).
const RESTARTS: &str = r#"if [ -e /var/run/reboot-required ]; then
	echo "reboot yes /var/run/reboot-required"
	if [ -r /var/run/reboot-required.pkgs ]; then
		sed 's/^/reboot-pkg /' /var/run/reboot-required.pkgs
	fi
elif command -v needs-restarting >/dev/null 2>&1; then
	needs-restarting -r >/dev/null 2>&1
	case $? in
	0) echo "reboot no needs-restarting -r" ;;
	1) echo "reboot yes needs-restarting -r" ;;
	*) echo "reboot unknown needs-restarting -r failed" ;;
	esac
elif [ -d /var/lib/dpkg ] && command -v apt-get >/dev/null 2>&1; then
	echo "reboot no /var/run/reboot-required"
else
	echo "reboot unknown no needs-restarting"
fi
if command -v needrestart >/dev/null 2>&1; then
	echo "source needrestart -b"
	needrestart -b -r l 2>/dev/null | sed -n 's/^NEEDRESTART-SVC: */service /p'
elif command -v needs-restarting >/dev/null 2>&1; then
	echo "source needs-restarting -s"
	needs-restarting -s 2>/dev/null | sed 's/^/service /'
else
	echo "source /proc scan"
	# Two programs for all processes (not two per process): every executable, and every
	# process that maps a deleted library; the parser joins them.
	cd /proc && find [0-9]*/exe -maxdepth 0 -printf 'exe %h %l\n' 2>/dev/null
	grep -Els ' /(usr|lib|lib64|bin|sbin|opt)/.* \(deleted\)$' /proc/[0-9]*/maps 2>/dev/null | sed 's/^/maps /'
fi
exit 0
"#;

pub(crate) async fn restarts(t: &Target<'_>) -> Result<Restarts, PkgError> {
    let out = run_script(
        t,
        "find reboot and restart needs",
        RESTARTS,
        &[],
        t.limits.command,
    )
    .await?;
    Ok(parse_restarts(&out.stdout_str()))
}

pub(crate) fn parse_restarts(text: &str) -> Restarts {
    let mut r = Restarts::default();
    // The /proc scan: `exe PID PATH` for every process, `maps /proc/PID/maps` for those
    // mapping a deleted library. A process needs a restart when its executable or one of
    // its libraries was replaced.
    let mut exes: Vec<(&str, &str)> = Vec::new();
    let mut stale: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("exe ") {
            let (pid, exe) = rest.split_once(' ').unwrap_or((rest, ""));
            if !exe.is_empty() {
                exes.push((pid, exe));
            }
        } else if let Some(path) = line.strip_prefix("maps /proc/") {
            stale.extend(path.strip_suffix("/maps"));
        }
    }
    for (pid, exe) in exes {
        if let Some(path) = exe.strip_suffix(" (deleted)") {
            r.processes.push(format!("{pid} {path}"));
        } else if stale.contains(&pid) {
            r.processes.push(format!("{pid} {exe}"));
        }
    }
    for line in text.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "reboot" => {
                let (answer, source) = rest.split_once(' ').unwrap_or((rest, ""));
                r.reboot_required = match answer {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => None,
                };
                source.clone_into(&mut r.reboot_source);
            }
            "reboot-pkg" => r.reboot_packages.push(rest.trim().to_owned()),
            "source" => rest.clone_into(&mut r.restart_source),
            "service" if !rest.trim().is_empty() => r.services.push(rest.trim().to_owned()),
            "process" => r.processes.push(rest.trim().to_owned()),
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A package list cut at the cap would look like packages removed: never parsed.
    #[tokio::test]
    async fn output_cut_at_the_cap_is_a_parse_error() {
        let transport = Transport::controller();
        let t = Target {
            name: "me",
            transport: &transport,
            limits: Limits::default(),
        };
        let past_the_cap = fearless_exec::DEFAULT_MAX_OUTPUT + 1;
        let argv = with_env(&["head", "-c", &past_the_cap.to_string(), "/dev/zero"]);
        let err = run_read(&t, &argv, Duration::from_secs(20))
            .await
            .expect_err("cut");
        assert!(
            matches!(&err, PkgError::Parse { what, detail, .. } if what == "head" && detail.contains("cut at 4194304 bytes")),
            "{err:?}"
        );
        let fits = with_env(&["head", "-c", "1000", "/dev/zero"]);
        let out = run_read(&t, &fits, Duration::from_secs(20))
            .await
            .expect("fits");
        assert_eq!(out.stdout.len(), 1000);
        // A transaction's progress is not parsed: cut, it is still the command's output.
        let out = run(&t, &argv, Duration::from_secs(20)).await.expect("runs");
        assert!(out.success() && out.stdout_truncated);
    }

    #[test]
    fn restart_report_is_read_line_by_line() {
        let r = parse_restarts(
            "reboot yes /var/run/reboot-required\nreboot-pkg linux-image-amd64\nsource needrestart -b\nservice nginx.service\n",
        );
        assert_eq!(r.reboot_required, Some(true));
        assert_eq!(r.reboot_packages, ["linux-image-amd64"]);
        assert_eq!(r.services, ["nginx.service"]);
        assert_eq!(r.restart_source, "needrestart -b");
        let r = parse_restarts(
            "reboot unknown no needs-restarting\nsource /proc scan\nprocess 42 /usr/bin/acme-api\n",
        );
        assert_eq!(r.reboot_required, None);
        assert_eq!(r.processes, ["42 /usr/bin/acme-api"]);
        // The /proc scan's two listings, joined: a replaced executable, a process mapping
        // a deleted library, and one with neither.
        let r = parse_restarts(
            "source /proc scan\nexe 7 /usr/bin/acme-web (deleted)\nexe 8 /usr/bin/python3.11\nexe 9 /usr/sbin/sshd\nexe 10 \nmaps /proc/8/maps\n",
        );
        assert_eq!(
            r.processes,
            ["7 /usr/bin/acme-web", "8 /usr/bin/python3.11"]
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b | c");
    }
}
