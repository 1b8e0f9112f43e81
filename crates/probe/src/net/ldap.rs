//! The `ldap` check kind: a bind, then a search with an expected number of entries.

use super::common::{classify, excerpt, one_line, root_message, timed_out};
use super::context::NetContext;
use crate::result::{Outcome, Reason};
use fearless_config::{LdapBind, LdapCheck, LdapExpect};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Scope, SearchOptions};
use std::time::Duration;

/// Result codes (RFC 4511 §A.1) the check tells apart.
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const AUTH_METHOD_NOT_SUPPORTED: u32 = 7;
const STRONGER_AUTH_REQUIRED: u32 = 8;
const CONFIDENTIALITY_REQUIRED: u32 = 13;
const NO_SUCH_OBJECT: u32 = 32;
const INAPPROPRIATE_AUTHENTICATION: u32 = 48;
const INVALID_CREDENTIALS: u32 = 49;
const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;

/// `ldap`: a bind and a subtree search against an LDAP server.
///
/// **What it does**: connects to `url` — `ldap://host[:port]` (389), `ldaps://host[:port]`
/// (636; TLS with rustls, certificates verified against the system's roots), or
/// `ldapi://%2Fpath%2Fto%2Fsocket` (a Unix socket) —, binds as `spec.bind` says (nothing:
/// anonymous; a DN and password: a simple bind; `external`: SASL EXTERNAL, whose identity is
/// the connection's: the peer credentials of an `ldapi://` socket), searches the subtree of
/// `spec.base` for `spec.filter` asking for no attributes (`1.1`) and at most as many
/// entries as the expectation needs, unbinds. All within `timeout`.
///
/// **Passes when**: the number of entries meets `spec.expect` (at least 1 by default).
/// Message: `found 1 entry for (uid=alice) under ou=people,dc=example,dc=org (bound as
/// cn=monitor,dc=example,dc=org)`.
///
/// **Fails with**: `auth` when the bind is refused (invalidCredentials,
/// inappropriateAuthentication, an unsupported mechanism) or the search is
/// (insufficientAccessRights, stronger authentication or confidentiality required);
/// `assertion` when the count does not meet the expectation, the base does not exist
/// (noSuchObject) or the server answers another error; `refused` when nothing listens (no
/// socket at the `ldapi` path) or the connection drops; `timeout`, `dns`, `tls` as usual.
/// An `error` with `config` when the URL or the filter cannot be used. The bind password
/// never appears in a message.
pub async fn ldap(net: &NetContext, spec: &LdapCheck, url: &str, timeout: Duration) -> Outcome {
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            return Outcome::error(
                Reason::Config,
                format!("invalid LDAP URL {}: {e}", excerpt(url)),
            );
        }
    };
    let server = server(&parsed);
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let mut settings = LdapConnSettings::new().set_conn_timeout(timeout);
    if parsed.scheme() == "ldaps" {
        match net.ldap_tls() {
            Ok(config) => settings = settings.set_config(config),
            Err(why) => {
                return Outcome::fail_because(
                    Reason::Tls,
                    format!("cannot verify the certificate of {server}: {why}"),
                );
            }
        }
    }
    let work = async {
        let (conn, mut ldap) = LdapConnAsync::from_url_with_settings(settings, &parsed)
            .await
            .map_err(|e| failure(&e, &host, &server))?;
        // The connection's task ends when the handle is gone and the server has closed.
        tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        let result = exchange(&mut ldap, spec, &server).await;
        // Unbind either way; a failure to unbind does not change what was observed.
        let _ = ldap.unbind().await;
        result
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => timed_out(&format!("no answer from {server}"), timeout),
        Ok(Err(outcome)) => outcome,
        Ok(Ok(found)) => assess(spec, &found),
    }
}

/// What a search found.
#[derive(Debug)]
struct Found {
    entries: usize,
    /// The search stopped at a size limit (ours, or a lower one of the server).
    limited: bool,
    /// How the check bound, for the message.
    bound: String,
}

/// Where the check connects, for messages: `host:port`, or the socket's path.
fn server(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "ldapi" => percent_encoding::percent_decode_str(host)
            .decode_utf8_lossy()
            .into_owned(),
        scheme => {
            let default = if scheme == "ldaps" { 636 } else { 389 };
            format!("{host}:{}", url.port().unwrap_or(default))
        }
    }
}

