//! The validated configuration: references resolved, durations parsed, selectors compiled.
//!
//! Everything downstream (probe, graph, exec) consumes these types and never the raw YAML.

use crate::diag::{Problem, SourceFile};
use crate::selector::Selector;
use crate::source::Span;
use crate::template::Template;
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A loaded, valid `fearless.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The hosts, groups and connection options.
    pub inventory: Inventory,
    /// Components in file order.
    pub components: IndexMap<String, Component>,
    /// `store:`, when set (the default store lives beside the config).
    pub store: Option<String>,
    /// `change:`: approvals, blackouts and allowed windows for change records.
    pub change: ChangePolicy,
    /// `events:`: the sinks events go to and the routes that pick them (empty when absent).
    pub events: EventsConfig,
    /// `patch:`: defaults of `fearless patch`.
    pub patch: PatchPolicy,
    /// `parity:`: what `fearless parity` allows to differ (empty when absent).
    pub parity: ParityPolicy,
    /// `identity:`: whether a claimed identity (`--as`) is taken at its word.
    pub identity: IdentityPolicy,
    /// `serve:`: the dashboard (defaults when absent).
    pub serve: ServePolicy,
    /// `monitor:`: how often the continuous test plan runs, how long its history is kept,
    /// how many results in a row confirm a state (defaults when absent).
    pub monitor: MonitorPolicy,
}

/// `serve:` in the config: where `fearless serve` listens and who may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServePolicy {
    /// `listen:` (default `127.0.0.1:7878`).
    pub listen: std::net::SocketAddr,
    /// `users:`: the users file (`NAME:ARGON2-HASH` lines, written by `fearless user add`),
    /// relative to the config's directory.
    pub users: Option<PathBuf>,
    /// `open_read:` (default true): read-only pages need no login — honoured only on a
    /// loopback address.
    pub open_read: bool,
    /// `files:`: a directory whose files are served read-only under `/files/NAME`
    /// (runbooks, exported reports), relative to the config's directory.
    pub files: Option<PathBuf>,
}

impl Default for ServePolicy {
    fn default() -> Self {
        ServePolicy {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 7878)),
            users: None,
            open_read: true,
            files: None,
        }
    }
}

/// `monitor:` in the config: the continuous test plan (`fearless serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorPolicy {
    /// `interval:`: how often the whole plan runs (jittered ±10%); at least 1s.
    pub interval: Duration,
    /// `retention:`: how long runs are kept; at least `interval`.
    pub retention: Duration,
    /// `confirm:`: how many results in a row turn a check hard-failed, or hard-recovered
    /// (1–10; skipped results count neither way).
    pub confirm: u32,
}

impl Default for MonitorPolicy {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            retention: Duration::from_secs(30 * 24 * 3600),
            confirm: 2,
        }
    }
}

/// `identity:` in the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityPolicy {
    /// `mode:` (`enforce` when absent).
    pub mode: IdentityMode,
    /// `roles:`: who may do what (anyone, where a role is absent).
    pub roles: Roles,
    /// `allowed_signers:`: OpenSSH's allowed-signers file (relative to the config's
    /// directory) naming whose SSH keys sign state changes, and since and until when.
    pub allowed_signers: Option<PathBuf>,
    /// `signing_key:`: the public key (or the private key beside its `.pub`) the operator
    /// signs state changes with, through `ssh-keygen -Y sign` and the agent. Written as in
    /// the file; `~/` is the operator's home, a relative path is relative to the config's
    /// directory. `$FEARLESS_SIGNING_KEY` overrides it.
    pub signing_key: Option<String>,
}

/// `identity.roles`: the names allowed to approve (by change type), to run and steer
/// rollouts, and to close changes. A role that is absent allows anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// `approve:` by change type (`standard`, `normal`, `emergency`, or `any`), and by what
    /// a change touches (`component:NAME`, `tier:NAME`), for approve and reject.
    pub approve: Option<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>>,
    /// `patch:`: who may start, resume, pause and abort rollouts.
    pub patch: Option<std::collections::BTreeSet<String>>,
    /// `close:`: who may close a change after its review.
    pub close: Option<std::collections::BTreeSet<String>>,
}

impl Roles {
    /// Whether `actor` may approve or reject a change of `change_type` touching `scopes`
    /// (`component:NAME` and `tier:NAME` of each component it touches). The change type's
    /// list (or `any`) must name them when some change type is listed; so must the list of
    /// every scope the change touches that has one.
    pub fn may_approve(&self, actor: &str, change_type: &str, scopes: &[String]) -> bool {
        let Some(by) = &self.approve else {
            return true;
        };
        let typed = by.keys().any(|k| !k.contains(':'));
        let type_ok = !typed
            || [change_type, "any"]
                .iter()
                .any(|t| by.get(*t).is_some_and(|names| names.contains(actor)));
        type_ok
            && scopes
                .iter()
                .all(|s| by.get(s).is_none_or(|names| names.contains(actor)))
    }

