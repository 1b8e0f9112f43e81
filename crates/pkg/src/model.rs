//! The values package state is made of: which manager a host has, what is installed, what is
//! pending, and the difference between two package sets.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::version::{self, Kind};

/// The package manager of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// apt over dpkg (Debian, Ubuntu).
    Apt,
    /// dnf over rpm (Fedora, RHEL 8+, Amazon Linux 2023).
    Dnf,
    /// `yum` where `yum` is dnf (RHEL 8+ keeps the name); driven exactly like dnf.
    Yum,
}

impl Manager {
    /// Every manager, for messages.
    pub const ALL: [Self; 3] = [Self::Apt, Self::Dnf, Self::Yum];

    /// The version rules of its packages.
    pub fn kind(self) -> Kind {
        match self {
            Self::Apt => Kind::Deb,
            Self::Dnf | Self::Yum => Kind::Rpm,
        }
    }

    /// Its name, as in config and output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Apt => "apt",
            Self::Dnf => "dnf",
            Self::Yum => "yum",
        }
    }

    /// The program that drives it.
    pub(crate) fn program(self) -> &'static str {
        self.name()
    }
}

impl fmt::Display for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Manager {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown package manager `{s}`; expected apt, dnf or yum"))
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// Package name (`libacme`).
    pub name: String,
    /// Architecture (`amd64`, `all`, `noarch`, `x86_64`).
    pub arch: String,
    /// Exact version as the manager prints it (`1:2.36-9+deb12u4`, `0:1.0-1`).
    pub version: String,
    /// Installed on purpose (apt `manual`, dnf "user installed") rather than as a dependency.
    pub manual: bool,
}

impl Installed {
    /// `name:arch`, the key packages are matched by.
    pub fn key(&self) -> String {
        format!("{}:{}", self.name, self.arch)
    }
}

/// What one installed package needs and offers, and whether it is fully installed: what
/// a role is made of (`fearless rehearse` keeps the packages nothing else needs, and
/// leaves the base system and dependencies to the new OS's package manager).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relations {
    /// Package name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Exact version, as [`Installed::version`].
    pub version: String,
    /// Unpacked and configured (dpkg `ii`); a package whose maintainer script failed is
    /// installed but not configured (`iF`, `iU`). rpm has no such state: always true.
    pub configured: bool,
    /// The Debian priority (`required`, `important`, `standard`, `optional`); `None` on rpm.
    pub priority: Option<String>,
    /// dpkg's `Essential: yes`.
    pub essential: bool,
    /// The names it depends on (`Pre-Depends` and `Depends`, every alternative, without
    /// versions or architecture qualifiers; rpm: the `Requires` that are names, not files,
    /// libraries or rpmlib features).
    pub depends: Vec<String>,
    /// The names it provides besides its own.
    pub provides: Vec<String>,
}

impl Relations {
    /// Part of the base system (Debian `required`/`important` priority, or essential):
    /// every install of the release has it, in that release's own version.
    pub fn is_base(&self) -> bool {
        self.essential || matches!(self.priority.as_deref(), Some("required" | "important"))
    }
}

/// An installed (or offered) binary package and the source package it was built from:
/// what vulnerability feeds name (Debian, Ubuntu, AlmaLinux and Rocky advisories are about
/// source packages, and one source builds several binaries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Built {
    /// Binary package name (`libssl3`).
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// The binary's version as the manager prints it.
    pub version: String,
    /// Source package name (`openssl`): dpkg's `${source:Package}`, rpm's `%{SOURCERPM}`
    /// without its version; the binary's own name when the tool names no source.
    pub source: String,
    /// Source version: dpkg's `${source:Version}` (differs from the binary's after a
    /// binNMU, `+b1`), or the source RPM's version-release with the binary's epoch.
    pub source_version: String,
}

/// The exact package set of a host: sorted by name then architecture, so that two sets
/// that are equal serialise to the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageSet {
    /// The manager that reported it.
    pub manager: Manager,
    /// The packages, sorted.
    pub packages: Vec<Installed>,
}

impl PackageSet {
    /// A set from packages in any order.
    pub fn new(manager: Manager, mut packages: Vec<Installed>) -> Self {
        packages.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.arch.cmp(&b.arch)));
        packages.dedup_by(|a, b| a.name == b.name && a.arch == b.arch);
        Self { manager, packages }
    }

    /// The packages by `name:arch`.
    pub fn by_key(&self) -> BTreeMap<String, &Installed> {
        self.packages.iter().map(|p| (p.key(), p)).collect()
    }

    /// The canonical serialisation: equal sets give equal bytes.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One update a host would take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Package name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Installed version; `None` for a package the update would newly install.
    pub from: Option<String>,
    /// Version it would go to; `None` for a package the update would remove.
    pub to: Option<String>,
    /// Where it comes from: apt's `origin:archive`, dnf's repository id.
    pub origin: String,
    /// The distribution marks it a security update.
    pub security: bool,
}