/// Bind, search, count.
async fn exchange(ldap: &mut Ldap, spec: &LdapCheck, server: &str) -> Result<Found, Outcome> {
    let bound = match &spec.bind {
        LdapBind::Anonymous => "anonymously".to_owned(),
        LdapBind::Simple { dn, password } => {
            let res = ldap
                .simple_bind(dn, password)
                .await
                .map_err(|e| failure(&e, "", server))?;
            if res.rc != 0 {
                return Err(refused_bind(&res, &format!("the bind as {dn}")));
            }
            format!("bound as {dn}")
        }
        LdapBind::External => {
            let res = ldap
                .sasl_external_bind()
                .await
                .map_err(|e| failure(&e, "", server))?;
            if res.rc != 0 {
                return Err(refused_bind(&res, "the SASL EXTERNAL bind"));
            }
            "bound with SASL EXTERNAL".to_owned()
        }
    };
    // Ask for no more entries than the expectation needs: one more than an exact count
    // tells "too many", and a minimum needs no more than itself.
    let wanted = match spec.expect {
        LdapExpect::Exactly(n) => n.saturating_add(1),
        LdapExpect::AtLeast(n) => n.max(1),
    };
    let limit = i32::try_from(wanted).unwrap_or(i32::MAX);
    let no_attributes = vec!["1.1"];
    let ldap3::SearchResult(entries, res) = ldap
        .with_search_options(SearchOptions::new().sizelimit(limit))
        .search(&spec.base, Scope::Subtree, &spec.filter, no_attributes)
        .await
        .map_err(|e| failure(&e, "", server))?;
    match res.rc {
        0 | SIZE_LIMIT_EXCEEDED => Ok(Found {
            entries: entries.len(),
            limited: res.rc == SIZE_LIMIT_EXCEEDED && entries.len() < limit_len(limit),
            bound,
        }),
        NO_SUCH_OBJECT => Err(Outcome::fail(format!(
            "the search base {} does not exist (noSuchObject{})",
            excerpt(&spec.base),
            server_text(&res)
        ))),
        INSUFFICIENT_ACCESS_RIGHTS | STRONGER_AUTH_REQUIRED | CONFIDENTIALITY_REQUIRED => {
            Err(Outcome::fail_because(
                Reason::Auth,
                format!("the search was refused ({bound}): {}", describe(&res)),
            ))
        }
        _ => Err(Outcome::fail(format!(
            "the search failed: {}",
            describe(&res)
        ))),
    }
}

fn limit_len(limit: i32) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// A refused bind: `auth` for the codes that mean "not you", `assertion` otherwise.
fn refused_bind(res: &LdapResult, what: &str) -> Outcome {
    let message = format!("{what} was refused: {}", describe(res));
    match res.rc {
        INVALID_CREDENTIALS
        | INAPPROPRIATE_AUTHENTICATION
        | INSUFFICIENT_ACCESS_RIGHTS
        | AUTH_METHOD_NOT_SUPPORTED
        | STRONGER_AUTH_REQUIRED
        | CONFIDENTIALITY_REQUIRED => Outcome::fail_because(Reason::Auth, message),
        _ => Outcome::fail(message),
    }
}

/// `invalidCredentials (49)`, with the server's text when it gave one.
fn describe(res: &LdapResult) -> String {
    let name = match res.rc {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        SIZE_LIMIT_EXCEEDED => "sizeLimitExceeded",
        AUTH_METHOD_NOT_SUPPORTED => "authMethodNotSupported",
        STRONGER_AUTH_REQUIRED => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        CONFIDENTIALITY_REQUIRED => "confidentialityRequired",
        NO_SUCH_OBJECT => "noSuchObject",
        34 => "invalidDNSyntax",
        INAPPROPRIATE_AUTHENTICATION => "inappropriateAuthentication",
        INVALID_CREDENTIALS => "invalidCredentials",
        INSUFFICIENT_ACCESS_RIGHTS => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "result",
    };
    format!("{name} ({}){}", res.rc, server_text(res))
}

/// `: TEXT` when the server said something.
fn server_text(res: &LdapResult) -> String {
    if res.text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", excerpt(res.text.trim()))
    }
}

/// Whether the count meets the expectation.
fn assess(spec: &LdapCheck, found: &Found) -> Outcome {
    let n = found.entries;
    let entries = match n {
        0 => "no entry".to_owned(),
        1 => "1 entry".to_owned(),
        n => format!("{n} entries"),
    };
    let what = format!(
        "for {} under {} ({})",
        spec.filter,
        if spec.base.is_empty() {
            "the root"
        } else {
            spec.base.as_str()
        },
        found.bound
    );
    let server_limit = if found.limited {
        "; the server's size limit stopped the search"
    } else {
        ""
    };
    let (ok, expected) = match spec.expect {
        LdapExpect::Exactly(want) => {
            let want = usize::try_from(want).unwrap_or(usize::MAX);
            if n > want {
                return Outcome::fail(format!(
                    "found more than {} {what} (expected exactly {want})",
                    if want == 1 {
                        "1 entry"
                    } else {
                        "that many entries"
                    }
                ));
            }
            (n == want && !found.limited, format!("exactly {want}"))
        }
        LdapExpect::AtLeast(min) => {
            let min = usize::try_from(min).unwrap_or(usize::MAX);
            (n >= min, format!("at least {min}"))
        }
    };
    if ok {
        Outcome::pass(format!("found {entries} {what}"))
    } else {
        Outcome::fail(format!(
            "found {entries} {what} (expected {expected}{server_limit})"
        ))
    }
}

