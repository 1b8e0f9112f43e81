//! Secrets hygiene over a full lab rollout: a secret sentinel in each place a secret lives —
//! the store URL's password (given through `$FEARLESS_STORE`, never argv), a webhook sink's
//! URL userinfo and its signing secret (an environment variable), an AMQP sink's password
//! (refused by the broker, so its events wait in the outbox), an HTTP check's
//! `Authorization` header — then a change approved, a routine patch through every wave, a
//! bad patch caught on the canary, rolled back, bisected and reported. The sentinel must
//! appear in no output of any command, no row of the store (`pg_dump`), no event in the
//! outbox or the file sink. Needs root, the lab and PostgreSQL on 127.0.0.1:5432 (trust
//! auth: any password is accepted, so the sentinel can be one); fails, never skips.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{TestLab, run_tool, stderr, stdout};

const SENTINEL: &str = "s3ntinel";

/// Every command of the test runs through here, its output kept for the final search.
struct Run<'a> {
    config: &'a str,
    store: String,
    seen: Vec<(String, String)>,
}

impl Run<'_> {
    fn command(&self, who: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fearless"));
        c.args(["-c", self.config, "--as", who])
            .args(args)
            .env("NO_COLOR", "1")
            .env("FEARLESS_STORE", &self.store)
            .env("FEARLESS_T_HOOK_SECRET", format!("whsec_{SENTINEL}-hmac"))
            .env_remove("FEARLESS_USER")
            .env_remove("FEARLESS_SIGNING_KEY")
            .stdin(Stdio::null());
        c
    }

    /// `fearless --as WHO ARGS…`, which must exit `code`; its stdout.
    #[track_caller]
    fn exits(&mut self, code: i32, who: &str, args: &[&str]) -> String {
        let out: Output = self.command(who, args).output().expect("run fearless");
        let (o, e) = (stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {o}{e}");
        self.seen.push((args.join(" "), format!("{o}{e}")));
        o
    }

    #[track_caller]
    fn json(&mut self, code: i32, who: &str, args: &[&str]) -> serde_json::Value {
        let all = [args, &["--format", "json"]].concat();
        let out = self.exits(code, who, &all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
}

fn psql(sql: &str) {
    run_tool(
        Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
            ])
            .arg(sql),
        "psql",
    );
}

