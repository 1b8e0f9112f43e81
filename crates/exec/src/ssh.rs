//! The ssh transport: the system `ssh` (so `~/.ssh/config`, `ProxyJump`, agents and
//! certificates work), one multiplexed master per host opened on first use and reused by
//! every command. With `inventory.ssh.persist`, masters live in a private directory under a
//! name derived from the destination and outlive the process by that idle time, so the next
//! fearless command (or a second one running at the same time) reuses them, as Ansible's
//! ControlPersist does.
//!
//! Every `ssh` this module starts has a deadline and is killed when it passes: opening a
//! master (ssh's `ConnectTimeout` bounds the TCP connect and the banner; the key exchange
//! and authentication get [`OPEN_GRACE`] more, since ssh bounds neither), asking a master
//! whether it lives or telling it to exit ([`CONTROL_DEADLINE`]), and each command (its
//! timeout, also enforced on the host by coreutils `timeout`). The destination always
//! comes after `--`, with the user and port as `-l` and `-p`, and one that starts with `-`
//! is refused: an inventory address can never become an ssh option.

use crate::masters::{Masters, Slot};
use crate::pace::Pace;
use crate::{ExecError, Limits, Output, quote, with_become};
use fearless_config::{Host, HostKeyChecking, SshOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Sessions at once on one master. sshd refuses more than `MaxSessions` (default 10) per
/// connection, so stay below it rather than fail with "Session open refused by peer".
pub const SESSIONS_PER_HOST: usize = 8;

/// Seconds an idle master connection stays up (it outlives a crashed fearless by this much).
const MASTER_IDLE_SECS: u64 = 300;

/// How long opening a master may take beyond `ConnectTimeout`: the key exchange and the
/// authentication, which ssh itself does not bound (a server that sends its banner and then
/// nothing would hold it forever).
const OPEN_GRACE: Duration = Duration::from_secs(10);

/// How long a control command (`ssh -O check`, `-O exit`) to a local master may take.
const CONTROL_DEADLINE: Duration = Duration::from_secs(5);

/// Runs commands on one host over ssh.
#[derive(Debug)]
pub struct SshTransport {
    pub(crate) host: String,
    pub(crate) limits: Limits,
    dest: Destination,
    sudo: bool,
    /// The master: opened on first use (once, whoever asks first), kept until
    /// [`SshTransport::reconnect`] drops it or the fleet's cap closes it while idle.
    slot: Arc<Slot>,
    /// The fleet's count of open masters (`None`: a transport on its own, uncapped).
    masters: Option<Arc<Masters>>,
    /// The fleet's pace of new connections (`None`: unpaced).
    pace: Option<Arc<Pace>>,
    sessions: Semaphore,
    /// With `persist`: how long the master outlives us, and its socket's name in the
    /// control directory (a hash of everything that makes two connections interchangeable).
    persist: Option<(Duration, String)>,
    /// The next command goes over a connection of its own, not a master
    /// ([`SshTransport::expect_one`]).
    alone: AtomicBool,
}

/// Where and how a master connects.
#[derive(Debug)]
struct Destination {
    address: String,
    user: String,
    port: u16,
    config_file: Option<PathBuf>,
    strict: bool,
    connect_timeout: Duration,
}

/// A running master connection, reached through its control socket.
#[derive(Debug)]
pub(crate) struct Master {
    socket: PathBuf,
    /// Where the master writes what it has to say (`ssh -E`).
    log: PathBuf,
    /// A master of this process only: its private directory, removed with it. When it is
    /// dropped without [`Master::exit`], the master is told to exit there and then.
    own: Option<tempfile::TempDir>,
}

impl SshTransport {
    pub(crate) fn new(
        host: &Host,
        opts: &SshOptions,
        limits: Limits,
        masters: Option<Arc<Masters>>,
        pace: Option<Arc<Pace>>,
    ) -> Self {
        let strict = opts.host_key_checking == HostKeyChecking::Strict;
        let persist = opts.persist.map(|idle| {
            let name = format!(
                "{:016x}",
                fnv64(
                    format!(
                        "{}\0{}\0{}\0{:?}\0{strict}",
                        host.user, host.address, host.port, opts.config_file
                    )
                    .as_bytes()
                )
            );
            (idle, name)
        });
        Self {
            host: host.name.clone(),
            limits,
            dest: Destination {
                address: host.address.clone(),
                user: host.user.clone(),
                port: host.port,
                config_file: opts.config_file.clone(),
                strict,
                connect_timeout: opts.connect_timeout,
            },
            sudo: crate::needs_sudo(host),
            slot: Arc::new(Slot::default()),
            masters,
            pace,
            sessions: Semaphore::new(SESSIONS_PER_HOST),
            persist,
            alone: AtomicBool::new(false),
        }
    }

    /// The caller will send one command now and none soon after: run the next one over a
    /// connection of its own — one `ssh`, no master to start for it and none to stop —
    /// unless a master is open already (or masters persist, to be reused). A round of one
    /// command a host costs mostly program starts, and a master costs two more `ssh` runs
    /// than it saves. A second command opens a master as usual.
    pub(crate) fn expect_one(&self) {
        if self.persist.is_none() {
            self.alone.store(true, Ordering::Relaxed);
        }
    }

    fn io_error(&self, what: &str, e: &std::io::Error) -> ExecError {
        ExecError::Spawn {
            host: self.host.clone(),
            program: "ssh".into(),
            detail: format!("{what}: {e}"),
        }
    }

    /// Reuse the persistent master if it is alive, else start it (under a lock, so two
    /// processes never start two masters on one socket).
    async fn persistent(&self, idle: Duration, name: &str) -> Result<Master, ExecError> {
        let dir =
            control_dir().map_err(|e| self.io_error("prepare the ssh control directory", &e))?;
        let master = Master {
            socket: dir.join(name),
            log: dir.join(format!("{name}.log")),
            own: None,
        };
        let lock = std::fs::File::create(dir.join(format!("{name}.lock")))
            .map_err(|e| self.io_error("create the ssh control lock", &e))?;
        // Whoever holds the lock is opening the master, within its own deadline; wait
        // for it a little longer than that, never forever.
        let waited = Instant::now();
        let patience = 2 * (self.dest.connect_timeout + OPEN_GRACE);
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if waited.elapsed() < patience => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(ExecError::Unreachable {
                        host: self.host.clone(),
                        detail: format!(
                            "another fearless process has been opening the connection for {}s",
                            patience.as_secs()
                        ),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(self.io_error("lock the ssh control socket", &e));
                }
            }
        }
        if master.socket.exists() {
            if master.check().await {
                return Ok(master);
            }
            let _ = std::fs::remove_file(&master.socket);
        }
        self.launch(&master.socket, &master.log, idle).await?;
        Ok(master)
    }

    /// A master of this process only, in a private directory of its own.
    async fn private(&self) -> Result<Master, ExecError> {
        // The control directory when there is one; else the system's temp directory (the
        // new directory is private, 0700, either way).
        let base = control_dir().unwrap_or_else(|_| std::env::temp_dir());
        let dir = tempfile::Builder::new()
            .prefix("fearless-ssh-")
            .tempdir_in(&base)
            .map_err(|e| self.io_error("create a directory for the ssh master", &e))?;
        let (socket, log) = (dir.path().join("master"), dir.path().join("log"));
        self.launch(&socket, &log, Duration::from_secs(MASTER_IDLE_SECS))
            .await?;
        Ok(Master {
            socket,
            log,
            own: Some(dir),
        })
    }

    /// Start `ssh -M` on `socket` (logging to `log`), to exit once idle for `idle`, and
    /// wait until it is authenticated and in the background (`-f`).
    async fn launch(&self, socket: &Path, log: &Path, idle: Duration) -> Result<(), ExecError> {
        let d = &self.dest;
        if d.address.starts_with('-') {
            return Err(ExecError::BadAddress {
                host: self.host.clone(),
                address: d.address.clone(),
            });
        }
        let _ = std::fs::remove_file(log);
        self.turn().await;
        let mut cmd = self
            .master_command(socket, log, idle)
            .map_err(|e| self.io_error("create the ssh log", &e))?;
        let deadline = d.opening();
        let status = tokio::time::timeout(deadline, cmd.status())
            .await
            .map_err(|_| ExecError::Unreachable {
                host: self.host.clone(),
                detail: format!(
                    "no ssh connection within {}s (the name lookup or the handshake never finished)",
                    deadline.as_secs()
                ),
            })?
            .map_err(|e| self.io_error("run ssh", &e))?;
        if !status.success() || !socket.exists() {
            let mut said = std::fs::read_to_string(log).unwrap_or_default();
            if said.trim().is_empty() {
                said = format!("ssh exited with {status}");
            }
            return Err(classify_text(&self.host, &said));
        }
        Ok(())
    }

    /// The `ssh -M -f` that opens a master ([`Destination::connect_options`]). What ssh
    /// says goes to `log`, before it opens it as its `-E` log too.
    fn master_command(
        &self,
        socket: &Path,
        log: &Path,
        idle: Duration,
    ) -> std::io::Result<tokio::process::Command> {
        let d = &self.dest;
        let said = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.arg("-M")
            .arg("-f")
            .arg("-N")
            .arg("-S")
            .arg(socket)
            .arg("-E")
            .arg(log)
            .arg("-o")
            .arg(format!("ControlPersist={}s", idle.as_secs().max(1)));
        d.connect_options(&mut cmd);
        cmd
            // The master inherits these: a pipe would stay open as long as it lives.
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(said)
            // Until `-f` forks the master off, the process is the one that connects: killing
            // it at the deadline leaves nothing behind.
            .kill_on_drop(true);
        Ok(cmd)
    }

    /// Run `line` over a connection of its own ([`SshTransport::expect_one`]). What ssh
    /// itself says goes to a log (`-E`) at `VERBOSE`, which notes the authentication: an
    /// exit 255 or a deadline before it is the connection's failure (typed as a master's
    /// would be), one after it is the command's, unless ssh logged the connection's loss.
    /// The command gets `timeout` plus what the connection did not use of its allowance.
    async fn run_alone(&self, line: &str, timeout: Duration) -> Result<Output, ExecError> {
        let d = &self.dest;
        if d.address.starts_with('-') {
            return Err(ExecError::BadAddress {
                host: self.host.clone(),
                address: d.address.clone(),
            });
        }
        self.turn().await;
        let base = control_dir().unwrap_or_else(|_| std::env::temp_dir());
        let log = tempfile::Builder::new()
            .prefix("fearless-ssh-")
            .suffix(".log")
            .tempfile_in(&base)
            .map_err(|e| self.io_error("create the ssh log", &e))?;
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.arg("-E")
            .arg(log.path())
            // Never a master, nor a session on one the user's ssh_config names.
            .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
            .args(["-o", "LogLevel=VERBOSE", "-T"]);
        d.connect_options(&mut cmd);
        cmd.arg(line);
        // One deadline for the connection and the command: the command may use what the
        // connection left of its allowance.
        let connect = d.opening();
        let out = crate::finish(&self.host, "ssh", cmd, connect + timeout, self.limits).await;
        let said = std::fs::read_to_string(log.path()).unwrap_or_default();
        let authenticated = said.contains("Authenticated to ");
        match out {
            Err(ExecError::Timeout { .. }) if !authenticated => Err(ExecError::Unreachable {
                host: self.host.clone(),
                detail: format!(
                    "no ssh connection within {}s (the name lookup or the handshake never finished)",
                    connect.as_secs()
                ),
            }),
            Err(ExecError::Timeout { host, cut_at, .. }) => Err(ExecError::Timeout {
                host,
                after: timeout,
                cut_at,
            }),
            Ok(out) if out.code == Some(255) && !authenticated => {
                Err(classify_text(&self.host, &said))
            }
            Ok(out) if out.code == Some(255) && connection_lost(&said) => {
                Err(ExecError::Unreachable {
                    host: self.host.clone(),
                    detail: "connection lost".into(),
                })
            }
            other => other,
        }
    }

    /// Wait for this new connection's turn in the fleet's pace, if it has one (before
    /// the connection's deadline starts).
    async fn turn(&self) {
        if let Some(pace) = &self.pace {
            pace.turn().await;
        }
    }

    async fn master(&self) -> Result<Arc<Master>, ExecError> {
        let opened = {
            let mut slot = self.slot.master.lock().await;
            if let Some(m) = &self.masters {
                m.touch(&self.slot);
            }
            if let Some(known) = &*slot {
                return known.clone();
            }
            let opened = match &self.persist {
                Some((idle, name)) => self.persistent(*idle, name).await,
                None => self.private().await,
            }
            .map(Arc::new);
            *slot = Some(opened.clone());
            opened
        };
        // A new master of ours counts toward the fleet's cap (the caller holds it: it is
        // never the one closed).
        if opened.is_ok()
            && self.persist.is_none()
            && let Some(m) = &self.masters
        {
            m.opened(&self.slot).await;
        }
        opened
    }

    /// Forget the master (or why it could not be opened): the next command connects
    /// again. For a host that went away on purpose and came back (a reboot).
    pub(crate) async fn reconnect(&self) {
        let old = self.slot.master.lock().await.take();
        if let Some(m) = &self.masters {
            m.closed(&self.slot);
        }
        // A persistent master found dead is replaced by the next `persistent`; one of ours
        // is told to exit (the host is gone or back: that can only fail, quietly).
        if let Some(Ok(master)) = old
            && let Ok(master) = Arc::try_unwrap(master)
        {
            master.exit().await;
        }
    }

    pub(crate) async fn run(
        &self,
        argv: &[String],
        timeout: Duration,
    ) -> Result<Output, ExecError> {
        let alone = self.alone.swap(false, Ordering::Relaxed)
            && self
                .slot
                .master
                .try_lock()
                .is_ok_and(|master| master.is_none());
        // A lone command's deadline also covers its connection; the host's own stays
        // past ours.
        let allowance = if alone {
            self.dest.opening()
        } else {
            Duration::ZERO
        };
        let argv = with_become(&remote_deadline(argv, timeout + allowance), self.sudo);
        let line = quote::shell_join(&argv).map_err(|source| ExecError::Quote {
            host: self.host.clone(),
            source,
        })?;
        if alone {
            return self.run_alone(&line, timeout).await;
        }
        let master = self.master().await?;
        let _permit = self
            .sessions
            .acquire()
            .await
            .map_err(|_| ExecError::Unreachable {
                host: self.host.clone(),
                detail: "transport closed".into(),
            })?;
        // Run on the master ourselves (as openssh's process-mux does) rather than through
        // a library that turns remote exits 127 and 255 into errors and drops the output: a
        // check needs both. If the master is gone, ssh falls back to a connection of its
        // own: `ProxyCommand=false` makes that fail at once, with no name lookup and no
        // traffic (and `-p 9`, discard, were it ever tried).
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.arg("-S")
            .arg(&master.socket)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ProxyCommand=false",
                "-T",
                "-p",
                "9",
                "none",
                "--",
            ])
            .arg(&line);
        let out = crate::finish(&self.host, "ssh", cmd, timeout, self.limits).await?;
        // ssh itself exits 255 when the connection breaks; a remote 255 leaves the master
        // healthy. Ask the master which it was.
        if out.code == Some(255) && !master.check().await {
            return Err(ExecError::Unreachable {
                host: self.host.clone(),
                detail: "connection lost".into(),
            });
        }
        Ok(out)
    }

    pub(crate) async fn close(self) {
        // A persistent master stays for the next command; its idle timer ends it.
        let master = self.slot.master.lock().await.take();
        if let Some(m) = &self.masters {
            m.closed(&self.slot);
        }
        if let Some(Ok(master)) = master
            && let Ok(master) = Arc::try_unwrap(master)
        {
            master.exit().await;
        }
    }
}

