//! A store with a fleet's worth of check history, for `bench/serve.sh`.
//!
//! `serve_bench generate DIR [SPAN] [HOSTS]` writes `DIR/fearless.yaml` — HOSTS hosts
//! (default 1,000, on loopback addresses nothing is sent to: the bench serves with
//! `--no-monitor`) and four components of five checks each on every host, 20 checks a host —
//! and fills `DIR/state.db` with SPAN (default `7d`; `90m`, `12h`, `1d` …) of the test
//! plan's runs at the monitor's default 60 s interval, through the store's public API
//! ([`Store::insert_check_run`], one call per run as the monitor makes it). Most results
//! pass; each check on each host fails in about one half-hour block in 200 (a streak of 30
//! runs), a few are degraded, and the newest run has `api` failing on `app-0007`, so the
//! overview has a root suspect and impacted components to draw.
//!
//! It prints what generating cost (runs, results, seconds, results a second, the store's
//! size) and what the whole span would cost at that rate, so a span too large to generate
//! can be judged from a shorter one. `DIR/generated` marks a finished store.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark tool: what it cost on stdout, its progress on stderr"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fearless_store::{CheckRow, NewCheckRun, Store};
use time::OffsetDateTime;

/// The monitor's default interval.
const EVERY: Duration = Duration::from_secs(60);

/// The components (each runs on every host and depends on the next ones listed) and their
/// checks: (name, kind, the check's YAML body).
/// A check: its name, its kind, its YAML body.
type Check = (&'static str, &'static str, &'static str);
/// A component: its name, what it depends on (YAML), its checks.
type Component = (&'static str, &'static str, [Check; 5]);

const COMPONENTS: [Component; 4] = [
    (
        "frontend",
        "[api]",
        [
            (
                "health",
                "http",
                r#"http: { url: "http://{host.address}:8080/health", status: 200 }"#,
            ),
            (
                "checkout",
                "http",
                r#"http: { url: "http://{host.address}:8080/checkout", status: 200 }"#,
            ),
            ("web process", "process", "process: { name: acme-web }"),
            (
                "web port",
                "port",
                r#"port: { port: 8080, address: "{host.address}" }"#,
            ),
            ("nginx installed", "package", "package: { name: nginx }"),
        ],
    ),
    (
        "api",
        "[db, cache]",
        [
            (
                "orders",
                "http",
                r#"http: { url: "http://{host.address}:9090/orders", status: 200 }"#,
            ),
            (
                "ready",
                "http",
                r#"http: { url: "http://{host.address}:9090/ready", status: 200 }"#,
            ),
            ("api process", "process", "process: { name: acme-api }"),
            (
                "api port",
                "port",
                r#"port: { port: 9090, address: "{host.address}" }"#,
            ),
            ("libacme installed", "package", "package: { name: libacme }"),
        ],
    ),
    (
        "cache",
        "[]",
        [
            (
                "ping",
                "port",
                r#"port: { port: 6379, address: "{host.address}" }"#,
            ),
            (
                "cache process",
                "process",
                "process: { name: redis-server }",
            ),
            (
                "redis installed",
                "package",
                "package: { name: redis-server }",
            ),
            (
                "stats",
                "http",
                r#"http: { url: "http://{host.address}:6380/stats", status: 200 }"#,
            ),
            (
                "sentinel port",
                "port",
                r#"port: { port: 26379, address: "{host.address}" }"#,
            ),
        ],
    ),
    (
        "db",
        "[]",
        [
            (
                "db port",
                "port",
                r#"port: { port: 5432, address: "{host.address}" }"#,
            ),
            ("db process", "process", "process: { name: postgres }"),
            (
                "postgres installed",
                "package",
                "package: { name: postgresql }",
            ),
            (
                "replica lag",
                "http",
                r#"http: { url: "http://{host.address}:9187/lag", status: 200 }"#,
            ),
            (
                "exporter port",
                "port",
                r#"port: { port: 9187, address: "{host.address}" }"#,
            ),
        ],
    ),
];

/// A small deterministic hash (splitmix64).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn host_name(h: usize) -> String {
    format!("app-{h:04}")
}

/// `127.1.X.Y`: a loopback address per host, never contacted.
fn host_address(h: usize) -> String {
    format!("127.1.{}.{}", h / 250, 1 + h % 250)
}

fn config_yaml(hosts: usize) -> String {
    let mut out = String::from(
        "# Written by `serve_bench generate`: a fleet for bench/serve.sh (never contacted:\n\
         # the bench serves with --no-monitor).\n\
         store: sqlite:state.db\n\
         serve: { files: files }\n\
         inventory:\n  defaults: { user: root, port: 22, transport: ssh }\n  hosts:\n",
    );
    for h in 0..hosts {
        let _ = writeln!(
            out,
            "    {}: {{ address: {}, labels: {{ role: app }} }}",
            host_name(h),
            host_address(h)
        );
    }
    out.push_str("components:\n");
    for (name, deps, checks) in COMPONENTS {
        let _ = writeln!(
            out,
            "  {name}:\n    runs_on: \"role=app\"\n    depends_on: {deps}\n    checks:"
        );
        for (check, _, body) in checks {
            let _ = writeln!(out, "      - {{ name: {check}, {body} }}");
        }
    }
    out
}

