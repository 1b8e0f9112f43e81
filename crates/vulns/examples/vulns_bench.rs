//! The `fearless vulns` matching at fleet scale, on synthetic data of a real dump's shape.
//!
//! `vulns_bench generate DIR [RECORDS SOURCES HOSTS PACKAGES]` writes `DIR/Debian.zip`, an
//! OSV Debian dump as osv.dev publishes it (one `DEBIAN-CVE-….json` record per member:
//! aliases, upstream, summary, details, references, one to three `Debian:11/12/13`
//! entries with an `ECOSYSTEM` range — introduced 0 and fixed, or no fix, or introduced
//! later — and the list of affected versions), and `DIR/hosts.json`, host inventories of
//! binary packages with their sources (Debian 11, 12 or 13 each). Defaults: 40,000
//! records across 5,000 source packages, 1,000 hosts of about 500 packages.
//!
//! `vulns_bench run DIR [HOSTS_FILE]` times what `fearless vulns` does with them once the hosts'
//! package lists are in: read the zip ([`fearless_vulns::load`]), read the inventories,
//! index and assess every host. It prints the times and the findings (count and a
//! checksum of every host/advisory/package, which `bench/vulns-peer.py` must match).
//!
//! (`bench/vulns.sh` runs both and the peer.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fearless_pkg::Built;
use fearless_pkg::version::Kind;
use fearless_vulns::{Index, Scope};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const RELEASES: [(&str, &str); 3] = [("11", "deb11u"), ("12", "deb12u"), ("13", "deb13u")];

/// The version history of source `s` in release `r`: sorted, realistic Debian versions.
fn history(s: usize, r: usize) -> Vec<String> {
    let (major, minor) = (1 + s % 7, s % 13);
    (0..12)
        .map(|i| {
            let patch = i / 3;
            let rev = 1 + i % 3;
            match i % 4 {
                3 => format!(
                    "{major}.{minor}.{patch}-{rev}+{}{}",
                    RELEASES[r].1,
                    1 + i / 4
                ),
                _ => format!("{major}.{minor}.{patch}-{rev}"),
            }
        })
        .collect()
}

fn source_name(s: usize) -> String {
    const STEMS: [&str; 10] = [
        "lib", "python-", "golang-", "node-", "r-cran-", "", "perl-", "ruby-", "gst-", "x11-",
    ];
    format!("{}pkg{s:04}", STEMS[s % STEMS.len()])
}

fn generate(dir: &Path, records: usize, sources: usize, hosts: usize, packages: usize) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut rng = Rng(0x5eed_f00d_cafe_0001);
    let file = std::fs::File::create(dir.join("Debian.zip")).expect("create zip");
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..records {
        let s = i % sources;
        let year = 2014 + i % 12;
        let id = format!("DEBIAN-CVE-{year}-{:05}", 10_000 + i);
        let cve = format!("CVE-{year}-{:05}", 10_000 + i);
        let mut affected = Vec::new();
        for (r, (release, _)) in RELEASES.iter().enumerate() {
            if r > 0 && rng.below(3) == 0 {
                continue;
            }
            let h = history(s, r);
            let fix_at = 1 + rng.below(h.len() as u64 - 1) as usize;
            let (events, versions) = match rng.below(10) {
                0 => (r#"[{"introduced": "0"}]"#.to_owned(), h.clone()),
                1 => {
                    let from = rng.below(fix_at as u64) as usize;
                    (
                        format!(
                            r#"[{{"introduced": "{}"}}, {{"fixed": "{}"}}]"#,
                            h[from], h[fix_at]
                        ),
                        h[from..fix_at].to_vec(),
                    )
                }
                _ => (
                    format!(r#"[{{"introduced": "0"}}, {{"fixed": "{}"}}]"#, h[fix_at]),
                    h[..fix_at].to_vec(),
                ),
            };
            let versions: Vec<String> = versions.iter().map(|v| format!("\"{v}\"")).collect();
            affected.push(format!(
                r#"{{"package": {{"ecosystem": "Debian:{}", "name": "{}", "purl": "pkg:deb/debian/{}?arch=source"}},
      "ranges": [{{"type": "ECOSYSTEM", "events": {events}}}],
      "versions": [{}],
      "ecosystem_specific": {{"urgency": "{}"}},
      "database_specific": {{"source": "https://storage.googleapis.com/debian-osv/debian-cve-osv/{id}.json"}}}}"#,
                release,
                source_name(s),
                source_name(s),
                versions.join(", "),
                ["low", "medium", "high", "not yet assigned"][i % 4],
            ));
        }
        let record = format!(
            r#"{{
  "schema_version": "1.6.0",
  "id": "{id}",
  "modified": "2026-11-30T12:00:00Z",
  "published": "{year}-06-01T00:00:00Z",
  "upstream": ["{cve}"],
  "summary": "{} allows remote attackers to cause a denial of service",
  "details": "A flaw was found in {}. A remote attacker could send crafted input that triggers an out-of-bounds read, leading to a crash or possibly information disclosure. This synthetic record has the shape of osv.dev's Debian records.",
  "affected": [
    {}
  ],
  "references": [
    {{"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/{cve}"}},
    {{"type": "WEB", "url": "https://www.cve.org/CVERecord?id={cve}"}}
  ]
}}"#,
            source_name(s),
            source_name(s),
            affected.join(",\n    ")
        );
        zip.start_file(format!("{id}.json"), opts).expect("member");
        zip.write_all(record.as_bytes()).expect("write");
    }
    zip.finish().expect("finish zip");

    hosts_file(
        &dir.join("hosts.json"),
        &mut rng,
        sources,
        hosts,
        packages,
        false,
    );
    hosts_file(
        &dir.join("hosts-uniform.json"),
        &mut rng,
        sources,
        hosts,
        packages,
        true,
    );
}

