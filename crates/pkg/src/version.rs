//! Package versions ordered exactly as dpkg and rpm order them.
//!
//! [`DebVersion`] is `[epoch:]upstream[-revision]` as dpkg parses it, ordered by dpkg's
//! `verrevcmp`; [`RpmVersion`] is `[epoch:]version[-release]` as rpm parses it, ordered by
//! rpm's `rpmverCmp` over `rpmvercmp`. Both orderings are ports of the C functions (dpkg
//! `lib/dpkg/version.c`, rpm 4.18 `rpmio/rpmvercmp.c` and `rpmio/rpmver.c`) and are
//! property-tested against the installed `dpkg` and `rpm`.
//!
//! The parsers are stricter than the tools: a version fearless accepts is one dpkg (or rpm)
//! accepts without a warning, and nothing else. Versions arrive from hosts and from user
//! manifests and end up as arguments of package-manager commands, so whitespace, shell
//! metacharacters, non-ASCII text and absurd lengths are rejected here, before anything runs.
//!
//! Equality is the tools' equality, not string equality: `1.0` and `1.00` are the same
//! version to dpkg, `1.001` and `1.1` the same to rpm. The original text is kept for display.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Longest version accepted, in bytes. Real versions stay far below; the bound keeps
/// hostile input out of error messages and command lines.
pub const MAX_LEN: usize = 256;

/// Largest epoch accepted: dpkg rejects epochs above `INT_MAX`, and rpm stores the epoch
/// as a 32-bit integer tag, so the same bound serves both.
pub const MAX_EPOCH: u32 = i32::MAX as u32;

/// Which package manager's rules a version follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// dpkg / apt (Debian, Ubuntu).
    Deb,
    /// rpm / dnf / yum (Fedora, RHEL and derivatives, SUSE).
    Rpm,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Deb => "deb",
            Kind::Rpm => "rpm",
        })
    }
}

/// A version that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} version {shown:?}: {reason}")]
pub struct VersionError {
    kind: Kind,
    shown: String,
    reason: Reason,
}

impl VersionError {
    fn new(kind: Kind, text: &str, reason: Reason) -> Self {
        // Enough to recognise the version, never a megabyte of hostile input in a log line.
        const SHOWN: usize = 64;
        let shown = match text.char_indices().nth(SHOWN) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        };
        VersionError {
            kind,
            shown,
            reason,
        }
    }

    /// Whose rules the version was parsed by.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Why the version was rejected.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }
}

/// Why a version was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// Nothing at all.
    #[error("it is empty")]
    Empty,
    /// Longer than [`MAX_LEN`].
    #[error("it is {0} bytes long, more than the {MAX_LEN} allowed")]
    TooLong(usize),
    /// The text before the first `:` is not a decimal number.
    #[error("the epoch before ':' is not a number")]
    EpochNotNumber,
    /// The epoch is above [`MAX_EPOCH`].
    #[error("the epoch is larger than {MAX_EPOCH}")]
    EpochTooBig,
    /// `1:`, `1:-2` or `-2`: nothing between the epoch and the revision or release.
    #[error("the {0} is empty")]
    EmptyVersion(&'static str),
    /// `1.0-`.
    #[error("the {0} after the last '-' is empty")]
    EmptyRevision(&'static str),
    /// dpkg policy: the upstream version starts with a digit.
    #[error("the upstream version must start with a digit")]
    NoLeadingDigit,
    /// A character the format does not allow in that part.
    #[error("{ch:?} is not allowed in the {part} (allowed: ASCII letters, digits and {allowed})")]
    BadChar {
        /// The offending character.
        ch: char,
        /// `upstream version`, `revision`, `version` or `release`.
        part: &'static str,
        /// The punctuation the part allows.
        allowed: &'static str,
    },
}

/// The pieces every `[epoch:]main[-suffix]` version splits into.
struct Split<'a> {
    epoch: Option<u32>,
    main: &'a str,
    suffix: Option<&'a str>,
    /// Byte offset of `main` in the whole text.
    main_start: usize,
}

