//! Kept records — package snapshots and dependency observations: numbering (each kind its
//! own), byte-exact round trip, journal entries, reopen.

crate::common::backend_tests!(
    snapshots_round_trip_byte_for_byte,
    observations_are_numbered_apart_from_snapshots_and_journaled
);

mod cases {
    use fearless_store::to_canonical;
    use serde_json::json;

    use crate::common::{TestDb, event, kinds_about};

    pub(super) async fn snapshots_round_trip_byte_for_byte(db: &TestDb) {
        let store = db.open().await;
        // Versions whose JSON a JSONB column would not keep as written (key order, spacing).
        let record = json!({
            "hosts": {
                "web-2": {"manager": "apt", "packages": [
                    {"name": "zlib1g", "arch": "amd64", "version": "1:1.2.13.dfsg-1", "manual": false},
                    {"name": "acme", "arch": "all", "version": "1.0~rc1+b1", "manual": true}
                ]},
                "rpm-1": {"manager": "dnf", "packages": [
                    {"name": "libacme", "arch": "noarch", "version": "1.0-1", "manual": true}
                ]}
            },
            "errors": {}
        });
        let first = store
            .insert_snapshot(&record, event("ann", "snapshot.taken", json!({"hosts": 2})))
            .await
            .expect("insert");
        let second = store
            .insert_snapshot(
                &json!({"hosts": {}, "errors": {}}),
                event("bob", "snapshot.taken", json!({})),
            )
            .await
            .expect("insert");
        assert_eq!((first.number, second.number), (1, 2));
        assert_eq!(first.actor, "ann");
        drop(store);

        let store = db.open().await;
        let got = store.get_snapshot(1).await.expect("get").expect("exists");
        assert_eq!(to_canonical(&got.record), to_canonical(&record));
        assert_eq!(
            got.record["hosts"]["web-2"]["packages"][0]["name"], "zlib1g",
            "array order kept"
        );
        assert_eq!(got.taken_at, first.taken_at);
        assert!(store.get_snapshot(3).await.expect("get").is_none());
        assert!(store.get_snapshot(u64::MAX).await.expect("get").is_none());
        let all = store.list_snapshots().await.expect("list");
        assert_eq!(all.iter().map(|s| s.number).collect::<Vec<_>>(), [1, 2]);

        assert_eq!(kinds_about(&store, "SNAP-1").await, ["snapshot.taken"]);
        assert!(store.verify().await.expect("verify").is_ok());
    }

    pub(super) async fn observations_are_numbered_apart_from_snapshots_and_journaled(db: &TestDb) {
        let store = db.open().await;
        store
            .insert_snapshot(&json!({}), event("ann", "snapshot.taken", json!({})))
            .await
            .expect("snapshot");
        let record = json!({"window_ms": 5000, "hosts": {"api-1": {"connections": [
            {"process": "acme-api", "remote": "127.0.0.1:5672", "samples": 10}
        ]}}});
        let first = store
            .insert_observation(
                &record,
                event("ann", "map.observed", json!({"undeclared": 1})),
            )
            .await
            .expect("insert");
        assert_eq!(
            first.number, 1,
            "observations count from 1 whatever snapshots exist"
        );
        drop(store);

        let store = db.open().await;
        let got = store
            .get_observation(1)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(to_canonical(&got.record), to_canonical(&record));
        assert_eq!(got.actor, "ann");
        assert!(store.get_observation(2).await.expect("get").is_none());
        assert_eq!(store.list_observations().await.expect("list").len(), 1);
        assert_eq!(kinds_about(&store, "OBS-1").await, ["map.observed"]);
        assert_eq!(kinds_about(&store, "SNAP-1").await, ["snapshot.taken"]);
        assert!(store.verify().await.expect("verify").is_ok());
    }
}
