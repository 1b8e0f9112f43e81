//! Ansible's INI inventory format, line by line as its `ini` plugin reads it: `[group]`,
//! `[group:vars]`, `[group:children]` (and `[group:hosts]`), host lines split like a POSIX
//! shell (`shlex`, `#` starting a comment), values read as Python literals where they are
//! one (`"quoted"`, `2222`, `0x10`), group names kept as written (Ansible warns about
//! other than word characters but keeps them), and groups named in `:children` or `:vars`
//! that are never declared reported. Every problem is collected, each at its line.

use super::{Inv, Var};
use crate::source::Span;
use std::collections::HashMap;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Vars,
    Children,
    /// After a bad section header: its lines are skipped, not misread.
    Skip,
}

/// A group named before it is declared.
#[derive(Debug)]
struct Pending {
    state: State,
    span: Option<Span>,
    /// For `:children`: the groups that name it, in order.
    parents: Vec<String>,
}

pub(super) fn parse(text: &str, inv: &mut Inv) {
    let mut group = "ungrouped".to_owned();
    let mut state = State::Hosts;
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let lead = raw.len() - raw.trim_start().len();
        let span = Some(Span {
            offset: line_start + lead,
            len: line.len(),
        });
        if let Some((name, tag)) = section(line) {
            let name = name.to_owned();
            state = match tag {
                None | Some("hosts") => State::Hosts,
                Some("vars") => State::Vars,
                Some("children") => State::Children,
                Some(other) => {
                    inv.error(
                        format!("section [{name}:{other}] has unknown type `{other}`"),
                        span,
                    )
                    .hint = Some("sections are [group], [group:vars] and [group:children]".into());
                    State::Skip
                }
            };
            if state == State::Skip {
                continue;
            }
            if !inv.groups.contains_key(&name) {
                if state == State::Vars && !pending.contains_key(&name) {
                    pending.insert(
                        name.clone(),
                        Pending {
                            state,
                            span,
                            parents: Vec::new(),
                        },
                    );
                }
                inv.add_group(&name, span);
            }
            if state != State::Vars {
                declare(inv, &mut pending, &name);
            }
            group = name;
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            inv.error(format!("invalid section header `{line}`"), span)
                .hint =
                Some("write [group], [group:vars] or [group:children], without spaces".into());
            state = State::Skip;
            continue;
        }
        match state {
            State::Hosts => host_line(inv, line, line_start + lead, span, &group),
            State::Vars => match line.split_once('=') {
                Some((k, v)) => {
                    let (k, v) = (k.trim(), v.trim());
                    let value = parse_value(v);
                    if crate::redact::looks_secret(k) {
                        let start = line_start + lead + line.len() - v.len();
                        inv.secret(Some(start..start + v.len()), value.as_deref().unwrap_or(v));
                    }
                    let var = Var {
                        value,
                        nested: false,
                        span,
                    };
                    if let Some(g) = inv.groups.get_mut(&group) {
                        g.vars.insert(k.to_owned(), var);
                    }
                }
                None => {
                    inv.error(
                        format!("expected key=value in [{group}:vars], found `{line}`"),
                        span,
                    );
                }
            },
            State::Children => match group_name(line) {
                Some(child) if inv.groups.contains_key(child) => inv.add_child(&group, child),
                Some(child) => {
                    pending
                        .entry(child.to_owned())
                        .or_insert(Pending {
                            state: State::Children,
                            span,
                            parents: Vec::new(),
                        })
                        .parents
                        .push(group.clone());
                }
                None => {
                    inv.error(
                        format!("expected a group name in [{group}:children], found `{line}`"),
                        span,
                    );
                }
            },
            State::Skip => {}
        }
    }
    let mut left: Vec<(String, Pending)> = pending.into_iter().collect();
    left.sort_by_key(|(_, p)| p.span.map(|s| s.offset));
    for (name, p) in left {
        let msg = match (p.state, p.parents.last()) {
            (State::Children, Some(parent)) => {
                format!("[{parent}:children] names group `{name}`, which is never declared")
            }
            _ => format!("[{name}:vars] is for group `{name}`, which is never declared"),
        };
        inv.error(msg, p.span).hint = Some(format!(
            "declare it with a [{name}] or [{name}:children] section"
        ));
    }
}

