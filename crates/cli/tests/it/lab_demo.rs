//! `fearless demo` end to end on a fresh lab: its exit code says the story held (canary
//! caught, rolled back, bisected, reported; the fix through every wave; changes closed),
//! and the report of its incident is snapshot-tested with times and durations redacted.
//! Needs root (CI runs as root); fails, never skips, without it.

use super::{TestLab, fearless, run_ok, stderr};

#[test]
fn the_demo_story_holds_and_its_incident_report_is_stable() {
    let lab = TestLab::empty();
    let out = fearless(&["demo", "--dir", &lab.dir, "--hosts", "3", "--bake", "1s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("the story held"), "{}", stderr(&out));

    let dir = std::path::Path::new(&lab.dir);
    let report = std::fs::read_to_string(dir.join("INC-1.md")).expect("the demo writes INC-1.md");
    let html = std::fs::read_to_string(dir.join("INC-1.html")).expect("and INC-1.html");
    assert!(
        html.contains("<pre class=\"mermaid\">") && !html.contains("<script"),
        "{html}"
    );
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "[TIME]"),
        (r"\d{2}:\d{2} UTC", "[HH:MM] UTC"),
        (r"\| duration \| [^|]+ \|", "| duration | [DURATION] |"),
        (r"\d+(h|m|s)( \d+(m|s))? after the impact started", "[DURATION] after the impact started"),
    ]}, {
        insta::assert_snapshot!("demo_incident_report", report);
    });

    // The report is attached to the backed-out change, for its review.
    let shown = fearless(&["-c", &lab.config, "change", "show", "CHG-1"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("post-incident reports")
            && text.contains("INC-1: Upgrading libacme 1.0 → 2.0 on web-1"),
        "{text}"
    );

    // The story is in the journal, whose chain is intact.
    run_ok(&["-c", &lab.config, "journal", "verify"]);
}
