//! What a map shows is shown, never obeyed: every text taken from the map (names, tiers,
//! hosts, descriptions) goes through here before it reaches an output.
//!
//! Two layers. [`clean`] first writes every character that could drive a terminal or
//! break a document as a visible escape (`\x1b`, `\n`, `\u{202e}`), the same rule as
//! `fearless-io`'s terminal escaping (this crate depends on no other fearless crate, so the
//! rule is restated here), plus U+FFFE and U+FFFF, which XML does not allow at all. Then
//! each format escapes its own syntax: XML entities for SVG, backslashes for DOT strings,
//! Mermaid's `#…;` codes, `\u` escapes in JSON.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is written as a visible escape by [`clean`]: C0 and C1 control characters
/// (newline and tab included), DEL, the Unicode format characters that reorder or hide
/// text (bidirectional embeddings, overrides and isolates, zero-width characters, line and
/// paragraph separators, the byte-order mark), and the non-characters U+FFFE and U+FFFF.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}'
        )
}

/// `text` with every [`is_unsafe`] character written as a visible escape: `\n`, `\r`,
/// `\t`, `\x1b` (ASCII), `\u{202e}` (the rest). Borrowed when nothing needed escaping.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && u32::from(c) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text for XML character data or a quoted attribute value: `clean`ed, then `&<>"'`
/// written as entities.
pub(crate) fn xml(text: &str) -> String {
    let text = clean(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Text for the inside of a DOT double-quoted string: `clean`ed, then `\` and `"`
/// backslash-escaped, so no escape of Graphviz's own (`\n`, `\l`, `\N`) can be written by
/// the text.
pub(crate) fn dot(text: &str) -> String {
    let text = clean(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Text for the inside of a Mermaid double-quoted label: `clean`ed, then `"` written as
/// `#quot;` and the characters Mermaid or its HTML labels would interpret (`#`, `&`, `<`,
/// `>`, `` ` ``, `%`, `|`) as numeric `#…;` codes.
pub(crate) fn mermaid(text: &str) -> String {
    let text = clean(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' | '&' | '<' | '>' | '`' | '%' | '|' => {
                let _ = write!(out, "#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A JSON document with every [`is_unsafe`] character that the serializer left as itself
/// (DEL, C1 controls, format characters) written as a `\uXXXX` escape. The serializer
/// escapes the C0 controls in strings itself, so a raw newline, tab or carriage return is
/// the document's own whitespace and stays; the others only occur inside strings, where
/// the escape means the same character, so the document parses to the same value.
pub(crate) fn json(document: &str) -> String {
    let mut out = String::with_capacity(document.len());
    for c in document.chars() {
        if is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t') {
            // Every unsafe character is in the Basic Multilingual Plane: one `\u` escape.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        assert!(matches!(
            clean("orders-api é"),
            Cow::Borrowed("orders-api é")
        ));
    }

    #[test]
    fn controls_are_shown_as_escapes() {
        assert_eq!(
            clean("a\nb\x1b[2J\u{202e}\u{fffe}"),
            "a\\nb\\x1b[2J\\u{202e}\\u{fffe}"
        );
    }

    #[test]
    fn each_format_escapes_its_syntax() {
        assert_eq!(
            xml("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
        assert_eq!(dot("a\"b\\n\n"), "a\\\"b\\\\n\\\\n");
        assert_eq!(mermaid("a\"b#<x>"), "a#quot;b#35;#60;x#62;");
        assert_eq!(json("\"\u{9b}\u{7f}\""), "\"\\u009b\\u007f\"");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn nothing_unsafe_survives_any_format(s in any::<String>()) {
            let document = serde_json::to_string(&s).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let escaped = json(&document);
            prop_assert_eq!(serde_json::from_str::<String>(&escaped).ok(), Some(s.clone()));
            for out in [clean(&s).into_owned(), xml(&s), dot(&s), mermaid(&s), escaped] {
                prop_assert!(!out.chars().any(is_unsafe), "{out:?}");
            }
            prop_assert!(!xml(&s).contains(['<', '>', '"', '\'']));
            prop_assert!(!mermaid(&s).contains('"'));
        }
    }
}
