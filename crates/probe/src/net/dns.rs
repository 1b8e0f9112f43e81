//! The `dns` check kind.

use super::NetContext;
use super::common::{excerpt, one_line, timed_out};
use crate::result::{Outcome, Reason};
use fearless_config::DnsCheck;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// At most this many answer values are listed in a message.
const LISTED: usize = 8;

/// `dns`: a DNS lookup and the values it answers.
///
/// **What it does**: asks `spec.server` (an `ip:port`), or the system's resolvers when unset,
/// for the `spec.record_type` records (A, AAAA, CNAME, MX, TXT, NS, SRV, PTR, SOA) of `name`
/// within `timeout`. A PTR lookup of an IP address asks for its reverse name. `/etc/hosts` is
/// not consulted and answers are not cached: the check asks DNS, now.
///
/// **Passes when**: there is at least one record and every value of `spec.expect` is among
/// the answers. Values compare as the record shows them, case-insensitively, without a
/// trailing dot; addresses compare as addresses; an MX or SRV value may also be given as its
/// target host alone. Message: `A shop.example → 10.0.1.11, 10.0.1.12`.
///
/// **Fails with**: `assertion` when an expected value is missing (`A shop.example →
/// 10.0.1.11 (expected 10.0.1.12)`); `dns` for NXDOMAIN, no records of that type, or an
/// error answer (SERVFAIL, REFUSED); `timeout` when the server does not answer in time;
/// `refused` when the server's port is closed. An `error` with `config` for an invalid name,
/// an unsupported record type, or an unusable resolver configuration.
pub async fn dns(ctx: &NetContext, spec: &DnsCheck, name: &str, timeout: Duration) -> Outcome {
    let Some(record_type) = record_type(&spec.record_type) else {
        return Outcome::error(
            Reason::Config,
            format!(
                "unsupported record type {} (use A, AAAA, CNAME, MX, TXT, NS, SRV, PTR or SOA)",
                excerpt(&spec.record_type)
            ),
        );
    };
    let query = match query_name(name, record_type) {
        Ok(q) => q,
        Err(message) => return Outcome::error(Reason::Config, message),
    };
    let resolver = match ctx.resolver(spec.server) {
        Ok(r) => r,
        Err(message) => return Outcome::error(Reason::Config, message),
    };
    let shown = one_line(name.trim_end_matches('.'), 120);
    let lookup = match tokio::time::timeout(timeout, resolver.lookup(query, record_type)).await {
        Err(_) => return timed_out(&format!("no DNS answer for {shown}"), timeout),
        Ok(Err(e)) => return failure(&e, record_type, &shown, spec, timeout),
        Ok(Ok(lookup)) => lookup,
    };
    let values: Vec<String> = lookup
        .answers()
        .iter()
        .filter(|r| r.record_type() == record_type)
        .map(|r| value_of(&r.data))
        .collect();
    if values.is_empty() {
        return Outcome::fail_because(Reason::Dns, format!("no {record_type} records for {shown}"));
    }
    let missing: Vec<&String> = spec
        .expect
        .iter()
        .filter(|e| !values.iter().any(|v| matches(record_type, e, v)))
        .collect();
    let listed = list(&values);
    if missing.is_empty() {
        Outcome::pass(format!("{record_type} {shown} → {listed}"))
    } else {
        let missing: Vec<String> = missing.iter().map(|m| one_line(m, 120)).collect();
        Outcome::fail(format!(
            "{record_type} {shown} → {listed} (expected {})",
            missing.join(", ")
        ))
    }
}

/// The record types the check supports.
fn record_type(text: &str) -> Option<RecordType> {
    let rt = RecordType::from_str(&text.trim().to_ascii_uppercase()).ok()?;
    use RecordType as T;
    matches!(
        rt,
        T::A | T::AAAA | T::CNAME | T::MX | T::TXT | T::NS | T::SRV | T::PTR | T::SOA
    )
    .then_some(rt)
}

/// The name to ask for: an IP address becomes its reverse name for PTR.
fn query_name(name: &str, record_type: RecordType) -> Result<Name, String> {
    let name = name.trim();
    if record_type == RecordType::PTR
        && let Ok(ip) = name.parse::<IpAddr>()
    {
        return Ok(Name::from(ip));
    }
    if name.is_empty() {
        return Err("empty DNS name".to_owned());
    }
    Name::from_str(name).map_err(|e| {
        format!(
            "invalid DNS name {}: {}",
            excerpt(name),
            one_line(&e.to_string(), 120)
        )
    })
}

