//! Generated maps shaped like real environments, seeded so every run draws the same ones:
//! tiers stacked top to bottom, dependencies mostly into the next tiers, some long ones
//! that skip tiers, a few untiered and external components, a few undeclared edges
//! (some against the grain, closing cycles) and unobserved ones. Shared by the tests and
//! by `examples/map_bench.rs`.

use fearless_map::{Edge, EdgeKind, Map, Node};
use std::collections::HashSet;

/// A small seeded generator (SplitMix64): no dependency, the same numbers everywhere.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const TIERS: [&str; 8] = ["web", "api", "app", "data", "infra", "batch", "edge", "ops"];

/// A map of `n` components in `tiers` tiers (at most 8), about 5 % external and 3 %
/// untiered, each internal component depending on one to three later ones.
pub(crate) fn layered(n: usize, tiers: usize, seed: u64) -> Map {
    let mut rng = Rng::new(seed);
    let tiers = tiers.clamp(1, TIERS.len());
    let externals = (n / 20).max(1).min(n);
    let internal = n - externals;
    let mut nodes = Vec::with_capacity(n);
    // Tier of each internal component: consecutive blocks.
    let tier_of = |i: usize| i * tiers / internal.max(1);
    for i in 0..n {
        let node = if i >= internal {
            Node {
                external: true,
                description: Some("a service outside the environment".to_owned()),
                ..Node::new(format!("ext-{i:03}"))
            }
        } else {
            let tier = TIERS[tier_of(i)];
            let name = format!("{tier}-{i:03}");
            let hosts = (1..=1 + rng.below(6))
                .map(|h| format!("{name}-h{h}"))
                .collect();
            Node {
                tier: (!rng.chance(3)).then(|| tier.to_owned()),
                hosts,
                ..Node::new(name)
            }
        };
        nodes.push(node);
    }
    let mut edges = Vec::new();
    let mut pairs = HashSet::new();
    let mut add = |edges: &mut Vec<Edge>, from: usize, to: usize, kind: EdgeKind| {
        if from != to && pairs.insert((from, to)) {
            edges.push(Edge::new(
                nodes[from].name.clone(),
                nodes[to].name.clone(),
                kind,
            ));
        }
    };
    // First index of each tier, and one past the last internal component.
    let start = |t: usize| (0..internal).find(|&i| tier_of(i) >= t).unwrap_or(internal);
    for i in 0..internal {
        let t = tier_of(i);
        for _ in 0..1 + rng.below(3) {
            let target = if t + 1 >= tiers || rng.chance(8) {
                // The last tier (and a few others) talk to the outside.
                internal + rng.below(externals)
            } else if t + 3 < tiers && rng.chance(15) {
                // A long edge, skipping at least two tiers.
                let lo = start(t + 3);
                lo + rng.below(internal - lo)
            } else if rng.chance(15) && i + 1 < start(t + 1) {
                // Within the tier, to a later component.
                i + 1 + rng.below(start(t + 1) - i - 1)
            } else {
                let (lo, hi) = (start(t + 1), start(t + 2));
                lo + rng.below((hi - lo).max(1))
            };
            let kind = match rng.below(100) {
                0..=6 => EdgeKind::Undeclared,
                7..=14 => EdgeKind::Unobserved,
                _ => EdgeKind::Declared,
            };
            add(&mut edges, i, target.min(n - 1), kind);
        }
        // Now and then traffic against the grain: an undeclared edge closing a cycle.
        if i > 0 && rng.chance(2) {
            add(&mut edges, i, rng.below(i), EdgeKind::Undeclared);
        }
    }
    Map { nodes, edges }
}
