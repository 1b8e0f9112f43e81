//! Pieces shared by the network checks: connecting with typed failures, classifying error
//! chains into [`Reason`]s, redacting URLs and keeping messages to one short line.

use crate::result::{Outcome, Reason};
use std::error::Error;
use std::fmt::Write as _;
use std::io;
use std::time::Duration;
use tokio::net::TcpStream;

/// Longest excerpt of remote-controlled text (bodies, subjects, server messages) in a message.
const EXCERPT_CHARS: usize = 80;

/// `url` with the password of its user-info replaced by `***`, safe to show and log.
///
/// Works on text that does not parse as a URL too, so an invalid URL can still be named in
/// the error that says it is invalid.
pub(super) fn redact_url(url: &str) -> String {
    one_line(&fearless_config::redact_userinfo(url), 200)
}

/// `text` on one line: control characters escaped, at most `max` characters (then `…`).
pub(super) fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Remote-controlled text as a short quoted excerpt.
pub(super) fn excerpt(text: &str) -> String {
    format!("\"{}\"", one_line(text, EXCERPT_CHARS).replace('"', "\\\""))
}

/// A duration the way an operator writes it: `300 ms`, `5 s`, `1.5 s`.
pub(super) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `1 day`, `3 days`.
pub(super) fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_owned()
    } else {
        format!("{n} days")
    }
}

/// The component did not answer within the timeout.
pub(super) fn timed_out(what: &str, timeout: Duration) -> Outcome {
    Outcome::fail_because(Reason::Timeout, format!("{what} within {}", human(timeout)))
}

/// Splits `host:port` (or `[v6]:port`) into its parts.
pub(super) fn split_host_port(address: &str) -> Result<(&str, u16), String> {
    let address = address.trim();
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("invalid address {}: unclosed '['", excerpt(address)))?;
        let port = after.strip_prefix(':').ok_or_else(|| {
            format!(
                "address {} has no port (expected host:port)",
                excerpt(address)
            )
        })?;
        (host, port)
    } else {
        let (host, port) = address.rsplit_once(':').ok_or_else(|| {
            format!(
                "address {} has no port (expected host:port)",
                excerpt(address)
            )
        })?;
        if host.contains(':') {
            return Err(format!(
                "address {} is ambiguous: write IPv6 addresses as [addr]:port",
                excerpt(address)
            ));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(format!(
            "address {} has no host (expected host:port)",
            excerpt(address)
        ));
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("invalid port in address {}", excerpt(address)))?;
    Ok((host, port))
}

/// Resolves `host` and connects to the first address that accepts, with typed failures.
///
/// Not bounded in time: callers wrap it (with whatever else they do) in their timeout.
pub(super) async fn connect(host: &str, port: u16) -> Result<TcpStream, Outcome> {
    let addrs: Vec<_> = match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => addrs.collect(),
        Err(e) => return Err(not_resolved(host, &e)),
    };
    if addrs.is_empty() {
        return Err(Outcome::fail_because(
            Reason::Dns,
            format!("{} resolves to no address", excerpt(host)),
        ));
    }
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Checks exchange small messages; waiting for Nagle only adds latency.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    Err(match last {
        Some((addr, e)) => {
            let (reason, what) = io_failure(&e).unwrap_or((Reason::Refused, "connection failed"));
            let detail = if what == "connection failed" {
                format!("{what}: {e}")
            } else {
                what.to_owned()
            };
            Outcome::fail_because(reason, format!("{detail} ({addr})"))
        }
        None => Outcome::fail_because(
            Reason::Dns,
            format!("{} resolves to no address", excerpt(host)),
        ),
    })
}

/// A name-resolution failure from the system resolver.
pub(super) fn not_resolved(host: &str, e: &io::Error) -> Outcome {
    let detail = e.to_string();
    let detail = detail
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&detail);
    Outcome::fail_because(
        Reason::Dns,
        format!(
            "{} does not resolve: {}",
            excerpt(host),
            one_line(detail, EXCERPT_CHARS)
        ),
    )
}

