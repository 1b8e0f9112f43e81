//! Shared maps and the geometry check every layout must pass.

use fearless_map::escape::clean;
use fearless_map::layout::{GroupKind, Layout, Rect};
use fearless_map::{Edge, EdgeKind, Map, Node};

/// A component of a tier, with hosts.
pub(crate) fn node(name: &str, tier: &str, hosts: &[&str]) -> Node {
    Node {
        tier: Some(tier.to_owned()),
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        ..Node::new(name)
    }
}

/// The lab's shop: web (checkout → orders-api), api (orders-api → ledger,
/// orders-api → rabbitmq undeclared), data (ledger → payments, external).
pub(crate) fn lab() -> Map {
    Map {
        nodes: vec![
            node("checkout", "web", &["web-1", "web-2"]),
            node("orders-api", "api", &["api-1"]),
            node("ledger", "data", &["db-1"]),
            node("rabbitmq", "data", &["mq-1"]),
            Node {
                external: true,
                description: Some("the payment provider".to_owned()),
                ..Node::new("payments")
            },
        ],
        edges: vec![
            Edge::new("checkout", "orders-api", EdgeKind::Declared),
            Edge::new("orders-api", "ledger", EdgeKind::Declared),
            Edge::new("orders-api", "rabbitmq", EdgeKind::Undeclared),
            Edge::new("ledger", "payments", EdgeKind::Declared),
        ],
    }
}

/// The `viewBox` of an SVG document: width and height (it must start at 0 0).
pub(crate) fn view_box(svg: &str) -> Result<(f64, f64), String> {
    let doc = roxmltree::Document::parse(svg).map_err(|e| format!("SVG is not XML: {e}"))?;
    let vb = doc
        .root_element()
        .attribute("viewBox")
        .ok_or("no viewBox")?;
    let v: Vec<f64> = vb
        .split_whitespace()
        .map(|x| x.parse::<f64>().map_err(|e| format!("viewBox {vb:?}: {e}")))
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [0.0, 0.0, w, h] => Ok((*w, *h)),
        _ => Err(format!("viewBox {vb:?} does not start at 0 0")),
    }
}

