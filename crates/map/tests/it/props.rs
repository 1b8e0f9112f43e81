//! Property tests over random maps (up to 40 components, random tiers, some external or
//! untiered, declared edges acyclic, undeclared ones anywhere, names with any characters):
//! every layout keeps the geometry invariants, and every renderer gives the same bytes for
//! the same map.

use crate::common::check_geometry;
use fearless_map::{Edge, EdgeKind, Map, Node, layered, svg_with_layout};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        rng_seed: RngSeed::Fixed(0x6d61_7073),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Per node: tier (0..5, 5 = none), external, a random name suffix; per edge: two picks
/// and a kind.
fn random_map() -> impl Strategy<Value = Map> {
    (1usize..=40)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(
                    (
                        0u8..6,
                        prop::bool::weighted(0.1),
                        prop::collection::vec(any::<char>(), 0..6),
                    ),
                    n,
                ),
                prop::collection::vec((any::<u16>(), any::<u16>(), 0u8..10), 0..3 * n),
            )
        })
        .prop_map(|(nodes, edges)| {
            let n = nodes.len();
            let names: Vec<String> = nodes
                .iter()
                .enumerate()
                .map(|(i, (_, _, suffix))| format!("c{i}-{}", suffix.iter().collect::<String>()))
                .collect();
            let nodes = nodes
                .into_iter()
                .zip(&names)
                .map(|((tier, external, _), name)| Node {
                    tier: (tier < 5).then(|| {
                        ["web", "api", "data", "jobs", "infra"][usize::from(tier)].to_owned()
                    }),
                    external,
                    hosts: vec![format!("{name}-host")],
                    ..Node::new(name.clone())
                })
                .collect();
            let mut seen = std::collections::HashSet::new();
            let edges = edges
                .into_iter()
                .filter_map(|(a, b, k)| {
                    let (a, b) = (usize::from(a) % n, usize::from(b) % n);
                    let kind = match k {
                        0..=1 => EdgeKind::Undeclared,
                        2 => EdgeKind::Unobserved,
                        _ => EdgeKind::Declared,
                    };
                    // Declared edges go down the list (acyclic); undeclared ones anywhere.
                    let (from, to) = if kind == EdgeKind::Undeclared {
                        (a, b)
                    } else {
                        (a.min(b), a.max(b))
                    };
                    (from != to && seen.insert((from, to)))
                        .then(|| Edge::new(names[from].clone(), names[to].clone(), kind))
                })
                .collect();
            Map { nodes, edges }
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_layout_keeps_its_invariants(map in random_map()) {
        prop_assert!(map.validate().is_ok(), "{:?}", map.validate());
        let layout = layered(&map);
        let svg = svg_with_layout(&map, &layout);
        if let Err(e) = check_geometry(&map, &layout, &svg) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn every_renderer_is_deterministic(map in random_map()) {
        prop_assert_eq!(fearless_map::svg(&map), fearless_map::svg(&map));
        prop_assert_eq!(fearless_map::dot(&map), fearless_map::dot(&map));
        prop_assert_eq!(fearless_map::mermaid(&map), fearless_map::mermaid(&map));
        prop_assert_eq!(fearless_map::json(&map), fearless_map::json(&map));
        prop_assert_eq!(fearless_map::human(&map), fearless_map::human(&map));
        // And a fresh copy of the map (no state anywhere) draws the same bytes.
        let copy: Map = serde_json::from_str(&fearless_map::json(&map)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(fearless_map::svg(&copy), fearless_map::svg(&map));
    }
}
