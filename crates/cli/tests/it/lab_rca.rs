//! `fearless rca` from host evidence alone, on a hand-opened incident: web-1 took the
//! bad-libacme batch by hand and fails, web-2 took the same batch without libacme and
//! passes; the report picks libacme over the nine other packages, without a bisect, and
//! flags the hand-made changes as unrecorded. Needs root (CI runs as root).

use super::{TestLab, exits_as, fails_as, json_as, lab_ssh, ok_as};

#[test]
fn host_evidence_alone_names_libacme_and_flags_unrecorded_changes() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    lab.publish("bad-libacme");
    let (batch, without) = lab.bad_batch_files(c);
    // A process whose executable was replaced under it: the apply report lists it as
    // needing a restart (the /proc scan, this lab host having no needrestart).
    lab_ssh(
        &d,
        "web-1",
        "cp /bin/sleep /var/tmp/stale-sleep && (/var/tmp/stale-sleep 600 >/dev/null 2>&1 </dev/null &) && sleep 0.3 && rm /var/tmp/stale-sleep",
    );
    // By hand, outside any change record; the incident window starts just before (not
    // at `lab up`, whose own installs would be noise).
    std::thread::sleep(std::time::Duration::from_secs(2));
    let t0 = std::time::Instant::now();
    let apply = |host: &str, manifest: &str| {
        json_as(
            c,
            "ops",
            &["packages", "apply", "--hosts", host, "-m", manifest],
        )
    };
    let applied = apply("web-1", &batch);
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
    apply("web-2", &without);

    let since = format!("{}s", t0.elapsed().as_secs() + 1);
    let opened = json_as(
        c,
        "ops",
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

    let report = json_as(c, "ops", &["rca", &inc]);
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
    let md = ok_as(c, "ops", &["rca", &inc]);
    assert!(
        md.starts_with(&format!("# {inc}: orders 500 on web-1")),
        "{md}"
    );
    assert!(md.contains("### Unrecorded changes"), "{md}");
    fails_as(
        c,
        "ops",
        2,
        "there is no incident INC-99",
        &["rca", "INC-99"],
    );
    exits_as(c, "ops", 2, &["rca", &inc, "--format", "junit"]);
}
