//! The parser of [`crate::script::SAMPLE_SCRIPT`]'s output: a pure function that never
//! panics and returns a typed [`Sample`] or a typed [`ParseError`].
//!
//! Kernel tables: addresses are hex, each 32-bit word in the host's (little-endian) byte
//! order, ports big-endian hex; IPv4-mapped IPv6 addresses are read as IPv4. A socket is
//! attributed to a process only through that process' own `fd` link (`socket:[INODE]`).
//!
//! Which sockets belong to the host: those owned by a process visible on it. A socket no
//! visible process owns is kept only when its local address is one of the host's own
//! addresses, and then without a process. This is right on a real host (its own network
//! namespace) and in the lab, where hosts share the machine's network namespace but each
//! has its own PID namespace: there `/proc/net/tcp` lists every socket of the machine,
//! while `/proc/*/fd` lists only the host's processes.

use crate::program;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One sample of a host: its listening sockets and connections, each with the process
/// that owns it when that could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Listening sockets (one per address, port and owning process).
    pub listeners: Vec<Listener>,
    /// Other sockets with a peer (established, connecting, closing), both directions.
    pub connections: Vec<Connection>,
    /// What the reader should know: sockets that could not be attributed, and why.
    pub notes: Vec<String>,
    /// Counts behind the notes.
    pub stats: SampleStats,
}

/// Counts of one sample, for notes and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleStats {
    /// Processes listed (kernel threads included).
    pub processes: u32,
    /// Processes whose sockets could not be read: not permitted.
    pub not_permitted: u32,
    /// Processes that exited while they were being read.
    pub vanished: u32,
    /// Sockets no visible process owns, kept because their local address is the host's.
    pub unowned_kept: u32,
    /// Sockets no visible process owns, left out (another host's, in a shared namespace).
    pub unowned_dropped: u32,
    /// Sockets whose owner was listed but exited before it could be named.
    pub unnamed: u32,
}

/// A listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// Local address (`0.0.0.0` / `::` for every address).
    pub address: IpAddr,
    /// Local port.
    pub port: u16,
    /// The owner, when its `fd` links could be read.
    pub process: Option<Proc>,
}

/// A TCP socket with a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// This end.
    pub local: SocketAddr,
    /// The other end.
    pub remote: SocketAddr,
    /// The kernel's state of the socket.
    pub state: TcpState,
    /// Whether this end connected (outbound) or accepted (inbound).
    pub direction: Direction,
    /// The owner, when its `fd` links could be read.
    pub process: Option<Proc>,
}

/// Who opened a connection, seen from its local end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// This end connected to the remote one.
    Outbound,
    /// This end accepted it: its local port is one the host listens on.
    Inbound,
}

/// A process as the host showed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Proc {
    /// Process id (in the host's PID namespace).
    pub pid: u32,
    /// Effective user id (the socket's owner when the process' status could not be read).
    pub uid: u32,
    /// The kernel's name of it (`comm`, at most 15 bytes, as `/proc/PID/status` escapes it).
    pub name: String,
    /// Its executable, as the `exe` link reads (` (deleted)` when replaced on disk).
    pub exe: Option<String>,
    /// What it runs: the script for an interpreter, else the executable.
    pub program: Option<String>,
}

/// TCP states as the kernel numbers them (`include/net/tcp_states.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    /// `01`
    Established,
    /// `02`: connecting.
    SynSent,
    /// `03`
    SynRecv,
    /// `04`
    FinWait1,
    /// `05`
    FinWait2,
    /// `06`
    TimeWait,
    /// `07`
    Close,
    /// `08`: the peer closed, this end has not yet.
    CloseWait,
    /// `09`
    LastAck,
    /// `0A`
    Listen,
    /// `0B`
    Closing,
    /// `0C`
    NewSynRecv,
}

impl TcpState {
    /// The state of a hex code from the tables.
    pub fn from_code(code: u8) -> Option<Self> {
        use TcpState::*;
        Some(match code {
            0x01 => Established,
            0x02 => SynSent,
            0x03 => SynRecv,
            0x04 => FinWait1,
            0x05 => FinWait2,
            0x06 => TimeWait,
            0x07 => Close,
            0x08 => CloseWait,
            0x09 => LastAck,
            0x0A => Listen,
            0x0B => Closing,
            0x0C => NewSynRecv,
            _ => return None,
        })
    }
}

