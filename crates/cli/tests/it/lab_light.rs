//! A light lab (`lab up --light`) past the 244th address: 300 hosts, each its own namespace
//! with its own init and sshd, up in parallel; every one answers ssh with a host key the
//! lab's `known_hosts` vouches for, a host on `127.0.1.x` has a real dpkg database, `up`
//! twice reports the running lab, and `down` leaves no mount, process or listener.
//! Needs root (CI runs as root); fails, never skips, without it.

use super::{TestLab, fails_with, fearless, lab_ssh, leftovers, run_ok, stderr, stdout};
use std::path::Path;
use std::process::Command;

const HOSTS: usize = 300;

#[test]
fn lab_light_300_hosts_cross_the_244th_address_answer_ssh_and_come_down_clean() {
    let lab = TestLab::empty();
    let (d, config) = (lab.dir.as_str(), lab.config.as_str());
    let hosts = HOSTS.to_string();

    let out = fearless(&[
        "lab", "up", "--hosts", &hosts, "--light", "--dir", d, "--format", "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "lab up: {}", stderr(&out));
    // one step over 300 hosts logs a dozen lines, not 300
    let log = stderr(&out);
    let starts = log.lines().filter(|l| l.contains("start host")).count();
    assert!((2..=15).contains(&starts), "{starts} lines:\n{log}");
    let up: serde_json::Value = serde_json::from_slice(&out.stdout).expect("lab up json");
    let port = up["port"].as_u64().expect("port");
    assert_eq!(up["light"], true, "{up:#}");
    let listed = up["hosts"].as_array().expect("hosts");
    assert_eq!(listed.len(), HOSTS);
    assert_eq!(listed[243]["address"], "127.0.0.254");
    assert_eq!(listed[244]["address"], "127.0.1.1");
    assert_eq!(listed[HOSTS - 1]["name"], "web-300");
    assert_eq!(listed[HOSTS - 1]["address"], "127.0.1.56");
    // measured: every host's processes, and the time it took
    let footprint = &up["footprint"];
    assert_eq!(footprint["hosts"], HOSTS, "{footprint:#}");
    let processes = footprint["processes"].as_u64().expect("processes");
    assert!(processes >= 3 * HOSTS as u64, "{footprint:#}");
    // a light host is a few small processes: far below 32 MiB each
    let pss = footprint["pss_bytes"].as_u64().expect("pss");
    assert!(pss > 0 && pss / (HOSTS as u64) < 32 << 20, "{footprint:#}");
    assert!(
        up["bring_up"]["hosts_secs"].as_f64().expect("secs") > 0.0,
        "{up:#}"
    );

    // Idempotent; 300 hosts with the acme shop are refused, with the way to have them.
    let again = run_ok(&["lab", "up", "--hosts", &hosts, "--light", "--dir", d]);
    assert!(again.contains("already running"), "{again}");
    assert!(again.contains("memory per host:"), "{again}");
    fails_with(
        2,
        "between 1 and 244 (more with --light",
        &["lab", "up", "--hosts", &hosts, "--dir", d],
    );

    // The generated files list every host.
    let yaml = std::fs::read_to_string(config).expect("fearless.yaml");
    assert!(
        yaml.contains("    web-300: { address: 127.0.1.56, labels: { role: light, az: c } }\n"),
        "{yaml}"
    );
    let ssh_config = Path::new(d).join("ssh_config");
    let ssh_text = std::fs::read_to_string(&ssh_config).expect("ssh_config");
    assert_eq!(ssh_text.matches("\nHost web-").count(), HOSTS);

    // Every host answers ssh, through the binary and the lab's ssh_config.
    let out = fearless(&["-c", config, "hosts", "ping", "--format", "json"]);
    let pings: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ping json ({e}): {}\n{}", stdout(&out), stderr(&out)));
    let answers = pings["hosts"].as_array().expect("hosts");
    assert_eq!(answers.len(), HOSTS);
    let unreachable: Vec<_> = answers
        .iter()
        .filter(|p| p["reachable"] != true)
        .map(|p| format!("{}: {}", p["host"], p["error"]))
        .collect();
    assert!(unreachable.is_empty(), "unreachable: {unreachable:?}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The host key is verified: the same ssh without the lab's known_hosts is refused.
    let refused = Command::new("ssh")
        .args(["-F"])
        .arg(&ssh_config)
        .args(["-o", "UserKnownHostsFile=/dev/null", "web-300", "true"])
        .output()
        .expect("run ssh");
    assert_eq!(refused.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Host key verification failed"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // A host past the 244th address is itself, with a real dpkg database.
    assert_eq!(lab_ssh(d, "web-300", "hostname").trim(), "web-300");
    let dpkg = lab_ssh(d, "web-300", "dpkg -l openssh-server dpkg | grep '^ii'");
    assert!(
        dpkg.contains("openssh-server") && dpkg.contains(" dpkg "),
        "{dpkg}"
    );
    let listening = lab_ssh(d, "web-245", "cat /etc/hostname /etc/hosts");
    assert!(listening.contains("127.0.1.1\tweb-245"), "{listening}");

    // The lab's own check plan passes on every host (sshd, its port, its package, and the
    // port answering the controller).
    let out = fearless(&["-c", config, "check", "--format", "json"]);
    let check: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check json ({e}): {}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{check:#}");
    assert_eq!(
        check["results"].as_array().expect("results").len(),
        4 * HOSTS
    );

    let status = run_ok(&["lab", "status", "--dir", d]);
    assert_eq!(status.matches("running").count(), HOSTS, "{status}");

    let down = run_ok(&["lab", "down", "--dir", d]);
    assert!(down.contains("stopped"), "{down}");
    let (mounts, procs) = leftovers(Path::new(d));
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    assert!(procs.is_empty(), "processes left: {procs:?}");
    for ip in ["127.0.0.11", "127.0.0.254", "127.0.1.1", "127.0.1.56"] {
        let addr = format!("{ip}:{port}");
        assert!(
            std::net::TcpStream::connect(&addr).is_err(),
            "something still listens on {addr}"
        );
    }
    run_ok(&["lab", "down", "--dir", d]);
}
