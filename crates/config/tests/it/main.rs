//! The config crate's integration tests, one binary: config loading against fixture
//! folders (every invalid config gets its located diagnostics snapshot-tested; valid
//! examples load), the bad-input corpus, redaction, the Ansible import against
//! `ansible-inventory`, property tests and scale.

mod ansible;
mod bad;
mod common;
mod fuzz;
mod redaction;
mod scale;

use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Render problems with the path made relative so snapshots are machine-independent.
fn render(problems: &[fearless_config::Problem]) -> String {
    common::render_plain(problems)
}

#[test]
fn invalid_configs_report_located_problems() {
    let files = fixtures("invalid");
    assert!(
        files.len() >= 20,
        "the corpus must keep at least 20 invalid configs"
    );
    for file in files {
        let name = common::stem(&file);
        let Err(err) = fearless_config::load(&file) else {
            panic!("{} should not load", file.display());
        };
        assert!(
            err.problems
                .iter()
                .any(|p| p.severity == fearless_config::Severity::Error)
        );
        for p in &err.problems {
            assert!(
                p.line_col().is_some() || p.code == "config::import",
                "{name}: problem without a location: {}",
                p.plain()
            );
        }
        insta::assert_snapshot!(name, render(&err.problems));
    }
}

#[test]
fn warnings_do_not_stop_the_load() {
    for file in fixtures("warnings") {
        let name = common::stem(&file);
        let loaded = fearless_config::load(&file).expect("loads with warnings");
        assert!(!loaded.warnings.is_empty());
        insta::assert_snapshot!(format!("warning-{name}"), render(&loaded.warnings));
    }
}

#[test]
fn the_design_example_loads_with_its_ansible_import() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fearless.yaml");
    let loaded = fearless_config::load(&path).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.problems
                .iter()
                .map(fearless_config::Problem::plain)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let cfg = loaded.config;
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let names: Vec<&str> = cfg.inventory.hosts.keys().map(String::as_str).collect();
    assert_eq!(names, ["web-1", "web-2", "api-1", "batch-1", "batch-2"]);
    let batch2 = &cfg.inventory.hosts["batch-2"];
    assert_eq!(
        (batch2.address.as_str(), batch2.port, batch2.user.as_str()),
        ("10.0.3.12", 2222, "deploy")
    );
    assert_eq!(batch2.become_, Some(fearless_config::Become::Sudo));
    assert_eq!(batch2.labels["env"], "prod");
    let batch = cfg.components["batch"].runs_on.as_ref().expect("selector");
    assert_eq!(cfg.inventory.select(batch).len(), 2);
    let web = cfg.components["checkout"]
        .runs_on
        .as_ref()
        .expect("selector");
    assert_eq!(
        cfg.inventory
            .select(web)
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>(),
        ["web-1", "web-2"]
    );
    assert_eq!(
        cfg.components["checkout"].depends_on,
        ["orders-api", "queue", "payments"]
    );
    use fearless_config::ParityIgnore;
    assert_eq!(
        cfg.parity.ignore,
        [
            ParityIgnore::Package("htop".into()),
            ParityIgnore::Port(9100),
            ParityIgnore::Release
        ]
    );
    assert_eq!(
        cfg.monitor,
        fearless_config::MonitorPolicy {
            interval: std::time::Duration::from_secs(60),
            retention: std::time::Duration::from_secs(30 * 86_400),
            confirm: 2,
        }
    );
}

#[test]
fn monitor_takes_its_defaults_key_by_key() {
    let load = |monitor: &str| {
        let text = format!("inventory:\n  hosts:\n    web-1: {{ address: 127.0.0.1 }}\n{monitor}");
        fearless_config::load_str(Path::new("fearless.yaml"), text)
            .expect("loads")
            .config
            .monitor
    };
    assert_eq!(load(""), fearless_config::MonitorPolicy::default());
    let m = load("monitor: { interval: 5m }\n");
    assert_eq!(
        (m.interval, m.retention, m.confirm),
        (
            std::time::Duration::from_secs(300),
            std::time::Duration::from_secs(30 * 86_400),
            2
        )
    );
    assert_eq!(load("monitor: { confirm: 1, retention: 1h }\n").confirm, 1);
}