/// The reason and a short phrase for socket-level failures that have one.
pub(super) fn io_failure(e: &io::Error) -> Option<(Reason, &'static str)> {
    use io::ErrorKind as K;
    Some(match e.kind() {
        K::ConnectionRefused => (Reason::Refused, "connection refused"),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            (Reason::Refused, "connection reset")
        }
        K::UnexpectedEof => (Reason::Refused, "connection closed by the peer"),
        K::TimedOut => (Reason::Timeout, "connection timed out"),
        K::HostUnreachable => (Reason::Refused, "host unreachable"),
        K::NetworkUnreachable => (Reason::Refused, "network unreachable"),
        K::AddrNotAvailable => (Reason::Refused, "address not available"),
        _ => return None,
    })
}

/// Every error in `e`'s chain, outermost first, including the payloads of `io::Error`s
/// (which `io::Error::source` skips).
pub(super) fn chain<'a>(e: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    let mut out: Vec<&'a (dyn Error + 'static)> = Vec::new();
    let mut current = Some(e);
    while let Some(err) = current {
        if out.len() >= 32 {
            break;
        }
        out.push(err);
        current = match err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => err.source(),
        };
    }
    out
}

/// Classifies a transport-level error chain (as returned by HTTP, AMQP and SQL clients):
/// TLS, name resolution, then socket failures. `None` when nothing in it is recognised.
pub(super) fn classify(e: &(dyn Error + 'static), host: &str) -> Option<Outcome> {
    let links = chain(e);
    for link in &links {
        if let Some(tls) = link.downcast_ref::<rustls::Error>() {
            return Some(Outcome::fail_because(
                Reason::Tls,
                format!("TLS handshake failed: {}", one_line(&tls.to_string(), 160)),
            ));
        }
    }
    for link in &links {
        // std's getaddrinfo errors start with this phrase (their kind is uncategorised).
        if let Some(io) = link.downcast_ref::<io::Error>()
            && io
                .to_string()
                .starts_with("failed to lookup address information")
        {
            return Some(not_resolved(host, io));
        }
    }
    // hyper-util wraps resolver failures, whatever they are, in a "dns error".
    if links.iter().any(|l| l.to_string() == "dns error") {
        return Some(Outcome::fail_because(
            Reason::Dns,
            format!("{} does not resolve", excerpt(host)),
        ));
    }
    for link in &links {
        if let Some(io) = link.downcast_ref::<io::Error>()
            && let Some((reason, what)) = io_failure(io)
        {
            return Some(Outcome::fail_because(reason, what));
        }
    }
    None
}

/// The innermost message of an error chain, which is usually the one that says why.
pub(super) fn root_message(e: &(dyn Error + 'static)) -> String {
    let links = chain(e);
    let text = links.last().map(|l| l.to_string()).unwrap_or_default();
    one_line(&text, 160)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact_url("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(redact_url("http://a:b:c@h/x?y=1"), "http://a:***@h/x?y=1");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("http://u:p@"), "http://u:***@");
    }

    #[test]
    fn splits_addresses() {
        assert_eq!(split_host_port("db:5432"), Ok(("db", 5432)));
        assert_eq!(split_host_port("[::1]:443"), Ok(("::1", 443)));
        assert!(split_host_port("db").is_err());
        assert!(split_host_port("::1:443").is_err());
        assert!(split_host_port(":80").is_err());
        assert!(split_host_port("h:99999").is_err());
        assert!(split_host_port("[::1").is_err());
    }

    #[test]
    fn one_line_escapes_and_truncates() {
        assert_eq!(one_line("a\nb\u{7}", 10), "a\\nb\\u{7}");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(300)), "300 ms");
        assert_eq!(human(Duration::from_secs(5)), "5 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
    }
}
