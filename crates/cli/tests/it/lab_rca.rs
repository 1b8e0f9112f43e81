//! `fearless rca` from host evidence alone, on a hand-opened incident: web-1 took the
//! bad-libacme batch by hand and fails, web-2 took the same batch without libacme and
//! passes; the report picks libacme over the nine other packages, without a bisect, and
//! flags the hand-made changes as unrecorded. Needs root (CI runs as root).

use super::{TestLab, fearless, json_as, pending_pins, run_as, stderr};
use serde_json::Value;

fn run(config: &str, args: &[&str]) -> (Option<i32>, String, String) {
    run_as(config, "ops", args)
}

fn json(config: &str, args: &[&str]) -> Value {
    json_as(config, "ops", args)
}

#[test]
fn host_evidence_alone_names_libacme_and_flags_unrecorded_changes() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    lab.publish("bad-libacme");
    let pins = pending_pins(c);
    assert_eq!(pins.len(), 10, "{pins:?}");
    let batch = lab.file("batch.txt");
    std::fs::write(&batch, pins.join("\n")).expect("write");
    let without = lab.file("without.txt");
    std::fs::write(
        &without,
        pins.iter()
            .filter(|p| !p.starts_with("libacme="))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("write");
    // A process whose executable was replaced under it: the apply report lists it as
    // needing a restart (the /proc scan, this lab host having no needrestart).
    let stale = fearless(&[
        "lab",
        "ssh",
        "web-1",
        "--dir",
        &d,
        "--",
        "sh",
        "-c",
        "cp /bin/sleep /var/tmp/stale-sleep && (/var/tmp/stale-sleep 600 >/dev/null 2>&1 </dev/null &) && sleep 0.3 && rm /var/tmp/stale-sleep",
    ]);
    assert_eq!(stale.status.code(), Some(0), "{}", stderr(&stale));
    // By hand, outside any change record; the incident window starts just before (not
    // at `lab up`, whose own installs would be noise).
    std::thread::sleep(std::time::Duration::from_secs(2));
    let t0 = std::time::Instant::now();
    let applied = json(
        c,
        &[
            "packages",
            "apply",
            "--hosts",
            "web-1",
            "-m",
            &batch.display().to_string(),
        ],
    );
    let restarts = &applied["hosts"][0]["restarts"];
    assert_eq!(restarts["restart_source"], "/proc scan", "{restarts}");
    assert!(
        restarts["processes"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p
                .as_str()
                .is_some_and(|p| p.ends_with(" /var/tmp/stale-sleep")))),
        "{restarts}"
    );
    json(
        c,
        &[
            "packages",
            "apply",
            "--hosts",
            "web-2",
            "-m",
            &without.display().to_string(),
        ],
    );

    let since = format!("{}s", t0.elapsed().as_secs() + 1);
    let opened = json(
        c,
        &[
            "incident",
            "open",
            "--component",
            "orders-api",
            "--since",
            &since,
            "--title",
            "orders 500 on web-1",
        ],
    );
    let inc = opened["incident"].as_str().expect("id").to_owned();
    let failing = opened["record"]["checks"].as_array().expect("checks");
    assert!(
        failing
            .iter()
            .any(|f| f["check"] == "orders" && f["host"] == "web-1"),
        "{failing:?}"
    );
    assert!(failing.iter().all(|f| f["host"] != "web-2"), "{failing:?}");

    let report = json(c, &["rca", &inc]);
    assert_eq!(report["schema"], "fearless.rca/v1");
    assert_eq!(
        report["culprits"],
        serde_json::json!(["libacme"]),
        "{}",
        report["candidates"]
    );
    assert_eq!(report["confirmed"], false);
    let top = &report["candidates"][0];
    assert_eq!(top["package"], "libacme");
    assert_eq!(top["changed_and_failing"], serde_json::json!(["web-1"]));
    for other in report["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .skip(1)
    {
        assert!(
            other["confidence"].as_f64().expect("confidence") < 0.6,
            "{other}"
        );
        assert_eq!(
            other["changed_and_passing"],
            serde_json::json!(["web-2"]),
            "{other}"
        );
    }
    let line = report["attribution"].as_str().expect("attribution");
    assert!(
        line.starts_with("Upgrading libacme 1.0 → 2.0 on web-1 broke check 'orders' of orders-api"),
        "{line}"
    );
    assert!(line.contains("inferred from host evidence"), "{line}");
    assert!(
        report["contributing_factors"]
            .to_string()
            .contains("unrecorded change"),
        "{}",
        report["contributing_factors"]
    );

    // Markdown is the default; a bad id is bad input.
    let (code, md, err) = run(c, &["rca", &inc]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        md.starts_with(&format!("# {inc}: orders 500 on web-1")),
        "{md}"
    );
    assert!(md.contains("### Unrecorded changes"), "{md}");
    let (code, _, err) = run(c, &["rca", "INC-99"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("there is no incident INC-99"), "{err}");
    let (code, _, err) = run(c, &["rca", &inc, "--format", "junit"]);
    assert_eq!(code, Some(2), "{err}");
}
