//! `fearless map` without a lab: the declared graph in every format, blast radius and
//! needs, `--status` from a saved run, `-o`, and what bad options get. (The observation of
//! live connections and `discover` are tested on the tiered lab, `lab_map.rs`.)

use super::{exits, fails_with, write_config};

/// web → api → db, api → queue, and an external payments provider db needs.
const SHOP: &str = r#"
inventory:
  hosts:
    web-1: { address: 127.0.0.1, transport: local, labels: { role: web } }
    api-1: { address: 127.0.0.1, transport: local, labels: { role: api } }
components:
  web:
    tier: front
    runs_on: "role=web"
    depends_on: [api]
    checks: [{ name: up, command: { run: ["true"] } }]
  api:
    tier: back
    runs_on: "role=api"
    depends_on: [db, queue]
    checks: [{ name: up, command: { run: ["false"] } }]
  db:
    tier: back
    runs_on: "role=api"
    depends_on: [payments]
    checks: [{ name: up, command: { run: ["true"] } }]
  queue:
    external: true
    listens: ["127.0.0.1:5672"]
    checks: [{ name: up, tcp: { address: "127.0.0.1:5672" } }]
  payments:
    external: true
    checks: [{ name: up, tcp: { address: "127.0.0.1:9" } }]
"#;

fn shop() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(dir.path(), SHOP);
    (dir, cfg)
}

#[track_caller]
fn map(cfg: &str, code: i32, args: &[&str]) -> String {
    exits(code, &[&["map", "-c", cfg][..], args].concat()).0
}

#[test]
fn the_map_shows_every_component_with_its_hosts_and_edges_in_every_format() {
    let (_dir, cfg) = shop();
    let human = map(&cfg, 0, &[]);
    for needle in [
        "front\n",
        "  web  on web-1\n    → api\n",
        "  api  on api-1\n",
        "external\n",
        "payments",
    ] {
        assert!(human.contains(needle), "{needle:?} in\n{human}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&map(&cfg, 0, &["--format", "json"])).expect("json");
    assert_eq!(json["schema"], "fearless.map/v1");
    let edges: Vec<String> = json["map"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| format!("{}>{} {}", e["from"], e["to"], e["kind"]))
        .collect();
    assert_eq!(
        edges,
        [
            "\"web\">\"api\" \"declared\"",
            "\"api\">\"db\" \"declared\"",
            "\"api\">\"queue\" \"declared\"",
            "\"db\">\"payments\" \"declared\""
        ]
    );
    let svg = map(&cfg, 0, &["--format", "svg"]);
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    for c in ["web", "api", "db", "queue", "payments"] {
        assert!(svg.contains(&format!("<title>{c}")), "{c} in the svg");
    }
    let dot = map(&cfg, 0, &["--format", "dot"]);
    assert!(dot.starts_with("digraph"), "{dot}");
    let mermaid = map(&cfg, 0, &["--format", "mermaid"]);
    assert!(mermaid.starts_with("flowchart TB"), "{mermaid}");
}

#[test]
fn impact_lists_what_breaks_and_needs_what_a_component_needs() {
    let (_dir, cfg) = shop();
    let impact = map(&cfg, 0, &["--impact", "db"]);
    assert!(
        impact.starts_with("if db breaks, these break too (2):\n  api\n  web\n"),
        "{impact}"
    );
    let needs = map(&cfg, 0, &["--needs", "api"]);
    assert!(
        needs.starts_with("api needs (3):\n  db\n  queue\n  payments\n"),
        "{needs}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&map(&cfg, 0, &["--impact", "payments", "--format", "json"]))
            .expect("json");
    assert_eq!(
        json["focus"]["components"],
        serde_json::json!(["db", "api", "web"])
    );
    let marks: Vec<(String, String)> = json["map"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().expect("name").to_owned(),
                n["mark"].as_str().expect("mark").to_owned(),
            )
        })
        .collect();
    assert!(
        marks.contains(&("payments".into(), "focus".into())),
        "{marks:?}"
    );
    assert!(
        marks.contains(&("queue".into(), "dimmed".into())),
        "{marks:?}"
    );
    let only = map(&cfg, 0, &["--components", "web,api", "--format", "json"]);
    let only: serde_json::Value = serde_json::from_str(&only).expect("json");
    assert_eq!(only["map"]["nodes"].as_array().map(Vec::len), Some(2));
    assert_eq!(only["map"]["edges"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_saved_run_colours_the_map_and_marks_the_root_suspect() {
    let (dir, cfg) = shop();
    let baseline = dir.path().join("run.json");
    let base = baseline.display().to_string();
    // api's check fails; the queue and payments are not reachable here
    exits(1, &["check", "-c", &cfg, "--save-baseline", &base]);
    let json: serde_json::Value =
        serde_json::from_str(&map(&cfg, 0, &["--status", &base, "--format", "json"]))
            .expect("json");
    let node = |name: &str| {
        json["map"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["name"] == name)
            .cloned()
            .expect("node")
    };
    assert_eq!(node("web")["status"], "pass");
    assert_eq!(node("api")["status"], "fail");
    assert_eq!(node("db")["status"], "pass");
    let svg = map(&cfg, 0, &["--status", &base, "--format", "svg"]);
    assert!(svg.contains("fail"), "a failing box is drawn as one");
}

#[test]
fn the_map_is_written_atomically_where_asked_and_never_over_a_device() {
    let (dir, cfg) = shop();
    let out = dir.path().join("map.svg");
    let said = map(
        &cfg,
        0,
        &["--format", "svg", "-o", &out.display().to_string()],
    );
    assert!(said.starts_with("wrote "), "{said}");
    let text = std::fs::read_to_string(&out).expect("written");
    assert!(text.contains("</svg>"));
    fails_with(
        2,
        "fearless replaces only regular files",
        &["map", "-c", &cfg, "-o", &dir.path().display().to_string()],
    );
}

#[test]
fn bad_options_are_refused_before_anything_runs() {
    let (_dir, cfg) = shop();
    let err = fails_with(
        2,
        "unknown component `dbb`",
        &["map", "-c", &cfg, "--impact", "dbb"],
    );
    assert!(err.contains("did you mean"), "{err}");
    fails_with(
        2,
        "unknown component `nope`",
        &["map", "-c", &cfg, "--components", "web,nope"],
    );
    fails_with(2, "sarif", &["map", "-c", &cfg, "--format", "sarif"]);
    fails_with(
        2,
        "invalid value 'junit'",
        &["map", "-c", &cfg, "--format", "junit"],
    );
    fails_with(
        2,
        "--status",
        &["map", "-c", &cfg, "--status", "/nonexistent/run.json"],
    );
    fails_with(
        2,
        "--for",
        &["map", "-c", &cfg, "--observe", "--for", "forever"],
    );
    fails_with(
        2,
        "--interval",
        &["map", "-c", &cfg, "--observe", "--interval", "0s"],
    );
    // the window must hold one sample
    fails_with(
        2,
        "at least --interval",
        &[
            "map",
            "-c",
            &cfg,
            "--observe",
            "--for",
            "100ms",
            "--interval",
            "1s",
            "--as",
            "ops",
        ],
    );
    fails_with(
        2,
        "not an observation id",
        &["map", "-c", &cfg, "show", "CHG-1"],
    );
}
