//! The cost of one sample of this machine, against `ss -tnpH` (the socket table with the
//! owning processes) in the same run, both through the local transport (`Transport::
//! controller()`: the same spawn path, each timed from spawn to exit).
//!
//! Usage: `sample_bench [ROUNDS]` (default 10). Rounds alternate the two so load changes
//! hit both; prints the median of each in milliseconds and their ratio, then the sample's
//! size and what it found.

use fearless_exec::Transport;
use fearless_observe::observe::read_sample;
use fearless_observe::script;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let t = Transport::controller();
    let sample = script::sample_argv();
    let ss: Vec<String> = ["ss", "-tnpH"].iter().map(|s| (*s).to_owned()).collect();
    let timeout = Duration::from_secs(30);
    let has_ss = matches!(t.run(&ss, timeout).await, Ok(o) if o.success());

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..rounds {
        let start = Instant::now();
        let out = t
            .run(&sample, timeout)
            .await
            .unwrap_or_else(|e| panic!("the sample did not run: {e}"));
        ours.push(start.elapsed());
        last = Some(out);
        if has_ss {
            let start = Instant::now();
            let out = t
                .run(&ss, timeout)
                .await
                .unwrap_or_else(|e| panic!("ss did not run: {e}"));
            assert!(out.success(), "ss failed: {}", out.stderr_str());
            theirs.push(start.elapsed());
        }
    }
    let ours = median(ours);
    println!("sample_ms_median {:.2}", ms(ours));
    if has_ss {
        let theirs = median(theirs);
        println!("ss_tnpH_ms_median {:.2}", ms(theirs));
        println!(
            "ratio_sample_over_ss {:.2}",
            ours.as_secs_f64() / theirs.as_secs_f64().max(f64::MIN_POSITIVE)
        );
    } else {
        println!("ss not found: no comparison");
    }
    if let Some(out) = last {
        let s = read_sample(&out, &[]).unwrap_or_else(|e| panic!("{e}"));
        println!("sample_bytes {}", out.stdout.len());
        println!(
            "found listeners={} connections={} processes={} not_permitted={}",
            s.listeners.len(),
            s.connections.len(),
            s.stats.processes,
            s.stats.not_permitted
        );
    }
}
