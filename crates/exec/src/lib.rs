//! Running commands on hosts: the [`Transport`]s (`local`, `ssh`) and the [`Fleet`] that
//! holds one connection per host under a fleet-wide concurrency limit.
//!
//! Invariants: only this crate touches hosts; commands are argv, quoted for the remote shell
//! only in [`quote`]; SSH host keys are verified (`strict` by default, `accept-new` when
//! configured, never off); a command's non-zero exit is data ([`Output`]), not an error.

pub mod quote;
mod ssh;

use fearless_config::{Become, Host, Inventory, SshOptions, TransportKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub use ssh::{SESSIONS_PER_HOST, SshTransport};

/// What a command produced. A non-zero exit is a result, not an error.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Captured standard output.
    pub stdout: Vec<u8>,
    /// Captured standard error.
    pub stderr: Vec<u8>,
    /// Wall time of the command (excluding waiting for a concurrency slot).
    pub elapsed: Duration,
}

impl Output {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Standard output as (lossy) UTF-8.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as (lossy) UTF-8.
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a command could not be run on a host. Cheap to clone: a failed connection is
/// reported for every command sent to that host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// No connection: refused, no route, name not resolved, connection lost.
    #[error("{host} is unreachable: {detail}")]
    Unreachable {
        /// Inventory name.
        host: String,
        /// What ssh or the OS said.
        detail: String,
    },
    /// The server refused our credentials.
    #[error("authentication to {host} failed: {detail}")]
    Auth {
        /// Inventory name.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// The host key is unknown (under `strict`) or changed.
    #[error("host key of {host} could not be verified: {detail}")]
    HostKey {
        /// Inventory name.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// The command took too long (connection problems are `Unreachable`).
    #[error("{host}: no answer within {}", humantime_ms(*.after))]
    Timeout {
        /// Inventory name.
        host: String,
        /// The limit that was hit.
        after: Duration,
    },
    /// The program could not be started (e.g. not found on the controller).
    #[error("{host}: cannot run `{program}`: {detail}")]
    Spawn {
        /// Inventory name.
        host: String,
        /// argv[0].
        program: String,
        /// The OS error.
        detail: String,
    },
    /// The argv cannot be quoted for a shell.
    #[error("{host}: {source}")]
    Quote {
        /// Inventory name.
        host: String,
        /// Which argument.
        source: quote::QuoteError,
    },
    /// The host's transport is not available in this version.
    #[error("{host}: transport `{transport}` is not supported yet")]
    Unsupported {
        /// Inventory name.
        host: String,
        /// The transport.
        transport: &'static str,
    },
}

impl ExecError {
    /// Whether the failure is about reaching the host at all (vs. the command).
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ExecError::Unreachable { .. }
                | ExecError::Auth { .. }
                | ExecError::HostKey { .. }
                | ExecError::Unsupported { .. }
        )
    }
}

