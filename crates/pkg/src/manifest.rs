//! Manifests: the exact `name=version` set a change applies to hosts.
//!
//! Names and versions end up as arguments of package-manager commands, so a manifest is
//! validated as a whole before anything runs: a name is what dpkg or rpm accept as a
//! package name (never starting with `-`, no whitespace, no shell metacharacters), a
//! version is one [`crate::version`] parses for dpkg or rpm, and a package appears once.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::version::{Kind, Version};

/// Longest package name accepted, in bytes.
pub const MAX_NAME: usize = 128;

/// One exact pin: `name[:arch]=version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// Package name.
    pub name: String,
    /// Architecture, when the manifest names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Exact version.
    pub version: String,
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arch {
            Some(arch) => write!(f, "{}:{}={}", self.name, arch, self.version),
            None => write!(f, "{}={}", self.name, self.version),
        }
    }
}

/// A validated list of pins, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The pins.
    pub pins: Vec<Pin>,
}

/// What is wrong with a manifest, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {reason}")]
pub struct ManifestError {
    /// The file (or `--package`) the entry came from.
    pub origin: String,
    /// 1-based line (or argument position).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl Manifest {
    /// Parse manifest text: one `name[:arch]=version` per line; blank lines and `#`
    /// comments are ignored. `origin` names the source in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Self, ManifestError> {
        Self::from_entries(
            origin,
            text.lines().enumerate().filter_map(|(i, line)| {
                let line = line.split_once('#').map_or(line, |(l, _)| l).trim();
                (!line.is_empty()).then_some((i + 1, line))
            }),
        )
    }

    /// Build from entries `(position, "name=version")`, validated as [`Manifest::parse`] does.
    pub fn from_entries<'a>(
        origin: &str,
        entries: impl IntoIterator<Item = (usize, &'a str)>,
    ) -> Result<Self, ManifestError> {
        let mut pins = Vec::new();
        let mut seen = BTreeSet::new();
        for (line, entry) in entries {
            let err = |reason: String| ManifestError {
                origin: origin.to_owned(),
                line,
                reason,
            };
            let pin = parse_pin(entry).map_err(err)?;
            if !seen.insert((pin.name.clone(), pin.arch.clone())) {
                return Err(err(format!("`{}` appears more than once", pin.name)));
            }
            pins.push(pin);
        }
        if pins.is_empty() {
            return Err(ManifestError {
                origin: origin.to_owned(),
                line: 0,
                reason: "the manifest is empty: expected `name=version` lines".into(),
            });
        }
        pins.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.arch.cmp(&b.arch)));
        Ok(Self { pins })
    }

    /// The pins whose version is not valid for `kind` (a manifest is checked against both
    /// rule sets at parse time; a host checks it against its own before applying).
    pub fn invalid_for(&self, kind: Kind) -> Vec<String> {
        self.pins
            .iter()
            .filter_map(|p| {
                Version::parse(kind, &p.version)
                    .err()
                    .map(|e| format!("{p}: {e}"))
            })
            .collect()
    }

    /// The manifest as text, one pin per line.
    pub fn to_text(&self) -> String {
        self.pins.iter().map(|p| format!("{p}\n")).collect()
    }
}

fn parse_pin(entry: &str) -> Result<Pin, String> {
    let shown = shown(entry);
    let Some((name, version)) = entry.split_once('=') else {
        return Err(format!(
            "expected `name=version`, found {shown:?} (a manifest pins exact versions)"
        ));
    };
    let (name, arch) = match name.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (name, None),
    };
    validate_name(name)?;
    if let Some(arch) = arch
        && (arch.is_empty()
            || arch.len() > 32
            || !arch
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
    {
        return Err(format!("invalid architecture {arch:?} in {shown:?}"));
    }
    let deb = Version::parse(Kind::Deb, version);
    let rpm = Version::parse(Kind::Rpm, version);
    if let (Err(deb), Err(_)) = (&deb, &rpm) {
        return Err(format!("package `{name}`: {deb}"));
    }
    Ok(Pin {
        name: name.to_owned(),
        arch: arch.map(str::to_owned),
        version: version.to_owned(),
    })
}

/// Check a package name: ASCII letters, digits and `.+_-`, starting with a letter or
/// digit, at most [`MAX_NAME`] bytes — what dpkg and rpm accept, and nothing a shell or an
/// option parser would read differently.
pub fn validate_name(name: &str) -> Result<(), String> {
    let shown = shown(name);
    if name.is_empty() {
        return Err("empty package name".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "package name {shown:?} is longer than {MAX_NAME} bytes"
        ));
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(format!(
            "invalid package name {shown:?}: it must start with a letter or a digit"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '_' | '-')))
    {
        return Err(format!(
            "invalid package name {shown:?}: {c:?} is not allowed (letters, digits and . + _ - only)"
        ));
    }
    Ok(())
}

fn shown(s: &str) -> String {
    const SHOWN: usize = 64;
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pins_comments_and_architectures() {
        let m = Manifest::parse(
            "m.txt",
            "# batch\nlibacme=2.0\n\n acme-api=1.1  # the api\nlibc6:amd64=2.36-9+deb12u4\n",
        )
        .expect("valid");
        assert_eq!(m.pins.len(), 3);
        assert_eq!(m.pins[0].name, "acme-api");
        assert_eq!(m.pins[2].arch.as_deref(), Some("amd64"));
        assert_eq!(
            m.to_text(),
            "acme-api=1.1\nlibacme=2.0\nlibc6:amd64=2.36-9+deb12u4\n"
        );
    }

    #[test]
    fn rejects_hostile_names_and_versions_with_the_line() {
        for (text, needle) in [
            ("ok=1\nfoo;rm -rf /=1\n", ":2: invalid package name"),
            ("-oAPT::Get::Assume-Yes=true=1", "must start with a letter"),
            ("acme=1.0 && reboot", "invalid deb version"),
            ("acme=$(id)", "invalid deb version"),
            ("acme=`id`", "invalid deb version"),
            ("acme", "expected `name=version`"),
            ("acme=", "invalid deb version"),
            ("acme=1\nacme=2", "more than once"),
            ("acme:AMD64=1", "invalid architecture"),
            ("acmé=1", "is not allowed"),
            ("# nothing\n", "empty"),
        ] {
            let e = Manifest::parse("m.txt", text).expect_err(text).to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(e.starts_with("m.txt:"), "{e}");
        }
        let long = format!("{}=1", "a".repeat(MAX_NAME + 1));
        assert!(Manifest::parse("m", &long).is_err());
    }

    #[test]
    fn a_version_valid_for_one_tool_only_is_reported_for_the_other() {
        // `^` is rpm's, not dpkg's.
        let m = Manifest::parse("m", "acme=1.0^git1").expect("valid for rpm");
        assert!(m.invalid_for(Kind::Rpm).is_empty());
        assert_eq!(m.invalid_for(Kind::Deb).len(), 1);
    }
}
