//! End-to-end tests of the `fearless` binary: exit codes, output formats, config errors,
//! and the lab fleet.

mod browser;
mod change;
mod check;
mod config_errors;
mod corpus;
mod ec2;
mod events;
mod guide;
mod identity;
mod incident;
mod init;
mod journal;
mod lab;
mod lab_bisect;
mod lab_dashboard;
mod lab_deb;
mod lab_demo;
mod lab_guide;
mod lab_light;
mod lab_map;
mod lab_os;
mod lab_packages;
mod lab_patch;
mod lab_rca;
mod lab_rehearse;
mod lab_secrets;
mod lab_ssm;
mod lab_vulns;
mod lab_workers;
mod map;
mod meta;
mod os;
mod packages;
mod rehearse;
mod scan;
mod schemas;
mod serve;
mod signing;
mod ssm;
mod vulns;
mod workers;

use std::path::Path;
use std::process::{Command, Output};

/// What a lab left behind in `dir`: mounts under it, and processes whose root is under
/// it (chrooted into a host) or whose command line names it (a host's `unshare`).
pub(crate) fn leftovers(dir: &Path) -> (Vec<String>, Vec<u32>) {
    let dir_s = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&dir_s))
        .map(str::to_owned)
        .collect();
    let mut procs = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let chrooted =
            std::fs::read_link(entry.path().join("root")).is_ok_and(|root| root.starts_with(dir));
        let names_it = std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&dir_s));
        if chrooted || names_it {
            procs.push(pid);
        }
    }
    (mounts, procs)
}

/// A lab of its own for one test, in a temporary directory, taken down however the test
/// ends (a failed assertion never leaves sshd processes, mounts or the fixed lab addresses
/// behind). Needs root; CI runs as root, and without it the test fails, never skips.
pub(crate) struct TestLab {
    /// The lab directory (`--dir`).
    pub(crate) dir: String,
    /// Its `fearless.yaml`.
    pub(crate) config: String,
    tmp: tempfile::TempDir,
}

impl TestLab {
    /// `fearless lab up --dir DIR ARGS…`, which must succeed.
    #[track_caller]
    pub(crate) fn up(args: &[&str]) -> Self {
        let lab = Self::empty();
        let mut all = vec!["lab", "up", "--dir", lab.dir.as_str()];
        all.extend_from_slice(args);
        let out = fearless(&all);
        assert_eq!(out.status.code(), Some(0), "lab up: {}", stderr(&out));
        lab
    }

    /// A lab directory nothing is up in yet (`fearless demo` brings its own up); it is
    /// taken down on drop all the same.
    pub(crate) fn empty() -> Self {
        assert!(is_root(), "the lab test needs root (CI runs as root)");
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("lab");
        Self {
            dir: dir.display().to_string(),
            config: dir.join("fearless.yaml").display().to_string(),
            tmp,
        }
    }

    /// `fearless lab publish SCENARIO`, which must succeed.
    #[track_caller]
    pub(crate) fn publish(&self, scenario: &str) {
        let out = fearless(&["lab", "publish", scenario, "--dir", &self.dir]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "lab publish {scenario}: {}",
            stderr(&out)
        );
    }

    /// `fearless lab withdraw NAME=VERSION` (gone from the lab's repositories), which must
    /// succeed.
    #[track_caller]
    pub(crate) fn withdraw(&self, pin: &str) {
        exits(0, &["lab", "withdraw", pin, "--dir", &self.dir]);
    }

    /// The lab's config as `edit` makes it, written beside it as `NAME.yaml` (its paths are
    /// relative to the lab); its path.
    pub(crate) fn config_variant(&self, name: &str, edit: impl FnOnce(&str) -> String) -> String {
        let text = std::fs::read_to_string(&self.config).expect("lab config");
        let path = Path::new(&self.dir).join(format!("{name}.yaml"));
        std::fs::write(&path, edit(&text)).expect("write config");
        path.display().to_string()
    }

    /// A path for a test file beside the lab.
    pub(crate) fn file(&self, name: &str) -> std::path::PathBuf {
        self.tmp.path().join(name)
    }

    /// `pins` (`name=version`), one a line, written to the test file `name`; its path.
    pub(crate) fn pins_file(&self, name: &str, pins: &[String]) -> String {
        let path = self.file(name);
        std::fs::write(&path, pins.join("\n")).expect("write");
        path.display().to_string()
    }

