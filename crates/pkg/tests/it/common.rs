//! Shared helpers: running the real dpkg and rpm as comparison oracles.

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `program args…` with `input` on stdin and returns its stdout; panics with the
/// program's stderr if it cannot start, fails or writes anything to stderr (a warning from
/// dpkg about a version we generated means the generator or our parser is wrong).
fn run_with_stdin(program: &str, args: &[&str], input: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (scripts/test.sh installs it): {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let output = std::thread::scope(|s| {
        // Feed stdin from another thread so a full stdout pipe cannot deadlock us.
        s.spawn(move || {
            stdin
                .write_all(input.as_bytes())
                .expect("write oracle input");
        });
        child.wait_with_output().expect("wait for oracle")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.is_empty(),
        "{program} failed ({}): {stderr}",
        output.status
    );
    String::from_utf8(output.stdout).expect("oracle output is UTF-8")
}

fn parse_orderings(tool: &str, out: &str, expected: usize) -> Vec<Ordering> {
    let got: Vec<Ordering> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.trim().parse::<i32>() {
            Ok(n) => n.cmp(&0),
            Err(_) => panic!("unexpected {tool} output line {l:?}"),
        })
        .collect();
    assert_eq!(
        got.len(),
        expected,
        "{tool} answered {} of {expected} pairs:\n{out}",
        got.len()
    );
    got
}

/// `dpkg --compare-versions` on every pair, in one `sh` process.
pub(crate) fn dpkg_compare(pairs: &[(String, String)]) -> Vec<Ordering> {
    let available = Command::new("dpkg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        available,
        "dpkg is not installed; it is the oracle of this test"
    );
    // Versions are data read by `read`, never part of the script text.
    const SCRIPT: &str = r#"
        while IFS=' ' read -r a b; do
            if dpkg --compare-versions "$a" lt "$b"; then echo -1
            elif dpkg --compare-versions "$a" eq "$b"; then echo 0
            else echo 1; fi
        done"#;
    let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    parse_orderings(
        "dpkg",
        &run_with_stdin("sh", &["-c", SCRIPT], &input),
        pairs.len(),
    )
}

/// rpm's own `rpm.vercmp` (rpmverCmp over full EVRs) on every pair, in one `rpm` process.
pub(crate) fn rpm_compare(pairs: &[(String, String)]) -> Vec<Ordering> {
    // The pairs are read by Lua from stdin, so they never go through macro expansion; the
    // script avoids `%` so rpm's expansion of the script itself leaves it alone.
    const SCRIPT: &str = r#"%{lua:
for line in io.lines() do
  local tab = string.find(line, "\t", 1, true)
  print(rpm.vercmp(string.sub(line, 1, tab - 1), string.sub(line, tab + 1)) .. "\n")
end
}"#;
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    parse_orderings(
        "rpm",
        &run_with_stdin("rpm", &["--eval", SCRIPT], &input),
        pairs.len(),
    )
}
