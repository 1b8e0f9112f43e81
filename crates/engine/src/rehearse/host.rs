//! What a rehearsal asks of hosts beyond the package manager: constant POSIX `sh` scripts
//! with data as positional parameters, and the pure readers of their answers (never
//! panicking; an answer cut at the output cap is an error, never half-read).
//!
//! On the role host: the processes (to find the programs a component's checks name), the
//! running services, the declared files. On the new host: a declared file written (in
//! chunks: a remote command line is one argument of at most 128 KiB), a service started
//! with the end of its log, the role packages' files scanned for the paths they name
//! (shebangs, `ExecStart`, paths in their `/etc` files). On both: which paths exist.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fearless_exec::Transport;
use fearless_pkg::PkgError;

/// How long one of these scripts may take (a service start waits for its readiness).
pub(crate) const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// Declared files larger than this are not carried over (said as such).
pub(crate) const MAX_FILE: u64 = 1024 * 1024;

/// Base64 text per write command: well under the 128 KiB a command line may be, and a
/// multiple of 4 so that every chunk decodes on its own.
const CHUNK: usize = 64 * 1024;

/// The processes named one of the arguments (by `comm`, or the last part of argv[0] or of
/// argv[1], the script an interpreter runs): `COMM\tEXE\tCWD\tARGV` (argv joined by
/// `\x1f`).
const PROCESSES: &str = r#"us=$(printf '\037')
for p in /proc/[0-9]*; do
	c=$(cat "$p/comm" 2>/dev/null) || continue
	a=$(head -c 4096 "$p/cmdline" 2>/dev/null | tr '\000\t\n' '\037  ')
	a0=${a%%"$us"*}
	r=${a#*"$us"}
	a1=${r%%"$us"*}
	hit=
	for n in "$@"; do
		if [ "$c" = "$n" ] || [ "${a0##*/}" = "$n" ] || [ "${a1##*/}" = "$n" ]; then hit=1; fi
	done
	[ -n "$hit" ] || continue
	e=$(readlink "$p/exe" 2>/dev/null)
	w=$(readlink "$p/cwd" 2>/dev/null)
	printf '%s\t%s\t%s\t%s\n' "$c" "$e" "$w" "$a"
done
exit 0
"#;

/// The running services: `unit\tNAME\tPATH` under systemd, else `sysv\tNAME\tPATH` for
/// each init script whose `status` says it runs.
const SERVICES: &str = r#"if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl list-units --type=service --state=running --no-legend --plain 2>/dev/null |
	while read -r unit rest; do
		path=$(systemctl show -p FragmentPath --value -- "$unit" 2>/dev/null)
		printf 'unit\t%s\t%s\n' "$unit" "$path"
	done
	exit 0
fi
for s in /etc/init.d/*; do
	[ -f "$s" ] && [ -x "$s" ] || continue
	case ${s##*/} in
	rc|rcS|README|skeleton|halt|reboot|single|sendsigs|killprocs|umount*|*.dpkg-*) continue ;;
	esac
	timeout 10 "$s" status >/dev/null 2>&1 </dev/null && printf 'sysv\t%s\t%s\n' "${s##*/}" "$s"
done
exit 0
"#;

/// Each path given: `@@file\tPATH\tSTATE[\tSIZE\tMODE OWNER GROUP]`, then for a file
/// that can be carried over its content as one line of base64.
const READ_FILES: &str = r#"max=$1
shift
for f in "$@"; do
	if [ ! -e "$f" ]; then printf '@@file\t%s\tmissing\n' "$f"; continue; fi
	if [ ! -f "$f" ]; then printf '@@file\t%s\tnot-a-file\n' "$f"; continue; fi
	s=$(stat -c %s -- "$f") || exit
	if [ "$s" -gt "$max" ]; then printf '@@file\t%s\ttoo-large\t%s\n' "$f" "$s"; continue; fi
	m=$(stat -c '%a %U %G' -- "$f") || exit
	printf '@@file\t%s\tok\t%s\t%s\n' "$f" "$s" "$m"
	base64 -w 0 -- "$f" || exit
	echo
done
"#;

/// `$1` the path, `$2` `new` (start it) or `more`, then base64 chunks appended to
/// `PATH.fearless-part`.
const WRITE_PART: &str = r#"f=$1
new=$2
shift 2
mkdir -p -- "$(dirname -- "$f")" || exit
if [ "$new" = new ]; then : > "$f.fearless-part" || exit; fi
for c in "$@"; do
	printf '%s' "$c" | base64 -d >> "$f.fearless-part" || exit
