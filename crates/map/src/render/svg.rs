//! The SVG drawing, from the layered layout. Self-contained (no stylesheet, no script, no
//! external reference): it can be written to a file, embedded in a page or served as is.
//!
//! Structure, for whoever reads it back (tests, a dashboard): tier boxes are
//! `<g class="group …" id="group-K">`, edges `<g class="edge KIND …" id="edge-E">` (E the
//! edge's index in the map), nodes `<g class="node …" id="node-N">` (N the node's index),
//! each with a `<title>` holding the full text; the legend is `<g class="legend">`.

use super::{BLUE, GREY, INK, RED, status_colours};
use crate::escape::{clean, xml};
use crate::layout::{self, EdgePath, GroupKind, Layout, Point};
use crate::model::{Edge, EdgeKind, Map, Mark, Node, Status};
use crate::text::{self, CHAR_W};
use std::fmt::Write as _;

/// Height of the legend line below the drawing.
const LEGEND_H: f64 = 30.0;
/// Width of one legend character (11 px font).
const LEGEND_CHAR_W: f64 = 6.6;
/// Height of a line of text in a box.
const LINE_H: f64 = 16.0;
/// Opacity of a dimmed component or edge.
const DIM: &str = "0.35";

/// The map drawn as SVG, laid out by [`layout::layered`].
pub fn svg(map: &Map) -> String {
    svg_with_layout(map, &layout::layered(map))
}

/// The map drawn as SVG with a layout computed beforehand by [`layout::layered`] for the
/// same map (a layout of another map draws what matches and leaves out the rest).
pub fn svg_with_layout(map: &Map, layout: &Layout) -> String {
    let legend = legend_items(map);
    let legend_w: f64 = legend.iter().map(|(_, t)| item_width(t)).sum::<f64>() + 40.0;
    let empty = map.nodes.is_empty();
    let width = layout
        .width
        .max(legend_w)
        .max(if empty { 240.0 } else { 0.0 });
    let height = layout.height
        + if legend.is_empty() && !empty {
            0.0
        } else {
            LEGEND_H
        };
    let mut s = String::with_capacity(1024 + 600 * map.nodes.len() + 300 * map.edges.len());
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.1}" height="{height:.1}" viewBox="0 0 {width:.1} {height:.1}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace" font-size="12" role="img">"#
    );
    s.push_str("<title>dependency map</title>\n");
    defs(&mut s);
    if empty {
        let _ = writeln!(
            s,
            r#"<text x="20.0" y="30.0" fill="{INK}">no components</text>"#
        );
    }
    s.push_str("<g class=\"groups\">\n");
    for (k, g) in layout.groups.iter().enumerate() {
        group(&mut s, k, g);
    }
    s.push_str("</g>\n<g class=\"edges\">\n");
    let resolved = map.resolved_edges();
    for path in &layout.edges {
        let (Some(e), Some(Some((from, to)))) = (map.edges.get(path.edge), resolved.get(path.edge))
        else {
            continue;
        };
        let dimmed = [from, to]
            .iter()
            .any(|&&i| map.nodes[i].mark == Mark::Dimmed);
        edge(&mut s, e, path, dimmed);
    }
    s.push_str("</g>\n<g class=\"nodes\">\n");
    for (i, (n, node_box)) in map.nodes.iter().zip(&layout.nodes).enumerate() {
        node(&mut s, n, layout.box_chars, i, node_box);
    }
    s.push_str("</g>\n");
    if !legend.is_empty() {
        draw_legend(&mut s, &legend, layout.height);
    }
    s.push_str("</svg>\n");
    s
}

fn defs(s: &mut String) {
    s.push_str("<defs>\n");
    for (kind, colour) in [
        (EdgeKind::Declared, INK),
        (EdgeKind::Undeclared, RED),
        (EdgeKind::Unobserved, GREY),
    ] {
        let _ = writeln!(
            s,
            r#"<marker id="arrow-{}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>"#,
            kind.name()
        );
    }
    s.push_str("</defs>\n");
}

