//! Shared helpers: config loading, a recording HTTP server, a TCP proxy that can be cut.

use fearless_config::EventsConfig;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The `events:` section of `yaml`, loaded as if from `dir/fearless.yaml`.
pub(crate) fn events_config(dir: &Path, yaml: &str) -> EventsConfig {
    let loaded = fearless_config::load_str(&dir.join("fearless.yaml"), yaml.to_owned())
        .unwrap_or_else(|e| {
            panic!(
                "{}",
                e.problems
                    .iter()
                    .map(fearless_config::Problem::plain)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
    loaded.config.events
}

/// [`Events`](fearless_events::Events) as `yaml` configures them (loaded as from
/// `dir/fearless.yaml`), with the outbox in `dir/outbox` and [`fast_options`].
pub(crate) fn events_in(dir: &Path, yaml: &str) -> fearless_events::Events {
    fearless_events::Events::with_options(
        &events_config(dir, yaml),
        &dir.join("outbox"),
        fast_options(),
    )
}

/// An `events:` section with one sink, `name` (`spec` is its YAML flow mapping, e.g.
/// `{ file: { path: x } }`), that every `fearless.*` event is routed to.
pub(crate) fn one_sink(name: &str, spec: &str) -> String {
    format!(
        "events:\n  sinks:\n    {name}: {spec}\n  routes:\n    - {{ types: \"fearless.*\", sinks: [{name}] }}\n"
    )
}

/// A plain `fearless.change.started` event from the controller.
pub(crate) fn started() -> fearless_events::Event {
    fearless_events::Event::new(
        fearless_events::types::CHANGE_STARTED,
        "fearless://ctl",
        serde_json::json!({}),
    )
}

/// Options with short deadlines and immediate retries, for tests.
pub(crate) fn fast_options() -> fearless_events::Options {
    fearless_events::Options {
        http_timeout: Duration::from_millis(700),
        amqp_timeout: Duration::from_secs(3),
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(10),
        max_attempts: 3,
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) path: String,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: Vec<u8>,
}

/// How the server answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    Status(u16),
    Hang,
}

/// A minimal HTTP/1.1 server on 127.0.0.1 recording every request.
pub(crate) struct HttpServer {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<Mutex<Vec<Request>>>,
    _tasks: JoinSet<()>,
}

impl HttpServer {
    pub(crate) async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = JoinSet::new();
        let reqs = requests.clone();
        tasks.spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                conns.spawn(serve(stream, answer, reqs.clone()));
            }
        });
        Self {
            addr,
            requests,
            _tasks: tasks,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }
}

async fn serve(mut stream: TcpStream, answer: Answer, requests: Arc<Mutex<Vec<Request>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..header_end + len].to_vec();
    requests.lock().expect("lock").push(Request {
        path,
        headers,
        body,
    });
    match answer {
        Answer::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
        Answer::Status(code) => {
            let resp =
                format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(resp.as_bytes()).await;
        }
    }
}

/// A TCP proxy from a loopback port to `target`; `stop` closes the listener and every
/// connection through it (what a broker restart looks like to a client).
pub(crate) struct Proxy {
    pub(crate) port: u16,
    target: SocketAddr,
    tasks: Option<JoinSet<()>>,
}

impl Proxy {
    pub(crate) async fn start(target: SocketAddr) -> Self {
        let mut p = Self {
            port: 0,
            target,
            tasks: None,
        };
        p.listen().await;
        p
    }

    async fn listen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind proxy");
        self.port = listener.local_addr().expect("addr").port();
        let target = self.target;
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Close the listener and every proxied connection.
    pub(crate) async fn stop(&mut self) {
        if let Some(mut t) = self.tasks.take() {
            t.shutdown().await;
        }
    }

    /// Listen again on the same port.
    pub(crate) async fn restart(&mut self) {
        self.listen().await;
    }
}
