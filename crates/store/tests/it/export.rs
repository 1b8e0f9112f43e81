//! `export` writes JSON lines that the Python recipe of `VERIFY.md` verifies — run here against
//! real exports, so the documented recipe cannot drift from the code.

crate::common::backend_tests!(python_recipe_verifies_an_export_and_catches_an_edit);

/// The recipe, exactly as `VERIFY.md` documents it.
fn recipe() -> String {
    let doc = include_str!("../../VERIFY.md");
    let start = doc
        .find("```python\n")
        .expect("VERIFY.md has a python block")
        + "```python\n".len();
    let len = doc[start..].find("```").expect("the python block ends");
    doc[start..start + len].to_owned()
}

mod cases {
    use std::process::Command;

    use serde_json::json;

    use crate::common::{TestDb, event};

    fn run_recipe(script: &std::path::Path, export: &std::path::Path) -> (bool, String) {
        let out = Command::new("python3")
            .arg(script)
            .arg(export)
            .output()
            .expect("python3 runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    pub(super) async fn python_recipe_verifies_an_export_and_catches_an_edit(db: &TestDb) {
        let store = db.open().await;
        store
            .insert_change("new", &json!({"title": "t"}), event("ann", "change.created", json!({"title": "patch \"openssl\"", "nested": {"z": 1, "a": [true, null, -3]}})))
            .await
            .expect("insert");
        store
            .update_change(
                1,
                1,
                "assess",
                &json!({}),
                event(
                    "bob",
                    "change.submitted",
                    json!({"note": "ünïcødé ✓ \u{1}\t"}),
                ),
            )
            .await
            .expect("update");
        store
            .append(fearless_store::NewEvent {
                vouched_by: Some("database-role".into()),
                ..event(
                    "ann",
                    "host.package.upgraded",
                    json!({"package": "openssl", "big": 9007199254740993u64}),
                )
            })
            .await
            .expect("append");

        let mut out = Vec::new();
        let written = store.export(&mut out).await.expect("export");
        assert_eq!(written, 3);
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 3);

        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("verify.py");
        std::fs::write(&script, super::recipe()).expect("write script");
        let export = dir.path().join("journal.jsonl");
        std::fs::write(&export, &text).expect("write export");
        let (ok, said) = run_recipe(&script, &export);
        assert!(ok, "the recipe accepts a real export: {said}");
        let last = store.verify().await.expect("verify");
        assert_eq!(last.entries, 3);
        assert!(said.starts_with("ok: 3 entries"), "{said}");

        let edited = text.replacen("\"bob\"", "\"eve\"", 1);
        assert_ne!(edited, text);
        std::fs::write(&export, &edited).expect("write export");
        let (ok, said) = run_recipe(&script, &export);
        assert!(!ok, "the recipe rejects an edited export");
        assert!(said.contains("broken at entry 2"), "{said}");

        let dropped: String = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        std::fs::write(&export, dropped).expect("write export");
        let (ok, said) = run_recipe(&script, &export);
        assert!(!ok && said.contains("broken at entry 2"), "{said}");

        // what vouched for an actor is hashed: claiming a database role vouched is an edit
        assert!(text.contains("\"vouched_by\":\"database-role\""), "{text}");
        let promoted = text.replacen("\"database-role\"", "\"os-account\"", 1);
        std::fs::write(&export, &promoted).expect("write export");
        let (ok, said) = run_recipe(&script, &export);
        assert!(!ok && said.contains("broken at entry 3"), "{said}");
        let removed = text.replacen(",\"vouched_by\":\"database-role\"", "", 1);
        std::fs::write(&export, &removed).expect("write export");
        let (ok, said) = run_recipe(&script, &export);
        assert!(!ok && said.contains("broken at entry 3"), "{said}");
    }
}
