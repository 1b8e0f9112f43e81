//! Package state on the lab, through the binary, on an apt host (web-1) and the dnf host
//! (rpm-1): list, pending, snapshot, apply a manifest, diff, roll back to a byte-identical
//! package set, the hosts' own history, rollback feasibility, and the package lock.
//! Needs root (CI runs as root); fails, never skips, without it.

use super::{TestLab, exits_as, fails_as, hold_dpkg_lock, json_as, lab_ssh};
use serde_json::Value;
use std::time::{Duration, Instant};

const ROUTINE: &[&str] = &[
    "acme-agent",
    "acme-api",
    "acme-certs",
    "acme-cli",
    "acme-docs",
    "acme-locale",
    "acme-motd",
    "acme-tools",
    "acme-web",
];

/// Run with the config and store of the lab, as `ops`, with `--format json`; it must
/// succeed. The parsed output.
#[track_caller]
fn json_ok(config: &str, args: &[&str]) -> Value {
    json_as(config, "ops", args)
}

fn host<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["hosts"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["host"] == name))
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

fn version_of(doc: &Value, h: &str, package: &str) -> String {
    host(doc, h)["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == package))
        .and_then(|p| p["version"].as_str())
        .unwrap_or_else(|| panic!("{package} not on {h}"))
        .to_owned()
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x["name"].as_str().expect("name").to_owned())
        .collect();
    v.sort();
    v
}

/// The routine batch at `version` as a manifest in the test file `name`; its path.
fn routine_manifest(lab: &TestLab, name: &str, version: &str) -> String {
    let pins: Vec<String> = ROUTINE.iter().map(|p| format!("{p}={version}")).collect();
    lab.pins_file(name, &pins)
}

