//! The one integration-test binary of fearless-probe, with the helpers its modules share.
//!
//! Every server a test talks to is real and on loopback: small servers started by the test
//! itself, a slapd or a moto_server a test starts (and stops by PID), or the RabbitMQ and
//! PostgreSQL that the CI script starts.

mod hostlocal;
mod ldap;
mod net;
mod runner;
mod sqs;

use fearless_config::Config;
use fearless_probe::result::CheckResult;
use fearless_probe::runner::{Runner, Selection, plan};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A config from `yaml`, loaded as if from `/tmp/fearless-probe-it/fearless.yaml`; an
/// invalid one fails the test with every problem and the YAML.
pub fn load(yaml: &str) -> Config {
    match fearless_config::load_str(
        Path::new("/tmp/fearless-probe-it/fearless.yaml"),
        yaml.to_owned(),
    ) {
        Ok(loaded) => loaded.config,
        Err(e) => panic!(
            "invalid test config: {:?}\n{yaml}",
            e.problems
                .iter()
                .map(fearless_config::Problem::plain)
                .collect::<Vec<_>>()
        ),
    }
}

/// Plan and run everything in `config`, then close the connections.
pub async fn run_all(config: &Config) -> Vec<CheckResult> {
    let items = plan(config, &Selection::default()).expect("plan");
    let runner = Runner::new(config).expect("runner");
    let results = runner.run(&items, &|_| {}).await;
    runner.close().await;
    results
}

/// A port on 127.0.0.1 that nothing listens on (it was bound a moment ago, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A listener on 127.0.0.1 and a random port.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, addr)
}

/// An HTTP/1.1 server answering every request, on kept-alive connections, with `status`
/// and `body`.
pub async fn http_server(status: u16, body: &'static str) -> SocketAddr {
    counting_http_server(status, body).await.0
}

/// [`http_server`], with the number of connections it accepted so far.
pub async fn counting_http_server(
    status: u16,
    body: &'static str,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let (listener, addr) = listener().await;
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_http(stream, status, body));
        }
    });
    (addr, connections)
}

async fn serve_http(mut stream: TcpStream, status: u16, body: &'static str) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // One request: headers up to the blank line (the checks send no request body).
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
        buf.drain(..end);
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A server that accepts connections and never says anything.
pub async fn silent_server() -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A server that answers every connection with `bytes`, then closes it.
pub async fn garbage_server(bytes: &'static [u8]) -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
        }
    });
    addr
}
