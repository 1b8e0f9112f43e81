//! What the endpoint holds: its instances, the commands sent, each invocation's progress,
//! and the test controls (throttling, call counts).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::host::HostFacts;
use super::{Operation, PingStatus, Runner};

/// Everything behind the endpoint's lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The managed nodes, in the order they were given.
    pub(crate) nodes: Vec<Node>,
    /// Index in `nodes` by instance id.
    pub(crate) node_index: HashMap<String, usize>,
    /// The commands sent, oldest first.
    pub(crate) commands: Vec<Command>,
    /// Index in `commands` by command id.
    pub(crate) command_index: HashMap<String, usize>,
    /// Requests of any operation still to be throttled.
    pub(crate) throttle: u32,
    /// Requests of one operation still to be throttled (taken before `throttle`).
    pub(crate) throttle_ops: BTreeMap<Operation, u32>,
    /// Requests received per operation (throttled ones included).
    pub(crate) calls: BTreeMap<Operation, u64>,
    /// Requests answered `ThrottlingException`.
    pub(crate) throttled: u64,
    /// The tasks that deliver and run invocations (aborted when the endpoint stops).
    pub(crate) tasks: Vec<AbortHandle>,
    /// The endpoint was dropped: requests are refused, nothing more runs.
    pub(crate) stopped: bool,
}

/// A managed node.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) runner: Runner,
    pub(crate) address: IpAddr,
    /// The ping status a test set (the host's own existence is checked besides).
    pub(crate) ping: PingStatus,
    /// When the agent last pinged: now while online, the moment it was lost otherwise.
    pub(crate) last_ping: SystemTime,
    /// When the endpoint started (the node's registration).
    pub(crate) registered: SystemTime,
    pub(crate) facts: HostFacts,
}

impl Node {
    /// Whether the host behind the node still exists.
    pub(crate) fn alive(&self) -> bool {
        self.facts.alive(self.runner)
    }

    /// The ping status SSM would report: a host that no longer exists has stopped pinging.
    pub(crate) fn ping_status(&self) -> PingStatus {
        match self.ping {
            PingStatus::Online if !self.alive() => PingStatus::ConnectionLost,
            other => other,
        }
    }
}

/// A command: one `SendCommand`, an invocation per instance.
#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) id: String,
    pub(crate) document_name: String,
    pub(crate) document_version: String,
    pub(crate) comment: String,
    /// The parameters as sent (echoed back in `Command`).
    pub(crate) parameters: BTreeMap<String, Vec<String>>,
    /// `commands` joined by newlines, as the agent writes its `_script.sh`.
    pub(crate) script: String,
    /// `workingDirectory`, `/` when empty.
    pub(crate) working_directory: String,
    /// `executionTimeout`.
    pub(crate) execution_timeout: Duration,
    /// `TimeoutSeconds` as sent (3600 when absent).
    pub(crate) timeout_seconds: u32,
    /// When a node that is not online stops being waited for (`DeliveryTimedOut`).
    pub(crate) delivery_deadline: Instant,
    pub(crate) requested: SystemTime,
    /// Before this instant, the command's invocations are not visible to reads.
    pub(crate) visible_at: Instant,
    pub(crate) output_s3_region: String,
    pub(crate) output_s3_bucket: String,
    pub(crate) output_s3_prefix: String,
    pub(crate) max_concurrency: String,
    pub(crate) max_errors: String,
    pub(crate) invocations: Vec<Invocation>,
}

/// One command on one node.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub(crate) instance_id: String,
    /// Index of the node in `State::nodes`.
    pub(crate) node: usize,
    pub(crate) status: InvocationStatus,
    /// The script's exit code; -1 until it ran.
    pub(crate) response_code: i32,
    pub(crate) started: Option<SystemTime>,
    pub(crate) ended: Option<SystemTime>,
    /// What the script wrote (the first `output_cap` bytes of each stream).
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    /// Told when the invocation is cancelled.
    pub(crate) cancel: Arc<Notify>,
    /// The process group of the running script (its leader not yet reaped).
    pub(crate) pgid: Option<i32>,
}

/// Where an invocation is, with the `Status` and `StatusDetails` SSM reports for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvocationStatus {
    /// Not delivered yet.
    Pending,
    /// Delivered: the script runs.
    InProgress,
    /// Exit code 0.
    Success,
    /// A non-zero exit code.
    Failed,
    /// Killed at `executionTimeout`.
    ExecutionTimedOut,
    /// Not delivered before the delivery timeout.
    DeliveryTimedOut,
    /// The node does not exist any more (or is inactive).
    Undeliverable,
    /// `CancelCommand` arrived while the script ran; it is being killed.
    Cancelling,
    /// Cancelled before it ended.
    Cancelled,
}

impl InvocationStatus {
    /// `Status` (`CommandInvocationStatus`).
    pub(crate) fn status(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Success => "Success",
            Self::Failed | Self::Undeliverable => "Failed",
            Self::ExecutionTimedOut | Self::DeliveryTimedOut => "TimedOut",
            Self::Cancelling => "Cancelling",
            Self::Cancelled => "Cancelled",
        }
    }

    /// `StatusDetails`.
    pub(crate) fn details(self) -> &'static str {
        match self {
            Self::ExecutionTimedOut => "ExecutionTimedOut",
            Self::DeliveryTimedOut => "DeliveryTimedOut",
            Self::Undeliverable => "Undeliverable",
            other => other.status(),
        }
    }

    /// `Status` of the `CommandPlugin` (`CommandPluginStatus` has no `Cancelling`).
    pub(crate) fn plugin_status(self) -> &'static str {
        match self {
            Self::Cancelling => "InProgress",
            other => other.status(),
        }
    }

    /// Whether the invocation has ended.
    pub(crate) fn terminal(self) -> bool {
        !matches!(self, Self::Pending | Self::InProgress | Self::Cancelling)
    }
}
