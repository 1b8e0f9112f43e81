//! Signed state changes: keys generated here, a real `ssh-agent` started here holding them
//! (the private key files are deleted once loaded, so every signature comes from the agent),
//! `ssh-keygen -Y sign` by fearless, and `journal verify` against OpenSSH's allowed-signers
//! file — then the export checked by the `VERIFY.md` recipe with `ssh-keygen -Y verify`
//! alone, and the journal tampered with: a key not in the file, a signature over other
//! content, a removed signature, each named by its seq.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::{run_tool, stderr, stdout, tamper_sqlite};

/// An `ssh-agent -D` of this test, stopped (by its PID) when dropped.
struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let sock = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent runs");
        for _ in 0..100 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(sock.exists(), "ssh-agent made its socket");
        Agent { child, sock }
    }

    /// Load the private key `key` into the agent, then delete the file.
    fn add(&self, key: &Path) {
        run_tool(
            Command::new("ssh-add")
                .arg("-q")
                .arg(key)
                .env("SSH_AUTH_SOCK", &self.sock),
            "ssh-add",
        );
        std::fs::remove_file(key).expect("private key removed");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new ed25519 key `name` in `dir`: returns the private key's path (`NAME.pub` beside it).
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    run_tool(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&path),
        "ssh-keygen",
    );
    path
}

fn public(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub")).expect("public key")
}

/// A signature by `key` (a file, or a public key in the agent) over `message`.
fn sign(agent: &Agent, key: &Path, message: &str) -> String {
    let mut child = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "fearless", "-f"])
        .arg(key)
        .env("SSH_AUTH_SOCK", &agent.sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ssh-keygen runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), message.as_bytes())
        .expect("message");
    let out = child.wait_with_output().expect("ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("text")
}

struct Env {
    dir: tempfile::TempDir,
    agent: Agent,
    config: String,
    db: PathBuf,
}

impl Env {
    /// `fearless -c CONFIG ARGS…` signing with `key` (a `.pub` path) when given.
    fn run(&self, key: Option<&Path>, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fearless"));
        c.arg("-c")
            .arg(&self.config)
            .args(args)
            .env("NO_COLOR", "1")
            .env("SSH_AUTH_SOCK", &self.agent.sock)
            .env_remove("FEARLESS_CONFIG")
            .env_remove("FEARLESS_USER")
            .env_remove("FEARLESS_SIGNING_KEY")
            .env_remove("FEARLESS_STORE")
            .stdin(Stdio::null());
        if let Some(key) = key {
            c.env("FEARLESS_SIGNING_KEY", key);
        }
        c.output().expect("run fearless")
    }

    #[track_caller]
    fn exits(&self, code: i32, key: Option<&Path>, args: &[&str]) -> String {
        let out = self.run(key, args);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        text
    }

