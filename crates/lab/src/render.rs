//! The files `up` writes so that every other fearless command runs against the lab
//! unchanged: `ssh_config`, `known_hosts` and `fearless.yaml`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use crate::topology::{BROKER, LEDGER_PORT, PAYMENTS};
use crate::{Packaging, Role, Topology};

/// A lab host as the rendered files see it.
#[derive(Debug, Clone)]
pub(crate) struct HostEntry {
    pub(crate) name: String,
    pub(crate) address: Ipv4Addr,
    pub(crate) packaging: Packaging,
    pub(crate) role: Role,
}

/// Quotes a path for ssh_config when it contains whitespace.
fn ssh_path(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().any(char::is_whitespace) {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// One `Host NAME ADDRESS` block per host; `dir` must be absolute.
pub(crate) fn ssh_config(dir: &Path, port: u16, hosts: &[HostEntry]) -> String {
    let key = ssh_path(&dir.join("id_ed25519"));
    let known = ssh_path(&dir.join("known_hosts"));
    let mut out =
        String::from("# Written by `fearless lab up`; use with: ssh -F THIS_FILE web-1\n");
    for h in hosts {
        let _ = write!(
            out,
            "\nHost {name} {address}\n    HostName {address}\n",
            name = h.name,
            address = h.address,
        );
    }
    let _ = write!(
        out,
        "\n# Every lab host. One block for all, not one a host: ssh reads the whole file on\n\
         # every connection, and 1,000 blocks of 13 lines cost each connection 20 ms.\n\
         # curve25519-sha256: OpenSSH 9's default key exchange, sntrup761x25519, costs the\n\
         # client about 60 ms of CPU a connection (its reference code) -- the largest cost of\n\
         # a round over a large lab on one machine, for nothing on loopback.\n\
         Host *\n    User root\n    Port {port}\n    \
         IdentityFile {key}\n    IdentitiesOnly yes\n    UserKnownHostsFile {known}\n    \
         GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    PasswordAuthentication no\n    \
         BatchMode yes\n    ConnectTimeout 10\n    LogLevel ERROR\n    KexAlgorithms curve25519-sha256\n",
    );
    out
}

/// `known_hosts` lines for a host's public keys (`ssh-ed25519 AAAA… comment` lines).
pub(crate) fn known_hosts(port: u16, host: &HostEntry, public_keys: &[String]) -> String {
    let names = if port == 22 {
        format!("{},{}", host.name, host.address)
    } else {
        format!("[{}]:{port},[{}]:{port}", host.name, host.address)
    };
    let mut out = String::new();
    for key in public_keys {
        let mut fields = key.split_whitespace();
        if let (Some(kind), Some(blob)) = (fields.next(), fields.next()) {
            let _ = writeln!(out, "{names} {kind} {blob}");
        }
    }
    out
}

/// The lab's `fearless.yaml`: inventory of the lab hosts and the test plan of its topology
/// (the acme shop's; a light lab's sshd).
pub(crate) fn fearless_yaml(port: u16, hosts: &[HostEntry], shape: Topology) -> String {
    let mut out = String::from(
        "# Written by `fearless lab up`: the lab fleet and its test plan.\n\
         # Paths are relative to this file.\n\
         # One operator plays every role on a lab (alice requests, bob approves): names\n\
         # given with --as are taken at their word, and every state change says so.\n\
         identity: { mode: trust }\n\
         inventory:\n  ssh: { config: ssh_config }\n",
    );
    let _ = writeln!(
        out,
        "  defaults: {{ user: root, port: {port}, transport: ssh }}"
    );
    out.push_str("  hosts:\n");
    for (i, h) in hosts.iter().enumerate() {
        // the RPM host runs the acme shop too (installed by dnf): the acme checks apply
        let labels = match (h.packaging, h.role) {
            (Packaging::Rpm, _) => "role: web, pkg: rpm".to_owned(),
            (Packaging::Deb, Role::Shop) => format!("role: web, az: {}", ["a", "b", "c"][i % 3]),
            (Packaging::Deb, Role::Light) => {
                format!("role: light, az: {}", ["a", "b", "c"][i % 3])
            }
            (Packaging::Deb, role) => {
                let nth = hosts[..i].iter().filter(|o| o.role == role).count();
                format!("role: {}, az: {}", role.label(), ["a", "b"][nth % 2])
            }
        };
        let _ = writeln!(
            out,
            "    {}: {{ address: {}, labels: {{ {labels} }} }}",
            h.name, h.address
        );
    }
    let light = !hosts.is_empty() && hosts.iter().all(|h| h.role == Role::Light);
    match shape {
        Topology::Flat if light => out.push_str(&light_components(port)),
        Topology::Flat => out.push_str(ACME_COMPONENTS),
        Topology::Tiered => out.push_str(&tiered_components()),
    }
    out
}

/// The tiered site's components: what is declared. The orders API also publishes to the
/// broker, which is declared as a component but not as one of its dependencies — the
/// undocumented coupling `fearless map --observe` finds.
fn tiered_components() -> String {
    format!(
        r#"components:
  checkout:
    description: acme-web, the shop front end
    tier: web
    runs_on: "role=web"
    depends_on: [orders-api]
    checks:
      - {{ name: health,   http: {{ url: "http://{{host.address}}:8080/health", status: 200, body: "ok" }} }}
      - {{ name: checkout, http: {{ url: "http://{{host.address}}:8080/checkout", status: 200 }} }}
      - {{ name: web process, process: {{ name: acme-web }} }}
      - {{ name: web port, port: {{ port: 8080, address: "{{host.address}}" }} }}
  orders-api:
    description: acme-api, orders backed by libacme, reconciled with the ledger
    tier: api
    runs_on: "role=api"
    depends_on: [ledger]
    checks:
      - {{ name: orders, http: {{ url: "http://{{host.address}}:9090/orders", status: 200 }} }}
      - {{ name: api process, process: {{ name: acme-api }} }}
      - {{ name: api port, port: {{ port: 9090, address: "{{host.address}}" }} }}
      - {{ name: libacme installed, package: {{ name: libacme }} }}
  ledger:
    description: acme-ledger, settles with the payments provider
    tier: data
    runs_on: "role=ledger"
    depends_on: [payments]
    checks:
      - {{ name: ledger health, http: {{ url: "http://{{host.address}}:{LEDGER_PORT}/health", status: 200, body: "ok" }} }}
      - {{ name: ledger process, process: {{ name: acme-ledger }} }}
      - {{ name: ledger port, port: {{ port: {LEDGER_PORT}, address: "{{host.address}}" }} }}
  payments:
    description: the payments provider (an external API)
    external: true
    listens: ["{PAYMENTS}"]
    checks:
      - {{ name: payments health, http: {{ url: "http://{PAYMENTS}/health", status: 200 }} }}
  broker:
    description: RabbitMQ, the message broker
    tier: data
    external: true
    listens: ["{BROKER}"]
    checks:
      - {{ name: broker port, tcp: {{ address: "{BROKER}" }} }}
patch:
  bisect: auto
"#,
    )
}

/// A light lab's one component: each host's sshd, the only service it runs, and the
/// package it comes from (in the host's dpkg database) — three host-local checks — and its
/// port answering the controller (a network check).
fn light_components(port: u16) -> String {
    format!(
        r#"components:
  sshd:
    description: OpenSSH server, the only service of a light lab host
    runs_on: "role=light"
    checks:
      - {{ name: sshd process, process: {{ name: sshd }} }}
      - {{ name: ssh port, port: {{ port: {port}, address: "{{host.address}}" }} }}
      - {{ name: openssh-server installed, package: {{ name: openssh-server }} }}
      - {{ name: ssh answers, tcp: {{ address: "{{host.address}}:{port}" }} }}
"#
    )
}

const ACME_COMPONENTS: &str = r#"components:
  checkout:
    description: acme-web, the shop front end
    runs_on: "role=web"
    depends_on: [orders-api]
    checks:
      - { name: health,   http: { url: "http://{host.address}:8080/health", status: 200, body: "ok" } }
      - { name: checkout, http: { url: "http://{host.address}:8080/checkout", status: 200 } }
      - { name: web process, process: { name: acme-web } }
      - { name: web port, port: { port: 8080, address: "{host.address}" } }
  orders-api:
    description: acme-api, orders backed by libacme
    runs_on: "role=web"
    checks:
      - { name: orders, http: { url: "http://{host.address}:9090/orders", status: 200 } }
      - { name: api process, process: { name: acme-api } }
      - { name: api port, port: { port: 9090, address: "{host.address}" } }
      - { name: libacme installed, package: { name: libacme } }
patch:
  # a failed canary names its culprit: the manifest is bisected on it before the report
  bisect: auto
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<HostEntry> {
        vec![
            HostEntry {
                name: "web-1".into(),
                address: Ipv4Addr::new(127, 0, 0, 11),
                packaging: Packaging::Deb,
                role: Role::Shop,
            },
            HostEntry {
                name: "web-2".into(),
                address: Ipv4Addr::new(127, 0, 0, 12),
                packaging: Packaging::Deb,
                role: Role::Shop,
            },
        ]
    }

    #[test]
    fn ssh_config_has_one_block_per_host_matching_name_and_address() {
        let text = ssh_config(Path::new("/srv/lab"), 22, &hosts());
        assert!(text.contains("Host web-1 127.0.0.11\n    HostName 127.0.0.11\n"));
        assert!(text.contains("Host web-2 127.0.0.12\n    HostName 127.0.0.12\n"));
        assert!(text.ends_with(
            "Host *\n    User root\n    Port 22\n    \
             IdentityFile /srv/lab/id_ed25519\n    IdentitiesOnly yes\n    UserKnownHostsFile /srv/lab/known_hosts\n    \
             GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    PasswordAuthentication no\n    \
             BatchMode yes\n    ConnectTimeout 10\n    LogLevel ERROR\n    KexAlgorithms curve25519-sha256\n"
        ));
        assert_eq!(text.matches("\nHost ").count(), 3);
    }

    #[test]
    fn ssh_config_quotes_paths_with_spaces() {
        let text = ssh_config(Path::new("/srv/my lab"), 2222, &hosts()[..1]);
        assert!(text.contains("IdentityFile \"/srv/my lab/id_ed25519\""));
        assert!(text.contains("Port 2222"));
    }

    #[test]
    fn known_hosts_use_brackets_for_other_ports() {
        let keys = vec![
            "ssh-ed25519 AAAAC3 root@old".to_owned(),
            "garbage".to_owned(),
        ];
        let h = &hosts()[0];
        assert_eq!(
            known_hosts(22, h, &keys),
            "web-1,127.0.0.11 ssh-ed25519 AAAAC3\n"
        );
        assert_eq!(
            known_hosts(2222, h, &keys),
            "[web-1]:2222,[127.0.0.11]:2222 ssh-ed25519 AAAAC3\n"
        );
    }

    #[test]
    fn fearless_yaml_is_accepted_by_the_config_crate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fearless.yaml");
        std::fs::write(
            dir.path().join("ssh_config"),
            ssh_config(dir.path(), 2222, &hosts()),
        )
        .expect("write");
        let loaded =
            fearless_config::load_str(&path, fearless_yaml(2222, &hosts(), Topology::Flat))
                .unwrap_or_else(|e| panic!("the lab's fearless.yaml must load: {e:?}"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let ssh = &loaded.config.inventory.ssh;
        assert_eq!(
            ssh.config_file.as_deref(),
            Some(dir.path().join("ssh_config").as_path())
        );
    }

    #[test]
    fn the_rpm_host_is_a_web_host_labelled_rpm() {
        let mut all = hosts();
        all.push(HostEntry {
            name: "rpm-1".into(),
            address: Ipv4Addr::new(127, 0, 0, 13),
            packaging: Packaging::Rpm,
            role: Role::Shop,
        });
        let text = fearless_yaml(22, &all, Topology::Flat);
        assert!(
            text.contains("    rpm-1: { address: 127.0.0.13, labels: { role: web, pkg: rpm } }\n"),
            "{text}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("ssh_config"),
            ssh_config(dir.path(), 22, &all),
        )
        .expect("write");
        let loaded = fearless_config::load_str(&dir.path().join("fearless.yaml"), text)
            .unwrap_or_else(|e| panic!("the lab's fearless.yaml must load: {e:?}"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.config.inventory.hosts.len(), 3);
    }

    #[test]
    fn the_tiered_yaml_loads_and_leaves_the_broker_undeclared() {
        let plan: Vec<HostEntry> = crate::topology::tiered_plan()
            .into_iter()
            .map(|h| HostEntry {
                name: h.name,
                address: h.address,
                packaging: h.packaging,
                role: h.role,
            })
            .collect();
        let text = fearless_yaml(22, &plan, Topology::Tiered);
        assert!(
            text.contains("    api-2: { address: 127.0.0.14, labels: { role: api, az: b } }\n"),
            "{text}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("ssh_config"),
            ssh_config(dir.path(), 22, &plan),
        )
        .expect("write");
        let loaded = fearless_config::load_str(&dir.path().join("fearless.yaml"), text)
            .unwrap_or_else(|e| panic!("the tiered fearless.yaml must load: {e:?}"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let c = &loaded.config.components;
        assert_eq!(c["checkout"].depends_on, ["orders-api"]);
        assert_eq!(c["orders-api"].depends_on, ["ledger"]);
        assert!(c["broker"].external && c["payments"].external);
        assert!(
            c.values()
                .all(|comp| !comp.depends_on.contains(&"broker".to_owned())),
            "the broker must stay undeclared: that is the lab's story"
        );
        assert_eq!(c["broker"].listens[0].to_string(), "127.0.0.1:5672");
    }

    #[test]
    fn a_light_yaml_lists_every_host_and_checks_only_sshd() {
        let plan: Vec<HostEntry> = crate::light_plan(300)
            .into_iter()
            .map(|h| HostEntry {
                name: h.name,
                address: h.address,
                packaging: h.packaging,
                role: h.role,
            })
            .collect();
        let text = fearless_yaml(2222, &plan, Topology::Flat);
        assert!(
            text.contains("    web-245: { address: 127.0.1.1, labels: { role: light, az: b } }\n"),
            "{text}"
        );
        assert!(text.contains("port: { port: 2222, address: \"{host.address}\" }"));
        assert!(text.contains("tcp: { address: \"{host.address}:2222\" }"));
        assert!(!text.contains("acme"), "{text}");
        let dir = tempfile::tempdir().expect("tempdir");
        let ssh = ssh_config(dir.path(), 2222, &plan);
        // A block a host, and one for them all.
        assert_eq!(ssh.matches("\nHost ").count(), 301);
        assert!(ssh.contains("Host web-300 127.0.1.56\n    HostName 127.0.1.56\n"));
        std::fs::write(dir.path().join("ssh_config"), ssh).expect("write");
        let loaded = fearless_config::load_str(&dir.path().join("fearless.yaml"), text)
            .unwrap_or_else(|e| panic!("the light fearless.yaml must load: {e:?}"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.config.inventory.hosts.len(), 300);
        assert_eq!(
            loaded.config.inventory.hosts["web-300"].address,
            "127.0.1.56"
        );
        assert_eq!(loaded.config.components.len(), 1);
    }

    #[test]
    fn fearless_yaml_lists_hosts_and_acme_components() {
        let text = fearless_yaml(22, &hosts(), Topology::Flat);
        assert!(text.contains("  ssh: { config: ssh_config }\n"));
        assert!(text.contains("  defaults: { user: root, port: 22, transport: ssh }\n"));
        assert!(
            text.contains("    web-1: { address: 127.0.0.11, labels: { role: web, az: a } }\n")
        );
        assert!(
            text.contains("    web-2: { address: 127.0.0.12, labels: { role: web, az: b } }\n")
        );
        assert!(text.contains("  checkout:\n") && text.contains("  orders-api:\n"));
        assert!(text.contains("depends_on: [orders-api]"));
        assert!(text.contains("process: { name: acme-api }"));
    }
}
