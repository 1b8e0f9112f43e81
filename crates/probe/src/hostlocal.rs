//! Host-local check kinds: `command`, `process`, `service`, `package`, `file`, `port`.
//!
//! Each runs through the host's transport as argv. Where a little shell is needed, the
//! script is a constant and every piece of data travels as a positional parameter
//! (`sh -c SCRIPT sh ARG…`), so no shell string is ever built from config or host data.
//! Scripts use only POSIX sh, coreutils and /proc, which even a minimal Debian has.

use crate::result::{Outcome, Reason};
use fearless_config::{
    CommandCheck, FileCheck, PackageCheck, PortCheck, ProcessCheck, ServiceCheck, VersionOp,
};
use fearless_exec::{ExecError, MAX_OUTPUT_ENV, Output, Transport};
use std::time::Duration;

fn sh(script: &str, args: impl IntoIterator<Item = String>) -> Vec<String> {
    [
        "sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "sh".to_owned(),
    ]
    .into_iter()
    .chain(args)
    .collect()
}

/// Turn a transport failure into a check outcome.
pub(crate) fn exec_error(e: &ExecError) -> Outcome {
    match e {
        ExecError::Auth { .. } => Outcome::error(Reason::Auth, e.to_string()),
        ExecError::Timeout { .. } => Outcome::fail_because(Reason::Timeout, e.to_string()),
        ExecError::Spawn { .. }
        | ExecError::Quote { .. }
        | ExecError::BadAddress { .. }
        | ExecError::Unsupported { .. } => Outcome::error(Reason::Config, e.to_string()),
        ExecError::Unreachable { .. } | ExecError::HostKey { .. } => {
            Outcome::error(Reason::Transport, e.to_string())
        }
    }
}

async fn run(t: &Transport, argv: &[String], timeout: Duration) -> Result<Output, Outcome> {
    t.run(argv, timeout).await.map_err(|e| exec_error(&e))
}

/// Run one of our own scripts and insist that it ran: a script that did not (sudo asking
/// for a password, a missing tool) must never be read as an answer — an empty output would
/// otherwise look like "file absent" or "nothing listening".
/// An answer cut at the output cap is not an answer either.
async fn run_script(t: &Transport, argv: &[String], timeout: Duration) -> Result<Output, Outcome> {
    let out = run(t, argv, timeout).await?;
    if out.stdout_truncated {
        return Err(Outcome::error(
            Reason::Config,
            format!(
                "the host's answer was cut at {} bytes, too large to judge ({MAX_OUTPUT_ENV} raises the cap)",
                out.stdout.len()
            ),
        ));
    }
    if out.success() {
        return Ok(out);
    }
    let stderr = out.stderr_str();
    let said = first_line(&stderr);
    let code = out
        .code
        .map_or_else(|| "a signal".to_owned(), |c| format!("exit {c}"));
    if stderr.contains("sudo:") || stderr.contains("password is required") {
        return Err(Outcome::error(
            Reason::Auth,
            format!("privilege escalation failed ({code}): {said}"),
        ));
    }
    Err(Outcome::error(
        Reason::Config,
        format!("the check could not run on the host ({code}): {said}"),
    ))
}

fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > 160 {
        format!("{}…", line.chars().take(160).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// `command`: exit code, stdout/stderr regexes; Nagios plugin codes when `nagios: true`.
/// Output past the transport's cap is judged as far as it was kept, and the message says
/// where it was cut.
pub(crate) async fn command(
    t: &Transport,
    spec: &CommandCheck,
    argv: Vec<String>,
    timeout: Duration,
) -> Outcome {
    let out = match t.run(&argv, timeout).await {
        Ok(o) => o,
        Err(e) => return exec_error(&e),
    };
    let mut outcome = judge_command(spec, &argv, &out);
    if let Some(cut) = out.truncation() {
        outcome.message = format!(
            "{} (output past the cap: {cut}; {MAX_OUTPUT_ENV} raises it)",
            outcome.message
        );
    }
    outcome
}

fn judge_command(spec: &CommandCheck, argv: &[String], out: &Output) -> Outcome {
    let stdout = out.stdout_str();
    let stderr = out.stderr_str();
    let said = first_line(if stdout.trim().is_empty() {
        &stderr
    } else {
        &stdout
    });
    let Some(code) = out.code else {
        return Outcome::fail("killed by a signal");
    };
    // The shell's "command not found": the host answered, the check cannot run as written
    // (the local transport reports the same as a spawn error).
    if code == 127 && spec.exit != 127 && !spec.nagios {
        let program = argv.first().map_or("", String::as_str);
        return Outcome::error(
            Reason::Config,
            format!("cannot run `{program}`: command not found (exit 127): {said}"),
        );
    }
    if spec.nagios {
        return match code {
            0 => Outcome::pass(format!("OK: {said}")),
            1 => Outcome {
                status: crate::result::Status::Degraded,
                reason: Some(Reason::Assertion),
                message: format!("WARNING: {said}"),
            },
            2 => Outcome::fail(format!("CRITICAL: {said}")),
            _ => Outcome::error(Reason::Assertion, format!("UNKNOWN (exit {code}): {said}")),
        };
    }
    if code != spec.exit {
        return Outcome::fail(format!("exit {code} (expected {}): {said}", spec.exit));
    }
    for (name, pattern, text) in [
        ("stdout", &spec.stdout, &stdout),
        ("stderr", &spec.stderr, &stderr),
    ] {
        // As `$(…)` does in a shell: `echo ok` must satisfy `^ok$` (`$` of the regex crate
        // matches only at the very end, never before a final newline).
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(p) = pattern {
            match regex::Regex::new(p) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => {
                    return Outcome::fail(format!(
                        "{name} does not match /{p}/: {}",
                        first_line(text)
                    ));
                }
                Err(e) => return Outcome::error(Reason::Config, format!("bad {name} regex: {e}")),
            }
        }
    }
    Outcome::pass(format!("exit {code}"))
}

/// Lists processes with two programs in all, whatever the number of processes (a fork
/// per process is what made this slow): `stat` for every owner (`U<pid>\t<user>`, one a
/// line), an `@@argv` line, then one `grep -z` for every name (`<pid>/comm:<name>\n`) and
/// every argument of `/proc/*/cmdline` (`<pid>/cmdline:<arg>`), each record ended by a NUL
/// as the kernel ends an argument: a newline inside a name or an argument is just a
/// character, so no process can forge a record. A process that exits midway is simply
/// missing. The marker lets the parser drop this very script.
macro_rules! ps_body {
    () => {
        r#"cd /proc || exit 1
stat -c 'U%n	%U' [0-9]* 2>/dev/null
echo @@argv
grep -s -a -z -H '' [0-9]*/comm [0-9]*/cmdline"#
    };
}
/// [`ps_body!`] as a script of its own.
const PS_SCRIPT: &str = concat!(": fearless-ps\n", ps_body!(), "\nexit 0");

/// A running process as the host reports it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Proc {
    pub(crate) pid: u32,
    pub(crate) user: String,
    pub(crate) comm: String,
    pub(crate) argv: Vec<String>,
}

/// The processes in [`PS_SCRIPT`]'s output, by pid; kernel threads (no argv) and the
/// script itself left out.
pub(crate) fn parse_ps(text: &str) -> Vec<Proc> {
    use std::collections::BTreeMap;
    let (owners, records) = text.split_once("@@argv\n").unwrap_or((text, ""));
    let mut users: BTreeMap<u32, &str> = BTreeMap::new();
    let mut comms: BTreeMap<u32, String> = BTreeMap::new();
    let mut argvs: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for line in owners.lines() {
        if let Some((pid, user)) = line.strip_prefix('U').and_then(|r| r.split_once('\t'))
            && let Ok(pid) = pid.parse()
        {
            users.insert(pid, user);
        }
    }
    for record in records.split('\0') {
        let Some((path, value)) = record.split_once(':') else {
            continue;
        };
        let Some((pid, file)) = path.split_once('/') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        match file {
            // The name as the kernel has it: its closing newline dropped.
            "comm" => {
                comms
                    .entry(pid)
                    .or_insert_with(|| value.strip_suffix('\n').unwrap_or(value).to_owned());
            }
            "cmdline" => argvs.entry(pid).or_default().push(value.to_owned()),
            _ => {}
        }
    }
    argvs
        .into_iter()
        .filter(|(_, argv)| argv.iter().any(|a| !a.is_empty()))
        // Our own scripts (this one, and any other check's running beside it).
        .filter(|(_, argv)| !argv.iter().any(|a| a.starts_with(": fearless-")))
        .map(|(pid, argv)| Proc {
            pid,
            user: users.get(&pid).copied().unwrap_or("?").to_owned(),
            comm: comms.remove(&pid).unwrap_or_default(),
            argv: argv.into_iter().filter(|a| !a.is_empty()).collect(),
        })
        .collect()
}

