//! One redaction for everything a configuration error shows: the heading, the label, the
//! hint and the code frame under them.
//!
//! Secrets are a URL's password (`amqp://user:PASSWORD@host`) and the value of any key that
//! names a secret (`password`, `token`, `Authorization`, …, but not `*_env`, which names an
//! environment variable). The code frame is rendered from a *shown* copy of the file in
//! which every secret reads `***` and every control character is escaped (`\x1b`), so a
//! hostile file cannot drive the terminal either; [`Shown::map`] moves spans of the
//! original text onto the copy.

use fearless_io::is_terminal_unsafe;
use std::ops::Range;

/// Whether a key or variable name usually holds a credential.
pub(crate) fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    if n.ends_with("_env") {
        return false;
    }
    [
        "pass",
        "pasw",
        "pwd",
        "secret",
        "token",
        "private",
        "credential",
        "api_key",
        "apikey",
        "authorization",
        "cookie",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// `scheme://user:secret@host` → `scheme://user:***@host`, for anything that prints a URL
/// from the config (messages end up in CI logs).
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in url_passwords(text) {
        out.push_str(&text[last..r.start]);
        out.push_str("***");
        last = r.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Byte ranges of the passwords of every `scheme://user:password@` in `text`.
pub(crate) fn url_passwords(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let start = from + i + 3;
        let rest = &text[start..];
        let end = rest
            .find(|c: char| "/?#".contains(c) || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
            && colon + 1 < at
        {
            out.push(start + colon + 1..start + at);
        }
        from = start;
    }
    out
}

/// `text` with every secret of length 4 or more replaced by `***`, and URL passwords
/// redacted. Shorter secrets are left: masking every `ab` would garble messages.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = redact_userinfo(text);
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// The copy of a file shown in code frames, with a map from original offsets.
#[derive(Debug)]
pub(crate) struct Shown {
    pub(crate) text: String,
    /// `(original start, original end, shown start, shown end)` of every replacement, in order.
    edits: Vec<(usize, usize, usize, usize)>,
}

impl Shown {
    /// Mask `ranges` (secret values), every occurrence of `secrets` and every URL
    /// password as `***` (line by line, so the frame keeps its line numbers), and escape
    /// control characters.
    pub(crate) fn new(text: &str, ranges: &[Range<usize>], secrets: &[String]) -> Self {
        let mut masks: Vec<Range<usize>> = ranges
            .iter()
            .filter(|r| r.start < r.end && r.end <= text.len())
            .cloned()
            .collect();
        masks.extend(url_passwords(text));
        for s in secrets.iter().filter(|s| s.len() >= 4) {
            masks.extend(text.match_indices(s.as_str()).map(|(i, m)| i..i + m.len()));
        }
        masks.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut merged: Vec<Range<usize>> = Vec::new();
        for r in masks {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        let mut shown = String::with_capacity(text.len());
        let mut edits = Vec::new();
        let mut masks = merged.into_iter().peekable();
        let mut i = 0;
        while i < text.len() {
            if let Some(m) = masks.peek()
                && m.start <= i
            {
                let end = m.end.min(text.len());
                let end = (end..=text.len())
                    .find(|e| text.is_char_boundary(*e))
                    .unwrap_or(text.len());
                masks.next();
                if end <= i {
                    continue;
                }
                // One `***` per line of the secret, newlines kept.
                let mut seg_start = i;
                for (j, line) in text[i..end].split('\n').enumerate() {
                    if j > 0 {
                        shown.push('\n');
                        seg_start += 1;
                    }
                    let shown_start = shown.len();
                    shown.push_str("***");
                    edits.push((seg_start, seg_start + line.len(), shown_start, shown.len()));
                    seg_start += line.len();
                }
                i = end;
                continue;
            }
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            let keep = !is_terminal_unsafe(c)
                || c == '\n'
                || c == '\t'
                || (c == '\r' && text[i + 1..].starts_with('\n'));
            if keep {
                shown.push(c);
            } else {
                let shown_start = shown.len();
                shown.push_str(&fearless_io::escape_terminal(&c.to_string()));
                edits.push((i, i + c.len_utf8(), shown_start, shown.len()));
            }
            i += c.len_utf8();
        }
        Self { text: shown, edits }
    }

    /// The offset in the shown text of `offset` in the original; an offset inside a
    /// replaced range maps to the start of its replacement.
    pub(crate) fn map(&self, offset: usize) -> usize {
        let idx = self.edits.partition_point(|e| e.0 <= offset);
        let shown = match idx.checked_sub(1).map(|k| self.edits[k]) {
            None => offset,
            Some((_, o_end, s_start, _)) if offset < o_end => s_start,
            Some((_, o_end, _, s_end)) => s_end + (offset - o_end),
        };
        shown.min(self.text.len())
    }

    /// A span of the original text mapped onto the shown text (at least 1 byte where the
    /// shown text has one).
    pub(crate) fn map_span(&self, offset: usize, len: usize) -> (usize, usize) {
        let start = self.map(offset);
        let end = self.map(offset + len).max(start);
        let len = if end == start && start < self.text.len() {
            1
        } else {
            end - start
        };
        (start, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_found_and_redacted() {
        assert_eq!(
            redact_userinfo("amqp://guest:hunter2@mq:5672/%2f and postgres://u:p@db/x"),
            "amqp://guest:***@mq:5672/%2f and postgres://u:***@db/x"
        );
        assert_eq!(redact_userinfo("http://user@host/"), "http://user@host/");
        assert_eq!(redact_userinfo("no url"), "no url");
        assert_eq!(redact_userinfo("x://a:b@c@d/"), "x://a:***@d/");
    }

    #[test]
    fn secret_names() {
        for k in [
            "password",
            "db_password",
            "API_KEY",
            "Authorization",
            "token",
            "ssh_private_key",
        ] {
            assert!(looks_secret(k), "{k}");
        }
        for k in ["secret_env", "routing_key_env", "role", "address", "name"] {
            assert!(!looks_secret(k), "{k}");
        }
    }

    #[test]
    fn the_shown_copy_masks_secrets_escapes_controls_and_maps_offsets() {
        let text = "url: amqp://u:hunter2@h/\npassword: s3cr3t-value\nname: a\x1b[2Jb\n";
        let pw = text.find("s3cr3t").expect("pw");
        let secret = pw..pw + "s3cr3t-value".len();
        let shown = Shown::new(text, std::slice::from_ref(&secret), &[]);
        assert_eq!(
            shown.text,
            "url: amqp://u:***@h/\npassword: ***\nname: a\\x1b[2Jb\n"
        );
        assert_eq!(shown.text.lines().count(), text.lines().count());
        // `name` keeps pointing at `name`, and the byte after the escape at `[`.
        let name = text.find("name").expect("name");
        assert_eq!(&shown.text[shown.map(name)..shown.map(name) + 4], "name");
        let bracket = text.find("[2J").expect("[");
        assert_eq!(&shown.text[shown.map(bracket)..shown.map(bracket) + 1], "[");
        // Inside a mask maps to the mask.
        assert_eq!(&shown.text[shown.map(pw + 3)..shown.map(pw + 3) + 3], "***");
    }

    #[test]
    fn multi_line_secrets_keep_the_line_count() {
        let text = "key: |\n  line one\n  line two\nnext: x\n";
        let start = text.find("  line one").expect("start");
        let end = text.find("next").expect("end") - 1;
        let block = start..end;
        let shown = Shown::new(text, std::slice::from_ref(&block), &[]);
        assert_eq!(shown.text, "key: |\n***\n***\nnext: x\n");
    }

    #[test]
    fn secrets_are_scrubbed_from_messages() {
        let secrets = vec!["hunter22".to_owned(), "ab".to_owned()];
        assert_eq!(
            scrub("bad value `hunter22` near ab, url amqp://x:y@z", &secrets),
            "bad value `***` near ab, url amqp://x:***@z"
        );
    }
}
