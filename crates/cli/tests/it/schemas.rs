//! Every `--format json` output against its JSON Schema in `docs/schemas/`: [`validate`] is
//! called on every run of the binary through [`super::fearless`] (so each test that prints
//! JSON checks it too), and the test here runs each verb that prints JSON without a lab and
//! checks that each of their schemas was met at least once.

use std::collections::BTreeSet;
use std::path::Path;

use super::{HttpServer, fearless, stderr, stdout, write_config};

/// Names printed in a `schema` field that have no schema file yet (the lead's `init.rs`).
const NOT_YET: &[&str] = &[];

/// The schema file of `name` (`fearless.change/v1` → `docs/schemas/fearless.change.v1.json`).
fn schema_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/schemas")
        .join(format!("{}.json", name.replace('/', ".")))
}

/// If `out` is one JSON document with a `fearless.…` `schema` field, validate it against its
/// schema file, panicking with every error; its schema name. Anything else is left alone.
pub(crate) fn validate(out: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(out).ok()?;
    let name = doc.get("schema")?.as_str()?.to_owned();
    if !name.starts_with("fearless.") || NOT_YET.contains(&name.as_str()) {
        return None;
    }
    let path = schema_file(&name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{name} is printed but {} cannot be read: {e}",
            path.display()
        )
    });
    let schema: serde_json::Value = serde_json::from_str(&text).expect("a schema is JSON");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{} does not compile: {e}", path.display()));
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match {}:\n{}\n{}",
        path.display(),
        errors.join("\n"),
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    );
    Some(name)
}

/// A store, a config and the schemas met so far.
struct Env {
    dir: tempfile::TempDir,
    config: String,
    met: BTreeSet<String>,
}

impl Env {
    fn new(yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let config = write_config(dir.path(), yaml);
        Self {
            dir,
            config,
            met: BTreeSet::new(),
        }
    }

    /// `fearless -c CONFIG --as ops ARGS… --format json`, which must exit `code` and print a
    /// schema's JSON (validated by [`fearless`]); its document.
    #[track_caller]
    fn json(&mut self, code: i32, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["-c", self.config.as_str(), "--as", "ops"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "json"]);
        let out = fearless(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let name = validate(&out.stdout)
            .unwrap_or_else(|| panic!("{args:?} printed no schema's JSON: {}", stdout(&out)));
        self.met.insert(name);
        serde_json::from_slice(&out.stdout).expect("json")
    }
}

