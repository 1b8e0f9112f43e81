//! One redaction for every rendering of a config error: the heading, the label, the hint
//! and the code frame that miette's graphical handler draws under them (the CLI's renderer,
//! with and without colour). Secrets sit on the very lines the errors point at.

use super::common::{render_fancy, render_plain};
use std::path::Path;

const CONFIG: &str = r#"inventory:
  hosts:
    web-1: { address: "-oProxyCommand=x", labels: { db_password: "pw-one-12345" } }
components:
  queue:
    external: true
    checks:
      - { name: mq, amqp: { url: "amqp://guest:pw-two-12345@" } }
      - name: api
        http:
          url: "http://api.example/"
          headers: { Authorization: "Bearer pw-three-12345 {host.nme}" }
events:
  sinks:
    bus: { amqp: { url: "amqps://svc:pw-four-12345@mq.example:5671/%2f" } }
  routes:
    - { types: "fearless.*", sinks: [bus, missing] }
store: "mysql://fearless:pw-five-12345@db/fearless"
"#;

const SECRETS: [&str; 5] = [
    "pw-one-12345",
    "pw-two-12345",
    "pw-three-12345",
    "pw-four-12345",
    "pw-five-12345",
];

#[test]
fn no_rendering_of_a_config_error_shows_a_secret() {
    let err = fearless_config::load_str(Path::new("/etc/fearless/fearless.yaml"), CONFIG.into())
        .expect_err("invalid");
    let codes: Vec<&str> = err.problems.iter().map(|p| p.code).collect();
    for expected in [
        "config::host-field",
        "config::url",
        "config::template",
        "config::unknown-sink",
        "config::store",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from {codes:?}"
        );
    }
    let plain = render_plain(&err.problems);
    let fancy = render_fancy(&err.problems, false);
    let coloured = render_fancy(&err.problems, true);
    let heading = err.to_string();
    for secret in SECRETS {
        for (how, text) in [
            ("plain", &plain),
            ("fancy", &fancy),
            ("coloured", &coloured),
            ("heading", &heading),
        ] {
            assert!(
                !text.contains(secret),
                "{secret} in the {how} rendering:\n{text}"
            );
        }
    }
    // The code frames still show the lines, with the secrets masked in place.
    for line in [
        r#"web-1: { address: "-oProxyCommand=x", labels: { db_password: *** } }"#,
        r#"amqp: { url: "amqp://guest:***@" }"#,
        r#"headers: { Authorization: *** }"#,
        r#"store: "mysql://fearless:***@db/fearless""#,
    ] {
        assert!(fancy.contains(line), "frame without `{line}`:\n{fancy}");
    }
    assert!(
        plain.contains("malformed URL `amqp://guest:***@`: empty host"),
        "{plain}"
    );
}

#[test]
fn labels_point_at_the_same_place_in_the_masked_frame() {
    // The error is after a masked secret on the same line: its underline must still sit
    // under the unknown key, not shifted by the masking.
    let text = "inventory:\n  hosts:\n    web-1: { labels: { api_token: \"a-very-long-token-value-12345\" }, adress: 10.0.0.1 }\ncomponents:\n  web:\n    runs_on: all\n    checks:\n      - { name: up, tcp: { address: \"{host.address}:22\" } }\n";
    let err = fearless_config::load_str(Path::new("/x/fearless.yaml"), text.into())
        .expect_err("unknown key");
    let fancy = render_fancy(&err.problems, false);
    let lines: Vec<&str> = fancy.lines().collect();
    let frame = lines
        .iter()
        .position(|l| l.contains("adress: 10.0.0.1"))
        .expect("the frame line");
    let column = lines[frame].find("adress").expect("key");
    let underline = lines[frame + 1];
    let start = underline.find('─').expect("underline");
    assert_eq!(
        underline[..start].chars().count(),
        lines[frame][..column].chars().count(),
        "underline misplaced:\n{fancy}"
    );
    assert!(!fancy.contains("a-very-long-token-value"), "{fancy}");
}