    /// The bad-libacme batch the lab offers its first host (`pending_pins`: routine and
    /// libacme 2.0, ten pins) in the test file `batch.txt`, and the same batch without
    /// libacme in `without.txt`: their paths.
    #[track_caller]
    pub(crate) fn bad_batch_files(&self, config: &str) -> (String, String) {
        let pins = pending_pins(config);
        assert_eq!(pins.len(), 10, "{pins:?}");
        let without: Vec<String> = pins
            .iter()
            .filter(|p| !p.starts_with("libacme="))
            .cloned()
            .collect();
        (
            self.pins_file("batch.txt", &pins),
            self.pins_file("without.txt", &without),
        )
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        let _ = fearless(&["lab", "down", "--dir", &self.dir]);
    }
}

/// `fearless ARGS…`, which must exit `code`; its stdout and stderr.
#[track_caller]
pub(crate) fn exits(code: i32, args: &[&str]) -> (String, String) {
    let out = fearless(args);
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(
        out.status.code(),
        Some(code),
        "fearless {args:?}:\n{o}\n{e}"
    );
    (o, e)
}

/// [`exits`], with `needle` in its stderr; the stderr.
#[track_caller]
pub(crate) fn fails_with(code: i32, needle: &str, args: &[&str]) -> String {
    let (_, err) = exits(code, args);
    assert!(
        err.contains(needle),
        "fearless {args:?}: no {needle:?} in\n{err}"
    );
    err
}

/// [`exits`], which must succeed; its stdout.
#[track_caller]
pub(crate) fn run_ok(args: &[&str]) -> String {
    exits(0, args).0
}

/// `-c CONFIG --as WHO ARGS…`
fn argv_as<'a>(config: &'a str, who: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["-c", config, "--as", who];
    all.extend_from_slice(args);
    all
}

/// `fearless -c CONFIG --as WHO ARGS…`: exit code, stdout, stderr.
pub(crate) fn run_as(config: &str, who: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = fearless(&argv_as(config, who, args));
    (out.status.code(), stdout(&out), stderr(&out))
}

/// [`run_as`], which must exit `code`; its stdout and stderr.
#[track_caller]
pub(crate) fn exits_as(config: &str, who: &str, code: i32, args: &[&str]) -> (String, String) {
    exits(code, &argv_as(config, who, args))
}

/// [`run_as`], which must exit `code` with `needle` in its stderr; the stderr.
#[track_caller]
pub(crate) fn fails_as(config: &str, who: &str, code: i32, needle: &str, args: &[&str]) -> String {
    fails_with(code, needle, &argv_as(config, who, args))
}

/// [`run_as`], which must succeed; its stdout.
#[track_caller]
pub(crate) fn ok_as(config: &str, who: &str, args: &[&str]) -> String {
    exits_as(config, who, 0, args).0
}

/// [`run_as`] with `--format json`, which must exit `code`; the parsed output.
#[track_caller]
pub(crate) fn json_exits_as(
    config: &str,
    who: &str,
    code: i32,
    args: &[&str],
) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let (out, err) = exits_as(config, who, code, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("json ({e}): {out}\n{err}"))
}

/// [`run_as`] with `--format json`, which must exit 0; the parsed output.
#[track_caller]
pub(crate) fn json_as(config: &str, who: &str, args: &[&str]) -> serde_json::Value {
    json_exits_as(config, who, 0, args)
}

