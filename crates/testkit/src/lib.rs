//! Test harness shared by integration tests: a real `sshd` on a loopback address with a
//! generated host key and client key, stopped by PID when dropped; and ([`ssm`]) a local
//! AWS Systems Manager Run Command endpoint that runs commands on lab hosts or locally.
//!
//! Tests that need sshd fail (they do not skip) when it is missing: `scripts/test.sh`
//! installs openssh-server. [`moto`]: a real `moto_server` for the AWS tests.

pub mod moto;

pub mod ssm;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd for one test.
#[derive(Debug)]
pub struct Sshd {
    /// Temp dir with keys, configs and logs.
    pub dir: tempfile::TempDir,
    /// Address it listens on.
    pub addr: SocketAddr,
    child: Child,
}

/// A free TCP port on `ip` (bound then released).
pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    /// Start sshd on `ip` (a 127.x address) with fresh keys; root may log in with the client key.
    pub fn start(ip: &str) -> Self {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "sshd is required: apt-get install -y openssh-server (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join("host_ed25519")));
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join("id_ed25519")));
        std::fs::copy(d.join("id_ed25519.pub"), d.join("authorized_keys"))
            .expect("authorized_keys");
        std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
        let port = free_port(ip);
        let addr: SocketAddr = format!("{ip}:{port}").parse().expect("addr");
        let cfg = format!(
            "ListenAddress {ip}:{port}\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nMaxStartups 200\nMaxSessions 200\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), cfg).expect("sshd_config");
        let host_pub = std::fs::read_to_string(d.join("host_ed25519.pub")).expect("host key");
        let mut kh = std::fs::File::create(d.join("known_hosts")).expect("known_hosts");
        writeln!(kh, "[{ip}]:{port} {}", host_pub.trim()).expect("write known_hosts");
        std::fs::write(d.join("empty_known_hosts"), "").expect("empty known_hosts");
        let ssh_config = format!(
            "Host *\n  IdentityFile {d}/id_ed25519\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  BatchMode yes\n  LogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("ssh_config"), ssh_config).expect("ssh_config");
        let untrusting = format!(
            "Host *\n  IdentityFile {d}/id_ed25519\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/empty_known_hosts\n  BatchMode yes\n  LogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("ssh_config_untrusting"), untrusting).expect("ssh_config");
        let child = spawn(d, addr);
        Self { dir, addr, child }
    }

    /// What a reboot does to it: every connection cut (the listener and the session
    /// processes it forked are killed, by PID), then the same server (same address, host
    /// key and users) listening again.
    pub fn restart(&mut self) {
        let sessions = children_of(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in sessions
            .into_iter()
            .filter_map(rustix::process::Pid::from_raw)
        {
            // A PID read as a child of our own sshd a moment ago; gone already is fine.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        self.child = spawn(self.dir.path(), self.addr);
    }

    /// How many connections are open now: the processes our sshd forked, one each.
    pub fn connections(&self) -> usize {
        children_of(self.child.id()).len()
    }

    /// The client ssh_config that trusts this server's host key.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// A client ssh_config whose known_hosts is empty (the host key is unknown).
    pub fn untrusting_ssh_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config_untrusting")
    }

    /// An inventory host line for this server, for YAML configs.
    pub fn host_yaml(&self, name: &str) -> String {
        format!(
            "{name}: {{ address: {}, port: {}, user: root }}",
            self.addr.ip(),
            self.addr.port()
        )
    }
}

/// Start `/usr/sbin/sshd` on the config in `d` and wait until it listens on `addr`.
fn spawn(d: &Path, addr: SocketAddr) -> Child {
    let log = std::fs::File::create(d.join("sshd.log")).expect("log");
    let child = Command::new("/usr/sbin/sshd")
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start sshd");
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "sshd did not listen on {addr}: {}",
            std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// The PIDs whose parent is `parent` (from `/proc/*/stat`).
fn children_of(parent: u32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Stop exactly the process we started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
