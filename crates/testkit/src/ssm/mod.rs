//! A local AWS Systems Manager (SSM) Run Command endpoint: **test infrastructure**.
//!
//! No emulator runs Run Command (moto answers `SendCommand` and runs nothing), so the tests
//! and benchmarks of fearless's SSM transport talk to this endpoint instead. It speaks the
//! protocol of the real one — AWS JSON 1.1: `POST /`, `Content-Type:
//! application/x-amz-json-1.1`, `X-Amz-Target: AmazonSSM.<Operation>`, errors as
//! `{"__type": …, "message": …}` with HTTP 400 — and runs each command's script on the
//! instance it was sent to, as SSM Agent would: as root, `/bin/sh -c` the `commands` joined
//! by newlines, in `/` (or `workingDirectory`), in its own process group, killed with that
//! group at `executionTimeout`. A process the script detaches (`setsid`, `nohup`, a
//! double fork) outlives it: the group is killed only at the timeout, on cancel, or when
//! the endpoint is dropped while the script still runs.
//!
//! Where a script runs is the instance's [`Runner`]: inside a lab host
//! ([`Runner::Namespace`]: `nsenter` into the mount, UTS, IPC and PID namespaces and the
//! root of the host's init) or on this machine ([`Runner::Local`], for the testkit's own
//! tests).
//!
//! # Operations
//!
//! `SendCommand` (document `AWS-RunShellScript` only), `GetCommandInvocation`,
//! `ListCommandInvocations`, `DescribeInstanceInformation`, `CancelCommand`. Anything else
//! is `UnknownOperationException`. A request without an `Authorization` header is
//! `MissingAuthenticationTokenException` (HTTP 400, as AWS's JSON services answer it); one
//! whose header is not SigV4-shaped, or without `X-Amz-Date`/`Date`, is
//! `IncompleteSignatureException`. Signatures and credentials are never checked.
//!
//! # Statuses
//!
//! | invocation | `Status` | `StatusDetails` | `ResponseCode` |
//! |---|---|---|---|
//! | not delivered yet | `Pending` | `Pending` | -1 |
//! | script running | `InProgress` | `InProgress` | -1 |
//! | exit 0 | `Success` | `Success` | 0 |
//! | exit N ≠ 0 (killed by signal S: 128 + S) | `Failed` | `Failed` | N |
//! | killed at `executionTimeout` | `TimedOut` | `ExecutionTimedOut` | 137 |
//! | cancelled while running / before delivery | `Cancelled` | `Cancelled` | 137 / -1 |
//! | node not online until the delivery timeout | `TimedOut` | `DeliveryTimedOut` | -1 |
//! | node gone (its host no longer exists) or `Inactive` | `Failed` | `Undeliverable` | -1 |
//!
//! An instance id that does not match the API's pattern is a `ValidationException`; a
//! well-formed id the endpoint does not manage is `InvalidInstanceId` ("Instances [[…]] not
//! in a valid state for account …"), as the real service rejects an instance that is not a
//! managed node. An invocation to a node that is `ConnectionLost` waits (`Pending`) and runs
//! if the node comes back before the delivery timeout; an invocation to a node whose host
//! is gone is `Undeliverable` once its pending time ([`SsmOptions::pending_for`]) is over.
//!
//! # Limits and where they come from
//!
//! | limit | value | reference |
//! |---|---|---|
//! | `StandardOutputContent` | first 24,000 characters | API reference, `GetCommandInvocation` (response) |
//! | `StandardErrorContent` | first 8,000 characters | API reference, `GetCommandInvocation` (response) |
//! | `CommandPlugin.Output` | 2,500 characters, stdout then `----------ERROR-------` and stderr, cut with `---Output truncated---` / `---Error truncated----` | API reference, `CommandPlugin` (`Output`, max 2,500); the cut as SSM Agent's `TruncateOutput` does it (aws/amazon-ssm-agent) |
//! | `InstanceIds` | at most 50 | API reference, `SendCommand` (`InstanceIds`: "up to 50 IDs"; `InstanceIdList` max 50) |
//! | `InstanceId` | `(^i-(\w{8}\|\w{17})$)\|(^mi-\w{17}$)` | API reference, `GetCommandInvocation` / `SendCommand` |
//! | `TimeoutSeconds` | 30 to 2,592,000 (3,600 when absent) | API reference, `SendCommand` |
//! | `executionTimeout` | 1 to 172,800 seconds, default 3,600 | the `AWS-RunShellScript` document (`aws ssm get-document --name AWS-RunShellScript`: "Maximum is 172800 (48 hours)") |
//! | `Comment` | at most 100 characters | API reference, `SendCommand` |
//! | `ListCommandInvocations.MaxResults` | 1 to 50, default 50 | API reference, `ListCommandInvocations` |
//! | `DescribeInstanceInformation.MaxResults` | 5 to 50, default 10 | API reference, `DescribeInstanceInformation` |
//! | exit code of a killed script | 137 | SSM Agent on Linux, `CommandStoppedPreemptivelyExitCode` (128 + SIGKILL) |
//!
//! The API reference is <https://docs.aws.amazon.com/systems-manager/latest/APIReference/>
//! (the same model ships with botocore as `ssm/2014-11-06/service-2.json`); the statuses
//! are those of "Understanding command statuses" in the Systems Manager User Guide.
//!
//! # Test controls
//!
//! Through the Rust API only, never over HTTP: [`SsmOptions`] at start, and
//! [`SsmEndpoint::throttle`], [`SsmEndpoint::throttle_operation`],
//! [`SsmEndpoint::set_ping_status`], [`SsmEndpoint::calls`] and [`SsmEndpoint::invocation`]
//! while it runs.
//!
//! # Not implemented
//!
//! `Targets` (tag and resource-group targeting), any document but `AWS-RunShellScript`,
//! output to S3 or CloudWatch (the bucket and prefix are accepted and echoed, nothing is
//! uploaded, the output URLs are empty), notifications, `MaxConcurrency`/`MaxErrors`
//! (echoed, not applied), `ListCommands`, and the `InvokedAfter`/`InvokedBefore`/
//! `ExecutionStage` filters of `ListCommandInvocations` (`InvalidFilterKey`).

