//! `up`: builds the lab (cached root, repository, hosts, config files, acme shop installed
//! and answering), or reports the lab that already runs.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::catalog::{INITIAL, PackageVersion};
use crate::error::{LabError, Result};
use crate::host::{self, HostSpec};
use crate::progress::{Progress, Step};
use crate::render::{self, HostEntry};
use crate::state::{HostPaths, HostState, State};
use crate::topology::{self, PAYMENTS, Topology};
use crate::{
    BringUp, Lab, LabHost, MAX_HOSTS, MAX_LIGHT_HOSTS, Packaging, UpOptions, down, payments, pool,
    procs, remote, repo, rootfs, rpmrepo, rpmroot, sys,
};

/// How long the acme shop of a host may take to answer after installation.
const SERVICES_READY: Duration = Duration::from_secs(30);

/// Builds and starts the lab described by `opts`. Idempotent: when the lab already runs
/// with the same hosts, it is reported (`Lab::already_running`) and left alone;
/// a lab left broken by a crash is torn down and rebuilt. Hosts start
/// [`pool::HOST_WORKERS`] at a time.
pub fn up(opts: &UpOptions, progress: &mut dyn FnMut(Progress)) -> Result<Lab> {
    let started = Instant::now();
    progress(Progress::new(
        Step::Prerequisites,
        0,
        1,
        "root, programs, options",
    ));
    validate(opts)?;
    sys::require_root()?;
    for tool in sys::TOOLS {
        sys::require_tool(*tool)?;
    }
    if opts.rpm_host {
        for tool in sys::RPM_TOOLS {
            sys::require_tool(*tool)?;
        }
    }
    if !rootfs::is_cached(&opts.cache_dir) {
        sys::require_tool(sys::DEBOOTSTRAP)?;
    }
    sys::create_dir_all(&opts.dir)?;
    sys::create_dir_all(&opts.cache_dir)?;
    let dir = canonical(&opts.dir)?;
    let cache_dir = canonical(&opts.cache_dir)?;
    if opts.rpm_host {
        rpmrepo::check_path(&dir)?;
    }
    let _lock = sys::DirLock::acquire(&dir)?;
    progress(Progress::new(Step::Prerequisites, 1, 1, "ok"));

    if let Some(state) = State::load(&dir).ok().flatten()
        && running(&state)
    {
        if state.topology != opts.topology {
            return Err(LabError::TopologyMismatch {
                dir,
                running: state.topology,
                requested: opts.topology,
            });
        }
        let (running_hosts, running_rpm) = state.shape();
        if opts.topology == Topology::Flat && running_hosts != opts.hosts {
            return Err(LabError::HostCountMismatch {
                dir,
                running: running_hosts,
                requested: opts.hosts,
            });
        }
        if running_rpm != opts.rpm_host {
            return Err(LabError::RpmHostMismatch {
                dir,
                running: running_rpm,
            });
        }
        if state.light() != opts.light {
            return Err(LabError::LightMismatch {
                dir,
                running: state.light(),
            });
        }
        progress(Progress::new(
            Step::AlreadyRunning,
            1,
            1,
            format!("{} hosts", state.hosts.len()),
        ));
        return Ok(lab(&dir, &state, None));
    }
    // Whatever is left from a crashed or stopped lab goes first.
    down::teardown(&dir, progress)?;

    let cached = rootfs::is_cached(&cache_dir);
    progress(Progress::new(
        Step::BuildRoot,
        0,
        1,
        if cached {
            "cached".to_owned()
        } else {
            "debootstrap bookworm (once; about a minute)".to_owned()
        },
    ));
    let root = rootfs::ensure(&cache_dir)?;
    progress(Progress::new(
        Step::BuildRoot,
        1,
        1,
        root.display().to_string(),
    ));

    let rpm_root = if opts.rpm_host {
        let cached = rpmroot::is_cached(&cache_dir);
        progress(Progress::new(
            Step::BuildRpmRoot,
            0,
            1,
            if cached {
                "cached".to_owned()
            } else {
                "Debian root + dnf and rpm (once; about half a minute)".to_owned()
            },
        ));
        let build = dir.join("build");
        sys::create_dir_all(&build)?;
        let rpm_root = rpmroot::ensure(&cache_dir, &root, &build)?;
        progress(Progress::new(
            Step::BuildRpmRoot,
            1,
            1,
            rpm_root.display().to_string(),
        ));
        Some(rpm_root)
    } else {
        None
    };

    let key = ensure_key(&dir)?;
    let repo_dir = build_repo(&dir, opts.topology, progress)?;
    let rpm_repo_dir = if opts.rpm_host {
        Some(build_rpm_repo(&dir, progress)?)
    } else {
        None
    };
    let plan = crate::plan_for(opts);
    check_capacity(plan.len())?;
    check_service_ports(&plan, opts.topology)?;
    let port = choose_port(opts, &plan)?;

    let mut state = State::new(root.clone(), rpm_root.clone(), port, opts.topology);
    // every host recorded up front, in the plan's order (they start in any order)
    state.hosts = plan
        .iter()
        .map(|h| HostState {
            name: h.name.clone(),
            address: h.address,
            packaging: h.packaging,
            role: h.role,
            overlay: false,
            unshare: None,
            init: None,
            rehearsal: None,
        })
        .collect();
    state.save(&dir)?;
    let state = Mutex::new(state);
    let hosts_started = Instant::now();
    let roots = Roots {
        dir: &dir,
        root: &root,
        repo: &repo_dir,
        rpm: rpm_root.as_deref().zip(rpm_repo_dir.as_deref()),
        key: &key,
        port,
    };
    start_hosts(&roots, &plan, &state, progress)?;
    let hosts_secs = hosts_started.elapsed().as_secs_f64();
    let mut state = state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);

    progress(Progress::new(
        Step::WriteConfig,
        0,
        1,
        "ssh_config, known_hosts, fearless.yaml",
    ));
    write_config(&dir, port, &plan, opts.topology)?;
    crate::feed::write(&dir)?;
    progress(Progress::new(
        Step::WriteConfig,
        1,
        1,
        dir.join("fearless.yaml").display().to_string(),
    ));

    if opts.topology == Topology::Tiered {
        progress(Progress::new(
            Step::StartPayments,
            0,
            1,
            format!("http://{PAYMENTS}"),
        ));
        payments::start(&dir, &root, &mut state)?;
        progress(Progress::new(Step::StartPayments, 1, 1, "answers"));
    }
    if !opts.light {
        install_everywhere(&dir, &plan, progress)?;
        wait_for_services(&dir, &plan, progress)?;
    }
    Ok(lab(
        &dir,
        &state,
        Some(BringUp {
            total_secs: started.elapsed().as_secs_f64(),
            hosts_secs,
            workers: pool::HOST_WORKERS,
        }),
    ))
}

