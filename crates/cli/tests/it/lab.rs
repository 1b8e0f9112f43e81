//! The lab, end to end through the binary: a real fleet goes green, a bad package breaks
//! one host, `check` names the culprit component on that host only, and `down` leaves
//! nothing behind. Needs root (CI runs as root); fails, never skips, without it.

use super::{
    TestLab, fails_with, fearless, lab_ssh, lab_ssh_run, leftovers, run_ok, stderr, stdout,
};
use std::path::Path;

fn check_json(config: &str) -> (Option<i32>, serde_json::Value) {
    let out = fearless(&["check", "-c", config, "--format", "json"]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (out.status.code(), v)
}

#[test]
fn lab_goes_green_breaks_on_bad_libacme_and_comes_down_clean() {
    let lab = TestLab::empty();
    let (d, config) = (lab.dir.as_str(), lab.config.as_str());
    let dir = Path::new(d);

    let up: serde_json::Value = serde_json::from_str(&run_ok(&[
        "lab", "up", "--hosts", "2", "--dir", d, "--format", "json",
    ]))
    .expect("lab up json");
    let port = up["port"].as_u64().expect("port");
    // Idempotent: a second `up` reports the running lab.
    assert!(run_ok(&["lab", "up", "--hosts", "2", "--dir", d]).contains("already running"));
    for host in ["web-1", "web-2"] {
        assert_eq!(
            run_ok(&["lab", "ssh", host, "--dir", d, "--", "hostname"]).trim(),
            host
        );
    }
    // `lab ssh` passes the remote exit code through, and arguments arrive verbatim.
    let argv = ["sh", "-c", "printf %s \"$1\"; exit 7", "sh", "$(id) 'q'"];
    let out = lab_ssh_run(d, "web-1", &argv);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout(&out), "$(id) 'q'");

    let (code, v) = check_json(config);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["summary"]["ok"], true);

    run_ok(&["lab", "publish", "bad-libacme", "--dir", d]);
    lab_ssh(
        d,
        "web-1",
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade",
    );

    let (code, v) = check_json(config);
    assert_eq!(code, Some(1), "{v:#}");
    let loc = &v["localisation"];
    assert_eq!(loc["suspects"][0]["component"], "orders-api", "{loc:#}");
    assert_eq!(
        loc["suspects"][0]["hosts"],
        serde_json::json!(["web-1"]),
        "{loc:#}"
    );
    assert_eq!(loc["impacted"][0]["component"], "checkout", "{loc:#}");
    assert_eq!(
        loc["impacted"][0]["hosts"],
        serde_json::json!(["web-1"]),
        "{loc:#}"
    );
    for r in v["results"].as_array().expect("results") {
        if r["host"] == "web-2" {
            assert_eq!(r["status"], "pass", "web-2 must stay green: {r}");
        }
    }

    let status = run_ok(&["lab", "status", "--dir", d]);
    assert!(
        status.contains("web-1") && status.contains("web-2"),
        "{status}"
    );

    run_ok(&["lab", "down", "--dir", d]);
    let (mounts, procs) = leftovers(dir);
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    assert!(procs.is_empty(), "processes left: {procs:?}");
    for ip in ["127.0.0.11", "127.0.0.12"] {
        let addr = format!("{ip}:{port}");
        assert!(
            std::net::TcpStream::connect(&addr).is_err(),
            "something still listens on {addr}"
        );
    }
    // Twice is fine.
    run_ok(&["lab", "down", "--dir", d]);
}

#[test]
fn lab_bad_input() {
    let args = [
        "lab",
        "publish",
        "no-such-scenario",
        "--dir",
        "/nonexistent-lab",
    ];
    let err = fails_with(2, "unknown scenario `no-such-scenario`", &args);
    assert!(
        err.contains("routine, bad-libacme, fixed-libacme, needs-reboot, stale-service"),
        "{err}"
    );
}

#[test]
fn lab_package_constraints_use_each_hosts_own_ordering() {
    let lab = TestLab::up(&["--hosts", "1", "--rpm-host"]);
    let d = lab.dir.as_str();
    // The lab's own inventory (web-1 on dpkg, rpm-1 on rpm) with one constrained package check.
    let cfg = lab.config_variant("pkg", |lab_yaml| {
        let inventory = &lab_yaml[lab_yaml.find("inventory:").expect("inventory")
            ..lab_yaml.find("components:").expect("components")];
        format!("{inventory}components:\n  api:\n    runs_on: all\n    checks:\n      - {{ name: libacme 1.x, package: {{ name: libacme, version: \">= 1.0, < 2\" }} }}\n")
    });
    let (code, v) = check_json(&cfg);
    assert_eq!(code, Some(0), "{v:#}");
    let rpm = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["host"] == "rpm-1")
        .expect("rpm-1")
        .clone();
    assert_eq!(rpm["message"], "libacme 1.0-1");

    run_ok(&["lab", "publish", "bad-libacme", "--dir", d]);
    run_ok(&[
        "lab", "ssh", "rpm-1", "--dir", d, "--", "dnf", "-q", "-y", "upgrade",
    ]);
    let (code, v) = check_json(&cfg);
    assert_eq!(code, Some(1), "{v:#}");
    for r in v["results"].as_array().expect("results") {
        match r["host"].as_str() {
            Some("rpm-1") => assert_eq!(r["message"], "libacme 2.0-1 does not satisfy < 2", "{r}"),
            Some("web-1") => assert_eq!(r["status"], "pass", "{r}"),
            other => panic!("unexpected host {other:?}"),
        }
    }
    run_ok(&["lab", "down", "--dir", d]);
}