impl Destination {
    /// How long opening a connection may take: `ConnectTimeout` (the TCP connect and the
    /// banner), then [`OPEN_GRACE`] for the key exchange and authentication.
    fn opening(&self) -> Duration {
        self.connect_timeout.max(Duration::from_secs(1)) + OPEN_GRACE
    }

    /// The options every connection of ours carries, then the destination: `-l`/`-p` take
    /// the next word whatever it is, and nothing after `--` is an option, so the address
    /// is only ever a destination (what follows it is the remote command).
    fn connect_options(&self, cmd: &mut tokio::process::Command) {
        cmd.args(["-o", "BatchMode=yes", "-o", "ServerAliveInterval=15"])
            .arg("-o")
            .arg(format!(
                "ConnectTimeout={}",
                self.connect_timeout.as_secs().max(1)
            ))
            .arg("-o")
            .arg(if self.strict {
                "StrictHostKeyChecking=yes"
            } else {
                "StrictHostKeyChecking=accept-new"
            });
        if let Some(cfg) = &self.config_file {
            cmd.arg("-F").arg(cfg);
        }
        cmd.arg("-p")
            .arg(self.port.to_string())
            .arg("-l")
            .arg(&self.user)
            .arg("--")
            .arg(&self.address);
    }
}

/// Whether ssh's log says an authenticated connection broke (the server went away, the
/// network did, or it stopped answering keepalives).
fn connection_lost(said: &str) -> bool {
    let said = said.to_ascii_lowercase();
    [
        "closed by remote host",
        "broken pipe",
        "connection reset",
        "server not responding",
        "timeout, server",
    ]
    .iter()
    .any(|s| said.contains(s))
}