    /// The names that may approve a change of `change_type` touching `scopes` (none: anyone).
    pub fn approvers(&self, change_type: &str, scopes: &[String]) -> Option<Vec<String>> {
        self.approve.as_ref().map(|by| {
            by.values()
                .flatten()
                .filter(|name| self.may_approve(name, change_type, scopes))
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        })
    }
}

/// Whether who acts must be authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityMode {
    /// Who acts is who authenticated: the database role on PostgreSQL, else the OS
    /// account of the process; `--as` must name that identity.
    #[default]
    Enforce,
    /// `--as` and `$FEARLESS_USER` are taken at their word (a lab, a demo, one operator
    /// playing several roles); every state change says so.
    Trust,
}

/// What `fearless parity` allows to differ (`parity:` in the config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParityPolicy {
    /// `ignore:`, in file order.
    pub ignore: Vec<ParityIgnore>,
}

/// One `parity.ignore` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParityIgnore {
    /// `package:NAME`: the package on one side only, or in different versions.
    Package(String),
    /// `port:N`: a listening port on one side only.
    Port(u16),
    /// `component:NAME`: a component deployed on one side only.
    Component(String),
    /// `release`: the sides run different OS releases.
    Release,
}

impl std::fmt::Display for ParityIgnore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Package(n) => write!(f, "package:{n}"),
            Self::Port(p) => write!(f, "port:{p}"),
            Self::Component(c) => write!(f, "component:{c}"),
            Self::Release => f.write_str("release"),
        }
    }
}

/// Defaults of `fearless patch` (`patch:` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPolicy {
    /// Wave sizes as written: host counts (`1`) or percentages (`25%`).
    pub waves: Vec<String>,
    /// How long a wave bakes before the next starts.
    pub bake: Duration,
    /// Failed hosts a wave may have before the rollout stops.
    pub max_failed_hosts: u32,
    /// Roll failing hosts back on their own (`auto`) or leave them for a human (`manual`).
    pub rollback_auto: bool,
    /// Package name globs never put in a manifest (`linux-image-*`).
    pub exclude: Vec<String>,
    /// The host label waves spread across (`az`).
    pub failure_domain: String,
    /// On failure, roll back the whole wave (`wave`), not only its failing hosts (`hosts`).
    pub rollback_wave: bool,
    /// On a failed canary, bisect its manifest on the rolled-back canary (`bisect: auto`).
    pub bisect_auto: bool,
    /// Whether a host that needs a reboot after the manifest may be rebooted.
    pub reboot: RebootPolicy,
    /// How long a rebooted host may take to answer over SSH again.
    pub reboot_timeout: Duration,
    /// Restart the services that still run replaced code after the transaction
    /// (`restart: auto`, the default), or only report them (`never`).
    pub restart_auto: bool,
}

/// `patch.reboot`: what a rollout does with a host whose update asks for a reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RebootPolicy {
    /// Never reboot: such a host fails (and is rolled back) — the safe default.
    #[default]
    Never,
    /// Reboot a host when it says a reboot is required, wait for it (bounded), then verify.
    IfRequired,
}

impl Default for PatchPolicy {
    fn default() -> Self {
        Self {
            waves: vec!["1".into(), "25%".into(), "100%".into()],
            bake: Duration::from_secs(30),
            max_failed_hosts: 0,
            rollback_auto: true,
            exclude: Vec::new(),
            failure_domain: "az".into(),
            rollback_wave: false,
            bisect_auto: false,
            reboot: RebootPolicy::Never,
            reboot_timeout: Duration::from_secs(600),
            restart_auto: true,
        }
    }
}

impl Config {
    /// Directory that relative paths in the config resolve against.
    pub fn base_dir(&self) -> PathBuf {
        self.path.parent().map(PathBuf::from).unwrap_or_default()
    }
}

/// Hosts and how to reach them.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Hosts in file order (declared, then imported).
    pub hosts: IndexMap<String, Host>,
    /// Named selectors (`group:NAME`), including groups imported from Ansible.
    pub groups: IndexMap<String, Selector>,
    /// Options for the ssh transport.
    pub ssh: SshOptions,
    /// How many hosts are worked on at once.
    pub concurrency: usize,
    /// `ec2:`: EC2 discovery sources; their hosts join `hosts` when discovered
    /// (`fearless_engine::inventory`), not at load.
    pub ec2: Vec<Ec2Source>,
    /// `ssm:`: options of the `ssm` transport.
    pub ssm: SsmOptions,
}

/// Where something was written in the config, for a problem found after loading (a
/// discovered host whose name is taken).
#[derive(Debug, Clone)]
pub struct Place {
    source: Arc<SourceFile>,
    span: Option<Span>,
}