/// The status of check `c` of component `k` on host `h` in run `r` of `runs`.
fn status(h: usize, k: usize, c: usize, r: u64, runs: u64) -> (&'static str, String) {
    if r + 1 == runs && h == 7 && k == 1 {
        return ("fail", "connection refused".to_owned());
    }
    let key = ((h as u64) << 16) | ((k as u64) << 8) | c as u64;
    let block = mix(key ^ mix(r / 30));
    if block.is_multiple_of(200) {
        ("fail", "HTTP 500 after 3 attempts".to_owned())
    } else if mix(key ^ r).is_multiple_of(500) {
        ("degraded", "slow: 850 ms".to_owned())
    } else {
        ("pass", format!("ok in {} ms", 2 + mix(key ^ r) % 40))
    }
}

fn run_of(hosts: usize, r: u64, runs: u64, started_at: OffsetDateTime) -> NewCheckRun {
    let mut results = Vec::with_capacity(hosts * 20);
    for h in 0..hosts {
        let host = host_name(h);
        for (k, (component, _, checks)) in COMPONENTS.iter().enumerate() {
            for (c, (check, kind, _)) in checks.iter().enumerate() {
                let (status, message) = status(h, k, c, r, runs);
                results.push(CheckRow {
                    component: (*component).to_owned(),
                    check: (*check).to_owned(),
                    host: Some(host.clone()),
                    kind: (*kind).to_owned(),
                    runs_on: "hosts".to_owned(),
                    status: status.to_owned(),
                    reason: (status == "fail").then(|| "status".to_owned()),
                    message,
                    duration_ms: 1 + mix(r ^ (h as u64)) % 60,
                });
            }
        }
    }
    NewCheckRun {
        started_at,
        finished_at: started_at + Duration::from_millis(1_800),
        trigger: "monitor".to_owned(),
        actor: "monitor".to_owned(),
        results,
    }
}

/// `7d`, `12h`, `90m`, `30s`.
fn parse_span(s: &str) -> Option<Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// The bytes of the store's files (the database and its write-ahead log).
fn store_bytes(dir: &Path) -> u64 {
    ["state.db", "state.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

async fn generate(
    dir: PathBuf,
    span: Duration,
    hosts: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir.join("files"))?;
    for stale in ["state.db", "state.db-wal", "state.db-shm", "generated"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    std::fs::write(dir.join("fearless.yaml"), config_yaml(hosts))?;
    let store = Store::open(&format!("sqlite:{}", dir.join("state.db").display())).await?;
    let runs = (span.as_secs() / EVERY.as_secs()).max(1);
    let first = OffsetDateTime::now_utc() - span;
    let started = Instant::now();
    let mut results = 0u64;
    for r in 0..runs {
        let run = run_of(hosts, r, runs, first + EVERY * u32::try_from(r)?);
        results += run.results.len() as u64;
        store.insert_check_run(&run).await?;
        if (r + 1) % 60 == 0 || r + 1 == runs {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "{:>6}/{runs} runs, {results} results, {secs:.0} s, {:.0} results/s, store {} MB",
                r + 1,
                results as f64 / secs,
                store_bytes(&dir) / 1_000_000
            );
        }
    }
    store.close().await;
    let secs = started.elapsed().as_secs_f64();
    let bytes = store_bytes(&dir);
    let week = 7 * 86_400 / EVERY.as_secs();
    println!("hosts {hosts}, checks a host 20, runs {runs}, results {results}");
    println!(
        "generated in {secs:.1} s: {:.0} results/s, {:.1} ms a run; store {:.1} MB ({:.0} bytes a result)",
        results as f64 / secs,
        secs * 1000.0 / runs as f64,
        bytes as f64 / 1e6,
        bytes as f64 / results as f64
    );
    println!(
        "at that rate 7 days ({week} runs) would take {:.0} s and {:.1} GB",
        secs * week as f64 / runs as f64,
        bytes as f64 * week as f64 / runs as f64 / 1e9
    );
    std::fs::write(
        dir.join("generated"),
        format!("{} {runs}\n", span.as_secs()),
    )?;
    Ok(())
}

fn usage() -> ! {
    eprintln!("usage: serve_bench generate DIR [SPAN (7d, 12h, 90m)] [HOSTS]");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some("generate"), Some(dir)) = (args.first().map(String::as_str), args.get(1)) else {
        usage()
    };
    let span = args
        .get(2)
        .map_or(Some(Duration::from_secs(7 * 86_400)), |s| parse_span(s));
    let hosts = args.get(3).map_or(Some(1_000), |s| s.parse().ok());
    let (Some(span), Some(hosts)) = (span, hosts) else {
        usage()
    };
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| {
        eprintln!("serve_bench: {e}");
        std::process::exit(1)
    });
    if let Err(e) = rt.block_on(generate(PathBuf::from(dir), span, hosts)) {
        eprintln!("serve_bench: {e}");
        std::process::exit(1);
    }
}
