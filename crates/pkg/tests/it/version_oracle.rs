//! Our dpkg and rpm orderings against the real `dpkg` and `rpm` on generated version pairs.
//!
//! Each test draws thousands of pairs from proptest strategies, most of them a version and
//! a small mutation of it (an inserted `~`, a dropped digit, another epoch, a release
//! added…), because near-equal versions are where orderings disagree. The tools are called
//! once per batch, not once per pair, so the proptest runner is used to generate values
//! only; a disagreement lists every pair that differs.

use std::cmp::Ordering;
use std::time::Instant;

use fearless_pkg::version::{DebVersion, Kind, RpmVersion, Version, compare};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::common::{dpkg_compare, rpm_compare};

/// Pairs checked against dpkg (two `dpkg` processes per pair at most, run in two batches in
/// parallel) and against rpm (one process for all).
const DPKG_PAIRS: usize = 4_000;
const RPM_PAIRS: usize = 20_000;

/// A version as parts, so that mutations keep it valid.
#[derive(Debug, Clone)]
struct Parts {
    epoch: Option<&'static str>,
    head: &'static str,
    tail: Vec<&'static str>,
    suffix: Option<Vec<&'static str>>,
}

/// How a version's alphabet and rendering differ between the formats.
#[derive(Debug, Clone, Copy)]
struct Format {
    heads: &'static [&'static str],
    tail: &'static [&'static str],
    suffix: &'static [&'static str],
}

const EPOCHS: &[&str] = &["0", "1", "1", "2", "01", "10", "2147483647"];
const DIGITS: &[&str] = &[
    "0",
    "1",
    "1",
    "2",
    "9",
    "10",
    "01",
    "00",
    "100",
    "123456789012345678901234567890",
];

const DEB: Format = Format {
    heads: DIGITS,
    tail: &[
        "0",
        "1",
        "2",
        "9",
        "10",
        "01",
        "00",
        "99999999999999999999",
        "a",
        "b",
        "z",
        "A",
        "Z",
        "rc",
        ".",
        ".",
        ".",
        "+",
        "+",
        "~",
        "~",
        "-",
        ":",
    ],
    suffix: &[
        "0", "1", "2", "10", "01", "a", "b", "Z", "deb", ".", ".", "+", "~", "~",
    ],
};

const RPM: Format = Format {
    heads: &["0", "1", "2", "9", "10", "01", "a", "Z", "~", "^", ".", "_"],
    tail: &[
        "0",
        "1",
        "2",
        "9",
        "10",
        "01",
        "00",
        "99999999999999999999",
        "a",
        "b",
        "z",
        "A",
        "Z",
        "rc",
        "git",
        ".",
        ".",
        ".",
        "_",
        "+",
        "~",
        "~",
        "^",
        "^",
    ],
    suffix: &[
        "0", "1", "2", "10", "01", "a", "b", "el9", "fc", ".", ".", "_", "+", "~", "^",
    ],
};

impl Format {
    fn parts(self) -> impl Strategy<Value = Parts> {
        (
            prop::option::weighted(0.3, select(EPOCHS)),
            select(self.heads),
            prop::collection::vec(select(self.tail), 0..7),
            prop::option::weighted(0.6, prop::collection::vec(select(self.suffix), 1..4)),
        )
            .prop_map(|(epoch, head, tail, suffix)| Parts {
                epoch,
                head,
                tail,
                suffix,
            })
    }

    /// A version, then the same version changed in one to three small ways.
    fn near_pair(self) -> impl Strategy<Value = (Parts, Parts)> {
        let edit = (
            0u8..8,
            any::<prop::sample::Index>(),
            select(self.tail),
            select(self.suffix),
            select(EPOCHS),
        );
        (self.parts(), prop::collection::vec(edit, 1..4)).prop_map(|(a, edits)| {
            let mut b = a.clone();
            for (what, at, piece, suffix_piece, epoch) in edits {
                match what {
                    0 => b.tail.insert(at.index(b.tail.len() + 1), piece),
                    1 if !b.tail.is_empty() => {
                        b.tail.remove(at.index(b.tail.len()));
                    }
                    2 if !b.tail.is_empty() => {
                        let i = at.index(b.tail.len());
                        b.tail[i] = piece;
                    }
                    3 => b.epoch = if b.epoch.is_some() { None } else { Some(epoch) },
                    4 => {
                        b.suffix = if b.suffix.is_some() {
                            None
                        } else {
                            Some(vec![suffix_piece])
                        }
                    }
                    5 => match &mut b.suffix {
                        Some(s) => s.insert(at.index(s.len() + 1), suffix_piece),
                        None => b.suffix = Some(vec![suffix_piece]),
                    },
                    6 => b.tail.push(piece),
                    _ => b.epoch = Some(epoch),
                }
            }
            (a, b)
        })
    }

    fn pairs(self) -> impl Strategy<Value = (String, String)> {
        let pair = prop_oneof![
            1 => (self.parts(), self.parts()),
            4 => self.near_pair(),
        ];
        (pair, any::<bool>()).prop_map(move |((a, b), swap)| {
            let (a, b) = (self.render(&a), self.render(&b));
            if swap { (b, a) } else { (a, b) }
        })
    }

    /// The text of a version; pieces the format would misread are dropped (a `:` without
    /// an epoch would become one, a `-` without a revision would become one).
    fn render(self, p: &Parts) -> String {
        let mut s = String::new();
        if let Some(e) = p.epoch {
            s.push_str(e);
            s.push(':');
        }
        s.push_str(p.head);
        for piece in &p.tail {
            let misread =
                (*piece == ":" && p.epoch.is_none()) || (*piece == "-" && p.suffix.is_none());
            if !misread {
                s.push_str(piece);
            }
        }
        if let Some(suffix) = &p.suffix {
            s.push('-');
            s.push_str(&suffix.concat());
        }
        s
    }

