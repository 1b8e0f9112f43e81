//! Who acts is who authenticated: the OS account of the process on SQLite (never `$USER`),
//! the database role on PostgreSQL; under `identity.mode: enforce` (the default) `--as` is
//! a claim that must name that identity, so nobody approves their own change by typing
//! another name. Needs PostgreSQL on 127.0.0.1:5432 (fails without it, never skips).

use super::{run_tool, stderr, stdout};
use std::process::{Command, Output};

const CONFIG: &str = "inventory:\n  hosts:\n    web-1: { address: 10.9.0.1, labels: { role: web } }\ncomponents:\n  checkout:\n    runs_on: \"role=web\"\nchange:\n  approvals_required: 1\n";

/// `fearless ARGS…` with the environment `env` sets (after `FEARLESS_*`, `USER` and
/// `LOGNAME` are cleared).
fn fearless_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fearless"));
    c.args(args)
        .env("NO_COLOR", "1")
        .env_remove("FEARLESS_CONFIG")
        .env_remove("FEARLESS_USER")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run fearless")
}

#[track_caller]
fn exits(code: i32, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let out = fearless_env(args, env);
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(code), "{args:?}: {o}{e}");
    (o, e)
}

/// The name of the account this test runs as, as the user database says (`id -un`).
fn os_account() -> String {
    let out = run_tool(Command::new("id").arg("-un"), "id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn journal_len(args: &[&str]) -> usize {
    let mut all = args.to_vec();
    all.extend_from_slice(&["journal", "--format", "json"]);
    let (out, _) = exits(0, &all, &[]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    doc["entries"].as_array().map_or(0, Vec::len)
}

#[test]
fn on_sqlite_the_os_account_acts_and_user_variables_are_not_identities() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("fearless.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let c = config.display().to_string();
    let me = os_account();
    let new = [
        "-c", &c, "change", "new", "--title", "t", "--hosts", "web-1", "--format", "json",
    ];

    // $USER and $LOGNAME unset: the OS account acts (no "cannot tell who is acting")
    let (out, _) = exits(0, &new, &[]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(doc["requester"], me.as_str(), "{doc:#}");

    // $USER=bob set by whoever runs it does not make them bob
    let (out, _) = exits(0, &new, &[("USER", "bob"), ("LOGNAME", "bob")]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(doc["requester"], me.as_str(), "{doc:#}");

    // under enforce, --as and $FEARLESS_USER are claims that must be one's own
    let before = journal_len(&["-c", &c]);
    let (_, err) = exits(1, &[&new[..], &["--as", "bob"]].concat(), &[]);
    assert!(
        err.contains(&format!(
            "--as bob: you are {me} (vouched for by the OS account); identity.mode is enforce"
        )),
        "{err}"
    );
    let (_, err) = exits(1, &new, &[("FEARLESS_USER", "bob")]);
    assert!(err.contains("$FEARLESS_USER bob: you are"), "{err}");
    assert_eq!(journal_len(&["-c", &c]), before, "nothing journaled");
    exits(0, &[&new[..], &["--as", &me]].concat(), &[]);
    let (out, _) = exits(0, &["-c", &c, "journal", "--format", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    for e in doc["entries"].as_array().expect("entries") {
        assert_eq!(e["vouched_by"], "os-account", "{e}");
    }

    // under trust, the claim acts and every state change says it was not authenticated
    std::fs::write(&config, format!("identity: {{ mode: trust }}\n{CONFIG}")).expect("config");
    let (out, err) = exits(0, &[&new[..], &["--as", "bob"]].concat(), &[]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(doc["requester"], "bob");
    assert!(
        err.contains("warning: acting as bob on the word of --as (identity.mode: trust)"),
        "{err}"
    );
    let (out, _) = exits(0, &["-c", &c, "journal", "--format", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    let last = doc["entries"]
        .as_array()
        .and_then(|e| e.last())
        .expect("an entry");
    assert_eq!(
        (&last["actor"], &last["vouched_by"]),
        (&"bob".into(), &"claim".into()),
        "{last}"
    );
    // a mode fearless does not know is a located config error
    std::fs::write(&config, format!("identity: {{ mode: lax }}\n{CONFIG}")).expect("config");
    let (_, err) = exits(2, &new, &[]);
    assert!(
        err.contains("`identity.mode` must be `enforce` or `trust`, found `lax`"),
        "{err}"
    );
}

/// Runs `psql -c SQL` as postgres on `db`.
fn psql(db: &str, sql: &str) {
    run_tool(
        Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql]),
        "psql (PostgreSQL must be reachable at 127.0.0.1:5432)",
    );
}

/// A database and two login roles for one test, dropped at its end.
struct Team {
    db: String,
    roles: [String; 2],
}

impl Drop for Team {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("drop database if exists {} with (force)", self.db))
            .output();
        for r in &self.roles {
            let _ = Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
                .arg(format!("drop role if exists {r}"))
                .output();
        }
    }
}

#[test]
fn on_postgres_the_database_role_acts_and_alice_cannot_approve_as_bob() {
    let pid = std::process::id();
    let team = Team {
        db: format!("fearless_identity_{pid}"),
        roles: [format!("alice_{pid}"), format!("bob_{pid}")],
    };
    let [alice, bob] = &team.roles;
    psql("postgres", &format!("drop database if exists {}", team.db));
    psql("postgres", &format!("create database {}", team.db));
    for r in &team.roles {
        psql("postgres", &format!("drop role if exists {r}"));
        psql("postgres", &format!("create role {r} login"));
    }
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("fearless.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let c = config.display().to_string();
    let url = |role: &str| format!("postgres://{role}@127.0.0.1:5432/{}", team.db);
    // the store is created by its owner, then each operator is granted its tables
    let owner = url("postgres");
    exits(
        0,
        &[
            "-c", &c, "--store", &owner, "change", "new", "--title", "setup", "--hosts", "web-1",
        ],
        &[],
    );
    psql(
        &team.db,
        &format!(
            "grant usage on schema public to {alice}, {bob}; \
             grant all on all tables in schema public to {alice}, {bob}; \
             grant all on all sequences in schema public to {alice}, {bob}"
        ),
    );
    let as_alice = url(alice);
    let as_bob = url(bob);
    let on = |store: &str, args: &[&str]| -> Vec<String> {
        ["-c", &c, "--store", store]
            .iter()
            .chain(args)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run = |code: i32, argv: Vec<String>| -> (String, String) {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        exits(code, &argv, &[])
    };

    let (out, _) = run(
        0,
        on(
            &as_alice,
            &[
                "change", "new", "--title", "t", "--hosts", "web-1", "--format", "json",
            ],
        ),
    );
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(doc["requester"], alice.as_str(), "{doc:#}");
    run(0, on(&as_alice, &["change", "submit", "CHG-2"]));
    let before = journal_len(&["-c", &c, "--store", &owner]);

    // alice, connected as herself, claims to be bob: refused, nothing journaled
    let (_, err) = run(
        1,
        on(&as_alice, &["change", "approve", "CHG-2", "--as", bob]),
    );
    assert!(
        err.contains(&format!(
            "--as {bob}: you are {alice} (vouched for by the store's database role)"
        )),
        "{err}"
    );
    // and as herself, separation of duties refuses her own approval
    run(1, on(&as_alice, &["change", "approve", "CHG-2"]));
    assert_eq!(journal_len(&["-c", &c, "--store", &owner]), before);

    // bob, connected as himself, approves: the journal says bob
    run(0, on(&as_bob, &["change", "approve", "CHG-2"]));
    let (out, _) = run(
        0,
        on(
            &owner,
            &["journal", "--subject", "CHG-2", "--format", "json"],
        ),
    );
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    let last = doc["entries"]
        .as_array()
        .and_then(|e| e.last())
        .expect("an entry");
    assert_eq!(last["actor"], bob.as_str(), "{doc:#}");
    assert_eq!(last["kind"], "change.approved", "{doc:#}");
    assert_eq!(last["vouched_by"], "database-role", "{doc:#}");
    run(0, on(&owner, &["journal", "verify"]));
}

#[test]
fn a_store_password_on_the_command_line_is_warned_about_and_never_printed() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("fearless.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let c = config.display().to_string();
    // nothing listens on port 1: the store is unreachable (exit 3) after the warning
    let url = "postgres://postgres:hunter2@127.0.0.1:1/x";
    let (_, err) = exits(3, &["-c", &c, "--store", url, "change", "list"], &[]);
    assert!(
        err.contains("warning: the password in --store is visible to every user"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    let (_, err) = exits(3, &["-c", &c, "change", "list"], &[("FEARLESS_STORE", url)]);
    assert!(!err.contains("warning: the password"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn roles_refuse_approvals_and_rollouts_to_names_they_do_not_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("fearless.yaml");
    let roles =
        "identity:\n  mode: trust\n  roles:\n    approve: { any: [carol] }\n    patch: [ops]\n";
    std::fs::write(&config, format!("{roles}{CONFIG}")).expect("config");
    let c = config.display().to_string();
    let as_ = |who: &'static str, args: &[&'static str]| -> Vec<String> {
        ["-c", c.as_str(), "--as", who]
            .iter()
            .chain(args)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run = |code: i32, argv: Vec<String>| -> String {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        exits(code, &argv, &[]).1
    };
    run(
        0,
        as_(
            "alice",
            &["change", "new", "--title", "t", "--hosts", "web-1"],
        ),
    );
    run(0, as_("alice", &["change", "submit", "CHG-1"]));
    let err = run(1, as_("bob", &["change", "approve", "CHG-1"]));
    assert!(
        err.contains("bob may not approve CHG-1: identity.roles.approve allows carol"),
        "{err}"
    );
    run(0, as_("carol", &["change", "approve", "CHG-1"]));
    // refused before any host is contacted (web-1 is a 10.9.x address nobody answers on)
    let err = run(1, as_("bob", &["patch", "--change", "CHG-1"]));
    assert!(
        err.contains("bob may not patch CHG-1: identity.roles.patch allows ops"),
        "{err}"
    );
    let err = run(1, as_("bob", &["rollout", "abort", "R-1"]));
    assert!(err.contains("bob may not abort R-1"), "{err}");

    std::fs::write(
        &config,
        format!("identity:\n  roles:\n    approve: {{ weekly: [carol] }}\n{CONFIG}"),
    )
    .expect("config");
    let err = run(2, as_("alice", &["change", "list"]));
    assert!(
        err.contains(
            "`identity.roles.approve` is keyed by change type, `component:NAME` or `tier:NAME` of the config, found `weekly`"
        ),
        "{err}"
    );
}
