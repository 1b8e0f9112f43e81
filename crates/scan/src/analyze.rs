//! One file: parse, match every rule of its language, decide what each match is on the
//! syntax tree (a `shell` command that is not a constant is `injection`; an address is
//! checked against the loopback and documentation ranges), drop suppressed matches.

use std::collections::{BTreeMap, BTreeSet};

use ast_grep_core::matcher::MatcherExt;
use ast_grep_core::tree_sitter::{LanguageExt, StrDoc};
use ast_grep_core::{Matcher, Node, NodeMatch};
use ast_grep_language::SupportLang;

use crate::address::{addresses, hostname, literal_value, reportable, ssh_destination};
use crate::lang::Lang;
use crate::report::{Finding, Note, NoteKind, Severity, Site, fingerprint};
use crate::rules::{Rule, RuleSet};

type N<'r> = Node<'r, StrDoc<SupportLang>>;

/// What one file gave.
#[derive(Debug, Default)]
pub(crate) struct FileResult {
    pub(crate) findings: Vec<Finding>,
    /// Broker SDK sites, aggregated into one `lock-in` finding by the caller.
    pub(crate) lock_in: Vec<Site>,
    pub(crate) suppressed: usize,
    pub(crate) notes: Vec<Note>,
}

/// Scan one file's text. Never panics on any input: the parser recovers from errors (a note
/// says so) and every rule runs on what it could parse.
pub(crate) fn analyze(path: &str, lang: Lang, text: &str, rules: &RuleSet) -> FileResult {
    analyze_view(path, lang, text, text, rules, "")
}

/// Scan a Dockerfile: the shell of its `RUN` instructions, with the shell rules, on a view of
/// the file in which every other byte is blank (so lines and columns are the file's own).
pub(crate) fn analyze_dockerfile(path: &str, text: &str, rules: &RuleSet) -> FileResult {
    let view = crate::dockerfile::shell_view(text);
    analyze_view(
        path,
        Lang::Bash,
        &view,
        text,
        rules,
        " (Dockerfile RUN lines)",
    )
}

/// Match the rules of `lang` on `parsed`, a text of the same length as the file's `shown`
/// text, which gives the suppressions and the code frames.
fn analyze_view(
    path: &str,
    lang: Lang,
    parsed: &str,
    shown: &str,
    rules: &RuleSet,
    what: &str,
) -> FileResult {
    let mut out = FileResult::default();
    let grep = lang.support().ast_grep(parsed);
    let root = grep.root();
    if root.get_inner_node().has_error() {
        out.notes.push(Note {
            path: path.to_owned(),
            kind: NoteKind::SyntaxErrors,
            detail: format!(
                "{lang}{what} parser recovered from syntax errors; findings in the broken part may be missing"
            ),
        });
    }
    let text = shown;
    let suppressions = Suppressions::parse(text);
    for line in &suppressions.without_reason {
        out.notes.push(Note {
            path: path.to_owned(),
            kind: NoteKind::SuppressionWithoutReason,
            detail: format!("line {}: `fearless: ignore[…]` without a reason", line + 1),
        });
    }
    let in_tests = is_test_path(path);
    let mut seen = BTreeSet::new();
    // One walk of the tree for all the rules (what `find_all` does for one rule: skip a node
    // whose kind the rule cannot match, then match it) — the walk costs more than the
    // matching, so walking once instead of once per rule saves a third of a scan.
    let rules: Vec<&Rule> = rules.for_lang(lang).collect();
    let kinds: Vec<_> = rules
        .iter()
        .map(|r| r.config.matcher.potential_kinds())
        .collect();
    for candidate in root.dfs() {
        let kind = usize::from(candidate.kind_id());
        for (rule, kinds) in rules.iter().zip(&kinds) {
            if kinds.as_ref().is_some_and(|k| !k.contains(kind)) {
                continue;
            }
            let Some(m) = rule.config.matcher.match_node(candidate.clone()) else {
                continue;
            };
            let Some(found) = judge(rule, &m, lang, in_tests) else {
                continue;
            };
            let node: &N<'_> = &m;
            let range = node.range();
            if !seen.insert((found.id.clone(), range.start, range.end)) {
                continue;
            }
            let start = node.start_pos();
            let end = node.end_pos();
            let line = start.line();
            if suppressions.covers(line, &found.id) {
                out.suppressed += 1;
                continue;
            }
            let matched = shorten(&node.text());
            if found.id == "lock-in" && rule.builtin {
                out.lock_in.push(Site {
                    path: path.to_owned(),
                    line: line + 1,
                    column: start.column(node) + 1,
                    matched,
                });
                continue;
            }
            out.findings.push(Finding {
                fingerprint: fingerprint(&found.id, path, &node.text()),
                rule: found.id,
                severity: found.severity,
                path: path.to_owned(),
                line: line + 1,
                column: start.column(node) + 1,
                end_line: end.line() + 1,
                end_column: end.column(node) + 1,
                matched,
                source_line: shorten(line_of(text, range.start)),
                message: found.message,
                fix: rule.config.note.clone(),
                sites: Vec::new(),
            });
        }
    }
    out
}

