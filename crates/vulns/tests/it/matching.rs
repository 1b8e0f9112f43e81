//! OSV ranges, version lists, release scoping, sources against binaries, rpm epochs.

use fearless_pkg::version::Kind;

use super::{assess, built, feed_of, osv, own, rows};

fn range(events: &str) -> String {
    format!(r#"[{{"type": "ECOSYSTEM", "events": {events}}}]"#)
}

fn fixed(r: &fearless_vulns::Report) -> Vec<Option<String>> {
    r.findings
        .iter()
        .map(|f| f.fixed.as_deref().map(str::to_owned))
        .collect()
}

#[test]
fn introduced_and_fixed() {
    let feed = feed_of(
        "a.json",
        &osv(
            "A-1",
            "Debian:12",
            "foo",
            &range(r#"[{"introduced": "0"}, {"fixed": "1.2-1"}]"#),
            "[]",
        ),
    );
    let at = |v: &str| assess(&feed, "debian", "12", Kind::Deb, &[own("foo", v)]);
    assert_eq!(
        rows(&at("1.1-1")),
        [(
            "A-1".into(),
            "foo".into(),
            "fixable".into(),
            Some("1.2-1".into())
        )]
    );
    assert!(at("1.2-1").findings.is_empty());
    assert!(at("1.2-1+deb12u1").findings.is_empty());
    // dpkg's order, not the string's: 1.2~rc1 comes before 1.2.
    assert_eq!(fixed(&at("1.2~rc1-1")), [Some("1.2-1".into())]);
    assert_eq!(*at("1.1-1").findings[0].aliases, ["CVE-A-1".to_owned()]);
}

#[test]
fn several_ranges_and_unsorted_events() {
    let ranges = r#"[{"type": "ECOSYSTEM", "events": [{"fixed": "1.0"}, {"introduced": "0"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.1"}]}]"#;
    let feed = feed_of("a.json", &osv("A-2", "Debian:12", "foo", ranges, "[]"));
    let at = |v: &str| fixed(&assess(&feed, "debian", "12", Kind::Deb, &[own("foo", v)]));
    assert_eq!(at("0.9"), [Some("1.0".into())]);
    assert!(at("1.5").is_empty());
    assert_eq!(at("2.0"), [Some("2.1".into())]);
    assert!(at("2.1").is_empty());
}

#[test]
fn last_affected_and_limit_have_no_fix() {
    let feed = feed_of(
        "a.json",
        &osv(
            "A-3",
            "Debian:12",
            "foo",
            &range(r#"[{"introduced": "1.0"}, {"last_affected": "1.4"}]"#),
            "[]",
        ),
    );
    let at = |v: &str| rows(&assess(&feed, "debian", "12", Kind::Deb, &[own("foo", v)]));
    assert!(at("0.9").is_empty());
    assert_eq!(
        at("1.4"),
        [("A-3".into(), "foo".into(), "open".into(), None)]
    );
    assert!(at("1.5").is_empty());
    let feed = feed_of(
        "b.json",
        &osv(
            "A-4",
            "Debian:12",
            "foo",
            &range(r#"[{"introduced": "0"}, {"limit": "2.0"}]"#),
            "[]",
        ),
    );
    let at = |v: &str| rows(&assess(&feed, "debian", "12", Kind::Deb, &[own("foo", v)]));
    assert_eq!(at("1.0")[0].2, "open");
    assert!(at("2.0").is_empty());
}

#[test]
fn explicit_versions_list() {
    let feed = feed_of(
        "a.json",
        &osv("A-5", "Debian:12", "foo", "[]", r#"["1.1-2", "1.1-1"]"#),
    );
    let at = |v: &str| rows(&assess(&feed, "debian", "12", Kind::Deb, &[own("foo", v)]));
    assert_eq!(at("1.1-2").len(), 1);
    assert_eq!(at("1.1-1").len(), 1);
    assert!(at("1.1-3").is_empty());
    // A range's fix above the listed version is the fix.
    let feed = feed_of(
        "b.json",
        &osv(
            "A-6",
            "Debian:12",
            "foo",
            &range(r#"[{"introduced": "2.0"}, {"fixed": "2.1"}]"#),
            r#"["1.5"]"#,
        ),
    );
    let at = |v: &str| rows(&assess(&feed, "debian", "12", Kind::Deb, &[own("foo", v)]));
    assert_eq!(at("1.5")[0].3.as_deref(), Some("2.1"));
}

#[test]
fn unknown_ecosystems_are_counted_not_errors() {
    let text = format!(
        "[{}, {}, {}]",
        osv(
            "N-1",
            "npm",
            "left-pad",
            &range(r#"[{"introduced": "0"}, {"fixed": "1.0.0"}]"#),
            "[]"
        ),
        osv(
            "R-1",
            "Red Hat:enterprise_linux:9::appstream",
            "foo",
            "[]",
            r#"["1"]"#
        ),
        osv(
            "D-1",
            "Debian:12",
            "foo",
            &range(r#"[{"introduced": "0"}, {"fixed": "1.0"}]"#),
            "[]"
        ),
    );
    let feed = feed_of("all.json", &text);
    let src = &feed.sources[0];
    assert_eq!(src.records, 3);
    assert_eq!(src.unmatched.get("ecosystem npm"), Some(&1), "{src:?}");
    assert_eq!(
        src.unmatched.get("Red Hat (CPE streams are not read)"),
        Some(&1)
    );
    assert_eq!(src.scopes.get("debian 12"), Some(&1));
    assert_eq!(feed.advisories.len(), 1);
}

#[test]
fn a_debian_advisory_without_the_release_matches_no_release() {
    let text = format!(
        "[{}, {}]",
        osv(
            "D-11",
            "Debian:11",
            "foo",
            &range(r#"[{"introduced": "0"}, {"fixed": "1.0"}]"#),
            "[]"
        ),
        osv(
            "D-X",
            "Debian",
            "foo",
            &range(r#"[{"introduced": "0"}, {"fixed": "9.0"}]"#),
            "[]"
        ),
    );
    let feed = feed_of("all.json", &text);
    assert_eq!(
        feed.sources[0].unmatched.get("Debian without a release"),
        Some(&1)
    );
    // Debian 12 with 0.5: neither the bullseye entry nor the unscoped one applies.
    assert!(
        assess(&feed, "debian", "12", Kind::Deb, &[own("foo", "0.5")])
            .findings
            .is_empty()
    );
    assert_eq!(
        rows(&assess(
            &feed,
            "debian",
            "11",
            Kind::Deb,
            &[own("foo", "0.5")]
        )),
        [(
            "D-11".into(),
            "foo".into(),
            "fixable".into(),
            Some("1.0".into())
        )]
    );
    // Ubuntu is another product: the Debian 12 entries never apply there.
    assert!(
        assess(&feed, "ubuntu", "12", Kind::Deb, &[own("foo", "0.5")])
            .findings
            .is_empty()
    );
}

#[test]
fn source_packages_are_matched_by_source_name_and_version() {
    let feed = feed_of(
        "a.json",
        &osv(
            "S-1",
            "Debian:12",
            "openssl",
            &range(r#"[{"introduced": "0"}, {"fixed": "3.0.15-1~deb12u1"}]"#),
            "[]",
        ),
    );
    // Two binaries of one source (one a binNMU: its own version is the source's + b1).
    let pkgs = [
        built(
            "libssl3",
            "3.0.14-1~deb12u2+b1",
            "openssl",
            "3.0.14-1~deb12u2",
        ),
        built("openssl", "3.0.14-1~deb12u2", "openssl", "3.0.14-1~deb12u2"),
        own("unrelated", "1.0"),
    ];
    let r = assess(&feed, "debian", "12", Kind::Deb, &pkgs);
    assert_eq!(r.findings.len(), 1, "{r:?}");
    let f = &r.findings[0];
    assert_eq!(
        (&*f.package, &*f.installed),
        ("openssl", "3.0.14-1~deb12u2")
    );
    let names: Vec<&str> = f.binaries.iter().map(|b| &*b.name).collect();
    assert_eq!(names, ["libssl3", "openssl"]);
    // A binary named like the advisory's source but built from another source: no match.
    let other = [built("openssl", "1.0", "openssl-compat", "1.0")];
    assert!(
        assess(&feed, "debian", "12", Kind::Deb, &other)
            .findings
            .is_empty()
    );
    // A binary whose own name the feed does not know, but whose source it does: a match.
    let lib = [built(
        "libssl3",
        "3.0.11-1~deb12u2",
        "openssl",
        "3.0.11-1~deb12u2",
    )];
    assert_eq!(
        assess(&feed, "debian", "12", Kind::Deb, &lib)
            .findings
            .len(),
        1
    );
}

#[test]
fn rpm_epochs_and_releases_order_as_rpm_orders_them() {
    let feed = feed_of(
        "alma.json",
        &osv(
            "ALSA-2024:1",
            "AlmaLinux:9",
            "openssl",
            &range(r#"[{"introduced": "0"}, {"fixed": "1:3.0.7-18.el9"}]"#),
            "[]",
        ),
    );
    let at = |sv: &str| {
        let p = [built("openssl-libs", sv, "openssl", sv)];
        rows(&assess(&feed, "almalinux", "9", Kind::Rpm, &p))
    };
    assert_eq!(at("1:3.0.7-17.el9").len(), 1);
    // No epoch is epoch 0: older than anything of epoch 1, whatever its version.
    assert_eq!(at("3.0.9-1.el9").len(), 1);
    assert!(at("1:3.0.7-18.el9").is_empty());
    assert!(at("1:3.0.7-18.el9_2").is_empty());
    assert!(at("2:1.0-1.el9").is_empty());
    // A 9.4 host is matched as AlmaLinux 9; a deb host of the same name is not.
    let deb = [own("openssl", "1.0")];
    let r = assess(&feed, "almalinux", "9", Kind::Deb, &deb);
    assert!(r.findings.is_empty());
    assert!(
        r.notes[0].contains("no feed entry covers them"),
        "{:?}",
        r.notes
    );
}

#[test]
fn offers_say_the_lowest_closing_version() {
    let feed = feed_of(
        "a.json",
        &osv(
            "O-1",
            "Debian:12",
            "acme",
            &range(r#"[{"introduced": "0"}, {"fixed": "1.1"}]"#),
            "[]",
        ),
    );
    let pkgs = [
        built("libacme", "1.0", "acme", "1.0"),
        built("acme-bin", "1.0", "acme", "1.0"),
    ];
    let mut r = assess(&feed, "debian", "12", Kind::Deb, &pkgs);
    assert_eq!(r.wanted(), ["acme-bin", "libacme"]);
    let offered = [
        built("libacme", "1.0", "acme", "1.0"),
        built("libacme", "1.2", "acme", "1.2"),
        built("libacme", "1.1", "acme", "1.1"),
        built("acme-bin", "1.0.1", "acme", "1.0.1"),
    ];
    r.offer(Kind::Deb, &offered);
    let f = &r.findings[0];
    assert_eq!(f.offered, fearless_vulns::Offer::Partly);
    let b: Vec<(&str, Option<&str>)> = f
        .binaries
        .iter()
        .map(|b| (&*b.name, b.offered.as_deref()))
        .collect();
    assert_eq!(b, [("acme-bin", None), ("libacme", Some("1.1"))]);
}
