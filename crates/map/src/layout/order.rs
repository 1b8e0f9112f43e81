//! Step 2: the order of boxes and dummy points within each layer.
//!
//! Every link becomes a chain of *items* one layer apart: its upper node, a dummy point in
//! each layer it crosses, its lower node. Each layer is a sequence of items in which every
//! tier box whose layer range covers the layer has a *block*: its nodes there, with the
//! dummy points of edges inside the tier, contiguous. Blocks come in one global order
//! (`rank`) in every layer; the other items — untiered nodes, dummy points of edges
//! between groups — sit between blocks, never inside one. Barycenter sweeps reorder the
//! items within blocks and the free items between them, and the global order of the blocks
//! is revised between sweeps from where their items ended up. The arrangement with the
//! fewest crossings wins.

use super::{Group, Link};

/// Sweeps (one down, one up each) before giving up on finding fewer crossings.
const MAX_SWEEPS: usize = 12;
/// Sweeps without improvement that end the search early.
const PATIENCE: usize = 4;

/// A node or a dummy point in a layer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Item {
    /// The node, `None` for a dummy point.
    pub(super) node: Option<usize>,
    pub(super) layer: usize,
    /// The drawn group whose block the item belongs to: a tiered (or external) node's
    /// group, or the group of both ends of a dummy's edge. `None`: a free item.
    pub(super) block: Option<usize>,
}

/// A drawn group's block within one layer's order: positions `start..end` (empty when
/// the group spans the layer without items in it).
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    pub(super) group: usize,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// One link's items, top to bottom.
#[derive(Debug, Clone)]
pub(super) struct Chain {
    pub(super) items: Vec<usize>,
    /// Whether the chain runs against the link (the link points up).
    pub(super) reversed: bool,
}

/// The layered graph with dummy points, and the order of each layer.
#[derive(Debug, Clone)]
pub(super) struct Proper {
    pub(super) items: Vec<Item>,
    /// Each item's neighbours in the layer above and below.
    pub(super) up: Vec<Vec<usize>>,
    pub(super) down: Vec<Vec<usize>>,
    /// One chain per link, indexed like the links.
    pub(super) chains: Vec<Chain>,
    /// Each layer's items, left to right.
    pub(super) layers: Vec<Vec<usize>>,
    /// Each layer's blocks, left to right.
    pub(super) blocks: Vec<Vec<Block>>,
    /// Each item's position in its layer.
    pub(super) pos: Vec<usize>,
    /// Each group's place in the global order of blocks (drawn groups only).
    rank: Vec<usize>,
    /// Each group's average relative position, for a block without items in a layer.
    estimate: Vec<f64>,
    /// Per layer, the drawn groups whose layer range covers it.
    spanning: Vec<Vec<usize>>,
}

