//! `check --workers` on PostgreSQL, without a lab: the coordinator leases each host's checks
//! and a `fearless worker --check ROUND` joins; the worker is SIGKILLed while it runs a
//! host's checks, and the coordinator takes that host over once the lease expired and
//! checks it again; every result is in one recorded run, the journal verifies. Clear
//! refusals: `--workers 0`, a round or rollout that does not exist, one that is over.
//! Needs PostgreSQL at 127.0.0.1:5432; fails, never skips, without it.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{PgDatabase, StderrLines, exits, fails_with, run_ok, stdout, write_config};

/// Four hosts on the local transport whose one check takes a second.
fn config(dir: &std::path::Path, store: &str) -> String {
    let hosts: String = (1..=4)
        .map(|i| {
            format!(
                "    app-{i}: {{ address: 127.0.0.1, transport: local, labels: {{ role: app }} }}\n"
            )
        })
        .collect();
    write_config(
        dir,
        &format!(
            "inventory:\n  hosts:\n{hosts}components:\n  app:\n    runs_on: \"role=app\"\n    checks:\n      - {{ name: slow, command: {{ run: [\"sh\", \"-c\", \"sleep 1; echo ok\"], stdout: ok }}, timeout: 20s }}\nstore: \"{store}\"\n"
        ),
    )
}

fn fearless_child(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fearless"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn a_check_worker_killed_mid_host_is_taken_over_and_the_round_is_one_run() {
    let db = PgDatabase::create("check_workers");
    let dir = tempfile::tempdir().expect("tmp");
    let c = config(dir.path(), &db.url());
    let c = c.as_str();

    fails_with(2, "--workers 0", &["-c", c, "check", "--workers", "0"]);
    fails_with(
        2,
        "there is no check round check-nope",
        &["-c", c, "worker", "--check", "check-nope"],
    );
    fails_with(
        2,
        "there is no rollout R-1",
        &["-c", c, "worker", "--rollout", "R-1"],
    );

    let mut coordinator = fearless_child(&[
        "-c",
        c,
        "check",
        "--workers",
        "1",
        "--lease",
        "2s",
        "--format",
        "json",
    ])
    .spawn()
    .expect("spawn check");
    let mut said = StderrLines::of(&mut coordinator);
    let round = said.until(Duration::from_secs(30), |line| {
        line.strip_prefix("check round ")
            .and_then(|rest| rest.split_once(':'))
            .map(|(round, _)| round.to_owned())
    });
    let mut worker = fearless_child(&["-c", c, "worker", "--check", &round])
        .spawn()
        .expect("spawn worker");
    // SIGKILL it as soon as it claimed a host: its check takes a second.
    let killed = StderrLines::of(&mut worker).until(Duration::from_secs(30), |line| {
        line.split_once(": claimed by worker")
            .map(|(host, _)| host.to_owned())
    });
    worker.kill().expect("SIGKILL the worker");
    let _ = worker.wait();
    let taken = said.until(Duration::from_secs(30), |line| {
        line.split_once(": taken over by worker")
            .map(|(host, _)| host.to_owned())
    });
    assert_eq!(taken, killed);

    let out = coordinator.wait_with_output().expect("check ends");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("check's JSON");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 4, "{report}");
    for r in results {
        assert_eq!(r["status"], "pass", "{r}");
    }
    // One run holds them all.
    assert!(report["run_id"].is_u64(), "{report}");

    let journal: Value = serde_json::from_str(&run_ok(&[
        "-c",
        c,
        "journal",
        "--subject",
        &round,
        "--format",
        "json",
    ]))
    .expect("journal JSON");
    let kinds: Vec<&str> = journal["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["worker.joined", "worker.joined", "lease.taken-over"],
        "{journal}"
    );
    // A round that is over takes no worker.
    let (_, err) = exits(1, &["-c", c, "worker", "--check", &round]);
    assert!(err.contains("is over"), "{err}");
    run_ok(&["-c", c, "journal", "verify"]);
}
