//! The journal: chaining, filters, verify on an untouched store, append-only triggers.

crate::common::backend_tests!(
    entries_chain_and_verify,
    filters_by_subject_and_time,
    since_out_of_range_is_all_or_nothing,
    journal_refuses_plain_updates
);

mod cases {
    use fearless_store::{GENESIS, JournalFilter, JournalHead};
    use serde_json::json;
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

    use crate::common::{TestDb, entries, event, move_change, new_change};

    pub(super) async fn entries_chain_and_verify(db: &TestDb) {
        let store = db.open().await;
        let empty = store.verify().await.expect("verify");
        assert_eq!((empty.entries, empty.broken), (0, None));
        assert_eq!(empty.head, JournalHead::genesis());

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

        let entries = entries(&store).await;
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
        // The head to keep elsewhere is the last entry, written as `--expect-head` takes it.
        let head = JournalHead {
            seq: 3,
            hash: entries[2].hash.clone(),
        };
        assert_eq!(report.head, head);
        assert_eq!(
            head.to_string().parse::<JournalHead>().expect("parse"),
            head
        );
        let held = store.verify_expecting(Some(&head)).await.expect("verify");
        assert!(held.is_ok() && held.expected == Some(head), "{held:?}");
    }

    /// Times the store cannot write in its fixed-width form still filter correctly.
    pub(super) async fn since_out_of_range_is_all_or_nothing(db: &TestDb) {
        let store = db.open().await;
        store
            .append(event("ann", "host.rebooted", json!({})))
            .await
            .expect("append");
        let at = |year| {
            let date = Date::from_calendar_date(year, Month::January, 1).expect("date");
            Some(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc())
        };
        for (since, expected) in [(at(-9999), 1), (at(-1), 1), (at(1), 1), (at(9999), 0)] {
            let found = store
                .journal(&JournalFilter {
                    since,
                    subject: None,
                })
                .await
                .expect("journal");
            assert_eq!(found.len(), expected, "since {since:?}");
        }
    }

    pub(super) async fn filters_by_subject_and_time(db: &TestDb) {
        let store = db.open().await;
        store
            .append(event("ann", "host.rebooted", json!({})))
            .await
            .expect("append");
        new_change(&store, json!({})).await;
        let cut = OffsetDateTime::now_utc();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        move_change(&store, (1, 1), "assess", json!({}))
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
