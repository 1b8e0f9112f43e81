//! Resolution and drift over a small config (YAML loaded as fearless loads it) and
//! observations written by hand.

use fearless_config::Config;
use fearless_observe::observe::{HostObservation, OBSERVATION_VERSION};
use fearless_observe::packages::PackageDb;
use fearless_observe::sarif::{component_lines, sarif_with_lines};
use fearless_observe::{
    Direction, Observation, ObservedConnection, ObservedListener, ObservedProcess, Resolver,
    TcpState, drift, sarif,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

const BASE: &str = r#"
inventory:
  defaults: { transport: local }
  hosts:
    web-1: { address: 10.0.0.1 }
    api-1: { address: 10.0.0.2 }
    db-1: { address: 10.0.0.3 }
components:
  web:
    runs_on: web-1
    depends_on: [api, payments]
    checks:
      - { name: web process, process: { name: acme-web } }
      - { name: health, http: { url: "http://{host.address}:8080/health" } }
  api:
    runs_on: api-1
    checks:
      - { name: api process, process: { name: acme-api } }
      - { name: orders, http: { url: "http://{host.address}:9090/orders" } }
  payments:
    external: true
    checks:
      - { name: tls, tls: { address: "payments.example:443" } }
"#;

const RABBITMQ: &str = r#"
  rabbitmq:
    external: true
    listens: ["127.0.0.1:5672"]
"#;

fn config(extra: &str) -> Config {
    let text = format!("{BASE}{extra}");
    match fearless_config::load_str(Path::new("/etc/fearless/fearless.yaml"), text) {
        Ok(l) => l.config,
        Err(e) => panic!("config: {e:?}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn process(name: &str, program: &str, package: Option<&str>) -> ObservedProcess {
    ObservedProcess {
        name: name.into(),
        program: Some(program.into()),
        exe: Some(program.into()),
        uid: 0,
        pids: vec![100],
        package: package.map(str::to_owned),
        exe_package: package.map(str::to_owned),
    }
}

fn outbound(
    p: &ObservedProcess,
    local: &str,
    remote: &str,
    port: u16,
    seen: u32,
) -> ObservedConnection {
    ObservedConnection {
        direction: Direction::Outbound,
        process: Some(p.clone()),
        local_address: ip(local),
        local_port: None,
        remote_address: ip(remote),
        remote_port: Some(port),
        states: vec![TcpState::Established],
        samples_seen: seen,
        first_sample: 0,
        last_sample: seen.saturating_sub(1),
        peak: 1,
    }
}

fn inbound(p: &ObservedProcess, local: &str, port: u16, remote: &str) -> ObservedConnection {
    ObservedConnection {
        direction: Direction::Inbound,
        local_port: Some(port),
        remote_port: None,
        ..outbound(p, local, remote, 0, 10)
    }
}

fn listener(p: &ObservedProcess, addr: &str, port: u16) -> ObservedListener {
    ObservedListener {
        address: ip(addr),
        port,
        process: Some(p.clone()),
        samples_seen: 10,
        first_sample: 0,
        last_sample: 9,
    }
}

fn host(
    address: &str,
    listeners: Vec<ObservedListener>,
    connections: Vec<ObservedConnection>,
) -> HostObservation {
    HostObservation {
        address: address.into(),
        addresses: vec![ip(address)],
        samples: 10,
        failed_samples: 0,
        listeners,
        connections,
        package_db: Some(PackageDb::Dpkg),
        packages: BTreeMap::new(),
        notes: Vec::new(),
    }
}

/// web-1's acme-web calls api-1's acme-api (declared), and takes requests from a client;
/// api-1's acme-api publishes to 127.0.0.1:5672 (declared nowhere), takes web's requests
/// and calls itself; a backup script on api-1 calls the API too.
fn observation() -> Observation {
    let web = process("acme-web", "/usr/sbin/acme-web", Some("acme-web"));
    let api = process("acme-api", "/usr/sbin/acme-api", Some("acme-api"));
    let backup = process("backup.sh", "/usr/local/bin/backup.sh", None);
    let mut hosts = BTreeMap::new();
    hosts.insert(
        "web-1".to_owned(),
        host(
            "10.0.0.1",
            vec![listener(&web, "0.0.0.0", 8080)],
            vec![
                outbound(&web, "10.0.0.1", "10.0.0.2", 9090, 7),
                inbound(&web, "10.0.0.1", 8080, "10.0.0.99"),
            ],
        ),
    );
    hosts.insert(
        "api-1".to_owned(),
        host(
            "10.0.0.2",
            vec![listener(&api, "10.0.0.2", 9090)],
            vec![
                outbound(&api, "127.0.0.1", "127.0.0.1", 5672, 10),
                inbound(&api, "10.0.0.2", 9090, "10.0.0.1"),
                outbound(&api, "10.0.0.2", "10.0.0.2", 9090, 3),
                outbound(&backup, "10.0.0.2", "10.0.0.2", 9090, 1),
            ],
        ),
    );
    Observation {
        version: OBSERVATION_VERSION,
        started_at: jiff::Timestamp::UNIX_EPOCH,
        window_ms: 5000,
        interval_ms: 500,
        hosts,
        unreachable: BTreeMap::new(),
        notes: Vec::new(),
    }
}

#[test]
fn a_declared_edge_is_observed_and_an_undeclared_one_is_named_with_its_process() {
    let cfg = config(RABBITMQ);
    let d = drift(&cfg, &observation());
    assert_eq!(d.observed.len(), 1, "{:?}", d.observed);
    assert_eq!(
        (d.observed[0].from.as_str(), d.observed[0].to.as_str()),
        ("web", "api")
    );
    assert_eq!(d.observed[0].uses[0].samples_seen, 7);

    assert!(d.has_undeclared());
    assert_eq!(d.undeclared.len(), 1, "{:?}", d.undeclared);
    let e = &d.undeclared[0];
    assert_eq!((e.from.as_str(), e.to.as_str()), ("api", "rabbitmq"));
    assert_eq!(e.via, "listens");
    assert_eq!(e.hosts(), ["api-1"]);
    let u = &e.uses[0];
    assert_eq!(u.process, "acme-api");
    assert_eq!(u.program.as_deref(), Some("/usr/sbin/acme-api"));
    assert_eq!(u.package.as_deref(), Some("acme-api"));
    assert_eq!(u.remote, "127.0.0.1:5672");
    assert_eq!((u.samples_seen, u.samples, u.established), (10, 10, true));
    assert!(d.unknown_peers.is_empty(), "{:?}", d.unknown_peers);

    // Declared but never seen.
    assert_eq!(d.unobserved, [("web".to_owned(), "payments".to_owned())]);
    // The backup script belongs to no component: unattributed, with what it talks to.
    assert_eq!(d.unattributed.len(), 1, "{:?}", d.unattributed);
    let un = &d.unattributed[0];
    assert_eq!(
        un.process.as_ref().map(|p| p.process.as_str()),
        Some("backup.sh")
    );
    assert_eq!(un.to.as_deref(), Some("api"));
    // payments.example is not an inventory host: said, not guessed.
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("`payments.example`") && n.contains("unresolved")),
        "{:?}",
        d.notes
    );
}

#[test]
fn inbound_and_self_connections_are_not_edges() {
    let d = drift(&config(RABBITMQ), &observation());
    let all: Vec<(&str, &str)> = d
        .observed
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .chain(
            d.undeclared
                .iter()
                .map(|e| (e.from.as_str(), e.to.as_str())),
        )
        .collect();
    assert!(
        !all.contains(&("api", "web")),
        "api accepted web's requests: {all:?}"
    );
    assert!(!all.contains(&("api", "api")), "{all:?}");
    // web's inbound client (10.0.0.99) is no unknown peer of web.
    assert!(d.unknown_peers.iter().all(|p| p.from != "web"));
}

#[test]
fn without_a_component_claiming_it_the_endpoint_is_an_unknown_peer() {
    let d = drift(&config(""), &observation());
    assert!(!d.has_undeclared(), "{:?}", d.undeclared);
    assert_eq!(d.unknown_peers.len(), 1, "{:?}", d.unknown_peers);
    let p = &d.unknown_peers[0];
    assert_eq!(
        (p.from.as_str(), p.address, p.port),
        ("api", ip("127.0.0.1"), 5672)
    );
    assert_eq!(p.uses[0].package.as_deref(), Some("acme-api"));
    assert_eq!(p.served_by, None);
}

/// A peer no component claims, served by a process another observed host shows: named by
/// it; and once a component's check names that process, the peer is that component.
#[test]
fn observed_listeners_name_the_peer() {
    let pg = process(
        "postgres",
        "/usr/lib/postgresql/15/bin/postgres",
        Some("postgresql-15"),
    );
    let mut obs = observation();
    obs.hosts.insert(
        "db-1".to_owned(),
        host("10.0.0.3", vec![listener(&pg, "0.0.0.0", 5432)], vec![]),
    );
    let api = process("acme-api", "/usr/sbin/acme-api", Some("acme-api"));
    if let Some(h) = obs.hosts.get_mut("api-1") {
        h.connections
            .push(outbound(&api, "10.0.0.2", "10.0.0.3", 5432, 4));
    }
    let d = drift(&config(RABBITMQ), &obs);
    let p = d
        .unknown_peers
        .iter()
        .find(|p| p.port == 5432)
        .expect("an unknown peer");
    let by = p
        .served_by
        .as_ref()
        .expect("served by the observed listener");
    assert_eq!(
        (by.host.as_str(), by.process.as_str(), by.package.as_deref()),
        ("db-1", "postgres", Some("postgresql-15"))
    );

    let db = "  db:\n    runs_on: db-1\n    checks:\n      - { name: pg, process: { name: postgres } }\n";
    let d = drift(&config(&format!("{RABBITMQ}{db}")), &obs);
    assert!(
        d.unknown_peers.iter().all(|p| p.port != 5432),
        "{:?}",
        d.unknown_peers
    );
    let e = d
        .undeclared
        .iter()
        .find(|e| e.to == "db")
        .expect("api → db, undeclared");
    assert_eq!(e.from, "api");
    assert!(e.via.contains("listener on db-1"), "{}", e.via);
}

/// A process whose name no check gives belongs to the component whose endpoint it listens
/// on, or whose `package` check names its package.
#[test]
fn processes_resolve_by_listener_and_by_package() {
    let cfg = config(RABBITMQ);
    let r = Resolver::new(&cfg);
    let obs = observation();
    let gunicorn = process("gunicorn", "/opt/api/app.py", None);
    let mut h = obs.hosts["api-1"].clone();
    h.listeners.push(listener(&gunicorn, "0.0.0.0", 9090));
    let (comp, why) = r.process("api-1", &gunicorn, &h).expect("by its listener");
    assert_eq!(comp, "api");
    assert!(why.starts_with("listens on 0.0.0.0:9090"), "{why}");

    let extra = "  worker:\n    runs_on: api-1\n    checks:\n      - { name: pkg, package: { name: acme-worker } }\n";
    let cfg = config(&format!("{RABBITMQ}{extra}"));
    let r = Resolver::new(&cfg);
    let w = process("python3", "/usr/lib/acme/worker.py", Some("acme-worker"));
    let (comp, why) = r.process("api-1", &w, &h).expect("by its package");
    assert_eq!(
        (comp.as_str(), why.as_str()),
        ("worker", "package `acme-worker`")
    );
    assert_eq!(
        r.process("web-1", &w, &obs.hosts["web-1"]),
        None,
        "not on web-1"
    );
}

#[test]
fn the_drift_renders_as_sarif() {
    let d = drift(&config(""), &observation());
    let mut d2 = drift(&config(RABBITMQ), &observation());
    d2.unknown_peers = d.unknown_peers;
    let text = format!("{BASE}{RABBITMQ}");
    let lines = component_lines(&text);
    let log = sarif_with_lines(&d2, Path::new("/etc/fearless/fearless.yaml"), &lines);
    let v = serde_json::to_value(&log).expect("json");
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["ruleId"], "fearless/undeclared-dependency");
    assert_eq!(results[0]["level"], "error");
    let loc = &results[0]["locations"][0];
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uri"],
        "file:///etc/fearless/fearless.yaml"
    );
    assert_eq!(loc["physicalLocation"]["region"]["startLine"], lines["api"]);
    assert_eq!(
        loc["logicalLocations"][0]["fullyQualifiedName"],
        "components.api"
    );
    assert!(
        results[0]["message"]["text"].as_str().is_some_and(|t| t
            .contains("`api` talks to `rabbitmq`")
            && t.contains("acme-api on api-1")),
        "{}",
        results[0]["message"]
    );
    assert_eq!(results[1]["ruleId"], "fearless/unknown-peer");
    assert_eq!(results[1]["level"], "warning");
    assert_eq!(
        v["runs"][0]["tool"]["driver"]["rules"][1]["defaultConfiguration"]["level"],
        "warning"
    );
    // Without the text: the file and the component, no line.
    let plain = serde_json::to_value(sarif(&d2, Path::new("fearless.yaml"))).expect("json");
    let loc = &plain["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "fearless.yaml");
    assert!(loc.get("region").is_none());

    let json = serde_json::to_string(&d2).expect("drift json");
    let back: fearless_observe::Drift = serde_json::from_str(&json).expect("drift back");
    assert_eq!(back, d2);
}
