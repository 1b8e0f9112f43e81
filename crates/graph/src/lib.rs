//! The component graph: who depends on whom, and failure localisation on it.
//!
//! Localisation (DESIGN.md §4): a failing component whose dependencies are all healthy is
//! a **root suspect**; a failing component with a failing dependency is **impacted**; a
//! host where every check failed for transport reasons is **unreachable** and its
//! failures are attributed to the host, not to its components. Suspects are ranked by how
//! many failed checks they explain (their own, plus those of every impacted component that
//! reaches them through failing dependencies).
//!
//! This crate knows nothing of check kinds or transports: it works on [`Observation`]s.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Components and their `depends_on` edges (acyclic: the config rejects cycles).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    order: Vec<String>,
    deps: HashMap<String, Vec<String>>,
}

impl Graph {
    /// Build from `(component, depends_on)` pairs in file order.
    pub fn new<'a>(edges: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Self {
        let mut g = Self::default();
        for (name, deps) in edges {
            g.order.push(name.to_owned());
            g.deps.insert(name.to_owned(), deps.to_vec());
        }
        g
    }

    /// Direct dependencies of `component`.
    pub fn dependencies(&self, component: &str) -> &[String] {
        self.deps.get(component).map_or(&[], Vec::as_slice)
    }

    /// Components that depend on `component` directly.
    pub fn dependents(&self, component: &str) -> Vec<&str> {
        self.order
            .iter()
            .filter(|c| self.dependencies(c).iter().any(|d| d == component))
            .map(String::as_str)
            .collect()
    }

    /// Every component that depends on `component`, directly or not (its blast radius).
    pub fn blast_radius(&self, component: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![component.to_owned()];
        while let Some(c) = todo.pop() {
            for d in self.dependents(&c) {
                if seen.insert(d.to_owned()) {
                    todo.push(d.to_owned());
                }
            }
        }
        seen
    }

    /// Components in file order.
    pub fn components(&self) -> &[String] {
        &self.order
    }
}

/// One check result, reduced to what localisation needs.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Component the check belongs to.
    pub component: String,
    /// Host it ran for (`None` for controller-once checks).
    pub host: Option<String>,
    /// Passed (or degraded).
    pub ok: bool,
    /// Not run because not meaningful; neither healthy nor failing.
    pub skipped: bool,
    /// Failed because the host could not be reached (transport/auth).
    pub transport: bool,
    /// Ran through the host's own transport (host-local kinds). Only these tell whether a
    /// host is reachable; controller checks about a dead host just fail to connect.
    pub via_transport: bool,
}

/// A root suspect.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Suspect {
    /// The component.
    pub component: String,
    /// Failed checks it explains (its own and those of components impacted through it).
    pub explains: usize,
    /// Hosts where its own checks failed (empty for controller-only checks).
    pub hosts: Vec<String>,
}

/// A failing component with a failing dependency.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Impacted {
    /// The component.
    pub component: String,
    /// Its failing direct dependencies.
    pub because_of: Vec<String>,
    /// Hosts where its checks failed.
    pub hosts: Vec<String>,
}

/// The outcome of localisation.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Localisation {
    /// Root suspects, most explanatory first.
    pub suspects: Vec<Suspect>,
    /// Impacted components, in graph order.
    pub impacted: Vec<Impacted>,
    /// Hosts where every check failed for transport reasons.
    pub unreachable: Vec<String>,
}

impl Localisation {
    /// Whether nothing failed.
    pub fn is_clean(&self) -> bool {
        self.suspects.is_empty() && self.impacted.is_empty() && self.unreachable.is_empty()
    }
}