fn group(s: &mut String, k: usize, g: &layout::GroupBox) {
    let r = &g.rect;
    let (class, fill, dash) = match g.kind {
        GroupKind::Tier(_) => ("group tier", "#f8f9fa", ""),
        GroupKind::External => ("group external", "#fffbf0", r#" stroke-dasharray="6 4""#),
    };
    let title = match &g.kind {
        GroupKind::Tier(t) => format!("tier: {}", xml(t)),
        GroupKind::External => "external components".to_owned(),
    };
    let room = ((r.w - 20.0) / CHAR_W).floor().max(1.0) as usize;
    let label = xml(&text::truncate(&clean(g.kind.label()), room));
    let _ = writeln!(
        s,
        r##"<g class="{class}" id="group-{k}"><title>{title}</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="10" fill="{fill}" stroke="#dadce0"{dash}/><text x="{:.1}" y="{:.1}" font-weight="bold" fill="{INK}">{label}</text></g>"##,
        r.x,
        r.y,
        r.w,
        r.h,
        r.x + 10.0,
        r.y + 16.0,
    );
}

fn edge(s: &mut String, e: &Edge, path: &EdgePath, dimmed: bool) {
    let (colour, dash, width) = match path.kind {
        EdgeKind::Declared => (INK, "", 1.4),
        EdgeKind::Undeclared => (RED, r#" stroke-dasharray="6 4""#, 1.6),
        EdgeKind::Unobserved => (GREY, r#" stroke-dasharray="2 4""#, 1.4),
    };
    let opacity = if dimmed {
        format!(r#" opacity="{DIM}""#)
    } else {
        String::new()
    };
    let note = match path.kind {
        EdgeKind::Declared => "",
        EdgeKind::Undeclared => " (undeclared: seen live, not in depends_on)",
        EdgeKind::Unobserved => " (unobserved: declared, never seen live)",
    };
    let _ = write!(
        s,
        r#"<g class="edge {}{}" id="edge-{}"{opacity}><title>{} → {}{note}</title><path d="{}" fill="none" stroke="{colour}" stroke-width="{width}"{dash} marker-end="url(#arrow-{})"/>"#,
        path.kind.name(),
        if path.reversed { " reversed" } else { "" },
        path.edge,
        xml(&e.from),
        xml(&e.to),
        path_data(&path.points),
        path.kind.name(),
    );
    if path.kind == EdgeKind::Undeclared
        && let [a, b, ..] = path.points.as_slice()
    {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="{RED}" stroke="#ffffff" stroke-width="3" paint-order="stroke">undeclared</text>"##,
            (a.x + b.x) / 2.0,
            (a.y + b.y) / 2.0 + 3.0,
        );
    }
    s.push_str("</g>\n");
}

/// SVG path data through `points`: straight where a run is vertical or horizontal, a
/// cubic curve with vertical tangents where it slants (its control points stay within the
/// run's bounding box, so the curve does too).
fn path_data(points: &[Point]) -> String {
    let mut d = String::new();
    let Some(first) = points.first() else {
        return d;
    };
    let _ = write!(d, "M{:.1},{:.1}", first.x, first.y);
    for w in points.windows(2) {
        let (p, q) = (w[0], w[1]);
        if (p.x - q.x).abs() < 0.05 || (p.y - q.y).abs() < 0.05 {
            let _ = write!(d, " L{:.1},{:.1}", q.x, q.y);
        } else {
            let mid = (p.y + q.y) / 2.0;
            let _ = write!(
                d,
                " C{:.1},{mid:.1} {:.1},{mid:.1} {:.1},{:.1}",
                p.x, q.x, q.x, q.y
            );
        }
    }
    d
}

fn node(s: &mut String, n: &Node, box_chars: usize, i: usize, node_box: &layout::NodeBox) {
    let r = &node_box.rect;
    let (fill, mut stroke) = status_colours(n);
    let mut stroke_width = 1.2;
    match n.mark {
        Mark::Focus => (stroke, stroke_width) = (BLUE, 3.0),
        Mark::Highlighted => (stroke, stroke_width) = (BLUE, 2.0),
        Mark::Normal | Mark::Dimmed => {}
    }
    if n.suspect {
        (stroke, stroke_width) = (RED, 4.0);
    }
    let mut class = String::from("node");
    if n.external {
        class.push_str(" external");
    }
    if let Some(status) = n.status {
        let _ = write!(class, " status-{}", status.name());
    }
    if n.suspect {
        class.push_str(" suspect");
    }
    if n.mark != Mark::Normal {
        let _ = write!(class, " mark-{}", n.mark.name());
    }
    let opacity = if n.mark == Mark::Dimmed {
        format!(r#" opacity="{DIM}""#)
    } else {
        String::new()
    };
    let dash = if n.external {
        r#" stroke-dasharray="5 3""#
    } else {
        ""
    };
    let _ = write!(
        s,
        r#"<g class="{class}" id="node-{i}"{opacity}><title>{}</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"{dash}/>"#,
        title(n),
        r.x,
        r.y,
        r.w,
        r.h,
    );
    let lines = text::node_lines(n, box_chars);
    let top = r.y + (r.h - lines.len() as f64 * LINE_H) / 2.0 + 12.0;
    let cx = r.x + r.w / 2.0;
    for (k, line) in lines.iter().enumerate() {
        let y = top + k as f64 * LINE_H;
        let style = match k {
            0 => r##" font-weight="bold" fill="#202124""##.to_owned(),
            1 if !n.hosts.is_empty() => format!(r#" fill="{INK}""#),
            _ => format!(
                r#" font-size="11" fill="{}""#,
                if n.suspect || n.status == Some(Status::Fail) {
                    RED
                } else {
                    INK
                }
            ),
        };
        let _ = write!(
            s,
            r#"<text x="{cx:.1}" y="{y:.1}" text-anchor="middle"{style}>{}</text>"#,
            xml(line)
        );
    }
    s.push_str("</g>\n");
}

/// A node's tooltip: its full name and everything known about it, one fact per line.
fn title(n: &Node) -> String {
    let mut lines = vec![xml(&n.name)];
    if n.external {
        lines.push("external".to_owned());
    } else if let Some(t) = &n.tier {
        lines.push(format!("tier: {}", xml(t)));
    }
    if !n.hosts.is_empty() {
        let hosts: Vec<String> = n.hosts.iter().map(|h| xml(h)).collect();
        lines.push(format!("hosts: {}", hosts.join(", ")));
    }
    if let Some(d) = &n.description {
        lines.push(xml(d));
    }
    if let Some(status) = n.status {
        lines.push(format!("status: {}", status.name()));
    }
    if n.suspect {
        lines.push("root suspect".to_owned());
    }
    lines.join("\n")
}

/// What the legend explains: the edge kinds and statuses the map uses, and suspects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swatch {
    Edge(EdgeKind),
    Status(Status),
    Suspect,
}

fn legend_items(map: &Map) -> Vec<(Swatch, &'static str)> {
    let mut items = Vec::new();
    for (kind, text) in [
        (EdgeKind::Declared, "depends on"),
        (
            EdgeKind::Undeclared,
            "undeclared: seen live, not in depends_on",
        ),
        (
            EdgeKind::Unobserved,
            "unobserved: declared, never seen live",
        ),
    ] {
        if map.edges.iter().any(|e| e.kind == kind) {
            items.push((Swatch::Edge(kind), text));
        }
    }
    for status in [
        Status::Pass,
        Status::Degraded,
        Status::Fail,
        Status::Unknown,
    ] {
        if map.nodes.iter().any(|n| n.status == Some(status)) {
            items.push((Swatch::Status(status), status.name()));
        }
    }
    if map.nodes.iter().any(|n| n.suspect) {
        items.push((Swatch::Suspect, "root suspect"));
    }
    items
}

/// Width of one legend entry: its swatch, its text, and the space after it.
fn item_width(text: &str) -> f64 {
    34.0 + text.chars().count() as f64 * LEGEND_CHAR_W + 18.0
}

fn draw_legend(s: &mut String, items: &[(Swatch, &'static str)], top: f64) {
    let y = top + LEGEND_H / 2.0;
    let mut x = 20.0;
    s.push_str("<g class=\"legend\" font-size=\"11\">\n");
    for &(swatch, text) in items {
        match swatch {
            Swatch::Edge(kind) => {
                let (colour, dash) = match kind {
                    EdgeKind::Declared => (INK, ""),
                    EdgeKind::Undeclared => (RED, r#" stroke-dasharray="6 4""#),
                    EdgeKind::Unobserved => (GREY, r#" stroke-dasharray="2 4""#),
                };
                let _ = write!(
                    s,
                    r#"<path d="M{x:.1},{y:.1} L{:.1},{y:.1}" stroke="{colour}" stroke-width="1.4"{dash} marker-end="url(#arrow-{})"/>"#,
                    x + 28.0,
                    kind.name()
                );
            }
            Swatch::Status(status) => {
                let node = Node {
                    status: Some(status),
                    ..Node::new("")
                };
                let (fill, stroke) = status_colours(&node);
                let _ = write!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="24" height="12" rx="3" fill="{fill}" stroke="{stroke}"/>"#,
                    x + 2.0,
                    y - 6.0
                );
            }
            Swatch::Suspect => {
                let _ = write!(
                    s,
                    r##"<rect x="{:.1}" y="{:.1}" width="24" height="12" rx="3" fill="#ffffff" stroke="{RED}" stroke-width="3"/>"##,
                    x + 2.0,
                    y - 6.0
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" fill="{INK}">{text}</text>"#,
            x + 34.0,
            y + 4.0
        );
        x += item_width(text);
    }
    s.push_str("</g>\n");
}
