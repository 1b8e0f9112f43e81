//! The lab's apt repository: builds the acme shop `.deb` packages from the sources in
//! `lab/packages` (embedded in the binary) and keeps a flat repository index over them.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use include_dir::{Dir, include_dir};

use crate::catalog::PackageVersion;
use crate::error::{LabError, Result};
use crate::sys;

/// The package sources, one folder per package (see `lab/packages/README.md`).
static SOURCES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../lab/packages");

const VERSION_PLACEHOLDER: &str = "@VERSION@";
const MAINTAINER_SCRIPTS: &[&str] = &["preinst", "postinst", "prerm", "postrm", "config"];

/// Builds `pv` into `repo` unless the `.deb` is already there; returns whether it built.
pub(crate) fn ensure_deb(pv: PackageVersion, build_dir: &Path, repo: &Path) -> Result<bool> {
    let deb = repo.join(pv.file_name());
    if deb.exists() {
        return Ok(false);
    }
    let staging = build_dir.join(format!("{}_{}", pv.name, pv.version));
    sys::remove_tree(&staging)?;
    stage(pv, &staging)?;
    build_into(&staging, &deb, &pv.to_string())?;
    Ok(true)
}

/// `dpkg-deb --build` the tree in `staging` to `deb` (through a temporary file beside it, so
/// the repository never holds half a package), then remove the tree.
fn build_into(staging: &Path, deb: &Path, label: &str) -> Result<()> {
    let name = deb
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = deb.with_file_name(format!(".{name}.tmp"));
    sys::run(
        Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group"])
            .arg(staging)
            .arg(&tmp),
        &format!("build package {label}"),
    )?;
    fs::rename(&tmp, deb)
        .map_err(|e| LabError::io(format!("move {} into the repository", deb.display()), e))?;
    sys::remove_tree(staging)?;
    Ok(())
}

/// Builds the filler package `name` (version `version`: a README, no dependencies, nothing
/// uses it) into `repo` unless it is there; returns whether it built.
pub(crate) fn ensure_extra_deb(
    name: &str,
    version: &str,
    build_dir: &Path,
    repo: &Path,
) -> Result<bool> {
    let deb = repo.join(format!("{name}_{version}_all.deb"));
    if deb.exists() {
        return Ok(false);
    }
    let staging = build_dir.join(format!("{name}_{version}"));
    sys::remove_tree(&staging)?;
    let write = |rel: &str, text: String| {
        let path = staging.join(rel);
        if let Some(parent) = path.parent() {
            sys::create_dir_all(parent)?;
        }
        fs::write(&path, text).map_err(|e| LabError::io(format!("write {}", path.display()), e))
    };
    write(
        "DEBIAN/control",
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Acme Shop Ops <ops@acme.example>\nSection: misc\nPriority: optional\nDescription: acme shop filler package\n A harmless package for bisect tests and benchmarks.\n"
        ),
    )?;
    write(
        &format!("usr/share/doc/{name}/README"),
        format!("{name} {version}: nothing uses this package.\n"),
    )?;
    set_dir_modes(&staging)?;
    build_into(&staging, &deb, &format!("{name}={version}"))?;
    Ok(true)
}

/// Lays out the package tree of `pv` in `staging`: DEBIAN/, the base files, then the
/// control files and files that differ in this version.
pub(crate) fn stage(pv: PackageVersion, staging: &Path) -> Result<()> {
    let source = SOURCES.get_dir(pv.name).ok_or_else(|| {
        LabError::io(
            format!("find the sources of package {}", pv.name),
            std::io::ErrorKind::NotFound.into(),
        )
    })?;
    let base = Path::new(pv.name);
    copy_tree(
        source,
        &base.join("DEBIAN"),
        &staging.join("DEBIAN"),
        pv.version,
    )?;
    copy_tree(source, &base.join("root"), staging, pv.version)?;
    let version = base.join("versions").join(pv.version);
    copy_tree(
        source,
        &version.join("DEBIAN"),
        &staging.join("DEBIAN"),
        pv.version,
    )?;
    copy_tree(source, &version.join("root"), staging, pv.version)?;
    set_dir_modes(staging)
}

/// The text of one embedded source file, e.g. `("libacme", "DEBIAN/control")`.
#[cfg(test)]
pub(crate) fn source_text(package: &str, path: &str) -> Option<String> {
    SOURCES
        .get_file(Path::new(package).join(path))
        .and_then(|f| f.contents_utf8())
        .map(str::to_owned)
}

/// Copies every embedded file under `from` (a path inside SOURCES) to `to`.
fn copy_tree(pkg: &Dir<'static>, from: &Path, to: &Path, version: &str) -> Result<()> {
    let Some(dir) = pkg.get_dir(from) else {
        return Ok(());
    };
    for file in all_files(dir) {
        let rel = file.path().strip_prefix(from).unwrap_or(file.path());
        let target = to.join(rel);
        let contents = match file.contents_utf8() {
            Some(text) => text.replace(VERSION_PLACEHOLDER, version).into_bytes(),
            None => file.contents().to_vec(),
        };
        sys::write_file(&target, &contents, file_mode(rel, &contents))?;
    }
    Ok(())
}

