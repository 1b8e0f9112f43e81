//! `fearless rehearse` on the lab: web-1's role (the acme shop, a declared file) rebuilt
//! on a fresh Debian 13 host names acme-web's hard-coded `#!/usr/bin/python3.11` and the
//! checks it breaks (exit 1), journaled on web-1 and on the change it is attached to; the
//! role without checkout works there (exit 0), and with `--keep` the host stays to explore
//! (its OS is Debian 13 for `fearless os` too); the whole role works on the fleet's own
//! release (a control, exit 0), and onto an inventory host that has it already. Every
//! rehearsal host is gone after: no process, no mount, its address free. Needs root (CI runs as root); builds the trixie root once (~70 s).

use std::path::Path;

use super::{TestLab, json_as, json_exits_as, lab_ssh, stdout};

/// Mounts and processes of the rehearsal host, and whether something listens on its
/// address; all must be gone.
#[track_caller]
fn assert_gone(dir: &str, port: u64) {
    let host_dir = Path::new(dir).join("hosts/rehearse-1");
    let host_s = host_dir.display().to_string();
    let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&host_s))
        .map(str::to_owned)
        .collect();
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    let procs: Vec<String> = std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path().join("root")).is_ok_and(|r| r.starts_with(&host_dir))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(procs.is_empty(), "processes left: {procs:?}");
    assert!(!host_dir.exists(), "{host_s} is still there");
    for p in [port, 8080, 9090] {
        let addr = format!("127.0.0.9:{p}");
        assert!(
            std::net::TcpStream::connect(&addr).is_err(),
            "something still listens on {addr}"
        );
    }
    let state = std::fs::read_to_string(Path::new(dir).join("state.json")).expect("state");
    assert!(!state.contains("rehearse-1"), "{state}");
    let ssh = std::fs::read_to_string(Path::new(dir).join("ssh_config")).expect("ssh_config");
    assert!(!ssh.contains("127.0.0.9"), "{ssh}");
}

fn findings<'a>(doc: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

fn check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| {
            format!(
                "{}/{}",
                c["component"].as_str().unwrap_or(""),
                c["check"].as_str().unwrap_or("")
            ) == id
        })
        .unwrap_or_else(|| panic!("no check {id} in {doc}"))
}

