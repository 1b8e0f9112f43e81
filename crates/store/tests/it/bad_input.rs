//! Bad input and a hostile environment: clear errors, the right class, nothing written.

use fearless_store::{ErrorClass, Store, StoreError};

use crate::common::{Kind, TestDb};

crate::common::backend_tests!(schema_newer_than_binary_is_refused);

mod cases {
    use fearless_store::{ErrorClass, StoreError};

    use crate::common::TestDb;

    pub(super) async fn schema_newer_than_binary_is_refused(db: &TestDb) {
        let store = db.open().await;
        store.close().await;
        drop(store);
        let mut raw = db.raw().await;
        raw.exec_for(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99991231000000, 'from the future', TRUE, X'00', 0)",
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99991231000000, 'from the future', TRUE, '\\x00'::bytea, 0)",
        )
        .await
        .expect("pretend a newer fearless migrated the store");
        let err = fearless_store::Store::open(&db.url)
            .await
            .expect_err("too new");
        match &err {
            StoreError::TooNew {
                found: 99991231000000,
                supported,
            } => assert!(*supported < 99991231000000),
            other => panic!("expected TooNew, got {other:?}"),
        }
        assert!(err.to_string().contains("upgrade fearless"), "{err}");
        assert_eq!(err.class(), ErrorClass::Environment);
    }
}

#[tokio::test]
async fn sqlite_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fearless.yaml");
    let content = "inventory:\n  hosts: []\n".repeat(200);
    std::fs::write(&path, &content).expect("write");
    let err = Store::open(&format!("sqlite:{}", path.display()))
        .await
        .expect_err("not a database");
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "names the file: {err}"
    );
    assert_eq!(err.class(), ErrorClass::BadInput);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        content,
        "the file is left alone"
    );
}

#[tokio::test]
async fn sqlite_database_of_another_program_is_left_alone() {
    let db = TestDb::new(Kind::Sqlite).await;
    std::fs::create_dir_all(db.path().parent().expect("parent")).expect("mkdir");
    {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db.path())
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("create");
        sqlx::raw_sql("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
            .execute(&mut conn)
            .await
            .expect("table");
        let _ = conn.close().await;
    }
    let err = Store::open(&db.url).await.expect_err("not ours");
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::BadInput);
}

#[tokio::test]
async fn sqlite_store_and_its_directories_are_created() {
    let db = TestDb::new(Kind::Sqlite).await;
    assert!(!db.path().exists());
    let store = db.open().await;
    assert!(db.path().is_file());
    assert_eq!(store.backend(), fearless_store::Backend::Sqlite);
}

#[tokio::test]
async fn unknown_url_scheme() {
    let err = Store::open("mysql://me:hunter2@db/fearless")
        .await
        .expect_err("unsupported");
    let message = err.to_string();
    assert!(matches!(err, StoreError::BadUrl { .. }), "{err:?}");
    assert!(
        message.contains("sqlite:PATH") && message.contains("postgres://"),
        "{message}"
    );
    assert!(
        !message.contains("hunter2"),
        "never print a password: {message}"
    );
    assert!(message.contains("me:***@db"), "{message}");
    assert!(err.is_bad_input());
}

#[tokio::test]
async fn postgres_port_that_refuses_connection() {
    // Port 1 on loopback: nothing listens there.
    let err = Store::open("postgres://postgres:hunter2@127.0.0.1:1/fearless")
        .await
        .expect_err("refused");
    let message = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(
        message.contains("postgres://postgres:***@127.0.0.1:1/fearless"),
        "{message}"
    );
    assert!(
        !message.contains("hunter2"),
        "never print a password: {message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert_eq!(err.class(), ErrorClass::Environment);
}

#[tokio::test]
async fn postgres_database_that_does_not_exist() {
    let admin = crate::common::postgres_admin_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    let err = Store::open(&format!("{base}/fearless_no_such_database"))
        .await
        .expect_err("missing database");
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().contains("fearless_no_such_database"),
        "{err}"
    );
}

#[tokio::test]
async fn postgres_backend_is_reported() {
    let db = TestDb::new(Kind::Postgres).await;
    let store = db.open().await;
    assert_eq!(store.backend(), fearless_store::Backend::Postgres);
    assert!(store.location().starts_with("postgres://"));
}
