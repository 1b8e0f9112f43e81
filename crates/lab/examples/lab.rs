//! A bare driver of the lab library for manual testing (the real CLI is `fearless lab`):
//! `cargo run -p fearless-lab --example lab -- up|down|status|publish SCENARIO [DIR] [HOSTS]`.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a manual test driver prints"
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use fearless_lab::{LabError, UpOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let result = run(&args);
    eprintln!("[{:.1} s]", started.elapsed().as_secs_f64());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), LabError> {
    let verb = args.first().map_or("status", String::as_str);
    let mut progress = |p: fearless_lab::Progress| {
        eprintln!(
            "  {:>18} {}/{} {} {}",
            p.step.to_string(),
            p.done,
            p.total,
            p.host.unwrap_or_default(),
            p.message
        );
    };
    match verb {
        "up" => {
            let mut opts = UpOptions::default();
            if let Some(dir) = args.get(1) {
                opts.dir = PathBuf::from(dir);
            }
            if let Some(n) = args.get(2) {
                opts.hosts = n
                    .parse()
                    .map_err(|_| LabError::InvalidOptions(format!("bad host count {n}")))?;
            }
            if let Some(cache) = std::env::var_os(fearless_lab::CACHE_DIR_ENV) {
                opts.cache_dir = PathBuf::from(cache);
            }
            let lab = fearless_lab::up(&opts, &mut progress)?;
            println!("{lab:#?}");
        }
        "down" => {
            let dir = PathBuf::from(
                args.get(1)
                    .map_or(fearless_lab::DEFAULT_DIR, String::as_str),
            );
            println!("{:#?}", fearless_lab::down(&dir, &mut progress)?);
        }
        "status" => {
            let dir = PathBuf::from(
                args.get(1)
                    .map_or(fearless_lab::DEFAULT_DIR, String::as_str),
            );
            println!("{:#?}", fearless_lab::status(&dir)?);
        }
        "publish" => {
            let scenario = args.get(1).map_or("", String::as_str).parse()?;
            let dir = PathBuf::from(
                args.get(2)
                    .map_or(fearless_lab::DEFAULT_DIR, String::as_str),
            );
            println!("{:#?}", fearless_lab::publish(&dir, scenario)?);
        }
        other => return Err(LabError::InvalidOptions(format!("unknown verb {other}"))),
    }
    Ok(())
}
