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
