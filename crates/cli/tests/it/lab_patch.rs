//! `fearless patch` on the lab: a change that is not approved is refused before anything
//! runs; `routine` goes through every wave and closes the change successful; `bad-libacme`
//! fails the canary, which is rolled back to its exact pre-change package set, and no other
//! host is touched. Needs root (CI runs as root); fails, never skips, without it.

use super::{
    TestLab, exits_as, fails_as, fearless, hold_dpkg_lock, json_as, json_exits_as, lab_ssh,
    lab_ssh_run, ok_as, run_as, run_ok, run_tool, stdout,
};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// `fearless ARGS --format json` as `reader`, which must succeed; the parsed output.
#[track_caller]
pub(crate) fn json(config: &str, args: &[&str]) -> Value {
    json_as(config, "reader", args)
}

/// A change of `component` on `hosts`, requested by alice; its id.
#[track_caller]
pub(crate) fn new_change(config: &str, title: &str, hosts: &str, component: &str) -> String {
    let args = [
        "change",
        "new",
        "--title",
        title,
        "--hosts",
        hosts,
        "--component",
        component,
    ];
    json_as(config, "alice", &args)["id"]
        .as_str()
        .expect("the change's id")
        .to_owned()
}

/// A change of `component` on `hosts` requested by alice, approved by bob and scheduled
/// (now); its id.
#[track_caller]
pub(crate) fn approved_of(config: &str, title: &str, hosts: &str, component: &str) -> String {
    let id = new_change(config, title, hosts, component);
    ok_as(config, "alice", &["change", "submit", &id]);
    ok_as(config, "bob", &["change", "approve", &id]);
    ok_as(config, "alice", &["change", "schedule", &id]);
    id
}

/// [`approved_of`] orders-api on every web host.
#[track_caller]
pub(crate) fn approved(config: &str, title: &str) -> String {
    approved_of(config, title, "web-*", "orders-api")
}

/// `patch --change ID --waves WAVES --bake BAKE --format json` as alice, which must exit
/// `code`; its result.
#[track_caller]
pub(crate) fn patch(config: &str, id: &str, waves: &str, bake: &str, code: i32) -> Value {
    let args = ["patch", "--change", id, "--waves", waves, "--bake", bake];
    json_exits_as(config, "alice", code, &args)
}

/// `rollout resume ROLLOUT --format json` as alice, which must exit `code`; its result.
#[track_caller]
pub(crate) fn resume(config: &str, rollout: &str, code: i32) -> Value {
    json_exits_as(config, "alice", code, &["rollout", "resume", rollout])
}

/// How many rollouts the store holds.
#[track_caller]
fn rollouts(config: &str) -> usize {
    json(config, &["rollout", "list"])["rollouts"]
        .as_array()
        .expect("rollouts")
        .len()
}

