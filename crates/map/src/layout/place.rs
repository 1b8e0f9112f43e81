//! Step 3: horizontal positions, as the solution of separation constraints.
//!
//! Variables are the items' centres and, per drawn group, its box's left and right edges
//! (*fences*). Constraints `x[b] ≥ x[a] + d`:
//! - consecutive items of a layer keep their gap (box–box, box–dummy, dummy–dummy);
//! - a group's fences enclose its nodes with padding;
//! - in each layer, the nearest node before a block stays a gap left of the block's left
//!   fence (through its own group's right fence if it has one), the nearest node after it
//!   a gap right of its right fence, and consecutive blocks keep a gap between fences.
//!
//! Blocks come in one global order in every layer and free nodes sit between blocks, so
//! the constraints form an acyclic graph: the tightest solution is its longest path.
//! Balancing then moves each item toward the mean position of its neighbours in the
//! adjacent layer, as far as the constraints allow given everything else, sweeping down
//! and up. Fences stay tight around their nodes throughout (the box is the bounding box
//! of its nodes), so a node can push its group's fence when nothing beyond the fence
//! forbids it.

use super::order::Proper;
use super::{DUMMY_GAP, EDGE_GAP, GROUP_GAP, GROUP_PAD, Group, NODE_GAP};
use std::collections::VecDeque;

/// Balancing sweeps.
const SWEEPS: usize = 8;

/// The constraint graph: `out[a]` holds `(b, d)` for `x[b] ≥ x[a] + d`, `inn[b]` the same
/// pairs `(a, d)`.
#[derive(Debug)]
struct Constraints {
    out: Vec<Vec<(usize, f64)>>,
    inn: Vec<Vec<(usize, f64)>>,
}

impl Constraints {
    fn new(n: usize) -> Self {
        Self {
            out: vec![Vec::new(); n],
            inn: vec![Vec::new(); n],
        }
    }

    fn add(&mut self, a: usize, b: usize, d: f64) {
        self.out[a].push((b, d));
        self.inn[b].push((a, d));
    }

    /// Drop repeated constraints, keeping the largest gap of each pair.
    fn dedup(&mut self) {
        for list in self.out.iter_mut().chain(self.inn.iter_mut()) {
            list.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
            list.dedup_by_key(|c| c.0);
        }
    }
}

