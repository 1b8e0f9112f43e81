//! Import of Ansible inventories (INI and YAML), read as `ansible-inventory` reads them:
//! host patterns with `:port` and ranges, groups, children, group and host variables merged
//! in Ansible's order (groups by depth, then `ansible_group_priority`, then name; host
//! variables last), the connection variables fearless understands, and every other scalar
//! variable as a label (secrets excepted).
//!
//! What the file gives is held to fearless's rules, each failure a located error: host and
//! group names, `ansible_host`, `ansible_user` ([`crate::identity`]) and `ansible_port`
//! (1–65535, never a silent 22). A file that is not an inventory (`/etc/shadow`) is refused
//! that way rather than turned into hosts; at most [`MAX_PROBLEMS`] problems are listed per
//! file. The file is read through the bounded reader and never executed.

mod ini;
mod pattern;
mod yaml;

use crate::diag::{Problem, SourceFile};
use crate::identity::{self, Field};
use crate::source::Span;
use indexmap::{IndexMap, IndexSet};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

pub(crate) use pattern::MAX_HOSTS_PER_PATTERN;

/// The most problems listed for one inventory file; the rest are counted.
pub(crate) const MAX_PROBLEMS: usize = 100;

/// A host read from an Ansible inventory, validated.
#[derive(Debug, Default, Clone)]
pub(crate) struct AnsibleHost {
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) user: Option<String>,
    pub(crate) become_: bool,
    pub(crate) labels: IndexMap<String, String>,
}

/// What an inventory contributes: hosts, and groups as explicit (transitive) member lists.
#[derive(Debug, Default)]
pub(crate) struct Imported {
    pub(crate) hosts: IndexMap<String, AnsibleHost>,
    pub(crate) groups: IndexMap<String, Vec<String>>,
}

/// A variable's value and where it was written.
#[derive(Debug, Clone)]
struct Var {
    /// The value as text; `None` for null and for lists and mappings.
    value: Option<String>,
    /// A list or mapping (not a label, and not a valid connection variable).
    nested: bool,
    span: Option<Span>,
}

impl Var {
    fn text(value: String, span: Option<Span>) -> Self {
        Self {
            value: Some(value),
            nested: false,
            span,
        }
    }
}

#[derive(Debug, Default)]
struct Group {
    /// Indexes into `Inv::hosts`, each once, in order.
    hosts: IndexSet<usize>,
    vars: IndexMap<String, Var>,
    children: IndexSet<String>,
    span: Option<Span>,
}

#[derive(Debug, Default)]
struct HostDecl {
    vars: IndexMap<String, Var>,
}

/// An inventory as parsed, before variables are merged.
#[derive(Debug)]
struct Inv {
    hosts: IndexMap<String, HostDecl>,
    groups: IndexMap<String, Group>,
    problems: Vec<Problem>,
    /// Byte ranges and values that code frames must mask.
    secret_ranges: Vec<Range<usize>>,
    secrets: Vec<String>,
}

impl Inv {
    fn new() -> Self {
        let mut groups = IndexMap::new();
        groups.insert("all".to_owned(), Group::default());
        groups.insert("ungrouped".to_owned(), Group::default());
        Self {
            hosts: IndexMap::new(),
            groups,
            problems: Vec::new(),
            secret_ranges: Vec::new(),
            secrets: Vec::new(),
        }
    }

    fn error(&mut self, message: impl Into<String>, span: Option<Span>) -> &mut Problem {
        let mut pr = Problem::error("config::ansible", message);
        pr.span = span;
        self.problems.push(pr);
        let last = self.problems.len() - 1;
        &mut self.problems[last]
    }

    fn add_group(&mut self, name: &str, span: Option<Span>) {
        if !self.groups.contains_key(name) {
            if let Err(msg) = identity::check(Field::Group, name) {
                self.error(msg, span);
            }
            self.groups.insert(
                name.to_owned(),
                Group {
                    span,
                    ..Group::default()
                },
            );
        }
    }

    fn add_child(&mut self, parent: &str, child: &str) {
        if let Some(g) = self.groups.get_mut(parent) {
            g.children.insert(child.to_owned());
        }
    }

