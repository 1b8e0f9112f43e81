//! Opening a store that must exist, and read-only opens: nothing is created where no store
//! is, and a read-only open never writes — not a row, not a migration.

use std::time::SystemTime;

use crate::common::{Kind, TestDb};

crate::common::backend_tests!(
    a_missing_store_is_not_created,
    read_only_reads_everything_and_writes_nothing,
    an_outdated_store_is_refused_read_only_and_migrated_read_write
);

/// A SQLite file's bytes and modification time, to prove nothing wrote it.
fn fingerprint(db: &TestDb) -> Option<(Vec<u8>, SystemTime)> {
    (db.kind == Kind::Sqlite).then(|| {
        let path = db.path();
        let bytes = std::fs::read(&path).expect("read store");
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        (bytes, modified)
    })
}

mod cases {
    use fearless_store::{Access, ErrorClass, Store, StoreError};
    use serde_json::json;

    use super::fingerprint;
    use crate::common::{Kind, TestDb, entries, ev, move_change, new_change};

    pub(super) async fn a_missing_store_is_not_created(db: &TestDb) {
        for access in [Access::ReadOnly, Access::ReadWrite] {
            let err = Store::open_existing(&db.url, access)
                .await
                .expect_err("no store there");
            assert!(matches!(err, StoreError::NoStore { .. }), "{err:?}");
            assert!(err.to_string().starts_with("no store at "), "{err}");
            assert_eq!(err.class(), ErrorClass::Environment);
        }
        match db.kind {
            Kind::Sqlite => {
                let dir = db.path().parent().expect("parent").to_owned();
                assert!(!dir.exists(), "{} was created", dir.display());
                assert!(
                    err_message(db)
                        .await
                        .contains(&db.path().display().to_string())
                );
            }
            Kind::Postgres => {
                let mut raw = db.raw().await;
                // The schema would have made `journal`: selecting from it must fail.
                assert!(
                    raw.exec("SELECT 1 FROM journal").await.is_err(),
                    "nothing is created"
                );
            }
        }
    }

    async fn err_message(db: &TestDb) -> String {
        Store::open_existing(&db.url, Access::ReadOnly)
            .await
            .expect_err("no store")
            .to_string()
    }

    pub(super) async fn read_only_reads_everything_and_writes_nothing(db: &TestDb) {
        let store = db.with_entries(3).await;
        new_change(&store, json!({"title": "t"})).await;
        store.close().await;
        drop(store);
        let before = fingerprint(db);

        let store = Store::open_existing(&db.url, Access::ReadOnly)
            .await
            .expect("open read-only");
        assert!(store.is_read_only());
        assert_eq!(store.list_changes().await.expect("list").len(), 1);
        assert!(store.get_change(1).await.expect("get").is_some());
        assert_eq!(entries(&store).await.len(), 4);
        let report = store.verify().await.expect("verify");
        assert!(report.is_ok() && report.entries == 4, "{report:?}");
        assert_eq!(store.export(&mut Vec::new()).await.expect("export"), 4);
        let refused = [
            store.append(ev("host.rebooted")).await.map(drop),
            store
                .insert_change("new", &json!({}), ev("change.created"))
                .await
                .map(drop),
            move_change(&store, (1, 1), "assess", json!({}))
                .await
                .map(drop),
            store
                .insert_snapshot(&json!({}), ev("snapshot.taken"))
                .await
                .map(drop),
        ];
        for result in refused {
            let err = result.expect_err("read-only");
            assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
            assert!(err.to_string().contains("read-only"), "{err}");
        }
        store.close().await;
        drop(store);

        assert_eq!(
            fingerprint(db),
            before,
            "the file is byte for byte, and time, as it was"
        );
        let again = db.open().await;
        assert_eq!(entries(&again).await.len(), 4, "nothing was appended");
    }

    pub(super) async fn an_outdated_store_is_refused_read_only_and_migrated_read_write(
        db: &TestDb,
    ) {
        let store = db.with_entries(2).await;
        store.close().await;
        drop(store);
        // As if a fearless from before observations (schema 5) had written it: the
        // migration and its table gone.
        let mut raw = db.raw().await;
        raw.exec("DELETE FROM _sqlx_migrations WHERE version = 5; DROP TABLE observations;")
            .await
            .expect("downgrade");
        raw.close().await;
        let before = fingerprint(db);

        let err = Store::open_existing(&db.url, Access::ReadOnly)
            .await
            .expect_err("outdated");
        match &err {
            StoreError::Outdated {
                found: 4,
                supported: 10,
                reason: None,
                ..
            } => {}
            other => panic!("expected Outdated, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("schema version 4, older than version 10")
                && message.contains("read-only"),
            "{message}"
        );
        assert_eq!(err.class(), ErrorClass::Environment);
        assert_eq!(
            fingerprint(db),
            before,
            "a refused read-only open writes nothing"
        );

        let store = Store::open_existing(&db.url, Access::ReadWrite)
            .await
            .expect("migrates");
        assert!(!store.is_read_only());
        assert!(
            store
                .get_observation(1)
                .await
                .expect("observations are back")
                .is_none()
        );
        store.close().await;
        drop(store);
        let store = Store::open_existing(&db.url, Access::ReadOnly)
            .await
            .expect("current again");
        assert!(store.verify().await.expect("verify").is_ok());
    }
}

/// An empty file is a valid, empty SQLite database, but no store; it stays empty.
#[tokio::test]
async fn an_empty_sqlite_file_is_no_store() {
    let db = TestDb::new(Kind::Sqlite).await;
    std::fs::create_dir_all(db.path().parent().expect("parent")).expect("mkdir");
    std::fs::write(db.path(), b"").expect("write");
    for access in [
        fearless_store::Access::ReadOnly,
        fearless_store::Access::ReadWrite,
    ] {
        let err = fearless_store::Store::open_existing(&db.url, access)
            .await
            .expect_err("no store");
        assert!(
            matches!(err, fearless_store::StoreError::NoStore { .. }),
            "{err:?}"
        );
    }
    assert_eq!(std::fs::read(db.path()).expect("read"), b"");
}
