//! `fearless scan`: source code scanned for fragile coupling to the OS and to vendors
//! (`fearless-scan` walks, parses and matches; this module parses the arguments, renders
//! the report as human text like ruff's, JSON or SARIF, and maps it to an exit code:
//! 0 clean, 1 findings, 2 bad input).

use std::fmt::Write as _;

use fearless_io::Escaped;
use fearless_scan::{Baseline, Report, RuleSet, ScanError, ScanOptions};

use super::{print, writable, write_output};
use crate::args::{Format, Global, ScanArgs};
use crate::exit::{Failure, Outcome};

pub(crate) fn run(g: &Global, a: ScanArgs) -> Result<Outcome, Failure> {
    if !matches!(g.format, Format::Human | Format::Json | Format::Sarif) {
        return Err(Failure::bad_input(
            format!("`scan` prints human, json or sarif, not {:?}", g.format).to_lowercase(),
            Some("e.g. fearless scan --format sarif -o scan.sarif"),
        ));
    }
    for path in a.output.iter().chain(&a.write_baseline) {
        writable(path)?;
    }
    let rules = match &a.rules {
        Some(dir) => RuleSet::with_user_dir(dir),
        None => RuleSet::builtin(),
    }
    .map_err(|e| {
        Failure::bad_input(
            e.to_string(),
            Some("rules are in ast-grep's YAML rule format"),
        )
    })?;
    let mut options = ScanOptions::new(a.paths, rules);
    options.select = a.select;
    options.ignore = a.ignore;
    options.baseline = a
        .baseline
        .as_deref()
        .map(Baseline::load)
        .transpose()
        .map_err(|e| Failure::bad_input(e.to_string(), None))?;
    let report = fearless_scan::scan(&options).map_err(|e| match e {
        ScanError::Root { .. }
        | ScanError::UnknownRule(..)
        | ScanError::Baseline(_)
        | ScanError::Rules(_) => Failure::bad_input(e.to_string(), None),
    })?;
    if let Some(path) = &a.write_baseline {
        let baseline = Baseline::of(&report.findings);
        let text = serde_json::to_string_pretty(&baseline)
            .map_err(|e| Failure::Environment(e.into()))?
            + "\n";
        write_output(path, text.as_bytes())?;
        if !g.quiet {
            eprintln_safe(&format!(
                "wrote a baseline of {} findings to {}",
                baseline.findings.len(),
                Escaped(&path.to_string_lossy())
            ));
        }
        return Ok(Outcome::Success);
    }
    let text = match g.format {
        Format::Json => {
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Environment(e.into()))?
                + "\n"
        }
        Format::Sarif => {
            serde_json::to_string_pretty(&fearless_scan::sarif::sarif(&report))
                .map_err(|e| Failure::Environment(e.into()))?
                + "\n"
        }
        _ => human(&report),
    };
    match &a.output {
        Some(path) => {
            write_output(path, text.as_bytes())?;
            if !g.quiet {
                eprintln_safe(&format!("wrote {}", Escaped(&path.to_string_lossy())));
            }
        }
        None => print(&text)?,
    }
    Ok(if report.findings.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// A line on stderr (ignored if stderr is closed).
fn eprintln_safe(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// ruff-like text: `path:line:col: ID message`, the code frame, the fix; notes; a summary.
fn human(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let _ = writeln!(
            out,
            "{}:{}:{}: {} {}",
            Escaped(&f.path),
            f.line,
            f.column,
            f.rule,
            Escaped(&f.message)
        );
        let gutter = f.line.to_string().len();
        let _ = writeln!(out, "{:>gutter$} | {}", f.line, Escaped(&f.source_line));
        let width = if f.end_line == f.line {
            f.end_column.saturating_sub(f.column).max(1)
        } else {
            f.source_line
                .chars()
                .count()
                .saturating_sub(f.column - 1)
                .max(1)
        };
        let _ = writeln!(
            out,
            "{:>gutter$} | {}{}",
            "",
            " ".repeat(f.column - 1),
            "^".repeat(width.min(120))
        );
        for s in &f.sites {
            let _ = writeln!(
                out,
                "{:>gutter$} = site: {}:{}:{}: {}",
                "",
                Escaped(&s.path),
                s.line,
                s.column,
                Escaped(&s.matched)
            );
        }
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "{:>gutter$} = fix: {}", "", Escaped(fix));
        }
        out.push('\n');
    }
    for n in &report.notes {
        let _ = writeln!(out, "note: {}: {}", Escaped(&n.path), Escaped(&n.detail));
    }
    let counts: Vec<String> = report
        .counts()
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "{} finding{}{} in {} files ({} bytes); {} suppressed, {} in the baseline, {} notes",
        report.findings.len(),
        if report.findings.len() == 1 { "" } else { "s" },
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        },
        report.files_scanned,
        report.bytes_scanned,
        report.suppressed,
        report.baselined,
        report.notes.len()
    );
    for r in &report.rules {
        if let Some(uri) = &r.help_uri
            && report.findings.iter().any(|f| f.rule == r.id)
        {
            let _ = writeln!(out, "  {}: {}", r.id, uri);
        }
    }
    out
}