    /// Remember a secret value at `range` of the file.
    fn secret(&mut self, range: Option<Range<usize>>, value: &str) {
        self.secret_ranges.extend(range);
        if !value.is_empty() {
            self.secrets.push(value.to_owned());
        }
    }

    /// Add the hosts of one pattern (`www[01:50].example.com:2222`) to `group`, as Ansible's
    /// `_populate_host_vars` does: the pattern's port becomes `ansible_port` of a host seen
    /// for the first time, then the given variables are set (later ones win).
    fn add_hosts(
        &mut self,
        pattern_text: &str,
        span: Option<Span>,
        group: &str,
        vars: &[(String, Var)],
        ini: bool,
    ) {
        let pattern = pattern::parse_address(pattern_text);
        if ini && pattern.port.is_none() && pattern_text.trim_end().ends_with(':') {
            self.error(
                format!("host pattern `{pattern_text}` ends in `:` without a port"),
                span,
            )
            .hint = Some("write host:PORT, or leave the colon out".into());
            return;
        }
        let names = match pattern::expand(&pattern.host) {
            Ok(names) => names,
            Err(msg) => {
                self.error(msg, span).hint = Some(format!(
                    "ranges are [01:50], [01:50:2] or [a:f]; one pattern gives at most \
                     {MAX_HOSTS_PER_PATTERN} hosts"
                ));
                return;
            }
        };
        for name in names {
            if name == "---" {
                self.error("host pattern `---` looks like a YAML document marker", span)
                    .hint = Some("name YAML inventories *.yml or *.yaml".into());
                return;
            }
            let index = match self.hosts.get_index_of(&name) {
                Some(i) => i,
                None => {
                    if let Err(msg) = identity::check(Field::HostName, &name) {
                        self.error(msg, span);
                        continue;
                    }
                    let mut decl = HostDecl::default();
                    if let Some(port) = &pattern.port {
                        decl.vars
                            .insert("ansible_port".into(), Var::text(port.clone(), span));
                    }
                    self.hosts.insert_full(name, decl).0
                }
            };
            let decl = &mut self.hosts[index];
            for (k, v) in vars {
                decl.vars.insert(k.clone(), v.clone());
            }
            if let Some(g) = self.groups.get_mut(group) {
                g.hosts.insert(index);
            }
        }
    }
}

/// Read an inventory file: YAML when it ends in .yml, .yaml or .json, else INI. Problems
/// without a source (the file cannot be read) are for the caller to locate.
pub(crate) fn load(path: &Path) -> Result<Imported, Vec<Problem>> {
    let text = fearless_io::read_text(path, fearless_io::Limit::CONFIG).map_err(|e| {
        vec![
            Problem::error(
                "config::import",
                e.to_string()
                    .replacen("cannot read ", "cannot read Ansible inventory ", 1),
            )
            .hint(crate::read_hint(&e)),
        ]
    })?;
    parse(path, text, is_yaml(path))
}

/// Whether `path` names a YAML inventory (by its extension, as Ansible's `yaml` plugin).
pub(crate) fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "yml" || e == "yaml" || e == "json")
}

/// Parse inventory text as if read from `path`.
pub(crate) fn parse(path: &Path, text: String, is_yaml: bool) -> Result<Imported, Vec<Problem>> {
    let mut inv = Inv::new();
    if is_yaml {
        yaml::parse(&text, &mut inv);
    } else {
        ini::parse(&text, &mut inv);
    }
    let imported = if inv.problems.is_empty() {
        Some(resolve(&mut inv))
    } else {
        None
    };
    let src = SourceFile::with_secrets(
        path,
        text,
        &std::mem::take(&mut inv.secret_ranges),
        std::mem::take(&mut inv.secrets),
    );
    match imported {
        Some(imported) if inv.problems.is_empty() => Ok(imported),
        _ => Err(located(inv.problems, &src)),
    }
}

