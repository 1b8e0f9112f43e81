//! Conflicts through the dependency graph, shared hosts and components, and time.

use crate::common::{Driver, REQUESTER, config, new_change};
use fearless_change::{
    ChangeRecord, ChangeType, Command, ConflictReason, NewChange, Policy, conflicts, parse_window,
};

fn submitted(
    cfg: &fearless_config::Config,
    number: u64,
    hosts: &str,
    component: &str,
    window: &str,
) -> ChangeRecord {
    let new = NewChange {
        window: Some(parse_window(window).expect("window")),
        ..new_change(hosts, &[component], ChangeType::Normal)
    };
    let mut d = Driver::new(cfg, number, new);
    d.ok(REQUESTER, Command::Submit);
    d.record
}

/// CHG-1 of checkout on the web hosts, submitted for `window`.
fn checkout_change(cfg: &fearless_config::Config, window: &str) -> ChangeRecord {
    submitted(cfg, 1, "role=web", "checkout", window)
}

/// CHG-2 of orders-api on api-1, submitted for `window`.
fn orders_change(cfg: &fearless_config::Config, window: &str) -> ChangeRecord {
    submitted(cfg, 2, "api-1", "orders-api", window)
}

#[test]
fn orders_api_conflicts_with_checkout_in_an_overlapping_window_because_checkout_depends_on_it() {
    let cfg = config("");
    let policy = Policy::from_config(&cfg);
    let checkout = checkout_change(&cfg, "2026-05-01T22:00:00Z..2026-05-02T02:00:00Z");
    let orders = orders_change(&cfg, "2026-05-02T01:00:00Z..2026-05-02T03:00:00Z");

    let found = conflicts(&orders, std::slice::from_ref(&checkout), &policy.graph);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].with, 1);
    assert_eq!(
        found[0].reasons,
        [ConflictReason::Dependency {
            component: "orders-api".into(),
            dependent: "checkout".into()
        }]
    );
    assert!(
        found[0]
            .to_string()
            .contains("checkout depends on orders-api"),
        "{}",
        found[0]
    );
    // Symmetric.
    assert_eq!(
        conflicts(&checkout, std::slice::from_ref(&orders), &policy.graph).len(),
        1
    );
}

#[test]
fn no_conflict_when_windows_do_not_overlap() {
    let cfg = config("");
    let policy = Policy::from_config(&cfg);
    let checkout = checkout_change(&cfg, "2026-05-01T22:00:00Z..2026-05-02T01:00:00Z");
    // Back to back: [22:00, 01:00) and [01:00, 03:00) share no instant.
    let orders = orders_change(&cfg, "2026-05-02T01:00:00Z..2026-05-02T03:00:00Z");
    assert!(conflicts(&orders, &[checkout], &policy.graph).is_empty());
}

#[test]
fn unrelated_components_on_other_hosts_do_not_conflict_and_finished_changes_are_ignored() {
    let cfg = config("");
    let policy = Policy::from_config(&cfg);
    let w = "2026-05-01T22:00:00Z..2026-05-02T02:00:00Z";
    let batch = submitted(&cfg, 1, "batch-1", "batch", w);
    let orders = orders_change(&cfg, w);
    assert!(conflicts(&orders, &[batch], &policy.graph).is_empty());

    let mut other = submitted(&cfg, 3, "api-1", "orders-api", w);
    let found = conflicts(&orders, std::slice::from_ref(&other), &policy.graph);
    assert_eq!(
        found[0].reasons,
        [
            ConflictReason::Host {
                host: "api-1".into()
            },
            ConflictReason::Component {
                component: "orders-api".into()
            }
        ]
    );
    other.state = fearless_change::State::Cancelled;
    assert!(conflicts(&orders, &[other], &policy.graph).is_empty());
}

#[test]
fn conflicts_warn_at_submit_and_schedule_without_blocking() {
    let cfg = config("");
    let checkout = checkout_change(&cfg, "2026-05-01T22:00:00Z..2026-05-02T02:00:00Z");
    let new = NewChange {
        window: Some(parse_window("2026-05-01T23:00:00Z..2026-05-02T00:00:00Z").expect("window")),
        ..new_change("api-1", &["orders-api"], ChangeType::Normal)
    };
    let mut d = Driver::new(&cfg, 2, new);
    d.others = vec![checkout];
    let applied = d.ok(REQUESTER, Command::Submit);
    assert_eq!(applied.warnings.len(), 1, "{:?}", applied.warnings);
    assert_eq!(applied.payload["conflicts"][0]["with"], 1);
    assert_eq!(
        applied.payload["conflicts"][0]["reasons"][0]["kind"],
        "dependency"
    );
    assert_eq!(
        d.record.assessment.as_ref().map(|a| a.conflicts.len()),
        Some(1)
    );

    let applied = d.ok(
        REQUESTER,
        Command::Schedule {
            window: Some(
                parse_window("2026-05-02T05:00:00Z..2026-05-02T06:00:00Z").expect("window"),
            ),
        },
    );
    assert!(applied.warnings.is_empty(), "moved out of the way");
    assert_eq!(applied.payload["conflicts"], serde_json::json!([]));
}
