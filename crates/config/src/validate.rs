//! Semantic validation: raw structs → [`Config`], collecting every problem with its place.

use crate::ansible;
use crate::diag::{Problem, SourceFile, closest};
use crate::identity::{self, Field};
use crate::keys::CHECK_KINDS;
use crate::model::*;
use crate::raw::*;
use crate::redact::redact_userinfo;
use crate::selector::Selector;
use crate::source::{Seg, SourceMap, p};
use crate::template::{Template, TemplateError, VARIABLES};
use indexmap::IndexMap;
use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Default per-attempt check timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest per-attempt check timeout accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Most retries accepted for one check.
const MAX_RETRIES: u32 = 10;

pub(crate) struct Validator<'a> {
    pub(crate) src: &'a Arc<SourceFile>,
    pub(crate) problems: Vec<Problem>,
}

impl<'a> Validator<'a> {
    /// The file's span index: built the first time a problem needs a place.
    fn map(&self) -> &'a SourceMap {
        let src: &'a SourceFile = self.src;
        src.index()
    }

    fn at(&self, problem: Problem, path: &[Seg]) -> Problem {
        problem.at(self.src, self.map().nearest(path))
    }

    fn at_key(&self, problem: Problem, path: &[Seg]) -> Problem {
        let span = self.map().key(path).or_else(|| self.map().nearest(path));
        problem.at(self.src, span)
    }

    fn error(
        &mut self,
        path: &[Seg],
        code: &'static str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut pr = Problem::error(code, message);
        pr.hint = hint;
        let pr = self.at(pr, path);
        self.problems.push(pr);
    }

    fn warn(
        &mut self,
        path: &[Seg],
        code: &'static str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut pr = Problem::warning(code, message);
        pr.hint = hint;
        let pr = self.at(pr, path);
        self.problems.push(pr);
    }

    fn duration(&mut self, path: &[Seg], text: &str) -> Option<Duration> {
        match humantime::parse_duration(text.trim()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    path,
                    "config::duration",
                    format!("invalid duration `{text}`: {e}"),
                    Some("write durations like 500ms, 30s, 5m or 1h".into()),
                );
                None
            }
        }
    }

    /// A whole number in `range` at `path` (named by its last key); `None` after an error.
    fn number<T: TryFrom<i128>>(
        &mut self,
        path: &[Seg],
        value: &Value,
        range: RangeInclusive<i128>,
    ) -> Option<T> {
        match value.integer() {
            Some(n) if range.contains(&n) => T::try_from(n).ok(),
            _ => {
                let what = match (*range.start(), *range.end()) {
                    (lo, hi) if hi >= i128::from(u32::MAX) => {
                        format!("a whole number of at least {lo}")
                    }
                    (lo, hi) => format!("a number from {lo} to {hi}"),
                };
                self.error(
                    path,
                    "config::type",
                    format!(
                        "`{}` must be {what}, found {}",
                        key_name(path),
                        value.found()
                    ),
                    None,
                );
                None
            }
        }
    }

    /// `true` or `false` at `path`; `None` after an error.
    fn flag(&mut self, path: &[Seg], value: &Value) -> Option<bool> {
        let b = value.boolean();
        if b.is_none() {
            self.error(
                path,
                "config::type",
                format!(
                    "`{}` must be true or false, found {}",
                    key_name(path),
                    value.found()
                ),
                None,
            );
        }
        b
    }

    /// An optional number: `default` when absent, `None` after an error.
    fn number_or<T: TryFrom<i128>>(
        &mut self,
        path: &[Seg],
        value: Option<&Value>,
        range: RangeInclusive<i128>,
        default: T,
    ) -> Option<T> {
        match value {
            Some(v) => self.number(path, v, range),
            None => Some(default),
        }
    }

    /// An optional flag: `default` when absent, `None` after an error.
    fn flag_or(&mut self, path: &[Seg], value: Option<&Value>, default: bool) -> Option<bool> {
        match value {
            Some(v) => self.flag(path, v),
            None => Some(default),
        }
    }

    /// Every key repeated within one mapping, each located, with where it first appears.
    pub(crate) fn duplicates(&mut self) {
        for d in self.map().duplicates() {
            let place = crate::source::path_string(&d.parent);
            let message = if place.is_empty() {
                format!("key `{}` appears twice", d.key)
            } else {
                format!("key `{}` appears twice in `{place}`", d.key)
            };
            let first = d
                .first
                .map(|s| self.src.line_col(s.offset))
                .map(|(l, c)| format!(" (first at line {l}, column {c})"))
                .unwrap_or_default();
            let pr = Problem::error("config::duplicate-key", message)
                .hint(format!(
                    "a mapping holds each key once{first}; remove or merge one of them"
                ))
                .at(self.src, d.span);
            self.problems.push(pr);
        }
    }

    fn template(&mut self, path: &[Seg], text: &str) -> Option<Template> {
        match Template::parse(text) {
            Ok(t) => Some(t),
            Err(e) => {
                let hint = match &e {
                    TemplateError::Unknown { name, .. } => {
                        match closest(name, VARIABLES.iter().copied()) {
                            Some(s) => format!("did you mean `{{{s}}}`?"),
                            None => format!(
                                "variables are {}",
                                VARIABLES
                                    .iter()
                                    .map(|v| format!("{{{v}}}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        }
                    }
                    TemplateError::Unclosed { .. } => {
                        "close the variable with `}`, or write `{{` for a literal brace".into()
                    }
                };
                self.error(path, "config::template", e.to_string(), Some(hint));
                None
            }
        }
    }

    pub(crate) fn config(&mut self, raw: RawConfig, path: &Path) -> Option<Config> {
        let blank = raw.is_blank() && self.problems.is_empty();
        let inventory = self.inventory(raw.inventory, path);
        // A selector that matches no host says nothing while the inventory itself is broken.
        let inventory_ok = !self.has_errors();
        let components = self.components(raw.components.into_inner(), &inventory, inventory_ok);
        let patch = raw
            .patch
            .as_ref()
            .map(|p| self.patch(p))
            .unwrap_or_default();
        let change = raw
            .change
            .as_ref()
            .map(|c| self.change(c))
            .unwrap_or_default();
        let events = raw
            .events
            .as_ref()
            .map(|e| self.events(e, path))
            .unwrap_or_default();
        if let Some(store) = &raw.store
            && !(store.starts_with("sqlite:")
                || store.starts_with("postgres://")
                || store.starts_with("postgresql://"))
        {
            self.error(
                &p!["store"],
                "config::store",
                format!("unsupported store `{store}`"),
                Some("use sqlite:PATH or postgres://USER@HOST/DB".into()),
            );
        }
        let parity = raw
            .parity
            .as_ref()
            .map(|p| self.parity(p, &components))
            .unwrap_or_default();
        let identity = raw
            .identity
            .as_ref()
            .map(|i| self.identity(i, path, &components))
            .unwrap_or_default();
        let serve = raw
            .serve
            .as_ref()
            .map(|s| self.serve(s, path))
            .unwrap_or_default();
        let monitor = raw
            .monitor
            .as_ref()
            .map(|m| self.monitor(m))
            .unwrap_or_default();
        self.emptiness(blank, &components);
        Some(Config {
            path: path.to_owned(),
            inventory,
            components,
            store: raw.store,
            change,
            events,
            patch,
            parity,
            identity,
            serve,
            monitor,
        })
    }

    /// `serve:`: `listen` is `ADDRESS:PORT`, `users` a file and `files` a directory
    /// relative to the config's directory, `open_read` a flag.
    fn serve(&mut self, raw: &RawServe, config_path: &Path) -> ServePolicy {
        let defaults = ServePolicy::default();
        let listen = match raw.listen.as_deref() {
            None => defaults.listen,
            Some(text) => match text.trim().parse::<std::net::SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    self.error(
                        &p!["serve", "listen"],
                        "config::serve",
                        format!(
                            "`serve.listen` must be ADDRESS:PORT, found {}",
                            identity::found_text(text)
                        ),
                        Some("e.g. 127.0.0.1:7878, or [::1]:7878".into()),
                    );
                    defaults.listen
                }
            },
        };
        let mut path_of =
            |key: &'static str, what: &str, example: &str, value: Option<&str>| match value {
                None => None,
                Some(f) if f.trim().is_empty() || f.chars().any(char::is_control) => {
                    self.error(
                        &p!["serve", key],
                        "config::serve",
                        format!("`serve.{key}` must name a {what}"),
                        Some(example.into()),
                    );
                    None
                }
                Some(f) => Some(config_path.parent().unwrap_or(Path::new(".")).join(f)),
            };
        let users = path_of(
            "users",
            "file",
            "e.g. users: users.txt (written by `fearless user add NAME`)",
            raw.users.as_deref(),
        );
        let files = path_of(
            "files",
            "directory",
            "e.g. files: runbooks (served under /files/NAME)",
            raw.files.as_deref(),
        );
        let open_read = self
            .flag_or(&p!["serve", "open_read"], raw.open_read.as_ref(), true)
            .unwrap_or(true);
        ServePolicy {
            listen,
            users,
            open_read,
            files,
        }
    }

    /// `monitor:`: `interval` at least 1s, `retention` at least `interval`, `confirm` 1–10.
    fn monitor(&mut self, raw: &RawMonitor) -> MonitorPolicy {
        let mut policy = MonitorPolicy::default();
        // A retention is compared with the interval only when the interval is known.
        let mut interval_known = true;
        if let Some(t) = &raw.interval {
            let d = self.duration(&p!["monitor", "interval"], t);
            interval_known = d.is_some_and(|d| d >= Duration::from_secs(1));
            if let Some(d) = d.filter(|d| *d < Duration::from_secs(1)) {
                self.error(
                    &p!["monitor", "interval"],
                    "config::duration",
                    format!(
                        "interval must be at least 1s, found {}",
                        humantime::format_duration(d)
                    ),
                    Some("how often the whole test plan runs, e.g. 60s or 5m".into()),
                );
            } else if let Some(d) = d {
                policy.interval = d;
            }
        }
        if let Some(t) = &raw.retention
            && let Some(d) = self.duration(&p!["monitor", "retention"], t)
        {
            if interval_known && d < policy.interval {
                self.error(
                    &p!["monitor", "retention"],
                    "config::duration",
                    format!(
                        "retention ({}) must be at least the interval ({})",
                        humantime::format_duration(d),
                        humantime::format_duration(policy.interval)
                    ),
                    Some("how long check history is kept, e.g. 30d".into()),
                );
            } else {
                policy.retention = d;
            }
        }
        if let Some(n) = raw
            .confirm
            .as_ref()
            .and_then(|v| self.number(&p!["monitor", "confirm"], v, 1..=10))
        {
            policy.confirm = n;
        }
        policy
    }

    /// `identity:`: `mode` is `enforce` (the default) or `trust`.
    fn identity(
        &mut self,
        raw: &RawIdentity,
        config_path: &Path,
        components: &IndexMap<String, Component>,
    ) -> IdentityPolicy {
        let mode = match raw.mode.as_deref() {
            None | Some("enforce") => IdentityMode::Enforce,
            Some("trust") => IdentityMode::Trust,
            Some(other) => {
                self.error(
                    &p!["identity", "mode"],
                    "config::identity",
                    format!(
                        "`identity.mode` must be `enforce` or `trust`, found {}",
                        identity::found_text(other)
                    ),
                    Some(
                        "enforce: who acts is who authenticated (database role, else OS account); \
                         trust: --as is taken at its word"
                            .into(),
                    ),
                );
                IdentityMode::Enforce
            }
        };
        let roles = raw
            .roles
            .as_ref()
            .map(|r| self.roles(r, components))
            .unwrap_or_default();
        let file = |this: &mut Self, key: &'static str, value: &Option<String>| {
            let value = value.as_ref()?;
            if value.trim().is_empty() || value.chars().any(char::is_control) {
                this.error(
                    &p!["identity", key],
                    "config::identity",
                    format!("`identity.{key}` must name a file"),
                    Some(
                        "e.g. allowed_signers: allowed_signers, signing_key: ~/.ssh/id_ed25519.pub"
                            .into(),
                    ),
                );
                return None;
            }
            Some(value.clone())
        };
        let allowed_signers = file(self, "allowed_signers", &raw.allowed_signers)
            .map(|f| config_path.parent().unwrap_or(Path::new(".")).join(f));
        let signing_key = file(self, "signing_key", &raw.signing_key);
        IdentityPolicy {
            mode,
            roles,
            allowed_signers,
            signing_key,
        }
    }

    /// `identity.roles`: lists of names; `approve` keyed by change type or `any`.
    fn roles(&mut self, raw: &RawRoles, components: &IndexMap<String, Component>) -> Roles {
        let names = |this: &mut Self, path: &[Seg], list: &[String]| {
            let mut set = std::collections::BTreeSet::new();
            for (i, name) in list.iter().enumerate() {
                if name.trim().is_empty() || name.chars().any(char::is_control) {
                    let mut at = path.to_vec();
                    at.push(Seg::Index(i));
                    this.error(
                        &at,
                        "config::identity",
                        format!(
                            "a name in a role must be one line of text, found {}",
                            identity::found_text(name)
                        ),
                        None,
                    );
                } else {
                    set.insert(name.clone());
                }
            }
            set
        };
        let approve = raw.approve.as_ref().map(|by| {
            let mut out = std::collections::BTreeMap::new();
            for (kind, list) in by {
                let path = p!["identity", "roles", "approve", kind.as_str()];
                let known = match kind.split_once(':') {
                    None => matches!(kind.as_str(), "any" | "standard" | "normal" | "emergency"),
                    Some(("component", name)) => components.contains_key(name),
                    Some(("tier", tier)) => components
                        .values()
                        .any(|c| c.tier.as_deref() == Some(tier)),
                    Some(_) => false,
                };
                if !known {
                    self.error(
                        &path,
                        "config::identity",
                        format!(
                            "`identity.roles.approve` is keyed by change type, `component:NAME` or `tier:NAME` of the config, found {}",
                            identity::found_text(kind)
                        ),
                        Some("use any, standard, normal, emergency, component:<a component> or tier:<a tier components have>".into()),
                    );
                    continue;
                }
                let set = names(self, &path, list);
                out.insert(kind.clone(), set);
            }
            out
        });
        let patch = raw
            .patch
            .as_ref()
            .map(|l| names(self, &p!["identity", "roles", "patch"], l));
        let close = raw
            .close
            .as_ref()
            .map(|l| names(self, &p!["identity", "roles", "close"], l));
        Roles {
            approve,
            patch,
            close,
        }
    }

    /// `parity:`: each `ignore` entry is `package:NAME`, `port:N`, `component:NAME` (one of
    /// the config's) or `release`.
    fn parity(
        &mut self,
        raw: &RawParity,
        components: &IndexMap<String, Component>,
    ) -> ParityPolicy {
        const HINT: &str = "entries are `package:NAME`, `port:N` (1 to 65535), `component:NAME` or `release`, e.g. `ignore: [\"package:htop\", \"port:9100\"]`";
        let mut ignore = Vec::new();
        for (i, text) in raw.ignore.iter().enumerate() {
            let path = p!["parity", "ignore", i];
            let entry = match text.trim().split_once(':') {
                None if text.trim() == "release" => Some(ParityIgnore::Release),
                Some(("package", n)) if valid_package_name(n) && !n.contains(':') => {
                    Some(ParityIgnore::Package(n.to_owned()))
                }
                Some(("port", n)) => n
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .map(ParityIgnore::Port),
                Some(("component", n)) if !n.is_empty() => {
                    if components.contains_key(n) {
                        Some(ParityIgnore::Component(n.to_owned()))
                    } else {
                        let hint = match closest(n, components.keys().map(String::as_str)) {
                            Some(s) => format!("did you mean `component:{s}`?"),
                            None => "name one of the config's components".to_owned(),
                        };
                        self.error(
                            &path,
                            "config::parity",
                            format!("`parity.ignore`: no component {}", identity::found_text(n)),
                            Some(hint),
                        );
                        continue;
                    }
                }
                _ => None,
            };
            match entry {
                Some(e) if ignore.contains(&e) => self.error(
                    &path,
                    "config::parity",
                    format!("`parity.ignore` lists `{e}` twice"),
                    Some("list each entry once".into()),
                ),
                Some(e) => ignore.push(e),
                None => self.error(
                    &path,
                    "config::parity",
                    format!(
                        "`parity.ignore` entry {} is not one fearless knows",
                        identity::found_text(text)
                    ),
                    Some(HINT.into()),
                ),
            }
        }
        ParityPolicy { ignore }
    }

    /// An empty document (no keys at all) is an error; a configuration without components
    /// (`fearless check` would pass with "0 checks") or whose components have no check is
    /// a warning: the inventory alone still serves `hosts`, `packages` and `patch`.
    fn emptiness(&mut self, blank: bool, components: &IndexMap<String, Component>) {
        let start = Some(crate::source::Span { offset: 0, len: 0 });
        let errors = self.has_errors();
        let (severity, code, message, hint, span) = if blank {
            (
                crate::Severity::Error,
                "config::empty",
                "the configuration is empty",
                "start from examples/fearless.yaml: an `inventory` of hosts and `components` with checks",
                start,
            )
        } else if errors {
            // Components with errors were left out; "no components" would only confuse.
            return;
        } else if components.is_empty() {
            (
                crate::Severity::Warning,
                "config::no-components",
                "the configuration defines no components: `fearless check` has nothing to test",
                "add `components` with checks; the inventory alone serves `fearless hosts`, `packages` and `patch`",
                self.map().key(&p!["inventory"]).or(start),
            )
        } else if components.values().all(|c| c.checks.is_empty()) {
            (
                crate::Severity::Warning,
                "config::no-checks",
                "no component has a check: `fearless check` has nothing to test",
                "add `checks` to the components (http, tcp, command, service, …)",
                self.map().key(&p!["components"]),
            )
        } else {
            return;
        };
        let mut pr = Problem::error(code, message).hint(hint).at(self.src, span);
        pr.severity = severity;
        self.problems.push(pr);
    }

    fn inventory(&mut self, raw: RawInventory, config_path: &Path) -> Inventory {
        let base = config_path.parent().unwrap_or(Path::new("."));
        let defaults = raw.defaults;
        self.host_fields(&p!["inventory", "defaults"], &defaults);
        // A host without an address is reached by its name: a name that is not a valid
        // address is caught with the name itself.
        let mut hosts = IndexMap::new();
        for (name, fields) in &raw.hosts {
            let path = p!["inventory", "hosts", name];
            let mut ok = self.host_fields(&path, fields);
            if let Err(msg) = identity::check(Field::HostName, name) {
                let pr = self.at_key(Problem::error("config::host-name", msg), &path);
                self.problems.push(pr);
                ok = false;
            }
            if ok && let Some(h) = resolve_host(name, fields, &defaults) {
                hosts.insert(name.clone(), h);
            }
        }
        let mut groups = IndexMap::new();
        for (name, text) in &raw.groups {
            match Selector::parse(text) {
                Ok(s) => {
                    groups.insert(name.clone(), s);
                }
                Err(e) => self.error(
                    &p!["inventory", "groups", name],
                    "config::selector",
                    e.to_string(),
                    None,
                ),
            }
        }
        for (i, import) in raw.import.iter().enumerate() {
            let path = p!["inventory", "import", i];
            let Some(file) = &import.ansible else {
                self.error(
                    &path,
                    "config::import",
                    "import entry needs `ansible: PATH`",
                    None,
                );
                continue;
            };
            let full = base.join(file);
            match ansible::load(&full) {
                Ok(imported) => {
                    for (name, ah) in imported.hosts {
                        if hosts.contains_key(&name) {
                            self.error(
                                &path,
                                "config::duplicate-host",
                                format!(
                                    "host `{name}` from {file} is already declared in the inventory"
                                ),
                                None,
                            );
                            continue;
                        }
                        if let Some(mut h) = ansible_host(&name, ah, &defaults) {
                            h.source = HostSource::Ansible(file.clone());
                            hosts.insert(name, h);
                        }
                    }
                    for (g, members) in imported.groups {
                        groups
                            .entry(g)
                            .or_insert_with(|| Selector::members(members));
                    }
                }
                Err(problems) => {
                    for pr in problems {
                        let pr = if pr.source.is_some() {
                            pr
                        } else {
                            self.at(pr, &p!["inventory", "import", i, "ansible"])
                        };
                        self.problems.push(pr);
                    }
                }
            }
        }
        for (name, sel) in &groups {
            for g in sel.groups() {
                if !groups.contains_key(g) {
                    let hint = closest(g, groups.keys().map(String::as_str))
                        .map(|s| format!("did you mean `group:{s}`?"));
                    self.error(
                        &p!["inventory", "groups", name],
                        "config::unknown-group",
                        format!("unknown group `{g}`"),
                        hint,
                    );
                }
            }
        }
        let mut ssh = SshOptions::default();
        if let Some(rs) = &raw.ssh {
            if let Some(file) = &rs.config {
                let full = base.join(file);
                if !full.is_file() {
                    self.error(
                        &p!["inventory", "ssh", "config"],
                        "config::file-not-found",
                        format!("ssh config file `{}` not found", full.display()),
                        None,
                    );
                }
                ssh.config_file = Some(full);
            }
            if let Some(hkc) = &rs.host_key_checking {
                match hkc.as_str() {
                    "strict" | "yes" => ssh.host_key_checking = HostKeyChecking::Strict,
                    "accept-new" => ssh.host_key_checking = HostKeyChecking::AcceptNew,
                    "no" | "off" | "false" => self.error(
                        &p!["inventory", "ssh", "host_key_checking"],
                        "config::host-key-checking",
                        format!("host key checking cannot be turned off (`{hkc}`)"),
                        Some("use `accept-new` to learn unknown keys on first contact; changed keys are always refused".into()),
                    ),
                    other => self.error(
                        &p!["inventory", "ssh", "host_key_checking"],
                        "config::host-key-checking",
                        format!("unknown host key checking `{other}`"),
                        Some("expected `strict` or `accept-new`".into()),
                    ),
                }
            }
            if let Some(t) = &rs.connect_timeout
                && let Some(d) = self.duration(&p!["inventory", "ssh", "connect_timeout"], t)
            {
                // ssh takes whole seconds (0 would mean "no timeout").
                if d < Duration::from_secs(1) || d > Duration::from_secs(300) {
                    self.error(
                        &p!["inventory", "ssh", "connect_timeout"],
                        "config::range",
                        "connect_timeout must be between 1s and 5m",
                        None,
                    );
                } else {
                    ssh.connect_timeout = d;
                }
            }
            if let Some(t) = &rs.persist
                && let Some(d) = self.duration(&p!["inventory", "ssh", "persist"], t)
            {
                if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
                    self.error(
                        &p!["inventory", "ssh", "persist"],
                        "config::range",
                        "persist must be between 1s and 1h",
                        Some("leave it out to close connections when fearless exits".into()),
                    );
                } else {
                    ssh.persist = Some(d);
                }
            }
            if let Some(v) = &rs.connect_rate {
                ssh.connect_rate =
                    self.number(&p!["inventory", "ssh", "connect_rate"], v, 1..=10_000);
            }
        }
        let concurrency = self
            .number_or(
                &p!["inventory", "concurrency"],
                raw.concurrency.as_ref(),
                1..=i128::from(u32::MAX),
                32usize,
            )
            .unwrap_or(1);
        let ssm = self.ssm_options(raw.ssm.as_ref());
        let ec2: Vec<Ec2Source> = raw
            .ec2
            .iter()
            .enumerate()
            .filter_map(|(i, e)| self.ec2_source(i, e, &defaults))
            .collect();
        for h in hosts.values_mut() {
            if h.region.is_none() {
                h.region.clone_from(&ssm.region);
            }
            if h.transport != TransportKind::Ssm {
                continue;
            }
            let path = p!["inventory", "hosts", &h.name];
            if h.instance.is_none() {
                let pr = self.at_key(
                    Problem::error(
                        "config::instance",
                        format!(
                            "host `{}` uses transport `ssm` but names no instance",
                            h.name
                        ),
                    )
                    .hint("add `instance: i-…` (the EC2 instance or managed node id)"),
                    &path,
                );
                self.problems.push(pr);
            }
            if h.region.is_none() {
                let pr = self.at_key(
                    Problem::error(
                        "config::region",
                        format!(
                            "host `{}` uses transport `ssm` but no region is known",
                            h.name
                        ),
                    )
                    .hint("add `region:` to the host or `inventory.ssm.region`"),
                    &path,
                );
                self.problems.push(pr);
            }
        }
        Inventory {
            hosts,
            groups,
            ssh,
            concurrency,
            ec2,
            ssm,
        }
    }

    /// An AWS region name (`eu-west-1`); `false` after an error.
    fn region(&mut self, path: &[Seg], r: &str) -> bool {
        if is_region(r) {
            return true;
        }
        self.error(
            path,
            "config::region",
            format!("`{}` is not an AWS region", shown(r)),
            Some("expected a region name such as eu-west-1 or us-east-1".into()),
        );
        false
    }

    /// An endpoint URL (`http://` or `https://`, no credentials in it); `None` after an error.
    fn endpoint_url(&mut self, path: &[Seg], u: &str) -> Option<String> {
        match url::Url::parse(u) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.username().is_empty()
                    && url.password().is_none()
                    && url.host_str().is_some() =>
            {
                Some(u.to_owned())
            }
            _ => {
                self.error(
                    path,
                    "config::endpoint-url",
                    format!("`{}` is not an endpoint URL", redact_userinfo(u)),
                    Some("expected http://HOST:PORT or https://HOST, without credentials (they come from the AWS credential chain)".into()),
                );
                None
            }
        }
    }

    fn ssm_options(&mut self, raw: Option<&RawSsm>) -> SsmOptions {
        let mut o = SsmOptions::default();
        let Some(raw) = raw else { return o };
        if let Some(r) = &raw.region
            && self.region(&p!["inventory", "ssm", "region"], r)
        {
            o.region = Some(r.clone());
        }
        if let Some(u) = &raw.endpoint_url {
            o.endpoint_url = self.endpoint_url(&p!["inventory", "ssm", "endpoint_url"], u);
        }
        if let Some(pf) = &raw.profile
            && self.plain_name(&p!["inventory", "ssm", "profile"], pf, "profile")
        {
            o.profile = Some(pf.clone());
        }
        if let Some(b) = &raw.output_bucket {
            if is_bucket(b) {
                o.output_bucket = Some(b.clone());
            } else {
                self.error(
                    &p!["inventory", "ssm", "output_bucket"],
                    "config::bucket",
                    format!("`{}` is not an S3 bucket name", shown(b)),
                    Some("3 to 63 lower-case letters, digits, dots and hyphens".into()),
                );
            }
        }
        o
    }

    /// A profile or similar name: one line of letters, digits and `-_.@+`.
    fn plain_name(&mut self, path: &[Seg], v: &str, what: &str) -> bool {
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@+/".contains(c));
        if !ok {
            self.error(
                path,
                "config::name",
                format!("`{}` is not a valid {what} name", shown(v)),
                None,
            );
        }
        ok
    }

    fn ec2_source(&mut self, i: usize, raw: &RawEc2, inv: &RawHostFields) -> Option<Ec2Source> {
        let at = p!["inventory", "ec2", i];
        let before = self.problems.len();
        let key = |k: &str| [at.as_slice(), &p![k]].concat();
        let region = match &raw.region {
            Some(r) => self.region(&key("region"), r).then(|| r.clone()),
            None => {
                self.error(
                    &at,
                    "config::region",
                    "an ec2 source needs `region:`",
                    Some("add `region: eu-west-1` (one source per region)".into()),
                );
                None
            }
        };
        let endpoint_url = raw
            .endpoint_url
            .as_ref()
            .and_then(|u| self.endpoint_url(&key("endpoint_url"), u));
        let profile = raw
            .profile
            .as_ref()
            .filter(|pf| self.plain_name(&key("profile"), pf, "profile"))
            .cloned();
        let mut filters = Vec::new();
        for (name, values) in &raw.filters {
            let fpath = [at.as_slice(), &p!["filters", name]].concat();
            if !is_filter_name(name) {
                self.error(
                    &fpath,
                    "config::ec2-filter",
                    format!("`{}` is not an EC2 filter name", shown(name)),
                    Some("filters are named like tag:role, tag-key, instance-state-name, vpc-id, availability-zone".into()),
                );
                continue;
            }
            if values.0.is_empty() || values.0.iter().any(|v| v.chars().any(char::is_control)) {
                self.error(
                    &fpath,
                    "config::ec2-filter",
                    format!("filter `{name}` needs one or more values of one line each"),
                    None,
                );
                continue;
            }
            filters.push((name.clone(), values.0.clone()));
        }
        let name = raw
            .name
            .as_ref()
            .and_then(|t| match parse_name_template(t) {
                Ok(parts) => Some(parts),
                Err(msg) => {
                    self.error(&key("name"), "config::ec2-name", msg, Some("write a name like `{tag:Name}`, `web-{id}` or `{tag:role}-{private-ip}`".into()));
                    None
                }
            });
        let address = match raw.address.as_deref() {
            None | Some("private-ip") => Ec2Address::PrivateIp,
            Some("public-ip") => Ec2Address::PublicIp,
            Some("private-dns") => Ec2Address::PrivateDns,
            Some(other) => {
                let hint = closest(other, ["private-ip", "public-ip", "private-dns"])
                    .map(|s| format!("did you mean `{s}`?"));
                self.error(
                    &key("address"),
                    "config::ec2-address",
                    format!("unknown address `{}`", shown(other)),
                    hint.or(Some("expected private-ip, public-ip or private-dns".into())),
                );
                Ec2Address::PrivateIp
            }
        };
        let transport = match raw.transport.as_deref() {
            None => None,
            Some("ssh") => Some(TransportKind::Ssh),
            Some("ssm") => Some(TransportKind::Ssm),
            Some(other) => {
                self.error(
                    &key("transport"),
                    "config::transport",
                    format!("unknown transport `{}` for discovered hosts", shown(other)),
                    Some(
                        "expected ssh or ssm (leave it out: ssm for managed nodes, else ssh)"
                            .into(),
                    ),
                );
                None
            }
        };
        let dpath = key("defaults");
        self.host_fields(&dpath, &raw.defaults);
        let merged = resolve_host("discovered", &raw.defaults, inv);
        let cache = match &raw.cache {
            None => Duration::from_secs(60),
            Some(t) => match self.duration(&key("cache"), t) {
                Some(d) if d <= Duration::from_secs(24 * 3600) => d,
                Some(_) => {
                    self.error(
                        &key("cache"),
                        "config::range",
                        "cache must be at most 24h",
                        Some("use 0s to ask EC2 every time".into()),
                    );
                    Duration::ZERO
                }
                None => Duration::ZERO,
            },
        };
        if self.problems[before..]
            .iter()
            .any(|p| p.severity == crate::Severity::Error)
        {
            return None;
        }
        let merged = merged?;
        let place = Place::new(
            self.src.clone(),
            self.map().key(&at).or_else(|| self.map().nearest(&at)),
        );
        Some(Ec2Source {
            index: i,
            region: region?,
            profile,
            endpoint_url,
            filters,
            name,
            address,
            transport,
            defaults: HostDefaults {
                user: Some(merged.user),
                port: Some(merged.port),
                become_: merged.become_,
                package_manager: merged.package_manager,
                labels: merged.labels,
            },
            cache,
            place,
        })
    }

    /// Check one host's keys (or the defaults'); `false` when any is wrong.
    fn host_fields(&mut self, path: &[Seg], f: &RawHostFields) -> bool {
        let before = self.problems.len();
        if let Some(t) = &f.transport {
            match t.as_str() {
                "ssh" | "local" | "ssm" => {}
                other => {
                    let hint = closest(other, ["ssh", "local", "ssm"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.error(
                        &[path, &p!["transport"]].concat(),
                        "config::transport",
                        format!("unknown transport `{other}`"),
                        hint.or(Some("expected ssh, local or ssm".into())),
                    );
                }
            }
        }
        if let Some(m) = &f.package_manager
            && !["apt", "dnf", "yum"].contains(&m.as_str())
        {
            let hint = closest(m, ["apt", "dnf", "yum"]).map(|s| format!("did you mean `{s}`?"));
            self.error(
                &[path, &p!["package_manager"]].concat(),
                "config::package_manager",
                format!("unknown package manager `{m}`"),
                hint.or(Some(
                    "expected apt, dnf or yum (or leave it out to detect it)".into(),
                )),
            );
        }
        if let Some(b) = &f.become_
            && b != "sudo"
        {
            self.error(
                &[path, &p!["become"]].concat(),
                "config::become",
                format!("unknown become method `{b}`"),
                Some("the only method is `sudo` (run as `sudo -n`)".into()),
            );
        }
        for (key, field, value) in [
            ("address", Field::Address, &f.address),
            ("user", Field::User, &f.user),
        ] {
            if let Some(v) = value
                && let Err(msg) = identity::check(field, v)
            {
                self.error(&[path, &p![key]].concat(), "config::host-field", msg, None);
            }
        }
        if let Some(port) = &f.port {
            let _: Option<u16> = self.number(&[path, &p!["port"]].concat(), port, 1..=65535);
        }
        if let Some(id) = &f.instance
            && !is_instance_id(id)
        {
            self.error(
                &[path, &p!["instance"]].concat(),
                "config::instance",
                format!("`{}` is not an EC2 instance or managed node id", shown(id)),
                Some(
                    "expected i- or mi- followed by hexadecimal digits, as in i-0123456789abcdef0"
                        .into(),
                ),
            );
        }
        if let Some(r) = &f.region {
            self.region(&[path, &p!["region"]].concat(), r);
        }
        for (k, v) in &f.labels {
            if k.chars().chain(v.chars()).any(char::is_control) {
                self.error(
                    &[path, &p!["labels", k]].concat(),
                    "config::label",
                    format!("label `{k}` contains a control character (a line break, escape, …)"),
                    Some("labels are one line of text".into()),
                );
            }
        }
        self.problems.len() == before
    }

    fn has_errors(&self) -> bool {
        self.problems
            .iter()
            .any(|p| p.severity == crate::Severity::Error)
    }

    fn components(
        &mut self,
        raw: IndexMap<String, RawComponent>,
        inv: &Inventory,
        inventory_ok: bool,
    ) -> IndexMap<String, Component> {
        let names: Vec<String> = raw.keys().cloned().collect();
        let mut out = IndexMap::new();
        for (name, rc) in raw {
            let path = p!["components", &name];
            let external_flag = self.flag_or(
                &p!["components", &name, "external"],
                rc.external.as_ref(),
                false,
            );
            let external = external_flag.unwrap_or(false);
            let runs_on = match (&rc.runs_on, external) {
                (Some(text), false) => match Selector::parse(text) {
                    Ok(sel) => {
                        for g in sel.groups() {
                            if !inv.groups.contains_key(g) {
                                let hint = closest(g, inv.groups.keys().map(String::as_str))
                                    .map(|s| format!("did you mean `group:{s}`?"));
                                self.error(
                                    &p!["components", &name, "runs_on"],
                                    "config::unknown-group",
                                    format!("unknown group `{g}`"),
                                    hint,
                                );
                            }
                        }
                        if inventory_ok && inv.select(&sel).is_empty() {
                            self.warn(
                                &p!["components", &name, "runs_on"],
                                "config::empty-selector",
                                format!("selector `{text}` of component `{name}` matches no host"),
                                Some("its host checks will not run; check the labels in `inventory.hosts`".into()),
                            );
                        }
                        Some(sel)
                    }
                    Err(e) => {
                        self.error(
                            &p!["components", &name, "runs_on"],
                            "config::selector",
                            e.to_string(),
                            None,
                        );
                        None
                    }
                },
                (Some(_), true) => {
                    self.error(
                        &p!["components", &name, "runs_on"],
                        "config::external-runs-on",
                        format!("external component `{name}` cannot have `runs_on`"),
                        Some("remove `runs_on`, or remove `external: true`".into()),
                    );
                    None
                }
                // `external` itself is wrong: that error says it all.
                (None, false) if external_flag.is_none() => None,
                (None, false) => {
                    self.error(
                        &path,
                        "config::missing-runs-on",
                        format!("component `{name}` has neither `runs_on` nor `external: true`"),
                        Some(
                            "set `runs_on: \"role=web\"` (a selector) or mark it `external: true`"
                                .into(),
                        ),
                    );
                    None
                }
                (None, true) => None,
            };
            for (i, dep) in rc.depends_on.iter().enumerate() {
                if !names.contains(dep) {
                    let hint = closest(dep, names.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"));
                    self.error(
                        &p!["components", &name, "depends_on", i],
                        "config::unknown-component",
                        format!("`{name}` depends on unknown component `{dep}`"),
                        hint.or(Some(format!("components are: {}", names.join(", ")))),
                    );
                }
            }
            let tier = rc
                .tier
                .and_then(|t| self.tier(&p!["components", &name, "tier"], t));
            let listens = rc
                .listens
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    self.endpoint(&p!["components", &name, "listens", i], v, external)
                })
                .collect();
            let files = self.files(&name, &rc.files, external);
            let mut checks = Vec::new();
            let mut seen: HashMap<String, usize> = HashMap::new();
            for (i, check) in rc.checks.into_iter().enumerate() {
                let cpath = p!["components", &name, "checks", i];
                if let Some(cs) = self.check(&cpath, check, external) {
                    if let Some(first) = seen.insert(cs.name.clone(), i) {
                        self.error(&[&cpath[..], &p!["name"]].concat(), "config::duplicate-check", format!("check name `{}` is used twice in `{name}` (also at checks[{first}])", cs.name), None);
                    }
                    checks.push(cs);
                }
            }
            out.insert(
                name.clone(),
                Component {
                    name,
                    description: rc.description,
                    tier,
                    runs_on,
                    depends_on: rc.depends_on,
                    external,
                    listens,
                    files,
                    checks,
                },
            );
        }
        self.cycles(&out);
        out
    }

    /// A tier name: a short label, no control characters.
    fn tier(&mut self, path: &[Seg], text: String) -> Option<String> {
        let ok = !text.trim().is_empty()
            && text.chars().count() <= 64
            && !text.chars().any(char::is_control);
        if ok {
            Some(text)
        } else {
            self.error(
                path,
                "config::tier",
                format!(
                    "`tier` must be a name of 1 to 64 characters without control characters, found {}",
                    crate::identity::found_text(&text)
                ),
                Some("write a short label such as `web`, `api` or `data`".into()),
            );
            None
        }
    }

    /// A component's `files:`: absolute, normalised paths of files (no `.`/`..` segments,
    /// no trailing `/`, no control characters), each once; an external component has no
    /// hosts to hold them.
    fn files(&mut self, component: &str, values: &[Value], external: bool) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, value) in values.iter().enumerate() {
            let path = p!["components", component, "files", i];
            let Value::Text(text) = value else {
                self.error(
                    &path,
                    "config::files",
                    format!(
                        "`files` entries are absolute paths, found {}",
                        value.found()
                    ),
                    Some("e.g. `files: [/etc/acme/site.conf]`".into()),
                );
                continue;
            };
            if external {
                self.error(
                    &path,
                    "config::files",
                    format!("external component `{component}` has no hosts to hold `{text}`"),
                    Some("declare files on a component that has `runs_on`".into()),
                );
                continue;
            }
            if let Some(why) = file_path_problem(text) {
                self.error(
                    &path,
                    "config::files",
                    format!("`files` entry {} {why}", crate::identity::found_text(text)),
                    Some("write the absolute path of a file, e.g. `/etc/acme/site.conf`".into()),
                );
                continue;
            }
            if let Some(first) = out.iter().position(|f| f == text) {
                self.error(
                    &path,
                    "config::files",
                    format!("`{text}` is declared twice in `{component}` (also at files[{first}])"),
                    None,
                );
                continue;
            }
            out.push(text.clone());
        }
        out
    }

    /// One `listens` entry: a port, or `ADDRESS:PORT`; an external component needs the address.
    fn endpoint(
        &mut self,
        path: &[Seg],
        value: &Value,
        external: bool,
    ) -> Option<crate::model::Endpoint> {
        let text = match value {
            Value::Int(n) => n.to_string(),
            Value::Text(t) => t.clone(),
            other => {
                self.error(
                    path,
                    "config::listens",
                    format!(
                        "`listens` entries are a port (1 to 65535) or `ADDRESS:PORT`, found {}",
                        other.found()
                    ),
                    None,
                );
                return None;
            }
        };
        match crate::model::Endpoint::parse(&text) {
            Some(ep) if external && ep.address.is_none() => {
                self.error(
                    path,
                    "config::listens",
                    format!("external components have no hosts, so `listens` needs an address: found `{ep}`"),
                    Some("write `ADDRESS:PORT`, e.g. `\"10.0.0.5:5432\"`".into()),
                );
                None
            }
            Some(ep) => Some(ep),
            None => {
                self.error(
                    path,
                    "config::listens",
                    format!(
                        "`listens` entries are a port (1 to 65535) or `ADDRESS:PORT`, found {}",
                        crate::identity::found_text(&text)
                    ),
                    Some("e.g. `listens: [8080, \"127.0.0.1:5672\", \"[::1]:9000\"]`".into()),
                );
                None
            }
        }
    }

    fn cycles(&mut self, comps: &IndexMap<String, Component>) {
        // Iterative DFS with colours; each cycle is reported once, from its first member.
        #[derive(Clone, Copy, PartialEq)]
        enum C {
            White,
            Grey,
            Black,
        }
        let mut colour: HashMap<&str, C> = comps.keys().map(|k| (k.as_str(), C::White)).collect();
        let mut reported = false;
        for start in comps.keys() {
            if colour[start.as_str()] != C::White {
                continue;
            }
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            colour.insert(start, C::Grey);
            while let Some((node, idx)) = stack.last().copied() {
                let deps = comps.get(node).map_or(&[][..], |c| &c.depends_on[..]);
                if idx < deps.len() {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    let dep = deps[idx].as_str();
                    match colour.get(dep) {
                        Some(C::White) => {
                            colour.insert(dep, C::Grey);
                            stack.push((dep, 0));
                        }
                        Some(C::Grey) => {
                            let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            let mut cycle: Vec<&str> =
                                stack[from..].iter().map(|(n, _)| *n).collect();
                            cycle.push(dep);
                            self.error(
                                &p!["components", node, "depends_on", idx],
                                "config::cycle",
                                format!("dependency cycle: {}", cycle.join(" → ")),
                                Some("a component cannot depend on itself, directly or through others; remove one edge".into()),
                            );
                            reported = true;
                        }
                        _ => {}
                    }
                } else {
                    colour.insert(node, C::Black);
                    stack.pop();
                }
            }
        }
        let _ = reported;
    }

    fn check(&mut self, path: &[Seg], rc: RawCheck, external: bool) -> Option<CheckSpec> {
        let sub = |k: &str| [path, &p![k]].concat();
        let kinds: Vec<&str> = [
            rc.http.is_some(),
            rc.tcp.is_some(),
            rc.dns.is_some(),
            rc.tls.is_some(),
            rc.command.is_some(),
            rc.process.is_some(),
            rc.service.is_some(),
            rc.package.is_some(),
            rc.file.is_some(),
            rc.port.is_some(),
            rc.amqp.is_some(),
            rc.sql.is_some(),
            rc.sqs.is_some(),
            rc.ldap.is_some(),
        ]
        .iter()
        .zip(CHECK_KINDS)
        .filter_map(|(set, k)| set.then_some(*k))
        .collect();
        let label = rc.name.clone().unwrap_or_else(|| "check".into());
        match kinds.as_slice() {
            [] => {
                self.error(
                    path,
                    "config::check-kind",
                    format!("check `{label}` has no kind"),
                    Some(format!("add exactly one of: {}", CHECK_KINDS.join(", "))),
                );
                return None;
            }
            [_] => {}
            [a, b, ..] => {
                self.error(
                    &sub(b),
                    "config::check-kind",
                    format!("check `{label}` has more than one kind (`{a}` and `{b}`)"),
                    Some("split it into one check per kind".into()),
                );
                return None;
            }
        }
        let kind_name = kinds[0];
        let name = match rc.name {
            Some(n) if !n.trim().is_empty() => n,
            _ => {
                self.error(
                    path,
                    "config::check-name",
                    format!("`{kind_name}` check has no `name`"),
                    Some("give every check a short name, e.g. `name: health`".into()),
                );
                return None;
            }
        };
        let timeout = match &rc.timeout {
            Some(t) => self.duration(&sub("timeout"), t)?,
            None => DEFAULT_TIMEOUT,
        };
        if timeout < Duration::from_millis(10) || timeout > MAX_TIMEOUT {
            self.error(
                &sub("timeout"),
                "config::range",
                format!(
                    "timeout {} is outside 10ms..1h",
                    humantime::format_duration(timeout)
                ),
                None,
            );
            return None;
        }
        let retries = match &rc.retries {
            Some(r) if r.integer().is_some_and(|n| n > i128::from(MAX_RETRIES)) => {
                self.error(
                    &sub("retries"),
                    "config::range",
                    format!("at most {MAX_RETRIES} retries"),
                    Some("a check that needs more retries is telling you something".into()),
                );
                return None;
            }
            r => self.number_or(&sub("retries"), r.as_ref(), 0..=i128::from(MAX_RETRIES), 0)?,
        };
        let kpath = sub(kind_name);
        let kind = self.kind(
            &kpath, rc.http, rc.tcp, rc.dns, rc.tls, rc.command, rc.process, rc.service,
            rc.package, rc.file, rc.port, rc.amqp, rc.sql, rc.sqs, rc.ldap,
        )?;
        let on = match rc.on.as_deref() {
            None if kind.is_host_local() && !external => RunOn::Hosts,
            None => RunOn::Controller,
            Some("controller") => RunOn::Controller,
            Some("hosts") if kind.is_host_local() => RunOn::Hosts,
            Some("hosts") => {
                self.error(&sub("on"), "config::on", format!("`{kind_name}` checks run from the controller; `on: hosts` is only for host-local kinds"), Some("remove `on`; use {host.address} in the check to reach each host".into()));
                return None;
            }
            Some(other) => {
                self.error(
                    &sub("on"),
                    "config::on",
                    format!("unknown `on: {other}`"),
                    Some("expected `controller` or `hosts`".into()),
                );
                return None;
            }
        };
        if external && on == RunOn::Hosts {
            self.error(&sub("on"), "config::on", format!("external components have no hosts, so `{kind_name}` check `{name}` cannot run `on: hosts`"), Some("use `on: controller`".into()));
            return None;
        }
        if external && kind.uses_host() {
            self.error(&kpath, "config::template", format!("check `{name}` of an external component uses {{host.*}}, but external components have no hosts"), None);
            return None;
        }
        Some(CheckSpec {
            name,
            timeout,
            retries,
            on,
            kind,
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per optional kind key of RawCheck"
    )]
    fn kind(
        &mut self,
        path: &[Seg],
        http: Option<RawHttp>,
        tcp: Option<RawTcp>,
        dns: Option<RawDns>,
        tls: Option<RawTls>,
        command: Option<RawCommand>,
        process: Option<RawProcess>,
        service: Option<RawService>,
        package: Option<RawPackage>,
        file: Option<RawFile>,
        port: Option<RawPort>,
        amqp: Option<RawAmqp>,
        sql: Option<RawSql>,
        sqs: Option<RawSqs>,
        ldap: Option<RawLdap>,
    ) -> Option<CheckKind> {
        // Every key of the kind is checked before the first error returns, so that all
        // problems of a check are reported together.
        let sub = |k: &str| [path, &p![k]].concat();
        if let Some(h) = http {
            let url = self.url(&sub("url"), &h.url, &["http", "https"]);
            let mut headers = Some(IndexMap::new());
            for (k, v) in &h.headers {
                let hpath = [&sub("headers")[..], &p![k]].concat();
                let header = self.header(&hpath, k, v);
                headers = headers.zip(header).map(|(mut all, t)| {
                    all.insert(k.clone(), t);
                    all
                });
            }
            let status = self.number_or(&sub("status"), h.status.as_ref(), 100..=599, 200);
            let method = h
                .method
                .unwrap_or_else(|| "GET".into())
                .to_ascii_uppercase();
            let method = if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                self.error(
                    &sub("method"),
                    "config::http-method",
                    if method.is_empty() {
                        "HTTP method is empty".to_owned()
                    } else {
                        format!("invalid HTTP method `{method}`")
                    },
                    Some("write a method such as GET, HEAD or POST".into()),
                );
                None
            } else {
                Some(method)
            };
            let insecure = self.flag_or(&sub("insecure"), h.insecure.as_ref(), false);
            return Some(CheckKind::Http(HttpCheck {
                url: url?,
                method: method?,
                status: status?,
                body: h.body,
                headers: headers?,
                insecure: insecure?,
            }));
        }
        if let Some(t) = tcp {
            return Some(CheckKind::Tcp(TcpCheck {
                address: self.host_port(&sub("address"), &t.address)?,
            }));
        }
        if let Some(d) = dns {
            let name = self.dns_name(&sub("name"), &d.name);
            let record_type = d
                .record_type
                .unwrap_or_else(|| "A".into())
                .to_ascii_uppercase();
            const TYPES: &[&str] = &["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "PTR", "SOA"];
            let record_type = if TYPES.contains(&record_type.as_str()) {
                Some(record_type)
            } else {
                self.error(
                    &sub("type"),
                    "config::dns-type",
                    format!("unknown DNS record type `{record_type}`"),
                    Some(format!("expected one of {}", TYPES.join(", "))),
                );
                None
            };
            let server = match &d.server {
                None => Some(None),
                Some(s) => match s
                    .parse::<std::net::SocketAddr>()
                    .or_else(|_| format!("{s}:53").parse())
                {
                    Ok(a) => Some(Some(a)),
                    Err(_) => {
                        self.error(
                            &sub("server"),
                            "config::address",
                            format!("invalid DNS server `{s}`"),
                            Some(
                                "write an IP address, optionally with a port: 127.0.0.1:5353"
                                    .into(),
                            ),
                        );
                        None
                    }
                },
            };
            return Some(CheckKind::Dns(DnsCheck {
                name: name?,
                record_type: record_type?,
                server: server?,
                expect: d.expect,
            }));
        }
        if let Some(t) = tls {
            let address = self.host_port(&sub("address"), &t.address);
            let server_name = match &t.server_name {
                Some(s) => self.dns_name(&sub("server_name"), s).map(Some),
                None => Some(None),
            };
            let min_days = self.number_or(
                &sub("min_days"),
                t.min_days.as_ref(),
                0..=i128::from(u32::MAX),
                14,
            );
            return Some(CheckKind::Tls(TlsCheck {
                address: address?,
                server_name: server_name?,
                min_days: min_days?,
            }));
        }
        if let Some(c) = command {
            let mut run = Some(Vec::new());
            if c.run.is_empty() {
                self.error(&sub("run"), "config::command", "`run` needs at least the program to run", Some("write argv as a list: run: [\"/usr/lib/nagios/plugins/check_disk\", \"-w\", \"10%\"]".into()));
                run = None;
            }
            for (i, a) in c.run.iter().enumerate() {
                let apath = [&sub("run")[..], &p![i]].concat();
                let arg = self.argv(&apath, a).and_then(|()| self.template(&apath, a));
                run = run.zip(arg).map(|(mut all, a)| {
                    all.push(a);
                    all
                });
            }
            let mut regexes_ok = true;
            for (key, re) in [("stdout", &c.stdout), ("stderr", &c.stderr)] {
                if let Some(re) = re
                    && let Err(e) = regex_syntax::Parser::new().parse(re)
                {
                    self.error(
                        &sub(key),
                        "config::regex",
                        format!("invalid regular expression: {}", first_line(&e.to_string())),
                        None,
                    );
                    regexes_ok = false;
                }
            }
            let exit = self.number_or(&sub("exit"), c.exit.as_ref(), 0..=255, 0);
            let nagios = self.flag_or(&sub("nagios"), c.nagios.as_ref(), false);
            let (run, exit, nagios) = (run?, exit?, nagios?);
            return regexes_ok.then_some(CheckKind::Command(CommandCheck {
                run,
                exit,
                stdout: c.stdout,
                stderr: c.stderr,
                nagios,
            }));
        }
        if let Some(pr) = process {
            let mut ok = self.argv(&sub("name"), &pr.name).is_some();
            if pr.name.trim().is_empty() {
                self.error(&sub("name"), "config::empty", "process name is empty", None);
                ok = false;
            }
            if let Some(u) = &pr.user {
                ok &= self.argv(&sub("user"), u).is_some();
            }
            let min = self.number_or(&sub("min"), pr.min.as_ref(), 0..=i128::from(u32::MAX), 1);
            let min = min?;
            return ok.then_some(CheckKind::Process(ProcessCheck {
                name: pr.name,
                min,
                user: pr.user,
            }));
        }
        if let Some(s) = service {
            let mut ok = self.argv(&sub("name"), &s.name).is_some();
            if s.name.trim().is_empty() {
                self.error(&sub("name"), "config::empty", "service name is empty", None);
                ok = false;
            }
            for (key, v) in [("pidfile", &s.pidfile), ("process", &s.process)] {
                if let Some(v) = v {
                    ok &= self.argv(&sub(key), v).is_some();
                }
            }
            return ok.then_some(CheckKind::Service(ServiceCheck {
                name: s.name,
                pidfile: s.pidfile,
                process: s.process,
            }));
        }
        if let Some(pk) = package {
            let name_ok = valid_package_name(&pk.name);
            if !name_ok {
                self.error(
                    &sub("name"),
                    "config::package-name",
                    format!("invalid package name `{}`", pk.name),
                    Some("package names are letters, digits and + - . _ :".into()),
                );
            }
            let version = match &pk.version {
                Some(v) => match parse_constraint(v) {
                    Ok(c) => Some(c),
                    Err(msg) => {
                        self.error(&sub("version"), "config::version", msg, Some("write constraints like \">= 1.1, < 2\" (operators <, <=, =, !=, >=, >)".into()));
                        None
                    }
                },
                None => Some(Vec::new()),
            };
            let version = version?;
            return name_ok.then_some(CheckKind::Package(PackageCheck {
                name: pk.name,
                version,
            }));
        }
        if let Some(f) = file {
            let path_t = self
                .argv(&sub("path"), &f.path)
                .and_then(|()| self.template(&sub("path"), &f.path));
            let absolute = f.path.starts_with('/') || f.path.starts_with('{');
            if !absolute {
                self.error(
                    &sub("path"),
                    "config::path",
                    format!("file path `{}` must be absolute", f.path),
                    None,
                );
            }
            let mode = match &f.mode {
                Some(m) => match u32::from_str_radix(m.trim_start_matches("0o"), 8) {
                    Ok(v) if v <= 0o7777 => Some(Some(v)),
                    _ => {
                        self.error(
                            &sub("mode"),
                            "config::mode",
                            format!("invalid file mode `{m}`"),
                            Some("write an octal mode as a string: \"0644\"".into()),
                        );
                        None
                    }
                },
                None => Some(None),
            };
            let mut ok = absolute;
            for (key, v) in [("owner", &f.owner), ("contains", &f.contains)] {
                if let Some(v) = v {
                    ok &= self.argv(&sub(key), v).is_some();
                }
            }
            let exists = self.flag_or(&sub("exists"), f.exists.as_ref(), true);
            let (path_t, mode, exists) = (path_t?, mode?, exists?);
            return ok.then_some(CheckKind::File(FileCheck {
                path: path_t,
                exists,
                mode,
                owner: f.owner,
                contains: f.contains,
            }));
        }
        if let Some(po) = port {
            let number = match &po.port {
                Some(v) => self.number(&sub("port"), v, 1..=65535),
                None => {
                    self.error(
                        path,
                        "config::missing-key",
                        "`port` check needs `port`",
                        Some("write the TCP port that must be listening, e.g. `port: 5432`".into()),
                    );
                    None
                }
            };
            let address = match &po.address {
                Some(a) => self
                    .argv(&sub("address"), a)
                    .and_then(|()| self.template(&sub("address"), a))
                    .map(Some),
                None => Some(None),
            };
            return Some(CheckKind::Port(PortCheck {
                port: number?,
                address: address?,
            }));
        }
        if let Some(a) = amqp {
            return Some(CheckKind::Amqp(AmqpCheck {
                url: self.url(&sub("url"), &a.url, &["amqp", "amqps"])?,
            }));
        }
        if let Some(s) = sql {
            let url = self.url(&sub("url"), &s.url, &["postgres", "postgresql"]);
            let mut query_ok = self.argv(&sub("query"), &s.query).is_some();
            if s.query.trim().is_empty() {
                self.error(&sub("query"), "config::empty", "sql query is empty", None);
                query_ok = false;
            }
            let url = url?;
            return query_ok.then_some(CheckKind::Sql(SqlCheck {
                url,
                query: s.query,
                expect: s.expect,
            }));
        }
        if let Some(q) = sqs {
            return self.sqs(path, &q).map(CheckKind::Sqs);
        }
        if let Some(l) = ldap {
            return self.ldap(path, l).map(CheckKind::Ldap);
        }
        None
    }

    /// A key a check kind cannot do without; the error points at the kind.
    fn missing_key(&mut self, path: &[Seg], kind: &str, key: &str, hint: &str) {
        self.error(
            path,
            "config::missing-key",
            format!("`{kind}` check needs `{key}`"),
            Some(hint.to_owned()),
        );
    }

    /// `sqs:` at `path`; every key is checked before it returns.
    fn sqs(&mut self, path: &[Seg], q: &RawSqs) -> Option<SqsCheck> {
        let sub = |k: &str| [path, &p![k]].concat();
        let queue = match &q.queue {
            Some(text) => self.sqs_queue(&sub("queue"), text),
            None => {
                self.missing_key(
                    path,
                    "sqs",
                    "queue",
                    "name the queue (`orders`) or give its URL \
                     (https://sqs.eu-west-1.amazonaws.com/123456789012/orders)",
                );
                None
            }
        };
        let region = match &q.region {
            Some(r) if valid_aws_region(r) => Some(r.clone()),
            Some(r) => {
                self.error(
                    &sub("region"),
                    "config::aws-region",
                    format!("`{r}` is not an AWS region"),
                    Some("write the queue's region, e.g. eu-west-1 or us-east-1".into()),
                );
                None
            }
            None => {
                self.missing_key(
                    path,
                    "sqs",
                    "region",
                    "write the queue's region, e.g. `region: eu-west-1`",
                );
                None
            }
        };
        if let (Some(queue), Some(region)) = (&queue, &region)
            && let Some(in_url) = sqs_url_region(&queue.expand(Some(&sample_host())))
            && in_url != *region
        {
            self.error(
                &sub("region"),
                "config::aws-region",
                format!("region `{region}` differs from the queue URL's region `{in_url}`"),
                Some(format!("write `region: {in_url}`")),
            );
        }
        let endpoint_url = match &q.endpoint_url {
            Some(e) => self
                .url(&sub("endpoint_url"), e, &["http", "https"])
                .map(Some),
            None => Some(None),
        };
        let inspect = match q.mode.as_deref() {
            None | Some("roundtrip") => Some(false),
            Some("inspect") => Some(true),
            Some(other) => {
                self.error(
                    &sub("mode"),
                    "config::sqs-mode",
                    format!("unknown sqs mode `{other}`"),
                    Some(
                        "expected `roundtrip` (send a message and receive it back) or \
                         `inspect` (read the queue's depth and its dead-letter queue's)"
                            .into(),
                    ),
                );
                None
            }
        };
        let mut ok = true;
        let mut limit = |v: &mut Self, key: &str, value: Option<&Value>| match value {
            None => Some(None),
            Some(value) => {
                let n = v.number::<u64>(&sub(key), value, 0..=i128::from(u32::MAX))?;
                if inspect == Some(false) {
                    v.error(
                        &sub(key),
                        "config::sqs-mode",
                        format!("`{key}` is read only with `mode: inspect`"),
                        Some(
                            "add `mode: inspect`, or remove it: a round trip does not read \
                             the queue's depth"
                                .into(),
                        ),
                    );
                    ok = false;
                }
                Some(Some(n))
            }
        };
        let max_depth = limit(self, "max_depth", q.max_depth.as_ref());
        let max_dead_letter = limit(self, "max_dead_letter", q.max_dead_letter.as_ref());
        if q.max_age.is_some() {
            self.error(
                &sub("max_age"),
                "config::sqs-age",
                "SQS does not tell the age of the oldest message: ApproximateAgeOfOldestMessage \
                 is a CloudWatch metric, not a queue attribute",
                Some("bound the backlog with `max_depth` (visible messages) instead".into()),
            );
            ok = false;
        }
        let mode = if inspect? {
            SqsMode::Inspect {
                max_depth: max_depth?,
                max_dead_letter: max_dead_letter?,
            }
        } else {
            SqsMode::Roundtrip
        };
        let (queue, region, endpoint_url) = (queue?, region?, endpoint_url?);
        ok.then_some(SqsCheck {
            queue,
            region,
            endpoint_url,
            mode,
        })
    }

    /// An SQS queue: a name (letters, digits, `-`, `_`, at most 80, FIFO queues ending in
    /// `.fifo`) or a queue URL (`http(s)://host/ACCOUNT/NAME`), checked on a sample expansion.
    fn sqs_queue(&mut self, path: &[Seg], text: &str) -> Option<Template> {
        let t = self.template(path, text)?;
        let probe = t.expand(Some(&sample_host()));
        if probe.contains("://") {
            if !self.check_url(path, text, &probe, &["http", "https"]) {
                return None;
            }
            let segments: Vec<String> = url::Url::parse(&probe)
                .ok()
                .and_then(|u| {
                    u.path_segments()
                        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
                })
                .unwrap_or_default();
            if let [_, name] = segments.as_slice()
                && valid_sqs_queue_name(name)
            {
                return Some(t);
            }
            self.error(
                path,
                "config::sqs-queue",
                format!(
                    "queue URL `{}` does not name a queue",
                    redact_userinfo(text)
                ),
                Some("a queue URL ends in /ACCOUNT/NAME, as GetQueueUrl returns it".into()),
            );
            return None;
        }
        if valid_sqs_queue_name(&probe) {
            return Some(t);
        }
        self.error(
            path,
            "config::sqs-queue",
            format!("`{text}` is not an SQS queue name or URL"),
            Some(
                "queue names are 1 to 80 letters, digits, `-` and `_` (FIFO queues end in \
                 `.fifo`); or write the queue URL"
                    .into(),
            ),
        );
        None
    }

    /// `ldap:` at `path`; every key is checked before it returns.
    fn ldap(&mut self, path: &[Seg], l: RawLdap) -> Option<LdapCheck> {
        let sub = |k: &str| [path, &p![k]].concat();
        let url = match &l.url {
            Some(u) => self.ldap_url(&sub("url"), u),
            None => {
                self.missing_key(
                    path,
                    "ldap",
                    "url",
                    "e.g. `url: \"ldap://{host.address}:389\"`, ldaps://… or \
                     ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi",
                );
                None
            }
        };
        let base = match &l.base {
            Some(b) => self.ldap_dn(&sub("base"), b),
            None => {
                self.missing_key(
                    path,
                    "ldap",
                    "base",
                    "the DN to search under, e.g. `base: \"ou=people,dc=example,dc=org\"`",
                );
                None
            }
        };
        let filter = match &l.filter {
            Some(f) => self.ldap_filter(&sub("filter"), f),
            None => {
                self.missing_key(
                    path,
                    "ldap",
                    "filter",
                    "what to search for, e.g. `filter: \"(uid=alice)\"`",
                );
                None
            }
        };
        let bind = match l.bind {
            None => Some(LdapBind::Anonymous),
            Some(RawLdapBind::Mechanism(m)) if m.trim().eq_ignore_ascii_case("external") => {
                Some(LdapBind::External)
            }
            Some(RawLdapBind::Mechanism(m)) => {
                self.error(
                    &sub("bind"),
                    "config::ldap-bind",
                    format!("unknown bind `{m}`"),
                    Some(LDAP_BIND_HINT.into()),
                );
                None
            }
            Some(RawLdapBind::Other(v)) => {
                self.error(
                    &sub("bind"),
                    "config::ldap-bind",
                    format!(
                        "`bind` must be `external` or a mapping {{ dn, password }}, found {}",
                        v.found()
                    ),
                    Some(LDAP_BIND_HINT.into()),
                );
                None
            }
            Some(RawLdapBind::Simple(b)) => self.ldap_simple_bind(&sub("bind"), b),
        };
        let expect = match (&l.expect, &l.min) {
            (Some(_), Some(_)) => {
                self.error(
                    &sub("min"),
                    "config::ldap-expect",
                    "`expect` and `min` cannot both be set",
                    Some("`expect: N` is exactly N entries, `min: N` at least N".into()),
                );
                None
            }
            (Some(n), None) => self
                .number(&sub("expect"), n, 0..=i128::from(u32::MAX))
                .map(LdapExpect::Exactly),
            (None, Some(n)) => self
                .number(&sub("min"), n, 0..=i128::from(u32::MAX))
                .map(LdapExpect::AtLeast),
            (None, None) => Some(LdapExpect::AtLeast(1)),
        };
        Some(LdapCheck {
            url: url?,
            bind: bind?,
            base: base?,
            filter: filter?,
            expect: expect?,
        })
    }

    /// `bind: { dn, password }`: both present, the DN a DN.
    fn ldap_simple_bind(&mut self, path: &[Seg], b: RawLdapSimpleBind) -> Option<LdapBind> {
        let sub = |k: &str| [path, &p![k]].concat();
        let dn = match &b.dn {
            Some(dn) if !dn.trim().is_empty() => self.ldap_dn(&sub("dn"), dn),
            _ => {
                self.error(
                    path,
                    "config::missing-key",
                    "a simple `bind` needs `dn`",
                    Some("e.g. `bind: { dn: \"cn=monitor,dc=example,dc=org\", password: … }`; remove `bind` to search anonymously".into()),
                );
                None
            }
        };
        let password = match b.password {
            Some(pw) if !pw.is_empty() => {
                if pw.chars().any(char::is_control) {
                    self.error(
                        &sub("password"),
                        "config::ldap-bind",
                        "the bind password contains a control character",
                        None,
                    );
                    None
                } else {
                    Some(pw)
                }
            }
            _ => {
                self.error(
                    path,
                    "config::missing-key",
                    "a simple `bind` needs `password`",
                    Some("an empty password is an anonymous bind (RFC 4513 §5.1.2); remove `bind` to search anonymously".into()),
                );
                None
            }
        };
        Some(LdapBind::Simple {
            dn: dn?,
            password: password?,
        })
    }

    /// An LDAP URL template: `ldap://host[:port]`, `ldaps://…`, or `ldapi://` with the
    /// socket path percent-encoded as its host; no DN, attributes or filter in it.
    fn ldap_url(&mut self, path: &[Seg], text: &str) -> Option<Template> {
        let t = self.template(path, text)?;
        let probe = t.expand(Some(&sample_host()));
        if probe.trim_end_matches('/') == "ldapi:" {
            self.error(
                path,
                "config::url",
                "`ldapi://` needs the socket's path",
                Some(LDAPI_HINT.into()),
            );
            return None;
        }
        if !self.check_url(path, text, &probe, &["ldap", "ldaps", "ldapi"]) {
            return None;
        }
        let Ok(u) = url::Url::parse(&probe) else {
            return None;
        };
        if u.scheme() == "ldapi" && (u.port().is_some() || !u.username().is_empty()) {
            self.error(
                path,
                "config::url",
                format!(
                    "`{}` is not a socket path",
                    redact_userinfo(u.host_str().unwrap_or_default())
                ),
                Some(LDAPI_HINT.into()),
            );
            return None;
        }
        if !u.username().is_empty() || u.password().is_some() {
            self.error(
                path,
                "config::url",
                format!("LDAP URL `{}` carries credentials", redact_userinfo(text)),
                Some("an LDAP URL has no user: write them under `bind`".into()),
            );
            return None;
        }
        if !matches!(u.path(), "" | "/") || u.query().is_some() || u.fragment().is_some() {
            self.error(
                path,
                "config::url",
                format!(
                    "LDAP URL `{}` has more than a server",
                    redact_userinfo(text)
                ),
                Some("write the base DN in `base` and the filter in `filter`".into()),
            );
            return None;
        }
        Some(t)
    }

    /// A DN (`dc=example,dc=org`), or empty for the root DSE.
    fn ldap_dn(&mut self, path: &[Seg], text: &str) -> Option<String> {
        let bad = text.chars().find(|c| c.is_control());
        let ok = bad.is_none()
            && (text.trim().is_empty()
                || text.split(',').all(|rdn| {
                    rdn.split_once('=')
                        .is_some_and(|(a, _)| !a.trim().is_empty())
                }));
        if ok {
            return Some(text.trim().to_owned());
        }
        self.error(
            path,
            "config::ldap-dn",
            match bad {
                Some(c) => format!(
                    "`{}` contains the control character `{}`",
                    key_name(path),
                    fearless_io::escape_terminal(&c.to_string())
                ),
                None => format!("`{text}` is not a DN"),
            },
            Some("write a DN such as ou=people,dc=example,dc=org".into()),
        );
        None
    }

    /// An LDAP search filter (RFC 4515): one parenthesised filter, balanced, one line.
    fn ldap_filter(&mut self, path: &[Seg], text: &str) -> Option<String> {
        let text = text.trim();
        let mut depth: i64 = 0;
        let mut balanced = true;
        for (i, c) in text.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    // The outer parenthesis closes only at the end.
                    if depth < 0 || (depth == 0 && i + 1 != text.len()) {
                        balanced = false;
                    }
                }
                _ => {}
            }
        }
        let problem = if let Some(c) = text.chars().find(|c| c.is_control()) {
            Some(format!(
                "the filter contains the control character `{}`",
                fearless_io::escape_terminal(&c.to_string())
            ))
        } else if !text.starts_with('(') || !text.ends_with(')') || depth != 0 || !balanced {
            Some(format!("`{text}` is not an LDAP filter"))
        } else {
            None
        };
        match problem {
            None => Some(text.to_owned()),
            Some(message) => {
                self.error(
                    path,
                    "config::ldap-filter",
                    message,
                    Some(
                        "write one filter in parentheses, e.g. (uid=alice) or \
                         (&(objectClass=person)(uid=alice)); escape ( and ) in values as \\28 and \\29"
                            .into(),
                    ),
                );
                None
            }
        }
    }

    /// Text that becomes a command argument (or a query) on its way: no NUL byte, which no
    /// argv and no PostgreSQL query can carry.
    fn argv(&mut self, path: &[Seg], text: &str) -> Option<()> {
        if text.contains('\0') {
            self.error(
                path,
                "config::nul",
                format!(
                    "`{}` contains a NUL byte (\\0), which a command's arguments cannot carry",
                    key_name(path)
                ),
                Some("remove the \\0 escape from the value".into()),
            );
            return None;
        }
        Some(())
    }

    /// An HTTP header: a token name (RFC 9110) and a value template without CR, LF or
    /// other control characters (tab allowed), so no header can be split or injected.
    fn header(&mut self, path: &[Seg], name: &str, value: &str) -> Option<Template> {
        const TCHAR: &str = "!#$%&'*+-.^_`|~";
        let bad_name = name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || TCHAR.contains(c));
        if bad_name {
            let pr = self.at_key(
                Problem::error(
                    "config::header",
                    format!(
                        "HTTP header name `{name}` is not a valid token (letters, digits and {TCHAR}; no spaces, colons or line breaks)"
                    ),
                ),
                path,
            );
            self.problems.push(pr);
        }
        let bad_value = value.chars().find(|c| c.is_control() && *c != '\t');
        if let Some(c) = bad_value {
            self.error(
                path,
                "config::header",
                format!(
                    "HTTP header `{name}` has the control character `{}` in its value",
                    fearless_io::escape_terminal(&c.to_string())
                ),
                Some("a header value is one line: no CR, LF or NUL".into()),
            );
        }
        let t = self.template(path, value);
        if bad_name || bad_value.is_some() {
            return None;
        }
        t
    }

    /// A DNS name (or TLS server name) template: not empty, no whitespace or control
    /// characters once host variables are filled in.
    fn dns_name(&mut self, path: &[Seg], text: &str) -> Option<Template> {
        let t = self.template(path, text)?;
        let probe = t.expand(Some(&sample_host()));
        let problem = if probe.trim().is_empty() {
            Some(format!("`{}` is empty", key_name(path)))
        } else {
            probe
                .chars()
                .find(|c| c.is_whitespace() || c.is_control())
                .map(|c| {
                    format!(
                        "`{}` contains {}, which no DNS name can",
                        key_name(path),
                        if c == ' ' {
                            "a space".to_owned()
                        } else {
                            format!("`{}`", fearless_io::escape_terminal(&c.to_string()))
                        }
                    )
                })
        };
        match problem {
            Some(msg) => {
                self.error(
                    path,
                    "config::dns-name",
                    msg,
                    Some("write a host name such as db.internal or {host.address}".into()),
                );
                None
            }
            None => Some(t),
        }
    }

    /// A URL template with one of `schemes` and a host (checked on a sample expansion).
    fn url(&mut self, path: &[Seg], text: &str, schemes: &[&str]) -> Option<Template> {
        let t = self.template(path, text)?;
        let probe = t.expand(Some(&sample_host()));
        self.check_url(path, text, &probe, schemes).then_some(t)
    }

    /// A literal URL (no templates) with one of `schemes` and a host.
    fn plain_url(&mut self, path: &[Seg], text: &str, schemes: &[&str]) -> Option<String> {
        self.check_url(path, text, text, schemes)
            .then(|| text.to_owned())
    }

    /// Whether `probe` (the URL as it will be used) parses with one of `schemes` and a host;
    /// messages show `written` with its password redacted.
    fn check_url(&mut self, path: &[Seg], written: &str, probe: &str, schemes: &[&str]) -> bool {
        let shown = redact_userinfo(written);
        // The URL parser drops tabs and line breaks; what runs must be what is written.
        if let Some(c) = written.chars().find(|c| c.is_control()) {
            self.error(
                path,
                "config::url",
                format!(
                    "URL `{shown}` contains the control character `{}`",
                    fearless_io::escape_terminal(&c.to_string())
                ),
                Some("write the URL on one line, without control characters".into()),
            );
            return false;
        }
        let (message, hint) = match url::Url::parse(probe) {
            Ok(u) if !schemes.contains(&u.scheme()) => (
                format!("URL scheme `{}` is not supported here", u.scheme()),
                Some(format!(
                    "use {}",
                    schemes
                        .iter()
                        .map(|s| format!("{s}://"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                )),
            ),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                (format!("URL `{shown}` has no host"), None)
            }
            Ok(_) => return true,
            Err(e) => (
                format!("malformed URL `{shown}`: {e}"),
                Some(format!("expected {}://host[:port]/…", schemes[0])),
            ),
        };
        self.error(path, "config::url", message, hint);
        false
    }

    fn host_port(&mut self, path: &[Seg], text: &str) -> Option<Template> {
        let t = self.template(path, text)?;
        let probe = t.expand(Some(&sample_host()));
        // IPv6 literals must be bracketed ([::1]:443), as in URLs.
        let ok = probe.rsplit_once(':').is_some_and(|(h, p)| {
            let host_ok = match h.strip_prefix('[') {
                Some(inner) => inner
                    .strip_suffix(']')
                    .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok()),
                None => !h.is_empty() && !h.contains(':'),
            };
            host_ok && p.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            self.error(
                path,
                "config::address",
                format!("`{text}` is not host:port"),
                Some("write e.g. \"{host.address}:443\" or \"db.internal:5432\"".into()),
            );
            return None;
        }
        Some(t)
    }

    fn patch(&mut self, raw: &RawPatch) -> PatchPolicy {
        let mut policy = PatchPolicy::default();
        if !raw.waves.is_empty() {
            policy.waves = raw
                .waves
                .iter()
                .map(|w| match w {
                    RawWave::Count(n) => n.to_string(),
                    RawWave::Text(t) => t.trim().to_owned(),
                })
                .collect();
        }
        if let Some(n) = raw.max_failed_hosts.as_ref().and_then(|v| {
            self.number(
                &p!["patch", "max_failed_hosts"],
                v,
                0..=i128::from(u32::MAX),
            )
        }) {
            policy.max_failed_hosts = n;
        }
        policy.exclude.clone_from(&raw.exclude);
        if let Some(d) = &raw.failure_domain {
            d.trim().clone_into(&mut policy.failure_domain);
        }
        if let Some(auto) = self.choice(
            "rollback",
            raw.rollback.as_deref(),
            &[("auto", true), ("manual", false)],
            "config::rollback",
            "rollback mode",
            "expected `auto` or `manual`",
        ) {
            policy.rollback_auto = auto;
        }
        if let Some(wave) = self.choice(
            "rollback_scope",
            raw.rollback_scope.as_deref(),
            &[("hosts", false), ("wave", true)],
            "config::rollback",
            "rollback scope",
            "expected `hosts` (the failing hosts) or `wave` (every host of the failed wave)",
        ) {
            policy.rollback_wave = wave;
        }
        if let Some(auto) = self.choice(
            "bisect",
            raw.bisect.as_deref(),
            &[("off", false), ("auto", true)],
            "config::bisect",
            "bisect policy",
            "expected `auto` (bisect a failed canary's manifest on it) or `off`",
        ) {
            policy.bisect_auto = auto;
        }
        if let Some(reboot) = self.choice(
            "reboot",
            raw.reboot.as_deref(),
            &[
                ("never", RebootPolicy::Never),
                ("if-required", RebootPolicy::IfRequired),
            ],
            "config::reboot",
            "reboot policy",
            "expected `never` (a host that needs a reboot fails and is rolled back) or \
             `if-required` (reboot it, wait for SSH, then verify)",
        ) {
            policy.reboot = reboot;
        }
        if let Some(auto) = self.choice(
            "restart",
            raw.restart.as_deref(),
            &[("auto", true), ("never", false)],
            "config::restart",
            "restart policy",
            "expected `auto` (restart the services still running replaced code) or \
             `never` (only report them)",
        ) {
            policy.restart_auto = auto;
        }
        if let Some(t) = &raw.reboot_timeout
            && let Some(d) = self.duration(&p!["patch", "reboot_timeout"], t)
        {
            if d.is_zero() {
                self.error(
                    &p!["patch", "reboot_timeout"],
                    "config::duration",
                    "reboot_timeout must be longer than 0s",
                    Some("how long a rebooted host may take to answer SSH again, e.g. 10m".into()),
                );
            }
            policy.reboot_timeout = d;
        }
        for (i, w) in raw.waves.iter().enumerate() {
            let ok = match w {
                RawWave::Count(n) => *n >= 1,
                RawWave::Text(t) => t.strip_suffix('%').map_or_else(
                    || t.parse::<u64>().is_ok_and(|n| n >= 1),
                    |n| {
                        n.trim()
                            .parse::<u32>()
                            .is_ok_and(|n| (1..=100).contains(&n))
                    },
                ),
            };
            if !ok {
                self.error(
                    &p!["patch", "waves", i],
                    "config::wave",
                    "a wave is a host count (1, 2, …) or a percentage (\"25%\", 1–100%)",
                    None,
                );
            }
        }
        if let Some(b) = &raw.bake
            && let Some(d) = self.duration(&p!["patch", "bake"], b)
        {
            policy.bake = d;
        }
        policy
    }

    /// One of a few words at `patch.KEY`: the value of the matching choice; `None` when the
    /// key is absent (the default stays) or the word is unknown (reported).
    fn choice<T: Copy>(
        &mut self,
        key: &str,
        value: Option<&str>,
        choices: &[(&str, T)],
        code: &'static str,
        what: &str,
        hint: &str,
    ) -> Option<T> {
        let word = value?;
        let found = choices.iter().find(|(w, _)| *w == word).map(|(_, t)| *t);
        if found.is_none() {
            self.error(
                &p!["patch", key],
                code,
                format!("unknown {what} `{word}`"),
                Some(hint.to_owned()),
            );
        }
        found
    }

    fn change(&mut self, raw: &RawChange) -> ChangePolicy {
        let approvals_required = match &raw.approvals_required {
            Some(v) if v.integer() == Some(0) => {
                self.error(
                    &p!["change", "approvals_required"],
                    "config::range",
                    "approvals_required must be at least 1",
                    Some(
                        "separation of duties needs at least one approver besides the requester"
                            .into(),
                    ),
                );
                1
            }
            v => self
                .number_or(
                    &p!["change", "approvals_required"],
                    v.as_ref(),
                    1..=i128::from(u32::MAX),
                    1,
                )
                .unwrap_or(1),
        };
        let mut blackouts = Vec::new();
        for (i, b) in raw.blackouts.iter().enumerate() {
            let from = self.timestamp(&p!["change", "blackouts", i, "from"], &b.from);
            let to = self.timestamp(&p!["change", "blackouts", i, "to"], &b.to);
            if let (Some(f), Some(t)) = (from, to) {
                if f >= t {
                    self.error(
                        &p!["change", "blackouts", i],
                        "config::window",
                        format!("blackout `{}` ends before it starts", b.name),
                        None,
                    );
                } else {
                    blackouts.push(Blackout {
                        name: b.name.clone(),
                        from: f,
                        to: t,
                    });
                }
            }
        }
        let mut windows = Vec::new();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, w) in raw.windows.iter().enumerate() {
            if let Some(first) = names.insert(w.name.as_str(), i) {
                self.error(
                    &p!["change", "windows", i, "name"],
                    "config::duplicate-window",
                    format!("window `{}` is defined twice", w.name),
                    Some(format!("the first definition is change.windows[{first}]")),
                );
            }
            let mut days = Vec::new();
            for (j, d) in w.days.iter().enumerate() {
                match Weekday::ALL
                    .iter()
                    .find(|wd| wd.name().eq_ignore_ascii_case(d.trim()))
                {
                    Some(wd) if !days.contains(wd) => days.push(*wd),
                    Some(_) => {}
                    None => {
                        let hint = match closest(
                            &d.to_ascii_lowercase(),
                            Weekday::ALL.iter().map(|wd| wd.name()),
                        ) {
                            Some(c) => format!("did you mean `{c}`?"),
                            None => "days are mon, tue, wed, thu, fri, sat, sun".into(),
                        };
                        self.error(
                            &p!["change", "windows", i, "days", j],
                            "config::day",
                            format!("unknown day `{d}`"),
                            Some(hint),
                        );
                    }
                }
            }
            if w.days.is_empty() {
                days = Weekday::ALL.to_vec();
            }
            days.sort();
            let from = self.time_of_day(&p!["change", "windows", i, "from"], &w.from);
            let to = self.time_of_day(&p!["change", "windows", i, "to"], &w.to);
            if let (Some(from), Some(to)) = (from, to) {
                windows.push(ChangeWindow {
                    name: w.name.clone(),
                    days,
                    from,
                    to,
                });
            }
        }
        ChangePolicy {
            approvals_required,
            blackouts,
            windows,
        }
    }

    /// `HH:MM` (UTC) → minutes after midnight.
    fn time_of_day(&mut self, path: &[Seg], text: &str) -> Option<u16> {
        let parsed = text.trim().split_once(':').and_then(|(h, m)| {
            let ok = |s: &str| (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
            if !ok(h) || m.len() != 2 || !ok(m) {
                return None;
            }
            let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        });
        if parsed.is_none() {
            self.error(
                path,
                "config::time-of-day",
                format!("invalid time of day `{text}`"),
                Some("write a 24-hour UTC time like 22:00 or 04:30".into()),
            );
        }
        parsed
    }

    fn timestamp(&mut self, path: &[Seg], text: &str) -> Option<std::time::SystemTime> {
        match humantime::parse_rfc3339_weak(text.trim_end_matches('Z')) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(
                    path,
                    "config::timestamp",
                    format!("invalid timestamp `{text}`: {e}"),
                    Some("write RFC 3339 UTC: 2026-12-20T00:00:00Z".into()),
                );
                None
            }
        }
    }

    fn events(&mut self, raw: &RawEvents, config_path: &Path) -> EventsConfig {
        let base = config_path.parent().unwrap_or(Path::new("."));
        let outbox = raw.outbox.as_ref().and_then(|o| {
            if o.trim().is_empty() {
                self.error(
                    &p!["events", "outbox"],
                    "config::empty",
                    "events.outbox is empty",
                    Some("name a directory, e.g. .fearless/outbox".into()),
                );
                return None;
            }
            Some(base.join(o))
        });
        let mut sinks = IndexMap::new();
        for (name, s) in &raw.sinks {
            if let Some(spec) = self.sink(name, s, base) {
                sinks.insert(name.clone(), spec);
            }
        }
        let mut routes = Vec::new();
        for (i, r) in raw.routes.iter().enumerate() {
            let path = p!["events", "routes", i];
            let sub = |k: &str| [&path[..], &p![k]].concat();
            let mut ok = true;
            for (j, s) in r.sinks.iter().enumerate() {
                if !raw.sinks.contains_key(s) {
                    let hint = closest(s, raw.sinks.keys().map(String::as_str))
                        .map(|c| format!("did you mean `{c}`?"))
                        .or_else(|| {
                            Some(if raw.sinks.is_empty() {
                                "define it under `events.sinks`".to_owned()
                            } else {
                                format!(
                                    "define it under `events.sinks` (sinks: {})",
                                    raw.sinks
                                        .keys()
                                        .map(String::as_str)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            })
                        });
                    self.error(
                        &p!["events", "routes", i, "sinks", j],
                        "config::unknown-sink",
                        format!("route sends to undefined sink `{s}`"),
                        hint,
                    );
                    ok = false;
                }
            }
            if r.sinks.is_empty() {
                self.error(
                    &path,
                    "config::empty",
                    "route names no sink",
                    Some("add `sinks: [NAME, …]`".into()),
                );
                ok = false;
            }
            let min_severity = match &r.min_severity {
                None => EventSeverity::Info,
                Some(sev) => EventSeverity::parse(sev).unwrap_or_else(|| {
                    let hint = match closest(sev, EventSeverity::ALL.iter().map(|s| s.as_str())) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => "expected info, warning, error or critical".into(),
                    };
                    self.error(
                        &sub("min_severity"),
                        "config::severity",
                        format!("unknown severity `{sev}`"),
                        Some(hint),
                    );
                    ok = false;
                    EventSeverity::Info
                }),
            };
            let types = match &r.types {
                None => {
                    self.error(
                        &path,
                        "config::missing-key",
                        "route needs `types`",
                        Some("match event types with a glob, e.g. `types: \"fearless.*\"`".into()),
                    );
                    None
                }
                Some(t) => match TypePattern::parse(t) {
                    Ok(tp) => Some(tp),
                    Err(msg) => {
                        self.error(
                            &sub("types"),
                            "config::pattern",
                            msg,
                            Some("`*` matches any text, `?` one character".into()),
                        );
                        None
                    }
                },
            };
            if let (Some(types), true) = (types, ok) {
                routes.push(EventRoute {
                    types,
                    min_severity,
                    sinks: r.sinks.clone(),
                });
            }
        }
        EventsConfig {
            outbox,
            sinks,
            routes,
        }
    }

    fn sink(&mut self, name: &str, s: &RawSink, base: &Path) -> Option<SinkSpec> {
        use crate::keys::SINK_KINDS;
        let path = p!["events", "sinks", name];
        let kinds: Vec<&str> = [
            s.file.is_some(),
            s.webhook.is_some(),
            s.slack.is_some(),
            s.pagerduty.is_some(),
            s.amqp.is_some(),
            s.sqs.is_some(),
            s.sns.is_some(),
        ]
        .iter()
        .zip(SINK_KINDS)
        .filter_map(|(set, k)| set.then_some(*k))
        .collect();
        let kind = match kinds.as_slice() {
            [] => {
                self.error(
                    &path,
                    "config::sink-kind",
                    format!("sink `{name}` has no kind"),
                    Some(format!("add exactly one of: {}", SINK_KINDS.join(", "))),
                );
                return None;
            }
            [k] => *k,
            [a, b, ..] => {
                self.error(
                    &[&path[..], &p![*b]].concat(),
                    "config::sink-kind",
                    format!("sink `{name}` has more than one kind (`{a}` and `{b}`)"),
                    Some("define one sink per kind and name both in the route".into()),
                );
                return None;
            }
        };
        let kpath = [&path[..], &p![kind]].concat();
        let at = |k: &str| [&kpath[..], &p![k]].concat();
        let http = ["http", "https"];
        match kind {
            "file" => {
                let f = s.file.as_ref()?;
                let file = self.required(&kpath, kind, name, "path", f.path.as_deref())?;
                Some(SinkSpec::File {
                    path: base.join(file),
                })
            }
            "webhook" => {
                let w = s.webhook.as_ref()?;
                let url = self.required(&kpath, kind, name, "url", w.url.as_deref())?;
                let url = self.plain_url(&at("url"), url, &http);
                let secret_env = match &w.secret_env {
                    Some(v) => Some(self.env_name(&at("secret_env"), v)?),
                    None => None,
                };
                Some(SinkSpec::Webhook {
                    url: url?,
                    secret_env,
                })
            }
            "slack" => {
                let sl = s.slack.as_ref()?;
                let url = self.required(&kpath, kind, name, "url", sl.url.as_deref())?;
                Some(SinkSpec::Slack {
                    url: self.plain_url(&at("url"), url, &http)?,
                })
            }
            "pagerduty" => {
                let pd = s.pagerduty.as_ref()?;
                let url = match &pd.url {
                    Some(u) => self.plain_url(&at("url"), u, &http),
                    None => Some("https://events.pagerduty.com".to_owned()),
                };
                let key = self
                    .required(
                        &kpath,
                        kind,
                        name,
                        "routing_key_env",
                        pd.routing_key_env.as_deref(),
                    )
                    .and_then(|v| self.env_name(&at("routing_key_env"), v));
                Some(SinkSpec::PagerDuty {
                    url: url?,
                    routing_key_env: key?,
                })
            }
            "amqp" => {
                let a = s.amqp.as_ref()?;
                let url = self.required(&kpath, kind, name, "url", a.url.as_deref())?;
                let url = self.plain_url(&at("url"), url, &["amqp", "amqps"])?;
                let exchange = a
                    .exchange
                    .clone()
                    .unwrap_or_else(|| "fearless.events".to_owned());
                if exchange.is_empty() || exchange.starts_with("amq.") {
                    self.error(
                        &at("exchange"),
                        "config::exchange",
                        format!("exchange `{exchange}` cannot be declared"),
                        Some("name a topic exchange of your own, e.g. fearless.events".into()),
                    );
                    return None;
                }
                Some(SinkSpec::Amqp { url, exchange })
            }
            "sqs" => {
                let q = s.sqs.as_ref()?;
                let queue_url =
                    self.required(&kpath, kind, name, "queue_url", q.queue_url.as_deref())?;
                let queue_url = self.plain_url(&at("queue_url"), queue_url, &http)?;
                let endpoint = match &q.endpoint {
                    Some(e) => Some(self.plain_url(&at("endpoint"), e, &http)?),
                    None => None,
                };
                Some(SinkSpec::Sqs {
                    queue_url,
                    region: q.region.clone(),
                    endpoint,
                })
            }
            "sns" => {
                let t = s.sns.as_ref()?;
                let topic_arn =
                    self.required(&kpath, kind, name, "topic_arn", t.topic_arn.as_deref())?;
                if !topic_arn.starts_with("arn:") {
                    self.error(
                        &at("topic_arn"),
                        "config::arn",
                        format!("`{topic_arn}` is not an ARN"),
                        Some("write arn:aws:sns:REGION:ACCOUNT:TOPIC".into()),
                    );
                    return None;
                }
                let endpoint = match &t.endpoint {
                    Some(e) => Some(self.plain_url(&at("endpoint"), e, &http)?),
                    None => None,
                };
                Some(SinkSpec::Sns {
                    topic_arn: topic_arn.to_owned(),
                    region: t.region.clone(),
                    endpoint,
                })
            }
            _ => None,
        }
    }

    /// A key a sink kind cannot do without; the error points at the kind.
    fn required<'v>(
        &mut self,
        kpath: &[Seg],
        kind: &str,
        name: &str,
        key: &str,
        value: Option<&'v str>,
    ) -> Option<&'v str> {
        match value {
            Some(v) if !v.trim().is_empty() => Some(v),
            _ => {
                self.error(
                    kpath,
                    "config::missing-key",
                    format!("{kind} sink `{name}` needs `{key}`"),
                    None,
                );
                None
            }
        }
    }

    /// The name of an environment variable (secrets are never written in the config).
    fn env_name(&mut self, path: &[Seg], text: &str) -> Option<String> {
        let ok = !text.is_empty()
            && !text.starts_with(|c: char| c.is_ascii_digit())
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.error(path, "config::env-name", "expected the name of an environment variable", Some("put the secret in the environment and name the variable here, e.g. HOOK_SECRET".into()));
            return None;
        }
        Some(text.to_owned())
    }

    /// Report keys no struct consumed, with the closest valid key.
    pub(crate) fn unknown_key(&mut self, path: &[Seg]) {
        let Some((Seg::Key(key), parent)) = path.split_last() else {
            return;
        };
        let expected = crate::keys::expected_at(parent);
        let hint = match expected {
            Some(fields) => match closest(key, fields.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("valid keys here: {}", fields.join(", ")),
            },
            None => String::from("this key is not part of the configuration"),
        };
        let place = crate::source::path_string(parent);
        let message = if place.is_empty() {
            format!("unknown key `{key}`")
        } else {
            format!("unknown key `{key}` in `{place}`")
        };
        let pr = self.at_key(
            Problem::error("config::unknown-key", message).hint(hint),
            path,
        );
        self.problems.push(pr);
    }
}

