//! `fearless scan` end to end: the exit codes (0 clean, 1 findings, 2 bad input), the human
//! frame, JSON, SARIF, a baseline written then honoured.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scan/tests/corpus/python")
}

fn fearless(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("fearless runs")
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

#[test]
fn scan_human_json_sarif_and_exit_codes() {
    let root = corpus();
    let out = fearless(&[os("scan"), root.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("app.py:10:5: injection command built from data"),
        "{text}"
    );
    assert!(
        text.contains("= fix: run the program with an argument list"),
        "{text}"
    );
    assert!(
        text.contains("lock-in message-broker SDK used directly from 2 modules"),
        "{text}"
    );

    let out = fearless(&[os("scan"), root.as_os_str(), os("--format"), os("json")]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["schema"], "fearless.scan/v1");
    assert_eq!(json["suppressed"], 1);

    let out = fearless(&[os("scan"), root.as_os_str(), os("--format"), os("sarif")]);
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sarif");
    assert_eq!(sarif["version"], "2.1.0");

    let clean = tempfile::tempdir().expect("tempdir");
    std::fs::write(clean.path().join("ok.py"), "print('hi')\n").expect("write");
    let out = fearless(&[os("scan"), clean.path().as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = fearless(&[os("scan"), root.as_os_str(), os("--select"), os("nope")]);
    assert_eq!(out.status.code(), Some(2));
    let out = fearless(&[os("scan"), clean.path().join("missing").as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn scan_baseline_and_bad_rules() {
    let root = corpus();
    let dir = tempfile::tempdir().expect("tempdir");
    let baseline = dir.path().join("baseline.json");
    let out = fearless(&[
        os("scan"),
        root.as_os_str(),
        os("--write-baseline"),
        baseline.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = fearless(&[
        os("scan"),
        root.as_os_str(),
        os("--baseline"),
        baseline.as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(
        rules.join("broken.yml"),
        "id: x\nlanguage: python\nrule: [\n",
    )
    .expect("write");
    let out = fearless(&[
        os("scan"),
        root.as_os_str(),
        os("--rules"),
        rules.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.yml"));
}
