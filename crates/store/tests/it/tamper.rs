//! Tampering with plain SQL (triggers dropped, as an attacker would): `verify` names the first
//! broken entry.

crate::common::backend_tests!(edited_payload, deleted_row, swapped_rows, deleted_tail);

mod cases {
    use fearless_store::Store;
    use serde_json::json;

    use crate::common::{TestDb, event};

    /// A store with five entries and append-only triggers removed.
    async fn five_entries(db: &TestDb) -> (Store, crate::common::Raw) {
        let store = db.open().await;
        for i in 1..=5 {
            store
                .append(event(
                    "ann",
                    "host.package.upgraded",
                    json!({"n": i, "approved": true}),
                ))
                .await
                .expect("append");
        }
        assert!(store.verify().await.expect("verify").is_ok());
        let mut raw = db.raw().await;
        raw.allow_tampering().await;
        (store, raw)
    }

    async fn broken_at(store: &Store) -> (u64, String) {
        let report = store.verify().await.expect("verify");
        let broken = report.broken.expect("verify must find the tampering");
        assert_eq!(
            report.entries,
            broken.seq - 1,
            "entries before the break are intact"
        );
        (broken.seq, broken.why)
    }

    pub(super) async fn edited_payload(db: &TestDb) {
        let (store, mut raw) = five_entries(db).await;
        raw.exec(r#"UPDATE journal SET payload = '{"approved":false,"n":3}' WHERE seq = 3"#)
            .await
            .expect("tamper");
        let (seq, why) = broken_at(&store).await;
        assert_eq!(seq, 3);
        assert!(why.contains("edited"), "{why}");
    }

    pub(super) async fn deleted_row(db: &TestDb) {
        let (store, mut raw) = five_entries(db).await;
        raw.exec("DELETE FROM journal WHERE seq = 3")
            .await
            .expect("tamper");
        let (seq, why) = broken_at(&store).await;
        assert_eq!(seq, 3);
        assert!(why.contains("missing"), "{why}");
    }

    pub(super) async fn swapped_rows(db: &TestDb) {
        let (store, mut raw) = five_entries(db).await;
        raw.exec(
            "UPDATE journal SET seq = -2 WHERE seq = 2; \
             UPDATE journal SET seq = 2 WHERE seq = 4; \
             UPDATE journal SET seq = 4 WHERE seq = -2;",
        )
        .await
        .expect("tamper");
        let (seq, _) = broken_at(&store).await;
        assert_eq!(seq, 2);
    }

    pub(super) async fn deleted_tail(db: &TestDb) {
        let (store, mut raw) = five_entries(db).await;
        raw.exec("DELETE FROM journal WHERE seq = 5")
            .await
            .expect("tamper");
        let (seq, why) = broken_at(&store).await;
        assert_eq!(seq, 5);
        assert!(why.contains("head"), "{why}");
    }
}