impl Place {
    pub(crate) fn new(source: Arc<SourceFile>, span: Option<Span>) -> Self {
        Self { source, span }
    }

    /// An error at this place.
    pub fn error(
        &self,
        code: &'static str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Problem {
        let mut p = Problem::error(code, message);
        p.hint = hint;
        p.at(&self.source, self.span)
    }

    /// `file:line:column`.
    pub fn location(&self) -> String {
        self.error("config::place", "", None).location()
    }
}

/// One `inventory.ec2` source: the running instances its filters select become hosts.
#[derive(Debug, Clone)]
pub struct Ec2Source {
    /// Its index in `inventory.ec2`.
    pub index: usize,
    /// The region asked.
    pub region: String,
    /// A shared-config profile for credentials.
    pub profile: Option<String>,
    /// The EC2 endpoint instead of AWS's (emulators, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// EC2 filters (`tag:role` → `web`), in file order.
    pub filters: Vec<(String, Vec<String>)>,
    /// The host name: a template of literal text and `{tag:KEY}`, `{id}`, `{az}`,
    /// `{region}`, `{private-ip}`; `None`: the `Name` tag, else the instance id.
    pub name: Option<Vec<NamePart>>,
    /// Which of the instance's addresses a host is reached at.
    pub address: Ec2Address,
    /// The transport; `None`: `ssm` for a managed node, else `ssh`.
    pub transport: Option<TransportKind>,
    /// User, port, become, package manager and labels of its hosts (over
    /// `inventory.defaults`).
    pub defaults: HostDefaults,
    /// How long a discovery is reused before EC2 is asked again.
    pub cache: Duration,
    /// Where it is in the config.
    pub place: Place,
}

impl Ec2Source {
    /// A stable key of everything that decides what the source discovers (for its cache).
    pub fn key(&self) -> String {
        format!(
            "ec2:{}:{}:{}:{:?}:{:?}:{:?}:{:?}",
            self.region,
            self.profile.as_deref().unwrap_or(""),
            self.endpoint_url.as_deref().unwrap_or(""),
            self.filters,
            self.name,
            self.address,
            self.transport,
        )
    }
}

/// One piece of an EC2 host name template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePart {
    /// Text as written.
    Text(String),
    /// `{tag:KEY}`.
    Tag(String),
    /// `{id}`: the instance id.
    Id,
    /// `{az}`.
    Az,
    /// `{region}`.
    Region,
    /// `{private-ip}`, dots as dashes.
    PrivateIp,
}

/// Which address of an instance a discovered host is reached at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ec2Address {
    /// `private-ip` (the default).
    #[default]
    PrivateIp,
    /// `public-ip`.
    PublicIp,
    /// `private-dns`.
    PrivateDns,
}

/// Host settings given to hosts that are not declared one by one (discovered ones).
#[derive(Debug, Clone, Default)]
pub struct HostDefaults {
    /// Login user (default `root`).
    pub user: Option<String>,
    /// SSH port (default 22).
    pub port: Option<u16>,
    /// Privilege escalation.
    pub become_: Option<Become>,
    /// The package manager.
    pub package_manager: Option<PackageManager>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// Options of the `ssm` transport (`inventory.ssm`).
#[derive(Debug, Clone, Default)]
pub struct SsmOptions {
    /// The region of hosts that name none (a discovered host has its source's).
    pub region: Option<String>,
    /// A shared-config profile for credentials.
    pub profile: Option<String>,
    /// The SSM endpoint instead of AWS's (emulators, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// An S3 bucket the agent writes whole outputs to; without it, an output longer than
    /// SSM returns inline is cut, and fearless does not act on it.
    pub output_bucket: Option<String>,
}

/// Where a host of the inventory comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HostSource {
    /// Declared under `inventory.hosts`.
    #[default]
    Config,
    /// Imported from an Ansible inventory (its path as written).
    Ansible(String),
    /// Discovered by `inventory.ec2[N]` in a region.
    Ec2 {
        /// The source's index.
        index: usize,
        /// Its region.
        region: String,
    },
}

impl std::fmt::Display for HostSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostSource::Config => f.write_str("config"),
            HostSource::Ansible(path) => write!(f, "ansible:{path}"),
            HostSource::Ec2 { index, region } => write!(f, "ec2[{index}]:{region}"),
        }
    }
}

impl Serialize for HostSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Inventory {
    /// Hosts matched by `selector`, in inventory order.
    pub fn select(&self, selector: &Selector) -> Vec<&Host> {
        self.hosts
            .values()
            .filter(|h| selector.matches(h, &self.groups))
            .collect()
    }
}