/// Whether `p` is an instance of `name`: its kernel name, its argv[0] (path or not), or —
/// for names with a space or slash — a substring of its command line.
pub(crate) fn proc_matches(p: &Proc, name: &str) -> bool {
    let argv0 = p.argv.first().map_or("", String::as_str);
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    p.comm == name
        || argv0 == name
        || base == name
        || ((name.contains(' ') || name.contains('/')) && p.argv.join(" ").contains(name))
}

async fn processes(t: &Transport, timeout: Duration) -> Result<Vec<Proc>, Outcome> {
    let out = run_script(t, &sh(PS_SCRIPT, []), timeout).await?;
    Ok(parse_ps(&out.stdout_str()))
}

/// `process`: at least `min` processes named `name` (optionally owned by `user`).
pub(crate) async fn process(t: &Transport, spec: &ProcessCheck, timeout: Duration) -> Outcome {
    match processes(t, timeout).await {
        Ok(procs) => judge_process(&procs, spec),
        Err(o) => o,
    }
}

/// [`process`] over a process list already read.
pub(crate) fn judge_process(procs: &[Proc], spec: &ProcessCheck) -> Outcome {
    let found: Vec<&Proc> = procs
        .iter()
        .filter(|p| proc_matches(p, &spec.name) && spec.user.as_ref().is_none_or(|u| &p.user == u))
        .collect();
    let pids = found
        .iter()
        .map(|p| p.pid.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let n = u32::try_from(found.len()).unwrap_or(u32::MAX);
    if n >= spec.min {
        Outcome::pass(format!("{n} running (pid {pids})"))
    } else if n == 0 {
        Outcome::fail(format!("no `{}` process running", spec.name))
    } else {
        Outcome::fail(format!(
            "{n} `{}` running (pid {pids}), expected at least {}",
            spec.name, spec.min
        ))
    }
}

const SERVICE_SCRIPT: &str = r#": fearless-service
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  printf 'systemd %s\n' "$(systemctl is-active -- "$1" 2>/dev/null)"; exit 0
fi
if [ -n "$2" ]; then
  p=$(head -n 1 -- "$2" 2>/dev/null | tr -d ' \t\r')
  case "$p" in
    ''|*[!0-9]*) echo 'pidfile stopped' ;;
    *) if [ "$p" -gt 0 ] && [ -d "/proc/$p" ]; then echo 'pidfile running'; else echo 'pidfile stopped'; fi ;;
  esac
  exit 0
fi
echo fallback"#;

/// `service`: systemd's view, else the pid file, else a process of that name.
pub(crate) async fn service(t: &Transport, spec: &ServiceCheck, timeout: Duration) -> Outcome {
    let args = [spec.name.clone(), spec.pidfile.clone().unwrap_or_default()];
    let out = match run_script(t, &sh(SERVICE_SCRIPT, args), timeout).await {
        Ok(o) => o,
        Err(o) => return o,
    };
    let text = out.stdout_str();
    let line = text.trim();
    if let Some(state) = line.strip_prefix("systemd ") {
        return if state == "active" {
            Outcome::pass("systemd: active")
        } else {
            Outcome::fail(format!("systemd: {state}"))
        };
    }
    match line {
        "pidfile running" => Outcome::pass("running (pid file)"),
        "pidfile stopped" => Outcome::fail(format!(
            "not running (pid file {})",
            spec.pidfile.as_deref().unwrap_or("")
        )),
        "fallback" => {
            let name = spec.process.clone().unwrap_or_else(|| spec.name.clone());
            let check = ProcessCheck {
                name,
                min: 1,
                user: None,
            };
            let o = process(t, &check, timeout).await;
            Outcome {
                message: format!("no systemd; {}", o.message),
                ..o
            }
        }
        other => Outcome::error(
            Reason::Config,
            format!("unexpected service query output: {}", first_line(other)),
        ),
    }
}

