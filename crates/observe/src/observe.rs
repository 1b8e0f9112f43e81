//! Sampling hosts over a window and merging the samples into an [`Observation`].
//!
//! Every host is sampled repeatedly (all hosts at once, one sample in flight per host), so
//! short per-request connections are caught; samples merge into listeners and connections
//! keyed without their ephemeral ports, each with how many samples saw it. After the
//! window, one query per host names the package of every program seen. An unreachable
//! host is recorded with its error; the others are observed all the same.
//!
//! [`HostAggregate`] is the pure merge; [`observe`] drives it over transports.

use crate::packages::{self, PackageDb};
use crate::parse::{self, Direction, Proc, Sample, SampleStats, TcpState};
use crate::program;
use crate::script;
use fearless_config::Host;
use fearless_exec::{Fleet, Transport};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The version of [`Observation`]'s shape, stored with it.
pub const OBSERVATION_VERSION: u32 = 1;

/// How many distinct pids a process entry keeps (a forking server has many).
pub const MAX_PIDS: usize = 16;

/// After this many failed samples in a row (and none since the last success), a host is
/// no longer sampled.
pub const MAX_FAILURES_IN_A_ROW: u32 = 3;

/// Everything seen on the observed hosts over one window. Stored as JSON and diffed later,
/// so every collection is sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// [`OBSERVATION_VERSION`].
    pub version: u32,
    /// When sampling started.
    pub started_at: jiff::Timestamp,
    /// How long hosts were sampled, in milliseconds.
    pub window_ms: u64,
    /// The pause between the starts of two samples of a host, in milliseconds.
    pub interval_ms: u64,
    /// Per observed host (at least one sample read), by inventory name.
    pub hosts: BTreeMap<String, HostObservation>,
    /// Hosts of which no sample could be read (unreachable, or every sample failed), with
    /// the error.
    pub unreachable: BTreeMap<String, String>,
    /// Notes about the whole observation.
    pub notes: Vec<String>,
}

/// What one host showed over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostObservation {
    /// The inventory address.
    pub address: String,
    /// The addresses taken as the host's own (unowned sockets are kept only on these).
    pub addresses: Vec<IpAddr>,
    /// Samples read.
    pub samples: u32,
    /// Samples that failed (timeout, a script error), with the first error in `notes`.
    pub failed_samples: u32,
    /// Listening sockets.
    pub listeners: Vec<ObservedListener>,
    /// Connections, both directions, without ephemeral ports.
    pub connections: Vec<ObservedConnection>,
    /// The package database that answered, when asked.
    pub package_db: Option<PackageDb>,
    /// Program and executable paths → owning packages (empty: no package owns it).
    pub packages: BTreeMap<String, Vec<String>>,
    /// What the reader should know (unreadable processes, failed samples, …).
    pub notes: Vec<String>,
}

/// A process as an observation keeps it: what identifies it across samples (a restart
/// with a new pid is the same process; a replaced executable is not).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObservedProcess {
    /// `comm`.
    pub name: String,
    /// The script for an interpreter, else the executable.
    pub program: Option<String>,
    /// The executable as the `exe` link read.
    pub exe: Option<String>,
    /// Effective uid.
    pub uid: u32,
    /// Pids seen (at most [`MAX_PIDS`]).
    pub pids: Vec<u32>,
    /// The package owning `program`, when resolved.
    pub package: Option<String>,
    /// The package owning the executable (the interpreter's, for a script).
    pub exe_package: Option<String>,
}

impl ObservedProcess {
    /// What it is called in messages: its program's basename, else its name.
    pub fn label(&self) -> String {
        self.program
            .as_deref()
            .map(program::basename)
            .filter(|b| !b.is_empty())
            .unwrap_or(&self.name)
            .to_owned()
    }
}

/// A listening socket over the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedListener {
    /// Local address (`0.0.0.0` / `::`: every address).
    pub address: IpAddr,
    /// Local port.
    pub port: u16,
    /// The owner, when it could be read.
    pub process: Option<ObservedProcess>,
    /// Samples it was seen in.
    pub samples_seen: u32,
    /// Index of the first sample that saw it (0-based).
    pub first_sample: u32,
    /// Index of the last sample that saw it.
    pub last_sample: u32,
}

