//! `fearless bisect` on the lab: the bad-libacme batch on one host is narrowed to libacme
//! within ⌈log₂ n⌉ + 2 rounds (acme-api, which needs libacme, is not blamed), a batch
//! without it is "not reproducible", and the host ends on its snapshot, byte for byte.
//! With filler packages: one culprit among 12 within the bound, a pair that fails only
//! together, a flaky round re-run and not trusted. Needs root (CI runs as root); fails,
//! never skips, without it.

use super::{TestLab, fearless, json_as, pending_pins, run_as};
use serde_json::Value;

fn run(config: &str, args: &[&str]) -> (Option<i32>, String, String) {
    run_as(config, "ops", args)
}

fn json(config: &str, args: &[&str]) -> Value {
    json_as(config, "ops", args)
}

#[test]
fn bisect_names_libacme_and_restores_the_host() {
    let lab = TestLab::up(&["--hosts", "1"]);
    let c = lab.config.as_str();
    lab.publish("bad-libacme");

    // The batch the hosts are offered: routine plus libacme 2.0.
    let pins = pending_pins(c);
    assert_eq!(pins.len(), 10, "{pins:?}");
    let batch = lab.file("batch.txt");
    std::fs::write(&batch, pins.join("\n")).expect("write");
    let without = lab.file("routine.txt");
    std::fs::write(
        &without,
        pins.iter()
            .filter(|p| !p.starts_with("libacme="))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("write");
    let snap = json(c, &["snapshot"]);
    let id = snap["id"].as_str().expect("id").to_owned();

    // Bad input first: a check that does not exist, and a malformed one.
    let (code, _, err) = run(
        c,
        &[
            "bisect",
            "--host",
            "web-1",
            "--snapshot",
            &id,
            "-m",
            &batch.display().to_string(),
            "--check",
            "orders-api/nope",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no check `orders-api/nope`"), "{err}");
    let (code, _, err) = run(
        c,
        &[
            "bisect",
            "--host",
            "web-1",
            "--snapshot",
            &id,
            "-m",
            &batch.display().to_string(),
            "--check",
            "orders",
        ],
    );
    assert_eq!(code, Some(2), "{err}");

    let found = bisect_on(
        c,
        &id,
        &batch.display().to_string(),
        &["orders-api/orders", "checkout/checkout"],
    );
    let report = &found["report"];
    assert_eq!(report["verdict"]["verdict"], "culprits", "{report}");
    assert_eq!(
        report["verdict"]["packages"],
        serde_json::json!(["libacme"]),
        "{report}"
    );
    let rounds = report["rounds"].as_array().expect("rounds").len();
    assert!(
        rounds <= 6,
        "{rounds} rounds for 1 culprit among 10 (bound ⌈log₂ 10⌉ + 2 = 6)"
    );
    assert_eq!(report["restored"], true);

    let none = bisect_on(
        c,
        &id,
        &without.display().to_string(),
        &["orders-api/orders"],
    );
    assert_eq!(
        none["report"]["verdict"]["verdict"], "not-reproducible",
        "{none}"
    );

    // The host is back on its snapshot, byte for byte.
    let diff = json(c, &["snapshot", "diff", &id, "--live"]);
    let d0 = &diff["hosts"][0]["diff"];
    for k in ["added", "removed", "upgraded", "downgraded", "marks"] {
        assert_eq!(d0[k].as_array().map(Vec::len), Some(0), "{k}: {diff}");
    }
    let journal = json(c, &["journal", "--subject", "host:web-1"]);
    assert!(journal.to_string().contains("bisect.finished"));
}

/// `fearless bisect` on web-1 from `snapshot` over `manifest` against `checks`, as JSON.
fn bisect_on(config: &str, snapshot: &str, manifest: &str, checks: &[&str]) -> Value {
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
    json(config, &args)
}

/// The lab's config with one more component, written beside it (its paths are relative).
fn with_component(lab: &TestLab, name: &str, yaml: &str) -> String {
    let text = std::fs::read_to_string(&lab.config).expect("lab config");
    let extended = text.replacen("components:\n", &format!("components:\n{yaml}"), 1);
    let path = std::path::Path::new(&lab.dir).join(format!("{name}.yaml"));
    std::fs::write(&path, extended).expect("write config");
    path.display().to_string()
}

fn pins_file(lab: &TestLab, name: &str, pins: &[String]) -> String {
    let path = lab.file(name);
    std::fs::write(&path, pins.join("\n")).expect("write");
    path.display().to_string()
}

#[test]
fn bisect_bounds_rounds_narrows_an_interacting_pair_and_re_runs_a_flaky_round() {
    let lab = TestLab::up(&["--hosts", "1"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    for args in [
        vec!["lab", "publish", "bad-libacme", "--dir", d.as_str()],
        vec!["lab", "extras", "8", "--dir", d.as_str()],
    ] {
        assert_eq!(fearless(&args).status.code(), Some(0), "{args:?}");
    }
    let batch = pending_pins(c);
    assert_eq!(batch.len(), 10, "{batch:?}");
    let extras: Vec<String> = (1..=8).map(|i| format!("acme-extra-{i:02}=1.0")).collect();
    let id = json(c, &["snapshot"])["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // One culprit among 12: libacme, within ⌈log₂ 12⌉ + 2 = 6 rounds.
    let twelve: Vec<String> = batch.iter().chain(&extras[..2]).cloned().collect();
    let m = pins_file(&lab, "twelve.txt", &twelve);
    let found = bisect_on(c, &id, &m, &["orders-api/orders"]);
    let report = &found["report"];
    assert_eq!(
        report["verdict"]["packages"],
        serde_json::json!(["libacme"]),
        "{report}"
    );
    let rounds = report["rounds"].as_array().expect("rounds").len();
    assert!(rounds <= 6, "{rounds} rounds for 1 culprit among 12");
    assert_eq!(report["restored"], true);

    // Two packages that fail only together: acme-extra-03 and acme-extra-07.
    let pair = with_component(
        &lab,
        "pair",
        "  extras:\n    runs_on: \"role=web\"\n    checks:\n      - { name: pair, command: { run: [\"sh\", \"-c\", \"[ ! -e /usr/share/doc/acme-extra-03/README ] || [ ! -e /usr/share/doc/acme-extra-07/README ]\"] } }\n",
    );
    let m = pins_file(&lab, "extras.txt", &extras);
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
    let m = pins_file(&lab, "batch.txt", &batch);
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
    let diff = json(c, &["snapshot", "diff", &id, "--live"]);
    let d0 = &diff["hosts"][0]["diff"];
    for k in ["added", "removed", "upgraded", "downgraded", "marks"] {
        assert_eq!(d0[k].as_array().map(Vec::len), Some(0), "{k}: {diff}");
    }
}
