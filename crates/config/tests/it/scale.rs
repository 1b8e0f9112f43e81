//! Real fleets are not bombs: a 100,000-host inventory loads — as `fearless.yaml` hosts,
//! as an Ansible INI inventory and as an Ansible YAML inventory — within a CPU bound that
//! holds in a debug build, and selectors over it answer quickly.

use super::common::cpu_time;
use std::fmt::Write;
use std::time::Duration;

const HOSTS: usize = 100_000;

/// CPU a debug build may take for one 100,000-host load (a release build takes a tenth).
const BOUND: Duration = Duration::from_secs(30);

/// The most memory (resident) a 100,000-host test process may have used at its peak.
const PEAK_RSS_MIB: u64 = 1024;

/// Peak resident memory of this test process (`VmHWM`), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024
}

/// A distinct IPv4 address for host `i`.
fn address(i: usize) -> String {
    format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = cpu_time();
    let out = f();
    let took = cpu_time().saturating_sub(start);
    assert!(took < BOUND, "{what} took {took:?} of CPU");
    out
}

const COMPONENTS: &str = "components:\n  web:\n    runs_on: \"role=web,az=a\"\n    checks:\n      - { name: up, tcp: { address: \"{host.address}:22\" } }\n";

#[test]
fn a_100000_host_yaml_inventory_loads() {
    let mut text = String::from("inventory:\n  hosts:\n");
    for i in 0..HOSTS {
        let _ = writeln!(
            text,
            "    web-{i:06}: {{ address: {}, labels: {{ role: web, az: {} }} }}",
            address(i),
            ["a", "b", "c"][i % 3]
        );
    }
    text.push_str(COMPONENTS);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fearless.yaml");
    std::fs::write(&path, &text).expect("write");
    let loaded = timed("loading 100,000 hosts", || {
        fearless_config::load(&path).expect("a real fleet loads")
    });
    let inv = &loaded.config.inventory;
    assert_eq!(inv.hosts.len(), HOSTS);
    assert_eq!(inv.hosts["web-099999"].address, "10.1.134.159");
    let sel = loaded.config.components["web"]
        .runs_on
        .as_ref()
        .expect("selector");
    assert_eq!(
        timed("selecting", || inv.select(sel).len()),
        HOSTS.div_ceil(3)
    );
    assert!(
        peak_rss_mib() < PEAK_RSS_MIB,
        "peak RSS {} MiB",
        peak_rss_mib()
    );
}

#[test]
fn a_100000_host_ansible_inventory_loads_as_ini_and_as_yaml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ini = dir.path().join("hosts.ini");
    let mut text = String::from("[web]\n");
    for i in 0..HOSTS / 2 {
        let _ = writeln!(
            text,
            "web-{i:06} ansible_host={} rack=r{}",
            address(i),
            i % 40
        );
    }
    text.push_str("[web:vars]\nansible_user=deploy\n[edge]\nedge[000001:050000].example.com:2200\n[prod:children]\nweb\nedge\n");
    std::fs::write(&ini, &text).expect("write ini");
    let inv = timed("importing 100,000 hosts from INI", || {
        fearless_config::load_ansible(&ini).expect("a real INI inventory loads")
    });
    assert_eq!(inv.hosts.len(), HOSTS);
    assert_eq!(inv.hosts["edge050000.example.com"].port, 2200);
    assert_eq!(inv.hosts["web-000007"].user, "deploy");
    let prod = &inv.groups["prod"];
    assert_eq!(
        timed("selecting a 100,000-host group", || inv.select(prod).len()),
        HOSTS
    );

    let yml = dir.path().join("hosts.yml");
    let mut text = String::from(
        "all:\n  children:\n    web:\n      vars: { ansible_user: deploy }\n      hosts:\n",
    );
    for i in 0..HOSTS {
        let _ = writeln!(
            text,
            "        web-{i:06}: {{ ansible_host: {}, ansible_port: 2222 }}",
            address(i)
        );
    }
    std::fs::write(&yml, &text).expect("write yml");
    let inv = timed("importing 100,000 hosts from YAML", || {
        fearless_config::load_ansible(&yml).expect("a real YAML inventory loads")
    });
    assert_eq!(inv.hosts.len(), HOSTS);
    assert_eq!(inv.hosts["web-050000"].port, 2222);
    assert!(
        peak_rss_mib() < PEAK_RSS_MIB,
        "peak RSS {} MiB",
        peak_rss_mib()
    );
}