/// One managed host.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// Inventory name.
    pub name: String,
    /// Address to connect to (defaults to the name).
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// Privilege escalation for non-root users.
    #[serde(rename = "become")]
    pub become_: Option<Become>,
    /// How commands reach the host.
    pub transport: TransportKind,
    /// The package manager, when configured; detected from the host otherwise.
    pub package_manager: Option<PackageManager>,
    /// Free-form labels used by selectors and templates.
    pub labels: BTreeMap<String, String>,
    /// The EC2 instance (managed node) id: what the `ssm` transport targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The AWS region of the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where it comes from.
    pub source: HostSource,
}

/// How commands reach a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// The system `ssh` client.
    Ssh,
    /// This machine, no remote hop.
    Local,
    /// AWS Systems Manager Run Command.
    Ssm,
}

/// A package manager named in config (`package_manager: apt|dnf|yum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    /// apt/dpkg.
    Apt,
    /// dnf/rpm.
    Dnf,
    /// yum, where yum is dnf 4.
    Yum,
}

/// Privilege escalation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Become {
    /// `sudo -n` (never prompts).
    Sudo,
}

/// Options of the ssh transport.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// An `ssh_config` file passed as `ssh -F` (relative paths resolved against the config).
    pub config_file: Option<PathBuf>,
    /// How unknown host keys are treated.
    pub host_key_checking: HostKeyChecking,
    /// `ConnectTimeout`.
    pub connect_timeout: Duration,
    /// Keep master connections open this long after fearless exits, for the next command
    /// to reuse (like Ansible's ControlPersist); `None`: close them at exit.
    pub persist: Option<Duration>,
    /// At most this many new ssh connections a second, fleet-wide (a bastion's
    /// `MaxStartups`); `None`: unpaced, the fleet's concurrency alone bounds them.
    pub connect_rate: Option<u32>,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            config_file: None,
            host_key_checking: HostKeyChecking::Strict,
            connect_timeout: Duration::from_secs(10),
            persist: None,
            connect_rate: None,
        }
    }
}

/// `StrictHostKeyChecking` policy. There is deliberately no "off".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyChecking {
    /// Unknown and changed keys are refused (the default).
    Strict,
    /// Unknown keys are learned on first contact; changed keys are still refused.
    AcceptNew,
}

/// A component of the environment: something with checks, placed on hosts or external.
#[derive(Debug, Clone)]
pub struct Component {
    /// Name (the key under `components`).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The tier it belongs to (`web`, `data`, …): how the map groups components.
    pub tier: Option<String>,
    /// Hosts it runs on; `None` for external components.
    pub runs_on: Option<Selector>,
    /// Components it needs, by name (all exist).
    pub depends_on: Vec<String>,
    /// Not on our hosts: checks run from the controller.
    pub external: bool,
    /// Where it accepts connections, besides what its checks show (`listens:`).
    pub listens: Vec<Endpoint>,
    /// Configuration on its hosts that no package owns (`files:`, absolute paths): what a
    /// rebuild of its hosts must carry over besides the packages (`fearless rehearse`).
    pub files: Vec<String>,
    /// Its checks, in file order.
    pub checks: Vec<CheckSpec>,
}

/// An address and port a component accepts connections on (`listens: [8080,
/// "10.0.0.5:5432", "[::1]:9000"]`). Without an address, the port on each of the
/// component's hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Endpoint {
    /// A fixed address; `None`: every address of each host the component runs on.
    pub address: Option<std::net::IpAddr>,
    /// The TCP port.
    pub port: u16,
}

impl Endpoint {
    /// Reads `PORT`, `ADDRESS:PORT` or `[V6]:PORT`.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if let Some(port) = crate::identity::port(t) {
            return Some(Self {
                address: None,
                port,
            });
        }
        let addr: std::net::SocketAddr = t.parse().ok()?;
        (addr.port() > 0).then(|| Self {
            address: Some(addr.ip()),
            port: addr.port(),
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.address {
            None => write!(f, "{}", self.port),
            Some(std::net::IpAddr::V6(a)) => write!(f, "[{a}]:{}", self.port),
            Some(a) => write!(f, "{a}:{}", self.port),
        }
    }
}

/// One check of a component.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// Name, unique within the component.
    pub name: String,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Extra attempts after a failure; a pass after a retry is `degraded`.
    pub retries: u32,
    /// Where it runs.
    pub on: RunOn,
    /// What it checks.
    pub kind: CheckKind,
}

/// Where a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOn {
    /// From this machine.
    Controller,
    /// On each host of the component, through its transport.
    Hosts,
}

