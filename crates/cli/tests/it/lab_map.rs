//! The dependency map against live connections, on the tiered lab: front ends calling the
//! orders APIs on other hosts per request, the APIs keeping a connection to the ledger and
//! publishing to the machine's RabbitMQ (declared as a component, not as a dependency),
//! the ledger calling a payments provider outside the inventory. Needs root and RabbitMQ
//! on 127.0.0.1:5672 (CI has both; without them the test fails, never skips).

use std::collections::BTreeSet;

use super::{TestLab, exits_as, json_exits_as, lab_ssh, ok_as};

/// `from → to` of every edge of `fearless map --format json` of `config`.
fn edges(config: &str) -> BTreeSet<String> {
    let doc = json_exits_as(config, "ops", 0, &["map"]);
    doc["map"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            format!(
                "{} → {}",
                e["from"].as_str().expect("from"),
                e["to"].as_str().expect("to")
            )
        })
        .collect()
}

/// `--store STORE ARGS…`
fn on<'a>(store: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    [&["--store", store][..], args].concat()
}

#[test]
fn lab_map_observe_finds_the_undeclared_broker_and_discover_drafts_the_whole_graph() {
    assert!(
        std::net::TcpStream::connect("127.0.0.1:5672").is_ok(),
        "the tiered lab needs RabbitMQ on 127.0.0.1:5672 (scripts/test.sh starts it)"
    );
    let lab = TestLab::up(&["--topology", "tiered"]);
    let c = lab.config.as_str();
    let store = format!("sqlite:{}", lab.file("state.db").display());

    // Exactly the undeclared dependency, named by process and package; exit 1.
    let doc = json_exits_as(
        c,
        "ops",
        1,
        &on(&store, &["map", "--observe", "--for", "5s"]),
    );
    let drift = &doc["drift"];
    let undeclared = drift["undeclared"].as_array().expect("undeclared");
    assert_eq!(undeclared.len(), 1, "{drift:#}");
    assert_eq!(undeclared[0]["from"], "orders-api");
    assert_eq!(undeclared[0]["to"], "broker");
    let uses = undeclared[0]["uses"].as_array().expect("uses");
    let hosts: BTreeSet<&str> = uses.iter().filter_map(|u| u["host"].as_str()).collect();
    assert_eq!(hosts, BTreeSet::from(["api-1", "api-2"]), "{drift:#}");
    for u in uses {
        assert_eq!(u["process"], "acme-api", "{u}");
        assert_eq!(u["package"], "acme-api", "{u}");
        assert_eq!(u["remote"], "127.0.0.1:5672", "{u}");
    }
    assert_eq!(drift["unknown_peers"], serde_json::json!([]), "{drift:#}");
    assert_eq!(doc["observation"], "OBS-1");
    // the undeclared edge is drawn, red and dashed
    let map_edges = doc["map"]["edges"].as_array().expect("edges");
    assert!(
        map_edges
            .iter()
            .any(|e| e["from"] == "orders-api" && e["to"] == "broker" && e["kind"] == "undeclared"),
        "{map_edges:?}"
    );
    // the human report names process and package, and exits 1 too
    let (report, _) = exits_as(c, "ops", 1, &on(&store, &["map", "show", "OBS-1"]));
    assert!(
        report.contains("orders-api → broker")
            && report.contains(
                "acme-api (/usr/sbin/acme-api, package acme-api) on api-1 → 127.0.0.1:5672"
            ),
        "{report}"
    );

    // Declared, it is no longer drift: exit 0.
    let declared = lab.config_variant("declared", |text| {
        text.replace(
            "    depends_on: [ledger]\n",
            "    depends_on: [ledger, broker]\n",
        )
    });
    let doc = json_exits_as(
        &declared,
        "ops",
        0,
        &on(&store, &["map", "--observe", "--for", "3s"]),
    );
    assert_eq!(doc["drift"]["undeclared"], serde_json::json!([]), "{doc:#}");
    let listed = ok_as(c, "ops", &on(&store, &["map", "list"]));
    assert!(
        listed.contains("OBS-2") && listed.contains("2 observation(s)"),
        "{listed}"
    );
    let diff = ok_as(c, "ops", &on(&store, &["map", "diff", "OBS-1", "OBS-2"]));
    assert!(diff.contains("- undeclared: orders-api → broker"), "{diff}");

    // discover: the draft loads, its checks pass, its graph holds every declared edge of
    // the lab plus the undeclared one.
    let draft = lab.file("draft.yaml");
    let draft_path = draft.display().to_string();
    let said = ok_as(
        c,
        "ops",
        &on(&store, &["discover", "--for", "10s", "-o", &draft_path]),
    );
    assert!(
        said.contains("+ UNDECLARED dependency orders-api → broker"),
        "{said}"
    );
    let check = ok_as(&draft_path, "ops", &["check"]);
    assert!(check.contains(", 0 fail, 0 error"), "{check}");
    let drafted = edges(&draft_path);
    let mut wanted = edges(c);
    wanted.insert("orders-api → broker".to_owned());
    assert!(
        drafted.is_superset(&wanted),
        "drafted {drafted:?}\nwanted {wanted:?}"
    );
    // init: a starter for the same fleet from a host list (and one host that does not
    // answer), pinged and drafted; what it wrote passes its own test plan.
    let inventory = json_exits_as(c, "ops", 0, &["hosts"]);
    let mut list: Vec<String> = inventory["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| {
            format!(
                "{}={}",
                h["name"].as_str().expect("name"),
                h["address"].as_str().expect("address")
            )
        })
        .collect();
    let lab_hosts = list.len();
    list.push("ghost-1=127.0.0.250".into());
    let started = lab.file("started.yaml");
    let started_path = started.display().to_string();
    let ssh_config = std::path::Path::new(&lab.dir).join("ssh_config");
    // (as the OS account: the starter enforces identities, so no --as)
    let (said, _) = super::exits(
        0,
        &[
            "--format",
            "json",
            "init",
            "--hosts",
            &list.join(","),
            "--ssh-config",
            &ssh_config.display().to_string(),
            "--for",
            "5s",
            "-o",
            &started_path,
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&said).expect("json");
    let pings = doc["pings"].as_array().expect("pings");
    let down: Vec<&str> = pings
        .iter()
        .filter(|p| p["reachable"] == false)
        .filter_map(|p| p["host"].as_str())
        .collect();
    assert_eq!(down, ["ghost-1"], "{doc:#}");
    assert_eq!(pings.len(), lab_hosts + 1);
    let components: BTreeSet<&str> = doc["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    for wanted in ["acme-web", "acme-api", "acme-ledger"] {
        assert!(components.contains(wanted), "{wanted} not drafted: {doc:#}");
    }
    assert_eq!(
        doc["next"][0],
        format!("fearless -c {started_path} hosts ping")
    );
    let text = std::fs::read_to_string(&started).expect("written");
    assert!(
        text.starts_with("# fearless.yaml, written by `fearless init`"),
        "{text}"
    );
    assert!(text.contains("# INFERRED: seen on"), "{text}");
    let check = super::run_ok(&["-c", &started_path, "check", "--hosts", "web-*"]);
    assert!(check.contains(", 0 fail, 0 error"), "{check}");

    // an existing file is never overwritten: the draft goes beside it
    let before = std::fs::read_to_string(&draft).expect("draft");
    let said = ok_as(
        c,
        "ops",
        &on(&store, &["discover", "--for", "2s", "-o", &draft_path]),
    );
    assert!(said.contains("draft.yaml.draft"), "{said}");
    assert_eq!(std::fs::read_to_string(&draft).expect("draft"), before);

    // A host that does not answer is reported; the others are still observed.
    let ghost = lab.config_variant("ghost", |text| {
        text.replace(
            "  hosts:\n",
            "  hosts:\n    ghost-1: { address: 127.0.0.250, labels: { role: ghost } }\n",
        )
    });
    let doc = json_exits_as(
        &ghost,
        "ops",
        1,
        &on(&store, &["map", "--observe", "--for", "2s"]),
    );
    let unreachable = &doc["drift"];
    assert_eq!(
        doc["map"]["edges"]
            .as_array()
            .map(|e| e.iter().filter(|e| e["kind"] == "undeclared").count()),
        Some(1),
        "{unreachable:#}"
    );
    let (report, _) = exits_as(&ghost, "ops", 1, &on(&store, &["map", "show", "OBS-5"]));
    assert!(report.contains("not observed: ghost-1"), "{report}");

    // Observed as a user who cannot read root's processes: a note, and no wrong edge.
    lab_ssh(
        &lab.dir,
        "api-1",
        "useradd -m watcher && mkdir -p /home/watcher/.ssh && cp /root/.ssh/authorized_keys /home/watcher/.ssh/ && chown -R watcher /home/watcher/.ssh",
    );
    let watcher = lab.config_variant("watcher", |text| {
        text.replace(
            "    api-1: { address: 127.0.0.13,",
            "    api-1: { address: 127.0.0.13, user: watcher,",
        )
    });
    let doc = json_exits_as(
        &watcher,
        "ops",
        0,
        &on(
            &store,
            &["map", "--observe", "--for", "2s", "--hosts", "api-1"],
        ),
    );
    assert_eq!(doc["drift"]["undeclared"], serde_json::json!([]), "{doc:#}");
    // acme-api's connection to the broker is seen, on api-1's address, without a process
    let unattributed = doc["drift"]["unattributed"]
        .as_array()
        .expect("unattributed");
    assert!(
        unattributed.iter().any(|u| u["host"] == "api-1"
            && u["remote"] == "127.0.0.1:5672"
            && u["process"].is_null()),
        "{doc:#}"
    );
    let (report, _) = exits_as(&watcher, "ops", 0, &on(&store, &["map", "show", "OBS-6"]));
    assert!(
        report.contains("could not be read (not permitted") && report.contains("run as root"),
        "{report}"
    );
}