impl Master {
    /// `ssh -O CMD` to this master (the caller bounds it).
    fn control(&self, cmd: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("ssh");
        c.arg("-S")
            .arg(&self.socket)
            .args(["-o", "BatchMode=yes", "-O", cmd, "none"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Whether the master is alive (its connection up).
    async fn check(&self) -> bool {
        matches!(
            tokio::time::timeout(CONTROL_DEADLINE, self.control("check").status()).await,
            Ok(Ok(s)) if s.success()
        )
    }

    /// Tell a master of ours to exit (a persistent one is left to its idle timer).
    pub(crate) async fn exit(mut self) {
        let Some(dir) = self.own.take() else { return };
        let said = tokio::time::timeout(CONTROL_DEADLINE, self.control("exit").status()).await;
        if !matches!(said, Ok(Ok(s)) if s.success()) {
            // Gone already (its host rebooted), or not answering: nothing more to do.
            tracing::debug!(socket = %self.socket.display(), "the ssh master did not confirm its exit");
        }
        drop(dir);
    }
}

impl Drop for Master {
    /// A master of ours dropped without [`Master::exit`] (a fleet dropped without
    /// closing): tell it to exit now, so it does not linger for its idle time.
    fn drop(&mut self) {
        if self.own.is_none() {
            return;
        }
        let Ok(mut child) = std::process::Command::new("ssh")
            .arg("-S")
            .arg(&self.socket)
            .args(["-o", "BatchMode=yes", "-O", "exit", "none"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        else {
            return;
        };
        let start = Instant::now();
        while matches!(child.try_wait(), Ok(None)) {
            if start.elapsed() > CONTROL_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Wrap argv in coreutils `timeout` a little past our own deadline: killing the local ssh
/// client does not stop the remote process (no tty, no SIGHUP), so the host enforces it too.
fn remote_deadline(argv: &[String], timeout: Duration) -> Vec<String> {
    let secs = timeout.as_secs().saturating_add(2);
    [
        "timeout".to_owned(),
        "-k".to_owned(),
        "5".to_owned(),
        secs.to_string(),
    ]
    .into_iter()
    .chain(argv.iter().cloned())
    .collect()
}

/// The private directory of persistent masters: `$XDG_RUNTIME_DIR/fearless-ssh`, else
/// `~/.cache/fearless/ssh`; created 0700 and refused if anyone else can enter it.
fn control_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => Path::new(&d).join("fearless-ssh"),
        None => {
            let home = std::env::var_os("HOME").ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "HOME is not set")
            })?;
            Path::new(&home).join(".cache/fearless/ssh")
        }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let meta = std::fs::metadata(&dir)?;
    let me = std::fs::metadata("/proc/self").map(|m| m.uid())?;
    if meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} must be ours and private (0700)", dir.display()),
        ));
    }
    Ok(dir)
}

