//! Plain text for a terminal: each tier, then untiered and external components, each
//! component with its hosts and tags, and under it its arrows (`→ orders-api`), the
//! undeclared and unobserved ones flagged in words. No ANSI colour (the CLI adds it); every
//! shown text is [`clean`]ed, so nothing in a name can drive the terminal.

use super::{SectionKind, sections};
use crate::escape::clean;
use crate::model::{EdgeKind, Map, Mark};
use crate::text;
use std::fmt::Write as _;

/// Hosts listed in full per component, before `+N more`.
const MAX_HOSTS: usize = 4;

/// The map as plain text.
pub fn human(map: &Map) -> String {
    let mut s = String::new();
    if map.nodes.is_empty() {
        s.push_str("no components\n");
        return s;
    }
    let resolved = map.resolved_edges();
    for (kind, members) in sections(map) {
        match kind {
            SectionKind::Tier(t) => {
                let _ = writeln!(s, "{}", clean(t));
            }
            SectionKind::Untiered => s.push_str("(no tier)\n"),
            SectionKind::External => s.push_str("external\n"),
        }
        for i in members {
            let n = &map.nodes[i];
            let _ = write!(s, "  {}", clean(&n.name));
            if !n.hosts.is_empty() {
                let shown: Vec<String> = n
                    .hosts
                    .iter()
                    .take(MAX_HOSTS)
                    .map(|h| clean(h).into_owned())
                    .collect();
                let _ = write!(s, "  on {}", shown.join(", "));
                if n.hosts.len() > MAX_HOSTS {
                    let _ = write!(s, " +{} more", n.hosts.len() - MAX_HOSTS);
                }
            }
            let mut tags: Vec<&str> = text::tags(n);
            if matches!(n.mark, Mark::Focus | Mark::Highlighted) {
                tags.push(n.mark.name());
            }
            for tag in tags {
                let _ = write!(s, "  [{tag}]");
            }
            s.push('\n');
            for (edge, ends) in map.edges.iter().zip(&resolved) {
                if edge.from != n.name || ends.is_some_and(|(from, _)| from != i) {
                    continue;
                }
                let _ = write!(s, "    → {}", clean(&edge.to));
                match (ends, edge.kind) {
                    (None, _) => s.push_str("  [unknown component]"),
                    (_, EdgeKind::Undeclared) => {
                        s.push_str("  [undeclared: seen live, not in depends_on]");
                    }
                    (_, EdgeKind::Unobserved) => {
                        s.push_str("  [unobserved: declared, never seen live]");
                    }
                    (_, EdgeKind::Declared) => {}
                }
                s.push('\n');
            }
        }
    }
    s
}