/// A failure below the LDAP results: connection, TLS, protocol, or what cannot be run.
fn failure(e: &LdapError, host: &str, server: &str) -> Outcome {
    match e {
        LdapError::Io { source } => {
            if let Some(outcome) = classify(source, host) {
                return outcome;
            }
            if source.kind() == std::io::ErrorKind::NotFound {
                return Outcome::fail_because(Reason::Refused, format!("no socket at {server}"));
            }
            if source.kind() == std::io::ErrorKind::PermissionDenied {
                return Outcome::fail_because(
                    Reason::Refused,
                    format!("permission denied to connect to {server}"),
                );
            }
            Outcome::fail_because(
                Reason::Refused,
                format!("cannot connect to {server}: {}", root_message(source)),
            )
        }
        LdapError::Timeout { .. } => {
            Outcome::fail_because(Reason::Timeout, format!("no answer from {server} in time"))
        }
        LdapError::Rustls { source } => Outcome::fail_because(
            Reason::Tls,
            format!(
                "TLS handshake failed: {}",
                one_line(&source.to_string(), 160)
            ),
        ),
        LdapError::LdapResult { result } => {
            Outcome::fail(format!("{server} answered {}", describe(result)))
        }
        LdapError::FilterParsing => Outcome::error(
            Reason::Config,
            "the search filter does not parse (RFC 4515)",
        ),
        LdapError::UrlParsing { .. }
        | LdapError::UnknownScheme(_)
        | LdapError::EmptyUnixPath
        | LdapError::PortInUnixPath
        | LdapError::DNSName { .. } => Outcome::error(
            Reason::Config,
            format!("cannot use the LDAP URL: {}", one_line(&e.to_string(), 160)),
        ),
        LdapError::EndOfStream
        | LdapError::ResultRecv { .. }
        | LdapError::OpSend { .. }
        | LdapError::IdScrubSend { .. }
        | LdapError::MiscSend { .. } => {
            Outcome::fail_because(Reason::Refused, format!("{server} closed the connection"))
        }
        _ => Outcome::fail(format!("LDAP error: {}", one_line(&e.to_string(), 160))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fearless_config::Template;

    fn spec(expect: LdapExpect) -> LdapCheck {
        LdapCheck {
            url: Template::parse("ldap://127.0.0.1").expect("template"),
            bind: LdapBind::Anonymous,
            base: "dc=example,dc=org".into(),
            filter: "(uid=alice)".into(),
            expect,
        }
    }

    fn found(entries: usize, limited: bool) -> Found {
        Found {
            entries,
            limited,
            bound: "anonymously".into(),
        }
    }

    #[test]
    fn counts_meet_expectations() {
        let at_least_one = spec(LdapExpect::AtLeast(1));
        assert!(assess(&at_least_one, &found(1, false)).status.is_ok());
        let none = assess(&at_least_one, &found(0, false));
        assert_eq!(none.reason, Some(Reason::Assertion));
        assert!(
            none.message.starts_with("found no entry for (uid=alice)"),
            "{}",
            none.message
        );
        let exactly_two = spec(LdapExpect::Exactly(2));
        assert!(assess(&exactly_two, &found(2, false)).status.is_ok());
        assert!(!assess(&exactly_two, &found(3, false)).status.is_ok());
        assert!(!assess(&exactly_two, &found(1, false)).status.is_ok());
        let exactly_none = spec(LdapExpect::Exactly(0));
        assert!(assess(&exactly_none, &found(0, false)).status.is_ok());
        let limited = assess(&spec(LdapExpect::AtLeast(10)), &found(5, true));
        assert!(
            limited.message.contains("size limit"),
            "{}",
            limited.message
        );
    }

    #[test]
    fn servers_are_named() {
        let u = |s: &str| url::Url::parse(s).expect("url");
        assert_eq!(server(&u("ldap://db.example")), "db.example:389");
        assert_eq!(server(&u("ldaps://db.example")), "db.example:636");
        assert_eq!(server(&u("ldap://127.0.0.1:3389/")), "127.0.0.1:3389");
        assert_eq!(
            server(&u("ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi")),
            "/var/run/slapd/ldapi"
        );
    }
}
