//! Change records: insert, get, list, update, optimistic locking.

crate::common::backend_tests!(
    round_trip,
    stale_version_is_a_conflict_and_writes_nothing,
    reopen_keeps_everything
);

mod cases {
    use fearless_store::{Document, ErrorClass, StoreError};
    use serde_json::json;

    use crate::common::{TestDb, entries, move_change, new_change};

    pub(super) async fn round_trip(db: &TestDb) {
        let store = db.open().await;
        let first = new_change(
            &store,
            json!({"title": "patch openssl", "hosts": ["web-1"]}),
        )
        .await;
        let second = new_change(&store, json!({"title": "two"})).await;
        assert_eq!((first.number, first.version, second.number), (1, 1, 2));

        let got = store
            .get_change(1)
            .await
            .expect("get")
            .expect("change 1 exists");
        assert_eq!(got, first);
        assert_eq!(
            got.record,
            json!({"title": "patch openssl", "hosts": ["web-1"]})
        );
        assert!(store.get_change(3).await.expect("get").is_none());
        assert!(store.get_change(u64::MAX).await.expect("get").is_none());

        let record = json!({"title": "patch openssl", "risk": "low"});
        let updated = move_change(&store, (1, 1), "assess", record)
            .await
            .expect("update");
        assert_eq!((updated.version, updated.state.as_str()), (2, "assess"));
        assert_eq!(updated.created_at, first.created_at);
        assert_eq!(
            store.get_change(1).await.expect("get"),
            Some(updated.clone())
        );

        let list = store.list_changes().await.expect("list");
        assert_eq!(
            list.iter()
                .map(|c| (c.number, c.version))
                .collect::<Vec<_>>(),
            vec![(1, 2), (2, 1)]
        );

        let unknown = move_change(&store, (9, 1), "x", json!({})).await;
        assert!(
            matches!(
                unknown,
                Err(StoreError::Unknown {
                    document: Document::Change,
                    number: 9
                })
            ),
            "{unknown:?}"
        );
        let unknown = unknown.expect_err("unknown");
        assert_eq!(unknown.class(), ErrorClass::BadInput);
        assert_eq!(unknown.to_string(), "there is no change CHG-9");

        // Every write has its entry, and change entries carry the change's subject.
        let journal = entries(&store).await;
        let subjects: Vec<_> = journal
            .iter()
            .map(|e| (e.subject.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            subjects,
            vec![
                ("CHG-1", "change.created"),
                ("CHG-2", "change.created"),
                ("CHG-1", "change.assess")
            ]
        );
    }

    pub(super) async fn stale_version_is_a_conflict_and_writes_nothing(db: &TestDb) {
        let store = db.open().await;
        new_change(&store, json!({"n": 0})).await;
        move_change(&store, (1, 1), "assess", json!({"n": 1}))
            .await
            .expect("first update");

        let stale = move_change(&store, (1, 1), "cancelled", json!({"n": 2})).await;
        match stale {
            Err(
                ref e @ StoreError::Conflict {
                    document: Document::Change,
                    number: 1,
                    expected: 1,
                    found: 2,
                },
            ) => {
                assert_eq!(e.class(), ErrorClass::Conflict);
                assert!(e.to_string().contains("CHG-1"), "{e}");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        let now = store.get_change(1).await.expect("get").expect("exists");
        assert_eq!(
            (now.version, now.state.as_str(), &now.record),
            (2, "assess", &json!({"n": 1}))
        );
        assert_eq!(
            entries(&store).await.len(),
            2,
            "a lost update writes no entry"
        );
        assert!(store.verify().await.expect("verify").is_ok());
    }

    pub(super) async fn reopen_keeps_everything(db: &TestDb) {
        let store = db.open().await;
        new_change(&store, json!({"a": 1})).await;
        store.close().await;
        drop(store);

        let again = db.open().await;
        assert_eq!(
            again.get_change(1).await.expect("get").map(|c| c.record),
            Some(json!({"a": 1}))
        );
        let next = new_change(&again, json!({})).await;
        assert_eq!(next.number, 2);
        assert_eq!(again.verify().await.expect("verify").entries, 2);
    }
}
