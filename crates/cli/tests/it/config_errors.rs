//! Bad input: located messages on stderr, exit code 2, nothing run.

use super::{fearless, stderr, write_config};

#[test]
fn config_errors_are_located_and_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        "inventory:\n  hosts:\n    web-1: { adress: 10.0.0.1 }\ncomponents:\n  web:\n    runs_on: all\n    depends_on: [db]\n",
    );
    let out = fearless(&["check", "-c", &cfg]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("fearless.yaml:3:14"), "{err}");
    assert!(err.contains("unknown key `adress`"), "{err}");
    assert!(err.contains("did you mean `address`?"), "{err}");
    assert!(err.contains("unknown component `db`"), "{err}");
    assert!(err.contains("2 configuration errors"), "{err}");
}

#[test]
fn malformed_yaml_and_missing_file_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(dir.path(), "inventory: {hosts: [\n");
    let out = fearless(&["hosts", "-c", &cfg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("fearless.yaml:"), "{}", stderr(&out));
    let out = fearless(&["check", "-c", "/nonexistent/fearless.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read /nonexistent/fearless.yaml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_arguments_exit_2() {
    let out = fearless(&["check", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        "components:\n  db:\n    external: true\n    checks:\n      - { name: p, tcp: { address: \"127.0.0.1:9\" } }\n",
    );
    let out = fearless(&["check", "-c", &cfg, "--component", "dv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown component `dv`"),
        "{}",
        stderr(&out)
    );
    let out = fearless(&["check", "-c", &cfg, "--hosts", "a,,b"]);
    assert_eq!(out.status.code(), Some(2));
    let out = fearless(&["check", "-c", &cfg, "--baseline", "/nonexistent.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_refuses_bad_input_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let lab = dir.path().join("lab");
    let lab = lab.display().to_string();
    let out = fearless(&["demo", "--dir", &lab, "--bake", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--bake \"soon\""), "{}", stderr(&out));
    // A lab already up there (its state file) is not taken over, nor taken down.
    std::fs::create_dir_all(&lab).expect("mkdir");
    std::fs::write(dir.path().join("lab/state.json"), "{}").expect("write");
    let out = fearless(&["demo", "--dir", &lab]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a lab is already up in"),
        "{}",
        stderr(&out)
    );
    assert!(dir.path().join("lab/state.json").exists());
    // `rca` formats: md, html, json only.
    let out = fearless(&["rca", "INC-1", "--format", "tap"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
