//! Bad input: located messages on stderr, exit code 2, nothing run.

use super::{exits, fails_with, write_config};

#[test]
fn config_errors_are_located_and_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        "inventory:\n  hosts:\n    web-1: { adress: 10.0.0.1 }\ncomponents:\n  web:\n    runs_on: all\n    depends_on: [db]\n",
    );
    let err = fails_with(2, "fearless.yaml:3:14", &["check", "-c", &cfg]);
    assert!(err.contains("unknown key `adress`"), "{err}");
    assert!(err.contains("did you mean `address`?"), "{err}");
    assert!(err.contains("unknown component `db`"), "{err}");
    assert!(err.contains("2 configuration errors"), "{err}");
}

#[test]
fn malformed_yaml_and_missing_file_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(dir.path(), "inventory: {hosts: [\n");
    fails_with(2, "fearless.yaml:", &["hosts", "-c", &cfg]);
    let missing = "/nonexistent/fearless.yaml";
    fails_with(
        2,
        &format!("cannot read {missing}"),
        &["check", "-c", missing],
    );
}

#[test]
fn bad_arguments_exit_2() {
    exits(2, &["check", "--format", "yaml"]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        "components:\n  db:\n    external: true\n    checks:\n      - { name: p, tcp: { address: \"127.0.0.1:9\" } }\n",
    );
    let unknown = "unknown component `dv`";
    fails_with(2, unknown, &["check", "-c", &cfg, "--component", "dv"]);
    exits(2, &["check", "-c", &cfg, "--hosts", "a,,b"]);
    exits(2, &["check", "-c", &cfg, "--baseline", "/nonexistent.json"]);
}

#[test]
fn demo_refuses_bad_input_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let lab = dir.path().join("lab");
    let lab = lab.display().to_string();
    fails_with(
        2,
        "--bake \"soon\"",
        &["demo", "--dir", &lab, "--bake", "soon"],
    );
    // A lab already up there (its state file) is not taken over, nor taken down.
    std::fs::create_dir_all(&lab).expect("mkdir");
    std::fs::write(dir.path().join("lab/state.json"), "{}").expect("write");
    fails_with(2, "a lab is already up in", &["demo", "--dir", &lab]);
    assert!(dir.path().join("lab/state.json").exists());
    // `rca` formats: md, html, json only.
    exits(2, &["rca", "INC-1", "--format", "tap"]);
}
