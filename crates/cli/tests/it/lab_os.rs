//! `fearless os` and `fearless parity` on the lab: every host's release, manager and
//! support on a fixed day (the lab's roots are Debian 12; the dnf host too, with dnf as its
//! manager); then web-2 gets one package web-1 does not have and another version of one
//! acme package, and `parity web-1 web-2` reports exactly those two (exit 1), or nothing
//! once `parity.ignore` allows them (exit 0). Needs root (CI runs as root).

use super::{TestLab, exits_as, fails_as, json_as, json_exits_as, lab_ssh};

/// Whether this machine can build the lab's dnf host (`scripts/test.sh` installs the tools).
fn rpm_tools() -> bool {
    ["/usr/bin/rpmbuild", "/usr/bin/createrepo_c"]
        .iter()
        .all(|p| std::path::Path::new(p).exists())
}

fn host<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["host"] == name)
        .unwrap_or_else(|| panic!("{name} in {doc}"))
}

#[test]
fn lab_os_statuses_and_parity_of_two_hosts() {
    let rpm = rpm_tools();
    let mut args = vec!["--hosts", "2"];
    if rpm {
        args.push("--rpm-host");
    }
    let lab = TestLab::up(&args);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());

    // The release, kernel and manager of every host, and Debian 12's tiers on 2026-12-04:
    // regular security support over (2026-07-11), LTS until 2028-06-30, ELTS after.
    let os = json_as(c, "ops", &["os", "--today", "2026-12-04"]);
    let mut names = vec!["web-1", "web-2"];
    if rpm {
        names.push("rpm-1");
    }
    assert_eq!(os["hosts"].as_array().expect("hosts").len(), names.len());
    for name in &names {
        let h = host(&os, name);
        assert_eq!(h["error"], serde_json::Value::Null, "{h}");
        assert_eq!(h["os"]["id"], "debian", "{h}");
        assert_eq!(h["os"]["codename"], "bookworm", "{h}");
        assert_eq!(h["release"], "debian 12");
        assert_eq!(
            h["manager"],
            if *name == "rpm-1" { "dnf" } else { "apt" },
            "{h}"
        );
        let s = &h["support"];
        assert_eq!(
            (&s["state"], &s["tier"]),
            (&"supported".into(), &"security".into()),
            "{s}"
        );
        let tiers = s["tiers"].as_array().expect("tiers");
        assert_eq!(
            tiers
                .iter()
                .map(|t| t["ends"].as_str().unwrap_or_default())
                .collect::<Vec<_>>(),
            ["2026-07-11", "2028-06-30", "2033-06-30"]
        );
        // From the host's own distro-info-data when it has one, else the embedded copy.
        let source = tiers[1]["source"].as_str().expect("source");
        assert!(
            source == format!("distro-info-data on {name} (/usr/share/distro-info/debian.csv)")
                || source.ends_with("(embedded)"),
            "{source}"
        );
    }
    let summary = json_as(c, "ops", &["os", "--summary", "--today", "2026-12-04"]);
    assert_eq!(summary["releases"][0]["release"], "debian 12");
    assert_eq!(summary["releases"][0]["count"], names.len());
    // Past every tier: exit 1; within 180 days of the last one: a warning, exit 0.
    let (out, _) = exits_as(
        c,
        "ops",
        1,
        &["os", "--today", "2033-06-30", "--hosts", "web-1"],
    );
    assert!(
        out.contains("web-1: debian 12 is past end of life since 2033-06-30"),
        "{out}"
    );
    let warned = json_as(
        c,
        "ops",
        &["os", "--today", "2033-01-01", "--hosts", "web-1"],
    );
    assert_eq!(host(&warned, "web-1")["support"]["state"], "warning");
    // A malformed table is a located error, before any host is contacted.
    let bad = lab.file("eol.json");
    std::fs::write(
        &bad,
        "{\"products\": {\"debian\": [\n  {\"releaseCycle\": 12}\n]}}",
    )
    .expect("write");
    let b = bad.display().to_string();
    fails_as(
        c,
        "ops",
        2,
        &format!("--eol-data: {b}:2:"),
        &["os", "--eol-data", &b],
    );

    // The two web hosts are alike.
    let same = json_as(c, "ops", &["parity", "web-1", "web-2"]);
    assert_eq!(same["differences"], 0, "{same}");

    // web-2: one package of its own, and acme-docs 1.1 where web-1 keeps 1.0.
    lab_ssh(
        &d,
        "web-2",
        "mkdir -p /tmp/extra/DEBIAN && printf 'Package: fearless-extra\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: lab <lab@example.org>\\nDescription: only on web-2\\n' > /tmp/extra/DEBIAN/control && dpkg-deb --build /tmp/extra /tmp/extra.deb >/dev/null && dpkg -i /tmp/extra.deb >/dev/null",
    );
    lab.publish("routine");
    // Refreshes web-2's lists, so the new version is offered there.
    json_as(c, "ops", &["packages", "--pending", "--hosts", "web-2"]);
    json_as(
        c,
        "ops",
        &[
            "packages",
            "apply",
            "--hosts",
            "web-2",
            "-p",
            "acme-docs=1.1",
        ],
    );

    let differ = json_exits_as(c, "ops", 1, &["parity", "web-1", "web-2"]);
    assert_eq!(differ["schema"], "fearless.parity/v1");
    assert_eq!(differ["differences"], 2, "{differ}");
    assert_eq!(
        differ["packages"],
        serde_json::json!([{"name": "fearless-extra", "arch": "all", "side": "b", "versions": ["1.0"], "hosts": ["web-2"], "ignored": false}])
    );
    assert_eq!(
        differ["skew"],
        serde_json::json!([{"name": "acme-docs", "arch": "all", "a": ["1.0"], "b": ["1.1"], "newer": "b", "ignored": false}])
    );
    assert_eq!(differ["releases"]["differ"], false);
    assert_eq!(differ["ports"], serde_json::json!([]));
    assert_eq!(differ["components"], serde_json::json!([]));
    let (human, _) = exits_as(c, "ops", 1, &["parity", "web-1", "web-2"]);
    assert!(human.contains("fearless-extra:all"), "{human}");
    assert!(human.contains("B newer"), "{human}");

    // Allowed: exit 0, both said as ignored.
    let allowed = lab.config_variant("allowed", |t| {
        format!("{t}\nparity:\n  ignore: [\"package:fearless-extra\", \"package:acme-docs\"]\n")
    });
    let ok = json_as(&allowed, "ops", &["parity", "web-1", "web-2"]);
    assert_eq!(
        (&ok["differences"], &ok["ignored"]),
        (&0.into(), &2.into()),
        "{ok}"
    );
    assert_eq!(ok["skew"][0]["ignored"], true);

    if rpm {
        // Another family: every acme package differs in version, and no side is "newer"
        // (dpkg and rpm versions do not compare).
        let mixed = json_exits_as(c, "ops", 1, &["parity", "web-1", "rpm-1"]);
        let libacme = mixed["skew"]
            .as_array()
            .expect("skew")
            .iter()
            .find(|s| s["name"] == "libacme")
            .unwrap_or_else(|| panic!("{mixed}"));
        assert_eq!(libacme["newer"], serde_json::Value::Null, "{libacme}");
    }
}