/// The centre of every item of `proper` (nodes first, indexed like the map's nodes).
pub(super) fn place(proper: &Proper, groups: &[Group], node_w: f64) -> Vec<f64> {
    let n = proper.items.len();
    let left = |g: usize| n + 2 * g;
    let right = |g: usize| n + 2 * g + 1;
    let is_node = |i: usize| proper.items[i].node.is_some();
    // A node's drawn group, if it has one (its fences apply to it).
    let member = |i: usize| proper.items[i].node.and(proper.items[i].block);
    let half = node_w / 2.0;

    let mut c = Constraints::new(n + 2 * groups.len());
    for (l, layer) in proper.layers.iter().enumerate() {
        for w in layer.windows(2) {
            let d = match (is_node(w[0]), is_node(w[1])) {
                (true, true) => node_w + NODE_GAP,
                (false, false) => DUMMY_GAP,
                _ => half + EDGE_GAP,
            };
            c.add(w[0], w[1], d);
        }
        for (b, block) in proper.blocks[l].iter().enumerate() {
            let g = block.group;
            if b > 0 {
                c.add(right(proper.blocks[l][b - 1].group), left(g), GROUP_GAP);
            }
            if let Some(&u) = layer[..block.start].iter().rev().find(|&&i| is_node(i)) {
                match member(u) {
                    Some(h) => c.add(right(h), left(g), GROUP_GAP),
                    None => c.add(u, left(g), half + GROUP_GAP),
                }
            }
            if let Some(&u) = layer[block.end..].iter().find(|&&i| is_node(i)) {
                match member(u) {
                    Some(h) => c.add(right(g), left(h), GROUP_GAP),
                    None => c.add(right(g), u, half + GROUP_GAP),
                }
            }
        }
    }
    for (g, group) in groups.iter().enumerate() {
        if group.drawn.is_some() {
            for &m in &group.members {
                c.add(left(g), m, half + GROUP_PAD);
                c.add(m, right(g), half + GROUP_PAD);
            }
        }
    }
    c.dedup();

    let mut x = longest_path(&c);
    let tighten = |x: &mut [f64], g: usize| {
        let (lo, hi) = groups[g]
            .members
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &m| {
                (lo.min(x[m]), hi.max(x[m]))
            });
        x[left(g)] = lo - half - GROUP_PAD;
        x[right(g)] = hi + half + GROUP_PAD;
    };
    for (g, group) in groups.iter().enumerate() {
        if group.drawn.is_some() && !group.members.is_empty() {
            tighten(&mut x, g);
        }
    }

    // A fence of the item's own group stands for the room beyond it.
    let own_fence = |i: usize, v: usize| member(i).is_some_and(|g| v == left(g) || v == right(g));
    let lower = |x: &[f64], i: usize| {
        c.inn[i].iter().fold(f64::NEG_INFINITY, |lo, &(a, d)| {
            let from = if own_fence(i, a) {
                c.inn[a]
                    .iter()
                    .fold(f64::NEG_INFINITY, |m, &(s, e)| m.max(x[s] + e))
            } else {
                x[a]
            };
            lo.max(from + d)
        })
    };
    let upper = |x: &[f64], i: usize| {
        c.out[i].iter().fold(f64::INFINITY, |hi, &(b, d)| {
            let to = if own_fence(i, b) {
                c.out[b]
                    .iter()
                    .fold(f64::INFINITY, |m, &(t, e)| m.min(x[t] - e))
            } else {
                x[b]
            };
            hi.min(to - d)
        })
    };

    for sweep in 0..SWEEPS {
        let last = sweep + 2 >= SWEEPS;
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down {
            (0..proper.layers.len()).collect()
        } else {
            (0..proper.layers.len()).rev().collect()
        };
        for l in order {
            let layer = &proper.layers[l];
            let desired: Vec<Option<f64>> = layer
                .iter()
                .map(|&i| {
                    let mut sum = 0.0;
                    let mut count = 0usize;
                    let both = [&proper.up[i], &proper.down[i]];
                    let sides: &[&Vec<usize>] = if last {
                        &both
                    } else if down {
                        &both[..1]
                    } else {
                        &both[1..]
                    };
                    for &nb in sides.iter().copied().flatten() {
                        sum += x[nb];
                        count += 1;
                    }
                    (count > 0).then(|| sum / count as f64)
                })
                .collect();
            for (k, &i) in layer.iter().enumerate().rev() {
                if let Some(want) = desired[k].filter(|&want| want > x[i]) {
                    let to = want.min(upper(&x, i));
                    if to > x[i] {
                        x[i] = to;
                        if let Some(g) = member(i) {
                            tighten(&mut x, g);
                        }
                    }
                }
            }
            for (k, &i) in layer.iter().enumerate() {
                if let Some(want) = desired[k].filter(|&want| want < x[i]) {
                    let to = want.max(lower(&x, i));
                    if to < x[i] {
                        x[i] = to;
                        if let Some(g) = member(i) {
                            tighten(&mut x, g);
                        }
                    }
                }
            }
        }
    }
    x.truncate(n);
    x
}

/// The tightest solution: each variable as far left as its constraints allow, none below 0.
fn longest_path(c: &Constraints) -> Vec<f64> {
    let n = c.out.len();
    let mut indegree: Vec<usize> = c.inn.iter().map(Vec::len).collect();
    let mut x = vec![0.0f64; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut done = 0;
    while let Some(a) = queue.pop_front() {
        done += 1;
        for &(b, d) in &c.out[a] {
            x[b] = x[b].max(x[a] + d);
            indegree[b] -= 1;
            if indegree[b] == 0 {
                queue.push_back(b);
            }
        }
    }
    debug_assert_eq!(done, n, "separation constraints have a cycle");
    x
}