done
"#;

/// `$1` the path, `$2` its mode, `$3` owner, `$4` group: the part moved into place; an
/// owner or group the host does not know is said, not fatal.
const WRITE_END: &str = r#"f=$1
chmod -- "$2" "$f.fearless-part" || exit
mv -f -- "$f.fearless-part" "$f" || exit
chown -- "$3:$4" "$f" 2>/dev/null || echo "@@owner"
exit 0
"#;

/// Start service `$1` unless it runs: systemd when it runs the host, else the init script.
/// Then `@@exit N` (when started), `@@running`, and the end of its log after `@@log WHERE`.
const START: &str = r#"n=$1
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl cat -- "$n" >/dev/null 2>&1 || { echo "@@missing"; exit 0; }
	if ! systemctl is-active --quiet -- "$n"; then
		systemctl start -- "$n" 2>&1
		echo "@@exit $?"
	fi
	systemctl is-active --quiet -- "$n" && echo "@@running"
	echo "@@log journalctl -u $n"
	journalctl -u "$n" -n 20 --no-pager 2>&1 | tail -n 20
	exit 0
fi
s=/etc/init.d/$n
[ -x "$s" ] || { echo "@@missing"; exit 0; }
if ! "$s" status >/dev/null 2>&1 </dev/null; then
	"$s" start 2>&1 </dev/null
	echo "@@exit $?"
fi
"$s" status >/dev/null 2>&1 </dev/null && echo "@@running"
for f in "/var/log/$n.log" "/var/log/$n/"*.log /var/log/*/"$n.log"; do
	[ -f "$f" ] || continue
	echo "@@log $f"
	tail -n 20 -- "$f"
done
exit 0
"#;

/// `$1` the package manager, then packages, `--`, then files: for each file of each
/// package, `PACKAGE\tKIND\tFILE\tTEXT` — `shebang` (an executable's `#!` line), `exec` (a
/// unit's `Exec…=` value), `config` (an absolute path named in a file under `/etc`); the
/// files after `--` are scanned for paths with `-` as their package.
const SCAN: &str = r#"m=$1
shift
config() {
	grep -Eo "(^|[[:space:]\"'=:,])/(usr|bin|sbin|lib|lib64|opt|srv|etc|var/lib)/[A-Za-z0-9._+/-]*" -- "$2" 2>/dev/null |
	head -n 50 | while IFS= read -r x; do
		printf '%s\tconfig\t%s\t/%s\n' "$1" "$2" "${x#*/}"
	done
}
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
	p=$1
	shift
	case $m in
	apt) list=$(dpkg-query -L -- "$p" 2>/dev/null) ;;
	*) list=$(rpm -ql -- "$p" 2>/dev/null) ;;
	esac
	printf '%s\n' "$list" | while IFS= read -r f; do
		[ -f "$f" ] && [ ! -h "$f" ] || continue
		case $f in
		/etc/*) config "$p" "$f" ;;
		*.service)
			grep -E '^Exec(Start|StartPre)=' -- "$f" 2>/dev/null | head -n 10 | while IFS= read -r l; do
				printf '%s\texec\t%s\t%s\n' "$p" "$f" "${l#*=}"
			done
			;;
		esac
		if [ -x "$f" ]; then
			l=$(head -c 256 -- "$f" 2>/dev/null | head -n 1 | tr -d '\000')
			case $l in '#!'*) printf '%s\tshebang\t%s\t%s\n' "$p" "$f" "${l#??}" ;; esac
		fi
	done
done
[ "$1" = "--" ] && shift
for f in "$@"; do
	[ -f "$f" ] && config - "$f"
done
exit 0
"#;

/// Each path given: `PATH\tyes\tREAL`, or `PATH\tno\tALT=REAL,…` with what the host has
/// beside it under the same stem (`/usr/bin/python3.11` → `/usr/bin/python3`, …).
const EXISTS: &str = r#"for p in "$@"; do
	if [ -e "$p" ]; then
		printf '%s\tyes\t%s\n' "$p" "$(readlink -f -- "$p" 2>/dev/null)"
		continue
	fi
	d=${p%/*}
	b=${p##*/}
	stem=$(printf '%s' "$b" | sed 's/[0-9.]*$//')
	alts=
	if [ -n "$stem" ] && [ -n "$d" ] && [ -d "$d" ]; then
		for a in "$d/$stem"*; do
			[ -e "$a" ] || continue
			alts="$alts$a=$(readlink -f -- "$a" 2>/dev/null),"
		done
	fi
	printf '%s\tno\t%s\n' "$p" "$alts"
