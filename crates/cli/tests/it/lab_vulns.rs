//! `fearless vulns` and `fearless patch --fixes` on the lab, with the OSV feed `lab up`
//! writes (`DIR/osv`): libacme 1.0 on every bookworm host is affected by ACME-2099-0001
//! (CVE-2099-0001, fixed in 2.0.1), the Debian 13, release-less and npm records match no
//! host; the fix is refused while the repository does not offer it (nothing touched),
//! then, once `fixed-libacme` is published, the rollout pins exactly `libacme=2.0.1` and
//! `vulns` finds nothing after. Needs root (CI runs as root).

use super::{TestLab, exits_as, fails_as, json_as, json_exits_as, ok_as};

const ID: &str = "CVE-2099-0001";

fn findings(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    doc["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .flat_map(|h| h["findings"].as_array().expect("findings").iter())
        .collect()
}

#[track_caller]
fn libacme_on(config: &str, host: &str) -> String {
    let doc = json_as(config, "ops", &["packages", "--hosts", host]);
    doc["hosts"][0]["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "libacme"))
        .and_then(|p| p["version"].as_str())
        .expect("libacme")
        .to_owned()
}

#[test]
fn lab_vulns_before_and_after_patch_fixes() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    let feed = format!("{d}/osv");

    // Before: one advisory on both hosts, by source package, its fix not offered.
    let before = json_exits_as(c, "ops", 1, &["vulns", "--feed", &feed]);
    assert_eq!(before["schema"], "fearless.vulns/v1");
    let src = &before["feeds"][0];
    assert_eq!(src["records"], 4, "{src}");
    assert_eq!(
        src["scopes"],
        serde_json::json!({"debian 12": 1, "debian 13": 1})
    );
    assert_eq!(
        src["unmatched"],
        serde_json::json!({"Debian without a release": 1, "ecosystem npm": 1})
    );
    let found = findings(&before);
    assert_eq!(found.len(), 2, "{before:#}");
    for f in &found {
        assert_eq!(f["advisory"], "ACME-2099-0001");
        assert_eq!(f["aliases"], serde_json::json!([ID]));
        assert_eq!(
            (&f["package"], &f["by"]),
            (&"libacme".into(), &"source".into())
        );
        assert_eq!(
            (&f["installed"], &f["fixed"]),
            (&"1.0".into(), &"2.0.1".into())
        );
        assert_eq!(
            (&f["status"], &f["offered"]),
            (&"fixable".into(), &"no".into())
        );
    }
    assert_eq!(before["summary"]["affected_hosts"], 2);
    assert_eq!(before["summary"]["covered"], 2);
    let (human, _) = exits_as(c, "ops", 1, &["vulns", "--feed", &feed, "--hosts", "web-1"]);
    assert!(
        human.contains("ACME-2099-0001") && human.contains("libacme (source)"),
        "{human}"
    );
    assert!(
        human.contains("not matched: Debian without a release: 1, ecosystem npm: 1"),
        "{human}"
    );

    // A malformed feed: located, exit 2, no host contacted.
    let bad = lab.file("bad.json");
    std::fs::write(&bad, "{\"id\": \"X-1\",\n \"affected\": [").expect("write");
    let b = bad.display().to_string();
    fails_as(
        c,
        "ops",
        2,
        &format!("--feed: {b}:2:"),
        &["vulns", "--feed", &b],
    );

    // A change for the web hosts, approved and scheduled.
    let args = [
        "change",
        "new",
        "--title",
        "close CVE-2099-0001",
        "--hosts",
        "web-*",
        "--component",
        "orders-api",
    ];
    let id = json_as(c, "alice", &args)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    ok_as(c, "alice", &["change", "submit", &id]);
    ok_as(c, "bob", &["change", "approve", &id]);
    ok_as(c, "alice", &["change", "schedule", &id]);
    let patch = |extra: &[&'static str]| {
        let mut a: Vec<&str> = vec![
            "patch",
            "--change",
            id.as_str(),
            "--feed",
            feed.as_str(),
            "--fixes",
            ID,
        ];
        a.extend_from_slice(extra);
        a
    };

    // The fix is not offered yet: refused before any host changes; an unknown id is bad input.
    fails_as(
        c,
        "alice",
        1,
        "libacme 2.0.1 or later is not offered",
        &patch(&[]),
    );
    assert_eq!(libacme_on(c, "web-1"), "1.0");
    fails_as(
        c,
        "alice",
        2,
        "--fixes CVE-1999-0001: no advisory of the feed has that id or alias",
        &[
            "patch",
            "--change",
            &id,
            "--feed",
            &feed,
            "--fixes",
            "CVE-1999-0001",
        ],
    );

    // Published: offered (after a refresh), and the manifest is exactly the fix.
    lab.publish("fixed-libacme");
    let offered = json_exits_as(c, "ops", 1, &["vulns", "--feed", &feed, "--refresh"]);
    for f in findings(&offered) {
        assert_eq!(f["offered"], "yes", "{f}");
        assert_eq!(f["binaries"][0]["offered"], "2.0.1", "{f}");
    }
    let plan = json_as(c, "alice", &patch(&["--dry-run"]));
    assert_eq!(
        plan["manifest"],
        serde_json::json!(["libacme=2.0.1"]),
        "{plan}"
    );
    let line = plan["fixes"][0].as_str().expect("fixes");
    assert!(
        line.starts_with("ACME-2099-0001 (CVE-2099-0001): libacme fixed in 2.0.1 on web-1, web-2"),
        "{line}"
    );

    let done = json_as(c, "alice", &patch(&["--waves", "1,100%", "--bake", "0s"]));
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(libacme_on(c, "web-2"), "2.0.1");

    // After: nothing applies, exit 0.
    let after = json_as(c, "ops", &["vulns", "--feed", &feed]);
    assert!(findings(&after).is_empty(), "{after:#}");
    let (human, _) = exits_as(c, "ops", 0, &["vulns", "--feed", &feed]);
    assert!(
        human.contains("no advisory applies to the 2 host(s) the feeds cover"),
        "{human}"
    );
}