/// Prints `deb VERSION`, `rpm EPOCH:VERSION-RELEASE`, `absent`, or `none` (no package
/// manager). Only reads the package database; the comparison happens here, in Rust, with
/// the distributions' own orderings (`fearless_pkg::version`).
macro_rules! package_body {
    () => {
        r#"if command -v dpkg-query >/dev/null 2>&1; then
  v=
  while IFS='|' read -r s ver; do
    case $s in ?i?) v=$ver; break ;; esac
  done <<EOF
$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}\n' -- "$1" 2>/dev/null)
EOF
  if [ -n "$v" ]; then echo "deb $v"; else echo absent; fi
elif command -v rpm >/dev/null 2>&1; then
  if v=$(rpm -q --qf '%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n' -- "$1" 2>/dev/null); then echo "rpm $(echo "$v" | head -n 1)"; else echo absent; fi
else
  echo none
fi"#
    };
}
/// [`package_body!`] as a script of its own (the package is `$1`).
const PACKAGE_SCRIPT: &str = concat!(": fearless-package\n", package_body!());

fn pkg_op(op: VersionOp) -> fearless_pkg::version::Op {
    use fearless_pkg::version::Op;
    match op {
        VersionOp::Lt => Op::Lt,
        VersionOp::Le => Op::Le,
        VersionOp::Eq => Op::Eq,
        VersionOp::Ne => Op::Ne,
        VersionOp::Ge => Op::Ge,
        VersionOp::Gt => Op::Gt,
    }
}

/// `package`: installed, and its version satisfies every clause, compared with the
/// distribution's own ordering (dpkg's on deb hosts, rpm's on rpm hosts).
pub(crate) async fn package(t: &Transport, spec: &PackageCheck, timeout: Duration) -> Outcome {
    match run_script(t, &sh(PACKAGE_SCRIPT, [spec.name.clone()]), timeout).await {
        Ok(out) => judge_package(&out.stdout_str(), spec),
        Err(o) => o,
    }
}

/// [`package`] over [`PACKAGE_SCRIPT`]'s answer for the package.
pub(crate) fn judge_package(text: &str, spec: &PackageCheck) -> Outcome {
    use fearless_pkg::version::{Constraint, Kind};
    let line = text.lines().next().unwrap_or("").trim();
    let (kind, installed) = match line.split_once(' ') {
        Some(("deb", v)) => (Kind::Deb, v.to_owned()),
        Some(("rpm", v)) => (Kind::Rpm, v.strip_prefix("0:").unwrap_or(v).to_owned()),
        _ if line == "absent" => {
            return Outcome::fail(format!("package `{}` is not installed", spec.name));
        }
        _ if line == "none" => {
            return Outcome::error(Reason::Config, "neither dpkg nor rpm found on the host");
        }
        _ => {
            return Outcome::error(
                Reason::Config,
                format!("unexpected package query output: {}", first_line(text)),
            );
        }
    };
    let mut broken = Vec::new();
    for clause in &spec.version {
        let holds = Constraint::new(kind, pkg_op(clause.op), &clause.version)
            .and_then(|c| c.matches(&installed));
        match holds {
            Ok(true) => {}
            Ok(false) => broken.push(format!("{} {}", clause.op.symbol(), clause.version)),
            Err(e) => return Outcome::error(Reason::Config, e.to_string()),
        }
    }
    if broken.is_empty() {
        Outcome::pass(format!("{} {installed}", spec.name))
    } else {
        Outcome::fail(format!(
            "{} {installed} does not satisfy {}",
            spec.name,
            broken.join(", ")
        ))
    }
}