/// `name` was declared by a section: settle the `:children` entries that named it (and,
/// as Ansible does, those of its parents that were themselves waiting as children). A
/// worklist, not recursion: the chain may be as long as the file.
fn declare(inv: &mut Inv, pending: &mut HashMap<String, Pending>, name: &str) {
    let mut work = vec![name.to_owned()];
    while let Some(name) = work.pop() {
        let Some(p) = pending.remove(&name) else {
            continue;
        };
        if p.state == State::Children {
            for parent in &p.parents {
                inv.add_child(parent, &name);
                if pending
                    .get(parent)
                    .is_some_and(|pp| pp.state == State::Children)
                {
                    work.push(parent.clone());
                }
            }
        }
    }
}

/// `[name]` or `[name:tag]`, optionally followed by a `#` comment.
fn section(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.strip_prefix('[')?;
    let name_end = rest.find(|c: char| c == ':' || c == ']' || c.is_whitespace())?;
    let name = &rest[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &rest[name_end..];
    let mut tag = None;
    if let Some(r) = rest.strip_prefix(':') {
        let end = r.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
        if end == 0 {
            return None;
        }
        tag = Some(&r[..end]);
        rest = &r[end..];
    }
    let rest = rest.strip_prefix(']')?.trim_start();
    (rest.is_empty() || rest.starts_with('#')).then_some((name, tag))
}

/// A `:children` line: one group name, optionally followed by a `#` comment.
fn group_name(line: &str) -> Option<&str> {
    let end = line
        .find(|c: char| c == ':' || c == ']' || c.is_whitespace())
        .unwrap_or(line.len());
    let rest = line[end..].trim_start();
    (end > 0 && (rest.is_empty() || rest.starts_with('#'))).then(|| &line[..end])
}

fn host_line(inv: &mut Inv, line: &str, line_offset: usize, span: Option<Span>, group: &str) {
    let tokens = match shlex(line) {
        Ok(t) => t,
        Err(e) => {
            inv.error(format!("cannot split host line: {e}"), span);
            return;
        }
    };
    let Some((pattern, rest)) = tokens.split_first() else {
        return;
    };
    let mut vars = Vec::new();
    for (t, raw) in rest {
        let Some((k, v)) = t.split_once('=') else {
            inv.error(
                format!("expected key=value after host `{}`, found `{t}`", pattern.0),
                span,
            )
            .hint = Some("a host line is a host pattern, then variables as key=value".into());
            return;
        };
        let value = parse_value(v);
        if crate::redact::looks_secret(k) {
            let start = line_offset + raw.start + raw.len().min(k.len() + 1);
            let range = start..line_offset + raw.end;
            inv.secret(Some(range), value.as_deref().unwrap_or(v));
        }
        vars.push((
            k.to_owned(),
            Var {
                value,
                nested: false,
                span,
            },
        ));
    }
    inv.add_hosts(&pattern.0, span, group, &vars, true);
}

/// Python's `shlex.split(line, comments=True)` in POSIX mode: words with their byte
/// ranges in `line`.
fn shlex(line: &str) -> Result<Vec<(String, Range<usize>)>, &'static str> {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Space,
        Word,
        Quote(char),
        Escape(Option<char>),
    }
    let mut out = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut start = 0;
    let mut state = S::Space;
    let mut emit = |token: &mut String, quoted: &mut bool, start: usize, end: usize| {
        if !token.is_empty() || *quoted {
            out.push((std::mem::take(token), start..end));
        }
        *quoted = false;
    };
    for (i, c) in line.char_indices() {
        match state {
            S::Space | S::Word => {
                if state == S::Space && !c.is_whitespace() && c != '#' {
                    start = i;
                }
                match c {
                    c if c.is_whitespace() => {
                        emit(&mut token, &mut quoted, start, i);
                        state = S::Space;
                    }
                    '#' => {
                        emit(&mut token, &mut quoted, start, i);
                        return Ok(out);
                    }
                    '"' | '\'' => {
                        quoted = true;
                        state = S::Quote(c);
                    }
                    '\\' => state = S::Escape(None),
                    c => {
                        token.push(c);
                        state = S::Word;
                    }
                }
            }
            S::Quote(q) => match c {
                c if c == q => state = S::Word,
                '\\' if q == '"' => state = S::Escape(Some(q)),
                c => token.push(c),
            },
            S::Escape(inside) => {
                // Within double quotes a backslash escapes only `"` and `\`.
                if inside.is_some_and(|q| c != q && c != '\\') {
                    token.push('\\');
                }
                token.push(c);
                state = match inside {
                    Some(q) => S::Quote(q),
                    None => S::Word,
                };
            }
        }
    }
    match state {
        S::Quote(_) => Err("no closing quotation"),
        S::Escape(_) => Err("no escaped character after `\\`"),
        S::Space | S::Word => {
            emit(&mut token, &mut quoted, start, line.len());
            Ok(out)
        }
    }
}

