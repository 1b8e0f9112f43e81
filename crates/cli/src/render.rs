//! Rendering helpers shared by commands: colour policy, tables, durations.

use comfy_table::{Cell, Color, ContentArrangement, LineStyle, Table, TableStyle};

/// Columns separated by spaces, one rule under the header: dense and readable without colour.
const STYLE: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─'));
use std::io::IsTerminal;

/// Colour on stdout: a terminal and no `NO_COLOR`.
pub(crate) fn color_stdout() -> bool {
    no_color_unset() && std::io::stdout().is_terminal()
}

/// Colour on stderr: a terminal and no `NO_COLOR`.
pub(crate) fn color_stderr() -> bool {
    no_color_unset() && std::io::stderr().is_terminal()
}

fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A table that fits the terminal width (or 120 columns when not a terminal).
pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(STYLE)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !std::io::stdout().is_terminal() {
        t.set_width(120);
    }
    if !color_stdout() {
        t.force_no_tty();
    }
    t.set_header(header.iter().map(Cell::new));
    t
}

/// Free text (a title, a name, a note, what a host said) as it may be shown on a
/// terminal: control characters and escape sequences written visibly, never obeyed.
pub(crate) fn text(s: &str) -> String {
    fearless_io::escape_terminal(s).into_owned()
}

/// How many names [`names`] shows before it counts the rest.
pub(crate) const NAMES_SHOWN: usize = 8;

/// Host (or other) names for a line of human output: all of them, escaped, when there
/// are at most [`NAMES_SHOWN`]; else the first ones and how many more (`web-1, web-2, …
/// and 992 more`). `--format json` keeps every name.
pub(crate) fn names(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(NAMES_SHOWN).map(|n| text(n)).collect();
    match names.len().checked_sub(NAMES_SHOWN) {
        Some(more) if more > 0 => format!("{}, … and {more} more", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// A cell coloured by meaning (colour dropped automatically when disabled).
pub(crate) fn colored(text: &str, good: Option<bool>) -> Cell {
    let cell = Cell::new(text);
    match good {
        Some(true) => cell.fg(Color::Green),
        Some(false) => cell.fg(Color::Red),
        None => cell.fg(Color::Yellow),
    }
}

/// `12ms`, `1.4s`.
pub(crate) fn duration(d: std::time::Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_of_names_shows_the_first_ones_escaped_and_counts_the_rest() {
        let few: Vec<String> = ["web-1", "web\x1b[2J"].map(str::to_owned).to_vec();
        assert_eq!(names(&few), "web-1, web\\x1b[2J");
        let eight: Vec<String> = (1..=8).map(|i| format!("web-{i}")).collect();
        assert_eq!(names(&eight), eight.join(", "));
        let many: Vec<String> = (1..=1000).map(|i| format!("web-{i}")).collect();
        assert_eq!(
            names(&many),
            "web-1, web-2, web-3, web-4, web-5, web-6, web-7, web-8, … and 992 more"
        );
        assert_eq!(names(&[]), "");
    }
}