/// What every host of a lab starts from.
struct Roots<'a> {
    dir: &'a Path,
    /// The Debian root and the apt repository.
    root: &'a Path,
    repo: &'a Path,
    /// The RPM root and the RPM repository, when there is an RPM host.
    rpm: Option<(&'a Path, &'a Path)>,
    /// The public key root logs in with.
    key: &'a str,
    port: u16,
}

/// Starts the hosts of `plan`, [`pool::HOST_WORKERS`] at a time; the first failure stops
/// the starting of more hosts and is returned once the hosts being started are done (what
/// was started is recorded in `state`, for `down`).
fn start_hosts(
    roots: &Roots<'_>,
    plan: &[LabHost],
    state: &Mutex<State>,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let total = plan.len();
    let port = roots.port;
    progress(Progress::new(
        Step::StartHost,
        0,
        total,
        format!("{} at a time", pool::HOST_WORKERS.min(total)),
    ));
    let mut done = 0;
    let results = pool::run(
        plan,
        pool::HOST_WORKERS,
        |h| {
            let (root, repo) = match (h.packaging, roots.rpm) {
                (Packaging::Rpm, Some(rpm)) => rpm,
                _ => (roots.root, roots.repo),
            };
            let acme_conf = topology::acme_conf(h, plan);
            let spec = HostSpec {
                dir: roots.dir,
                root,
                repo,
                packaging: h.packaging,
                name: &h.name,
                address: h.address,
                port,
                authorized_key: roots.key,
                role: h.role,
                acme_conf: &acme_conf,
            };
            host::start(&spec, state)
        },
        Result::is_err,
        |i, result| {
            done += 1;
            let (name, address) = (&plan[i].name, plan[i].address);
            let message = match result {
                Ok(()) => format!("{address}:{port}"),
                Err(_) => format!("{address}:{port} failed"),
            };
            progress(Progress::new(Step::StartHost, done, total, message).host(name));
        },
    );
    if let Some(e) = results.into_iter().flatten().find_map(Result::err) {
        return Err(e);
    }
    progress(Progress::new(Step::StartHost, total, total, "all sshd up"));
    Ok(())
}

