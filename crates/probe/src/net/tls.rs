//! The `tls` check kind: handshake and certificate expiry, leaf and chain.

use super::common::{
    classify, connect, days, excerpt, one_line, root_message, split_host_port, timed_out,
};
use super::context::inspect_only_config;
use crate::result::{Outcome, Reason};
use rustls::pki_types::{CertificateDer, ServerName};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_rustls::TlsConnector;

const DAY: i64 = 86_400;

/// `tls`: a TLS handshake and the expiry of the certificates the server sends.
///
/// **What it does**: connects to `address` (`host:port`), shakes hands with SNI
/// `server_name` (default: the host of `address`) and inspects every certificate of the
/// chain the server sent. Certificates are inspected, not trusted: an expired, self-signed or
/// wrongly named certificate still completes the handshake so that it can be reported on.
///
/// **Passes when**: every certificate of the chain is valid now and for at least `min_days`
/// more days. Message: the leaf's subject and expiry and, for a longer chain, the earliest
/// expiry in it, e.g. `certificate CN=shop.example expires in 61 days (2026-08-01)`.
///
/// **Fails with**: `assertion` when a certificate has expired (`certificate CN=x expired 3
/// days ago (2026-05-01)`), expires within `min_days` (`certificate CN=x expires in 3 days
/// (2026-11-30), fewer than 14`) or is not valid yet; `tls` when the handshake fails or a
/// certificate is not X.509 at all; `refused`, `timeout`, `dns` as for `tcp`. An `error` with
/// `config` when `address` is not `host:port` or the server name is invalid.
pub async fn tls(
    address: &str,
    server_name: Option<&str>,
    min_days: u32,
    timeout: Duration,
) -> Outcome {
    let (host, port) = match split_host_port(address) {
        Ok(parts) => parts,
        Err(message) => return Outcome::error(Reason::Config, message),
    };
    let sni = server_name.unwrap_or(host);
    let Ok(name) = ServerName::try_from(sni.to_owned()) else {
        return Outcome::error(
            Reason::Config,
            format!("invalid TLS server name {}", excerpt(sni)),
        );
    };
    let config = match inspect_only_config() {
        Ok(c) => c,
        Err(e) => return Outcome::error(Reason::Config, format!("cannot set up TLS: {e}")),
    };
    let handshake = async {
        let stream = connect(host, port).await?;
        let tls = TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| handshake_failure(&e, host))?;
        let chain: Vec<CertificateDer<'static>> = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|d| d.clone().into_owned()).collect())
            .unwrap_or_default();
        Ok::<_, Outcome>(chain)
    };
    match tokio::time::timeout(timeout, handshake).await {
        Err(_) => timed_out("no TLS handshake", timeout),
        Ok(Err(outcome)) => outcome,
        Ok(Ok(chain)) => assess(&chain, min_days, now()),
    }
}

fn handshake_failure(e: &std::io::Error, host: &str) -> Outcome {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return Outcome::fail_because(
            Reason::Tls,
            "TLS handshake failed: the server closed the connection",
        );
    }
    match classify(e, host) {
        Some(outcome) => outcome,
        None => Outcome::fail_because(
            Reason::Tls,
            format!("TLS handshake failed: {}", root_message(e)),
        ),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What the check needs to know of one certificate.
struct Cert {
    subject: String,
    not_before: i64,
    not_after: i64,
    expiry_date: String,
}

fn parse(der: &CertificateDer<'_>) -> Option<Cert> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let validity = cert.validity();
    let subject = match cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
    {
        Some(cn) => format!("CN={cn}"),
        None => match cert.subject().to_string() {
            s if s.is_empty() => "(no subject)".to_owned(),
            s => s,
        },
    };
    Some(Cert {
        subject: one_line(&subject, 120),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        expiry_date: validity.not_after.to_datetime().date().to_string(),
    })
}

/// Judges the chain as of `now` (seconds since the epoch).
fn assess(chain: &[CertificateDer<'_>], min_days: u32, now: i64) -> Outcome {
    let mut certs = Vec::with_capacity(chain.len());
    for (i, der) in chain.iter().enumerate() {
        match parse(der) {
            Some(c) => certs.push(c),
            None => {
                return Outcome::fail_because(
                    Reason::Tls,
                    format!("certificate #{} of the chain is not valid X.509", i + 1),
                );
            }
        }
    }
    let Some(leaf) = certs.first() else {
        return Outcome::fail_because(Reason::Tls, "the server sent no certificate");
    };
    let label = |i: usize| {
        if i == 0 {
            "certificate".to_owned()
        } else {
            format!("chain certificate #{}", i + 1)
        }
    };
    if let Some((i, c)) = certs.iter().enumerate().find(|(_, c)| c.not_before > now) {
        return Outcome::fail(format!(
            "{} {} is not valid until {}",
            label(i),
            c.subject,
            date_of(c.not_before)
        ));
    }
    let Some((i, earliest)) = certs.iter().enumerate().min_by_key(|(_, c)| c.not_after) else {
        return Outcome::fail_because(Reason::Tls, "the server sent no certificate");
    };
    let left = earliest.not_after.saturating_sub(now);
    if left < 0 {
        let ago = now.saturating_sub(earliest.not_after).div_euclid(DAY);
        let when = if ago == 0 {
            "less than a day ago".to_owned()
        } else {
            format!("{} ago", days(ago))
        };
        return Outcome::fail(format!(
            "{} {} expired {when} ({})",
            label(i),
            earliest.subject,
            earliest.expiry_date
        ));
    }
    let left_days = left.div_euclid(DAY);
    if left_days < i64::from(min_days) {
        return Outcome::fail(format!(
            "{} {} expires in {} ({}), fewer than {min_days}",
            label(i),
            earliest.subject,
            days(left_days),
            earliest.expiry_date
        ));
    }
    let leaf_days = leaf.not_after.saturating_sub(now).div_euclid(DAY);
    let mut message = format!(
        "certificate {} expires in {} ({})",
        leaf.subject,
        days(leaf_days),
        leaf.expiry_date
    );
    if certs.len() > 1 {
        message.push_str(&format!(
            "; earliest in the chain of {}: {} in {} ({})",
            certs.len(),
            earliest.subject,
            days(left_days),
            earliest.expiry_date
        ));
    }
    Outcome::pass(message)
}

/// `YYYY-MM-DD` of a timestamp, for the rare not-yet-valid message.
fn date_of(timestamp: i64) -> String {
    x509_parser::time::ASN1Time::from_timestamp(timestamp)
        .map(|t| t.to_datetime().date().to_string())
        .unwrap_or_else(|_| timestamp.to_string())
}