/// A match as it will be reported.
struct Judged {
    id: String,
    severity: Severity,
    message: String,
}

/// Decide what a match is; `None` drops it.
fn judge(
    rule: &Rule,
    m: &NodeMatch<'_, StrDoc<SupportLang>>,
    lang: Lang,
    in_tests: bool,
) -> Option<Judged> {
    let config = &rule.config;
    let mut judged = Judged {
        id: config.id.clone(),
        severity: match config.severity {
            ast_grep_config::Severity::Error => Severity::Error,
            ast_grep_config::Severity::Warning => Severity::Warning,
            _ => Severity::Info,
        },
        message: substitute(&config.message, m),
    };
    if !rule.builtin {
        return Some(judged);
    }
    match config.id.as_str() {
        "shell" => {
            let constant = command_of(m).is_some_and(|cmd| cmd.iter().all(|n| is_constant(n, 0)));
            if !constant {
                judged.id = "injection".to_owned();
                judged.severity = Severity::Error;
                judged.message = format!(
                    "command built from data run through a shell: {}",
                    judged.message
                );
            } else if lang == Lang::Bash {
                // A script is shell already: a constant `eval` or `sh -c` is not news.
                return None;
            }
        }
        "hard-coded-address" => {
            if in_tests || is_docstring(m) {
                return None;
            }
            let text = m.text();
            let address = match addresses(&text).into_iter().find(|a| reportable(*a)) {
                Some(ip) => ip.to_string(),
                None if !in_import(m) => {
                    let value = literal_value(&text);
                    let host = match hostname(value) {
                        Some(host) => host,
                        None if lang == Lang::Bash => ssh_destination(value)?,
                        None => return None,
                    };
                    host.to_owned()
                }
                None => return None,
            };
            judged.message = format!("{} {address}", judged.message);
        }
        _ => {}
    }
    Some(judged)
}

/// Whether a literal is a statement of its own (a Python docstring, a JavaScript directive):
/// documentation, whose example addresses configure nothing.
fn is_docstring(node: &N<'_>) -> bool {
    node.parent()
        .is_some_and(|p| p.kind() == "expression_statement" && p.named_children().count() == 1)
}

/// Whether a literal names a module rather than an address: it is part of an import
/// (`import`, `use`, Go's import spec, PHP's `require`) or the argument of a call that loads
/// code (`require("socket.io")`, `import_module`, `Class.forName`).
fn in_import(node: &N<'_>) -> bool {
    for ancestor in node.ancestors().take(4) {
        let kind = ancestor.kind();
        if kind.contains("import")
            || kind.contains("require")
            || kind.contains("include")
            || kind == "using_directive"
        {
            return true;
        }
        if kind.contains("call") || kind.contains("invocation") {
            let callee = ["function", "method", "name"]
                .into_iter()
                .find_map(|f| ancestor.field(f));
            let Some(callee) = callee else { continue };
            let text = callee.text();
            let last = text.rsplit(['.', ':', '>']).next().unwrap_or(&text);
            return matches!(
                last,
                "require"
                    | "require_relative"
                    | "import"
                    | "import_module"
                    | "__import__"
                    | "forName"
                    | "load"
            );
        }
    }
    false
}

/// The command part of a `shell` match: `$CMD` when the rule names it; else the node itself
/// for backticks (`subshell`, `shell_command_expression`), a shell command's arguments after
/// `-c` (or all of `eval`'s), or the first argument of a call.
fn command_of<'r>(m: &NodeMatch<'r, StrDoc<SupportLang>>) -> Option<Vec<N<'r>>> {
    if let Some(cmd) = m.get_env().get_match("CMD") {
        return Some(vec![cmd.clone()]);
    }
    let node: &N<'r> = m;
    match node.kind().as_ref() {
        "subshell" | "shell_command_expression" => Some(vec![node.clone()]),
        "command" => {
            let args: Vec<N<'r>> = node.field_children("argument").collect();
            let after_c = args.iter().position(|a| a.text() == "-c");
            Some(match after_c {
                Some(i) => args.into_iter().skip(i + 1).take(1).collect(),
                None => args,
            })
        }
        _ => {
            let args = node.field("arguments")?;
            let first = args.named_children().next()?;
            if first.kind() == "argument" {
                let inner = first.named_children().next()?;
                return Some(vec![inner]);
            }
            Some(vec![first])
        }
    }
}

