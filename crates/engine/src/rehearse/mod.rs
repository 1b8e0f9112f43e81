//! `fearless rehearse`: rebuild a host's role on a brand-new OS and say what broke and why.
//!
//! The role of a host is taken from a fresh snapshot of its packages (kept as `SNAP-N`):
//! the packages installed on purpose that nothing else needs, without the base system
//! ([`role`]); the components that run on it (their `runs_on`), less those left out with
//! `--components` (and the packages that are theirs only: the owners of the programs their
//! checks name); and the files those components declare (`files:`). It is rebuilt on a
//! new host — an inventory host (`--onto`), or one a [`Provision`] brings up (the lab's
//! Debian 13 host) — with that host's own package manager: exact versions where offered,
//! else the closest; the declared files copied with their modes; the role host's running
//! services of those packages started; then the components' checks run against it.
//!
//! [`diagnose`] says what broke and why, in categories a person can act on: a hard-coded
//! interpreter or path (from the packages' own files — `#!` lines, `ExecStart`, paths in
//! their `/etc` files — and the failing services' logs, checked on both hosts), a package
//! missing on the new OS (with names that look like its rename), an install whose
//! maintainer script failed, a service that does not start (with its log), a file not
//! carried over, a failing check (with its causes), a version not available (the closest
//! installed: a warning).
//!
//! Journaled on the role host (`rehearse.started` before anything is brought up,
//! `rehearse.finished` with the whole report), and on the change with `--change`
//! (`change.rehearsal-attached`). A host brought up for the rehearsal is removed at the
//! end unless kept — also when the rehearsal fails or is dropped halfway (Ctrl-C).

mod diagnose;
mod host;
pub mod report;
pub mod role;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fearless_config::{Config, Host, TransportKind};
use fearless_exec::Transport;
use fearless_pkg::backend::{Offered, Request as PkgRequest};
use fearless_pkg::{Backend, Installed, Limits, Manager, PackageManager, PkgError, Target, ops};
use futures::future::BoxFuture;

pub use report::{
    Action, CheckOutcome, Excluded, FileOutcome, Finding, Kind, PackageOutcome, Report,
    RoleSummary, ServiceOutcome, Severity, TargetSummary, Timings, Verdict, Why,
};

use crate::progress::Event;
use crate::record::{self, RehearsalAttached, RehearsalFinished, RehearsalStarted, SnapshotDoc};
use crate::{CheckSet, Engine, EngineError};

/// How long a package lock held by someone else is waited for.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// What to rehearse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The inventory host whose role is rebuilt.
    pub role: String,
    /// Only these of its components (all that run on it when empty).
    pub components: Vec<String>,
    /// Leave a host brought up for the rehearsal up, to explore.
    pub keep: bool,
    /// The change to attach the rehearsal to (`CHG-3`).
    pub change: Option<String>,
}

/// A host brought up for a rehearsal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHost {
    /// Its name.
    pub name: String,
    /// The address ssh reaches it on.
    pub address: String,
    /// Its sshd port.
    pub port: u16,
    /// Who logs in (root, or a user with `sudo -n`).
    pub user: String,
}

/// Brings up (and removes) the host a role is rebuilt on: the lab's brand-new release, a
/// cloud instance.
pub trait Provision: Send + Sync {
    /// What it brings up, in words (`Debian 13 (trixie), a new lab host`).
    fn describe(&self) -> String;
    /// Bring the host up; it is reached over ssh with the configuration's ssh options.
    fn up(&self) -> BoxFuture<'_, Result<NewHost, EngineError>>;
    /// Remove it. Called when the rehearsal ends unless it is kept, and from a drop when
    /// the rehearsal is cut short: it must not need the async runtime.
    fn remove(&self, host: &NewHost) -> Result<(), EngineError>;
}