/// FNV-1a: a stable name for a destination (the same across builds, unlike std's hasher).
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Map what ssh said to a typed error.
fn classify_text(host: &str, detail: &str) -> ExecError {
    let text = detail.to_ascii_lowercase();
    let host = host.to_owned();
    let detail = detail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if text.contains("host key verification failed")
        || text.contains("remote host identification has changed")
        || text.contains("host key for")
        || text.contains("no matching host key")
    {
        ExecError::HostKey { host, detail }
    } else if text.contains("permission denied")
        || text.contains("too many authentication failures")
    {
        ExecError::Auth { host, detail }
    } else {
        ExecError::Unreachable { host, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Even without the refusal in `launch`, the real ssh client reads an address that
    /// looks like an option as a destination: nothing runs, nothing connects.
    #[tokio::test]
    async fn the_master_command_never_reads_the_address_as_an_option() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let dir = tempfile::tempdir().expect("tmp");
        let marker = dir.path().join("pwned");
        let cfg = dir.path().join("ssh_config");
        std::fs::write(&cfg, "Host *\n  BatchMode yes\n").expect("write");
        for address in [
            format!("-oProxyCommand=touch {}", marker.display()),
            format!("-oProxyCommand=touch {} 127.0.0.1", marker.display()),
        ] {
            let yaml = format!(
                "inventory:\n  ssh: {{ config: {}, connect_timeout: 1s }}\n  hosts:\n    evil: {{ address: 127.0.0.1, port: {port} }}\n",
                cfg.display()
            );
            let inv = fearless_config::load_str(Path::new("/tmp/fearless-test.yaml"), yaml)
                .unwrap_or_else(|e| panic!("{:?}", e.problems))
                .config
                .inventory;
            // What a config that does not validate addresses would hand over.
            let mut host = inv.hosts["evil"].clone();
            host.address = address;
            let opts = inv.ssh.clone();
            let t = SshTransport::new(&host, &opts, Limits::default(), None, None);
            let (socket, log) = (dir.path().join("m"), dir.path().join("log"));
            let status = tokio::time::timeout(
                Duration::from_secs(10),
                t.master_command(&socket, &log, Duration::from_secs(1))
                    .expect("log")
                    .status(),
            )
            .await
            .expect("ssh ends")
            .expect("ssh runs");
            assert!(!status.success());
            assert!(!marker.exists(), "ssh ran the injected ProxyCommand");
            assert!(
                matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "ssh connected somewhere"
            );
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(said.contains("invalid characters"), "{said}");
        }
    }
}