/// Connections of one process to one service over the window.
///
/// Outbound: keyed by process, local address, remote address and port (the local port is
/// ephemeral, so `local_port` is `None`). Inbound: by process, local address and port, and
/// remote address (the remote port is ephemeral: `remote_port` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedConnection {
    /// Who connected.
    pub direction: Direction,
    /// The local owner, when it could be read.
    pub process: Option<ObservedProcess>,
    /// Local address.
    pub local_address: IpAddr,
    /// The service port, for an inbound connection.
    pub local_port: Option<u16>,
    /// Remote address.
    pub remote_address: IpAddr,
    /// The service port, for an outbound connection.
    pub remote_port: Option<u16>,
    /// The TCP states seen (a connection only ever seen `syn_sent` never got through).
    pub states: Vec<TcpState>,
    /// Samples it was seen in.
    pub samples_seen: u32,
    /// Index of the first sample that saw it.
    pub first_sample: u32,
    /// Index of the last sample that saw it.
    pub last_sample: u32,
    /// The most sockets of it seen in one sample.
    pub peak: u32,
}

type ProcKey = (String, Option<String>, Option<String>, u32);
type ListenerKey = (IpAddr, u16, Option<ProcKey>);
type ConnKey = (
    Direction,
    Option<ProcKey>,
    IpAddr,
    Option<u16>,
    IpAddr,
    Option<u16>,
);

fn proc_key(p: &Proc) -> ProcKey {
    (p.name.clone(), p.program.clone(), p.exe.clone(), p.uid)
}

fn observed(p: &Proc) -> ObservedProcess {
    ObservedProcess {
        name: p.name.clone(),
        program: p.program.clone(),
        exe: p.exe.clone(),
        uid: p.uid,
        pids: vec![p.pid],
        package: None,
        exe_package: None,
    }
}

fn add_pid(p: &mut Option<ObservedProcess>, from: Option<&Proc>) {
    if let (Some(p), Some(from)) = (p, from)
        && p.pids.len() < MAX_PIDS
        && !p.pids.contains(&from.pid)
    {
        p.pids.push(from.pid);
        p.pids.sort_unstable();
    }
}

/// The merge of one host's samples (pure).
#[derive(Debug, Default)]
pub struct HostAggregate {
    listeners: BTreeMap<ListenerKey, ObservedListener>,
    connections: BTreeMap<ConnKey, ObservedConnection>,
    samples: u32,
    failed: u32,
    failures_in_a_row: u32,
    errors: Vec<String>,
    worst: SampleStats,
    other_notes: BTreeSet<String>,
}

impl HostAggregate {
    /// Merge sample number `index`.
    pub fn add(&mut self, index: u32, sample: &Sample) {
        self.samples += 1;
        self.failures_in_a_row = 0;
        let w = &mut self.worst;
        w.processes = w.processes.max(sample.stats.processes);
        w.not_permitted = w.not_permitted.max(sample.stats.not_permitted);
        w.vanished = w.vanished.max(sample.stats.vanished);
        w.unowned_kept = w.unowned_kept.max(sample.stats.unowned_kept);
        w.unowned_dropped = w.unowned_dropped.max(sample.stats.unowned_dropped);
        w.unnamed = w.unnamed.max(sample.stats.unnamed);
        for note in &sample.notes {
            // Notes with counts are rebuilt from `worst`; keep the others as they are.
            if !note.starts_with(|c: char| c.is_ascii_digit()) {
                self.other_notes.insert(note.clone());
            }
        }
        let mut seen_listeners: BTreeSet<ListenerKey> = BTreeSet::new();
        for l in &sample.listeners {
            let key = (l.address, l.port, l.process.as_ref().map(proc_key));
            let e = self
                .listeners
                .entry(key.clone())
                .or_insert_with(|| ObservedListener {
                    address: l.address,
                    port: l.port,
                    process: l.process.as_ref().map(observed),
                    samples_seen: 0,
                    first_sample: index,
                    last_sample: index,
                });
            add_pid(&mut e.process, l.process.as_ref());
            if seen_listeners.insert(key) {
                e.samples_seen += 1;
                e.last_sample = index;
            }
        }
        let mut in_sample: BTreeMap<ConnKey, u32> = BTreeMap::new();
        for c in &sample.connections {
            let (local_port, remote_port) = match c.direction {
                Direction::Outbound => (None, Some(c.remote.port())),
                Direction::Inbound => (Some(c.local.port()), None),
            };
            let key = (
                c.direction,
                c.process.as_ref().map(proc_key),
                c.local.ip(),
                local_port,
                c.remote.ip(),
                remote_port,
            );
            let e = self
                .connections
                .entry(key.clone())
                .or_insert_with(|| ObservedConnection {
                    direction: c.direction,
                    process: c.process.as_ref().map(observed),
                    local_address: c.local.ip(),
                    local_port,
                    remote_address: c.remote.ip(),
                    remote_port,
                    states: Vec::new(),
                    samples_seen: 0,
                    first_sample: index,
                    last_sample: index,
                    peak: 0,
                });
            add_pid(&mut e.process, c.process.as_ref());
            if !e.states.contains(&c.state) {
                e.states.push(c.state);
                e.states.sort_unstable();
            }
            *in_sample.entry(key).or_insert(0) += 1;
        }
        for (key, n) in in_sample {
            if let Some(e) = self.connections.get_mut(&key) {
                e.samples_seen += 1;
                e.last_sample = index;
                e.peak = e.peak.max(n);
            }
        }
    }