/// The check kinds of DESIGN.md §3.
#[derive(Debug, Clone)]
pub enum CheckKind {
    /// HTTP request: status and optional body substring.
    Http(HttpCheck),
    /// TCP connect.
    Tcp(TcpCheck),
    /// DNS resolution.
    Dns(DnsCheck),
    /// TLS handshake and certificate expiry.
    Tls(TlsCheck),
    /// A command's exit code and output.
    Command(CommandCheck),
    /// A running process.
    Process(ProcessCheck),
    /// A service (systemd, or pid file / process fallback).
    Service(ServiceCheck),
    /// An installed package with an optional version constraint.
    Package(PackageCheck),
    /// A file's existence, mode, owner, content.
    File(FileCheck),
    /// A listening port on the host.
    Port(PortCheck),
    /// AMQP publish → consume round trip.
    Amqp(AmqpCheck),
    /// SQL query with an expected value.
    Sql(SqlCheck),
    /// Amazon SQS queue: a message round trip, or its depth and dead letters.
    Sqs(SqsCheck),
    /// LDAP bind and search with an expected number of entries.
    Ldap(LdapCheck),
}

impl CheckKind {
    /// The kind's key in the config.
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Http(_) => "http",
            CheckKind::Tcp(_) => "tcp",
            CheckKind::Dns(_) => "dns",
            CheckKind::Tls(_) => "tls",
            CheckKind::Command(_) => "command",
            CheckKind::Process(_) => "process",
            CheckKind::Service(_) => "service",
            CheckKind::Package(_) => "package",
            CheckKind::File(_) => "file",
            CheckKind::Port(_) => "port",
            CheckKind::Amqp(_) => "amqp",
            CheckKind::Sql(_) => "sql",
            CheckKind::Sqs(_) => "sqs",
            CheckKind::Ldap(_) => "ldap",
        }
    }

    /// Kinds that inspect a host's own state and so run through its transport.
    pub fn is_host_local(&self) -> bool {
        matches!(
            self,
            CheckKind::Command(_)
                | CheckKind::Process(_)
                | CheckKind::Service(_)
                | CheckKind::Package(_)
                | CheckKind::File(_)
                | CheckKind::Port(_)
        )
    }

    /// Every template in the check, for "does it use `{host.*}`" questions.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            CheckKind::Http(c) => {
                let mut v = vec![&c.url];
                v.extend(c.headers.values());
                v
            }
            CheckKind::Tcp(c) => vec![&c.address],
            CheckKind::Dns(c) => vec![&c.name],
            CheckKind::Tls(c) => {
                let mut v = vec![&c.address];
                v.extend(c.server_name.as_ref());
                v
            }
            CheckKind::Command(c) => c.run.iter().collect(),
            CheckKind::Amqp(c) => vec![&c.url],
            CheckKind::Sql(c) => vec![&c.url],
            CheckKind::Sqs(c) => {
                let mut v = vec![&c.queue];
                v.extend(c.endpoint_url.as_ref());
                v
            }
            CheckKind::Ldap(c) => vec![&c.url],
            CheckKind::File(c) => vec![&c.path],
            CheckKind::Port(c) => c.address.iter().collect(),
            CheckKind::Process(_) | CheckKind::Service(_) | CheckKind::Package(_) => vec![],
        }
    }

    /// Whether any template refers to the host (then a controller check runs once per host).
    pub fn uses_host(&self) -> bool {
        self.templates().iter().any(|t| t.uses_host())
    }
}

/// `http:`
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// URL template.
    pub url: Template,
    /// Method, default GET.
    pub method: String,
    /// Expected status, default 200.
    pub status: u16,
    /// Substring the body must contain.
    pub body: Option<String>,
    /// Extra request headers.
    pub headers: IndexMap<String, Template>,
    /// Accept any TLS certificate.
    pub insecure: bool,
}

/// `tcp:`
#[derive(Debug, Clone)]
pub struct TcpCheck {
    /// `host:port` template.
    pub address: Template,
}

/// `dns:`
#[derive(Debug, Clone)]
pub struct DnsCheck {
    /// Name to resolve.
    pub name: Template,
    /// Record type (A, AAAA, CNAME, MX, TXT, …).
    pub record_type: String,
    /// Resolver `ip:port`; the system resolver when unset.
    pub server: Option<std::net::SocketAddr>,
    /// Values the answer must contain (all of them).
    pub expect: Vec<String>,
}

/// `tls:`
#[derive(Debug, Clone)]
pub struct TlsCheck {
    /// `host:port` template.
    pub address: Template,
    /// SNI name; the host part of `address` when unset.
    pub server_name: Option<Template>,
    /// Fail when any certificate of the chain expires within this many days.
    pub min_days: u32,
}

/// `command:`
#[derive(Debug, Clone)]
pub struct CommandCheck {
    /// argv (each element a template); never run through a shell.
    pub run: Vec<Template>,
    /// Expected exit code, default 0.
    pub exit: i32,
    /// Regex stdout must match.
    pub stdout: Option<String>,
    /// Regex stderr must match.
    pub stderr: Option<String>,
    /// Interpret exit codes as a Nagios plugin: 0 ok, 1 warning (degraded), 2 critical, 3 unknown.
    pub nagios: bool,
}

