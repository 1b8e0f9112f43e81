//! Import of Ansible inventories (INI and YAML): hosts, groups, children, the connection
//! variables fearless understands, and every other host/group variable as a label.

use crate::diag::{Problem, SourceFile};
use crate::source::Span;
use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// A host read from an Ansible inventory.
#[derive(Debug, Default, Clone)]
pub(crate) struct AnsibleHost {
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) user: Option<String>,
    pub(crate) become_: bool,
    pub(crate) labels: IndexMap<String, String>,
}

/// What an inventory contributes: hosts, and groups as explicit member lists.
#[derive(Debug, Default)]
pub(crate) struct Imported {
    pub(crate) hosts: IndexMap<String, AnsibleHost>,
    pub(crate) groups: IndexMap<String, Vec<String>>,
}

#[derive(Debug, Default)]
struct Group {
    hosts: Vec<String>,
    vars: IndexMap<String, String>,
    children: Vec<String>,
}

#[derive(Debug, Default)]
struct Inv {
    host_vars: IndexMap<String, IndexMap<String, String>>,
    groups: IndexMap<String, Group>,
}

/// Read an inventory file; YAML when it ends in .yml/.yaml, else INI.
pub(crate) fn load(path: &Path) -> Result<Imported, Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem::error(
            "config::import",
            format!("cannot read Ansible inventory {}: {e}", path.display()),
        )]
    })?;
    let src = SourceFile::new(path, text);
    let yaml = path.extension().is_some_and(|e| e == "yml" || e == "yaml");
    let inv = if yaml {
        parse_yaml(&src)?
    } else {
        parse_ini(&src)?
    };
    Ok(resolve(&inv))
}

fn line_span(text: &str, line_no: usize) -> Option<Span> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i == line_no {
            return Some(Span {
                offset,
                len: line.trim_end().len().max(1),
            });
        }
        offset += line.len();
    }
    None
}

fn parse_ini(src: &Arc<SourceFile>) -> Result<Inv, Vec<Problem>> {
    let mut inv = Inv::default();
    let mut problems = Vec::new();
    #[derive(Clone, Copy, PartialEq)]
    enum Sec {
        Hosts,
        Vars,
        Children,
    }
    let mut current = ("ungrouped".to_owned(), Sec::Hosts);
    for (n, raw) in src.text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let err =
            |msg: String| Problem::error("config::ansible", msg).at(src, line_span(&src.text, n));
        if let Some(sec) = line.strip_prefix('[') {
            let Some(sec) = sec.strip_suffix(']') else {
                problems.push(err(format!("unclosed section header `{line}`")));
                continue;
            };
            let (name, kind) = match sec.split_once(':') {
                Some((g, "vars")) => (g, Sec::Vars),
                Some((g, "children")) => (g, Sec::Children),
                Some((_, other)) => {
                    problems.push(
                        err(format!("unknown section kind `:{other}`"))
                            .hint("expected [group], [group:vars] or [group:children]"),
                    );
                    continue;
                }
                None => (sec, Sec::Hosts),
            };
            inv.groups.entry(name.to_owned()).or_default();
            current = (name.to_owned(), kind);
            continue;
        }
        let group = inv.groups.entry(current.0.clone()).or_default();
        match current.1 {
            Sec::Hosts => {
                let mut words = split_words(line).into_iter();
                let Some(host) = words.next() else { continue };
                let vars = inv.host_vars.entry(host.clone()).or_default();
                for w in words {
                    match w.split_once('=') {
                        Some((k, v)) => {
                            vars.insert(k.to_owned(), v.to_owned());
                        }
                        None => problems.push(err(format!(
                            "expected key=value after host `{host}`, found `{w}`"
                        ))),
                    }
                }
                group.hosts.push(host);
            }
            Sec::Vars => match line.split_once('=') {
                Some((k, v)) => {
                    group.vars.insert(k.trim().to_owned(), unquote(v.trim()));
                }
                None => problems.push(err(format!(
                    "expected key=value in [{}:vars], found `{line}`",
                    current.0
                ))),
            },
            Sec::Children => group.children.push(line.to_owned()),
        }
    }
    if problems.is_empty() {
        Ok(inv)
    } else {
        Err(problems)
    }
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_owned()
    } else {
        v.to_owned()
    }
}

/// Split on whitespace, keeping quoted values (`k="a b"`) together.
fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (None, '#') if cur.is_empty() => break,
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A YAML scalar as text; nested lists and maps are not labels and are skipped.
#[derive(Debug)]
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a variable value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
struct YamlGroup {
    #[serde(default)]
    hosts: Option<IndexMap<String, Option<IndexMap<String, Scalar>>>>,
    #[serde(default)]
    vars: Option<IndexMap<String, Scalar>>,
    #[serde(default)]
    children: Option<IndexMap<String, Option<YamlGroup>>>,
}