/// `name=version` of every update the lab offers its first host, at the highest version
/// (`packages --pending`, which refreshes every host's lists first).
#[track_caller]
pub(crate) fn pending_pins(config: &str) -> Vec<String> {
    let out = fearless(&["-c", config, "packages", "--pending", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "packages --pending: {}",
        stderr(&out)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    doc["hosts"][0]["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .map(|p| {
            format!(
                "{}={}",
                p["name"].as_str().expect("name"),
                p["to"].as_str().expect("to")
            )
        })
        .collect()
}

/// `fearless lab ssh HOST --dir DIR -- ARGV…`, whatever its end.
pub(crate) fn lab_ssh_run(dir: &str, host: &str, argv: &[&str]) -> Output {
    let mut all = vec!["lab", "ssh", host, "--dir", dir, "--"];
    all.extend_from_slice(argv);
    fearless(&all)
}

/// `sh -c SCRIPT` on lab host `host`, which must succeed; its stdout.
#[track_caller]
pub(crate) fn lab_ssh(dir: &str, host: &str, script: &str) -> String {
    let out = lab_ssh_run(dir, host, &["sh", "-c", script]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{host}: {script}\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Run a tool the test needs (not fearless), which must succeed; its output. `what` names it
/// in a failure.
#[track_caller]
pub(crate) fn run_tool(command: &mut Command, what: &str) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Run `script` on the SQLite database `db` with plain SQL, its append-only triggers dropped
/// first, as an attacker would.
#[track_caller]
pub(crate) fn tamper_sqlite(db: &Path, script: &str) {
    let python = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  for (n,) in c.execute(\"select name from sqlite_master where type='trigger'\").fetchall():\n    \
                      c.execute('drop trigger ' + n)\n\
                  c.executescript(sys.argv[2])\n\
                  c.commit()\n\
                  c.close()\n";
    run_tool(
        Command::new("python3")
            .args(["-c", python])
            .arg(db)
            .arg(script),
        "python3 (tampering with the store)",
    );
}

/// Whether this process runs as root.
pub(crate) fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// On lab host `host`, start a real `dpkg -i` whose postinst sleeps `seconds`, so it holds
/// the dpkg lock that long; returns once it runs.
#[track_caller]
pub(crate) fn hold_dpkg_lock(dir: &str, host: &str, seconds: u32) {
    let script = format!(
        "mkdir -p /tmp/slow/DEBIAN && printf 'Package: slowpoke\\nVersion: 1\\nArchitecture: all\\nMaintainer: lab <lab@example.org>\\nDescription: holds the dpkg lock\\n' > /tmp/slow/DEBIAN/control \\
         && printf '#!/bin/sh\\nsleep {seconds}\\n' > /tmp/slow/DEBIAN/postinst && chmod 755 /tmp/slow/DEBIAN/postinst \\
         && dpkg-deb --build /tmp/slow /tmp/slow.deb >/dev/null \\
         && (setsid dpkg -i /tmp/slow.deb >/dev/null 2>&1 </dev/null &) ; sleep 1"
    );
    lab_ssh(dir, host, &script);
}

/// Run the binary with `args`, no stdin, colour off. A JSON document it prints with a
/// `schema` must match that schema's file in `docs/schemas/` ([`schemas::validate`]).
pub(crate) fn fearless(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("FEARLESS_CONFIG")
        // AWS calls go to emulators on loopback only, signed with test credentials: a
        // developer's own never leave the machine.
        .env("AWS_ACCESS_KEY_ID", "fearless-test")
        .env("AWS_SECRET_ACCESS_KEY", "fearless-test")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run fearless");
    schemas::validate(&out.stdout);
    out
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Write a config file into `dir` and return its path as a string.
pub(crate) fn write_config(dir: &Path, yaml: &str) -> String {
    let path = dir.join("fearless.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path.display().to_string()
}

/// A tiny HTTP server on 127.0.0.1 answering every request with `status` and `body`;
/// it stops when the returned guard is dropped.
pub(crate) struct HttpServer {
    pub(crate) port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HttpServer {
    pub(crate) fn start(status: u16, body: &'static str) -> Self {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                        let resp = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.write_all(resp.as_bytes());
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Self { port, stop }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A database of its own on the machine's PostgreSQL, dropped at the end.
pub(crate) struct PgDatabase {
    name: String,
}

impl PgDatabase {
    pub(crate) fn create(tag: &str) -> Self {
        let name = format!("fearless_cli_{tag}_{}", std::process::id());
        let db = Self { name };
        run_tool(
            db.psql()
                .arg(format!("drop database if exists {} with (force)", db.name))
                .arg("-c")
                .arg(format!("create database {}", db.name)),
            "psql create database (PostgreSQL must be reachable at 127.0.0.1:5432)",
        );
        db
    }

    fn psql(&self) -> Command {
        let mut psql = Command::new("psql");
        psql.args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
            .args(["-v", "ON_ERROR_STOP=1", "-c"]);
        psql
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = self
            .psql()
            .arg(format!(
                "drop database if exists {} with (force)",
                self.name
            ))
            .output();
    }
}

/// A child's stderr line by line, read on a thread of its own.
pub(crate) struct StderrLines {
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl StderrLines {
    /// Take `child`'s piped stderr.
    pub(crate) fn of(child: &mut std::process::Child) -> Self {
        use std::io::BufRead as _;
        let (tx, lines) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("a piped stderr");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait at most `within` for a line `wanted` takes; what it made of it. The test fails
    /// with every line seen when none comes.
    #[track_caller]
    pub(crate) fn until<T>(
        &mut self,
        within: std::time::Duration,
        mut wanted: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!("no such line within {within:?}: {:#?}", self.seen);
            };
            if let Some(found) = wanted(&line) {
                return found;
            }
            self.seen.push(line);
        }
    }
}
