//! Questions asked of a map: is it well formed ([`Map::validate`]), what breaks with a
//! component ([`Map::impact`]), what a component needs ([`Map::needs`]), and the views built
//! on them ([`Map::focus`], [`Map::subset`]).

use crate::error::{MapError, Problem};
use crate::model::{Map, Mark};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet, VecDeque};

/// Which way a focused view follows the edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Against the arrows: what depends on the focus and breaks with it (`--impact`).
    Impact,
    /// Along the arrows: what the focus needs (`--needs`).
    Needs,
}

impl Map {
    /// Check that node names are unique, that every edge joins two components of the map,
    /// and that no edge is a self-loop or a repeat of another. Reports every problem.
    pub fn validate(&self) -> Result<(), MapError> {
        let mut problems = Vec::new();
        let mut names = HashSet::with_capacity(self.nodes.len());
        let mut reported = HashSet::new();
        for n in &self.nodes {
            if !names.insert(n.name.as_str()) && reported.insert(n.name.as_str()) {
                problems.push(Problem::DuplicateNode {
                    name: n.name.clone(),
                });
            }
        }
        let mut pairs = HashSet::with_capacity(self.edges.len());
        let mut reported_pairs = HashSet::new();
        for e in &self.edges {
            // A self-loop names its component once.
            let ends = if e.from == e.to {
                &[&e.from][..]
            } else {
                &[&e.from, &e.to][..]
            };
            for end in ends.iter().filter(|end| !names.contains(end.as_str())) {
                problems.push(Problem::UnknownEndpoint {
                    from: e.from.clone(),
                    to: e.to.clone(),
                    missing: (*end).clone(),
                });
            }
            if e.from == e.to {
                problems.push(Problem::SelfEdge {
                    name: e.from.clone(),
                });
            }
            let pair = (e.from.as_str(), e.to.as_str());
            if !pairs.insert(pair) && reported_pairs.insert(pair) {
                problems.push(Problem::DuplicateEdge {
                    from: e.from.clone(),
                    to: e.to.clone(),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MapError::Invalid { problems })
        }
    }

    /// Everything that breaks if `name` breaks: every component that depends on it,
    /// directly or through others. Follows declared and undeclared edges backwards
    /// (an unobserved edge, declared but never seen live, carries no failure). Sorted by
    /// distance (direct dependents first), then by name; `name` itself is not listed.
    pub fn impact(&self, name: &str) -> Result<Vec<String>, MapError> {
        self.reach(name, Direction::Impact)
    }

    /// Everything `name` needs: every component it depends on, directly or through
    /// others, following declared and undeclared edges. Sorted like [`Map::impact`].
    pub fn needs(&self, name: &str) -> Result<Vec<String>, MapError> {
        self.reach(name, Direction::Needs)
    }

    /// [`Map::impact`] or [`Map::needs`], by `direction`.
    pub fn reach(&self, name: &str, direction: Direction) -> Result<Vec<String>, MapError> {
        let start = self.position(name).ok_or_else(|| self.unknown(name))?;
        let mut reached: Vec<(usize, &str)> = self
            .distances(start, direction)
            .into_iter()
            .enumerate()
            .filter(|&(i, d)| i != start && d.is_some())
            .filter_map(|(i, d)| Some((d?, self.nodes[i].name.as_str())))
            .collect();
        reached.sort_unstable();
        reached.dedup();
        Ok(reached.into_iter().map(|(_, n)| n.to_owned()).collect())
    }

    /// Mark the map for a focused view: `name` becomes [`Mark::Focus`], what
    /// [`Map::reach`] finds in `direction` becomes [`Mark::Highlighted`], every other
    /// component [`Mark::Dimmed`]. Replaces any earlier marks.
    pub fn focus(&mut self, name: &str, direction: Direction) -> Result<(), MapError> {
        let start = self.position(name).ok_or_else(|| self.unknown(name))?;
        let distances = self.distances(start, direction);
        for (i, node) in self.nodes.iter_mut().enumerate() {
            node.mark = if node.name == name {
                Mark::Focus
            } else if distances[i].is_some() {
                Mark::Highlighted
            } else {
                Mark::Dimmed
            };
        }
        Ok(())
    }

    /// The map of `names` only (`--components`): those components, in map order, and the
    /// edges that join two of them. Neighbours outside `names` are left out, and so are
    /// the edges to them: the view shows exactly what was asked for. Every name must be a
    /// component.
    pub fn subset(&self, names: &[String]) -> Result<Map, MapError> {
        let mut wanted = BTreeSet::new();
        for name in names {
            if self.position(name).is_none() {
                return Err(self.unknown(name));
            }
            wanted.insert(name.as_str());
        }
        Ok(Map {
            nodes: self
                .nodes
                .iter()
                .filter(|n| wanted.contains(n.name.as_str()))
                .cloned()
                .collect(),
            edges: self
                .edges
                .iter()
                .filter(|e| wanted.contains(e.from.as_str()) && wanted.contains(e.to.as_str()))
                .cloned()
                .collect(),
        })
    }

    /// Breadth-first distances from `start` along failure-carrying edges, per node index.
    fn distances(&self, start: usize, direction: Direction) -> Vec<Option<usize>> {
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (edge, ends) in self.edges.iter().zip(self.resolved_edges()) {
            let Some((from, to)) = ends else { continue };
            if !edge.kind.carries_failure() {
                continue;
            }
            match direction {
                Direction::Impact => next[to].push(from),
                Direction::Needs => next[from].push(to),
            }
        }
        let mut distance = vec![None; self.nodes.len()];
        distance[start] = Some(0);
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            let d = distance[n].unwrap_or(0);
            for &m in &next[n] {
                if distance[m].is_none() {
                    distance[m] = Some(d + 1);
                    queue.push_back(m);
                }
            }
        }
        // The start is reached at distance 0 by definition; only a cycle back to it would
        // make it its own dependent, and it is never listed anyway.
        distance
    }

    /// The error for an unknown `name`, with the components whose names are close: within
    /// a third of the length in edits (at least 2), or containing it, or contained in it
    /// (names of three characters or more).
    pub(crate) fn unknown(&self, name: &str) -> MapError {
        let lower = name.to_lowercase();
        let mut close: Vec<(usize, &str)> = self
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .filter_map(|candidate| {
                let d = strsim::levenshtein(name, candidate);
                let c = candidate.to_lowercase();
                let related = (lower.chars().count() >= 3 && c.contains(&lower))
                    || (c.chars().count() >= 3 && lower.contains(&c));
                (d <= 2.max(candidate.chars().count() / 3) || related).then_some((d, candidate))
            })
            .collect();
        close.sort_unstable();
        close.dedup();
        close.truncate(5);
        MapError::UnknownComponent {
            name: name.to_owned(),
            close: close.into_iter().map(|(_, c)| c.to_owned()).collect(),
        }
    }
}
