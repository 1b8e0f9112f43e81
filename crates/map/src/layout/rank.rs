//! Step 1: each node's layer.
//!
//! **Tiers in bands.** Tiers are ordered so that as many edges between tiers as possible
//! point down (the tier graph's order: a topological one when the tiers depend on each
//! other without cycles, otherwise greedily the tier with the least weight of edges from
//! the remaining tiers first). When tier A depends on tier B directly and A comes first,
//! all of B is layered below all of A. Tiers with no dependency between them may share
//! layers (and are then drawn side by side).
//!
//! **Cycles.** The band constraints are laid first; then declared edges (in map order),
//! then undeclared ones, each kept in its direction unless what is laid already leads
//! from its target back to its source, in which case it is laid reversed (and will be
//! drawn pointing up). So declared edges keep their direction whenever the tiers allow it,
//! and cycles are broken at undeclared edges.
//!
//! **Layers.** The longest path from the top (every node one layer below its lowest
//! predecessor), then each node that nothing depends on moved down to just above the
//! highest thing it needs (so a component no one calls does not dangle from the top with
//! long edges), and empty layers removed. External nodes are layered the same way among
//! themselves, in a band below all the others.

use super::Link;
use crate::model::{EdgeKind, Map};
use std::collections::VecDeque;

/// An edge of the layering graph: target and minimum layer difference (0 or 1).
type Arc = (usize, usize);

/// Each node's layer, 0 at the top; every link joins two different layers.
pub(super) fn layers(map: &Map, links: &[Link]) -> Vec<usize> {
    let n = map.nodes.len();
    let external: Vec<bool> = map.nodes.iter().map(|n| n.external).collect();
    let mut layer = vec![0usize; n];
    let mut base = 0;
    for band in [false, true] {
        let members: Vec<usize> = (0..n).filter(|&i| external[i] == band).collect();
        if members.is_empty() {
            continue;
        }
        let band_links: Vec<&Link> = links
            .iter()
            .filter(|l| external[l.from] == band && external[l.to] == band)
            .collect();
        // External nodes are drawn in one group whatever their tier: no bands among them.
        let tier_of: Vec<Option<&str>> = map
            .nodes
            .iter()
            .map(|node| {
                if band || node.external {
                    None
                } else {
                    node.tier.as_deref()
                }
            })
            .collect();
        let local = layer_band(n, &members, &band_links, &tier_of);
        for &m in &members {
            layer[m] = base + local[m];
        }
        base += members.iter().map(|&m| local[m] + 1).max().unwrap_or(0);
    }
    layer
}

/// Layers (from 0) of `members`, indexed by node; other entries are 0.
fn layer_band(
    n: usize,
    members: &[usize],
    links: &[&Link],
    tier_of: &[Option<&str>],
) -> Vec<usize> {
    // Tiers in order of first appearance, and each member's tier index.
    let mut tiers: Vec<&str> = Vec::new();
    let mut tier = vec![None; n];
    for &m in members {
        if let Some(t) = tier_of[m] {
            let k = tiers.iter().position(|x| *x == t).unwrap_or_else(|| {
                tiers.push(t);
                tiers.len() - 1
            });
            tier[m] = Some(k);
        }
    }
    let t_count = tiers.len();
    // Vertices: nodes, then each tier's top and bottom.
    let top = |t: usize| n + 2 * t;
    let bottom = |t: usize| n + 2 * t + 1;
    let mut out: Vec<Vec<Arc>> = vec![Vec::new(); n + 2 * t_count];
    for &m in members {
        if let Some(t) = tier[m] {
            out[top(t)].push((m, 0));
            out[m].push((bottom(t), 0));
        }
    }
    // The tier graph, weighted by declared edges, and its order.
    let mut weight = vec![vec![0usize; t_count]; t_count];
    for l in links.iter().filter(|l| l.kind != EdgeKind::Undeclared) {
        if let (Some(a), Some(b)) = (tier[l.from], tier[l.to])
            && a != b
        {
            weight[a][b] += 1;
        }
    }
    let position = tier_order(&weight);
    for a in 0..t_count {
        for b in 0..t_count {
            if weight[a][b] > 0 && position[a] < position[b] {
                out[bottom(a)].push((top(b), 1));
            }
        }
    }
    let declared = links.iter().filter(|l| l.kind != EdgeKind::Undeclared);
    let undeclared = links.iter().filter(|l| l.kind == EdgeKind::Undeclared);
    let mut seen = vec![0usize; out.len()];
    let mut stamp = 0;
    for l in declared.chain(undeclared) {
        stamp += 1;
        if reaches(&out, l.to, l.from, &mut seen, stamp) {
            out[l.to].push((l.from, 1));
        } else {
            out[l.from].push((l.to, 1));
        }
    }
    let mut layer = longest_path(&out);
    // Nodes nothing depends on move down to just above what they need.
    let mut has_pred = vec![false; out.len()];
    for (u, arcs) in out.iter().enumerate() {
        if u < n {
            for &(v, _) in arcs {
                has_pred[v] = true;
            }
        }
    }
    for &m in members {
        if !has_pred[m]
            && let Some(lowest) = out[m].iter().map(|&(v, w)| layer[v] - w).min()
        {
            layer[m] = layer[m].max(lowest);
        }
    }
    // Remove empty layers (keeping the order of the rest).
    let mut used: Vec<usize> = members.iter().map(|&m| layer[m]).collect();
    used.sort_unstable();
    used.dedup();
    let mut result = vec![0usize; n];
    for &m in members {
        result[m] = used.binary_search(&layer[m]).unwrap_or(0);
    }
    result
}

