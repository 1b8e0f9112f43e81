//! The journal: chaining, filters, verify on an untouched store, append-only triggers.

crate::common::backend_tests!(
    entries_chain_and_verify,
    filters_by_subject_and_time,
    journal_refuses_plain_updates
);

mod cases {
    use fearless_store::{GENESIS, JournalFilter};
    use serde_json::json;
    use time::OffsetDateTime;

    use crate::common::{TestDb, event};

    pub(super) async fn entries_chain_and_verify(db: &TestDb) {
        let store = db.open().await;
        let empty = store.verify().await.expect("verify");
        assert_eq!((empty.entries, empty.broken), (0, None));

        store
            .insert_change(
                "new",
                &json!({}),
                event("ann", "change.created", json!({"title": "t"})),
            )
            .await
            .expect("insert");
        let appended = store
            .append(event(
                "ann",
                "host.package.upgraded",
                json!({"package": "openssl", "to": "3.0.15"}),
            ))
            .await
            .expect("append");
        store
            .update_change(
                1,
                1,
                "assess",
                &json!({}),
                event("ann", "change.submitted", json!({"ü": "ß\n"})),
            )
            .await
            .expect("update");

        let entries = store
            .journal(&JournalFilter::default())
            .await
            .expect("journal");
        assert_eq!(
            entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(entries[0].prev_hash, GENESIS);
        for pair in entries.windows(2) {
            assert_eq!(
                pair[1].prev_hash, pair[0].hash,
                "entry {} links to its predecessor",
                pair[1].seq
            );
        }
        assert_eq!(entries[1], appended);
        assert!(
            entries
                .iter()
                .all(|e| e.hash.len() == 64 && e.hash.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert_eq!(entries[2].payload, json!({"ü": "ß\n"}));

        let report = store.verify().await.expect("verify");
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.entries, 3);
    }

    pub(super) async fn filters_by_subject_and_time(db: &TestDb) {
        let store = db.open().await;
        store
            .append(event("ann", "host.rebooted", json!({})))
            .await
            .expect("append");
        store
            .insert_change("new", &json!({}), event("ann", "change.created", json!({})))
            .await
            .expect("insert");
        let cut = OffsetDateTime::now_utc();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        store
            .update_change(
                1,
                1,
                "assess",
                &json!({}),
                event("ann", "change.submitted", json!({})),
            )
            .await
            .expect("update");

        let chg1 = store
            .journal(&JournalFilter {
                since: None,
                subject: Some("CHG-1".into()),
            })
            .await
            .expect("journal");
        assert_eq!(chg1.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        let recent = store
            .journal(&JournalFilter {
                since: Some(cut),
                subject: None,
            })
            .await
            .expect("journal");
        assert_eq!(recent.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3]);
        let host = store
            .journal(&JournalFilter {
                since: Some(cut),
                subject: Some("host:web-1".into()),
            })
            .await
            .expect("journal");
        assert!(host.is_empty());
    }

    pub(super) async fn journal_refuses_plain_updates(db: &TestDb) {
        let store = db.open().await;
        store
            .append(event("ann", "host.rebooted", json!({})))
            .await
            .expect("append");
        let mut raw = db.raw().await;
        let edit = raw
            .exec("UPDATE journal SET actor = 'mallory' WHERE seq = 1")
            .await;
        assert!(
            edit.expect_err("append-only")
                .to_string()
                .contains("append-only")
        );
        let delete = raw.exec("DELETE FROM journal WHERE seq = 1").await;
        assert!(delete.is_err());
        assert!(store.verify().await.expect("verify").is_ok());
    }
}