fn all_files(dir: &Dir<'static>) -> Vec<&'static include_dir::File<'static>> {
    let mut files: Vec<_> = dir.files().collect();
    for sub in dir.dirs() {
        files.extend(all_files(sub));
    }
    files
}

/// Maintainer scripts and `#!` scripts are executable; everything else is 0644.
fn file_mode(rel: &Path, contents: &[u8]) -> u32 {
    let is_script = rel
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| MAINTAINER_SCRIPTS.contains(&n));
    if is_script || contents.starts_with(b"#!") {
        0o755
    } else {
        0o644
    }
}

fn set_dir_modes(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| LabError::io(format!("set permissions of {}", dir.display()), e))?;
    let entries =
        fs::read_dir(dir).map_err(|e| LabError::io(format!("read {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LabError::io(format!("read {}", dir.display()), e))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            set_dir_modes(&entry.path())?;
        }
    }
    Ok(())
}

/// Regenerates `Packages`, `Packages.gz` and `Release` of the flat repository `repo`,
/// keeping every version (`--multiversion`) so older ones stay installable.
pub(crate) fn index(repo: &Path) -> Result<()> {
    let scan = sys::run(
        Command::new("dpkg-scanpackages")
            .args(["--multiversion", ".", "/dev/null"])
            .current_dir(repo),
        "index the lab repository",
    )?;
    sys::write_atomic(&repo.join("Packages"), &scan.stdout, 0o644)?;
    let gz = sys::run(
        Command::new("gzip")
            .args(["-9", "-n", "-c", "Packages"])
            .current_dir(repo),
        "compress the repository index",
    )?;
    sys::write_atomic(&repo.join("Packages.gz"), &gz.stdout, 0o644)?;
    let sums = sys::run(
        Command::new("sha256sum")
            .args(["Packages", "Packages.gz"])
            .current_dir(repo),
        "checksum the repository index",
    )?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let release = release_file(
        &rfc2822_utc(now),
        &sys::lossy(&sums.stdout),
        &[
            ("Packages", scan.stdout.len()),
            ("Packages.gz", gz.stdout.len()),
        ],
    );
    sys::write_atomic(&repo.join("Release"), release.as_bytes(), 0o644)
}

/// An (unsigned) `Release` file; hosts use the repository with `[trusted=yes]`.
fn release_file(date: &str, sha256sum_output: &str, sizes: &[(&str, usize)]) -> String {
    let mut out = format!(
        "Origin: fearless-lab\nLabel: fearless-lab\nSuite: lab\nCodename: lab\nDate: {date}\n\
         Description: acme shop packages of the fearless lab\nSHA256:\n",
    );
    for line in sha256sum_output.lines() {
        let mut fields = line.split_whitespace();
        if let (Some(hash), Some(name)) = (fields.next(), fields.next())
            && let Some((_, size)) = sizes.iter().find(|(n, _)| *n == name)
        {
            out.push_str(&format!(" {hash} {size} {name}\n"));
        }
    }
    out
}

/// `secs` since the epoch as an RFC 2822 date in UTC, the format apt wants in `Date:`.
fn rfc2822_utc(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // civil-from-days (Howard Hinnant), for days since 1970-01-01
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} UTC",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn every_catalogue_package_has_sources() {
        for pv in catalog::all_versions() {
            let control = Path::new(pv.name).join("DEBIAN/control");
            let text = SOURCES
                .get_file(&control)
                .and_then(|f| f.contents_utf8())
                .expect("control file");
            assert!(
                text.contains(&format!("Package: {}\n", pv.name)),
                "{}",
                control.display()
            );
            assert!(
                text.contains("Version: @VERSION@\n"),
                "{}",
                control.display()
            );
        }
        for version in ["2.0", "2.0.1"] {
            assert!(
                SOURCES
                    .get_dir(Path::new("libacme/versions").join(version))
                    .is_some()
            );
        }
    }

    #[test]
    fn scripts_are_executable() {
        assert_eq!(file_mode(Path::new("postinst"), b"#!/bin/sh"), 0o755);
        assert_eq!(
            file_mode(Path::new("usr/sbin/acme-web"), b"#!/usr/bin/python3"),
            0o755
        );
        assert_eq!(file_mode(Path::new("control"), b"Package: x"), 0o644);
    }

    #[test]
    fn release_dates_are_rfc2822() {
        assert_eq!(rfc2822_utc(0), "Thu, 01 Jan 1970 00:00:00 UTC");
        assert_eq!(rfc2822_utc(1_795_000_000), "Wed, 18 Nov 2026 11:06:40 UTC");
        assert_eq!(rfc2822_utc(951_782_400), "Tue, 29 Feb 2000 00:00:00 UTC");
    }

    #[test]
    fn release_lists_index_files() {
        let sums = "abc  Packages\ndef  Packages.gz\n";
        let release = release_file("D", sums, &[("Packages", 10), ("Packages.gz", 5)]);
        assert!(release.contains("Date: D\n"));
        assert!(
            release.ends_with("SHA256:\n abc 10 Packages\n def 5 Packages.gz\n"),
            "{release}"
        );
    }
}