/// Each tier's position in an order where edges between tiers point down as much as
/// possible: repeatedly the remaining tier with the least weight of edges from other
/// remaining tiers (ties: the first listed). A topological order when there is one.
fn tier_order(weight: &[Vec<usize>]) -> Vec<usize> {
    let t = weight.len();
    let mut position = vec![usize::MAX; t];
    for p in 0..t {
        let remaining = || (0..t).filter(|&x| position[x] == usize::MAX);
        let incoming = |b: usize| {
            remaining()
                .filter(|&a| a != b)
                .map(|a| weight[a][b])
                .sum::<usize>()
        };
        if let Some(next) = remaining().min_by_key(|&b| (incoming(b), b)) {
            position[next] = p;
        }
    }
    position
}

/// Whether `to` can be reached from `from` along `out`.
fn reaches(out: &[Vec<Arc>], from: usize, to: usize, seen: &mut [usize], stamp: usize) -> bool {
    let mut stack = vec![from];
    seen[from] = stamp;
    while let Some(u) = stack.pop() {
        if u == to {
            return true;
        }
        for &(v, _) in &out[u] {
            if seen[v] != stamp {
                seen[v] = stamp;
                stack.push(v);
            }
        }
    }
    false
}

/// Longest-path layering of an acyclic graph with arc lengths 0 or 1: sources at 0.
fn longest_path(out: &[Vec<Arc>]) -> Vec<usize> {
    let n = out.len();
    let mut indegree = vec![0usize; n];
    for &(v, _) in out.iter().flatten() {
        indegree[v] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(u) = queue.pop_front() {
        for &(v, w) in &out[u] {
            layer[v] = layer[v].max(layer[u] + w);
            indegree[v] -= 1;
            if indegree[v] == 0 {
                queue.push_back(v);
            }
        }
    }
    debug_assert!(
        indegree.iter().all(|&d| d == 0),
        "layering graph has a cycle"
    );
    layer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Edge, Node};

    fn map(
        nodes: &[(&str, Option<&str>, bool)],
        edges: &[(&str, &str, EdgeKind)],
    ) -> (Map, Vec<Link>) {
        let map = Map {
            nodes: nodes
                .iter()
                .map(|(n, tier, ext)| Node {
                    tier: tier.map(str::to_owned),
                    external: *ext,
                    ..Node::new(*n)
                })
                .collect(),
            edges: edges
                .iter()
                .map(|(f, t, k)| Edge::new(*f, *t, *k))
                .collect(),
        };
        let links = map
            .resolved_edges()
            .into_iter()
            .enumerate()
            .filter_map(|(edge, e)| {
                let (from, to) = e?;
                Some(Link {
                    edge,
                    from,
                    to,
                    kind: map.edges[edge].kind,
                })
            })
            .collect();
        (map, links)
    }

    #[test]
    fn a_component_sits_above_what_it_needs_and_externals_below_all() {
        use EdgeKind::*;
        let (m, links) = map(
            &[
                ("web", None, false),
                ("api", None, false),
                ("db", None, false),
                ("pay", None, true),
            ],
            &[
                ("web", "api", Declared),
                ("api", "db", Declared),
                ("web", "pay", Declared),
            ],
        );
        assert_eq!(layers(&m, &links), vec![0, 1, 2, 3]);
    }

    #[test]
    fn an_undeclared_edge_closing_a_cycle_is_the_one_reversed() {
        use EdgeKind::*;
        let (m, links) = map(
            &[("a", None, false), ("b", None, false), ("c", None, false)],
            &[
                ("c", "a", Undeclared),
                ("a", "b", Declared),
                ("b", "c", Declared),
            ],
        );
        assert_eq!(layers(&m, &links), vec![0, 1, 2]);
    }

    #[test]
    fn a_declared_cycle_is_broken_too() {
        use EdgeKind::*;
        let (m, links) = map(
            &[("a", None, false), ("b", None, false)],
            &[("a", "b", Declared), ("b", "a", Declared)],
        );
        let l = layers(&m, &links);
        assert_ne!(l[0], l[1]);
    }

    #[test]
    fn a_tier_that_depends_on_another_is_layered_wholly_above_it() {
        use EdgeKind::*;
        // `cron` (data) is called by no one: it still sits in the data band, not at the top.
        let (m, links) = map(
            &[
                ("shop", Some("web"), false),
                ("db", Some("data"), false),
                ("cron", Some("data"), false),
                ("api", Some("api"), false),
            ],
            &[
                ("shop", "api", Declared),
                ("api", "db", Declared),
                ("cron", "db", Declared),
            ],
        );
        let l = layers(&m, &links);
        assert!(l[0] < l[3] && l[3] < l[1] && l[3] < l[2], "{l:?}");
        assert!(l[2] < l[1]);
    }

    #[test]
    fn a_node_no_one_needs_sits_just_above_what_it_needs() {
        use EdgeKind::*;
        let (m, links) = map(
            &[
                ("a", None, false),
                ("b", None, false),
                ("c", None, false),
                ("lonely", None, false),
            ],
            &[
                ("a", "b", Declared),
                ("b", "c", Declared),
                ("lonely", "c", Declared),
            ],
        );
        assert_eq!(layers(&m, &links), vec![0, 1, 2, 1]);
    }
}