/// Splits `[epoch:]main[-suffix]` the way both dpkg and rpm do: the epoch is everything
/// before the first `:`, the suffix everything after the last `-`.
fn split<'a>(
    kind: Kind,
    text: &'a str,
    main_name: &'static str,
    suffix_name: &'static str,
) -> Result<Split<'a>, VersionError> {
    let err = |reason| VersionError::new(kind, text, reason);
    if text.is_empty() {
        return Err(err(Reason::Empty));
    }
    if text.len() > MAX_LEN {
        return Err(err(Reason::TooLong(text.len())));
    }
    let (epoch, rest, main_start) = match text.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(Reason::EpochNotNumber));
            }
            // Leading zeros are fine: `01:` is epoch 1 for both tools.
            let epoch = match e.trim_start_matches('0') {
                "" => Some(0),
                digits => digits.parse::<u32>().ok().filter(|v| *v <= MAX_EPOCH),
            }
            .ok_or_else(|| err(Reason::EpochTooBig))?;
            (Some(epoch), rest, e.len() + 1)
        }
        None => (None, text, 0),
    };
    let (main, suffix) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err(err(Reason::EmptyRevision(suffix_name))),
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    if main.is_empty() {
        return Err(err(Reason::EmptyVersion(main_name)));
    }
    Ok(Split {
        epoch,
        main,
        suffix,
        main_start,
    })
}

fn check_chars(
    kind: Kind,
    text: &str,
    part_text: &str,
    part: &'static str,
    allowed: &'static str,
) -> Result<(), VersionError> {
    match part_text
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !allowed.contains(*c))
    {
        Some(ch) => Err(VersionError::new(
            kind,
            text,
            Reason::BadChar { ch, part, allowed },
        )),
        None => Ok(()),
    }
}

/// A Debian package version, `[epoch:]upstream[-revision]`, ordered exactly as dpkg orders it.
///
/// Parsing follows dpkg's `parseversion`: the epoch is the decimal number before the first
/// `:` (at most [`MAX_EPOCH`]), the revision is everything after the last `-`. Where dpkg
/// only warns, fearless rejects: the upstream version must start with a digit and use only
/// letters, digits and `. + ~ - :`, the revision only letters, digits and `. + ~` (Debian
/// Policy §5.6.12). dpkg's tolerance of surrounding blanks is not copied either: any
/// whitespace is an error. A missing epoch is `0` and a missing revision is the empty
/// string, exactly as dpkg treats them (so `1.0` equals `0:1.0` and `1.0-0`).
#[derive(Debug, Clone)]
pub struct DebVersion {
    text: String,
    epoch: u32,
    upstream: std::ops::Range<usize>,
    revision: Option<std::ops::Range<usize>>,
}

impl DebVersion {
    /// Parses a version; see the type's documentation for what is accepted.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        const KIND: Kind = Kind::Deb;
        let s = split(KIND, text, "upstream version", "revision")?;
        if !s.main.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return Err(VersionError::new(KIND, text, Reason::NoLeadingDigit));
        }
        check_chars(KIND, text, s.main, "upstream version", ".+~-:")?;
        if let Some(rev) = s.suffix {
            check_chars(KIND, text, rev, "revision", ".+~")?;
        }
        let upstream_end = s.main_start + s.main.len();
        Ok(DebVersion {
            text: text.to_owned(),
            epoch: s.epoch.unwrap_or(0),
            upstream: s.main_start..upstream_end,
            revision: s.suffix.map(|_| upstream_end + 1..text.len()),
        })
    }

    /// The epoch; `0` when the version has none.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream version: between the epoch and the last `-`.
    pub fn upstream(&self) -> &str {
        &self.text[self.upstream.clone()]
    }

    /// The Debian revision, after the last `-`, if there is one.
    pub fn revision(&self) -> Option<&str> {
        self.revision.clone().map(|r| &self.text[r])
    }

    /// The version as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Ord for DebVersion {
    /// dpkg's `dpkg_version_compare`: epoch numerically, then upstream and revision with
    /// `verrevcmp` (a missing revision compares as the empty string).
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream(), other.upstream()))
            .then_with(|| {
                verrevcmp(
                    self.revision().unwrap_or(""),
                    other.revision().unwrap_or(""),
                )
            })
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

