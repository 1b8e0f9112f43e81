//! The whole lab, for real: up (2 hosts), ssh, apt, the acme shop, a bad patch and its fix,
//! down twice.

use fearless_lab::{Scenario, UpOptions};

use crate::common::{
    LabDir, down_leaves_nothing, http_get, require_lab_prerequisites, ssh, ssh_status, wait_status,
};

/// One host of `lab status`.
fn host_status(dir: &std::path::Path, name: &str) -> fearless_lab::HostStatus {
    fearless_lab::status(dir)
        .expect("status")
        .hosts
        .into_iter()
        .find(|h| h.name == name)
        .expect("host in status")
}

const UPGRADE: &str =
    "apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -q -y upgrade";

#[test]
fn lab_up_patch_break_fix_down() {
    require_lab_prerequisites();
    let scratch = LabDir::new();
    let opts = UpOptions {
        dir: scratch.dir.clone(),
        hosts: 2,
        ..Default::default()
    };

    let mut steps = Vec::new();
    let lab = fearless_lab::up(&opts, &mut |p| steps.push(p))
        .unwrap_or_else(|e| panic!("up: {e}\nhint: {:?}", e.hint()));
    assert!(!lab.already_running);
    assert_eq!(lab.hosts.len(), 2);
    assert!(
        steps.iter().any(|p| p.host.as_deref() == Some("web-2")),
        "progress names hosts"
    );
    let dir = lab.dir.clone();
    let loaded =
        fearless_config::load(&lab.config).unwrap_or_else(|e| panic!("fearless.yaml: {e:?}"));
    assert_eq!(
        loaded.config.inventory.ssh.config_file.as_deref(),
        Some(lab.ssh_config.as_path())
    );
    for file in [
        "fearless.yaml",
        "ssh_config",
        "known_hosts",
        "id_ed25519",
        "state.json",
    ] {
        assert!(dir.join(file).exists(), "{file} written");
    }

    // idempotent
    let again = fearless_lab::up(&opts, &mut |_| {}).expect("second up");
    assert!(again.already_running);

    // each host is itself, reached with the generated ssh_config and strict host keys
    for (name, address) in [("web-1", "127.0.0.11"), ("web-2", "127.0.0.12")] {
        assert_eq!(ssh(&dir, name, "hostname").trim(), name);
        assert_eq!(ssh(&dir, address, "hostname").trim(), name);
    }

    // apt inside a host knows the lab repository and nothing else
    let policy = ssh(
        &dir,
        "web-1",
        "apt-get -q update >/dev/null && apt-cache policy",
    );
    assert!(policy.contains("file:/srv/lab-repo"), "{policy}");
    assert!(
        !policy.contains("http"),
        "hosts must never use the Internet:\n{policy}"
    );
    let sources = ssh(
        &dir,
        "web-1",
        "grep -rhs '^deb' /etc/apt/sources.list /etc/apt/sources.list.d/ || true",
    );
    assert_eq!(sources.trim(), "deb [trusted=yes] file:/srv/lab-repo ./");

    // the acme shop works everywhere; services live inside the host's namespaces
    for address in ["127.0.0.11", "127.0.0.12"] {
        assert_eq!(http_get(address, 8080, "/health"), (200, "ok".to_owned()));
        assert_eq!(http_get(address, 8080, "/checkout").0, 200);
        assert_eq!(http_get(address, 9090, "/orders").0, 200);
    }
    let ps = ssh(&dir, "web-1", "ps -eo comm");
    assert!(
        ps.lines().any(|l| l.trim() == "acme-web") && ps.lines().any(|l| l.trim() == "acme-api"),
        "{ps}"
    );
    let status = fearless_lab::status(&dir).expect("status");
    assert!(status.healthy(), "{status:#?}");

    // a bad batch breaks the orders API on the patched host only
    let report = fearless_lab::publish(&dir, Scenario::BadLibacme).expect("publish bad-libacme");
    assert_eq!(report.added.len(), Scenario::BadLibacme.packages().len());
    let upgrade = ssh(&dir, "web-1", UPGRADE);
    assert!(upgrade.contains("libacme (2.0)"), "{upgrade}");
    assert_eq!(wait_status("127.0.0.11", 9090, "/orders", 500), 500);
    assert_eq!(http_get("127.0.0.11", 8080, "/checkout").0, 502);
    assert_eq!(http_get("127.0.0.11", 8080, "/health").0, 200);
    assert_eq!(http_get("127.0.0.11", 9090, "/health").0, 200);
    assert_eq!(http_get("127.0.0.12", 8080, "/checkout").0, 200);
    let log = ssh(&dir, "web-1", "cat /var/log/acme/acme-api.log");
    assert!(
        log.contains("Traceback") && log.contains("TypeError"),
        "{log}"
    );

    // the fix
    fearless_lab::publish(&dir, Scenario::FixedLibacme).expect("publish fixed-libacme");
    let upgrade = ssh(&dir, "web-1", UPGRADE);
    assert!(upgrade.contains("libacme (2.0.1)"), "{upgrade}");
    assert_eq!(wait_status("127.0.0.11", 8080, "/checkout", 200), 200);
    assert_eq!(http_get("127.0.0.11", 9090, "/orders").0, 200);

    // an update that asks for a reboot, and the reboot: connections drop, /run starts
    // empty (the request is gone), the services and sshd start again; the init stays
    fearless_lab::publish(&dir, Scenario::NeedsReboot).expect("publish needs-reboot");
    let upgrade = ssh(&dir, "web-2", UPGRADE);
    assert!(upgrade.contains("acme-agent (1.2)"), "{upgrade}");
    assert_eq!(
        ssh(&dir, "web-2", "cat /var/run/reboot-required.pkgs").trim(),
        "acme-agent"
    );
    let before = host_status(&dir, "web-2");
    let web_1 = host_status(&dir, "web-1");
    let refused = ssh_status(&dir, "web-2", "shutdown -h now");
    assert_eq!(refused.0, Some(1), "shutdown without -r: {refused:?}");
    assert!(refused.1.contains("can only reboot"), "{refused:?}");
    let _dropped = ssh_status(&dir, "web-2", "reboot; sleep 5");
    let started = std::time::Instant::now();
    loop {
        let (code, out) = ssh_status(&dir, "web-2", "ls /run/reboot-required 2>&1; true");
        if code == Some(0) && out.contains("No such file") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "web-2 never came back from its reboot: {code:?} {out}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let after = host_status(&dir, "web-2");
    assert_eq!(after.init_pid, before.init_pid, "the init stays");
    assert!(after.init_alive);
    assert_ne!(after.sshd_pid, before.sshd_pid, "sshd started again");
    for (old, new) in before.services.iter().zip(&after.services) {
        assert!(new.running, "{} runs after the reboot", new.name);
        assert_ne!(old.pid, new.pid, "{} started again", new.name);
    }
    assert_eq!(wait_status("127.0.0.12", 8080, "/checkout", 200), 200);
    assert_eq!(
        host_status(&dir, "web-1").services[0].pid,
        web_1.services[0].pid,
        "the other host did not reboot"
    );
    let log = ssh(&dir, "web-2", "cat /var/log/acme/acme-agent.log");
    assert!(log.contains("acme-agent 1.2 started"), "{log}");

    // down leaves nothing behind, and is safe twice
    let report = down_leaves_nothing(&dir);
    assert!(!report.is_empty());
    assert!(!dir.join("hosts").exists() && !dir.join("state.json").exists());
    assert!(lab.root.exists(), "the cache stays");
    let report = fearless_lab::down(&dir, &mut |_| {}).expect("second down");
    assert!(report.is_empty(), "{report:?}");
}