impl Proper {
    /// Chains for the links, dummy points included, and a first order: items by
    /// appearance (nodes in map order, then dummies by link).
    pub(super) fn build(
        layer: &[usize],
        layers: usize,
        links: &[Link],
        groups: &[Group],
        group_of: &[usize],
    ) -> Self {
        let drawn = |g: usize| groups[g].drawn.is_some().then_some(g);
        let mut items: Vec<Item> = layer
            .iter()
            .enumerate()
            .map(|(i, &l)| Item {
                node: Some(i),
                layer: l,
                block: drawn(group_of[i]),
            })
            .collect();
        let mut chains = Vec::with_capacity(links.len());
        for link in links {
            let (a, b, reversed) = if layer[link.from] <= layer[link.to] {
                (link.from, link.to, false)
            } else {
                (link.to, link.from, true)
            };
            let inside = (group_of[a] == group_of[b])
                .then(|| drawn(group_of[a]))
                .flatten();
            let mut chain = vec![a];
            for l in layer[a] + 1..layer[b] {
                chain.push(items.len());
                items.push(Item {
                    node: None,
                    layer: l,
                    block: inside,
                });
            }
            chain.push(b);
            chains.push(Chain {
                items: chain,
                reversed,
            });
        }
        let mut up = vec![Vec::new(); items.len()];
        let mut down = vec![Vec::new(); items.len()];
        for chain in &chains {
            for w in chain.items.windows(2) {
                down[w[0]].push(w[1]);
                up[w[1]].push(w[0]);
            }
        }
        let mut spanning = vec![Vec::new(); layers];
        for (g, group) in groups.iter().enumerate() {
            if group.drawn.is_some() {
                for s in &mut spanning[group.lo..=group.hi] {
                    s.push(g);
                }
            }
        }
        let mut by_layer = vec![Vec::new(); layers];
        for (id, item) in items.iter().enumerate() {
            by_layer[item.layer].push(id);
        }
        let pos = vec![0; items.len()];
        let mut proper = Self {
            items,
            up,
            down,
            chains,
            layers: by_layer,
            blocks: vec![Vec::new(); layers],
            pos,
            rank: (0..groups.len()).collect(),
            estimate: vec![0.5; groups.len()],
            spanning,
        };
        for l in 0..layers {
            proper.renumber(l);
        }
        let keys = proper.own_keys();
        for l in 0..layers {
            proper.arrange(l, &keys);
        }
        proper
    }

    /// Barycenter sweeps; keeps the arrangement with the fewest crossings.
    pub(super) fn reduce_crossings(&mut self, groups: &[Group]) {
        let n_layers = self.layers.len();
        let mut best = (self.crossings(), self.snapshot());
        let mut stale = 0;
        for _ in 0..MAX_SWEEPS {
            if best.0 == 0 {
                break;
            }
            for l in 1..n_layers {
                let keys = self.barycenters(l, true);
                self.arrange(l, &keys);
            }
            for l in (0..n_layers.saturating_sub(1)).rev() {
                let keys = self.barycenters(l, false);
                self.arrange(l, &keys);
            }
            self.regroup(groups);
            let crossings = self.crossings();
            if crossings < best.0 {
                best = (crossings, self.snapshot());
                stale = 0;
            } else {
                stale += 1;
                if stale >= PATIENCE {
                    break;
                }
            }
        }
        self.restore(best.1);
    }

    /// Relative position of an item in its layer, in `0..1`.
    fn relative(&self, item: usize) -> f64 {
        let len = self.layers[self.items[item].layer].len().max(1);
        (self.pos[item] as f64 + 0.5) / len as f64
    }

    /// Every item's current relative position, as sort keys.
    fn own_keys(&self) -> Vec<f64> {
        (0..self.items.len()).map(|i| self.relative(i)).collect()
    }

    /// Sort keys for layer `l`'s items: the mean relative position of their neighbours in
    /// the layer above (`from_above`) or below; their own for items without any there.
    fn barycenters(&self, l: usize, from_above: bool) -> Vec<f64> {
        let mut keys = vec![0.0; self.items.len()];
        for &item in &self.layers[l] {
            let neighbours = if from_above {
                &self.up[item]
            } else {
                &self.down[item]
            };
            keys[item] = if neighbours.is_empty() {
                self.relative(item)
            } else {
                neighbours.iter().map(|&n| self.relative(n)).sum::<f64>() / neighbours.len() as f64
            };
        }
        keys
    }