done
exit 0
"#;

fn argv(script: &str, args: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ["sh", "-c", script, "sh"].map(str::to_owned).to_vec();
    v.extend(args.iter().cloned());
    v
}

/// Run `script` with `args` on `t`; it must exit 0 and its answer must be whole.
async fn run(
    t: &Transport,
    host: &str,
    what: &str,
    script: &str,
    args: &[String],
) -> Result<String, PkgError> {
    let out = t.run(&argv(script, args), SCRIPT_TIMEOUT).await?;
    let parse = |detail: String| PkgError::Parse {
        host: host.to_owned(),
        what: what.to_owned(),
        detail,
    };
    if let Some(cut) = out.truncation() {
        return Err(parse(cut));
    }
    if !out.success() {
        return Err(PkgError::Failed {
            host: host.to_owned(),
            action: what.to_owned(),
            status: out
                .code
                .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}")),
            stderr: out
                .stderr_str()
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    Ok(out.stdout_str())
}

// ---------------------------------------------------------------------------------------
// The role host

/// One process of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Process {
    /// Its name (`comm`).
    pub(crate) comm: String,
    /// The program it runs: the script an interpreter runs, else its executable.
    pub(crate) program: Option<String>,
    /// Its argv[0]'s last part.
    pub(crate) arg0: String,
}

impl Process {
    /// Whether a `process:` check named `name` would take it (by name, argv[0] or program).
    pub(crate) fn is(&self, name: &str) -> bool {
        let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_owned();
        self.comm == name
            || self.arg0 == name
            || self.program.as_deref().is_some_and(|p| base(p) == name)
    }
}

/// The processes of the host named one of `names` (a `process:` check would take them).
pub(crate) async fn processes(
    t: &Transport,
    host: &str,
    names: &[String],
) -> Result<Vec<Process>, PkgError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(read_processes(
        &run(t, host, "the process list", PROCESSES, names).await?,
    ))
}

/// [`PROCESSES`]' answer.
pub(crate) fn read_processes(text: &str) -> Vec<Process> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(4, '\t');
            let (comm, exe, cwd, args) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let argv: Vec<String> = args
                .split('\x1f')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
            let exe = fearless_observe::program::exe_path(exe);
            let program = fearless_observe::program::program(
                (!exe.is_empty()).then_some(exe),
                &argv,
                (!cwd.is_empty()).then_some(cwd),
            )
            .or_else(|| (!exe.is_empty()).then(|| exe.to_owned()));
            let arg0 = argv
                .first()
                .map(|a| fearless_observe::program::basename(a).to_owned())
                .unwrap_or_default();
            Some(Process {
                comm: comm.to_owned(),
                program,
                arg0,
            })
        })
        .collect()
}

/// A service running on the role host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Service {
    /// Its name: the init script's, or the unit's.
    pub(crate) name: String,
    /// The init script or unit file.
    pub(crate) path: String,
}

/// The services running on the host.
pub(crate) async fn services(t: &Transport, host: &str) -> Result<Vec<Service>, PkgError> {
    Ok(read_services(
        &run(t, host, "the running services", SERVICES, &[]).await?,
    ))
}

/// [`SERVICES`]' answer.
pub(crate) fn read_services(text: &str) -> Vec<Service> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(3, '\t');
            let (kind, name, path) = (f.next()?, f.next()?, f.next()?);
            (matches!(kind, "unit" | "sysv") && !name.is_empty()).then(|| Service {
                name: name.to_owned(),
                path: path.to_owned(),
            })
        })
        .collect()
}

/// A declared file as read on the role host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    /// Read: its size, mode, owner, group and content in base64.
    File {
        /// Bytes.
        size: u64,
        /// Octal mode (`644`).
        mode: String,
        /// Owner.
        owner: String,
        /// Group.
        group: String,
        /// The content, base64.
        base64: String,
    },
    /// Not carried over: why.
    Not(String),
}

/// The declared `paths` as the host has them.
pub(crate) async fn read_files(
    t: &Transport,
    host: &str,
    paths: &[String],
) -> Result<BTreeMap<String, Read>, PkgError> {
    if paths.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut args = vec![MAX_FILE.to_string()];
    args.extend(paths.iter().cloned());
    let text = run(t, host, "the declared files", READ_FILES, &args).await?;
    read_files_answer(&text).map_err(|detail| PkgError::Parse {
        host: host.to_owned(),
        what: "the declared files".into(),
        detail,
    })
}

