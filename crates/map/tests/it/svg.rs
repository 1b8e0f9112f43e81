//! The SVG read back with a real XML parser: one findable group per node, edge and tier,
//! every name present in full.

use crate::common::{check_geometry, lab};
use crate::generate;
use fearless_map::escape::clean;
use fearless_map::{Map, Mark, Status, layered, svg_with_layout};

fn has_class(n: &roxmltree::Node<'_, '_>, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|c| c == class))
}

fn title(n: &roxmltree::Node<'_, '_>) -> String {
    n.children()
        .find(|c| c.has_tag_name("title"))
        .and_then(|t| t.text())
        .unwrap_or_default()
        .to_owned()
}

/// Structure every drawing has, whatever the map.
fn check_structure(map: &Map) {
    let svg = fearless_map::svg(map);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert!(root.has_tag_name(("http://www.w3.org/2000/svg", "svg")));
    let nodes: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && has_class(n, "node"))
        .collect();
    assert_eq!(nodes.len(), map.nodes.len(), "one <g class=node> per node");
    for (i, node) in map.nodes.iter().enumerate() {
        let g = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(&format!("node-{i}")))
            .unwrap_or_else(|| panic!("no element with id node-{i}"));
        assert!(has_class(&g, "node"));
        assert_eq!(g.children().filter(|c| c.has_tag_name("rect")).count(), 1);
        // The full name is the title's first line, even when the box shows it cut.
        assert_eq!(title(&g).lines().next(), Some(clean(&node.name).as_ref()));
    }
    let edges = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && has_class(n, "edge"))
        .count();
    assert_eq!(edges, map.edges.len(), "one <g class=edge> per edge");
    for (k, e) in map.edges.iter().enumerate() {
        let g = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(&format!("edge-{k}")))
            .unwrap_or_else(|| panic!("no element with id edge-{k}"));
        assert!(has_class(&g, e.kind.name()));
        assert!(
            g.descendants()
                .any(|p| p.has_tag_name("path") && p.attribute("marker-end").is_some())
        );
    }
}

#[test]
fn the_lab_map_reads_back_with_every_node_edge_and_tier() {
    let map = lab();
    check_structure(&map);
    let svg = fearless_map::svg(&map);
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    let groups: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && has_class(n, "group"))
        .map(|g| title(&g))
        .collect();
    assert_eq!(
        groups,
        [
            "tier: web",
            "tier: api",
            "tier: data",
            "external components"
        ]
    );
    // Names are also visible as text.
    for name in ["checkout", "orders-api", "ledger", "rabbitmq", "payments"] {
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name("text") && n.text() == Some(name)),
            "{name}"
        );
    }
    // The undeclared edge is labelled, and the legend explains it.
    let undeclared = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("edge-2"))
        .expect("edge-2");
    assert!(
        undeclared
            .descendants()
            .any(|t| t.text() == Some("undeclared"))
    );
    assert!(svg.contains("undeclared: seen live, not in depends_on"));
}

#[test]
fn the_generated_maps_read_back() {
    check_structure(&generate::layered(60, 5, 7));
    check_structure(&generate::layered(500, 6, 11));
}

#[test]
fn long_names_are_cut_in_the_box_and_whole_in_the_title() {
    let long = "a-component-with-a-name-far-too-long-for-any-box-at-all";
    let mut map = lab();
    map.nodes[1].name = long.to_owned();
    map.edges[0].to = long.to_owned();
    map.edges[1].from = long.to_owned();
    map.edges[2].from = long.to_owned();
    check_structure(&map);
    let svg = fearless_map::svg(&map);
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    let g = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("node-1"))
        .expect("node-1");
    let shown = g
        .descendants()
        .find(|n| n.has_tag_name("text"))
        .and_then(|t| t.text())
        .expect("text");
    assert!(
        shown.ends_with('…') && long.starts_with(shown.trim_end_matches('…')),
        "{shown}"
    );
    assert!(title(&g).starts_with(long));
}

#[test]
fn many_hosts_are_elided_in_the_box() {
    let mut map = lab();
    map.nodes[0].hosts = (1..=5).map(|i| format!("web-{i}")).collect();
    let svg = fearless_map::svg(&map);
    assert!(svg.contains(">web-1, web-2 +3</text>"), "{svg}");
    assert!(svg.contains("hosts: web-1, web-2, web-3, web-4, web-5"));
}

#[test]
fn status_suspects_and_marks_are_classes_and_colours() {
    let mut map = lab();
    map.nodes[2].status = Some(Status::Fail);
    map.nodes[2].suspect = true;
    map.nodes[1].status = Some(Status::Degraded);
    map.nodes[0].status = Some(Status::Pass);
    map.focus("ledger", fearless_map::Direction::Impact)
        .expect("known");
    let svg = fearless_map::svg(&map);
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    let node = |i: usize| {
        doc.descendants()
            .find(|n| n.attribute("id") == Some(&format!("node-{i}")))
            .expect("node")
    };
    let ledger = node(2);
    for class in ["status-fail", "suspect", "mark-focus"] {
        assert!(has_class(&ledger, class), "{class}");
    }
    let rect = ledger
        .children()
        .find(|c| c.has_tag_name("rect"))
        .expect("rect");
    assert_eq!(rect.attribute("stroke"), Some("#d93025"));
    assert_eq!(rect.attribute("stroke-width"), Some("4"));
    assert!(
        ledger
            .descendants()
            .any(|t| t.text() == Some("fail · suspect"))
    );
    assert!(has_class(&node(0), "mark-highlighted"));
    assert!(has_class(&node(3), "mark-dimmed"));
    assert_eq!(node(3).attribute("opacity"), Some("0.35"));
    assert_eq!(map.nodes[3].mark, Mark::Dimmed);
}

#[test]
fn an_empty_map_is_a_valid_drawing() {
    let map = Map::default();
    let svg = fearless_map::svg(&map);
    let layout = layered(&map);
    check_geometry(&map, &layout, &svg_with_layout(&map, &layout)).expect("geometry");
    assert!(svg.contains("no components"));
}
