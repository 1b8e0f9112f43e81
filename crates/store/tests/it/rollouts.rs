//! Rollouts and incidents: records with optimistic locking, and per-host compare-and-set
//! steps, each with its journal entry, on both backends.

crate::common::backend_tests!(
    rollout_hosts_move_only_from_the_state_seen,
    a_step_that_starts_work_is_refused_once_the_rollout_is_aborting,
    racing_controllers_move_a_host_once,
    incidents_round_trip
);

mod cases {
    use std::sync::Arc;

    use fearless_store::{Document, ErrorClass, StoreError};
    use serde_json::json;

    use crate::common::{TestDb, entries, entries_about, ev, event, kinds_about};

    pub(super) async fn a_step_that_starts_work_is_refused_once_the_rollout_is_aborting(
        db: &TestDb,
    ) {
        let store = db.open().await;
        let hosts = [("web-1".to_owned(), 1), ("web-2".to_owned(), 1)];
        store
            .insert_rollout(
                "running",
                &json!({}),
                &hosts,
                "snapshotted",
                ev("rollout.started"),
            )
            .await
            .expect("insert");
        let allowed = ["running", "paused"];
        store
            .move_host_while(
                1,
                "web-1",
                ("snapshotted", "applying"),
                None,
                allowed,
                ev("a"),
            )
            .await
            .expect("a running rollout takes the step");
        let r = store.get_rollout(1).await.expect("get").expect("R-1");
        store
            .update_rollout(1, r.version, "aborting", &json!({}), ev("rollout.aborting"))
            .await
            .expect("abort");
        let before = entries(&store).await.len();
        let err = store
            .move_host_while(
                1,
                "web-2",
                ("snapshotted", "applying"),
                None,
                allowed,
                ev("b"),
            )
            .await
            .expect_err("an aborting rollout refuses it");
        assert!(
            matches!(&err, StoreError::RolloutMoved { found, .. } if found == "aborting"),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Conflict);
        assert_eq!(entries(&store).await.len(), before, "nothing written");
        let hosts = store.rollout_hosts(1).await.expect("hosts");
        let states: Vec<(&str, &str)> = hosts
            .iter()
            .map(|h| (h.host.as_str(), h.state.as_str()))
            .collect();
        assert_eq!(states, [("web-1", "applying"), ("web-2", "snapshotted")]);
        // One host by its key reads as the same row; a host or rollout that is not there
        // is none.
        let one = store.rollout_host(1, "web-1").await.expect("host");
        assert_eq!(one.as_ref(), hosts.first());
        assert_eq!(store.rollout_host(1, "web-9").await.expect("no host"), None);
        assert_eq!(
            store.rollout_host(7, "web-1").await.expect("no rollout"),
            None
        );
        // A host moved by someone else is still told apart from a rollout that moved.
        let err = store
            .move_host_while(
                1,
                "web-1",
                ("snapshotted", "applying"),
                None,
                allowed,
                ev("c"),
            )
            .await
            .expect_err("stale");
        assert!(matches!(err, StoreError::HostMoved { .. }), "{err}");
    }

    pub(super) async fn rollout_hosts_move_only_from_the_state_seen(db: &TestDb) {
        let store = db.open().await;
        let hosts = [
            ("web-1".to_owned(), 1),
            ("web-2".to_owned(), 2),
            ("web-3".to_owned(), 2),
        ];
        let r = store
            .insert_rollout(
                "running",
                &json!({"change": "CHG-1", "manifest": ["libacme=2.0"]}),
                &hosts,
                "pending",
                ev("rollout.started"),
            )
            .await
            .expect("insert");
        assert_eq!((r.number, r.version), (1, 1));

        store
            .move_host(
                1,
                "web-1",
                "pending",
                "snapshotted",
                Some(7),
                event("ops", "rollout.host.snapshotted", json!({"host": "web-1"})),
            )
            .await
            .expect("first move");
        // A second controller that still thinks web-1 is pending loses, and writes nothing.
        let before = entries(&store).await.len();
        let err = store
            .move_host(1, "web-1", "pending", "snapshotted", None, ev("x"))
            .await
            .expect_err("stale");
        assert!(
            matches!(&err, StoreError::HostMoved { found: Some(f), .. } if f == "snapshotted"),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Conflict);
        let err = store
            .move_host(1, "db-1", "pending", "snapshotted", None, ev("x"))
            .await
            .expect_err("not in the rollout");
        assert!(err.to_string().contains("db-1 is not part of it"), "{err}");
        assert_eq!(entries(&store).await.len(), before);

        // A later step keeps the snapshot recorded by the first.
        store
            .move_host(
                1,
                "web-1",
                "snapshotted",
                "applying",
                None,
                ev("rollout.host.applying"),
            )
            .await
            .expect("move");
        let got = store.rollout_hosts(1).await.expect("hosts");
        assert_eq!(got.len(), 3);
        assert_eq!(
            (
                got[0].host.as_str(),
                got[0].wave,
                got[0].state.as_str(),
                got[0].snapshot
            ),
            ("web-1", 1, "applying", Some(7))
        );
        assert_eq!(
            (got[1].wave, got[1].state.as_str(), got[1].snapshot),
            (2, "pending", None)
        );

        let updated = store
            .update_rollout(
                1,
                1,
                "paused",
                &json!({"change": "CHG-1", "paused_by": "ops"}),
                ev("rollout.paused"),
            )
            .await
            .expect("update");
        assert_eq!(updated.version, 2);
        let err = store
            .update_rollout(1, 1, "running", &json!({}), ev("x"))
            .await
            .expect_err("stale version");
        assert!(matches!(
            err,
            StoreError::Conflict {
                document: Document::Rollout,
                expected: 1,
                found: 2,
                ..
            }
        ));
        let unknown = store.update_rollout(9, 1, "x", &json!({}), ev("x")).await;
        assert!(matches!(
            unknown,
            Err(StoreError::Unknown {
                document: Document::Rollout,
                number: 9
            })
        ));
        assert_eq!(
            unknown.expect_err("unknown").to_string(),
            "there is no rollout R-9"
        );

        drop(store);
        let store = db.open().await;
        let r = store.get_rollout(1).await.expect("get").expect("exists");
        assert_eq!((r.state.as_str(), r.version), ("paused", 2));
        assert_eq!(r.record["paused_by"], "ops");
        assert_eq!(store.list_rollouts().await.expect("list").len(), 1);
        assert!(store.get_rollout(2).await.expect("get").is_none());
        assert_eq!(
            kinds_about(&store, "R-1").await,
            [
                "rollout.started",
                "rollout.host.snapshotted",
                "rollout.host.applying",
                "rollout.paused"
            ]
        );
        assert!(store.verify().await.expect("verify").is_ok());
    }