/// Where the role is rebuilt.
#[derive(Clone, Copy)]
pub enum Onto<'a> {
    /// An inventory host (`--onto`): used as it is, never removed.
    Host(&'a str),
    /// A host brought up for the rehearsal.
    New(&'a dyn Provision),
}

impl std::fmt::Debug for Onto<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Host(h) => write!(f, "Onto::Host({h})"),
            Self::New(p) => write!(f, "Onto::New({})", p.describe()),
        }
    }
}

/// The host rebuilt on; a provisioned one is removed when this is dropped, unless kept.
struct Up<'a> {
    host: Host,
    what: String,
    provision: Option<&'a dyn Provision>,
    new: Option<NewHost>,
}

impl Up<'_> {
    /// Remove a provisioned host now (unless `keep`); an error says why it is still there.
    fn finish(&mut self, keep: bool) -> Option<String> {
        let new = self.new.take()?;
        let provision = self.provision?;
        if keep {
            return None;
        }
        provision.remove(&new).err().map(|e| e.to_string())
    }
}

impl Drop for Up<'_> {
    fn drop(&mut self) {
        if let (Some(p), Some(new)) = (self.provision, self.new.take()) {
            // Cut short (an error, a Ctrl-C): nothing is left behind if it can be helped.
            let _ = p.remove(&new);
        }
    }
}

/// The components a rehearsal is about.
#[derive(Debug)]
struct Scope {
    role: Host,
    /// Components that run on the role host, rehearsed.
    selected: Vec<String>,
    /// Components that run on it, left out.
    excluded: Vec<String>,
}

/// Check the request against the configuration: nothing is contacted before it is valid.
fn scope(config: &Config, req: &Request, onto: &Onto<'_>) -> Result<Scope, EngineError> {
    let inv = &config.inventory;
    let role = inv.hosts.get(&req.role).cloned().ok_or_else(|| {
        EngineError::bad_input(
            format!(
                "unknown host `{}`: --role names an inventory host",
                req.role
            ),
            Some("list hosts with `fearless hosts`"),
        )
    })?;
    let on_role: Vec<String> = config
        .components
        .values()
        .filter(|c| !c.external)
        .filter(|c| {
            c.runs_on
                .as_ref()
                .is_some_and(|s| s.matches(&role, &inv.groups))
        })
        .map(|c| c.name.clone())
        .collect();
    if on_role.is_empty() {
        return Err(EngineError::bad_input(
            format!(
                "no component runs on {}: its role has no test plan",
                role.name
            ),
            Some("a component's `runs_on` must select the host"),
        ));
    }
    for c in &req.components {
        if !config.components.contains_key(c) {
            return Err(EngineError::bad_input(
                format!("unknown component `{c}`"),
                Some(&format!(
                    "components on {}: {}",
                    role.name,
                    on_role.join(", ")
                )),
            ));
        }
        if !on_role.contains(c) {
            return Err(EngineError::bad_input(
                format!("component `{c}` does not run on {}", role.name),
                Some(&format!(
                    "components on {}: {}",
                    role.name,
                    on_role.join(", ")
                )),
            ));
        }
    }
    if let Onto::Host(name) = onto {
        if !inv.hosts.contains_key(*name) {
            return Err(EngineError::bad_input(
                format!("unknown host `{name}`: --onto names an inventory host"),
                Some("list hosts with `fearless hosts`"),
            ));
        }
        if *name == role.name {
            return Err(EngineError::bad_input(
                format!("--onto {name} is the role host itself"),
                Some("rebuild the role on another host: a fresh one with the new OS"),
            ));
        }
    }
    let selected: Vec<String> = if req.components.is_empty() {
        on_role.clone()
    } else {
        on_role
            .iter()
            .filter(|c| req.components.contains(c))
            .cloned()
            .collect()
    };
    let excluded = on_role
        .into_iter()
        .filter(|c| !selected.contains(c))
        .collect();
    Ok(Scope {
        role,
        selected,
        excluded,
    })
}

