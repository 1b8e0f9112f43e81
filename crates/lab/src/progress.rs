//! Progress reports: the lab never prints; it tells its caller what it is doing through a
//! callback, and the caller renders (a progress bar, log lines, nothing).

use std::fmt;

/// A step of `up`, `down` or `publish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Checking root, programs and options.
    Prerequisites,
    /// Building the cached Debian root with debootstrap (a minute or two, once).
    BuildRoot,
    /// Building the cached RPM root (the Debian root plus dnf and rpm), once.
    BuildRpmRoot,
    /// Building `.deb` packages into the lab repository.
    BuildPackages,
    /// Building RPMs into the lab RPM repository.
    BuildRpms,
    /// Starting a host (overlay, namespaces, sshd).
    StartHost,
    /// Writing `ssh_config`, `known_hosts` and `fearless.yaml`.
    WriteConfig,
    /// Starting the tiered lab's payments provider.
    StartPayments,
    /// Stopping it.
    StopPayments,
    /// Installing the acme shop in a host (over ssh).
    InstallPackages,
    /// Waiting for the acme services to answer.
    WaitServices,
    /// The lab was already running; nothing to do.
    AlreadyRunning,
    /// Stopping a host's processes.
    StopHost,
    /// Unmounting a file system.
    Unmount,
    /// Removing lab files.
    Remove,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Prerequisites => "check prerequisites",
            Self::BuildRoot => "build debian root",
            Self::BuildRpmRoot => "build rpm root",
            Self::BuildPackages => "build packages",
            Self::BuildRpms => "build rpms",
            Self::StartHost => "start host",
            Self::WriteConfig => "write config",
            Self::StartPayments => "start payments provider",
            Self::StopPayments => "stop payments provider",
            Self::InstallPackages => "install packages",
            Self::WaitServices => "wait for services",
            Self::AlreadyRunning => "already running",
            Self::StopHost => "stop host",
            Self::Unmount => "unmount",
            Self::Remove => "remove",
        })
    }
}

/// One progress report: `done` of `total` units of `step` are finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// What is going on.
    pub step: Step,
    /// The host concerned, if any.
    pub host: Option<String>,
    /// Units finished so far (0 when a step starts).
    pub done: usize,
    /// Units in this step.
    pub total: usize,
    /// A human-readable detail ("libacme=2.0", "/x/hosts/web-1/merged").
    pub message: String,
}

impl Progress {
    pub(crate) fn new(step: Step, done: usize, total: usize, message: impl Into<String>) -> Self {
        Self {
            step,
            host: None,
            done,
            total,
            message: message.into(),
        }
    }

    pub(crate) fn host(mut self, host: &str) -> Self {
        self.host = Some(host.to_owned());
        self
    }
}
