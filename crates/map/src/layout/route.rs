//! Step 4: each edge's polyline. Out of the bottom of the upper box, a slanted run through
//! each gap between layers, a vertical run at each dummy point through each crossed layer,
//! into the top of the lower box. Where several edges leave (or enter) one box, their
//! ports are spread evenly along its edge, in the order of the edges' next points, so they
//! do not cross at the box.

use super::order::Proper;
use super::{EdgePath, LOOP, Link, NODE_H, NodeBox, Point, Rect};

/// The paths of all links, indexed like `links`.
pub(super) fn route(
    proper: &Proper,
    links: &[Link],
    xs: &[f64],
    nodes: &[NodeBox],
    row_y: &dyn Fn(usize) -> f64,
) -> Vec<EdgePath> {
    // (node, chain) pairs leaving each node downward and entering each node from above,
    // ordered by the x of the chain's next item, then by chain.
    let mut leaving: Vec<Vec<(f64, usize)>> = vec![Vec::new(); nodes.len()];
    let mut entering: Vec<Vec<(f64, usize)>> = vec![Vec::new(); nodes.len()];
    for (c, chain) in proper.chains.iter().enumerate() {
        let items = &chain.items;
        let (Some(&top), Some(&bottom)) = (items.first(), items.last()) else {
            continue;
        };
        if items.len() < 2 {
            continue;
        }
        leaving[top].push((xs[items[1]], c));
        entering[bottom].push((xs[items[items.len() - 2]], c));
    }
    let mut out_port = vec![0.0; proper.chains.len()];
    let mut in_port = vec![0.0; proper.chains.len()];
    for (node, list) in leaving.iter_mut().enumerate() {
        spread(list, &nodes[node].rect, &mut out_port);
    }
    for (node, list) in entering.iter_mut().enumerate() {
        spread(list, &nodes[node].rect, &mut in_port);
    }

    proper
        .chains
        .iter()
        .enumerate()
        .zip(links)
        .map(|((c, chain), link)| {
            let items = &chain.items;
            let top = &nodes[items[0]].rect;
            let bottom = &nodes[items[items.len() - 1]].rect;
            let mut points = Vec::with_capacity(2 * items.len());
            points.push(Point {
                x: out_port[c],
                y: top.bottom(),
            });
            for &d in &items[1..items.len() - 1] {
                let y = row_y(proper.items[d].layer);
                points.push(Point { x: xs[d], y });
                points.push(Point {
                    x: xs[d],
                    y: y + NODE_H,
                });
            }
            points.push(Point {
                x: in_port[c],
                y: bottom.y,
            });
            if chain.reversed {
                points.reverse();
            }
            EdgePath {
                edge: link.edge,
                kind: link.kind,
                points,
                reversed: chain.reversed,
            }
        })
        .collect()
}

/// Give the chains of `list` evenly spread ports along `rect`'s width, in order.
fn spread(list: &mut [(f64, usize)], rect: &Rect, port: &mut [f64]) {
    list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let k = list.len() as f64;
    for (j, &(_, c)) in list.iter().enumerate() {
        port[c] = rect.x + rect.w * (j as f64 + 1.0) / (k + 1.0);
    }
}

/// A self-loop: out of the right side of the box and back in, a little lower.
pub(super) fn self_loop(link: &Link, rect: &Rect) -> EdgePath {
    let (a, b) = (rect.y + rect.h * 0.3, rect.y + rect.h * 0.7);
    let r = rect.right();
    EdgePath {
        edge: link.edge,
        kind: link.kind,
        points: vec![
            Point { x: r, y: a },
            Point { x: r + LOOP, y: a },
            Point { x: r + LOOP, y: b },
            Point { x: r, y: b },
        ],
        reversed: false,
    }
}
