//! The renderers: one function per format, each `fn(&Map) -> String`, deterministic (the
//! same map gives the same bytes), none failing (a map that does not validate is drawn as
//! well as it can be: edges to unknown components left out or flagged).
//!
//! - [`svg()`]: the drawing, laid out by [`crate::layout::layered`]; no Graphviz needed.
//! - [`dot()`]: Graphviz DOT, for those who want Graphviz's own layout.
//! - [`mermaid()`]: a Mermaid flowchart, for Markdown that renders it.
//! - [`json()`]: the map itself, as data.
//! - [`human()`]: plain text for a terminal, without colour (the CLI adds it).

mod dot;
mod human;
mod mermaid;
mod svg;

pub use dot::dot;
pub use human::human;
pub use mermaid::mermaid;
pub use svg::{svg, svg_with_layout};

use crate::escape;
use crate::model::{Map, Node};

/// The map as pretty-printed JSON (the serde form of [`Map`]), with a final newline.
/// Control and format characters in strings are `\u` escapes: the document shows nothing
/// raw to a terminal and parses back to the same map.
pub fn json(map: &Map) -> String {
    let text = serde_json::to_string_pretty(map)
        .expect("a map always serializes: its fields are strings, booleans and lists");
    let mut out = escape::json(&text);
    out.push('\n');
    out
}

/// A group of nodes as the non-drawn formats list them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SectionKind<'a> {
    Tier(&'a str),
    Untiered,
    External,
}

/// Nodes by section, each section's nodes in map order: tiers in order of first
/// appearance, then untiered nodes, then external ones. Empty sections are left out.
fn sections(map: &Map) -> Vec<(SectionKind<'_>, Vec<usize>)> {
    let mut tiers: Vec<(SectionKind<'_>, Vec<usize>)> = Vec::new();
    let mut untiered = Vec::new();
    let mut external = Vec::new();
    for (i, node) in map.nodes.iter().enumerate() {
        match (node.external, node.tier.as_deref()) {
            (true, _) => external.push(i),
            (false, None) => untiered.push(i),
            (false, Some(t)) => match tiers.iter_mut().find(|(k, _)| *k == SectionKind::Tier(t)) {
                Some((_, members)) => members.push(i),
                None => tiers.push((SectionKind::Tier(t), vec![i])),
            },
        }
    }
    if !untiered.is_empty() {
        tiers.push((SectionKind::Untiered, untiered));
    }
    if !external.is_empty() {
        tiers.push((SectionKind::External, external));
    }
    tiers
}

/// Fill and stroke colours of a node box by status (`None`: no status shown).
fn status_colours(node: &Node) -> (&'static str, &'static str) {
    use crate::model::Status::*;
    match node.status {
        None => ("#ffffff", "#5f6368"),
        Some(Pass) => ("#e6f4ea", "#1e8e3e"),
        Some(Degraded) => ("#fef7e0", "#e37400"),
        Some(Fail) => ("#fce8e6", "#d93025"),
        Some(Unknown) => ("#f1f3f4", "#80868b"),
    }
}

/// Red: suspects, undeclared edges.
const RED: &str = "#d93025";
/// Blue: the focus of a view and what it highlights.
const BLUE: &str = "#1a73e8";
/// Grey: unobserved edges, dimmed components.
const GREY: &str = "#9aa0a6";
/// Dark grey: ordinary edges and borders.
const INK: &str = "#5f6368";
