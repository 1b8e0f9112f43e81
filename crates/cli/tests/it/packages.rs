//! Package commands refuse bad input before any host is contacted and before anything is
//! written (the lab tests cover the real work, in `lab_packages`).

use super::{fails_as, run_as, write_config};

/// A host nobody listens on: if a command tried to reach it, the test would see an
/// "unreachable" error (exit 3) instead of the bad-input refusal (exit 2).
const CONFIG: &str = "inventory:\n  hosts:\n    web-1: { address: 127.0.0.1, port: 1 }\n";

#[test]
fn hostile_manifests_are_rejected_before_any_command_runs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), CONFIG);
    let manifest = tmp.path().join("m.txt");
    for (text, needle) in [
        (
            "acme-api=1.1\nacme;rm -rf /=1\n",
            "m.txt:2: invalid package name",
        ),
        (
            "acme-api=1.1 && reboot\n",
            "m.txt:1: package `acme-api`: invalid deb version",
        ),
        (
            "-oDpkg::Options::=--force-all=1\n",
            "must start with a letter or a digit",
        ),
        ("acme-api=$(id)\n", "invalid deb version"),
        ("acme-api\n", "expected `name=version`"),
        ("# only a comment\n", "the manifest is empty"),
    ] {
        std::fs::write(&manifest, text).expect("write");
        let m = manifest.display().to_string();
        let (code, _, err) = run_as(&config, "ops", &["packages", "apply", "-m", &m]);
        assert_eq!(code, Some(2), "{text:?}: {err}");
        assert!(err.contains(needle), "{text:?}: {err}");
    }
    let pins = ["packages", "apply", "-p", "libacme=2.0", "-p", "x=`id`"];
    fails_as(&config, "ops", 2, "--package:", &pins);
    assert!(
        !tmp.path().join(".fearless").exists(),
        "nothing may be written for a refused manifest"
    );
}

#[test]
fn bad_ids_durations_and_selectors_are_bad_input() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), CONFIG);
    for (args, needle) in [
        (
            vec!["snapshot", "diff", "SNAP-x", "--live"],
            "is not a snapshot id",
        ),
        (
            vec!["packages", "rollback", "--snapshot", "7"],
            "there is no snapshot SNAP-7",
        ),
        (vec!["whatchanged", "--since", "yesterday"], "--since"),
        (vec!["packages", "--lock-wait", "soon"], "--lock-wait"),
        (vec!["packages", "--hosts", "role=db"], "no host matches"),
        (vec!["packages", "--format", "tap"], "invalid value 'tap'"),
    ] {
        fails_as(&config, "ops", 2, needle, &args);
    }
}
