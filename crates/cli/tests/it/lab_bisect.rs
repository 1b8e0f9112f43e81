//! `fearless bisect` on the lab: the bad-libacme batch on one host is narrowed to libacme
//! within ⌈log₂ n⌉ + 2 rounds (acme-api, which needs libacme, is not blamed), a batch
//! without it is "not reproducible", and the host ends on its snapshot, byte for byte.
//! With filler packages: one culprit among 12 within the bound, a pair that fails only
//! together, a flaky round re-run and not trusted. Needs root (CI runs as root); fails,
//! never skips, without it.

use super::{TestLab, exits_as, fails_as, json_as, pending_pins, run_ok};
use serde_json::Value;

#[test]
fn bisect_names_libacme_and_restores_the_host() {
    let lab = TestLab::up(&["--hosts", "1"]);
    let c = lab.config.as_str();
    lab.publish("bad-libacme");

    // The batch the hosts are offered: routine plus libacme 2.0.
    let (batch, without) = lab.bad_batch_files(c);
    let id = snapshot(c);

    // Bad input first: a check that does not exist, and a malformed one.
    let nope = bisect_args(&id, &batch, &["orders-api/nope"]);
    fails_as(c, "ops", 2, "no check `orders-api/nope`", &nope);
    exits_as(c, "ops", 2, &bisect_args(&id, &batch, &["orders"]));

    let found = bisect_on(c, &id, &batch, &["orders-api/orders", "checkout/checkout"]);
    let report = &found["report"];
    assert_eq!(report["verdict"]["verdict"], "culprits", "{report}");
    assert_libacme(report);
    let rounds = report["rounds"].as_array().expect("rounds").len();
    assert!(
        rounds <= 6,
        "{rounds} rounds for 1 culprit among 10 (bound ⌈log₂ 10⌉ + 2 = 6)"
    );

    let none = bisect_on(c, &id, &without, &["orders-api/orders"]);
    assert_eq!(
        none["report"]["verdict"]["verdict"], "not-reproducible",
        "{none}"
    );

    // The host is back on its snapshot, byte for byte.
    assert_on_snapshot(c, &id);
    let journal = json_as(c, "ops", &["journal", "--subject", "host:web-1"]);
    assert!(journal.to_string().contains("bisect.finished"));
}

/// A new snapshot of the lab; its id.
#[track_caller]
fn snapshot(config: &str) -> String {
    json_as(config, "ops", &["snapshot"])["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// `bisect` on web-1 from `snapshot` over `manifest` against `checks`.
fn bisect_args<'a>(snapshot: &'a str, manifest: &'a str, checks: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "bisect",
        "--host",
        "web-1",
        "--snapshot",
        snapshot,
        "-m",
        manifest,
    ];
    for c in checks {
        args.extend(["--check", c]);
    }
    args
}

/// `fearless bisect` on web-1 from `snapshot` over `manifest` against `checks`, as JSON.
#[track_caller]
fn bisect_on(config: &str, snapshot: &str, manifest: &str, checks: &[&str]) -> Value {
    json_as(config, "ops", &bisect_args(snapshot, manifest, checks))
}

/// Require a bisect report that blames libacme alone and restored the host.
#[track_caller]
fn assert_libacme(report: &Value) {
    assert_eq!(
        report["verdict"]["packages"],
        serde_json::json!(["libacme"]),
        "{report}"
    );
    assert_eq!(report["restored"], true);
}

/// Require web-1 to be on `snapshot`, byte for byte (nothing in `snapshot diff --live`).
#[track_caller]
fn assert_on_snapshot(config: &str, snapshot: &str) {
    let diff = json_as(config, "ops", &["snapshot", "diff", snapshot, "--live"]);
    let d0 = &diff["hosts"][0]["diff"];
    for k in ["added", "removed", "upgraded", "downgraded", "marks"] {
        assert_eq!(d0[k].as_array().map(Vec::len), Some(0), "{k}: {diff}");
    }
}

/// The lab's config with one more component, written beside it (its paths are relative).
fn with_component(lab: &TestLab, name: &str, yaml: &str) -> String {
    lab.config_variant(name, |text| {
        text.replacen("components:\n", &format!("components:\n{yaml}"), 1)
    })
}

#[test]
fn bisect_bounds_rounds_narrows_an_interacting_pair_and_re_runs_a_flaky_round() {
    let lab = TestLab::up(&["--hosts", "1"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    lab.publish("bad-libacme");
    run_ok(&["lab", "extras", "8", "--dir", d.as_str()]);
    let batch = pending_pins(c);
    assert_eq!(batch.len(), 10, "{batch:?}");
    let extras: Vec<String> = (1..=8).map(|i| format!("acme-extra-{i:02}=1.0")).collect();
    let id = snapshot(c);

    // One culprit among 12: libacme, within ⌈log₂ 12⌉ + 2 = 6 rounds.
    let twelve: Vec<String> = batch.iter().chain(&extras[..2]).cloned().collect();
    let m = lab.pins_file("twelve.txt", &twelve);
    let found = bisect_on(c, &id, &m, &["orders-api/orders"]);
    let report = &found["report"];
    assert_libacme(report);
    let rounds = report["rounds"].as_array().expect("rounds").len();
    assert!(rounds <= 6, "{rounds} rounds for 1 culprit among 12");

    // Two packages that fail only together: acme-extra-03 and acme-extra-07.
    let pair = with_component(
        &lab,
        "pair",
        "  extras:\n    runs_on: \"role=web\"\n    checks:\n      - { name: pair, command: { run: [\"sh\", \"-c\", \"[ ! -e /usr/share/doc/acme-extra-03/README ] || [ ! -e /usr/share/doc/acme-extra-07/README ]\"] } }\n",
    );
    let m = lab.pins_file("extras.txt", &extras);
    let together = bisect_on(&pair, &id, &m, &["extras/pair"]);
    assert_eq!(
        together["report"]["verdict"]["packages"],
        serde_json::json!(["acme-extra-03", "acme-extra-07"]),
        "{together}"
    );
    assert_eq!(together["report"]["restored"], true);

    // A check that fails once, on the first subset round (its third run): that round is
    // re-run, passes, is marked flaky, and the verdict stays libacme.
    let flaky = with_component(
        &lab,
        "flaky",
        "  flaky:\n    runs_on: \"role=web\"\n    checks:\n      - { name: once, command: { run: [\"sh\", \"-c\", \"n=$(cat /var/tmp/flaky-n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /var/tmp/flaky-n; [ $n -ne 3 ]\"] } }\n",
    );
    let m = lab.pins_file("batch.txt", &batch);
    let shaky = bisect_on(&flaky, &id, &m, &["orders-api/orders", "flaky/once"]);
    let report = &shaky["report"];
    assert_eq!(
        report["verdict"]["packages"],
        serde_json::json!(["libacme"]),
        "{report}"
    );
    let flaky_rounds: Vec<&Value> = report["rounds"]
        .as_array()
        .expect("rounds")
        .iter()
        .filter(|r| r["flaky"] == true)
        .collect();
    assert_eq!(flaky_rounds.len(), 1, "{report}");
    assert_eq!(flaky_rounds[0]["failed"], false, "{report}");

    // Back on the snapshot, byte for byte.
    assert_on_snapshot(c, &id);
}
