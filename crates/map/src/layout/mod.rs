//! The layered layout: where every box, tier box and arrow of the SVG goes.
//!
//! A Sugiyama-style layout of this crate's own, in four steps, one private module each:
//!
//! 1. `rank` — **layers.** Arrows point down: a component sits above everything it
//!    needs (longest path from the components nothing depends on; a component nothing
//!    depends on then moves down to just above what it needs). Tiers come in bands: when
//!    tier A depends on tier B, all of B is below all of A (tiers are ordered so that as
//!    many edges between tiers as possible point down; tiers that do not depend on each
//!    other may share layers, side by side). Declared edges are acyclic in a valid
//!    config; undeclared edges may close cycles, so the layering reverses the fewest it
//!    can: an edge is reversed only when what is laid before it (the tier bands, then the
//!    declared edges, then the undeclared ones) already leads from its target back to its
//!    source. A reversed edge is still drawn in its own direction, its arrow pointing up.
//!    External components get layers of their own below all the others: the *external
//!    band*.
//! 2. `order` — **order within layers.** An edge spanning several layers gets a dummy
//!    point in each layer it crosses, so it is routed through the gaps between boxes,
//!    never through one. Barycenter sweeps, down and up, a bounded number of times, keep
//!    the order with the fewest crossings. Tiers are kept whole: in every layer a tier's
//!    components are contiguous, and the tiers come in one global order in every layer
//!    (the order is revised between sweeps). A component without a tier never sits inside
//!    a tier's run.
//! 3. `place` — **coordinates.** Every box has the same size (estimated from the longest
//!    line of text, monospace at 7.2 px per character, 12 to 28 characters), layers are
//!    rows at a fixed pitch. Horizontal positions solve a set of separation constraints:
//!    boxes and dummy points of a layer keep their order and their gaps, and each tier
//!    box — the bounding box of its components plus padding, spanning every layer from
//!    its first to its last — keeps a gap to every component and tier box beside it in
//!    any layer it spans. The tightest solution is computed first, then components and
//!    dummy points move toward their neighbours' positions only as far as every
//!    constraint allows.
//! 4. `route` — **arrows.** From the bottom of the upper box to the top of the lower
//!    one, through the dummy points: a vertical run through each crossed layer, a slanted
//!    run through each gap between layers. Ports are spread along the box edge in the
//!    order of the arrows' other ends.
//!
//! **Why tier boxes never overlap.** Two tiers whose layer ranges share a layer both have
//! a block in that layer's order, always in the same relative order, and the constraints
//! keep the left one's box a gap away from the right one's. Two tiers whose layer ranges
//! are disjoint are a whole gap between layers apart vertically, and that gap is wider than
//! two paddings plus a label. The same constraints keep every untiered component outside
//! every tier box.
//!
//! **Why arrows never cross a box.** Slanted runs lie in the gaps between layers, where
//! there are no boxes; vertical runs are at dummy points, which the constraints keep
//! clear of every box of their layer. The SVG draws a slanted run as a cubic curve whose
//! control points stay in the same gap, so the curve does too. A self-loop (not valid,
//! but drawn) is a small loop on the box's right side, narrower than any gap beside it.
//!
//! **Cost.** Roughly linear in nodes plus dummy points per sweep, with a bounded number
//! of sweeps; breaking cycles costs a graph search per edge. A generated map of 500
//! components and 950 edges is laid out in a few milliseconds (release build).

mod order;
mod place;
mod rank;
mod route;

use crate::model::{EdgeKind, Map};
use serde::Serialize;

/// Height of every node box.
const NODE_H: f64 = 58.0;
/// Vertical gap between two layers' rows of boxes.
const LAYER_GAP: f64 = 76.0;
/// Horizontal gap between two boxes of a layer.
const NODE_GAP: f64 = 28.0;
/// Gap between a box and an arrow passing beside it.
const EDGE_GAP: f64 = 14.0;
/// Gap between two arrows passing side by side.
const DUMMY_GAP: f64 = 10.0;
/// Padding between a tier box and the boxes inside it.
const GROUP_PAD: f64 = 14.0;
/// Height of a tier box's label, above its first row of boxes.
const GROUP_LABEL: f64 = 18.0;
/// Gap between a tier box and anything beside it.
const GROUP_GAP: f64 = 18.0;
/// Margin around the drawing.
const MARGIN: f64 = 20.0;
/// How far a self-loop reaches to the right of its box (less than any gap beside it).
const LOOP: f64 = 10.0;