/// Fails before anything starts when the machine's limits cannot hold `hosts` hosts: their
/// processes (and their ssh sessions) against `kernel.pid_max`, and each host's mount
/// namespace, which copies every mount of the machine made before it, against
/// `fs.mount-max` (a limit per namespace).
fn check_capacity(hosts: usize) -> Result<()> {
    // init, sshd, a sleeping `sleep` and unshare outside; an ssh session adds three more
    const PROCESSES_PER_HOST: u64 = 8;
    const HEADROOM: u64 = 2000;
    let hosts = u64::try_from(hosts).unwrap_or(u64::MAX);
    let running = u64::try_from(sys::all_pids().len()).unwrap_or(0);
    let need = hosts
        .saturating_mul(PROCESSES_PER_HOST)
        .saturating_add(HEADROOM)
        .saturating_add(running);
    let pid_max = u64::from(sys::pid_max());
    if need > pid_max {
        return Err(LabError::Capacity {
            what: "kernel.pid_max".into(),
            limit: pid_max,
            need,
            sysctl: format!("sysctl -w kernel.pid_max={}", need.next_power_of_two()),
        });
    }
    let mounts = u64::try_from(sys::mounts_under(Path::new("/"))?.len()).unwrap_or(0);
    let per_namespace = mounts.saturating_add(hosts).saturating_add(16);
    if let Some(mount_max) = sys::read_number("/proc/sys/fs/mount-max")
        && per_namespace > mount_max
    {
        return Err(LabError::Capacity {
            what: "fs.mount-max".into(),
            limit: mount_max,
            need: per_namespace,
            sysctl: format!(
                "sysctl -w fs.mount-max={}",
                per_namespace.next_power_of_two()
            ),
        });
    }
    Ok(())
}

fn validate(opts: &UpOptions) -> Result<()> {
    if opts.topology == Topology::Tiered && opts.rpm_host {
        return Err(LabError::InvalidOptions(
            "the tiered lab has no RPM host: use --rpm-host with the flat topology".into(),
        ));
    }
    if opts.light && (opts.rpm_host || opts.topology != Topology::Flat) {
        return Err(LabError::InvalidOptions(
            "a light lab is flat and has no RPM host: its hosts run no acme shop".into(),
        ));
    }
    let max = if opts.light {
        MAX_LIGHT_HOSTS
    } else {
        MAX_HOSTS - usize::from(opts.rpm_host)
    };
    if opts.hosts == 0 || opts.hosts > max {
        let light = if opts.light {
            ""
        } else {
            " (more with --light: hosts without the acme shop)"
        };
        return Err(LabError::InvalidOptions(format!(
            "the number of hosts must be between 1 and {max}{light}, not {}",
            opts.hosts
        )));
    }
    if opts.port == 0 || opts.fallback_port == Some(0) {
        return Err(LabError::InvalidOptions(
            "the sshd port must not be 0".into(),
        ));
    }
    Ok(())
}

fn canonical(path: &Path) -> Result<PathBuf> {
    fs::canonicalize(path).map_err(|e| LabError::io(format!("resolve {}", path.display()), e))
}

/// Every recorded host has a live init and an sshd that answers (asked in parallel).
pub(crate) fn running(state: &State) -> bool {
    let fleet: Vec<_> = state.fleet().collect();
    !fleet.is_empty()
        && pool::map(&fleet, pool::PROBE_WORKERS, |h| {
            h.init.is_some_and(|p| p.alive())
                && remote::ssh_banner(
                    SocketAddr::from((h.address, state.port)),
                    Duration::from_secs(2),
                )
        })
        .into_iter()
        .all(|up| up)
}

/// The lab of `state`; `bring_up` is `None` when `up` found it running.
fn lab(dir: &Path, state: &State, bring_up: Option<BringUp>) -> Lab {
    Lab {
        dir: dir.to_owned(),
        config: dir.join("fearless.yaml"),
        ssh_config: dir.join("ssh_config"),
        key: dir.join("id_ed25519"),
        root: state.root.clone(),
        rpm_root: state.rpm_root.clone(),
        port: state.port,
        hosts: state
            .fleet()
            .map(|h| LabHost {
                name: h.name.clone(),
                address: h.address,
                packaging: h.packaging,
                role: h.role,
            })
            .collect(),
        topology: state.topology,
        payments: (state.topology == Topology::Tiered).then_some(PAYMENTS),
        already_running: bring_up.is_none(),
        light: state.light(),
        bring_up,
        footprint: procs::footprint(state),
    }
}

