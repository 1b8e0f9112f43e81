//! The DOT, Mermaid and text forms of the lab's shop, plain and with statuses, a suspect,
//! a focus and an unobserved edge.

use crate::common::lab;
use fearless_map::{Direction, Edge, EdgeKind, Map, Status};

fn decorated() -> Map {
    let mut map = lab();
    map.edges
        .push(Edge::new("checkout", "ledger", EdgeKind::Unobserved));
    map.nodes[0].status = Some(Status::Degraded);
    map.nodes[1].status = Some(Status::Fail);
    map.nodes[2].status = Some(Status::Fail);
    map.nodes[2].suspect = true;
    map.nodes[3].status = Some(Status::Pass);
    map.nodes[4].status = Some(Status::Unknown);
    map.focus("ledger", Direction::Impact).expect("known");
    map
}

#[test]
fn dot_of_the_lab() {
    insta::assert_snapshot!(fearless_map::dot(&lab()));
}

#[test]
fn mermaid_of_the_lab() {
    insta::assert_snapshot!(fearless_map::mermaid(&lab()));
}

#[test]
fn human_of_the_lab() {
    insta::assert_snapshot!(fearless_map::human(&lab()));
}

#[test]
fn dot_of_the_lab_decorated() {
    insta::assert_snapshot!(fearless_map::dot(&decorated()));
}

#[test]
fn mermaid_of_the_lab_decorated() {
    insta::assert_snapshot!(fearless_map::mermaid(&decorated()));
}

#[test]
fn human_of_the_lab_decorated() {
    insta::assert_snapshot!(fearless_map::human(&decorated()));
}