mod host;
mod ops;
mod run;
mod server;
mod state;
mod wire;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use host::instance_id_for;

use host::{HostFacts, valid_instance_id};
use state::{Node, State};
use wire::AwsError;

/// How a script reaches the instance it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// Inside a lab host: `nsenter -t PID -m -u -i -p -r --wd=DIR -- /bin/sh -c SCRIPT`,
    /// where `pid` is the host's init. The script sees the host's mounts, hostname, IPC,
    /// processes and root, as a script the agent runs on the host would.
    Namespace {
        /// The PID (in this machine's PID namespace) of the host's init.
        pid: u32,
    },
    /// On this machine: `/bin/sh -c SCRIPT`.
    Local,
}

/// A managed node of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its id: `i-` and 8 or 17 word characters, or `mi-` and 17.
    pub id: String,
    /// Its name (`ComputerName`, `Name`, the `Name` tag, `InstanceName`).
    pub name: String,
    /// How scripts run on it.
    pub runner: Runner,
    /// Its `IPAddress` (127.0.0.1 unless set).
    pub address: IpAddr,
}

impl Instance {
    /// An instance with the given id.
    pub fn new(id: impl Into<String>, name: impl Into<String>, runner: Runner) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            runner,
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// An instance whose id is [`instance_id_for`] its name.
    pub fn named(name: impl Into<String>, runner: Runner) -> Self {
        let name = name.into();
        Self::new(instance_id_for(&name), name, runner)
    }

    /// With this `IPAddress`.
    #[must_use]
    pub fn with_address(mut self, address: IpAddr) -> Self {
        self.address = address;
        self
    }
}