#[test]
fn packages_snapshot_apply_diff_rollback_history_on_apt_and_dnf() {
    let lab = TestLab::up(&["--hosts", "1", "--rpm-host"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    let both = ["web-1", "rpm-1"];

    // Installed: every package with its version and mark, from each host's own manager.
    let installed = json_ok(c, &["packages"]);
    assert_eq!(host(&installed, "web-1")["manager"], "apt");
    assert_eq!(host(&installed, "rpm-1")["manager"], "dnf");
    assert_eq!(version_of(&installed, "web-1", "libacme"), "1.0");
    assert_eq!(version_of(&installed, "rpm-1", "libacme"), "1.0-1");
    assert!(
        host(&installed, "web-1")["packages"]
            .as_array()
            .expect("list")
            .len()
            > 100
    );

    // Publish `routine`: exactly its nine updates are pending, 1.0 → 1.1, on both hosts.
    lab.publish("routine");
    let pending = json_ok(c, &["packages", "--pending"]);
    for h in both {
        let list = &host(&pending, h)["pending"];
        assert_eq!(names(list), ROUTINE, "{h}: {list}");
        for p in list.as_array().expect("list") {
            let (from, to) = if h == "web-1" {
                ("1.0", "1.1")
            } else {
                ("1.0-1", "1.1-1")
            };
            assert_eq!(
                (p["from"].as_str(), p["to"].as_str()),
                (Some(from), Some(to)),
                "{p}"
            );
            assert_eq!(p["security"], false);
        }
    }
    let security = json_ok(c, &["packages", "--security", "--no-refresh"]);
    assert_eq!(
        host(&security, "web-1")["pending"].as_array().map(Vec::len),
        Some(0)
    );

    // Snapshot, then apply the manifest of the batch.
    let first = json_ok(c, &["snapshot"]);
    let first_id = first["id"].as_str().expect("id").to_owned();
    let manifest = routine_manifest(&lab, "routine.txt", "1.1");
    let manifest_rpm = routine_manifest(&lab, "routine-rpm.txt", "1.1-1");
    for (h, m) in [("web-1", &manifest), ("rpm-1", &manifest_rpm)] {
        let applied = json_ok(c, &["packages", "apply", "--hosts", h, "-m", m]);
        let changes = &host(&applied, h)["changes"];
        assert_eq!(names(&changes["upgraded"]), ROUTINE, "{h}: {changes}");
        assert!(host(&applied, h)["restarts"]["reboot_source"].is_string());
    }
    // The shop still works on the new versions.
    let now = json_ok(c, &["packages"]);
    assert_eq!(version_of(&now, "web-1", "acme-api"), "1.1");
    assert_eq!(version_of(&now, "rpm-1", "acme-api"), "1.1-1");

    // The diff from the snapshot to the live hosts is exactly the batch.
    let diff = json_ok(c, &["snapshot", "diff", &first_id, "--live"]);
    for h in both {
        let d = &host(&diff, h)["diff"];
        assert_eq!(names(&d["upgraded"]), ROUTINE, "{h}: {d}");
        for empty in ["added", "removed", "downgraded", "marks"] {
            assert_eq!(
                d[empty].as_array().map(Vec::len),
                Some(0),
                "{h} {empty}: {d}"
            );
        }
    }

    // Roll back; a fresh snapshot equals the first one byte for byte.
    let back = json_ok(c, &["packages", "rollback", "--snapshot", &first_id]);
    for h in both {
        assert_eq!(names(&host(&back, h)["changes"]["downgraded"]), ROUTINE);
    }
    let second = json_ok(c, &["snapshot"]);
    let second_id = second["id"].as_str().expect("id");
    let a = json_ok(c, &["snapshot", "show", &first_id]);
    let b = json_ok(c, &["snapshot", "show", second_id]);
    for h in both {
        let a = serde_json::to_string(&a["record"]["hosts"][h]).expect("json");
        let b = serde_json::to_string(&b["record"]["hosts"][h]).expect("json");
        assert!(a.len() > 100);
        assert_eq!(
            a, b,
            "{h}: the package set after rollback differs from before"
        );
    }
    let same = json_ok(c, &["snapshot", "diff", &first_id, second_id]);
    for h in both {
        assert_eq!(
            super::lab_packages::diff_size(&host(&same, h)["diff"]),
            0,
            "{h}: {same}"
        );
    }

    // The hosts' own history has both transactions, with times.
    let history = json_ok(c, &["whatchanged", "--since", "1h"]);
    for h in both {
        let txs = host(&history, h)["transactions"]
            .as_array()
            .expect("list")
            .clone();
        let with = |action: &str| {
            txs.iter().find(|tx| {
                tx["changes"].as_array().is_some_and(|cs| {
                    cs.len() == ROUTINE.len() && cs.iter().all(|c| c["action"] == action)
                })
            })
        };
        let up = with("upgrade").unwrap_or_else(|| panic!("{h}: no upgrade transaction: {txs:?}"));
        let down = with("downgrade").unwrap_or_else(|| panic!("{h}: no downgrade transaction"));
        let (t1, t2) = (
            up["start"].as_str().expect("time"),
            down["start"].as_str().expect("time"),
        );
        assert!(t1.starts_with("20") && t1 <= t2, "{t1} {t2}");
    }

    // Feasibility: apply acme-api 1.1 again (1.0 is kept in the host cache), withdraw 1.0
    // from the repositories, and delete web-1's cached copy. rpm-1 goes back from its
    // cache; web-1 is refused before anything changes, naming the version.
    for (h, v) in [("web-1", "1.1"), ("rpm-1", "1.1-1")] {
        let pin = format!("acme-api={v}");
        json_ok(c, &["packages", "apply", "--hosts", h, "-p", &pin]);
    }
    lab.withdraw("acme-api=1.0");
    json_ok(c, &["packages", "--pending", "--hosts", "web-1"]); // refreshes apt's lists
    lab_ssh(
        &d,
        "web-1",
        "rm -f /var/cache/fearless/packages/acme-api_1.0_all.deb",
    );
    let rollback = ["packages", "rollback", "--snapshot", &first_id];
    let err = fails_as(c, "ops", 1, "acme-api=1.0 is in no repository", &rollback);
    assert!(
        err.contains("web-1: rollback would not be possible, nothing was changed"),
        "{err}"
    );
    let now = json_ok(c, &["packages"]);
    assert_eq!(
        version_of(&now, "web-1", "acme-api"),
        "1.1",
        "web-1 was left alone"
    );
    assert_eq!(
        version_of(&now, "rpm-1", "acme-api"),
        "1.0-1",
        "rpm-1 went back from its cache"
    );

    // The package lock: a dpkg run holds it; apply waits, then says who holds it.
    hold_dpkg_lock(&d, "web-1", 20);
    let started = Instant::now();
    let apply = [
        "packages",
        "apply",
        "--hosts",
        "web-1",
        "-p",
        "acme-docs=1.1",
    ];
    let held = "the package lock is held by process";
    let err = fails_as(
        c,
        "ops",
        3,
        held,
        &[&apply[..], &["--lock-wait", "3s"]].concat(),
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "it did not wait"
    );
    assert!(
        err.contains("(dpkg)") && err.contains("after waiting 3s"),
        "{err}"
    );

    // Apply refuses a change whose way back cannot be kept: the installed acme-docs 1.0 is
    // withdrawn from the repository and gone from the cache. `--force` goes ahead (once
    // the dpkg run above lets go of the lock) and says what it overrode.
    lab.withdraw("acme-docs=1.0");
    json_ok(
        c,
        &[
            "packages",
            "--pending",
            "--hosts",
            "web-1",
            "--lock-wait",
            "60s",
        ],
    );
    lab_ssh(
        &d,
        "web-1",
        "rm -f /var/cache/fearless/packages/acme-docs_1.0_all.deb",
    );
    let gone = "acme-docs=1.0: the version installed now is in no repository";
    fails_as(c, "ops", 1, gone, &apply);
    assert_eq!(
        version_of(&json_ok(c, &["packages"]), "web-1", "acme-docs"),
        "1.0"
    );
    let (_, err) = exits_as(c, "ops", 0, &[&apply[..], &["--force"]].concat());
    assert!(err.contains("warning: forced: acme-docs=1.0"), "{err}");
    assert_eq!(
        version_of(&json_ok(c, &["packages"]), "web-1", "acme-docs"),
        "1.1"
    );
}

pub(super) fn diff_size(d: &Value) -> usize {
    ["added", "removed", "upgraded", "downgraded", "marks"]
        .iter()
        .map(|k| d[k].as_array().map_or(0, Vec::len))
        .sum()
}
