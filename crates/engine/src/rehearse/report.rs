//! What a rehearsal found, as the journal keeps it and every front end renders it: the
//! role that was rebuilt, where, what each package, file, service and check did there, and
//! the findings — what broke and why — that decide the verdict.

use serde::{Deserialize, Serialize};

/// A rehearsal's report (journaled whole in `rehearse.finished`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The host whose role was rebuilt.
    pub role: RoleSummary,
    /// Where it was rebuilt.
    pub target: TargetSummary,
    /// Every package of the role and what became of it.
    pub packages: Vec<PackageOutcome>,
    /// Every declared file and whether it was carried over.
    pub files: Vec<FileOutcome>,
    /// The role's services started on the new host.
    pub services: Vec<ServiceOutcome>,
    /// The components' checks, run against the new host.
    pub checks: Vec<CheckOutcome>,
    /// What broke and why (errors), and what differs but works (warnings).
    pub findings: Vec<Finding>,
    /// Whether the role works on the new host: no finding is an error.
    pub verdict: Verdict,
    /// Where the time went, in milliseconds.
    pub timings: Timings,
}

impl Report {
    /// The findings that are errors.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }
}

/// The role host and what its role is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSummary {
    /// Inventory name.
    pub host: String,
    /// Its OS (os-release's pretty name), when it could be read.
    pub os: Option<String>,
    /// The snapshot of its packages the role was taken from (`SNAP-3`).
    pub snapshot: String,
    /// The components rebuilt (their checks ran, their files were carried over).
    pub components: Vec<String>,
    /// Components that run on the host but were left out (`--components`), with the
    /// packages that were left out with them.
    pub excluded: Vec<Excluded>,
    /// Packages on the host, for scale.
    pub installed: usize,
}

/// A component left out of the rehearsal, and its packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    /// The component.
    pub component: String,
    /// The packages that belong to it only.
    pub packages: Vec<String>,
}

/// The host the role was rebuilt on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSummary {
    /// Its name (`rehearse-1`, or an inventory host given with `--onto`).
    pub host: String,
    /// How it is reached.
    pub address: String,
    /// What it is (`Debian 13 (trixie), a new lab host`; `an inventory host`).
    pub what: String,
    /// Its OS (os-release's pretty name), when it could be read.
    pub os: Option<String>,
    /// Its package manager.
    pub manager: String,
    /// It was brought up for this rehearsal.
    pub provisioned: bool,
    /// It was left up to explore (`--keep`), or is an inventory host.
    pub kept: bool,
    /// Why it could not be removed, when that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_error: Option<String>,
}

/// Why a package is part of the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Why {
    /// Installed on purpose on the role host, and nothing there needs it: asked for by name.
    Requested,
    /// A dependency of a requested package, kept at the role host's version where the new
    /// host offers it.
    Dependency,
}

/// What the rehearsal did with one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Asked for at exactly the role host's version.
    Exact {
        /// The version asked for.
        version: String,
    },
    /// The role host's version is not offered: the closest offered one was asked for.
    Closest {
        /// The version asked for instead.
        version: String,
        /// Every version offered.
        offered: Vec<String>,
    },
    /// The new OS has it already, in its own version: left as it is.
    NewOs {
        /// The new OS's version.
        version: String,
    },
    /// Nothing offers it on the new host.
    Missing {
        /// Offered names that look like a rename (`libssl3t64` for `libssl3`).
        similar: Vec<String>,
    },
}

/// One package of the role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageOutcome {
    /// Package name.
    pub name: String,
    /// Its version on the role host.
    pub role_version: String,
    /// Why it is part of the role.
    pub why: Why,
    /// What was asked of the new host.
    #[serde(flatten)]
    pub action: Action,
    /// Its version on the new host afterwards (`None`: not installed).
    pub installed: Option<String>,
    /// Installed but not configured (a maintainer script failed).
    #[serde(default)]
    pub unconfigured: bool,
}

