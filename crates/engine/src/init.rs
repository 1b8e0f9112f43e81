//! `fearless init`: a commented starter `fearless.yaml` for a fleet, from a list of hosts
//! or an Ansible inventory, with safe defaults — host keys verified, a canary first,
//! automatic rollback, one approval by someone else — and the components a discover of
//! the live hosts drafted, or a commented example when none could be.
//!
//! The text is written here, never assembled by the caller, and [`Starter::yaml`]'s
//! output always loads (a test holds it to that): every value the user gave is checked
//! with the inventory's own rules first, so a mistake is reported against the flag that
//! carried it, not against a file the user has not seen yet.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::discover::q;

/// A host given on the command line: `NAME` (reached at its name) or `NAME=ADDRESS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// The inventory name.
    pub name: String,
    /// Where ssh connects (the name itself when no address was given).
    pub address: String,
}

impl HostSpec {
    /// Parse a comma-separated list of `NAME` or `NAME=ADDRESS`; each name once, each
    /// checked with the inventory's rules. The error names the item.
    pub fn parse_list(text: &str) -> Result<Vec<HostSpec>, String> {
        let mut seen = BTreeSet::new();
        let mut hosts = Vec::new();
        for (i, item) in text.split(',').enumerate() {
            let item = item.trim();
            let at = format!("item {} (`{}`)", i + 1, fearless_io::escape_terminal(item));
            if item.is_empty() {
                return Err(format!(
                    "item {} is empty: the list is NAME[=ADDRESS],…",
                    i + 1
                ));
            }
            let (name, address) = match item.split_once('=') {
                Some((n, a)) => (n.trim(), a.trim()),
                None => (item, item),
            };
            fearless_config::check_host_name(name).map_err(|e| format!("{at}: {e}"))?;
            fearless_config::check_address(address).map_err(|e| format!("{at}: {e}"))?;
            if !seen.insert(name.to_owned()) {
                return Err(format!("{at}: host `{name}` is given twice"));
            }
            hosts.push(HostSpec {
                name: name.to_owned(),
                address: address.to_owned(),
            });
        }
        Ok(hosts)
    }
}

/// Where the hosts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Hosts listed on the command line.
    Hosts(Vec<HostSpec>),
    /// An Ansible inventory imported at every run; the path as written in the file
    /// (relative to it, or absolute).
    Ansible(PathBuf),
    /// Instances discovered from EC2 at every run.
    Ec2 {
        /// The region.
        region: String,
        /// EC2 filters, `(name, value)`; `instance-state-name: running` unless one names
        /// the state.
        filters: Vec<(String, String)>,
        /// The EC2 and SSM endpoint instead of AWS's.
        endpoint_url: Option<String>,
        /// `ssh` or `ssm`; `None`: ssm for managed nodes, else ssh.
        transport: Option<String>,
    },
}

/// What a starter configuration is made of.
#[derive(Debug, Clone)]
pub struct Starter {
    /// The hosts.
    pub source: Source,
    /// The login user of every host that does not say otherwise.
    pub user: String,
    /// The SSH port of every host that does not say otherwise.
    pub port: u16,
    /// An `ssh_config` for `ssh -F`, as written in the file.
    pub ssh_config: Option<PathBuf>,
    /// Learn unknown host keys on first contact instead of refusing them.
    pub accept_new_host_keys: bool,
    /// How the user asked for it, for the heading (`--hosts web-1,web-2`).
    pub asked: String,
}

impl Starter {
    /// Check what the user gave with the inventory's rules.
    pub fn check(&self) -> Result<(), String> {
        fearless_config::check_user(&self.user).map_err(|e| format!("--user: {e}"))?;
        if self.port == 0 {
            return Err("--port: a port is a number from 1 to 65535".into());
        }
        Ok(())
    }

