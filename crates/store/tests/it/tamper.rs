//! Tampering with plain SQL (triggers dropped, constraints loosened, types altered, as an
//! attacker or a careless admin would): `verify` names the first broken entry and why, and
//! reports it as a broken link — the data's fault — never as a store error.

crate::common::backend_tests!(
    edited_payload,
    edited_vouched_by,
    vouched_by_added,
    deleted_row,
    swapped_rows,
    deleted_tail,
    payload_of_another_type,
    hash_of_another_type,
    null_in_a_column,
    repeated_entry,
    row_with_a_null_seq,
    deleted_head,
    repeated_head,
    head_of_another_type,
    head_with_another_id,
    dropped_journal_table,
    cut_tail_with_rewritten_head
);

mod cases {
    use fearless_store::{JournalHead, Store, StoreError};

    use crate::common::{Kind, Raw, TestDb, entries, ev};

    /// A store with five entries, and a raw connection with the append-only triggers removed.
    async fn five_entries(db: &TestDb) -> (Store, Raw) {
        let store = db.with_entries(5).await;
        let mut raw = db.raw().await;
        raw.allow_tampering().await;
        (store, raw)
    }

    /// Five entries, then this backend's statement run on them.
    async fn tampered(db: &TestDb, sqlite: &'static str, postgres: &'static str) -> (Store, Raw) {
        let (store, mut raw) = five_entries(db).await;
        raw.tamper(sqlite, postgres).await;
        (store, raw)
    }

    /// Which table to loosen so it takes what the store never writes (NULLs, repeated rows).
    #[derive(Debug, Clone, Copy)]
    enum Loose {
        Journal,
        Head,
    }

    /// Five entries, `loose` loosened (which alone changes nothing), then `sql` run on them.
    async fn loosened(db: &TestDb, loose: Loose, sql: &'static str) -> Store {
        let (store, mut raw) = five_entries(db).await;
        match loose {
            Loose::Journal => raw.loosen_journal().await,
            Loose::Head => raw.loosen_head().await,
        }
        let report = store.verify().await.expect("verify");
        assert!(
            report.is_ok(),
            "loosening alone changes nothing: {report:?}"
        );
        raw.tamper(sql, sql).await;
        store
    }

    /// Five entries, then a TEXT value made another type; `verify` says `{what} is BLOB, not
    /// TEXT` at `at.0` on SQLite, which keeps a BLOB in a TEXT column, and `… BYTEA …` at `at.1`
    /// on PostgreSQL, where the whole column changes type.
    async fn retyped(
        db: &TestDb,
        sqlite: &'static str,
        postgres: &'static str,
        at: (u64, u64),
        what: &str,
    ) -> Store {
        let (store, _) = tampered(db, sqlite, postgres).await;
        let (seq, found) = match db.kind {
            Kind::Sqlite => (at.0, "BLOB"),
            Kind::Postgres => (at.1, "BYTEA"),
        };
        assert_broken(&store, seq, &[&format!("{what} is {found}, not TEXT")]).await;
        store
    }

    /// Five entries, then `sql` (the same on both backends) run on them.
    async fn tampered_with(db: &TestDb, sql: &'static str) -> Store {
        tampered(db, sql, sql).await.0
    }

    /// Where `verify` finds the chain broken, and why; the entries before it are intact.
    pub(crate) async fn broken_at(store: &Store) -> (u64, String) {
        let report = store.verify().await.expect("verify reports, never fails");
        let broken = report.broken.expect("verify must find the tampering");
        assert_eq!(
            report.entries,
            broken.seq - 1,
            "entries before the break are intact"
        );
        assert_eq!(
            report.head.seq, report.entries,
            "the head is the last intact entry"
        );
        (broken.seq, broken.why)
    }

    /// The broken link at `seq` whose reason contains every one of `words`.
    async fn assert_broken(store: &Store, seq: u64, words: &[&str]) {
        let (at, why) = broken_at(store).await;
        assert_eq!(at, seq, "{why}");
        for word in words {
            assert!(why.contains(word), "`{word}` missing from: {why}");
        }
    }

    /// Listing and exporting a journal with an unreadable row fail, naming the row.
    async fn unreadable(store: &Store, words: &[&str]) {
        let listed = store
            .journal(&fearless_store::JournalFilter::default())
            .await
            .expect_err("journal");
        let exported = store.export(&mut Vec::new()).await.expect_err("export");
        for err in [listed, exported] {
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
            for word in words {
                assert!(
                    err.to_string().contains(word),
                    "`{word}` missing from: {err}"
                );
            }
        }
    }