/// `process:`
#[derive(Debug, Clone)]
pub struct ProcessCheck {
    /// Matched against the process name and command line.
    pub name: String,
    /// At least this many must run (default 1).
    pub min: u32,
    /// Owned by this user.
    pub user: Option<String>,
}

/// `service:`
#[derive(Debug, Clone)]
pub struct ServiceCheck {
    /// Unit or init script name.
    pub name: String,
    /// Pid file for hosts without systemd.
    pub pidfile: Option<String>,
    /// Process name for hosts without systemd or pid file (defaults to `name`).
    pub process: Option<String>,
}

/// `package:`
#[derive(Debug, Clone)]
pub struct PackageCheck {
    /// Package name.
    pub name: String,
    /// Version constraint, all clauses must hold.
    pub version: Vec<VersionClause>,
}

/// One clause of a version constraint, e.g. `>= 1.1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionClause {
    /// Comparison operator.
    pub op: VersionOp,
    /// Version to compare against.
    pub version: String,
}

/// Comparison operators of version constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VersionOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl VersionOp {
    /// The operator as dpkg's `--compare-versions` spells it.
    pub fn dpkg(self) -> &'static str {
        match self {
            VersionOp::Lt => "lt",
            VersionOp::Le => "le",
            VersionOp::Eq => "eq",
            VersionOp::Ne => "ne",
            VersionOp::Ge => "ge",
            VersionOp::Gt => "gt",
        }
    }

    /// The operator as written in configs.
    pub fn symbol(self) -> &'static str {
        match self {
            VersionOp::Lt => "<",
            VersionOp::Le => "<=",
            VersionOp::Eq => "=",
            VersionOp::Ne => "!=",
            VersionOp::Ge => ">=",
            VersionOp::Gt => ">",
        }
    }
}

/// `file:`
#[derive(Debug, Clone)]
pub struct FileCheck {
    /// Path on the host.
    pub path: Template,
    /// Must exist (default) or must not.
    pub exists: bool,
    /// Octal mode, e.g. 0644.
    pub mode: Option<u32>,
    /// Owner user name.
    pub owner: Option<String>,
    /// Substring the content must contain.
    pub contains: Option<String>,
}

/// `port:`
#[derive(Debug, Clone)]
pub struct PortCheck {
    /// TCP port that must be listening on the host.
    pub port: u16,
    /// Only on this local address (a template: `{host.address}`).
    pub address: Option<Template>,
}

/// `amqp:`
#[derive(Debug, Clone)]
pub struct AmqpCheck {
    /// `amqp://user:pass@host:port/vhost` template.
    pub url: Template,
}

/// `sql:`
#[derive(Debug, Clone)]
pub struct SqlCheck {
    /// `postgres://…` template.
    pub url: Template,
    /// Query to run.
    pub query: String,
    /// Expected first column of the first row, as text.
    pub expect: Option<String>,
}

/// `sqs:`
#[derive(Debug, Clone)]
pub struct SqsCheck {
    /// The queue: its name (looked up with `GetQueueUrl`) or its URL; a template.
    pub queue: Template,
    /// AWS region of the queue (`eu-west-1`).
    pub region: String,
    /// Service endpoint instead of the region's (emulators, VPC endpoints); a template.
    pub endpoint_url: Option<Template>,
    /// What the check does.
    pub mode: SqsMode,
}

/// What an `sqs` check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqsMode {
    /// Send a tagged message, receive it back, delete it; other messages are left visible.
    Roundtrip,
    /// Read the queue's attributes only (for a queue an application consumes).
    Inspect {
        /// At most this many visible messages (`ApproximateNumberOfMessages`).
        max_depth: Option<u64>,
        /// At most this many messages in the dead-letter queue of its `RedrivePolicy`.
        max_dead_letter: Option<u64>,
    },
}

/// `ldap:`
#[derive(Debug, Clone)]
pub struct LdapCheck {
    /// `ldap://host[:port]`, `ldaps://…` or `ldapi://%2Fpath%2Fto%2Fsocket`; a template.
    pub url: Template,
    /// How to authenticate before the search.
    pub bind: LdapBind,
    /// Search base DN (the search is a subtree search).
    pub base: String,
    /// Search filter, e.g. `(uid=alice)`.
    pub filter: String,
    /// How many entries must be found.
    pub expect: LdapExpect,
}

/// How an `ldap` check authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum LdapBind {
    /// No bind: the search runs anonymously.
    Anonymous,
    /// A simple bind with a DN and a password.
    Simple {
        /// Bind DN.
        dn: String,
        /// Password (never shown: `Debug` prints `***`).
        password: String,
    },
    /// SASL EXTERNAL: the identity of the transport (peer credentials over `ldapi://`).
    External,
}

