//! `status`: what runs in the lab, looked at from the controller (recorded pids, the hosts'
//! PID namespaces, TCP), so it works even when ssh does not.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::procs::Snapshot;
use crate::state::{HostState, State};
use crate::{HostStatus, LabStatus, ServiceStatus, pool, remote};

/// The acme daemon every host with the acme shop runs besides its role's HTTP services.
const AGENT: &str = "acme-agent";

/// Reports the lab in `dir`; a missing lab is `present: false`, a dead host is data.
pub fn status(dir: &Path) -> Result<LabStatus> {
    let Some(state) = State::load(dir)? else {
        return Ok(LabStatus {
            dir: dir.to_owned(),
            present: false,
            port: None,
            hosts: Vec::new(),
        });
    };
    // every process read once, however many hosts; the hosts looked at over TCP in parallel
    let snapshot = Snapshot::take();
    let hosts = pool::map(&state.hosts, pool::PROBE_WORKERS, |h| {
        host_status(h, state.port, &snapshot)
    });
    Ok(LabStatus {
        dir: dir.to_owned(),
        present: true,
        port: Some(state.port),
        hosts,
    })
}

fn host_status(h: &HostState, port: u16, snapshot: &Snapshot) -> HostStatus {
    let init_alive = h.init.is_some_and(|p| p.alive());
    let init = h.init.filter(|_| init_alive);
    // the oldest process of that name in the host's namespace (sshd: the listener, not a
    // session)
    let find = |name: &str| init.and_then(|p| snapshot.oldest_named(p.pid, name));
    let agent = h.role.runs_agent().then_some((AGENT, None));
    let services = h
        .role
        .http_services()
        .iter()
        .map(|(name, port)| (*name, Some(*port)))
        .chain(agent)
        .map(|(name, http_port)| {
            let pid = find(name);
            let healthy = http_port.map(|p| {
                matches!(
                    remote::http_get(
                        SocketAddr::from((h.address, p)),
                        "/health",
                        Duration::from_secs(2)
                    ),
                    Ok((200, _))
                )
            });
            ServiceStatus {
                name,
                running: pid.is_some(),
                pid,
                healthy,
            }
        })
        .collect();
    HostStatus {
        name: h.name.clone(),
        address: h.address,
        packaging: h.packaging,
        init_pid: h.init.map(|p| p.pid),
        init_alive,
        sshd_pid: find("sshd"),
        ssh_reachable: remote::ssh_banner(
            SocketAddr::from((h.address, port)),
            Duration::from_secs(2),
        ),
        services,
        rehearsal: h.rehearsal.clone(),
    }
}
