//! The lab's shapes: the flat shop (every host runs the whole acme shop) and the tiered
//! site (front ends, orders APIs and a ledger on separate hosts, a message broker nobody
//! declared, an external payments provider), and what each host's role installs, runs and
//! is told in `/etc/acme/acme.conf`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalog::{INITIAL, PackageVersion};
use crate::{FIRST_ADDRESS, LabHost, MAX_ADDRESSES, MAX_HOSTS, Packaging};

/// How the lab's hosts are laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// `web-1`…`web-N`, each running acme-web and acme-api, calling each other on the
    /// host's own address (the patch story's lab).
    #[default]
    Flat,
    /// `web-1`, `web-2` (acme-web) call `api-1`, `api-2` (acme-api) on other hosts, which
    /// keep a connection to `ledger-1` (acme-ledger) and publish to the machine's RabbitMQ
    /// (`127.0.0.1:5672`) — a dependency the generated `fearless.yaml` does not declare;
    /// the ledger calls the payments provider on [`PAYMENTS`], outside the inventory.
    Tiered,
}

impl Topology {
    /// Every topology, in the order `--help` lists them.
    pub const ALL: [Self; 2] = [Self::Flat, Self::Tiered];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flat => "flat",
            Self::Tiered => "tiered",
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A topology name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown topology `{0}`; valid topologies are: flat, tiered")]
pub struct UnknownTopology(pub String);

impl FromStr for Topology {
    type Err = UnknownTopology;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| UnknownTopology(s.to_owned()))
    }
}

/// What a lab host is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The whole acme shop (flat topology).
    #[default]
    Shop,
    /// acme-web only (tiered).
    Web,
    /// acme-api and libacme (tiered).
    Api,
    /// acme-ledger (tiered).
    Ledger,
    /// Nothing but the host's init and sshd, on a real dpkg database: no acme shop
    /// (`lab up --light`, for labs of hundreds or thousands of hosts).
    Light,
}

impl Role {
    /// The `role` label in the generated inventory.
    pub fn label(self) -> &'static str {
        match self {
            Self::Shop | Self::Web => "web",
            Self::Api => "api",
            Self::Ledger => "ledger",
            Self::Light => "light",
        }
    }

    /// The acme daemons this role runs that answer HTTP, with their port.
    pub fn http_services(self) -> &'static [(&'static str, u16)] {
        match self {
            Self::Shop => &[("acme-web", WEB_PORT), ("acme-api", API_PORT)],
            Self::Web => &[("acme-web", WEB_PORT)],
            Self::Api => &[("acme-api", API_PORT)],
            Self::Ledger => &[("acme-ledger", LEDGER_PORT)],
            Self::Light => &[],
        }
    }

    /// The request that answers 200 only when this role's service and everything it
    /// needs work: `(port, path)`; `None` when the role runs no service.
    pub(crate) fn readiness(self) -> Option<(u16, &'static str)> {
        match self {
            Self::Shop | Self::Web => Some((WEB_PORT, "/checkout")),
            Self::Api => Some((API_PORT, "/orders")),
            Self::Ledger => Some((LEDGER_PORT, "/totals")),
            Self::Light => None,
        }
    }

    /// Whether the role runs the acme shop's agent (every role with acme packages).
    pub(crate) fn runs_agent(self) -> bool {
        self != Self::Light
    }

    /// The package versions `up` installs on a host of this role.
    pub(crate) fn initial(self) -> Vec<PackageVersion> {
        let skip: &[&str] = match self {
            Self::Shop => &[],
            Self::Web => &["libacme", "acme-api"],
            Self::Api => &["acme-web"],
            Self::Ledger => &["libacme", "acme-api", "acme-web"],
            Self::Light => return Vec::new(),
        };
        let mut out: Vec<PackageVersion> = INITIAL
            .iter()
            .copied()
            .filter(|p| !skip.contains(&p.name))
            .collect();
        if self == Self::Ledger {
            out.push(LEDGER);
        }
        out
    }
}

/// acme-web's port.
pub const WEB_PORT: u16 = 8080;
/// acme-api's port.
pub const API_PORT: u16 = 9090;
/// acme-ledger's port.
pub const LEDGER_PORT: u16 = 7070;
/// The payments provider of the tiered lab: outside every host and the inventory.
pub const PAYMENTS: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 10), 8088);
/// The message broker the tiered lab's orders APIs publish to: the machine's RabbitMQ.
pub const BROKER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5672);

/// The ledger package, installed on the tiered lab's ledger host only.
pub(crate) const LEDGER: PackageVersion = PackageVersion {
    name: "acme-ledger",
    version: "1.0",
};

