//! Canonical JSON and the journal's hash chain — the recipe documented in `VERIFY.md`.
//!
//! Canonical JSON: object keys sorted by code point, no insignificant whitespace, strings
//! escaped as serde_json does (`"`, `\`, control characters; nothing else), numbers as
//! serde_json prints them. Keys are sorted here explicitly rather than by relying on
//! serde_json's `Map` being a `BTreeMap`: any crate in the build could turn on
//! `preserve_order` and silently change every hash.
//!
//! `hash = sha256_hex(prev_hash + "\n" + canonical({actor, kind, payload, seq, subject, time}))`,
//! with `vouched_by` among the keys when the entry has one (schema 6 on; entries without it
//! hash as they always did), and the first entry's `prev_hash` is [`GENESIS`].

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first journal entry: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `value` as canonical JSON.
pub fn to_canonical(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Byte order of UTF-8 is code-point order.
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// The fields of a journal entry that its hash covers. `payload` is canonical JSON text, hashed
/// exactly as stored, so a payload rewritten in an equivalent but different form is detected too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hashed<'a> {
    pub(crate) seq: u64,
    pub(crate) time: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) payload: &'a str,
    /// What vouched for the actor; `None` (older entries) leaves the key out.
    pub(crate) vouched_by: Option<&'a str>,
}

impl Hashed<'_> {
    /// The canonical JSON of the entry: the keys in sorted order.
    fn canonical(&self) -> String {
        let mut out = String::with_capacity(128 + self.payload.len());
        out.push_str("{\"actor\":");
        write_str(&mut out, self.actor);
        out.push_str(",\"kind\":");
        write_str(&mut out, self.kind);
        out.push_str(",\"payload\":");
        out.push_str(self.payload);
        out.push_str(",\"seq\":");
        out.push_str(&self.seq.to_string());
        out.push_str(",\"subject\":");
        write_str(&mut out, self.subject);
        out.push_str(",\"time\":");
        write_str(&mut out, self.time);
        if let Some(by) = self.vouched_by {
            out.push_str(",\"vouched_by\":");
            write_str(&mut out, by);
        }
        out.push('}');
        out
    }

    /// The entry's hash given the previous entry's hash, as lower-case hex.
    pub(crate) fn hash(&self, prev_hash: &str) -> String {
        let mut sha = Sha256::new();
        sha.update(prev_hash.as_bytes());
        sha.update(b"\n");
        sha.update(self.canonical().as_bytes());
        hex::encode(sha.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_at_every_depth_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [1, {"y": null, "x": true}], "é": "q\"\n\u{1}"}});
        assert_eq!(
            to_canonical(&v),
            r#"{"a":{"z":[1,{"x":true,"y":null}],"é":"q\"\n\u0001"},"b":1}"#
        );
    }

    #[test]
    fn entry_canonical_form_is_the_sorted_object() {
        let payload = json!({"to": "authorize", "by": "ann"});
        let payload = to_canonical(&payload);
        let h = Hashed {
            seq: 7,
            time: "2026-01-02T03:04:05.000006Z",
            actor: "ann",
            kind: "change.submitted",
            subject: "CHG-1",
            payload: &payload,
            vouched_by: None,
        };
        let whole = json!({"seq": 7, "time": h.time, "actor": "ann", "kind": h.kind, "subject": "CHG-1", "payload": {"to": "authorize", "by": "ann"}});
        assert_eq!(h.canonical(), to_canonical(&whole));
        let vouched = Hashed {
            vouched_by: Some("os-account"),
            ..h
        };
        let mut whole = whole;
        whole["vouched_by"] = json!("os-account");
        assert_eq!(vouched.canonical(), to_canonical(&whole));
        assert_ne!(vouched.hash(GENESIS), h.hash(GENESIS));
        assert_eq!(h.hash(GENESIS).len(), 64);
        assert_ne!(h.hash(GENESIS), h.hash(&"1".repeat(64)));
    }
}
