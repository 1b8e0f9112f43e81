//! `fearless journal` against hostile input: a mistyped store path, rows tampered with by
//! plain SQL, a journal cut short with its head rewritten, durations out of range, and a store
//! the user cannot write.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{fearless, is_root, stderr, stdout, tamper_sqlite, write_config};

const CONFIG: &str =
    "identity: { mode: trust }\ninventory:\n  hosts:\n    web-1: { address: 10.9.0.1 }\n";

/// A SQLite store in a directory of its own, with a config beside it.
struct Env {
    dir: tempfile::TempDir,
    config: String,
    db: PathBuf,
}

impl Env {
    /// A store holding `changes` new changes (one journal entry each).
    fn with_changes(changes: usize) -> Env {
        let dir = tempfile::tempdir().expect("tmp");
        let config = write_config(dir.path(), CONFIG);
        let db = dir.path().join("state.db");
        let env = Env { dir, config, db };
        for i in 0..changes {
            let title = format!("change {i}");
            let out = env.run(&["change", "new", "--title", &title, "--hosts", "web-1"]);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
        env
    }

    fn store(&self) -> String {
        format!("sqlite:{}", self.db.display())
    }

    /// `fearless -c CONFIG --store STORE --as ann ARGS…`
    fn run(&self, args: &[&str]) -> Output {
        let store = self.store();
        let mut all = vec!["-c", self.config.as_str(), "--store", &store, "--as", "ann"];
        all.extend_from_slice(args);
        fearless(&all)
    }

    /// Run `script` on the store with plain SQL, its append-only triggers dropped first, as
    /// an attacker would.
    fn tamper(&self, script: &str) {
        tamper_sqlite(&self.db, script);
    }

    /// `journal verify EXTRA…`, which must exit `code`; its output.
    #[track_caller]
    fn verify(&self, extra: &[&str], code: i32) -> String {
        let args = [&["journal", "verify"][..], extra].concat();
        expect(&self.run(&args), code, &args.join(" "))
    }

    /// `journal verify --format json`, parsed, with its exit code.
    fn verify_json(&self, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
        let mut args = vec!["journal", "verify", "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
        (out.status.code(), json)
    }

    /// The head `journal verify` reports, as `SEQ:HASH`.
    #[track_caller]
    fn head(&self) -> String {
        let (code, json) = self.verify_json(&[]);
        assert_eq!(code, Some(0), "{json}");
        format!(
            "{}:{}",
            json["head"]["seq"],
            json["head"]["hash"].as_str().expect("hash")
        )
    }
}

/// The exit code and output of `args`, checking the code.
#[track_caller]
fn expect(out: &Output, code: i32, args: &str) -> String {
    let text = format!("{}{}", stdout(out), stderr(out));
    assert_eq!(out.status.code(), Some(code), "{args}: {text}");
    text
}

#[test]
fn a_mistyped_store_path_is_exit_3_and_creates_nothing() {
    let env = Env::with_changes(0);
    let typo = env.dir.path().join("stat/state.db");
    let store = format!("sqlite:{}", typo.display());
    for args in [
        &["journal", "verify"][..],
        &["journal", "export"],
        &["journal"],
        &["change", "list"],
    ] {
        let mut all = vec!["-c", env.config.as_str(), "--store", &store];
        all.extend_from_slice(args);
        let text = expect(&fearless(&all), 3, &args.join(" "));
        assert!(
            text.contains(&format!("no store at {}", typo.display())),
            "{text}"
        );
        assert!(!text.contains("intact"), "{text}");
    }
    assert!(!typo.parent().expect("dir").exists(), "nothing is created");
}

/// A store of `changes` changes, then `sql` on it as [`Env::tamper`]: the store, and what
/// `journal verify` says of it (which must exit 1).
#[track_caller]
fn tampered(changes: usize, sql: &str) -> (Env, String) {
    let env = Env::with_changes(changes);
    env.tamper(sql);
    let text = env.verify(&[], 1);
    (env, text)
}

#[test]
fn a_blob_payload_is_tampering_exit_1() {
    let (env, text) = tampered(
        3,
        "UPDATE journal SET payload = CAST(payload AS BLOB) WHERE seq = 2",
    );
    assert!(text.contains("BROKEN at seq 2"), "{text}");
    assert!(text.contains("its payload is BLOB, not TEXT"), "{text}");
    let (code, json) = env.verify_json(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(json["intact"], false);
    assert_eq!(json["broken"]["seq"], 2);
    assert_eq!(json["head"]["seq"], 1, "the last entry that verified");
}

#[test]
fn a_deleted_head_is_tampering_exit_1() {
    let (_env, text) = tampered(2, "DELETE FROM journal_head");
    assert!(text.contains("BROKEN at seq 3"), "{text}");
    assert!(text.contains("the journal head is missing"), "{text}");
}

#[test]
fn a_journal_cut_short_is_caught_by_the_head_kept_elsewhere() {
    let env = Env::with_changes(4);
    let kept = env.head();
    assert!(kept.starts_with("4:"), "{kept}");
    let human = env.verify(&[], 0);
    assert!(human.contains(&format!("head: {kept}")), "{human}");
    assert!(human.contains(&format!("--expect-head {kept}")), "{human}");

    // Cut the last two entries and rewrite the head to match: a consistent, shorter chain.
    env.tamper(
        "DELETE FROM journal WHERE seq > 2; \
         UPDATE journal_head SET seq = 2, hash = (SELECT hash FROM journal WHERE seq = 2);",
    );
    let alone = env.verify(&[], 0);
    assert!(alone.contains("journal intact: 2 entries"), "{alone}");

    let caught = env.verify(&["--expect-head", &kept], 1);
    assert!(caught.contains("BROKEN at seq 3"), "{caught}");
    assert!(
        caught.contains(&format!("before the expected head {kept}")),
        "{caught}"
    );
    let (code, json) = env.verify_json(&["--expect-head", &kept]);
    assert_eq!(code, Some(1));
    assert_eq!(json["expected_head"]["seq"], 4);

    // A head that is still there is held; a malformed one is bad input.
    let still = env.head();
    let held = env.verify(&["--expect-head", &still], 0);
    assert!(held.contains("expected head 2:"), "{held}");
    for bad in ["4", "x:abc", &format!("4:{}", "g".repeat(64))] {
        let text = env.verify(&["--expect-head", bad], 2);
        assert!(text.contains("--expect-head"), "{text}");
    }
}

#[test]
fn durations_out_of_range_are_bad_input() {
    let env = Env::with_changes(1);
    for since in ["20000y", "99999999999999999999y", "soon"] {
        let text = expect(
            &env.run(&["journal", "--since", since]),
            2,
            &format!("--since {since}"),
        );
        assert!(text.contains(&format!("--since {since:?}")), "{text}");
        assert!(!text.contains("panicked"), "{text}");
    }
    let listed = expect(&env.run(&["journal", "--since", "9000y"]), 0, "9000y");
    assert!(listed.contains("1 entry"), "{listed}");
}

/// A store file and directory that only root can write, read by `nobody`: list, show, verify
/// and export work and change nothing; writing fails; a schema that needs migrating is a
/// clear error, not a write.
#[test]
fn a_read_only_store_can_be_listed_and_verified() {
    assert!(is_root(), "this test switches to nobody: it needs root");
    let env = Env::with_changes(2);
    let bin = env.dir.path().join("fearless");
    // The build's own directory may be closed to other users; a copy beside the store is not.
    std::fs::copy(env!("CARGO_BIN_EXE_fearless"), &bin).expect("copy binary");
    chmod(&bin, 0o755);
    chmod(env.dir.path(), 0o755);
    chmod(&env.db, 0o444);
    let as_nobody = |args: &[&str]| {
        Command::new(&bin)
            .args(["-c", &env.config, "--store", &env.store(), "--as", "nobody"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("HOME", env.dir.path())
            .env_remove("FEARLESS_CONFIG")
            .uid(65534)
            .gid(65534)
            .output()
            .expect("run as nobody")
    };
    let before = fingerprint(&env.db);

    let listed = expect(&as_nobody(&["change", "list"]), 0, "change list");
    assert!(listed.contains("CHG-2"), "{listed}");
    expect(&as_nobody(&["change", "show", "CHG-1"]), 0, "change show");
    let verified = expect(&as_nobody(&["journal", "verify"]), 0, "journal verify");
    assert!(verified.contains("journal intact: 2 entries"), "{verified}");
    let exported = as_nobody(&["journal", "export"]);
    expect(&exported, 0, "journal export");
    assert_eq!(stdout(&exported).lines().count(), 2, "one line per entry");
    expect(&as_nobody(&["journal"]), 0, "journal");
    expect(
        &as_nobody(&["change", "new", "--title", "t", "--hosts", "web-1"]),
        3,
        "change new",
    );
    assert_eq!(fingerprint(&env.db), before, "nothing wrote the store");
    assert!(
        !env.dir.path().join("state.db-wal").exists(),
        "no log was created"
    );

    // As if written by a fearless from before observations: reading needs a migration it
    // cannot do.
    chmod(&env.db, 0o644);
    env.tamper("DELETE FROM _sqlx_migrations WHERE version = 5; DROP TABLE observations;");
    chmod(&env.db, 0o444);
    let before = fingerprint(&env.db);
    let outdated = expect(&as_nobody(&["journal", "verify"]), 3, "outdated");
    assert!(
        outdated.contains("schema version 4, older than version 10")
            && outdated.contains("cannot be migrated"),
        "{outdated}"
    );
    assert_eq!(fingerprint(&env.db), before, "nothing wrote the store");
    // Whoever can write it migrates it by reading.
    chmod(&env.db, 0o644);
    env.verify(&[], 0);
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A file's bytes and modification time.
fn fingerprint(path: &Path) -> (Vec<u8>, std::time::SystemTime) {
    let meta = std::fs::metadata(path).expect("stat");
    (
        std::fs::read(path).expect("read"),
        meta.modified().expect("mtime"),
    )
}
