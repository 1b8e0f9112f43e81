//! The transports against a real sshd started by the test harness.

use fearless_exec::{ExecError, Fleet};
use fearless_testkit::Sshd;
use std::path::Path;
use std::time::Duration;

fn inventory(yaml_hosts: &[String], ssh_config: &Path) -> fearless_config::Inventory {
    let yaml = format!(
        "inventory:\n  ssh: {{ config: {}, connect_timeout: 3s }}\n  hosts:\n{}\n",
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
