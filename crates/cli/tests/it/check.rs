//! `fearless check` end to end: results, localisation, formats, baselines, exit codes.

use super::{HttpServer, exits, fearless, stdout, write_config};
use fearless_testkit::Sshd;

/// web (http, healthy) → api (http, refused) → nothing; plus a healthy independent db.
fn shop(dir: &std::path::Path, web_port: u16, api_port: u16) -> String {
    write_config(
        dir,
        &format!(
            "components:\n  web:\n    external: true\n    depends_on: [api]\n    checks:\n      - {{ name: health, http: {{ url: \"http://127.0.0.1:{web_port}/\", body: ok }} }}\n      - {{ name: checkout, http: {{ url: \"http://127.0.0.1:{api_port}/checkout\" }} }}\n  api:\n    external: true\n    checks:\n      - {{ name: orders, http: {{ url: \"http://127.0.0.1:{api_port}/orders\", status: 200 }}, timeout: 2s }}\n  db:\n    external: true\n    checks:\n      - {{ name: query, sql: {{ url: \"postgres://postgres@127.0.0.1:5432/postgres\", query: \"select 1\", expect: \"1\" }} }}\n"
        ),
    )
}

fn closed_port() -> u16 {
    fearless_testkit::free_port("127.0.0.1")
}

/// The shop with web up and api refused (its temporary directory, web's server, the config).
fn api_down() -> (tempfile::TempDir, HttpServer, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let web = HttpServer::start(200, "ok");
    let cfg = shop(dir.path(), web.port, closed_port());
    (dir, web, cfg)
}

/// `fearless check -c CFG ARGS…`, which must exit `code`; its stdout.
#[track_caller]
fn check(cfg: &str, code: i32, args: &[&str]) -> String {
    exits(code, &[&["check", "-c", cfg][..], args].concat()).0
}

/// [`check`] with `--format json`, parsed.
#[track_caller]
fn check_json(cfg: &str, code: i32, args: &[&str]) -> serde_json::Value {
    let out = check(cfg, code, &[args, &["--format", "json"]].concat());
    serde_json::from_str(&out).expect("json")
}

#[test]
fn a_healthy_environment_exits_0() {
    let dir = tempfile::tempdir().expect("tmp");
    let web = HttpServer::start(200, "ok");
    let api = HttpServer::start(200, "[]");
    let cfg = shop(dir.path(), web.port, api.port);
    let out = check(&cfg, 0, &[]);
    assert!(out.contains("4 checks on 0 host(s)"), "{out}");
}

#[test]
fn json_names_the_root_suspect_and_the_impacted() {
    let (_dir, _web, cfg) = api_down();
    let v = check_json(&cfg, 1, &[]);
    assert_eq!(v["schema"], "fearless.check/v1");
    assert_eq!(v["summary"]["checks"], 4);
    assert_eq!(v["summary"]["fail"], 2);
    assert_eq!(v["summary"]["ok"], false);
    assert_eq!(v["localisation"]["suspects"][0]["component"], "api");
    assert_eq!(v["localisation"]["suspects"][0]["explains"], 2);
    assert_eq!(v["localisation"]["impacted"][0]["component"], "web");
    let orders = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["check"] == "orders")
        .expect("orders");
    assert_eq!(orders["status"], "fail");
    assert_eq!(orders["reason"], "refused");
    assert!(orders["duration_ms"].as_f64().is_some());
}

#[test]
fn human_output_has_a_summary_and_hints() {
    let (_dir, _web, cfg) = api_down();
    let out = fearless(&["check", "-c", &cfg]);
    let text = stdout(&out);
    assert!(
        text.contains("root suspect: api (explains 2 failed check(s))"),
        "{text}"
    );
    assert!(
        text.contains("impacted: web (depends on failing api)"),
        "{text}"
    );
    assert!(text.contains("hint: start with api"), "{text}");
    assert!(text.contains("[refused]"), "{text}");
}

#[test]
fn junit_has_one_testsuite_per_component_and_parses() {
    let (_dir, _web, cfg) = api_down();
    let xml = check(&cfg, 1, &["--format", "junit"]);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suites: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(suites, ["web", "api", "db"]);
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(failures, 2);
}

#[test]
fn tap_and_prometheus() {
    let (_dir, _web, cfg) = api_down();
    let tap = stdout(&fearless(&["check", "-c", &cfg, "--format", "tap"]));
    assert!(tap.starts_with("TAP version 14\n1..4\n"), "{tap}");
    assert!(tap.contains("ok 1 - web/health"), "{tap}");
    assert!(tap.contains("not ok 3 - api/orders"), "{tap}");
    let prom = stdout(&fearless(&["check", "-c", &cfg, "--format", "prometheus"]));
    assert!(prom.contains("# TYPE fearless_check_up gauge"), "{prom}");
    assert!(prom.contains("fearless_check_up{component=\"api\",check=\"orders\",host=\"\",kind=\"http\",status=\"fail\"} 0"), "{prom}");
    assert!(
        prom.contains("fearless_component_root_suspect{component=\"api\"} 1"),
        "{prom}"
    );
}