/// Whether the segment `a`–`b` meets the closed rectangle `r` (Liang–Barsky clipping).
pub(crate) fn segment_meets(a: (f64, f64), b: (f64, f64), r: &Rect) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [
        (-dx, a.0 - r.x),
        (dx, r.right() - a.0),
        (-dy, a.1 - r.y),
        (dy, r.bottom() - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

fn shrink(r: &Rect, by: f64) -> Rect {
    Rect {
        x: r.x + by,
        y: r.y + by,
        w: (r.w - 2.0 * by).max(0.0),
        h: (r.h - 2.0 * by).max(0.0),
    }
}

fn finite(r: &Rect) -> bool {
    [r.x, r.y, r.w, r.h].iter().all(|v| v.is_finite())
}

/// Every invariant of a layout and its SVG, or the first one broken.
pub(crate) fn check_geometry(map: &Map, layout: &Layout, svg: &str) -> Result<(), String> {
    let (vw, vh) = view_box(svg)?;
    let inside = |x: f64, y: f64| {
        x.is_finite() && y.is_finite() && (0.0..=vw).contains(&x) && (0.0..=vh).contains(&y)
    };
    let rect_inside = |r: &Rect| finite(r) && inside(r.x, r.y) && inside(r.right(), r.bottom());
    if layout.nodes.len() != map.nodes.len() {
        return Err(format!(
            "{} boxes for {} nodes",
            layout.nodes.len(),
            map.nodes.len()
        ));
    }
    for (i, b) in layout.nodes.iter().enumerate() {
        if !rect_inside(&b.rect) || b.rect.w <= 0.0 || b.rect.h <= 0.0 {
            return Err(format!(
                "node {i} box {:?} outside the {vw}×{vh} viewBox",
                b.rect
            ));
        }
    }
    for g in &layout.groups {
        if !rect_inside(&g.rect) {
            return Err(format!(
                "group {:?} box {:?} outside the viewBox",
                g.kind, g.rect
            ));
        }
    }
    // No two node boxes overlap.
    let mut order: Vec<usize> = (0..layout.nodes.len()).collect();
    order.sort_by(|&a, &b| layout.nodes[a].rect.x.total_cmp(&layout.nodes[b].rect.x));
    for (k, &a) in order.iter().enumerate() {
        let ra = &layout.nodes[a].rect;
        for &b in &order[k + 1..] {
            let rb = &layout.nodes[b].rect;
            if rb.x >= ra.right() {
                break;
            }
            if ra.overlaps(rb) {
                return Err(format!("boxes of {a} and {b} overlap: {ra:?} {rb:?}"));
            }
        }
    }
    // No two group boxes overlap.
    for (k, a) in layout.groups.iter().enumerate() {
        for b in &layout.groups[k + 1..] {
            if a.rect.overlaps(&b.rect) {
                return Err(format!(
                    "group boxes {:?} and {:?} overlap: {:?} {:?}",
                    a.kind, b.kind, a.rect, b.rect
                ));
            }
        }
    }
    // Every node in its group's box, in the right group; untiered nodes in none.
    let mut group_of = vec![None; map.nodes.len()];
    for (k, g) in layout.groups.iter().enumerate() {
        for &m in &g.members {
            if !g.rect.contains(&layout.nodes[m].rect) {
                return Err(format!(
                    "node {m} {:?} outside its group box {:?} {:?}",
                    layout.nodes[m].rect, g.kind, g.rect
                ));
            }
            group_of[m] = Some(k);
        }
    }
    for (i, n) in map.nodes.iter().enumerate() {
        let expected = if n.external {
            Some(GroupKind::External)
        } else {
            n.tier.clone().map(GroupKind::Tier)
        };
        let actual = group_of[i].map(|k| layout.groups[k].kind.clone());
        if expected != actual {
            return Err(format!(
                "node {i} is in group {actual:?}, expected {expected:?}"
            ));
        }
        for (k, g) in layout.groups.iter().enumerate() {
            if group_of[i] != Some(k) && g.rect.overlaps(&layout.nodes[i].rect) {
                return Err(format!(
                    "node {i} lies in the box of group {:?}, not its own",
                    g.kind
                ));
            }
        }
    }
    // Edges: from their own box's border to the other's, never through any other box.
    let index = |name: &str| map.nodes.iter().position(|n| n.name == name);
    for path in &layout.edges {
        let e = &map.edges[path.edge];
        let (Some(from), Some(to)) = (index(&e.from), index(&e.to)) else {
            return Err(format!(
                "edge {} has a path but an unknown endpoint",
                path.edge
            ));
        };
        let (first, last) = match (path.points.first(), path.points.last()) {
            (Some(f), Some(l)) if path.points.len() >= 2 => (f, l),
            _ => return Err(format!("edge {} has fewer than two points", path.edge)),
        };
        for p in &path.points {
            if !inside(p.x, p.y) {
                return Err(format!(
                    "edge {} point {p:?} outside the viewBox",
                    path.edge
                ));
            }
        }
        let on_border = |r: &Rect, x: f64, y: f64| {
            let near = |a: f64, b: f64| (a - b).abs() < 0.5;
            (x >= r.x - 0.5 && x <= r.right() + 0.5 && (near(y, r.y) || near(y, r.bottom())))
                || (y >= r.y - 0.5 && y <= r.bottom() + 0.5 && (near(x, r.x) || near(x, r.right())))
        };
        if !on_border(&layout.nodes[from].rect, first.x, first.y)
            || !on_border(&layout.nodes[to].rect, last.x, last.y)
        {
            return Err(format!(
                "edge {} does not run from border to border: {:?}",
                path.edge, path.points
            ));
        }
        for w in path.points.windows(2) {
            let (a, b) = ((w[0].x, w[0].y), (w[1].x, w[1].y));
            for (i, nb) in layout.nodes.iter().enumerate() {
                if i == from || i == to {
                    continue;
                }
                if segment_meets(a, b, &shrink(&nb.rect, 1.0)) {
                    return Err(format!(
                        "edge {} ({} → {}) segment {a:?}–{b:?} crosses the box of {} {:?}",
                        path.edge,
                        clean(&e.from),
                        clean(&e.to),
                        clean(&map.nodes[i].name),
                        nb.rect
                    ));
                }
            }
        }
    }
    let drawable = map
        .edges
        .iter()
        .filter(|e| index(&e.from).is_some() && index(&e.to).is_some())
        .count();
    if drawable != layout.edges.len() {
        return Err(format!(
            "{} paths for {drawable} drawable edges",
            layout.edges.len()
        ));
    }
    Ok(())
}
