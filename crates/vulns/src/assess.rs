//! Matching a host against the feeds: the [`Index`] of every entry by release, name kind
//! and package; [`Index::assess`] of one host's installed packages (by source name and
//! source version for OSV and the tracker, by binary for ALAS), each family's own version
//! order; [`Report::offer`] of what the host's repositories offer now.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use fearless_pkg::Built;
use fearless_pkg::version::{Kind, Version};
use serde::Serialize;

use crate::model::{Advisory, Affected, Bound, By, Event, Feed, Rule, Scope, Status, cmp};

/// Every matchable entry of a feed, by release, name kind and package name.
#[derive(Debug)]
pub struct Index<'f> {
    feed: &'f Feed,
    /// Each advisory's feed path, shared by its findings.
    paths: Vec<Arc<str>>,
    /// Per release and name kind, per package: its entries.
    map: HashMap<(Scope, By), HashMap<&'f str, Package>>,
}

/// The entries of one package of one release, and what they said of each version seen:
/// hosts of a fleet share versions, so each is evaluated once.
#[derive(Debug, Default)]
struct Package {
    /// (advisory, entry), one entry per advisory.
    refs: Vec<(u32, u32)>,
    /// Installed version → the entries that apply to it.
    seen: Mutex<HashMap<Box<str>, Arc<[Hit]>>>,
}

/// An entry that applies to a version.
#[derive(Debug, Clone)]
struct Hit {
    advisory: u32,
    entry: u32,
    status: Status,
    fixed: Option<Arc<str>>,
}

/// What a host is, for matching.
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    /// Its release (`debian 12`); `None` when it names none (Debian testing).
    pub scope: Option<&'a Scope>,
    /// Its package family (from its package manager).
    pub kind: Kind,
    /// Its installed packages with their sources.
    pub packages: &'a [Built],
}

/// Whether a fixed version is offered by the host's repositories now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Offer {
    /// For every affected binary package.
    Yes,
    /// For some of them.
    Partly,
    /// For none.
    No,
    /// There is no fixed version to offer.
    NoFix,
    /// Not asked (yet).
    Unknown,
}

/// One installed binary package a finding is about, and the lowest version of it the
/// repositories offer that closes the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binary {
    /// Binary package name.
    pub name: Arc<str>,
    /// Architecture.
    pub arch: Arc<str>,
    /// Installed version.
    pub installed: Arc<str>,
    /// The lowest offered version at or above the fix, if any.
    pub offered: Option<String>,
}

/// One advisory that applies to one package of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Advisory id.
    pub advisory: Arc<str>,
    /// Its other names (CVEs).
    pub aliases: Arc<[String]>,
    /// One line about it.
    pub summary: Option<Arc<str>>,
    /// The feed's rating.
    pub severity: Option<Arc<str>>,
    /// The `--feed` path it came from.
    pub feed: Arc<str>,
    /// Matched by source or binary name.
    pub by: By,
    /// The source (or binary) package.
    pub package: Arc<str>,
    /// Its installed version (the source version when matched by source).
    pub installed: Arc<str>,
    /// The version that fixes it, when there is one.
    pub fixed: Option<Arc<str>>,
    /// Fixable, open, or how the feed defers it.
    pub status: Status,
    /// The installed binary packages it is about.
    pub binaries: Vec<Binary>,
    /// Whether the fixed version is offered by the host's repositories now.
    pub offered: Offer,
}

