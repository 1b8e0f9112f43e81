//! Running commands on hosts: the [`Transport`]s (`local`, `ssh`, `ssm`) and the [`Fleet`] that
//! holds one connection per host under a fleet-wide concurrency limit.
//!
//! Invariants: only this crate touches hosts; commands are argv, quoted for the remote shell
//! only in [`quote`]; SSH host keys are verified (`strict` by default, `accept-new` when
//! configured, never off); a command's non-zero exit is data ([`Output`]), not an error;
//! every command has a deadline and its output a cap ([`Limits`]); an inventory address is
//! never read by ssh as an option.

mod bounded;
mod limits;
mod masters;
mod pace;
pub mod quote;
mod ssh;
mod ssm;

use fearless_config::{Become, Host, Inventory, TransportKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub use bounded::{DEFAULT_MAX_OUTPUT, Limits, LimitsError, MAX_OUTPUT_ENV};
pub use limits::{OpenFiles, raise_open_files};
pub use ssh::{SESSIONS_PER_HOST, SshTransport};
pub use ssm::SsmTransport;

/// What a command produced. A non-zero exit is a result, not an error.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Captured standard output: at most [`Limits::max_output`] bytes.
    pub stdout: Vec<u8>,
    /// Captured standard error: at most [`Limits::max_output`] bytes.
    pub stderr: Vec<u8>,
    /// Whether standard output went on past the cap (what came after was discarded).
    pub stdout_truncated: bool,
    /// Whether standard error went on past the cap (what came after was discarded).
    pub stderr_truncated: bool,
    /// Wall time of the command (excluding waiting for a concurrency slot).
    pub elapsed: Duration,
}

impl Output {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Whether either stream was cut at the cap.
    pub fn truncated(&self) -> bool {
        self.stdout_truncated || self.stderr_truncated
    }