/// Attach the file to every problem, and keep the first [`MAX_PROBLEMS`].
fn located(mut problems: Vec<Problem>, src: &Arc<SourceFile>) -> Vec<Problem> {
    let total = problems.len();
    let first_unlisted = problems.get(MAX_PROBLEMS).and_then(|p| p.span);
    problems.truncate(MAX_PROBLEMS);
    let mut out: Vec<Problem> = problems
        .into_iter()
        .map(|p| {
            let span = p.span;
            p.at(src, span)
        })
        .collect();
    if total > MAX_PROBLEMS {
        out.push(
            Problem::error(
                "config::ansible",
                format!(
                    "{} more problems in this inventory are not listed (the first is here)",
                    total - MAX_PROBLEMS
                ),
            )
            .hint("is this file an Ansible inventory? fix the problems above and load again")
            .at(src, first_unlisted),
        );
    }
    out
}

/// Groups ordered as Ansible merges their variables, and each group's ancestors.
struct Tree {
    depth: Vec<usize>,
    parents: Vec<Vec<usize>>,
}

impl Tree {
    /// Depths as Ansible computes them (the longest path of `children` from `all`), by a
    /// topological walk — no recursion, so a chain of a million groups is no deeper a
    /// stack; a group left unreached sits on a cycle, which is reported.
    fn new(inv: &mut Inv) -> Self {
        let n = inv.groups.len();
        let mut parents = vec![Vec::new(); n];
        for (p, g) in inv.groups.values().enumerate() {
            for c in &g.children {
                if let Some(ci) = inv.groups.get_index_of(c) {
                    parents[ci].push(p);
                }
            }
        }
        // Groups nobody names as a child are children of `all`.
        for ps in parents.iter_mut().skip(1) {
            if ps.is_empty() {
                ps.push(0);
            }
        }
        let mut children = vec![Vec::new(); n];
        let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
        for (c, ps) in parents.iter().enumerate() {
            for p in ps {
                children[*p].push(c);
            }
        }
        let mut depth = vec![0; n];
        let mut ready = vec![0];
        while let Some(p) = ready.pop() {
            for &c in &children[p] {
                depth[c] = depth[c].max(depth[p] + 1);
                waiting[c] -= 1;
                if waiting[c] == 0 {
                    ready.push(c);
                }
            }
        }
        if let Some(cycle) = waiting.iter().skip(1).position(|w| *w > 0) {
            let (name, span) = inv
                .groups
                .get_index(cycle + 1)
                .map(|(k, g)| (k.clone(), g.span))
                .unwrap_or_default();
            inv.error(
                format!("group `{name}` is among its own children (a cycle of `children`)"),
                span,
            );
        }
        Self { depth, parents }
    }

    /// `groups` and all their ancestors, `all` included.
    fn with_ancestors(&self, groups: &[usize]) -> Vec<usize> {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack: Vec<usize> = groups.to_vec();
        stack.push(0);
        while let Some(g) = stack.pop() {
            if seen.insert(g) {
                stack.extend(&self.parents[g]);
            }
        }
        seen.into_iter().collect()
    }
}

/// Variables that connect, in the order Ansible prefers them.
const ADDRESS_VARS: [&str; 2] = ["ansible_host", "ansible_ssh_host"];
const PORT_VARS: [&str; 2] = ["ansible_port", "ansible_ssh_port"];
const USER_VARS: [&str; 2] = ["ansible_user", "ansible_ssh_user"];