fn humantime_ms(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// How commands reach one host.
#[derive(Debug)]
pub enum Transport {
    /// Run on this machine.
    Local(LocalTransport),
    /// Run through the system `ssh` on a multiplexed master connection.
    Ssh(Box<SshTransport>),
    /// Configured but not available (e.g. `ssm`); every run says so.
    Unsupported(String, &'static str),
}

impl Transport {
    /// Build the transport for `host` (nothing is connected yet).
    pub fn for_host(host: &Host, ssh: &SshOptions) -> Self {
        match host.transport {
            TransportKind::Local => Transport::Local(LocalTransport {
                host: host.name.clone(),
                sudo: needs_sudo(host),
            }),
            TransportKind::Ssh => Transport::Ssh(Box::new(SshTransport::new(host, ssh))),
            TransportKind::Ssm => Transport::Unsupported(host.name.clone(), "ssm"),
        }
    }

    /// The controller itself, for host-local checks that run `on: controller`.
    pub fn controller() -> Self {
        Transport::Local(LocalTransport {
            host: "controller".into(),
            sudo: false,
        })
    }

    /// The inventory name of the host this reaches.
    pub fn host(&self) -> &str {
        match self {
            Transport::Local(t) => &t.host,
            Transport::Ssh(t) => &t.host,
            Transport::Unsupported(host, _) => host,
        }
    }

    /// Run `argv` with a timeout.
    pub async fn run(&self, argv: &[String], timeout: Duration) -> Result<Output, ExecError> {
        let start = std::time::Instant::now();
        let res = match self {
            Transport::Local(t) => t.run(argv, timeout).await,
            Transport::Ssh(t) => t.run(argv, timeout).await,
            Transport::Unsupported(host, transport) => Err(ExecError::Unsupported {
                host: host.clone(),
                transport,
            }),
        };
        // The program (for `sh -c`, the script's first 60 characters: code, not data) and
        // how long it took, never its arguments (they may carry secrets).
        let mut rest = argv;
        if rest.first().is_some_and(|p| p == "env") {
            rest = &rest[1..];
            while rest.first().is_some_and(|a| a.contains('=')) {
                rest = &rest[1..];
            }
        }
        let what = match rest {
            [sh, c, script, ..] if sh == "sh" && c == "-c" => script
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect::<String>(),
            [program, ..] => program.clone(),
            [] => String::new(),
        };
        tracing::debug!(
            host = self.host(),
            run = %what,
            ms = start.elapsed().as_millis() as u64,
            code = res.as_ref().ok().and_then(|o| o.code),
            ok = res.is_ok(),
            "ran"
        );
        res
    }

    /// Drop the connection (the ssh master), so the next command connects again: for a
    /// host that went away on purpose and came back, such as after a reboot.
    pub async fn reconnect(&self) {
        if let Transport::Ssh(t) = self {
            t.reconnect().await;
        }
    }

    /// Close connections (the ssh master).
    pub async fn close(self) {
        if let Transport::Ssh(t) = self {
            (*t).close().await;
        }
    }
}

fn needs_sudo(host: &Host) -> bool {
    host.become_ == Some(Become::Sudo) && host.user != "root"
}

/// Prefix argv with `sudo -n --` when the host says `become: sudo`.
pub(crate) fn with_become(argv: &[String], sudo: bool) -> Vec<String> {
    if sudo {
        ["sudo", "-n", "--"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(argv.iter().cloned())
            .collect()
    } else {
        argv.to_vec()
    }
}

/// Runs commands on the controller itself.
#[derive(Debug)]
pub struct LocalTransport {
    host: String,
    sudo: bool,
}

impl LocalTransport {
    async fn run(&self, argv: &[String], timeout: Duration) -> Result<Output, ExecError> {
        let argv = with_become(argv, self.sudo);
        let Some((program, args)) = argv.split_first() else {
            return Err(ExecError::Spawn {
                host: self.host.clone(),
                program: String::new(),
                detail: "empty command".into(),
            });
        };
        let start = Instant::now();
        let child = tokio::process::Command::new(program)
            .args(args)
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
                program: program.clone(),
                detail: e.to_string(),
            }),
            Ok(Ok(out)) => Ok(Output {
                code: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
                elapsed: start.elapsed(),
            }),
        }
    }
}

/// One transport per host, a fleet-wide concurrency limit, and connection reuse.
#[derive(Debug)]
pub struct Fleet {
    transports: HashMap<String, Arc<Transport>>,
    slots: Arc<Semaphore>,
}

impl Fleet {
    /// Transports for every host of the inventory (connections open on first use).
    pub fn new(inventory: &Inventory) -> Self {
        let transports = inventory
            .hosts
            .values()
            .map(|h| {
                (
                    h.name.clone(),
                    Arc::new(Transport::for_host(h, &inventory.ssh)),
                )
            })
            .collect();
        Self {
            transports,
            slots: Arc::new(Semaphore::new(inventory.concurrency.max(1))),
        }
    }

    /// The transport of `host`, for callers that manage slots themselves.
    pub fn transport(&self, host: &str) -> Option<&Transport> {
        self.transports.get(host).map(|t| &**t)
    }

    /// Wait for a fleet-wide concurrency slot.
    pub async fn slot(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.slots
            .acquire()
            .await
            .expect("the fleet semaphore is never closed")
    }

    /// Run `argv` on `host`, waiting for a concurrency slot first.
    pub async fn run(
        &self,
        host: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<Output, ExecError> {
        let Some(t) = self.transports.get(host) else {
            return Err(ExecError::Unreachable {
                host: host.to_owned(),
                detail: "not in the inventory".into(),
            });
        };
        let _slot = self.slots.acquire().await;
        t.run(argv, timeout).await
    }

    /// Run `argv` on each of `hosts` concurrently; one result per host, in the given order.
    pub async fn run_all(
        &self,
        hosts: &[String],
        argv: &[String],
        timeout: Duration,
    ) -> Vec<(String, Result<Output, ExecError>)> {
        let futs = hosts
            .iter()
            .map(|h| async move { (h.clone(), self.run(h, argv, timeout).await) });
        futures::future::join_all(futs).await
    }

    /// Close every open connection (a transport still shared elsewhere closes when dropped).
    pub async fn close(self) {
        let closing = self
            .transports
            .into_values()
            .filter_map(|t| Arc::try_unwrap(t).ok())
            .map(Transport::close);
        futures::future::join_all(closing).await;
    }
}
