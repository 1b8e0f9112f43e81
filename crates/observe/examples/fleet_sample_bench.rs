//! One observation sample of every host of a configuration, against `ss -tnpH` on the same
//! hosts over the same open ssh masters, in the same run (`bench/map.sh` runs it on a
//! 4-host lab).
//!
//! Usage: `fleet_sample_bench CONFIG SS_ARGV… [--rounds N]`: `SS_ARGV` is how `ss` runs
//! on the hosts (the lab's minimal root has none: the benchmark copies the machine's in).
//! Each round runs the sample on every host at once, then `ss` on every host at once
//! (alternating, so load changes hit both), timed until the last host answered; one
//! untimed round first opens the masters. Prints the median of each and their ratio.

use fearless_exec::{Fleet, Transport};
use fearless_observe::script;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `argv` on every transport at once; the time until the last answered.
async fn everywhere(transports: &[&Transport], argv: &[String]) -> Duration {
    let start = Instant::now();
    let runs = transports
        .iter()
        .map(|t| t.run(argv, Duration::from_secs(30)));
    for (t, out) in transports.iter().zip(futures::future::join_all(runs).await) {
        let out = out.unwrap_or_else(|e| panic!("{}: {e}", t.host()));
        assert!(
            out.success(),
            "{}: {argv:?} failed: {}",
            t.host(),
            out.stderr_str()
        );
    }
    start.elapsed()
}

#[tokio::main(flavor = "current_thread")]
#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = match args.iter().position(|a| a == "--rounds") {
        Some(i) => {
            let n = args
                .get(i + 1)
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("--rounds N"));
            args.drain(i..=i + 1);
            n
        }
        None => 10,
    };
    let (config, ss) = args
        .split_first()
        .unwrap_or_else(|| panic!("usage: fleet_sample_bench CONFIG SS_ARGV… [--rounds N]"));
    let loaded = fearless_config::load(std::path::Path::new(config))
        .unwrap_or_else(|e| panic!("{config}: {e:?}"));
    let fleet = Fleet::new(&loaded.config.inventory);
    let transports: Vec<&Transport> = loaded
        .config
        .inventory
        .hosts
        .keys()
        .filter_map(|h| fleet.transport(h))
        .collect();
    let sample = script::sample_argv();
    let ss = ss.to_vec();
    everywhere(&transports, &sample).await;
    everywhere(&transports, &ss).await;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(everywhere(&transports, &sample).await);
        theirs.push(everywhere(&transports, &ss).await);
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!("hosts {}", transports.len());
    println!("sample_ms_median {:.2}", ms(ours));
    println!("ss_tnpH_ms_median {:.2}", ms(theirs));
    println!(
        "ratio_sample_over_ss {:.2}",
        ours.as_secs_f64() / theirs.as_secs_f64().max(f64::MIN_POSITIVE)
    );
    fleet.close().await;
}
