//! Concurrent writers: optimistic locking picks exactly one winner, and appends never fork the
//! chain. "Two processes" are two `Store::open` of the same database, each with its own pool.

crate::common::backend_tests!(
    racing_updates_one_wins,
    racing_updates_from_two_opens_one_wins,
    many_appends_stay_contiguous
);

mod cases {
    use std::sync::Arc;

    use fearless_store::{Document, Store, StoreError};
    use serde_json::json;
    use tokio::sync::Barrier;

    use crate::common::{TestDb, entries, event};

    /// `rounds` times, two tasks update the same change from the same version at once.
    async fn race(first: Arc<Store>, second: Arc<Store>, rounds: u64) {
        let created = first
            .insert_change("new", &json!({}), event("ann", "change.created", json!({})))
            .await
            .expect("insert");
        for round in 0..rounds {
            let version = created.version + round;
            let barrier = Arc::new(Barrier::new(2));
            let tasks: Vec<_> = [(first.clone(), "ann"), (second.clone(), "bob")]
                .into_iter()
                .map(|(store, who)| {
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store
                            .update_change(
                                1,
                                version,
                                "authorize",
                                &json!({"by": who, "round": round}),
                                event(who, "change.approved", json!({"by": who})),
                            )
                            .await
                    })
                })
                .collect();
            let mut wins = 0;
            let mut conflicts = 0;
            for task in tasks {
                match task.await.expect("task") {
                    Ok(stored) => {
                        wins += 1;
                        assert_eq!(stored.version, version + 1);
                    }
                    Err(StoreError::Conflict {
                        document: Document::Change,
                        number: 1,
                        expected,
                        found,
                    }) => {
                        conflicts += 1;
                        assert_eq!((expected, found), (version, version + 1));
                    }
                    Err(e) => panic!("round {round}: unexpected error {e}"),
                }
            }
            assert_eq!(
                (wins, conflicts),
                (1, 1),
                "round {round}: exactly one writer wins"
            );
        }
        let report = first.verify().await.expect("verify");
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(
            report.entries,
            1 + rounds,
            "one entry per accepted transition, none for the losers"
        );
        assert_eq!(
            first
                .get_change(1)
                .await
                .expect("get")
                .expect("exists")
                .version,
            1 + rounds
        );
    }

    pub(super) async fn racing_updates_one_wins(db: &TestDb) {
        let store = Arc::new(db.open().await);
        race(store.clone(), store, 10).await;
    }

    pub(super) async fn racing_updates_from_two_opens_one_wins(db: &TestDb) {
        let first = Arc::new(db.open().await);
        let second = Arc::new(db.open().await);
        race(first, second, 10).await;
    }

    pub(super) async fn many_appends_stay_contiguous(db: &TestDb) {
        let stores = [Arc::new(db.open().await), Arc::new(db.open().await)];
        let barrier = Arc::new(Barrier::new(8));
        let mut tasks = Vec::new();
        for task in 0..8 {
            let store = stores[task % 2].clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                for i in 0..25 {
                    store
                        .append(event("ann", "host.checked", json!({"task": task, "i": i})))
                        .await
                        .expect("append");
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(
            entries(&stores[0])
                .await
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>(),
            (1..=200).collect::<Vec<u64>>()
        );
        let report = stores[1].verify().await.expect("verify");
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.entries, 200);
    }
}
