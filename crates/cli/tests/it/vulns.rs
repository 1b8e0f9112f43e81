//! `fearless vulns` without a lab: a `local` host (this machine) against a feed about its
//! own release, a host that cannot be read (exit 3, never called clean), a malformed feed
//! (exit 2, located, before any host), and `patch --fixes` without a feed.

use super::{exits_as, fails_as, json_exits_as, write_config};

/// This machine's `ID` and `VERSION_ID`.
fn own_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").expect("os-release");
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    (get("ID"), get("VERSION_ID"))
}

#[test]
fn vulns_on_this_machine_and_on_a_host_that_cannot_be_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (id, version) = own_release();
    // base-files is on every Debian and Ubuntu; version 999 is never installed nor offered.
    let eco = match id.as_str() {
        "debian" => format!("Debian:{version}"),
        "ubuntu" => format!("Ubuntu:{version}:LTS"),
        other => format!("{other}:{version}"),
    };
    let feed = tmp.path().join("feed.json");
    std::fs::write(
        &feed,
        format!(
            r#"{{"id": "T-1", "aliases": ["CVE-2099-9999"], "affected": [{{"package": {{"ecosystem": "{eco}", "name": "base-files"}},
               "ranges": [{{"type": "ECOSYSTEM", "events": [{{"introduced": "0"}}, {{"fixed": "999"}}]}}]}}]}}"#
        ),
    )
    .expect("feed");
    let f = feed.display().to_string();
    let local = write_config(
        tmp.path(),
        "inventory:\n  hosts:\n    here: { address: 127.0.0.1, transport: local }\n",
    );
    if id == "debian" || id == "ubuntu" {
        let doc = json_exits_as(&local, "ops", 1, &["vulns", "--feed", &f]);
        assert_eq!(doc["schema"], "fearless.vulns/v1");
        let h = &doc["hosts"][0];
        assert_eq!(h["covered"], true, "{h}");
        let finding = &h["findings"][0];
        assert_eq!(finding["package"], "base-files", "{finding}");
        assert_eq!(finding["by"], "source");
        assert_eq!(finding["fixed"], "999");
        assert_eq!(finding["offered"], "no");
    }
    // A host that cannot be read: exit 3, its error said, no summary of it as clean.
    let dead = tmp.path().join("dead");
    std::fs::create_dir(&dead).expect("dir");
    let dead = write_config(
        &dead,
        "inventory:\n  hosts:\n    gone: { address: 127.0.0.1, port: 1 }\n",
    );
    let doc = json_exits_as(&dead, "ops", 3, &["vulns", "--feed", &f]);
    let h = &doc["hosts"][0];
    assert_eq!(h["host"], "gone");
    assert!(h["error"]["message"].is_string(), "{h}");
    assert_eq!(doc["summary"]["errors"], 1);
    let (_, err) = exits_as(&dead, "ops", 3, &["vulns", "--feed", &f]);
    assert!(err.contains("error: gone: "), "{err}");
    // A malformed feed: bad input, located, before any host (the dead one is not tried).
    let bad = tmp.path().join("bad.xml");
    std::fs::write(&bad, "<updates>\n<update>\n</updates>\n").expect("bad");
    let b = bad.display().to_string();
    fails_as(
        &dead,
        "ops",
        2,
        &format!("--feed: {b}:3:"),
        &["vulns", "--feed", &b],
    );
    // --fixes needs the feed it names advisories of.
    fails_as(
        &dead,
        "alice",
        2,
        "--feed",
        &["patch", "--change", "CHG-1", "--fixes", "CVE-2099-9999"],
    );
}
