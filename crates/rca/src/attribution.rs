//! Attribution from host evidence alone: which package change best explains which hosts
//! fail, ranked, each with its confidence and the evidence behind it.
//!
//! A culprit was changed on every failing host (coverage), on no passing host
//! (exclusivity), and before the failure was first seen (time). Confidence is
//! coverage × exclusivity, zero for a change made after the failure. No bisect needed: one
//! host that got the batch and failed and one that got the batch without a package and
//! passed already single that package out.

use std::collections::BTreeMap;

use serde::Serialize;

/// What one host says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEvidence {
    /// Inventory name.
    pub host: String,
    /// Its checks fail now.
    pub failed: bool,
    /// When the failure was first seen (Unix seconds), if it failed.
    pub failed_at: Option<i64>,
    /// The package changes on it in the window.
    pub changes: Vec<Changed>,
}

/// One package change on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Package name.
    pub name: String,
    /// Version before (`None`: installed).
    pub from: Option<String>,
    /// Version after (`None`: removed).
    pub to: Option<String>,
    /// When (Unix seconds), if known.
    pub at: Option<i64>,
}

/// A possible cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The package.
    pub package: String,
    /// 0 to 1.
    pub confidence: f64,
    /// Hosts where it changed and the checks fail.
    pub changed_and_failing: Vec<String>,
    /// Hosts where it changed and the checks pass.
    pub changed_and_passing: Vec<String>,
    /// Failing hosts where it did not change.
    pub failing_without_it: Vec<String>,
    /// One line per piece of evidence, in plain words.
    pub evidence: Vec<String>,
}

/// Rank every changed package as a cause of the failures, most likely first.
pub fn attribute(hosts: &[HostEvidence]) -> Vec<Candidate> {
    let failing: Vec<&HostEvidence> = hosts.iter().filter(|h| h.failed).collect();
    if failing.is_empty() {
        return Vec::new();
    }
    let mut by_package: BTreeMap<&str, Vec<(&HostEvidence, &Changed)>> = BTreeMap::new();
    for h in hosts {
        for c in &h.changes {
            by_package.entry(c.name.as_str()).or_default().push((h, c));
        }
    }
    let mut out: Vec<Candidate> = by_package
        .into_iter()
        .map(|(package, seen)| {
            let mut evidence = Vec::new();
            let mut changed_and_failing = Vec::new();
            let mut changed_and_passing = Vec::new();
            let mut too_late = false;
            for (h, c) in &seen {
                let what = describe(c);
                if h.failed {
                    changed_and_failing.push(h.host.clone());
                    if let (Some(at), Some(failed_at)) = (c.at, h.failed_at)
                        && at > failed_at
                    {
                        too_late = true;
                        evidence.push(format!(
                            "{what} on {} came {}s after its failure was first seen",
                            h.host,
                            at - failed_at
                        ));
                    } else {
                        evidence.push(format!("{what} on {}, which fails", h.host));
                    }
                } else {
                    changed_and_passing.push(h.host.clone());
                    evidence.push(format!("{what} on {}, which passes", h.host));
                }
            }
            let failing_without_it: Vec<String> = failing
                .iter()
                .filter(|h| !changed_and_failing.contains(&h.host))
                .map(|h| h.host.clone())
                .collect();
            for h in &failing_without_it {
                evidence.push(format!("{h} fails without this change"));
            }
            let coverage = changed_and_failing.len() as f64 / failing.len() as f64;
            let touched = (changed_and_failing.len() + changed_and_passing.len()) as f64;
            let exclusivity = changed_and_failing.len() as f64 / touched;
            let confidence = if too_late {
                0.0
            } else {
                coverage * exclusivity
            };
            Candidate {
                package: package.to_owned(),
                confidence,
                changed_and_failing,
                changed_and_passing,
                failing_without_it,
                evidence,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| {
                a.changed_and_passing
                    .len()
                    .cmp(&b.changed_and_passing.len())
            })
            .then_with(|| a.package.cmp(&b.package))
    });
    out
}

fn describe(c: &Changed) -> String {
    match (&c.from, &c.to) {
        (Some(f), Some(t)) => format!("{} {f} → {t}", c.name),
        (None, Some(t)) => format!("{} installed at {t}", c.name),
        (Some(f), None) => format!("{} {f} removed", c.name),
        (None, None) => c.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(name: &str, from: &str, to: &str, at: i64) -> Changed {
        Changed {
            name: name.into(),
            from: Some(from.into()),
            to: Some(to.into()),
            at: Some(at),
        }
    }

    fn routine(at: i64) -> Vec<Changed> {
        [
            "acme-agent",
            "acme-api",
            "acme-certs",
            "acme-cli",
            "acme-docs",
            "acme-web",
        ]
        .iter()
        .map(|n| up(n, "1.0", "1.1", at))
        .collect()
    }

    #[test]
    fn the_host_without_libacme_that_passes_singles_it_out() {
        let mut with = routine(100);
        with.push(up("libacme", "1.0", "2.0", 100));
        let hosts = [
            HostEvidence {
                host: "web-1".into(),
                failed: true,
                failed_at: Some(130),
                changes: with,
            },
            HostEvidence {
                host: "web-2".into(),
                failed: false,
                failed_at: None,
                changes: routine(100),
            },
        ];
        let ranked = attribute(&hosts);
        assert_eq!(ranked[0].package, "libacme");
        assert!((ranked[0].confidence - 1.0).abs() < 1e-9);
        assert!(ranked[1..].iter().all(|c| c.confidence < 0.6), "{ranked:?}");
        assert!(
            ranked[0]
                .evidence
                .iter()
                .any(|e| e.contains("libacme 1.0 → 2.0 on web-1, which fails")),
            "{:?}",
            ranked[0].evidence
        );
    }

    #[test]
    fn a_change_after_the_failure_is_not_the_cause() {
        let hosts = [HostEvidence {
            host: "web-1".into(),
            failed: true,
            failed_at: Some(100),
            changes: vec![
                up("libacme", "1.0", "2.0", 90),
                up("acme-docs", "1.0", "1.1", 160),
            ],
        }];
        let ranked = attribute(&hosts);
        assert_eq!(ranked[0].package, "libacme");
        let docs = ranked
            .iter()
            .find(|c| c.package == "acme-docs")
            .expect("docs");
        assert!(docs.confidence.abs() < 1e-9);
        assert!(docs.evidence[0].contains("after its failure"));
    }

    #[test]
    fn coverage_counts_failing_hosts_without_the_change() {
        let hosts = [
            HostEvidence {
                host: "a".into(),
                failed: true,
                failed_at: None,
                changes: vec![up("x", "1", "2", 1)],
            },
            HostEvidence {
                host: "b".into(),
                failed: true,
                failed_at: None,
                changes: vec![],
            },
        ];
        let ranked = attribute(&hosts);
        assert!((ranked[0].confidence - 0.5).abs() < 1e-9);
        assert_eq!(ranked[0].failing_without_it, ["b"]);
        assert!(attribute(&[]).is_empty());
    }
}
