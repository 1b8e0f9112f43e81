//! `status`: what runs in the lab, looked at from the controller (recorded pids, the hosts'
//! PID namespaces, TCP), so it works even when ssh does not.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::state::{HostState, State};
use crate::{HostStatus, LabStatus, ServiceStatus, remote, sys};

/// The acme daemon every host runs besides its role's HTTP services.
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
    let hosts = state
        .hosts
        .iter()
        .map(|h| host_status(h, state.port))
        .collect();
    Ok(LabStatus {
        dir: dir.to_owned(),
        present: true,
        port: Some(state.port),
        hosts,
    })
}

fn host_status(h: &HostState, port: u16) -> HostStatus {
    let init_alive = h.init.is_some_and(|p| p.alive());
    let namespace = h
        .init
        .filter(|_| init_alive)
        .and_then(|p| sys::pid_namespace(p.pid));
    // the oldest process of that name in the host's namespace (sshd: the listener, not a
    // session)
    let find = |name: &str| {
        let ns = namespace.as_ref()?;
        sys::all_pids()
            .into_iter()
            .filter_map(|pid| sys::proc_stat(pid).map(|s| (pid, s)))
            .filter(|(pid, s)| {
                s.comm == name && s.state != 'Z' && sys::pid_namespace(*pid).as_ref() == Some(ns)
            })
            .min_by_key(|(_, s)| s.start_time)
            .map(|(pid, _)| pid)
    };
    let services = h
        .role
        .http_services()
        .iter()
        .map(|(name, port)| (*name, Some(*port)))
        .chain([(AGENT, None)])
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