    fn generate(self, n: usize) -> Vec<(String, String)> {
        let mut runner = TestRunner::default();
        let strategy = prop::collection::vec(self.pairs(), n);
        strategy
            .new_tree(&mut runner)
            .expect("generate version pairs")
            .current()
    }
}

/// Compares every pair with our code and with the oracle's answers; panics listing every
/// disagreement.
#[expect(
    clippy::print_stderr,
    reason = "what was checked, for `--nocapture` runs"
)]
fn check(kind: Kind, pairs: &[(String, String)], oracle: &[Ordering], started: Instant) {
    let mut wrong = Vec::new();
    for ((a, b), want) in pairs.iter().zip(oracle) {
        let ours =
            compare(kind, a, b).unwrap_or_else(|e| panic!("generated version rejected: {e}"));
        if ours != *want {
            wrong.push(format!("  {a} vs {b}: ours {ours:?}, {kind} {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} pairs ordered differently:\n{}",
        wrong.len(),
        pairs.len(),
        wrong.join("\n")
    );
    let count = |o| oracle.iter().filter(|x| **x == o).count();
    let (lt, eq, gt) = (
        count(Ordering::Less),
        count(Ordering::Equal),
        count(Ordering::Greater),
    );
    eprintln!(
        "{kind}: {} pairs agree with the tool (less {lt}, equal {eq}, greater {gt}) in {:.1?}",
        pairs.len(),
        started.elapsed()
    );
}

#[test]
fn deb_ordering_matches_dpkg_on_generated_pairs() {
    let started = Instant::now();
    let pairs = DEB.generate(DPKG_PAIRS);
    let (first, second) = pairs.split_at(pairs.len() / 2);
    let oracle = std::thread::scope(|s| {
        let one = s.spawn(|| dpkg_compare(first));
        let mut answers = dpkg_compare(second);
        let mut all = one.join().expect("dpkg batch");
        all.append(&mut answers);
        all
    });
    check(Kind::Deb, &pairs, &oracle, started);
}

#[test]
fn rpm_ordering_matches_rpm_on_generated_pairs() {
    let started = Instant::now();
    let pairs = RPM.generate(RPM_PAIRS);
    let oracle = rpm_compare(&pairs);
    check(Kind::Rpm, &pairs, &oracle, started);
}

/// The oracles themselves on the classic cases, so a broken harness (wrong sign, swapped
/// arguments) cannot pass silently.
#[test]
fn oracles_agree_on_known_cases() {
    let deb = [
        ("1.0~rc1", "1.0"),
        ("1.0", "1.0+b1"),
        ("2.0", "1:0.1"),
        ("1.0-1", "1.0-1.1"),
    ];
    let pairs: Vec<_> = deb
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(dpkg_compare(&pairs), vec![Ordering::Less; 4]);
    let rpm = [
        ("1.0~rc1", "1.0"),
        ("1.0", "1.0^"),
        ("2.0a", "2.0.1"),
        ("1.0", "1.0-1"),
        ("1.01", "1.1"),
    ];
    let pairs: Vec<_> = rpm
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let want = [
        Ordering::Less,
        Ordering::Less,
        Ordering::Less,
        Ordering::Less,
        Ordering::Equal,
    ];
    assert_eq!(rpm_compare(&pairs), want);
}

fn any_text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        4 => select(&['0', '1', '9', 'a', 'Z', '.', '+', '~', '^', '-', ':', '_'][..]),
        1 => any::<char>(),
    ];
    prop::collection::vec(chars, 0..40).prop_map(|c| c.into_iter().collect())
}

proptest! {
    /// Whatever the input, parsing returns; and what parses prints back unchanged.
    #[test]
    fn parsing_never_panics_and_round_trips(text in any_text()) {
        for kind in [Kind::Deb, Kind::Rpm] {
            if let Ok(v) = Version::parse(kind, &text) {
                prop_assert_eq!(v.to_string(), text.clone());
                prop_assert!(!text.chars().any(|c| c.is_whitespace() || !c.is_ascii()));
            }
        }
    }

    /// `Ord` is a total order on both kinds: antisymmetric and transitive on near-equal
    /// triples (a sort would panic or misbehave otherwise).
    #[test]
    fn orderings_are_total(a in DEB.pairs(), c in DEB.parts(), r in RPM.pairs(), t in RPM.parts()) {
        let d = |s: &str| DebVersion::parse(s).expect("generated deb version");
        let (x, y, z) = (d(&a.0), d(&a.1), d(&DEB.render(&c)));
        check_total(&x, &y, &z)?;
        let p = |s: &str| RpmVersion::parse(s).expect("generated rpm version");
        let (x, y, z) = (p(&r.0), p(&r.1), p(&RPM.render(&t)));
        check_total(&x, &y, &z)?;
    }
}

fn check_total<T: Ord + std::fmt::Display>(x: &T, y: &T, z: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(x.cmp(y), y.cmp(x).reverse(), "{} vs {}", x, y);
    let mut v = [x, y, z];
    v.sort();
    prop_assert!(
        v[0] <= v[1] && v[1] <= v[2] && v[0] <= v[2],
        "{} {} {}",
        v[0],
        v[1],
        v[2]
    );
    Ok(())
}