/// An operation of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// `SendCommand`.
    SendCommand,
    /// `GetCommandInvocation`.
    GetCommandInvocation,
    /// `ListCommandInvocations`.
    ListCommandInvocations,
    /// `DescribeInstanceInformation`.
    DescribeInstanceInformation,
    /// `CancelCommand`.
    CancelCommand,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Self; 5] = [
        Self::SendCommand,
        Self::GetCommandInvocation,
        Self::ListCommandInvocations,
        Self::DescribeInstanceInformation,
        Self::CancelCommand,
    ];

    /// Its name, as in `X-Amz-Target: AmazonSSM.<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Self::SendCommand => "SendCommand",
            Self::GetCommandInvocation => "GetCommandInvocation",
            Self::ListCommandInvocations => "ListCommandInvocations",
            Self::DescribeInstanceInformation => "DescribeInstanceInformation",
            Self::CancelCommand => "CancelCommand",
        }
    }

    /// The operation of that name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// The connection status of a node's agent (`PingStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingStatus {
    /// The agent pings: commands are delivered.
    Online,
    /// The agent stopped pinging: commands wait for it until the delivery timeout.
    ConnectionLost,
    /// Deprecated by SSM; here, a node that will not come back: commands are undeliverable.
    Inactive,
}

impl PingStatus {
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "Online",
            Self::ConnectionLost => "ConnectionLost",
            Self::Inactive => "Inactive",
        }
    }
}

/// How the endpoint starts: address, account, timings, and the test controls in force from
/// the first request.
#[derive(Debug, Clone)]
pub struct SsmOptions {
    listen: SocketAddr,
    config: Config,
    throttle: u32,
    throttle_ops: BTreeMap<Operation, u32>,
    connection_lost: Vec<String>,
}

/// The settings the operations read.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) pending_for: Duration,
    pub(crate) delivery_timeout: Option<Duration>,
    pub(crate) visible_after: Duration,
    pub(crate) output_cap: usize,
}

impl Default for SsmOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            config: Config {
                region: "us-east-1".to_owned(),
                account: "123456789012".to_owned(),
                pending_for: Duration::ZERO,
                delivery_timeout: None,
                visible_after: Duration::ZERO,
                output_cap: 1 << 20,
            },
            throttle: 0,
            throttle_ops: BTreeMap::new(),
            connection_lost: Vec::new(),
        }
    }
}

impl SsmOptions {
    /// The defaults: 127.0.0.1 on a free port, region `us-east-1`, account
    /// `123456789012`, invocations delivered at once and visible at once, the delivery
    /// timeout the request's `TimeoutSeconds`, 1 MiB of each output stream kept.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listen on `addr` (port 0: a free port).
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The region scripts see in `AWS_SSM_REGION_NAME` and commands report.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.config.region = region.into();
        self
    }

    /// The account named in `InvalidInstanceId` messages.
    #[must_use]
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.config.account = account.into();
        self
    }

    /// How long every invocation stays `Pending` before it is delivered (or found
    /// undeliverable).
    #[must_use]
    pub fn pending_for(mut self, d: Duration) -> Self {
        self.config.pending_for = d;
        self
    }

    /// The delivery timeout, in place of each request's `TimeoutSeconds` (at least 30 s in
    /// the API): how long an invocation waits for a node that is not online before it is
    /// `DeliveryTimedOut`.
    #[must_use]
    pub fn delivery_timeout(mut self, d: Duration) -> Self {
        self.config.delivery_timeout = Some(d);
        self
    }

    /// Eventual consistency: a command's invocations are unknown to `GetCommandInvocation`
    /// (`InvocationDoesNotExist`) and absent from `ListCommandInvocations` for this long
    /// after `SendCommand` answered.
    #[must_use]
    pub fn visible_after(mut self, d: Duration) -> Self {
        self.config.visible_after = d;
        self
    }

    /// How many bytes of each output stream are kept ([`SsmEndpoint::invocation`] gives
    /// them all; the API shows its limits of them).
    #[must_use]
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.config.output_cap = bytes;
        self
    }

    /// The first `n` requests (any operation) answer `ThrottlingException`.
    #[must_use]
    pub fn throttle(mut self, n: u32) -> Self {
        self.throttle = n;
        self
    }

    /// The first `n` requests of `op` answer `ThrottlingException`.
    #[must_use]
    pub fn throttle_operation(mut self, op: Operation, n: u32) -> Self {
        self.throttle_ops.insert(op, n);
        self
    }

    /// The instance `id` starts `ConnectionLost`.
    #[must_use]
    pub fn connection_lost(mut self, id: impl Into<String>) -> Self {
        self.connection_lost.push(id.into());
        self
    }
}