/// [`READ_FILES`]' answer.
pub(crate) fn read_files_answer(text: &str) -> Result<BTreeMap<String, Read>, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("@@file\t") else {
            return Err(format!("unexpected line {line:.60}"));
        };
        let f: Vec<&str> = rest.split('\t').collect();
        let (path, state) = match f[..] {
            [path, state, ..] => (path.to_owned(), state),
            _ => return Err(format!("unexpected line {line:.60}")),
        };
        let read = match (state, &f[2..]) {
            ("ok", [size, owner_line]) => {
                let size = size.parse().map_err(|_| format!("bad size of {path}"))?;
                let mut o = owner_line.split(' ');
                let (mode, owner, group) = match (o.next(), o.next(), o.next()) {
                    (Some(m), Some(u), Some(g)) => (m.to_owned(), u.to_owned(), g.to_owned()),
                    _ => return Err(format!("bad mode and owner of {path}")),
                };
                let base64 = lines
                    .next()
                    .ok_or_else(|| format!("no content for {path}"))?
                    .to_owned();
                Read::File {
                    size,
                    mode,
                    owner,
                    group,
                    base64,
                }
            }
            ("missing", _) => Read::Not("it does not exist on the role host".into()),
            ("not-a-file", _) => Read::Not("it is not a regular file on the role host".into()),
            ("too-large", [size, ..]) => Read::Not(format!(
                "it is {size} bytes; files over {MAX_FILE} bytes are not carried over"
            )),
            _ => return Err(format!("unexpected line {line:.60}")),
        };
        out.insert(path, read);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The new host

/// Writes a file read by [`read_files`] on the host; `Ok(Some(why))` when it was written
/// but its owner or group is unknown there.
pub(crate) async fn write_file(
    t: &Transport,
    host: &str,
    path: &str,
    mode: &str,
    owner: &str,
    group: &str,
    base64: &str,
) -> Result<Option<String>, PkgError> {
    let chunks: Vec<&str> = if base64.is_empty() {
        vec![""]
    } else {
        base64
            .as_bytes()
            .chunks(CHUNK)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let args = [
            path.to_owned(),
            if i == 0 { "new" } else { "more" }.to_owned(),
            (*chunk).to_owned(),
        ];
        run(t, host, "writing a declared file", WRITE_PART, &args).await?;
    }
    let args = [
        path.to_owned(),
        mode.to_owned(),
        owner.to_owned(),
        group.to_owned(),
    ];
    let said = run(t, host, "writing a declared file", WRITE_END, &args).await?;
    Ok(said
        .lines()
        .any(|l| l == "@@owner")
        .then(|| format!("written, but {owner}:{group} is not a user and group of the new host")))
}

/// What starting a service did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Started {
    /// The service is not on the host.
    pub(crate) missing: bool,
    /// The start command's exit status (`None`: not started, it ran already).
    pub(crate) exit: Option<i32>,
    /// It runs afterwards.
    pub(crate) running: bool,
    /// The start command's output, then the end of each log (`WHERE: line`).
    pub(crate) log: Vec<String>,
}

/// Start service `name` (unless it runs) and read the end of its log.
pub(crate) async fn start(t: &Transport, host: &str, name: &str) -> Result<Started, PkgError> {
    let text = run(t, host, "starting a service", START, &[name.to_owned()]).await?;
    Ok(read_started(&text))
}

/// [`START`]'s answer.
pub(crate) fn read_started(text: &str) -> Started {
    let mut s = Started::default();
    let mut log: Option<String> = None;
    for line in text.lines() {
        if line == "@@missing" {
            s.missing = true;
        } else if let Some(code) = line.strip_prefix("@@exit ") {
            s.exit = code.trim().parse().ok();
        } else if line == "@@running" {
            s.running = true;
        } else if let Some(place) = line.strip_prefix("@@log ") {
            log = Some(place.to_owned());
        } else if !line.trim().is_empty() {
            s.log.push(match &log {
                Some(place) => format!("{place}: {line}"),
                None => line.to_owned(),
            });
        }
    }
    // the end of the logs matters most; a chatty start is cut from its middle
    if s.log.len() > 40 {
        s.log.drain(..s.log.len() - 40);
    }
    s
}

