//! `fearless patch` on the lab: a change that is not approved is refused before anything
//! runs; `routine` goes through every wave and closes the change successful; `bad-libacme`
//! fails the canary, which is rolled back to its exact pre-change package set, and no other
//! host is touched. Needs root (CI runs as root); fails, never skips, without it.

use super::{TestLab, fearless, hold_dpkg_lock, stderr, stdout};
use serde_json::Value;

fn run(config: &str, who: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["-c", config, "--as", who];
    all.extend_from_slice(args);
    let out = fearless(&all);
    (out.status.code(), stdout(&out), stderr(&out))
}

fn ok(config: &str, who: &str, args: &[&str]) -> String {
    let (code, out, err) = run(config, who, args);
    assert_eq!(code, Some(0), "fearless {args:?} as {who}:\n{out}\n{err}");
    out
}

fn json(config: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&ok(config, "reader", &all)).expect("json")
}

fn new_change(config: &str, title: &str) -> String {
    let created: Value = serde_json::from_str(&ok(
        config,
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
            "--format",
            "json",
        ],
    ))
    .expect("json");
    format!("CHG-{}", created["number"])
}

fn version_on(config: &str, host: &str, package: &str) -> String {
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
    let first = new_change(c, "routine batch");
    ok(c, "alice", &["change", "submit", &first]);
    let (code, out, err) = run(c, "alice", &["patch", "--change", &first]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        err.contains("only an approved, scheduled change can be patched"),
        "{err}"
    );
    assert_eq!(
        json(c, &["rollout", "list"])["rollouts"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(version_on(c, "web-1", "acme-api"), "1.0");

    // Approved and scheduled: every wave passes, every host ends on the manifest.
    ok(c, "bob", &["change", "approve", &first]);
    // Approved, but its window is in the future: refused too.
    ok(
        c,
        "alice",
        &[
            "change",
            "schedule",
            &first,
            "--window",
            "2099-01-01T00:00:00Z..2099-01-01T04:00:00Z",
        ],
    );
    let (code, out, err) = run(c, "alice", &["patch", "--change", &first]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("it cannot start at"), "{err}");
    assert_eq!(
        json(c, &["rollout", "list"])["rollouts"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    ok(c, "alice", &["change", "schedule", &first]);
    // A dpkg run holding the package lock on web-2 stops the preflight, naming it.
    hold_dpkg_lock(&d, "web-2", 4);
    let (code, out, err) = run(c, "alice", &["patch", "--change", &first, "--dry-run"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        err.contains("web-2: the package lock is held by process"),
        "{err}"
    );
    assert!(err.contains("(dpkg)"), "{err}");
    std::thread::sleep(std::time::Duration::from_secs(5));
    let plan: Value = serde_json::from_str(&ok(
        c,
        "alice",
        &[
            "patch",
            "--change",
            &first,
            "--dry-run",
            "--waves",
            "1,100%",
            "--format",
            "json",
        ],
    ))
    .expect("json");
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
    let done: Value = serde_json::from_str(&ok(
        c,
        "alice",
        &[
            "patch", "--change", &first, "--waves", "1,100%", "--bake", "1s", "--format", "json",
        ],
    ))
    .expect("json");
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
    assert_eq!(
        fearless(&["lab", "withdraw", "acme-docs=1.1", "--dir", &d])
            .status
            .code(),
        Some(0)
    );
    let down = lab.file("downgrade.txt");
    std::fs::write(&down, "acme-docs=1.0\n").expect("write");
    let third = new_change(c, "acme-docs back to 1.0");
    ok(c, "alice", &["change", "submit", &third]);
    ok(c, "bob", &["change", "approve", &third]);
    ok(c, "alice", &["change", "schedule", &third]);
    let (code, out, err) = run(
        c,
        "alice",
        &[
            "patch",
            "--change",
            &third,
            "-m",
            &down.display().to_string(),
        ],
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        err.contains("acme-docs=1.1: the version installed now is in no repository"),
        "{err}"
    );
    assert_eq!(
        json(c, &["rollout", "list"])["rollouts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(version_on(c, "web-1", "acme-docs"), "1.1");
    assert_eq!(json(c, &["change", "show", &third])["state"], "scheduled");

    // bad-libacme: the canary fails orders-api and checkout, goes back to its snapshot
    // byte for byte, and the rollout stops after wave 1 with the other hosts untouched.
    lab.publish("bad-libacme");
    let second = new_change(c, "libacme 2");
    ok(c, "alice", &["change", "submit", &second]);
    ok(c, "bob", &["change", "approve", &second]);
    ok(c, "alice", &["change", "schedule", &second]);
    let (code, out, err) = run(
        c,
        "alice",
        &[
            "patch", "--change", &second, "--waves", "1,100%", "--bake", "1s", "--format", "json",
        ],
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    let failed: Value = serde_json::from_str(&out).expect("json");
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
    let rollout = failed["rollout"].as_str().expect("id").to_owned();
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
    let journal = ok(c, "reader", &["journal", "--format", "json"]);
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
/// controller. Returns whether the kind was seen before the process ended on its own.
fn kill_when(config: &str, change: &str, rollout: u64, kind: &str) -> bool {
    kill_after(config, change, rollout, kind, std::time::Duration::ZERO)
}

/// [`kill_when`], `delay` after the entry appeared (to land inside the work it announces).
fn kill_after(
    config: &str,
    change: &str,
    rollout: u64,
    kind: &str,
    delay: std::time::Duration,
) -> bool {
    let subject = format!("R-{rollout}");
    kill_once(config, change, delay, || {
        journal_text(config, &subject).contains(&format!("\"{kind}\""))
    })
}

/// The journal of `subject` as JSON text (whatever `journal` printed: polled while a
/// rollout writes it).
fn journal_text(config: &str, subject: &str) -> String {
    stdout(&fearless(&[
        "-c",
        config,
        "journal",
        "--subject",
        subject,
        "--format",
        "json",
    ]))
}

/// The payloads of `subject`'s journal entries of `kind`, in order.
fn payloads(config: &str, subject: &str, kind: &str) -> Vec<Value> {
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

/// Start `patch` (waves 1,100%, bake 1 s), poll `seen` until it holds (at most 60 s), then
/// SIGKILL the controller `delay` later. Returns whether `seen` held before the process
/// ended on its own.
fn kill_once(
    config: &str,
    change: &str,
    delay: std::time::Duration,
    mut seen: impl FnMut() -> bool,
) -> bool {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args([
            "-c", config, "--as", "alice", "patch", "--change", change, "--waves", "1,100%",
            "--bake", "1s",
        ])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn patch");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut held = false;
    while std::time::Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if seen() {
            held = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if held {
        std::thread::sleep(delay);
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

/// How many times dpkg took `package` from `from` to `to` on `host`, from the host's own
/// log (dpkg logs a downgrade as `upgrade` too, hence the versions).
fn upgrades(dir: &str, host: &str, package: &str, from: &str, to: &str) -> usize {
    let out = fearless(&[
        "lab",
        "ssh",
        host,
        "--dir",
        dir,
        "--",
        "cat",
        "/var/log/dpkg.log",
    ]);
    let needle = format!(" upgrade {package}:all {from} {to}");
    stdout(&out).lines().filter(|l| l.contains(&needle)).count()
}

fn approved(config: &str, title: &str) -> String {
    let id = new_change(config, title);
    ok(config, "alice", &["change", "submit", &id]);
    ok(config, "bob", &["change", "approve", &id]);
    ok(config, "alice", &["change", "schedule", &id]);
    id
}

#[test]
fn a_controller_killed_during_apply_verify_rollback_bisect_or_bake_is_resumed_to_a_consistent_end()
{
    let lab = TestLab::up(&["--hosts", "2"]);
    let (d, c) = (lab.dir.clone(), lab.config.as_str());
    lab.publish("routine");

    // 1. Killed while the canary applies (inside apt-get's transaction: the preflight has
    //    planned and kept everything, so it starts right after `applying`): the
    //    transaction runs on to its end on the host, resume waits for its lock and ends
    //    with every host verified on the manifest, each upgraded exactly once.
    let first = approved(c, "routine");
    assert!(
        kill_when(c, &first, 1, "rollout.host.applying"),
        "the kill came too late"
    );
    let shown = json(c, &["rollout", "show", "R-1"]);
    assert_eq!(shown["state"], "running", "{shown}");
    let resumed: Value = serde_json::from_str(&ok(
        c,
        "alice",
        &["rollout", "resume", "R-1", "--format", "json"],
    ))
    .expect("json");
    assert_eq!(resumed["state"], "completed", "{resumed}");
    for h in json(c, &["rollout", "show", "R-1"])["hosts"]
        .as_array()
        .expect("hosts")
    {
        assert_eq!(h["state"], "verified", "{h}");
    }
    for host in ["web-1", "web-2"] {
        assert_eq!(version_on(c, host, "acme-api"), "1.1");
        assert_eq!(
            upgrades(&d, host, "acme-api", "1.0", "1.1"),
            1,
            "{host}: applied exactly once"
        );
    }
    let again = ok(c, "alice", &["rollout", "resume", "R-1"]);
    assert!(again.contains("nothing to resume"), "{again}");

    // 2. Killed while the canary verifies on bad-libacme: resume verifies (does not apply
    //    again), sees the failure, rolls the canary back; web-2 is never touched.
    lab.publish("bad-libacme");
    let second = approved(c, "libacme 2");
    assert!(
        kill_when(c, &second, 2, "rollout.host.verifying"),
        "the kill came too late"
    );
    let (code, out, err) = run(
        c,
        "alice",
        &["rollout", "resume", "R-2", "--format", "json"],
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    let r2: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(r2["state"], "backed-out", "{r2}");
    assert_eq!(version_on(c, "web-1", "libacme"), "1.0");
    assert_eq!(
        upgrades(&d, "web-1", "libacme", "1.0", "2.0"),
        1,
        "libacme 2.0 applied once, not again on resume"
    );
    assert_eq!(
        upgrades(&d, "web-2", "libacme", "1.0", "2.0"),
        0,
        "web-2 untouched"
    );

    // 3. Killed while the canary rolls back: resume finishes the rollback.
    let third = approved(c, "libacme 2 again");
    assert!(
        kill_when(c, &third, 3, "rollout.host.rolling-back"),
        "the kill came too late"
    );
    let (code, out, err) = run(
        c,
        "alice",
        &["rollout", "resume", "R-3", "--format", "json"],
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    let shown = json(c, &["rollout", "show", "R-3"]);
    let states = host_states(&shown);
    assert_eq!(
        states,
        [("web-1", "rolled-back"), ("web-2", "pending")],
        "{shown}"
    );
    assert_eq!(version_on(c, "web-1", "libacme"), "1.0");
    assert_eq!(
        upgrades(&d, "web-2", "libacme", "1.0", "2.0"),
        0,
        "web-2 untouched"
    );

    // 4. Killed while bisecting the rolled-back canary (`bisect: auto`, the lab's policy):
    //    resume puts it back on its snapshot, passing, and completes the rollout.
    let fourth = approved(c, "libacme 2, bisected");
    assert!(
        kill_after(
            c,
            &fourth,
            4,
            "rollout.bisect.started",
            std::time::Duration::from_millis(1500)
        ),
        "the kill came too late"
    );
    let (code, out, err) = run(
        c,
        "alice",
        &["rollout", "resume", "R-4", "--format", "json"],
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    let r4: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(r4["state"], "backed-out", "{r4}");
    let web1 = &json(c, &["rollout", "show", "R-4"])["hosts"][0];
    assert_eq!(web1["state"], "rolled-back", "{web1}");
    assert_eq!(version_on(c, "web-1", "libacme"), "1.0");
    assert_eq!(
        upgrades(&d, "web-2", "libacme", "1.0", "2.0"),
        0,
        "web-2 untouched"
    );
    let check = fearless(&["-c", c, "check", "--hosts", "web-1"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));

    // 5. Killed during the canary's bake (libacme 2.0.1, which works): resume bakes that
    //    wave again — checks at its end — before the next wave; nothing is applied twice.
    lab.publish("fixed-libacme");
    let fifth = approved(c, "libacme 2.0.1");
    assert!(
        kill_after(
            c,
            &fifth,
            5,
            "rollout.host.verified",
            std::time::Duration::from_millis(300)
        ),
        "the kill came too late"
    );
    let baked = |wave: u64| {
        json(c, &["journal", "--subject", "R-5"])["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["kind"] == "rollout.wave.baked" && e["payload"]["wave"] == wave)
            .count()
    };
    assert_eq!(baked(1), 0, "the kill should land inside wave 1's bake");
    let r5: Value = serde_json::from_str(&ok(
        c,
        "alice",
        &["rollout", "resume", "R-5", "--format", "json"],
    ))
    .expect("json");
    assert_eq!(r5["state"], "completed", "{r5}");
    assert_eq!(
        (baked(1), baked(2)),
        (1, 1),
        "each wave baked once, to its end"
    );
    for host in ["web-1", "web-2"] {
        assert_eq!(version_on(c, host, "libacme"), "2.0.1");
        assert_eq!(
            upgrades(&d, host, "libacme", "1.0", "2.0.1"),
            1,
            "{host}: applied exactly once"
        );
    }

    let verify = fearless(&["-c", c, "journal", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
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

    let started = std::time::Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args([
            "-c", c, "--as", "alice", "patch", "--change", &change, "--waves", "1,100%", "--bake",
            "1s", "--format", "json",
        ])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn patch");
    // Wait for wave 2 to reach web-3, then kill the host.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "wave 2 never reached web-3"
        );
        let applying = payloads(c, "R-1", "rollout.host.applying")
            .iter()
            .any(|p| p["host"] == "web-3");
        if applying {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &victim_pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("patch ends");
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(90),
        "it took {took:?}"
    );
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
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args([
            "-c", config, "--as", "alice", "patch", "--change", change, "--waves", "1,100%",
            "--bake", "4s",
        ])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn patch");
    let subject = format!("R-{rollout}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the canary was never verified"
        );
        if journal_text(config, &subject).contains("\"rollout.host.verified\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ok(config, "carol", &["rollout", verb, &subject]);
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
    let resumed: Value = serde_json::from_str(&ok(
        c,
        "alice",
        &["rollout", "resume", "R-1", "--format", "json"],
    ))
    .expect("json");
    assert_eq!(resumed["state"], "completed", "{resumed}");
    assert_eq!(version_on(c, "web-2", "acme-api"), "1.1");

    // Abort during the canary's bake: the canary goes back to its snapshot, web-2 is never
    // touched, the change is backed out, and no incident is opened.
    lab.publish("fixed-libacme");
    let second = approved(c, "libacme 2.0.1");
    let (code, out) = during_bake(c, &second, 2, "abort");
    assert_eq!(code, Some(1), "{out}");
    let shown = json(c, &["rollout", "show", "R-2"]);
    assert_eq!(shown["state"], "backed-out", "{shown}");
    let states = host_states(&shown);
    assert_eq!(
        states,
        [("web-1", "rolled-back"), ("web-2", "pending")],
        "{shown}"
    );
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
    let again = fearless(&["-c", c, "--as", "carol", "rollout", "pause", "R-2"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a finished rollout cannot be paused"
    );
}

#[test]
fn rollback_scope_wave_rolls_back_every_changed_host_of_the_failed_wave() {
    let lab = TestLab::up(&["--hosts", "3"]);
    let d = lab.dir.clone();
    lab.publish("routine");
    // A check that fails on web-2 alone once acme-docs 1.1 is there; the whole wave goes
    // back (`rollback_scope: wave`), web-1 too although it verified.
    let text = std::fs::read_to_string(&lab.config).expect("lab config");
    let text = text
        .replacen(
            "components:\n",
            "components:\n  docs:\n    runs_on: \"role=web\"\n    checks:\n      - { name: version, command: { run: [\"sh\", \"-c\", \"[ \\\"$(hostname)\\\" != web-2 ] || ! dpkg -s acme-docs | grep -q '^Version: 1.1'\"] } }\n",
            1,
        )
        .replacen("patch:\n", "patch:\n  rollback_scope: wave\n", 1);
    let c = std::path::Path::new(&d).join("wave.yaml");
    std::fs::write(&c, text).expect("write config");
    let c = c.display().to_string();
    let created: Value = serde_json::from_str(&ok(
        &c,
        "alice",
        &[
            "change",
            "new",
            "--title",
            "routine",
            "--hosts",
            "web-*",
            "--component",
            "docs",
            "--format",
            "json",
        ],
    ))
    .expect("json");
    let id = format!("CHG-{}", created["number"]);
    ok(&c, "alice", &["change", "submit", &id]);
    ok(&c, "bob", &["change", "approve", &id]);
    ok(&c, "alice", &["change", "schedule", &id]);
    let (code, out, err) = run(
        &c,
        "alice",
        &[
            "patch", "--change", &id, "--waves", "2,100%", "--bake", "0s", "--format", "json",
        ],
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    let result: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(result["state"], "backed-out", "{result}");
    let shown = json(
        &c,
        &["rollout", "show", result["rollout"].as_str().expect("id")],
    );
    let states = host_states(&shown);
    assert_eq!(
        states,
        [
            ("web-1", "rolled-back"),
            ("web-2", "rolled-back"),
            ("web-3", "pending")
        ],
        "{shown}"
    );
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

fn lab_ssh(dir: &str, host: &str, script: &str) -> String {
    let out = fearless(&["lab", "ssh", host, "--dir", dir, "--", "sh", "-c", script]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{host}: {script}: {}",
        stderr(&out)
    );
    stdout(&out)
}

#[test]
fn an_update_that_asks_for_a_reboot_fails_without_policy_reboots_with_it_and_survives_a_crash() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let d = lab.dir.clone();
    lab.publish("needs-reboot");
    let c = lab.config.clone();
    let c = c.as_str();
    let args = |id: &str| -> Vec<String> {
        [
            "patch", "--change", id, "--waves", "1,100%", "--bake", "0s", "--format", "json",
        ]
        .map(str::to_owned)
        .to_vec()
    };

    // patch.reboot: never (the default): the canary needs a reboot, so it fails and is
    // rolled back; nothing else is touched.
    let id = approved(c, "agent 1.2");
    let plan = ok(c, "alice", &["patch", "--change", &id, "--dry-run"]);
    assert!(plan.contains("reboots: never"), "{plan}");
    let argv = args(&id);
    let (code, out, err) = run(
        c,
        "alice",
        &argv.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    let result: Value = serde_json::from_str(&out).expect("json");
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
    let shown = json(c, &["rollout", "show", "R-1"]);
    assert_eq!(
        host_states(&shown),
        [("web-1", "rolled-back"), ("web-2", "pending")],
        "{shown}"
    );
    assert_eq!(version_on(c, "web-1", "acme-agent"), "1.0");
    assert!(reboots(c, "R-1").is_empty());

    // patch.reboot: if-required, but web-1's reboot does nothing: the marker proves it is
    // still the same boot, and the bound fails it (then it is rolled back).
    let text = std::fs::read_to_string(c).expect("lab config");
    let allowed = text.replacen(
        "patch:\n",
        "patch:\n  reboot: if-required\n  reboot_timeout: 4s\n",
        1,
    );
    assert_ne!(allowed, text, "the lab config has a patch: section");
    let c2 = std::path::Path::new(&d).join("reboot.yaml");
    std::fs::write(&c2, &allowed).expect("write config");
    let c2 = c2.display().to_string();
    let c2 = c2.as_str();
    lab_ssh(
        &d,
        "web-1",
        "mv /usr/local/sbin/shutdown /root/shutdown && printf '#!/bin/sh\\nexit 0\\n' > /usr/local/sbin/shutdown && chmod 755 /usr/local/sbin/shutdown",
    );
    let id = approved(c2, "agent 1.2, again");
    let plan = ok(c2, "alice", &["patch", "--change", &id, "--dry-run"]);
    assert!(
        plan.contains("reboots: if required (a host must be back within 4s)"),
        "{plan}"
    );
    let argv = args(&id);
    let started = std::time::Instant::now();
    let (code, out, err) = run(
        c2,
        "alice",
        &argv.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "bounded: {:?}",
        started.elapsed()
    );
    let result: Value = serde_json::from_str(&out).expect("json");
    let detail = result["result"]["hosts"][0]["detail"]
        .as_str()
        .unwrap_or("");
    assert!(
        detail.contains("web-1: not back from the reboot after ")
            && detail.contains("it still answered on the boot before the reboot"),
        "{result}"
    );
    assert_eq!(reboots(c2, "R-2"), [("web-1".to_owned(), false)]);
    let shown = json(c2, &["rollout", "show", "R-2"]);
    assert_eq!(
        host_states(&shown),
        [("web-1", "rolled-back"), ("web-2", "pending")],
        "{shown}"
    );
    lab_ssh(&d, "web-1", "mv /root/shutdown /usr/local/sbin/shutdown");

    // The controller dies while web-1 reboots; `rollout resume` waits for the host, finds
    // the reboot done, verifies it, and the second wave reboots web-2: every host on the
    // manifest, each upgraded exactly once in this rollout, no reboot request left.
    let id = approved(c2, "agent 1.2, third time");
    let text = allowed.replacen("reboot_timeout: 4s", "reboot_timeout: 60s", 1);
    std::fs::write(c2, text).expect("write config");
    // SIGKILL once web-1's reboot command has been started (it runs a second later): the
    // host notes the token of its pending reboot (R-2's fake one is still there).
    let pending = || {
        let out = fearless(&[
            "lab",
            "ssh",
            "web-1",
            "--dir",
            &d,
            "--",
            "cat",
            "/run/fearless/reboot-pending",
        ]);
        stdout(&out).trim().to_owned()
    };
    let before = pending();
    assert!(
        kill_once(c2, &id, std::time::Duration::ZERO, || {
            let now = pending();
            !now.is_empty() && now != before
        }),
        "web-1's reboot never started"
    );
    let (code, out, err) = run(
        c2,
        "alice",
        &["rollout", "resume", "R-3", "--format", "json"],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    let shown = json(c2, &["rollout", "show", "R-3"]);
    assert_eq!(
        host_states(&shown),
        [("web-1", "verified"), ("web-2", "verified")],
        "{shown}"
    );
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
    let out = std::process::Command::new("curl")
        .args([
            "-fsS",
            "--max-time",
            "5",
            &format!("http://{address}:8080/version"),
        ])
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {address}: {}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    doc["acme-web"].as_str().unwrap_or_default().to_owned()
}

/// An approved, scheduled change of the web front end on `hosts`.
fn approved_web_change(config: &str, hosts: &str) -> String {
    let created: Value = serde_json::from_str(&ok(
        config,
        "alice",
        &[
            "change",
            "new",
            "--title",
            "acme-web 1.2",
            "--hosts",
            hosts,
            "--component",
            "checkout",
            "--format",
            "json",
        ],
    ))
    .expect("json");
    let id = format!("CHG-{}", created["number"]);
    ok(config, "alice", &["change", "submit", &id]);
    ok(config, "bob", &["change", "approve", &id]);
    ok(config, "alice", &["change", "schedule", &id]);
    id
}

#[test]
fn a_service_its_update_forgot_to_restart_is_restarted_or_with_restart_never_reported() {
    let lab = TestLab::up(&["--hosts", "2"]);
    lab.publish("stale-service");
    let c = lab.config.as_str();
    let patch = |config: &str, id: &str| -> Value {
        let (code, out, err) = run(
            config,
            "alice",
            &[
                "patch", "--change", id, "--waves", "100%", "--bake", "0s", "--format", "json",
            ],
        );
        assert_eq!(code, Some(0), "{out}\n{err}");
        serde_json::from_str(&out).expect("json")
    };

    // patch.restart: never — web-1 takes 1.2, but its acme-web (whose postinst forgot the
    // restart) still runs 1.0 and maps the replaced file: verified, with the warning.
    let text = std::fs::read_to_string(c).expect("lab config");
    let never = text.replacen("patch:\n", "patch:\n  restart: never\n", 1);
    let c_never = std::path::Path::new(&lab.dir).join("never.yaml");
    std::fs::write(&c_never, never).expect("write config");
    let c_never = c_never.display().to_string();
    let id = approved_web_change(&c_never, "web-1");
    let result = patch(&c_never, &id);
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
    let id = approved_web_change(c, "web-2");
    let result = patch(c, &id);
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
fn patch_until(config: &str, change: &str, rollout: u64, kind: &str) -> std::process::Child {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args([
            "-c", config, "--as", "alice", "patch", "--change", change, "--waves", "1,100%",
            "--bake", "1s",
        ])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn patch");
    let subject = format!("R-{rollout}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !journal_text(config, &subject).contains(&format!("\"{kind}\"")) {
        assert!(
            std::time::Instant::now() < deadline,
            "R-{rollout} never reached {kind}"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "patch ended before {kind}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child
}

#[test]
fn an_abort_racing_a_host_step_wins_and_the_controller_reports_nothing_the_store_does_not_hold() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let c = lab.config.as_str();
    lab.publish("routine");
    let id = approved(c, "routine, aborted mid-transaction");
    // The canary is in its package transaction (about two seconds) when the abort comes.
    let child = patch_until(c, &id, 1, "rollout.host.applying");
    let (code, out, err) = run(c, "carol", &["rollout", "abort", "R-1"]);
    assert_eq!(
        code,
        Some(0),
        "the abort backs every changed host out:\n{out}\n{err}"
    );
    let patched = child.wait_with_output().expect("patch ends");
    let (pout, perr) = (
        String::from_utf8_lossy(&patched.stdout),
        String::from_utf8_lossy(&patched.stderr),
    );
    // The first controller's next step was refused: it stops, and prints no result.
    assert_eq!(patched.status.code(), Some(3), "{pout}\n{perr}");
    assert!(pout.is_empty(), "nothing reported: {pout}");
    assert!(
        perr.contains("R-1 stopped: web-1's step from applying to")
            && perr.contains("another controller moved it"),
        "{perr}"
    );
    let shown = json(c, &["rollout", "show", "R-1"]);
    assert_eq!(shown["state"], "backed-out", "{shown}");
    assert_eq!(
        host_states(&shown),
        [("web-1", "rolled-back"), ("web-2", "pending")],
        "{shown}"
    );
    assert_eq!(version_on(c, "web-1", "acme-api"), "1.0");
    assert_eq!(version_on(c, "web-2", "acme-api"), "1.0");
    assert_eq!(
        json(c, &["change", "show", &id])["close_code"],
        "backed-out"
    );
    let (code, out, _) = run(c, "alice", &["rollout", "resume", "R-1"]);
    assert_eq!(code, Some(0));
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

    fn as_postgres(&self, tool: &str, args: &[&str]) {
        let out = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .output()
            .expect("run as postgres");
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
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
    let text = std::fs::read_to_string(&lab.config).expect("lab config");
    let c = std::path::Path::new(&d).join("team.yaml");
    std::fs::write(&c, format!("{text}store: \"{}\"\n", pg.url())).expect("write config");
    let c = c.display().to_string();
    let c = c.as_str();
    let id = approved(c, "routine, store lost");
    let child = patch_until(c, &id, 1, "rollout.host.applying");
    pg.stop();
    let patched = child.wait_with_output().expect("patch ends");
    let (pout, perr) = (
        String::from_utf8_lossy(&patched.stdout),
        String::from_utf8_lossy(&patched.stderr),
    );
    assert_eq!(patched.status.code(), Some(3), "{pout}\n{perr}");
    assert!(pout.is_empty(), "nothing reported: {pout}");
    assert!(
        perr.contains("R-1 stopped: web-1's step from applying to applied was not recorded")
            && perr.contains("the store holds web-1 as applying")
            && perr.contains("fearless rollout resume R-1"),
        "{perr}"
    );
    // The store back, it holds what the controller recorded: web-1 applying.
    pg.start_again();
    let shown = json(c, &["rollout", "show", "R-1"]);
    assert_eq!(shown["state"], "running", "{shown}");
    assert_eq!(
        host_states(&shown),
        [("web-1", "applying"), ("web-2", "pending")],
        "{shown}"
    );
    // Resume finds the manifest on web-1, verifies it without applying again, and goes on.
    let resumed: Value = serde_json::from_str(&ok(
        c,
        "alice",
        &["rollout", "resume", "R-1", "--format", "json"],
    ))
    .expect("json");
    assert_eq!(resumed["state"], "completed", "{resumed}");
    for host in ["web-1", "web-2"] {
        assert_eq!(version_on(c, host, "acme-api"), "1.1");
        assert_eq!(upgrades(&d, host, "acme-api", "1.0", "1.1"), 1, "{host}");
    }
    let verify = fearless(&["-c", c, "journal", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}
