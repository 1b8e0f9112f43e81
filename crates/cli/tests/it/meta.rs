//! `--version`, shell completions and man pages: generated from the parser's own definition.

use super::{exits, fails_with, run_tool};
use std::process::Command;

#[test]
fn the_version_names_the_commit() {
    let (out, _) = exits(0, &["--version"]);
    assert!(
        out.starts_with(&format!("fearless {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
}

#[test]
fn bash_loads_the_completions() {
    let out = run_tool(
        Command::new("bash").args([
            "-c",
            "source <(\"$0\" completions bash) && complete -p fearless",
            env!("CARGO_BIN_EXE_fearless"),
        ]),
        "bash",
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("fearless"), "{said}");
    let (zsh, _) = exits(0, &["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef fearless"), "{zsh}");
    fails_with(2, "invalid value 'tcsh'", &["completions", "tcsh"]);
}

#[test]
fn every_verb_has_a_man_page_that_man_renders() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().display().to_string();
    let (said, _) = exits(0, &["man", "--dir", &d]);
    assert!(said.starts_with("wrote "), "{said}");
    for page in [
        "fearless.1",
        "fearless-patch.1",
        "fearless-map.1",
        "fearless-change-new.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page}");
    }
    let out = run_tool(
        Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(dir.path().join("fearless-patch.1"))
            .env("MANWIDTH", "100"),
        "man",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fearless-patch"), "{text}");
    let (top, _) = exits(0, &["man"]);
    assert!(
        top.contains(".TH fearless 1"),
        "{}",
        &top[..top.len().min(300)]
    );
    fails_with(2, "not a directory", &["man", "--dir", "/nonexistent/man"]);
}

/// The verbs `fearless --help` lists.
fn verbs() -> Vec<String> {
    let (help, _) = exits(0, &["--help"]);
    let list = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a Commands section");
    list.lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| *v != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_verbs_help_ends_with_examples() {
    let verbs = verbs();
    assert!(verbs.len() >= 20, "{verbs:?}");
    for verb in &verbs {
        let (help, _) = exits(0, &[verb, "--help"]);
        let examples = help
            .split("\nExamples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("`{verb} --help` has no examples:\n{help}"));
        let lines: Vec<&str> = examples.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!((2..=3).contains(&lines.len()), "`{verb} --help`: {lines:?}");
        for l in lines {
            assert!(
                l.starts_with("  fearless ") || l.starts_with("  source <(fearless "),
                "`{verb} --help`: {l}"
            );
            let words: Vec<&str> = l.split_whitespace().collect();
            assert!(
                words.iter().any(|w| w == verb) || words.contains(&&format!("{verb})")[..]),
                "`{verb} --help` example runs another verb: {l}"
            );
        }
    }
}

#[test]
fn format_offers_only_what_the_verb_prints() {
    let formats = |args: &[&str]| -> String {
        let (help, _) = exits(0, args);
        let line = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("--format"))
            .take_while(|l| !l.trim_start().starts_with("--store"))
            .collect::<Vec<_>>()
            .join(" ");
        line.split("[possible values: ")
            .nth(1)
            .and_then(|v| v.split(']').next())
            .unwrap_or_else(|| panic!("{args:?}: no possible values in {line}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(formats(&["change", "new", "-h"]), "human, json");
    assert_eq!(
        formats(&["check", "-h"]),
        "human, json, junit, tap, prometheus"
    );
    assert_eq!(formats(&["rca", "-h"]), "human, json, md, html");
    assert_eq!(formats(&["map", "list", "-h"]), "human, json");
    assert_eq!(formats(&["discover", "-h"]), "human, json, yaml");
    fails_with(
        2,
        "invalid value 'junit' for '--format <FORMAT>'",
        &["change", "list", "--format", "junit"],
    );
    // before the verb, the top-level parser cannot know: refused all the same, before any
    // configuration is read
    fails_with(
        2,
        "`fearless check` does not print --format svg; it prints human, json, junit, tap, prometheus",
        &["--format", "svg", "-c", "/nonexistent.yaml", "check"],
    );
    fails_with(
        2,
        "`fearless map list` does not print --format svg",
        &["--format", "svg", "map", "list"],
    );
}