impl std::fmt::Debug for LdapBind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LdapBind::Anonymous => f.write_str("Anonymous"),
            LdapBind::Simple { dn, .. } => f
                .debug_struct("Simple")
                .field("dn", dn)
                .field("password", &"***")
                .finish(),
            LdapBind::External => f.write_str("External"),
        }
    }
}

/// How many entries an `ldap` search must find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapExpect {
    /// Exactly this many (`expect: N`).
    Exactly(u32),
    /// At least this many (`min: N`; the default is at least 1).
    AtLeast(u32),
}

/// `change:`: the rules change records are held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePolicy {
    /// Distinct approvals (none by the requester) a normal or emergency change needs (≥ 1).
    pub approvals_required: u32,
    /// Periods in which nothing but emergency changes may be scheduled.
    pub blackouts: Vec<Blackout>,
    /// Recurring periods in which changes may be scheduled; empty means any time.
    pub windows: Vec<ChangeWindow>,
}

impl Default for ChangePolicy {
    fn default() -> Self {
        Self {
            approvals_required: 1,
            blackouts: Vec::new(),
            windows: Vec::new(),
        }
    }
}

/// A named blackout: `[from, to)`, UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blackout {
    /// Name, shown when a schedule is refused.
    pub name: String,
    /// First instant of the blackout.
    pub from: std::time::SystemTime,
    /// First instant after the blackout (`from < to`).
    pub to: std::time::SystemTime,
}

/// A recurring allowed window, e.g. weekdays 22:00–04:00 UTC.
///
/// An occurrence starts at `from` on each of `days`; when `to` is not after `from` the
/// occurrence ends at `to` on the next day (a window across midnight belongs to the day it
/// starts on). `from == to` means the whole 24 hours from `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeWindow {
    /// Name, shown when a schedule is refused.
    pub name: String,
    /// Days on which an occurrence starts, Monday first; never empty (omitted = every day).
    pub days: Vec<Weekday>,
    /// Start, in minutes after midnight UTC (0..1440).
    pub from: u16,
    /// End, in minutes after midnight UTC (0..1440).
    pub to: u16,
}

impl ChangeWindow {
    /// Length of one occurrence in minutes (1..=1440).
    pub fn minutes(&self) -> u16 {
        if self.to > self.from {
            self.to - self.from
        } else {
            1440 - self.from + self.to
        }
    }
}

/// A day of the week, as written in `change.windows[].days` (`mon` … `sun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// `mon`
    Mon,
    /// `tue`
    Tue,
    /// `wed`
    Wed,
    /// `thu`
    Thu,
    /// `fri`
    Fri,
    /// `sat`
    Sat,
    /// `sun`
    Sun,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// Monday = 0 … Sunday = 6.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The three-letter name used in the config.
    pub fn name(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self as usize]
    }
}

/// `events:`: sinks, and routes that pick sinks by event type and severity.
#[derive(Debug, Clone, Default)]
pub struct EventsConfig {
    /// `outbox:` resolved against the config's directory; `None` means "beside the store".
    pub outbox: Option<PathBuf>,
    /// Sinks by name, in file order.
    pub sinks: IndexMap<String, SinkSpec>,
    /// Routes in file order; an event goes to the union of the sinks of every matching route.
    pub routes: Vec<EventRoute>,
}

impl EventsConfig {
    /// Names of the sinks an event of `event_type` and `severity` goes to, each once, in
    /// the order the routes name them.
    pub fn sinks_for(&self, event_type: &str, severity: EventSeverity) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for route in self
            .routes
            .iter()
            .filter(|r| r.matches(event_type, severity))
        {
            for s in &route.sinks {
                if !out.contains(&s.as_str()) {
                    out.push(s);
                }
            }
        }
        out
    }
}

/// One named sink of `events.sinks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `file: { path }`: JSON lines appended to a file (path resolved against the config).
    File {
        /// Absolute or config-relative path, resolved.
        path: PathBuf,
    },
    /// `webhook: { url, secret_env }`: POST with Standard Webhooks signature headers.
    Webhook {
        /// http(s) URL.
        url: String,
        /// Environment variable holding the signing secret (`whsec_…` base64, or raw text).
        secret_env: Option<String>,
    },
    /// `slack: { url }`: a Slack incoming webhook.
    Slack {
        /// http(s) URL.
        url: String,
    },
    /// `pagerduty: { url?, routing_key_env }`: Events API v2 / Change Events.
    PagerDuty {
        /// Base URL of the Events API (default `https://events.pagerduty.com`).
        url: String,
        /// Environment variable holding the integration's routing key.
        routing_key_env: String,
    },
    /// `amqp: { url, exchange }`: a durable topic exchange, routing key = event type.
    Amqp {
        /// `amqp://` or `amqps://` URL.
        url: String,
        /// Exchange name (default `fearless.events`).
        exchange: String,
    },
    /// `sqs: { queue_url, region?, endpoint? }` (needs the `aws` feature of fearless-events).
    Sqs {
        /// Queue URL.
        queue_url: String,
        /// AWS region (else from the environment).
        region: Option<String>,
        /// Endpoint override (e.g. a local test server).
        endpoint: Option<String>,
    },
    /// `sns: { topic_arn, region?, endpoint? }` (needs the `aws` feature of fearless-events).
    Sns {
        /// Topic ARN.
        topic_arn: String,
        /// AWS region (else from the environment).
        region: Option<String>,
        /// Endpoint override (e.g. a local test server).
        endpoint: Option<String>,
    },
}

