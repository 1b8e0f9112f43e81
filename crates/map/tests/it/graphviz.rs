//! The DOT output through a real Graphviz. Runs when `dot` is installed; says so and
//! passes when it is not, except under `CI=true`, where Graphviz is required.

use crate::common::lab;
use crate::generate;
use std::io::Write as _;
use std::process::{Command, Stdio};

fn graphviz_installed() -> bool {
    Command::new("dot")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn render(dot: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dot");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = dot.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("dot runs");
    writer.join().expect("writer").expect("write to dot");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dot -Tsvg failed: {stderr}\n{dot}");
    assert!(!stderr.contains("syntax error"), "{stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 SVG")
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "say that the test did not run, rather than pass silently"
)]
fn graphviz_draws_the_dot_output() {
    if !graphviz_installed() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "graphviz (dot) is required in CI: install it (apt-get install graphviz) so the DOT output is checked"
        );
        eprintln!("graphviz_draws_the_dot_output: did not run, `dot` (Graphviz) is not installed");
        return;
    }
    for map in [
        lab(),
        generate::layered(60, 5, 7),
        crate::escaping::hostile(),
    ] {
        let svg = render(&fearless_map::dot(&map));
        // Graphviz writes a DOCTYPE (the SVG 1.1 DTD): allowed, never fetched
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc =
            roxmltree::Document::parse_with_options(&svg, options).expect("Graphviz's SVG is XML");
        let titles = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .count();
        assert!(titles >= map.nodes.len(), "every node drawn");
    }
}