const FILE_SCRIPT: &str = r#": fearless-file
[ -e "$1" ] || { echo absent; exit 0; }
printf 'present %s %s\n' "$(stat -L -c %a -- "$1")" "$(stat -L -c %U -- "$1")"
if [ $# -ge 2 ]; then if grep -F -q -e "$2" -- "$1"; then echo contains; else echo lacks; fi; fi"#;

/// `file`: exists (or not), mode, owner, content substring.
pub(crate) async fn file(
    t: &Transport,
    spec: &FileCheck,
    path: String,
    timeout: Duration,
) -> Outcome {
    let mut args = vec![path.clone()];
    args.extend(spec.contains.clone());
    let out = match run_script(t, &sh(FILE_SCRIPT, args), timeout).await {
        Ok(o) => o,
        Err(o) => return o,
    };
    let text = out.stdout_str();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    if first != "absent" && !first.starts_with("present ") {
        return Outcome::error(
            Reason::Config,
            format!("unexpected file query output: {}", first_line(&text)),
        );
    }
    if first == "absent" {
        return if spec.exists {
            Outcome::fail(format!("{path} does not exist"))
        } else {
            Outcome::pass(format!("{path} is absent"))
        };
    }
    if !spec.exists {
        return Outcome::fail(format!("{path} exists but must not"));
    }
    let mut f = first.split(' ').skip(1);
    let mode = f.next().and_then(|m| u32::from_str_radix(m, 8).ok());
    let owner = f.next().unwrap_or("");
    if let (Some(want), Some(got)) = (spec.mode, mode)
        && want != got
    {
        return Outcome::fail(format!("{path} has mode {got:04o} (expected {want:04o})"));
    }
    if let Some(want) = &spec.owner
        && want != owner
    {
        return Outcome::fail(format!("{path} is owned by {owner} (expected {want})"));
    }
    if let Some(needle) = &spec.contains
        && lines.next() != Some("contains")
    {
        return Outcome::fail(format!("{path} does not contain {needle:?}"));
    }
    Outcome::pass(format!("{path} ok ({:04o} {owner})", mode.unwrap_or(0)))
}

/// A listening TCP socket from /proc/net/tcp{,6}.
pub(crate) fn parse_listeners(text: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 || f[3] != "0A" {
            continue;
        }
        let Some((addr_hex, port_hex)) = f[1].split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port_hex, 16) else {
            continue;
        };
        let addr = if addr_hex.len() == 8 {
            u32::from_str_radix(addr_hex, 16)
                .map(|a| std::net::Ipv4Addr::from(a.swap_bytes()).to_string())
                .unwrap_or_default()
        } else if addr_hex.len() == 32 {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(&addr_hex[i * 8..i * 8 + 8], 16)
                    .unwrap_or(0)
                    .swap_bytes();
                chunk.copy_from_slice(&word.to_be_bytes());
            }
            std::net::Ipv6Addr::from(bytes).to_string()
        } else {
            continue;
        };
        out.push((addr, port));
    }
    out
}

/// `port`: something listens on the TCP port (on `address` when given; a wildcard
/// listener counts for every address).
pub(crate) async fn port(
    t: &Transport,
    spec: &PortCheck,
    address: Option<String>,
    timeout: Duration,
) -> Outcome {
    let argv = sh(&format!(": fearless-port\n{SOCKETS}"), []);
    match run_script(t, &argv, timeout).await {
        Ok(out) => judge_port(
            listeners(&out.stdout_str()).as_deref(),
            spec,
            address.as_deref(),
        ),
        Err(o) => o,
    }
}

/// The listeners in the socket tables' text (see [`parse_listeners`]); `None` when the
/// text is not those tables.
pub(crate) fn socket_tables(text: &str) -> Option<Vec<(String, u16)>> {
    text.contains("local_address")
        .then(|| parse_listeners(text))
}

/// The listeners in the output of `ss -tln` (`State Recv-Q Send-Q Local-Address:Port
/// Peer-Address:Port`, a header first); `None` when the text is not that. Addresses come
/// out as [`parse_listeners`] gives them: `*` (a dual-stack wildcard) is `::`, brackets
/// and an `%interface` scope are dropped.
pub(crate) fn parse_ss(text: &str) -> Option<Vec<(String, u16)>> {
    let mut lines = text.lines();
    let header = lines.next()?;
    if !header.starts_with("State") || !header.contains("Local Address") {
        return None;
    }
    let mut out = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 || f[0] != "LISTEN" {
            continue;
        }
        let Some((host, port)) = f[3].rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let host = host.split('%').next().unwrap_or(host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addr = if host == "*" {
            std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            match host.parse::<std::net::IpAddr>() {
                Ok(a) => a,
                Err(_) => continue,
            }
        };
        out.push((addr.to_string(), port));
    }
    Some(out)
}

