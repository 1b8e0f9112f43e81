//! The dashboard over HTTP, as a browser and an API client reach it: a real server on a
//! loopback port, a real SQLite store on disk (and PostgreSQL at 127.0.0.1:5432 for a store
//! that goes away), the users file as `fearless user add` writes it.

use std::sync::Arc;
use std::time::Duration;

use fearless_change::{Command, NewChange, State};
use fearless_engine::{Engine, Silent, SystemClock};
use fearless_events::Events;
use fearless_serve::{App, Options, Users};
use fearless_store::{CheckRow, NewCheckRun, Store};
use reqwest::StatusCode;

const CONFIG: &str = r#"
inventory:
  defaults: { user: root, port: 22, transport: ssh }
  hosts:
    web-1: { address: 127.0.0.11, labels: { role: web } }
    web-2: { address: 127.0.0.12, labels: { role: web } }
components:
  checkout:
    runs_on: "role=web"
    depends_on: [orders-api]
    checks:
      - { name: health, http: { url: "http://{host.address}:8080/health", status: 200 } }
  orders-api:
    runs_on: "role=web"
    checks:
      - { name: orders, http: { url: "http://{host.address}:9090/orders", status: 200 } }
identity:
  mode: trust
serve:
  users: users.txt
"#;

const PASSWORD: &str = "correct horse battery staple";

