//! The `fearless` binary: parse arguments, call the libraries, render, map to exit codes.
//! No domain logic lives here.

mod args;
mod cmd;
mod exit;
mod render;

use clap::FromArgMatches as _;
use exit::Failure;
use std::io::{IsTerminal, Write};

fn main() -> std::process::ExitCode {
    let mut command = args::command();
    let matches = command.get_matches_mut();
    let cli = match args::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.format(&mut command).exit(),
    };
    if let Err(e) = args::check_format(&mut command, &matches, cli.global.format) {
        e.exit();
    }
    init_tracing(&cli.global, matches!(cli.command, args::Command::Serve(_)));
    // A large fleet holds an ssh master (and its descriptors) per host: take every open
    // file the hard limit allows before any is opened.
    match fearless_exec::raise_open_files() {
        Ok(l) => tracing::debug!(was = ?l.was, now = ?l.now, "open files limit"),
        Err(e) => tracing::warn!("cannot raise the open files limit: {e}"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(&Failure::Environment(anyhow::anyhow!(
                "cannot start the async runtime: {e}"
            )));
            return std::process::ExitCode::from(3);
        }
    };
    let result = runtime.block_on(cmd::dispatch(cli));
    if let Err(f) = &result {
        report(f);
    }
    std::process::ExitCode::from(exit::code(&result))
}

/// Logs on stderr. A server (`fearless serve`) logs its requests and monitor runs at info,
/// as JSON lines with `--format json`.
fn init_tracing(g: &args::Global, server: bool) {
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let serve = if server && !g.quiet && g.verbose == 0 {
        ",fearless::serve=info,fearless_engine::monitor=info"
    } else {
        ""
    };
    // sqlx warns of every statement that took over a second — on SQLite shared by several
    // workers, any statement that waited for the write lock: a line per host of a wave,
    // about the store's internals. Shown from `-v` on.
    let statements = if g.verbose == 0 {
        ",sqlx::query=error"
    } else {
        ""
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FEARLESS_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},hyper=warn,lapin=warn,rustls=warn{statements}{serve}"
        ))
    });
    if server && g.format == args::Format::Json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(render::color_stderr())
        .with_target(false)
        .init();
}

/// An error message as the terminal may show it: it can quote what the user or a host
/// gave, so every control character but its own line breaks is written visibly.
fn shown(message: &str) -> String {
    message
        .split('\n')
        .map(|l| fearless_io::escape_terminal(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Print a failure on stderr.
fn report(f: &Failure) {
    let mut err = std::io::stderr().lock();
    match f {
        Failure::Config(e) => {
            let handler = if render::color_stderr() {
                miette::GraphicalReportHandler::new()
            } else {
                miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            };
            for p in &e.problems {
                let mut s = String::new();
                if handler.render_report(&mut s, p).is_ok() {
                    let _ = write!(err, "{s}");
                } else {
                    let _ = writeln!(err, "{}", p.plain());
                }
            }
            let _ = writeln!(err, "error: {e}");
        }
        Failure::BadInput { message, hint } | Failure::Gate { message, hint } => {
            let _ = writeln!(err, "error: {}", shown(message));
            if let Some(h) = hint {
                let _ = writeln!(err, "hint: {}", shown(h));
            }
        }
        Failure::Environment(e) => {
            let _ = writeln!(err, "error: {}", shown(&format!("{e:#}")));
        }
        Failure::BrokenPipe => {}
    }
    let _ = std::io::stderr().is_terminal();
}
