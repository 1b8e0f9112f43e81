//! The standing bad-input corpus of the binary (`tests/corpus/*.case`): each case is one
//! invocation with hostile or careless input — ids, durations, times, URLs, manifests,
//! selectors, files that are not files, free text with terminal escapes — and what it must
//! answer: the documented exit code, a message snapshot, no panic, in under 2 s and 100 MiB.
//!
//! A case file: `#` comment lines, `args: [JSON strings]` (`{dir}` is the case's directory),
//! `exit: N`, optional `env: KEY=VALUE` and `before: [JSON strings]` lines (commands run
//! first, unmeasured, each of which must succeed), then sections: `--- file NAME` (the lines
//! after it, up to the next section, are the file; `fearless.yaml` replaces the default
//! config), `--- fifo NAME`, `--- symlink NAME -> TARGET`, `--- bytes NAME` (hex). The
//! binary runs with `-c {dir}/fearless.yaml`, a store in `{dir}`, `NO_COLOR`, no stdin.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a case may take at most.
const TIME: Duration = Duration::from_secs(2);
const RSS_KIB: u64 = 100 * 1024;
/// When a case is taken for hung and killed.
const HANG: Duration = Duration::from_secs(10);

/// The config a case runs with unless it brings its own: one host nobody answers on, two
/// components with a dependency.
const DEFAULT_CONFIG: &str = r#"identity: { mode: trust }
inventory:
  defaults: { user: root, port: 9, transport: ssh }
  hosts:
    web-1: { address: 127.0.0.1, labels: { role: web } }
components:
  shop:
    runs_on: "role=web"
    depends_on: [db]
    checks:
      - { name: up, tcp: { address: "127.0.0.1:9" } }
  db:
    external: true
    checks:
      - { name: up, tcp: { address: "127.0.0.1:9" } }
"#;

struct Case {
    name: String,
    before: Vec<Vec<String>>,
    args: Vec<String>,
    exit: i32,
    env: Vec<(String, String)>,
    sections: Vec<(String, String)>,
}

fn parse(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).expect("case");
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("name")
        .to_owned();
    let (head, body) = match text.find("\n--- ") {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text.as_str(), ""),
    };
    let mut args = None;
    let mut exit = None;
    let mut env = Vec::new();
    let mut before = Vec::new();
    for line in head.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{name}: `{line}` is not `key: value`"));
        match key {
            "args" => args = Some(serde_json::from_str(value).expect("args: a JSON list")),
            "exit" => exit = Some(value.parse().expect("exit: a number")),
            "before" => before.push(serde_json::from_str(value).expect("before: a JSON list")),
            "env" => {
                let (k, v) = value.split_once('=').expect("env: KEY=VALUE");
                env.push((k.to_owned(), v.to_owned()));
            }
            other => panic!("{name}: unknown key `{other}`"),
        }
    }
    let mut sections = Vec::new();
    for part in body.split("--- ").filter(|p| !p.is_empty()) {
        let (header, content) = part.split_once('\n').unwrap_or((part, ""));
        sections.push((header.trim().to_owned(), content.to_owned()));
    }
    Case {
        name: name.clone(),
        before,
        args: args.unwrap_or_else(|| panic!("{name}: no args")),
        exit: exit.unwrap_or_else(|| panic!("{name}: no exit")),
        env,
        sections,
    }
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("hex"), 16).expect("hex"))
        .collect()
}

/// Lay out the case's files in `dir`.
fn prepare(case: &Case, dir: &Path) {
    std::fs::write(dir.join("fearless.yaml"), DEFAULT_CONFIG).expect("config");
    for (header, content) in &case.sections {
        let (kind, rest) = header.split_once(' ').expect("section: KIND NAME");
        let name = rest.split(" -> ").next().unwrap_or(rest);
        let _ = std::fs::remove_file(dir.join(name));
        match kind {
            "file" => std::fs::write(dir.join(rest), content).expect("file"),
            "bytes" => std::fs::write(dir.join(rest), hex(content)).expect("bytes"),
            "big" => {
                // `--- big NAME MIB`: that many MiB of `a=1` lines.
                let (name, mib) = rest.rsplit_once(' ').expect("big NAME MIB");
                let mib: usize = mib.parse().expect("MiB");
                std::fs::write(dir.join(name), "a=1\n".repeat(mib * 1024 * 256)).expect("big");
            }
            "fifo" => {
                let made = Command::new("mkfifo")
                    .arg(dir.join(rest))
                    .status()
                    .expect("mkfifo");
                assert!(made.success());
            }
            "symlink" => {
                let (link, target) = rest.split_once(" -> ").expect("symlink NAME -> TARGET");
                std::os::unix::fs::symlink(target, dir.join(link)).expect("symlink");
            }
            other => panic!("{}: unknown section `{other}`", case.name),
        }
    }
}