    /// `ARGS… --format json` (exit 0), parsed.
    #[track_caller]
    fn json(&self, key: Option<&Path>, args: &[&str]) -> serde_json::Value {
        let all = [args, &["--format", "json"]].concat();
        let out = self.run(key, &all);
        assert_eq!(out.status.code(), Some(0), "{all:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("json")
    }

    fn journal(&self) -> Vec<serde_json::Value> {
        let doc = self.json(None, &["journal"]);
        doc["entries"].as_array().expect("entries").clone()
    }

    /// A copy of the store, tampered with by `sql`, and `journal verify` on it.
    #[track_caller]
    fn verify_tampered(&self, sql: &str, code: i32) -> String {
        let copy = self.dir.path().join("tampered.db");
        std::fs::copy(&self.db, &copy).expect("copy");
        tamper_sqlite(&copy, sql);
        let store = format!("sqlite:{}", copy.display());
        self.exits(code, None, &["--store", &store, "journal", "verify"])
    }
}

#[test]
fn signed_state_changes_verify_and_tampering_names_the_seq() {
    let dir = tempfile::tempdir().expect("tmp");
    let agent = Agent::start(dir.path());
    let (alice, bob, carol, dave) = (
        keygen(dir.path(), "alice"),
        keygen(dir.path(), "bob"),
        keygen(dir.path(), "carol"),
        keygen(dir.path(), "dave"),
    );
    agent.add(&alice);
    agent.add(&bob);
    // dave is allowed but his key is in no agent and has no file: he cannot sign
    std::fs::remove_file(&dave).expect("dave's private key gone");
    std::fs::write(
        dir.path().join("allowed_signers"),
        format!(
            "# who signs fearless's journal\nalice {}bob namespaces=\"fearless\" {}dave {}",
            public(&alice),
            public(&bob),
            public(&dave)
        ),
    )
    .expect("allowed_signers");
    let config = dir.path().join("fearless.yaml");
    std::fs::write(
        &config,
        "identity:\n  allowed_signers: allowed_signers\ninventory:\n  hosts:\n    web-1: { address: 10.9.0.1 }\nchange:\n  approvals_required: 1\n",
    )
    .expect("config");
    let env = Env {
        db: dir.path().join(".fearless/state.db"),
        config: config.display().to_string(),
        agent,
        dir,
    };
    let (alice_pub, bob_pub) = (alice.with_extension("pub"), bob.with_extension("pub"));

    // alice opens a change: the key's name in allowed_signers is who acts, signed by the agent
    let doc = env.json(
        Some(&alice_pub),
        &["change", "new", "--title", "patch", "--hosts", "web-1"],
    );
    assert_eq!(doc["requester"], "alice", "{doc:#}");
    env.exits(0, Some(&alice_pub), &["change", "submit", "CHG-1"]);

    // alice cannot approve her own change, not even by claiming to be bob
    let before = env.journal().len();
    let text = env.exits(
        1,
        Some(&alice_pub),
        &["--as", "bob", "change", "approve", "CHG-1"],
    );
    assert!(
        text.contains("--as bob: you are alice (vouched for by an SSH key"),
        "{text}"
    );
    env.exits(1, Some(&alice_pub), &["change", "approve", "CHG-1"]);
    assert_eq!(env.journal().len(), before, "nothing journaled");

    // a key nobody can sign with: refused before anything is written
    let text = env.exits(
        3,
        Some(&dave.with_extension("pub")),
        &["change", "approve", "CHG-1"],
    );
    assert!(
        text.contains("could not sign the change.approved entry, so nothing was recorded"),
        "{text}"
    );
    assert_eq!(env.journal().len(), before, "nothing journaled");

    // bob approves: signed, vouched for by his key
    env.exits(0, Some(&bob_pub), &["change", "approve", "CHG-1"]);
    let entries = env.journal();
    let approved = entries.last().expect("approval");
    assert_eq!(approved["kind"], "change.approved");
    assert_eq!(approved["actor"], "bob");
    assert_eq!(approved["vouched_by"], "ssh-key");
    let bob_seq = approved["seq"].as_u64().expect("seq");
    let bob_hash = approved["hash"].as_str().expect("hash").to_owned();
    assert!(
        entries.iter().all(|e| e["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("-----BEGIN SSH SIGNATURE-----"))),
        "every state change signed: {entries:#?}"
    );
    let text = env.exits(0, None, &["journal", "verify"]);
    assert!(text.contains("journal intact"), "{text}");
    assert!(
        text.contains(&format!(
            "signatures: {bob_seq} signed entries, {bob_seq} verified against"
        )),
        "{text}"
    );

    // the export verifies with the VERIFY.md recipe: ssh-keygen -Y verify alone
    let export = env.dir.path().join("journal.jsonl");
    let out = env.run(None, &["journal", "export"]);
    std::fs::write(&export, &out.stdout).expect("export");
    let script = env.dir.path().join("verify_signatures.py");
    std::fs::write(&script, recipe()).expect("script");
    let check = run_tool(
        Command::new("python3")
            .arg(&script)
            .arg(&export)
            .arg(env.dir.path().join("allowed_signers")),
        "the VERIFY.md signature recipe",
    );
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        format!("ok: {bob_seq} signatures")
    );

    // a signature by carol, whose key is not in allowed_signers, over bob's entry
    let carol_sig = sign(&env.agent, &carol, &bob_hash);
    let text = env.verify_tampered(
        &format!("UPDATE journal SET signature = '{carol_sig}' WHERE seq = {bob_seq}"),
        1,
    );
    assert!(
        text.contains(&format!(
            "signature BAD at seq {bob_seq}: its signature (key SHA256:"
        )),
        "{text}"
    );
    assert!(
        text.contains("is not allowed for bob: the key is not in"),
        "{text}"
    );
    assert!(
        text.contains("journal intact"),
        "the chain itself holds: {text}"
    );

    // bob's own key, over other content
    let other = sign(&env.agent, &bob_pub, &"0".repeat(64));
    let text = env.verify_tampered(
        &format!("UPDATE journal SET signature = '{other}' WHERE seq = {bob_seq}"),
        1,
    );
    assert!(
        text.contains(&format!(
            "signature BAD at seq {bob_seq}: its signature (key SHA256:"
        )) && text.contains("does not sign this entry: it was made over other content"),
        "{text}"
    );

    // the signature removed
    let text = env.verify_tampered(
        &format!("UPDATE journal SET signature = NULL WHERE seq = {bob_seq}"),
        1,
    );
    assert!(
        text.contains(&format!(
            "signature BAD at seq {bob_seq}: its actor was vouched for by an SSH key, but its signature is missing: it was removed"
        )),
        "{text}"
    );
    // … and the recipe catches it too
    let store = format!("sqlite:{}", env.dir.path().join("tampered.db").display());
    let out = env.run(None, &["--store", &store, "journal", "export"]);
    std::fs::write(&export, &out.stdout).expect("export");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&export)
        .arg(env.dir.path().join("allowed_signers"))
        .output()
        .expect("python3");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("entry {bob_seq}: vouched for by an SSH key")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // key rotation: bob's key removed later still verifies what it signed while valid
    let rotated = env.dir.path().join("rotated_signers");
    let tomorrow = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24))
        .strftime("%Y%m%d%H%M%SZ")
        .to_string();
    let yesterday = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24))
        .strftime("%Y%m%d%H%M%SZ")
        .to_string();
    let rotated_arg = rotated.display().to_string();
    let with_bob_until = |until: &str| {
        std::fs::write(
            &rotated,
            format!(
                "alice {}bob valid-before=\"{until}\" {}",
                public(&alice),
                public(&bob)
            ),
        )
        .expect("rotated");
    };
    with_bob_until(&tomorrow);
    env.exits(
        0,
        None,
        &["journal", "verify", "--allowed-signers", &rotated_arg],
    );
    with_bob_until(&yesterday);
    let text = env.exits(
        1,
        None,
        &["journal", "verify", "--allowed-signers", &rotated_arg],
    );
    assert!(
        text.contains(&format!("signature BAD at seq {bob_seq}"))
            && text.contains("the key is valid until"),
        "{text}"
    );

    // an unsigned state change (no key: the OS account acts) passes, and --strict fails it
    env.exits(
        0,
        None,
        &["change", "new", "--title", "unsigned", "--hosts", "web-1"],
    );
    let unsigned = env.journal().last().expect("entry")["seq"]
        .as_u64()
        .expect("seq");
    let text = env.exits(0, None, &["journal", "verify"]);
    assert!(
        text.contains(&format!(
            "unsigned state changes: 1 (seq {unsigned}); --strict fails on them"
        )),
        "{text}"
    );
    let text = env.exits(1, None, &["journal", "verify", "--strict"]);
    assert!(
        text.contains(&format!(
            "signature BAD at seq {unsigned}: a state change without a signature (--strict)"
        )),
        "{text}"
    );
    let (code, json) = {
        let out = env.run(None, &["journal", "verify", "--strict", "--format", "json"]);
        (
            out.status.code(),
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json"),
        )
    };
    assert_eq!(code, Some(1));
    assert_eq!(json["intact"], false);
    assert_eq!(json["chain_intact"], true);
    assert_eq!(json["signatures"]["verified"], bob_seq);
    assert_eq!(
        json["signatures"]["unsigned"],
        serde_json::json!([unsigned])
    );

    // an operator's $FEARLESS_SIGNING_KEY does not sign where the config names no signers
    // (a lab, a demo): the OS account acts, unsigned
    let plain = env.dir.path().join("plain.yaml");
    std::fs::write(
        &plain,
        "inventory:\n  hosts:\n    web-1: { address: 10.9.0.1 }\n",
    )
    .expect("config");
    let plain_store = format!("sqlite:{}", env.dir.path().join("plain.db").display());
    let plain_arg = plain.display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(["-c", &plain_arg, "--store", &plain_store])
        .args([
            "change", "new", "--title", "t", "--hosts", "web-1", "--format", "json",
        ])
        .env("FEARLESS_SIGNING_KEY", &alice_pub)
        .env("SSH_AUTH_SOCK", &env.agent.sock)
        .env_remove("FEARLESS_USER")
        .stdin(Stdio::null())
        .output()
        .expect("run fearless");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_ne!(doc["requester"], "alice", "{doc:#}");

    // a malformed allowed-signers file is bad input naming its line
    std::fs::write(&rotated, "alice\n").expect("bad");
    let text = env.exits(
        2,
        None,
        &["journal", "verify", "--allowed-signers", &rotated_arg],
    );
    assert!(
        text.contains(&format!("{rotated_arg}:1: no key after the principals")),
        "{text}"
    );
}

/// The signature recipe of `VERIFY.md`, exactly as documented.
fn recipe() -> String {
    let doc = include_str!("../../../store/VERIFY.md");
    let marker = "```python\n# verify_signatures.py";
    let start = doc
        .find(marker)
        .expect("VERIFY.md has the signature recipe")
        + "```python\n".len();
    let len = doc[start..].find("```").expect("the block ends");
    doc[start..start + len].to_owned()
}
