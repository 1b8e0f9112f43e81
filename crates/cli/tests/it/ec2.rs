//! `inventory.ec2` end to end against a real `moto_server`: instances in two AZs and two
//! roles (one stopped), filters, names, labels, addresses, the store's cache and
//! `--refresh`, and what bad input and an unreachable endpoint get.

use crate::{exits, fails_with, write_config};
use fearless_testkit::moto::{BOTO3_PRELUDE, Moto};

fn seeded() -> Moto {
    let moto = Moto::start();
    moto.python(&format!(
        "{BOTO3_PRELUDE}
run(1, {{'Name': 'web-1', 'role': 'web', 'team': 'shop'}}, 'eu-west-1a')
run(1, {{'Name': 'web-2', 'role': 'web', 'team': 'shop'}}, 'eu-west-1b')
run(1, {{'role': 'api'}}, 'eu-west-1a')
run(1, {{'Name': 'web-3', 'role': 'web'}}, 'eu-west-1b', 'stopped')
"
    ));
    moto
}

fn config(dir: &std::path::Path, source: &str) -> String {
    write_config(dir, &format!("inventory:\n  ec2:\n    - {source}\n"))
}

fn hosts_json(cfg: &str, extra: &[&str]) -> serde_json::Value {
    let (out, _) = exits(
        0,
        &[&["hosts", "-c", cfg, "--format", "json"][..], extra].concat(),
    );
    serde_json::from_str(&out).expect("json")
}

