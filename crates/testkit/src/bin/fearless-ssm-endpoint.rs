//! `fearless-ssm-endpoint`: the testkit's local SSM Run Command endpoint as a process, for
//! benchmarks and demos against a running lab. Test infrastructure, not a product.
//!
//! ```text
//! fearless-ssm-endpoint [--listen ADDR] [--region REGION] --instance ID=NAME=PID|local …
//! ```
//!
//! `PID` is a lab host's init (`Runner::Namespace`); `local` runs scripts on this machine.
//! `NAME=PID` (no id) takes the id `instance_id_for(NAME)`. The endpoint's URL is printed
//! on standard output once it listens, then one `ID NAME` line per instance; it serves
//! until SIGTERM or Ctrl-C, then kills the scripts still running.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use fearless_testkit::ssm::{Instance, Runner, SsmEndpoint, SsmOptions};
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: fearless-ssm-endpoint [--listen ADDR] [--region REGION] \
                     --instance ID=NAME=PID|local [--instance …]";

/// The command line, read.
struct Args {
    options: SsmOptions,
    instances: Vec<Instance>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut options = SsmOptions::new();
    let mut instances = Vec::new();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => {
                let addr: SocketAddr = value()?
                    .parse()
                    .map_err(|e| format!("--listen: not an address: {e}"))?;
                options = options.listen(addr);
            }
            "--region" => options = options.region(value()?),
            "--instance" => instances.push(instance(&value()?)?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if instances.is_empty() {
        return Err(format!("no --instance given\n{USAGE}"));
    }
    Ok(Args { options, instances })
}

/// `ID=NAME=PID`, `ID=NAME=local`, or `NAME=PID` / `NAME=local` (the id derived).
fn instance(spec: &str) -> Result<Instance, String> {
    if spec.matches('=').count() == 1 {
        let (name, runner) = spec.split_once('=').unwrap_or_default();
        let id = fearless_testkit::ssm::instance_id_for(name);
        return instance(&format!("{id}={name}={runner}"));
    }
    let mut parts = spec.splitn(3, '=');
    let (Some(id), Some(name), Some(runner)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "--instance {spec:?}: expected ID=NAME=PID or ID=NAME=local"
        ));
    };
    let runner = if runner == "local" {
        Runner::Local
    } else {
        let pid = runner
            .parse()
            .map_err(|_| format!("--instance {spec:?}: {runner:?} is neither a PID nor local"))?;
        Runner::Namespace { pid }
    };
    Ok(Instance::new(id, name, runner))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            return ExitCode::from(2);
        }
    };
    // The handlers are in place before the URL is printed: whoever read it may stop us.
    let signals = [SignalKind::terminate(), SignalKind::interrupt()].map(signal);
    let [Ok(mut term), Ok(mut int)] = signals else {
        let _ = writeln!(
            std::io::stderr(),
            "fearless-ssm-endpoint: cannot handle signals"
        );
        return ExitCode::FAILURE;
    };
    let endpoint = match SsmEndpoint::start(args.instances, args.options).await {
        Ok(endpoint) => endpoint,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "fearless-ssm-endpoint: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let ids: Vec<String> = endpoint
            .instances()
            .map(|(name, id)| format!("{id} {name}\n"))
            .collect();
        // One write: a reader that takes the URL line and closes the pipe must not find us
        // half-way through the ids (a write to a closed pipe would end the server).
        if out
            .write_all(format!("{}\n{}", endpoint.url(), ids.concat()).as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    // Kills the scripts still running.
    drop(endpoint);
    ExitCode::SUCCESS
}