/// Localise failures in `observations` on `graph`.
pub fn localise(graph: &Graph, observations: &[Observation]) -> Localisation {
    // Unreachable hosts: at least one check ran through the host's transport, and every one
    // of those failed for transport reasons. All of that host's failures (controller checks
    // aimed at it included) are then the host's, not its components'.
    let mut per_host: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for o in observations
        .iter()
        .filter(|o| !o.skipped && o.via_transport)
    {
        if let Some(h) = &o.host {
            let e = per_host.entry(h).or_default();
            e.0 += 1;
            if !o.ok && o.transport {
                e.1 += 1;
            }
        }
    }
    let unreachable: BTreeSet<&str> = per_host
        .iter()
        .filter(|(_, (n, t))| n > &0 && n == t)
        .map(|(h, _)| *h)
        .collect();

    // Failures that count against components: not skipped, not ok, not on an unreachable host.
    let mut failures: HashMap<&str, Vec<Option<&str>>> = HashMap::new();
    for o in observations {
        if o.ok || o.skipped || o.host.as_deref().is_some_and(|h| unreachable.contains(h)) {
            continue;
        }
        failures
            .entry(o.component.as_str())
            .or_default()
            .push(o.host.as_deref());
    }
    let failing = |c: &str| failures.contains_key(c);
    let hosts_of = |c: &str| -> Vec<String> {
        let set: BTreeSet<&str> = failures
            .get(c)
            .into_iter()
            .flatten()
            .filter_map(|h| *h)
            .collect();
        set.into_iter().map(str::to_owned).collect()
    };

    let mut suspects = Vec::new();
    let mut impacted = Vec::new();
    for c in graph.components() {
        if !failing(c) {
            continue;
        }
        let failing_deps: Vec<String> = graph
            .dependencies(c)
            .iter()
            .filter(|d| failing(d))
            .cloned()
            .collect();
        if failing_deps.is_empty() {
            // Explains its own failures plus those of failing components upstream of it.
            let mut explains = failures[c.as_str()].len();
            let mut seen = BTreeSet::new();
            let mut todo = vec![c.clone()];
            while let Some(x) = todo.pop() {
                for d in graph.dependents(&x) {
                    if failing(d) && seen.insert(d.to_owned()) {
                        explains += failures[d].len();
                        todo.push(d.to_owned());
                    }
                }
            }
            suspects.push(Suspect {
                component: c.clone(),
                explains,
                hosts: hosts_of(c),
            });
        } else {
            impacted.push(Impacted {
                component: c.clone(),
                because_of: failing_deps,
                hosts: hosts_of(c),
            });
        }
    }
    suspects.sort_by_key(|s| std::cmp::Reverse(s.explains));
    Localisation {
        suspects,
        impacted,
        unreachable: unreachable.into_iter().map(str::to_owned).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        let owned: Vec<(String, Vec<String>)> = edges
            .iter()
            .map(|(c, d)| ((*c).to_owned(), d.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        Graph::new(owned.iter().map(|(c, d)| (c.as_str(), d.as_slice())))
    }

    fn obs(component: &str, host: Option<&str>, ok: bool) -> Observation {
        Observation {
            component: component.into(),
            host: host.map(Into::into),
            ok,
            skipped: false,
            transport: false,
            via_transport: host.is_some(),
        }
    }

    fn names<T>(v: &[T], f: impl Fn(&T) -> &str) -> Vec<&str> {
        v.iter().map(f).collect()
    }

    #[test]
    fn chain_names_the_deepest_failure() {
        // web → api → db; db and everything above it fail.
        let g = graph(&[("web", &["api"]), ("api", &["db"]), ("db", &[])]);
        let l = localise(
            &g,
            &[
                obs("web", Some("h1"), false),
                obs("api", Some("h1"), false),
                obs("db", None, false),
            ],
        );
        assert_eq!(names(&l.suspects, |s| &s.component), ["db"]);
        assert_eq!(l.suspects[0].explains, 3);
        assert_eq!(names(&l.impacted, |s| &s.component), ["web", "api"]);
        assert_eq!(l.impacted[0].because_of, ["api"]);
    }

    #[test]
    fn diamond_with_one_failing_leaf() {
        // top → left, right; left, right → base. Only right fails, so top is impacted by right.
        let g = graph(&[
            ("top", &["left", "right"]),
            ("left", &["base"]),
            ("right", &["base"]),
            ("base", &[]),
        ]);
        let l = localise(
            &g,
            &[
                obs("top", None, false),
                obs("left", None, true),
                obs("right", None, false),
                obs("base", None, true),
            ],
        );
        assert_eq!(names(&l.suspects, |s| &s.component), ["right"]);
        assert_eq!(l.suspects[0].explains, 2);
        assert_eq!(l.impacted[0].because_of, ["right"]);
    }

    #[test]
    fn independent_failures_are_separate_suspects_ranked() {
        let g = graph(&[("a", &["b"]), ("b", &[]), ("c", &[])]);
        let l = localise(
            &g,
            &[
                obs("a", None, false),
                obs("b", None, false),
                obs("c", None, false),
            ],
        );
        assert_eq!(names(&l.suspects, |s| &s.component), ["b", "c"]);
        assert_eq!((l.suspects[0].explains, l.suspects[1].explains), (2, 1));
    }

    #[test]
    fn a_failing_component_over_healthy_dependencies_is_a_suspect() {
        let g = graph(&[("web", &["db"]), ("db", &[])]);
        let l = localise(
            &g,
            &[
                obs("web", Some("h1"), false),
                obs("web", Some("h2"), true),
                obs("db", None, true),
            ],
        );
        assert_eq!(
            l.suspects,
            [Suspect {
                component: "web".into(),
                explains: 1,
                hosts: vec!["h1".into()]
            }]
        );
        assert!(l.impacted.is_empty());
    }

    #[test]
    fn unreachable_hosts_are_not_blamed_on_components() {
        let g = graph(&[("web", &[])]);
        let mut down = obs("web", Some("h2"), false);
        down.transport = true;
        let l = localise(&g, &[obs("web", Some("h1"), true), down]);
        assert_eq!(l.unreachable, ["h2"]);
        assert!(l.suspects.is_empty());
    }

    #[test]
    fn a_dead_host_takes_its_controller_checks_with_it() {
        // web → api on h1 and h2; h2 is down: its host checks fail on transport, its HTTP
        // checks (run from the controller) are refused. Nothing is blamed on a component.
        let g = graph(&[("web", &["api"]), ("api", &[])]);
        let mut down = obs("api", Some("h2"), false);
        down.transport = true;
        let mut http_to_dead = obs("web", Some("h2"), false);
        http_to_dead.via_transport = false;
        let mut http_ok = obs("web", Some("h1"), true);
        http_ok.via_transport = false;
        let l = localise(
            &g,
            &[obs("api", Some("h1"), true), down, http_to_dead, http_ok],
        );
        assert_eq!(l.unreachable, ["h2"]);
        assert!(l.suspects.is_empty() && l.impacted.is_empty(), "{l:?}");
    }

    #[test]
    fn a_host_with_only_controller_checks_is_never_called_unreachable() {
        let g = graph(&[("web", &[])]);
        let mut refused = obs("web", Some("h1"), false);
        refused.via_transport = false;
        let l = localise(&g, &[refused]);
        assert!(l.unreachable.is_empty());
        assert_eq!(l.suspects[0].component, "web");
    }

    #[test]
    fn blast_radius_is_transitive() {
        let g = graph(&[
            ("web", &["api"]),
            ("api", &["db"]),
            ("db", &[]),
            ("batch", &["db"]),
        ]);
        assert_eq!(
            g.blast_radius("db").into_iter().collect::<Vec<_>>(),
            ["api", "batch", "web"]
        );
    }
}