    /// Count a failed sample and keep its error (the first of each text).
    pub fn fail(&mut self, error: String) {
        self.failed += 1;
        self.failures_in_a_row += 1;
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    /// Whether sampling should stop: [`MAX_FAILURES_IN_A_ROW`] failures since the last
    /// success.
    pub fn given_up(&self) -> bool {
        self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW
    }

    /// Samples read so far.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// The distinct program and executable paths seen, for the package query.
    pub fn paths(&self) -> Vec<String> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        let procs = self
            .listeners
            .values()
            .filter_map(|l| l.process.as_ref())
            .chain(self.connections.values().filter_map(|c| c.process.as_ref()));
        for p in procs {
            out.extend(p.program.clone());
            out.extend(p.exe.as_deref().map(|e| program::exe_path(e).to_owned()));
        }
        out.into_iter().filter(|p| packages::askable(p)).collect()
    }

    /// The host's observation, with the packages' answer when there is one.
    pub fn finish(
        self,
        address: String,
        addresses: Vec<IpAddr>,
        answer: Option<packages::Answer>,
        mut notes: Vec<String>,
    ) -> HostObservation {
        let w = self.worst;
        if w.not_permitted > 0 {
            notes.push(format!(
                "{} process{} sockets could not be read (not permitted: another user's, or one even root may not read, such as a container's PID 1): run as root to attribute them",
                w.not_permitted,
                if w.not_permitted == 1 { "'s" } else { "es'" }
            ));
        }
        if w.unowned_kept > 0 {
            notes.push(format!(
                "up to {} socket{} per sample on this host's addresses had no process that could be read",
                w.unowned_kept,
                if w.unowned_kept == 1 { "" } else { "s" }
            ));
        }
        if w.unnamed > 0 {
            notes.push(format!(
                "up to {} socket{} per sample belonged to processes that exited before they could be named",
                w.unnamed,
                if w.unnamed == 1 { "" } else { "s" }
            ));
        }
        notes.extend(self.other_notes);
        if self.failed > 0 {
            notes.push(format!(
                "{} sample{} failed: {}",
                self.failed,
                if self.failed == 1 { "" } else { "s" },
                self.errors.join("; ")
            ));
        }
        let (package_db, owners) = match answer {
            Some(a) => (Some(a.db), a.owners),
            None => (None, BTreeMap::new()),
        };
        let fill = |p: &mut Option<ObservedProcess>| {
            if let Some(p) = p {
                let first = |path: Option<&str>| {
                    path.and_then(|x| owners.get(x))
                        .and_then(|v| v.first())
                        .cloned()
                };
                p.package = first(p.program.as_deref());
                p.exe_package = first(p.exe.as_deref().map(program::exe_path));
            }
        };
        let listeners = self
            .listeners
            .into_values()
            .map(|mut l| {
                fill(&mut l.process);
                l
            })
            .collect();
        let connections = self
            .connections
            .into_values()
            .map(|mut c| {
                fill(&mut c.process);
                c
            })
            .collect();
        HostObservation {
            address,
            addresses,
            samples: self.samples,
            failed_samples: self.failed,
            listeners,
            connections,
            package_db,
            packages: owners,
            notes,
        }
    }
}

