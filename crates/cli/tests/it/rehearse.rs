//! `fearless rehearse` refusals, before any host is contacted or brought up: where to
//! rebuild is required, `--release` needs a lab, names are checked (an unknown release,
//! host or component, a component that does not run on the role host, the role host as its
//! own target, an unknown change) — each bad input, exit 2, nothing journaled.

use super::{fails_with, write_config};

const CONFIG: &str = "identity: { mode: trust }\ninventory:\n  hosts:\n    web-1: { address: 127.0.0.1, transport: local, labels: { role: web } }\n    spare: { address: 127.0.0.1, transport: local, labels: { role: spare } }\ncomponents:\n  checkout:\n    runs_on: \"role=web\"\n    files: [/etc/acme/checkout.conf]\n    checks:\n      - { name: web process, process: { name: acme-web } }\n  ledger:\n    runs_on: \"role=ledger\"\n    checks:\n      - { name: ledger process, process: { name: acme-ledger } }\n";

#[test]
fn rehearse_refuses_bad_input_before_any_host_is_touched() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = write_config(tmp.path(), CONFIG);
    let run = |needle: &str, args: &[&str]| {
        let mut all = vec!["-c", c.as_str(), "rehearse"];
        all.extend_from_slice(args);
        fails_with(2, needle, &all)
    };
    run("--onto <TARGET>", &["--role", "web-1"]);
    run(
        "cannot be used with",
        &["--role", "web-1", "--onto", "spare", "--release", "trixie"],
    );
    run(
        "unknown release `sid`; the lab can bring up: trixie, bookworm, rpm",
        &["--role", "web-1", "--release", "sid"],
    );
    let err = run(
        "--release brings a host up next to a lab, and there is no lab in",
        &["--role", "web-1", "--release", "trixie"],
    );
    assert!(err.contains("--onto HOST"), "{err}");
    run(
        "unknown host `web-7`",
        &["--role", "web-7", "--onto", "spare"],
    );
    run(
        "unknown host `db-1`: --onto",
        &["--role", "web-1", "--onto", "db-1"],
    );
    run(
        "is the role host itself",
        &["--role", "web-1", "--onto", "web-1"],
    );
    run(
        "no component runs on spare",
        &["--role", "spare", "--onto", "web-1"],
    );
    run(
        "component `ledger` does not run on web-1",
        &[
            "--role",
            "web-1",
            "--onto",
            "spare",
            "--components",
            "ledger",
        ],
    );
    run(
        "unknown component `cart`",
        &["--role", "web-1", "--onto", "spare", "--components", "cart"],
    );
    run(
        "unknown change CHG-9",
        &["--role", "web-1", "--onto", "spare", "--change", "CHG-9"],
    );
    run(
        "junit",
        &["--role", "web-1", "--onto", "spare", "--format", "junit"],
    );
    // Nothing was journaled.
    let out = super::fearless(&["-c", &c, "journal", "--format", "json"]);
    let text = super::stdout(&out);
    assert!(!text.contains("rehearse."), "{text}");
}
