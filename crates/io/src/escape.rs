//! Free text for a terminal: what a user (or a hostile file) wrote is shown, never obeyed.
//!
//! A host name, a label or a line of a config file can carry `ESC [ 2 J`, an OSC 8
//! hyperlink, a carriage return that overwrites the line, or a right-to-left override that
//! reorders what is read. Every such character is rendered as a visible escape: `\x1b`,
//! `\r`, `\n`, `\t`, `\x00`, `\u{9b}`, `\u{202e}`. Printable text (including non-ASCII
//! letters) is unchanged, so ordinary names print as they are.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must not reach a terminal as itself: C0 and C1 control characters
/// (newlines and tabs included), DEL, and the Unicode format characters that reorder or
/// hide text (bidirectional embeddings, overrides and isolates, zero-width joiners and
/// marks, line and paragraph separators, the byte-order mark).
pub fn is_terminal_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
        )
}

/// `text` with every [`is_terminal_unsafe`] character written as a visible escape.
/// Borrowed when nothing needed escaping.
pub fn escape_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_terminal_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Append `c` to `out`, escaped if it is [`is_terminal_unsafe`].
pub(crate) fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x80 && is_terminal_unsafe(c) => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if is_terminal_unsafe(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Displays a `&str` through [`escape_terminal`]: `format!("{}", Escaped(name))`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_terminal(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escape_sequences_are_shown_not_interpreted() {
        assert_eq!(
            escape_terminal("\x1b[2J\x1b]8;;http://x\x07"),
            "\\x1b[2J\\x1b]8;;http://x\\x07"
        );
        assert_eq!(escape_terminal("a\nb\r\tc\0"), "a\\nb\\r\\tc\\x00");
        assert_eq!(escape_terminal("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(
            escape_terminal("evil\u{202e}gpj.exe"),
            "evil\\u{202e}gpj.exe"
        );
        assert_eq!(escape_terminal("\x7f"), "\\x7f");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in ["web-1.example.com", "café ☕", "a\\nb", ""] {
            assert!(matches!(escape_terminal(s), Cow::Borrowed(b) if b == s));
        }
        assert_eq!(Escaped("x\ny").to_string(), "x\\ny");
    }

    proptest! {
        #[test]
        fn escaped_text_never_holds_an_unsafe_character(s in any::<String>()) {
            let e = escape_terminal(&s);
            prop_assert!(!e.chars().any(is_terminal_unsafe));
            // Nothing printable is lost: removing the escapes' backslashes keeps every safe char.
            let safe: String = s.chars().filter(|c| !is_terminal_unsafe(*c)).collect();
            let mut rest = e.as_ref();
            for c in safe.chars() {
                let i = rest.find(c);
                prop_assert!(i.is_some(), "{c:?} missing from {e:?}");
                rest = &rest[i.unwrap_or(0) + c.len_utf8()..];
            }
        }
    }
}
