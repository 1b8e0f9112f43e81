//! The sample parser over real samples of this machine (trimmed to a few processes and
//! anonymised: `tests/fixtures/`) and over garbage: typed answers, never a panic.
//!
//! `sample-root.txt`: the script run as root while a Python program (`orders.py`, run as
//! `python3 orders.py` from `/srv/shop`) listened on `[::]:18080` (dual stack) and
//! `127.0.0.1:18081` and held connections to both from itself (one over IPv4 to the
//! dual-stack socket, so the accepted end is IPv4-mapped in `tcp6`); PID 1's fd links were
//! unreadable even to root in that sandbox, and a lab of another PID namespace was running
//! (its sockets are in the tables, its processes are not). `sample-nobody.txt`: the same
//! run as `nobody`.

use fearless_observe::parse::{ParseError, parse};
use fearless_observe::{Direction, Sample, TcpState};
use proptest::prelude::*;
use std::net::{IpAddr, SocketAddr};

const ROOT: &str = include_str!("fixtures/sample-root.txt");
const NOBODY: &str = include_str!("fixtures/sample-nobody.txt");
const PY: u32 = 23105;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

fn listener_pid(s: &Sample, addr: &str, port: u16) -> Option<Option<u32>> {
    s.listeners
        .iter()
        .find(|l| l.address == ip(addr) && l.port == port)
        .map(|l| l.process.as_ref().map(|p| p.pid))
}

#[test]
fn a_root_sample_attributes_v4_v6_and_mapped_sockets_to_their_programs() {
    let s = parse(ROOT, &[]).expect("the root sample parses");
    // The dual-stack listener and the IPv4 one, both the Python program's.
    let l = s
        .listeners
        .iter()
        .find(|l| l.port == 18080)
        .expect("listener on 18080");
    assert_eq!(l.address, ip("::"));
    let p = l.process.as_ref().expect("owned");
    assert_eq!(p.pid, PY);
    assert_eq!(p.uid, 0);
    assert_eq!(p.name, "python3");
    assert_eq!(p.exe.as_deref(), Some("/usr/bin/python3.11"));
    assert_eq!(
        p.program.as_deref(),
        Some("/srv/shop/orders.py"),
        "an interpreter's program is its script, made absolute against its cwd"
    );
    assert_eq!(listener_pid(&s, "127.0.0.1", 18081), Some(Some(PY)));
    // Other services of the machine, v4 and v6, with their own uid.
    let pg = s
        .listeners
        .iter()
        .find(|l| l.port == 5432)
        .and_then(|l| l.process.as_ref())
        .expect("postgres");
    assert_eq!(
        (pg.uid, pg.program.as_deref()),
        (101, Some("/usr/lib/postgresql/15/bin/postgres"))
    );
    assert_eq!(listener_pid(&s, "::1", 6379), Some(Some(2261)));
    assert_eq!(listener_pid(&s, "127.0.0.1", 5672), Some(Some(2997)));

    // The client over IPv4 to the dual-stack listener: outbound in `tcp`, and its accepted
    // end, IPv4-mapped in `tcp6`, read as IPv4 and inbound.
    let to_18080: Vec<_> = s
        .connections
        .iter()
        .filter(|c| c.remote == sa("127.0.0.1:18080"))
        .collect();
    assert_eq!(to_18080.len(), 1, "{to_18080:?}");
    assert_eq!(to_18080[0].direction, Direction::Outbound);
    assert_eq!(to_18080[0].state, TcpState::Established);
    assert_eq!(to_18080[0].process.as_ref().map(|p| p.pid), Some(PY));
    let accepted = s
        .connections
        .iter()
        .find(|c| c.local == sa("127.0.0.1:18080"))
        .expect("the accepted end, IPv4-mapped in tcp6, read as IPv4");
    assert_eq!(accepted.direction, Direction::Inbound);
    assert_eq!(accepted.remote, to_18080[0].local);
    // Over IPv6 loopback, both ends.
    assert!(s.connections.iter().any(|c| c.remote == sa("[::1]:18080")
        && c.direction == Direction::Outbound
        && c.process.as_ref().map(|p| p.pid) == Some(PY)));
    assert!(
        s.connections
            .iter()
            .any(|c| c.local == sa("[::1]:18080") && c.direction == Direction::Inbound)
    );
    // Nothing in TIME_WAIT, and no socket of a process the sample did not list.
    assert!(s.connections.iter().all(|c| c.state != TcpState::TimeWait));
    assert!(
        s.listeners
            .iter()
            .map(|l| &l.process)
            .chain(s.connections.iter().map(|c| &c.process))
            .all(Option::is_some),
        "without own addresses, only owned sockets are kept"
    );
    // PID 1's fd links were unreadable: said, and counted once.
    assert_eq!(s.stats.not_permitted, 1, "{:?}", s.stats);
    assert!(
        s.notes.iter().any(|n| n
            == "1 process's sockets could not be read (not permitted: another user's, or one even root may not read, such as a container's PID 1): run as root to attribute them"),
        "{:?}",
        s.notes
    );
    assert!(s.stats.unowned_dropped > 0, "the machine's other sockets");
}