/// The hosts of the tiered lab: two front ends, two orders APIs, one ledger.
pub(crate) fn tiered_plan() -> Vec<LabHost> {
    let roles = [
        ("web-1", Role::Web),
        ("web-2", Role::Web),
        ("api-1", Role::Api),
        ("api-2", Role::Api),
        ("ledger-1", Role::Ledger),
    ];
    roles
        .into_iter()
        .enumerate()
        .map(|(i, (name, role))| LabHost {
            name: name.to_owned(),
            address: nth_address(i),
            packaging: Packaging::Deb,
            role,
        })
        .collect()
}

/// Lab address number `i` (from 0). The first [`MAX_HOSTS`] are `127.0.0.11…127.0.0.254`
/// (as before labs grew past them); after those come `127.0.1.1…127.0.1.254`,
/// `127.0.2.1…`, … up to `127.0.255.254`: 254 a block, never a `.0` or `.255` last octet.
/// Past the last address ([`MAX_ADDRESSES`]) it stays at the last one (`validate` refuses
/// such labs before any plan is made).
pub(crate) fn nth_address(i: usize) -> Ipv4Addr {
    let [a, b, c, d] = FIRST_ADDRESS.octets();
    if i < MAX_HOSTS {
        // 11 + i <= 254 here
        return Ipv4Addr::new(
            a,
            b,
            c,
            d.saturating_add(u8::try_from(i).unwrap_or(u8::MAX)),
        );
    }
    let rest = (i - MAX_HOSTS).min(MAX_ADDRESSES - MAX_HOSTS - 1);
    let block = u8::try_from(1 + rest / BLOCK).unwrap_or(u8::MAX);
    let last = u8::try_from(1 + rest % BLOCK).unwrap_or(u8::MAX - 1);
    Ipv4Addr::new(a, b, block, last)
}

/// Addresses in each `127.0.N.0/24` block after the first: `.1` to `.254`.
const BLOCK: usize = 254;

/// The lines of `/etc/acme/acme.conf` after `address=` for `host` in a lab of `plan`:
/// whom its services call.
pub(crate) fn acme_conf(host: &LabHost, plan: &[LabHost]) -> String {
    let of = |role: Role, port: u16| {
        plan.iter()
            .filter(|h| h.role == role)
            .map(|h| format!("{}:{port}", h.address))
            .collect::<Vec<_>>()
            .join(",")
    };
    match host.role {
        Role::Shop | Role::Light => String::new(),
        Role::Web => format!(
            "# the orders APIs (round robin, one connection per request)\napi={}\n\
             # refresh the basket summary twice a second\nrefresh=0.5\n",
            of(Role::Api, API_PORT)
        ),
        Role::Api => format!(
            "# the ledger (one kept-alive connection)\nledger={}\n\
             # order events (AMQP, fire and forget)\nbroker={BROKER}\n",
            of(Role::Ledger, LEDGER_PORT)
        ),
        Role::Ledger => format!("# the payments provider\npayments={PAYMENTS}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topologies_parse_by_name() {
        for t in Topology::ALL {
            assert_eq!(t.name().parse::<Topology>(), Ok(t));
        }
        assert_eq!(
            "mesh".parse::<Topology>().err().map(|e| e.to_string()),
            Some("unknown topology `mesh`; valid topologies are: flat, tiered".to_owned())
        );
    }

    #[test]
    fn the_tiered_plan_has_each_tier_on_its_own_hosts() {
        let plan = tiered_plan();
        let names: Vec<_> = plan.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["web-1", "web-2", "api-1", "api-2", "ledger-1"]);
        assert_eq!(plan[4].address, Ipv4Addr::new(127, 0, 0, 15));
        assert!(!plan.iter().any(|h| h.address == *PAYMENTS.ip()));
    }

    #[test]
    fn web_hosts_call_the_api_hosts_and_apis_the_ledger_and_the_broker() {
        let plan = tiered_plan();
        assert_eq!(
            acme_conf(&plan[0], &plan),
            "# the orders APIs (round robin, one connection per request)\n\
             api=127.0.0.13:9090,127.0.0.14:9090\n\
             # refresh the basket summary twice a second\nrefresh=0.5\n"
        );
        let api = acme_conf(&plan[2], &plan);
        assert!(api.contains("ledger=127.0.0.15:7070\n"), "{api}");
        assert!(api.contains("broker=127.0.0.1:5672\n"), "{api}");
        assert_eq!(
            acme_conf(&plan[4], &plan),
            "# the payments provider\npayments=127.0.0.10:8088\n"
        );
    }

    #[test]
    fn roles_install_only_their_services() {
        let names = |r: Role| r.initial().iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(Role::Shop.initial(), INITIAL.to_vec());
        assert!(!names(Role::Web).contains(&"acme-api"));
        assert!(names(Role::Web).contains(&"acme-web"));
        assert!(names(Role::Api).contains(&"libacme") && !names(Role::Api).contains(&"acme-web"));
        assert!(names(Role::Ledger).contains(&"acme-ledger"));
        assert!(!names(Role::Ledger).contains(&"acme-api"));
    }
}
