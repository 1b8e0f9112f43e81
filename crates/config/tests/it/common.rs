//! Helpers shared by the config crate's integration tests: where the fixtures are, and the
//! two renderings of problems (plain, and miette's graphical handler as the CLI uses it),
//! with machine-specific paths made relative so snapshots hold anywhere.

use fearless_config::Problem;
use std::path::{Path, PathBuf};

pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture's name: its file name without the extension.
pub(crate) fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

fn relative(text: &str) -> String {
    text.replace(&format!("{}/", fixtures_dir().display()), "")
}

/// `file:line:col: error[code]: message` and hints, one problem after another.
pub(crate) fn render_plain(problems: &[Problem]) -> String {
    relative(
        &problems
            .iter()
            .map(Problem::plain)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// What `fearless` prints: miette's graphical report of each problem, code frame included
/// (`coloured`: the themed handler used on colour terminals).
pub(crate) fn render_fancy(problems: &[Problem], coloured: bool) -> String {
    let handler = if coloured {
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode())
    } else {
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
    };
    let mut out = String::new();
    for p in problems {
        handler
            .render_report(&mut out, p)
            .expect("miette renders every problem");
    }
    relative(&out)
}

/// CPU time this test process has used (user + system), from `/proc/self/stat`: a bound on
/// how long a parse takes that holds on a loaded machine, where wall time does not
/// (nextest runs each test in its own process).
pub(crate) fn cpu_time() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may hold spaces) start after the last `)`.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `)`; USER_HZ is 100.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    std::time::Duration::from_millis(ticks * 10)
}