/// The hint of every `ldap.bind` error.
const LDAP_BIND_HINT: &str = "write `bind: { dn: \"cn=monitor,dc=example,dc=org\", password: … }` (a simple bind), `bind: external` (SASL EXTERNAL: the peer credentials of ldapi://), or leave `bind` out to search anonymously";

/// The hint of `ldapi://` URL errors.
const LDAPI_HINT: &str =
    "write the socket's path percent-encoded as the host: ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi";

/// An AWS region name: `eu-west-1`, `us-gov-west-1`, `ap-southeast-4` (area, words, number).
fn valid_aws_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    match parts.as_slice() {
        [area, middle @ .., number] if !middle.is_empty() => {
            area.len() == 2
                && lower(area)
                && middle.iter().all(lower)
                && (1..=2).contains(&number.len())
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// An SQS queue name: 1 to 80 letters, digits, `-` and `_`, a FIFO queue's ending in `.fifo`.
fn valid_sqs_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    name.len() <= 80
        && !base.is_empty()
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The region in an AWS queue URL (`https://sqs.eu-west-1.amazonaws.com/…`), if it has one.
fn sqs_url_region(queue: &str) -> Option<String> {
    let host = url::Url::parse(queue).ok()?.host_str()?.to_owned();
    let rest = host.strip_prefix("sqs.")?;
    let (region, domain) = rest.split_once('.')?;
    (domain.starts_with("amazonaws.") && valid_aws_region(region)).then(|| region.to_owned())
}

/// The last key of `path`, for messages (`port`, `exit`).
fn key_name(path: &[Seg]) -> String {
    path.iter()
        .rev()
        .find_map(|s| match s {
            Seg::Key(k) => Some(k.clone()),
            Seg::Index(_) => None,
        })
        .unwrap_or_default()
}

fn first_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

fn sample_host() -> Host {
    Host {
        name: "host".into(),
        address: "192.0.2.1".into(),
        port: 22,
        user: "root".into(),
        become_: None,
        transport: TransportKind::Ssh,
        package_manager: None,
        labels: BTreeMap::new(),
        instance: None,
        region: None,
        source: HostSource::Config,
    }
}

/// An EC2 instance id (`i-` and 8 or 17 hex digits) or a managed node id (`mi-` and 17).
fn is_instance_id(id: &str) -> bool {
    let hex = |s: &str, lens: &[usize]| {
        lens.contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    id.strip_prefix("i-").is_some_and(|h| hex(h, &[8, 17]))
        || id.strip_prefix("mi-").is_some_and(|h| hex(h, &[17]))
}

/// An AWS region name: lower-case words joined by `-`, ending in a number
/// (`eu-west-1`, `us-gov-west-1`, `ap-southeast-5`).
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && r.len() <= 32
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// An S3 bucket name (3–63 of `a-z0-9.-`, starting and ending with a letter or digit).
fn is_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// An EC2 filter name: `tag:KEY` (any one-line key) or lower-case words with `-` and `.`.
fn is_filter_name(n: &str) -> bool {
    match n.strip_prefix("tag:") {
        Some(key) => !key.is_empty() && key.len() <= 128 && !key.chars().any(char::is_control),
        None => {
            !n.is_empty()
                && n.len() <= 64
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        }
    }
}

/// Text shown in a message: at most 80 characters, control characters escaped.
fn shown(v: &str) -> String {
    fearless_io::escape_terminal(&v.chars().take(80).collect::<String>()).into_owned()
}

/// `web-{tag:role}-{id}` → its parts.
pub(crate) fn parse_name_template(t: &str) -> Result<Vec<NamePart>, String> {
    let mut parts = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let Some(end) = rest.find('}') else {
                    return Err(format!("unclosed `{{` in name `{}`", shown(t)));
                };
                let var = &rest[1..end];
                parts.push(match var {
                    "id" => NamePart::Id,
                    "az" => NamePart::Az,
                    "region" => NamePart::Region,
                    "private-ip" => NamePart::PrivateIp,
                    v => match v.strip_prefix("tag:") {
                        Some(k) if !k.is_empty() => NamePart::Tag(k.to_owned()),
                        _ => {
                            return Err(format!(
                                "unknown variable `{{{}}}` in name (known: {{tag:KEY}}, {{id}}, {{az}}, {{region}}, {{private-ip}})",
                                shown(v)
                            ));
                        }
                    },
                });
                rest = &rest[end + 1..];
            }
            found => {
                let end = found.unwrap_or(rest.len());
                let text = &rest[..end];
                if text.contains('}') {
                    return Err(format!("unmatched `}}` in name `{}`", shown(t)));
                }
                parts.push(NamePart::Text(text.to_owned()));
                rest = &rest[end..];
            }
        }
    }
    if parts.is_empty() {
        return Err("the name template is empty".into());
    }
    Ok(parts)
}