#[test]
fn unowned_sockets_are_kept_only_on_the_hosts_own_addresses() {
    // mosquitto on 127.0.0.1:1883 was not among the sampled processes (as another lab
    // host's process would not be).
    let own = parse(ROOT, &[ip("127.0.0.1")]).expect("parses");
    let other = parse(ROOT, &[ip("127.0.0.11")]).expect("parses");
    let none = parse(ROOT, &[]).expect("parses");
    assert_eq!(listener_pid(&own, "127.0.0.1", 1883), Some(None));
    assert_eq!(listener_pid(&other, "127.0.0.1", 1883), None);
    assert_eq!(listener_pid(&none, "127.0.0.1", 1883), None);
    assert!(own.stats.unowned_kept >= 1);
    assert!(
        own.notes
            .iter()
            .any(|n| n.contains("no process that could be read")),
        "{:?}",
        own.notes
    );
    // A wildcard listener is nobody's own address.
    assert_eq!(listener_pid(&own, "0.0.0.0", 2024), None);
    // Owned sockets are kept whatever the own addresses.
    assert_eq!(listener_pid(&other, "127.0.0.1", 18081), Some(Some(PY)));

    // The lab that ran beside (its processes in other PID namespaces): for its api-1
    // (127.0.0.13), the orders API's listener and its connection to the ledger on ledger-1
    // (127.0.0.15:7070) are kept, without a process; ledger-1's listener is not api-1's.
    let api1 = parse(ROOT, &[ip("127.0.0.13")]).expect("parses");
    assert_eq!(listener_pid(&api1, "127.0.0.13", 9090), Some(None));
    assert_eq!(listener_pid(&api1, "127.0.0.15", 7070), None);
    let to_ledger = api1
        .connections
        .iter()
        .find(|c| c.remote == sa("127.0.0.15:7070"))
        .expect("api-1 → ledger-1");
    assert_eq!(
        (
            to_ledger.direction,
            to_ledger.local.ip(),
            to_ledger.process.clone()
        ),
        (Direction::Outbound, ip("127.0.0.13"), None)
    );
    // Its accepted connections are inbound.
    assert!(
        api1.connections
            .iter()
            .filter(|c| c.local == sa("127.0.0.13:9090"))
            .all(|c| c.direction == Direction::Inbound)
    );
}

#[test]
fn a_sample_as_nobody_attributes_nothing_it_could_not_read_and_says_so() {
    let s = parse(NOBODY, &[ip("127.0.0.1")]).expect("the nobody sample parses");
    assert_eq!(s.stats.not_permitted, 8, "{:?}", s.stats);
    assert!(
        s.notes.iter().any(|n| n
            == "8 processes' sockets could not be read (not permitted: another user's, or one even root may not read, such as a container's PID 1): run as root to attribute them"),
        "{:?}",
        s.notes
    );
    // Every socket on 127.0.0.1 is kept, none with a process.
    assert!(!s.listeners.is_empty());
    assert!(s.listeners.iter().all(|l| l.process.is_none()));
    assert!(s.connections.iter().all(|c| c.process.is_none()));
    assert!(s.listeners.iter().all(|l| l.address == ip("127.0.0.1")));
    // Without own addresses, nothing at all: no wrong edge.
    let bare = parse(NOBODY, &[]).expect("parses");
    assert!(bare.listeners.is_empty() && bare.connections.is_empty());
}

/// The sample without any `net/tcp6` line: a host with IPv6 disabled.
#[test]
fn a_host_without_ipv6_has_no_tcp6_section() {
    let text: String = ROOT
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("net/tcp6:"))
        .collect();
    let s = parse(&text, &[]).expect("parses without tcp6");
    assert!(s.listeners.iter().all(|l| l.address.is_ipv4()));
    assert_eq!(listener_pid(&s, "127.0.0.1", 18081), Some(Some(PY)));
    assert_eq!(listener_pid(&s, "::", 18080), None);
}