/// The lab key pair; returns the public key line for `authorized_keys`.
pub(crate) fn ensure_key(dir: &Path) -> Result<String> {
    let key = dir.join("id_ed25519");
    let public = dir.join("id_ed25519.pub");
    if !key.exists() || !public.exists() {
        sys::remove_file_if_exists(&key)?;
        sys::remove_file_if_exists(&public)?;
        sys::run(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "fearless-lab", "-f"])
                .arg(&key),
            "generate the lab ssh key",
        )?;
    }
    fs::read_to_string(&public).map_err(|e| LabError::io(format!("read {}", public.display()), e))
}

/// Builds the initial versions (and, for the tiered lab, the ledger) into `DIR/repo` and
/// indexes it.
fn build_repo(dir: &Path, shape: Topology, progress: &mut dyn FnMut(Progress)) -> Result<PathBuf> {
    let repo_dir = dir.join("repo");
    let build = dir.join("build");
    sys::create_dir_all(&repo_dir)?;
    sys::create_dir_all(&build)?;
    let mut wanted = INITIAL.to_vec();
    if shape == Topology::Tiered {
        wanted.push(topology::LEDGER);
    }
    for (i, pv) in wanted.iter().enumerate() {
        progress(Progress::new(
            Step::BuildPackages,
            i,
            wanted.len(),
            pv.to_string(),
        ));
        repo::ensure_deb(*pv, &build, &repo_dir)?;
    }
    repo::index(&repo_dir)?;
    progress(Progress::new(
        Step::BuildPackages,
        wanted.len(),
        wanted.len(),
        repo_dir.display().to_string(),
    ));
    Ok(repo_dir)
}

/// Builds the initial versions as RPMs into `DIR/rpmrepo` and indexes it.
pub(crate) fn build_rpm_repo(dir: &Path, progress: &mut dyn FnMut(Progress)) -> Result<PathBuf> {
    let repo_dir = dir.join("rpmrepo");
    let build = dir.join("build");
    sys::create_dir_all(&repo_dir)?;
    for (i, pv) in INITIAL.iter().enumerate() {
        progress(Progress::new(
            Step::BuildRpms,
            i,
            INITIAL.len(),
            pv.rpm_spec(),
        ));
        rpmrepo::ensure_rpm(*pv, &build, &repo_dir)?;
    }
    rpmrepo::index(&repo_dir)?;
    progress(Progress::new(
        Step::BuildRpms,
        INITIAL.len(),
        INITIAL.len(),
        repo_dir.display().to_string(),
    ));
    Ok(repo_dir)
}

/// `opts.port`, unless something holds it on a lab address: then the fallback port.
fn choose_port(opts: &UpOptions, plan: &[LabHost]) -> Result<u16> {
    let taken = |port: u16| {
        plan.iter()
            .find(|h| TcpListener::bind(SocketAddr::from((h.address, port))).is_err())
    };
    let Some(first) = taken(opts.port) else {
        return Ok(opts.port);
    };
    match opts.fallback_port {
        Some(fallback) if fallback != opts.port => match taken(fallback) {
            None => Ok(fallback),
            Some(h) => Err(LabError::PortTaken {
                address: h.address,
                port: fallback,
            }),
        },
        _ => Err(LabError::PortTaken {
            address: first.address,
            port: opts.port,
        }),
    }
}

/// Each host's acme services bind their ports on its address; the tiered lab's payments
/// provider binds its own.
fn check_service_ports(plan: &[LabHost], shape: Topology) -> Result<()> {
    for h in plan {
        for (service, port) in h.role.http_services() {
            if TcpListener::bind(SocketAddr::from((h.address, *port))).is_err() {
                return Err(LabError::ServicePortTaken {
                    address: h.address,
                    port: *port,
                    service,
                });
            }
        }
    }
    if shape == Topology::Tiered && TcpListener::bind(SocketAddr::from(PAYMENTS)).is_err() {
        return Err(LabError::ServicePortTaken {
            address: *PAYMENTS.ip(),
            port: PAYMENTS.port(),
            service: "payments",
        });
    }
    Ok(())
}

fn write_config(dir: &Path, port: u16, plan: &[LabHost], shape: Topology) -> Result<()> {
    let entries: Vec<HostEntry> = plan
        .iter()
        .map(|h| HostEntry {
            name: h.name.clone(),
            address: h.address,
            packaging: h.packaging,
            role: h.role,
        })
        .collect();
    write_ssh_files(dir, port, &entries)?;
    sys::write_atomic(
        &dir.join("fearless.yaml"),
        render::fearless_yaml(port, &entries, shape).as_bytes(),
        0o644,
    )
}