#[test]
fn json_outputs_match_their_schemas_without_a_lab() {
    let web = HttpServer::start(200, "ok");
    let users_dir = tempfile::tempdir().expect("tmp");
    let users = users_dir.path().join("users.txt");
    std::fs::write(&users, "").expect("users");
    let mut env = Env::new(&format!(
        "identity: {{ mode: trust }}\n\
         serve: {{ users: {users} }}\n\
         inventory:\n  hosts:\n    here: {{ address: 127.0.0.1, transport: local, labels: {{ role: web }} }}\n    gone: {{ address: 127.0.0.1, port: 1, labels: {{ role: db }} }}\n\
         components:\n  checkout:\n    runs_on: \"role=web\"\n    depends_on: [orders-api]\n    checks:\n      - {{ name: health, http: {{ url: \"http://127.0.0.1:{port}/\", body: ok }} }}\n  orders-api:\n    runs_on: \"role=web\"\n\
         change:\n  approvals_required: 1\n",
        users = users.display(),
        port = web.port,
    ));

    // Changes, incidents, rollouts and the journal: records with their ids.
    let change = env.json(
        0,
        &[
            "change",
            "new",
            "--title",
            "Monthly patch",
            "--hosts",
            "role=web",
            "--component",
            "checkout",
        ],
    );
    assert_eq!(change["id"], "CHG-1");
    env.json(0, &["change", "show", "CHG-1"]);
    env.json(0, &["change", "list"]);
    let incident = env.json(
        0,
        &[
            "incident",
            "open",
            "--component",
            "checkout",
            "--since",
            "2h",
            "--title",
            "checkout 502s",
        ],
    );
    assert_eq!(incident["id"], "INC-1");
    env.json(0, &["incident", "show", "INC-1"]);
    env.json(0, &["incident", "list"]);
    let rca = env.json(0, &["rca", "INC-1", "--no-live"]);
    assert_eq!(rca["id"], "INC-1");
    env.json(0, &["rollout", "list"]);
    // A patch's plan: CHG-1 approved by someone else, scheduled now, pinned to what this
    // machine has.
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let end = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(5);
    let window = format!(
        "{}..{}",
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        end.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    for (who, args) in [
        ("ops", vec!["change", "submit", "CHG-1"]),
        ("bob", vec!["change", "approve", "CHG-1"]),
        (
            "ops",
            vec!["change", "schedule", "CHG-1", "--window", window.as_str()],
        ),
    ] {
        let mut all = vec!["-c", env.config.as_str(), "--as", who];
        all.extend_from_slice(&args);
        let out = fearless(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    let version = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "base-files"])
        .output()
        .expect("dpkg-query");
    let manifest = env.dir.path().join("manifest.txt");
    std::fs::write(
        &manifest,
        format!("base-files={}\n", String::from_utf8_lossy(&version.stdout)),
    )
    .expect("manifest");
    let manifest = manifest.display().to_string();
    let plan = env.json(
        0,
        &[
            "patch",
            "--change",
            "CHG-1",
            "--dry-run",
            "--manifest",
            &manifest,
        ],
    );
    assert_eq!(plan["reboot"]["policy"], "never");
    env.json(0, &["journal"]);
    env.json(0, &["journal", "verify"]);

    // The fleet and its checks: a host of this machine, and one that cannot be reached.
    env.json(0, &["hosts"]);
    env.json(1, &["hosts", "ping"]);
    env.json(0, &["check", "--hosts", "here"]);
    env.json(0, &["check", "--dry-run"]);
    env.json(0, &["map"]);
    env.json(0, &["map", "list"]);
    env.json(0, &["events", "status"]);
    env.json(0, &["user", "list"]);

    // Packages and the OS of this machine (`local`), and the host that cannot be read.
    env.json(3, &["os"]);
    env.json(3, &["os", "--summary"]);
    env.json(3, &["parity", "role=web", "role=db"]);
    env.json(0, &["packages", "--hosts", "here"]);
    env.json(3, &["packages"]);
    let snap = env.json(0, &["snapshot", "--hosts", "here"]);
    assert_eq!(snap["id"], "SNAP-1");
    env.json(0, &["snapshot", "show", "SNAP-1"]);
    env.json(0, &["snapshot", "list"]);
    env.json(
        0,
        &["snapshot", "diff", "SNAP-1", "--live", "--hosts", "here"],
    );
    env.json(0, &["whatchanged", "--since", "1h", "--hosts", "here"]);

    // A scan of a small tree.
    let tree = env.dir.path().join("tree");
    std::fs::create_dir(&tree).expect("tree");
    std::fs::write(tree.join("deploy.sh"), "apt-get install -y nginx\n").expect("file");
    let tree = tree.display().to_string();
    let scan = fearless(&["scan", &tree, "--format", "json"]);
    env.met
        .insert(validate(&scan.stdout).expect("scan prints its schema"));

    let wanted = [
        "fearless.change/v1",
        "fearless.changes/v1",
        "fearless.check/v1",
        "fearless.hosts/v1",
        "fearless.incident/v1",
        "fearless.incidents/v1",
        "fearless.journal/v1",
        "fearless.journal-verify/v1",
        "fearless.map/v1",
        "fearless.observations/v1",
        "fearless.os/v1",
        "fearless.os-summary/v1",
        "fearless.outbox/v1",
        "fearless.packages/v1",
        "fearless.parity/v1",
        "fearless.patch-plan/v1",
        "fearless.ping/v1",
        "fearless.plan/v1",
        "fearless.rca/v1",
        "fearless.rollouts/v1",
        "fearless.scan/v1",
        "fearless.snapshot/v1",
        "fearless.snapshot-diff/v1",
        "fearless.snapshots/v1",
        "fearless.users/v1",
        "fearless.whatchanged/v1",
    ];
    let missing: Vec<&&str> = wanted.iter().filter(|n| !env.met.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "not met: {missing:?}; met: {:?}",
        env.met
    );
}

/// Every file of `docs/schemas/` is a valid draft 2020-12 schema titled with its name.
#[test]
fn every_schema_file_compiles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas");
    let mut count = 0;
    for e in std::fs::read_dir(&dir).expect("docs/schemas/").flatten() {
        let path = e.path();
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        jsonschema::meta::validate(&schema)
            .unwrap_or_else(|err| panic!("{}: not a valid schema: {err}", path.display()));
        let title = schema["title"].as_str().expect("a title");
        assert_eq!(
            schema_file(title),
            path,
            "{} is titled {title}",
            path.display()
        );
        count += 1;
    }
    assert!(
        count > 40,
        "only {count} schema file(s) in {}",
        dir.display()
    );
}