#[test]
fn ssh_connect_rate_is_a_positive_number_of_connections_a_second() {
    let load = |ssh: &str| {
        let text =
            format!("inventory:\n  ssh: {ssh}\n  hosts:\n    web-1: {{ address: 127.0.0.1 }}\n");
        fearless_config::load_str(Path::new("fearless.yaml"), text)
    };
    let rate = |ssh: &str| load(ssh).expect("loads").config.inventory.ssh.connect_rate;
    assert_eq!(rate("{}"), None);
    assert_eq!(rate("{ connect_rate: 20 }"), Some(20));
    for bad in ["0", "-3", "2.5", "fast", "20001"] {
        let err = load(&format!("{{ connect_rate: {bad} }}")).expect_err(bad);
        let text = render(&err.problems);
        assert!(
            text.contains("`connect_rate` must be a number from 1 to 10000"),
            "{bad}: {text}"
        );
        // Located at the value, on the `ssh:` line.
        assert!(text.starts_with("fearless.yaml:2:24:"), "{bad}: {text}");
    }
}

#[test]
fn all_problems_of_a_file_come_together() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/many-unknown-keys.yaml");
    let err = fearless_config::load(&file).expect_err("invalid");
    let unknown: Vec<_> = err
        .problems
        .iter()
        .filter(|p| p.code == "config::unknown-key")
        .collect();
    assert_eq!(unknown.len(), 4, "{}", render(&err.problems));
}

#[test]
fn sqs_and_ldap_checks_load_into_the_model() {
    use fearless_config::{CheckKind, LdapBind, LdapExpect, SqsMode};
    let yaml = r#"
inventory:
  hosts:
    mq-1: { address: 10.0.0.5 }
components:
  jobs:
    runs_on: all
    checks:
      - name: round trip
        sqs: { queue: "fearless-checks.fifo", region: eu-west-1, endpoint_url: "http://{host.address}:4566" }
      - name: backlog
        sqs: { queue: "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs", region: eu-west-1, mode: inspect, max_depth: 100, max_dead_letter: 0 }
  directory:
    external: true
    checks:
      - name: alice
        ldap:
          url: "ldaps://ldap.example"
          bind: { dn: "cn=monitor,dc=example,dc=org", password: "pw-67890" }
          base: "ou=people,dc=example,dc=org"
          filter: "(uid=alice)"
      - name: peers
        ldap: { url: "ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi", bind: external, base: "", filter: "(objectClass=*)", expect: 1 }
      - name: anyone
        ldap: { url: "ldap://ldap.example:389/", base: "dc=example,dc=org", filter: "(cn=*)", min: 0 }
"#;
    let loaded = fearless_config::load_str(Path::new("/tmp/fearless.yaml"), yaml.into())
        .unwrap_or_else(|e| {
            panic!(
                "{:?}",
                e.problems.iter().map(|p| p.plain()).collect::<Vec<_>>()
            )
        });
    let checks = |c: &str| loaded.config.components[c].checks.clone();
    let jobs = checks("jobs");
    let CheckKind::Sqs(round) = &jobs[0].kind else {
        panic!("{:?}", jobs[0].kind)
    };
    assert_eq!(round.mode, SqsMode::Roundtrip);
    assert_eq!(round.region, "eu-west-1");
    // The endpoint uses {host.*}: the controller runs it once per host.
    assert!(jobs[0].kind.uses_host());
    let CheckKind::Sqs(backlog) = &jobs[1].kind else {
        panic!("{:?}", jobs[1].kind)
    };
    assert_eq!(
        backlog.mode,
        SqsMode::Inspect {
            max_depth: Some(100),
            max_dead_letter: Some(0)
        }
    );
    let directory = checks("directory");
    let kinds: Vec<_> = directory
        .iter()
        .map(|c| match &c.kind {
            CheckKind::Ldap(l) => (l.bind.clone(), l.expect),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                LdapBind::Simple {
                    dn: "cn=monitor,dc=example,dc=org".into(),
                    password: "pw-67890".into()
                },
                LdapExpect::AtLeast(1)
            ),
            (LdapBind::External, LdapExpect::Exactly(1)),
            (LdapBind::Anonymous, LdapExpect::AtLeast(0)),
        ]
    );
    // The password never shows in a debug print of the config.
    let debug = format!("{:?}", loaded.config.components["directory"]);
    assert!(!debug.contains("pw-67890"), "{debug}");
    assert!(debug.contains("cn=monitor,dc=example,dc=org"), "{debug}");
}
