//! What the feeds say, once read: [`Advisory`]s whose [`Affected`] entries are scoped to one
//! release of one distribution ([`Scope`]) and one package (by source or binary name,
//! [`By`]), with the rule that says which installed versions are affected ([`Rule`]).
//! Versions are parsed once, by the family's own rules, when the feed is read.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use fearless_pkg::version::{Kind, Version};
use serde::Serialize;

/// One release of one distribution, and its package family: what an advisory entry is
/// about and what a host runs. `product` and `cycle` are named as `fearless os` names them
/// (`debian 12`, `ubuntu 22.04`, `almalinux 9`, `rocky-linux 9`, `amazon-linux 2023`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Scope {
    /// `debian`, `ubuntu`, `almalinux`, `rocky-linux`, `amazon-linux`.
    pub product: String,
    /// `12`, `22.04`, `9`, `2`, `2023`.
    pub cycle: String,
}

impl Scope {
    /// A scope.
    pub fn new(product: &str, cycle: &str) -> Self {
        Self {
            product: product.to_owned(),
            cycle: cycle.to_owned(),
        }
    }

    /// The package family of the product: dpkg for Debian and Ubuntu, rpm for the rest.
    pub fn kind(&self) -> Kind {
        match self.product.as_str() {
            "debian" | "ubuntu" => Kind::Deb,
            _ => Kind::Rpm,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.product, self.cycle)
    }
}

/// Which name of an installed package an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// The source package (OSV's Linux ecosystems, Debian's tracker): every binary built
    /// from it is affected.
    Source,
    /// The binary package (ALAS lists the binary RPMs an update fixes).
    Binary,
}

/// Where an advisory's Debian-tracker entry stands, and what fearless does with it (the
/// policy, `README.md` § `fearless vulns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// A fixed version exists and the host lacks it: reported, exit 1.
    Fixable,
    /// Affected and no fixed version yet (tracker `open`, an OSV range without `fixed`):
    /// reported, exit 1.
    Open,
    /// Debian will not issue an advisory for it (`no-dsa`, a minor issue; maybe fixed in a
    /// point release): deferred.
    NoDsa,
    /// `no-dsa`, postponed to a later update: deferred.
    Postponed,
    /// `no-dsa`, ignored (Debian will not fix it in this release): deferred.
    Ignored,
    /// The package is no longer supported in this release (`end-of-life`): deferred.
    EndOfLife,
    /// Debian rates it `unimportant` (no security impact as Debian builds it): counted,
    /// never listed.
    Unimportant,
}

impl Status {
    /// Listed only with `--deferred`, and only then counted for the exit code.
    pub fn deferred(self) -> bool {
        matches!(
            self,
            Self::NoDsa | Self::Postponed | Self::Ignored | Self::EndOfLife
        )
    }

    /// Its name in output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fixable => "fixable",
            Self::Open => "open",
            Self::NoDsa => "no-dsa",
            Self::Postponed => "postponed",
            Self::Ignored => "ignored",
            Self::EndOfLife => "end-of-life",
            Self::Unimportant => "unimportant",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A version bound of an OSV range: `0` (every version) or a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// `introduced: "0"`: from the very first version.
    Zero,
    /// A version.
    At(Version),
}

/// One event of an OSV `ECOSYSTEM` range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Affected from this version on.
    Introduced(Bound),
    /// Not affected from this version on: the fix.
    Fixed(Version),
    /// Affected up to and including this version, not after (no fix known).
    LastAffected(Version),
    /// Nothing at or above this version is affected by the range.
    Limit(Version),
}

impl Event {
    fn version(&self) -> Option<&Version> {
        match self {
            Event::Introduced(Bound::Zero) => None,
            Event::Introduced(Bound::At(v))
            | Event::Fixed(v)
            | Event::LastAffected(v)
            | Event::Limit(v) => Some(v),
        }
    }
}

/// Which installed versions an entry affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// OSV: `ECOSYSTEM` ranges (each sorted by version) and explicit affected versions
    /// (sorted); affected when any range or the list says so.
    Ranges {
        /// The ranges' events, each range sorted.
        ranges: Vec<Vec<Event>>,
        /// Explicitly affected versions, sorted.
        versions: Vec<Version>,
    },
    /// Affected below this version (tracker `resolved`, ALAS).
    FixedIn(Version),
    /// Every installed version is affected, no fix yet (tracker `open`); the status says
    /// how Debian treats it.
    Unfixed,
}