#[test]
fn a_baseline_reports_only_regressions_and_recoveries() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = dir.path().join("base.json");
    let base_s = base.display().to_string();
    let web = HttpServer::start(200, "ok");
    let api = HttpServer::start(200, "[]");
    let cfg = shop(dir.path(), web.port, api.port);
    check(&cfg, 0, &["--save-baseline", &base_s]);
    // Unchanged: exit 0, nothing to report.
    let same = check(&cfg, 0, &["--baseline", &base_s]);
    assert!(same.contains("no change against the baseline"), "{same}");
    // api goes away: regressions, exit 1.
    let cfg = shop(dir.path(), web.port, closed_port());
    let v = check_json(&cfg, 1, &["--baseline", &base_s]);
    let regressions: Vec<&str> = v["baseline"]["regressions"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["check"].as_str())
        .collect();
    assert_eq!(regressions, ["checkout", "orders"]);
    assert_eq!(
        v["baseline"]["recoveries"].as_array().map(Vec::len),
        Some(0)
    );
}

#[test]
fn a_closed_stdout_keeps_the_failing_exit_code() {
    let (_dir, _web, cfg) = api_down();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(["check", "-c", &cfg])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // like `| head` exiting at once
    assert_eq!(child.wait().expect("wait").code(), Some(1));
}

#[test]
fn a_new_failing_check_is_a_regression_and_a_vanished_one_is_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = dir.path().join("base.json").display().to_string();
    let web = HttpServer::start(200, "ok");
    let api = HttpServer::start(200, "[]");
    let only_web = write_config(
        dir.path(),
        &format!(
            "components:\n  web:\n    external: true\n    checks:\n      - {{ name: health, http: {{ url: \"http://127.0.0.1:{}/\" }} }}\n      - {{ name: old, http: {{ url: \"http://127.0.0.1:{}/\" }} }}\n",
            web.port, api.port
        ),
    );
    check(&only_web, 0, &["--save-baseline", &base]);
    let grown = write_config(
        dir.path(),
        &format!(
            "components:\n  web:\n    external: true\n    checks:\n      - {{ name: health, http: {{ url: \"http://127.0.0.1:{}/\" }} }}\n      - {{ name: new, http: {{ url: \"http://127.0.0.1:{}/\" }} }}\n",
            web.port,
            closed_port()
        ),
    );
    let v = check_json(&grown, 1, &["--baseline", &base]);
    assert_eq!(v["baseline"]["regressions"][0]["check"], "new");
    assert_eq!(
        v["baseline"]["regressions"][0]["before"],
        serde_json::Value::Null
    );
    assert_eq!(v["baseline"]["missing"][0]["check"], "old");
}

#[test]
fn host_checks_over_ssh_and_an_unreachable_host() {
    let sshd = Sshd::start("127.0.0.66");
    let dead = fearless_testkit::free_port("127.0.0.67");
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        &format!(
            "inventory:\n  ssh: {{ config: {}, connect_timeout: 3s }}\n  hosts:\n    {}\n    gone: {{ address: 127.0.0.67, port: {dead}, labels: {{ role: app }} }}\n  groups:\n    app: \"role=app\"\ncomponents:\n  app:\n    runs_on: \"group:app\"\n    checks:\n      - {{ name: shell, command: {{ run: [\"sh\", \"-c\", \"echo $0\"], stdout: sh }} }}\n      - {{ name: sshd, process: {{ name: sshd }} }}\n",
            sshd.ssh_config().display(),
            sshd.host_yaml("alive")
                .replace(" }", ", labels: { role: app } }"),
        ),
    );
    let v = check_json(&cfg, 1, &[]);
    for r in v["results"].as_array().expect("results") {
        match r["host"].as_str() {
            Some("alive") => assert_eq!(r["status"], "pass", "{r}"),
            Some("gone") => {
                assert_eq!(r["status"], "error", "{r}");
                assert_eq!(r["reason"], "transport", "{r}");
            }
            other => panic!("unexpected host {other:?}"),
        }
    }
    assert_eq!(
        v["localisation"]["unreachable"],
        serde_json::json!(["gone"])
    );
    assert_eq!(v["localisation"]["suspects"], serde_json::json!([]));

    let (ping, _) = exits(1, &["hosts", "ping", "-c", &cfg, "--format", "json"]);
    let p: serde_json::Value = serde_json::from_str(&ping).expect("json");
    assert_eq!(p["hosts"][0]["reachable"], true);
    assert!(p["hosts"][0]["latency_ms"].as_f64().is_some());
    assert_eq!(p["hosts"][1]["reachable"], false);
}

#[test]
fn record_keeps_each_run_and_journals_what_two_in_a_row_confirm() {
    let (_dir, _web, cfg) = api_down();
    let first = check_json(&cfg, 1, &["--record"]);
    assert_eq!(first["schema"], "fearless.check/v1");
    let id = first["run_id"].as_u64().expect("run_id");
    // The default `confirm: 2`: the second failing run turns api/orders and web/checkout.
    let out = check(&cfg, 1, &["--record"]);
    assert!(
        out.contains(&format!("recorded as check run {}", id + 1)),
        "{out}"
    );
    assert!(
        out.contains("api/orders turned failing (unknown → fail, 2 result(s) in a row)"),
        "{out}"
    );
    assert!(out.contains("web/checkout turned failing"), "{out}");
    // A third failing run confirms nothing new.
    let out = check(&cfg, 1, &["--record"]);
    assert!(!out.contains("turned failing"), "{out}");
    // Without --record nothing is kept, and there is no run id.
    assert!(check_json(&cfg, 1, &[]).get("run_id").is_none());
    let journal = exits(
        0,
        &[
            "journal",
            "-c",
            &cfg,
            "--subject",
            "check:api/orders",
            "--format",
            "json",
        ],
    )
    .0;
    assert_eq!(journal.matches("check.failed").count(), 1, "{journal}");
    // --record with --dry-run is refused before anything runs.
    exits(2, &["check", "-c", &cfg, "--record", "--dry-run"]);
}
