//! `fearless completions SHELL` and `fearless man [--dir DIR]`: what a shell and `man` need,
//! generated from the same clap definition the parser uses, so they never drift from it.

use std::path::Path;

use super::{print, writable, write_output};
use crate::args::command as definition;
use crate::exit::{Failure, Outcome};

/// The completion script for `shell` on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<Outcome, Failure> {
    let mut command = definition();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "fearless", &mut script);
    print(&String::from_utf8_lossy(&script))?;
    Ok(Outcome::Success)
}

/// fearless(1) on stdout, or every page into `dir`.
pub(crate) fn man(dir: Option<&Path>) -> Result<Outcome, Failure> {
    let command = definition();
    let Some(dir) = dir else {
        print(&render(&command)?)?;
        return Ok(Outcome::Success);
    };
    if !dir.is_dir() {
        return Err(Failure::bad_input(
            format!(
                "--dir {}: not a directory",
                fearless_io::Escaped(&dir.to_string_lossy())
            ),
            Some("create it first, e.g. mkdir -p man/man1"),
        ));
    }
    let mut written = 0;
    let mut pages = vec![(String::from("fearless"), command)];
    while let Some((name, command)) = pages.pop() {
        let path = dir.join(format!("{name}.1"));
        writable(&path)?;
        write_output(&path, render(&command)?.as_bytes())?;
        written += 1;
        for sub in command.get_subcommands() {
            if sub.get_name() != "help" {
                let full = format!("{name}-{}", sub.get_name());
                pages.push((full.clone(), sub.clone().name(full)));
            }
        }
    }
    print(&format!(
        "wrote {written} man pages to {}\n",
        fearless_io::Escaped(&dir.to_string_lossy())
    ))?;
    Ok(Outcome::Success)
}

fn render(command: &clap::Command) -> Result<String, Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut out)
        .map_err(|e| Failure::Environment(e.into()))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
