//! The corpus: per language (and Dockerfiles' `RUN` lines), positives marked `expect: RULE …`
//! at the end of their line and look-alike negatives beside them (a constant command with no shell, the platform's user
//! API, a log message naming /etc/passwd, a loopback address, a test file's address). Each
//! language's findings are snapshot-tested; precision and recall are printed and asserted.

#![allow(clippy::print_stderr, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use fearless_scan::{RuleSet, ScanOptions, scan};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

/// (path, line, rule) expected by the `expect:` markers under a root.
fn expected(root: &Path) -> BTreeSet<(String, usize, String)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            for (n, line) in text.lines().enumerate() {
                // `expect-next:` marks the next line, for lines that cannot hold a comment
                // (a Dockerfile's exec-form `RUN ["…"]`).
                for (marker, at) in [("expect: ", n + 1), ("expect-next: ", n + 2)] {
                    if let Some(i) = line.find(marker) {
                        for rule in line[i + marker.len()..].split_whitespace() {
                            out.insert((rel.clone(), at, rule.to_owned()));
                        }
                    }
                }
            }
        }
    }
    out
}

fn check(lang: &str) -> (usize, usize, usize) {
    let root = corpus(lang);
    let report = scan(&ScanOptions::new(
        vec![root.clone()],
        RuleSet::builtin().unwrap(),
    ))
    .unwrap();
    let mut found = BTreeSet::new();
    for f in &report.findings {
        if f.sites.is_empty() {
            found.insert((f.path.clone(), f.line, f.rule.clone()));
        } else {
            for s in &f.sites {
                found.insert((s.path.clone(), s.line, f.rule.clone()));
            }
        }
    }
    let want = expected(&root);
    let tp = found.intersection(&want).count();
    let fp: Vec<_> = found.difference(&want).collect();
    let fn_: Vec<_> = want.difference(&found).collect();
    eprintln!("{lang}: false positives {fp:?}");
    eprintln!("{lang}: missed {fn_:?}");
    let lines: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{}: {} {}",
                f.path, f.line, f.column, f.rule, f.message
            )
        })
        .collect();
    insta::assert_snapshot!(lang, lines.join("\n"));
    (tp, fp.len(), fn_.len())
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[test]
fn corpus_precision_and_recall() {
    let mut total = (0, 0, 0);
    for lang in [
        "python",
        "javascript",
        "go",
        "java",
        "bash",
        "php",
        "ruby",
        "csharp",
        "docker",
    ] {
        let (tp, fp, fn_) = check(lang);
        eprintln!(
            "{lang:>10}: precision {:.2} recall {:.2} (tp {tp}, fp {fp}, fn {fn_})",
            ratio(tp, tp + fp),
            ratio(tp, tp + fn_)
        );
        total = (total.0 + tp, total.1 + fp, total.2 + fn_);
    }
    let (tp, fp, fn_) = total;
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    eprintln!(
        "     total: precision {precision:.2} recall {recall:.2} (tp {tp}, fp {fp}, fn {fn_})"
    );
    assert!(precision >= 0.9, "precision {precision:.2}");
    assert!(recall >= 0.9, "recall {recall:.2}");
}

#[test]
fn a_single_wrapper_module_is_not_lock_in() {
    let report = scan(&ScanOptions::new(
        vec![corpus("python_wrapper")],
        RuleSet::builtin().unwrap(),
    ))
    .unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn suppressed_and_baselined_findings_are_counted_not_shown() {
    let report = scan(&ScanOptions::new(
        vec![corpus("python")],
        RuleSet::builtin().unwrap(),
    ))
    .unwrap();
    assert_eq!(report.suppressed, 1);
    let baseline = fearless_scan::Baseline::of(&report.findings);
    let mut options = ScanOptions::new(vec![corpus("python")], RuleSet::builtin().unwrap());
    options.baseline = Some(baseline);
    let again = scan(&options).unwrap();
    assert!(again.findings.is_empty());
    assert_eq!(again.baselined, report.findings.len());
}

#[test]
fn select_and_ignore() {
    let mut options = ScanOptions::new(vec![corpus("python")], RuleSet::builtin().unwrap());
    options.select = vec!["injection".to_owned()];
    let report = scan(&options).unwrap();
    assert!(!report.findings.is_empty());
    assert!(report.findings.iter().all(|f| f.rule == "injection"));
    options.select = vec!["no-such-rule".to_owned()];
    assert!(
        scan(&options)
            .unwrap_err()
            .to_string()
            .contains("no-such-rule")
    );
}