/// A record's value as text, the way the check's `expect` values are written.
fn value_of(data: &RData) -> String {
    let name = |n: &Name| n.to_ascii().trim_end_matches('.').to_owned();
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(n) => name(&n.0),
        RData::NS(n) => name(&n.0),
        RData::PTR(n) => name(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference, name(&mx.exchange)),
        RData::SRV(srv) => format!(
            "{} {} {} {}",
            srv.priority,
            srv.weight,
            srv.port,
            name(&srv.target)
        ),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| String::from_utf8_lossy(s))
            .collect::<Vec<_>>()
            .concat(),
        RData::SOA(soa) => format!(
            "{} {} {} {} {} {} {}",
            name(&soa.mname),
            name(&soa.rname),
            soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum
        ),
        other => other.to_string(),
    }
}

/// Whether the answer value `got` satisfies the expected value `want`.
fn matches(record_type: RecordType, want: &str, got: &str) -> bool {
    let want = want.trim();
    if let (Ok(w), Ok(g)) = (want.parse::<IpAddr>(), got.parse::<IpAddr>()) {
        return w == g;
    }
    if record_type == RecordType::TXT {
        return want == got;
    }
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let (want, got) = (norm(want), norm(got));
    if want == got {
        return true;
    }
    // An MX or SRV value may be given as its target alone.
    matches!(record_type, RecordType::MX | RecordType::SRV)
        && got.rsplit(' ').next() == Some(want.as_str())
}

fn list(values: &[String]) -> String {
    let mut shown: Vec<String> = values
        .iter()
        .take(LISTED)
        .map(|v| one_line(v, 80))
        .collect();
    if values.len() > LISTED {
        shown.push(format!("… ({} in all)", values.len()));
    }
    shown.join(", ")
}

fn failure(
    e: &NetError,
    record_type: RecordType,
    shown: &str,
    spec: &DnsCheck,
    timeout: Duration,
) -> Outcome {
    let server = spec
        .server
        .map(|s| format!(" (server {s})"))
        .unwrap_or_default();
    if e.is_nx_domain() {
        return Outcome::fail_because(
            Reason::Dns,
            format!("{shown} does not exist (NXDOMAIN){server}"),
        );
    }
    if e.is_no_records_found() {
        return Outcome::fail_because(
            Reason::Dns,
            format!("no {record_type} records for {shown}{server}"),
        );
    }
    match e {
        NetError::Timeout => timed_out(&format!("no DNS answer for {shown}{server}"), timeout),
        NetError::Dns(DnsError::ResponseCode(code)) => {
            let code = match code {
                ResponseCode::ServFail => "SERVFAIL".to_owned(),
                ResponseCode::Refused => "REFUSED".to_owned(),
                other => other.to_string(),
            };
            Outcome::fail_because(
                Reason::Dns,
                format!("the server answered {code} for {shown}{server}"),
            )
        }
        NetError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Outcome::fail_because(
                Reason::Refused,
                format!("DNS server refused the connection{server}"),
            )
        }
        other => Outcome::fail_because(
            Reason::Dns,
            format!(
                "lookup of {shown} failed: {}{server}",
                one_line(&other.to_string(), 160)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules() {
        assert!(matches(RecordType::A, "10.0.0.1", "10.0.0.1"));
        assert!(matches(RecordType::AAAA, "::1", "0:0:0:0:0:0:0:1"));
        assert!(matches(RecordType::CNAME, "Shop.Example.", "shop.example"));
        assert!(matches(RecordType::MX, "mail.example", "10 mail.example"));
        assert!(matches(
            RecordType::MX,
            "10 mail.example",
            "10 mail.example"
        ));
        assert!(!matches(RecordType::TXT, "V=spf1", "v=spf1"));
        assert!(!matches(RecordType::A, "10.0.0.2", "10.0.0.1"));
    }

    #[test]
    fn record_types() {
        assert_eq!(record_type("aaaa"), Some(RecordType::AAAA));
        assert_eq!(record_type("AXFR"), None);
        assert_eq!(record_type("bogus"), None);
    }
}
