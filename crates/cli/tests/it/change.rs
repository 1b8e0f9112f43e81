//! Change records and the journal through the binary, on SQLite and on PostgreSQL.

use super::{exits, fearless, run_tool, stderr, stdout, tamper_sqlite, write_config};

const CONFIG: &str = "identity: { mode: trust }\ninventory:\n  hosts:\n    web-1: { address: 10.9.0.1, labels: { role: web } }\n    web-2: { address: 10.9.0.2, labels: { role: web } }\ncomponents:\n  checkout:\n    runs_on: \"role=web\"\n    depends_on: [orders-api]\n  orders-api:\n    runs_on: \"role=web\"\nchange:\n  approvals_required: 1\n";

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

    /// [`Env::run`], which must exit `code`; its stdout and stderr.
    #[track_caller]
    fn exits(&self, args: &[&str], actor: &str, code: i32) -> (String, String) {
        let out = self.run(args, actor);
        let (o, e) = (stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{args:?} as {actor}: {o}{e}");
        (o, e)
    }

    /// [`Env::run`], which must exit `code` with `needle` in its stderr.
    #[track_caller]
    fn fails(&self, args: &[&str], actor: &str, code: i32, needle: &str) {
        let (_, err) = self.exits(args, actor, code);
        assert!(err.contains(needle), "{args:?} as {actor}: {err}");
    }

    #[track_caller]
    fn ok(&self, args: &[&str], actor: &str) -> String {
        self.exits(args, actor, 0).0
    }

    /// [`Env::ok`] with `--format json`, parsed.
    #[track_caller]
    fn json(&self, args: &[&str], actor: &str) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--format", "json"]);
        serde_json::from_str(&self.ok(&all, actor)).expect("json")
    }

    #[track_caller]
    fn state(&self, id: &str) -> String {
        let v = self.json(&["change", "show", id], "reader");
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
    run_tool(
        std::process::Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
            .args(["-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("drop database if exists {db}"))
            .arg("-c")
            .arg(format!("create database {db}")),
        "psql create database (PostgreSQL must be reachable at 127.0.0.1:5432)",
    );
    Env {
        _dir: dir,
        config,
        store: format!("postgres://postgres@127.0.0.1:5432/{db}"),
        database: Some(db),
    }
}

fn full_flow(env: &Env) {
    let created = env.json(
        &[
            "change",
            "new",
            "--title",
            "Patch libacme",
            "--hosts",
            "web-1",
            "--component",
            "orders-api",
        ],
        "alice",
    );
    assert_eq!(created["number"], 1);
    // the id as it is typed next, and the schema of the output
    assert_eq!(created["id"], "CHG-1");
    assert_eq!(created["schema"], "fearless.change/v1");
    assert_eq!(env.state("CHG-1"), "new");
    env.ok(&["change", "submit", "CHG-1"], "alice");
    assert_eq!(env.state("CHG-1"), "authorize");
    // Separation of duties: the requester cannot approve (a gate: exit 1), nothing written.
    let approve = ["change", "approve", "CHG-1"];
    env.fails(&approve, "alice", 1, "separation of duties");
    assert_eq!(env.state("CHG-1"), "authorize");
    env.ok(&["change", "approve", "CHG-1"], "bob");
    assert_eq!(env.state("CHG-1"), "scheduled");
    // An illegal transition names what is allowed (bad input: exit 2).
    env.fails(&["change", "close", "CHG-1"], "alice", 2, "allowed");
    env.ok(&["change", "schedule", "CHG-1"], "alice");
    env.ok(&["change", "start", "CHG-1"], "alice");
    env.ok(
        &["change", "complete", "CHG-1", "--code", "successful"],
        "alice",
    );
    env.ok(&["change", "close", "CHG-1"], "alice");
    assert_eq!(env.state("CHG-1"), "closed");

    let j = env.json(&["journal", "--subject", "CHG-1"], "reader");
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
    let unknown = ["change", "approve", "CHG-99"];
    env.fails(&unknown, "bob", 2, "unknown change CHG-99");
    env.exits(
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
        2,
    );
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
    tamper_sqlite(
        std::path::Path::new(&db),
        "update journal set payload = '{\"approved_by\":\"mallory\"}' where seq = 2",
    );
    let (verify, _) = env.exits(&["journal", "verify"], "reader", 1);
    assert!(verify.contains("BROKEN at seq 2"), "{verify}");
}

#[test]
fn a_store_that_is_not_a_database_is_bad_input_and_left_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(dir.path(), CONFIG);
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "this is not sqlite").expect("write");
    let list = ["change", "list", "-c", &config, "--store"];
    let junk_store = format!("sqlite:{}", junk.display());
    exits(2, &[&list[..], &[&junk_store]].concat());
    assert_eq!(
        std::fs::read_to_string(&junk).expect("read"),
        "this is not sqlite"
    );
    let refused = [&list[..], &["postgres://postgres:secret@127.0.0.1:1/x"]].concat();
    let (_, err) = exits(3, &refused);
    assert!(
        !err.contains("secret"),
        "the password must not be printed: {err}"
    );
}

