//! `fearless parity A B`: what the hosts two selectors match show — release (the os
//! script), packages ([`fearless_pkg::ops::package_set`]), listening TCP ports with their
//! process (one [`fearless_observe`] sample) — and the components the config deploys on
//! them, compared by [`fearless_platform::parity::compare`] against `parity.ignore`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use fearless_config::{Config, Host, ParityIgnore, Selector};
use fearless_pkg::{PkgError, Target, ops};
use fearless_platform::parity::{self, HostFacts, Ignore, Parity, Port};

use crate::fleet::HostResult;
use crate::{EngineError, Fleetwide};

/// How long one socket sample may take on a host.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The two sides, as selected.
#[derive(Debug)]
pub struct Sides {
    /// Side A's hosts, in inventory order.
    pub a: Vec<String>,
    /// Side B's.
    pub b: Vec<String>,
    /// Both, connected.
    pub fleet: Fleetwide,
}

/// The hosts `a` and `b` select; a side that selects nothing, or a host on both sides,
/// is bad input.
pub fn sides(
    config: &Config,
    a: &Selector,
    b: &Selector,
    lock_wait: Duration,
) -> Result<Sides, EngineError> {
    let inv = &config.inventory;
    let names = |s: &Selector| -> Vec<String> {
        inv.select(s).into_iter().map(|h| h.name.clone()).collect()
    };
    let (na, nb) = (names(a), names(b));
    for (side, hosts, sel) in [("A", &na, a), ("B", &nb, b)] {
        if hosts.is_empty() {
            return Err(EngineError::bad_input(
                format!("side {side} (`{sel}`) matches no host"),
                Some("check the selector against `fearless hosts`"),
            ));
        }
    }
    let both: Vec<&String> = na.iter().filter(|h| nb.contains(h)).collect();
    if !both.is_empty() {
        return Err(EngineError::bad_input(
            format!(
                "{} on both sides: parity compares two distinct sets of hosts",
                both.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some("e.g. fearless parity env=prod env=staging"),
        ));
    }
    let hosts: Vec<Host> = inv
        .hosts
        .values()
        .filter(|h| na.contains(&h.name) || nb.contains(&h.name))
        .cloned()
        .collect();
    Ok(Sides {
        a: na,
        b: nb,
        fleet: Fleetwide::with_hosts(config.clone(), hosts, lock_wait),
    })
}

/// The allow-list of the config's `parity.ignore`.
pub fn ignore_of(config: &Config) -> Ignore {
    let mut ignore = Ignore::default();
    for entry in &config.parity.ignore {
        match entry {
            ParityIgnore::Package(n) => {
                ignore.packages.insert(n.clone());
            }
            ParityIgnore::Port(p) => {
                ignore.ports.insert(*p);
            }
            ParityIgnore::Component(c) => {
                ignore.components.insert(c.clone());
            }
            ParityIgnore::Release => ignore.releases = true,
        }
    }
    ignore
}

/// The listening ports of one sample of `t`.
async fn ports(t: &Target<'_>, address: &str) -> Result<Vec<Port>, PkgError> {
    let own: Vec<IpAddr> = address.parse().into_iter().collect();
    let out = t
        .transport
        .run(&fearless_observe::script::sample_argv(), SAMPLE_TIMEOUT)
        .await?;
    let sample =
        fearless_observe::observe::read_sample(&out, &own).map_err(|detail| PkgError::Parse {
            host: t.name.to_owned(),
            what: "the socket sample".into(),
            detail,
        })?;
    let ports: BTreeSet<Port> = sample
        .listeners
        .into_iter()
        .map(|l| Port {
            port: l.port,
            process: l.process.map(|p| p.name),
        })
        .collect();
    Ok(ports.into_iter().collect())
}

/// What every host of both sides shows, a result per host.
pub async fn facts(config: &Config, sides: &Sides) -> Vec<HostResult<HostFacts>> {
    let fw = &sides.fleet;
    fw.each(|b, t| async move {
        let answer = crate::os::read_host(&t).await?;
        let packages = ops::package_set(&b, &t).await?;
        let address = fw
            .hosts()
            .iter()
            .find(|h| h.name == t.name)
            .map(|h| h.address.clone())
            .unwrap_or_default();
        let ports = ports(&t, &address).await?;
        let components = config
            .components
            .values()
            .filter(|c| {
                c.runs_on.as_ref().is_some_and(|sel| {
                    config
                        .inventory
                        .select(sel)
                        .iter()
                        .any(|h| h.name == t.name)
                })
            })
            .map(|c| c.name.clone())
            .collect();
        Ok(HostFacts {
            host: t.name.to_owned(),
            release: Some(answer.os.display()),
            packages: Some(packages),
            ports,
            components,
        })
    })
    .await
}

/// Compare what the hosts of both sides showed (hosts that could not be read are left
/// out: the caller reports them and must not call the result parity).
pub fn compare(sides: &Sides, facts: &[HostResult<HostFacts>], ignore: &Ignore) -> Parity {
    let side = |names: &[String]| -> Vec<HostFacts> {
        facts
            .iter()
            .filter(|(h, _)| names.contains(h))
            .filter_map(|(_, r)| r.as_ref().ok().cloned())
            .collect()
    };
    parity::compare(&side(&sides.a), &side(&sides.b), ignore)
}