/// Why a sample's text could not be read. Every case names what was missing or where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The first line is not the script's marker: something else answered.
    #[error("not a fearless-observe sample (first line: {first:?})")]
    NotASample {
        /// The first line, cut to 80 characters.
        first: String,
    },
    /// The main listing (the `main:` record) is missing: the script's pipeline did not run.
    #[error("the sample has no process and socket listing: the script's pipeline did not run")]
    NoListing,
    /// The output ends before `@@end` (cut at the transport's cap, or killed).
    #[error("the sample is cut short: it does not end with `@@end`")]
    Truncated,
    /// `/proc/net/tcp` was not read (no header line).
    #[error("/proc/net/tcp could not be read on the host")]
    NoTcpTable,
    /// `ls` listed nothing at all, not even the script's own process: it did not run.
    #[error(
        "no process could be listed on the host (`ls` of /proc/*/exe, cwd and fd gave nothing)"
    )]
    NoProcesses,
    /// A row of a socket table does not read as the kernel writes it.
    #[error("{table}, row {row}: {reason}")]
    BadRow {
        /// `net/tcp` or `net/tcp6`.
        table: String,
        /// 1-based row within that table.
        row: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// One row of a socket table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Local end.
    pub local: SocketAddr,
    /// Remote end (`0.0.0.0:0` for a listener).
    pub remote: SocketAddr,
    /// State.
    pub state: TcpState,
    /// Owner uid of the socket.
    pub uid: u32,
    /// Socket inode (0: no file, e.g. `TIME_WAIT`).
    pub inode: u64,
}

/// Parse one row of `/proc/net/tcp` or `/proc/net/tcp6` (without the file prefix).
pub fn parse_row(line: &str) -> Result<Row, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return Err(format!("{} fields, expected at least 10", f.len()));
    }
    let local = parse_endpoint(f[1]).ok_or_else(|| format!("bad local address {:?}", cut(f[1])))?;
    let remote =
        parse_endpoint(f[2]).ok_or_else(|| format!("bad remote address {:?}", cut(f[2])))?;
    let state = u8::from_str_radix(f[3], 16)
        .ok()
        .filter(|_| f[3].len() == 2)
        .and_then(TcpState::from_code)
        .ok_or_else(|| format!("bad state {:?}", cut(f[3])))?;
    let uid = f[7]
        .parse()
        .map_err(|_| format!("bad uid {:?}", cut(f[7])))?;
    let inode = f[9]
        .parse()
        .map_err(|_| format!("bad inode {:?}", cut(f[9])))?;
    Ok(Row {
        local,
        remote,
        state,
        uid,
        inode,
    })
}

/// `0100007F:1F90` → `127.0.0.1:8080`; 32 hex digits for IPv6 (an IPv4-mapped one reads
/// as IPv4).
pub fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    if port.len() != 4 || !port.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = parse_address(addr)?;
    Some(SocketAddr::new(ip, port))
}

/// The hex address of a table: 8 digits (IPv4) or 32 (IPv6), each 32-bit word in
/// little-endian order.
pub fn parse_address(hex: &str) -> Option<IpAddr> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        8 => {
            let w = u32::from_str_radix(hex, 16).ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(w.swap_bytes())))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
                chunk.copy_from_slice(&word.swap_bytes().to_be_bytes());
            }
            let v6 = Ipv6Addr::from(bytes);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            })
        }
        _ => None,
    }
}

fn cut(s: &str) -> String {
    s.chars().take(80).collect()
}

/// What the sample says about one process.
#[derive(Debug, Default)]
struct ProcInfo {
    uid: Option<u32>,
    name: Option<String>,
    exe: Option<String>,
    cwd: Option<String>,
    argv: Vec<String>,
    /// Some of its fd links, or its `fd` directory, could not be read: not permitted.
    denied: bool,
    /// It exited while it was being read.
    vanished: bool,
}

/// The parts of the text: the main listing, and the command-line records.
struct Sections<'a> {
    main: &'a str,
    cmdline: Vec<&'a str>,
}