impl FromStr for DebVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// dpkg's `order()`: the weight of one character in a non-digit run. The end of the string
/// and digits weigh 0, `~` weighs less than both, letters weigh their code, and every other
/// character weighs more than any letter.
fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`, the comparison of two upstream versions or two revisions.
///
/// The strings are walked as alternating non-digit and digit runs. Non-digit runs compare
/// character by character with dpkg's `order()` weights (`~` sorts before everything, even
/// the end of the string); digit runs compare numerically, as digit strings without leading
/// zeros, so no length overflows. Defined for any input; bytes outside ASCII weigh as
/// "other" characters.
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = |s: &[u8], i: usize| s.get(i).copied();
    let digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    let non_digit = |c: Option<u8>| c.is_some_and(|c| !c.is_ascii_digit());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while non_digit(at(a, i)) || non_digit(at(b, j)) {
            let (ac, bc) = (dpkg_order(at(a, i)), dpkg_order(at(b, j)));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == Some(b'0') {
            i += 1;
        }
        while at(b, j) == Some(b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(at(a, i)) && digit(at(b, j)) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(at(a, i)) {
            return Ordering::Greater;
        }
        if digit(at(b, j)) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// An RPM version, `[epoch:]version[-release]`, ordered exactly as rpm orders it.
///
/// Parsing follows rpm's `parseEVR`: the epoch is the decimal number before the first `:`
/// (at most [`MAX_EPOCH`]), the release is everything after the last `-`. Version and
/// release use only letters, digits and `. _ + ~ ^` (what rpmbuild accepts in those tags);
/// anything else, including whitespace, is rejected.
///
/// The ordering is rpm 4.18's `rpmverCmp` (what `rpm.vercmp` and `rpmdev-vercmp` report): a
/// missing epoch is `0`, and a missing release sorts *before* any release, so `1.0` <
/// `1.0-1`. That is a total order, fit for sorting. The other rpm rule — a dependency
/// `foo >= 1.0` ignores the release of the candidate because the dependency names none — is
/// [`RpmVersion::cmp_dependency`], and it is what [`Constraint`] uses.
#[derive(Debug, Clone)]
pub struct RpmVersion {
    text: String,
    epoch: Option<u32>,
    version: std::ops::Range<usize>,
    release: Option<std::ops::Range<usize>>,
}

impl RpmVersion {
    /// Parses a version; see the type's documentation for what is accepted.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        const KIND: Kind = Kind::Rpm;
        const ALLOWED: &str = "._+~^";
        let s = split(KIND, text, "version", "release")?;
        check_chars(KIND, text, s.main, "version", ALLOWED)?;
        if let Some(rel) = s.suffix {
            check_chars(KIND, text, rel, "release", ALLOWED)?;
        }
        let version_end = s.main_start + s.main.len();
        Ok(RpmVersion {
            text: text.to_owned(),
            epoch: s.epoch,
            version: s.main_start..version_end,
            release: s.suffix.map(|_| version_end + 1..text.len()),
        })
    }

    /// The epoch, if the version names one (rpm compares a missing epoch as `0`).
    pub fn epoch(&self) -> Option<u32> {
        self.epoch
    }

    /// The version: between the epoch and the last `-`.
    pub fn version(&self) -> &str {
        &self.text[self.version.clone()]
    }

    /// The release, after the last `-`, if there is one.
    pub fn release(&self) -> Option<&str> {
        self.release.clone().map(|r| &self.text[r])
    }

    /// The version as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn cmp_epoch_version(&self, other: &Self) -> Ordering {
        // rpm compares epochs with rpmvercmp on their digits; for decimal numbers that is
        // the numeric order.
        self.epoch
            .unwrap_or(0)
            .cmp(&other.epoch.unwrap_or(0))
            .then_with(|| rpmvercmp(self.version(), other.version()))
    }

    /// rpm's dependency comparison (`rpmverOverlap`): like [`Ord`], except that releases
    /// are compared only when both sides have one, so `1.0` and `1.0-3` are equal here.
    ///
    /// This is not a total order (`1.0-1` and `1.0-2` are both equal to `1.0`), so it is
    /// not the type's `Ord`; it is how rpm and dnf decide whether `foo >= 1.0` is met.
    pub fn cmp_dependency(&self, other: &Self) -> Ordering {
        self.cmp_epoch_version(other)
            .then_with(|| match (self.release(), other.release()) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                _ => Ordering::Equal,
            })
    }
}

impl Ord for RpmVersion {
    /// rpm's `rpmverCmp`: epoch, then version with `rpmvercmp`, then release with
    /// `rpmvercmp`, a missing release sorting before any release.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_epoch_version(other)
            .then_with(|| match (self.release(), other.release()) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            })
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RpmVersion {}

impl FromStr for RpmVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for RpmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// rpm's `rpmvercmp`, the comparison of two version or two release strings.
///
/// The strings are split into segments: maximal runs of digits or of letters; every other
/// character only separates segments (so `1.0` equals `1_0` and `1.0.`). Segment by segment:
/// `~` sorts before everything, even the end of the string; `^` sorts after the end but
/// before any segment; a numeric segment beats an alphabetic one; numeric segments compare
/// as numbers (digit strings without leading zeros, so no overflow), alphabetic ones
/// byte-wise. When one string runs out, the one with segments left is newer. Defined for any
/// input; only ASCII letters and digits form segments.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut one, mut two) = (0, 0);
    while one < a.len() || two < b.len() {
        while a.get(one).is_some_and(|&c| separator(c)) {
            one += 1;
        }
        while b.get(two).is_some_and(|&c| separator(c)) {
            two += 1;
        }
        let (c1, c2) = (a.get(one).copied(), b.get(two).copied());

        if c1 == Some(b'~') || c2 == Some(b'~') {
            if c1 != Some(b'~') {
                return Ordering::Greater;
            }
            if c2 != Some(b'~') {
                return Ordering::Less;
            }
            one += 1;
            two += 1;
            continue;
        }
        // Like `~`, except that a string that has ended is older than one with a caret.
        if c1 == Some(b'^') || c2 == Some(b'^') {
            if c1.is_none() {
                return Ordering::Less;
            }
            if c2.is_none() {
                return Ordering::Greater;
            }
            if c1 != Some(b'^') {
                return Ordering::Greater;
            }
            if c2 != Some(b'^') {
                return Ordering::Less;
            }
            one += 1;
            two += 1;
            continue;
        }
        let (Some(c1), Some(_)) = (c1, c2) else { break };

        let numeric = c1.is_ascii_digit();
        let in_segment = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let end1 = one + a[one..].iter().take_while(|c| in_segment(c)).count();
        let end2 = two + b[two..].iter().take_while(|c| in_segment(c)).count();
        // `a` has a segment here (c1 is alphanumeric); if `b`'s is of the other type, the
        // numeric one is newer.
        if end2 == two {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut s1, mut s2) = (&a[one..end1], &b[two..end2]);
        if numeric {
            while let [b'0', rest @ ..] = s1 {
                s1 = rest;
            }
            while let [b'0', rest @ ..] = s2 {
                s2 = rest;
            }
            match s1.len().cmp(&s2.len()) {
                Ordering::Equal => {}
                longer => return longer,
            }
        }
        match s1.cmp(s2) {
            Ordering::Equal => {}
            decided => return decided,
        }
        one = end1;
        two = end2;
    }
    (one < a.len()).cmp(&(two < b.len()))
}

/// A parsed version of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// A dpkg version.
    Deb(DebVersion),
    /// An rpm version.
    Rpm(RpmVersion),
}

impl Version {
    /// Parses `text` by the rules of `kind`.
    pub fn parse(kind: Kind, text: &str) -> Result<Self, VersionError> {
        Ok(match kind {
            Kind::Deb => Version::Deb(DebVersion::parse(text)?),
            Kind::Rpm => Version::Rpm(RpmVersion::parse(text)?),
        })
    }

    /// Whose rules the version follows.
    pub fn kind(&self) -> Kind {
        match self {
            Version::Deb(_) => Kind::Deb,
            Version::Rpm(_) => Kind::Rpm,
        }
    }

    /// The version as it was written.
    pub fn as_str(&self) -> &str {
        match self {
            Version::Deb(v) => v.as_str(),
            Version::Rpm(v) => v.as_str(),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares two versions by the rules of `kind`: what `dpkg --compare-versions` or rpm's
/// `rpm.vercmp` would say. Fails if either does not parse.
pub fn compare(kind: Kind, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(match kind {
        Kind::Deb => DebVersion::parse(a)?.cmp(&DebVersion::parse(b)?),
        Kind::Rpm => RpmVersion::parse(a)?.cmp(&RpmVersion::parse(b)?),
    })
}

/// A comparison operator of a version constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Op {
    /// Whether `installed OP wanted` holds, given `installed.cmp(wanted)`.
    pub fn holds(self, installed_vs_wanted: Ordering) -> bool {
        use Ordering::{Equal, Greater, Less};
        match self {
            Op::Lt => installed_vs_wanted == Less,
            Op::Le => installed_vs_wanted != Greater,
            Op::Eq => installed_vs_wanted == Equal,
            Op::Ne => installed_vs_wanted != Equal,
            Op::Ge => installed_vs_wanted != Less,
            Op::Gt => installed_vs_wanted == Greater,
        }
    }

    /// The operator as written in constraints.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// One clause of a version constraint, such as `>= 1.1-2`, checked the way the package
/// manager itself would check it.
///
/// For dpkg that is plain [`DebVersion`] ordering (`= 1.0` means exactly revision-less
/// `1.0`, as in `dpkg --compare-versions`). For rpm it is the dependency rule: when the
/// constraint names no release, the installed release is ignored, so `= 1.0` is met by
/// `1.0-3` and `> 1.0` is not ([`RpmVersion::cmp_dependency`], as in `Requires:` and dnf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    op: Op,
    wanted: Version,
}

impl Constraint {
    /// A constraint `op wanted` for versions of `kind`; fails if `wanted` does not parse.
    pub fn new(kind: Kind, op: Op, wanted: &str) -> Result<Self, VersionError> {
        Ok(Constraint {
            op,
            wanted: Version::parse(kind, wanted)?,
        })
    }

    /// The operator.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The version the constraint compares against.
    pub fn wanted(&self) -> &Version {
        &self.wanted
    }

    /// Whether the `installed` version (parsed by the constraint's kind) meets it.
    pub fn matches(&self, installed: &str) -> Result<bool, VersionError> {
        let order = match &self.wanted {
            Version::Deb(w) => DebVersion::parse(installed)?.cmp(w),
            Version::Rpm(w) => RpmVersion::parse(installed)?.cmp_dependency(w),
        };
        Ok(self.op.holds(order))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.wanted)
    }
}

/// Whether `installed op wanted` holds for versions of `kind`; see [`Constraint`].
pub fn satisfies(kind: Kind, installed: &str, op: Op, wanted: &str) -> Result<bool, VersionError> {
    Constraint::new(kind, op, wanted)?.matches(installed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    fn deb(a: &str, b: &str) -> Ordering {
        compare(Kind::Deb, a, b).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rpm(a: &str, b: &str) -> Ordering {
        compare(Kind::Rpm, a, b).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn deb_orders_like_dpkg_test_suite() {
        // From dpkg's t-version.c and Debian Policy §5.6.12.
        let cases = [
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0-1", "1.0-1.1", Less),
            ("0.9~beta", "0.9", Less),
            ("0.9~~", "0.9~", Less),
            ("0.9~~a", "0.9~", Less),
            ("0.9~", "0.9", Less),
            ("0.9", "0.9a", Less),
            ("0.9a", "0.9+", Less),
            ("0.9+", "0.9.", Less),
            ("1.0", "1.00", Equal),
            ("1.0", "1.0-0", Equal),
            ("0:1.0", "1.0", Equal),
            ("00:1.0", "0:1.0", Equal),
            ("1.0-1", "1.0-2", Less),
            ("2.0-1", "10.0-1", Less),
            ("1.2.3", "1.2.3", Equal),
            ("1.2.3-1", "1.2.3-1~bpo1", Greater),
            ("1.2.3", "1.2.3-1", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0A", Greater),
            ("1.0-a", "1.0-b", Less),
            ("2:1.0", "10:0.1", Less),
            ("1:1.0-1", "1:1.0-1", Equal),
            ("1.0-1-1", "1.0-1-2", Less),
            ("1.0-1-1", "1.0-2", Greater),
            ("1:3.0:1", "1:3.0.1", Greater),
            ("1.0+dfsg-1", "1.0-1", Greater),
            ("1.18.24", "1.18.3", Greater),
            (
                "1.99999999999999999999999999",
                "1.100000000000000000000000000",
                Less,
            ),
            ("1.000000000000000000000000000009", "1.9", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(deb(a, b), want, "{a} vs {b}");
            assert_eq!(deb(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_orders_like_rpm_test_suite() {
        // From rpm's tests/rpmvercmp.at.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1a", "2.0.1a", Equal),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "xyz.4", Equal),
            ("xyz.4", "8", Less),
            ("xyz.4", "2", Less),
            ("5.5p2", "5.6p1", Less),
            ("5.6p1", "6.5p1", Less),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("1.0aa", "1.0a", Greater),
            ("10.0001", "10.1", Equal),
            ("10.0001", "10.0039", Less),
            ("4.999.9", "5.0", Less),
            ("20101121", "20101122", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a_", Equal),
            ("+a", "_a", Equal),
            ("+_", "_+", Equal),
            ("+", "_", Equal),
            ("1.0~rc1", "1.0~rc1", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0^", Equal),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0^20160101^git1", "1.0^20160101", Greater),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("2.0a", "2.0.1", Less),
            ("1.001", "1.1", Equal),
            ("1.0.", "1.0", Equal),
            // EVR level: rpmverCmp.
            ("1:0.1", "2.0", Greater),
            ("0:1.0", "1.0", Equal),
            ("1.0", "1.0-1", Less),
            ("1.0-1", "1.0-1.1", Less),
            ("1.0-1.fc38", "1.0-1.fc39", Less),
            ("1.0-10", "1.0-9", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpm(a, b), want, "{a} vs {b}");
            assert_eq!(rpm(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_dependency_rule_ignores_a_missing_release() {
        let v = |s| RpmVersion::parse(s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v("1.0-3").cmp_dependency(&v("1.0")), Equal);
        assert_eq!(v("1.0").cmp_dependency(&v("1.0-3")), Equal);
        assert_eq!(v("1.0-3").cmp_dependency(&v("1.0-4")), Less);
        assert_eq!(v("1:1.0").cmp_dependency(&v("1.0-4")), Greater);
        let holds = |i, op, w| satisfies(Kind::Rpm, i, op, w).unwrap_or_else(|e| panic!("{e}"));
        assert!(holds("1.0-3", Op::Eq, "1.0"));
        assert!(holds("1.0-3", Op::Ge, "1.0"));
        assert!(holds("1.0-3", Op::Le, "1.0"));
        assert!(!holds("1.0-3", Op::Gt, "1.0"));
        assert!(!holds("1.0-3", Op::Ne, "1.0"));
        assert!(holds("1.0-3", Op::Gt, "1.0-2"));
        assert!(holds("1.1-1", Op::Gt, "1.0"));
    }

    #[test]
    fn deb_constraints_follow_dpkg() {
        let holds = |i, op, w| satisfies(Kind::Deb, i, op, w).unwrap_or_else(|e| panic!("{e}"));
        assert!(holds("1.1-1", Op::Ge, "1.1"));
        assert!(holds("1.1-1", Op::Gt, "1.1"));
        assert!(!holds("1.1-1", Op::Eq, "1.1"));
        assert!(holds("1.1-1", Op::Ne, "1.1"));
        assert!(holds("1.1~rc1", Op::Lt, "1.1"));
        assert!(holds("1.1", Op::Le, "1.1"));
        assert!(holds("1:0.1", Op::Gt, "9.9"));
        assert!(holds("1.01", Op::Eq, "1.1"));
    }

    #[test]
    fn parts_are_split_like_the_tools() {
        let d = DebVersion::parse("2:1.0-rc-3+b1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (d.epoch(), d.upstream(), d.revision()),
            (2, "1.0-rc", Some("3+b1"))
        );
        let d = DebVersion::parse("1:2:3").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.epoch(), d.upstream(), d.revision()), (1, "2:3", None));
        let r = RpmVersion::parse("3:2.34-60.el9_2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (r.epoch(), r.version(), r.release()),
            (Some(3), "2.34", Some("60.el9_2"))
        );
        let r = RpmVersion::parse("1.0^git1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (r.epoch(), r.version(), r.release()),
            (None, "1.0^git1", None)
        );
        assert_eq!(r.to_string(), "1.0^git1");
    }

    #[test]
    fn hostile_and_malformed_versions_are_rejected() {
        let long = "1".repeat(MAX_LEN + 1);
        let bad = [
            "",
            " ",
            "1.0 ",
            " 1.0",
            "1.0\n",
            "1.0\t2",
            "1.0;rm -rf /",
            "1.0$(id)",
            "1.0`id`",
            "1.0|x",
            "1.0&",
            "1.0>x",
            "1.0'",
            "1.0\"",
            "1.0\\",
            "1.0*",
            "1.0\0",
            "1.0é",
            ":1.0",
            "a:1.0",
            "-1:1.0",
            "+1:1.0",
            "1:",
            "1:-1",
            "1.0-",
            "-1",
            "2147483648:1.0",
            "99999999999999999999999:1.0",
            &long,
        ];
        for kind in [Kind::Deb, Kind::Rpm] {
            for b in bad {
                assert!(Version::parse(kind, b).is_err(), "{kind} accepted {b:?}");
            }
        }
        for b in ["a1.0", "~1", "1.0-1_1", "1.0^1", "1_0"] {
            assert!(DebVersion::parse(b).is_err(), "deb accepted {b:?}");
        }
        for b in ["1:2:3", "1.0-1-1", "1.0:1"] {
            assert!(RpmVersion::parse(b).is_err(), "rpm accepted {b:?}");
        }
        assert!(DebVersion::parse("2147483647:1.0").is_ok());
        assert!(DebVersion::parse(&"1".repeat(MAX_LEN)).is_ok());
    }

    #[test]
    fn errors_name_the_version_and_the_reason() {
        let e = DebVersion::parse("x1.0").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid deb version \"x1.0\": the upstream version must start with a digit")
        );
        let e = RpmVersion::parse("1.0;id").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "invalid rpm version \"1.0;id\": ';' is not allowed in the version \
                 (allowed: ASCII letters, digits and ._+~^)"
            )
        );
        let e = DebVersion::parse(&"9".repeat(10_000))
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.len() < 200, "{e}");
        assert!(
            e.ends_with("it is 10000 bytes long, more than the 256 allowed"),
            "{e}"
        );
    }
}