/// How to observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long to sample each host.
    pub window: Duration,
    /// Between the starts of two samples of a host ([`DEFAULT_INTERVAL`]).
    pub interval: Duration,
    /// Deadline of one sample on a host.
    pub sample_timeout: Duration,
    /// Deadline of the package query on a host.
    pub packages_timeout: Duration,
}

/// The default pause between the starts of two samples of a host.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);

impl Settings {
    /// Sample for `window` every `interval`, with default deadlines.
    pub fn new(window: Duration, interval: Duration) -> Self {
        Self {
            window,
            interval,
            sample_timeout: Duration::from_secs(20),
            packages_timeout: Duration::from_secs(60),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::new(Duration::from_secs(30), DEFAULT_INTERVAL)
    }
}

/// What [`observe`] reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObserveProgress {
    /// A sample of `host` was read.
    Sampled {
        /// Inventory name.
        host: String,
        /// 0-based sample index.
        index: u32,
        /// How long it took.
        took: Duration,
        /// Listeners in it.
        listeners: usize,
        /// Connections in it.
        connections: usize,
    },
    /// A sample of `host` failed (the host is still sampled, up to
    /// [`MAX_FAILURES_IN_A_ROW`] in a row).
    SampleFailed {
        /// Inventory name.
        host: String,
        /// 0-based sample index.
        index: u32,
        /// What went wrong.
        error: String,
    },
    /// `host` could not be reached: it is no longer sampled.
    Unreachable {
        /// Inventory name.
        host: String,
        /// The transport's error.
        error: String,
    },
    /// The packages of `paths` programs are being asked on `host`.
    Packages {
        /// Inventory name.
        host: String,
        /// How many paths.
        paths: usize,
    },
    /// `host` is done.
    Done {
        /// Inventory name.
        host: String,
        /// Samples read.
        samples: u32,
    },
}

/// Observe `hosts` (each with its transport) for `settings.window`.
pub async fn observe(
    hosts: &[(&Host, &Transport)],
    settings: Settings,
    progress: impl Fn(ObserveProgress),
) -> Observation {
    let started_at = jiff::Timestamp::now();
    let progress = &progress;
    let runs = hosts.iter().map(|(host, t)| async move {
        (
            host.name.clone(),
            observe_host(host, t, settings, progress).await,
        )
    });
    let results = futures::future::join_all(runs).await;
    let mut obs = Observation {
        version: OBSERVATION_VERSION,
        started_at,
        window_ms: u64::try_from(settings.window.as_millis()).unwrap_or(u64::MAX),
        interval_ms: u64::try_from(settings.interval.as_millis()).unwrap_or(u64::MAX),
        hosts: BTreeMap::new(),
        unreachable: BTreeMap::new(),
        notes: Vec::new(),
    };
    for (name, r) in results {
        match r {
            Ok(h) => {
                obs.hosts.insert(name, h);
            }
            Err(e) => {
                obs.unreachable.insert(name, e);
            }
        }
    }
    obs
}

/// [`observe`] the `hosts` of a [`Fleet`] (without its concurrency limit: every host is
/// sampled at once); a host without a transport is unreachable.
pub async fn observe_fleet(
    fleet: &Fleet,
    hosts: &[&Host],
    settings: Settings,
    progress: impl Fn(ObserveProgress),
) -> Observation {
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    for h in hosts {
        match fleet.transport(&h.name) {
            Some(t) => targets.push((*h, t)),
            None => missing.push(h.name.clone()),
        }
    }
    let mut obs = observe(&targets, settings, progress).await;
    for name in missing {
        obs.unreachable
            .insert(name, "not in the fleet's inventory".to_owned());
    }
    obs
}