/// `@@fearless-observe 2`, NUL-terminated records (command-line arguments, then the
/// `main:` listing), `@@end`.
fn sections(text: &str) -> Result<Sections<'_>, ParseError> {
    const HEADER: &str = "@@fearless-observe 2\n";
    let Some(rest) = text.strip_prefix(HEADER) else {
        return Err(ParseError::NotASample {
            first: cut(text.lines().next().unwrap_or("")),
        });
    };
    // What follows the last record is what the script printed last: `@@end`. A cut answer
    // ends inside a record instead.
    let (records, tail) = match rest.rfind('\0') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => ("", rest),
    };
    if tail.trim_end_matches('\n') != "@@end" {
        return Err(ParseError::Truncated);
    }
    let mut main = None;
    let mut cmdline = Vec::new();
    for rec in records.split('\0').filter(|r| !r.is_empty()) {
        match rec.strip_prefix("main:") {
            // The listing holds no NUL, so it is one record; a second one is not ours.
            Some(m) if main.is_none() => main = Some(m),
            Some(_) => {}
            None => cmdline.push(rec),
        }
    }
    Ok(Sections {
        main: main.ok_or(ParseError::NoListing)?,
        cmdline,
    })
}

/// Parse a sample for a host whose own addresses are `own` (unowned sockets are kept only
/// on those).
pub fn parse(text: &str, own: &[IpAddr]) -> Result<Sample, ParseError> {
    let s = sections(text)?;
    let mut procs: BTreeMap<u32, ProcInfo> = BTreeMap::new();
    let mut owners: BTreeMap<u64, BTreeSet<u32>> = BTreeMap::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut tcp_seen = false;
    let mut rows_in: BTreeMap<&str, usize> = BTreeMap::new();
    let mut current_fd_dir: Option<u32> = None;
    let mut any_listed = false;

    for line in s.main.lines() {
        if let Some(entry) = line.strip_prefix("ls:") {
            if let Some(message) = entry.strip_prefix("ls: ") {
                error_line(message, &mut procs);
            } else {
                any_listed = true;
                ls_line(entry, &mut current_fd_dir, &mut procs, &mut owners);
            }
            continue;
        }
        let Some((file, content)) = line.split_once(':') else {
            continue;
        };
        match file {
            "net/tcp" | "net/tcp6" => {
                if content.contains("local_address") {
                    tcp_seen |= file == "net/tcp";
                    continue;
                }
                let n = rows_in.entry(file).or_insert(0);
                *n += 1;
                let row = parse_row(content).map_err(|reason| ParseError::BadRow {
                    table: file.to_owned(),
                    row: *n,
                    reason,
                })?;
                rows.push(row);
            }
            _ => {
                let Some(pid) = file
                    .strip_suffix("/status")
                    .and_then(|p| p.parse::<u32>().ok())
                else {
                    continue;
                };
                let info = procs.entry(pid).or_default();
                if let Some(name) = content.strip_prefix("Name:") {
                    info.name = Some(name.trim_start_matches('\t').to_owned());
                } else if let Some(ids) = content.strip_prefix("Uid:") {
                    // real, effective, saved, filesystem.
                    info.uid = ids.split_whitespace().nth(1).and_then(|u| u.parse().ok());
                }
            }
        }
    }
    if !tcp_seen {
        return Err(ParseError::NoTcpTable);
    }
    if !any_listed {
        return Err(ParseError::NoProcesses);
    }
    let cmdline_ok = cmdlines(&s.cmdline, &mut procs);

    Ok(assemble(&procs, &owners, &rows, own, cmdline_ok))
}