#[test]
fn a_standard_change_from_a_yaml_file_is_scheduled_on_submit() {
    let env = sqlite_env();
    let file = env._dir.path().join("change.yaml");
    std::fs::write(&file, "title: Rotate logs\ntype: standard\nhosts: web-2\ncomponents: [checkout]\nimpact: low\ntest_plan: [checkout]\n").expect("write");
    let file_arg = file.display().to_string();
    let created = env.json(&["change", "new", "-f", &file_arg], "carol");
    assert_eq!(created["type"], "standard");
    assert_eq!(created["scope"]["hosts"], serde_json::json!(["web-2"]));
    env.ok(&["change", "submit", "CHG-1"], "carol");
    assert_eq!(env.state("CHG-1"), "scheduled");
    // A typo in the file is refused before anything is written.
    std::fs::write(&file, "title: x\nhost: web-2\n").expect("write");
    env.exits(&["change", "new", "-f", &file_arg], "carol", 2);
    let list = env.json(&["change", "list"], "carol");
    assert_eq!(list["changes"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_scan_report_is_attached_shown_and_replaced_and_a_bad_one_is_refused() {
    let env = sqlite_env();
    let dir = env._dir.path();
    let tree = dir.join("src");
    std::fs::create_dir(&tree).expect("mkdir");
    let mut app = String::from("import os\n");
    for i in 0..12 {
        app.push_str(&format!("os.system('ls ' + arg{i})\n"));
    }
    std::fs::write(tree.join("app.py"), app).expect("write");
    std::fs::write(
        tree.join("users.py"),
        "def users():\n    return open('/etc/passwd').read()\n",
    )
    .expect("write");
    let report = dir.join("scan.json");
    let scanned = fearless(&[
        "scan",
        &tree.display().to_string(),
        "--format",
        "json",
        "-o",
        &report.display().to_string(),
    ]);
    assert_eq!(scanned.status.code(), Some(1), "{}", stderr(&scanned));
    let report_arg = report.display().to_string();

    let created = env.json(
        &[
            "change",
            "new",
            "--title",
            "Ship app 2.0",
            "--hosts",
            "web-1",
            "--scan",
            &report_arg,
        ],
        "alice",
    );
    let scan = &created["scan"];
    assert_eq!(scan["findings"], 13, "{scan}");
    assert_eq!(scan["files_scanned"], 2);
    assert_eq!(
        scan["paths"],
        serde_json::json!([tree.display().to_string()])
    );
    assert_eq!(
        scan["by_rule"],
        serde_json::json!([
            { "rule": "injection", "severity": "error", "count": 12 },
            { "rule": "os-file", "severity": "warning", "count": 1 },
        ])
    );
    let first = scan["first"].as_array().expect("first");
    assert_eq!(first.len(), 10);
    assert_eq!(
        (&first[0]["path"], &first[0]["line"], &first[0]["rule"]),
        (
            &serde_json::json!("app.py"),
            &serde_json::json!(2),
            &serde_json::json!("injection")
        )
    );
    // Shown, and kept in JSON, by `change show`.
    let shown = env.ok(&["change", "show", "CHG-1"], "reader");
    assert!(
        shown.contains("  scan        13 finding(s) in 2 file(s) of ")
            && shown.contains(": injection 12 (error), os-file 1 (warning)"),
        "{shown}"
    );
    assert!(shown.contains("app.py:2  injection  "), "{shown}");
    assert!(shown.contains("… and 3 more"), "{shown}");
    assert_eq!(
        env.json(&["change", "show", "CHG-1"], "reader")["scan"],
        created["scan"]
    );

    // A malformed file, or JSON that is not a scan report, is bad input naming the file
    // (and where it broke); nothing is written.
    let bad = dir.join("bad.json");
    let bad_arg = bad.display().to_string();
    std::fs::write(
        &bad,
        "{\n  \"schema\": \"fearless.scan/v1\",\n  \"roots\": [1]\n}\n",
    )
    .expect("write");
    env.fails(
        &[
            "change", "new", "--title", "x", "--hosts", "web-1", "--scan", &bad_arg,
        ],
        "alice",
        2,
        &format!("{bad_arg}:3:"),
    );
    std::fs::write(&bad, "{ not json").expect("write");
    env.fails(
        &["change", "edit", "CHG-1", "--scan", &bad_arg],
        "alice",
        2,
        &format!("{bad_arg}:1:3: not a scan report"),
    );
    std::fs::write(
        &bad,
        "{\"schema\": \"fearless.changes/v1\", \"changes\": []}",
    )
    .expect("write");
    env.fails(
        &[
            "change", "new", "--title", "x", "--hosts", "web-1", "--scan", &bad_arg,
        ],
        "alice",
        2,
        "its schema is `fearless.changes/v1`, not `fearless.scan/v1`",
    );
    env.fails(
        &[
            "change",
            "new",
            "--title",
            "x",
            "--hosts",
            "web-1",
            "--scan",
            &dir.join("missing.json").display().to_string(),
        ],
        "alice",
        2,
        "scan report",
    );
    let list = env.json(&["change", "list"], "reader");
    assert_eq!(list["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        env.json(&["change", "show", "CHG-1"], "reader")["scan"],
        created["scan"]
    );

    // `change edit --scan` replaces it: a clean scan after the fix.
    std::fs::write(
        tree.join("app.py"),
        "import subprocess\nsubprocess.run(['ls'])\n",
    )
    .expect("write");
    std::fs::remove_file(tree.join("users.py")).expect("rm");
    let clean = fearless(&[
        "scan",
        &tree.display().to_string(),
        "--format",
        "json",
        "-o",
        &report_arg,
    ]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let edited = env.json(&["change", "edit", "CHG-1", "--scan", &report_arg], "alice");
    assert_eq!(edited["scan"]["findings"], 0);
    assert_eq!(edited["scan"]["by_rule"], serde_json::json!([]));
    let shown = env.ok(&["change", "show", "CHG-1"], "reader");
    assert!(
        shown.contains("  scan        0 finding(s) in 1 file(s) of "),
        "{shown}"
    );
}