#[test]
fn lab_rehearse_names_the_hard_coded_interpreter_on_trixie_and_leaves_nothing_behind() {
    let lab = TestLab::up(&["--hosts", "2"]);
    let d = lab.dir.clone();
    let port: u64 = std::fs::read_to_string(Path::new(&d).join("state.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["port"].as_u64())
        .expect("port");
    // Site configuration no package owns, declared by checkout.
    lab_ssh(
        &d,
        "web-1",
        "printf 'currency=EUR\\n' > /etc/acme/checkout.conf && chmod 640 /etc/acme/checkout.conf",
    );
    let c = lab.config_variant("declared", |t| {
        t.replacen(
            "    depends_on: [orders-api]\n",
            "    depends_on: [orders-api]\n    files: [/etc/acme/checkout.conf]\n",
            1,
        )
    });
    let change = json_as(
        &c,
        "alice",
        &[
            "change",
            "new",
            "--title",
            "move to Debian 13",
            "--hosts",
            "web-1",
        ],
    );
    let chg = change["id"].as_str().expect("change id").to_owned();

    // The whole role on Debian 13: acme-web's interpreter is gone, checkout with it.
    let broken = json_exits_as(
        &c,
        "alice",
        1,
        &[
            "rehearse",
            "--role",
            "web-1",
            "--release",
            "trixie",
            "--change",
            &chg,
        ],
    );
    assert_eq!(broken["schema"], "fearless.rehearse/v1");
    assert_eq!(broken["verdict"], "broken", "{broken:#}");
    assert_eq!(broken["target"]["host"], "rehearse-1");
    assert!(
        broken["target"]["os"]
            .as_str()
            .unwrap_or("")
            .contains("trixie"),
        "{}",
        broken["target"]
    );
    let hard = findings(&broken, "hard-coded-interpreter");
    assert_eq!(hard.len(), 1, "{broken:#}");
    assert_eq!(hard[0]["subject"], "/usr/bin/python3.11");
    assert_eq!(hard[0]["package"], "acme-web");
    let detail = hard[0]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("/usr/sbin/acme-web starts with #!/usr/bin/python3.11"),
        "{detail}"
    );
    assert!(
        detail.contains("/usr/bin/python3 → /usr/bin/python3.13"),
        "{detail}"
    );
    let breaks: Vec<&str> = hard[0]["breaks"]
        .as_array()
        .expect("breaks")
        .iter()
        .filter_map(|b| b.as_str())
        .collect();
    assert!(breaks.contains(&"checkout/health"), "{breaks:?}");
    assert!(
        !breaks.iter().any(|b| b.starts_with("orders-api/")),
        "{breaks:?}"
    );
    // The service that does not start, with its log; the checks, with their cause.
    let service = findings(&broken, "service-not-started");
    assert_eq!(service[0]["subject"], "acme-web", "{broken:#}");
    assert!(
        service[0]["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .any(|e| e
                .as_str()
                .unwrap_or("")
                .contains("unable to start /usr/sbin/acme-web")),
        "{}",
        service[0]
    );
    let health = findings(&broken, "check-failed")
        .into_iter()
        .find(|f| f["subject"] == "checkout/health")
        .expect("checkout/health fails");
    assert!(
        health["caused_by"]
            .as_array()
            .expect("causes")
            .contains(&hard[0]["id"]),
        "{health}"
    );
    assert_eq!(check(&broken, "checkout/health")["status"], "fail");
    assert_eq!(check(&broken, "orders-api/orders")["status"], "pass");
    // Debian 13's minbase has no `ss`: the port check read the socket tables in /proc.
    assert_eq!(check(&broken, "orders-api/api port")["status"], "pass");
    // The declared file went over with its mode; packages at their exact versions.
    assert_eq!(broken["files"][0]["path"], "/etc/acme/checkout.conf");
    assert_eq!(broken["files"][0]["copied"], true, "{}", broken["files"]);
    let libacme = broken["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "libacme")
        .expect("libacme");
    assert_eq!(
        (&libacme["action"], &libacme["installed"]),
        (&"exact".into(), &"1.0".into()),
        "{libacme}"
    );
    assert_gone(&d, port);
    // Journaled on the role host, and attached to the change.
    let journal = json_as(&c, "alice", &["journal", "--subject", "host:web-1"]);
    let kinds: Vec<&str> = journal["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.ends_with(&["rehearse.started", "rehearse.finished"]),
        "{kinds:?}"
    );
    let on_change = json_as(&c, "alice", &["journal", "--subject", &chg]);
    let attached = on_change["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["kind"] == "change.rehearsal-attached")
        .unwrap_or_else(|| panic!("{on_change}"));
    assert_eq!(attached["payload"]["verdict"], "broken");
    assert!(
        attached["payload"]["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .any(|e| e == "hard-coded interpreter /usr/bin/python3.11 (acme-web)"),
        "{attached}"
    );

    let shown = super::ok_as(&c, "alice", &["change", "show", &chg]);
    assert!(
        shown.contains(
            "rehearsals\n  web-1 on Debian 13 (trixie), a new lab host: broken: hard-coded interpreter /usr/bin/python3.11 (acme-web)"
        ),
        "{shown}"
    );

    // Without checkout (and acme-web, which is checkout's only): the role works there.
    let works = json_exits_as(
        &c,
        "alice",
        0,
        &[
            "rehearse",
            "--role",
            "web-1",
            "--release",
            "trixie",
            "--components",
            "orders-api",
            "--keep",
        ],
    );
    assert_eq!(works["verdict"], "works", "{works:#}");
    assert_eq!(
        works["role"]["excluded"],
        serde_json::json!([{"component": "checkout", "packages": ["acme-web"]}])
    );
    assert!(
        works["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .all(|c| c["status"] == "pass")
    );
    assert_eq!(works["target"]["kept"], true);
    // Kept: a Debian 13 host to explore, whose release `fearless os` reads as such.
    let release = lab_ssh(&d, "rehearse-1", "cat /etc/os-release");
    assert!(release.contains("VERSION_CODENAME=trixie"), "{release}");
    let with_it = lab.config_variant("with-rehearsal-host", |t| {
        t.replacen(
            "  hosts:\n",
            "  hosts:\n    rehearse-1: { address: 127.0.0.9, labels: { role: rehearsal } }\n",
            1,
        )
    });
    let os = json_as(
        &with_it,
        "alice",
        &["os", "--hosts", "rehearse-1", "--today", "2026-12-04"],
    );
    let h = &os["hosts"][0];
    assert_eq!(h["release"], "debian 13", "{h}");
    assert_eq!(h["os"]["codename"], "trixie", "{h}");
    assert_eq!(h["support"]["state"], "supported", "{h}");
    // Debian 13 on 2026-12-04: regular security support until 2028-08-09, LTS to 2030-06-30.
    assert_eq!(h["support"]["tier"], "standard", "{h}");
    let ends: Vec<&str> = h["support"]["tiers"]
        .as_array()
        .expect("tiers")
        .iter()
        .map(|t| t["ends"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        ends.get(..2),
        Some(&["2028-08-09", "2030-06-30"][..]),
        "{h}"
    );

    // A control on the fleet's own release: the whole role works, and the kept host is
    // replaced, then removed.
    let control = json_exits_as(
        &c,
        "alice",
        0,
        &["rehearse", "--role", "web-1", "--release", "bookworm"],
    );
    assert_eq!(control["verdict"], "works", "{control:#}");
    assert!(findings(&control, "hard-coded-interpreter").is_empty());
    assert_gone(&d, port);

    // Onto an inventory host (web-2, which has the role already): used as it is, left up.
    let onto = json_exits_as(
        &c,
        "alice",
        0,
        &["rehearse", "--role", "web-1", "--onto", "web-2"],
    );
    assert_eq!(onto["verdict"], "works", "{onto:#}");
    assert_eq!(
        (
            &onto["target"]["provisioned"],
            &onto["target"]["kept"],
            &onto["target"]["what"]
        ),
        (&false.into(), &true.into(), &"an inventory host".into())
    );
    assert!(
        onto["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .all(|p| p["action"] == "new-os"),
        "{}",
        onto["packages"]
    );
    assert_eq!(
        super::lab_ssh(&d, "web-2", "cat /etc/acme/checkout.conf"),
        "currency=EUR\n"
    );

    // The human report says the same in words.
    let out = super::fearless(&[
        "-c",
        &c,
        "--as",
        "alice",
        "rehearse",
        "--role",
        "web-1",
        "--release",
        "trixie",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("BROKEN: web-1's role does not work on rehearse-1"),
        "{text}"
    );
    assert!(
        text.contains("hard-coded interpreter: /usr/bin/python3.11 (acme-web)"),
        "{text}"
    );
    assert_gone(&d, port);
}
