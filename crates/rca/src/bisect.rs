//! Package bisect: find the smallest set of packages of a manifest that, applied on top of
//! the snapshot, makes the failing checks fail.
//!
//! [`Bisect`] never runs anything: [`Bisect::next`] says which packages to apply next (always
//! with their dependency closure within the manifest — a package goes with what it needs),
//! and the caller reports the outcome with [`Bisect::record`]. A failing result is re-run once
//! before it is trusted (flaky checks); a failure that does not reproduce is said so.
//!
//! One culprit among n is found by halving: the whole set (it must fail), then one half per
//! round, then the last candidate alone — at most ⌈log₂ n⌉ + 2 rounds. When the last
//! candidate alone passes, the failure needs several packages together, and Zeller's ddmin
//! narrows the whole manifest to a minimal failing set.
//!
//! [`Bisect::one_at_a_time`] tests each package alone instead (debbisect's final step: n
//! rounds, every package that fails alone), through the same [`Bisect::record`], so its
//! failures are re-run before they are trusted too.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Restore the snapshot, apply exactly these packages, run the checks, then `record`.
    Test(Vec<String>),
    /// Finished.
    Done(Verdict),
}

/// How a bisect ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// These packages (with their dependencies) make the checks fail; none can be left out.
    Culprits {
        /// The minimal failing set.
        packages: Vec<String>,
        /// The same, with the packages they need from the manifest.
        with_dependencies: Vec<String>,
    },
    /// The whole manifest passes: the failure does not reproduce here.
    NotReproducible,
}

/// One test the bisect asked for and what it gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    /// The packages applied.
    pub packages: Vec<String>,
    /// Whether the checks failed (after the confirming re-run, for failures).
    pub failed: bool,
    /// A failure that did not happen again on the re-run.
    pub flaky: bool,
}

#[derive(Debug, Clone)]
enum Phase {
    /// The whole manifest must fail.
    Confirm,
    /// One package at a time: `next` is the position in `order`; `failing` those seen
    /// failing alone so far.
    Each {
        next: usize,
        failing: Vec<usize>,
    },
    /// One culprit assumed: halve the candidates.
    Halve {
        candidates: Vec<usize>,
    },
    /// The last candidate alone.
    Isolate {
        candidate: usize,
    },
    /// ddmin over `current` with granularity `n`; `i` walks chunks, then complements.
    Ddmin {
        current: Vec<usize>,
        n: usize,
        i: usize,
        complements: bool,
    },
    Done(Verdict),
}

/// A package bisect in progress.
#[derive(Debug, Clone)]
pub struct Bisect {
    items: Vec<String>,
    requires: Vec<BTreeSet<usize>>,
    /// The items, dependencies before what needs them: halving then never puts a
    /// dependency in a later half than its dependent, so a half that fails because of a
    /// dependency is the half that holds it, and a package is never blamed for what it needs.
    order: Vec<usize>,
    phase: Phase,
    /// A failure seen once, awaiting its re-run.
    unconfirmed: bool,
    rounds: Vec<Round>,
}

impl Bisect {
    /// A bisect over `items` (the manifest's packages); `requires(p)` names the packages `p`
    /// depends on (names outside `items` are ignored).
    pub fn new(items: Vec<String>, requires: impl Fn(&str) -> Vec<String>) -> Self {
        let index: BTreeMap<&str, usize> = items
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let direct: Vec<BTreeSet<usize>> = items
            .iter()
            .map(|p| {
                requires(p)
                    .iter()
                    .filter_map(|d| index.get(d.as_str()).copied())
                    .collect()
            })
            .collect();
        // Transitive closure, so a subset always carries everything it needs.
        let mut requires = direct.clone();
        loop {
            let mut grew = false;
            for deps in &mut requires {
                let more: BTreeSet<usize> = deps
                    .iter()
                    .flat_map(|d| direct[*d].iter().copied())
                    .collect();
                let before = deps.len();
                deps.extend(more);
                grew |= deps.len() != before;
            }
            if !grew {
                break;
            }
        }
        let mut order: Vec<usize> = Vec::with_capacity(items.len());
        while order.len() < items.len() {
            let ready = (0..items.len()).find(|i| {
                !order.contains(i) && direct[*i].iter().all(|d| order.contains(d) || d == i)
            });
            // A cycle: take the next one in manifest order.
            let next = ready.or_else(|| (0..items.len()).find(|i| !order.contains(i)));
            match next {
                Some(i) => order.push(i),
                None => break,
            }
        }
        let phase = if items.is_empty() {
            Phase::Done(Verdict::NotReproducible)
        } else {
            Phase::Confirm
        };
        Self {
            items,
            requires,
            order,
            phase,
            unconfirmed: false,
            rounds: Vec::new(),
        }
    }