/// A point of the drawing, in SVG user units (pixels), y down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Horizontal, from the left.
    pub x: f64,
    /// Vertical, from the top.
    pub y: f64,
}

/// An axis-aligned rectangle: top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// Whether the interiors of the two rectangles meet (touching edges do not).
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right()
            && other.x < self.right()
            && self.y < other.bottom()
            && other.y < self.bottom()
    }

    /// Whether `other` lies inside this rectangle (edges may touch).
    pub fn contains(&self, other: &Rect) -> bool {
        self.x <= other.x
            && self.y <= other.y
            && other.right() <= self.right()
            && other.bottom() <= self.bottom()
    }
}

/// What a group box stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKind {
    /// The components of one tier (external components excepted).
    Tier(String),
    /// The external components, in their band below the rest.
    External,
}

impl GroupKind {
    /// The group's label: the tier's name, or `external`.
    pub fn label(&self) -> &str {
        match self {
            Self::Tier(t) => t,
            Self::External => "external",
        }
    }
}

/// A node's box.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeBox {
    /// Where it is drawn.
    pub rect: Rect,
    /// Its layer, 0 at the top.
    pub layer: usize,
}

/// A tier's (or the external components') box around its nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupBox {
    /// Which group.
    pub kind: GroupKind,
    /// Where it is drawn; its label sits inside, above the first row.
    pub rect: Rect,
    /// Its nodes, as indices into the map's `nodes`.
    pub members: Vec<usize>,
}

/// One edge's path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgePath {
    /// Index of the edge in the map's `edges`.
    pub edge: usize,
    /// The edge's kind (copied from the map for the renderer's convenience).
    pub kind: EdgeKind,
    /// The polyline, from the `from` box's border to the `to` box's border (the arrowhead
    /// goes at the last point).
    pub points: Vec<Point>,
    /// Whether the edge points up: it closes a cycle, or leads from an external component
    /// back into the environment.
    pub reversed: bool,
}

/// Where everything goes. Node boxes are indexed like the map's nodes; an edge that names
/// an unknown component has no path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layout {
    /// Width of the drawing, margins included. Every coordinate is within `0..=width`.
    pub width: f64,
    /// Height of the drawing, margins included. Every coordinate is within `0..=height`.
    pub height: f64,
    /// Number of layers (rows).
    pub layers: usize,
    /// One box per node, in the map's order.
    pub nodes: Vec<NodeBox>,
    /// One box per tier that has components, then one for the external components if any.
    pub groups: Vec<GroupBox>,
    /// One path per edge whose endpoints exist, in the map's order.
    pub edges: Vec<EdgePath>,
    /// Characters per line in every node box (the box width's basis).
    pub box_chars: usize,
}

/// An edge between two distinct, known nodes.
#[derive(Debug, Clone, Copy)]
struct Link {
    /// Index into the map's edges.
    edge: usize,
    from: usize,
    to: usize,
    kind: EdgeKind,
}

/// A group of nodes for the layout: a drawn tier box (or the external band's box), or a
/// single untiered node (`drawn: None`), which has no box.
#[derive(Debug, Clone)]
struct Group {
    drawn: Option<GroupKind>,
    members: Vec<usize>,
    /// First and last layer of its members.
    lo: usize,
    hi: usize,
}

