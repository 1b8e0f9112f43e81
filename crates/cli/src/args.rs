//! Command-line arguments (clap). The verbs and global options are the contract of
//! DESIGN.md §3; flags may be added, never renamed.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// fearless — tested, reversible, attributable changes to a Linux fleet.
#[derive(Debug, Parser)]
#[command(name = "fearless", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options accepted before or after the subcommand.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Configuration file [default: $FEARLESS_CONFIG, else ./fearless.yaml]
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Act as this identity (else $FEARLESS_USER, else the OS user)
    #[arg(long = "as", global = true, value_name = "NAME")]
    pub(crate) as_user: Option<String>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
    /// State store URL (sqlite:PATH or postgres://…)
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// More logging (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Only errors on stderr, no progress
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

/// Output formats. Not every command supports every format; those that don't say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Tables and summaries for people.
    Human,
    /// Stable JSON (see docs/check-json.md).
    Json,
    /// JUnit XML, one testsuite per component.
    Junit,
    /// Test Anything Protocol.
    Tap,
    /// Prometheus text exposition.
    Prometheus,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the environment test plan: every check of every component, localised.
    Check(CheckArgs),
    /// List the inventory, or `ping` every host.
    Hosts(HostsArgs),
    /// A real disposable fleet on this machine (root required).
    Lab(LabArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Only hosts matching this selector (name, glob, k=v, group:NAME; comma = AND)
    #[arg(long, value_name = "SEL")]
    pub(crate) hosts: Option<String>,
    /// Only this component (repeatable)
    #[arg(long = "component", value_name = "C")]
    pub(crate) components: Vec<String>,
    /// Save this run as a baseline
    #[arg(long, value_name = "FILE")]
    pub(crate) save_baseline: Option<PathBuf>,
    /// Compare with a saved baseline: report only regressions and recoveries
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// Print what would run, run nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HostsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<HostsAction>,
    /// Only hosts matching this selector
    #[arg(long, value_name = "SEL", global = true)]
    pub(crate) hosts: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HostsAction {
    /// Reach every host through its transport and report latency
    Ping,
}

#[derive(Debug, Args)]
pub(crate) struct LabArgs {
    #[command(subcommand)]
    pub(crate) action: LabAction,
    /// Lab directory
    #[arg(long, global = true, value_name = "DIR", default_value = ".fearless/lab")]
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LabAction {
    /// Build (or report) the lab fleet
    Up {
        /// Number of hosts
        #[arg(long, default_value_t = 4)]
        hosts: usize,
        /// Where the cached Debian root lives
        #[arg(long, env = "FEARLESS_LAB_CACHE", default_value = "/var/cache/fearless/lab", value_name = "DIR")]
        cache: PathBuf,
        /// sshd port on every lab address
        #[arg(long, default_value_t = 22)]
        port: u16,
        /// Add one host, rpm-1, whose acme shop is managed by dnf/rpm (needs rpmbuild and createrepo_c)
        #[arg(long)]
        rpm_host: bool,
    },
    /// Stop every lab process, unmount, remove the lab's files (the cache stays)
    Down,
    /// Hosts, addresses, reachability and services
    Status,
    /// Add package versions to the lab repository: routine, bad-libacme, fixed-libacme
    Publish {
        /// Scenario name
        scenario: String,
    },
    /// Open a shell on a lab host
    Ssh {
        /// Host name (web-1, …)
        host: String,
        /// Command to run instead of a shell
        #[arg(trailing_var_arg = true)]
        command: Vec<String>,
    },
}
