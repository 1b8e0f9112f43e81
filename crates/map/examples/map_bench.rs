//! Times the map's renderers on a generated 500-component map (6 tiers, externals,
//! untiered components, long edges, undeclared cycles): `svg()` — the layered layout plus
//! the drawing — and, for comparison in the same run, writing the DOT text. Prints the
//! median of 5 runs of each, and the drawing's size.
//!
//! `cargo run --release -p fearless-map --example map_bench [COMPONENTS]`
//! (`bench/map.sh` calls it.)

#[path = "../tests/it/generate.rs"]
mod generate;

use std::time::{Duration, Instant};

/// Median wall time of `runs` calls of `f`, and the last output's length in bytes.
fn median(runs: usize, mut f: impl FnMut() -> String) -> (Duration, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut len = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let out = std::hint::black_box(f());
        times.push(start.elapsed());
        len = out.len();
    }
    times.sort_unstable();
    (times[runs / 2], len)
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() {
    let components = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let map = generate::layered(components, 6, 11);
    let layout = fearless_map::layered(&map);
    let (layout_time, _) = median(5, || {
        let l = fearless_map::layered(&map);
        format!("{}", l.nodes.len())
    });
    let (svg, svg_bytes) = median(5, || fearless_map::svg(&map));
    let (dot, dot_bytes) = median(5, || fearless_map::dot(&map));
    println!(
        "map of {} components, {} edges: {} layers, {:.0}×{:.0} px",
        map.nodes.len(),
        map.edges.len(),
        layout.layers,
        layout.width,
        layout.height
    );
    println!(
        "svg  (layout + drawing): median of 5 = {:.1} ms ({svg_bytes} bytes; layout alone {:.1} ms)",
        svg.as_secs_f64() * 1e3,
        layout_time.as_secs_f64() * 1e3
    );
    println!(
        "dot  (text only, Graphviz not run): median of 5 = {:.2} ms ({dot_bytes} bytes)",
        dot.as_secs_f64() * 1e3
    );
}