    /// The configuration. `components` is a `components:` section (what
    /// [`crate::discover::components_yaml`] writes); without one the section is empty
    /// and an example follows in comments.
    pub fn yaml(&self, components: Option<&str>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# fearless.yaml, written by `fearless init` from {}.",
            crate::discover::comment(&self.asked)
        );
        out.push_str(
            "# Paths in this file are relative to it. `fearless check --dry-run` shows the test\n\
             # plan; `fearless hosts ping` tells whether every host answers.\n\
             inventory:\n\
             \x20 # How each host is reached unless it says otherwise. A user other than root\n\
             \x20 # needs `become: sudo` on its hosts (sudo -n: it never prompts).\n",
        );
        let _ = writeln!(
            out,
            "  defaults: {{ user: {}, port: {}, transport: ssh }}",
            q(&self.user),
            self.port
        );
        out.push_str(if self.accept_new_host_keys {
            "  # Unknown host keys are learned on first contact (accept-new); a key that\n\
             \x20 # changes is still refused. `strict` refuses unknown keys too.\n"
        } else {
            "  # Host keys are verified: a host whose key is not in known_hosts is refused\n\
             \x20 # (strict). `accept-new` learns a key on first contact; a changed key is\n\
             \x20 # always refused.\n"
        });
        let _ = writeln!(
            out,
            "  ssh: {{ host_key_checking: {}, connect_timeout: 10s{} }}",
            if self.accept_new_host_keys {
                "accept-new"
            } else {
                "strict"
            },
            self.ssh_config
                .as_ref()
                .map(|p| format!(", config: {}", q(&p.to_string_lossy())))
                .unwrap_or_default()
        );
        match &self.source {
            Source::Hosts(hosts) => {
                out.push_str("  hosts:\n");
                for h in hosts {
                    let _ = writeln!(out, "    {}: {{ address: {} }}", q(&h.name), q(&h.address));
                }
            }
            Source::Ansible(path) => {
                out.push_str(
                    "  # The hosts, groups and variables of an Ansible inventory, read at every\n\
                     \x20 # run (never executed): `fearless hosts` lists what it gives.\n\
                     \x20 import:\n",
                );
                let _ = writeln!(out, "    - ansible: {}", q(&path.to_string_lossy()));
            }
            Source::Ec2 {
                region,
                filters,
                endpoint_url,
                transport,
            } => {
                out.push_str(
                    "  # The hosts are the EC2 instances these filters select, asked at every run\n\
                     \x20 # (the answer is kept in the store for `cache`; --refresh asks again):\n\
                     \x20 # named by their Name tag (else their id), their tags as labels, reached\n\
                     \x20 # through SSM Run Command when they are managed nodes, else over ssh at\n\
                     \x20 # their private IP. `fearless hosts --source` lists what it gives.\n\
                     \x20 ec2:\n",
                );
                let _ = writeln!(out, "    - region: {}", q(region));
                if let Some(u) = endpoint_url {
                    let _ = writeln!(out, "      endpoint_url: {}", q(u));
                }
                out.push_str(
                    "      filters:
",
                );
                if !filters.iter().any(|(n, _)| n == "instance-state-name") {
                    out.push_str(
                        "        instance-state-name: running
",
                    );
                }
                for (n, v) in filters {
                    let _ = writeln!(out, "        {}: {}", q(n), q(v));
                }
                if let Some(t) = transport {
                    let _ = writeln!(out, "      transport: {}", q(t));
                }
                out.push_str(
                    "      cache: 60s
",
                );
                let _ = writeln!(
                    out,
                    "  ssm: {{ region: {}{} }}",
                    q(region),
                    endpoint_url
                        .as_ref()
                        .map(|u| format!(", endpoint_url: {}", q(u)))
                        .unwrap_or_default()
                );
            }
        }
        out.push_str(
            "  # Named selectors for `--hosts group:NAME` and `runs_on`:\n\
             \x20 # groups:\n\
             \x20 #   web: \"role=web\"\n\
             \n\
             # The test plan: each component, where it runs, what it needs and how to tell it\n\
             # works (http, tcp, dns, tls, command, process, service, package, file, port,\n\
             # amqp, sql, sqs, ldap checks). `fearless discover` drafts it from the live hosts.\n",
        );
        match components {
            Some(section) => out.push_str(section),
            None => out.push_str(
                "components: {}\n\
                 # For example:\n\
                 #   checkout:\n\
                 #     runs_on: \"role=web\"\n\
                 #     depends_on: [orders-api]\n\
                 #     checks:\n\
                 #       - name: health\n\
                 #         http: { url: \"http://{host.address}:8080/health\", status: 200 }\n\
                 #       - name: process\n\
                 #         process: { name: acme-web }\n",
            ),
        }
        out.push_str(
            "\n\
             # Patches go out in waves, each gated by the test plan: one canary host, then a\n\
             # quarter, then the rest. A host that fails is rolled back to its snapshot and\n\
             # the rollout stops there.\n\
             patch:\n\
             \x20 waves: [1, \"25%\", \"100%\"]\n\
             \x20 bake: 30s\n\
             \x20 max_failed_hosts: 0\n\
             \x20 rollback: auto\n\
             \n\
             # A change needs one approval by someone other than its requester.\n\
             change:\n\
             \x20 approvals_required: 1\n\
             \n\
             # Who acts is who authenticated: the store's database role on PostgreSQL, else\n\
             # the OS account running fearless; `--as NAME` must name that identity.\n\
             # `trust` takes --as at its word (a lab, one operator playing every role).\n\
             identity: { mode: enforce }\n\
             \n\
             # Records and the journal: SQLite beside this file. A team shares PostgreSQL\n\
             # (store: \"postgres://fearless@db.example/fearless\").\n\
             store: \"sqlite:.fearless/state.db\"\n",
        );
        out
    }
}