/// `known_hosts` (each host's keys, read from its overlay) and `ssh_config` for `entries`.
pub(crate) fn write_ssh_files(dir: &Path, port: u16, entries: &[HostEntry]) -> Result<()> {
    let mut known = String::new();
    for h in entries {
        let keys = host::public_host_keys(&HostPaths::new(dir, &h.name).merged)?;
        known.push_str(&render::known_hosts(port, h, &keys));
    }
    sys::write_atomic(&dir.join("known_hosts"), known.as_bytes(), 0o644)?;
    sys::write_atomic(
        &dir.join("ssh_config"),
        render::ssh_config(dir, port, entries).as_bytes(),
        0o644,
    )
}

/// Installs the initial acme shop on every host, [`pool::HOST_WORKERS`] at a time, from
/// inside the host (over ssh), so that the services the packages start live in the host's
/// namespaces.
fn install_everywhere(
    dir: &Path,
    plan: &[LabHost],
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let total = plan.len();
    progress(Progress::new(
        Step::InstallPackages,
        0,
        total,
        format!("{} packages", INITIAL.len()),
    ));
    let mut done = 0;
    let results = pool::run(
        plan,
        pool::HOST_WORKERS,
        |h| match h.packaging {
            Packaging::Deb => install(dir, &h.name, &h.role.initial()),
            Packaging::Rpm => install_rpm(dir, &h.name, &h.role.initial()),
        },
        Result::is_err,
        |i, result| {
            done += 1;
            let message = if result.is_ok() {
                "installed"
            } else {
                "failed"
            };
            progress(
                Progress::new(Step::InstallPackages, done, total, message).host(&plan[i].name),
            );
        },
    );
    match results.into_iter().flatten().find_map(Result::err) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn install(dir: &Path, host: &str, packages: &[PackageVersion]) -> Result<()> {
    const APT: &[&str] = &[
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "-q",
        "-y",
    ];
    let update: Vec<&str> = APT.iter().copied().chain(["update"]).collect();
    remote::run(dir, host, &update, "update the package lists")?;
    let wanted: Vec<String> = packages.iter().map(ToString::to_string).collect();
    let install: Vec<&str> = APT
        .iter()
        .copied()
        .chain(["-o", "Dpkg::Options::=--force-confold", "install"])
        .chain(wanted.iter().map(String::as_str))
        .collect();
    remote::run(dir, host, &install, "install the acme shop")?;
    Ok(())
}

/// Installs exact versions with dnf (`dnf -y install libacme-1.0 …`): on the RPM host the
/// acme shop belongs to rpm only.
fn install_rpm(dir: &Path, host: &str, packages: &[PackageVersion]) -> Result<()> {
    let wanted: Vec<String> = packages.iter().map(PackageVersion::rpm_spec).collect();
    let install: Vec<&str> = ["dnf", "-y", "install"]
        .into_iter()
        .chain(wanted.iter().map(String::as_str))
        .collect();
    remote::run(dir, host, &install, "install the acme shop with dnf")?;
    Ok(())
}

/// Waits until every host's role answers its readiness request with 200 (`/checkout` of a
/// front end needs acme-web, acme-api and libacme — and in the tiered lab the ledger and
/// the payments provider — all working).
fn wait_for_services(
    dir: &Path,
    plan: &[LabHost],
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    for (i, h) in plan.iter().enumerate() {
        let Some((port, path)) = h.role.readiness() else {
            continue;
        };
        progress(
            Progress::new(Step::WaitServices, i, plan.len(), format!("GET {path}")).host(&h.name),
        );
        let started = Instant::now();
        let last = loop {
            let last = match remote::http_get(
                SocketAddr::from((h.address, port)),
                path,
                Duration::from_secs(3),
            ) {
                Ok((200, _)) => break None,
                Ok((code, body)) => format!("GET {path} answered {code}: {}", body.trim()),
                Err(e) => format!("GET {path} failed: {e}"),
            };
            if started.elapsed() > SERVICES_READY {
                break Some(last);
            }
            thread::sleep(Duration::from_millis(200));
        };
        if let Some(detail) = last {
            let logs = HostPaths::new(dir, &h.name).merged.join("var/log/acme");
            let log = h
                .role
                .http_services()
                .iter()
                .map(|(service, _)| {
                    let f = format!("{service}.log");
                    format!("{f}:\n{}", sys::tail_file(&logs.join(&f), 10))
                })
                .collect::<Vec<_>>()
                .join("\n");
            return Err(LabError::ServiceNotReady {
                host: h.name.clone(),
                secs: started.elapsed().as_secs(),
                detail,
                log,
            });
        }
    }
    progress(Progress::new(
        Step::WaitServices,
        plan.len(),
        plan.len(),
        "every host answers",
    ));
    Ok(())
}