/// The listening TCP sockets: `ss -tln` where the host has it (the kernel then walks its
/// listening sockets only), else the whole socket tables, v4 then v6 (a host without IPv6
/// has no second table). `/proc/net/tcp` lists every connection too: on a busy front end
/// tens of thousands of lines, generated and shipped for a handful of listeners. Each
/// answer comes after its own marker ([`listeners`]).
macro_rules! sockets {
    () => {
        r#"if s=$(ss -tln 2>/dev/null); then echo @@ss; printf '%s\n' "$s"
else echo @@proc; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; fi"#
    };
}
/// [`sockets!`] as a fragment of a script.
const SOCKETS: &str = sockets!();

/// The listeners in [`SOCKETS`]' answer; `None` when it is neither `ss`'s nor the socket
/// tables'.
pub(crate) fn listeners(text: &str) -> Option<Vec<(String, u16)>> {
    if let Some(ss) = text.strip_prefix("@@ss\n") {
        parse_ss(ss)
    } else {
        socket_tables(text.strip_prefix("@@proc\n")?)
    }
}

/// [`port`] over the host's listeners ([`listeners`]; `None`: what it read was neither
/// `ss`'s answer nor the socket tables).
pub(crate) fn judge_port(
    listeners: Option<&[(String, u16)]>,
    spec: &PortCheck,
    address: Option<&str>,
) -> Outcome {
    let Some(listeners) = listeners else {
        return Outcome::error(
            Reason::Config,
            "the host's listening sockets could not be read (neither `ss -tln` nor /proc/net/tcp answered)",
        );
    };
    let hit = listeners.iter().find(|(a, p)| {
        *p == spec.port && address.is_none_or(|want| a == want || a == "0.0.0.0" || a == "::")
    });
    match (hit, &address) {
        (Some((a, p)), _) => Outcome::pass(format!("listening on {a}:{p}")),
        (None, Some(a)) => Outcome::fail(format!("nothing listening on {a}:{}", spec.port)),
        (None, None) => Outcome::fail(format!("nothing listening on port {}", spec.port)),
    }
}

/// What one pass of checks needs to read on one host: the process table, the socket
/// tables, the installed version of some packages. [`gather`] reads them in one round trip
/// instead of one per check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    pub(crate) processes: bool,
    pub(crate) sockets: bool,
    pub(crate) packages: Vec<String>,
}

/// A host's state as [`gather`] read it.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub(crate) processes: Vec<Proc>,
    /// The listening sockets ([`listeners`]: not the text, which on a host with many
    /// connections and no `ss` is large, and is kept until the pass ends).
    pub(crate) sockets: Option<Vec<(String, u16)>>,
    /// [`PACKAGE_SCRIPT`]'s answer per package.
    pub(crate) packages: std::collections::BTreeMap<String, String>,
}

/// `$1`: read the process table (1/0), `$2`: the listening sockets, then package names.
/// The sections come in this order, each after a `@@` line: sockets ([`SOCKETS`]: `@@ss`
/// or `@@proc`), one line per package (dpkg/rpm output, one line), and the process table
/// last, because a process name may hold a newline: everything after `@@processes` is the
/// table, so no process can forge a section.
const FACTS_SCRIPT: &str = concat!(
    ": fearless-facts\n",
    "package() {\n",
    package_body!(),
    "\n}\n",
    "want_ps=$1 want_sockets=$2\nshift 2\n",
    "if [ \"$want_sockets\" = 1 ]; then\n",
    sockets!(),
    "\nfi\n",
    "for p in \"$@\"; do echo @@package; package \"$p\"; done\n",
    "if [ \"$want_ps\" = 1 ]; then echo @@processes; (\n",
    ps_body!(),
    "\n); fi\nexit 0"
);

/// Read what `needs` asks for on the host in one script.
pub(crate) async fn gather(
    t: &Transport,
    needs: &Needs,
    timeout: Duration,
) -> Result<Facts, Outcome> {
    let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
    let args = [flag(needs.processes), flag(needs.sockets)]
        .into_iter()
        .chain(needs.packages.iter().cloned());
    let out = run_script(t, &sh(FACTS_SCRIPT, args), timeout).await?;
    parse_facts(&out.stdout_str(), &needs.packages)
}