/// Where a package names a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// An executable's `#!` line: the interpreter.
    Shebang,
    /// A systemd unit's `ExecStart=`.
    Exec,
    /// A file under `/etc`.
    Config,
}

/// A path a file of a package names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Named {
    /// The package (`None`: a declared file).
    pub(crate) package: Option<String>,
    /// How it is named.
    pub(crate) source: Source,
    /// The file that names it.
    pub(crate) file: String,
    /// The path.
    pub(crate) path: String,
    /// The line it was read from (the whole `#!` line, the `Exec…=` value).
    pub(crate) line: String,
}

/// Scan the files of `packages` (and the declared `files`) for the paths they name.
pub(crate) async fn scan(
    t: &Transport,
    host: &str,
    manager: &str,
    packages: &[String],
    files: &[String],
) -> Result<Vec<Named>, PkgError> {
    let mut args = vec![manager.to_owned()];
    args.extend(packages.iter().cloned());
    args.push("--".into());
    args.extend(files.iter().cloned());
    Ok(read_scan(
        &run(t, host, "the scan of the role's files", SCAN, &args).await?,
    ))
}

/// The path a `#!` line or an `Exec…=` value runs: its first word, without systemd's
/// prefixes (`-@:+!`).
fn first_path(text: &str) -> Option<String> {
    let word = text
        .trim()
        .trim_start_matches(['-', '@', ':', '+', '!'])
        .split_whitespace()
        .next()?;
    word.starts_with('/').then(|| word.to_owned())
}

/// [`SCAN`]'s answer.
pub(crate) fn read_scan(text: &str) -> Vec<Named> {
    let mut out: BTreeSet<Named> = BTreeSet::new();
    for line in text.lines() {
        let mut f = line.splitn(4, '\t');
        let (Some(package), Some(kind), Some(file), Some(value)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let (source, path) = match kind {
            "shebang" => (Source::Shebang, first_path(value)),
            "exec" => (Source::Exec, first_path(value)),
            "config" => (
                Source::Config,
                Some(value.trim_end_matches(['.', ',', ':', ';']).to_owned())
                    .filter(|p| p.len() > 1 && !p.ends_with('/')),
            ),
            _ => continue,
        };
        let Some(path) = path else { continue };
        out.insert(Named {
            package: (package != "-").then(|| package.to_owned()),
            source,
            file: file.to_owned(),
            path,
            line: value.trim().to_owned(),
        });
    }
    out.into_iter().collect()
}

/// Whether a path exists on a host, and what is beside it when it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exists {
    /// It exists.
    pub(crate) exists: bool,
    /// Paths under the same stem that exist, with what they resolve to.
    pub(crate) alternatives: Vec<(String, String)>,
}

/// Which of `paths` exist on the host.
pub(crate) async fn exists(
    t: &Transport,
    host: &str,
    paths: &[String],
) -> Result<BTreeMap<String, Exists>, PkgError> {
    if paths.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(read_exists(
        &run(t, host, "which paths exist", EXISTS, paths).await?,
    ))
}

/// [`EXISTS`]' answer.
pub(crate) fn read_exists(text: &str) -> BTreeMap<String, Exists> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(3, '\t');
            let (path, yes, rest) = (f.next()?, f.next()?, f.next().unwrap_or_default());
            let exists = match yes {
                "yes" => true,
                "no" => false,
                _ => return None,
            };
            let alternatives = if exists {
                Vec::new()
            } else {
                rest.split(',')
                    .filter_map(|a| a.split_once('='))
                    .take(6)
                    .map(|(a, r)| (a.to_owned(), r.to_owned()))
                    .collect()
            };
            Some((
                path.to_owned(),
                Exists {
                    exists,
                    alternatives,
                },
            ))
        })
        .collect()
}