    pub(super) async fn edited_payload(db: &TestDb) {
        let store = tampered_with(
            db,
            r#"UPDATE journal SET payload = '{"approved":false,"n":3}' WHERE seq = 3"#,
        )
        .await;
        assert_broken(&store, 3, &["edited"]).await;
    }

    pub(super) async fn edited_vouched_by(db: &TestDb) {
        let store = tampered_with(
            db,
            "UPDATE journal SET vouched_by = 'database-role' WHERE seq = 3",
        )
        .await;
        assert_broken(&store, 3, &["edited"]).await;
    }

    pub(super) async fn vouched_by_added(db: &TestDb) {
        let store = tampered_with(
            db,
            "UPDATE journal SET vouched_by = 'database-role' WHERE seq = 2",
        )
        .await;
        assert_broken(&store, 2, &["edited"]).await;
    }

    pub(super) async fn deleted_row(db: &TestDb) {
        let store = tampered_with(db, "DELETE FROM journal WHERE seq = 3").await;
        assert_broken(&store, 3, &["missing"]).await;
    }

    pub(super) async fn swapped_rows(db: &TestDb) {
        let store = tampered_with(
            db,
            "UPDATE journal SET seq = -2 WHERE seq = 2; \
             UPDATE journal SET seq = 2 WHERE seq = 4; \
             UPDATE journal SET seq = 4 WHERE seq = -2;",
        )
        .await;
        assert_broken(&store, 2, &[]).await;
    }

    pub(super) async fn deleted_tail(db: &TestDb) {
        let store = tampered_with(db, "DELETE FROM journal WHERE seq = 5").await;
        assert_broken(&store, 5, &["head"]).await;
    }

    pub(super) async fn payload_of_another_type(db: &TestDb) {
        let store = retyped(
            db,
            "UPDATE journal SET payload = CAST(payload AS BLOB) WHERE seq = 3",
            "ALTER TABLE journal ALTER COLUMN payload TYPE bytea USING convert_to(payload, 'UTF8')",
            (3, 1),
            "its payload",
        )
        .await;
        unreadable(&store, &["journal entry", "payload"]).await;
    }

    pub(super) async fn hash_of_another_type(db: &TestDb) {
        retyped(
            db,
            "UPDATE journal SET hash = CAST(hash AS BLOB) WHERE seq = 4",
            "ALTER TABLE journal ALTER COLUMN hash TYPE bytea USING convert_to(hash, 'UTF8')",
            (4, 1),
            "its hash",
        )
        .await;
    }

    pub(super) async fn null_in_a_column(db: &TestDb) {
        let sql = "UPDATE journal SET actor = NULL WHERE seq = 3";
        let store = loosened(db, Loose::Journal, sql).await;
        assert_broken(&store, 3, &["its actor is NULL"]).await;
        unreadable(&store, &["journal entry 3", "its actor is NULL"]).await;
    }

    pub(super) async fn repeated_entry(db: &TestDb) {
        let sql = "INSERT INTO journal SELECT * FROM journal WHERE seq = 3";
        let store = loosened(db, Loose::Journal, sql).await;
        assert_broken(&store, 4, &["entry 3 appears again"]).await;
    }

    pub(super) async fn row_with_a_null_seq(db: &TestDb) {
        let sql = "INSERT INTO journal (seq, time, actor, kind, subject, payload, prev_hash, hash) \
                   SELECT NULL, time, actor, kind, subject, payload, prev_hash, hash FROM journal \
                   WHERE seq = 5";
        let store = loosened(db, Loose::Journal, sql).await;
        assert_broken(&store, 6, &["1 journal row has a NULL seq"]).await;
    }

