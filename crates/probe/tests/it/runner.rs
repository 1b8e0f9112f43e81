//! The runner: which check runs where (the plan), retries that turn a late pass into
//! `degraded`, and per-attempt timeouts.

use crate::{load, run_all};
use fearless_config::Selector;
use fearless_probe::result::{Reason, Status};
use fearless_probe::runner::{self, PlanItem, Selection};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fleet in the shape of DESIGN.md §3; nothing here is ever contacted.
const FLEET: &str = r#"
inventory:
  hosts:
    web-1: { address: 10.0.1.11, labels: { role: web } }
    web-2: { address: 10.0.1.12, labels: { role: web } }
    api-1: { address: 10.0.2.11, labels: { role: api } }
components:
  web:
    runs_on: "role=web"
    depends_on: [api]
    checks:
      - { name: proc, process: { name: acme-web } }
      - { name: health, http: { url: "http://{host.address}:8080/health" } }
      - { name: vip, tcp: { address: "10.0.9.9:443" } }
      - { name: disk, on: controller, command: { run: [df, /] } }
  api:
    runs_on: "role=api"
    depends_on: [db]
    checks:
      - { name: pinned, package: { name: libacme, version: ">= 1.1, < 2" } }
      - { name: lb, http: { url: "http://api.example:9090/orders" } }
  db:
    external: true
    checks:
      - { name: query, tcp: { address: "db.example:5432" } }
"#;

/// `component/check@host` (or without `@host` for once-only items), in plan order.
fn shape(items: &[PlanItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| match &i.host {
            Some(h) => format!("{}/{}@{}", i.component, i.check.name, h.name),
            None => format!("{}/{}", i.component, i.check.name),
        })
        .collect()
}

fn hosts(selector: &str) -> Selection {
    Selection {
        hosts: Some(Selector::parse(selector).expect("selector")),
        components: Vec::new(),
    }
}

#[test]
fn plan_runs_host_local_and_templated_checks_per_host_and_the_rest_once() {
    let cfg = load(FLEET);
    let items = runner::plan(&cfg, &Selection::default()).expect("plan");
    assert_eq!(
        shape(&items),
        [
            "web/proc@web-1",
            "web/proc@web-2",
            "web/health@web-1",
            "web/health@web-2",
            "web/vip",
            "web/disk",
            "api/pinned@api-1",
            "api/lb",
            "db/query",
        ]
    );
    // Host-local kinds go through the host's transport; network kinds (even per host) and
    // `on: controller` run here.
    let on_host: Vec<bool> = items.iter().map(PlanItem::runs_on_host).collect();
    assert_eq!(
        on_host,
        [true, true, false, false, false, false, true, false, false]
    );
    // `{host.address}` is each item's own host.
    let urls: Vec<String> = items[2..4]
        .iter()
        .map(|i| i.check.kind.templates()[0].expand(i.host.as_ref()))
        .collect();
    assert_eq!(
        urls,
        [
            "http://10.0.1.11:8080/health",
            "http://10.0.1.12:8080/health"
        ]
    );
}

#[test]
fn plan_host_selection_cuts_components_down_but_keeps_external_ones() {
    let cfg = load(FLEET);
    let items = runner::plan(&cfg, &hosts("web-1")).expect("plan");
    assert_eq!(
        shape(&items),
        [
            "web/proc@web-1",
            "web/health@web-1",
            "web/vip",
            "web/disk",
            "db/query"
        ]
    );
    let items = runner::plan(&cfg, &hosts("role=web")).expect("plan");
    assert_eq!(
        shape(&items),
        [
            "web/proc@web-1",
            "web/proc@web-2",
            "web/health@web-1",
            "web/health@web-2",
            "web/vip",
            "web/disk",
            "db/query"
        ]
    );
    let items = runner::plan(&cfg, &hosts("no-such-host")).expect("plan");
    assert_eq!(shape(&items), ["db/query"]);
}