/// One line of `ls -lnq` output (after the `ls:` prefix).
fn ls_line(
    entry: &str,
    current: &mut Option<u32>,
    procs: &mut BTreeMap<u32, ProcInfo>,
    owners: &mut BTreeMap<u64, BTreeSet<u32>>,
) {
    if let Some(pid) = entry
        .strip_suffix("/fd:")
        .and_then(|p| p.parse::<u32>().ok())
    {
        *current = Some(pid);
        procs.entry(pid).or_default();
        return;
    }
    // `PERMS LINKS UID GID SIZE MONTH DAY TIME NAME[ -> TARGET]`: the name has no space
    // (a number, or `PID/exe`), so it is the last word before ` -> `.
    let (left, target) = match entry.split_once(" -> ") {
        Some((l, t)) => (l, Some(t)),
        None => (entry, None),
    };
    if !left.starts_with('l') {
        return;
    }
    let Some(name) = left.split_whitespace().last() else {
        return;
    };
    if let Some((pid, what)) = name.split_once('/') {
        let Ok(pid) = pid.parse::<u32>() else { return };
        let info = procs.entry(pid).or_default();
        match (what, target) {
            ("exe", Some(t)) => info.exe = Some(t.to_owned()),
            ("cwd", Some(t)) => info.cwd = Some(t.to_owned()),
            _ => {}
        }
        return;
    }
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let Some(pid) = *current else { return };
    let Some(target) = target else {
        // Listed, but its link could not be read: not permitted (an fd closed between the
        // listing and the read is not listed at all).
        procs.entry(pid).or_default().denied = true;
        return;
    };
    if let Some(inode) = target
        .strip_prefix("socket:[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|n| n.parse::<u64>().ok())
    {
        owners.entry(inode).or_default().insert(pid);
    }
}

/// One of `ls`'s messages about an `fd` directory (after `ls: `): `cannot open directory
/// '77/fd': Permission denied`, `cannot access '77/fd': No such file or directory` (older
/// coreutils write the path without quotes).
fn error_line(message: &str, procs: &mut BTreeMap<u32, ProcInfo>) {
    let Some(rest) = message
        .strip_prefix("cannot open directory ")
        .or_else(|| message.strip_prefix("cannot access "))
    else {
        return;
    };
    let path = rest.trim_start_matches('\'');
    let path = path.split(['\'', ':']).next().unwrap_or("");
    let Some(pid) = path.strip_suffix("/fd").and_then(|p| p.parse::<u32>().ok()) else {
        return;
    };
    let info = procs.entry(pid).or_default();
    if message.ends_with("Permission denied") || message.ends_with("Operation not permitted") {
        info.denied = true;
    } else if message.ends_with("No such file or directory") || message.ends_with("No such process")
    {
        info.vanished = true;
    }
}

/// The `PID/cmdline:ARG` records. Returns whether any command line was read.
fn cmdlines(records: &[&str], procs: &mut BTreeMap<u32, ProcInfo>) -> bool {
    let mut any = false;
    for rec in records {
        let Some((file, arg)) = rec.split_once(':') else {
            continue;
        };
        let Some(pid) = file
            .strip_suffix("/cmdline")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        any = true;
        if !arg.is_empty() {
            procs.entry(pid).or_default().argv.push(arg.to_owned());
        }
    }
    any
}

/// The listening sockets of the whole table, for "did this end accept?": a connection is
/// inbound when its local port is listened on at its local address, or on a wildcard one
/// (`0.0.0.0` takes IPv4, `::` takes both).
#[derive(Default)]
struct Listening {
    exact: BTreeSet<(IpAddr, u16)>,
    any_v4: BTreeSet<u16>,
    any_v6: BTreeSet<u16>,
}

impl Listening {
    fn new(rows: &[Row]) -> Self {
        let mut l = Self::default();
        for r in rows.iter().filter(|r| r.state == TcpState::Listen) {
            let (ip, port) = (r.local.ip(), r.local.port());
            match ip {
                IpAddr::V4(a) if a.is_unspecified() => l.any_v4.insert(port),
                IpAddr::V6(a) if a.is_unspecified() => l.any_v6.insert(port),
                _ => l.exact.insert((ip, port)),
            };
        }
        l
    }

    fn accepts(&self, local: SocketAddr) -> bool {
        let port = local.port();
        self.exact.contains(&(local.ip(), port))
            || self.any_v6.contains(&port)
            || (local.is_ipv4() && self.any_v4.contains(&port))
    }
}

fn assemble(
    procs: &BTreeMap<u32, ProcInfo>,
    owners: &BTreeMap<u64, BTreeSet<u32>>,
    rows: &[Row],
    own: &[IpAddr],
    cmdline_ok: bool,
) -> Sample {
    let mut stats = SampleStats {
        processes: u32::try_from(procs.len()).unwrap_or(u32::MAX),
        not_permitted: count(procs.values().filter(|p| p.denied)),
        vanished: count(procs.values().filter(|p| p.vanished && !p.denied)),
        ..SampleStats::default()
    };
    let proc_of = |pid: u32, row: &Row| -> Option<Proc> {
        let info = procs.get(&pid)?;
        let name = info
            .name
            .clone()
            .or_else(|| info.argv.first().map(|a| program::basename(a).to_owned()))?;
        Some(Proc {
            pid,
            uid: info.uid.unwrap_or(row.uid),
            program: program::program(info.exe.as_deref(), &info.argv, info.cwd.as_deref()),
            exe: info.exe.clone(),
            name,
        })
    };
    let listening = Listening::new(rows);
    let mut listeners: Vec<Listener> = Vec::new();
    let mut listed: BTreeSet<(IpAddr, u16, Option<u32>)> = BTreeSet::new();
    let mut connections: Vec<Connection> = Vec::new();
    for row in rows {
        let is_listener = row.state == TcpState::Listen;
        // Sockets without a file (`TIME_WAIT`, orphans) have no owner to find; sockets
        // without a peer that do not listen (being set up) say nothing of a dependency.
        if row.inode == 0
            || (!is_listener
                && (matches!(row.state, TcpState::TimeWait | TcpState::Close)
                    || row.remote.port() == 0))
        {
            continue;
        }
        // The owner: the lowest pid that holds it (a forking server's parent).
        let owner = owners
            .get(&row.inode)
            .and_then(|pids| pids.iter().next().copied());
        let process = match owner {
            Some(pid) => {
                let p = proc_of(pid, row);
                stats.unnamed += u32::from(p.is_none());
                p
            }
            None if own.contains(&row.local.ip()) => {
                stats.unowned_kept += 1;
                None
            }
            None => {
                stats.unowned_dropped += 1;
                continue;
            }
        };
        if is_listener {
            let l = Listener {
                address: row.local.ip(),
                port: row.local.port(),
                process,
            };
            if listed.insert((l.address, l.port, l.process.as_ref().map(|p| p.pid))) {
                listeners.push(l);
            }
        } else {
            let inbound = listening.accepts(row.local);
            connections.push(Connection {
                local: row.local,
                remote: row.remote,
                state: row.state,
                direction: if inbound {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                },
                process,
            });
        }
    }
    let mut notes = Vec::new();
    if stats.not_permitted > 0 {
        notes.push(format!(
            "{} process{} sockets could not be read (not permitted: another user's, or one even root may not read, such as a container's PID 1): run as root to attribute them",
            stats.not_permitted,
            if stats.not_permitted == 1 {
                "'s"
            } else {
                "es'"
            }
        ));
    }
    if stats.unowned_kept > 0 {
        notes.push(format!(
            "{} socket{} on this host's addresses {} no process that could be read: listed without one",
            stats.unowned_kept,
            plural(stats.unowned_kept),
            if stats.unowned_kept == 1 { "has" } else { "have" }
        ));
    }
    if stats.unnamed > 0 {
        notes.push(format!(
            "{} socket{} of processes that exited before they could be named: listed without a process",
            stats.unnamed,
            plural(stats.unnamed)
        ));
    }
    if !cmdline_ok {
        notes.push(
            "no command line could be read: interpreted programs are named by their interpreter"
                .to_owned(),
        );
    }
    Sample {
        listeners,
        connections,
        notes,
        stats,
    }
}

fn count<'a>(it: impl Iterator<Item = &'a ProcInfo>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_the_kernel_writes_them() {
        assert_eq!(
            parse_endpoint("0100007F:1F90"),
            Some("127.0.0.1:8080".parse().expect("addr"))
        );
        assert_eq!(
            parse_endpoint("00000000000000000000000001000000:18EB"),
            Some("[::1]:6379".parse().expect("addr"))
        );
        // ::ffff:127.0.0.11
        assert_eq!(
            parse_endpoint("0000000000000000FFFF00000B00007F:2382"),
            Some("127.0.0.11:9090".parse().expect("addr"))
        );
        // fe80::1 → words 000080FE 00000000 00000000 01000000
        assert_eq!(
            parse_address("000080FE000000000000000001000000"),
            Some("fe80::1".parse().expect("addr"))
        );
        assert_eq!(parse_endpoint("0100007F:1F9"), None);
        assert_eq!(parse_endpoint("0100007G:1F90"), None);
        assert_eq!(parse_endpoint("0100007F"), None);
        assert_eq!(parse_address("+100007F"), None);
        assert_eq!(parse_address("é0000000"), None);
    }

    #[test]
    fn rows_need_their_fields() {
        let row = parse_row(
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 23469 1 0000000000000000 100 0 0 10 0",
        )
        .expect("row");
        assert_eq!(row.state, TcpState::Listen);
        assert_eq!(row.uid, 107);
        assert_eq!(row.inode, 23469);
        assert!(parse_row("0: 0100007F:1F90").is_err());
        assert!(
            parse_row("0: 0100007F:1F90 00000000:0000 0Z 0 0 0 0 0 0").is_err(),
            "bad state"
        );
        assert!(
            parse_row("0: 0100007F:1F90 00000000:0000 0D 0 0 0 0 0 0").is_err(),
            "unknown state"
        );
    }
}
