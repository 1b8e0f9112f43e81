//! `fearless os` and `fearless parity` without a lab: `local` hosts read this machine
//! (a Debian with its own distro-info-data), a fixed day, a newer table, a malformed one,
//! and the refusals that come before any host is contacted.

use super::{fails_as, json_exits_as, run_as, write_config};

const LOCAL: &str = "inventory:\n  hosts:\n    here: { address: 127.0.0.1, transport: local }\n    there: { address: 127.0.0.1, transport: local }\ncomponents:\n  web:\n    runs_on: here\n    checks:\n      - { name: up, tcp: { address: \"{host.address}:1\" } }\n";

/// This machine's os-release, as the test reads it itself.
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
fn os_reads_the_local_host_with_a_fixed_day() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), LOCAL);
    let doc = json_exits_as(&config, "ops", 0, &["os", "--today", "2026-12-04"]);
    assert_eq!(doc["schema"], "fearless.os/v1");
    assert_eq!(doc["today"], "2026-12-04");
    let hosts = doc["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 2);
    let (id, version) = own_release();
    let h = &hosts[0];
    assert_eq!(h["host"], "here");
    assert_eq!(h["os"]["id"], id.as_str());
    assert_eq!(h["release"], format!("{id} {version}").as_str());
    assert!(!h["kernel"].as_str().expect("kernel").is_empty());
    if id == "debian" && version == "12" {
        // This machine: Debian 12, its own distro-info-data named as the source.
        assert_eq!(h["manager"], "apt");
        assert_eq!(h["support"]["state"], "supported");
        assert_eq!(h["support"]["tier"], "security");
        let tiers = h["support"]["tiers"].as_array().expect("tiers");
        assert_eq!(tiers[0]["ends"], "2026-07-11");
        assert_eq!(tiers[0]["ended"], true);
        assert_eq!(tiers[1]["program"], "LTS");
        if std::path::Path::new("/usr/share/distro-info/debian.csv").exists() {
            assert_eq!(
                tiers[1]["source"],
                "distro-info-data on here (/usr/share/distro-info/debian.csv)"
            );
        }
        // Past every tier: exit 1, said in the human view.
        let (code, out, _) = run_as(&config, "ops", &["os", "--today", "2040-01-01"]);
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("here: debian 12 is past end of life since 2033-06-30"),
            "{out}"
        );
        // Within 180 days of the last tier: a warning, exit 0.
        let (code, out, _) = run_as(&config, "ops", &["os", "--today", "2033-03-01"]);
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains(
                "warning: here: debian 12's last support tier ends 2033-06-30, in 121 day(s)"
            ),
            "{out}"
        );
        // The day from the environment, for scripts and tests.
        let out = super::fearless(&["-c", &config, "os", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
            .args(["-c", &config, "os", "--format", "json"])
            .env("FEARLESS_TODAY", "2040-01-01")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
    }

    let summary = json_exits_as(
        &config,
        "ops",
        0,
        &["os", "--summary", "--today", "2026-12-04"],
    );
    assert_eq!(summary["schema"], "fearless.os-summary/v1");
    assert_eq!(summary["releases"][0]["count"], 2);
    assert_eq!(
        summary["releases"][0]["hosts"],
        serde_json::json!(["here", "there"])
    );
}

#[test]
fn a_newer_table_wins_and_a_malformed_one_is_a_located_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), LOCAL);
    let (id, version) = own_release();
    let product = if id == "amzn" {
        "amazon-linux".to_owned()
    } else {
        id
    };
    let cycle = version.split('.').next().unwrap_or_default().to_owned();
    let newer = tmp.path().join("newer.json");
    std::fs::write(
        &newer,
        format!(
            r#"{{"date": "2026-12-01", "products": {{"{product}": [{{"releaseCycle": "{cycle}", "eoas": "2026-01-01", "eol": "2026-06-01", "eoes": "2026-12-01", "source": "a test"}}]}}}}"#
        ),
    )
    .expect("write");
    let n = newer.display().to_string();
    let doc = json_exits_as(
        &config,
        "ops",
        1,
        &["os", "--eol-data", &n, "--today", "2026-12-04"],
    );
    let s = &doc["hosts"][0]["support"];
    assert_eq!(s["state"], "end-of-life");
    assert_eq!(s["tiers"][0]["source"], format!("{n} — a test").as_str());
    assert_eq!(doc["tables"][0], n.as_str());

    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\"products\": {\"debian\": [\n  {\"releaseCycle\": \"12\", \"eol\": \"2026-02-30\"}\n]}}",
    )
    .expect("write");
    let b = bad.display().to_string();
    let err = fails_as(&config, "ops", 2, "--eol-data: ", &["os", "--eol-data", &b]);
    assert!(
        err.contains(&format!("{b}:2:")) && err.contains("\"2026-02-30\" is not a day"),
        "{err}"
    );
    fails_as(
        &config,
        "ops",
        2,
        "--today \"soon\"",
        &["os", "--today", "soon"],
    );
    fails_as(
        &config,
        "ops",
        2,
        "no host matches",
        &["os", "--hosts", "nobody"],
    );
    let dir = tmp.path().display().to_string();
    fails_as(
        &config,
        "ops",
        2,
        "--eol-data: ",
        &["os", "--eol-data", &dir],
    );
}

#[test]
fn parity_between_two_local_hosts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), LOCAL);
    // Same machine on both sides: the same release and packages; `web` runs on `here` only.
    let doc = json_exits_as(&config, "ops", 1, &["parity", "here", "there"]);
    assert_eq!(doc["schema"], "fearless.parity/v1");
    assert_eq!(doc["a"]["hosts"], serde_json::json!(["here"]));
    assert_eq!(doc["releases"]["differ"], false);
    assert_eq!(doc["packages"], serde_json::json!([]));
    assert_eq!(doc["skew"], serde_json::json!([]));
    assert_eq!(
        doc["components"],
        serde_json::json!([{"name": "web", "side": "a", "ignored": false}])
    );
    let ports = doc["ports"].as_array().expect("ports").len();
    assert_eq!(doc["differences"], 1 + ports);

    // Allowed by the config: exit 0 (unless a listener came or went between the samples).
    let allowed = write_config(
        tmp.path(),
        &format!("{LOCAL}parity:\n  ignore: [\"component:web\"]\n"),
    );
    let (code, out, err) = run_as(&allowed, "ops", &["parity", "here", "there"]);
    if out.contains("port ") {
        assert_eq!(code, Some(1), "{out}{err}");
    } else {
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(
            out.contains("no difference outside parity.ignore (1 ignored)"),
            "{out}"
        );
    }

    fails_as(
        &allowed,
        "ops",
        2,
        "here on both sides",
        &["parity", "here", "all"],
    );
    fails_as(
        &allowed,
        "ops",
        2,
        "side B (`nobody`) matches no host",
        &["parity", "here", "nobody"],
    );
    fails_as(&allowed, "ops", 2, "side A:", &["parity", "a,,b", "there"]);
}