impl SinkSpec {
    /// The kind key (`file`, `webhook`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            SinkSpec::File { .. } => "file",
            SinkSpec::Webhook { .. } => "webhook",
            SinkSpec::Slack { .. } => "slack",
            SinkSpec::PagerDuty { .. } => "pagerduty",
            SinkSpec::Amqp { .. } => "amqp",
            SinkSpec::Sqs { .. } => "sqs",
            SinkSpec::Sns { .. } => "sns",
        }
    }
}

/// One entry of `events.routes`.
#[derive(Debug, Clone)]
pub struct EventRoute {
    /// Event type glob (`fearless.*`, `fearless.change.*`).
    pub types: TypePattern,
    /// Events below this severity do not take this route.
    pub min_severity: EventSeverity,
    /// Sink names (all defined).
    pub sinks: Vec<String>,
}

impl EventRoute {
    /// Whether an event of this type and severity takes this route.
    pub fn matches(&self, event_type: &str, severity: EventSeverity) -> bool {
        severity >= self.min_severity && self.types.matches(event_type)
    }
}

/// A glob over event types: `*` matches any run of characters (dots included), `?` one.
#[derive(Debug, Clone)]
pub struct TypePattern(glob::Pattern);

impl TypePattern {
    /// Parse a glob; `Err` carries a lower-case message.
    pub fn parse(text: &str) -> Result<Self, String> {
        glob::Pattern::new(text)
            .map(Self)
            .map_err(|e| format!("invalid type pattern `{text}`: {}", e.msg))
    }

    /// Whether `event_type` matches.
    pub fn matches(&self, event_type: &str) -> bool {
        self.0.matches(event_type)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// How much an event matters, ordered `info < warning < error < critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EventSeverity {
    /// Routine (the default).
    #[default]
    Info,
    /// Worth a look.
    Warning,
    /// Something failed.
    Error,
    /// Someone must act now.
    Critical,
}

impl EventSeverity {
    /// All severities, lowest first.
    pub const ALL: [EventSeverity; 4] = [
        EventSeverity::Info,
        EventSeverity::Warning,
        EventSeverity::Error,
        EventSeverity::Critical,
    ];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSeverity::Info => "info",
            EventSeverity::Warning => "warning",
            EventSeverity::Error => "error",
            EventSeverity::Critical => "critical",
        }
    }

    /// Parse a lower-case name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for EventSeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_section_resolves_paths_and_routes() {
        let yaml = r#"
events:
  outbox: state/outbox
  sinks:
    log: { file: { path: events.jsonl } }
    bus: { amqp: { url: "amqp://guest:guest@127.0.0.1:5672/%2f" } }
    hook: { webhook: { url: "http://127.0.0.1:9/hook", secret_env: HOOK_SECRET } }
  routes:
    - { types: "fearless.*", sinks: [log, bus] }
    - { types: "fearless.incident.*", min_severity: warning, sinks: [hook, log] }
"#;
        let loaded = crate::load_str(
            std::path::Path::new("/etc/fearless/fearless.yaml"),
            yaml.to_owned(),
        )
        .expect("valid");
        let ev = loaded.config.events;
        assert_eq!(ev.outbox, Some(PathBuf::from("/etc/fearless/state/outbox")));
        assert_eq!(
            ev.sinks["log"],
            SinkSpec::File {
                path: PathBuf::from("/etc/fearless/events.jsonl")
            }
        );
        assert_eq!(
            ev.sinks["bus"],
            SinkSpec::Amqp {
                url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
                exchange: "fearless.events".into()
            }
        );
        assert_eq!(
            ev.sinks_for("fearless.change.approved.v1", EventSeverity::Critical),
            ["log", "bus"]
        );
        assert_eq!(
            ev.sinks_for("fearless.incident.opened.v1", EventSeverity::Info),
            ["log", "bus"]
        );
        assert_eq!(
            ev.sinks_for("fearless.incident.opened.v1", EventSeverity::Warning),
            ["log", "bus", "hook"]
        );
        assert!(
            ev.sinks_for("other.thing", EventSeverity::Critical)
                .is_empty()
        );
    }
}