    /// A bisect that tests every package of `items` alone (with its dependency closure),
    /// dependencies first: n rounds, and every package that fails alone is a culprit; one
    /// that fails only with another is not found (the halving [`Bisect::new`] finds it).
    pub fn one_at_a_time(items: Vec<String>, requires: impl Fn(&str) -> Vec<String>) -> Self {
        let mut b = Self::new(items, requires);
        if !b.items.is_empty() {
            b.phase = Phase::Each {
                next: 0,
                failing: Vec::new(),
            };
        }
        b
    }

    /// The rounds so far (a confirming re-run is part of its round).
    pub fn rounds(&self) -> &[Round] {
        &self.rounds
    }

    /// The packages to test next, or the verdict.
    pub fn next(&self) -> Next {
        match &self.phase {
            Phase::Done(v) => Next::Done(v.clone()),
            _ => Next::Test(self.names(&self.closure(&self.subset()))),
        }
    }

    /// Report the outcome of the last [`Next::Test`]: did the checks fail?
    pub fn record(&mut self, failed: bool) {
        if matches!(self.phase, Phase::Done(_)) {
            return;
        }
        let packages = self.names(&self.closure(&self.subset()));
        if failed && !self.unconfirmed {
            // Trust a failure only once it happens twice.
            self.unconfirmed = true;
            return;
        }
        let flaky = self.unconfirmed && !failed;
        self.unconfirmed = false;
        self.rounds.push(Round {
            packages,
            failed,
            flaky,
        });
        self.advance(failed);
    }

    /// The candidate set the current phase tests (before closure).
    fn subset(&self) -> Vec<usize> {
        match &self.phase {
            Phase::Confirm | Phase::Done(_) => self.order.clone(),
            Phase::Each { next, .. } => vec![self.order[*next]],
            Phase::Halve { candidates } => candidates[..candidates.len() / 2].to_vec(),
            Phase::Isolate { candidate } => vec![*candidate],
            Phase::Ddmin {
                current,
                n,
                i,
                complements,
            } => {
                let chunks = chunks(current, *n);
                if *complements {
                    current
                        .iter()
                        .copied()
                        .filter(|x| !chunks[*i].contains(x))
                        .collect()
                } else {
                    chunks[*i].clone()
                }
            }
        }
    }

    fn advance(&mut self, failed: bool) {
        let all: Vec<usize> = self.order.clone();
        self.phase = match std::mem::replace(&mut self.phase, Phase::Confirm) {
            Phase::Each { next, mut failing } => {
                if failed {
                    failing.push(self.order[next]);
                }
                if next + 1 < self.order.len() {
                    Phase::Each {
                        next: next + 1,
                        failing,
                    }
                } else if failing.is_empty() {
                    Phase::Done(Verdict::NotReproducible)
                } else {
                    self.verdict(&failing)
                }
            }
            Phase::Confirm if !failed => Phase::Done(Verdict::NotReproducible),
            Phase::Confirm => halve(all),
            Phase::Halve { candidates } => {
                let (a, b) = candidates.split_at(candidates.len() / 2);
                if failed && a.len() == 1 {
                    // That one package (with what it needs) was just seen failing alone.
                    self.verdict(a)
                } else {
                    halve(if failed { a.to_vec() } else { b.to_vec() })
                }
            }
            Phase::Isolate { candidate } if failed => self.verdict(&[candidate]),
            // The last candidate alone passes: it takes several packages together.
            Phase::Isolate { .. } => Phase::Ddmin {
                current: all,
                n: 2,
                i: 0,
                complements: false,
            },
            Phase::Ddmin {
                current,
                n,
                i,
                complements,
            } => {
                let parts = chunks(&current, n);
                if failed {
                    let next: Vec<usize> = if complements {
                        current
                            .iter()
                            .copied()
                            .filter(|x| !parts[i].contains(x))
                            .collect()
                    } else {
                        parts[i].clone()
                    };
                    let n = if complements { (n - 1).max(2) } else { 2 };
                    self.ddmin_or_done(next, n)
                } else if i + 1 < parts.len() {
                    Phase::Ddmin {
                        current,
                        n,
                        i: i + 1,
                        complements,
                    }
                } else if !complements && parts.len() > 2 {
                    Phase::Ddmin {
                        current,
                        n,
                        i: 0,
                        complements: true,
                    }
                } else if n < current.len() {
                    let n = (n * 2).min(current.len());
                    Phase::Ddmin {
                        current,
                        n,
                        i: 0,
                        complements: false,
                    }
                } else {
                    self.verdict(&current)
                }
            }
            done @ Phase::Done(_) => done,
        };
    }

