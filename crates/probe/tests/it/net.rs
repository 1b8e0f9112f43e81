//! The network check kinds against real servers on loopback: small ones started here, and
//! the RabbitMQ (127.0.0.1:5672) and PostgreSQL (127.0.0.1:5432) of the test environment,
//! which must be running: those tests fail, never skip, without them.

use crate::{
    closed_port, counting_http_server, garbage_server, http_server, listener, silent_server,
};
use fearless_config::{DnsCheck, HttpCheck, SqlCheck, Template};
use fearless_probe::net::{self, NetContext};
use fearless_probe::result::{Outcome, Reason, Status};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::net::UdpSocket;

const TIMEOUT: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(300);

const RABBITMQ: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[track_caller]
fn assert_pass(outcome: &Outcome) {
    assert_eq!(
        (outcome.status, outcome.reason),
        (Status::Pass, None),
        "{outcome:?}"
    );
}

#[track_caller]
fn assert_fail(outcome: &Outcome, reason: Reason) {
    assert_eq!(
        (outcome.status, outcome.reason),
        (Status::Fail, Some(reason)),
        "{outcome:?}"
    );
    assert!(!outcome.message.contains('\n'), "one line: {outcome:?}");
}

fn template(text: &str) -> Template {
    Template::parse(text).expect("template")
}

fn http_spec(url: &str, status: u16, body: Option<&str>) -> HttpCheck {
    HttpCheck {
        url: template(url),
        method: "GET".to_owned(),
        status,
        body: body.map(str::to_owned),
        headers: Default::default(),
        insecure: false,
    }
}

async fn check_http(url: &str, status: u16, body: Option<&str>, timeout: Duration) -> Outcome {
    let ctx = NetContext::new().expect("context");
    net::http(&ctx, &http_spec(url, status, body), url, &[], timeout).await
}

// ---- http ----

#[tokio::test]
async fn http_passes_on_expected_status_and_body() {
    let addr = http_server(200, "status: ok").await;
    let outcome = check_http(&format!("http://{addr}/health"), 200, Some("ok"), TIMEOUT).await;
    assert_pass(&outcome);
    assert!(outcome.message.starts_with("HTTP 200"), "{outcome:?}");
}

#[tokio::test]
async fn http_wrong_status_is_an_assertion() {
    let addr = http_server(502, "bad gateway").await;
    let outcome = check_http(&format!("http://{addr}/"), 200, None, TIMEOUT).await;
    assert_fail(&outcome, Reason::Assertion);
    assert_eq!(outcome.message, "HTTP 502 (expected 200)");
}