#[test]
fn plan_component_selection_and_unknown_components() {
    let cfg = load(FLEET);
    let sel = Selection {
        hosts: None,
        components: vec!["api".into(), "db".into()],
    };
    assert_eq!(
        shape(&runner::plan(&cfg, &sel).expect("plan")),
        ["api/pinned@api-1", "api/lb", "db/query"]
    );
    let sel = Selection {
        hosts: Some(Selector::parse("web-2").expect("selector")),
        components: vec!["web".into()],
    };
    assert_eq!(
        shape(&runner::plan(&cfg, &sel).expect("plan")),
        ["web/proc@web-2", "web/health@web-2", "web/vip", "web/disk"]
    );

    let typo = Selection {
        hosts: None,
        components: vec!["api".into(), "wev".into()],
    };
    let err = runner::plan(&cfg, &typo).expect_err("unknown component");
    assert_eq!(
        (err.name.as_str(), err.suggestion.as_deref()),
        ("wev", Some("web"))
    );
    assert_eq!(
        err.to_string(),
        "unknown component `wev` (did you mean `web`?)"
    );
    let far = Selection {
        hosts: None,
        components: vec!["zzzzzz".into()],
    };
    let err = runner::plan(&cfg, &far).expect_err("unknown component");
    assert_eq!(err.suggestion, None, "{err}");
    assert_eq!(err.to_string(), "unknown component `zzzzzz`");
}

/// An HTTP server answering 500 to its first `failures` requests and 200 afterwards; the
/// counter is the number of requests seen.
async fn flaky_server(failures: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let (status, body) = if n < failures {
                    (500, "down")
                } else {
                    (200, "ok")
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, requests)
}

#[tokio::test]
async fn retries_turn_a_late_pass_into_degraded() {
    let (late, late_requests) = flaky_server(1).await;
    let (once, once_requests) = flaky_server(1).await;
    let (never, never_requests) = flaky_server(usize::MAX).await;
    let cfg = load(&format!(
        r#"
components:
  svc:
    external: true
    checks:
      - {{ name: late, retries: 2, http: {{ url: "http://{late}/health", status: 200 }} }}
      - {{ name: once, http: {{ url: "http://{once}/health", status: 200 }} }}
      - {{ name: never, retries: 2, http: {{ url: "http://{never}/health", status: 200 }} }}
"#
    ));
    let results = run_all(&cfg).await;
    let [late_r, once_r, never_r] = &results[..] else {
        panic!("three results: {results:#?}")
    };

    assert_eq!(
        (late_r.status, late_r.attempts),
        (Status::Degraded, 2),
        "{late_r:#?}"
    );
    // The reason is the failure that needed the retry; it stays healthy.
    assert_eq!(late_r.reason, Some(Reason::Assertion), "{late_r:#?}");
    assert!(late_r.status.is_ok());
    assert!(
        late_r.message.contains("passed on attempt 2")
            && late_r.message.contains("HTTP 500 (expected 200)"),
        "{late_r:#?}"
    );
    assert_eq!(late_requests.load(Ordering::SeqCst), 2);

    assert_eq!(
        (once_r.status, once_r.reason, once_r.attempts),
        (Status::Fail, Some(Reason::Assertion), 1),
        "{once_r:#?}"
    );
    assert_eq!(once_r.message, "HTTP 500 (expected 200)");
    assert_eq!(once_requests.load(Ordering::SeqCst), 1);

    assert_eq!(
        (never_r.status, never_r.reason, never_r.attempts),
        (Status::Fail, Some(Reason::Assertion), 3),
        "{never_r:#?}"
    );
    assert_eq!(never_requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_command_past_its_timeout_fails_with_reason_timeout_at_once() {
    let cfg = load(
        r#"
inventory:
  hosts:
    box: { address: 127.0.0.1, transport: local }
components:
  slow:
    runs_on: box
    checks:
      - { name: sleepy, timeout: 300ms, command: { run: [sleep, "5"] } }
"#,
    );
    let started = Instant::now();
    let results = run_all(&cfg).await;
    let took = started.elapsed();
    let [r] = &results[..] else {
        panic!("one result: {results:#?}")
    };
    assert_eq!(
        (r.status, r.reason, r.attempts),
        (Status::Fail, Some(Reason::Timeout), 1),
        "{r:#?}"
    );
    assert_eq!(r.host.as_deref(), Some("box"));
    assert!(r.message.contains("no answer within 300ms"), "{r:#?}");
    assert!(
        took < Duration::from_secs(2),
        "the timeout stops the wait: took {took:?}"
    );
}
