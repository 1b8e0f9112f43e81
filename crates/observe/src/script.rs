//! The constant POSIX sh scripts run on each host, and their argv.
//!
//! Both are constants; data (the paths whose package is asked for) travels as positional
//! parameters (`sh -c SCRIPT sh ARG…`), so no shell string is ever built from host or
//! config data. They need only `sh`, coreutils `ls` and `grep` (GNU: `--label`, `-z`),
//! which a minimal Debian root and every RHEL-like have; no `ss`, `netstat`, `lsof`,
//! `awk` or `sed`.

/// One sample of a host's TCP sockets and of the processes that own them.
///
/// One pipeline of three programs, whatever the number of processes, running side by side:
///
/// 1. `ls -lnq` of every process' `exe`, `cwd` and `fd` links (its errors into the same
///    pipe: GNU `ls` flushes its output before each message, so lines stay whole);
/// 2. `grep`, which reads both socket tables and every process' `status` (`Name:` and
///    `Uid:` lines) while `ls` works, then keeps of `ls`'s listing only what matters —
///    socket fds, `fd` directory headers, `exe`/`cwd`, fds whose link could not be read,
///    and the messages of `fd` directories that could not be opened — every line
///    prefixed with its file (`ls:` for the listing);
/// 3. `grep -z`, which writes every command-line argument as a NUL-terminated record
///    (`PID/cmdline:ARG`), then all of the second `grep`'s output as one last record
///    (`main:…`: it holds no NUL).
///
/// `ls -q` shows control characters in link targets as `?`, every line of the main record
/// starts with its source, and every command-line record with its file: no process can
/// forge a line or a record. The output:
///
/// ```text
/// @@fearless-observe 2
/// 123/cmdline:/usr/bin/python3\0123/cmdline:/usr/sbin/acme-api\0main:net/tcp:  sl  local_address …
/// net/tcp:   0: 0100007F:1F90 00000000:0000 0A …
/// 123/status:Name:\tacme-api
/// 123/status:Uid:\t0\t0\t0\t0
/// ls:lrwxrwxrwx 1 0 0 0 Dec  4 13:45 123/exe -> /usr/bin/python3.11
/// ls:123/fd:
/// ls:lrwx------ 1 0 0 64 Dec  4 13:45 4 -> socket:[5678]
/// ls:ls: cannot open directory '77/fd': Permission denied
/// \0@@end
/// ```
pub const SAMPLE_SCRIPT: &str = r#": fearless-observe
cd /proc || exit 1
LC_ALL=C
export LC_ALL
echo '@@fearless-observe 2'
ls -lnq -- [0-9]*/exe [0-9]*/cwd [0-9]*/fd 2>&1 | grep -s -a -H --label=ls -e ' -> socket:\[[0-9]*\]$' -e '^[0-9][0-9]*/fd:$' -e ' [0-9][0-9]*/exe' -e ' [0-9][0-9]*/cwd' -e '^l[^>]* [0-9][0-9]*$' -e "^ls: cannot open directory '\{0,1\}[0-9]*/fd'\{0,1\}: " -e "^ls: cannot access '\{0,1\}[0-9]*/fd'\{0,1\}: " -e 'local_address' -e '^ *[0-9][0-9]*: ' -e '^Uid:' -e '^Name:' net/tcp net/tcp6 [0-9]*/status - | grep -s -a -z -H --label=main '' [0-9]*/cmdline -
echo '@@end'
"#;

/// The packages owning some paths (`$@`): `@@dpkg` then `dpkg-query -S` output (one
/// call for every path), or `@@rpm` then, per path, `@@N` (its 1-based position) and the
/// names `rpm -qf` gives, or `@@none` when the host has neither.
pub const PACKAGES_SCRIPT: &str = r#": fearless-observe-packages
LC_ALL=C
export LC_ALL
if command -v dpkg-query >/dev/null 2>&1; then
  echo '@@dpkg'
  [ $# -gt 0 ] && dpkg-query -S -- "$@" 2>/dev/null
  echo '@@end'
elif command -v rpm >/dev/null 2>&1; then
  echo '@@rpm'
  i=0
  for p in "$@"; do
    i=$((i + 1))
    echo "@@$i"
    if n=$(rpm -qf --qf '%{NAME}\n' -- "$p" 2>/dev/null); then printf '%s\n' "$n"; fi
  done
  echo '@@end'
else
  echo '@@none'
fi
exit 0
"#;

/// `sh -c SCRIPT sh ARG…`: a constant script with data as positional parameters.
pub fn sh(script: &str, args: impl IntoIterator<Item = String>) -> Vec<String> {
    ["sh", "-c", script, "sh"]
        .into_iter()
        .map(str::to_owned)
        .chain(args)
        .collect()
}

/// The argv of one sample.
pub fn sample_argv() -> Vec<String> {
    sh(SAMPLE_SCRIPT, [])
}

/// The argv of the package query for `queries` (as [`crate::packages::queries`] builds
/// them).
pub fn packages_argv(queries: &[String]) -> Vec<String> {
    sh(PACKAGES_SCRIPT, queries.iter().cloned())
}