    /// What was cut, for a message: `stdout cut at 4194304 bytes`; `None` when nothing was.
    pub fn truncation(&self) -> Option<String> {
        let cut: Vec<String> = [
            ("stdout", self.stdout_truncated, self.stdout.len()),
            ("stderr", self.stderr_truncated, self.stderr.len()),
        ]
        .into_iter()
        .filter(|(_, cut, _)| *cut)
        .map(|(name, _, kept)| format!("{name} cut at {kept} bytes"))
        .collect();
        (!cut.is_empty()).then(|| cut.join(", "))
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
    /// The command took too long (connection problems are `Unreachable`); it was killed.
    #[error("{host}: no answer within {}{}", humantime_ms(*.after), .cut_at.map(|n| format!(" (its output went on past the cap and was cut at {n} bytes)")).unwrap_or_default())]
    Timeout {
        /// Inventory name.
        host: String,
        /// The limit that was hit.
        after: Duration,
        /// The cap, when the command's output had passed it before the deadline (a
        /// command that prints forever ends here).
        cut_at: Option<usize>,
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
    /// The inventory address cannot be given to ssh: it would be read as an option.
    #[error(
        "{host}: address `{address}` starts with `-`, which ssh would read as an option; refused"
    )]
    BadAddress {
        /// Inventory name.
        host: String,
        /// The address as configured.
        address: String,
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

    /// The inventory name of the host it is about.
    pub fn host(&self) -> &str {
        match self {
            ExecError::Unreachable { host, .. }
            | ExecError::Auth { host, .. }
            | ExecError::HostKey { host, .. }
            | ExecError::Timeout { host, .. }
            | ExecError::Spawn { host, .. }
            | ExecError::Quote { host, .. }
            | ExecError::BadAddress { host, .. }
            | ExecError::Unsupported { host, .. } => host,
        }
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
    /// Run as AWS Systems Manager Run Command scripts.
    Ssm(Box<SsmTransport>),
    /// Configured but not available; every run says so.
    Unsupported(String, &'static str),
}

impl Transport {
    /// Build the transport for `host` of `inventory` (nothing is connected yet), with the
    /// output cap [`MAX_OUTPUT_ENV`] sets (else [`DEFAULT_MAX_OUTPUT`]).
    pub fn for_host(host: &Host, inventory: &Inventory) -> Self {
        Self::for_host_with(host, inventory, Limits::configured())
    }

    /// [`Transport::for_host`] with explicit limits.
    pub fn for_host_with(host: &Host, inventory: &Inventory, limits: Limits) -> Self {
        Self::building(
            host,
            inventory,
            limits,
            &mut ssm::Runners::default(),
            None,
            None,
        )
    }

    fn building(
        host: &Host,
        inventory: &Inventory,
        limits: Limits,
        runners: &mut ssm::Runners,
        masters: Option<&Arc<masters::Masters>>,
        pace: Option<&Arc<pace::Pace>>,
    ) -> Self {
        match host.transport {
            TransportKind::Local => Transport::Local(LocalTransport {
                host: host.name.clone(),
                sudo: needs_sudo(host),
                limits,
            }),
            TransportKind::Ssh => Transport::Ssh(Box::new(SshTransport::new(
                host,
                &inventory.ssh,
                limits,
                masters.cloned(),
                pace.cloned(),
            ))),
            TransportKind::Ssm => Transport::Ssm(Box::new(SsmTransport::new(
                host,
                &inventory.ssm,
                limits,
                runners,
            ))),
        }
    }

    /// The controller itself, for host-local checks that run `on: controller`.
    pub fn controller() -> Self {
        Transport::Local(LocalTransport {
            host: "controller".into(),
            sudo: false,
            limits: Limits::configured(),
        })
    }

    /// The limits its commands run under.
    pub fn limits(&self) -> Limits {
        match self {
            Transport::Local(t) => t.limits,
            Transport::Ssh(t) => t.limits,
            Transport::Ssm(t) => t.limits,
            Transport::Unsupported(..) => Limits::configured(),
        }
    }

    /// The inventory name of the host this reaches.
    pub fn host(&self) -> &str {
        match self {
            Transport::Local(t) => &t.host,
            Transport::Ssh(t) => &t.host,
            Transport::Ssm(t) => &t.host,
            Transport::Unsupported(host, _) => host,
        }
    }

    /// Run `argv` with a timeout.
    pub async fn run(&self, argv: &[String], timeout: Duration) -> Result<Output, ExecError> {
        let start = std::time::Instant::now();
        let res = match self {
            Transport::Local(t) => t.run(argv, timeout).await,
            Transport::Ssh(t) => t.run(argv, timeout).await,
            Transport::Ssm(t) => t.run(argv, timeout).await,
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

    /// The caller sends this host one command now and none soon after (a `check` round
    /// that reads the host in one script): over ssh it goes on a connection of its own,
    /// with no master started for it and none to stop, unless one is open already. Other
    /// transports do as they always do.
    pub fn expect_one(&self) {
        if let Transport::Ssh(t) = self {
            t.expect_one();
        }
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
    limits: Limits,
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
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args);
        finish(&self.host, program, cmd, timeout, self.limits).await
    }
}

/// Run `cmd` (whose argv[0] is `program`) for `host` within `timeout` and `limits`: the
/// one way both transports run a process.
pub(crate) async fn finish(
    host: &str,
    program: &str,
    cmd: tokio::process::Command,
    timeout: Duration,
    limits: Limits,
) -> Result<Output, ExecError> {
    let start = Instant::now();
    match bounded::run(cmd, timeout, limits).await {
        Err(bounded::Stopped::Deadline { cut }) => Err(ExecError::Timeout {
            host: host.to_owned(),
            after: timeout,
            cut_at: cut.then_some(limits.max_output),
        }),
        Err(bounded::Stopped::Spawn(e)) => Err(ExecError::Spawn {
            host: host.to_owned(),
            program: program.to_owned(),
            detail: e.to_string(),
        }),
        Ok(done) => Ok(Output {
            code: done.code,
            stdout: done.stdout.bytes,
            stderr: done.stderr.bytes,
            stdout_truncated: done.stdout.cut,
            stderr_truncated: done.stderr.cut,
            elapsed: start.elapsed(),
        }),
    }
}

/// How many private ssh masters a fleet keeps open: four per concurrency slot, at least
/// 256 — a wave of a quarter of 1,000 hosts keeps its connections between its steps, and a
/// round over 1,000 hosts holds a few hundred `ssh` processes, not 1,000.
pub fn master_cap(concurrency: usize) -> usize {
    concurrency.saturating_mul(4).max(256)
}

/// One transport per host, a fleet-wide concurrency limit, connection reuse (at most
/// [`master_cap`] ssh masters open at once: the least recently used idle ones close), and
/// new ssh connections paced fleet-wide when `inventory.ssh.connect_rate` says so.
#[derive(Debug)]
pub struct Fleet {
    transports: HashMap<String, Arc<Transport>>,
    slots: Arc<Semaphore>,
}

impl Fleet {
    /// Transports for every host of the inventory (connections open on first use), with
    /// the output cap [`MAX_OUTPUT_ENV`] sets (else [`DEFAULT_MAX_OUTPUT`]).
    pub fn new(inventory: &Inventory) -> Self {
        Self::with_limits(inventory, Limits::configured())
    }

    /// [`Fleet::new`] with explicit limits for every host.
    pub fn with_limits(inventory: &Inventory, limits: Limits) -> Self {
        Self::with_master_cap(inventory, limits, master_cap(inventory.concurrency))
    }

    /// [`Fleet::with_limits`] keeping at most `cap` private ssh masters open at once.
    pub fn with_master_cap(inventory: &Inventory, limits: Limits, cap: usize) -> Self {
        let mut runners = ssm::Runners::default();
        let masters = Arc::new(masters::Masters::new(cap));
        let pace = inventory
            .ssh
            .connect_rate
            .map(|rate| Arc::new(pace::Pace::per_second(rate)));
        let transports = inventory
            .hosts
            .values()
            .map(|h| {
                (
                    h.name.clone(),
                    Arc::new(Transport::building(
                        h,
                        inventory,
                        limits,
                        &mut runners,
                        Some(&masters),
                        pace.as_ref(),
                    )),
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