/// A host imported from Ansible, with the inventory's `defaults` under it.
fn ansible_host(name: &str, ah: ansible::AnsibleHost, defaults: &RawHostFields) -> Option<Host> {
    let fields = RawHostFields {
        address: ah.address,
        port: ah.port.map(|p| Value::Int(p.into())),
        user: ah.user,
        become_: ah.become_.then(|| "sudo".to_owned()),
        transport: None,
        package_manager: None,
        labels: ah.labels.into(),
        instance: None,
        region: None,
    };
    resolve_host(name, &fields, defaults)
}

/// An imported Ansible inventory on its own: its hosts (no defaults) and its groups.
pub(crate) fn ansible_inventory(imported: ansible::Imported) -> Inventory {
    let defaults = RawHostFields::default();
    Inventory {
        hosts: imported
            .hosts
            .into_iter()
            .filter_map(|(name, ah)| ansible_host(&name, ah, &defaults).map(|h| (name, h)))
            .collect(),
        groups: imported
            .groups
            .into_iter()
            .map(|(g, members)| (g, Selector::members(members)))
            .collect(),
        ssh: SshOptions::default(),
        concurrency: 32,
        ec2: Vec::new(),
        ssm: SsmOptions::default(),
    }
}

fn resolve_host(name: &str, f: &RawHostFields, d: &RawHostFields) -> Option<Host> {
    let transport = match f
        .transport
        .as_deref()
        .or(d.transport.as_deref())
        .unwrap_or("ssh")
    {
        "ssh" => TransportKind::Ssh,
        "local" => TransportKind::Local,
        "ssm" => TransportKind::Ssm,
        _ => return None,
    };
    let mut labels: BTreeMap<String, String> = d.labels.clone().into_iter().collect();
    labels.extend(f.labels.clone());
    Some(Host {
        name: name.to_owned(),
        address: f
            .address
            .clone()
            .or_else(|| d.address.clone())
            .unwrap_or_else(|| name.to_owned()),
        port: f
            .port
            .as_ref()
            .or(d.port.as_ref())
            .and_then(Value::integer)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(22),
        user: f
            .user
            .clone()
            .or_else(|| d.user.clone())
            .unwrap_or_else(|| "root".into()),
        become_: f
            .become_
            .as_deref()
            .or(d.become_.as_deref())
            .map(|_| Become::Sudo),
        transport,
        package_manager: match f
            .package_manager
            .as_deref()
            .or(d.package_manager.as_deref())
        {
            Some("apt") => Some(PackageManager::Apt),
            Some("dnf") => Some(PackageManager::Dnf),
            Some("yum") => Some(PackageManager::Yum),
            _ => None,
        },
        labels,
        instance: f.instance.clone().or_else(|| d.instance.clone()),
        region: f.region.clone().or_else(|| d.region.clone()),
        source: HostSource::Config,
    })
}

