//! The layout's invariants on the lab's shop, a generated 60-component map and a
//! 500-component one: boxes never overlap, tier boxes never overlap, every component lies
//! in its tier's box, no edge crosses a box other than its ends', every coordinate is
//! finite and inside the viewBox. Plus the shape: what needs what is drawn above it, and
//! externals are in a band below everything else.

use crate::common::{check_geometry, lab};
use crate::generate;
use fearless_map::layout::GroupKind;
use fearless_map::{EdgeKind, Map, layered, svg_with_layout};

fn check(map: &Map) -> fearless_map::Layout {
    map.validate().expect("a valid map");
    let layout = layered(map);
    let svg = svg_with_layout(map, &layout);
    if let Err(e) = check_geometry(map, &layout, &svg) {
        panic!("{e}");
    }
    layout
}

fn layer_of(map: &Map, layout: &fearless_map::Layout, name: &str) -> usize {
    layout.nodes[map.position(name).expect("known")].layer
}

#[test]
fn the_lab_map_is_layered_top_down_with_externals_at_the_bottom() {
    let map = lab();
    let layout = check(&map);
    let layer = |n| layer_of(&map, &layout, n);
    assert_eq!(layer("checkout"), 0);
    assert_eq!(layer("orders-api"), 1);
    assert_eq!(layer("ledger"), 2);
    assert_eq!(layer("rabbitmq"), 2);
    assert_eq!(layer("payments"), 3);
    let kinds: Vec<&GroupKind> = layout.groups.iter().map(|g| &g.kind).collect();
    assert_eq!(kinds.last(), Some(&&GroupKind::External));
    // Every arrow points down: it leaves its source's bottom and enters its target's top.
    for path in &layout.edges {
        let (first, last) = (path.points[0], path.points[path.points.len() - 1]);
        assert!(first.y < last.y, "{path:?}");
    }
}

#[test]
fn sixty_components_in_five_tiers() {
    let map = generate::layered(60, 5, 7);
    let layout = check(&map);
    assert_eq!(
        layout
            .groups
            .iter()
            .filter(|g| matches!(g.kind, GroupKind::Tier(_)))
            .count(),
        5
    );
    // Some edges are long: they cross three layers or more through dummy points.
    let long = map
        .edges
        .iter()
        .filter(|e| {
            let (a, b) = (
                layer_of(&map, &layout, &e.from),
                layer_of(&map, &layout, &e.to),
            );
            a.abs_diff(b) >= 3
        })
        .count();
    assert!(long >= 3, "only {long} edges span 3+ layers");
    // Readable on one page: no box is cut narrower than a dozen characters.
    assert!(layout.box_chars >= 12);
}

#[test]
fn five_hundred_components() {
    let map = generate::layered(500, 6, 11);
    let layout = check(&map);
    assert!(layout.layers >= 6);
}

#[test]
fn undeclared_edges_that_close_cycles_point_up_and_still_route_cleanly() {
    let mut map = lab();
    map.edges.push(fearless_map::Edge::new(
        "ledger",
        "checkout",
        EdgeKind::Undeclared,
    ));
    let layout = check(&map);
    let back = layout.edges.iter().find(|p| p.edge == 4).expect("drawn");
    assert!(back.reversed);
    // Drawn in its own direction: from ledger (below) up to checkout.
    assert!(back.points[0].y > back.points[back.points.len() - 1].y);
    assert_eq!(layer_of(&map, &layout, "checkout"), 0);
}

#[test]
fn untiered_components_stay_out_of_tier_boxes() {
    let mut map = generate::layered(60, 5, 3);
    for n in map.nodes.iter_mut().step_by(7) {
        if !n.external {
            n.tier = None;
        }
    }
    check(&map);
}

#[test]
fn the_layout_is_deterministic() {
    let map = generate::layered(120, 5, 5);
    assert_eq!(layered(&map), layered(&map));
}

#[test]
fn self_loops_and_repeated_edges_are_drawn_clear_of_other_boxes() {
    // Not valid maps, but drawn anyway.
    let mut map = generate::layered(40, 4, 9);
    let a = map.nodes[3].name.clone();
    let b = map.nodes[20].name.clone();
    map.edges.push(fearless_map::Edge::new(
        a.clone(),
        a.clone(),
        EdgeKind::Undeclared,
    ));
    map.edges.push(fearless_map::Edge::new(
        a.clone(),
        b.clone(),
        EdgeKind::Declared,
    ));
    map.edges
        .push(fearless_map::Edge::new(a, b, EdgeKind::Declared));
    assert!(map.validate().is_err());
    let layout = layered(&map);
    let svg = svg_with_layout(&map, &layout);
    if let Err(e) = check_geometry(&map, &layout, &svg) {
        panic!("{e}");
    }
}
