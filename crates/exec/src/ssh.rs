//! The ssh transport: the system `ssh` (so `~/.ssh/config`, `ProxyJump`, agents and
//! certificates work), one multiplexed master per host opened on first use and reused by
//! every command.

use crate::{ExecError, Output, quote, with_become};
use fearless_config::{Host, HostKeyChecking, SshOptions};
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};
use std::error::Error as _;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore};

/// Sessions at once on one master. sshd refuses more than `MaxSessions` (default 10) per
/// connection, so stay below it rather than fail with "Session open refused by peer".
pub const SESSIONS_PER_HOST: usize = 8;

/// Seconds an idle master connection stays up (it outlives a crashed fearless by this much).
const MASTER_IDLE_SECS: usize = 300;

/// Runs commands on one host over ssh.
#[derive(Debug)]
pub struct SshTransport {
    host: String,
    destination: String,
    builder: SessionBuilder,
    sudo: bool,
    session: OnceCell<Result<Session, ExecError>>,
    sessions: Semaphore,
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
        Self {
            host: host.name.clone(),
            destination: host.address.clone(),
            builder,
            sudo: crate::needs_sudo(host),
            session: OnceCell::new(),
            sessions: Semaphore::new(SESSIONS_PER_HOST),
        }
    }

    async fn session(&self) -> Result<&Session, ExecError> {
        let res = self
            .session
            .get_or_init(|| async {
                // ssh's ConnectTimeout bounds both the TCP connect and the handshake; an
                // outer timeout here would orphan the `ssh -M` it interrupts.
                self.builder
                    .connect(&self.destination)
                    .await
                    .map_err(|e| classify(&self.host, &e))
            })
            .await;
        res.as_ref().map_err(Clone::clone)
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
        // output: a check needs both. `-p 9` (discard) keeps ssh from ever opening a second
        // connection if the master is gone.
        let child = tokio::process::Command::new("ssh")
            .arg("-S")
            .arg(session.control_socket())
            .args(["-o", "BatchMode=yes", "-T", "-p", "9", "none", "--"])
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
        if let Some(Ok(session)) = self.session.into_inner()
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

/// Map ssh's words to a typed error.
fn classify(host: &str, e: &openssh::Error) -> ExecError {
    let mut detail = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        detail = format!("{detail}: {s}");
        src = s.source();
    }
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
