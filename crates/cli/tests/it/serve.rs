//! `fearless user` (the dashboard's users file) and `fearless serve` as a process: it refuses
//! to be reachable from elsewhere without a login, serves, and stops on SIGTERM with exit 0.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{fearless, stderr, stdout, write_config};

const CONFIG: &str = "identity: { mode: trust }\ninventory:\n  hosts:\n    web-1: { address: 127.0.0.1, labels: { role: web } }\ncomponents:\n  orders-api:\n    runs_on: \"role=web\"\n    checks:\n      - { name: orders, tcp: { address: \"127.0.0.1:9\" } }\nmonitor: { interval: 1s, confirm: 1 }\nserve: { users: users.txt }\n";

/// `fearless -c CONFIG user add NAME --password-stdin` given `password`.
fn add(config: &str, name: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args(["-c", config, "user", "add", name, "--password-stdin"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{password}").expect("write");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

#[test]
fn users_are_added_hashed_listed_and_removed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), CONFIG);
    let short = add(&config, "bob", "short");
    assert_eq!(short.status.code(), Some(2), "{}", stderr(&short));
    assert!(
        stderr(&short).contains("at least 12 characters"),
        "{}",
        stderr(&short)
    );
    let bad_name = add(&config, "-rf", "long enough password");
    assert_eq!(bad_name.status.code(), Some(2), "{}", stderr(&bad_name));
    let ok = add(&config, "bob", "long enough password");
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let file = tmp.path().join("users.txt");
    let text = std::fs::read_to_string(&file).expect("users file");
    assert!(text.contains("bob:$argon2id$"), "{text}");
    assert!(!text.contains("long enough password"));
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let generated = fearless(&["-c", &config, "user", "add", "ci-bot", "--generate"]);
    assert_eq!(generated.status.code(), Some(0), "{}", stderr(&generated));
    assert!(
        stdout(&generated).contains("its token (shown once): "),
        "{}",
        stdout(&generated)
    );
    let list = fearless(&["-c", &config, "user", "list", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(doc["users"], serde_json::json!(["bob", "ci-bot"]));
    let gone = fearless(&["-c", &config, "user", "remove", "nobody"]);
    assert_eq!(gone.status.code(), Some(2));
    let removed = fearless(&["-c", &config, "user", "remove", "ci-bot"]);
    assert_eq!(removed.status.code(), Some(0), "{}", stderr(&removed));
    // No terminal and no --password-stdin: said, not hung.
    let asked = fearless(&["-c", &config, "user", "add", "carol"]);
    assert_eq!(asked.status.code(), Some(2));
    assert!(stderr(&asked).contains("no terminal"), "{}", stderr(&asked));
    // Without serve.users there is nowhere to write.
    std::fs::create_dir(tmp.path().join("bare")).expect("dir");
    let bare = write_config(
        &tmp.path().join("bare"),
        &CONFIG.replace("serve: { users: users.txt }\n", ""),
    );
    let nowhere = fearless(&["-c", &bare, "user", "list"]);
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(
        stderr(&nowhere).contains("serve.users is not set"),
        "{}",
        stderr(&nowhere)
    );
}

#[test]
fn serve_refuses_an_open_address_without_users_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = write_config(tmp.path(), CONFIG);
    let store = format!("sqlite:{}", tmp.path().join("state.db").display());
    let open = fearless(&[
        "-c",
        &config,
        "--store",
        &store,
        "serve",
        "--listen",
        "0.0.0.0:0",
    ]);
    assert_eq!(open.status.code(), Some(2), "{}", stderr(&open));
    assert!(
        stderr(&open).contains("refusing to listen on 0.0.0.0:0"),
        "{}",
        stderr(&open)
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fearless"))
        .args([
            "-c", &config, "--store", &store, "serve", "--listen", &listen,
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    // The monitor's first pass is logged with its run.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no monitor run logged: {seen:?}");
        let line = lines.next().expect("serve ended early").expect("line");
        let done = line.contains("monitor run recorded") && line.contains("fail=1");
        seen.push(line);
        if done {
            break;
        }
    }
    let health = std::net::TcpStream::connect(&listen).expect("listening");
    drop(health);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}