    pub(super) async fn racing_controllers_move_a_host_once(db: &TestDb) {
        let setup = db.open().await;
        let hosts = [("web-1".to_owned(), 1)];
        setup
            .insert_rollout(
                "running",
                &json!({}),
                &hosts,
                "pending",
                ev("rollout.started"),
            )
            .await
            .expect("insert");
        drop(setup);
        let a = Arc::new(db.open().await);
        let b = Arc::new(db.open().await);
        let mut tasks = Vec::new();
        for (i, store) in [a, b].into_iter().cycle().take(8).enumerate() {
            tasks.push(tokio::spawn(async move {
                store
                    .move_host(
                        1,
                        "web-1",
                        "pending",
                        "snapshotted",
                        None,
                        event("ops", "rollout.host.snapshotted", json!({"by": i})),
                    )
                    .await
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(()) => won += 1,
                Err(StoreError::HostMoved { .. }) => {}
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        assert_eq!(won, 1, "exactly one controller moves the host");
        let store = db.open().await;
        assert_eq!(
            entries_about(&store, "R-1").await.len(),
            2,
            "one start, one move"
        );
    }

    pub(super) async fn incidents_round_trip(db: &TestDb) {
        let store = db.open().await;
        let first = store
            .insert_incident(
                "open",
                &json!({"rollout": "R-2", "failing": ["orders-api/orders on web-1"]}),
                ev("incident.opened"),
            )
            .await
            .expect("insert");
        let second = store
            .insert_incident("open", &json!({}), ev("incident.opened"))
            .await
            .expect("insert");
        assert_eq!((first.number, second.number), (1, 2));
        drop(store);
        let store = db.open().await;
        let got = store.get_incident(1).await.expect("get").expect("exists");
        assert_eq!(got.record["failing"][0], "orders-api/orders on web-1");
        assert_eq!(got.state, "open");
        assert!(store.get_incident(3).await.expect("get").is_none());
        assert_eq!(store.list_incidents().await.expect("list").len(), 2);
        let moved = store
            .update_incident(
                1,
                1,
                "mitigated",
                &json!({"milestones": {"mitigated": "now"}}),
                ev("incident.mitigated"),
            )
            .await
            .expect("update");
        assert_eq!((moved.version, moved.state.as_str()), (2, "mitigated"));
        let stale = store
            .update_incident(1, 1, "resolved", &json!({}), ev("x"))
            .await
            .expect_err("stale version");
        assert!(matches!(
            stale,
            StoreError::Conflict {
                document: Document::Incident,
                expected: 1,
                found: 2,
                ..
            }
        ));
        assert!(
            stale
                .to_string()
                .starts_with("incident INC-1 was changed by someone else"),
            "{stale}"
        );
        assert!(matches!(
            store
                .update_incident(7, 1, "resolved", &json!({}), ev("x"))
                .await,
            Err(StoreError::Unknown {
                document: Document::Incident,
                number: 7
            })
        ));
        assert_eq!(
            kinds_about(&store, "INC-1").await,
            ["incident.opened", "incident.mitigated"]
        );
    }
}
