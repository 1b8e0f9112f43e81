//! Host selectors: `all`, a host name, a glob (`web-*`), `k=v` on labels, `group:NAME`, and
//! a comma meaning AND (`role=web,az=a`).

use crate::model::Host;
use indexmap::IndexMap;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// A compiled selector. All terms must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    text: String,
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq)]
enum Term {
    All,
    Name(String),
    Glob(glob::Pattern),
    Label(String, String),
    Group(String),
    /// An explicit member list (groups imported from Ansible), a set: groups of 100,000
    /// hosts are matched host by host.
    Members(Arc<HashSet<String>>),
}

/// Why a selector did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Nothing between commas, or an empty selector.
    #[error("empty term in selector `{0}`")]
    Empty(String),
    /// A glob that does not compile.
    #[error("invalid glob `{term}`: {reason}")]
    Glob {
        /// The term.
        term: String,
        /// glob's message.
        reason: String,
    },
    /// `k=` or `=v`.
    #[error("label term `{0}` needs both a key and a value (k=v)")]
    Label(String),
    /// `group:` with no name.
    #[error("`group:` needs a group name")]
    Group,
}

impl Selector {
    /// Parse a selector.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        for raw in text.split(',') {
            let term = raw.trim();
            if term.is_empty() {
                return Err(SelectorError::Empty(text.to_owned()));
            }
            terms.push(if term == "all" || term == "*" {
                Term::All
            } else if let Some(group) = term.strip_prefix("group:") {
                if group.is_empty() {
                    return Err(SelectorError::Group);
                }
                Term::Group(group.to_owned())
            } else if let Some((k, v)) = term.split_once('=') {
                if k.trim().is_empty() || v.trim().is_empty() {
                    return Err(SelectorError::Label(term.to_owned()));
                }
                Term::Label(k.trim().to_owned(), v.trim().to_owned())
            } else if term.contains(['*', '?', '[']) {
                let pattern = glob::Pattern::new(term).map_err(|e| SelectorError::Glob {
                    term: term.to_owned(),
                    reason: e.msg.to_owned(),
                })?;
                Term::Glob(pattern)
            } else {
                Term::Name(term.to_owned())
            });
        }
        Ok(Self {
            text: text.to_owned(),
            terms,
        })
    }

    /// A selector matching exactly these hosts (used for imported groups).
    pub fn members(names: Vec<String>) -> Self {
        Self {
            text: names.join("|"),
            terms: vec![Term::Members(Arc::new(names.into_iter().collect()))],
        }
    }

    /// The selector that matches every host.
    pub fn all() -> Self {
        Self {
            text: "all".into(),
            terms: vec![Term::All],
        }
    }

    /// Whether `host` matches; `groups` resolves `group:NAME` terms.
    pub fn matches(&self, host: &Host, groups: &IndexMap<String, Selector>) -> bool {
        self.matches_depth(host, groups, 0)
    }

    fn matches_depth(
        &self,
        host: &Host,
        groups: &IndexMap<String, Selector>,
        depth: usize,
    ) -> bool {
        self.terms.iter().all(|t| match t {
            Term::All => true,
            Term::Name(n) => &host.name == n,
            Term::Glob(p) => p.matches(&host.name),
            Term::Label(k, v) => host.labels.get(k) == Some(v),
            Term::Members(names) => names.contains(&host.name),
            // Group definitions may refer to groups; a cycle simply stops matching.
            Term::Group(g) => {
                depth < 16
                    && groups
                        .get(g)
                        .is_some_and(|s| s.matches_depth(host, groups, depth + 1))
            }
        })
    }

    /// Group names this selector refers to.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().filter_map(|t| match t {
            Term::Group(g) => Some(g.as_str()),
            _ => None,
        })
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TransportKind;

    fn host(name: &str, labels: &[(&str, &str)]) -> Host {
        Host {
            name: name.into(),
            address: name.into(),
            port: 22,
            user: "root".into(),
            become_: None,
            transport: TransportKind::Ssh,
            package_manager: None,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            instance: None,
            region: None,
            source: crate::HostSource::Config,
        }
    }

    #[test]
    fn terms_are_anded() {
        let groups = IndexMap::new();
        let s = Selector::parse("web-*,az=a").expect("valid");
        assert!(s.matches(&host("web-1", &[("az", "a")]), &groups));
        assert!(!s.matches(&host("web-2", &[("az", "b")]), &groups));
        assert!(!s.matches(&host("api-1", &[("az", "a")]), &groups));
    }

    #[test]
    fn groups_resolve_and_cycles_do_not_hang() {
        let mut groups = IndexMap::new();
        groups.insert(
            "web".to_owned(),
            Selector::parse("role=web").expect("valid"),
        );
        groups.insert(
            "loop".to_owned(),
            Selector::parse("group:loop").expect("valid"),
        );
        let s = Selector::parse("group:web").expect("valid");
        assert!(s.matches(&host("x", &[("role", "web")]), &groups));
        assert!(
            !Selector::parse("group:loop")
                .expect("valid")
                .matches(&host("x", &[]), &groups)
        );
        assert!(
            !Selector::parse("group:missing")
                .expect("valid")
                .matches(&host("x", &[]), &groups)
        );
    }

    #[test]
    fn bad_selectors_are_rejected() {
        assert_eq!(
            Selector::parse("a,,b"),
            Err(SelectorError::Empty("a,,b".into()))
        );
        assert_eq!(
            Selector::parse("role="),
            Err(SelectorError::Label("role=".into()))
        );
        assert_eq!(Selector::parse("group:"), Err(SelectorError::Group));
        assert!(matches!(
            Selector::parse("web-[1"),
            Err(SelectorError::Glob { .. })
        ));
    }
}