/// Every regular file under `dir`, read as (lossy) text.
fn files_under(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            files_under(&path, out);
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

#[test]
fn no_secret_leaves_in_any_output_store_or_event_of_a_full_rollout() {
    let lab = TestLab::up(&["--hosts", "2"]);
    lab.publish("routine");
    let db = format!("fearless_secrets_{}", std::process::id());
    psql(&format!("DROP DATABASE IF EXISTS {db}"));
    psql(&format!("CREATE DATABASE {db}"));

    // The lab's config, with a secret in each place one lives.
    let yaml = std::fs::read_to_string(&lab.config).expect("lab config");
    let dir = Path::new(&lab.dir);
    let outbox = dir.join("outbox");
    let sink_file = dir.join("events.jsonl");
    let yaml = yaml.replacen(
        "components:\n",
        &format!(
            "components:\n  storefront-probe:\n    runs_on: \"role=web\"\n    checks:\n      - {{ name: authorised health, http: {{ url: \"http://{{host.address}}:8080/health\", status: 200, headers: {{ Authorization: \"Bearer {SENTINEL}-header\" }} }} }}\n"
        ),
        1,
    ) + &format!(
        "events:\n  outbox: {}\n  sinks:\n    log: {{ file: {{ path: {} }} }}\n    hook: {{ webhook: {{ url: \"http://hook:{SENTINEL}-url@127.0.0.1:9/hooks\", secret_env: FEARLESS_T_HOOK_SECRET }} }}\n    bus: {{ amqp: {{ url: \"amqp://guest:{SENTINEL}-amqp@127.0.0.1:5672/%2f\", exchange: fearless.events }} }}\n  routes:\n    - {{ types: \"fearless.*\", sinks: [log, hook, bus] }}\n",
        outbox.display(),
        sink_file.display()
    );
    std::fs::write(&lab.config, yaml).expect("config");

    let mut run = Run {
        config: &lab.config,
        store: format!("postgres://postgres:{SENTINEL}-store@127.0.0.1:5432/{db}"),
        seen: Vec::new(),
    };

    run.exits(0, "alice", &["check"]);
    // routine through every wave
    let change = |run: &mut Run<'_>, title: &str| -> String {
        let doc = run.json(
            0,
            "alice",
            &[
                "change",
                "new",
                "--title",
                title,
                "--hosts",
                "web-*",
                "--component",
                "orders-api",
            ],
        );
        let id = doc["id"].as_str().expect("id").to_owned();
        run.exits(0, "alice", &["change", "submit", &id]);
        run.exits(0, "bob", &["change", "approve", &id]);
        run.exits(0, "alice", &["change", "schedule", &id]);
        id
    };
    let first = change(&mut run, "routine");
    run.json(
        0,
        "alice",
        &[
            "patch", "--change", &first, "--waves", "1,100%", "--bake", "1s",
        ],
    );
    // a bad libacme: the canary fails, is rolled back, bisected; the incident is reported
    lab.publish("bad-libacme");
    let second = change(&mut run, "bad libacme");
    let failed = run.json(
        1,
        "alice",
        &[
            "patch", "--change", &second, "--waves", "1,100%", "--bake", "1s",
        ],
    );
    assert_eq!(failed["state"], "backed-out", "{failed}");
    for args in [
        &["rollout", "list"][..],
        &["rollout", "show", "R-2"],
        &["incident", "list"],
        &["rca", "INC-1"],
        &["journal"],
        &["journal", "verify"],
        &["journal", "export"],
        &["change", "show", &second],
    ] {
        run.exits(0, "reader", args);
    }
    // the webhook never answers: its events wait in the outbox, and say so
    run.exits(1, "reader", &["events", "status"]);
    run.exits(1, "reader", &["events", "replay"]);

    // and everything fearless kept
    let dump = run_tool(
        Command::new("pg_dump").args(["-h", "127.0.0.1", "-U", "postgres", "--data-only", &db]),
        "pg_dump",
    );
    let mut kept = vec![(
        format!("pg_dump {db}"),
        String::from_utf8_lossy(&dump.stdout).into_owned(),
    )];
    files_under(&outbox, &mut kept);
    if sink_file.is_file() {
        kept.push((
            sink_file.display().to_string(),
            std::fs::read_to_string(&sink_file).unwrap_or_default(),
        ));
    }
    psql(&format!("DROP DATABASE IF EXISTS {db}"));

    assert!(
        kept.iter()
            .any(|(what, text)| what.starts_with("pg_dump") && text.contains("change.approved")),
        "the store holds the journal"
    );
    assert!(
        kept.iter()
            .any(|(what, text)| what.contains("events.jsonl") && text.contains("fearless.change")),
        "events reached the file sink: {:?}",
        kept.iter().map(|k| &k.0).collect::<Vec<_>>()
    );
    for (sink, at) in [("hook", "127.0.0.1:9"), ("bus", "127.0.0.1:5672")] {
        assert!(
            run.seen.iter().any(|(_, text)| text
                .contains(&format!("to sink `{sink}` queued in the outbox"))
                && text.contains(at)),
            "the failing sink {sink} was said, with its address: {:#?}",
            run.seen
        );
    }
    let leaks: Vec<String> = run
        .seen
        .iter()
        .chain(kept.iter())
        .filter(|(_, text)| text.contains(SENTINEL))
        .map(|(what, text)| {
            let at = text.find(SENTINEL).unwrap_or(0);
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(80)
                .map_or(0, |(i, _)| i);
            format!("{what}: …{}…", &text[from..(at + 40).min(text.len())])
        })
        .collect();
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}
