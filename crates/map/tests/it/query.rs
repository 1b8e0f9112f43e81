//! The questions asked of a map: validation, impact, needs, focus, subset.

use crate::common::{lab, node};
use fearless_map::{Direction, Edge, EdgeKind, Map, MapError, Mark, Node, Problem};

#[test]
fn a_valid_map_validates() {
    lab().validate().expect("valid");
}

#[test]
fn every_problem_is_reported_at_once_and_says_which() {
    let mut map = lab();
    map.nodes.push(node("ledger", "data", &[]));
    map.edges
        .push(Edge::new("checkout", "ordres-api", EdgeKind::Declared));
    map.edges
        .push(Edge::new("ghost", "ledger", EdgeKind::Undeclared));
    map.edges
        .push(Edge::new("ledger", "ledger", EdgeKind::Undeclared));
    map.edges
        .push(Edge::new("checkout", "orders-api", EdgeKind::Unobserved));
    let err = map.validate().expect_err("invalid");
    let MapError::Invalid { problems } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        problems,
        &[
            Problem::DuplicateNode {
                name: "ledger".into()
            },
            Problem::UnknownEndpoint {
                from: "checkout".into(),
                to: "ordres-api".into(),
                missing: "ordres-api".into()
            },
            Problem::UnknownEndpoint {
                from: "ghost".into(),
                to: "ledger".into(),
                missing: "ghost".into()
            },
            Problem::SelfEdge {
                name: "ledger".into()
            },
            Problem::DuplicateEdge {
                from: "checkout".into(),
                to: "orders-api".into()
            },
        ]
    );
    let message = err.to_string();
    for part in [
        "component `ledger` is listed more than once",
        "edge `checkout` → `ordres-api` names unknown component `ordres-api`",
        "edge `ghost` → `ledger` names unknown component `ghost`",
        "component `ledger` depends on itself",
        "edge `checkout` → `orders-api` is listed more than once",
    ] {
        assert!(message.contains(part), "{message}");
    }
}

#[test]
fn impact_is_everything_that_depends_on_it_nearest_first() {
    let map = lab();
    assert_eq!(
        map.impact("ledger").expect("known"),
        ["orders-api", "checkout"]
    );
    // Undeclared edges carry failures: rabbitmq takes the API and the shop down.
    assert_eq!(
        map.impact("rabbitmq").expect("known"),
        ["orders-api", "checkout"]
    );
    assert_eq!(
        map.impact("payments").expect("known"),
        ["ledger", "orders-api", "checkout"]
    );
    assert!(map.impact("checkout").expect("known").is_empty());
}

#[test]
fn needs_is_everything_it_depends_on_by_distance_then_name() {
    let map = lab();
    assert_eq!(
        map.needs("checkout").expect("known"),
        ["orders-api", "ledger", "rabbitmq", "payments"]
    );
    assert!(map.needs("payments").expect("known").is_empty());
}

#[test]
fn unobserved_edges_carry_no_failure() {
    let mut map = lab();
    map.edges
        .push(Edge::new("checkout", "payments", EdgeKind::Unobserved));
    assert_eq!(
        map.impact("payments").expect("known"),
        ["ledger", "orders-api", "checkout"]
    );
    map.edges
        .push(Edge::new("rabbitmq", "payments", EdgeKind::Declared));
    assert_eq!(
        map.impact("payments").expect("known"),
        ["ledger", "rabbitmq", "orders-api", "checkout"]
    );
}

#[test]
fn cycles_terminate_and_never_list_the_component_itself() {
    let mut map = lab();
    map.edges
        .push(Edge::new("ledger", "checkout", EdgeKind::Undeclared));
    assert_eq!(
        map.impact("ledger").expect("known"),
        ["orders-api", "checkout"]
    );
    assert_eq!(
        map.needs("ledger").expect("known"),
        ["checkout", "payments", "orders-api", "rabbitmq"]
    );
}

#[test]
fn an_unknown_name_lists_the_close_ones() {
    let map = lab();
    let err = map.impact("order-api").expect_err("unknown");
    assert_eq!(
        err,
        MapError::UnknownComponent {
            name: "order-api".into(),
            close: vec!["orders-api".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "unknown component `order-api` (did you mean `orders-api`?)"
    );
    let MapError::UnknownComponent { close, .. } = map.needs("orders").expect_err("unknown") else {
        panic!("wrong error");
    };
    assert_eq!(close, ["orders-api"]);
    assert_eq!(
        map.needs("zzz").expect_err("unknown").to_string(),
        "unknown component `zzz`"
    );
    // A hostile name in an error cannot drive the terminal.
    let err = map.impact("\x1b[2Jx").expect_err("unknown").to_string();
    assert!(!err.contains('\x1b') && err.contains("\\x1b[2Jx"), "{err}");
}

#[test]
fn focus_marks_the_component_its_set_and_dims_the_rest() {
    let mut map = lab();
    map.focus("ledger", Direction::Impact).expect("known");
    let marks: Vec<Mark> = map.nodes.iter().map(|n| n.mark).collect();
    assert_eq!(
        marks,
        [
            Mark::Highlighted,
            Mark::Highlighted,
            Mark::Focus,
            Mark::Dimmed,
            Mark::Dimmed
        ]
    );
    map.focus("orders-api", Direction::Needs).expect("known");
    let marks: Vec<Mark> = map.nodes.iter().map(|n| n.mark).collect();
    assert_eq!(
        marks,
        [
            Mark::Dimmed,
            Mark::Focus,
            Mark::Highlighted,
            Mark::Highlighted,
            Mark::Highlighted
        ]
    );
    let before = map.clone();
    assert!(map.focus("nope", Direction::Needs).is_err());
    assert_eq!(map, before, "a failed focus changes nothing");
}

#[test]
fn subset_keeps_the_named_components_and_the_edges_among_them() {
    let map = lab();
    let sub = map
        .subset(&["ledger".into(), "orders-api".into(), "payments".into()])
        .expect("known");
    let names: Vec<&str> = sub.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["orders-api", "ledger", "payments"], "map order");
    assert_eq!(
        sub.edges,
        [
            Edge::new("orders-api", "ledger", EdgeKind::Declared),
            Edge::new("ledger", "payments", EdgeKind::Declared),
        ]
    );
    sub.validate().expect("a subset of a valid map is valid");
    let err = map
        .subset(&["ledger".into(), "legder".into()])
        .expect_err("unknown");
    assert!(
        matches!(err, MapError::UnknownComponent { ref name, ref close } if name == "legder" && close == &["ledger".to_owned()])
    );
    assert_eq!(map.subset(&[]).expect("empty"), Map::default());
}

#[test]
fn queries_on_an_invalid_map_do_not_panic() {
    let map = Map {
        nodes: vec![Node::new("a"), Node::new("a"), Node::new("b")],
        edges: vec![
            Edge::new("a", "ghost", EdgeKind::Declared),
            Edge::new("b", "a", EdgeKind::Declared),
        ],
    };
    assert_eq!(map.impact("a").expect("known"), ["b"]);
    assert!(map.needs("a").expect("known").is_empty());
    for out in [
        fearless_map::svg(&map),
        fearless_map::dot(&map),
        fearless_map::mermaid(&map),
        fearless_map::human(&map),
        fearless_map::json(&map),
    ] {
        assert!(!out.is_empty());
    }
    assert!(fearless_map::human(&map).contains("→ ghost  [unknown component]"));
}