/// One package of one release an advisory is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    /// The release.
    pub scope: Scope,
    /// Source or binary name.
    pub by: By,
    /// The package name (shared with every finding of it).
    pub package: Arc<str>,
    /// Which versions.
    pub rule: Rule,
    /// How the feed rates it when it is not simply fixable or open (tracker no-dsa,
    /// postponed, unimportant, …): applies to whatever the rule finds.
    pub status: Option<Status>,
}

/// One advisory: an OSV record, a tracker issue of one source package, an ALAS update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    /// `DSA-5678-1`, `DEBIAN-CVE-2024-1`, `CVE-2024-1` (tracker), `ALAS2-2024-2500`.
    /// (Its strings are shared with every finding of it: a fleet has many.)
    pub id: Arc<str>,
    /// Other names: OSV `aliases` and `upstream`, ALAS's CVE references.
    pub aliases: Arc<[String]>,
    /// One line about it.
    pub summary: Option<Arc<str>>,
    /// The feed's rating (tracker urgency, ALAS severity, OSV `ecosystem_specific.urgency`).
    pub severity: Option<Arc<str>>,
    /// Index of the feed source it came from ([`Feed::sources`]).
    pub source: usize,
    /// The packages and releases it affects.
    pub affected: Vec<Affected>,
}

impl Advisory {
    /// Whether `name` is this advisory's id or one of its aliases (case-insensitive).
    pub fn named(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// The format of a feed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// OSV JSON records.
    Osv,
    /// Debian's security-tracker JSON.
    DebianTracker,
    /// A yum `updateinfo.xml` (Amazon Linux ALAS).
    Updateinfo,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Osv => "OSV",
            Format::DebianTracker => "Debian security tracker",
            Format::Updateinfo => "updateinfo (ALAS)",
        })
    }
}

/// One `--feed` path as read: what it held and what of it cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedSource {
    /// The path as given.
    pub path: String,
    /// The formats found in it (a directory or zip may hold several files).
    pub formats: Vec<Format>,
    /// Files read (1 for a file; the members of a zip, the files of a directory).
    pub files: usize,
    /// Records read (OSV records, tracker issues per package, ALAS updates).
    pub records: usize,
    /// Entries that can be matched, per release (`debian 12`).
    pub scopes: BTreeMap<String, usize>,
    /// Entries or records that cannot be matched, per reason (`ecosystem npm`,
    /// `Debian without a release`, `withdrawn`): counted and said, never an error.
    pub unmatched: BTreeMap<String, usize>,
}

impl FeedSource {
    pub(crate) fn new(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            formats: Vec::new(),
            files: 0,
            records: 0,
            scopes: BTreeMap::new(),
            unmatched: BTreeMap::new(),
        }
    }

    pub(crate) fn format(&mut self, f: Format) {
        if !self.formats.contains(&f) {
            self.formats.push(f);
        }
    }

    /// Add what another reader of the same path counted.
    pub(crate) fn merge(&mut self, other: FeedSource) {
        for f in other.formats {
            self.format(f);
        }
        self.files += other.files;
        self.records += other.records;
        for (k, v) in other.scopes {
            *self.scopes.entry(k).or_default() += v;
        }
        for (k, v) in other.unmatched {
            *self.unmatched.entry(k).or_default() += v;
        }
    }

    pub(crate) fn unmatched(&mut self, reason: impl Into<String>) {
        *self.unmatched.entry(reason.into()).or_default() += 1;
    }
}

/// Every advisory of every `--feed`, and what each path held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    /// The advisories, in the order read.
    pub advisories: Vec<Advisory>,
    /// One per `--feed` path.
    pub sources: Vec<FeedSource>,
}

impl Feed {
    /// Whether some advisory is named `name` (id or alias).
    pub fn knows(&self, name: &str) -> bool {
        self.advisories.iter().any(|a| a.named(name))
    }
}

/// Compare two versions of the same family.
pub(crate) fn cmp(a: &Version, b: &Version) -> Ordering {
    match (a, b) {
        (Version::Deb(x), Version::Deb(y)) => x.cmp(y),
        (Version::Rpm(x), Version::Rpm(y)) => x.cmp(y),
        // Never built: a scope has one family. Order the families to stay total.
        (Version::Deb(_), Version::Rpm(_)) => Ordering::Less,
        (Version::Rpm(_), Version::Deb(_)) => Ordering::Greater,
    }
}

/// Sort a range's events by version, `introduced: 0` first (the OSV evaluation order).
pub(crate) fn sort_events(events: &mut [Event]) {
    events.sort_by(|a, b| match (a.version(), b.version()) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp(x, y),
    });
}

/// Parse `text` as a version of `kind`.
pub(crate) fn version(kind: Kind, text: &str) -> Result<Version, String> {
    Version::parse(kind, text.trim()).map_err(|e| e.to_string())
}
