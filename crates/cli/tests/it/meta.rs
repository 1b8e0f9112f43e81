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
