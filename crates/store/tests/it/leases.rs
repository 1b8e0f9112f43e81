//! Host leases (schema 10): claims split a wave without repeats, only the holder renews or
//! ends a lease, an expired lease is taken over exactly once and journaled, and concurrent
//! claimers from two opens (two processes) never get the same host.

crate::common::backend_tests!(
    claims_split_a_wave_and_only_the_holder_ends_a_lease,
    an_expired_lease_is_taken_over_once_and_journaled,
    concurrent_claimers_get_every_host_exactly_once,
    racing_takeovers_of_one_expired_lease_one_wins
);

mod cases {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::Duration;

    use fearless_store::{Access, Claim, Store};
    use serde_json::json;
    use tokio::sync::Barrier;

    use crate::common::{TestDb, event, kinds_about};

    const LONG: Duration = Duration::from_secs(60);

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| (*h).to_owned()).collect()
    }

    /// Claim for `worker` in R-1's wave 1 with `lease`; a takeover is journaled on R-1.
    async fn claim(store: &Store, worker: &str, lease: Duration) -> Option<Claim> {
        store
            .claim_lease("R-1", 1, worker, lease, |host, from| {
                let mut e = event(
                    worker,
                    "lease.taken-over",
                    json!({"host": host, "from": from, "by": worker}),
                );
                e.subject = "R-1".to_owned();
                e
            })
            .await
            .expect("claim")
    }

    pub(super) async fn claims_split_a_wave_and_only_the_holder_ends_a_lease(db: &TestDb) {
        let store = db.open().await;
        assert_eq!(store.can_lease().await.expect("can lease"), Ok(()));
        store
            .open_leases("R-1", 1, &hosts(&["web-1", "web-2", "web-3"]))
            .await
            .expect("open");
        // Opening again keeps what is there.
        store
            .open_leases("R-1", 1, &hosts(&["web-1"]))
            .await
            .expect("open again");
        assert_eq!(store.open_wave("R-1").await.expect("wave"), Some(1));
        let a = claim(&store, "w1", LONG).await.expect("a host");
        let b = claim(&store, "w2", LONG).await.expect("a host");
        let c = claim(&store, "w1", LONG).await.expect("a host");
        let claimed: BTreeSet<String> = [&a, &b, &c].iter().map(|c| c.host.clone()).collect();
        assert_eq!(claimed.len(), 3, "three different hosts: {claimed:?}");
        assert!([&a, &b, &c].iter().all(|c| c.taken_from.is_none()));
        assert_eq!(
            claim(&store, "w2", LONG).await,
            None,
            "all held, none expired"
        );
        assert_eq!(store.unended_leases("R-1", 1).await.expect("count"), 3);

        // Only the holder renews and ends a lease, and only once.
        assert!(
            !store
                .renew_lease("R-1", &a.host, "w2", LONG)
                .await
                .expect("renew")
        );
        assert!(
            store
                .renew_lease("R-1", &a.host, "w1", LONG)
                .await
                .expect("renew")
        );
        let end = ("verified", "1 package(s) changed");
        assert!(
            !store
                .end_lease("R-1", &a.host, "w2", end)
                .await
                .expect("end")
        );
        assert!(
            store
                .end_lease("R-1", &a.host, "w1", end)
                .await
                .expect("end")
        );
        assert!(
            !store
                .end_lease("R-1", &a.host, "w1", end)
                .await
                .expect("end")
        );
        assert!(
            !store
                .renew_lease("R-1", &a.host, "w1", LONG)
                .await
                .expect("renew"),
            "an ended lease is not renewed"
        );
        assert_eq!(store.unended_leases("R-1", 1).await.expect("count"), 2);
        for (host, worker) in [(&b.host, "w2"), (&c.host, "w1")] {
            assert!(
                store
                    .end_lease("R-1", host, worker, end)
                    .await
                    .expect("end")
            );
        }
        assert_eq!(store.unended_leases("R-1", 1).await.expect("count"), 0);
        assert_eq!(store.open_wave("R-1").await.expect("wave"), None);
        let leases = store.leases("R-1").await.expect("leases");
        assert_eq!(leases.len(), 3);
        for l in &leases {
            assert_eq!(
                l.end,
                Some(("verified".to_owned(), "1 package(s) changed".to_owned()))
            );
            assert_eq!((l.wave, l.takeovers), (1, 0));
            assert!(l.claimed_at.is_some() && l.expires_at.is_some());
        }
        // Claims and renewals are coordination, not history: nothing was journaled.
        assert!(kinds_about(&store, "R-1").await.is_empty());
        assert!(store.verify().await.expect("verify").is_ok());
        // A store opened read-only cannot lease, and says so.
        let read_only = Store::open_existing(&db.url, Access::ReadOnly)
            .await
            .expect("open read-only");
        let refused = read_only.can_lease().await.expect("can lease");
        assert!(
            refused.as_ref().is_err_and(|why| why.contains("read-only")),
            "{refused:?}"
        );
    }

    pub(super) async fn an_expired_lease_is_taken_over_once_and_journaled(db: &TestDb) {
        let store = db.open().await;
        store
            .open_leases("R-1", 1, &hosts(&["web-1"]))
            .await
            .expect("open");
        let first = claim(&store, "w1", Duration::from_millis(50))
            .await
            .expect("claimed");
        // Renewed before it expires: nobody takes it.
        assert!(
            store
                .renew_lease("R-1", "web-1", "w1", Duration::from_secs(2))
                .await
                .expect("renew")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(claim(&store, "w2", LONG).await, None, "renewed: still held");
        assert!(kinds_about(&store, "R-1").await.is_empty());
        // Its holder stops renewing: once expired, another worker takes it over.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let taken = claim(&store, "w2", LONG).await.expect("taken over");
        assert_eq!(
            taken,
            Claim {
                host: first.host.clone(),
                taken_from: Some("w1".to_owned()),
            }
        );
        assert_eq!(claim(&store, "w3", LONG).await, None, "taken over once");
        assert_eq!(kinds_about(&store, "R-1").await, ["lease.taken-over"]);
        // The old holder lost it: it can neither renew nor end it.
        assert!(
            !store
                .renew_lease("R-1", "web-1", "w1", LONG)
                .await
                .expect("renew")
        );
        let end = ("verified", "verified");
        assert!(
            !store
                .end_lease("R-1", "web-1", "w1", end)
                .await
                .expect("end")
        );
        assert!(
            store
                .end_lease("R-1", "web-1", "w2", end)
                .await
                .expect("end")
        );
        let leases = store.leases("R-1").await.expect("leases");
        assert_eq!(leases[0].worker.as_deref(), Some("w2"));
        assert_eq!(leases[0].takeovers, 1);
        assert!(store.verify().await.expect("verify").is_ok());
    }

    pub(super) async fn concurrent_claimers_get_every_host_exactly_once(db: &TestDb) {
        let stores = [Arc::new(db.open().await), Arc::new(db.open().await)];
        let all: Vec<String> = (1..=40).map(|i| format!("web-{i}")).collect();
        stores[0].open_leases("R-1", 1, &all).await.expect("open");
        let barrier = Arc::new(Barrier::new(8));
        let mut tasks = Vec::new();
        for task in 0..8 {
            let store = stores[task % 2].clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let worker = format!("w{task}");
                let mut got = Vec::new();
                while let Some(c) = claim(&store, &worker, LONG).await {
                    got.push(c.host);
                }
                got
            }));
        }
        let mut claimed = Vec::new();
        for task in tasks {
            claimed.extend(task.await.expect("task"));
        }
        claimed.sort();
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(claimed, expected, "every host claimed exactly once");
    }

    pub(super) async fn racing_takeovers_of_one_expired_lease_one_wins(db: &TestDb) {
        let stores = [Arc::new(db.open().await), Arc::new(db.open().await)];
        stores[0]
            .open_leases("R-1", 1, &hosts(&["web-1"]))
            .await
            .expect("open");
        claim(&stores[0], "dead", Duration::from_millis(10))
            .await
            .expect("claimed");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let barrier = Arc::new(Barrier::new(6));
        let mut tasks = Vec::new();
        for task in 0..6 {
            let store = stores[task % 2].clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                claim(&store, &format!("w{task}"), LONG).await
            }));
        }
        let mut wins = 0;
        for task in tasks {
            if task.await.expect("task").is_some() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1, "exactly one worker takes the lease over");
        assert_eq!(kinds_about(&stores[1], "R-1").await, ["lease.taken-over"]);
        let report = stores[1].verify().await.expect("verify");
        assert!(report.is_ok(), "{report:?}");
    }
}