impl Finding {
    /// Whether `name` is the advisory's id or an alias (case-insensitive).
    pub fn named(&self, name: &str) -> bool {
        self.advisory.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// What applies to one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The release it was matched as.
    pub scope: Option<Scope>,
    /// Every finding, deferred ones included, by package then advisory.
    pub findings: Vec<Finding>,
    /// Findings Debian rates `unimportant`: counted, not listed.
    pub unimportant: usize,
    /// The feeds have entries for the host's release and package family: without them,
    /// no finding means nothing, and the host is said as not covered.
    pub covered: bool,
    /// Why nothing could be matched, or what was left out.
    pub notes: Vec<String>,
}

impl Report {
    /// The findings that count: all but deferred ones (unless `deferred`).
    pub fn counted(&self, deferred: bool) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| deferred || !f.status.deferred())
    }

    /// The binary packages whose offered versions [`Report::offer`] needs.
    pub fn wanted(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.fixed.is_some())
            .flat_map(|f| f.binaries.iter().map(|b| b.name.to_string()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Say, for every finding with a fix, the lowest version the repositories offer (the
    /// binaries and sources of `offered`) that closes it: at or above the fixed version
    /// (of the source, when matched by source) and above what is installed.
    pub fn offer(&mut self, kind: Kind, offered: &[Built]) {
        for f in &mut self.findings {
            let Some(fixed) = f
                .fixed
                .as_deref()
                .and_then(|v| Version::parse(kind, v).ok())
            else {
                f.offered = Offer::NoFix;
                continue;
            };
            for b in &mut f.binaries {
                let installed = Version::parse(kind, &b.installed).ok();
                b.offered = offered
                    .iter()
                    .filter(|o| *o.name == *b.name && same_arch(&o.arch, &b.arch))
                    .filter(|o| f.by == By::Binary || *o.source == *f.package)
                    .filter_map(|o| {
                        let closing = match f.by {
                            By::Source => &o.source_version,
                            By::Binary => &o.version,
                        };
                        let closing = Version::parse(kind, closing).ok()?;
                        let v = Version::parse(kind, &o.version).ok()?;
                        let above = installed
                            .as_ref()
                            .is_none_or(|i| cmp(&v, i) == Ordering::Greater);
                        (cmp(&closing, &fixed) != Ordering::Less && above).then_some((v, o))
                    })
                    .min_by(|a, b| cmp(&a.0, &b.0))
                    .map(|(_, o)| o.version.clone());
            }
            let n = f.binaries.iter().filter(|b| b.offered.is_some()).count();
            f.offered = match n {
                0 => Offer::No,
                n if n == f.binaries.len() => Offer::Yes,
                _ => Offer::Partly,
            };
        }
    }
}

/// `all`/`noarch` packages are every architecture's; a tool that does not say matches.
fn same_arch(a: &str, b: &str) -> bool {
    a == b || a.is_empty() || b.is_empty() || matches!(a, "all" | "noarch")
}

impl<'f> Index<'f> {
    /// Index every entry of `feed`.
    pub fn new(feed: &'f Feed) -> Self {
        let mut map: HashMap<(Scope, By), HashMap<&'f str, Package>> = HashMap::new();
        for (i, a) in feed.advisories.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            for (j, e) in a.affected.iter().enumerate() {
                let refs = &mut map
                    .entry((e.scope.clone(), e.by))
                    .or_default()
                    .entry(&*e.package)
                    .or_default()
                    .refs;
                // An advisory that names a package twice for one release counts once.
                if refs.last().is_none_or(|(last, _)| *last != i) {
                    refs.push((i, u32::try_from(j).unwrap_or(u32::MAX)));
                }
            }
        }
        // Each package's entries by advisory id: findings come out in that order.
        for packages in map.values_mut() {
            for p in packages.values_mut() {
                p.refs.sort_by(|x, y| {
                    let id = |r: &(u32, u32)| feed.advisories.get(r.0 as usize).map(|a| &*a.id);
                    id(x).cmp(&id(y))
                });
            }
        }
        let paths = feed
            .sources
            .iter()
            .map(|s| Arc::from(s.path.as_str()))
            .collect();
        Self { feed, paths, map }
    }

    /// The releases the feed has entries for.
    pub fn scopes(&self) -> Vec<&Scope> {
        let mut s: Vec<&Scope> = self.map.keys().map(|(s, _)| s).collect();
        s.sort();
        s.dedup();
        s
    }

    fn entry(&self, (i, j): (u32, u32)) -> Option<(&'f Advisory, &'f Affected)> {
        let a = self.feed.advisories.get(i as usize)?;
        Some((a, a.affected.get(j as usize)?))
    }

    /// [`Index::assess`] of every host, on up to eight threads (hosts are independent;
    /// what one evaluates, the others reuse), in the order given.
    pub fn assess_all(&self, hosts: &[Host<'_>]) -> Vec<Report> {
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, 8)
            .min(hosts.len() / 16 + 1);
        if threads == 1 {
            return hosts.iter().map(|h| self.assess(h)).collect();
        }
        let per = hosts.len().div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = hosts
                .chunks(per)
                .map(|chunk| {
                    s.spawn(move || chunk.iter().map(|h| self.assess(h)).collect::<Vec<_>>())
                })
                .collect();
            parts
                .into_iter()
                .zip(hosts.chunks(per))
                .flat_map(|(p, chunk)| {
                    // A panicking thread's hosts are assessed again here (and panic here).
                    p.join()
                        .unwrap_or_else(|_| chunk.iter().map(|h| self.assess(h)).collect())
                })
                .collect()
        })
    }

    /// Every advisory that applies to `host`.
    pub fn assess(&self, host: &Host<'_>) -> Report {
        let mut report = Report {
            scope: host.scope.cloned(),
            findings: Vec::new(),
            unimportant: 0,
            covered: false,
            notes: Vec::new(),
        };
        let Some(scope) = host.scope else {
            report
                .notes
                .push("the host names no release (VERSION_ID): nothing can be matched".into());
            return report;
        };
        if scope.kind() != host.kind {
            report.notes.push(format!(
                "its packages are {} packages on {scope}: no feed entry covers them",
                host.kind
            ));
            return report;
        }
        let by_source = self.map.get(&(scope.clone(), By::Source));
        let by_binary = self.map.get(&(scope.clone(), By::Binary));
        if by_source.is_none() && by_binary.is_none() {
            report
                .notes
                .push(format!("the feeds have no entry for {scope}"));
            return report;
        }
        report.covered = true;
        let mut unparsable = 0usize;
        if let Some(map) = by_source {
            // One look per source package and version, for all its binaries, in order.
            let mut of: Vec<(&str, &str, &Built, &Package)> = host
                .packages
                .iter()
                .filter_map(|p| {
                    map.get(p.source.as_str())
                        .map(|pkg| (p.source.as_str(), p.source_version.as_str(), p, pkg))
                })
                .collect();
            of.sort_unstable_by(|a, b| (a.0, a.1, &a.2.name).cmp(&(b.0, b.1, &b.2.name)));
            let mut binaries: Vec<&Built> = Vec::new();
            for (i, &(source, version, p, pkg)) in of.iter().enumerate() {
                binaries.push(p);
                if of
                    .get(i + 1)
                    .is_some_and(|n| n.0 == source && n.1 == version)
                {
                    continue;
                }
                match self.hits(pkg, host.kind, version) {
                    Some(hits) => self.report(&mut report, &hits, version, &binaries),
                    None => unparsable += 1,
                }
                binaries.clear();
            }
        }
        if let Some(map) = by_binary {
            for p in host.packages {
                let Some(pkg) = map.get(p.name.as_str()) else {
                    continue;
                };
                match self.hits(pkg, host.kind, &p.version) {
                    Some(hits) => self.report(&mut report, &hits, &p.version, &[p]),
                    None => unparsable += 1,
                }
            }
        }
        if unparsable > 0 {
            report.notes.push(format!(
                "{unparsable} installed version(s) fearless cannot parse were not matched"
            ));
        }
        if by_binary.is_some() {
            // Source findings come out in order (sources sorted, each package's entries
            // by advisory); binary ones are merged in.
            report.findings.sort_by(|a, b| {
                a.package
                    .cmp(&b.package)
                    .then_with(|| a.advisory.cmp(&b.advisory))
            });
        }
        report
    }

    /// The entries of `pkg` that apply to `version` (evaluated once per version);
    /// `None` when the version does not parse.
    fn hits(&self, pkg: &Package, kind: Kind, version: &str) -> Option<Arc<[Hit]>> {
        let lock = || pkg.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = lock().get(version) {
            return Some(h.clone());
        }
        let installed = Version::parse(kind, version).ok()?;
        let hits: Arc<[Hit]> = pkg
            .refs
            .iter()
            .filter_map(|&(advisory, entry)| {
                let (_, e) = self.entry((advisory, entry))?;
                let (status, fixed) = evaluate(e, &installed)?;
                Some(Hit {
                    advisory,
                    entry,
                    status,
                    fixed: fixed.map(|v| Arc::from(v.as_str())),
                })
            })
            .collect();
        lock().insert(version.into(), hits.clone());
        Some(hits)
    }

    /// The findings of `hits` on a host where `shown` is installed (of `binaries`).
    fn report(&self, report: &mut Report, hits: &[Hit], shown: &str, binaries: &[&Built]) {
        if hits.iter().all(|h| h.status == Status::Unimportant) {
            report.unimportant += hits.len();
            return;
        }
        // Shared by every finding of this package version.
        let installed: Arc<str> = Arc::from(shown);
        let bins: Vec<Binary> = binaries
            .iter()
            .map(|b| Binary {
                name: Arc::from(b.name.as_str()),
                arch: Arc::from(b.arch.as_str()),
                installed: Arc::from(b.version.as_str()),
                offered: None,
            })
            .collect();
        for hit in hits {
            let Some((adv, entry)) = self.entry((hit.advisory, hit.entry)) else {
                continue;
            };
            if hit.status == Status::Unimportant {
                report.unimportant += 1;
                continue;
            }
            report.findings.push(Finding {
                advisory: adv.id.clone(),
                aliases: adv.aliases.clone(),
                summary: adv.summary.clone(),
                severity: adv.severity.clone(),
                feed: self
                    .paths
                    .get(adv.source)
                    .cloned()
                    .unwrap_or_else(|| Arc::from("")),
                by: entry.by,
                package: entry.package.clone(),
                installed: installed.clone(),
                fixed: hit.fixed.clone(),
                status: hit.status,
                binaries: bins.clone(),
                offered: Offer::Unknown,
            });
        }
    }
}