/// A dashboard on a loopback port over a fresh store.
struct Server {
    base: String,
    config: Arc<fearless_config::Config>,
    store: Arc<Store>,
    events: Arc<Events>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&format!("sqlite:{}", dir.path().join("state.db").display()))
            .await
            .expect("store");
        Server::with_store(dir, store, false).await
    }

    /// With `files` (serve.files) the directory `files/` of its temporary directory.
    async fn with_store(dir: tempfile::TempDir, store: Store, files: bool) -> Server {
        let config_path = dir.path().join("fearless.yaml");
        std::fs::write(&config_path, CONFIG).expect("config");
        let config = Arc::new(fearless_config::load(&config_path).expect("load").config);
        let users_path = config.serve.users.clone().expect("serve.users");
        let mut users = Users::default();
        users.set("alice", PASSWORD).expect("alice");
        users.set("bob", PASSWORD).expect("bob");
        users.save(&users_path).expect("save users");
        let events = Arc::new(Events::new(&config.events, &dir.path().join("outbox")));
        let store = Arc::new(store);
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let listener = fearless_serve::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let options = Options {
            listen: addr,
            users: Some(users_path),
            open_read: true,
            files: files.then(|| dir.path().join("files")),
        };
        let app = App::new(
            Arc::clone(&config),
            Arc::clone(&store),
            Arc::clone(&events),
            options,
            stopping.clone(),
        )
        .expect("app");
        let mut until = stopping.clone();
        let task = tokio::spawn(async move {
            fearless_serve::serve(app, listener, async move {
                let _ = until.wait_for(|s| *s).await;
            })
            .await
            .expect("serve");
        });
        Server {
            base: format!("http://{addr}"),
            config,
            store,
            events,
            stop,
            task,
            _dir: dir,
        }
    }

    fn engine<'a>(&'a self, actor: &'a str) -> Engine<'a> {
        Engine {
            config: &self.config,
            store: &self.store,
            events: &self.events,
            actor: actor.into(),
            progress: &Silent,
            clock: &SystemClock,
        }
    }

    /// A change by alice, submitted: waiting for approval.
    async fn change_waiting(&self) -> String {
        let alice = self.engine("alice");
        let c = alice
            .create_change(NewChange {
                title: "monthly patch".into(),
                hosts: "web-*".into(),
                components: vec!["orders-api".into()],
                ..NewChange::default()
            })
            .await
            .expect("change");
        let id = c.id().to_string();
        alice
            .advance_id(&id, Command::Submit)
            .await
            .expect("submit");
        id
    }

    async fn state_of(&self, id: &str) -> State {
        self.engine("x").change(id).await.expect("change").1.state
    }

    async fn journal_len(&self) -> usize {
        self.store
            .journal(&fearless_store::JournalFilter::default())
            .await
            .expect("journal")
            .len()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser's client, logged in as `user`, and the CSRF token of its session.
    async fn login(&self, user: &str) -> (reqwest::Client, String) {
        let client = builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let res = client
            .post(self.url("/login"))
            .form(&[("user", user), ("password", PASSWORD)])
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login of {user}");
        let cookie = res
            .headers()
            .get("set-cookie")
            .expect("cookie")
            .to_str()
            .expect("text")
            .to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let page = client
            .get(self.url("/journal"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("text");
        let csrf = csrf_of(&page).expect("the page of a logged-in user carries a CSRF token");
        (client, csrf)
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("server task");
    }
}

/// A client (the workspace builds reqwest's rustls without a default crypto provider).
fn builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

async fn get(url: String) -> reqwest::Response {
    builder()
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .expect("get")
}

fn csrf_of(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(page[at..].split('"').next()?.to_owned())
}

/// Every action endpoint, for a change, a rollout and an incident that need not exist: the
/// authentication is checked before anything is read.
fn actions(change: &str) -> Vec<String> {
    vec![
        format!("/changes/{change}/approve"),
        format!("/changes/{change}/reject"),
        "/rollouts/R-1/pause".into(),
        "/rollouts/R-1/abort".into(),
        "/incidents/INC-1/acknowledge".into(),
        format!("/api/v1/changes/{change}/approve"),
        format!("/api/v1/changes/{change}/reject"),
        "/api/v1/rollouts/R-1/pause".into(),
        "/api/v1/incidents/INC-1/acknowledge".into(),
    ]
}

#[tokio::test]
async fn actions_without_a_session_or_with_a_wrong_token_change_nothing() {
    let s = Server::start().await;
    let id = s.change_waiting().await;
    let before = s.journal_len().await;
    let anonymous = builder().build().expect("client");
    for path in actions(&id) {
        let res = anonymous
            .post(s.url(&path))
            .form(&[("csrf", "whatever")])
            .send()
            .await
            .expect("post");
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{path} without a session"
        ); // Whatever the body: who asks is checked first.
        let res = anonymous
            .post(s.url(&path))
            .json(&serde_json::json!({"reason": "x"}))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path} with JSON");
    }
    let (bob, csrf) = s.login("bob").await;
    for path in actions(&id) {
        for token in ["", "not-the-token", &csrf[..csrf.len() - 1]] {
            let res = bob
                .post(s.url(&path))
                .form(&[("csrf", token)])
                .send()
                .await
                .expect("post");
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{path} with token {token:?}"
            );
        }
    }
    // From another site, even with the right token.
    let res = bob
        .post(s.url(&format!("/changes/{id}/approve")))
        .header("origin", "http://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Wrong basic credentials on the API.
    let res = anonymous
        .post(s.url(&format!("/api/v1/changes/{id}/approve")))
        .basic_auth("bob", Some("wrong password, long enough"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.state_of(&id).await, State::Authorize, "nothing moved");
    assert_eq!(s.journal_len().await, before, "nothing was journaled");
    s.stop().await;
}

#[tokio::test]
async fn bob_approves_through_the_page_and_the_requester_is_refused() {
    let s = Server::start().await;
    let id = s.change_waiting().await;
    // The requester: separation of duties, as in the CLI.
    let (alice, csrf) = s.login("alice").await;
    let res = alice
        .post(s.url(&format!("/changes/{id}/approve")))
        .form(&[("csrf", csrf.as_str()), ("reason", "")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.expect("text");
    assert!(
        page.contains("Refused") && page.contains("separation of duties"),
        "{page}"
    );
    assert_eq!(s.state_of(&id).await, State::Authorize);

    let (bob, csrf) = s.login("bob").await;
    let res = bob
        .post(s.url(&format!("/changes/{id}/approve")))
        .form(&[("csrf", csrf.as_str()), ("reason", "looks fine")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.expect("text");
    assert!(page.contains("approved"), "{page}");
    assert_eq!(s.state_of(&id).await, State::Scheduled);
    // The journal says who, and what vouched for them.
    let entries = s
        .store
        .journal(&fearless_store::JournalFilter {
            since: None,
            subject: Some(id.clone()),
        })
        .await
        .expect("journal");
    let approved = entries
        .iter()
        .find(|e| e.kind == "change.approved")
        .expect("approved entry");
    assert_eq!(approved.actor, "bob");
    assert_eq!(approved.vouched_by.as_deref(), Some("password"));
    s.stop().await;
}

#[tokio::test]
async fn the_api_mirrors_the_cli_and_acts_with_basic_credentials() {
    let s = Server::start().await;
    let id = s.change_waiting().await;
    let client = builder().build().expect("client");
    let list: serde_json::Value = client
        .get(s.url("/api/v1/changes"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(list["schema"], "fearless.changes/v1");
    assert_eq!(list["changes"][0]["id"], id.as_str());
    let res = client
        .post(s.url(&format!("/api/v1/changes/{id}/approve")))
        .basic_auth("bob", Some(PASSWORD))
        .json(&serde_json::json!({"reason": "ok"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let change: serde_json::Value = res.json().await.expect("json");
    assert_eq!(change["schema"], "fearless.change/v1");
    assert_eq!(change["state"], "scheduled");
    let unknown = client
        .get(s.url("/api/v1/changes/CHG-99"))
        .send()
        .await
        .expect("get");
    assert!(unknown.status().is_client_error(), "{}", unknown.status());
    let body: serde_json::Value = unknown.json().await.expect("json");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("99")),
        "{body}"
    );
    s.stop().await;
}

fn row(component: &str, check: &str, host: &str, status: &str) -> CheckRow {
    CheckRow {
        component: component.into(),
        check: check.into(),
        host: Some(host.into()),
        kind: "http".into(),
        runs_on: "controller".into(),
        status: status.into(),
        reason: (status != "pass").then(|| "refused".to_owned()),
        message: if status == "pass" {
            "200".into()
        } else {
            "connection refused \"quoted\"\nnext".into()
        },
        duration_ms: 12,
    }
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_pages_show_the_latest_run() {
    let s = Server::start().await;
    let now = time::OffsetDateTime::now_utc();
    s.store
        .insert_check_run(&NewCheckRun {
            started_at: now - time::Duration::seconds(2),
            finished_at: now,
            trigger: "check".into(),
            actor: "alice".into(),
            results: vec![
                row("orders-api", "orders", "web-1", "fail"),
                row("orders-api", "orders", "web-2", "pass"),
                row("checkout", "health", "web-1", "fail"),
                row("checkout", "health", "web-2", "pass"),
            ],
        })
        .await
        .expect("run");
    let text = get(s.url("/metrics")).await.text().await.expect("text");
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let status = scrape
        .samples
        .iter()
        .find(|m| {
            m.metric == "fearless_check_status"
                && m.labels.get("component") == Some("orders-api")
                && m.labels.get("host") == Some("web-1")
        })
        .expect("orders-api on web-1");
    assert_eq!(status.labels.get("status"), Some("fail"));
    let failing = scrape
        .samples
        .iter()
        .find(|m| m.metric == "fearless_check_results" && m.labels.get("status") == Some("fail"))
        .expect("counts");
    assert!(
        matches!(failing.value, prometheus_parse::Value::Gauge(v) if v == 2.0),
        "{failing:?}"
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|m| m.metric == "fearless_store_up")
    );
    // The overview: orders-api is the root suspect on web-1, checkout impacted.
    let page = get(s.url("/")).await.text().await.expect("text");
    assert!(page.contains("data-suspect=\"orders-api\""), "{page}");
    assert!(page.contains("data-impacted=\"checkout\""), "{page}");
    let history = get(s.url("/checks/orders-api/orders")).await;
    assert_eq!(history.status(), StatusCode::OK);
    assert!(
        history
            .text()
            .await
            .expect("text")
            .contains("failing since")
    );
    let one = get(s.url("/checks/orders-api/orders?host=web-2")).await;
    assert_eq!(one.status(), StatusCode::OK);
    let one = one.text().await.expect("text");
    assert!(one.contains("orders-api/orders on web-2"), "{one}");
    assert!(!one.contains("failing since"), "web-2 passed: {one}");
    // The overview is rendered once per run: a second look says the same.
    let again = get(s.url("/")).await.text().await.expect("text");
    assert!(again.contains("data-suspect=\"orders-api\""), "{again}");
    let missing = get(s.url("/checks/orders-api/nope")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    s.stop().await;
}

/// Prometheus asks for gzip: it gets the same text gzipped. A new run shows within about a
/// second (`/metrics` is rendered at most once a second, in the background once there is
/// one), and the first scrape after it may still show the run before.
#[tokio::test]
async fn metrics_are_gzipped_for_prometheus_and_follow_new_runs() {
    use std::io::Read as _;
    let s = Server::start().await;
    let record = |status: &'static str| {
        let store = Arc::clone(&s.store);
        async move {
            let now = time::OffsetDateTime::now_utc();
            store
                .insert_check_run(&NewCheckRun {
                    started_at: now,
                    finished_at: now,
                    trigger: "check".into(),
                    actor: "alice".into(),
                    results: vec![row("orders-api", "orders", "web-1", status)],
                })
                .await
                .expect("run")
        }
    };
    let status_of = |text: &str| {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        prometheus_parse::Scrape::parse(lines)
            .expect("Prometheus text")
            .samples
            .iter()
            .find(|m| m.metric == "fearless_check_status")
            .and_then(|m| m.labels.get("status").map(str::to_owned))
    };
    record("fail").await;
    let plain = get(s.url("/metrics")).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.text().await.expect("text");
    assert_eq!(status_of(&plain).as_deref(), Some("fail"));
    let zipped = builder()
        .build()
        .expect("client")
        .get(s.url("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("scrape");
    assert_eq!(
        zipped
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().expect("ascii")),
        Some("gzip")
    );
    let bytes = zipped.bytes().await.expect("body");
    assert!(
        bytes.len() < plain.len(),
        "{} < {}",
        bytes.len(),
        plain.len()
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("gzip");
    assert_eq!(text, plain, "the same rendering, gzipped");

    record("pass").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = get(s.url("/metrics")).await.text().await.expect("text");
        if status_of(&text).as_deref() == Some("pass") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new run never showed: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.stop().await;
}

#[tokio::test]
async fn a_non_loopback_address_without_users_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("fearless.yaml");
    std::fs::write(&path, CONFIG).expect("config");
    let config = Arc::new(fearless_config::load(&path).expect("load").config);
    let store = Arc::new(
        Store::open(&format!("sqlite:{}", dir.path().join("s.db").display()))
            .await
            .expect("store"),
    );
    let events = Arc::new(Events::new(&config.events, &dir.path().join("o")));
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    let options = Options {
        listen: "0.0.0.0:7878".parse().expect("addr"),
        users: Some(dir.path().join("users.txt")),
        open_read: true,
        files: None,
    };
    let e = App::new(config, store, events, options, stopping).expect_err("refused");
    assert!(
        e.to_string().contains("refusing to listen on 0.0.0.0:7878"),
        "{e}"
    );
}

#[tokio::test]
async fn an_open_live_stream_does_not_hold_up_shutdown() {
    let s = Server::start().await;
    let mut live = get(s.url("/live")).await;
    assert_eq!(live.status(), StatusCode::OK);
    let reader = tokio::spawn(async move { while let Ok(Some(_)) = live.chunk().await {} });
    s.stop().await;
    tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the stream ended")
        .expect("reader");
}

/// A PostgreSQL database of its own, dropped under the running server.
#[tokio::test]
async fn a_store_that_goes_away_fails_readyz_and_pages_show_a_banner() {
    let admin = "postgres://postgres@127.0.0.1:5432/postgres";
    let name = format!("fearless_serve_{}", std::process::id());
    let pool = PgAdmin(admin.to_owned());
    exec(
        &pool,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    exec(&pool, &format!("CREATE DATABASE {name}")).await;
    let store = Store::open(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (trust, user postgres) must be running");
    let s = Server::with_store(tempfile::tempdir().expect("tmp"), store, false).await;
    let ready = get(s.url("/readyz")).await;
    assert_eq!(ready.status(), StatusCode::OK);
    exec(&pool, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
    let ready = get(s.url("/readyz")).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    for path in ["/", "/changes", "/journal", "/checks"] {
        let res = get(s.url(path)).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let page = res.text().await.expect("text");
        assert!(
            page.contains("class=\"banner\"") && page.contains("The store does not answer"),
            "{path}: {page}"
        );
    }
    let metrics = get(s.url("/metrics")).await.text().await.expect("text");
    assert!(metrics.contains("fearless_store_up 0"), "{metrics}");
    s.stop().await;
}

/// `psql` as the admin connection (the dashboard's crate has no SQL dependency of its own).
struct PgAdmin(String);

async fn exec(admin: &PgAdmin, sql: &str) {
    let out = tokio::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &admin.0, "-c", sql])
        .output()
        .await
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn files_are_served_by_plain_name_only_and_sandboxed() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).expect("dir");
    std::fs::write(files.join("runbook.md"), "# restart orders-api\n").expect("file");
    std::fs::write(files.join(".secret"), "no").expect("file");
    std::fs::write(dir.path().join("users.txt.bak"), "no").expect("file");
    let store = Store::open(&format!("sqlite:{}", dir.path().join("state.db").display()))
        .await
        .expect("store");
    let s = Server::with_store(dir, store, true).await;
    let ok = get(s.url("/files/runbook.md")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap_or("")),
        Some("sandbox")
    );
    assert_eq!(ok.text().await.expect("text"), "# restart orders-api\n");
    for path in [
        "/files/.secret",
        "/files/..%2Fusers.txt.bak",
        "/files/missing.md",
        "/files/..%2F..%2Fetc%2Fpasswd",
    ] {
        let res = get(s.url(path)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    s.stop().await;
}
