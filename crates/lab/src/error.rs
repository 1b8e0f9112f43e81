//! The lab's error type: what failed, with a `hint` telling the operator what to do next.

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::catalog::UnknownScenario;

/// Everything that can go wrong while building, inspecting or tearing down a lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// The lab mounts file systems and creates namespaces: it must run as root.
    #[error("the lab needs root privileges, but runs as uid {uid}")]
    NotRoot {
        /// The effective uid we run as.
        uid: u32,
    },
    /// A program the lab runs is not installed on the controller.
    #[error("required program `{program}` was not found in PATH")]
    ToolMissing {
        /// The missing program.
        program: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// The options given to `up` cannot work.
    #[error("invalid lab options: {0}")]
    InvalidOptions(String),
    /// A scenario name that does not exist.
    #[error(transparent)]
    UnknownScenario(#[from] UnknownScenario),
    /// Something already listens where a lab sshd must listen.
    #[error("port {port} is already taken on lab address {address}")]
    PortTaken {
        /// The lab address.
        address: Ipv4Addr,
        /// The port that is taken.
        port: u16,
    },
    /// Something already listens where a lab host's acme service must listen (most often
    /// another lab on this machine: lab addresses are fixed).
    #[error("port {port} is already taken on lab address {address}, where {service} must listen")]
    ServicePortTaken {
        /// The lab address.
        address: Ipv4Addr,
        /// The port that is taken.
        port: u16,
        /// The acme service that needs it.
        service: &'static str,
    },
    /// Another `fearless lab` command works on the same directory.
    #[error("another fearless lab command is working on {dir}")]
    Busy {
        /// The lab directory.
        dir: PathBuf,
    },
    /// The command needs a lab, and there is none in this directory.
    #[error("no lab found in {dir}")]
    NotUp {
        /// The lab directory.
        dir: PathBuf,
    },
    /// `up` was asked for a different number of hosts than the running lab has.
    #[error(
        "a lab with {running} hosts is already running in {dir}, but {requested} were requested"
    )]
    HostCountMismatch {
        /// The lab directory.
        dir: PathBuf,
        /// Hosts of the running lab.
        running: usize,
        /// Hosts requested.
        requested: usize,
    },
    /// `up` was asked for another topology than the running lab has.
    #[error("a {running} lab is already running in {dir}, but a {requested} one was requested")]
    TopologyMismatch {
        /// The lab directory.
        dir: PathBuf,
        /// The running lab's topology.
        running: crate::Topology,
        /// The topology requested.
        requested: crate::Topology,
    },
    /// `up` was asked for (or without) the RPM host, and the running lab differs.
    #[error(
        "the lab running in {dir} {}, but it was requested {}",
        if *.running { "has an RPM host" } else { "has no RPM host" },
        if *.running { "without one" } else { "with one" }
    )]
    RpmHostMismatch {
        /// The lab directory.
        dir: PathBuf,
        /// Whether the running lab has an RPM host.
        running: bool,
    },
    /// `up` was asked for (or without) light hosts, and the running lab differs.
    #[error(
        "the lab running in {dir} {}, but it was requested {}",
        if *.running { "is a light lab" } else { "runs the acme shop" },
        if *.running { "with the acme shop" } else { "light" }
    )]
    LightMismatch {
        /// The lab directory.
        dir: PathBuf,
        /// Whether the running lab is light.
        running: bool,
    },
    /// The machine's limits cannot hold the lab asked for.
    #[error("{what} is {limit}, but the lab needs about {need}")]
    Capacity {
        /// The limit (`kernel.pid_max`).
        what: String,
        /// Its value.
        limit: u64,
        /// What the lab would need.
        need: u64,
        /// The command that raises it.
        sysctl: String,
    },
    /// A host name that is not part of the lab.
    #[error("unknown lab host `{host}` (lab hosts: {known})")]
    UnknownHost {
        /// The name asked for.
        host: String,
        /// The lab's hosts, comma-separated.
        known: String,
    },
    /// A package version that is not in the acme catalogue.
    #[error("`{name}` is not a version of the acme catalogue")]
    UnknownPackage {
        /// NAME=VERSION as asked.
        name: String,
    },
    /// A file-system operation failed.
    #[error("failed to {action}: {source}")]
    Io {
        /// What we tried to do, e.g. "write /x/state.json".
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A program exited unsuccessfully.
    #[error("failed to {action}: `{program}` {status}{}", stderr_suffix(.stderr))]
    Command {
        /// What we tried to do.
        action: String,
        /// The program that failed.
        program: String,
        /// How it ended ("exited with status 1").
        status: String,
        /// The end of its standard error (and output).
        stderr: String,
    },
    /// A command run inside a lab host over ssh failed.
    #[error("failed to {action} on {host}: `{command}` {status}{}", stderr_suffix(.stderr))]
    Remote {
        /// The lab host.
        host: String,
        /// What we tried to do.
        action: String,
        /// The remote command.
        command: String,
        /// How it ended.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// The sshd of a host never accepted connections.
    #[error("sshd of {host} did not accept connections on {address}:{port} within {secs} s{}", log_suffix(.log))]
    SshdNotReady {
        /// The lab host.
        host: String,
        /// Its address.
        address: Ipv4Addr,
        /// The sshd port.
        port: u16,
        /// How long we waited.
        secs: u64,
        /// The end of the sshd log.
        log: String,
    },
    /// The acme services of a host did not come up.
    #[error("the acme shop on {host} is not working after {secs} s: {detail}{}", log_suffix(.log))]
    ServiceNotReady {
        /// The lab host.
        host: String,
        /// How long we waited.
        secs: u64,
        /// The last failure seen.
        detail: String,
        /// The end of the service logs.
        log: String,
    },
    /// `state.json` of the lab cannot be parsed.
    #[error("failed to read lab state {path}: {source}")]
    State {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A lab process could not be stopped.
    #[error("failed to stop {what} (pid {pid}) of {host}: {detail}")]
    Stop {
        /// The lab host.
        host: String,
        /// Which process ("sshd").
        what: &'static str,
        /// Its pid.
        pid: u32,
        /// Why.
        detail: String,
    },
    /// File systems under the lab directory could not be unmounted.
    #[error("refusing to remove {path}: still mounted under it: {mounts}")]
    StillMounted {
        /// The directory we wanted to remove.
        path: PathBuf,
        /// The mount points left, comma-separated.
        mounts: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", stderr.trim())
    }
}

fn log_suffix(log: &str) -> String {
    if log.trim().is_empty() {
        String::new()
    } else {
        format!("\n--- log ---\n{}", log.trim_end())
    }
}

impl LabError {
    /// What the operator should do next, when we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotRoot { .. } => Some("run as root (the lab mounts overlays and creates namespaces)".into()),
            Self::ToolMissing { package, .. } => Some(format!("install it with: apt-get install -y {package}")),
            Self::UnknownScenario(_) => Some(
                "routine = harmless updates, bad-libacme = a batch that breaks orders, fixed-libacme = the fix, needs-reboot = an update that asks for a reboot, stale-service = an update that forgets to restart its service".into(),
            ),
            Self::ServicePortTaken { .. } => Some(
                "another lab may be running on this machine: run `fearless lab down --dir DIR` for it first".into(),
            ),
            Self::PortTaken { port, .. } => Some(format!(
                "stop what listens on port {port} there, or choose another sshd port with --port"
            )),
            Self::Busy { .. } => Some("wait for the other command to finish".into()),
            Self::NotUp { .. } => Some("start one with: fearless lab up".into()),
            Self::HostCountMismatch { .. } => {
                Some("run `fearless lab down` first to rebuild the lab with another size".into())
            }
            Self::TopologyMismatch { .. } => Some(
                "run `fearless lab down` first to rebuild the lab with another topology".into(),
            ),
            Self::LightMismatch { .. } => {
                Some("run `fearless lab down` first to rebuild the lab with or without --light".into())
            }
            Self::Capacity { sysctl, .. } => Some(format!("raise it ({sysctl}) or ask for fewer hosts")),
            Self::RpmHostMismatch { .. } => {
                Some("run `fearless lab down` first to rebuild the lab with or without --rpm-host".into())
            }
            Self::Command { program, .. } if program == "apt-get" => Some(
                "installing dnf and rpm into the RPM root needs http://deb.debian.org; check the network, then run `fearless lab up --rpm-host` again".into(),
            ),
            Self::Command { program, .. } if program == "debootstrap" => Some(
                "debootstrap needs http://deb.debian.org; check the network, then run `fearless lab up` again".into(),
            ),
            Self::SshdNotReady { .. } | Self::ServiceNotReady { .. } | Self::Remote { .. } => {
                Some("inspect with `fearless lab status`, clean up with `fearless lab down`".into())
            }
            Self::StillMounted { .. } | Self::Stop { .. } => {
                Some("run `fearless lab down` again; check `findmnt` for mounts under the lab directory".into())
            }
            Self::State { .. } => Some("run `fearless lab down` to clean up by scanning mounts".into()),
            _ => None,
        }
    }

    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}

/// Shorthand for the lab's results.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