/// How a path given on the command line is written in a configuration that lives in
/// `config_dir` (both taken from `cwd` when relative): relative to the configuration when
/// it is inside its directory, else absolute.
pub fn path_in_config(cwd: &Path, config_dir: &Path, given: &Path) -> PathBuf {
    let given = normal(&cwd.join(given));
    let dir = normal(&cwd.join(config_dir));
    match given.strip_prefix(&dir) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_owned(),
        _ => given,
    }
}

/// `a/./b/../c` as `a/c`, without asking the file system (no symlink is followed).
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starter(source: Source) -> Starter {
        Starter {
            source,
            user: "root".into(),
            port: 22,
            ssh_config: None,
            accept_new_host_keys: false,
            asked: "--hosts web-1".into(),
        }
    }

    fn loads(text: &str, dir: &Path) -> fearless_config::Config {
        fearless_config::load_str(&dir.join("fearless.yaml"), text.to_owned())
            .unwrap_or_else(|e| panic!("{e:?}\n{text}"))
            .config
    }

    #[test]
    fn a_host_list_parses_names_and_addresses() {
        let hosts = HostSpec::parse_list("web-1, api-1=10.0.0.5,db.example").expect("test setup");
        assert_eq!(
            hosts,
            vec![
                HostSpec {
                    name: "web-1".into(),
                    address: "web-1".into()
                },
                HostSpec {
                    name: "api-1".into(),
                    address: "10.0.0.5".into()
                },
                HostSpec {
                    name: "db.example".into(),
                    address: "db.example".into()
                },
            ]
        );
    }

    #[test]
    fn a_bad_host_list_names_the_item() {
        let e = HostSpec::parse_list("web-1,-oProxyCommand=x").expect_err("refused");
        assert!(
            e.starts_with("item 2 (`-oProxyCommand=x`): host name"),
            "{e}"
        );
        let e = HostSpec::parse_list("web-1,,api").expect_err("refused");
        assert!(e.starts_with("item 2 is empty"), "{e}");
        let e = HostSpec::parse_list("web-1,web-1=10.0.0.1").expect_err("refused");
        assert!(e.contains("host `web-1` is given twice"), "{e}");
        let e = HostSpec::parse_list("a=$(id)").expect_err("refused");
        assert!(e.contains("address `$(id)` contains `$`"), "{e}");
    }

    #[test]
    fn the_starter_loads_with_safe_defaults() {
        let dir = tempfile::tempdir().expect("test setup");
        let hosts = HostSpec::parse_list("web-1=127.0.0.11,api-1=127.0.0.13").expect("test setup");
        let text = starter(Source::Hosts(hosts)).yaml(None);
        let config = loads(&text, dir.path());
        assert_eq!(config.inventory.hosts.len(), 2);
        assert_eq!(config.inventory.hosts["api-1"].address, "127.0.0.13");
        assert_eq!(
            config.inventory.ssh.host_key_checking,
            fearless_config::HostKeyChecking::Strict
        );
        assert!(config.components.is_empty());
        assert!(text.contains("#   checkout:"), "an example in comments");
        assert_eq!(config.change.approvals_required, 1);
    }

    #[test]
    fn the_starter_imports_an_ansible_inventory_and_takes_drafted_components() {
        let dir = tempfile::tempdir().expect("test setup");
        std::fs::write(
            dir.path().join("hosts.ini"),
            "[web]\nweb-1 ansible_host=127.0.0.11\n",
        )
        .expect("test setup");
        std::fs::write(dir.path().join("ssh_config"), "Host web-1\n").expect("test setup");
        let mut s = starter(Source::Ansible("hosts.ini".into()));
        s.accept_new_host_keys = true;
        s.ssh_config = Some("ssh_config".into());
        let components = "components:\n  web:\n    runs_on: \"web-1\"\n    checks:\n      - { name: \"p\", process: { name: \"acme-web\" } }\n";
        let text = s.yaml(Some(components));
        let config = loads(&text, dir.path());
        assert_eq!(config.inventory.hosts["web-1"].address, "127.0.0.11");
        assert!(config.inventory.groups.contains_key("web"));
        assert_eq!(
            config.inventory.ssh.host_key_checking,
            fearless_config::HostKeyChecking::AcceptNew
        );
        assert_eq!(
            config.inventory.ssh.config_file.as_deref(),
            Some(dir.path().join("ssh_config").as_path())
        );
        assert_eq!(config.components.len(), 1);
        assert!(!text.contains("#   checkout:"));
    }

    #[test]
    fn a_heading_cannot_break_out_of_its_comment() {
        let mut s = starter(Source::Hosts(
            HostSpec::parse_list("a").expect("test setup"),
        ));
        s.asked = "--hosts a\ninventory: {}".into();
        let dir = tempfile::tempdir().expect("test setup");
        let config = loads(&s.yaml(None), dir.path());
        assert_eq!(config.inventory.hosts.len(), 1);
    }

    #[test]
    fn paths_are_written_relative_to_the_config_when_inside_it() {
        let cwd = Path::new("/home/ops");
        assert_eq!(
            path_in_config(cwd, Path::new("."), Path::new("inv/hosts.ini")),
            PathBuf::from("inv/hosts.ini")
        );
        assert_eq!(
            path_in_config(cwd, Path::new("site"), Path::new("./site/inv/../hosts.ini")),
            PathBuf::from("hosts.ini")
        );
        assert_eq!(
            path_in_config(cwd, Path::new("site"), Path::new("other/hosts.ini")),
            PathBuf::from("/home/ops/other/hosts.ini")
        );
        assert_eq!(
            path_in_config(cwd, Path::new("/etc/fearless"), Path::new("/srv/hosts.ini")),
            PathBuf::from("/srv/hosts.ini")
        );
    }

    #[test]
    fn an_ec2_starter_loads_with_its_source() {
        let s = starter(Source::Ec2 {
            region: "eu-west-1".into(),
            filters: vec![("tag:role".into(), "web: front".into())],
            endpoint_url: Some("http://127.0.0.1:5000".into()),
            transport: Some("ssm".into()),
        });
        let text = s.yaml(None);
        let config = fearless_config::load_str(Path::new("/tmp/fearless.yaml"), text.clone())
            .unwrap_or_else(|e| panic!("{text}\n{:?}", e.problems))
            .config;
        let src = &config.inventory.ec2[0];
        assert_eq!(src.region, "eu-west-1");
        assert_eq!(
            src.filters,
            vec![
                ("instance-state-name".to_owned(), vec!["running".to_owned()]),
                ("tag:role".to_owned(), vec!["web: front".to_owned()]),
            ]
        );
        assert_eq!(src.transport, Some(fearless_config::TransportKind::Ssm));
        assert_eq!(config.inventory.ssm.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            config.inventory.ssm.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
    }
}
