//! The ssh transport: the system `ssh` (so `~/.ssh/config`, `ProxyJump`, agents and
//! certificates work), one multiplexed master per host opened on first use and reused by
//! every command. With `inventory.ssh.persist`, masters live in a private directory under a
//! name derived from the destination and outlive the process by that idle time, so the next
//! fearless command (or a second one running at the same time) reuses them, as Ansible's
//! ControlPersist does.

use crate::{ExecError, Output, quote, with_become};
use fearless_config::{Host, HostKeyChecking, SshOptions};
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};
use std::error::Error as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// Sessions at once on one master. sshd refuses more than `MaxSessions` (default 10) per
/// connection, so stay below it rather than fail with "Session open refused by peer".
pub const SESSIONS_PER_HOST: usize = 8;

/// Seconds an idle master connection stays up (it outlives a crashed fearless by this much).
const MASTER_IDLE_SECS: usize = 300;

/// Runs commands on one host over ssh.
#[derive(Debug)]
pub struct SshTransport {
    pub(crate) host: String,
    destination: String,
    builder: SessionBuilder,
    sudo: bool,
    /// The master: opened on first use (once, whoever asks first), kept until
    /// [`SshTransport::reconnect`] drops it.
    session: Mutex<Option<Result<Arc<Session>, ExecError>>>,
    sessions: Semaphore,
    persist: Option<Persist>,
}

/// A master that outlives the process.
#[derive(Debug)]
struct Persist {
    idle: Duration,
    /// The socket's name in the control directory: a hash of everything that makes two
    /// connections interchangeable.
    name: String,
    user: String,
    port: u16,
    config_file: Option<PathBuf>,
    strict: bool,
    connect_timeout: Duration,
}

