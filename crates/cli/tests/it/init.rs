//! `fearless init`: a starter configuration for one's own fleet, non-interactive, that
//! loads; never over an existing file without --force; bad hosts refused before anything
//! is written. (Drafting components from live hosts is in `lab_map`.)

use super::{exits, fails_with, json_as, ok_as};
use std::path::Path;

fn examples_inventory() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/inventory/hosts.ini")
        .display()
        .to_string()
}

#[test]
fn init_from_the_examples_ansible_inventory_writes_a_configuration_that_loads() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("site/fearless.yaml");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let o = out.display().to_string();
    let inv = examples_inventory();
    // --offline: the example's hosts are 10.0.x addresses, never contacted from a test
    let said = ok_as(
        "unused.yaml",
        "ops",
        &[
            "init",
            "--ansible",
            &inv,
            "--user",
            "deploy",
            "--offline",
            "-o",
            &o,
        ],
    );
    assert!(
        said.starts_with(&format!("wrote {o} (2 host(s))")),
        "{said}"
    );
    assert!(
        said.contains(&format!("next:\n  fearless -c {o} hosts ping\n")),
        "{said}"
    );
    let text = std::fs::read_to_string(&out).expect("written");
    // outside the configuration's directory: written absolute
    let normal = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("repository")
        .join("examples/inventory/hosts.ini");
    assert!(
        text.contains(&format!("    - ansible: \"{}\"\n", normal.display())),
        "{text}"
    );
    assert!(text.contains("host_key_checking: strict"), "{text}");
    let hosts = json_as(&o, "ops", &["hosts"]);
    let hosts = hosts["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0]["name"], "batch-1");
    assert_eq!(hosts[0]["address"], "10.0.3.11");
    assert_eq!(hosts[1]["port"], 2222);
    // the plan of a starter is empty but valid
    exits(0, &["-c", &o, "check", "--dry-run"]);

    // an inventory beside the configuration is imported by a relative path
    std::fs::copy(&inv, dir.path().join("site/hosts.ini")).expect("copy");
    let o2 = dir.path().join("site/second.yaml").display().to_string();
    let inside = dir.path().join("site/hosts.ini").display().to_string();
    let doc = json_as(
        "unused.yaml",
        "ops",
        &["init", "--ansible", &inside, "--offline", "-o", &o2],
    );
    assert_eq!(doc["schema"], "fearless.init/v1");
    assert_eq!(doc["hosts"], 2);
    assert_eq!(doc["written"], o2.as_str());
    let text = std::fs::read_to_string(&o2).expect("written");
    assert!(text.contains("    - ansible: \"hosts.ini\"\n"), "{text}");
}

#[test]
fn init_asks_nothing_without_a_terminal_and_never_replaces_without_force() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = dir.path().join("fearless.yaml").display().to_string();
    fails_with(
        2,
        "stdin is not a terminal",
        &["--as", "ops", "init", "-o", &o],
    );
    assert!(!Path::new(&o).exists());

    // a host list: names checked like the inventory's, the item named, nothing written
    let err = fails_with(
        2,
        "--hosts: item 2 (`-oProxyCommand=x`): host name",
        &[
            "--as",
            "ops",
            "init",
            "--hosts",
            "a,-oProxyCommand=x",
            "--offline",
            "-o",
            &o,
        ],
    );
    assert!(err.contains("ssh would read"), "{err}");
    fails_with(
        2,
        "host `a` is given twice",
        &[
            "--as",
            "ops",
            "init",
            "--hosts",
            "a,a=127.0.0.1",
            "--offline",
            "-o",
            &o,
        ],
    );
    assert!(!Path::new(&o).exists());

    exits(
        0,
        &[
            "--as",
            "ops",
            "init",
            "--hosts",
            "web-1=127.0.0.11",
            "--offline",
            "-o",
            &o,
        ],
    );
    let first = std::fs::read_to_string(&o).expect("written");
    assert!(
        first.contains("    \"web-1\": { address: \"127.0.0.11\" }"),
        "{first}"
    );
    fails_with(
        2,
        "exists: init does not replace a configuration",
        &[
            "--as",
            "ops",
            "init",
            "--hosts",
            "web-2",
            "--offline",
            "-o",
            &o,
        ],
    );
    assert_eq!(std::fs::read_to_string(&o).expect("kept"), first);
    let said = exits(
        0,
        &[
            "--as",
            "ops",
            "init",
            "--hosts",
            "web-2",
            "--offline",
            "-o",
            &o,
            "--force",
        ],
    )
    .0;
    assert!(said.contains(&format!("kept as {o}.bak")), "{said}");
    assert_eq!(
        std::fs::read_to_string(format!("{o}.bak")).expect("bak"),
        first
    );
    assert!(
        std::fs::read_to_string(&o)
            .expect("new")
            .contains("\"web-2\"")
    );
}

#[test]
fn init_reports_unreachable_hosts_and_writes_the_configuration_anyway() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = dir.path().join("fearless.yaml").display().to_string();
    // nothing listens on port 1 of the loopback address: refused at once
    let doc = json_as(
        "unused.yaml",
        "ops",
        &["init", "--hosts", "gone=127.0.0.1", "--port", "1", "-o", &o],
    );
    let pings = doc["pings"].as_array().expect("pings");
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0]["host"], "gone");
    assert_eq!(pings[0]["reachable"], false);
    assert!(
        pings[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{doc:#}"
    );
    assert_eq!(doc["components"].as_array().map(Vec::len), Some(0));
    assert_eq!(doc["next"][0], format!("fearless -c {o} hosts ping"));
    assert!(Path::new(&o).is_file());
    let hosts = json_as(&o, "ops", &["hosts"]);
    assert_eq!(hosts["hosts"][0]["port"], 1);
}