/// The host's own addresses: its inventory address, read as an IP or looked up.
async fn own_addresses(address: &str, notes: &mut Vec<String>) -> Vec<IpAddr> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        return vec![ip];
    }
    let lookup = tokio::net::lookup_host((address, 0));
    match tokio::time::timeout(Duration::from_secs(5), lookup).await {
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.sort();
            ips.dedup();
            ips
        }
        Ok(Err(e)) => {
            notes.push(format!(
                "the address `{address}` could not be looked up ({e}): sockets without a readable process are left out"
            ));
            Vec::new()
        }
        Err(_) => {
            notes.push(format!(
                "the address `{address}` could not be looked up in 5s: sockets without a readable process are left out"
            ));
            Vec::new()
        }
    }
}

async fn observe_host(
    host: &Host,
    t: &Transport,
    settings: Settings,
    progress: &impl Fn(ObserveProgress),
) -> Result<HostObservation, String> {
    let mut notes = Vec::new();
    let own = own_addresses(&host.address, &mut notes).await;
    let argv = script::sample_argv();
    let mut agg = HostAggregate::default();
    let start = Instant::now();
    let mut index: u32 = 0;
    loop {
        let t0 = Instant::now();
        match t.run(&argv, settings.sample_timeout).await {
            Err(e) if e.is_transport() => {
                let error = e.to_string();
                progress(ObserveProgress::Unreachable {
                    host: host.name.clone(),
                    error: error.clone(),
                });
                if agg.samples() == 0 {
                    return Err(error);
                }
                notes.push(format!(
                    "the host could not be reached after {} samples: {error}",
                    agg.samples()
                ));
                break;
            }
            Err(e) => fail(&mut agg, host, index, e.to_string(), progress),
            Ok(out) => match read_sample(&out, &own) {
                Ok(sample) => {
                    progress(ObserveProgress::Sampled {
                        host: host.name.clone(),
                        index,
                        took: t0.elapsed(),
                        listeners: sample.listeners.len(),
                        connections: sample.connections.len(),
                    });
                    agg.add(index, &sample);
                }
                Err(error) => fail(&mut agg, host, index, error, progress),
            },
        }
        index = index.saturating_add(1);
        if agg.given_up() {
            notes.push(format!(
                "sampling stopped after {MAX_FAILURES_IN_A_ROW} failures in a row"
            ));
            break;
        }
        if start.elapsed() >= settings.window {
            break;
        }
        let next = (t0 + settings.interval).min(start + settings.window);
        tokio::time::sleep_until(next.into()).await;
    }
    let done = || {
        progress(ObserveProgress::Done {
            host: host.name.clone(),
            samples: agg.samples(),
        });
    };
    if agg.samples() == 0 {
        done();
        return Err(agg
            .errors
            .first()
            .cloned()
            .unwrap_or_else(|| "no sample could be read".to_owned()));
    }
    let answer = packages_of(host, t, &agg.paths(), settings, progress, &mut notes).await;
    done();
    Ok(agg.finish(host.address.clone(), own, answer, notes))
}

fn fail(
    agg: &mut HostAggregate,
    host: &Host,
    index: u32,
    error: String,
    progress: &impl Fn(ObserveProgress),
) {
    progress(ObserveProgress::SampleFailed {
        host: host.name.clone(),
        index,
        error: error.clone(),
    });
    agg.fail(error);
}

/// Read one sample's output: the script must have run to its end and exited 0, its
/// answer uncut.
pub fn read_sample(out: &fearless_exec::Output, own: &[IpAddr]) -> Result<Sample, String> {
    if out.stdout_truncated {
        return Err(format!(
            "the sample was cut at {} bytes ({} raises the cap)",
            out.stdout.len(),
            fearless_exec::MAX_OUTPUT_ENV
        ));
    }
    if !out.success() {
        let code = out
            .code
            .map_or_else(|| "a signal".to_owned(), |c| format!("exit {c}"));
        return Err(format!(
            "the sample script failed ({code}): {}",
            first_line(&out.stderr_str())
        ));
    }
    parse::parse(&out.stdout_str(), own).map_err(|e| e.to_string())
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(160)
        .collect()
}