fn resolve(inv: &mut Inv) -> Imported {
    let tree = Tree::new(inv);
    if !inv.problems.is_empty() {
        return Imported::default();
    }
    let priority: Vec<i64> = inv
        .groups
        .values()
        .map(|g| {
            g.vars
                .get("ansible_group_priority")
                .and_then(|v| v.value.as_deref())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1)
        })
        .collect();
    let names: Vec<&str> = inv.groups.keys().map(String::as_str).collect();
    let mut direct: Vec<Vec<usize>> = vec![Vec::new(); inv.hosts.len()];
    for (gi, g) in inv.groups.values().enumerate() {
        for h in &g.hosts {
            direct[*h].push(gi);
        }
    }
    let mut imported = Imported::default();
    let mut members: Vec<Vec<String>> = vec![Vec::new(); inv.groups.len()];
    let mut problems = Vec::new();
    for (hi, (name, decl)) in inv.hosts.iter().enumerate() {
        let mut groups = tree.with_ancestors(&direct[hi]);
        groups.sort_by(|a, b| {
            (tree.depth[*a], priority[*a], names[*a]).cmp(&(
                tree.depth[*b],
                priority[*b],
                names[*b],
            ))
        });
        let mut vars: HashMap<&str, &Var> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        for g in &groups {
            members[*g].push(name.clone());
            for (k, v) in &inv.groups[*g].vars {
                if vars.insert(k, v).is_none() {
                    order.push(k);
                }
            }
        }
        for (k, v) in &decl.vars {
            if vars.insert(k, v).is_none() {
                order.push(k);
            }
        }
        let mut h = AnsibleHost::default();
        let mut connection = |keys: [&str; 2], field: Option<Field>| -> Option<String> {
            let (key, var) = keys.iter().find_map(|k| vars.get(k).map(|v| (*k, *v)))?;
            let value = match (&var.value, var.nested) {
                (Some(v), _) => v.clone(),
                (None, false) => return None,
                (None, true) => {
                    let msg =
                        format!("`{key}` of host `{name}` must be text, found a list or mapping");
                    problems.push((msg, var.span));
                    return None;
                }
            };
            let checked = match field {
                Some(f) => identity::check(f, &value)
                    .map_err(|msg| format!("`{key}` of host `{name}`: {msg}")),
                None => identity::port(&value).map(|_| ()).ok_or_else(|| {
                    format!("{} (host `{name}`)", identity::port_message(key, &value))
                }),
            };
            match checked {
                Ok(()) => Some(value),
                Err(msg) => {
                    problems.push((msg, var.span));
                    None
                }
            }
        };
        h.address = connection(ADDRESS_VARS, Some(Field::Address));
        h.user = connection(USER_VARS, Some(Field::User));
        h.port = connection(PORT_VARS, None).and_then(|p| identity::port(&p));
        for k in order {
            let Some(v) = vars[k].value.as_ref() else {
                continue;
            };
            match k {
                "ansible_become" => h.become_ = truthy(v),
                k if k.starts_with("ansible_") => {}
                // Labels are printed (`fearless hosts`) and logged; secrets are not labels,
                // nor are multi-line values (certificates, scripts).
                k if crate::redact::looks_secret(k) => {}
                _ if v.chars().any(char::is_control) => {}
                _ => {
                    h.labels.insert(k.to_owned(), v.clone());
                }
            }
        }
        imported.hosts.insert(name.clone(), h);
    }
    for (msg, span) in problems {
        inv.error(msg, span);
    }
    imported.groups = inv
        .groups
        .keys()
        .zip(members)
        .filter(|(g, _)| *g != "all" && *g != "ungrouped")
        .map(|(g, m)| (g.clone(), m))
        .collect();
    imported
}