fn parse_facts(text: &str, packages: &[String]) -> Result<Facts, Outcome> {
    let mut facts = Facts::default();
    let mut sockets = String::new();
    let mut answers: Vec<String> = Vec::new();
    let mut section = "";
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tail) = rest.split_once('\n').unwrap_or((rest, ""));
        rest = tail;
        match line {
            "@@ss" | "@@proc" => {
                section = "sockets";
                sockets.push_str(line);
                sockets.push('\n');
            }
            "@@package" => {
                section = "package";
                answers.push(String::new());
            }
            "@@processes" => {
                facts.processes = parse_ps(rest);
                break;
            }
            _ if section == "sockets" => {
                sockets.push_str(line);
                sockets.push('\n');
            }
            _ if section == "package" => {
                if let Some(a) = answers.last_mut() {
                    a.push_str(line);
                    a.push('\n');
                }
            }
            _ => {}
        }
    }
    if answers.len() != packages.len() {
        return Err(Outcome::error(
            Reason::Config,
            format!(
                "the host answered for {} package(s) of {}",
                answers.len(),
                packages.len()
            ),
        ));
    }
    facts.sockets = listeners(&sockets);
    facts.packages = packages.iter().cloned().zip(answers).collect();
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process table cut at the cap would miss processes: it is an error, never "not
    /// running".
    #[tokio::test]
    async fn a_script_answer_cut_at_the_cap_is_an_error_not_an_answer() {
        let yaml = "inventory:\n  hosts:\n    me: { transport: local }\n".to_owned();
        let inv = fearless_config::load_str(std::path::Path::new("/tmp/fearless.yaml"), yaml)
            .unwrap_or_else(|e| panic!("{:?}", e.problems))
            .config
            .inventory;
        let limits = fearless_exec::Limits { max_output: 1024 };
        let t = Transport::for_host_with(&inv.hosts["me"], &inv, limits);
        let spec = ProcessCheck {
            name: "fearless-no-such-process".into(),
            min: 1,
            user: None,
        };
        let o = process(&t, &spec, Duration::from_secs(10)).await;
        assert_eq!(o.status, crate::result::Status::Error, "{o:?}");
        assert_eq!(o.reason, Some(Reason::Config));
        assert!(
            o.message.contains("answer was cut at 1024 bytes"),
            "{}",
            o.message
        );
    }

    #[test]
    fn facts_sections_and_a_process_that_tries_to_forge_one() {
        let text = "@@proc\n  sl  local_address rem_address   st\n   0: 00000000:1F90 00000000:0000 0A\n\
                    @@package\ndeb 1.1\n@@package\nabsent\n\
                    @@processes\nU5\troot\n@@argv\n5/comm:x\n@@package\ndeb 9.9\n\0\
                    5/cmdline:acme-web\0";
        let names = ["acme-web".to_owned(), "libacme".to_owned()];
        let f = parse_facts(text, &names).expect("parses");
        assert_eq!(f.packages["acme-web"], "deb 1.1\n");
        assert_eq!(f.packages["libacme"], "absent\n");
        assert_eq!(f.sockets, Some(vec![("0.0.0.0".to_owned(), 8080)]));
        assert_eq!(f.processes.len(), 1);
        assert_eq!(f.processes[0].argv, ["acme-web"]);
        // A host that answered for fewer packages than asked is an error, not an absence.
        let short = "@@package\ndeb 1.1\n@@processes\n";
        assert!(parse_facts(short, &names).is_err());
    }

    #[test]
    fn ps_output_drops_our_own_script_and_matches_names() {
        let text = "U1\troot\nU42\tacme\nU43\troot\nU7\troot\n@@argv\n\
                    1/comm:sshd\n\x0042/comm:python3\n\x0043/comm:sh\n\x007/comm:kworker/0:1\n\0\
                    1/cmdline:/usr/sbin/sshd\x001/cmdline:-D\0\
                    42/cmdline:acme-web\x0042/cmdline:/usr/lib/acme/web.py\0\
                    43/cmdline:sh\x0043/cmdline:-c\x0043/cmdline:: fearless-ps\ncd /proc\n\0";
        let procs = parse_ps(text);
        assert_eq!(procs.len(), 2, "{procs:?}");
        assert_eq!(procs[1].user, "acme");
        assert_eq!(procs[1].argv, ["acme-web", "/usr/lib/acme/web.py"]);
        assert!(proc_matches(&procs[0], "sshd"));
        assert!(proc_matches(&procs[1], "acme-web"));
        assert!(proc_matches(&procs[1], "python3"));
        assert!(!proc_matches(&procs[1], "acme-api"));
        assert!(proc_matches(&procs[1], "/usr/lib/acme/web.py"));
    }

    #[test]
    fn a_process_cannot_forge_another_with_newlines() {
        // comm "x\n9/comm:acme-api", an argument with a newline in it, and one that
        // pretends to be the owners' section.
        let text = "U5\troot\n@@argv\n5/comm:x\n9/comm:acme-api\n\0\
                    5/cmdline:evil\n9/cmdline:acme-api\x005/cmdline:\n@@argv\nU9\troot\n\0";
        let procs = parse_ps(text);
        assert_eq!(procs.len(), 1);
        assert_eq!(procs[0].pid, 5);
        assert_eq!(procs[0].comm, "x\n9/comm:acme-api");
        assert_eq!(
            procs[0].argv,
            ["evil\n9/cmdline:acme-api", "\n@@argv\nU9\troot\n"]
        );
        assert!(!proc_matches(&procs[0], "acme-api"));
    }

    /// `ss -tln` and the socket tables name the same listeners the same way: the port
    /// check judges either alike.
    #[test]
    fn ss_listeners_match_the_socket_tables() {
        let ss = "State  Recv-Q Send-Q     Local Address:Port  Peer Address:PortProcess\n\
                  LISTEN 0      128           127.0.0.11:8080       0.0.0.0:*\n\
                  LISTEN 0      4096       127.0.0.53%lo:53         0.0.0.0:*\n\
                  LISTEN 0      128                 [::]:22            [::]:*\n\
                  LISTEN 0      511                    *:80               *:*\n\
                  LISTEN 0      64     [fe80::1]%eth0:2222          [::]:*\n\
                  LISTEN 0      10    [::ffff:127.0.0.1]:9000             *:*\n";
        assert_eq!(
            listeners(&format!("@@ss\n{ss}")),
            Some(vec![
                ("127.0.0.11".to_owned(), 8080),
                ("127.0.0.53".to_owned(), 53),
                ("::".to_owned(), 22),
                ("::".to_owned(), 80),
                ("fe80::1".to_owned(), 2222),
                ("::ffff:127.0.0.1".to_owned(), 9000),
            ])
        );
        let proc = "  sl  local_address rem_address   st\n   0: 0B00007F:1F90 00000000:0000 0A 0\n\
                    \x20  0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A\n";
        assert_eq!(
            listeners(&format!("@@proc\n{proc}")),
            Some(vec![("127.0.0.11".to_owned(), 8080), ("::".to_owned(), 22)])
        );
        // An answer that is neither is no answer: the check errs, it does not fail.
        assert_eq!(listeners("@@ss\nss: command failed\n"), None);
        assert_eq!(listeners("@@proc\n"), None);
        assert_eq!(listeners(ss), None);
        let spec = PortCheck {
            port: 53,
            address: None,
        };
        let o = judge_port(None, &spec, None);
        assert_eq!(o.status, crate::result::Status::Error);
        let l = listeners(&format!("@@ss\n{ss}"));
        let o = judge_port(l.as_deref(), &spec, Some("127.0.0.53"));
        assert_eq!(o.status, crate::result::Status::Pass, "{o:?}");
        let o = judge_port(l.as_deref(), &spec, Some("127.0.0.54"));
        assert_eq!(o.status, crate::result::Status::Fail, "{o:?}");
    }

    #[test]
    fn proc_net_tcp_listeners() {
        let text = "  sl  local_address rem_address   st\n   0: 0B00007F:1F90 00000000:0000 0A 0\n   1: 0B00007F:1F91 0100007F:9999 01 0\n   2: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A\n";
        assert_eq!(
            parse_listeners(text),
            [("127.0.0.11".to_owned(), 8080), ("::".to_owned(), 22)]
        );
    }
}
