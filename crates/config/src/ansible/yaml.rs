//! Ansible's YAML inventory format (its `yaml` plugin): top-level keys are groups, each a
//! mapping of `hosts` (host patterns, each with a mapping of variables or nothing), `vars`
//! and `children` (groups again). A section written as a single string names one entry, as
//! Ansible allows. Where Ansible warns and skips (a key other than those three, a group that
//! is not a mapping), fearless refuses with a located error: an inventory that says
//! something else than it seems to is not imported.

use super::{Inv, Var};
use crate::source::{Entry, Kind, Node, SourceMap, Span};

pub(super) fn parse(text: &str, inv: &mut Inv) {
    let map = match SourceMap::parse(text) {
        Ok(map) => map,
        Err(e) => {
            let src = crate::diag::SourceFile::new(std::path::Path::new(""), text.to_owned());
            let pr = crate::yaml::problem("config::ansible", &e, &src, None);
            inv.error(pr.message, pr.span).hint = pr.hint;
            return;
        }
    };
    for d in map.duplicates() {
        let place = crate::source::path_string(&d.parent);
        inv.error(
            format!("key `{}` appears twice in `{place}`", d.key),
            d.span,
        )
        .hint = Some("a mapping holds each key once; remove or merge one of them".into());
    }
    let (ranges, secrets) = map.secrets();
    for (r, s) in ranges.into_iter().zip(secrets) {
        inv.secret(Some(r), &s);
    }
    let root_span = Some(Span {
        offset: 0,
        len: text.len().min(1),
    });
    match map.root().map(|n| &n.kind) {
        Some(Kind::Map(entries)) if !entries.is_empty() => {
            if let Some(e) = entries.iter().find(|e| &*e.key == "plugin") {
                inv.error(
                    "this is an inventory plugin's configuration (`plugin:`), not an inventory",
                    map.span(e.key_pos),
                )
                .hint = Some("fearless imports INI and YAML inventories, not plugins".into());
                return;
            }
            for e in entries {
                group(inv, &map, e);
            }
        }
        _ => {
            inv.error(
                "a YAML inventory must be a mapping of groups (e.g. `all:`)",
                root_span,
            );
        }
    }
}

/// One entry of a section (`hosts`, `vars`, `children`): a mapping, or a single string
/// naming one key.
enum Section<'a> {
    Entries(&'a [Entry]),
    One(&'a str, Option<Span>),
    Empty,
}

fn section<'a>(inv: &mut Inv, map: &SourceMap, group: &str, e: &'a Entry) -> Section<'a> {
    match &e.value.kind {
        Kind::Map(entries) => Section::Entries(entries),
        Kind::Scalar(Some(one)) => Section::One(one, map.span(e.value.pos)),
        Kind::Scalar(None) => Section::Empty,
        Kind::Seq(_) => {
            inv.error(
                format!(
                    "`{}` of group `{group}` must be a mapping, found a list",
                    e.key
                ),
                map.span(e.value.pos),
            );
            Section::Empty
        }
    }
}

fn group(inv: &mut Inv, map: &SourceMap, e: &Entry) {
    let name = &*e.key;
    let span = map.span(e.key_pos);
    inv.add_group(name, span);
    let entries = match &e.value.kind {
        Kind::Map(entries) => entries,
        Kind::Scalar(None) => return,
        _ => {
            inv.error(
                format!("group `{name}` must be a mapping of `hosts`, `vars` and `children`"),
                map.span(e.value.pos),
            );
            return;
        }
    };
    for s in entries {
        match &*s.key {
            "vars" => match section(inv, map, name, s) {
                Section::Entries(vars) => {
                    for v in vars {
                        let var = var(map, &v.value);
                        if let Some(g) = inv.groups.get_mut(name) {
                            g.vars.insert(v.key.to_string(), var);
                        }
                    }
                }
                Section::One(k, span) => {
                    if let Some(g) = inv.groups.get_mut(name) {
                        g.vars.insert(
                            k.to_owned(),
                            Var {
                                value: None,
                                nested: false,
                                span,
                            },
                        );
                    }
                }
                Section::Empty => {}
            },
            "children" => match section(inv, map, name, s) {
                Section::Entries(children) => {
                    for c in children {
                        group(inv, map, c);
                        inv.add_child(name, &c.key);
                    }
                }
                Section::One(child, span) => {
                    inv.add_group(child, span);
                    inv.add_child(name, child);
                }
                Section::Empty => {}
            },
            "hosts" => match section(inv, map, name, s) {
                Section::Entries(hosts) => {
                    for h in hosts {
                        host(inv, map, name, h);
                    }
                }
                Section::One(pattern, span) => inv.add_hosts(pattern, span, name, &[], false),
                Section::Empty => {}
            },
            other => {
                inv.error(
                    format!("unknown key `{other}` in group `{name}`"),
                    map.span(s.key_pos),
                )
                .hint = Some("a group holds `hosts`, `vars` and `children`".into());
            }
        }
    }
}

fn host(inv: &mut Inv, map: &SourceMap, group: &str, h: &Entry) {
    let span = map.span(h.key_pos);
    let vars: Vec<(String, Var)> = match &h.value.kind {
        Kind::Map(vars) => vars
            .iter()
            .map(|v| (v.key.to_string(), var(map, &v.value)))
            .collect(),
        Kind::Scalar(None) => Vec::new(),
        _ => {
            inv.error(
                format!(
                    "host `{}` must have a mapping of variables (or nothing)",
                    h.key
                ),
                map.span(h.value.pos),
            );
            return;
        }
    };
    inv.add_hosts(&h.key, span, group, &vars, false);
}

fn var(map: &SourceMap, node: &Node) -> Var {
    match &node.kind {
        Kind::Scalar(value) => Var {
            value: value.as_deref().map(str::to_owned),
            nested: false,
            span: map.span(node.pos),
        },
        Kind::Seq(_) | Kind::Map(_) => Var {
            value: None,
            nested: true,
            span: map.span(node.pos),
        },
    }
}