async fn packages_of(
    host: &Host,
    t: &Transport,
    paths: &[String],
    settings: Settings,
    progress: &impl Fn(ObserveProgress),
    notes: &mut Vec<String>,
) -> Option<packages::Answer> {
    let q = packages::queries(paths);
    progress(ObserveProgress::Packages {
        host: host.name.clone(),
        paths: paths.len(),
    });
    let said = match t
        .run(&script::packages_argv(&q.args), settings.packages_timeout)
        .await
    {
        Ok(out) if out.stdout_truncated => {
            Err(format!("the answer was cut at {} bytes", out.stdout.len()))
        }
        Ok(out) => packages::parse(&out.stdout_str(), &q).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match said {
        Ok(a) => {
            if a.db == PackageDb::None {
                notes.push(
                    "neither dpkg nor rpm was found: programs are not named by package".into(),
                );
            }
            Some(a)
        }
        Err(e) => {
            notes.push(format!(
                "the packages of the programs seen could not be asked: {e}"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Connection, Listener};

    fn proc_(pid: u32) -> Proc {
        Proc {
            pid,
            uid: 33,
            name: "acme-api".into(),
            exe: Some("/usr/bin/python3.11".into()),
            program: Some("/usr/sbin/acme-api".into()),
        }
    }

    fn out(local_port: u16, pid: u32) -> Connection {
        Connection {
            local: SocketAddr::from(([10, 0, 0, 2], local_port)),
            remote: SocketAddr::from(([10, 0, 0, 3], 5432)),
            state: TcpState::Established,
            direction: Direction::Outbound,
            process: Some(proc_(pid)),
        }
    }

    fn sample(conns: Vec<Connection>, not_permitted: u32) -> Sample {
        Sample {
            listeners: vec![Listener {
                address: IpAddr::from([0, 0, 0, 0]),
                port: 9090,
                process: Some(proc_(7)),
            }],
            connections: conns,
            notes: Vec::new(),
            stats: SampleStats {
                not_permitted,
                ..SampleStats::default()
            },
        }
    }

    use std::net::SocketAddr;

    #[test]
    fn samples_merge_without_their_ephemeral_ports() {
        let mut agg = HostAggregate::default();
        agg.add(0, &sample(vec![out(40001, 7), out(40002, 7)], 0));
        agg.add(1, &sample(vec![], 2));
        agg.add(2, &sample(vec![out(40003, 8)], 1));
        agg.fail("timeout".into());
        assert_eq!(agg.paths(), ["/usr/bin/python3.11", "/usr/sbin/acme-api"]);
        let answer = packages::Answer {
            db: PackageDb::Dpkg,
            owners: [
                ("/usr/sbin/acme-api".to_owned(), vec!["acme-api".to_owned()]),
                (
                    "/usr/bin/python3.11".to_owned(),
                    vec!["python3.11-minimal".to_owned()],
                ),
            ]
            .into(),
        };
        let h = agg.finish("10.0.0.2".into(), vec![], Some(answer), vec![]);
        assert_eq!((h.samples, h.failed_samples), (3, 1));
        assert_eq!(h.connections.len(), 1, "{:?}", h.connections);
        let c = &h.connections[0];
        assert_eq!(
            (c.samples_seen, c.first_sample, c.last_sample, c.peak),
            (2, 0, 2, 2)
        );
        assert_eq!((c.local_port, c.remote_port), (None, Some(5432)));
        let p = c.process.as_ref().expect("process");
        assert_eq!(p.pids, [7, 8], "a restart is the same process");
        assert_eq!(p.package.as_deref(), Some("acme-api"));
        assert_eq!(p.exe_package.as_deref(), Some("python3.11-minimal"));
        assert_eq!(h.listeners.len(), 1);
        assert_eq!(h.listeners[0].samples_seen, 3);
        assert_eq!(
            h.notes,
            [
                "2 processes' sockets could not be read (not permitted: another user's, or one even root may not read, such as a container's PID 1): run as root to attribute them",
                "1 sample failed: timeout"
            ]
        );
    }

    #[test]
    fn failures_in_a_row_give_up() {
        let mut agg = HostAggregate::default();
        for _ in 0..MAX_FAILURES_IN_A_ROW - 1 {
            agg.fail("x".into());
        }
        assert!(!agg.given_up());
        agg.add(0, &sample(vec![], 0));
        agg.fail("x".into());
        assert!(!agg.given_up(), "a success resets the count");
        agg.fail("x".into());
        agg.fail("x".into());
        assert!(agg.given_up());
    }
}