    fn ddmin_or_done(&self, current: Vec<usize>, n: usize) -> Phase {
        if current.len() < 2 {
            self.verdict(&current)
        } else {
            Phase::Ddmin {
                n: n.min(current.len()),
                current,
                i: 0,
                complements: false,
            }
        }
    }

    fn verdict(&self, culprits: &[usize]) -> Phase {
        Phase::Done(Verdict::Culprits {
            packages: self.names(&culprits.iter().copied().collect()),
            with_dependencies: self.names(&self.closure(culprits)),
        })
    }

    fn closure(&self, set: &[usize]) -> BTreeSet<usize> {
        set.iter()
            .flat_map(|i| std::iter::once(*i).chain(self.requires[*i].iter().copied()))
            .collect()
    }

    fn names(&self, set: &BTreeSet<usize>) -> Vec<String> {
        set.iter().map(|i| self.items[*i].clone()).collect()
    }
}

fn halve(candidates: Vec<usize>) -> Phase {
    if candidates.len() == 1 {
        Phase::Isolate {
            candidate: candidates[0],
        }
    } else {
        Phase::Halve { candidates }
    }
}

/// `set` cut into `n` chunks of near-equal size, in order.
fn chunks(set: &[usize], n: usize) -> Vec<Vec<usize>> {
    let n = n.clamp(1, set.len().max(1));
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for k in 0..n {
        let end = start + (set.len() - start) / (n - k);
        out.push(set[start..end].to_vec());
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn packages(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("p{i:02}")).collect()
    }

    /// Run to the end with `fails(subset, call number)` as the checks.
    fn run(
        mut b: Bisect,
        mut fails: impl FnMut(&[String], usize) -> bool,
    ) -> (Verdict, usize, usize) {
        let mut calls = 0;
        loop {
            match b.next() {
                Next::Done(v) => return (v, b.rounds().len(), calls),
                Next::Test(set) => {
                    calls += 1;
                    assert!(calls < 1000, "the bisect does not end");
                    let failed = fails(&set, calls);
                    b.record(failed);
                }
            }
        }
    }

    fn culprits(v: &Verdict) -> Vec<String> {
        match v {
            Verdict::Culprits { packages, .. } => packages.clone(),
            Verdict::NotReproducible => Vec::new(),
        }
    }

    #[test]
    fn one_culprit_among_n_within_log2_n_plus_2_rounds() {
        for n in [1, 2, 3, 4, 8, 12, 16, 32] {
            for culprit in 0..n {
                let items = packages(n);
                let bad = items[culprit].clone();
                let (v, rounds, _) = run(Bisect::new(items, |_| Vec::new()), |set, _| {
                    set.contains(&bad)
                });
                assert_eq!(culprits(&v), std::slice::from_ref(&bad), "n={n}");
                let bound = (n as f64).log2().ceil() as usize + 2;
                assert!(
                    rounds <= bound,
                    "n={n} culprit={culprit}: {rounds} rounds > {bound}"
                );
            }
        }
    }

    #[test]
    fn two_packages_that_fail_only_together() {
        let items = packages(12);
        let (a, b) = (items[2].clone(), items[9].clone());
        let (v, _, _) = run(Bisect::new(items, |_| Vec::new()), |set, _| {
            set.contains(&a) && set.contains(&b)
        });
        assert_eq!(culprits(&v), [a, b]);
    }

    #[test]
    fn a_failure_that_does_not_reproduce_is_said_so() {
        let (v, rounds, calls) = run(Bisect::new(packages(8), |_| Vec::new()), |_, _| false);
        assert_eq!(v, Verdict::NotReproducible);
        assert_eq!((rounds, calls), (1, 1));
    }

    #[test]
    fn a_flaky_failure_is_re_run_and_not_trusted() {
        let items = packages(8);
        let bad = items[5].clone();
        // The first subset without the culprit fails once, spuriously; its re-run passes.
        let mut spurious = 1;
        let mut b = Bisect::new(items, |_| Vec::new());
        let verdict = loop {
            match b.next() {
                Next::Done(v) => break v,
                Next::Test(set) => {
                    let failed = if set.contains(&bad) {
                        true
                    } else if spurious > 0 {
                        spurious -= 1;
                        true
                    } else {
                        false
                    };
                    b.record(failed);
                }
            }
        };
        assert_eq!(culprits(&verdict), [bad]);
        assert_eq!(spurious, 0, "the spurious failure happened");
        let flaky: Vec<&Round> = b.rounds().iter().filter(|r| r.flaky).collect();
        assert_eq!(flaky.len(), 1, "{:?}", b.rounds());
        assert!(
            !flaky[0].failed,
            "a failure that did not happen again counts as a pass"
        );
    }

    #[test]
    fn a_package_is_tested_with_what_it_needs() {
        // libacme-tools needs libacme; the culprit is libacme-tools.
        let items: Vec<String> = ["acme-web", "libacme", "libacme-tools", "acme-docs"]
            .map(str::to_owned)
            .to_vec();
        let b = Bisect::new(items, |p| {
            if p == "libacme-tools" {
                vec!["libacme".into(), "not-in-manifest".into()]
            } else {
                Vec::new()
            }
        });
        let mut seen = Vec::new();
        let (v, _, _) = run(b, |set, _| {
            seen.push(set.to_vec());
            if set.contains(&"libacme-tools".to_owned()) {
                assert!(
                    set.contains(&"libacme".to_owned()),
                    "closure missing in {set:?}"
                );
            }
            set.contains(&"libacme-tools".to_owned())
        });
        assert_eq!(
            v,
            Verdict::Culprits {
                packages: vec!["libacme-tools".into()],
                with_dependencies: vec!["libacme".into(), "libacme-tools".into()],
            }
        );
    }

    #[test]
    fn a_dependency_is_blamed_not_what_needs_it() {
        // acme-api needs libacme; libacme 2.0 is the culprit. Testing acme-api always brings
        // libacme along, so acme-api must not be the answer.
        let items: Vec<String> = [
            "acme-agent",
            "acme-api",
            "acme-certs",
            "libacme",
            "acme-web",
        ]
        .map(str::to_owned)
        .to_vec();
        let b = Bisect::new(items, |p| {
            if p == "acme-api" {
                vec!["libacme".into()]
            } else {
                Vec::new()
            }
        });
        let (v, rounds, _) = run(b, |set, _| set.contains(&"libacme".to_owned()));
        assert_eq!(culprits(&v), ["libacme"]);
        assert!(rounds <= 5, "{rounds}");
    }

    #[test]
    fn one_at_a_time_finds_every_package_that_fails_alone_and_re_runs_failures() {
        let items = packages(6);
        let (a, b) = (items[1].clone(), items[4].clone());
        let mut calls = 0;
        let mut bisect = Bisect::one_at_a_time(items, |_| Vec::new());
        // p02's round fails once, spuriously: re-run, it passes and is marked flaky.
        let mut spurious = true;
        let verdict = loop {
            match bisect.next() {
                Next::Done(v) => break v,
                Next::Test(set) => {
                    calls += 1;
                    assert_eq!(set.len(), 1, "{set:?}");
                    let failed = if set[0] == "p02" && spurious {
                        spurious = false;
                        true
                    } else {
                        set.contains(&a) || set.contains(&b)
                    };
                    bisect.record(failed);
                }
            }
        };
        assert_eq!(culprits(&verdict), [a, b]);
        // Six rounds; each of the three failures was run twice.
        assert_eq!(bisect.rounds().len(), 6);
        assert_eq!(calls, 9);
        let flaky: Vec<&Round> = bisect.rounds().iter().filter(|r| r.flaky).collect();
        assert_eq!(flaky.len(), 1);
        assert_eq!(flaky[0].packages, ["p02"]);
        assert!(!flaky[0].failed);
    }

    #[test]
    fn one_at_a_time_with_nothing_failing_is_not_reproducible() {
        let (v, rounds, calls) = run(
            Bisect::one_at_a_time(packages(4), |_| Vec::new()),
            |_, _| false,
        );
        assert_eq!(v, Verdict::NotReproducible);
        assert_eq!((rounds, calls), (4, 4));
    }

    proptest! {
        #[test]
        fn any_failing_set_is_narrowed_to_a_failing_minimal_set(
            n in 1usize..20,
            bad in proptest::collection::btree_set(0usize..20, 1..4),
        ) {
            let items = packages(n);
            let bad: BTreeSet<String> = bad.into_iter().filter(|i| *i < n).map(|i| items[i].clone()).collect();
            prop_assume!(!bad.is_empty());
            let fails = |set: &[String]| bad.iter().all(|b| set.contains(b));
            let (v, _, _) = run(Bisect::new(items, |_| Vec::new()), |set, _| fails(set));
            let found = culprits(&v);
            prop_assert!(fails(&found), "{found:?} does not fail");
            // Minimal: dropping any one package makes it pass.
            for i in 0..found.len() {
                let mut less = found.clone();
                less.remove(i);
                prop_assert!(!fails(&less), "{found:?} is not minimal");
            }
        }
    }
}