impl SshTransport {
    pub(crate) fn new(host: &Host, opts: &SshOptions) -> Self {
        let mut builder = SessionBuilder::default();
        builder
            .user(host.user.clone())
            .port(host.port)
            .connect_timeout(opts.connect_timeout)
            .server_alive_interval(Duration::from_secs(15))
            // A master whose fearless died (Ctrl-C, crash) must not linger forever.
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new(MASTER_IDLE_SECS).unwrap_or(NonZeroUsize::MIN),
            ))
            .known_hosts_check(match opts.host_key_checking {
                HostKeyChecking::Strict => KnownHosts::Strict,
                HostKeyChecking::AcceptNew => KnownHosts::Add,
            });
        if let Some(cfg) = &opts.config_file {
            builder.config_file(cfg);
        }
        let strict = opts.host_key_checking == HostKeyChecking::Strict;
        let persist = opts.persist.map(|idle| Persist {
            idle,
            name: format!(
                "{:016x}",
                fnv64(
                    format!(
                        "{}\0{}\0{}\0{:?}\0{strict}",
                        host.user, host.address, host.port, opts.config_file
                    )
                    .as_bytes()
                )
            ),
            user: host.user.clone(),
            port: host.port,
            config_file: opts.config_file.clone(),
            strict,
            connect_timeout: opts.connect_timeout,
        });
        Self {
            host: host.name.clone(),
            destination: host.address.clone(),
            builder,
            sudo: crate::needs_sudo(host),
            session: Mutex::new(None),
            sessions: Semaphore::new(SESSIONS_PER_HOST),
            persist,
        }
    }

    /// Reuse the persistent master if it is alive, else start it (under a lock, so two
    /// processes never start two masters on one socket).
    async fn persistent(&self, p: &Persist) -> Result<Session, ExecError> {
        let io = |what: &str, e: std::io::Error| ExecError::Spawn {
            host: self.host.clone(),
            program: "ssh".into(),
            detail: format!("{what}: {e}"),
        };
        let dir = control_dir().map_err(|e| io("prepare the ssh control directory", e))?;
        let socket = dir.join(&p.name);
        let log = dir.join(format!("{}.log", p.name));
        let lock = std::fs::File::create(dir.join(format!("{}.lock", p.name)))
            .map_err(|e| io("create the ssh control lock", e))?;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io("lock the ssh control socket", e));
                }
            }
        }
        if socket.exists() {
            let session = Session::resume(socket.clone().into_boxed_path(), None);
            if session.check().await.is_ok() {
                return Ok(session);
            }
            let _ = std::fs::remove_file(&socket);
        }
        let _ = std::fs::remove_file(&log);
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.arg("-M")
            .arg("-f")
            .arg("-N")
            .arg("-S")
            .arg(&socket)
            .arg("-E")
            .arg(&log)
            .args(["-o", "BatchMode=yes", "-o", "ServerAliveInterval=15"])
            .arg("-o")
            .arg(format!("ControlPersist={}s", p.idle.as_secs().max(1)))
            .arg("-o")
            .arg(format!(
                "ConnectTimeout={}",
                p.connect_timeout.as_secs().max(1)
            ))
            .arg("-o")
            .arg(if p.strict {
                "StrictHostKeyChecking=yes"
            } else {
                "StrictHostKeyChecking=accept-new"
            });
        if let Some(cfg) = &p.config_file {
            cmd.arg("-F").arg(cfg);
        }
        cmd.arg("-p")
            .arg(p.port.to_string())
            .arg("-l")
            .arg(&p.user)
            .arg("--")
            .arg(&self.destination)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        // `-f` returns once the master is authenticated and in the background.
        let status = tokio::time::timeout(p.connect_timeout + Duration::from_secs(5), cmd.status())
            .await
            .map_err(|_| ExecError::Unreachable {
                host: self.host.clone(),
                detail: format!("no connection within {}s", p.connect_timeout.as_secs()),
            })?
            .map_err(|e| io("run ssh", e))?;
        if !status.success() || !socket.exists() {
            let mut said = std::fs::read_to_string(&log).unwrap_or_default();
            if said.trim().is_empty() {
                said = format!("ssh exited with {status}");
            }
            return Err(classify_text(&self.host, &said));
        }
        Ok(Session::resume(socket.into_boxed_path(), None))
    }

    async fn session(&self) -> Result<Arc<Session>, ExecError> {
        let mut slot = self.session.lock().await;
        if let Some(known) = &*slot {
            return known.clone();
        }
        let opened = if let Some(p) = &self.persist {
            self.persistent(p).await
        } else {
            // ssh's ConnectTimeout bounds both the TCP connect and the handshake; an
            // outer timeout here would orphan the `ssh -M` it interrupts.
            self.builder
                .connect(&self.destination)
                .await
                .map_err(|e| classify(&self.host, &e))
        }
        .map(Arc::new);
        *slot = Some(opened.clone());
        opened
    }

    /// Forget the master (or why it could not be opened): the next command connects
    /// again. For a host that went away on purpose and came back (a reboot).
    pub(crate) async fn reconnect(&self) {
        let old = self.session.lock().await.take();
        if self.persist.is_some() {
            // A dead persistent master is found dead and replaced by the next `persistent`.
            return;
        }
        if let Some(Ok(session)) = old
            && let Ok(session) = Arc::try_unwrap(session)
        {
            // The host is gone or back: closing the old master can only fail; say so, quietly.
            if let Err(e) = session.close().await {
                tracing::debug!(host = %self.host, error = %e, "closing the old ssh master failed");
            }
        }
    }

    pub(crate) async fn run(
        &self,
        argv: &[String],
        timeout: Duration,
    ) -> Result<Output, ExecError> {
        let argv = with_become(&remote_deadline(argv, timeout), self.sudo);
        let line = quote::shell_join(&argv).map_err(|source| ExecError::Quote {
            host: self.host.clone(),
            source,
        })?;
        let session = self.session().await?;
        let _permit = self
            .sessions
            .acquire()
            .await
            .map_err(|_| ExecError::Unreachable {
                host: self.host.clone(),
                detail: "transport closed".into(),
            })?;
        let start = Instant::now();
        // Run on the master ourselves (as openssh's process-mux does) rather than through
        // `Session::command`, which turns remote exits 127 and 255 into errors and drops the
        // output: a check needs both. If the master is gone, ssh falls back to a connection
        // of its own: `ProxyCommand=false` makes that fail at once, with no name lookup and
        // no traffic (and `-p 9`, discard, were it ever tried).
        let child = tokio::process::Command::new("ssh")
            .arg("-S")
            .arg(session.control_socket())
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
            .arg(&line)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(timeout, child).await {
            Err(_) => Err(ExecError::Timeout {
                host: self.host.clone(),
                after: timeout,
            }),
            Ok(Err(e)) => Err(ExecError::Spawn {
                host: self.host.clone(),
                program: "ssh".into(),
                detail: e.to_string(),
            }),
            Ok(Ok(out)) => {
                let code = out.status.code();
                // ssh itself exits 255 when the connection breaks; a remote 255 leaves the
                // master healthy. Ask the master which it was.
                if code == Some(255) && session.check().await.is_err() {
                    return Err(ExecError::Unreachable {
                        host: self.host.clone(),
                        detail: "connection lost".into(),
                    });
                }
                Ok(Output {
                    code,
                    stdout: out.stdout,
                    stderr: out.stderr,
                    elapsed: start.elapsed(),
                })
            }
        }
    }

    pub(crate) async fn close(self) {
        if self.persist.is_some() {
            // The master stays for the next command; its idle timer ends it.
            return;
        }
        if let Some(Ok(session)) = self.session.into_inner()
            && let Ok(session) = Arc::try_unwrap(session)
            && let Err(e) = session.close().await
        {
            tracing::debug!(host = %self.host, error = %e, "closing the ssh master failed");
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

/// Map ssh's words to a typed error.
fn classify(host: &str, e: &openssh::Error) -> ExecError {
    let mut detail = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        detail = format!("{detail}: {s}");
        src = s.source();
    }
    classify_text(host, &detail)
}

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
