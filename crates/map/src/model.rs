//! The map's data: components ([`Node`]s), who depends on whom ([`Edge`]s), and what a view
//! marks on them. Built by the caller (the CLI builds it from the config and, with
//! `--status`, from the last check results); read by the queries, the layout and the
//! renderers.

use serde::{Deserialize, Serialize};

/// The dependency map of one environment.
///
/// Node names are meant to be unique and every edge to name two nodes of the map;
/// [`Map::validate`] says whether they are. Every function of this crate accepts a map
/// that breaks these rules without panicking: an edge naming an unknown component is left
/// out of drawings and queries, and a duplicate name resolves to its first node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Map {
    /// Components, in the order they are listed (the config's order). The order is kept
    /// wherever the map is shown without a layout (the text view, DOT, Mermaid, JSON).
    pub nodes: Vec<Node>,
    /// Dependencies: `from` depends on `to`.
    pub edges: Vec<Edge>,
}

/// One component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Component name, unique in the map.
    pub name: String,
    /// Its tier (`web`, `api`, `data`): components of one tier are drawn in one box.
    /// `None`: drawn outside every tier box.
    #[serde(default)]
    pub tier: Option<String>,
    /// A component outside the environment (a payment provider, a SaaS API): drawn apart,
    /// in a band of its own below the rest, in a group labelled `external` whatever its
    /// tier.
    #[serde(default)]
    pub external: bool,
    /// Host names it runs on, shown in its box (elided past four: `web-1, web-2 +3`).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Free text, shown as the box's tooltip.
    #[serde(default)]
    pub description: Option<String>,
    /// Its health, when the map shows it (`--status`): the box's colour.
    #[serde(default)]
    pub status: Option<Status>,
    /// A root suspect of a failure: drawn with a thick red border and a `suspect` tag.
    #[serde(default)]
    pub suspect: bool,
    /// How a focused view (`--impact`, `--needs`) shows it; see [`Map::focus`].
    #[serde(default)]
    pub mark: Mark,
}

impl Node {
    /// A component with only a name: no tier, not external, no hosts, no status, unmarked.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tier: None,
            external: false,
            hosts: Vec::new(),
            description: None,
            status: None,
            suspect: false,
            mark: Mark::Normal,
        }
    }
}

/// A dependency: `from` depends on `to`, drawn as an arrow from `from` to `to` (the
/// direction of `depends_on`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The component that depends.
    pub from: String,
    /// The component it depends on.
    pub to: String,
    /// Where the dependency is known from.
    pub kind: EdgeKind,
}

impl Edge {
    /// An edge of the given kind.
    pub fn new(from: impl Into<String>, to: impl Into<String>, kind: EdgeKind) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            kind,
        }
    }
}

/// Where a dependency is known from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// In `depends_on` (and, when traffic was observed, seen live): a plain arrow.
    Declared,
    /// Observed live but not in `depends_on`: a red dashed arrow labelled `undeclared`.
    Undeclared,
    /// In `depends_on` but never seen live: a grey dotted arrow.
    Unobserved,
}

impl EdgeKind {
    /// The kind's name as written in JSON and in the drawings' classes: `declared`,
    /// `undeclared`, `unobserved`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Declared => "declared",
            Self::Undeclared => "undeclared",
            Self::Unobserved => "unobserved",
        }
    }

    /// Whether a failure travels along the edge in [`Map::impact`] and [`Map::needs`]:
    /// declared and undeclared edges carry it; an unobserved edge, declared but never seen
    /// live, does not.
    pub fn carries_failure(self) -> bool {
        matches!(self, Self::Declared | Self::Undeclared)
    }
}

/// A component's health, shown as its box's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every check passes.
    Pass,
    /// Some checks fail or are slow, the component still serves.
    Degraded,
    /// The component fails.
    Fail,
    /// Not known (not checked, or the hosts did not answer).
    Unknown,
}

impl Status {
    /// The status's name: `pass`, `degraded`, `fail`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Degraded => "degraded",
            Self::Fail => "fail",
            Self::Unknown => "unknown",
        }
    }
}

/// How a focused view shows a component (set by [`Map::focus`]).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    /// No focus: drawn as usual.
    #[default]
    Normal,
    /// The component the view is about.
    Focus,
    /// In the focused set: what breaks with the focus, or what the focus needs.
    Highlighted,
    /// Outside the focused set: drawn faded.
    Dimmed,
}

impl Mark {
    /// The mark's name: `normal`, `focus`, `highlighted`, `dimmed`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Focus => "focus",
            Self::Highlighted => "highlighted",
            Self::Dimmed => "dimmed",
        }
    }
}

impl Map {
    /// The index of the first node named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The first node named `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Each edge's endpoints as node indices (the first node of each name), `None` for an
    /// edge that names an unknown component. Indexed like `edges`.
    pub(crate) fn resolved_edges(&self) -> Vec<Option<(usize, usize)>> {
        let mut index = std::collections::HashMap::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            index.entry(n.name.as_str()).or_insert(i);
        }
        self.edges
            .iter()
            .map(|e| Some((*index.get(e.from.as_str())?, *index.get(e.to.as_str())?)))
            .collect()
    }
}