/// Whether `entry` affects `v`: its status and fixed version when it does.
pub(crate) fn evaluate<'e>(
    entry: &'e Affected,
    v: &Version,
) -> Option<(Status, Option<&'e Version>)> {
    let found = match &entry.rule {
        Rule::FixedIn(f) => (cmp(v, f) == Ordering::Less).then_some(Some(f)),
        Rule::Unfixed => Some(None),
        Rule::Ranges { ranges, versions } => {
            let mut affected = false;
            let mut fixes: Vec<Option<&Version>> = Vec::new();
            for range in ranges {
                if let Some(fix) = in_range(range, v) {
                    affected = true;
                    fixes.push(fix);
                }
            }
            if affected {
                // Every affected range must be left: the highest fix, none if one has none.
                let fix = if fixes.iter().any(Option::is_none) {
                    None
                } else {
                    fixes.into_iter().flatten().max_by(|a, b| cmp(a, b))
                };
                Some(fix)
            } else if versions.binary_search_by(|x| cmp(x, v)).is_ok() {
                // Listed: the lowest fix above it in any range, if one says.
                let fix = ranges
                    .iter()
                    .flatten()
                    .filter_map(|e| match e {
                        Event::Fixed(f) if cmp(f, v) == Ordering::Greater => Some(f),
                        _ => None,
                    })
                    .min_by(|a, b| cmp(a, b));
                Some(fix)
            } else {
                None
            }
        }
    }?;
    let status = entry.status.unwrap_or(if found.is_some() {
        Status::Fixable
    } else {
        Status::Open
    });
    Some((status, found))
}

/// OSV's evaluation of one sorted range: `Some(fix)` when `v` is affected (`fix`: the
/// `fixed` event that ends the affected stretch, `None` when it ends in `last_affected` or
/// not at all).
fn in_range<'e>(events: &'e [Event], v: &Version) -> Option<Option<&'e Version>> {
    let mut vulnerable = false;
    for e in events {
        match e {
            Event::Introduced(Bound::Zero) => vulnerable = true,
            Event::Introduced(Bound::At(i)) => {
                if cmp(v, i) != Ordering::Less {
                    vulnerable = true;
                }
            }
            Event::Fixed(f) => {
                if cmp(v, f) != Ordering::Less {
                    vulnerable = false;
                } else {
                    return vulnerable.then_some(Some(f));
                }
            }
            Event::LastAffected(l) => {
                if cmp(v, l) == Ordering::Greater {
                    vulnerable = false;
                } else {
                    return vulnerable.then_some(None);
                }
            }
            Event::Limit(l) => {
                if cmp(v, l) != Ordering::Less {
                    return None;
                }
            }
        }
    }
    vulnerable.then_some(None)
}
