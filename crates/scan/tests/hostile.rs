//! Hostile trees: an unparseable file, a binary file, a 50 MB file, a non-UTF-8 file and
//! file name, a symlink loop and a symlink out of the tree, a FIFO — each a note (or a
//! partial scan), never a crash, and the rest of the tree still scanned. And user rules: a
//! directory in ast-grep's format is loaded, a malformed rule is an error naming its file.

#![allow(clippy::unwrap_used)]

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use fearless_scan::{NoteKind, RuleSet, ScanOptions, scan};

fn write(dir: &Path, name: &str, text: &[u8]) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn hostile_files_are_notes_and_the_rest_is_scanned() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "good.py", b"import os\nos.system('uptime')\n");
    write(
        root,
        "broken.py",
        b"def (:\n  os.system(cmd)\n\x20\x20)))\n",
    );
    write(root, "blob.py", b"\x00\x01\x02binary\x00");
    write(root, "latin1.py", b"# caf\xe9\nos.system('ls')\n");
    let big = std::fs::File::create(root.join("huge.py")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"odd-\xff-name.py");
    std::fs::write(root.join(odd), b"import os\nos.system('id')\n").unwrap();
    std::os::unix::fs::symlink(root, root.join("loop")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("outside")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("outside.py")).unwrap();
    std::fs::create_dir(root.join("node_modules")).unwrap();
    write(
        &root.join("node_modules"),
        "dep.js",
        b"require('child_process').exec('ls')\n",
    );
    let fifo = root.join("pipe.py");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());

    let report = scan(&ScanOptions::new(
        vec![root.to_owned()],
        RuleSet::builtin().unwrap(),
    ))
    .unwrap();
    let kinds = |path: &str| -> Vec<NoteKind> {
        report
            .notes
            .iter()
            .filter(|n| n.path == path)
            .map(|n| n.kind)
            .collect()
    };
    assert_eq!(kinds("huge.py"), [NoteKind::TooLarge]);
    assert_eq!(kinds("blob.py"), [NoteKind::Binary]);
    assert_eq!(kinds("latin1.py"), [NoteKind::NotUtf8]);
    assert_eq!(kinds("broken.py"), [NoteKind::SyntaxErrors]);
    assert_eq!(kinds("loop"), [NoteKind::Symlink]);
    assert_eq!(kinds("outside"), [NoteKind::Symlink]);
    assert_eq!(kinds("outside.py"), [NoteKind::Symlink]);
    assert_eq!(kinds("pipe.py"), [NoteKind::NotRegular]);
    let paths: Vec<&str> = report.findings.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"good.py"), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("odd-")), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.contains("node_modules")),
        "{paths:?}"
    );
    // good.py, broken.py and the odd name were parsed and matched.
    assert_eq!(report.files_scanned, 3, "{:?}", report.notes);
}

#[test]
fn gitignored_files_are_not_scanned() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), ".gitignore", b"generated/\n");
    std::fs::create_dir(tmp.path().join("generated")).unwrap();
    write(
        &tmp.path().join("generated"),
        "x.py",
        b"import os\nos.system('ls')\n",
    );
    write(
        tmp.path(),
        "app.min.js",
        b"require('child_process').exec('ls')\n",
    );
    let report = scan(&ScanOptions::new(
        vec![tmp.path().to_owned()],
        RuleSet::builtin().unwrap(),
    ))
    .unwrap();
    assert_eq!(report.files_scanned, 0);
    assert!(report.findings.is_empty());
}

#[test]
fn a_user_rule_directory_is_loaded() {
    let rules = tempfile::tempdir().unwrap();
    write(
        rules.path(),
        "no-eval.yml",
        b"id: no-eval\nlanguage: python\nseverity: error\nmessage: eval of $X\nnote: parse, do not eval\nrule:\n  pattern: eval($X)\n",
    );
    let code = tempfile::tempdir().unwrap();
    write(code.path(), "a.py", b"x = eval(data)\n");
    let set = RuleSet::with_user_dir(rules.path()).unwrap();
    assert!(set.info("no-eval").is_some_and(|i| !i.builtin));
    let report = scan(&ScanOptions::new(vec![code.path().to_owned()], set)).unwrap();
    assert_eq!(report.findings.len(), 1);
    let f = &report.findings[0];
    assert_eq!((f.rule.as_str(), f.line, f.column), ("no-eval", 1, 5));
    assert_eq!(f.message, "eval of data");
    assert_eq!(f.fix.as_deref(), Some("parse, do not eval"));
}

#[test]
fn a_malformed_user_rule_is_an_error_naming_the_file() {
    let cases: [(&str, &[u8], &[&str]); 4] = [
        (
            "bad-yaml.yml",
            b"id: x\nlanguage: python\nrule:\n  pattern: [\n",
            &["bad-yaml.yml:"],
        ),
        (
            "bad-rule.yml",
            b"id: nope\nlanguage: python\nmessage: m\nrule:\n  kindd: call\n",
            &["bad-rule.yml:", "kindd"],
        ),
        (
            "bad-lang.yml",
            b"id: r\nlanguage: rust\nmessage: m\nrule:\n  pattern: x\n",
            &["bad-lang.yml", "rust"],
        ),
        (
            "dup.yml",
            b"id: shell\nlanguage: python\nmessage: m\nrule:\n  pattern: x\n",
            &["dup.yml", "built-in"],
        ),
    ];
    for (name, text, wanted) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), name, text);
        let e = RuleSet::with_user_dir(dir.path()).unwrap_err().to_string();
        for w in wanted {
            assert!(e.contains(w), "{name}: {e}");
        }
    }
}

#[test]
fn files_of_the_same_name_under_two_roots_stay_two_files() {
    let tmp = tempfile::tempdir().unwrap();
    for side in ["a", "b"] {
        std::fs::create_dir(tmp.path().join(side)).unwrap();
        write(
            &tmp.path().join(side),
            "x.py",
            b"import os\nimport pika\nos.system('ls')\npika.BlockingConnection()\n",
        );
    }
    let report = scan(&ScanOptions::new(
        vec![tmp.path().join("a"), tmp.path().join("b")],
        RuleSet::builtin().unwrap(),
    ))
    .unwrap();
    let paths: std::collections::BTreeSet<&str> =
        report.findings.iter().map(|f| f.path.as_str()).collect();
    let a = format!("{}/a/x.py", tmp.path().display());
    let b = format!("{}/b/x.py", tmp.path().display());
    assert!(
        paths.contains(a.as_str()) && paths.contains(b.as_str()),
        "{paths:?}"
    );
    // two modules use the broker SDK directly: lock-in, naming both
    let lock_in = report.findings.iter().find(|f| f.rule == "lock-in");
    assert!(
        lock_in.is_some_and(|f| f.message.contains(&a) && f.message.contains(&b)),
        "{:?}",
        report.findings
    );
    // one root: relative to it, as before
    let one = scan(&ScanOptions::new(
        vec![tmp.path().join("a")],
        RuleSet::builtin().unwrap(),
    ))
    .unwrap();
    assert!(
        one.findings.iter().all(|f| f.path == "x.py"),
        "{:?}",
        one.findings
    );
}