/// Absolute paths named in log lines that say a file was not found.
pub(crate) fn paths_in_log(lines: &[String]) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if !(lower.contains("no such file")
            || lower.contains("not found")
            || lower.contains("cannot execute")
            || lower.contains("bad interpreter"))
        {
            continue;
        }
        // after a `WHERE: ` prefix, the line as the service wrote it
        let said = line.split_once(": ").map_or(line.as_str(), |(_, s)| s);
        for word in said.split([' ', '\'', '"', '(', ')', ',', ';', '`']) {
            let word = word.trim_end_matches([':', '.']);
            if word.len() > 1 && word.starts_with('/') && !word.contains('*') {
                out.insert(word.to_owned());
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_are_read_with_the_script_an_interpreter_runs() {
        let text = "acme-web\t/usr/bin/python3.11\t/\t/usr/bin/python3.11\x1f/usr/sbin/acme-web\x1f\n\
                    sshd\t/usr/sbin/sshd\t/\t/usr/sbin/sshd\x1f-D\x1f\n\
                    kworker\t\t\t\n\
                    bad line\n";
        let got = read_processes(text);
        assert_eq!(got.len(), 3);
        assert!(got[0].is("acme-web"));
        assert_eq!(got[0].program.as_deref(), Some("/usr/sbin/acme-web"));
        assert_eq!(got[1].program.as_deref(), Some("/usr/sbin/sshd"));
        assert!(got[1].is("sshd") && !got[1].is("acme-web"));
        assert_eq!(got[2].program, None);
    }

    #[test]
    fn services_files_and_starts_are_read_line_by_line() {
        let s = read_services(
            "sysv\tacme-web\t/etc/init.d/acme-web\nunit\tnginx.service\t/lib/systemd/system/nginx.service\nnoise\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].name, "nginx.service");

        let files = read_files_answer(
            "@@file\t/etc/a.conf\tok\t6\t640 root adm\naGVsbG8K\n@@file\t/etc/b\tmissing\n@@file\t/etc/c\ttoo-large\t9999999\n",
        )
        .expect("reads");
        assert_eq!(
            files["/etc/a.conf"],
            Read::File {
                size: 6,
                mode: "640".into(),
                owner: "root".into(),
                group: "adm".into(),
                base64: "aGVsbG8K".into()
            }
        );
        assert!(matches!(&files["/etc/b"], Read::Not(w) if w.contains("does not exist")));
        assert!(matches!(&files["/etc/c"], Read::Not(w) if w.contains("9999999 bytes")));
        assert!(read_files_answer("@@file\t/etc/a\tok\t6\t640 root adm\n").is_err());
        assert!(read_files_answer("garbage\n").is_err());

        let started = read_started(
            "start-stop-daemon: timed out waiting for a notification\n@@exit 2\n@@log /var/log/acme/acme-web.log\nstart-stop-daemon: unable to start /usr/sbin/acme-web (No such file or directory)\n",
        );
        assert_eq!(started.exit, Some(2));
        assert!(!started.running && !started.missing);
        assert_eq!(
            started.log,
            [
                "start-stop-daemon: timed out waiting for a notification",
                "/var/log/acme/acme-web.log: start-stop-daemon: unable to start /usr/sbin/acme-web (No such file or directory)"
            ]
        );
        assert_eq!(
            paths_in_log(&started.log),
            ["/usr/sbin/acme-web".to_owned()]
        );
    }

    #[test]
    fn the_scan_reads_interpreters_exec_lines_and_config_paths() {
        let got = read_scan(
            "acme-web\tshebang\t/usr/sbin/acme-web\t/usr/bin/python3.11\n\
             acme-cli\tshebang\t/usr/bin/acme\t/usr/bin/env python3\n\
             nginx\texec\t/lib/systemd/system/nginx.service\t-/usr/sbin/nginx -g 'daemon on;'\n\
             acme-web\tconfig\t/etc/init.d/acme-web\t/usr/sbin/\n\
             -\tconfig\t/etc/acme/site.conf\t/opt/acme/lib.\n\
             broken\n",
        );
        let paths: Vec<(&str, &Source)> =
            got.iter().map(|n| (n.path.as_str(), &n.source)).collect();
        assert_eq!(
            paths,
            [
                ("/opt/acme/lib", &Source::Config),
                ("/usr/bin/env", &Source::Shebang),
                ("/usr/bin/python3.11", &Source::Shebang),
                ("/usr/sbin/nginx", &Source::Exec),
            ]
        );
        assert_eq!(got[0].package, None);
    }

    #[test]
    fn existence_says_what_is_beside_a_missing_path() {
        let got = read_exists(
            "/usr/bin/python3.11\tno\t/usr/bin/python3=/usr/bin/python3.13,/usr/bin/python3.13=/usr/bin/python3.13,\n/usr/sbin/acme-web\tyes\t/usr/sbin/acme-web\nnoise\n",
        );
        assert!(got["/usr/sbin/acme-web"].exists);
        let py = &got["/usr/bin/python3.11"];
        assert!(!py.exists);
        assert_eq!(
            py.alternatives[0],
            ("/usr/bin/python3".into(), "/usr/bin/python3.13".into())
        );
    }
}