/// Why `text` is not the absolute, normalised path of a file, if it is not.
fn file_path_problem(text: &str) -> Option<&'static str> {
    if !text.starts_with('/') {
        return Some("is not an absolute path");
    }
    if text.len() > 4096 {
        return Some("is longer than 4096 bytes");
    }
    if text.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    if text == "/" || text.ends_with('/') {
        return Some("names a directory, not a file");
    }
    if text
        .split('/')
        .skip(1)
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Some("is not normalised (empty, `.` or `..` segments)");
    }
    None
}

/// Whether `n` is a package name a `package` check accepts: letters, digits and `+ - . _ :`.
pub fn valid_package_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._:".contains(c))
}

/// Parse `">= 1.1, < 2"` into clauses. A bare version means `=`.
pub fn parse_constraint(text: &str) -> Result<Vec<VersionClause>, String> {
    let mut out = Vec::new();
    for clause in text.split(',') {
        let c = clause.trim();
        if c.is_empty() {
            return Err(format!("empty clause in version constraint `{text}`"));
        }
        let (op, rest) = [
            ("<=", VersionOp::Le),
            (">=", VersionOp::Ge),
            ("==", VersionOp::Eq),
            ("!=", VersionOp::Ne),
            ("<", VersionOp::Lt),
            (">", VersionOp::Gt),
            ("=", VersionOp::Eq),
        ]
        .iter()
        .find_map(|(sym, op)| c.strip_prefix(sym).map(|r| (*op, r)))
        .unwrap_or((VersionOp::Eq, c));
        let v = rest.trim();
        if v.is_empty()
            || !v.starts_with(|ch: char| ch.is_ascii_digit())
            || !v
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ".+~:-^_".contains(ch))
        {
            return Err(format!("invalid version `{v}` in constraint `{text}`"));
        }
        out.push(VersionClause {
            op,
            version: v.to_owned(),
        });
    }
    Ok(out)
}