/// Requests received per operation (throttled ones included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls {
    counts: BTreeMap<Operation, u64>,
    throttled: u64,
}

impl Calls {
    /// Requests of `op`.
    pub fn get(&self, op: Operation) -> u64 {
        self.counts.get(&op).copied().unwrap_or(0)
    }

    /// Requests of every operation.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Requests answered `ThrottlingException`.
    pub fn throttled(&self) -> u64 {
        self.throttled
    }

    /// Each operation that was called, with its count.
    pub fn iter(&self) -> impl Iterator<Item = (Operation, u64)> + '_ {
        self.counts.iter().map(|(op, n)| (*op, *n))
    }
}

/// An invocation as the endpoint holds it, its output whole (up to
/// [`SsmOptions::output_cap`]), for tests that look past the API's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationView {
    /// `Status`.
    pub status: &'static str,
    /// `StatusDetails`.
    pub status_details: &'static str,
    /// `ResponseCode`.
    pub response_code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// Why the endpoint could not start or a control could not apply.
#[derive(Debug, thiserror::Error)]
pub enum SsmError {
    /// An instance id that SSM would not accept.
    #[error(
        "instance id {0:?} is not a managed node id (i- and 8 or 17 word characters, or mi- and 17)"
    )]
    InvalidInstanceId(String),
    /// The same instance id twice.
    #[error("instance id {0} is given twice")]
    DuplicateInstance(String),
    /// An instance id the endpoint does not manage.
    #[error("no instance {0} on this endpoint")]
    UnknownInstance(String),
    /// The PID of a namespace runner does not exist.
    #[error("instance {id}: process {pid} (the host's init) does not exist")]
    NoSuchProcess {
        /// The instance.
        id: String,
        /// Its PID.
        pid: u32,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What the server, the operations and the invocation tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) config: Config,
    /// Bumped when a node's ping status changes (pending deliveries look again).
    pub(crate) ping_changes: watch::Sender<u64>,
}

impl Shared {
    /// The state (a panic elsewhere while it was held does not make it unusable).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request of `op` and applies throttling to it.
    pub(crate) fn admit(&self, op: Operation) -> Result<(), AwsError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.stopped {
            return Err(
                AwsError::new("ServiceUnavailable", "The endpoint has stopped.")
                    .status(axum::http::StatusCode::SERVICE_UNAVAILABLE),
            );
        }
        *state.calls.entry(op).or_default() += 1;
        let throttle = match state.throttle_ops.get_mut(&op).filter(|n| **n > 0) {
            Some(n) => {
                *n -= 1;
                true
            }
            None if state.throttle > 0 => {
                state.throttle -= 1;
                true
            }
            None => false,
        };
        if throttle {
            state.throttled += 1;
            return Err(AwsError::new("ThrottlingException", "Rate exceeded"));
        }
        Ok(())
    }

    /// Kills the scripts still running and stops the invocation tasks.
    fn stop(&self) {
        let mut state = self.lock();
        state.stopped = true;
        for invocation in state
            .commands
            .iter_mut()
            .flat_map(|c| c.invocations.iter_mut())
        {
            if let Some(pgid) = invocation.pgid.take() {
                run::kill_group(pgid);
            }
        }
        for task in state.tasks.drain(..) {
            task.abort();
        }
    }
}

