//! Helpers shared by the lab tests: a lab directory taken down however the test ends, a
//! blocking HTTP GET, ssh into a lab host, process and mount inspection.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A temporary directory for one lab (`dir`), whose lab is taken down however the test ends
/// (even when an assertion fails midway).
pub(crate) struct LabDir {
    pub(crate) dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl LabDir {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        Self {
            dir: tmp.path().join("lab"),
            _tmp: tmp,
        }
    }
}

impl Drop for LabDir {
    fn drop(&mut self) {
        let _ = fearless_lab::down(&self.dir, &mut |_| {});
    }
}

/// `down` the two-host lab in `dir`, requiring it to leave none of the processes
/// `state.json` recorded (unshare and init of each host) and no mount under `dir`; its report.
#[track_caller]
pub(crate) fn down_leaves_nothing(dir: &Path) -> fearless_lab::DownReport {
    let recorded = recorded_processes(dir);
    assert_eq!(
        recorded.len(),
        4,
        "unshare and init of two hosts: {recorded:?}"
    );
    let report = fearless_lab::down(dir, &mut |_| {}).expect("down");
    for (pid, start) in &recorded {
        assert!(!alive(*pid, *start), "process {pid} survived down");
    }
    assert_eq!(mounts_under(dir), Vec::<String>::new());
    report
}

/// `GET http://addr:port/path`, returning the status code and body.
pub(crate) fn http_get(address: &str, port: u16, path: &str) -> (u16, String) {
    let addr: SocketAddr = format!("{address}:{port}").parse().expect("socket address");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read response");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Polls `GET path` until it answers `want` (services restart during upgrades).
pub(crate) fn wait_status(address: &str, port: u16, path: &str, want: u16) -> u16 {
    let started = Instant::now();
    loop {
        let got = http_get(address, port, path).0;
        if got == want || started.elapsed() > Duration::from_secs(10) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs a remote command with `ssh -F DIR/ssh_config HOST`, asserting success; returns stdout.
pub(crate) fn ssh(dir: &Path, host: &str, command: &str) -> String {
    let argv = fearless_lab::ssh_argv(dir, host).expect("ssh argv");
    let output = Command::new(&argv[0])
        .args(&argv[1..])
        .args(["-o", "BatchMode=yes", "--", command])
        .stdin(Stdio::null())
        .output()
        .expect("run ssh");
    assert!(
        output.status.success(),
        "ssh {host} {command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a remote command like [`ssh`], whatever its end: (exit code, stdout and stderr).
pub(crate) fn ssh_status(dir: &Path, host: &str, command: &str) -> (Option<i32>, String) {
    let argv = fearless_lab::ssh_argv(dir, host).expect("ssh argv");
    let output = Command::new(&argv[0])
        .args(&argv[1..])
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=3",
            "--",
            command,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run ssh");
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Whether a process with this pid and start time still runs (zombies do not count).
pub(crate) fn alive(pid: u64, start_time: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields.first() != Some(&"Z") && fields.get(19).and_then(|s| s.parse().ok()) == Some(start_time)
}

/// Mount points at or under `dir` in /proc/self/mountinfo.
pub(crate) fn mounts_under(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let prefix = dir.to_string_lossy().into_owned();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| *m == prefix || m.starts_with(&format!("{prefix}/")))
        .map(str::to_owned)
        .collect()
}

/// Fails the test (never skips it) when the lab cannot run here.
pub(crate) fn require_lab_prerequisites() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned));
    assert_eq!(uid.as_deref(), Some("0"), "the lab tests must run as root");
    let has_debootstrap = [
        "/usr/sbin/debootstrap",
        "/sbin/debootstrap",
        "/usr/bin/debootstrap",
    ]
    .iter()
    .any(|p| Path::new(p).exists());
    assert!(
        has_debootstrap,
        "the lab tests need debootstrap: apt-get install -y debootstrap"
    );
}

/// Fails the test (never skips it) when the RPM host cannot be built here.
pub(crate) fn require_rpm_prerequisites() {
    for program in ["rpmbuild", "createrepo_c"] {
        let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(program).exists());
        assert!(
            found,
            "the rpm host test needs {program}: apt-get install -y rpm createrepo-c"
        );
    }
}

/// (pid, start time) of every process recorded in `state.json`.
pub(crate) fn recorded_processes(dir: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(dir.join("state.json")).expect("state.json");
    let state: serde_json::Value = serde_json::from_str(&text).expect("state json");
    let mut out = Vec::new();
    for host in state["hosts"].as_array().expect("hosts") {
        for key in ["unshare", "init"] {
            let p = &host[key];
            out.push((
                p["pid"].as_u64().expect("pid"),
                p["start_time"].as_u64().expect("start time"),
            ));
        }
    }
    out
}