#[tokio::test]
async fn http_body_mismatch_is_an_assertion() {
    let addr = http_server(200, "maintenance").await;
    let outcome = check_http(&format!("http://{addr}/"), 200, Some("ok"), TIMEOUT).await;
    assert_fail(&outcome, Reason::Assertion);
    assert!(
        outcome.message.contains("\"ok\"") && outcome.message.contains("maintenance"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn http_nothing_listening_is_refused() {
    let outcome = check_http(
        &format!("http://127.0.0.1:{}/", closed_port()),
        200,
        None,
        TIMEOUT,
    )
    .await;
    assert_fail(&outcome, Reason::Refused);
    assert!(
        outcome.message.contains("connection refused"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn http_server_that_never_answers_is_a_timeout() {
    let addr = silent_server().await;
    let started = Instant::now();
    let outcome = check_http(&format!("http://{addr}/"), 200, None, SHORT).await;
    assert_fail(&outcome, Reason::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout"
    );
}

#[tokio::test]
async fn http_unresolvable_name_is_dns() {
    let outcome = check_http("http://nonexistent.invalid/", 200, None, TIMEOUT).await;
    assert_fail(&outcome, Reason::Dns);
}

#[tokio::test]
async fn http_invalid_url_is_a_config_error_without_the_password() {
    let url = "http://user:hunter2@[bad/";
    let outcome = check_http(url, 200, None, TIMEOUT).await;
    assert_eq!(
        (outcome.status, outcome.reason),
        (Status::Error, Some(Reason::Config)),
        "{outcome:?}"
    );
    assert!(!outcome.message.contains("hunter2"), "{outcome:?}");
}

#[tokio::test]
async fn http_sends_method_and_headers() {
    // A server that answers 204 only to `DELETE` with the expected header.
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
            let ok = request.starts_with("delete /x ") && request.contains("x-token: abc");
            let status = if ok {
                "204 No Content"
            } else {
                "400 Bad Request"
            };
            let _ = stream
                .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                .await;
        }
    });
    let url = format!("http://{addr}/x");
    let mut spec = http_spec(&url, 204, None);
    spec.method = "delete".to_owned();
    let ctx = NetContext::new().expect("context");
    let headers = [("X-Token".to_owned(), "abc".to_owned())];
    assert_pass(&net::http(&ctx, &spec, &url, &headers, TIMEOUT).await);
}

/// 1,000 checks against one loopback server: connections are pooled, not one per check.
#[tokio::test]
async fn http_thousand_checks_share_pooled_connections() {
    let (addr, connections) = counting_http_server(200, "ok").await;
    let ctx = NetContext::new().expect("context");
    let url = format!("http://{addr}/health");
    let spec = http_spec(&url, 200, Some("ok"));
    let started = Instant::now();
    for _ in 0..1000 {
        assert_pass(&net::http(&ctx, &spec, &url, &[], TIMEOUT).await);
    }
    let elapsed = started.elapsed();
    assert!(
        connections.load(std::sync::atomic::Ordering::SeqCst) <= 2,
        "one pooled connection, not one per check"
    );
    // The release benchmark needs < 0.5 s; an unoptimised test build gets headroom.
    assert!(
        elapsed < Duration::from_secs(2),
        "1,000 checks took {elapsed:?}"
    );
}

// ---- tcp ----

#[tokio::test]
async fn tcp_listening_port_passes() {
    let (_listener, addr) = listener().await;
    assert_pass(&net::tcp(&addr.to_string(), TIMEOUT).await);
}

#[tokio::test]
async fn tcp_closed_port_is_refused() {
    let outcome = net::tcp(&format!("127.0.0.1:{}", closed_port()), TIMEOUT).await;
    assert_fail(&outcome, Reason::Refused);
}

#[tokio::test]
async fn tcp_address_without_port_is_a_config_error() {
    let outcome = net::tcp("127.0.0.1", TIMEOUT).await;
    assert_eq!(
        (outcome.status, outcome.reason),
        (Status::Error, Some(Reason::Config)),
        "{outcome:?}"
    );
}

// ---- tls ----

/// A self-signed certificate for `localhost`, valid from `from` to `until` (days from now).
fn certificate(from: i64, until: i64) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let now = OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(until);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// A TLS server on loopback presenting `cert`.
async fn tls_server(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    // Enough HTTP for an `http` check over TLS; the `tls` check sends nothing.
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 4096];
                    if matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {
                        let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                        let _ = tls.shutdown().await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn tls_valid_certificate_passes() {
    let (cert, key) = certificate(-1, 90);
    let addr = tls_server(cert, key).await;
    let outcome = net::tls(&addr.to_string(), Some("localhost"), 14, TIMEOUT).await;
    assert_pass(&outcome);
    // Whole days left: 89 or 90 depending on the second the certificate was made in.
    let m = &outcome.message;
    assert!(
        m.starts_with("certificate CN=localhost expires in ")
            && (m.contains(" 89 days") || m.contains(" 90 days")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn tls_expired_certificate_fails_naming_expired() {
    let (cert, key) = certificate(-30, -3);
    let addr = tls_server(cert, key).await;
    let outcome = net::tls(&addr.to_string(), Some("localhost"), 14, TIMEOUT).await;
    assert_fail(&outcome, Reason::Assertion);
    assert!(
        outcome.message.contains("expired 3 days ago"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn tls_certificate_expiring_within_min_days_fails() {
    let (cert, key) = certificate(-1, 5);
    let addr = tls_server(cert, key).await;
    let outcome = net::tls(&addr.to_string(), Some("localhost"), 14, TIMEOUT).await;
    assert_fail(&outcome, Reason::Assertion);
    let m = &outcome.message;
    assert!(
        m.starts_with("certificate CN=localhost expires in "),
        "{outcome:?}"
    );
    assert!(
        (m.contains(" 4 days (") || m.contains(" 5 days (")) && m.ends_with(", fewer than 14"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn tls_garbage_instead_of_handshake_is_tls() {
    let addr = garbage_server(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS at all").await;
    let outcome = net::tls(&addr.to_string(), Some("localhost"), 14, TIMEOUT).await;
    assert_fail(&outcome, Reason::Tls);
}

#[tokio::test]
async fn tls_closed_port_is_refused() {
    let outcome = net::tls(&format!("127.0.0.1:{}", closed_port()), None, 14, TIMEOUT).await;
    assert_fail(&outcome, Reason::Refused);
}

#[tokio::test]
async fn https_self_signed_is_tls_unless_insecure() {
    let (cert, key) = certificate(-1, 90);
    let addr = tls_server(cert, key).await;
    let url = format!("https://localhost:{}/", addr.port());
    let ctx = NetContext::new().expect("context");
    let mut spec = http_spec(&url, 200, Some("ok"));
    assert_fail(
        &net::http(&ctx, &spec, &url, &[], TIMEOUT).await,
        Reason::Tls,
    );
    spec.insecure = true;
    assert_pass(&net::http(&ctx, &spec, &url, &[], TIMEOUT).await);
}

// ---- dns ----

/// A DNS server on 127.0.0.1 that knows one name, `shop.test.` → 10.1.2.3, and answers
/// NXDOMAIN for everything else.
async fn dns_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(request) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(query) = request.queries.first().cloned() else {
                continue;
            };
            let mut response = Message::response(request.metadata.id, request.metadata.op_code);
            response.metadata.recursion_desired = request.metadata.recursion_desired;
            response.metadata.recursion_available = true;
            response.add_query(query.clone());
            let known = Name::from_ascii("shop.test.").expect("name");
            if query.name().to_lowercase() == known && query.query_type() == RecordType::A {
                response.add_answer(Record::from_rdata(
                    known,
                    60,
                    RData::A(A(Ipv4Addr::new(10, 1, 2, 3))),
                ));
            } else if query.name().to_lowercase() != known {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

fn dns_spec(server: SocketAddr, expect: &[&str]) -> DnsCheck {
    DnsCheck {
        name: template("shop.test"),
        record_type: "A".to_owned(),
        server: Some(server),
        expect: expect.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test]
async fn dns_expected_address_passes() {
    let server = dns_server().await;
    let ctx = NetContext::new().expect("context");
    let outcome = net::dns(
        &ctx,
        &dns_spec(server, &["10.1.2.3"]),
        "shop.test.",
        TIMEOUT,
    )
    .await;
    assert_pass(&outcome);
    assert!(outcome.message.contains("10.1.2.3"), "{outcome:?}");
}

#[tokio::test]
async fn dns_missing_expected_value_is_an_assertion() {
    let server = dns_server().await;
    let ctx = NetContext::new().expect("context");
    let outcome = net::dns(
        &ctx,
        &dns_spec(server, &["10.1.2.3", "10.9.9.9"]),
        "shop.test.",
        TIMEOUT,
    )
    .await;
    assert_fail(&outcome, Reason::Assertion);
    assert!(outcome.message.contains("10.9.9.9"), "{outcome:?}");
}

#[tokio::test]
async fn dns_nxdomain_is_dns() {
    let server = dns_server().await;
    let ctx = NetContext::new().expect("context");
    let outcome = net::dns(&ctx, &dns_spec(server, &[]), "nothing.test.", TIMEOUT).await;
    assert_fail(&outcome, Reason::Dns);
    assert!(outcome.message.contains("NXDOMAIN"), "{outcome:?}");
}

#[tokio::test]
async fn dns_no_records_of_the_type_is_dns() {
    let server = dns_server().await;
    let ctx = NetContext::new().expect("context");
    let mut spec = dns_spec(server, &[]);
    spec.record_type = "MX".to_owned();
    let outcome = net::dns(&ctx, &spec, "shop.test.", TIMEOUT).await;
    assert_fail(&outcome, Reason::Dns);
}

// ---- amqp (the real RabbitMQ) ----

#[tokio::test]
async fn amqp_round_trip_passes() {
    let outcome = net::amqp(RABBITMQ, TIMEOUT).await;
    assert_pass(&outcome);
    assert!(!outcome.message.contains("guest:guest"), "{outcome:?}");
}

#[tokio::test]
async fn amqp_wrong_password_is_auth_and_not_echoed() {
    let outcome = net::amqp("amqp://guest:wrong-s3cret@127.0.0.1:5672/%2f", TIMEOUT).await;
    assert_fail(&outcome, Reason::Auth);
    assert!(!outcome.message.contains("wrong-s3cret"), "{outcome:?}");
}

#[tokio::test]
async fn amqp_closed_port_is_refused() {
    let outcome = net::amqp(
        &format!("amqp://guest:guest@127.0.0.1:{}/%2f", closed_port()),
        TIMEOUT,
    )
    .await;
    assert_fail(&outcome, Reason::Refused);
}

// ---- sql (the real PostgreSQL) ----

fn sql_spec(query: &str, expect: Option<&str>) -> SqlCheck {
    SqlCheck {
        url: template(POSTGRES),
        query: query.to_owned(),
        expect: expect.map(str::to_owned),
    }
}

#[tokio::test]
async fn sql_expected_value_passes() {
    let outcome = net::sql(&sql_spec("select 1", Some("1")), POSTGRES, TIMEOUT).await;
    assert_pass(&outcome);
    assert_eq!(outcome.message, "query returned \"1\"");
}

#[tokio::test]
async fn sql_other_value_is_an_assertion() {
    let outcome = net::sql(&sql_spec("select 1", Some("2")), POSTGRES, TIMEOUT).await;
    assert_fail(&outcome, Reason::Assertion);
    assert_eq!(outcome.message, "query returned \"1\" (expected \"2\")");
}

#[tokio::test]
async fn sql_failing_query_is_an_assertion() {
    let outcome = net::sql(
        &sql_spec("select * from no_such_table", None),
        POSTGRES,
        TIMEOUT,
    )
    .await;
    assert_fail(&outcome, Reason::Assertion);
    assert!(outcome.message.contains("42P01"), "{outcome:?}");
}

#[tokio::test]
async fn sql_closed_port_is_refused() {
    let url = format!(
        "postgres://postgres:pw@127.0.0.1:{}/postgres",
        closed_port()
    );
    let outcome = net::sql(&sql_spec("select 1", Some("1")), &url, TIMEOUT).await;
    assert_fail(&outcome, Reason::Refused);
}

#[tokio::test]
async fn sql_unknown_role_is_auth() {
    let url = "postgres://no_such_role_fearless@127.0.0.1:5432/postgres";
    let outcome = net::sql(&sql_spec("select 1", None), url, TIMEOUT).await;
    assert_fail(&outcome, Reason::Auth);
}