fn parse_yaml(src: &Arc<SourceFile>) -> Result<Inv, Vec<Problem>> {
    let opts = serde_saphyr::options! { with_snippet: false };
    let top: IndexMap<String, Option<YamlGroup>> =
        serde_saphyr::from_str_with_options(&src.text, opts).map_err(|e| {
            let span = e
                .location()
                .and_then(|l| crate::source::location_span(&l, &src.text));
            vec![
                Problem::error("config::ansible", crate::strip_location(&e.to_string()))
                    .at(src, span),
            ]
        })?;
    let mut inv = Inv::default();
    fn walk(inv: &mut Inv, name: &str, g: YamlGroup) {
        let vars: IndexMap<String, String> = g
            .vars
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.0.map(|v| (k, v)))
            .collect();
        let mut hosts = Vec::new();
        for (h, hv) in g.hosts.unwrap_or_default() {
            let entry = inv.host_vars.entry(h.clone()).or_default();
            for (k, v) in hv.unwrap_or_default() {
                if let Some(v) = v.0 {
                    entry.insert(k, v);
                }
            }
            hosts.push(h);
        }
        let mut children = Vec::new();
        for (c, cg) in g.children.unwrap_or_default() {
            children.push(c.clone());
            walk(inv, &c, cg.unwrap_or_default());
        }
        let grp = inv.groups.entry(name.to_owned()).or_default();
        grp.hosts.extend(hosts);
        grp.vars.extend(vars);
        grp.children.extend(children);
    }
    for (name, g) in top {
        walk(&mut inv, &name, g.unwrap_or_default());
    }
    Ok(inv)
}

fn members(inv: &Inv, group: &str, seen: &mut BTreeSet<String>, out: &mut Vec<String>) {
    if !seen.insert(group.to_owned()) {
        return;
    }
    if let Some(g) = inv.groups.get(group) {
        for h in &g.hosts {
            if !out.contains(h) {
                out.push(h.clone());
            }
        }
        for c in &g.children {
            members(inv, c, seen, out);
        }
    }
}

fn resolve(inv: &Inv) -> Imported {
    let mut imported = Imported::default();
    let mut group_members = IndexMap::new();
    for name in inv.groups.keys() {
        let mut out = Vec::new();
        members(inv, name, &mut BTreeSet::new(), &mut out);
        group_members.insert(name.clone(), out);
    }
    for (host, host_vars) in &inv.host_vars {
        let mut vars: IndexMap<String, String> = IndexMap::new();
        // Group vars first (in file order), `all` lowest; host vars win.
        if let Some(all) = inv.groups.get("all") {
            vars.extend(all.vars.clone());
        }
        for (g, m) in &group_members {
            if g != "all" && m.contains(host) {
                vars.extend(inv.groups[g].vars.clone());
            }
        }
        vars.extend(host_vars.clone());
        let mut h = AnsibleHost::default();
        for (k, v) in vars {
            match k.as_str() {
                "ansible_host" | "ansible_ssh_host" => h.address = Some(v),
                "ansible_port" | "ansible_ssh_port" => h.port = v.parse().ok(),
                "ansible_user" | "ansible_ssh_user" => h.user = Some(v),
                "ansible_become" => {
                    h.become_ = matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1");
                }
                k if k.starts_with("ansible_") => {}
                // Labels are printed (`fearless hosts`) and logged; secrets are not labels.
                k if looks_secret(k) => {}
                _ => {
                    h.labels.insert(k, v);
                }
            }
        }
        imported.hosts.insert(host.clone(), h);
    }
    group_members.retain(|g, _| g != "all" && g != "ungrouped");
    imported.groups = group_members;
    imported
}

/// Variable names that usually hold credentials.
fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "pass",
        "secret",
        "token",
        "private",
        "credential",
        "api_key",
        "apikey",
    ]
    .iter()
    .any(|w| n.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_groups_children_and_vars() {
        let src = SourceFile::new(
            Path::new("hosts.ini"),
            "[web]\nweb-1 ansible_host=10.0.0.1 ansible_port=2222 tier=\"front end\" db_password=hunter2\nweb-2 ansible_host=10.0.0.2\n\n[web:vars]\nrole=web\nansible_user=deploy\nansible_become=true\n\n[db]\ndb-1\n\n[prod:children]\nweb\ndb\n".into(),
        );
        let imported = resolve(&parse_ini(&src).expect("valid"));
        let w1 = &imported.hosts["web-1"];
        assert_eq!(w1.address.as_deref(), Some("10.0.0.1"));
        assert_eq!(w1.port, Some(2222));
        assert_eq!(w1.user.as_deref(), Some("deploy"));
        assert!(w1.become_);
        assert_eq!(w1.labels["role"], "web");
        assert_eq!(w1.labels["tier"], "front end");
        assert!(
            !w1.labels.contains_key("db_password"),
            "secrets never become labels"
        );
        assert_eq!(imported.groups["prod"], vec!["web-1", "web-2", "db-1"]);
        assert!(!imported.hosts["db-1"].become_);
    }

    #[test]
    fn yaml_inventory() {
        let src = SourceFile::new(
            Path::new("hosts.yml"),
            "all:\n  vars: { env: prod }\n  children:\n    web:\n      vars: { role: web }\n      hosts:\n        web-1: { ansible_host: 10.0.0.1, ansible_port: 2200 }\n        web-2:\n".into(),
        );
        let imported = resolve(&parse_yaml(&src).expect("valid"));
        assert_eq!(imported.hosts["web-1"].port, Some(2200));
        assert_eq!(imported.hosts["web-2"].labels["role"], "web");
        assert_eq!(imported.hosts["web-2"].labels["env"], "prod");
        assert_eq!(imported.groups["web"], vec!["web-1", "web-2"]);
    }
}
