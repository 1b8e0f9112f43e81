//! The constant POSIX sh scripts run on each host, and their argv.
//!
//! Both are constants; data (the paths whose package is asked for) travels as positional
//! parameters (`sh -c SCRIPT sh ARG…`), so no shell string is ever built from host or
//! config data. They need only `sh`, coreutils `ls` and `grep` (GNU: `--label`, `-z`),
//! which a minimal Debian root and every RHEL-like have; no `ss`, `netstat`, `lsof`,
//! `awk` or `sed`.

/// One sample of a host's TCP sockets and of the processes that own them.
///
/// Spawns three programs, whatever the number of processes: `ls` (every process' `exe`,
/// `cwd` and `fd` links in one call), one `grep` that filters that listing down to the
/// lines that matter (socket fds, directory headers, `exe`/`cwd`, fds whose link could not
/// be read) and, in the same call, reads both socket tables and every process' `Name:`
/// and `Uid:` from `status` (each line prefixed with the file it came from), and one
/// `grep -z` for the command lines (one NUL-terminated record per argument). `ls`'s
/// errors (permission denied, vanished processes) are kept apart, in their own section,
/// through a command substitution (a fork of the shell, no program). Every line of the
/// first section carries its file as a prefix, `ls -q` shows control characters in link
/// targets as `?`, and the command lines come last, NUL-separated, followed by `@@end`:
/// no process can forge a line of another section. The output:
///
/// ```text
/// @@fearless-observe 1
/// ls:123/fd:                      ls:lrwx------ 1 0 0 64 … 4 -> socket:[5678]
/// net/tcp:   0: 0100007F:1F90 …    123/status:Uid:\t0\t0\t0\t0
/// @@errors
/// ls: cannot open directory '77/fd': Permission denied
/// @@cmdline
/// 123/cmdline:/usr/bin/python3\0123/cmdline:/usr/sbin/acme-api\0@@end
/// ```
pub const SAMPLE_SCRIPT: &str = r#": fearless-observe
cd /proc || exit 1
LC_ALL=C
export LC_ALL
echo '@@fearless-observe 1'
exec 3>&1
err=$( { ls -lnq -- [0-9]*/exe [0-9]*/cwd [0-9]*/fd 2>&4 | grep -s -a -H --label=ls -e ' -> socket:\[[0-9]*\]$' -e '^[0-9][0-9]*/fd:$' -e ' [0-9][0-9]*/exe' -e ' [0-9][0-9]*/cwd' -e '^l[^>]* [0-9][0-9]*$' -e 'local_address' -e '^ *[0-9][0-9]*: ' -e '^Uid:' -e '^Name:' - net/tcp net/tcp6 [0-9]*/status >&3; } 4>&1 )
echo '@@errors'
printf '%s\n' "$err"
echo '@@cmdline'
grep -s -a -z -H '' [0-9]*/cmdline
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