/// Ansible's `boolean()`: `yes`, `true`, `on`, `1`, `y`, `t` in any case.
fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "1" | "y" | "t" | "1.0"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(text: &str) -> Imported {
        parse(Path::new("hosts.ini"), text.to_owned(), false).unwrap_or_else(|e| {
            panic!(
                "{}",
                e.iter().map(Problem::plain).collect::<Vec<_>>().join("\n")
            )
        })
    }

    fn ini_err(text: &str) -> String {
        let Err(e) = parse(Path::new("hosts.ini"), text.to_owned(), false) else {
            panic!("should not import: {text}");
        };
        e.iter().map(Problem::plain).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn ini_groups_children_and_vars() {
        let imported = ini(
            "[web]\nweb-1 ansible_host=10.0.0.1 ansible_port=2222 tier=\"front end\" db_password=hunter2\nweb-2 ansible_host=10.0.0.2\n\n[web:vars]\nrole=web\nansible_user=deploy\nansible_become=true\n\n[db]\ndb-1\n\n[prod:children]\nweb\ndb\n",
        );
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
    fn deeper_groups_win_and_host_vars_win_over_groups() {
        let imported = ini(
            "[all:vars]\nansible_user=all\n[parent:children]\nchild\n[parent:vars]\nansible_user=parent\nx=p\n[child]\nh1\nh2 ansible_user=own\n[child:vars]\nansible_user=child\n",
        );
        assert_eq!(imported.hosts["h1"].user.as_deref(), Some("child"));
        assert_eq!(imported.hosts["h2"].user.as_deref(), Some("own"));
        assert_eq!(imported.hosts["h1"].labels["x"], "p");
    }

    #[test]
    fn host_port_and_ranges() {
        let imported =
            ini("[webservers]\nfoo.example.com\nbar.example.com:2222\nwww[01:03].example.com\n");
        assert_eq!(imported.hosts["bar.example.com"].port, Some(2222));
        assert_eq!(imported.hosts["foo.example.com"].port, None);
        assert_eq!(imported.groups["webservers"].len(), 5);
        assert!(imported.hosts.contains_key("www02.example.com"));
    }

    #[test]
    fn hostile_values_are_located_errors() {
        let e = ini_err(
            "[x]\nweb ansible_host=-oProxyCommand=touch\nweb2 ansible_port=99999\nweb3 ansible_port=abc\n",
        );
        assert!(e.contains("hosts.ini:2:1: error[config::ansible]: `ansible_host` of host `web`: address `-oProxyCommand=touch` starts with `-`"), "{e}");
        assert!(e.contains("hosts.ini:3:1: error[config::ansible]: `ansible_port` must be a number from 1 to 65535, found `99999` (host `web2`)"), "{e}");
        assert!(e.contains("hosts.ini:4:1: error[config::ansible]: `ansible_port` must be a number from 1 to 65535, found `abc` (host `web3`)"), "{e}");
    }

    #[test]
    fn a_shadow_file_is_refused_not_turned_into_hosts() {
        let e = ini_err("root:$6$salt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n");
        assert!(e.contains("hosts.ini:1:1: error[config::ansible]: host pattern `root:$6$salt$hash:19000:0:99999:7:::` ends in `:` without a port"), "{e}");
        assert!(e.contains("hosts.ini:2:1"), "{e}");
        let e = ini_err("root:x:0:0:root:/root:/bin/bash\n");
        assert!(e.contains("hosts.ini:1:1: error[config::ansible]: host name `root:x:0:0:root:/root:/bin/bash` contains `/`"), "{e}");
    }

    #[test]
    fn a_chain_of_many_groups_neither_overflows_nor_loses_depth() {
        let n = 200_000;
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!("[g{i}:children]\ng{}\n", i + 1));
        }
        text.push_str(&format!("[g{n}]\nleaf ansible_user=deep\n[g{n}:vars]\nansible_port=2222\n[g0:vars]\nansible_port=22\n"));
        let imported = parse(Path::new("chain.ini"), text, false).expect("a long chain is valid");
        assert_eq!(
            imported.hosts["leaf"].port,
            Some(2222),
            "the deepest group wins"
        );
        assert_eq!(imported.groups["g0"], vec!["leaf"]);
    }

    #[test]
    fn cycles_of_children_are_errors() {
        let e = ini_err("[a:children]\nb\n[b:children]\nc\n[c:children]\na\n[c]\nh\n");
        assert!(e.contains("is among its own children"), "{e}");
    }

    #[test]
    fn problems_are_capped_per_file() {
        let text: String = (0..500).map(|i| format!("bad;{i}\n")).collect();
        let Err(e) = parse(Path::new("hosts"), text, false) else {
            panic!("hostile");
        };
        assert_eq!(e.len(), MAX_PROBLEMS + 1);
        assert_eq!(
            e[MAX_PROBLEMS].message,
            "400 more problems in this inventory are not listed (the first is here)"
        );
        assert_eq!(e[MAX_PROBLEMS].line_col(), Some((101, 1)));
    }

    #[test]
    fn yaml_inventory() {
        let imported = parse(
            Path::new("hosts.yml"),
            "all:\n  vars: { env: prod }\n  children:\n    web:\n      vars: { role: web }\n      hosts:\n        web-1: { ansible_host: 10.0.0.1, ansible_port: 2200 }\n        web-2:\n        'www[1:2]:2222':\n".into(),
            true,
        )
        .expect("valid");
        assert_eq!(imported.hosts["web-1"].port, Some(2200));
        assert_eq!(imported.hosts["web-2"].labels["role"], "web");
        assert_eq!(imported.hosts["web-2"].labels["env"], "prod");
        assert_eq!(imported.hosts["www2"].port, Some(2222));
        assert_eq!(
            imported.groups["web"],
            vec!["web-1", "web-2", "www1", "www2"]
        );
    }
}
