//! Malformed feeds: each a located error (file, line:column, zip member, record), and a
//! feed with one bad part is not read at all.

use std::io::Write;

use super::write;

#[track_caller]
fn error_of(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let p = write(dir.path(), name, text);
    let shown = p.display().to_string();
    let e = fearless_vulns::load(&[p])
        .err()
        .unwrap_or_else(|| panic!("{name} read"));
    let e = e.to_string();
    assert!(e.starts_with(&shown), "{e}");
    e.replacen(&shown, "FILE", 1)
}

#[test]
fn truncated_json_is_located() {
    let e = error_of("t.json", "{\"id\": \"A-1\",\n  \"affected\": [\n");
    assert!(e.starts_with("FILE:3:0: EOF while parsing"), "{e}");
}

#[test]
fn wrong_types_are_located() {
    let e = error_of("w.json", "{\"id\": \"A-1\",\n \"affected\": \"foo\"}");
    assert!(e.starts_with("FILE:2:"), "{e}");
    assert!(
        e.contains("invalid type: string \"foo\", expected a sequence"),
        "{e}"
    );
    let e = error_of(
        "t.json",
        "{\"openssl\": {\"CVE-1\": {\"releases\": {\"bookworm\": {\"status\": 3}}}}}",
    );
    assert!(e.starts_with("FILE:1:"), "{e}");
    assert!(e.contains("invalid type: integer"), "{e}");
}

#[test]
fn bad_versions_and_events_name_the_record_and_field() {
    let e = error_of(
        "v.json",
        r#"{"id": "DSA-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "foo"},
           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0 2"}]}]}]}"#,
    );
    assert!(
        e.starts_with("FILE: record DSA-1: affected[0].ranges[0].events[1]: invalid deb version"),
        "{e}"
    );
    let e = error_of(
        "e.json",
        r#"{"id": "DSA-2", "affected": [{"package": {"ecosystem": "Debian:12", "name": "foo"},
           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}]}]}"#,
    );
    assert!(
        e.contains("record DSA-2: affected[0].ranges[0].events[0]: an event has exactly one"),
        "{e}"
    );
    let e = error_of(
        "s.json",
        r#"{"foo": {"CVE-1": {"releases": {"bookworm": {"status": "fixed"}}}}}"#,
    );
    assert!(
        e.contains("record foo/CVE-1: releases.bookworm.status"),
        "{e}"
    );
}

#[test]
fn xml_errors_are_located() {
    let e = error_of(
        "updateinfo.xml",
        "<updates>\n  <update type=\"security\">\n    <id>X</id>\n  </updat>\n</updates>\n",
    );
    assert!(e.starts_with("FILE:4:"), "{e}");
    let e = error_of("u.xml", "<?xml version=\"1.0\"?>\n<repomd/>\n");
    assert!(
        e.starts_with("FILE:2:1: <repomd>: an updateinfo document is <updates>"),
        "{e}"
    );
    let e = error_of(
        "u2.xml",
        "<updates>\n<update type=\"security\"><id>A</id><pkglist><collection short=\"amazon-linux-2\">\n<package name=\"x\" version=\"1 2\" release=\"1\"/></collection></pkglist></update></updates>",
    );
    assert!(
        e.starts_with("FILE:3:1: A: package x: invalid rpm version"),
        "{e}"
    );
}

#[test]
fn a_bad_zip_or_member_is_located() {
    let e = error_of("Debian.zip", "PK\u{3}\u{4} this is not a zip");
    assert!(e.starts_with("FILE: not a readable zip archive"), "{e}");
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("all.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).expect("zip"));
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file("GOOD-1.json", opts).expect("member");
    z.write_all(br#"{"id": "GOOD-1", "affected": []}"#)
        .expect("write");
    z.start_file("BAD-1.json", opts).expect("member");
    z.write_all(b"{\"id\": \"BAD-1\",\n\"affected\": [}")
        .expect("write");
    z.finish().expect("finish");
    let e = fearless_vulns::load(std::slice::from_ref(&p))
        .expect_err("fails")
        .to_string();
    assert!(
        e.starts_with(&format!("{}: member BAD-1.json:2:", p.display())),
        "{e}"
    );
}

#[test]
fn nothing_half_read_is_used() {
    // One good file and one truncated one in a directory: the whole read fails.
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "a.json", r#"{"id": "A-1", "affected": []}"#);
    write(dir.path(), "b.json", r#"{"id": "B-1", "affected": ["#);
    assert!(fearless_vulns::load(&[dir.path().to_owned()]).is_err());
    // Neither JSON nor XML; an empty directory; a missing path.
    assert!(error_of("x.json", "hello").starts_with("FILE:1:1: neither JSON"));
    let empty = tempfile::tempdir().expect("tmp");
    assert!(fearless_vulns::load(&[empty.path().to_owned()]).is_err());
    assert!(fearless_vulns::load(&[dir.path().join("missing.json")]).is_err());
}