/// The binary with the case's config and environment.
fn fearless(case: &Case, dir: &Path, program: &mut Command) {
    let d = dir.display().to_string();
    program
        .args(["-c", &format!("{d}/fearless.yaml")])
        .env("NO_COLOR", "1")
        .env("FEARLESS_USER", "tester")
        .env_remove("FEARLESS_CONFIG")
        .current_dir(dir)
        .stdin(Stdio::null());
    for (k, v) in &case.env {
        program.env(k, v);
    }
}

/// Run the case's `before` commands, each of which must succeed.
fn set_up(case: &Case, dir: &Path) {
    let d = dir.display().to_string();
    for args in &case.before {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fearless"));
        fearless(case, dir, &mut cmd);
        let out = cmd
            .args(args.iter().map(|a| a.replace("{dir}", &d)))
            .output()
            .expect("run fearless");
        assert!(
            out.status.success(),
            "{}: before {args:?}: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Run one case: its exit code, output, wall time and peak RSS (KiB).
fn run(case: &Case, dir: &Path) -> (Option<i32>, String, Duration, u64) {
    let d = dir.display().to_string();
    let rss = dir.join(".rss");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-o")
        .arg(&rss)
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_fearless"));
    fearless(case, dir, &mut cmd);
    cmd.args(case.args.iter().map(|a| a.replace("{dir}", &d)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so that a hung case is killed with everything it started.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run fearless under /usr/bin/time");
    // A case that hangs is killed (and fails on its time), so one hang cannot stall CI.
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > HANG {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    let took = started.elapsed();
    let kib = std::fs::read_to_string(&rss)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    let text = format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .replace(&d, "[DIR]");
    (out.status.code(), text, took, kib)
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    all.sort();
    all
}

#[test]
fn every_case_of_the_bad_input_corpus_gets_its_exit_code_and_message() {
    let all = cases();
    assert!(all.len() >= 60, "the corpus shrank: {} cases", all.len());
    let mut failures = Vec::new();
    for path in &all {
        let case = parse(path);
        let tmp = tempfile::tempdir().expect("tmp");
        prepare(&case, tmp.path());
        set_up(&case, tmp.path());
        let (code, text, took, kib) = run(&case, tmp.path());
        if text.contains("panicked") {
            failures.push(format!("{}: panicked\n{text}", case.name));
        }
        // Secrets in the cases are written SECRET-…: never shown, whatever the error.
        if text.contains("SECRET-") {
            failures.push(format!("{}: a secret was printed\n{text}", case.name));
        }
        // Terminal escapes in the input never reach the terminal raw.
        if text.contains('\u{1b}') || text.contains('\u{7}') {
            failures.push(format!(
                "{}: a raw control character was printed\n{text:?}",
                case.name
            ));
        }
        if code != Some(case.exit) {
            failures.push(format!(
                "{}: exit {code:?}, want {}\n{text}",
                case.name, case.exit
            ));
        }
        if took > TIME {
            failures.push(format!("{}: took {took:?}", case.name));
        }
        if kib > RSS_KIB {
            failures.push(format!("{}: {kib} KiB of RSS", case.name));
        }
        insta::with_settings!({
            snapshot_path => "../corpus/snapshots",
            prepend_module_to_snapshot => false,
            filters => vec![
                (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]"),
                (r"/tmp/\.tmp[A-Za-z0-9]+", "[DIR]"),
            ],
        }, {
            insta::assert_snapshot!(case.name.clone(), text);
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