#[track_caller]
pub(crate) fn version_on(config: &str, host: &str, package: &str) -> String {
    let doc = json(config, &["packages", "--hosts", host]);
    doc["hosts"][0]["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == package))
        .and_then(|p| p["version"].as_str())
        .unwrap_or_else(|| panic!("{package} not on {host}"))
        .to_owned()
}

#[test]
fn patch_routine_through_every_wave_and_back_out_bad_libacme_on_the_canary() {
    let lab = TestLab::up(&["--hosts", "3"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    lab.publish("routine");

    // Not approved: refused before anything runs.
    let first = new_change(c, "routine batch", "web-*", "orders-api");
    ok_as(c, "alice", &["change", "submit", &first]);
    let refused = "only an approved, scheduled change can be patched";
    fails_as(c, "alice", 1, refused, &["patch", "--change", &first]);
    assert_eq!(rollouts(c), 0);
    assert_eq!(version_on(c, "web-1", "acme-api"), "1.0");

    // Approved and scheduled: every wave passes, every host ends on the manifest.
    ok_as(c, "bob", &["change", "approve", &first]);
    // Approved, but its window is in the future: refused too.
    let future = "2099-01-01T00:00:00Z..2099-01-01T04:00:00Z";
    ok_as(
        c,
        "alice",
        &["change", "schedule", &first, "--window", future],
    );
    fails_as(
        c,
        "alice",
        1,
        "it cannot start at",
        &["patch", "--change", &first],
    );
    assert_eq!(rollouts(c), 0);
    ok_as(c, "alice", &["change", "schedule", &first]);
    // A dpkg run holding the package lock on web-2 stops the preflight, naming it.
    hold_dpkg_lock(&d, "web-2", 4);
    let held = "web-2: the package lock is held by process";
    let err = fails_as(
        c,
        "alice",
        1,
        held,
        &["patch", "--change", &first, "--dry-run"],
    );
    assert!(err.contains("(dpkg)"), "{err}");
    std::thread::sleep(Duration::from_secs(5));
    let dry_run = [
        "patch",
        "--change",
        &first,
        "--dry-run",
        "--waves",
        "1,100%",
    ];
    let plan = json_as(c, "alice", &dry_run);
    assert_eq!(plan["manifest"].as_array().map(Vec::len), Some(9), "{plan}");
    assert_eq!(
        plan["waves"],
        serde_json::json!([["web-1"], ["web-2", "web-3"]])
    );
    assert_eq!(
        version_on(c, "web-1", "acme-api"),
        "1.0",
        "a dry run changes nothing"
    );
    let done = patch(c, &first, "1,100%", "1s", 0);
    assert_eq!(done["state"], "completed", "{done}");
    for h in done["result"]["hosts"].as_array().expect("hosts") {
        assert_eq!(h["state"], "verified", "{h}");
    }
    for host in ["web-1", "web-2", "web-3"] {
        assert_eq!(version_on(c, host, "acme-api"), "1.1");
    }
    let chg = json(c, &["change", "show", &first]);
    assert_eq!(
        (chg["state"].as_str(), chg["close_code"].as_str()),
        (Some("review"), Some("successful")),
        "{chg}"
    );

    // Preflight refuses a manifest whose way back is gone (acme-docs 1.1 withdrawn from the
    // repository, never cached): nothing starts, nothing changes.
    lab.withdraw("acme-docs=1.1");
    let down = lab.pins_file("downgrade.txt", &["acme-docs=1.0".to_owned()]);
    let third = approved(c, "acme-docs back to 1.0");
    let gone = "acme-docs=1.1: the version installed now is in no repository";
    fails_as(
        c,
        "alice",
        1,
        gone,
        &["patch", "--change", &third, "-m", &down],
    );
    assert_eq!(rollouts(c), 1);
    assert_eq!(version_on(c, "web-1", "acme-docs"), "1.1");
    assert_eq!(json(c, &["change", "show", &third])["state"], "scheduled");

    // bad-libacme: the canary fails orders-api and checkout, goes back to its snapshot
    // byte for byte, and the rollout stops after wave 1 with the other hosts untouched.
    lab.publish("bad-libacme");
    let second = approved(c, "libacme 2");
    let failed = patch(c, &second, "1,100%", "1s", 1);
    assert_eq!(failed["state"], "backed-out", "{failed}");
    let hosts = failed["result"]["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1, "only the canary was touched: {hosts:?}");
    assert_eq!(hosts[0]["host"], "web-1");
    assert_eq!(hosts[0]["state"], "rolled-back");
    let detail = hosts[0]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("orders-api/orders on web-1: fail")
            && detail.contains("checkout/checkout on web-1: fail"),
        "{detail}"
    );
    let rollout = failed["id"].as_str().expect("id").to_owned();
    assert_eq!(failed["rollout"], rollout.as_str());
    // An incident names the rollout, the wave, the manifest and the failing checks.
    let inc = failed["result"]["incident"]
        .as_str()
        .expect("an incident was opened");
    let incident = json(c, &["incident", "show", inc]);
    // The canary is back on its snapshot and passing: the impact is mitigated already, and
    // `patch.bisect: auto` (the lab's policy) confirmed the culprit on it.
    assert_eq!(incident["state"], "mitigated");
    assert_eq!(
        incident["record"]["bisect"]["report"]["verdict"]["packages"],
        serde_json::json!(["libacme"]),
        "{incident}"
    );
    assert!(incident["record"]["milestones"]["mitigated"].is_string());
    assert_eq!(incident["record"]["rollout"], rollout.as_str());
    assert_eq!(incident["record"]["wave"], 1);
    assert_eq!(
        incident["record"]["manifest"],
        serde_json::json!(["libacme=2.0"])
    );
    let why = incident["record"]["hosts"][0]["detail"]
        .as_str()
        .expect("detail");
    assert!(why.contains("orders-api/orders on web-1: fail"), "{why}");
    let shown = json(c, &["rollout", "show", &rollout]);
    let snapshot = shown["hosts"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["host"] == "web-1"))
        .and_then(|h| h["snapshot"].as_str())
        .expect("web-1 snapshot")
        .to_owned();
    for h in shown["hosts"].as_array().expect("hosts") {
        if h["host"] != "web-1" {
            assert_eq!(h["state"], "pending", "{h}");
        }
    }
    let before = json(c, &["snapshot", "show", &snapshot]);
    let now = json(c, &["snapshot", "--hosts", "web-1"]);
    let after = json(c, &["snapshot", "show", now["id"].as_str().expect("id")]);
    assert_eq!(
        serde_json::to_string(&before["record"]["hosts"]["web-1"]).expect("json"),
        serde_json::to_string(&after["record"]["hosts"]["web-1"]).expect("json"),
        "web-1 is back on its pre-change package set, byte for byte"
    );
    assert_eq!(version_on(c, "web-2", "libacme"), "1.0", "web-2 untouched");
    let chg = json(c, &["change", "show", &second]);
    assert_eq!(chg["close_code"], "backed-out", "{chg}");
    let journal = ok_as(c, "reader", &["journal", "--format", "json"]);
    for kind in [
        "rollout.started",
        "rollout.host.applying",
        "rollout.host.failed",
        "rollout.host.rolling-back",
        "rollout.host.rolled-back",
        "rollout.backed-out",
    ] {
        assert!(journal.contains(kind), "journal lacks {kind}");
    }
}

/// Start `patch`, wait until the journal of rollout `R-<n>` shows `kind`, then SIGKILL the
/// controller; the test fails if the process ended on its own before the kind was seen.
#[track_caller]
pub(crate) fn kill_when(config: &str, change: &str, rollout: u64, kind: &str) {
    kill_after(config, change, rollout, kind, Duration::ZERO);
}

/// [`kill_when`], `delay` after the entry appeared (to land inside the work it announces).
#[track_caller]
pub(crate) fn kill_after(config: &str, change: &str, rollout: u64, kind: &str, delay: Duration) {
    let subject = format!("R-{rollout}");
    assert!(
        kill_once(config, change, delay, || has_kind(config, &subject, kind)),
        "the kill came too late"
    );
}

/// Every web host (web-1, web-2) is on `package` `version`, taken from 1.0 exactly once.
#[track_caller]
fn on_every_host_once(config: &str, dir: &str, package: &str, version: &str) {
    for host in ["web-1", "web-2"] {
        assert_eq!(version_on(config, host, package), version, "{host}");
        assert_eq!(
            upgrades(dir, host, package, "1.0", version),
            1,
            "{host}: applied exactly once"
        );
    }
}

/// The journal of `subject` as JSON text (whatever `journal` printed: polled while a
/// rollout writes it).
pub(crate) fn journal_text(config: &str, subject: &str) -> String {
    let args = [
        "-c",
        config,
        "journal",
        "--subject",
        subject,
        "--format",
        "json",
    ];
    stdout(&fearless(&args))
}

/// Whether the journal of `subject` has an entry of `kind` yet.
pub(crate) fn has_kind(config: &str, subject: &str, kind: &str) -> bool {
    journal_text(config, subject).contains(&format!("\"{kind}\""))
}

/// The payloads of `subject`'s journal entries of `kind`, in order.
pub(crate) fn payloads(config: &str, subject: &str, kind: &str) -> Vec<Value> {
    let entries: Value =
        serde_json::from_str(&journal_text(config, subject)).unwrap_or(Value::Null);
    entries["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["payload"].clone())
        .collect()
}

/// `patch --change CHANGE --waves 1,100% --bake BAKE EXTRA…` as alice, started in the
/// background with its output piped (`piped`) or dropped.
pub(crate) fn spawn_patch(
    config: &str,
    change: &str,
    bake: &str,
    extra: &[&str],
    piped: bool,
) -> Child {
    let output = || if piped { Stdio::piped() } else { Stdio::null() };
    std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args([
            "-c", config, "--as", "alice", "patch", "--change", change, "--waves", "1,100%",
            "--bake", bake,
        ])
        .args(extra)
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "fearless-test")
        .env("AWS_SECRET_ACCESS_KEY", "fearless-test")
        .stdin(Stdio::null())
        .stdout(output())
        .stderr(output())
        .spawn()
        .expect("spawn patch")
}

/// Poll `seen` every `every` until it holds; the test fails with `never` after 60 s.
#[track_caller]
pub(crate) fn poll(never: &str, every: Duration, mut seen: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen() {
        assert!(Instant::now() < deadline, "{never}");
        std::thread::sleep(every);
    }
}

/// Start `patch` (waves 1,100%, bake 1 s), poll `seen` until it holds (at most 60 s), then
/// SIGKILL the controller `delay` later. Returns whether `seen` held before the process
/// ended on its own.
pub(crate) fn kill_once(
    config: &str,
    change: &str,
    delay: Duration,
    mut seen: impl FnMut() -> bool,
) -> bool {
    let mut child = spawn_patch(config, change, "1s", &[], false);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut held = false;
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if seen() {
            held = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if held {
        std::thread::sleep(delay);
        // A controller that ended on its own during the delay was not killed at all.
        held = child.try_wait().expect("wait").is_none();
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    held
}

/// `(host, state)` of every host of a `rollout show` document.
fn host_states(shown: &Value) -> Vec<(&str, &str)> {
    shown["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap_or(""),
                h["state"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

/// Require `rollout show ROLLOUT` to list its hosts in `states`; the document.
#[track_caller]
fn expect_hosts(config: &str, rollout: &str, states: &[(&str, &str)]) -> Value {
    let shown = json(config, &["rollout", "show", rollout]);
    assert_eq!(host_states(&shown), states, "{shown}");
    shown
}

/// How many times dpkg took `package` from `from` to `to` on `host`, from the host's own
/// log (dpkg logs a downgrade as `upgrade` too, hence the versions).
pub(crate) fn upgrades(dir: &str, host: &str, package: &str, from: &str, to: &str) -> usize {
    let out = lab_ssh_run(dir, host, &["cat", "/var/log/dpkg.log"]);
    let needle = format!(" upgrade {package}:all {from} {to}");
    stdout(&out).lines().filter(|l| l.contains(&needle)).count()
}

#[test]
fn a_controller_killed_during_apply_verify_rollback_bisect_or_bake_is_resumed_to_a_consistent_end()
{
    let lab = TestLab::up(&["--hosts", "2"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    lab.publish("routine");
    let web_2_untouched = || {
        assert_eq!(
            upgrades(&d, "web-2", "libacme", "1.0", "2.0"),
            0,
            "web-2 untouched"
        );
    };

    // 1. Killed while the canary applies (inside apt-get's transaction: the preflight has
    //    planned and kept everything, so it starts right after `applying`): the
    //    transaction runs on to its end on the host, resume waits for its lock and ends
    //    with every host verified on the manifest, each upgraded exactly once.
    let first = approved(c, "routine");
    kill_when(c, &first, 1, "rollout.host.applying");
    let shown = json(c, &["rollout", "show", "R-1"]);
    assert_eq!(shown["state"], "running", "{shown}");
    let resumed = resume(c, "R-1", 0);
    assert_eq!(resumed["state"], "completed", "{resumed}");
    for h in json(c, &["rollout", "show", "R-1"])["hosts"]
        .as_array()
        .expect("hosts")
    {
        assert_eq!(h["state"], "verified", "{h}");
    }
    on_every_host_once(c, &d, "acme-api", "1.1");
    let again = ok_as(c, "alice", &["rollout", "resume", "R-1"]);
    assert!(again.contains("nothing to resume"), "{again}");

    // 2. Killed while the canary verifies on bad-libacme: resume verifies (does not apply
    //    again), sees the failure, rolls the canary back; web-2 is never touched.
    lab.publish("bad-libacme");
    let second = approved(c, "libacme 2");
    kill_when(c, &second, 2, "rollout.host.verifying");
    let r2 = resume(c, "R-2", 1);
    assert_eq!(r2["state"], "backed-out", "{r2}");
    assert_eq!(version_on(c, "web-1", "libacme"), "1.0");
    assert_eq!(
        upgrades(&d, "web-1", "libacme", "1.0", "2.0"),
        1,
        "libacme 2.0 applied once, not again on resume"
    );
    web_2_untouched();

    // 3. Killed while the canary rolls back: resume finishes the rollback.
    let third = approved(c, "libacme 2 again");
    kill_when(c, &third, 3, "rollout.host.rolling-back");
    exits_as(
        c,
        "alice",
        1,
        &["rollout", "resume", "R-3", "--format", "json"],
    );
    expect_hosts(c, "R-3", &[("web-1", "rolled-back"), ("web-2", "pending")]);
    assert_eq!(version_on(c, "web-1", "libacme"), "1.0");
    web_2_untouched();

    // 4. Killed while bisecting the rolled-back canary (`bisect: auto`, the lab's policy):
    //    resume puts it back on its snapshot, passing, and completes the rollout.
    //    Killed once the bisect's first round has put libacme 2.0 back on the canary (the
    //    second upgrade to 2.0 of R-4: the rollout's own was the first).
    let fourth = approved(c, "libacme 2, bisected");
    let before = upgrades(&d, "web-1", "libacme", "1.0", "2.0");
    assert!(
        kill_once(c, &fourth, Duration::ZERO, || {
            has_kind(c, "R-4", "rollout.bisect.started")
                && upgrades(&d, "web-1", "libacme", "1.0", "2.0") >= before + 2
        }),
        "the kill came too late"
    );
    let r4 = resume(c, "R-4", 1);
    assert_eq!(r4["state"], "backed-out", "{r4}");
    let web1 = &json(c, &["rollout", "show", "R-4"])["hosts"][0];
    assert_eq!(web1["state"], "rolled-back", "{web1}");
    assert_eq!(version_on(c, "web-1", "libacme"), "1.0");
    web_2_untouched();
    run_ok(&["-c", c, "check", "--hosts", "web-1"]);

    // 5. Killed during the canary's bake (libacme 2.0.1, which works): resume bakes that
    //    wave again — checks at its end — before the next wave; nothing is applied twice.
    lab.publish("fixed-libacme");
    let fifth = approved(c, "libacme 2.0.1");
    let baking = Duration::from_millis(300);
    kill_after(c, &fifth, 5, "rollout.host.verified", baking);
    let baked = |wave: u64| {
        json(c, &["journal", "--subject", "R-5"])["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["kind"] == "rollout.wave.baked" && e["payload"]["wave"] == wave)
            .count()
    };
    assert_eq!(baked(1), 0, "the kill should land inside wave 1's bake");
    let r5 = resume(c, "R-5", 0);
    assert_eq!(r5["state"], "completed", "{r5}");
    assert_eq!(
        (baked(1), baked(2)),
        (1, 1),
        "each wave baked once, to its end"
    );
    on_every_host_once(c, &d, "libacme", "2.0.1");

    run_ok(&["-c", c, "journal", "verify"]);
}

#[test]
fn a_host_that_dies_mid_wave_is_failed_in_bounded_time_and_the_rollout_stops() {
    let lab = TestLab::up(&["--hosts", "3"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    lab.publish("routine");
    let change = approved(c, "routine");
    // The lab records each host's init (PID 1 of its namespace): killing it kills the host.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(&d).join("state.json")).expect("state"),
    )
    .expect("json");
    let victim_pid = state["hosts"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["name"] == "web-3"))
        .and_then(|h| h["init"]["pid"].as_u64())
        .expect("web-3 init pid")
        .to_string();

    let started = Instant::now();
    let child = spawn_patch(c, &change, "1s", &["--format", "json"], true);
    // Wait for wave 2 to reach web-3, then kill the host.
    poll(
        "wave 2 never reached web-3",
        Duration::from_millis(10),
        || {
            payloads(c, "R-1", "rollout.host.applying")
                .iter()
                .any(|p| p["host"] == "web-3")
        },
    );
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &victim_pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("patch ends");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(90), "it took {took:?}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["state"], "failed", "{doc}");
    let hosts = doc["result"]["hosts"].as_array().expect("hosts");
    let web3 = hosts.iter().find(|h| h["host"] == "web-3").expect("web-3");
    assert_eq!(web3["state"], "rollback-failed", "{web3}");
    let web1 = hosts.iter().find(|h| h["host"] == "web-1").expect("web-1");
    assert_eq!(
        web1["state"], "verified",
        "the canary stays on the manifest: {web1}"
    );
    assert!(doc["result"]["incident"].is_string(), "{doc}");
    let chg = json(c, &["change", "show", &change]);
    assert_eq!(chg["close_code"], "unsuccessful", "{chg}");
}

/// Start `patch` with a long bake, and once the canary is verified (wave 1 baking) run
/// `rollout <verb> R-<n>`; returns the controller's exit code and stdout.
fn during_bake(config: &str, change: &str, rollout: u64, verb: &str) -> (Option<i32>, String) {
    let child = spawn_patch(config, change, "4s", &[], true);
    let subject = format!("R-{rollout}");
    poll(
        "the canary was never verified",
        Duration::from_millis(20),
        || has_kind(config, &subject, "rollout.host.verified"),
    );
    ok_as(config, "carol", &["rollout", verb, &subject]);
    let out = child.wait_with_output().expect("patch ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn pause_stops_before_the_next_wave_resume_continues_and_abort_backs_out() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let c = lab.config.as_str();
    lab.publish("routine");

    // Pause during the canary's bake: wave 2 never starts; resume runs it.
    let first = approved(c, "routine");
    let (code, out) = during_bake(c, &first, 1, "pause");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("R-1 paused before wave 2"), "{out}");
    let shown = json(c, &["rollout", "show", "R-1"]);
    assert_eq!(shown["state"], "paused");
    assert_eq!(
        version_on(c, "web-2", "acme-api"),
        "1.0",
        "wave 2 did not start"
    );
    let resumed = resume(c, "R-1", 0);
    assert_eq!(resumed["state"], "completed", "{resumed}");
    assert_eq!(version_on(c, "web-2", "acme-api"), "1.1");

    // Abort during the canary's bake: the canary goes back to its snapshot, web-2 is never
    // touched, the change is backed out, and no incident is opened.
    lab.publish("fixed-libacme");
    let second = approved(c, "libacme 2.0.1");
    let (code, out) = during_bake(c, &second, 2, "abort");
    assert_eq!(code, Some(1), "{out}");
    let shown = expect_hosts(c, "R-2", &[("web-1", "rolled-back"), ("web-2", "pending")]);
    assert_eq!(shown["state"], "backed-out", "{shown}");
    assert_eq!(version_on(c, "web-1", "libacme"), "1.0");
    assert_eq!(version_on(c, "web-2", "libacme"), "1.0");
    let chg = json(c, &["change", "show", &second]);
    assert_eq!(chg["close_code"], "backed-out", "{chg}");
    assert_eq!(
        json(c, &["incident", "list"])["incidents"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let (code, _, err) = run_as(c, "carol", &["rollout", "pause", "R-2"]);
    assert_eq!(code, Some(1), "a finished rollout cannot be paused: {err}");
}

#[test]
fn rollback_scope_wave_rolls_back_every_changed_host_of_the_failed_wave() {
    let lab = TestLab::up(&["--hosts", "3"]);
    lab.publish("routine");
    // A check that fails on web-2 alone once acme-docs 1.1 is there; the whole wave goes
    // back (`rollback_scope: wave`), web-1 too although it verified.
    let c = lab.config_variant("wave", |text| {
        text.replacen(
            "components:\n",
            "components:\n  docs:\n    runs_on: \"role=web\"\n    checks:\n      - { name: version, command: { run: [\"sh\", \"-c\", \"[ \\\"$(hostname)\\\" != web-2 ] || ! dpkg -s acme-docs | grep -q '^Version: 1.1'\"] } }\n",
            1,
        )
        .replacen("patch:\n", "patch:\n  rollback_scope: wave\n", 1)
    });
    let id = approved_of(&c, "routine", "web-*", "docs");
    let result = patch(&c, &id, "2,100%", "0s", 1);
    assert_eq!(result["state"], "backed-out", "{result}");
    let rollout = result["rollout"].as_str().expect("id");
    let states = [
        ("web-1", "rolled-back"),
        ("web-2", "rolled-back"),
        ("web-3", "pending"),
    ];
    expect_hosts(&c, rollout, &states);
    for host in ["web-1", "web-2", "web-3"] {
        assert_eq!(version_on(&c, host, "acme-docs"), "1.0", "{host}");
    }
}

/// Every `rollout.reboot.finished` entry of `rollout`: (host, ok).
fn reboots(config: &str, rollout: &str) -> Vec<(String, bool)> {
    payloads(config, rollout, "rollout.reboot.finished")
        .iter()
        .map(|p| (p["host"].as_str().unwrap_or("").to_owned(), p["ok"] == true))
        .collect()
}

#[test]
fn an_update_that_asks_for_a_reboot_fails_without_policy_reboots_with_it_and_survives_a_crash() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let d = lab.dir.clone();
    lab.publish("needs-reboot");
    let c = lab.config.clone();
    let c = c.as_str();

    // patch.reboot: never (the default): the canary needs a reboot, so it fails and is
    // rolled back; nothing else is touched.
    let id = approved(c, "agent 1.2");
    let plan = ok_as(c, "alice", &["patch", "--change", &id, "--dry-run"]);
    assert!(plan.contains("reboots: never"), "{plan}");
    let result = patch(c, &id, "1,100%", "0s", 1);
    assert_eq!(result["state"], "backed-out", "{result}");
    let detail = result["result"]["hosts"][0]["detail"]
        .as_str()
        .unwrap_or("");
    assert!(
        detail.contains(
            "a reboot is required (/var/run/reboot-required: acme-agent) and patch.reboot is `never`"
        ),
        "{result}"
    );
    expect_hosts(c, "R-1", &[("web-1", "rolled-back"), ("web-2", "pending")]);
    assert_eq!(version_on(c, "web-1", "acme-agent"), "1.0");
    assert!(reboots(c, "R-1").is_empty());

    // patch.reboot: if-required, but web-1's reboot does nothing: the marker proves it is
    // still the same boot, and the bound fails it (then it is rolled back).
    let c2 = lab.config_variant("reboot", |text| {
        let allowed = text.replacen(
            "patch:\n",
            "patch:\n  reboot: if-required\n  reboot_timeout: 4s\n",
            1,
        );
        assert_ne!(allowed, text, "the lab config has a patch: section");
        allowed
    });
    let c2 = c2.as_str();
    lab_ssh(
        &d,
        "web-1",
        "mv /usr/local/sbin/shutdown /root/shutdown && printf '#!/bin/sh\\nexit 0\\n' > /usr/local/sbin/shutdown && chmod 755 /usr/local/sbin/shutdown",
    );
    let id = approved(c2, "agent 1.2, again");
    let plan = ok_as(c2, "alice", &["patch", "--change", &id, "--dry-run"]);
    assert!(
        plan.contains("reboots: if required (a host must be back within 4s)"),
        "{plan}"
    );
    let started = Instant::now();
    let result = patch(c2, &id, "1,100%", "0s", 1);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded: {:?}",
        started.elapsed()
    );
    let detail = result["result"]["hosts"][0]["detail"]
        .as_str()
        .unwrap_or("");
    assert!(
        detail.contains("web-1: not back from the reboot after ")
            && detail.contains("it still answered on the boot before the reboot"),
        "{result}"
    );
    assert_eq!(reboots(c2, "R-2"), [("web-1".to_owned(), false)]);
    expect_hosts(c2, "R-2", &[("web-1", "rolled-back"), ("web-2", "pending")]);
    lab_ssh(&d, "web-1", "mv /root/shutdown /usr/local/sbin/shutdown");

    // The controller dies while web-1 reboots; `rollout resume` waits for the host, finds
    // the reboot done, verifies it, and the second wave reboots web-2: every host on the
    // manifest, each upgraded exactly once in this rollout, no reboot request left.
    let id = approved(c2, "agent 1.2, third time");
    let allowed = std::fs::read_to_string(c2).expect("config");
    let text = allowed.replacen("reboot_timeout: 4s", "reboot_timeout: 60s", 1);
    std::fs::write(c2, text).expect("write config");
    // SIGKILL once web-1's reboot command has been started (it runs a second later): the
    // host notes the token of its pending reboot (R-2's fake one is still there).
    let pending = || {
        let out = lab_ssh_run(&d, "web-1", &["cat", "/run/fearless/reboot-pending"]);
        stdout(&out).trim().to_owned()
    };
    let before = pending();
    assert!(
        kill_once(c2, &id, Duration::ZERO, || {
            let now = pending();
            !now.is_empty() && now != before
        }),
        "web-1's reboot never started"
    );
    exits_as(
        c2,
        "alice",
        0,
        &["rollout", "resume", "R-3", "--format", "json"],
    );
    expect_hosts(c2, "R-3", &[("web-1", "verified"), ("web-2", "verified")]);
    let done = reboots(c2, "R-3");
    assert!(done.contains(&("web-2".to_owned(), true)), "{done:?}");
    // resume settled web-1's unfinished reboot first (by its token: it ran, so resume
    // waited for the new boot), and journaled it
    let settled: Vec<Value> = payloads(c2, "R-3", "rollout.reboot.finished")
        .into_iter()
        .filter(|p| p["host"] == "web-1" && p["resumed"] == true)
        .collect();
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert_eq!(settled[0]["ok"], true, "{settled:?}");
    for host in ["web-1", "web-2"] {
        assert_eq!(version_on(c2, host, "acme-agent"), "1.2", "{host}");
        assert_eq!(
            lab_ssh(
                &d,
                host,
                "test -e /var/run/reboot-required && echo still || echo gone"
            )
            .trim(),
            "gone",
            "{host}"
        );
        let log = lab_ssh(&d, host, "tail -n 1 /var/log/acme/acme-agent.log");
        assert!(log.contains("acme-agent 1.2 started"), "{host}: {log}");
    }
    // web-1 took 1.2 in each of the three rollouts (two rolled back), web-2 once.
    assert_eq!(upgrades(&d, "web-1", "acme-agent", "1.0", "1.2"), 3);
    assert_eq!(upgrades(&d, "web-2", "acme-agent", "1.0", "1.2"), 1);
    let change = json(c2, &["change", "show", &id]);
    assert_eq!(
        (change["state"].as_str(), change["close_code"].as_str()),
        (Some("review"), Some("successful")),
        "{change}"
    );
}

/// The acme-web version the running process serves on `address` (`GET /version`).
fn web_version(address: &str) -> String {
    let url = format!("http://{address}:8080/version");
    let out = run_tool(
        std::process::Command::new("curl").args(["-fsS", "--max-time", "5", &url]),
        &format!("curl {address}"),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    doc["acme-web"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_service_its_update_forgot_to_restart_is_restarted_or_with_restart_never_reported() {
    let lab = TestLab::up(&["--hosts", "2"]);
    lab.publish("stale-service");
    let c = lab.config.as_str();
    // An approved, scheduled change of the web front end on `hosts`, patched at once.
    let patched = |config: &str, hosts: &str| -> Value {
        let id = approved_of(config, "acme-web 1.2", hosts, "checkout");
        patch(config, &id, "100%", "0s", 0)
    };

    // patch.restart: never — web-1 takes 1.2, but its acme-web (whose postinst forgot the
    // restart) still runs 1.0 and maps the replaced file: verified, with the warning.
    let c_never = lab.config_variant("never", |text| {
        text.replacen("patch:\n", "patch:\n  restart: never\n", 1)
    });
    let result = patched(&c_never, "web-1");
    let detail = result["result"]["hosts"][0]["detail"]
        .as_str()
        .unwrap_or("");
    assert!(
        detail.starts_with("1 package(s) changed; still running replaced code (/proc scan): ")
            && detail.ends_with("; restart it or reboot"),
        "{result}"
    );
    assert_eq!(version_on(c, "web-1", "acme-web"), "1.2");
    assert_eq!(web_version("127.0.0.11"), "1.0", "the old process runs on");

    // patch.restart: auto (the default) — web-2's stale acme-web is found by the /proc scan,
    // owned by its init script through its pid file, restarted; the checks run again.
    let result = patched(c, "web-2");
    assert_eq!(
        result["result"]["hosts"][0]["detail"], "1 package(s) changed",
        "{result}"
    );
    assert_eq!(
        web_version("127.0.0.12"),
        "1.2",
        "restarted on the new code"
    );
    let rollout = result["rollout"].as_str().expect("rollout id");
    let restarted = payloads(c, rollout, "rollout.restart.finished");
    assert_eq!(restarted.len(), 1, "{restarted:?}");
    assert_eq!(
        restarted[0]["done"]["restarted"],
        serde_json::json!(["acme-web"]),
        "{restarted:?}"
    );
    assert_eq!(restarted[0]["host"], "web-2");
    // web-1 was left as it was: still the old process
    assert_eq!(web_version("127.0.0.11"), "1.0");
}

/// Start `patch --change CHANGE` (waves 1,100%, bake 1 s) on `config`, and return once the
/// journal of `R-<rollout>` shows `kind` (the child still running).
fn patch_until(config: &str, change: &str, rollout: u64, kind: &str) -> Child {
    let mut child = spawn_patch(config, change, "1s", &[], true);
    let subject = format!("R-{rollout}");
    poll(
        &format!("R-{rollout} never reached {kind}"),
        Duration::from_millis(10),
        || {
            has_kind(config, &subject, kind) || {
                assert!(
                    child.try_wait().expect("wait").is_none(),
                    "patch ended before {kind}"
                );
                false
            }
        },
    );
    child
}

/// Wait for a controller started by [`patch_until`]: it must stop with exit 3 and print
/// nothing on stdout; its stderr.
fn stopped_silently(child: Child) -> String {
    let patched = child.wait_with_output().expect("patch ends");
    let (pout, perr) = (
        String::from_utf8_lossy(&patched.stdout),
        String::from_utf8_lossy(&patched.stderr),
    );
    assert_eq!(patched.status.code(), Some(3), "{pout}\n{perr}");
    assert!(pout.is_empty(), "nothing reported: {pout}");
    perr.into_owned()
}

#[test]
fn an_abort_racing_a_host_step_wins_and_the_controller_reports_nothing_the_store_does_not_hold() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let c = lab.config.as_str();
    lab.publish("routine");
    let id = approved(c, "routine, aborted mid-transaction");
    // The canary is in its package transaction (about two seconds) when the abort comes.
    let child = patch_until(c, &id, 1, "rollout.host.applying");
    let (code, out, err) = run_as(c, "carol", &["rollout", "abort", "R-1"]);
    assert_eq!(
        code,
        Some(0),
        "the abort backs every changed host out:\n{out}\n{err}"
    );
    // The first controller's next step was refused: it stops, and prints no result.
    let perr = stopped_silently(child);
    assert!(
        perr.contains("R-1 stopped: web-1's step from applying to")
            && perr.contains("another controller moved it"),
        "{perr}"
    );
    let shown = expect_hosts(c, "R-1", &[("web-1", "rolled-back"), ("web-2", "pending")]);
    assert_eq!(shown["state"], "backed-out", "{shown}");
    assert_eq!(version_on(c, "web-1", "acme-api"), "1.0");
    assert_eq!(version_on(c, "web-2", "acme-api"), "1.0");
    assert_eq!(
        json(c, &["change", "show", &id])["close_code"],
        "backed-out"
    );
    let out = ok_as(c, "alice", &["rollout", "resume", "R-1"]);
    assert!(
        out.contains("R-1 is backed-out: nothing to resume"),
        "{out}"
    );
}

/// A PostgreSQL server of the test's own (initdb in a temporary directory, on a free
/// loopback port), to be stopped and started again; stopped for good on drop.
struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: std::path::PathBuf,
}

impl OwnPostgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().expect("tmp");
        let owned = std::process::Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status()
            .expect("chown");
        assert!(owned.success());
        let port = fearless_testkit::free_port("127.0.0.1");
        let pg = Self { dir, port, bin };
        pg.as_postgres(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        pg.start_again();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// `TOOL` of the server's binaries, run as the postgres user.
    fn command(&self, tool: &str) -> std::process::Command {
        let mut command = std::process::Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool));
        command
    }

    fn as_postgres(&self, tool: &str, args: &[&str]) {
        run_tool(self.command(tool).args(args), tool);
    }

    fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    /// Stop at once, as a crash or an outage would.
    fn stop(&self) {
        self.as_postgres(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

#[test]
fn a_store_lost_mid_rollout_stops_it_reporting_nothing_and_resume_finishes_it() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let d = lab.dir.clone();
    lab.publish("routine");
    let pg = OwnPostgres::start();
    let c = lab.config_variant("team", |text| format!("{text}store: \"{}\"\n", pg.url()));
    let c = c.as_str();
    let id = approved(c, "routine, store lost");
    let child = patch_until(c, &id, 1, "rollout.host.applying");
    pg.stop();
    let perr = stopped_silently(child);
    assert!(
        perr.contains("R-1 stopped: web-1's step from applying to applied was not recorded")
            && perr.contains("the store holds web-1 as applying")
            && perr.contains("fearless rollout resume R-1"),
        "{perr}"
    );
    // The store back, it holds what the controller recorded: web-1 applying.
    pg.start_again();
    let shown = expect_hosts(c, "R-1", &[("web-1", "applying"), ("web-2", "pending")]);
    assert_eq!(shown["state"], "running", "{shown}");
    // Resume finds the manifest on web-1, verifies it without applying again, and goes on.
    let resumed = resume(c, "R-1", 0);
    assert_eq!(resumed["state"], "completed", "{resumed}");
    on_every_host_once(c, &d, "acme-api", "1.1");
    run_ok(&["-c", c, "journal", "verify"]);
}
