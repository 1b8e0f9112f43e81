//! Debian's tracker with its statuses, ALAS updateinfo, zips, directories, gzip, fix plans.

use std::io::Write;

use fearless_pkg::Installed;
use fearless_pkg::version::Kind;
use fearless_vulns::{HostFindings, Selection, Status};

use super::{assess, built, feed_of, osv, own, rows, write};

const TRACKER: &str = r#"{
  "foo": {
    "CVE-2026-1": {"description": "fixed in bookworm",
      "releases": {"bookworm": {"status": "resolved", "fixed_version": "1.2-1+deb12u1", "urgency": "medium",
                                "repositories": {"bookworm": "1.2-1"}},
                   "trixie": {"status": "resolved", "fixed_version": "0", "urgency": "medium"}}},
    "CVE-2026-2": {"releases": {"bookworm": {"status": "open", "urgency": "high"}}},
    "CVE-2026-3": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": ""}}},
    "CVE-2026-4": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "x", "nodsa_reason": "postponed"}}},
    "CVE-2026-5": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "x", "nodsa_reason": "ignored"}}},
    "CVE-2026-6": {"releases": {"bookworm": {"status": "open", "urgency": "unimportant"}}},
    "CVE-2026-7": {"releases": {"bookworm": {"status": "undetermined"}}},
    "CVE-2026-8": {"releases": {"sid": {"status": "open"}}},
    "CVE-2026-9": {"releases": {"bookworm": {"status": "open", "urgency": "end-of-life"}}}
  }
}"#;

#[test]
fn tracker_statuses_follow_the_policy() {
    let feed = feed_of("tracker.json", TRACKER);
    let src = &feed.sources[0];
    assert_eq!(src.formats, [fearless_vulns::Format::DebianTracker]);
    assert_eq!(src.records, 9);
    assert_eq!(src.unmatched.get("undetermined"), Some(&1), "{src:?}");
    assert_eq!(
        src.unmatched.get("release sid (no release number)"),
        Some(&1)
    );
    assert_eq!(
        src.unmatched
            .get("resolved: never affected (fixed_version 0)"),
        Some(&1)
    );
    let r = assess(&feed, "debian", "12", Kind::Deb, &[own("foo", "1.2-1")]);
    let got: Vec<(String, String)> = rows(&r).into_iter().map(|(a, _, s, _)| (a, s)).collect();
    let want: Vec<(String, String)> = [
        ("CVE-2026-1", "fixable"),
        ("CVE-2026-2", "open"),
        ("CVE-2026-3", "no-dsa"),
        ("CVE-2026-4", "postponed"),
        ("CVE-2026-5", "ignored"),
        ("CVE-2026-9", "end-of-life"),
    ]
    .iter()
    .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(r.unimportant, 1);
    assert_eq!(r.counted(false).count(), 2);
    assert_eq!(r.counted(true).count(), 6);
    assert_eq!(r.findings[0].severity.as_deref(), Some("medium"));
    // Fixed there: only the open ones remain.
    let fixed = assess(
        &feed,
        "debian",
        "12",
        Kind::Deb,
        &[own("foo", "1.2-1+deb12u1")],
    );
    assert!(!fixed.findings.iter().any(|f| f.status == Status::Fixable));
    // Trixie was never affected (fixed_version 0).
    assert!(
        assess(&feed, "debian", "13", Kind::Deb, &[own("foo", "1.0")])
            .findings
            .is_empty()
    );
}

const UPDATEINFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update author="linux-security@amazon.com" status="final" type="security" version="1.4">
    <id>ALAS2-2026-2001</id>
    <title>Amazon Linux 2 - ALAS2-2026-2001: important priority package update for openssl</title>
    <severity>important</severity>
    <references>
      <reference href="https://example.invalid/CVE-2026-100" id="CVE-2026-100" title="" type="cve"/>
    </references>
    <pkglist>
      <collection short="amazon-linux-2">
        <name>Amazon Linux 2</name>
        <package arch="x86_64" epoch="1" name="openssl-libs" release="24.amzn2.0.7" version="1.0.2k">
          <filename>Packages/openssl-libs-1.0.2k-24.amzn2.0.7.x86_64.rpm</filename>
        </package>
        <package arch="aarch64" epoch="1" name="openssl-libs" release="24.amzn2.0.7" version="1.0.2k"/>
      </collection>
    </pkglist>
  </update>
  <update type="bugfix"><id>ALAS2-2026-B</id></update>
  <update type="security"><id>ALAS-2019-1</id>
    <pkglist><collection short="amazon-linux-ami"><package name="x" version="1" release="1" epoch="0"/></collection></pkglist>
  </update>
</updates>
"#;

#[test]
fn alas_updateinfo_matches_binaries_by_epoch_version_release() {
    let feed = feed_of("updateinfo.xml", UPDATEINFO);
    let src = &feed.sources[0];
    assert_eq!(src.records, 3);
    assert_eq!(src.scopes.get("amazon-linux 2"), Some(&1));
    assert_eq!(src.unmatched.get("bugfix update"), Some(&1));
    assert_eq!(src.unmatched.get("Amazon Linux AMI (1)"), Some(&1));
    let at = |v: &str| {
        let p = [built("openssl-libs", v, "openssl", "1.0.2k-1")];
        assess(&feed, "amazon-linux", "2", Kind::Rpm, &p)
    };
    let r = at("1:1.0.2k-24.amzn2.0.6");
    assert_eq!(
        rows(&r),
        [(
            "ALAS2-2026-2001".into(),
            "openssl-libs".into(),
            "fixable".into(),
            Some("1:1.0.2k-24.amzn2.0.7".into())
        )]
    );
    assert_eq!(*r.findings[0].aliases, ["CVE-2026-100".to_owned()]);
    assert_eq!(r.findings[0].by, fearless_vulns::By::Binary);
    assert!(at("1:1.0.2k-24.amzn2.0.7").findings.is_empty());
    // Epoch 0 (none written) is below epoch 1 whatever the version.
    assert_eq!(at("1.1.1-1.amzn2").findings.len(), 1);
    // Amazon Linux 2023 hosts are another release.
    let p = [own("openssl-libs", "1:1.0.0-1")];
    assert!(
        assess(&feed, "amazon-linux", "2023", Kind::Rpm, &p)
            .findings
            .is_empty()
    );
}