    /// Reorder layer `l` by `keys`: each block's items sorted among themselves, free items
    /// sorted among themselves, blocks in global order, and free items merged between
    /// blocks by key.
    fn arrange(&mut self, l: usize, keys: &[f64]) {
        let by_key = |a: &usize, b: &usize| {
            keys[*a]
                .total_cmp(&keys[*b])
                .then(self.pos[*a].cmp(&self.pos[*b]))
        };
        let mut spanning = self.spanning[l].clone();
        spanning.sort_by_key(|&g| self.rank[g]);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); spanning.len()];
        let mut free = Vec::new();
        for &item in &self.layers[l] {
            match self.items[item]
                .block
                .and_then(|g| spanning.iter().position(|&s| s == g))
            {
                Some(b) => members[b].push(item),
                None => free.push(item),
            }
        }
        free.sort_by(by_key);
        let mut order = Vec::with_capacity(self.layers[l].len());
        let mut blocks = Vec::with_capacity(spanning.len());
        let mut free = free.into_iter().peekable();
        for (b, mut run) in members.into_iter().enumerate() {
            run.sort_by(by_key);
            let g = spanning[b];
            let key = if run.is_empty() {
                self.estimate[g]
            } else {
                run.iter().map(|&i| keys[i]).sum::<f64>() / run.len() as f64
            };
            while let Some(item) = free.next_if(|&i| keys[i] < key) {
                order.push(item);
            }
            let start = order.len();
            order.extend(run);
            blocks.push(Block {
                group: g,
                start,
                end: order.len(),
            });
        }
        order.extend(free);
        self.layers[l] = order;
        self.blocks[l] = blocks;
        self.renumber(l);
    }

    fn renumber(&mut self, l: usize) {
        for (p, &item) in self.layers[l].iter().enumerate() {
            self.pos[item] = p;
        }
    }

    /// Revise the global order of the blocks by the mean relative position of each drawn
    /// group's items, then rearrange every layer to follow it.
    fn regroup(&mut self, groups: &[Group]) {
        let mut sum = vec![0.0; groups.len()];
        let mut count = vec![0usize; groups.len()];
        for (id, item) in self.items.iter().enumerate() {
            if let Some(g) = item.block {
                sum[g] += self.relative(id);
                count[g] += 1;
            }
        }
        for g in 0..groups.len() {
            if count[g] > 0 {
                self.estimate[g] = sum[g] / count[g] as f64;
            }
        }
        let mut order: Vec<usize> = (0..groups.len()).collect();
        order.sort_by(|&a, &b| {
            self.estimate[a]
                .total_cmp(&self.estimate[b])
                .then(self.rank[a].cmp(&self.rank[b]))
        });
        for (r, g) in order.into_iter().enumerate() {
            self.rank[g] = r;
        }
        let keys = self.own_keys();
        for l in 0..self.layers.len() {
            self.arrange(l, &keys);
        }
    }

    /// Edge crossings between consecutive layers (counted with a Fenwick tree).
    pub(super) fn crossings(&self) -> u64 {
        let mut total = 0u64;
        for l in 0..self.layers.len().saturating_sub(1) {
            let mut pairs: Vec<(usize, usize)> = self.layers[l]
                .iter()
                .flat_map(|&u| self.down[u].iter().map(move |&v| (u, v)))
                .map(|(u, v)| (self.pos[u], self.pos[v]))
                .collect();
            pairs.sort_unstable();
            let size = self.layers[l + 1].len();
            let mut tree = vec![0u64; size + 1];
            for (seen, &(_, v)) in pairs.iter().enumerate() {
                // Earlier pairs that end strictly right of v cross this one.
                let mut not_greater = 0u64;
                let mut i = v + 1;
                while i > 0 {
                    not_greater += tree[i];
                    i &= i - 1;
                }
                total += seen as u64 - not_greater;
                let mut i = v + 1;
                while i <= size {
                    tree[i] += 1;
                    i += i & i.wrapping_neg();
                }
            }
        }
        total
    }

    fn snapshot(&self) -> (Vec<Vec<usize>>, Vec<Vec<Block>>, Vec<usize>) {
        (self.layers.clone(), self.blocks.clone(), self.rank.clone())
    }

    fn restore(&mut self, (layers, blocks, rank): (Vec<Vec<usize>>, Vec<Vec<Block>>, Vec<usize>)) {
        self.layers = layers;
        self.blocks = blocks;
        self.rank = rank;
        for l in 0..self.layers.len() {
            self.renumber(l);
        }
    }
}
