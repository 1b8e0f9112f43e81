//! A [`Report`] as SARIF 2.1.0: the rules with their help links, one result per finding
//! (a project-level finding lists its sites as related locations), the fingerprint as a
//! partial fingerprint so code-scanning dashboards track a finding across line moves.

use serde_json::{Value, json};

use crate::report::{Report, Severity};

/// The SARIF schema this log claims.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The report as a SARIF 2.1.0 log.
pub fn sarif(report: &Report) -> Value {
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|r| {
            let mut rule = json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": { "text": r.summary },
                "defaultConfiguration": { "level": level(r.severity) },
            });
            if let Some(uri) = &r.help_uri {
                // The schema wants an absolute URI in `helpUri`; a built-in rule's page is a
                // path in fearless's repository, so it goes in the help text instead.
                if is_absolute_uri(uri) {
                    rule["helpUri"] = json!(uri);
                    rule["help"] = json!({ "text": format!("see {uri}") });
                } else {
                    rule["help"] = json!({ "text": format!("see {uri} in fearless's repository") });
                }
            }
            if r.builtin
                && let Some(page) = crate::rules::builtin_page(&r.id)
            {
                rule["help"]["markdown"] = json!(page);
                if rule["help"]["text"].is_null() {
                    rule["help"]["text"] = json!(r.summary);
                }
            }
            rule
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": { "text": match &f.fix {
                    Some(fix) => format!("{} (fix: {fix})", f.message),
                    None => f.message.clone(),
                } },
                "locations": [location(&f.path, f.line, f.column, Some((f.end_line, f.end_column)), &f.matched)],
                "partialFingerprints": { "fearless/v1": f.fingerprint },
            });
            if let Some(i) = report.rules.iter().position(|r| r.id == f.rule) {
                result["ruleIndex"] = json!(i);
            }
            if !f.sites.is_empty() {
                result["relatedLocations"] = Value::Array(
                    f.sites
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let mut l = location(&s.path, s.line, s.column, None, &s.matched);
                            l["id"] = json!(i);
                            l
                        })
                        .collect(),
                );
            }
            result
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "fearless",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "originalUriBaseIds": { "SRCROOT": { "description": { "text": "the scanned root" } } },
            "results": results,
        }]
    })
}

/// Whether `uri` is an absolute URI (RFC 3986: a scheme, then `:`), as SARIF's `helpUri` needs.
pub fn is_absolute_uri(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !uri.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn location(
    path: &str,
    line: usize,
    column: usize,
    end: Option<(usize, usize)>,
    snippet: &str,
) -> Value {
    let mut region = json!({
        "startLine": line,
        "startColumn": column,
        "snippet": { "text": snippet },
    });
    if let Some((end_line, end_column)) = end {
        region["endLine"] = json!(end_line);
        region["endColumn"] = json!(end_column.max(1));
    }
    json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri(path), "uriBaseId": "SRCROOT" },
            "region": region,
        }
    })
}

/// A relative path as a URI reference: every byte outside the unreserved set and `/`
/// percent-encoded.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_have_a_scheme() {
        assert!(is_absolute_uri("https://example.org/rules/x"));
        assert!(is_absolute_uri("urn:fearless:rule"));
        assert!(!is_absolute_uri("docs/rules/shell.md"));
        assert!(!is_absolute_uri("C"));
        assert!(!is_absolute_uri("1http://x"));
        assert!(!is_absolute_uri("https://a b"));
    }
}