/// Host inventories: about `packages` binaries each, from random sources (a tenth of them
/// not in the feed). Mostly current (a fleet that is patched: 60 % of its sources at the
/// latest version of their history, the rest one to three versions behind), or, with
/// `uniform`, at any version of the history (the worst case: about half of every entry
/// applies).
fn hosts_file(
    path: &Path,
    rng: &mut Rng,
    sources: usize,
    hosts: usize,
    packages: usize,
    uniform: bool,
) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("hosts"));
    writeln!(out, "[").expect("write");
    for h in 0..hosts {
        let r = [1, 1, 1, 1, 1, 1, 1, 0, 0, 2][h % 10];
        let mut pkgs = Vec::new();
        while pkgs.len() < packages {
            let s = rng.below(sources as u64 + sources as u64 / 10) as usize;
            let hist = history(s, r);
            let behind = if uniform {
                rng.below(hist.len() as u64) as usize
            } else if rng.below(10) < 6 {
                0
            } else {
                1 + rng.below(3) as usize
            };
            let v = &hist[hist.len() - 1 - behind];
            let src = source_name(s);
            for b in 0..=rng.below(2) {
                pkgs.push(format!(r#"["{src}-bin{b}", "{v}", "{src}", "{v}"]"#));
            }
        }
        let sep = if h + 1 == hosts { "" } else { "," };
        writeln!(
            out,
            r#"{{"host": "host-{h:04}", "release": "{}", "packages": [{}]}}{sep}"#,
            RELEASES[r].0,
            pkgs.join(", ")
        )
        .expect("write");
    }
    writeln!(out, "]").expect("write");
}

#[derive(serde::Deserialize)]
struct HostIn {
    host: String,
    release: String,
    packages: Vec<(String, String, String, String)>,
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn run(dir: &Path, hosts_file: &str) {
    let t0 = Instant::now();
    let feed = fearless_vulns::load(&[dir.join("Debian.zip")]).unwrap_or_else(|e| panic!("{e}"));
    let t1 = Instant::now();
    let text = std::fs::read_to_string(dir.join(hosts_file)).expect("hosts file");
    let hosts: Vec<HostIn> = serde_json::from_str(&text).expect("hosts.json");
    let inventories: Vec<(String, Scope, Vec<Built>)> = hosts
        .into_iter()
        .map(|h| {
            let packages = h
                .packages
                .into_iter()
                .map(|(name, version, source, source_version)| Built {
                    name,
                    arch: "amd64".into(),
                    version,
                    source,
                    source_version,
                })
                .collect();
            (h.host, Scope::new("debian", &h.release), packages)
        })
        .collect();
    let t2 = Instant::now();
    let index = Index::new(&feed);
    let hosts: Vec<fearless_vulns::Host<'_>> = inventories
        .iter()
        .map(|(_, scope, packages)| fearless_vulns::Host {
            scope: Some(scope),
            kind: Kind::Deb,
            packages,
        })
        .collect();
    let reports = index.assess_all(&hosts);
    let mut findings = 0usize;
    let mut checksum = 0u64;
    for ((host, _, _), report) in inventories.iter().zip(&reports) {
        for f in &report.findings {
            findings += 1;
            checksum = checksum.wrapping_add(fnv(&format!("{host}|{}|{}", f.advisory, f.package)));
        }
    }
    let t3 = Instant::now();
    let packages: usize = inventories.iter().map(|(_, _, p)| p.len()).sum();
    println!(
        "records {} hosts {} packages {packages}",
        feed.sources[0].records,
        inventories.len()
    );
    println!("load {:.3}", (t1 - t0).as_secs_f64());
    println!("inventories {:.3}", (t2 - t1).as_secs_f64());
    println!("match {:.3}", (t3 - t2).as_secs_f64());
    println!("total {:.3}", (t3 - t0).as_secs_f64());
    println!("findings {findings} checksum {checksum:016x}");
}

/// FNV-1a, the same in the Python peer.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(2).map_or("/tmp/vulns-bench", String::as_str));
    let n = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    match args.get(1).map(String::as_str) {
        Some("generate") => generate(&dir, n(3, 40_000), n(4, 5_000), n(5, 1_000), n(6, 500)),
        Some("run") => run(&dir, args.get(3).map_or("hosts.json", String::as_str)),
        _ => panic!("usage: vulns_bench generate|run DIR"),
    }
}
