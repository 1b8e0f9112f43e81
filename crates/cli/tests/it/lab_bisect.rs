//! `fearless bisect` on the lab: the bad-libacme batch on one host is narrowed to libacme
//! within ⌈log₂ n⌉ + 2 rounds (acme-api, which needs libacme, is not blamed), a batch
//! without it is "not reproducible", and the host ends on its snapshot, byte for byte.
//! Needs root (CI runs as root); fails, never skips, without it.

use super::{TestLab, fearless, stderr, stdout};
use serde_json::Value;

fn run(config: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["-c", config, "--as", "ops"];
    all.extend_from_slice(args);
    let out = fearless(&all);
    (out.status.code(), stdout(&out), stderr(&out))
}

fn json(config: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let (code, out, err) = run(config, &all);
    assert_eq!(code, Some(0), "fearless {args:?}:\n{out}\n{err}");
    serde_json::from_str(&out).expect("json")
}

#[test]
fn bisect_names_libacme_and_restores_the_host() {
    let lab = TestLab::up(&["--hosts", "1"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    assert_eq!(
        fearless(&["lab", "publish", "bad-libacme", "--dir", &d])
            .status
            .code(),
        Some(0)
    );

    // The batch the hosts are offered: routine plus libacme 2.0.
    let pending = json(c, &["packages", "--pending"]);
    let pins: Vec<String> = pending["hosts"][0]["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .map(|p| {
            format!(
                "{}={}",
                p["name"].as_str().expect("name"),
                p["to"].as_str().expect("to")
            )
        })
        .collect();
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

    let found = json(
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
            "orders-api/orders",
            "--check",
            "checkout/checkout",
        ],
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

    let none = json(
        c,
        &[
            "bisect",
            "--host",
            "web-1",
            "--snapshot",
            &id,
            "-m",
            &without.display().to_string(),
            "--check",
            "orders-api/orders",
        ],
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