#[test]
fn running_instances_become_hosts_with_their_tags_as_labels() {
    let moto = seeded();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(
        dir.path(),
        &format!(
            "{{ region: eu-west-1, endpoint_url: \"{}\", transport: ssh, filters: {{ instance-state-name: running, \"tag:role\": [web, api] }}, defaults: {{ user: ec2-user, labels: {{ env: prod }} }} }}",
            moto.url()
        ),
    );
    let v = hosts_json(&cfg, &[]);
    let hosts = v["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 3, "the stopped one is filtered out: {v}");
    let web1 = hosts
        .iter()
        .find(|h| h["name"] == "web-1")
        .expect("web-1 by its Name tag");
    assert_eq!(web1["labels"]["role"], "web");
    assert_eq!(web1["labels"]["team"], "shop");
    assert_eq!(web1["labels"]["az"], "eu-west-1a");
    assert_eq!(web1["labels"]["instance-type"], "t3.micro");
    assert_eq!(web1["labels"]["env"], "prod");
    assert_eq!(web1["user"], "ec2-user");
    assert_eq!(web1["transport"], "ssh");
    assert_eq!(web1["source"], "ec2[0]:eu-west-1");
    assert!(
        web1["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("10.")),
        "{web1}"
    );
    // Without a Name tag, the instance id names the host.
    let api = hosts
        .iter()
        .find(|h| h["labels"]["role"] == "api")
        .expect("api");
    assert_eq!(api["name"], api["instance"]);

    // A name template and another address.
    let named = config(
        dir.path(),
        &format!(
            "{{ region: eu-west-1, endpoint_url: \"{}\", transport: ssh, name: \"{{tag:role}}-{{private-ip}}\", address: private-dns, filters: {{ \"tag:role\": web, instance-state-name: running }} }}",
            moto.url()
        ),
    );
    let v = hosts_json(&named, &[]);
    for h in v["hosts"].as_array().expect("hosts") {
        let name = h["name"].as_str().unwrap_or_default();
        assert!(name.starts_with("web-10-"), "{name}");
        assert!(
            h["address"]
                .as_str()
                .is_some_and(|a| a.contains("internal")),
            "{h}"
        );
    }

    // The human table says where each host comes from.
    let (table, _) = exits(0, &["hosts", "-c", &cfg, "--source"]);
    assert!(
        table.contains("SOURCE") && table.contains("ec2[0]:eu-west-1"),
        "{table}"
    );
}

#[test]
fn answers_are_cached_in_the_store_and_refresh_asks_again() {
    let moto = seeded();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(
        dir.path(),
        &format!(
            "{{ region: eu-west-1, endpoint_url: \"{}\", transport: ssh, cache: 1h, filters: {{ instance-state-name: running }} }}",
            moto.url()
        ),
    );
    // A store to cache in (a command that writes creates it).
    exits(
        0,
        &[
            "change", "new", "-c", &cfg, "--title", "first", "--hosts", "web-1",
        ],
    );
    assert_eq!(
        hosts_json(&cfg, &[])["hosts"].as_array().map(Vec::len),
        Some(3)
    );
    drop(moto);
    // EC2 is gone: the cached answer still serves.
    assert_eq!(
        hosts_json(&cfg, &[])["hosts"].as_array().map(Vec::len),
        Some(3)
    );
    // --refresh insists on asking: an unreachable endpoint is exit 3, said clearly.
    let err = fails_with(3, "cannot reach ec2", &["hosts", "-c", &cfg, "--refresh"]);
    assert!(
        err.contains("inventory.ec2[0]") && err.contains("fearless.yaml:"),
        "{err}"
    );
}

#[test]
fn a_taken_name_and_bad_filters_are_located_errors() {
    let moto = seeded();
    let dir = tempfile::tempdir().expect("tmp");
    let taken = write_config(
        dir.path(),
        &format!(
            "inventory:\n  hosts:\n    web-1: {{ address: 127.0.0.1 }}\n  ec2:\n    - {{ region: eu-west-1, endpoint_url: \"{}\", transport: ssh }}\n",
            moto.url()
        ),
    );
    let err = fails_with(2, "config::duplicate-host", &["hosts", "-c", &taken]);
    assert!(
        err.contains("`web-1`") && err.contains("fearless.yaml:5:"),
        "{err}"
    );

    let bad = config(
        dir.path(),
        "{ region: eu-west-1, endpoint_url: \"http://127.0.0.1:1\", filters: { \"bad filter!\": x, \"tag:role\": [] } }",
    );
    let err = fails_with(2, "config::ec2-filter", &["hosts", "-c", &bad]);
    assert!(
        err.contains("bad filter!") && err.contains("needs one or more values"),
        "{err}"
    );

    let region = config(
        dir.path(),
        "{ region: \"eu west\", address: public, name: \"{nope}\" }",
    );
    let err = fails_with(2, "config::region", &["hosts", "-c", &region]);
    assert!(
        err.contains("config::ec2-address") && err.contains("config::ec2-name"),
        "{err}"
    );
}

#[test]
fn an_unreachable_endpoint_is_exit_3() {
    let port = fearless_testkit::free_port("127.0.0.1");
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(
        dir.path(),
        &format!(
            "{{ region: eu-west-1, endpoint_url: \"http://127.0.0.1:{port}\", transport: ssh }}"
        ),
    );
    let err = fails_with(3, "cannot reach ec2", &["hosts", "-c", &cfg]);
    assert!(err.contains(&port.to_string()), "{err}");
}

#[test]
fn init_from_ec2_writes_a_discovering_config_that_lists_the_instances() {
    let moto = seeded();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("fearless.yaml").display().to_string();
    let url = moto.url();
    // Over SSM only: moto answers Run Command (running nothing), so nothing but loopback
    // is ever contacted.
    let (out, _) = exits(
        0,
        &[
            "init",
            "-o",
            &cfg,
            "--ec2",
            "eu-west-1",
            "--ec2-endpoint",
            &url,
            "--ec2-filter",
            "tag:role=web",
            "--transport",
            "ssm",
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        report["hosts"], 2,
        "the two running web instances: {report}"
    );
    let text = std::fs::read_to_string(&cfg).expect("written");
    assert!(
        text.contains("ec2:") && text.contains("\"tag:role\""),
        "{text}"
    );
    let v = hosts_json(&cfg, &[]);
    let names: Vec<&str> = v["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .filter_map(|h| h["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"web-1") && names.contains(&"web-2"),
        "{names:?}"
    );
    assert!(
        v["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .all(|h| h["transport"] == "ssm")
    );
    // Not replaced without --force.
    fails_with(2, "exists", &["init", "-o", &cfg, "--ec2", "eu-west-1"]);
}

/// `fearless hosts` with no key in the environment and none in a profile: the standard
/// chain takes them from the container credentials endpoint (as on ECS), over the HTTP
/// client every AWS call uses, and signs the EC2 calls with them.
fn hosts_with_container_credentials(cfg: &str, credentials_url: &str) -> std::process::Output {
    let empty = tempfile::tempdir().expect("tmp");
    std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(["hosts", "-c", cfg, "--refresh", "--format", "json"])
        .env("NO_COLOR", "1")
        .env_remove("FEARLESS_CONFIG")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env("AWS_CONFIG_FILE", empty.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            empty.path().join("credentials"),
        )
        // Never ask an instance metadata service: this machine is not an instance.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", credentials_url)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run fearless")
}

#[test]
fn the_credential_chain_fetches_keys_over_http() {
    let moto = seeded();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(
        dir.path(),
        &format!(
            "{{ region: eu-west-1, endpoint_url: \"{}\", transport: ssh, filters: {{ instance-state-name: running }} }}",
            moto.url()
        ),
    );
    let creds = crate::HttpServer::start(
        200,
        r#"{"AccessKeyId":"ASIAFEARLESSTEST","SecretAccessKey":"fearless-container-secret","Token":"fearless-token","Expiration":"2099-01-01T00:00:00Z"}"#,
    );
    let out = hosts_with_container_credentials(
        &cfg,
        &format!("http://127.0.0.1:{}/v2/credentials", creds.port),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["hosts"].as_array().map(Vec::len), Some(3), "{v}");
    assert!(!stderr.contains("fearless-container-secret"), "{stderr}");

    // No credentials endpoint: a credentials error, exit 3, with no key shown.
    let port = fearless_testkit::free_port("127.0.0.1");
    let out =
        hosts_with_container_credentials(&cfg, &format!("http://127.0.0.1:{port}/v2/credentials"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
}
