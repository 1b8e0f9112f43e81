//! Hostile names — a double quote, markup, a newline, an ANSI escape, a bidirectional
//! override — are shown, never obeyed, in every format.

use crate::common::{check_geometry, lab};
use fearless_map::{Edge, EdgeKind, Map, Node, layered, svg_with_layout};

const QUOTE: &str = "say \"hi\"";
const MARKUP: &str = "<script>alert('x')</script>&amp;";
const NEWLINE: &str = "two\nlines";
const ANSI: &str = "\x1b[31mred\x1b[0m";
const BIDI: &str = "abc\u{202e}fed";
const GRAPHVIZ: &str = "back\\slash \\N \\l";
const MERMAID: &str = "end #quot; `md` |pipe| %%";

pub(crate) fn hostile() -> Map {
    let names = [QUOTE, MARKUP, NEWLINE, ANSI, BIDI, GRAPHVIZ, MERMAID];
    let mut map = lab();
    for (i, name) in names.iter().enumerate() {
        map.nodes.push(Node {
            tier: Some(format!("tier {name}")),
            hosts: vec![
                format!("host {name}"),
                "h\x1b]8;;http://x\x07link".to_owned(),
            ],
            description: Some(format!("about {name}")),
            ..Node::new(*name)
        });
        map.edges
            .push(Edge::new("checkout", *name, EdgeKind::Undeclared));
        if i > 0 {
            map.edges
                .push(Edge::new(names[i - 1], *name, EdgeKind::Declared));
        }
    }
    map.nodes[6].external = true;
    map
}

/// No raw control or format character other than the format's own line breaks.
fn nothing_raw(format: &str, out: &str) {
    for (k, line) in out.lines().enumerate() {
        assert!(
            !line.chars().any(fearless_map::escape::is_unsafe),
            "{format} line {k} holds a raw control character: {line:?}"
        );
    }
    for raw in [NEWLINE, ANSI, BIDI] {
        assert!(!out.contains(raw), "{format} shows {raw:?} raw");
    }
}

#[test]
fn svg_escapes_everything_and_still_parses() {
    let map = hostile();
    map.validate().expect("valid");
    let layout = layered(&map);
    let svg = svg_with_layout(&map, &layout);
    nothing_raw("svg", &svg);
    check_geometry(&map, &layout, &svg).expect("geometry");
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    assert!(
        !doc.descendants().any(|n| n.has_tag_name("script")),
        "markup became an element"
    );
    let text: String = doc.descendants().filter_map(|n| n.text()).collect();
    for shown in [
        QUOTE,
        MARKUP,
        "two\\nlines",
        "\\x1b[31mred\\x1b[0m",
        "abc\\u{202e}fed",
        GRAPHVIZ,
        MERMAID,
    ] {
        assert!(
            text.contains(shown),
            "the SVG's text does not show {shown:?}"
        );
    }
    assert!(svg.contains("&lt;script&gt;") && svg.contains("say &quot;hi&quot;"));
}

#[test]
fn dot_quotes_and_escapes_every_id_and_label() {
    let out = fearless_map::dot(&hostile());
    nothing_raw("dot", &out);
    assert!(
        out.contains(r#"label="say \"hi\"\nhost say \"hi\", "#),
        "{out}"
    );
    assert!(
        out.contains(r"two\\nlines"),
        "a newline is a visible \\n, not a DOT line break"
    );
    assert!(out.contains(r"\\x1b[31mred"));
    assert!(
        out.contains(r"back\\slash \\N \\l"),
        "Graphviz escapes cannot be written by a name"
    );
    assert!(out.contains(r#"graph [label="tier say \"hi\"""#));
    // Every statement's quotes balance: no string ends early.
    for line in out.lines() {
        let unescaped = line.replace("\\\\", "").replace("\\\"", "");
        assert_eq!(unescaped.matches('"').count() % 2, 0, "{line}");
    }
}

#[test]
fn mermaid_sanitises_ids_and_encodes_labels() {
    let out = fearless_map::mermaid(&hostile());
    nothing_raw("mermaid", &out);
    assert!(out.contains("say #quot;hi#quot;"), "{out}");
    assert!(out.contains("#60;script#62;alert('x')#60;/script#62;#38;amp;"));
    assert!(out.contains("end #35;quot; #96;md#96; #124;pipe#124; #37;#37;"));
    assert!(!out.contains("<script"));
    for line in out.lines() {
        // Inside labels only codes: every line has an even number of quotes.
        assert_eq!(line.matches('"').count() % 2, 0, "{line}");
        let id = line
            .trim_start()
            .split(['[', ' '])
            .next()
            .unwrap_or_default();
        assert!(id.is_ascii(), "{line}");
    }
}

#[test]
fn json_escapes_and_round_trips() {
    let map = hostile();
    let out = fearless_map::json(&map);
    nothing_raw("json", &out);
    assert!(out.contains("\\u001b[31mred") && out.contains("\\u202e"));
    let back: Map = serde_json::from_str(&out).expect("JSON");
    assert_eq!(back, map, "the escapes mean the same characters");
}

#[test]
fn the_text_view_shows_escapes() {
    let out = fearless_map::human(&hostile());
    nothing_raw("human", &out);
    assert!(
        out.contains(
            "  \\x1b[31mred\\x1b[0m  on host \\x1b[31mred\\x1b[0m, h\\x1b]8;;http://x\\x07link"
        ),
        "{out}"
    );
    assert!(out.contains("→ two\\nlines  [undeclared: seen live, not in depends_on]"));
    assert!(out.contains("tier abc\\u{202e}fed\n"));
}

#[test]
fn errors_escape_names() {
    let mut map = hostile();
    map.edges
        .push(Edge::new(ANSI, "\x1b]0;title\x07", EdgeKind::Declared));
    let message = map.validate().expect_err("unknown endpoint").to_string();
    assert!(
        !message.chars().any(fearless_map::escape::is_unsafe),
        "{message:?}"
    );
    assert!(message.contains("\\x1b]0;title\\x07"));
}
