//! Change records and the journal through the binary, on SQLite and on PostgreSQL.

use super::{fearless, stderr, stdout, write_config};

const CONFIG: &str = "inventory:\n  hosts:\n    web-1: { address: 10.9.0.1, labels: { role: web } }\n    web-2: { address: 10.9.0.2, labels: { role: web } }\ncomponents:\n  checkout:\n    runs_on: \"role=web\"\n    depends_on: [orders-api]\n  orders-api:\n    runs_on: \"role=web\"\nchange:\n  approvals_required: 1\n";

struct Env {
    _dir: tempfile::TempDir,
    config: String,
    store: String,
    /// A PostgreSQL database this test created, dropped at the end.
    database: Option<String>,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(db) = &self.database {
            let _ = std::process::Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
                .arg(format!("drop database if exists {db} with (force)"))
                .output();
        }
    }
}

impl Env {
    fn run(&self, args: &[&str], actor: &str) -> std::process::Output {
        let mut all = vec![
            "-c",
            self.config.as_str(),
            "--store",
            self.store.as_str(),
            "--as",
            actor,
        ];
        all.extend_from_slice(args);
        fearless(&all)
    }

    fn ok(&self, args: &[&str], actor: &str) -> String {
        let out = self.run(args, actor);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} as {actor}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    fn state(&self, id: &str) -> String {
        let v: serde_json::Value =
            serde_json::from_str(&self.ok(&["change", "show", id, "--format", "json"], "reader"))
                .expect("json");
        v["state"].as_str().expect("state").to_owned()
    }
}

fn sqlite_env() -> Env {
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(dir.path(), CONFIG);
    let store = format!("sqlite:{}", dir.path().join("state.db").display());
    Env {
        _dir: dir,
        config,
        store,
        database: None,
    }
}

/// A fresh PostgreSQL database on the local server (trust auth), named after this process.
fn postgres_env(tag: &str) -> Env {
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(dir.path(), CONFIG);
    let db = format!("fearless_cli_{tag}_{}", std::process::id());
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
        ])
        .arg(format!("drop database if exists {db}"))
        .arg("-c")
        .arg(format!("create database {db}"))
        .output()
        .expect("psql (PostgreSQL must be reachable at 127.0.0.1:5432)");
    assert!(
        out.status.success(),
        "create database: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Env {
        _dir: dir,
        config,
        store: format!("postgres://postgres@127.0.0.1:5432/{db}"),
        database: Some(db),
    }
}

fn full_flow(env: &Env) {
    let created: serde_json::Value = serde_json::from_str(&env.ok(
        &[
            "change",
            "new",
            "--title",
            "Patch libacme",
            "--hosts",
            "web-1",
            "--component",
            "orders-api",
            "--format",
            "json",
        ],
        "alice",
    ))
    .expect("json");
    assert_eq!(created["number"], 1);
    assert_eq!(env.state("CHG-1"), "new");
    env.ok(&["change", "submit", "CHG-1"], "alice");
    assert_eq!(env.state("CHG-1"), "authorize");
    // Separation of duties: the requester cannot approve (a gate: exit 1), nothing written.
    let own = env.run(&["change", "approve", "CHG-1"], "alice");
    assert_eq!(own.status.code(), Some(1));
    assert!(
        stderr(&own).contains("separation of duties"),
        "{}",
        stderr(&own)
    );
    assert_eq!(env.state("CHG-1"), "authorize");
    env.ok(&["change", "approve", "CHG-1"], "bob");
    assert_eq!(env.state("CHG-1"), "scheduled");
    // An illegal transition names what is allowed (bad input: exit 2).
    let illegal = env.run(&["change", "close", "CHG-1"], "alice");
    assert_eq!(illegal.status.code(), Some(2));
    assert!(stderr(&illegal).contains("allowed"), "{}", stderr(&illegal));
    env.ok(&["change", "schedule", "CHG-1"], "alice");
    env.ok(&["change", "start", "CHG-1"], "alice");
    env.ok(
        &["change", "complete", "CHG-1", "--code", "successful"],
        "alice",
    );
    env.ok(&["change", "close", "CHG-1"], "alice");
    assert_eq!(env.state("CHG-1"), "closed");

    let j: serde_json::Value = serde_json::from_str(&env.ok(
        &["journal", "--subject", "CHG-1", "--format", "json"],
        "reader",
    ))
    .expect("json");
    let kinds: Vec<&str> = j["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "change.created",
            "change.submitted",
            "change.approved",
            "change.scheduled",
            "change.started",
            "change.completed",
            "change.closed"
        ]
    );
    assert!(
        env.ok(&["journal", "verify"], "reader")
            .contains("journal intact: 7 entries")
    );
    let export = env.ok(&["journal", "export"], "reader");
    assert_eq!(export.lines().count(), 7);

    // Bad input: unknown change, nothing written.
    let unknown = env.run(&["change", "approve", "CHG-99"], "bob");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("unknown change CHG-99"),
        "{}",
        stderr(&unknown)
    );
    let bad_window = env.run(
        &[
            "change",
            "new",
            "--title",
            "x",
            "--hosts",
            "web-1",
            "--window",
            "2026-12-02T00:00:00Z..2026-12-01T00:00:00Z",
        ],
        "alice",
    );
    assert_eq!(bad_window.status.code(), Some(2), "{}", stderr(&bad_window));
    assert!(
        env.ok(&["journal", "verify"], "reader")
            .contains("7 entries")
    );
}

