//! The dependency map: the graph the configuration declares, as a [`fearless_map::Map`],
//! with the health a saved run recorded (`--status`) and the drift an observation found
//! (`--observe`) laid over it.

use fearless_config::Config;
use fearless_graph::{Graph, Observation, localise};
use fearless_map::{Edge, EdgeKind, Map, Node, Status};
use fearless_probe::baseline::Baseline;
use fearless_probe::result::Status as CheckStatus;

/// Every component of `config` (its tier, whether it is external, the hosts its `runs_on`
/// selects, its description) and every `depends_on` edge, in the config's order.
pub fn declared(config: &Config) -> Map {
    let nodes = config
        .components
        .values()
        .map(|c| Node {
            tier: c.tier.clone(),
            external: c.external,
            hosts: c
                .runs_on
                .as_ref()
                .map(|sel| {
                    config
                        .inventory
                        .select(sel)
                        .into_iter()
                        .map(|h| h.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            description: c.description.clone(),
            ..Node::new(c.name.clone())
        })
        .collect();
    let edges = config
        .components
        .values()
        .flat_map(|c| {
            c.depends_on
                .iter()
                .map(|d| Edge::new(c.name.clone(), d.clone(), EdgeKind::Declared))
        })
        .collect();
    Map { nodes, edges }
}

/// Colours each component by the results of a saved run (`check --save-baseline`): fail
/// when one of its checks failed or could not run, degraded when one passed only after
/// retries, pass when all passed, unknown when none of its checks is in the run; marks the
/// root suspects the dependency graph localises from the failures.
pub fn with_status(map: &mut Map, config: &Config, run: &Baseline) {
    for node in &mut map.nodes {
        let statuses: Vec<CheckStatus> = run
            .results
            .iter()
            .filter(|e| e.component == node.name && e.status != CheckStatus::Skipped)
            .map(|e| e.status)
            .collect();
        node.status = Some(if statuses.is_empty() {
            Status::Unknown
        } else if statuses.iter().any(|s| !s.is_ok()) {
            Status::Fail
        } else if statuses.contains(&CheckStatus::Degraded) {
            Status::Degraded
        } else {
            Status::Pass
        });
    }
    let graph = Graph::new(
        config
            .components
            .iter()
            .map(|(n, c)| (n.as_str(), c.depends_on.as_slice())),
    );
    let observations: Vec<Observation> = run
        .results
        .iter()
        .map(|e| Observation {
            component: e.component.clone(),
            host: e.host.clone(),
            ok: e.status.is_ok(),
            skipped: e.status == CheckStatus::Skipped,
            transport: false,
            via_transport: false,
        })
        .collect();
    let found = localise(&graph, &observations);
    for suspect in found.suspects {
        if let Some(node) = map.nodes.iter_mut().find(|n| n.name == suspect.component) {
            node.suspect = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fearless_probe::baseline::Entry;

    const YAML: &str = r#"
inventory:
  hosts:
    web-1: { address: 127.0.0.11, transport: local, labels: { role: web } }
    api-1: { address: 127.0.0.12, transport: local, labels: { role: api } }
components:
  checkout:
    tier: web
    runs_on: "role=web"
    depends_on: [orders]
    checks: [{ name: up, command: { run: ["true"] } }]
  orders:
    tier: api
    runs_on: "role=api"
    depends_on: [payments]
    checks: [{ name: up, command: { run: ["true"] } }]
  payments:
    external: true
    checks: [{ name: up, tcp: { address: "127.0.0.1:9" } }]
"#;

    fn config() -> Config {
        fearless_config::load_str(std::path::Path::new("/x/fearless.yaml"), YAML.to_owned())
            .unwrap_or_else(|e| panic!("{e:?}"))
            .config
    }

    fn entry(component: &str, status: CheckStatus) -> Entry {
        Entry {
            component: component.into(),
            check: "up".into(),
            host: None,
            status,
        }
    }

    #[test]
    fn the_declared_map_has_every_component_its_hosts_and_every_edge() {
        let map = declared(&config());
        let names: Vec<_> = map.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["checkout", "orders", "payments"]);
        assert_eq!(map.nodes[0].hosts, ["web-1"]);
        assert_eq!(map.nodes[0].tier.as_deref(), Some("web"));
        assert!(map.nodes[2].external && map.nodes[2].hosts.is_empty());
        assert_eq!(
            map.edges,
            [
                Edge::new("checkout", "orders", EdgeKind::Declared),
                Edge::new("orders", "payments", EdgeKind::Declared)
            ]
        );
        assert_eq!(map.validate(), Ok(()));
    }

    #[test]
    fn a_saved_run_colours_components_and_marks_the_root_suspect() {
        let config = config();
        let mut map = declared(&config);
        let run = Baseline {
            format: fearless_probe::baseline::FORMAT,
            results: vec![
                entry("checkout", CheckStatus::Fail),
                entry("orders", CheckStatus::Fail),
                entry("payments", CheckStatus::Degraded),
            ],
        };
        with_status(&mut map, &config, &run);
        let status: Vec<_> = map.nodes.iter().map(|n| n.status).collect();
        assert_eq!(
            status,
            [
                Some(Status::Fail),
                Some(Status::Fail),
                Some(Status::Degraded)
            ]
        );
        let suspects: Vec<_> = map
            .nodes
            .iter()
            .filter(|n| n.suspect)
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(suspects, ["orders"], "checkout fails because orders does");
    }

    #[test]
    fn a_component_the_run_did_not_check_is_unknown() {
        let config = config();
        let mut map = declared(&config);
        let run = Baseline {
            format: fearless_probe::baseline::FORMAT,
            results: vec![entry("checkout", CheckStatus::Pass)],
        };
        with_status(&mut map, &config, &run);
        assert_eq!(map.nodes[0].status, Some(Status::Pass));
        assert_eq!(map.nodes[1].status, Some(Status::Unknown));
        assert!(map.nodes.iter().all(|n| !n.suspect));
    }
}