#[test]
fn zips_directories_and_gzip_read_alike() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = |id: &str, pkg: &str| {
        osv(
            id,
            "Debian:12",
            pkg,
            r#"[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]"#,
            "[]",
        )
    };
    // A zip as OSV publishes per ecosystem: one record per member.
    let zip_path = dir.path().join("Debian.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("zip"));
    let opts = zip::write::SimpleFileOptions::default();
    for (id, pkg) in [("Z-1", "foo"), ("Z-2", "bar")] {
        z.start_file(format!("{id}.json"), opts).expect("member");
        z.write_all(rec(id, pkg).as_bytes()).expect("write");
    }
    z.finish().expect("finish");
    // A directory of records, one nested, and a gzipped one.
    let d = dir.path().join("osv");
    write(&d, "a/D-1.json", &rec("D-1", "foo"));
    write(&d, "README.txt", "not a feed");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(rec("G-1", "foo").as_bytes()).expect("gz");
    std::fs::write(d.join("G-1.json.gz"), gz.finish().expect("gz")).expect("write");
    let feed = fearless_vulns::load(&[zip_path, d]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(feed.sources.len(), 2);
    assert_eq!((feed.sources[0].files, feed.sources[0].records), (2, 2));
    assert_eq!((feed.sources[1].files, feed.sources[1].records), (2, 2));
    let r = assess(
        &feed,
        "debian",
        "12",
        Kind::Deb,
        &[own("foo", "1.0"), own("bar", "3.0")],
    );
    let ids: Vec<&str> = r.findings.iter().map(|f| &*f.advisory).collect();
    assert_eq!(ids, ["D-1", "G-1", "Z-1"]);
    assert!(r.findings[2].feed.ends_with("Debian.zip"));
    assert!(feed.knows("cve-Z-2"));
}

fn installed(name: &str, version: &str) -> Installed {
    Installed {
        name: name.into(),
        arch: "all".into(),
        version: version.into(),
        manual: true,
    }
}

#[test]
fn fix_plans_pin_exactly_the_offered_fix_or_say_why_not() {
    let feed = feed_of(
        "a.json",
        &format!(
            "[{}, {}]",
            osv(
                "F-1",
                "Debian:12",
                "libacme",
                r#"[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]}]"#,
                "[]"
            ),
            osv(
                "F-2",
                "Debian:12",
                "acme-web",
                r#"[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]"#,
                "[]"
            ),
        ),
    );
    let pkgs = [own("libacme", "1.0"), own("acme-web", "1.0")];
    let mut r = assess(&feed, "debian", "12", Kind::Deb, &pkgs);
    let inst = [installed("libacme", "1.0"), installed("acme-web", "1.0")];
    let host = |findings: &'static [fearless_vulns::Finding], name: &'static str| HostFindings {
        host: name,
        kind: Kind::Deb,
        findings,
        installed: &[],
    };
    let _ = host;
    // Not offered yet: named, it is refused; F-2 has no fix at all.
    let plan = |r: &fearless_vulns::Report, sel: &Selection, inst: &[Installed]| {
        fearless_vulns::fix::plan(
            sel,
            &[HostFindings {
                host: "web-1",
                kind: Kind::Deb,
                findings: &r.findings,
                installed: inst,
            }],
        )
    };
    r.offer(Kind::Deb, &[own("libacme", "1.0")]);
    let p = plan(&r, &Selection::Named(vec!["CVE-F-1".into()]), &inst);
    assert_eq!(p.pins, Vec::<String>::new());
    assert!(
        p.problems[0].contains("libacme 1.1 or later is not offered"),
        "{p:?}"
    );
    // Offered: exactly that pin, and F-2 said as unfixed when everything is asked for.
    r.offer(Kind::Deb, &[own("libacme", "1.1"), own("libacme", "1.2")]);
    let p = plan(&r, &Selection::All, &inst);
    assert_eq!(p.pins, ["libacme=1.1"]);
    assert!(p.problems.is_empty(), "{p:?}");
    assert_eq!(p.closes[0].hosts, ["web-1"]);
    assert!(p.unfixed[0].contains("F-2"), "{p:?}");
    let named = plan(&r, &Selection::Named(vec!["F-2".into()]), &inst);
    assert!(
        named.problems[0].contains("no fixed version yet"),
        "{named:?}"
    );
    // Another host of the rollout with a newer libacme, or without it: refused.
    let newer = [installed("libacme", "1.3")];
    let two = fearless_vulns::fix::plan(
        &Selection::All,
        &[
            HostFindings {
                host: "web-1",
                kind: Kind::Deb,
                findings: &r.findings,
                installed: &inst,
            },
            HostFindings {
                host: "web-2",
                kind: Kind::Deb,
                findings: &[],
                installed: &newer,
            },
            HostFindings {
                host: "web-3",
                kind: Kind::Deb,
                findings: &[],
                installed: &[],
            },
        ],
    );
    assert!(
        two.problems
            .iter()
            .any(|p| p.starts_with("web-2: libacme=1.1 would downgrade it from 1.3")),
        "{two:?}"
    );
    assert!(
        two.problems
            .iter()
            .any(|p| p.starts_with("web-3: libacme=1.1 would install libacme")),
        "{two:?}"
    );
}
