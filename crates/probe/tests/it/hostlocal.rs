//! Host-local check kinds (`process`, `port`, `package`, `file`, `command`, `service`) run
//! through a real sshd on a loopback address, exactly as against a managed host.
//!
//! The sshd runs as root on this very machine, so every check inspects this machine: the
//! tests only read it, and everything they look for (processes, listeners, files, pid files)
//! they create themselves and remove again (processes are killed by PID).

use fearless_config::Config;
use fearless_probe::result::{CheckResult, Reason, Status};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

use fearless_testkit::Sshd;

/// A process this test started; killed by its PID when dropped.
#[derive(Debug)]
struct Started(Child);

impl Started {
    /// `sleep 300` running under the argv[0] `argv0` (its kernel name stays `sleep`).
    fn with_argv0(argv0: &str) -> Self {
        Self(
            Command::new("sleep")
                .arg("300")
                .arg0(argv0)
                .spawn()
                .expect("start sleep"),
        )
    }

    /// A copy of `sleep` named `name`, so its kernel name (comm) is `name`; its argv[0] is
    /// something else, so only the comm can match.
    fn with_comm(dir: &Path, name: &str) -> Self {
        let exe = dir.join(name);
        std::fs::copy("/usr/bin/sleep", &exe).expect("copy sleep");
        // A fork elsewhere in this multi-threaded test binary may briefly hold the copy's
        // write descriptor, which makes exec fail with ETXTBSY; try again shortly.
        for _ in 0..50 {
            match Command::new(&exe)
                .arg("300")
                .arg0("fearless-it-not-the-comm")
                .spawn()
            {
                Ok(child) => return Self(child),
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("cannot start {}: {e}", exe.display()),
            }
        }
        panic!("{} stayed busy", exe.display());
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A name no process on this machine has.
fn unique(what: &str) -> String {
    format!("fl-{what}-{}", std::process::id())
}

/// A config whose component `app` runs `checks` (JSON, which is YAML) on every host of
/// `hosts` (inventory lines), reached over ssh with `ssh_config`.
fn config(hosts: &[String], ssh_config: &Path, checks: &Value) -> Config {
    let yaml = format!(
        "inventory:\n  ssh: {{ config: \"{}\", connect_timeout: 3s }}\n  hosts:\n{}\ncomponents:\n  app:\n    runs_on: all\n    checks: {checks}\n",
        ssh_config.display(),
        hosts
            .iter()
            .map(|h| format!("    {h}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    crate::load(&yaml)
}

/// Run `checks` on one host (`h1`, the given sshd) and key the results by check name.
async fn run_on(sshd: &Sshd, checks: &Value) -> HashMap<String, CheckResult> {
    let cfg = config(&[sshd.host_yaml("h1")], &sshd.ssh_config(), checks);
    crate::run_all(&cfg)
        .await
        .into_iter()
        .map(|r| (r.check.clone(), r))
        .collect()
}

/// Assert the status, the reason and a piece of the message of check `name`.
#[track_caller]
fn expect(
    results: &HashMap<String, CheckResult>,
    name: &str,
    status: Status,
    reason: Option<Reason>,
    says: &str,
) {
    let r = results
        .get(name)
        .unwrap_or_else(|| panic!("no result for `{name}`: {results:#?}"));
    assert_eq!((r.status, r.reason), (status, reason), "`{name}`: {r:#?}");
    assert!(
        r.message.contains(says),
        "`{name}` should say {says:?}: {r:#?}"
    );
}

#[tokio::test]
async fn process_checks_match_argv0_or_comm_and_count_instances() {
    let sshd = Sshd::start("127.0.0.71");
    let dir = tempfile::tempdir().expect("temp dir");
    let argv0 = unique("argv0");
    let by_argv0 = Started::with_argv0(&argv0);
    let comm = format!("flc{}", std::process::id() % 1_000_000);
    let by_comm = Started::with_comm(dir.path(), &comm);
    let checks = json!([
        { "name": "argv0", "process": { "name": argv0 } },
        { "name": "argv0 as root", "process": { "name": argv0, "user": "root" } },
        { "name": "argv0 as nobody", "process": { "name": argv0, "user": "nobody" } },
        { "name": "comm", "process": { "name": comm } },
        { "name": "absent", "process": { "name": unique("nothing") } },
        { "name": "two wanted", "process": { "name": argv0, "min": 2 } },
        // Names that appear only in the listing script's own argv.
        { "name": "self marker", "process": { "name": "fearless-ps" } },
        { "name": "self marker spaced", "process": { "name": ": fearless-ps" } },
        { "name": "self script text", "process": { "name": "/proc/[0-9]*" } },
    ]);
    let r = run_on(&sshd, &checks).await;
    expect(
        &r,
        "argv0",
        Status::Pass,
        None,
        &format!("1 running (pid {})", by_argv0.pid()),
    );
    expect(
        &r,
        "argv0 as root",
        Status::Pass,
        None,
        &by_argv0.pid().to_string(),
    );
    expect(
        &r,
        "argv0 as nobody",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("no `{argv0}` process running"),
    );
    expect(
        &r,
        "comm",
        Status::Pass,
        None,
        &format!("1 running (pid {})", by_comm.pid()),
    );
    expect(
        &r,
        "absent",
        Status::Fail,
        Some(Reason::Assertion),
        "process running",
    );
    expect(
        &r,
        "two wanted",
        Status::Fail,
        Some(Reason::Assertion),
        &format!(
            "1 `{argv0}` running (pid {}), expected at least 2",
            by_argv0.pid()
        ),
    );
    expect(
        &r,
        "self marker",
        Status::Fail,
        Some(Reason::Assertion),
        "no `fearless-ps` process running",
    );
    expect(
        &r,
        "self marker spaced",
        Status::Fail,
        Some(Reason::Assertion),
        "process running",
    );
    expect(
        &r,
        "self script text",
        Status::Fail,
        Some(Reason::Assertion),
        "process running",
    );
}

#[tokio::test]
async fn port_checks_see_our_listener_on_the_templated_host_address() {
    let sshd = Sshd::start("127.0.0.72");
    let ip = sshd.addr.ip().to_string();
    let ours = std::net::TcpListener::bind((ip.as_str(), 0)).expect("bind our listener");
    let port = ours.local_addr().expect("listener address").port();
    let elsewhere =
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind a listener on another address");
    let other_port = elsewhere.local_addr().expect("listener address").port();
    let unused = fearless_testkit::free_port(&ip);
    let checks = json!([
        { "name": "ours", "port": { "port": port, "address": "{host.address}" } },
        { "name": "ours on any address", "port": { "port": port } },
        { "name": "unused", "port": { "port": unused, "address": "{host.address}" } },
        { "name": "unused on any address", "port": { "port": unused } },
        { "name": "other address", "port": { "port": other_port, "address": "{host.address}" } },
    ]);
    let r = run_on(&sshd, &checks).await;
    expect(
        &r,
        "ours",
        Status::Pass,
        None,
        &format!("listening on {ip}:{port}"),
    );
    expect(
        &r,
        "ours on any address",
        Status::Pass,
        None,
        &format!(":{port}"),
    );
    expect(
        &r,
        "unused",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("nothing listening on {ip}:{unused}"),
    );
    expect(
        &r,
        "unused on any address",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("nothing listening on port {unused}"),
    );
    expect(
        &r,
        "other address",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("nothing listening on {ip}:{other_port}"),
    );
    drop((ours, elsewhere));
}

/// The version of `dpkg` installed on this machine, as dpkg itself reports it.
fn installed_dpkg_version() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "dpkg"])
        .output()
        .expect("run dpkg-query");
    assert!(
        out.status.success(),
        "dpkg is installed on Debian: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 version")
}

#[tokio::test]
async fn package_checks_use_the_installed_version_and_debian_ordering() {
    let sshd = Sshd::start("127.0.0.73");
    let v = installed_dpkg_version();
    let checks = json!([
        { "name": "installed", "package": { "name": "dpkg" } },
        { "name": "new enough", "package": { "name": "dpkg", "version": ">= 1.0" } },
        { "name": "too new", "package": { "name": "dpkg", "version": "< 1.0" } },
        { "name": "range", "package": { "name": "dpkg", "version": ">= 1.0, < 1.0.1" } },
        { "name": "absent", "package": { "name": "fearless-no-such-package" } },
        // Debian ordering: 1.21 is after 1.9 (numeric parts), `~` sorts before everything,
        // `+` after the end; string or semver ordering would get these wrong.
        { "name": "numeric parts", "package": { "name": "dpkg", "version": "> 1.9" } },
        { "name": "tilde before release", "package": { "name": "dpkg", "version": format!(">= {v}~rc1") } },
        { "name": "tilde not after release", "package": { "name": "dpkg", "version": format!("< {v}~rc1") } },
        { "name": "plus after release", "package": { "name": "dpkg", "version": format!(">= {v}+b1") } },
        { "name": "exactly", "package": { "name": "dpkg", "version": format!("= {v}") } },
    ]);
    let r = run_on(&sshd, &checks).await;
    expect(&r, "installed", Status::Pass, None, &format!("dpkg {v}"));
    expect(&r, "new enough", Status::Pass, None, &format!("dpkg {v}"));
    expect(
        &r,
        "too new",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("dpkg {v} does not satisfy < 1.0"),
    );
    expect(
        &r,
        "range",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("dpkg {v} does not satisfy < 1.0.1"),
    );
    expect(
        &r,
        "absent",
        Status::Fail,
        Some(Reason::Assertion),
        "package `fearless-no-such-package` is not installed",
    );
    expect(&r, "numeric parts", Status::Pass, None, &v);
    expect(&r, "tilde before release", Status::Pass, None, &v);
    expect(
        &r,
        "tilde not after release",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("does not satisfy < {v}~rc1"),
    );
    expect(
        &r,
        "plus after release",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("does not satisfy >= {v}+b1"),
    );
    expect(&r, "exactly", Status::Pass, None, &v);
}

#[tokio::test]
async fn file_checks_existence_mode_owner_and_content() {
    let sshd = Sshd::start("127.0.0.74");
    let dir = tempfile::tempdir().expect("temp dir");
    // Data travels as a positional parameter: a hostile file name is just a name.
    let conf = dir.path().join("app 'x' $(id)\n.conf");
    std::fs::write(&conf, "listen 8080\nworkers 4\n").expect("write file");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let link = dir.path().join("current.conf");
    std::os::unix::fs::symlink(&conf, &link).expect("symlink");
    let missing = dir.path().join("missing.conf");
    let (conf, link, missing) = (
        conf.to_str().expect("utf-8"),
        link.to_str().expect("utf-8"),
        missing.to_str().expect("utf-8"),
    );
    let checks = json!([
        { "name": "all good", "file": { "path": conf, "mode": "0640", "owner": "root", "contains": "listen 8080" } },
        { "name": "wrong mode", "file": { "path": conf, "mode": "0644" } },
        { "name": "wrong owner", "file": { "path": conf, "owner": "nobody" } },
        { "name": "lacks", "file": { "path": conf, "contains": "listen 9090" } },
        { "name": "absent as wanted", "file": { "path": missing, "exists": false } },
        { "name": "absent", "file": { "path": missing } },
        { "name": "present but must not", "file": { "path": conf, "exists": false } },
        // Mode and owner are the target's, as for existence and content.
        { "name": "through a symlink", "file": { "path": link, "mode": "0640", "owner": "root", "contains": "workers 4" } },
    ]);
    let r = run_on(&sshd, &checks).await;
    expect(&r, "all good", Status::Pass, None, "ok (0640 root)");
    expect(
        &r,
        "wrong mode",
        Status::Fail,
        Some(Reason::Assertion),
        "has mode 0640 (expected 0644)",
    );
    expect(
        &r,
        "wrong owner",
        Status::Fail,
        Some(Reason::Assertion),
        "is owned by root (expected nobody)",
    );
    expect(
        &r,
        "lacks",
        Status::Fail,
        Some(Reason::Assertion),
        "does not contain \"listen 9090\"",
    );
    expect(&r, "absent as wanted", Status::Pass, None, "is absent");
    expect(
        &r,
        "absent",
        Status::Fail,
        Some(Reason::Assertion),
        "does not exist",
    );
    expect(
        &r,
        "present but must not",
        Status::Fail,
        Some(Reason::Assertion),
        "exists but must not",
    );
    expect(
        &r,
        "through a symlink",
        Status::Pass,
        None,
        "ok (0640 root)",
    );
}

#[tokio::test]
async fn command_checks_exit_codes_output_nagios_and_hostile_argv() {
    let sshd = Sshd::start("127.0.0.75");
    let hostile = [
        "'; rm -rf / #",
        "$(id)",
        "`id`",
        "a\"b'c",
        "line1\nline2",
        "$HOME *",
        "-n",
        "ünïcødé ✓",
    ];
    let mut checks = vec![
        json!({ "name": "exit 3 wanted", "command": { "run": ["sh", "-c", "exit 3"], "exit": 3 } }),
        json!({ "name": "exit 3 unwanted", "command": { "run": ["sh", "-c", "echo boom >&2; exit 3"] } }),
        json!({ "name": "stdout", "command": { "run": ["echo", "hello world"], "stdout": "^hello w" } }),
        json!({ "name": "stdout whole line", "command": { "run": ["echo", "ok"], "stdout": "^ok$" } }),
        json!({ "name": "stdout mismatch", "command": { "run": ["echo", "hello world"], "stdout": "^bye" } }),
        json!({ "name": "stderr", "command": { "run": ["sh", "-c", "echo careful >&2"], "stderr": "^careful$" } }),
        json!({ "name": "not found", "command": { "run": ["/nonexistent/fearless-tool"] } }),
        json!({ "name": "templated", "command": { "run": ["printf", "%s", "{host.name}@{host.address}"], "stdout": "^h1@127\\.0\\.0\\.75$" } }),
        json!({ "name": "the brief's $(id)", "command": { "run": ["printf", "%s", "$(id)"], "stdout": "^\\$\\(id\\)$" } }),
    ];
    for (code, name) in [
        (0, "nagios ok"),
        (1, "nagios warning"),
        (2, "nagios critical"),
        (3, "nagios unknown"),
    ] {
        let script = format!("echo 'DISK {name} - 42% free'; exit {code}");
        checks.push(
            json!({ "name": name, "command": { "run": ["sh", "-c", script], "nagios": true } }),
        );
    }
    for (i, s) in hostile.iter().enumerate() {
        let stdout = format!("^{}$", regex::escape(s));
        checks.push(json!({ "name": format!("hostile {i}"), "command": { "run": ["printf", "%s", s], "stdout": stdout } }));
    }
    let r = run_on(&sshd, &Value::Array(checks)).await;
    expect(&r, "exit 3 wanted", Status::Pass, None, "exit 3");
    expect(
        &r,
        "exit 3 unwanted",
        Status::Fail,
        Some(Reason::Assertion),
        "exit 3 (expected 0): boom",
    );
    expect(&r, "stdout", Status::Pass, None, "exit 0");
    expect(&r, "stdout whole line", Status::Pass, None, "exit 0");
    expect(
        &r,
        "stdout mismatch",
        Status::Fail,
        Some(Reason::Assertion),
        "stdout does not match /^bye/: hello world",
    );
    expect(&r, "stderr", Status::Pass, None, "exit 0");
    // The host answered: a missing program is not a transport failure.
    expect(
        &r,
        "not found",
        Status::Error,
        Some(Reason::Config),
        "cannot run `/nonexistent/fearless-tool`: command not found (exit 127)",
    );
    expect(&r, "templated", Status::Pass, None, "exit 0");
    expect(&r, "the brief's $(id)", Status::Pass, None, "exit 0");
    expect(
        &r,
        "nagios ok",
        Status::Pass,
        None,
        "OK: DISK nagios ok - 42% free",
    );
    expect(
        &r,
        "nagios warning",
        Status::Degraded,
        Some(Reason::Assertion),
        "WARNING: DISK nagios warning",
    );
    expect(
        &r,
        "nagios critical",
        Status::Fail,
        Some(Reason::Assertion),
        "CRITICAL: DISK nagios critical",
    );
    expect(
        &r,
        "nagios unknown",
        Status::Error,
        Some(Reason::Assertion),
        "UNKNOWN (exit 3): DISK nagios unknown",
    );
    for i in 0..hostile.len() {
        expect(&r, &format!("hostile {i}"), Status::Pass, None, "exit 0");
    }
}

#[tokio::test]
async fn command_output_past_the_cap_is_judged_as_kept_and_a_command_printing_forever_ends_at_its_timeout()
 {
    let sshd = Sshd::start("127.0.0.79");
    let big = "head -c 5000000 /dev/zero | tr '\\0' y; echo done >&2";
    let checks = json!([
        // Past the cap at once, then printing forever (6 s: 8 MB through ssh on a machine
        // two builds load took more than 3 s).
        { "name": "forever", "timeout": "6s", "command": { "run": ["sh", "-c", "head -c 8000000 /dev/zero; exec yes"] } },
        { "name": "forever here", "on": "controller", "timeout": "6s", "command": { "run": ["yes"] } },
        { "name": "large", "command": { "run": ["sh", "-c", big], "stdout": "^y+$", "stderr": "^done$" } },
    ]);
    let start = std::time::Instant::now();
    let r = run_on(&sshd, &checks).await;
    assert!(
        start.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    for name in ["forever", "forever here"] {
        expect(
            &r,
            name,
            Status::Fail,
            Some(Reason::Timeout),
            "no answer within 6s (its output went on past the cap and was cut at 4194304 bytes)",
        );
    }
    expect(
        &r,
        "large",
        Status::Pass,
        None,
        "exit 0 (output past the cap: stdout cut at 4194304 bytes; FEARLESS_MAX_OUTPUT raises it)",
    );
}

#[tokio::test]
async fn service_checks_fall_back_to_the_pid_file_without_systemd() {
    assert!(
        !Path::new("/run/systemd/system").exists(),
        "this test expects a machine without systemd (the CI container)"
    );
    let sshd = Sshd::start("127.0.0.76");
    let dir = tempfile::tempdir().expect("temp dir");
    let argv0 = unique("svc");
    let daemon = Started::with_argv0(&argv0);
    let running = dir.path().join("running.pid");
    std::fs::write(&running, format!("{}\n", daemon.pid())).expect("write pid file");
    // A pid that was ours a moment ago and is gone now.
    let mut gone = Command::new("true").spawn().expect("start true");
    let gone_pid = gone.id();
    gone.wait().expect("reap true");
    let stale = dir.path().join("stale.pid");
    std::fs::write(&stale, format!("{gone_pid}\n")).expect("write pid file");
    // `kill -0 0` and `kill -0 -1` succeed; such a pid file must not read as running.
    let zero = dir.path().join("zero.pid");
    std::fs::write(&zero, "0\n").expect("write pid file");
    let minus = dir.path().join("minus.pid");
    std::fs::write(&minus, "-1\n").expect("write pid file");
    let missing = dir.path().join("missing.pid");
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let checks = json!([
        { "name": "pid file", "service": { "name": "fearless-it-daemon", "pidfile": path(&running) } },
        { "name": "stale pid file", "service": { "name": "fearless-it-daemon", "pidfile": path(&stale) } },
        { "name": "pid file of 0", "service": { "name": "fearless-it-daemon", "pidfile": path(&zero) } },
        { "name": "pid file of -1", "service": { "name": "fearless-it-daemon", "pidfile": path(&minus) } },
        { "name": "no pid file", "service": { "name": "fearless-it-daemon", "pidfile": path(&missing) } },
        { "name": "process fallback", "service": { "name": "fearless-it-daemon", "process": argv0 } },
        { "name": "process fallback, none", "service": { "name": unique("nosvc") } },
    ]);
    let r = run_on(&sshd, &checks).await;
    expect(&r, "pid file", Status::Pass, None, "running (pid file)");
    expect(
        &r,
        "stale pid file",
        Status::Fail,
        Some(Reason::Assertion),
        &format!("not running (pid file {})", stale.display()),
    );
    expect(
        &r,
        "pid file of 0",
        Status::Fail,
        Some(Reason::Assertion),
        "not running (pid file",
    );
    expect(
        &r,
        "pid file of -1",
        Status::Fail,
        Some(Reason::Assertion),
        "not running (pid file",
    );
    expect(
        &r,
        "no pid file",
        Status::Fail,
        Some(Reason::Assertion),
        "not running (pid file",
    );
    expect(
        &r,
        "process fallback",
        Status::Pass,
        None,
        &format!("no systemd; 1 running (pid {})", daemon.pid()),
    );
    expect(
        &r,
        "process fallback, none",
        Status::Fail,
        Some(Reason::Assertion),
        "no systemd; no `fl-nosvc-",
    );
}

#[tokio::test]
async fn an_unreachable_host_errors_with_transport_while_the_other_completes() {
    let sshd = Sshd::start("127.0.0.77");
    let dead_port = fearless_testkit::free_port("127.0.0.78");
    let hosts = [
        sshd.host_yaml("alive"),
        format!("dead: {{ address: 127.0.0.78, port: {dead_port}, user: root }}"),
    ];
    let checks = json!([
        // Transport failures are not retried: the host is down, not the check flaky.
        { "name": "command", "retries": 2, "command": { "run": ["true"] } },
        { "name": "file", "file": { "path": "/" } },
        { "name": "package", "package": { "name": "dpkg" } },
        { "name": "port", "port": { "port": sshd.addr.port() } },
    ]);
    let cfg = config(&hosts, &sshd.ssh_config(), &checks);
    let started = std::time::Instant::now();
    let results = crate::run_all(&cfg).await;
    assert_eq!(results.len(), 8, "{results:#?}");
    for r in &results {
        match r.host.as_deref() {
            Some("alive") => assert_eq!((r.status, r.reason), (Status::Pass, None), "{r:#?}"),
            Some("dead") => {
                assert_eq!(
                    (r.status, r.reason),
                    (Status::Error, Some(Reason::Transport)),
                    "{r:#?}"
                );
                assert!(r.message.contains("dead is unreachable"), "{r:#?}");
                assert_eq!(r.attempts, 1, "{r:#?}");
                assert!(fearless_probe::runner::is_transport_failure(r));
            }
            other => panic!("unexpected host {other:?}: {r:#?}"),
        }
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "a refused connection is reported at once: {:?}",
        started.elapsed()
    );
}

/// Wait (5 s at most) until `sshd` holds `n` connections; how many it holds then.
async fn settled_connections(sshd: &Sshd, n: usize) -> usize {
    let start = std::time::Instant::now();
    while sshd.connections() != n && start.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    sshd.connections()
}

#[tokio::test]
async fn a_last_pass_reads_a_host_of_one_command_on_a_connection_of_its_own() {
    use fearless_probe::runner::{Runner, Selection, plan};
    let sshd = Sshd::start("127.0.0.84");
    let h2 = sshd.host_yaml("h2");
    let h2 = format!(
        "{}, labels: {{ role: extra }} }}",
        h2.strip_suffix(" }").expect("a flow mapping")
    );
    let port = sshd
        .host_yaml("x")
        .split("port: ")
        .nth(1)
        .and_then(|p| p.split(',').next())
        .expect("a port")
        .to_owned();
    // h1: three checks judged from one read. h2: the same, and a command of its own.
    let yaml = format!(
        "inventory:\n  ssh: {{ config: \"{}\", connect_timeout: 3s }}\n  hosts:\n    {}\n    {h2}\n\
         components:\n  base:\n    runs_on: all\n    checks:\n\
         \x20     - {{ name: sshd process, process: {{ name: sshd }} }}\n\
         \x20     - {{ name: ssh port, port: {{ port: {port} }} }}\n\
         \x20     - {{ name: openssh-server installed, package: {{ name: openssh-server }} }}\n\
         \x20 extra:\n    runs_on: \"role=extra\"\n    checks:\n\
         \x20     - {{ name: kernel, command: {{ run: [uname, -s] }} }}\n",
        sshd.ssh_config().display(),
        sshd.host_yaml("h1"),
    );
    let cfg = crate::load(&yaml);
    let items = plan(&cfg, &Selection::default()).expect("plan");
    assert_eq!(items.len(), 7);

    // A pass the runner may run again keeps a master a host.
    let runner = Runner::new(&cfg).expect("runner");
    let results = runner.run(&items, &|_| {}).await;
    assert!(
        results.iter().all(|r| r.status == Status::Pass),
        "{results:#?}"
    );
    assert_eq!(sshd.connections(), 2, "h1's master and h2's");
    runner.close().await;
    assert_eq!(settled_connections(&sshd, 0).await, 0);

    // Its last pass: h1's one read goes on a connection that closes with it; h2's two
    // commands share a master, open until the runner closes.
    let runner = Runner::new(&cfg).expect("runner");
    let results = runner.run_last_pass(&items, &|_| {}).await;
    assert!(
        results.iter().all(|r| r.status == Status::Pass),
        "{results:#?}"
    );
    assert_eq!(settled_connections(&sshd, 1).await, 1, "h2's master alone");
    runner.close().await;
    assert_eq!(settled_connections(&sshd, 0).await, 0);
}