/// A running endpoint; stopped when dropped (scripts still running are killed with their
/// process groups; what they detached is the test's business).
#[derive(Debug)]
pub struct SsmEndpoint {
    addr: SocketAddr,
    names: Vec<(String, String)>,
    shared: Arc<Shared>,
    /// Tells the server to stop accepting and to close its idle connections.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl SsmEndpoint {
    /// Starts the endpoint for `instances` on the current Tokio runtime.
    pub async fn start(instances: Vec<Instance>, options: SsmOptions) -> Result<Self, SsmError> {
        let now = SystemTime::now();
        let mut state = State {
            throttle: options.throttle,
            throttle_ops: options.throttle_ops,
            ..State::default()
        };
        let mut names = Vec::with_capacity(instances.len());
        for instance in instances {
            if !valid_instance_id(&instance.id) {
                return Err(SsmError::InvalidInstanceId(instance.id));
            }
            if state.node_index.contains_key(&instance.id) {
                return Err(SsmError::DuplicateInstance(instance.id));
            }
            let facts = HostFacts::read(instance.runner).ok_or_else(|| match instance.runner {
                Runner::Namespace { pid } => SsmError::NoSuchProcess {
                    id: instance.id.clone(),
                    pid,
                },
                Runner::Local => SsmError::UnknownInstance(instance.id.clone()),
            })?;
            names.push((instance.name.clone(), instance.id.clone()));
            state
                .node_index
                .insert(instance.id.clone(), state.nodes.len());
            state.nodes.push(Node {
                id: instance.id,
                name: instance.name,
                runner: instance.runner,
                address: instance.address,
                ping: PingStatus::Online,
                last_ping: now,
                registered: now,
                facts,
            });
        }
        for id in &options.connection_lost {
            let index = *state
                .node_index
                .get(id)
                .ok_or_else(|| SsmError::UnknownInstance(id.clone()))?;
            state.nodes[index].ping = PingStatus::ConnectionLost;
        }
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| SsmError::Listen {
                addr: options.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SsmError::Listen {
            addr: options.listen,
            source,
        })?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            config: options.config,
            ping_changes: watch::Sender::new(0),
        });
        let app = server::router(Arc::clone(&shared));
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // Serves until the endpoint is dropped.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            names,
            shared,
            shutdown: Some(shutdown),
            server,
        })
    }

    /// The endpoint URL, `http://127.0.0.1:PORT`, for an SDK's endpoint override.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The id of the instance named `name`.
    pub fn instance_id(&self, name: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id.as_str())
    }

    /// The next `n` requests (any operation) answer `ThrottlingException`.
    pub fn throttle(&self, n: u32) {
        self.shared.lock().throttle = n;
    }

    /// The next `n` requests of `op` answer `ThrottlingException`.
    pub fn throttle_operation(&self, op: Operation, n: u32) {
        self.shared.lock().throttle_ops.insert(op, n);
    }

    /// Sets the ping status of instance `id` (pending deliveries to it look again).
    pub fn set_ping_status(&self, id: &str, status: PingStatus) -> Result<(), SsmError> {
        {
            let mut state = self.shared.lock();
            let index = *state
                .node_index
                .get(id)
                .ok_or_else(|| SsmError::UnknownInstance(id.to_owned()))?;
            let node = &mut state.nodes[index];
            if node.ping != status {
                node.ping = status;
                node.last_ping = SystemTime::now();
            }
        }
        self.shared.ping_changes.send_modify(|n| *n += 1);
        Ok(())
    }

    /// The requests received so far, per operation.
    pub fn calls(&self) -> Calls {
        let state = self.shared.lock();
        Calls {
            counts: state.calls.clone(),
            throttled: state.throttled,
        }
    }

    /// Invocation `instance_id` of command `command_id`, visible or not yet.
    pub fn invocation(&self, command_id: &str, instance_id: &str) -> Option<InvocationView> {
        let state = self.shared.lock();
        let command = &state.commands[*state.command_index.get(command_id)?];
        let inv = command
            .invocations
            .iter()
            .find(|i| i.instance_id == instance_id)?;
        Some(InvocationView {
            status: inv.status.status(),
            status_details: inv.status.details(),
            response_code: inv.response_code,
            stdout: inv.stdout.clone(),
            stderr: inv.stderr.clone(),
        })
    }

    /// The ids of the commands sent so far, oldest first.
    pub fn command_ids(&self) -> Vec<String> {
        self.shared
            .lock()
            .commands
            .iter()
            .map(|c| c.id.clone())
            .collect()
    }

    /// The instances, as `(name, id)`.
    pub fn instances(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names.iter().map(|(n, id)| (n.as_str(), id.as_str()))
    }
}

impl Drop for SsmEndpoint {
    fn drop(&mut self) {
        // Requests still arriving on open connections are refused from now on; the server
        // closes them once idle.
        self.shared.stop();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if tokio::runtime::Handle::try_current().is_err() {
            // No runtime to finish the graceful shutdown on.
            self.server.abort();
        }
    }
}