/// A host's package manager: from the configuration, else detected.
async fn backend_of(host: &Host, t: &Target<'_>) -> Result<Backend, PkgError> {
    let manager = match host.package_manager {
        Some(fearless_config::PackageManager::Apt) => Manager::Apt,
        Some(fearless_config::PackageManager::Dnf) => Manager::Dnf,
        Some(fearless_config::PackageManager::Yum) => Manager::Yum,
        None => fearless_pkg::detect(t).await?,
    };
    Ok(Backend::for_manager(manager))
}

fn limits() -> Limits {
    Limits {
        lock_wait: LOCK_WAIT,
        ..Limits::default()
    }
}

/// What the role host said.
struct RoleRead {
    set: fearless_pkg::PackageSet,
    relations: Vec<fearless_pkg::Relations>,
    os: Option<String>,
    processes: Vec<host::Process>,
    services: Vec<host::Service>,
    files: BTreeMap<String, host::Read>,
    owners: BTreeMap<String, String>,
    kind: fearless_pkg::version::Kind,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A host failure, said as the rehearsal's.
fn env(host: &str, what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Environment(format!("{what} on {host}: {e}"))
}

impl Engine<'_> {
    /// Rehearse `req` onto `onto`; see the module documentation. A rehearsal that ran
    /// returns its report whatever it found; one that could not run (a host unreachable, a
    /// repository unreadable) is an [`EngineError::Environment`], journaled as such.
    pub async fn rehearse(&self, req: &Request, onto: Onto<'_>) -> Result<Report, EngineError> {
        let scope = scope(self.config, req, &onto)?;
        if let Some(c) = &req.change {
            self.change(c).await?;
        }
        let change = req
            .change
            .as_deref()
            .map(|c| crate::changes::number(c).map(|n| format!("CHG-{n}")))
            .transpose()?;
        let subject = format!("host:{}", scope.role.name);
        let onto_text = match onto {
            Onto::Host(h) => format!("{h}, an inventory host"),
            Onto::New(p) => p.describe(),
        };
        self.store
            .append(record::event(
                self.actor,
                subject.clone(),
                &RehearsalStarted {
                    v: record::VERSION,
                    onto: onto_text.clone(),
                    components: scope.selected.clone(),
                    change: change.clone(),
                },
            ))
            .await?;
        let result = self.run_rehearsal(req, &scope, onto, &onto_text).await;
        let (report, error) = match &result {
            Ok(r) => (Some(r.clone()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let entry = self
            .store
            .append(record::event(
                self.actor,
                subject,
                &RehearsalFinished {
                    v: record::VERSION,
                    change: change.clone(),
                    report,
                    error,
                },
            ))
            .await?;
        if let (Some(change), Ok(report)) = (change, &result) {
            self.store
                .append(record::event(
                    self.actor,
                    change,
                    &RehearsalAttached {
                        role: scope.role.name.clone(),
                        onto: onto_text,
                        verdict: report.verdict,
                        errors: report
                            .errors()
                            .filter(|f| f.kind != Kind::CheckFailed)
                            .map(|f| {
                                format!(
                                    "{} {}{}",
                                    f.kind.title(),
                                    f.subject,
                                    f.package
                                        .as_deref()
                                        .filter(|p| *p != f.subject)
                                        .map(|p| format!(" ({p})"))
                                        .unwrap_or_default()
                                )
                            })
                            .collect(),
                        entry: entry.seq,
                    },
                ))
                .await?;
        }
        result
    }

    fn say(&self, step: impl Into<String>) {
        self.progress.event(Event::Rehearsing { step: step.into() });
    }

    async fn run_rehearsal(
        &self,
        req: &Request,
        scope: &Scope,
        onto: Onto<'_>,
        onto_text: &str,
    ) -> Result<Report, EngineError> {
        let started = Instant::now();
        let inventory = &self.config.inventory;
        let role = &scope.role;
        let role_t = Transport::for_host(role, inventory);
        let role_target = Target {
            name: &role.name,
            transport: &role_t,
            limits: limits(),
        };
        let on_role: Vec<(&str, role::Named)> = scope
            .selected
            .iter()
            .chain(&scope.excluded)
            .filter_map(|c| self.config.components.get(c))
            .map(|c| (c.name.as_str(), role::named(c)))
            .collect();
        // Every declared file, with the components that declare it.
        let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in &scope.selected {
            for f in self
                .config
                .components
                .get(c)
                .map(|c| c.files.as_slice())
                .unwrap_or_default()
            {
                declared.entry(f.clone()).or_default().push(c.clone());
            }
        }
        let declared_paths: Vec<String> = declared.keys().cloned().collect();

        self.say(format!(
            "reading {}'s role; bringing up {onto_text}",
            role.name
        ));
        let (read, up) = futures::join!(
            self.read_role(role, &role_target, &on_role, &declared_paths),
            self.bring_up(onto)
        );
        let mut up = up?;
        let read = read?;
        let snapshot = self.keep_snapshot(&role.name, &read.set).await?;
        let prepare = started.elapsed();

        // The role: its packages, less those of the components left out.
        let mut programs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, n) in &on_role {
            for name in &n.processes {
                for p in read.processes.iter().filter(|p| p.is(name)) {
                    if let Some(program) = &p.program {
                        programs
                            .entry(name.clone())
                            .or_default()
                            .insert(program.clone());
                    }
                }
            }
            for name in &n.services {
                for s in read.services.iter().filter(|s| {
                    s.name == *name || s.name.strip_suffix(".service") == Some(name.as_str())
                }) {
                    programs
                        .entry(name.clone())
                        .or_default()
                        .insert(s.path.clone());
                }
            }
        }
        let packages_of = role::attribute(&on_role, &programs, &read.owners);
        let left_out = role::excluded_packages(&packages_of, &scope.selected, &scope.excluded);
        let left_out_names: BTreeSet<String> = left_out.values().flatten().cloned().collect();
        let role_packages = role::role(&read.set, &read.relations, &left_out_names);

        // The new host.
        let new_host = up.host.clone();
        let new_t = Transport::for_host(&new_host, inventory);
        let result = self
            .rebuild(
                RebuildInput {
                    scope,
                    read: &read,
                    role_packages: &role_packages,
                    packages_of: &packages_of,
                    declared: &declared,
                },
                &new_host,
                &new_t,
                &role_t,
            )
            .await;
        new_t.close().await;
        role_t.close().await;
        let mut rebuilt = result?;

        let remove_error = up.finish(req.keep);
        if up.provision.is_some() {
            self.say(if req.keep {
                format!("{} is kept", new_host.name)
            } else if let Some(e) = &remove_error {
                format!("{} could not be removed: {e}", new_host.name)
            } else {
                format!("{} removed", new_host.name)
            });
        }
        rebuilt.timings.prepare_ms = millis(prepare);
        rebuilt.timings.total_ms = millis(started.elapsed());
        let verdict = if rebuilt
            .findings
            .iter()
            .any(|f| f.severity == Severity::Error)
        {
            Verdict::Broken
        } else {
            Verdict::Works
        };
        Ok(Report {
            role: RoleSummary {
                host: role.name.clone(),
                os: read.os.clone(),
                snapshot,
                components: scope.selected.clone(),
                excluded: left_out
                    .into_iter()
                    .map(|(component, packages)| Excluded {
                        component,
                        packages: packages.into_iter().collect(),
                    })
                    .collect(),
                installed: read.set.packages.len(),
            },
            target: TargetSummary {
                host: new_host.name.clone(),
                address: format!("{}:{}", new_host.address, new_host.port),
                what: up.what.clone(),
                os: rebuilt.os,
                manager: rebuilt.manager.name().to_owned(),
                provisioned: up.provision.is_some(),
                kept: up.provision.is_none() || req.keep,
                remove_error,
            },
            packages: rebuilt.packages,
            files: rebuilt.files,
            services: rebuilt.services,
            checks: rebuilt.checks,
            findings: rebuilt.findings,
            verdict,
            timings: rebuilt.timings,
        })
    }

    /// Everything the role host says about the role, at once.
    async fn read_role(
        &self,
        role: &Host,
        t: &Target<'_>,
        on_role: &[(&str, role::Named)],
        declared: &[String],
    ) -> Result<RoleRead, EngineError> {
        let name = role.name.as_str();
        let b = backend_of(role, t)
            .await
            .map_err(|e| env(name, "reading the role", e))?;
        let fail = |e: PkgError| env(name, "reading the role", e);
        let process_names: Vec<String> = on_role
            .iter()
            .flat_map(|(_, n)| n.processes.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (set, relations, os, processes, services, files) = futures::try_join!(
            async { ops::package_set(&b, t).await.map_err(fail) },
            async { b.relations(t).await.map_err(fail) },
            async { Ok(crate::os::read_host(t).await.ok().map(|a| a.os.display())) },
            async {
                host::processes(t.transport, name, &process_names)
                    .await
                    .map_err(fail)
            },
            async { host::services(t.transport, name).await.map_err(fail) },
            async {
                host::read_files(t.transport, name, declared)
                    .await
                    .map_err(fail)
            },
        )?;
        let mut paths: BTreeSet<String> = services.iter().map(|s| s.path.clone()).collect();
        for (_, n) in on_role {
            for p in processes
                .iter()
                .filter(|p| n.processes.iter().any(|x| p.is(x)))
            {
                paths.extend(p.program.clone());
            }
        }
        let paths: Vec<String> = paths.into_iter().filter(|p| p.starts_with('/')).collect();
        let owners = b.owners(t, &paths).await.map_err(fail)?;
        Ok(RoleRead {
            kind: b.manager().kind(),
            set,
            relations,
            os,
            processes,
            services,
            files,
            owners,
        })
    }

    /// The role host's package set, kept as a snapshot: `SNAP-N`.
    async fn keep_snapshot(
        &self,
        host: &str,
        set: &fearless_pkg::PackageSet,
    ) -> Result<String, EngineError> {
        let doc = SnapshotDoc {
            hosts: BTreeMap::from([(host.to_owned(), set.clone())]),
            errors: BTreeMap::new(),
            rollout: None,
        };
        let stored = self
            .store
            .insert_snapshot(
                &serde_json::to_value(&doc)
                    .map_err(|e| EngineError::corrupt(format!("{host}'s snapshot"), e))?,
                record::event(
                    self.actor,
                    "",
                    &record::SnapshotTaken {
                        hosts: vec![host.to_owned()],
                        packages: Some(set.packages.len()),
                        ..record::SnapshotTaken::default()
                    },
                ),
            )
            .await?;
        Ok(format!("SNAP-{}", stored.number))
    }

    /// The host to rebuild on: an inventory host, or one brought up.
    async fn bring_up<'p>(&self, onto: Onto<'p>) -> Result<Up<'p>, EngineError> {
        match onto {
            Onto::Host(name) => {
                let host = self
                    .config
                    .inventory
                    .hosts
                    .get(name)
                    .cloned()
                    .ok_or_else(|| {
                        EngineError::bad_input(format!("unknown host `{name}`"), None)
                    })?;
                Ok(Up {
                    host,
                    what: "an inventory host".into(),
                    provision: None,
                    new: None,
                })
            }
            Onto::New(p) => {
                let new = p.up().await?;
                let host = Host {
                    name: new.name.clone(),
                    address: new.address.clone(),
                    port: new.port,
                    user: new.user.clone(),
                    become_: (new.user != "root").then_some(fearless_config::Become::Sudo),
                    transport: TransportKind::Ssh,
                    package_manager: None,
                    labels: BTreeMap::new(),
                    instance: None,
                    region: None,
                    source: fearless_config::HostSource::Config,
                };
                Ok(Up {
                    host,
                    what: p.describe(),
                    provision: Some(p),
                    new: Some(new),
                })
            }
        }
    }
}

/// What [`Engine::rebuild`] works from.
struct RebuildInput<'a> {
    scope: &'a Scope,
    read: &'a RoleRead,
    role_packages: &'a [role::RolePackage],
    packages_of: &'a BTreeMap<String, BTreeSet<String>>,
    declared: &'a BTreeMap<String, Vec<String>>,
}