/// How one package differs between two sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// Package name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Version in the first set (`None`: added).
    pub from: Option<String>,
    /// Version in the second set (`None`: removed).
    pub to: Option<String>,
}

/// The difference from one package set to another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// In the second set only.
    pub added: Vec<Delta>,
    /// In the first set only.
    pub removed: Vec<Delta>,
    /// Newer in the second set.
    pub upgraded: Vec<Delta>,
    /// Older in the second set.
    pub downgraded: Vec<Delta>,
    /// Same version, but installed on purpose in one set and as a dependency in the other.
    pub marks: Vec<MarkChange>,
}

/// A package whose manual/auto mark differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkChange {
    /// Package name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Manual in the second set.
    pub manual: bool,
}

impl Diff {
    /// From `a` to `b`, versions ordered by `kind`'s rules.
    pub fn between(kind: Kind, a: &[Installed], b: &[Installed]) -> Self {
        let a: BTreeMap<String, &Installed> = a.iter().map(|p| (p.key(), p)).collect();
        let b: BTreeMap<String, &Installed> = b.iter().map(|p| (p.key(), p)).collect();
        let mut diff = Diff::default();
        for (key, old) in &a {
            let Some(new) = b.get(key) else {
                diff.removed.push(delta(old, Some(&old.version), None));
                continue;
            };
            if old.version != new.version {
                let order = version::compare(kind, &old.version, &new.version)
                    .unwrap_or_else(|_| old.version.cmp(&new.version));
                let d = delta(old, Some(&old.version), Some(&new.version));
                match order {
                    Ordering::Less => diff.upgraded.push(d),
                    Ordering::Greater => diff.downgraded.push(d),
                    // The same version to the tool, written differently (`1.0` / `1.00`).
                    Ordering::Equal => {}
                }
            }
            if old.manual != new.manual {
                diff.marks.push(MarkChange {
                    name: new.name.clone(),
                    arch: new.arch.clone(),
                    manual: new.manual,
                });
            }
        }
        for (key, new) in &b {
            if !a.contains_key(key) {
                diff.added.push(delta(new, None, Some(&new.version)));
            }
        }
        diff
    }

    /// Nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.upgraded.is_empty()
            && self.downgraded.is_empty()
            && self.marks.is_empty()
    }

    /// Number of packages whose presence or version differs (marks not counted).
    pub fn changed(&self) -> usize {
        self.added.len() + self.removed.len() + self.upgraded.len() + self.downgraded.len()
    }
}

fn delta(p: &Installed, from: Option<&str>, to: Option<&str>) -> Delta {
    Delta {
        name: p.name.clone(),
        arch: p.arch.clone(),
        from: from.map(str::to_owned),
        to: to.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, version: &str, manual: bool) -> Installed {
        Installed {
            name: name.into(),
            arch: "all".into(),
            version: version.into(),
            manual,
        }
    }

    #[test]
    fn diff_sorts_changes_by_kind_and_version_order() {
        let a = [
            p("gone", "1", true),
            p("up", "1.0", true),
            p("down", "1.0~rc1", true),
            p("same", "1.0", false),
            p("mark", "1", false),
        ];
        let b = [
            p("new", "2", false),
            p("up", "1.0+b1", true),
            p("down", "1.0~beta", true),
            p("same", "1.00", false),
            p("mark", "1", true),
        ];
        let d = Diff::between(Kind::Deb, &a, &b);
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].name, "new");
        assert_eq!(d.removed[0].name, "gone");
        assert_eq!(d.upgraded[0].name, "up");
        assert_eq!(d.downgraded[0].name, "down");
        assert_eq!(d.marks.len(), 1);
        assert!(d.marks[0].manual);
        assert_eq!(d.changed(), 4);
        assert!(Diff::between(Kind::Deb, &a, &a).is_empty());
    }

    #[test]
    fn equal_sets_serialise_identically_whatever_the_input_order() {
        let one = PackageSet::new(Manager::Apt, vec![p("b", "1", true), p("a", "1", false)]);
        let two = PackageSet::new(Manager::Apt, vec![p("a", "1", false), p("b", "1", true)]);
        assert_eq!(one.canonical(), two.canonical());
        assert_eq!(one.packages[0].name, "a");
    }

    #[test]
    fn managers_parse_by_name() {
        for m in Manager::ALL {
            assert_eq!(m.name().parse::<Manager>(), Ok(m));
        }
        assert!("zypper".parse::<Manager>().is_err());
    }
}