/// Lay out `map`: layered, top to bottom, tiers boxed, externals in a band below.
/// Deterministic: the same map gives the same layout.
pub fn layered(map: &Map) -> Layout {
    let box_chars = crate::text::box_chars(&map.nodes);
    let node_w = crate::text::box_width(box_chars);
    let mut links = Vec::new();
    let mut self_loops = Vec::new();
    for (edge, ends) in map.resolved_edges().into_iter().enumerate() {
        let Some((from, to)) = ends else { continue };
        let kind = map.edges[edge].kind;
        if from == to {
            self_loops.push(Link {
                edge,
                from,
                to,
                kind,
            });
        } else {
            links.push(Link {
                edge,
                from,
                to,
                kind,
            });
        }
    }

    let layer = rank::layers(map, &links);
    let layers = layer.iter().max().map_or(0, |m| m + 1);
    let (groups, group_of) = groups(map, &layer);
    let mut proper = order::Proper::build(&layer, layers, &links, &groups, &group_of);
    proper.reduce_crossings(&groups);
    let xs = place::place(&proper, &groups, node_w);

    let row_y = |l: usize| MARGIN + GROUP_PAD + GROUP_LABEL + l as f64 * (NODE_H + LAYER_GAP);
    let mut nodes: Vec<NodeBox> = (0..map.nodes.len())
        .map(|i| NodeBox {
            rect: Rect {
                x: xs[i] - node_w / 2.0,
                y: row_y(layer[i]),
                w: node_w,
                h: NODE_H,
            },
            layer: layer[i],
        })
        .collect();
    let mut group_boxes: Vec<GroupBox> = groups
        .iter()
        .filter_map(|g| {
            let kind = g.drawn.clone()?;
            let left = g
                .members
                .iter()
                .map(|&m| nodes[m].rect.x)
                .fold(f64::INFINITY, f64::min);
            let right = g
                .members
                .iter()
                .map(|&m| nodes[m].rect.right())
                .fold(f64::NEG_INFINITY, f64::max);
            let top = row_y(g.lo) - GROUP_PAD - GROUP_LABEL;
            let bottom = row_y(g.hi) + NODE_H + GROUP_PAD;
            Some(GroupBox {
                kind,
                rect: Rect {
                    x: left - GROUP_PAD,
                    y: top,
                    w: right - left + 2.0 * GROUP_PAD,
                    h: bottom - top,
                },
                members: g.members.clone(),
            })
        })
        .collect();
    // Tiers first in order of appearance, the external band's box last.
    group_boxes.sort_by_key(|g| matches!(g.kind, GroupKind::External));
    let mut edges = route::route(&proper, &links, &xs, &nodes, &row_y);
    edges.extend(
        self_loops
            .iter()
            .map(|l| route::self_loop(l, &nodes[l.from].rect)),
    );
    edges.sort_by_key(|e| e.edge);

    // Shift everything so the leftmost ink is one margin from the left.
    let min_x = nodes
        .iter()
        .map(|n| n.rect.x)
        .chain(group_boxes.iter().map(|g| g.rect.x))
        .chain(edges.iter().flat_map(|e| e.points.iter().map(|p| p.x)))
        .fold(f64::INFINITY, f64::min);
    let dx = if min_x.is_finite() {
        MARGIN - min_x
    } else {
        0.0
    };
    for n in &mut nodes {
        n.rect.x += dx;
    }
    for g in &mut group_boxes {
        g.rect.x += dx;
    }
    for p in edges.iter_mut().flat_map(|e| e.points.iter_mut()) {
        p.x += dx;
    }
    let max_x = nodes
        .iter()
        .map(|n| n.rect.right())
        .chain(group_boxes.iter().map(|g| g.rect.right()))
        .chain(edges.iter().flat_map(|e| e.points.iter().map(|p| p.x)))
        .fold(0.0, f64::max);
    let max_y = nodes
        .iter()
        .map(|n| n.rect.bottom())
        .chain(group_boxes.iter().map(|g| g.rect.bottom()))
        .fold(0.0, f64::max);
    Layout {
        width: (max_x + MARGIN).max(2.0 * MARGIN),
        height: (max_y + MARGIN).max(2.0 * MARGIN),
        layers,
        nodes,
        groups: group_boxes,
        edges,
        box_chars,
    }
}

/// The layout's groups, in order of first appearance in the map, and each node's group:
/// one per tier (external nodes excepted), one for the external nodes, one per untiered
/// node.
fn groups(map: &Map, layer: &[usize]) -> (Vec<Group>, Vec<usize>) {
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of = Vec::with_capacity(map.nodes.len());
    let mut tier_group = std::collections::HashMap::new();
    let mut external_group = None;
    for (i, node) in map.nodes.iter().enumerate() {
        let existing = if node.external {
            external_group
        } else {
            node.tier
                .as_ref()
                .and_then(|t| tier_group.get(t.as_str()).copied())
        };
        let g = match existing {
            Some(g) => g,
            None => {
                let drawn = if node.external {
                    Some(GroupKind::External)
                } else {
                    node.tier.clone().map(GroupKind::Tier)
                };
                let g = groups.len();
                match &drawn {
                    Some(GroupKind::External) => external_group = Some(g),
                    Some(GroupKind::Tier(_)) => {
                        if let Some(t) = &node.tier {
                            tier_group.insert(t.as_str(), g);
                        }
                    }
                    None => {}
                }
                groups.push(Group {
                    drawn,
                    members: Vec::new(),
                    lo: layer[i],
                    hi: layer[i],
                });
                g
            }
        };
        let group = &mut groups[g];
        group.members.push(i);
        group.lo = group.lo.min(layer[i]);
        group.hi = group.hi.max(layer[i]);
        group_of.push(g);
    }
    (groups, group_of)
}
