//! The transports against a real sshd started by the test harness.

use fearless_exec::{ExecError, Fleet};
use fearless_testkit::Sshd;
use std::path::Path;
use std::time::Duration;

fn inventory(yaml_hosts: &[String], ssh_config: &Path) -> fearless_config::Inventory {
    inventory_with("connect_timeout: 3s", yaml_hosts, ssh_config)
}

/// [`inventory`] with other `inventory.ssh` options (`connect_timeout: 1s, …`).
fn inventory_with(
    ssh_options: &str,
    yaml_hosts: &[String],
    ssh_config: &Path,
) -> fearless_config::Inventory {
    let yaml = format!(
        "inventory:\n  ssh: {{ config: {}, {ssh_options} }}\n  hosts:\n{}\n",
        ssh_config.display(),
        yaml_hosts
            .iter()
            .map(|h| format!("    {h}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let loaded = fearless_config::load_str(Path::new("/tmp/fearless-test.yaml"), yaml)
        .unwrap_or_else(|e| panic!("{:?}", e.problems));
    loaded.config.inventory
}

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn hostile_arguments_arrive_verbatim_over_ssh() {
    let sshd = Sshd::start("127.0.0.61");
    let inv = inventory(&[sshd.host_yaml("h1")], &sshd.ssh_config());
    let fleet = Fleet::new(&inv);
    for s in [
        "'; rm -rf / #",
        "$(id)",
        "`id`",
        "a\"b'c",
        "line1\nline2",
        "ünïcødé ✓",
        "",
        "*",
        "$HOME",
        "\\",
        "-n",
    ] {
        let out = fleet
            .run("h1", &argv(&["printf", "%s", s]), Duration::from_secs(10))
            .await
            .expect("runs");
        assert!(out.success());
        assert_eq!(out.stdout_str(), s);
    }
    fleet.close().await;
}

#[tokio::test]
async fn exit_codes_are_data_and_the_master_is_reused() {
    let sshd = Sshd::start("127.0.0.62");
    let inv = inventory(&[sshd.host_yaml("h1")], &sshd.ssh_config());
    let fleet = Fleet::new(&inv);
    let out = fleet
        .run(
            "h1",
            &argv(&["sh", "-c", "echo oops >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .await
        .expect("runs");
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stderr_str(), "oops\n");
    // Every command rides the same master: the client's source port never changes.
    let conns = ssh_connections(&fleet).await;
    assert!(!conns[0].is_empty());
    assert!(
        conns.windows(2).all(|w| w[0] == w[1]),
        "one master connection serves every command: {conns:?}"
    );
    fleet.close().await;
}

/// `$SSH_CONNECTION` names the client address and port of the TCP connection a command
/// arrived on; a new connection per command would change the port.
async fn ssh_connections(fleet: &Fleet) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..5 {
        let out = fleet
            .run(
                "h1",
                &argv(&["sh", "-c", "printf %s \"$SSH_CONNECTION\""]),
                Duration::from_secs(10),
            )
            .await
            .expect("runs");
        v.push(out.stdout_str());
    }
    v
}

#[tokio::test]
async fn unknown_host_key_is_refused_by_default() {
    let sshd = Sshd::start("127.0.0.63");
    let inv = inventory(&[sshd.host_yaml("h1")], &sshd.untrusting_ssh_config());
    let fleet = Fleet::new(&inv);
    let err = fleet
        .run("h1", &argv(&["true"]), Duration::from_secs(10))
        .await
        .expect_err("refused");
    assert!(matches!(err, ExecError::HostKey { .. }), "{err:?}");
}

#[tokio::test]
async fn a_dead_host_is_unreachable_while_the_others_complete() {
    let sshd = Sshd::start("127.0.0.64");
    let dead_port = fearless_testkit::free_port("127.0.0.65");
    let hosts = [
        sshd.host_yaml("alive"),
        format!("dead: {{ address: 127.0.0.65, port: {dead_port} }}"),
    ];
    let inv = inventory(&hosts, &sshd.ssh_config());
    let fleet = Fleet::new(&inv);
    let results = fleet
        .run_all(
            &["alive".into(), "dead".into()],
            &argv(&["hostname"]),
            Duration::from_secs(10),
        )
        .await;
    assert!(
        results[0]
            .1
            .as_ref()
            .is_ok_and(fearless_exec::Output::success)
    );
    assert!(
        matches!(&results[1].1, Err(ExecError::Unreachable { host, .. }) if host == "dead"),
        "{:?}",
        results[1].1
    );
}

#[tokio::test]
async fn local_transport_runs_argv_without_a_shell() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("ssh_config");
    std::fs::write(&cfg, "").expect("write");
    let inv = inventory(&["me: { transport: local }".into()], &cfg);
    let fleet = Fleet::new(&inv);
    let out = fleet
        .run(
            "me",
            &argv(&["printf", "%s", "$(id)"]),
            Duration::from_secs(5),
        )
        .await
        .expect("runs");
    assert_eq!(out.stdout_str(), "$(id)");
    let err = fleet
        .run("me", &argv(&["sleep", "5"]), Duration::from_millis(200))
        .await
        .expect_err("times out");
    assert!(matches!(err, ExecError::Timeout { .. }));
}

#[tokio::test]
async fn a_persistent_master_outlives_the_fleet_and_is_reused_by_the_next() {
    let sshd = Sshd::start("127.0.0.65");
    let yaml = format!(
        "inventory:\n  ssh: {{ config: {}, connect_timeout: 3s, persist: 3s }}\n  hosts:\n    {}\n",
        sshd.ssh_config().display(),
        sshd.host_yaml("h1")
    );
    let inv = fearless_config::load_str(Path::new("/tmp/fearless-test.yaml"), yaml)
        .unwrap_or_else(|e| panic!("{:?}", e.problems))
        .config
        .inventory;
    // A first "process": its master stays after close.
    let first = Fleet::new(&inv);
    let a = ssh_connections(&first).await;
    first.close().await;
    // The next one rides the same TCP connection: no new handshake.
    let second = Fleet::new(&inv);
    let b = ssh_connections(&second).await;
    second.close().await;
    assert!(!a[0].is_empty());
    assert_eq!(a[0], b[0], "the second fleet reused the first one's master");
    // Once idle past `persist`, the master is gone and the next fleet connects afresh.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let third = Fleet::new(&inv);
    let c = ssh_connections(&third).await;
    third.close().await;
    assert!(!c[0].is_empty());
    assert_ne!(a[0], c[0], "an idle master ends after `persist`");
}

#[tokio::test]
async fn after_a_reboot_the_old_master_is_lost_and_reconnect_opens_a_new_one() {
    let mut sshd = Sshd::start("127.0.0.69");
    let inv = inventory(&[sshd.host_yaml("h1")], &sshd.ssh_config());
    let fleet = Fleet::new(&inv);
    let t = fleet.transport("h1").expect("h1");
    let before = ssh_connections(&fleet).await;
    // Every connection cut, the server back on the same address with the same host key.
    sshd.restart();
    let err = t
        .run(&argv(&["true"]), Duration::from_secs(10))
        .await
        .expect_err("the master died with its connection");
    assert!(
        matches!(err, fearless_exec::ExecError::Unreachable { .. }),
        "{err:?}"
    );
    t.reconnect().await;
    let after = ssh_connections(&fleet).await;
    assert!(
        after.iter().all(|c| !c.is_empty() && *c == after[0]),
        "{after:?}"
    );
    assert_ne!(
        before[0], after[0],
        "a new connection (another client port)"
    );
    fleet.close().await;
}

/// The peak resident memory of this test process (nextest runs each test in its own).
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// `yes` prints as fast as the pipe takes it, forever: the run must end at its deadline,
/// say the output was cut at the cap, and keep memory far below what `yes` printed.
async fn prints_forever(fleet: &Fleet, host: &str) {
    let start = std::time::Instant::now();
    let err = fleet
        .run(host, &argv(&["yes"]), Duration::from_secs(3))
        .await
        .expect_err("yes never ends");
    let took = start.elapsed();
    assert!(
        matches!(
            &err,
            ExecError::Timeout { cut_at: Some(n), .. } if *n == fearless_exec::DEFAULT_MAX_OUTPUT
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("cut at 4194304 bytes"), "{err}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let peak = peak_rss_bytes();
    assert!(peak < 200 << 20, "peak memory {} MiB", peak >> 20);
}

#[tokio::test]
async fn a_command_that_prints_forever_is_capped_and_ends_at_its_timeout_over_ssh() {
    let sshd = Sshd::start("127.0.0.68");
    let inv = inventory(&[sshd.host_yaml("h1")], &sshd.ssh_config());
    let fleet = Fleet::new(&inv);
    prints_forever(&fleet, "h1").await;
    // The remote `yes` is gone too: the master still serves the next command at once.
    let out = fleet
        .run("h1", &argv(&["true"]), Duration::from_secs(5))
        .await
        .expect("runs");
    assert!(out.success());
    fleet.close().await;
}

#[tokio::test]
async fn a_command_that_prints_forever_is_capped_and_ends_at_its_timeout_locally() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("ssh_config");
    std::fs::write(&cfg, "").expect("write");
    let inv = inventory(&["me: { transport: local }".into()], &cfg);
    prints_forever(&Fleet::new(&inv), "me").await;
}

/// Output past the cap is cut, the run says so per stream, and the exit status is kept.
async fn prints_past_the_cap(fleet: &Fleet, host: &str) {
    let script = "head -c 3000000 /dev/zero; echo oops >&2; exit 4";
    let out = fleet
        .run(host, &argv(&["sh", "-c", script]), Duration::from_secs(20))
        .await
        .expect("runs");
    assert_eq!(out.code, Some(4));
    assert_eq!(out.stdout.len(), 1 << 20);
    assert!(out.stdout_truncated);
    assert_eq!(out.stderr_str(), "oops\n");
    assert!(!out.stderr_truncated);
    assert_eq!(
        out.truncation().as_deref(),
        Some("stdout cut at 1048576 bytes")
    );
    let small = fleet
        .run(host, &argv(&["echo", "hi"]), Duration::from_secs(5))
        .await
        .expect("runs");
    assert!(!small.truncated() && small.truncation().is_none());
}

#[tokio::test]
async fn output_past_the_cap_is_cut_and_marked_over_ssh_and_locally() {
    let sshd = Sshd::start("127.0.0.68");
    let dir = tempfile::tempdir().expect("tmp");
    let hosts = [sshd.host_yaml("h1"), "me: { transport: local }".into()];
    let inv = inventory(&hosts, &sshd.ssh_config());
    let limits = fearless_exec::Limits {
        max_output: 1 << 20,
    };
    let fleet = Fleet::with_limits(&inv, limits);
    assert_eq!(fleet.transport("h1").map(|t| t.limits()), Some(limits));
    prints_past_the_cap(&fleet, "h1").await;
    prints_past_the_cap(&fleet, "me").await;
    drop(dir);
    fleet.close().await;
}

/// A listener on 127.0.0.1 that accepts and counts connections; each connection is sent
/// `greeting` (nothing when empty) and then held, silent, until the test ends.
fn silent_listener(
    greeting: &'static [u8],
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = stream.write_all(greeting);
            held.push(stream);
        }
    });
    (port, accepted)
}

/// Open a connection to a host that never completes the handshake: it must fail as a
/// transport error within `bound`.
async fn never_answers(greeting: &'static [u8], bound: Duration) {
    let (port, accepted) = silent_listener(greeting);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host *\n  UserKnownHostsFile {}/known_hosts\n  BatchMode yes\n",
            dir.path().display()
        ),
    )
    .expect("write");
    let mute = format!("mute: {{ address: 127.0.0.1, port: {port} }}");
    let inv = inventory_with("connect_timeout: 1s", &[mute], &cfg);
    let fleet = Fleet::new(&inv);
    let start = std::time::Instant::now();
    let err = fleet
        .run("mute", &argv(&["true"]), Duration::from_secs(60))
        .await
        .expect_err("never answers");
    let took = start.elapsed();
    assert!(err.is_transport(), "{err:?}");
    assert!(matches!(err, ExecError::Unreachable { .. }), "{err:?}");
    assert!(took < bound, "took {took:?}: {err}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_host_that_accepts_tcp_but_never_speaks_ssh_fails_in_bounded_time() {
    // ssh's ConnectTimeout (1s) covers the banner.
    never_answers(b"", Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_host_that_stalls_after_its_banner_fails_in_bounded_time() {
    // After the banner ssh waits for the key exchange without a limit of its own: the
    // transport's deadline (ConnectTimeout + 10s) ends it.
    never_answers(b"SSH-2.0-OpenSSH_9.2\r\n", Duration::from_secs(15)).await;
}

#[tokio::test]
async fn an_address_that_looks_like_an_option_is_refused_and_never_reaches_ssh() {
    let (port, accepted) = silent_listener(b"");
    let dir = tempfile::tempdir().expect("tmp");
    let marker = dir.path().join("pwned");
    let cfg = dir.path().join("ssh_config");
    std::fs::write(&cfg, "Host *\n  BatchMode yes\n").expect("write");
    let evil = format!("evil: {{ address: 127.0.0.1, port: {port} }}");
    let inv = inventory_with("connect_timeout: 1s", &[evil], &cfg);
    // What a config that does not validate addresses would hand over.
    let mut host = inv.hosts["evil"].clone();
    host.address = format!("-oProxyCommand=touch {}", marker.display());
    let t = fearless_exec::Transport::for_host(&host, &inv);
    let err = t
        .run(&argv(&["true"]), Duration::from_secs(5))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, ExecError::BadAddress { host, address } if host == "evil" && address.starts_with("-oProxyCommand")),
        "{err:?}"
    );
    assert!(!err.is_transport());
    assert!(!marker.exists(), "ssh ran the injected ProxyCommand");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// `$SSH_CONNECTION` of one command on `host`: its connection's client address and port.
async fn connection_of(fleet: &Fleet, host: &str) -> String {
    let out = fleet
        .run(
            host,
            &argv(&["sh", "-c", "printf %s \"$SSH_CONNECTION\""]),
            Duration::from_secs(10),
        )
        .await
        .expect("runs");
    assert!(out.success(), "{}", out.stderr_str());
    out.stdout_str()
}

#[tokio::test]
async fn past_the_master_cap_the_least_recently_used_master_closes_and_reopens_on_use() {
    let sshd = Sshd::start("127.0.0.70");
    let hosts: Vec<String> = ["h1", "h2", "h3"]
        .iter()
        .map(|h| sshd.host_yaml(h))
        .collect();
    let inv = inventory(&hosts, &sshd.ssh_config());
    let fleet = Fleet::with_master_cap(&inv, fearless_exec::Limits::default(), 2);
    let h1 = connection_of(&fleet, "h1").await;
    assert_eq!(
        connection_of(&fleet, "h1").await,
        h1,
        "reused below the cap"
    );
    let h2 = connection_of(&fleet, "h2").await;
    let h3 = connection_of(&fleet, "h3").await;
    // A third master closed h1's, the least recently used: h1 connects again, which
    // closes h2's; h3's is kept.
    let h1_again = connection_of(&fleet, "h1").await;
    assert_ne!(h1_again, h1, "h1's master was closed past the cap");
    assert_eq!(
        connection_of(&fleet, "h3").await,
        h3,
        "h3's master was kept"
    );
    assert_eq!(connection_of(&fleet, "h1").await, h1_again);
    assert_ne!(
        connection_of(&fleet, "h2").await,
        h2,
        "h2's master was closed"
    );
    fleet.close().await;
}

/// `$SSH_CONNECTION` and the exit of one command on `host`.
async fn connection_and_exit(fleet: &Fleet, host: &str, code: u8) -> (String, Option<i32>) {
    let out = fleet
        .run(
            host,
            &argv(&[
                "sh",
                "-c",
                "printf %s \"$SSH_CONNECTION\"; echo said >&2; exit \"$1\"",
                "sh",
                &code.to_string(),
            ]),
            Duration::from_secs(10),
        )
        .await
        .expect("runs");
    assert_eq!(out.stderr_str(), "said\n", "only the command's stderr");
    (out.stdout_str(), out.code)
}

#[tokio::test]
async fn a_lone_command_has_a_connection_of_its_own_and_its_exit_255_is_data() {
    let sshd = Sshd::start("127.0.0.80");
    let inv = inventory(&[sshd.host_yaml("h1")], &sshd.ssh_config());
    let fleet = Fleet::new(&inv);
    let t = fleet.transport("h1").expect("h1");
    t.expect_one();
    // A remote exit 255 is the command's, not a broken connection (ssh's own exit code).
    let (lone, code) = connection_and_exit(&fleet, "h1", 255).await;
    assert_eq!(code, Some(255));
    assert!(!lone.is_empty());
    // The next command opens a master, which the one after reuses.
    let (first, code) = connection_and_exit(&fleet, "h1", 0).await;
    assert_eq!(code, Some(0));
    assert_ne!(first, lone, "the lone command's connection is gone");
    assert_eq!(
        connection_and_exit(&fleet, "h1", 3).await,
        (first.clone(), Some(3))
    );
    // With a master open, a command said to be alone rides it.
    t.expect_one();
    assert_eq!(connection_and_exit(&fleet, "h1", 0).await, (first, Some(0)));
    fleet.close().await;
}

#[tokio::test]
async fn a_lone_command_fails_as_a_master_would_when_the_host_cannot_be_reached() {
    let sshd = Sshd::start("127.0.0.81");
    let dead_port = fearless_testkit::free_port("127.0.0.82");
    let dead = format!("dead: {{ address: 127.0.0.82, port: {dead_port} }}");
    let inv = inventory(&[sshd.host_yaml("h1"), dead], &sshd.untrusting_ssh_config());
    let fleet = Fleet::new(&inv);
    for host in ["h1", "dead"] {
        fleet
            .transport(host)
            .expect("in the inventory")
            .expect_one();
    }
    let untrusted = fleet
        .run("h1", &argv(&["true"]), Duration::from_secs(10))
        .await
        .expect_err("an unknown host key is refused");
    assert!(
        matches!(untrusted, ExecError::HostKey { .. }),
        "{untrusted:?}"
    );
    let refused = fleet
        .run("dead", &argv(&["true"]), Duration::from_secs(10))
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(&refused, ExecError::Unreachable { detail, .. } if detail.contains("refused")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_lone_command_past_its_timeout_is_a_timeout_and_a_stalled_handshake_is_unreachable() {
    let sshd = Sshd::start("127.0.0.83");
    let inv = inventory_with(
        "connect_timeout: 1s",
        &[sshd.host_yaml("h1")],
        &sshd.ssh_config(),
    );
    let fleet = Fleet::new(&inv);
    fleet.transport("h1").expect("h1").expect_one();
    let start = std::time::Instant::now();
    let err = fleet
        .run("h1", &argv(&["sleep", "60"]), Duration::from_secs(1))
        .await
        .expect_err("sleeps past its timeout");
    assert!(
        matches!(err, ExecError::Timeout { after, .. } if after == Duration::from_secs(1)),
        "{err:?}"
    );
    // One deadline for the connection (1s + 10s at most) and the command.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );

    // A server that sends its banner and then nothing: the connection's failure.
    let (port, accepted) = silent_listener(b"SSH-2.0-OpenSSH_9.2\r\n");
    let mute = format!("mute: {{ address: 127.0.0.1, port: {port} }}");
    let inv = inventory_with("connect_timeout: 1s", &[mute], &sshd.ssh_config());
    let fleet = Fleet::new(&inv);
    fleet.transport("mute").expect("mute").expect_one();
    let err = fleet
        .run("mute", &argv(&["true"]), Duration::from_secs(1))
        .await
        .expect_err("never answers");
    assert!(matches!(err, ExecError::Unreachable { .. }), "{err:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// `inventory.ssh.connect_rate: 1`: the hosts of one `run_all` connect a second apart,
/// not at once (each command reports when it ran, on the same clock).
#[tokio::test]
async fn paced_connections_start_a_turn_apart() {
    let sshd = Sshd::start("127.0.0.85");
    let hosts = ["h1", "h2", "h3"].map(|h| sshd.host_yaml(h));
    let options = "connect_timeout: 3s, connect_rate: 1";
    let inv = inventory_with(options, &hosts, &sshd.ssh_config());
    assert_eq!(inv.ssh.connect_rate, Some(1));
    let fleet = Fleet::new(&inv);
    let names: Vec<String> = ["h1", "h2", "h3"].map(str::to_owned).to_vec();
    let runs = fleet
        .run_all(&names, &argv(&["date", "+%s.%N"]), Duration::from_secs(20))
        .await;
    let mut at: Vec<f64> = runs
        .into_iter()
        .map(|(h, r)| {
            let out = r.unwrap_or_else(|e| panic!("{h}: {e}"));
            out.stdout_str().trim().parse().expect("a time")
        })
        .collect();
    at.sort_by(f64::total_cmp);
    // A turn a second; each connection's handshake (well under half a second here) comes
    // after its turn.
    for pair in at.windows(2) {
        assert!(
            pair[1] - pair[0] > 0.5,
            "connected too close together: {at:?}"
        );
    }
    fleet.close().await;
}
