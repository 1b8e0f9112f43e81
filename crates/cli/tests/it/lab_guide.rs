//! Every command of the user guide runs, as the guide says, on a real lab fleet.
//!
//! The chapters are read in the order of `docs/guide/src/SUMMARY.md`; each chapter's
//! `console` commands (`$ …` lines, with their continuation lines and here-documents; see
//! [`super::guide::commands`]) run one after the other in one `bash`, in one working
//! directory shared by every chapter (empty at the start: `fearless lab up` makes its lab in
//! `./.fearless/lab`, `fearless demo` in `./.fearless/demo`). Each must exit with the code
//! the guide gives (`# exit N` at the end of the command, else 0); the first that does not
//! fails the test with its chapter, line, command and output. Commands in blocks marked
//! `<!-- guide: not run: REASON -->` are skipped.
//!
//! The environment is the reader's after chapter 1: `fearless` (this build) first on
//! `PATH`, `FEARLESS_CONFIG` naming the lab's configuration, `NO_COLOR`; no
//! `FEARLESS_STORE` or `FEARLESS_USER` of the caller's, and AWS credentials that are only
//! the tests'. Needs root, the local RabbitMQ (127.0.0.1:5672) and PostgreSQL
//! (127.0.0.1:5432, user postgres) and `psql`; fails, never skips, without them. The labs
//! it brings up are taken down however it ends.
//!
//! Run it alone (it brings labs up, so never beside another lab test):
//! `flock /tmp/fearless-lab.lock cargo nextest run -p fearless-cli -E 'test(/^lab_guide/)'`

use super::guide::{GuideCommand, chapters, commands, guide_src};
use super::{fearless, is_root};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Takes down the labs the guide brings up (`lab down` is safe on a lab that is not up).
struct Labs(PathBuf);

impl Drop for Labs {
    fn drop(&mut self) {
        for dir in [".fearless/demo", ".fearless/lab"] {
            let dir = self.0.join(dir);
            if dir.exists() {
                let _ = fearless(&["lab", "down", "--dir", &dir.display().to_string()]);
            }
        }
    }
}

/// `text` quoted for bash, as one word.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The bash script that runs `commands` in `work`, each one's output to `out/N`, and writes
/// `N EXIT` per command to `out/status`; it stops after the first command whose exit code
/// is not the one expected.
fn script(work: &Path, out: &Path, commands: &[GuideCommand]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "cd {} || exit 99", quoted(&work.display().to_string()));
    let _ = writeln!(
        s,
        "exec 3>{}",
        quoted(&out.join("status").display().to_string())
    );
    for (n, c) in commands.iter().enumerate() {
        let log = quoted(&out.join(n.to_string()).display().to_string());
        let _ = writeln!(s, "{{\n{}\n}} >{log} 2>&1 </dev/null", c.text);
        let _ = writeln!(
            s,
            "rc=$?; echo \"{n} $rc\" >&3; [ \"$rc\" -eq {} ] || exit 0",
            c.exit
        );
    }
    s
}

/// The last `max` bytes of a command's output, for a failure message.
fn tail(path: &Path, max: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no output: {e})"));
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[test]
fn every_command_of_the_guide_runs_and_exits_as_it_says() {
    assert!(is_root(), "the lab test needs root (CI runs as root)");
    let tmp = tempfile::tempdir().expect("tmp");
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).expect("mkdir work");
    let _labs = Labs(work.clone());
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_fearless"));
    let bin_dir = bin.parent().expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config = work.join(".fearless/lab/fearless.yaml");

    let mut ran = 0;
    for (k, chapter) in chapters().iter().enumerate() {
        let md = std::fs::read_to_string(guide_src().join(chapter)).expect("chapter");
        let found = commands(&md).unwrap_or_else(|e| panic!("{chapter}: {e}"));
        if found.run.is_empty() {
            continue;
        }
        let out = tmp.path().join(format!("out-{k}"));
        std::fs::create_dir(&out).expect("mkdir out");
        let script_path = tmp.path().join(format!("chapter-{k}.sh"));
        std::fs::write(&script_path, script(&work, &out, &found.run)).expect("write script");
        let status = Command::new("bash")
            .arg(&script_path)
            .current_dir(&work)
            .env("PATH", &path)
            .env("FEARLESS_CONFIG", &config)
            .env("NO_COLOR", "1")
            .env_remove("FEARLESS_STORE")
            .env_remove("FEARLESS_USER")
            .env_remove("FEARLESS_SIGNING_KEY")
            .env("AWS_ACCESS_KEY_ID", "fearless-test")
            .env("AWS_SECRET_ACCESS_KEY", "fearless-test")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .stdin(std::process::Stdio::null())
            .status()
            .expect("run bash");
        assert!(
            status.success(),
            "{chapter}: the chapter's script ended with {status}"
        );
        let results = std::fs::read_to_string(out.join("status")).unwrap_or_default();
        let results: Vec<(usize, i32)> = results
            .lines()
            .filter_map(|l| {
                let (n, rc) = l.split_once(' ')?;
                Some((n.parse().ok()?, rc.parse().ok()?))
            })
            .collect();
        for (n, c) in found.run.iter().enumerate() {
            let Some(&(_, rc)) = results.iter().find(|(m, _)| *m == n) else {
                panic!(
                    "{chapter}:{}: never ran (the script stopped before it): {}",
                    c.line, c.text
                );
            };
            assert_eq!(
                rc,
                c.exit,
                "{chapter}:{}: `{}` exited {rc}, the guide says {}; its output:\n{}",
                c.line,
                c.text,
                c.exit,
                tail(&out.join(n.to_string()), 8000)
            );
            ran += 1;
        }
    }
    assert!(ran >= 60, "only {ran} commands ran");
}