#[test]
fn change_flow_and_journal_on_sqlite() {
    full_flow(&sqlite_env());
}

#[test]
fn change_flow_and_journal_on_postgres() {
    full_flow(&postgres_env("flow"));
}

#[test]
fn an_edited_journal_entry_is_caught_by_verify() {
    let env = sqlite_env();
    env.ok(
        &["change", "new", "--title", "t", "--hosts", "web-1"],
        "alice",
    );
    env.ok(&["change", "submit", "CHG-1"], "alice");
    let db = env.store.trim_start_matches("sqlite:").to_owned();
    // Tamper as an attacker with plain SQL would (the journal's guard triggers dropped first).
    let script = "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nfor (n,) in c.execute(\"select name from sqlite_master where type='trigger'\").fetchall():\n    c.execute('drop trigger ' + n)\nc.execute(\"update journal set payload = '{\\\"approved_by\\\":\\\"mallory\\\"}' where seq = 2\")\nc.commit()\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, &db])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = env.run(&["journal", "verify"], "reader");
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        stdout(&verify).contains("BROKEN at seq 2"),
        "{}",
        stdout(&verify)
    );
}

#[test]
fn a_store_that_is_not_a_database_is_bad_input_and_left_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(dir.path(), CONFIG);
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "this is not sqlite").expect("write");
    let out = fearless(&[
        "change",
        "list",
        "-c",
        &config,
        "--store",
        &format!("sqlite:{}", junk.display()),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&junk).expect("read"),
        "this is not sqlite"
    );
    let refused = fearless(&[
        "change",
        "list",
        "-c",
        &config,
        "--store",
        "postgres://postgres:secret@127.0.0.1:1/x",
    ]);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(
        !stderr(&refused).contains("secret"),
        "the password must not be printed: {}",
        stderr(&refused)
    );
}

#[test]
fn a_standard_change_from_a_yaml_file_is_scheduled_on_submit() {
    let env = sqlite_env();
    let file = env._dir.path().join("change.yaml");
    std::fs::write(&file, "title: Rotate logs\ntype: standard\nhosts: web-2\ncomponents: [checkout]\nimpact: low\ntest_plan: [checkout]\n").expect("write");
    let created: serde_json::Value = serde_json::from_str(&env.ok(
        &[
            "change",
            "new",
            "-f",
            &file.display().to_string(),
            "--format",
            "json",
        ],
        "carol",
    ))
    .expect("json");
    assert_eq!(created["type"], "standard");
    assert_eq!(created["scope"]["hosts"], serde_json::json!(["web-2"]));
    env.ok(&["change", "submit", "CHG-1"], "carol");
    assert_eq!(env.state("CHG-1"), "scheduled");
    // A typo in the file is refused before anything is written.
    std::fs::write(&file, "title: x\nhost: web-2\n").expect("write");
    let bad = env.run(
        &["change", "new", "-f", &file.display().to_string()],
        "carol",
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["change", "list", "--format", "json"], "carol"))
            .expect("json");
    assert_eq!(list["changes"].as_array().map(Vec::len), Some(1));
}