/// A value as Ansible's `ast.literal_eval` reads it, where it is a Python literal: a quoted
/// string, an integer (`2222`, `0x10`, `1_000`), `True`/`False`; `None` is null. Anything
/// else is the text as written. A `# comment` after a literal is Python's comment.
fn parse_value(v: &str) -> Option<String> {
    match literal(v) {
        Some(lit) => lit,
        None => Some(v.to_owned()),
    }
}

fn literal(v: &str) -> Option<Option<String>> {
    let v = v.trim();
    let (value, rest) = if let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let mut out = String::new();
        let mut chars = v[1..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == q => {
                    end = Some(1 + i + 1);
                    break;
                }
                '\\' => match chars.next()?.1 {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    c @ ('\\' | '\'' | '"') => out.push(c),
                    c => {
                        out.push('\\');
                        out.push(c);
                    }
                },
                '\n' => return None,
                c => out.push(c),
            }
        }
        (Some(out), &v[end?..])
    } else {
        let end = v
            .find(|c: char| c.is_whitespace() || c == '#')
            .unwrap_or(v.len());
        let word = &v[..end];
        let value = match word {
            "True" | "False" => Some(word.to_owned()),
            "None" => None,
            w => Some(python_int(w)?),
        };
        (value, &v[end..])
    };
    let rest = rest.trim_start();
    (rest.is_empty() || rest.starts_with('#')).then_some(value)
}

/// A Python integer literal in decimal.
fn python_int(w: &str) -> Option<String> {
    let (neg, digits) = match w.as_bytes().first()? {
        b'-' => (true, &w[1..]),
        b'+' => (false, &w[1..]),
        _ => (false, w),
    };
    let (radix, body) = match digits.get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("0x") => (16, &digits[2..]),
        Some("0o") => (8, &digits[2..]),
        Some("0b") => (2, &digits[2..]),
        _ => (10, digits),
    };
    let body = body
        .strip_prefix('_')
        .filter(|_| radix != 10)
        .unwrap_or(body);
    if body.is_empty()
        || body.starts_with('_')
        || body.ends_with('_')
        || body.contains("__")
        || (radix == 10
            && body.len() > 1
            && body.starts_with('0')
            && !body.trim_start_matches('0').is_empty())
    {
        return None;
    }
    let n = u128::from_str_radix(&body.replace('_', ""), radix).ok()?;
    Some(if neg && n != 0 {
        format!("-{n}")
    } else {
        n.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        shlex(line)
            .expect("splits")
            .into_iter()
            .map(|(w, _)| w)
            .collect()
    }

    #[test]
    fn shlex_splits_like_python() {
        assert_eq!(words("a#b c"), ["a"]);
        assert_eq!(words("a \"b # c\" d"), ["a", "b # c", "d"]);
        assert_eq!(words("x='a b'#c"), ["x=a b"]);
        assert_eq!(words("a\\ b"), ["a b"]);
        assert_eq!(words("k=\"x\\\"y\""), ["k=x\"y"]);
        assert_eq!(words("k='x\\'"), ["k=x\\"]);
        assert_eq!(words("h k=v;x"), ["h", "k=v;x"]);
        assert_eq!(words("k=\"\""), ["k="]);
        assert!(shlex("k=\"open").is_err());
    }

    #[test]
    fn values_are_python_literals_where_they_are_one() {
        assert_eq!(parse_value("2222"), Some("2222".into()));
        assert_eq!(parse_value("0x10"), Some("16".into()));
        assert_eq!(parse_value("1_000"), Some("1000".into()));
        assert_eq!(parse_value("007"), Some("007".into()));
        assert_eq!(parse_value("\"a b\" # note"), Some("a b".into()));
        assert_eq!(parse_value("abc # note"), Some("abc # note".into()));
        assert_eq!(parse_value("None"), None);
        assert_eq!(parse_value("10.0.0.1"), Some("10.0.0.1".into()));
    }

    #[test]
    fn sections_and_group_names() {
        assert_eq!(section("[web]"), Some(("web", None)));
        assert_eq!(section("[web:vars]  # c"), Some(("web", Some("vars"))));
        assert_eq!(section("[web servers]"), None);
        assert_eq!(group_name("web # c"), Some("web"));
        assert_eq!(group_name("web extra"), None);
    }
}