/// Whether a node is a constant on the syntax tree: a string literal without interpolation,
/// or a concatenation, list or parenthesis of constants.
fn is_constant(node: &N<'_>, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match node.kind().as_ref() {
        "string"
        | "template_string"
        | "interpreted_string_literal"
        | "raw_string_literal"
        | "string_literal"
        | "raw_string"
        | "verbatim_string_literal"
        | "encapsed_string"
        | "subshell"
        | "shell_command_expression"
        | "word"
        | "heredoc"
        | "nowdoc" => node
            .dfs()
            .skip(1)
            .filter(|n| n.is_named())
            .all(|n| literal_part(&n.kind())),
        "concatenated_string"
        | "binary_expression"
        | "binary_operator"
        | "concatenation"
        | "list"
        | "tuple"
        | "array"
        | "array_initializer"
        | "parenthesized_expression"
        | "argument" => node.named_children().all(|n| is_constant(&n, depth + 1)),
        _ => false,
    }
}

/// The named parts a string literal is made of when nothing is interpolated.
fn literal_part(kind: &str) -> bool {
    kind.contains("content")
        || kind.contains("fragment")
        || kind.ends_with("_start")
        || kind.ends_with("_end")
        || kind.starts_with("escape")
        || kind == "string_value"
        || kind == "heredoc_body"
        || kind == "nowdoc_body"
        || kind == "heredoc_start"
}

/// `$VAR` in a message replaced by the text its meta-variable matched.
fn substitute(message: &str, m: &NodeMatch<'_, StrDoc<SupportLang>>) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..len];
        match m.get_env().get_match(name) {
            Some(node) if !name.is_empty() => out.push_str(&shorten(&node.text())),
            _ => {
                out.push('$');
                out.push_str(name);
            }
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// The first line of a text, at most 120 characters.
fn shorten(text: &str) -> String {
    let first = text.lines().next().unwrap_or("");
    let mut out: String = first.chars().take(120).collect();
    if out.len() < first.len() || first.len() < text.trim_end().len() {
        out.push('…');
    }
    out
}

/// The source line around a byte offset.
fn line_of(text: &str, offset: usize) -> &str {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    text[start..end].trim_end_matches('\r')
}

/// Whether a path is test code (addresses there are fixtures, not configuration).
pub(crate) fn is_test_path(path: &str) -> bool {
    let mut parts = path.split('/').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_some() {
            if matches!(
                part,
                "test" | "tests" | "__tests__" | "spec" | "specs" | "testdata" | "testing"
            ) {
                return true;
            }
            continue;
        }
        let stem = part.split('.').next().unwrap_or(part);
        return part.starts_with("test_")
            || stem.ends_with("_test")
            || stem.ends_with("_spec")
            || stem.ends_with("Test")
            || stem.ends_with("Tests")
            || part.contains(".test.")
            || part.contains(".spec.")
            || stem == "conftest";
    }
    false
}

/// Inline suppressions: `fearless: ignore[ID, ID2] reason` covers its own line and the next.
#[derive(Debug, Default)]
struct Suppressions {
    /// 0-based line → the ids it covers.
    by_line: BTreeMap<usize, Vec<String>>,
    without_reason: Vec<usize>,
}

impl Suppressions {
    fn parse(text: &str) -> Suppressions {
        const MARK: &str = "fearless: ignore[";
        let mut s = Suppressions::default();
        if !text.contains(MARK) {
            return s;
        }
        for (n, line) in text.lines().enumerate() {
            let Some(i) = line.find(MARK) else { continue };
            let rest = &line[i + MARK.len()..];
            let Some(close) = rest.find(']') else {
                continue;
            };
            let ids: Vec<String> = rest[..close]
                .split(',')
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .collect();
            let reason = rest[close + 1..]
                .trim()
                .trim_end_matches("*/")
                .trim_end_matches("-->")
                .trim();
            if reason.is_empty() {
                s.without_reason.push(n);
            }
            for line in [n, n + 1] {
                s.by_line
                    .entry(line)
                    .or_default()
                    .extend(ids.iter().cloned());
            }
        }
        s
    }

    fn covers(&self, line: usize, id: &str) -> bool {
        self.by_line
            .get(&line)
            .is_some_and(|ids| ids.iter().any(|i| i == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths() {
        assert!(is_test_path("tests/x.py"));
        assert!(is_test_path("pkg/test_x.py"));
        assert!(is_test_path("pkg/x_test.go"));
        assert!(is_test_path("src/a.test.ts"));
        assert!(is_test_path("src/FooTest.java"));
        assert!(!is_test_path("src/latest.py"));
        assert!(!is_test_path("tests"));
    }

    #[test]
    fn suppressions() {
        let s = Suppressions::parse(
            "a # fearless: ignore[shell, distro] legacy\nb\nc # fearless: ignore[x]\n",
        );
        assert!(s.covers(0, "shell") && s.covers(1, "distro") && !s.covers(2, "shell"));
        assert!(s.covers(2, "x"));
        assert_eq!(s.without_reason, vec![2]);
    }
}
