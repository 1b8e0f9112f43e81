//! Several controllers on one PostgreSQL, on the lab: `patch --workers 1` and a `fearless
//! worker` process split each wave's hosts through the store's leases. The worker is
//! SIGKILLed while it applies a host; once its lease expired the controller takes that host
//! over (journaled) and settles it without applying again; the rollout completes, every host
//! is applied exactly once, and the journal verifies. A pause stops the coordinator before
//! its next wave and the worker with it; `rollout resume` finishes. Needs root and PostgreSQL at
//! 127.0.0.1:5432; fails, never skips, without them.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::lab_patch::{
    approved, has_kind, payloads, poll, resume, spawn_patch, upgrades, version_on,
};
use super::{PgDatabase, StderrLines, TestLab, fails_as, ok_as, run_ok};

#[test]
fn a_worker_killed_mid_wave_is_taken_over_after_its_lease_and_every_host_is_applied_once() {
    let lab = TestLab::up(&["--hosts", "3"]);
    let d = lab.dir.clone();
    lab.publish("routine");
    let db = PgDatabase::create("workers");
    let c = lab.config_variant("team", |text| format!("{text}store: \"{}\"\n", db.url()));
    let c = c.as_str();
    let id = approved(c, "routine, two controllers");

    // Clear refusals first: no worker at all, a rollout that does not exist.
    let patch_zero = ["patch", "--change", &id, "--workers", "0"];
    fails_as(c, "alice", 2, "--workers 0", &patch_zero);
    let nine = ["worker", "--rollout", "R-9"];
    fails_as(c, "alice", 2, "there is no rollout R-9", &nine);

    // The coordinator, with one worker of its own and a short lease.
    let extra = ["--workers", "1", "--lease", "4s", "--format", "json"];
    let coordinator = spawn_patch(c, &id, "1s", &extra, true);
    poll("R-1 never started", Duration::from_millis(100), || {
        has_kind(c, "R-1", "rollout.started")
    });
    // A second controller joins: it takes hosts of each wave beside the coordinator's.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(["-c", c, "--as", "alice", "worker", "--rollout", "R-1"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn worker");
    // SIGKILL it while it applies a host (right after its `applying` step).
    let killed_host = StderrLines::of(&mut worker).until(Duration::from_secs(120), |line| {
        line.split_once(": applying")
            .map(|(host, _)| host.to_owned())
    });
    worker.kill().expect("SIGKILL the worker");
    let _ = worker.wait();

    // The coordinator finishes the wave (taking the host over once the lease expired),
    // bakes, and completes the rollout.
    let out = coordinator.wait_with_output().expect("patch ends");
    let (pout, perr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{pout}\n{perr}");
    let done: Value = serde_json::from_str(&pout).expect("patch's JSON");
    assert_eq!(done["state"], "completed", "{done}");
    let hosts = done["result"]["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 3, "{done}");
    for h in hosts {
        assert_eq!(h["state"], "verified", "{h}");
    }
    assert!(
        perr.contains(&format!("{killed_host}: taken over by worker")),
        "{perr}"
    );
    assert_eq!(payloads(c, "R-1", "worker.joined").len(), 2);
    let taken = payloads(c, "R-1", "lease.taken-over");
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0]["host"], killed_host.as_str(), "{taken:?}");

    // Every host applied exactly once: one `applying` step each in the journal, one
    // upgrade in its own dpkg log.
    let applying = payloads(c, "R-1", "rollout.host.applying");
    for host in ["web-1", "web-2", "web-3"] {
        let steps = applying.iter().filter(|p| p["host"] == host).count();
        assert_eq!(steps, 1, "{host}: {applying:?}");
        assert_eq!(upgrades(&d, host, "acme-api", "1.0", "1.1"), 1, "{host}");
        assert_eq!(version_on(c, host, "acme-api"), "1.1", "{host}");
    }

    // A worker for a rollout that ended is refused.
    let ended = ["worker", "--rollout", "R-1"];
    fails_as(c, "alice", 1, "R-1 is completed", &ended);

    // Pause with workers: the wave in progress ends, the coordinator stops before the next
    // and the worker stops too; `rollout resume` finishes from one controller.
    lab.publish("fixed-libacme");
    let second = approved(c, "libacme 2.0.1, paused");
    let coordinator = spawn_patch(c, &second, "3s", &extra, true);
    poll("R-2 never started", Duration::from_millis(100), || {
        has_kind(c, "R-2", "rollout.started")
    });
    let worker = Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(["-c", c, "--as", "alice", "worker", "--rollout", "R-2"])
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn worker");
    poll(
        "R-2's canary was never verified",
        Duration::from_millis(100),
        || has_kind(c, "R-2", "rollout.host.verified"),
    );
    ok_as(c, "alice", &["rollout", "pause", "R-2"]);
    let paused = coordinator.wait_with_output().expect("patch ends");
    let shown: Value = serde_json::from_slice(&paused.stdout).expect("patch's JSON");
    assert_eq!(
        (paused.status.code(), shown["state"].as_str()),
        (Some(1), Some("paused")),
        "{shown}"
    );
    let stopped = worker.wait_with_output().expect("worker ends");
    let said: Value = serde_json::from_slice(&stopped.stdout).expect("worker's JSON");
    assert_eq!(
        (stopped.status.code(), said["state"].as_str()),
        (Some(0), Some("paused")),
        "{said}"
    );
    let resumed = resume(c, "R-2", 0);
    assert_eq!(resumed["state"], "completed", "{resumed}");
    for host in ["web-1", "web-2", "web-3"] {
        assert_eq!(version_on(c, host, "libacme"), "2.0.1", "{host}");
    }
    run_ok(&["-c", c, "journal", "verify"]);
}
