//! Graphviz DOT: one cluster per tier, one for the external components, edge styles per
//! kind. Node ids are `n0`, `n1`, … (the node's index), never its name, so no two names
//! can collide once escaped; the name is the label. Every id, label and attribute value is
//! double-quoted and escaped.

use super::{BLUE, GREY, INK, RED, SectionKind, sections, status_colours};
use crate::escape::dot as q;
use crate::model::{EdgeKind, Map, Mark, Node};
use crate::text;
use std::fmt::Write as _;

/// Characters of a hosts line in a DOT label (Graphviz sizes its boxes to fit).
const HOSTS_CHARS: usize = 60;

/// The map as a Graphviz digraph (`dot -Tsvg` draws it).
pub fn dot(map: &Map) -> String {
    let mut s = String::from("digraph \"map\" {\n");
    s.push_str(
        "  graph [rankdir=\"TB\", fontname=\"monospace\", fontsize=\"12\", newrank=\"true\", nodesep=\"0.4\", ranksep=\"0.6\"];\n",
    );
    let _ = writeln!(
        s,
        "  node [shape=\"box\", style=\"rounded\", fontname=\"monospace\", fontsize=\"12\", color=\"{INK}\"];"
    );
    let _ = writeln!(
        s,
        "  edge [fontname=\"monospace\", fontsize=\"10\", color=\"{INK}\"];"
    );
    let mut tier_cluster = 0;
    for (kind, members) in sections(map) {
        let (id, label, style) = match kind {
            SectionKind::Tier(t) => {
                tier_cluster += 1;
                (format!("cluster_{}", tier_cluster - 1), q(t), "rounded")
            }
            SectionKind::External => (
                "cluster_external".to_owned(),
                "external".to_owned(),
                "rounded,dashed",
            ),
            SectionKind::Untiered => {
                for i in members {
                    node(&mut s, "  ", i, &map.nodes[i]);
                }
                continue;
            }
        };
        let _ = writeln!(s, "  subgraph \"{id}\" {{");
        let _ = writeln!(
            s,
            "    graph [label=\"{label}\", style=\"{style}\", color=\"#dadce0\", fontcolor=\"{INK}\"];"
        );
        for i in members {
            node(&mut s, "    ", i, &map.nodes[i]);
        }
        s.push_str("  }\n");
    }
    for (edge, ends) in map.edges.iter().zip(map.resolved_edges()) {
        let Some((from, to)) = ends else { continue };
        let attrs = match edge.kind {
            EdgeKind::Declared => String::new(),
            EdgeKind::Undeclared => format!(
                " [style=\"dashed\", color=\"{RED}\", fontcolor=\"{RED}\", label=\"undeclared\"]"
            ),
            EdgeKind::Unobserved => format!(" [style=\"dotted\", color=\"{GREY}\"]"),
        };
        let _ = writeln!(s, "  \"n{from}\" -> \"n{to}\"{attrs};");
    }
    s.push_str("}\n");
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
    // `\n` between the (escaped) lines is DOT's own centred line break.
    let mut attrs = vec![format!("label=\"{}\"", label.join("\\n"))];
    if let Some(d) = &n.description {
        attrs.push(format!("tooltip=\"{}\"", q(d)));
    }
    let mut style = vec!["rounded"];
    if n.status.is_some() {
        style.push("filled");
    }
    if n.external {
        style.push("dashed");
    }
    if style.len() > 1 {
        attrs.push(format!("style=\"{}\"", style.join(",")));
    }
    if n.status.is_some() {
        let (fill, stroke) = status_colours(n);
        attrs.push(format!("fillcolor=\"{fill}\""));
        attrs.push(format!("color=\"{stroke}\""));
    }
    let mark = match n.mark {
        Mark::Focus => vec![format!("color=\"{BLUE}\""), "penwidth=\"3\"".to_owned()],
        Mark::Highlighted => vec![format!("color=\"{BLUE}\""), "penwidth=\"2\"".to_owned()],
        Mark::Dimmed => vec![format!("color=\"{GREY}\""), format!("fontcolor=\"{GREY}\"")],
        Mark::Normal => Vec::new(),
    };
    attrs.extend(mark);
    if n.suspect {
        attrs.extend([format!("color=\"{RED}\""), "penwidth=\"4\"".to_owned()]);
    }
    // Later attributes win in DOT; keep only the last of each name for a tidy output.
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<String> = attrs
        .into_iter()
        .rev()
        .filter(|a| seen.insert(a.split('=').next().unwrap_or_default().to_owned()))
        .collect();
    kept.reverse();
    let _ = writeln!(s, "{indent}\"n{i}\" [{}];", kept.join(", "));
}