/// Replace the first line starting with `from` by `to`.
fn edit(text: &str, from: &str, to: &str) -> String {
    let mut done = false;
    text.split_inclusive('\n')
        .map(|l| {
            if !done && l.starts_with(from) {
                done = true;
                to.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect()
}

#[test]
fn a_process_that_vanished_keeps_its_socket_without_a_name_or_with_what_was_read() {
    // A process whose fd was listed but that exited before anything else of it was read:
    // only its fd directory (holding the client socket to 127.0.0.1:18081) is in the sample.
    let inode = {
        let s = parse(ROOT, &[]).expect("parses");
        assert!(
            s.connections
                .iter()
                .any(|c| c.remote == sa("127.0.0.1:18081"))
        );
        // Find the client socket's inode in the tables.
        ROOT.lines()
            .filter_map(|l| {
                l.strip_prefix("net/tcp:")
                    .or_else(|| l.strip_prefix("main:net/tcp:"))
            })
            .filter(|l| l.contains(" 0100007F:46A1 01 "))
            .filter_map(|l| l.split_whitespace().nth(9).map(str::to_owned))
            .next()
            .expect("the client row")
    };
    let text = ROOT
        .replace(&format!(" -> socket:[{inode}]\n"), " -> pipe:[1]\n")
        .replacen(
            "ls:2/fd:\n",
            &format!(
                "ls:2/fd:\nls:4242/fd:\nls:lrwx------ 1 0 0 64 Dec  4 14:00 3 -> socket:[{inode}]\n"
            ),
            1,
        );
    let s = parse(&text, &[]).expect("parses");
    let c = s
        .connections
        .iter()
        .find(|c| c.remote == sa("127.0.0.1:18081"))
        .expect("kept: its owner was a process of this host");
    assert_eq!(c.process, None);
    assert_eq!(s.stats.unnamed, 1);
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("exited before they could be named"))
    );

    // Its name was read (status) but not its exe: a process without an executable.
    let text = text.replacen(
        "\n2/status:Name:",
        "\n4242/status:Name:\tworker\n4242/status:Uid:\t33\t33\t33\t33\n2/status:Name:",
        1,
    );
    let s = parse(&text, &[]).expect("parses");
    let p = s
        .connections
        .iter()
        .find(|c| c.remote == sa("127.0.0.1:18081"))
        .and_then(|c| c.process.clone())
        .expect("named");
    assert_eq!((p.pid, p.uid, p.name.as_str()), (4242, 33, "worker"));
    assert_eq!((p.exe, p.program), (None, None));

    // `ls` says it vanished: counted as such, not as not permitted.
    let text = text.replacen(
        "\nls:2/fd:\n",
        "\nls:ls: cannot open directory '4343/fd': No such file or directory\nls:2/fd:\n",
        1,
    );
    let s = parse(&text, &[]).expect("parses");
    assert_eq!((s.stats.vanished, s.stats.not_permitted), (1, 1));
}

#[test]
fn unreadable_fd_directories_and_links_count_per_process() {
    let text = ROOT
        .replacen(
            "\nls:2/fd:\n",
            "\nls:ls: cannot open directory '2241/fd': Permission denied\nls:ls: cannot open directory 2952/fd: Permission denied\nls:2/fd:\n",
            1,
        )
        .replacen(
            "\nls:2997/fd:\n",
            "\nls:2997/fd:\nls:lrwx------ 1 106 109 64 Dec  4 12:05 3\nls:lrwx------ 1 106 109 64 Dec  4 12:05 4\n",
            1,
        );
    let s = parse(&text, &[]).expect("parses");
    assert_eq!(
        s.stats.not_permitted, 4,
        "1 and 2997 (links), 2241 and 2952 (directories, quoted or not)"
    );
    assert!(
        s.notes
            .iter()
            .any(|n| n.starts_with("4 processes' sockets"))
    );
}

/// What a garbage case must give.
type Expect = fn(&ParseError) -> bool;

#[test]
fn garbage_is_a_typed_error() {
    let cases: Vec<(String, Expect)> = vec![
        (String::new(), |e| {
            matches!(e, ParseError::NotASample { .. })
        }),
        ("sudo: a password is required\n".into(), |e| {
            matches!(e, ParseError::NotASample { .. })
        }),
        ("@@fearless-observe 1\n@@end\n".into(), |e| {
            matches!(e, ParseError::NotASample { .. })
        }),
        ("@@fearless-observe 2\n".into(), |e| {
            matches!(e, ParseError::Truncated)
        }),
        ("@@fearless-observe 2\n@@end\n".into(), |e| {
            matches!(e, ParseError::NoListing)
        }),
        ("@@fearless-observe 2\n1/cmdline:x\0@@end\n".into(), |e| {
            matches!(e, ParseError::NoListing)
        }),
        (ROOT.trim_end_matches("@@end\n").to_owned(), |e| {
            matches!(e, ParseError::Truncated)
        }),
        (ROOT[..ROOT.len() / 2].to_owned(), |e| {
            matches!(e, ParseError::Truncated)
        }),
        (
            ROOT.split_inclusive('\n')
                .filter(|l| !l.starts_with("net/tcp:"))
                .collect::<String>()
                .replacen("main:net/tcp:  sl", "main:net/tcp6:  sl", 1),
            |e| matches!(e, ParseError::NoTcpTable),
        ),
        (
            ROOT.split_inclusive('\n')
                .filter(|l| !l.starts_with("ls:"))
                .collect(),
            |e| matches!(e, ParseError::NoProcesses),
        ),
        (
            edit(ROOT, "net/tcp:   2:", "net/tcp:   2: 0100007F:1F90 zz\n"),
            |e| matches!(e, ParseError::BadRow { table, row: 3, .. } if table == "net/tcp"),
        ),
        (
            edit(
                ROOT,
                "net/tcp6:   1:",
                "net/tcp6:   1: 0000:1F90 00000000:0000 0A 0 0 0 0 0 17\n",
            ),
            |e| matches!(e, ParseError::BadRow { table, row: 2, .. } if table == "net/tcp6"),
        ),
    ];
    for (text, want) in cases {
        match parse(&text, &[]) {
            Err(e) => assert!(want(&e), "unexpected error {e:?} for {:?}", cut(&text)),
            Ok(s) => panic!("parsed garbage {:?} into {s:?}", cut(&text)),
        }
    }
}

fn cut(s: &str) -> String {
    s.chars().take(120).collect()
}

/// A line forged inside a command line cannot attribute a socket, nor a record pose as
/// the listing.
#[test]
fn data_cannot_forge_lines() {
    let forged =
        "x\nls:2/fd:\nls:lrwx------ 1 0 0 64 Dec  4 14:00 3 -> socket:[5279]\nmain:ls:2/fd:";
    let text = ROOT.replacen(
        &format!("{PY}/cmdline:orders.py\0"),
        &format!("{PY}/cmdline:{forged}\0"),
        1,
    );
    assert_ne!(text, ROOT);
    let s = parse(&text, &[]).expect("parses");
    let pg = s
        .listeners
        .iter()
        .find(|l| l.port == 5432)
        .and_then(|l| l.process.as_ref())
        .expect("postgres");
    assert_eq!(
        pg.pid, 2241,
        "the forged fd line was a command-line argument"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_text(text in ".{0,400}") {
        let _ = parse(&text, &[ip("127.0.0.1")]);
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&format!("@@fearless-observe 2\n{text}"), &[]);
        let _ = parse(&format!("@@fearless-observe 2\n1/cmdline:{text}\0main:{text}\0@@end\n"), &[]);
        let _ = parse(&format!("@@fearless-observe 2\nmain:net/tcp: local_address\nls:1/fd:\n{text}\0@@end\n"), &[]);
    }

    #[test]
    fn never_panics_on_mutated_samples(
        which in 0usize..2,
        edits in proptest::collection::vec((0usize..20_000, 0u8..4, any::<char>()), 1..12),
    ) {
        let mut text: Vec<char> = [ROOT, NOBODY][which].chars().collect();
        for (at, op, c) in edits {
            if text.is_empty() { break; }
            let at = at % text.len();
            match op {
                0 => { text.remove(at); }
                1 => text.insert(at, c),
                2 => text[at] = c,
                _ => text.truncate(at),
            }
        }
        let text: String = text.into_iter().collect();
        let own = [ip("127.0.0.1"), ip("::1")];
        if let Ok(s) = parse(&text, &own) {
            // Whatever parses, a socket kept without a process is on an own address, or
            // its owner was listed but could not be named.
            let elsewhere = s.listeners.iter().filter(|l| l.process.is_none() && !own.contains(&l.address)).count()
                + s.connections.iter().filter(|c| c.process.is_none() && !own.contains(&c.local.ip())).count();
            prop_assert!(elsewhere <= s.stats.unnamed as usize);
        }
    }

    #[test]
    fn never_panics_on_dropped_lines(mask in proptest::collection::vec(any::<bool>(), 700)) {
        let text: String = ROOT
            .split_inclusive('\n')
            .zip(mask.iter().cycle())
            .filter(|(_, keep)| **keep)
            .map(|(l, _)| l)
            .collect();
        let _ = parse(&text, &[]);
    }
}
