//! Text in boxes: what a node's box says and how wide that is.
//!
//! No font is measured: every drawing uses a monospace font at 12 px, estimated at 7.2 px
//! per character (`char`, after [`clean`]ing). Text longer than a box allows is cut with
//! an ellipsis; the full text stays in the box's `<title>`. Characters drawn wider than a
//! Latin letter (CJK, emoji) can overflow their box: the estimate does not know them.

use crate::escape::clean;
use crate::model::Node;

/// Estimated width of one character at the drawings' 12 px monospace font.
pub(crate) const CHAR_W: f64 = 7.2;
/// The widest box holds this many characters per line; longer lines are cut.
pub(crate) const MAX_CHARS: usize = 28;
/// The narrowest box holds this many.
pub(crate) const MIN_CHARS: usize = 12;
/// Space between a box's border and its text, left and right.
pub(crate) const TEXT_PAD: f64 = 10.0;
/// Hosts listed in full up to this many; past it, the first two and a count.
const MAX_HOSTS: usize = 4;

/// The lines a node's box shows, cut to `max` characters: its name, its hosts (if any),
/// and its tags (status, `suspect`; if any).
pub(crate) fn node_lines(node: &Node, max: usize) -> Vec<String> {
    let mut lines = vec![truncate(&clean(&node.name), max)];
    if !node.hosts.is_empty() {
        lines.push(hosts_line(&node.hosts, max));
    }
    let tags = tags(node);
    if !tags.is_empty() {
        lines.push(truncate(&tags.join(" · "), max));
    }
    lines
}

/// A node's tags as words: its status, then `suspect`.
pub(crate) fn tags(node: &Node) -> Vec<&'static str> {
    let mut tags = Vec::new();
    if let Some(s) = node.status {
        tags.push(s.name());
    }
    if node.suspect {
        tags.push("suspect");
    }
    tags
}

/// Characters per line for a map's boxes: the longest line any box would show, within
/// [`MIN_CHARS`]..=[`MAX_CHARS`]. One width for every box keeps the layers aligned.
pub(crate) fn box_chars<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> usize {
    nodes
        .into_iter()
        .flat_map(|n| node_lines(n, MAX_CHARS))
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(MIN_CHARS, MAX_CHARS)
}

/// The width of a box holding `chars` characters per line.
pub(crate) fn box_width(chars: usize) -> f64 {
    chars as f64 * CHAR_W + 2.0 * TEXT_PAD
}

/// `text` cut to `max` characters, the last one an ellipsis when anything was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Host names for one line of at most `max` characters: all of them up to four
/// (`web-1, web-2, web-3`), past four the first two and a count (`web-1, web-2 +3`);
/// fewer names when even that is too long, and the first name cut as a last resort.
pub(crate) fn hosts_line(hosts: &[String], max: usize) -> String {
    let names: Vec<String> = hosts.iter().map(|h| clean(h).into_owned()).collect();
    let n = names.len();
    let first = if n <= MAX_HOSTS { n } else { 2 };
    for shown in (1..=first).rev() {
        let line = with_rest(&names[..shown].join(", "), n - shown);
        if line.chars().count() <= max {
            return line;
        }
    }
    let rest = n.saturating_sub(1);
    let suffix = with_rest("", rest);
    let room = max.saturating_sub(suffix.chars().count());
    with_rest(
        &truncate(names.first().map_or("", String::as_str), room),
        rest,
    )
}

fn with_rest(shown: &str, rest: usize) -> String {
    if rest == 0 {
        shown.to_owned()
    } else {
        format!("{shown} +{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("web-{i}")).collect()
    }

    #[test]
    fn hosts_are_elided_past_four() {
        assert_eq!(hosts_line(&hosts(1), 28), "web-1");
        assert_eq!(hosts_line(&hosts(4), 28), "web-1, web-2, web-3, web-4");
        assert_eq!(hosts_line(&hosts(5), 28), "web-1, web-2 +3");
        assert_eq!(hosts_line(&hosts(5), 12), "web-1 +4");
        let long = vec!["a-very-long-host-name-indeed.example.com".to_owned(); 3];
        let line = hosts_line(&long, 20);
        assert_eq!(line.chars().count(), 20);
        assert!(line.ends_with("… +2"), "{line}");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(truncate("orders-api", 28), "orders-api");
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
    }
}
