//! A Mermaid flowchart (`flowchart TB`): one subgraph per tier, one for the external
//! components. Ids are sanitised to `n0`, `n1`, … (nodes) and `g0`, `g1`, …, `gx`
//! (subgraphs); labels are double-quoted with `"` written as `#quot;` and Mermaid's other
//! active characters as `#…;` codes. Undeclared edges are dashed, red and labelled,
//! unobserved ones dotted grey (`linkStyle`); statuses, suspects and marks are classes.

use super::{BLUE, GREY, RED, SectionKind, sections};
use crate::escape::mermaid as q;
use crate::model::{EdgeKind, Map, Mark, Node, Status};
use crate::text;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Characters of a hosts line in a label.
const HOSTS_CHARS: usize = 60;

/// The map as a Mermaid flowchart.
pub fn mermaid(map: &Map) -> String {
    let mut s = String::from("flowchart TB\n");
    let mut tier_graph = 0;
    for (kind, members) in sections(map) {
        let (id, label) = match kind {
            SectionKind::Tier(t) => {
                tier_graph += 1;
                (format!("g{}", tier_graph - 1), q(t))
            }
            SectionKind::External => ("gx".to_owned(), "external".to_owned()),
            SectionKind::Untiered => {
                for i in members {
                    node(&mut s, "  ", i, &map.nodes[i]);
                }
                continue;
            }
        };
        let _ = writeln!(s, "  subgraph {id}[\"{label}\"]");
        for i in members {
            node(&mut s, "    ", i, &map.nodes[i]);
        }
        s.push_str("  end\n");
    }
    let mut styled: BTreeMap<EdgeKind, Vec<usize>> = BTreeMap::new();
    let mut index = 0;
    for (edge, ends) in map.edges.iter().zip(map.resolved_edges()) {
        let Some((from, to)) = ends else { continue };
        let arrow = match edge.kind {
            EdgeKind::Declared => "-->",
            EdgeKind::Undeclared => "-.->|\"undeclared\"|",
            EdgeKind::Unobserved => "-.->",
        };
        let _ = writeln!(s, "  n{from} {arrow} n{to}");
        if edge.kind != EdgeKind::Declared {
            styled.entry(edge.kind).or_default().push(index);
        }
        index += 1;
    }
    for (kind, links) in &styled {
        let style = match kind {
            EdgeKind::Undeclared => format!("stroke:{RED},color:{RED},stroke-dasharray:6 4"),
            _ => format!("stroke:{GREY},stroke-dasharray:2 4"),
        };
        let list: Vec<String> = links.iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "  linkStyle {} {style}", list.join(","));
    }
    // Classes in order of precedence (a later definition wins where two set one property):
    // status fill, then the external dash, then marks, then the suspect's red border.
    let mut classes: Vec<(&'static str, Vec<usize>)> =
        CLASSES.iter().map(|&c| (c, Vec::new())).collect();
    for (i, n) in map.nodes.iter().enumerate() {
        for class in node_classes(n) {
            if let Some((_, nodes)) = classes.iter_mut().find(|(c, _)| *c == class) {
                nodes.push(i);
            }
        }
    }
    for (class, nodes) in classes.iter().filter(|(_, nodes)| !nodes.is_empty()) {
        let _ = writeln!(s, "  classDef {class} {}", class_style(class));
        let ids: Vec<String> = nodes.iter().map(|i| format!("n{i}")).collect();
        let _ = writeln!(s, "  class {} {class}", ids.join(","));
    }
    s
}

fn node(s: &mut String, indent: &str, i: usize, n: &Node) {
    let mut label = vec![q(&n.name)];
    if !n.hosts.is_empty() {
        label.push(q(&text::hosts_line(&n.hosts, HOSTS_CHARS)));
    }
    let tags = text::tags(n);
    if !tags.is_empty() {
        label.push(tags.join(" · "));
    }
    let _ = writeln!(s, "{indent}n{i}[\"{}\"]", label.join("<br/>"));
}

/// Every class a node can have, in order of precedence.
const CLASSES: [&str; 9] = [
    "pass",
    "degraded",
    "fail",
    "unknown",
    "external",
    "highlighted",
    "focus",
    "dimmed",
    "suspect",
];

/// A node's classes.
fn node_classes(n: &Node) -> Vec<&'static str> {
    let mut classes = Vec::new();
    if let Some(status) = n.status {
        classes.push(status.name());
    }
    if n.external {
        classes.push("external");
    }
    match n.mark {
        Mark::Normal => {}
        mark => classes.push(mark.name()),
    }
    if n.suspect {
        classes.push("suspect");
    }
    classes
}

fn class_style(class: &str) -> String {
    let status = |s: Status| {
        let node = Node {
            status: Some(s),
            ..Node::new("")
        };
        let (fill, stroke) = super::status_colours(&node);
        format!("fill:{fill},stroke:{stroke}")
    };
    match class {
        "pass" => status(Status::Pass),
        "degraded" => status(Status::Degraded),
        "fail" => status(Status::Fail),
        "unknown" => status(Status::Unknown),
        "external" => "stroke-dasharray:5 3".to_owned(),
        "focus" => format!("stroke:{BLUE},stroke-width:3px"),
        "highlighted" => format!("stroke:{BLUE},stroke-width:2px"),
        "dimmed" => "opacity:0.35".to_owned(),
        _ => format!("stroke:{RED},stroke-width:4px"),
    }
}
