//! Command-line arguments (clap). The verbs and global options are the contract of
//! DESIGN.md §3; flags may be added, never renamed.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `0.1.0 (commit 1a2b3c4)`: the crate's version and the commit it was built from
/// (`unknown` outside a git checkout), set by `build.rs`.
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FEARLESS_COMMIT"),
    ")"
);

/// fearless — tested, reversible, attributable changes to a Linux fleet.
#[derive(Debug, Parser)]
#[command(name = "fearless", version = VERSION, about, long_about = None, propagate_version = true)]
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
    /// State store URL (sqlite:PATH or postgres://…); a password belongs in
    /// $FEARLESS_STORE, $PGPASSWORD or ~/.pgpass, not on a command line every user can see
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "FEARLESS_STORE",
        hide_env_values = true
    )]
    pub(crate) store: Option<String>,
    /// More logging (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Only errors on stderr, no progress
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Ask EC2 again for the hosts of `inventory.ec2` instead of reusing the answer cached
    /// in the store
    #[arg(long, global = true)]
    pub(crate) refresh: bool,
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
    /// Markdown (`fearless rca`).
    Md,
    /// A standalone HTML page (`fearless rca`).
    Html,
    /// An SVG drawing (`fearless map`).
    Svg,
    /// Mermaid flowchart text (`fearless map`).
    Mermaid,
    /// Graphviz DOT text (`fearless map`).
    Dot,
    /// SARIF 2.1.0, for code-scanning dashboards (`fearless map --observe`).
    Sarif,
    /// A configuration draft (`fearless discover`).
    Yaml,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the environment test plan: every check of every component, localised.
    Check(CheckArgs),
    /// List the inventory, or `ping` every host.
    Hosts(HostsArgs),
    /// Change records: plan, approve, schedule, implement, review.
    Change(Box<ChangeArgs>),
    /// The tamper-evident journal of every change and action.
    Journal(JournalArgs),
    /// Event delivery: the outbox, replays, test events.
    Events(EventsArgs),
    /// Installed and pending packages per host; apply a manifest; roll back to a snapshot.
    Packages(PackagesArgs),
    /// Record each host's exact package set in the store; list, show and diff snapshots.
    Snapshot(SnapshotArgs),
    /// Every package change on each host in a window, from the hosts' own history.
    Whatchanged(WhatchangedArgs),
    /// Apply updates to a change's hosts in canary waves gated by the test plan.
    Patch(PatchArgs),
    /// Rollouts: list, show, resume.
    Rollout(RolloutArgs),
    /// Join a rollout (`patch --workers`) or a check round (`check --workers`) from another
    /// process or machine, same config and store: take its hosts until it is over
    Worker(WorkerArgs),
    /// Incidents: opened by failed rollouts or by hand; list, show, mitigate, resolve, close.
    Incident(IncidentArgs),
    /// Find which packages of a manifest break which checks, on one isolated host.
    Bisect(BisectArgs),
    /// The post-incident report of an incident: attribution, impact, timeline, evidence,
    /// action items (--format md|html|json)
    Rca(RcaArgs),
    /// The whole story on a lab, narrated: a bad batch caught on the canary, rolled back,
    /// bisected and reported; the fix patched through every wave (needs root)
    Demo(DemoArgs),
    /// A real disposable fleet on this machine (root required).
    Lab(LabArgs),
    /// The dependency map on one page (--format svg|mermaid|dot|json|human); blast radius
    /// and needs; drift from live connections (--observe)
    Map(MapArgs),
    /// Draft a configuration from a live fleet: services, components, dependencies, checks
    Discover(DiscoverArgs),
    /// Start a fearless.yaml for your own fleet, from --hosts or an Ansible inventory: the
    /// hosts are pinged and its components drafted from what runs on them
    Init(InitArgs),
    /// Print a shell completion script: source <(fearless completions bash)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Write the man pages of fearless and every subcommand (fearless.1, fearless-patch.1, …)
    /// to DIR, or print fearless(1) to stdout
    Man {
        /// Where to write every page
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Scan source code for fragile coupling to the OS and vendors: shell-outs, injection,
    /// OS-owned files, distro commands, broker lock-in, hard-coded addresses
    /// (--format human|json|sarif); exit 1 on findings
    Scan(ScanArgs),
    /// Each host's OS release, kernel, package manager and support by tier, every date with
    /// its source (exit 1 when a host is past end of life)
    Os(OsArgs),
    /// How two sets of hosts differ: releases, packages, versions, listening ports,
    /// components (exit 1 when anything outside `parity.ignore` differs)
    Parity(ParityArgs),
    /// DR rehearsal: rebuild a host's role (its packages, components and declared files) on
    /// a brand-new OS, start it, run its test plan, and say what broke and why (exit 1 when
    /// something did, 3 when the rehearsal could not run)
    Rehearse(RehearseArgs),
    /// Which advisories of vulnerability feeds (OSV, Debian's tracker, ALAS), read offline,
    /// apply to each host, the fixed versions and whether they are offered (exit 1 when one
    /// applies)
    Vulns(VulnsArgs),
    /// The team's dashboard on the store the CLI uses: health from the continuous test plan,
    /// changes, rollouts (live), incidents, the journal; the same actions as the CLI behind a
    /// login; a JSON API, /healthz, /readyz and /metrics (stops on SIGTERM or Ctrl-C)
    Serve(ServeArgs),
    /// The dashboard's users (serve.users): add one or change a password, list, remove
    User(UserArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where to listen [default: serve.listen, else 127.0.0.1:7878]
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// Do not run the test plan on the monitor's interval (show what others record)
    #[arg(long)]
    pub(crate) no_monitor: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UserArgs {
    #[command(subcommand)]
    pub(crate) action: UserAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserAction {
    /// Add a user, or set a user's password (kept as an argon2id hash in serve.users)
    Add {
        /// The user's name (as the journal and identity.roles name them)
        name: String,
        /// Read the password from the first line of stdin instead of asking
        #[arg(long, conflicts_with = "generate")]
        password_stdin: bool,
        /// Generate a random token as the password and print it once (for API clients)
        #[arg(long)]
        generate: bool,
    },
    /// List the users
    List,
    /// Remove a user
    Remove {
        /// The user's name
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Files or directories to scan [default: .]
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// Also load every ast-grep rule file (*.yml, *.yaml) of DIR
    #[arg(long, value_name = "DIR")]
    pub(crate) rules: Option<PathBuf>,
    /// Report only these rule ids
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    pub(crate) select: Vec<String>,
    /// Never report these rule ids
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    pub(crate) ignore: Vec<String>,
    /// Report only findings that are not in this baseline file
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// Write the findings as a baseline file (then exit 0)
    #[arg(long, value_name = "FILE")]
    pub(crate) write_baseline: Option<PathBuf>,
    /// Write the report to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct OsArgs {
    /// Only hosts matching this selector
    #[arg(long, value_name = "SEL")]
    pub(crate) hosts: Option<String>,
    /// Count hosts per release instead of listing them
    #[arg(long)]
    pub(crate) summary: bool,
    /// A newer support table in endoflife.date's release shape, above the embedded one
    /// (docs/eol-sources.md)
    #[arg(long, value_name = "FILE")]
    pub(crate) eol_data: Option<PathBuf>,
    /// The day support is assessed on, YYYY-MM-DD (for tests) [default: today, UTC]
    #[arg(long, value_name = "DATE", env = "FEARLESS_TODAY", hide = true)]
    pub(crate) today: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ParityArgs {
    /// Side A: a host selector (`env=prod`, `web-1`, `group:NAME`)
    #[arg(value_name = "A")]
    pub(crate) a: String,
    /// Side B: a host selector (`env=staging`)
    #[arg(value_name = "B")]
    pub(crate) b: String,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("onto_or_release").required(true).args(["onto", "release"])))]
pub(crate) struct RehearseArgs {
    /// The inventory host whose role is rebuilt
    #[arg(long, value_name = "HOST")]
    pub(crate) role: String,
    /// Rebuild it on this inventory host (a fresh one with the new OS); it is left as it is
    #[arg(long, value_name = "TARGET", conflicts_with = "release")]
    pub(crate) onto: Option<String>,
    /// On a lab: bring up a fresh host of this release next to the fleet, and remove it after
    /// (trixie: Debian 13; bookworm: the fleet's own, a control; rpm: the dnf host)
    #[arg(long, value_name = "NAME")]
    pub(crate) release: Option<String>,
    /// Only these of its components (and the packages that are theirs); all by default
    #[arg(long, value_name = "C", num_args = 1.., value_delimiter = ',')]
    pub(crate) components: Vec<String>,
    /// Leave the rehearsal host up to explore (`fearless lab ssh rehearse-1`)
    #[arg(long)]
    pub(crate) keep: bool,
    /// Attach the rehearsal to this change, for its review (CHG-N)
    #[arg(long, value_name = "ID")]
    pub(crate) change: Option<String>,
    /// The lab --release brings the host up in [default: the configuration's directory]
    #[arg(long, value_name = "DIR", requires = "release")]
    pub(crate) lab: Option<PathBuf>,
    /// Where the lab's roots are cached
    #[arg(
        long,
        env = "FEARLESS_LAB_CACHE",
        default_value = "/var/cache/fearless/lab",
        value_name = "DIR"
    )]
    pub(crate) cache: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct VulnsArgs {
    /// A feed: an OSV record or directory of them, a zip as OSV publishes per ecosystem,
    /// Debian's tracker JSON, an updateinfo.xml (ALAS); any of them .gz (repeatable)
    #[arg(long, value_name = "PATH", required = true, num_args = 1..)]
    pub(crate) feed: Vec<PathBuf>,
    /// Only hosts matching this selector
    #[arg(long, value_name = "SEL")]
    pub(crate) hosts: Option<String>,
    /// Refresh each host's repository metadata first (apt-get update, dnf makecache), so
    /// "offered" is what the repositories hold now
    #[arg(long)]
    pub(crate) refresh: bool,
    /// Also list no-dsa, postponed, ignored and end-of-life findings, and count them for
    /// the exit code
    #[arg(long)]
    pub(crate) deferred: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MapArgs {
    #[command(subcommand)]
    pub(crate) action: Option<MapAction>,
    /// Write to FILE (atomically) instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Only these components and the edges among them
    #[arg(long, value_name = "C", num_args = 1.., value_delimiter = ',')]
    pub(crate) components: Vec<String>,
    /// Colour components by a saved run (`check --save-baseline FILE`) and mark root suspects
    #[arg(long, value_name = "FILE")]
    pub(crate) status: Option<PathBuf>,
    /// Blast radius: everything that breaks if C breaks (a list, and C's map highlighted)
    #[arg(long, value_name = "C", conflicts_with = "needs")]
    pub(crate) impact: Option<String>,
    /// Everything C needs, directly or not
    #[arg(long, value_name = "C")]
    pub(crate) needs: Option<String>,
    /// Sample live TCP connections on the hosts and report drift from `depends_on`
    /// (exit 1 when a dependency is undeclared); the observation is kept in the store
    #[arg(long)]
    pub(crate) observe: bool,
    /// How long to observe
    #[arg(
        long = "for",
        value_name = "DURATION",
        default_value = "30s",
        requires = "observe"
    )]
    pub(crate) window: String,
    /// Time between two samples of a host
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "500ms",
        requires = "observe"
    )]
    pub(crate) interval: String,
    /// Only hosts matching this selector
    #[arg(long, value_name = "SELECTOR", requires = "observe")]
    pub(crate) hosts: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MapAction {
    /// Observations kept in the store
    List,
    /// One observation's drift
    Show {
        /// OBS-N or N
        id: String,
    },
    /// What changed from one observation to another: edges and peers that came or went
    Diff {
        /// OBS-N or N
        from: String,
        /// OBS-N or N
        to: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DiscoverArgs {
    /// Only hosts matching this selector
    #[arg(long, value_name = "SELECTOR")]
    pub(crate) hosts: Option<String>,
    /// How long to watch connections (short ones are seen only while they last)
    #[arg(long = "for", value_name = "DURATION", default_value = "10s")]
    pub(crate) window: String,
    /// Time between two samples of a host
    #[arg(long, value_name = "DURATION", default_value = "500ms")]
    pub(crate) interval: String,
    /// Write the draft to FILE; an existing FILE is not overwritten: the draft is written
    /// beside it (FILE.draft) and the differences are printed
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The hosts: NAME or NAME=ADDRESS, comma-separated
    #[arg(long, value_name = "LIST", conflicts_with_all = ["ansible", "ec2"])]
    pub(crate) hosts: Option<String>,
    /// An Ansible inventory (INI or YAML) the configuration imports
    #[arg(long, value_name = "FILE", conflicts_with = "ec2")]
    pub(crate) ansible: Option<PathBuf>,
    /// Discover the hosts from EC2 in this region at every run (running instances, or what
    /// --ec2-filter selects)
    #[arg(long, value_name = "REGION")]
    pub(crate) ec2: Option<String>,
    /// An EC2 filter of the discovery, NAME=VALUE (tag:role=web); repeatable
    #[arg(long = "ec2-filter", value_name = "NAME=VALUE", requires = "ec2")]
    pub(crate) ec2_filter: Vec<String>,
    /// The EC2 and SSM endpoint instead of AWS's (an emulator, a VPC endpoint)
    #[arg(long = "ec2-endpoint", value_name = "URL", requires = "ec2")]
    pub(crate) ec2_endpoint: Option<String>,
    /// How discovered hosts are reached: ssm or ssh [default: ssm for managed nodes, else ssh]
    #[arg(long, value_name = "TRANSPORT", requires = "ec2", value_parser = ["ssh", "ssm"])]
    pub(crate) transport: Option<String>,
    /// Where to write [default: -c FILE, else ./fearless.yaml]
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Replace an existing file (the old one is kept as FILE.bak)
    #[arg(long)]
    pub(crate) force: bool,
    /// The SSH login of every host that does not say otherwise
    #[arg(long, value_name = "USER", default_value = "root")]
    pub(crate) user: String,
    /// The SSH port of every host that does not say otherwise
    #[arg(long, default_value_t = 22, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) port: u16,
    /// An ssh_config file fearless passes to ssh (-F)
    #[arg(long, value_name = "FILE")]
    pub(crate) ssh_config: Option<PathBuf>,
    /// Learn unknown host keys on first contact (accept-new) instead of refusing them
    #[arg(long)]
    pub(crate) accept_new_host_keys: bool,
    /// Write the configuration without contacting any host (no ping, no draft)
    #[arg(long)]
    pub(crate) offline: bool,
    /// How long the draft watches connections between the hosts
    #[arg(long = "for", value_name = "DURATION", default_value = "10s")]
    pub(crate) window: String,
}

#[derive(Debug, Args)]
pub(crate) struct ChangeArgs {
    #[command(subcommand)]
    pub(crate) action: ChangeAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChangeAction {
    /// Record a new change (flags, or a YAML file with -f)
    New(NewChangeArgs),
    /// List changes
    List {
        /// Only changes in this state
        #[arg(long)]
        state: Option<String>,
    },
    /// Show a change: the record, its approvals and its timeline
    Show { id: String },
    /// Edit a change that is still `new`
    Edit(EditChangeArgs),
    /// Submit for assessment (computes risk, reports conflicts)
    Submit { id: String },
    /// Approve (not by the requester)
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject back to `new`, with a reason
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Set or move the window (default: now for 4 hours)
    Schedule {
        id: String,
        /// START..END, RFC 3339 (e.g. 2026-12-01T22:00:00Z..2026-12-02T02:00:00Z)
        #[arg(long)]
        window: Option<String>,
    },
    /// Start implementing (inside the window)
    Start { id: String },
    /// Finish implementing, with a close code
    Complete {
        id: String,
        /// successful, successful-with-issues, unsuccessful, backed-out
        #[arg(long)]
        code: String,
        #[arg(long)]
        notes: Option<String>,
    },
    /// Record review notes
    Review {
        id: String,
        #[arg(long)]
        notes: String,
    },
    /// Close after review
    Close { id: String },
    /// Cancel
    Cancel {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct NewChangeArgs {
    /// Read the change from a YAML file (the same fields as the flags)
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with_all = ["title", "hosts"])]
    pub(crate) file: Option<PathBuf>,
    /// One line
    #[arg(long, required_unless_present = "file")]
    pub(crate) title: Option<String>,
    /// Host selector
    #[arg(long, required_unless_present = "file", value_name = "SEL")]
    pub(crate) hosts: Option<String>,
    /// Component changed (repeatable)
    #[arg(long = "component", value_name = "C")]
    pub(crate) components: Vec<String>,
    /// standard, normal or emergency
    #[arg(long = "type", default_value = "normal")]
    pub(crate) change_type: String,
    #[command(flatten)]
    pub(crate) fields: ChangeFields,
    /// A link (ticket, runbook); repeatable
    #[arg(long = "link")]
    pub(crate) links: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct EditChangeArgs {
    pub(crate) id: String,
    /// One line
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// standard, normal or emergency
    #[arg(long = "type")]
    pub(crate) change_type: Option<String>,
    #[command(flatten)]
    pub(crate) fields: ChangeFields,
}

/// What `change new` and `change edit` both set.
#[derive(Debug, Args)]
pub(crate) struct ChangeFields {
    /// START..END (RFC 3339)
    #[arg(long)]
    pub(crate) window: Option<String>,
    /// What will be done
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// Why
    #[arg(long)]
    pub(crate) justification: Option<String>,
    /// Implementation plan (a file)
    #[arg(long = "plan", value_name = "F")]
    pub(crate) plan: Option<PathBuf>,
    /// Test plan: a file with one component or component/check per line
    #[arg(long = "test-plan", value_name = "F")]
    pub(crate) test_plan: Option<PathBuf>,
    /// Rollback plan (a file)
    #[arg(long = "rollback-plan", value_name = "F")]
    pub(crate) rollback_plan: Option<PathBuf>,
    /// low, medium or high (computed from the scope when absent)
    #[arg(long)]
    pub(crate) impact: Option<String>,
    /// low, medium or high (from the type when absent)
    #[arg(long)]
    pub(crate) urgency: Option<String>,
    /// Attach a source scan: the JSON `fearless scan --format json` writes (its counts by
    /// rule and severity, paths and first findings are kept for the review)
    #[arg(long = "scan", value_name = "REPORT")]
    pub(crate) scan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    #[command(subcommand)]
    pub(crate) action: EventsAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EventsAction {
    /// Undelivered events per sink (exit 1 when any are waiting)
    Status,
    /// Retry every undelivered event now
    Replay,
    /// Send a test event to one sink
    Test {
        /// Sink name from the config
        sink: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct JournalArgs {
    #[command(subcommand)]
    pub(crate) action: Option<JournalAction>,
    /// Only entries newer than this (e.g. 24h, 7d)
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only entries about this subject (CHG-3, host:web-1)
    #[arg(long)]
    pub(crate) subject: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JournalAction {
    /// Walk the hash chain and check every signature; print the head (SEQ:HASH); exit 1 at
    /// a broken link or a bad signature
    Verify {
        /// A head printed by an earlier verify and kept elsewhere: exit 1 unless the journal
        /// still holds that entry with that hash (catches a journal cut short)
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
        /// Check signatures against this OpenSSH allowed-signers file (default:
        /// identity.allowed_signers of the config)
        #[arg(long, value_name = "FILE")]
        allowed_signers: Option<std::path::PathBuf>,
        /// Also fail on a state change that is not signed, and on signatures that could not
        /// be checked against allowed signers
        #[arg(long)]
        strict: bool,
    },
    /// Write every entry as JSON lines (see crates/store/VERIFY.md to check it independently)
    Export,
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
    /// Keep this run in the store's check history (as `fearless serve`'s monitor does):
    /// checks whose failure or recovery it confirms are journaled and announced
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) record: bool,
    /// Print a row per check and host even past 60 results (a large fleet's run is
    /// summarised by check, and by reason for what did not pass)
    #[arg(long)]
    pub(crate) per_host: bool,
    /// Lease each host's checks to N workers of this process, one host each at a time, and
    /// to any `fearless worker --check ROUND` that joins on the same store; the results are
    /// recorded as one run (as --record)
    #[arg(long, value_name = "N", conflicts_with = "dry_run")]
    pub(crate) workers: Option<usize>,
    /// With --workers: how long a host stays leased to a worker that stopped renewing
    /// [default: 2m]
    #[arg(long, value_name = "DURATION", requires = "workers")]
    pub(crate) lease: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct HostsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<HostsAction>,
    /// Only hosts matching this selector
    #[arg(long, value_name = "SEL", global = true)]
    pub(crate) hosts: Option<String>,
    /// Show where each host comes from (config, ansible:FILE, ec2[N]:REGION) and its
    /// instance id
    #[arg(long)]
    pub(crate) source: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HostsAction {
    /// Reach every host through its transport and report latency
    Ping,
}

/// Options shared by the package verbs.
#[derive(Debug, Args, Clone)]
pub(crate) struct PkgOptions {
    /// Only hosts matching this selector
    #[arg(long, value_name = "SEL", global = true)]
    pub(crate) hosts: Option<String>,
    /// How long to wait for another process to release the package lock
    #[arg(long, value_name = "DURATION", default_value = "2m", global = true)]
    pub(crate) lock_wait: String,
}

#[derive(Debug, Args)]
pub(crate) struct PackagesArgs {
    #[command(subcommand)]
    pub(crate) action: Option<PackagesAction>,
    #[command(flatten)]
    pub(crate) options: PkgOptions,
    /// Pending updates instead of installed packages (refreshes repository metadata)
    #[arg(long)]
    pub(crate) pending: bool,
    /// Only security updates (implies --pending)
    #[arg(long)]
    pub(crate) security: bool,
    /// With --pending: use the metadata the hosts have, do not refresh it
    #[arg(long)]
    pub(crate) no_refresh: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PackagesAction {
    /// Bring packages to exactly the versions of a manifest (name=version lines)
    Apply {
        /// A manifest file: one `name[:arch]=version` per line, `#` comments
        #[arg(long, short = 'm', value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// A pin given inline (repeatable): NAME=VERSION
        #[arg(long = "package", short = 'p', value_name = "NAME=VERSION")]
        packages: Vec<String>,
        /// Go ahead even when a rollback would not be possible
        #[arg(long)]
        force: bool,
    },
    /// Bring hosts back to a snapshot exactly (downgrade, remove added, reinstall removed)
    Rollback {
        /// The snapshot: SNAP-N or N
        #[arg(long, value_name = "ID")]
        snapshot: String,
        /// Go ahead even when a needed version cannot be found or is not downgradable
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    #[command(subcommand)]
    pub(crate) action: Option<SnapshotAction>,
    #[command(flatten)]
    pub(crate) options: PkgOptions,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SnapshotAction {
    /// List snapshots
    List,
    /// Show the package sets of a snapshot
    Show {
        /// SNAP-N or N
        id: String,
    },
    /// What changed from snapshot A to snapshot B, or to the live hosts
    Diff {
        /// SNAP-N or N
        a: String,
        /// SNAP-N or N
        #[arg(required_unless_present = "live", conflicts_with = "live")]
        b: Option<String>,
        /// Compare with the hosts as they are now
        #[arg(long)]
        live: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PatchArgs {
    /// The change: CHG-N (approved and scheduled; its frozen scope gives the hosts)
    #[arg(long, value_name = "ID")]
    pub(crate) change: String,
    #[command(flatten)]
    pub(crate) options: PkgOptions,
    /// Wave sizes, host counts or percentages [default: patch.waves, else 1,25%,100%]
    #[arg(long, value_name = "SIZES")]
    pub(crate) waves: Option<String>,
    /// How long each wave bakes before the next [default: patch.bake, else 30s]
    #[arg(long, value_name = "DURATION")]
    pub(crate) bake: Option<String>,
    /// Only security updates
    #[arg(long, conflicts_with = "manifest")]
    pub(crate) security: bool,
    /// Apply exactly this list (name=version lines) instead of the pending updates
    #[arg(long, short = 'm', value_name = "FILE")]
    pub(crate) manifest: Option<std::path::PathBuf>,
    /// Close advisories of these vulnerability feeds (as `fearless vulns --feed`): the
    /// manifest is exactly the fixed versions they need [default: every advisory that
    /// applies and has a fix, unless --fixes names some]
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with_all = ["manifest", "security"])]
    pub(crate) feed: Vec<std::path::PathBuf>,
    /// Only these advisories of --feed, by id or alias (CVE-2099-0001,DSA-5678-1)
    #[arg(long, value_name = "ID", value_delimiter = ',', requires = "feed")]
    pub(crate) fixes: Vec<String>,
    /// Go ahead although the baseline has failures (then only regressions count)
    #[arg(long)]
    pub(crate) accept_baseline_failures: bool,
    /// Print the manifest, the waves and the preflight; change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Lease each wave's hosts to N workers of this process, one host each at a time, and to
    /// any `fearless worker` that joins on the same store, instead of patching every host
    /// of a wave from here
    #[arg(long, value_name = "N")]
    pub(crate) workers: Option<usize>,
    /// With --workers: how long a host stays leased to a worker that stopped renewing (it
    /// renews every quarter of it); then another worker takes the host over [default: 2m]
    #[arg(long, value_name = "DURATION", requires = "workers")]
    pub(crate) lease: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("round").required(true).args(["rollout", "check"])))]
pub(crate) struct WorkerArgs {
    /// The rollout to work on (started with `patch --workers`): R-N or N
    #[arg(long, value_name = "ID")]
    pub(crate) rollout: Option<String>,
    /// The check round to work on (opened by `check --workers`, which prints its id)
    #[arg(long, value_name = "ROUND")]
    pub(crate) check: Option<String>,
    /// Hosts worked on at once
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) workers: usize,
}

#[derive(Debug, Args)]
pub(crate) struct BisectArgs {
    /// The host to bisect on (isolate it first: it is changed many times)
    #[arg(long, value_name = "HOST")]
    pub(crate) host: String,
    /// The snapshot to start every round from: SNAP-N
    #[arg(long, value_name = "ID")]
    pub(crate) snapshot: String,
    /// The manifest to bisect (name=version lines)
    #[arg(long, short = 'm', value_name = "FILE")]
    pub(crate) manifest: std::path::PathBuf,
    /// A failing check, COMPONENT/CHECK (repeatable)
    #[arg(long = "check", value_name = "COMPONENT/CHECK", required = true)]
    pub(crate) checks: Vec<String>,
    /// How long to wait for another process to release the package lock
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    pub(crate) lock_wait: String,
    /// Test each package alone instead of halving (n rounds; every culprit that fails
    /// alone, none that fails only with another)
    #[arg(long)]
    pub(crate) one_at_a_time: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Lab directory (must not hold a running lab)
    #[arg(long, value_name = "DIR", default_value = ".fearless/lab")]
    pub(crate) dir: PathBuf,
    /// Number of lab hosts
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(usize))]
    pub(crate) hosts: usize,
    /// How long each wave bakes
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub(crate) bake: String,
}

#[derive(Debug, Args)]
pub(crate) struct RcaArgs {
    /// INC-N or N
    #[arg(value_name = "INCIDENT")]
    pub(crate) id: String,
    /// Write the report to FILE (stdout gets the one-line attribution)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<std::path::PathBuf>,
    /// Use only what the store holds; do not read the hosts' package history
    #[arg(long)]
    pub(crate) no_live: bool,
}

#[derive(Debug, Args)]
pub(crate) struct IncidentArgs {
    #[command(subcommand)]
    pub(crate) action: IncidentAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IncidentAction {
    /// List incidents
    List,
    /// Show an incident: what opened it, hosts, manifest, failing checks, milestones
    Show {
        /// INC-N or N
        id: String,
    },
    /// Open an incident by hand
    Open {
        /// The component with the impact (repeatable)
        #[arg(long = "component", value_name = "C", required = true)]
        components: Vec<String>,
        /// Only these hosts
        #[arg(long, value_name = "SEL")]
        hosts: Option<String>,
        /// When the impact began, as a time ago (e.g. 2h): the `started` milestone
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// One line
        #[arg(long)]
        title: Option<String>,
    },
    /// Say somebody is on it (who and when, a milestone; the state stays open)
    Acknowledge {
        /// INC-N or N
        id: String,
        /// What they said
        #[arg(long)]
        note: Option<String>,
    },
    /// The impact stopped
    Mitigate {
        /// INC-N or N
        id: String,
        /// What was done
        #[arg(long)]
        note: Option<String>,
    },
    /// The cause is fixed
    Resolve {
        /// INC-N or N
        id: String,
        /// What was done
        #[arg(long)]
        note: Option<String>,
    },
    /// Reviewed and done (after resolve)
    Close {
        /// INC-N or N
        id: String,
        /// Review notes
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RolloutArgs {
    #[command(subcommand)]
    pub(crate) action: RolloutAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RolloutAction {
    /// List rollouts
    List,
    /// Show a rollout: its manifest, waves and every host's state
    Show {
        /// R-N or N
        id: String,
    },
    /// Finish a rollout whose controller died: settle every host left mid-way (never
    /// applying twice), then carry on with the remaining waves
    Resume {
        /// R-N or N
        id: String,
    },
    /// Stop a running rollout before its next wave (resume continues it)
    Pause {
        /// R-N or N
        id: String,
    },
    /// Stop a rollout and roll every host it changed back to its snapshot
    Abort {
        /// R-N or N
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct WhatchangedArgs {
    #[command(flatten)]
    pub(crate) options: PkgOptions,
    /// How far back: 30m, 24h, 7d
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub(crate) since: String,
}

#[derive(Debug, Args)]
pub(crate) struct LabArgs {
    #[command(subcommand)]
    pub(crate) action: LabAction,
    /// Lab directory
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = ".fearless/lab"
    )]
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LabAction {
    /// Build (or report) the lab fleet
    Up {
        /// Number of hosts (flat topology; default 4; at most 244, or 4000 with --light)
        #[arg(long)]
        hosts: Option<usize>,
        /// Light hosts: each runs only its init and sshd on a real dpkg database (no acme
        /// shop), so a thousand fit on one machine; prints memory per host and bring-up time
        #[arg(long)]
        light: bool,
        /// flat: every host runs the whole shop; tiered: front ends, orders APIs and a ledger
        /// on their own hosts, a broker nobody declared, an external payments provider
        #[arg(long, default_value = "flat", value_name = "TOPOLOGY")]
        topology: String,
        /// Where the cached Debian root lives
        #[arg(
            long,
            env = "FEARLESS_LAB_CACHE",
            default_value = "/var/cache/fearless/lab",
            value_name = "DIR"
        )]
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
    /// Add package versions to the lab repository: routine, bad-libacme, fixed-libacme, needs-reboot,
    /// stale-service
    Publish {
        /// Scenario name
        scenario: String,
    },
    /// Publish N filler packages acme-extra-01… at 1.0 (apt only; for bisect tests and
    /// benchmarks); prints their pins
    Extras {
        /// How many (1 to 99)
        #[arg(value_parser = clap::value_parser!(u8).range(1..=99))]
        count: u8,
    },
    /// Remove one version of an acme package from the lab repositories (NAME=VERSION)
    Withdraw {
        /// e.g. acme-api=1.0
        package: String,
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

/// The formats each verb produces, by the verb's path (`map`, `map list`); the first match
/// from the longest path wins. `--format` offers only these in a verb's `--help`, and any
/// other is refused before the verb runs, however the option was placed.
const FORMATS: &[(&str, &[Format])] = {
    use Format::*;
    &[
        ("check", &[Human, Json, Junit, Tap, Prometheus]),
        ("rca", &[Human, Json, Md, Html]),
        ("map", &[Human, Json, Svg, Mermaid, Dot, Sarif]),
        ("map list", &[Human, Json]),
        ("map show", &[Human, Json]),
        ("map diff", &[Human, Json]),
        ("discover", &[Human, Json, Yaml]),
        ("scan", &[Human, Json, Sarif]),
        ("demo", &[Human]),
        ("completions", &[Human]),
        ("man", &[Human]),
    ]
};

/// The formats of the verb at `path` (human and json unless [`FORMATS`] says otherwise).
pub(crate) fn formats_of(path: &[&str]) -> &'static [Format] {
    (1..=path.len())
        .rev()
        .find_map(|n| {
            let key = path[..n].join(" ");
            FORMATS.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
        })
        .unwrap_or(&[Format::Human, Format::Json])
}

/// Two or three examples at the end of each verb's `--help` (and man page).
const EXAMPLES: &[(&str, &str)] = &[
    (
        "check",
        "fearless check                                   # every check of every component\n  fearless check --hosts role=web --component checkout\n  fearless check --save-baseline before.json; fearless check --baseline before.json",
    ),
    (
        "hosts",
        "fearless hosts --hosts 'web-*'\n  fearless hosts --source --refresh\n  fearless hosts ping",
    ),
    (
        "change",
        "fearless change new --title 'Monthly patch' --hosts role=web --component checkout\n  fearless change submit CHG-1; fearless --as bob change approve CHG-1\n  fearless change list --state authorize",
    ),
    (
        "journal",
        "fearless journal --since 24h --subject CHG-3\n  fearless journal verify                          # prints the head SEQ:HASH to keep\n  fearless journal export > journal.jsonl",
    ),
    (
        "events",
        "fearless events status\n  fearless events test bus\n  fearless events replay",
    ),
    (
        "packages",
        "fearless packages --pending --security\n  fearless packages apply --hosts web-1 -p libacme=2.0.1\n  fearless packages rollback --hosts web-1 --snapshot SNAP-3",
    ),
    (
        "snapshot",
        "fearless snapshot --hosts role=web\n  fearless snapshot diff SNAP-1 --live\n  fearless snapshot diff SNAP-1 SNAP-2 --format json",
    ),
    (
        "whatchanged",
        "fearless whatchanged --since 7d\n  fearless whatchanged --hosts web-1 --since 2h --format json",
    ),
    (
        "patch",
        "fearless patch --change CHG-1 --dry-run\n  fearless patch --change CHG-1 --waves 1,25%,100% --bake 5m\n  fearless patch --change CHG-2 --workers 8     # others join: fearless worker --rollout R-N",
    ),
    (
        "worker",
        "fearless worker --rollout R-3                  # on another machine, same config and store\n  fearless worker --rollout R-3 --workers 8      # eight hosts at a time\n  fearless worker --check check-ctl-1-5d2f9a1c    # the round `check --workers` printed",
    ),
    (
        "rollout",
        "fearless rollout list\n  fearless rollout show R-1\n  fearless rollout resume R-1",
    ),
    (
        "incident",
        "fearless incident list\n  fearless incident open --component checkout --since 2h --title 'checkout 502s'\n  fearless incident resolve INC-1 --note 'libacme 2.0.1 rolled out'",
    ),
    (
        "bisect",
        "fearless bisect --host web-1 --snapshot SNAP-1 -m batch.txt --check orders-api/orders\n  fearless bisect --host web-1 --snapshot SNAP-1 -m b.txt --check api/orders --one-at-a-time",
    ),
    (
        "rca",
        "fearless rca INC-1\n  fearless rca INC-1 --format html -o INC-1.html\n  fearless rca INC-1 --format md --no-live",
    ),
    ("demo", "fearless demo\n  fearless demo --hosts 4 --bake 5s"),
    (
        "lab",
        "fearless lab up --hosts 3\n  fearless lab up --topology tiered\n  fearless lab ssh web-1 -- apt-cache policy libacme",
    ),
    (
        "map",
        "fearless map --format svg -o map.svg\n  fearless map --impact orders-api\n  fearless map --observe --for 60s",
    ),
    (
        "discover",
        "fearless discover > draft.yaml\n  fearless discover --for 30s -o fearless.yaml   # an existing file is kept: FILE.draft",
    ),
    (
        "init",
        "fearless init --hosts web-1=10.0.1.11,web-2=10.0.1.12\n  fearless init --ansible inventory/hosts.ini --user deploy\n  fearless init --ec2 eu-west-1 --ec2-filter tag:role=web --transport ssm",
    ),
    (
        "completions",
        "source <(fearless completions bash)\n  fearless completions zsh > ~/.zfunc/_fearless",
    ),
    (
        "man",
        "fearless man | man -l -\n  fearless man --dir /usr/local/share/man/man1",
    ),
    (
        "scan",
        "fearless scan src/\n  fearless scan . --format sarif -o scan.sarif\n  fearless scan . --write-baseline base.json; fearless scan . --baseline base.json",
    ),
    (
        "os",
        "fearless os\n  fearless os --summary\n  fearless os --hosts role=web --format json",
    ),
    (
        "parity",
        "fearless parity env=prod env=staging\n  fearless parity web-1 web-2 --format json",
    ),
    (
        "rehearse",
        "fearless rehearse --role web-1 --release trixie           # on a lab: a fresh Debian 13 host\n  fearless rehearse --role web-1 --release trixie --components orders-api --keep\n  fearless rehearse --role web-1 --onto web-new --change CHG-4 --format json",
    ),
    (
        "serve",
        "fearless serve                          # http://127.0.0.1:7878\n  fearless serve --listen 0.0.0.0:7878    # needs a user in serve.users\n  fearless serve --no-monitor",
    ),
    (
        "user",
        "fearless user add bob                   # asks for the password\n  fearless user add bob --password-stdin < pw.txt\n  fearless user add ci-bot --generate     # prints a token once",
    ),
    (
        "vulns",
        "fearless vulns --feed Debian.zip\n  fearless vulns --feed tracker.json --hosts role=web --deferred\n  fearless vulns --feed updateinfo.xml.gz --refresh --format json",
    ),
];

/// The parser's definition as the binary uses it, completions and man pages render it:
/// the derived one, with each verb's examples and only the formats it produces.
pub(crate) fn command() -> clap::Command {
    use clap::CommandFactory as _;
    let mut command = Cli::command();
    let format = command
        .get_arguments()
        .find(|a| a.get_id() == "format")
        .cloned();
    for sub in command.get_subcommands_mut() {
        let name = sub.get_name().to_owned();
        if let Some((_, text)) = EXAMPLES.iter().find(|(v, _)| *v == name) {
            *sub = std::mem::take(sub).after_help(format!("Examples:\n  {text}"));
        }
        if let Some(format) = &format {
            restrict_formats(sub, format, &[name.as_str()]);
        }
    }
    command
}

/// Give `command` and every verb under it its own `--format` (global like the top-level
/// one, whose value reaches the same field) offering only its formats. Done before clap
/// builds the command: a verb that has the argument does not receive the parent's copy.
fn restrict_formats(command: &mut clap::Command, format: &clap::Arg, path: &[&str]) {
    let own = format.clone().value_parser(FormatParser(formats_of(path)));
    *command = std::mem::take(command).arg(own);
    for sub in command.get_subcommands_mut() {
        let name = sub.get_name().to_owned();
        let mut deeper = path.to_vec();
        deeper.push(&name);
        restrict_formats(sub, format, &deeper);
    }
}

/// `--format` restricted to some formats: the others are refused, and help and
/// completions offer only these.
#[derive(Clone)]
struct FormatParser(&'static [Format]);

impl clap::builder::TypedValueParser for FormatParser {
    type Value = Format;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Format, clap::Error> {
        let names = self
            .0
            .iter()
            .filter_map(ValueEnum::to_possible_value)
            .collect::<Vec<_>>();
        let text = clap::builder::PossibleValuesParser::new(names).parse_ref(cmd, arg, value)?;
        self.0
            .iter()
            .copied()
            .find(|f| {
                f.to_possible_value()
                    .is_some_and(|v| v.matches(&text, false))
            })
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd))
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            self.0.iter().filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// The verb path of parsed arguments (`["map", "list"]`).
pub(crate) fn verb_path(matches: &clap::ArgMatches) -> Vec<String> {
    let mut path = Vec::new();
    let mut at = matches;
    while let Some((name, sub)) = at.subcommand() {
        path.push(name.to_owned());
        at = sub;
    }
    path
}

/// Refuse a `--format` the verb does not produce (given before the verb, the top-level
/// parser could not know which verb would follow).
pub(crate) fn check_format(
    command: &mut clap::Command,
    matches: &clap::ArgMatches,
    format: Format,
) -> Result<(), clap::Error> {
    let path = verb_path(matches);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let offered = formats_of(&path);
    if offered.contains(&format) {
        return Ok(());
    }
    let name = |f: &Format| {
        f.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    };
    Err(command.error(
        clap::error::ErrorKind::InvalidValue,
        format!(
            "`fearless {}` does not print --format {}; it prints {}",
            path.join(" "),
            name(&format),
            offered.iter().map(name).collect::<Vec<_>>().join(", ")
        ),
    ))
}