/// What the rebuild did.
struct Rebuilt {
    os: Option<String>,
    manager: Manager,
    packages: Vec<PackageOutcome>,
    files: Vec<FileOutcome>,
    services: Vec<ServiceOutcome>,
    checks: Vec<CheckOutcome>,
    findings: Vec<Finding>,
    timings: Timings,
}

impl Engine<'_> {
    /// Install, carry over, start, scan and check on the new host.
    async fn rebuild(
        &self,
        input: RebuildInput<'_>,
        new_host: &Host,
        new_t: &Transport,
        role_t: &Transport,
    ) -> Result<Rebuilt, EngineError> {
        let RebuildInput {
            scope,
            read,
            role_packages,
            packages_of,
            declared,
        } = input;
        let name = new_host.name.as_str();
        let t = Target {
            name,
            transport: new_t,
            limits: limits(),
        };
        let fail = |what: &'static str| move |e: PkgError| env(name, what, e);
        let b = backend_of(new_host, &t)
            .await
            .map_err(fail("finding the package manager"))?;
        let manager = b.manager();
        let os = crate::os::read_host(&t).await.ok().map(|a| a.os.display());

        // Packages.
        let install_started = Instant::now();
        self.say(format!(
            "{name}: {} ({manager}); {} package(s) of {}'s role asked for by name",
            os.as_deref().unwrap_or("an unknown OS"),
            role_packages
                .iter()
                .filter(|p| p.why == Why::Requested)
                .count(),
            scope.role.name
        ));
        b.refresh(&t)
            .await
            .map_err(fail("reading the repositories"))?;
        let names: Vec<String> = role_packages
            .iter()
            .map(|p| p.package.name.clone())
            .collect();
        let (installed, offered, known): (Vec<Installed>, Vec<Offered>, Vec<String>) = futures::try_join!(
            async { b.installed(&t).await.map_err(fail("listing packages")) },
            async {
                b.offered(&t, &names)
                    .await
                    .map_err(fail("reading what is offered"))
            },
            async { b.names(&t).await.map_err(fail("listing package names")) },
        )?;
        let (mut packages, items) = role::plan(
            role_packages,
            read.kind,
            role::NewHost {
                installed: &installed,
                offered: &offered,
                names: &known,
                kind: manager.kind(),
            },
        );
        self.say(format!("{name}: installing {} package(s)", items.len()));
        let install_error = if items.is_empty() {
            None
        } else {
            match b
                .execute(
                    &t,
                    &PkgRequest {
                        install: items,
                        remove: Vec::new(),
                    },
                )
                .await
            {
                Ok(()) => None,
                Err(PkgError::Failed { stderr, status, .. }) => {
                    Some(format!("{stderr} | the package manager: {status}"))
                }
                Err(e) => return Err(env(name, "installing the role", e)),
            }
        };
        let after = b
            .relations(&t)
            .await
            .map_err(fail("reading the packages after the install"))?;
        let now: BTreeMap<&str, &fearless_pkg::Relations> =
            after.iter().map(|r| (r.name.as_str(), r)).collect();
        for p in &mut packages {
            if let Some(r) = now.get(p.name.as_str()) {
                p.installed = Some(r.version.clone());
                p.unconfigured = !r.configured;
            }
        }
        let install = install_started.elapsed();

        // Files, services, the scan.
        let start_started = Instant::now();
        let mut files = Vec::new();
        for (path, components) in declared {
            let (copied, problem, bytes) = match read.files.get(path) {
                Some(host::Read::File {
                    size,
                    mode,
                    owner,
                    group,
                    base64,
                }) => match host::write_file(new_t, name, path, mode, owner, group, base64).await {
                    Ok(problem) => (true, problem, Some(*size)),
                    Err(e) => (false, Some(format!("writing it failed: {e}")), Some(*size)),
                },
                Some(host::Read::Not(why)) => (false, Some(why.clone()), None),
                None => (false, Some("the role host did not say".into()), None),
            };
            files.push(FileOutcome {
                path: path.clone(),
                components: components.clone(),
                bytes,
                copied,
                problem,
            });
        }
        let rebuilt: BTreeSet<&str> = packages
            .iter()
            .filter(|p| {
                p.installed.is_some()
                    && matches!(p.action, Action::Exact { .. } | Action::Closest { .. })
            })
            .map(|p| p.name.as_str())
            .collect();
        let to_start: Vec<(String, String)> = read
            .services
            .iter()
            .filter_map(|s| {
                let owner = read.owners.get(&s.path)?;
                rebuilt
                    .contains(owner.as_str())
                    .then(|| (s.name.clone(), owner.clone()))
            })
            .collect();
        if !to_start.is_empty() {
            self.say(format!(
                "{name}: starting {}",
                to_start
                    .iter()
                    .map(|(s, _)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let services: Vec<ServiceOutcome> =
            futures::future::join_all(to_start.iter().map(|(service, package)| async move {
                match host::start(new_t, name, service).await {
                    Ok(s) => ServiceOutcome {
                        name: service.clone(),
                        package: package.clone(),
                        running: s.running,
                        exit: s.exit,
                        missing: s.missing,
                        log: s.log,
                    },
                    Err(e) => ServiceOutcome {
                        name: service.clone(),
                        package: package.clone(),
                        running: false,
                        exit: None,
                        missing: false,
                        log: vec![format!("starting it failed: {e}")],
                    },
                }
            }))
            .await;
        let scanned: Vec<String> = rebuilt.iter().map(|p| (*p).to_owned()).collect();
        let copied: Vec<String> = files
            .iter()
            .filter(|f| f.copied)
            .map(|f| f.path.clone())
            .collect();
        let named = host::scan(new_t, name, manager.name(), &scanned, &copied)
            .await
            .map_err(fail("scanning the role's files"))?;
        let mut paths: BTreeSet<String> = named.iter().map(|n| n.path.clone()).collect();
        for s in services.iter().filter(|s| !s.running) {
            paths.extend(host::paths_in_log(&s.log));
        }
        let paths: Vec<String> = paths.into_iter().collect();
        let role_name = scope.role.name.as_str();
        let (on_new, on_role) = futures::try_join!(
            async {
                host::exists(new_t, name, &paths)
                    .await
                    .map_err(fail("looking for the paths the role names"))
            },
            async {
                host::exists(role_t, role_name, &paths)
                    .await
                    .map_err(|e| env(role_name, "looking for the paths the role names", e))
            },
        )?;
        let start = start_started.elapsed();

        // The checks, against the new host in the role host's place.
        let checks_started = Instant::now();
        let mut config = self.config.clone();
        let stand_in = Host {
            name: scope.role.name.clone(),
            labels: scope.role.labels.clone(),
            package_manager: Some(match manager {
                Manager::Apt => fearless_config::PackageManager::Apt,
                Manager::Dnf => fearless_config::PackageManager::Dnf,
                Manager::Yum => fearless_config::PackageManager::Yum,
            }),
            ..new_host.clone()
        };
        config.inventory.hosts = [(stand_in.name.clone(), stand_in)].into_iter().collect();
        let set = CheckSet::for_components(
            &config,
            &scope.selected,
            std::slice::from_ref(&scope.role.name),
        )?;
        self.say(format!(
            "{name}: running {} check(s) of {}",
            set.items().len(),
            scope.selected.join(", ")
        ));
        let results = set.run_settled(set.items()).await;
        set.close().await;
        let checks: Vec<CheckOutcome> = results
            .iter()
            .map(|r| CheckOutcome {
                component: r.component.clone(),
                check: r.check.clone(),
                status: r.status.as_str().to_owned(),
                reason: r.reason.map(|x| x.as_str().to_owned()),
                message: r.message.clone(),
            })
            .collect();
        let checks_time = checks_started.elapsed();

        let component_packages: BTreeMap<String, BTreeSet<String>> = packages_of
            .iter()
            .filter(|(c, _)| scope.selected.contains(c))
            .map(|(c, p)| (c.clone(), p.clone()))
            .collect();
        let mut component_files: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (path, components) in declared {
            for c in components {
                component_files
                    .entry(c.clone())
                    .or_default()
                    .push(path.clone());
            }
        }
        let depends_on: BTreeMap<String, Vec<String>> = scope
            .selected
            .iter()
            .filter_map(|c| self.config.components.get(c))
            .map(|c| (c.name.clone(), c.depends_on.clone()))
            .collect();
        let findings = diagnose::findings(&diagnose::Observed {
            role_host: role_name,
            new_host: name,
            packages: &packages,
            install_error: install_error.as_deref(),
            files: &files,
            services: &services,
            named: &named,
            on_new: &on_new,
            on_role: &on_role,
            checks: &checks,
            component_packages: &component_packages,
            component_files: &component_files,
            depends_on: &depends_on,
        });
        Ok(Rebuilt {
            os,
            manager,
            packages,
            files,
            services,
            checks,
            findings,
            timings: Timings {
                install_ms: millis(install),
                start_ms: millis(start),
                checks_ms: millis(checks_time),
                ..Timings::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let yaml = r#"
inventory:
  hosts:
    web-1: { address: 127.0.0.11, labels: { role: web } }
    web-9: { address: 127.0.0.19, labels: { role: spare } }
components:
  checkout:
    runs_on: "role=web"
    depends_on: [orders-api]
    files: [/etc/acme/checkout.conf]
    checks:
      - { name: web process, process: { name: acme-web } }
  orders-api:
    runs_on: "role=web"
    checks:
      - { name: libacme, package: { name: libacme } }
  ledger:
    runs_on: "role=ledger"
    checks:
      - { name: ledger process, process: { name: acme-ledger } }
"#;
        fearless_config::load_str(std::path::Path::new("/tmp/fearless.yaml"), yaml.to_owned())
            .expect("loads")
            .config
    }

    fn req(role: &str, components: &[&str]) -> Request {
        Request {
            role: role.into(),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            keep: false,
            change: None,
        }
    }

    fn bad(r: Result<Scope, EngineError>) -> String {
        match r {
            Err(EngineError::BadInput { message, .. }) => message,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn the_scope_is_the_components_on_the_role_host_less_those_left_out() {
        let c = config();
        let all = scope(&c, &req("web-1", &[]), &Onto::Host("web-9")).expect("valid");
        assert_eq!(all.selected, ["checkout", "orders-api"]);
        assert!(all.excluded.is_empty());
        let some = scope(&c, &req("web-1", &["orders-api"]), &Onto::Host("web-9")).expect("valid");
        assert_eq!(some.selected, ["orders-api"]);
        assert_eq!(some.excluded, ["checkout"]);
    }

    #[test]
    fn bad_requests_are_refused_before_any_host_is_contacted() {
        let c = config();
        assert!(
            bad(scope(&c, &req("web-7", &[]), &Onto::Host("web-9")))
                .contains("unknown host `web-7`")
        );
        assert!(
            bad(scope(&c, &req("web-9", &[]), &Onto::Host("web-1")))
                .contains("no component runs on web-9")
        );
        assert!(
            bad(scope(&c, &req("web-1", &["ledger"]), &Onto::Host("web-9")))
                .contains("does not run on web-1")
        );
        assert!(
            bad(scope(&c, &req("web-1", &["nope"]), &Onto::Host("web-9")))
                .contains("unknown component")
        );
        assert!(
            bad(scope(&c, &req("web-1", &[]), &Onto::Host("web-1")))
                .contains("the role host itself")
        );
        assert!(bad(scope(&c, &req("web-1", &[]), &Onto::Host("db-1"))).contains("--onto"));
    }
}