    pub(super) async fn deleted_head(db: &TestDb) {
        let store = tampered_with(db, "DELETE FROM journal_head").await;
        assert_broken(&store, 6, &["the journal head is missing"]).await;
        // Nothing can be appended to a chain whose head is gone, and nothing is written.
        let err = store
            .append(ev("host.rebooted"))
            .await
            .expect_err("no head");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("journal verify"), "{err}");
        assert_eq!(entries(&store).await.len(), 5);
    }

    pub(super) async fn repeated_head(db: &TestDb) {
        let sql = "INSERT INTO journal_head SELECT * FROM journal_head";
        let store = loosened(db, Loose::Head, sql).await;
        assert_broken(&store, 6, &["the journal head is repeated", "2 rows"]).await;
    }

    pub(super) async fn head_of_another_type(db: &TestDb) {
        retyped(
            db,
            "UPDATE journal_head SET hash = CAST(hash AS BLOB)",
            "ALTER TABLE journal_head ALTER COLUMN hash TYPE bytea USING convert_to(hash, 'UTF8')",
            (6, 6),
            "the journal head: its hash",
        )
        .await;
    }

    pub(super) async fn head_with_another_id(db: &TestDb) {
        let store = loosened(db, Loose::Head, "UPDATE journal_head SET id = 2").await;
        assert_broken(&store, 6, &["id other than 1"]).await;
    }

    pub(super) async fn dropped_journal_table(db: &TestDb) {
        let store = tampered_with(db, "DROP TABLE journal").await;
        assert_broken(&store, 1, &["not as fearless made them", "journal"]).await;
    }

    /// Cutting entries off the end and rewriting the head to match leaves a consistent chain:
    /// only a head kept elsewhere shows it.
    pub(super) async fn cut_tail_with_rewritten_head(db: &TestDb) {
        let (store, mut raw) = five_entries(db).await;
        let before = entries(&store).await;
        let kept = store.verify().await.expect("verify").head;
        assert_eq!(
            kept,
            JournalHead {
                seq: 5,
                hash: before[4].hash.clone()
            }
        );
        raw.exec(
            "DELETE FROM journal WHERE seq > 3; \
             UPDATE journal_head SET seq = 3, hash = (SELECT hash FROM journal WHERE seq = 3);",
        )
        .await
        .expect("tamper");

        let alone = store.verify().await.expect("verify");
        assert!(alone.is_ok(), "undetectable from inside: {alone:?}");
        assert_eq!(
            alone.head,
            JournalHead {
                seq: 3,
                hash: before[2].hash.clone()
            }
        );

        let against_kept = store.verify_expecting(Some(&kept)).await.expect("verify");
        let broken = against_kept.broken.expect("the kept head is gone");
        assert_eq!((broken.seq, against_kept.entries), (4, 3));
        assert!(
            broken
                .why
                .contains("ends at entry 3, before the expected head 5:"),
            "{}",
            broken.why
        );
        assert_eq!(against_kept.expected, Some(kept));

        // An older head that is still there passes; one with another hash does not.
        let older = JournalHead {
            seq: 2,
            hash: before[1].hash.clone(),
        };
        assert!(
            store
                .verify_expecting(Some(&older))
                .await
                .expect("verify")
                .is_ok()
        );
        assert!(
            store
                .verify_expecting(Some(&JournalHead::genesis()))
                .await
                .expect("verify")
                .is_ok()
        );
        let forged = JournalHead {
            seq: 2,
            hash: before[0].hash.clone(),
        };
        let report = store.verify_expecting(Some(&forged)).await.expect("verify");
        let broken = report.broken.expect("another hash at seq 2");
        assert_eq!((broken.seq, report.entries), (2, 1));
        assert!(
            broken.why.contains("as the expected head 2:"),
            "{}",
            broken.why
        );
    }
}

mod not_utf8 {
    use crate::common::{Kind, TestDb};

    /// A payload whose bytes are not UTF-8 — SQLite stores any bytes as TEXT, and so does a
    /// PostgreSQL database in SQL_ASCII.
    async fn payload_that_is_not_utf8(db: &TestDb) {
        let store = db.with_entries(5).await;
        let mut raw = db.raw().await;
        raw.allow_tampering().await;
        raw.tamper(
            r#"UPDATE journal SET payload = CAST(X'7B226E223AFF7D' AS TEXT) WHERE seq = 3"#,
            r#"UPDATE journal SET payload = E'{"n":\xff}' WHERE seq = 3"#,
        )
        .await;
        let (seq, why) = super::cases::broken_at(&store).await;
        assert_eq!(seq, 3, "{why}");
        // SQLite hands the bytes over, so the column is named; PostgreSQL refuses to send the row.
        let said = match db.kind {
            Kind::Sqlite => "its payload is not valid UTF-8",
            Kind::Postgres => "the row after entry 2 holds text that is not valid UTF-8",
        };
        assert!(why.contains(said), "{why}");
        // Listing cannot show it: SQLite names the entry, PostgreSQL refuses the page it is on.
        let err = store
            .journal(&fearless_store::JournalFilter::default())
            .await
            .expect_err("unreadable");
        assert!(
            matches!(err, fearless_store::StoreError::Corrupt { .. }),
            "{err:?}"
        );
        let named = match db.kind {
            Kind::Sqlite => "journal entry 3",
            Kind::Postgres => "not valid UTF-8",
        };
        assert!(err.to_string().contains(named), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        payload_that_is_not_utf8(&TestDb::new(Kind::Sqlite).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        payload_that_is_not_utf8(&TestDb::with_encoding(Kind::Postgres, "SQL_ASCII").await).await;
    }
}