/// One declared file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOutcome {
    /// Its path.
    pub path: String,
    /// The components that declare it.
    pub components: Vec<String>,
    /// Its size on the role host, when it was read.
    pub bytes: Option<u64>,
    /// It is on the new host now, with the role host's mode.
    pub copied: bool,
    /// What went wrong, or what differs (an owner the new host does not know).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One service of the role, started on the new host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOutcome {
    /// Its name (`acme-web`, `nginx.service`).
    pub name: String,
    /// The package that ships it.
    pub package: String,
    /// It runs on the new host after the start.
    pub running: bool,
    /// The start command's exit status (`None`: it was running already, or missing).
    pub exit: Option<i32>,
    /// The service is not on the new host at all.
    #[serde(default)]
    pub missing: bool,
    /// The start command's output and the end of the service's log (`FILE: line`).
    pub log: Vec<String>,
}

/// One check run against the new host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// `pass`, `fail`, …
    pub status: String,
    /// Why it did not pass (`refused`, `assertion`, …).
    pub reason: Option<String>,
    /// What was observed.
    pub message: String,
}

impl CheckOutcome {
    /// `component/check`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.component, self.check)
    }

    /// Whether it counts as healthy.
    pub fn ok(&self) -> bool {
        matches!(self.status.as_str(), "pass" | "degraded")
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The role does not work as it is on the new OS.
    Error,
    /// It differs, and works.
    Warning,
}

/// The categories of findings, each something a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An interpreter a script of the role names in its `#!` line exists on the role host
    /// and not on the new one (`#!/usr/bin/python3.11`).
    HardCodedInterpreter,
    /// A path the role's software names (an `ExecStart`, a config path, a path its log
    /// says is missing) exists on the role host and not on the new one.
    HardCodedPath,
    /// A package of the role is not offered on the new OS (or only under another name).
    PackageMissing,
    /// A package could not be installed, or its maintainer script failed.
    InstallFailed,
    /// A service of the role does not start.
    ServiceNotStarted,
    /// A declared file could not be carried over.
    FileNotCopied,
    /// A check of the components fails on the new host.
    CheckFailed,
    /// The role host's version is not offered; the closest was installed.
    VersionNotAvailable,
}

impl Kind {
    /// What it is called in a report.
    pub fn title(self) -> &'static str {
        match self {
            Self::HardCodedInterpreter => "hard-coded interpreter",
            Self::HardCodedPath => "hard-coded path",
            Self::PackageMissing => "package missing on the new OS",
            Self::InstallFailed => "install failed",
            Self::ServiceNotStarted => "service does not start",
            Self::FileNotCopied => "file not carried over",
            Self::CheckFailed => "check fails",
            Self::VersionNotAvailable => "version not available",
        }
    }
}

/// One thing that broke (or differs), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `F1`, `F2`, … in report order.
    pub id: String,
    /// Its category.
    pub kind: Kind,
    /// Error or warning.
    pub severity: Severity,
    /// The package it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// What it is about: a path, a package, a service, `component/check`.
    pub subject: String,
    /// Why, in one sentence.
    pub detail: String,
    /// Where it was seen: a shebang, a log line, the package manager's words.
    pub evidence: Vec<String>,
    /// The failing checks it explains (`component/check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaks: Vec<String>,
    /// The findings that explain this one (a failing check's cause), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caused_by: Vec<String>,
}

/// Whether the role works on the new host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Installed, started, every check passes.
    Works,
    /// At least one finding is an error.
    Broken,
}

/// Where a rehearsal spent its time, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading the role host and bringing the new host up (at the same time).
    pub prepare_ms: u64,
    /// The package manager on the new host.
    pub install_ms: u64,
    /// Files, services and the scan for hard-coded paths.
    pub start_ms: u64,
    /// The checks.
    pub checks_ms: u64,
    /// Start to end.
    pub total_ms: u64,
}
