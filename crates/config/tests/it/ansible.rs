//! The Ansible import reads what `ansible-inventory` reads: for every inventory in
//! `tests/fixtures/ansible/` (Ansible's documented INI and YAML examples, ranges, ports,
//! children, group variables and their precedence), `ansible-inventory -i FILE --list`
//! and fearless's import must give the same hosts, addresses, ports, users and group
//! memberships. The test needs ansible-core (`python3 -m pip install ansible-core`;
//! `scripts/test.sh` installs it) and fails, never skips, without it.

use super::common::fixtures_dir;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// One host as both tools must see it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    address: String,
    port: u16,
    user: String,
}

/// Hosts and transitive group memberships (`all` and `ungrouped` left out).
#[derive(Debug, PartialEq, Eq)]
struct Inventory {
    hosts: BTreeMap<String, Seen>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

fn ansible_inventory(file: &Path, home: &Path) -> Inventory {
    let out = Command::new("ansible-inventory")
        .arg("-i")
        .arg(file)
        .arg("--list")
        .env("ANSIBLE_HOME", home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_INVENTORY_ENABLED", "ini,yaml")
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run ansible-inventory ({e}); install ansible-core: \
                 python3 -m pip install ansible-core (scripts/test.sh does)"
            )
        });
    assert!(
        out.status.success(),
        "ansible-inventory -i {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).expect("ansible-inventory prints JSON");
    let hostvars = &list["_meta"]["hostvars"];
    let obj = list.as_object().expect("an object");
    let mut names: BTreeSet<String> = hostvars
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for (g, body) in obj {
        if g != "_meta" {
            for h in body["hosts"].as_array().into_iter().flatten() {
                names.insert(h.as_str().expect("host name").to_owned());
            }
        }
    }
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let var = |host: &str, keys: [&str; 2]| keys.iter().find_map(|k| text(&hostvars[host][*k]));
    let hosts = names
        .iter()
        .map(|h| {
            let seen = Seen {
                address: var(h, ["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| h.clone()),
                port: var(h, ["ansible_port", "ansible_ssh_port"])
                    .map_or(22, |p| p.parse().expect("a port")),
                user: var(h, ["ansible_user", "ansible_ssh_user"]).unwrap_or_else(|| "root".into()),
            };
            (h.clone(), seen)
        })
        .collect();
    // Members of a group: its hosts and those of its children, transitively.
    fn members(
        obj: &serde_json::Map<String, Value>,
        g: &str,
        seen: &mut BTreeSet<String>,
        out: &mut BTreeSet<String>,
    ) {
        if !seen.insert(g.to_owned()) {
            return;
        }
        for h in obj[g]["hosts"].as_array().into_iter().flatten() {
            out.insert(h.as_str().expect("host").to_owned());
        }
        for c in obj[g]["children"].as_array().into_iter().flatten() {
            members(obj, c.as_str().expect("group"), seen, out);
        }
    }
    let groups = obj
        .keys()
        .filter(|g| !["_meta", "all", "ungrouped"].contains(&g.as_str()))
        .map(|g| {
            let mut out = BTreeSet::new();
            members(obj, g, &mut BTreeSet::new(), &mut out);
            (g.clone(), out)
        })
        .filter(|(_, m)| !m.is_empty())
        .collect();
    Inventory { hosts, groups }
}

fn fearless_import(file: &Path) -> Inventory {
    let config = format!(
        "inventory:\n  import:\n    - ansible: \"{}\"\ncomponents:\n  web:\n    runs_on: all\n    checks:\n      - {{ name: up, tcp: {{ address: \"{{host.address}}:22\" }} }}\n",
        file.display()
    );
    let loaded = fearless_config::load_str(&file.with_file_name("fearless.yaml"), config)
        .unwrap_or_else(|e| {
            panic!(
                "fearless refused {}:\n{}",
                file.display(),
                super::common::render_plain(&e.problems)
            )
        });
    let inv = &loaded.config.inventory;
    let hosts = inv
        .hosts
        .values()
        .map(|h| {
            (
                h.name.clone(),
                Seen {
                    address: h.address.clone(),
                    port: h.port,
                    user: h.user.clone(),
                },
            )
        })
        .collect();
    let groups = inv
        .groups
        .iter()
        .map(|(g, sel)| {
            (
                g.clone(),
                inv.select(sel).iter().map(|h| h.name.clone()).collect(),
            )
        })
        .filter(|(_, m): &(String, BTreeSet<String>)| !m.is_empty())
        .collect();
    Inventory { hosts, groups }
}

#[test]
fn the_import_reads_what_ansible_inventory_reads() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<_> = std::fs::read_dir(fixtures_dir().join("ansible"))
        .expect("fixtures/ansible")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "the Ansible corpus keeps at least 10 inventories"
    );
    let mut total = 0;
    for file in files {
        let theirs = ansible_inventory(&file, home.path());
        let ours = fearless_import(&file);
        assert!(!theirs.hosts.is_empty(), "{}: no hosts", file.display());
        assert_eq!(ours, theirs, "{}", file.display());
        total += ours.hosts.len();
    }
    assert!(total > 150, "the corpus expands to {total} hosts");
}
