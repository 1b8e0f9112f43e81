//! What `hard-coded-address` reports: IP literals outside the loopback and documentation
//! ranges anywhere in a string, and string literals whose whole value is a host name (or a
//! URL whose authority is one) — decided here in Rust on a literal's value, after the rule's
//! cheap regex has picked the candidate literal nodes out of the syntax tree.
//!
//! A host name is two or more DNS labels, written in lower case as host names in code are,
//! ending in a top-level domain from a fixed list: the classic generic ones and a few newer
//! ones seen on services, the private suffixes `internal`, `local`, `lan`, `corp`,
//! `intranet`, and the country codes — a bare name (no URL around it, no port) only with
//! three labels and a country code common on services (`io`, `co`, `uk`, `de`, …), since
//! `torch.gt` or `scipy.io` are identifiers. What looks like a host name but is not an
//! address is left alone:
//! - file names: a country code that is also a common file extension or property-key suffix
//!   (`py`, `md`, `rs`, `sh`, `id`, `ms`, …) is not taken as a top-level domain;
//! - reversed-domain package and namespace names (`com.acme.app`), settings modules
//!   (`mysite.settings.local`), identifiers with capitals or `_` (`System.IO`);
//! - module paths (`github.com/acme/x`): a value without a scheme must be `host` or
//!   `host:port` alone; version strings (no alphabetic top-level domain);
//! - e-mail addresses (`ops@acme.com`: a contact, not an endpoint — in a shell script,
//!   `user@host` is an ssh destination and is reported);
//! - the names RFC 2606 and RFC 6761 reserve for documentation and testing (`example.com`,
//!   `*.example`, `*.test`, `*.invalid`, `localhost`);
//! - hosts whose URLs are identifiers rather than endpoints (XML, GML and JSON-schema
//!   namespaces, Kubernetes API groups).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP address literals in a text (`10.0.0.5`, `10.0.0.5:8080`, `[fd00::1]:443`): runs of
/// hex digits, dots and colons that stand apart from letters and digits around them (the
/// `bda::F` in `AWS::Lambda::Function` is no address); an IPv6 address needs a digit.
pub(crate) fn addresses(text: &str) -> Vec<IpAddr> {
    let bytes = text.as_bytes();
    let in_run = |b: u8| b.is_ascii_hexdigit() || b == b'.' || b == b':';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !in_run(bytes[i]) {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < bytes.len() && in_run(bytes[i]) {
            i += 1;
        }
        let mut start = run_start;
        let mut end = i;
        while start < end && matches!(bytes[start], b'.' | b':') {
            start += 1;
        }
        while end > start && matches!(bytes[end - 1], b'.' | b':') {
            end -= 1;
        }
        let alnum_at = |j: Option<usize>| {
            j.and_then(|j| bytes.get(j))
                .is_some_and(u8::is_ascii_alphanumeric)
        };
        if start == end || alnum_at(start.checked_sub(1)) || alnum_at(Some(end)) {
            continue;
        }
        let token = &text[start..end];
        if let Ok(v6) = token.parse::<Ipv6Addr>() {
            if token.bytes().any(|b| b.is_ascii_digit()) {
                out.push(IpAddr::V6(v6));
            }
            continue;
        }
        let host = match token.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => token,
        };
        if let Ok(v4) = host.parse::<Ipv4Addr>() {
            out.push(IpAddr::V4(v4));
        }
    }
    out
}

/// Whether an address is worth reporting: not loopback, unspecified, a netmask or a
/// documentation range (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
pub(crate) fn reportable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_unspecified()
                || a == 255
                || (a, b, c) == (192, 0, 2)
                || (a, b, c) == (198, 51, 100)
                || (a, b, c) == (203, 0, 113))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback() || v6.is_unspecified() || (s[0], s[1]) == (0x2001, 0x0db8))
        }
    }
}

/// The value of a string literal as written between its delimiters: the node's text without
/// a prefix (`f`, `r`, `b`, `@`, `$`, `%q`) and its quotes (`"`, `'`, `` ` ``, tripled or
/// not, or a `%q(…)` bracket pair). A shell word has none and is returned as it is.
pub(crate) fn literal_value(text: &str) -> &str {
    let body = text.trim_start_matches(|c: char| c.is_ascii_alphabetic() || "@$%".contains(c));
    let Some(open) = body.chars().next() else {
        return text;
    };
    if body.len() < text.len() || "\"'`".contains(open) {
        if "\"'`".contains(open) {
            let q3 = format!("{open}{open}{open}");
            if body.len() >= 6 && body.starts_with(&q3) && body.ends_with(&q3) {
                return &body[3..body.len() - 3];
            }
            if body.len() >= 2 && body.ends_with(open) {
                return &body[1..body.len() - 1];
            }
            return text;
        }
        let close = match open {
            '(' => ')',
            '[' => ']',
            '{' => '}',
            '<' => '>',
            _ => return text,
        };
        if body.len() >= 2 && body.ends_with(close) {
            return &body[1..body.len() - 1];
        }
    }
    text
}

/// The host name a literal's whole value names — `host`, `host:port` or a URL's authority
/// (`scheme://[user@]host[:port][/…]`, `jdbc:mysql://…`, `//host/…`) — when it is one worth
/// reporting.
pub(crate) fn hostname(value: &str) -> Option<&str> {
    let mut bare = false;
    let authority = if let Some((scheme, rest)) = value.split_once("://") {
        let mut chars = scheme.chars();
        let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+.-:".contains(c));
        if !scheme_ok || scheme.eq_ignore_ascii_case("file") {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
    } else if let Some(rest) = value.strip_prefix("//") {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        &rest[..end]
    } else {
        // No scheme: the whole value must be `host` or `host:port` (a path is a module path
        // or a file, an `@` an e-mail address).
        bare = true;
        value
    };
    let host = match authority.rsplit_once(':') {
        Some((host, port))
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            bare = false;
            host
        }
        Some(_) => return None,
        None => authority,
    };
    reportable_host(host, bare).then_some(host)
}

/// The host of an ssh or scp destination (`deploy@web1.acme.com`,
/// `deploy@web1.acme.com:/srv/app`), for shell words: outside a shell script `a@b.com` is an
/// e-mail address.
pub(crate) fn ssh_destination(value: &str) -> Option<&str> {
    if value.contains("://") {
        return None;
    }
    let (_, rest) = value.rsplit_once('@')?;
    let host = rest.split_once(':').map_or(rest, |(host, _)| host);
    hostname(host)
}

/// Whether a name is a DNS host name with a real-looking top-level domain that is not
/// reserved, a reversed-domain package name, a settings module (`mysite.settings.local`), or
/// an identifier host. A `bare` name (no URL
/// around it, no port) ending in a country code must have three labels and one of the
/// country codes common on services: `torch.gt`, `f32.ne` and `scipy.io` are identifiers.
fn reportable_host(host: &str, bare: bool) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let (Some(&first), Some(&tld)) = (labels.first(), labels.last()) else {
        return false;
    };
    if labels.len() < 2 || !labels.iter().all(|l| is_label(l)) {
        return false;
    }
    let tld_ok = if tld.len() == 2 {
        COUNTRY_CODES.contains(&tld)
            && !NOT_COUNTRY_CODES.contains(&tld)
            && (!bare || (labels.len() >= 3 && COMMON_COUNTRY_CODES.contains(&tld)))
    } else {
        GENERIC.contains(&tld)
    };
    if !tld_ok {
        return false;
    }
    if REVERSED_FIRST.contains(&first) || labels.contains(&"settings") {
        return false;
    }
    let within = |domain: &str| {
        host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.'))
    };
    !(RESERVED_DOMAINS.iter().any(|d| within(d)) || IDENTIFIER_DOMAINS.iter().any(|d| within(d)))
}

/// One DNS label as host names in code write it: lower-case letters, digits and inner
/// hyphens, at most 63 characters (no `_`: that is an identifier, not a host name).
fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Generic top-level domains taken as such: the classic ones, a few newer ones common on
/// services, and the private suffixes of internal networks. Kept short on purpose: `.info`,
/// `.name`, `.host` or `.zip` end property keys and file names (`asset.info`, `user.name`,
/// `db.host`, `dist.zip`) far more often than host names.
const GENERIC: &[&str] = &[
    "com", "net", "org", "edu", "gov", "mil", "int", "biz", "app", "dev", "cloud", "tech",
    "online", "site", "xyz", "internal", "local", "lan", "corp", "intranet", "intra",
];

/// The ISO 3166 country codes in use as top-level domains, with `ac`, `eu` and `uk`.
const COUNTRY_CODES: &[&str] = &[
    "ac", "ad", "ae", "af", "ag", "ai", "al", "am", "ao", "aq", "ar", "as", "at", "au", "aw", "ax",
    "az", "ba", "bb", "bd", "be", "bf", "bg", "bh", "bi", "bj", "bm", "bn", "bo", "br", "bs", "bt",
    "bw", "by", "bz", "ca", "cc", "cd", "cf", "cg", "ch", "ci", "ck", "cl", "cm", "cn", "co", "cr",
    "cu", "cv", "cw", "cx", "cy", "cz", "de", "dj", "dk", "dm", "do", "dz", "ec", "ee", "eg", "er",
    "es", "et", "eu", "fi", "fj", "fk", "fm", "fo", "fr", "ga", "gd", "ge", "gf", "gg", "gh", "gi",
    "gl", "gm", "gn", "gp", "gq", "gr", "gs", "gt", "gu", "gw", "gy", "hk", "hm", "hn", "hr", "ht",
    "hu", "id", "ie", "il", "im", "in", "io", "iq", "ir", "is", "it", "je", "jm", "jo", "jp", "ke",
    "kg", "kh", "ki", "km", "kn", "kp", "kr", "kw", "ky", "kz", "la", "lb", "lc", "li", "lk", "lr",
    "ls", "lt", "lu", "lv", "ly", "ma", "mc", "md", "me", "mg", "mh", "mk", "ml", "mm", "mn", "mo",
    "mp", "mq", "mr", "ms", "mt", "mu", "mv", "mw", "mx", "my", "mz", "na", "nc", "ne", "nf", "ng",
    "ni", "nl", "no", "np", "nr", "nu", "nz", "om", "pa", "pe", "pf", "pg", "ph", "pk", "pl", "pm",
    "pn", "pr", "ps", "pt", "pw", "py", "qa", "re", "ro", "rs", "ru", "rw", "sa", "sb", "sc", "sd",
    "se", "sg", "sh", "si", "sk", "sl", "sm", "sn", "so", "sr", "ss", "st", "su", "sv", "sx", "sy",
    "sz", "tc", "td", "tf", "tg", "th", "tj", "tk", "tl", "tm", "tn", "to", "tr", "tt", "tv", "tw",
    "tz", "ua", "ug", "uk", "us", "uy", "uz", "va", "vc", "ve", "vg", "vi", "vn", "vu", "wf", "ws",
    "ye", "yt", "za", "zm", "zw", "bl", "bq", "mf", "eh", "gb", "sj", "um",
];

/// The country codes taken for a bare name (`mq.acme.io`, `db.acme.co.uk`).
const COMMON_COUNTRY_CODES: &[&str] = &[
    "io", "co", "uk", "de", "eu", "fr", "nl", "jp", "cn", "au", "us",
];

/// Country codes that end file names (`setup.py`, `README.md`, `main.rs`, `run.sh`,
/// `Makefile.am`, `configure.ac`, `messages.mo`, `main.tf`, `kernel.cu`, …) or property keys
/// (`group.id`, `linger.ms`, `sort.by`, `path.to`) more often than host names: not taken as
/// top-level domains.
const NOT_COUNTRY_CODES: &[&str] = &[
    "py", "md", "rs", "sh", "pl", "pm", "so", "in", "am", "ac", "la", "mo", "ml", "mk", "ps", "nc",
    "sv", "tf", "cu", "cl", "cr", "gd", "gs", "mm", "sc", "as", "id", "ms", "by",
];

/// First labels that make a dotted name a reversed-domain package or namespace
/// (`com.acme.app`, `org.apache.kafka`), not a host name.
const REVERSED_FIRST: &[&str] = &["com", "org", "net", "edu", "gov", "mil", "int", "io"];

/// Names reserved for documentation, testing and the loopback (RFC 2606, RFC 6761):
/// the name itself and every name under it.
const RESERVED_DOMAINS: &[&str] = &[
    "example",
    "test",
    "invalid",
    "localhost",
    "localdomain",
    "example.com",
    "example.net",
    "example.org",
    "home.arpa",
];

/// Hosts whose URLs are identifiers, not endpoints: XML, RDF, GML and JSON-schema
/// namespaces, Kubernetes API groups.
const IDENTIFIER_DOMAINS: &[&str] = &[
    "w3.org",
    "xml.org",
    "openoffice.org",
    "georss.org",
    "opengis.net",
    "json-schema.org",
    "schema.org",
    "purl.org",
    "xmlns.com",
    "xmlns.jcp.org",
    "java.sun.com",
    "schemas.xmlsoap.org",
    "schemas.microsoft.com",
    "schemas.openxmlformats.org",
    "schemas.android.com",
    "ns.adobe.com",
    "k8s.io",
    "kubernetes.io",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_ranges() {
        let found = |t: &str| addresses(t).into_iter().filter(|a| reportable(*a)).count();
        assert_eq!(found("http://10.1.2.3:8080/x"), 1);
        assert_eq!(found("127.0.0.1"), 0);
        assert_eq!(found("192.0.2.10 198.51.100.1 203.0.113.9"), 0);
        assert_eq!(found("[2001:db8::1]:443"), 0);
        assert_eq!(found("[fd00::1]:443"), 1);
        assert_eq!(found("::1 0.0.0.0 255.255.255.0"), 0);
        assert_eq!(found("12:30:45"), 0);
        assert_eq!(found("ip:10.1.2.3,10.1.2.4"), 2);
        assert_eq!(
            found("AWS::Lambda::Function AWS::ApiGatewayV2::Api dead::beef"),
            0
        );
        assert_eq!(found("v10.1.2.3 10.1.2.3b"), 0);
    }

    #[test]
    fn literal_values() {
        assert_eq!(literal_value("\"a.b\""), "a.b");
        assert_eq!(literal_value("'a.b'"), "a.b");
        assert_eq!(literal_value("f\"a.b\""), "a.b");
        assert_eq!(literal_value("rb'a.b'"), "a.b");
        assert_eq!(literal_value("@\"a.b\""), "a.b");
        assert_eq!(literal_value("\"\"\"a.b\"\"\""), "a.b");
        assert_eq!(literal_value("`a.b`"), "a.b");
        assert_eq!(literal_value("%q(a.b)"), "a.b");
        assert_eq!(literal_value("https://a.b/x"), "https://a.b/x");
        assert_eq!(literal_value("\""), "\"");
    }

    #[test]
    fn host_names_reported() {
        for (value, host) in [
            ("db1.prod.acme.internal", "db1.prod.acme.internal"),
            ("https://payments.acme.com/v1", "payments.acme.com"),
            ("rabbit.corp.local:5672", "rabbit.corp.local"),
            ("amqp://guest:pw@mq.acme.io:5672/%2f", "mq.acme.io"),
            ("//cdn.acme.co.uk/lib.js", "cdn.acme.co.uk"),
            ("eu.api.acme.com", "eu.api.acme.com"),
            ("postgres://db.acme.de/orders?sslmode=require", "db.acme.de"),
            ("api.acme.com.", "api.acme.com."),
            (
                "jdbc:postgresql://db1.prod.acme.internal:5432/orders",
                "db1.prod.acme.internal",
            ),
            ("mq.acme.io", "mq.acme.io"),
            ("https://acme.ch/x", "acme.ch"),
            ("db.acme.ch:5432", "db.acme.ch"),
        ] {
            assert_eq!(hostname(value), Some(host), "{value}");
        }
    }

    #[test]
    fn ssh_destinations() {
        assert_eq!(
            ssh_destination("deploy@web1.acme.com"),
            Some("web1.acme.com")
        );
        assert_eq!(
            ssh_destination("deploy@web1.acme.com:/srv/app"),
            Some("web1.acme.com")
        );
        assert_eq!(ssh_destination("deploy@web1.example.com"), None);
        assert_eq!(ssh_destination("web1.acme.com"), None);
    }

    #[test]
    fn look_alikes_not_reported() {
        for value in [
            "config.yaml",
            "index.js",
            "README.md",
            "setup.py",
            "main.rs",
            "deploy.sh",
            "archive.tar.gz",
            "Makefile.am",
            "com.example.foo",
            "com.acme.app",
            "org.apache.kafka.common.serialization.StringSerializer",
            "System.IO",
            "Microsoft.AspNetCore.App",
            "django.contrib.auth",
            "group.id",
            "session.timeout.ms",
            "user.name",
            "user.home",
            "my_app.settings.local",
            "mysite.settings.local",
            "github.com/rabbitmq/amqp091-go",
            "1.2.3",
            "v1.2.3",
            "ops@acme.com",
            "example.com",
            "https://api.example.org/v1",
            "db.example",
            "svc.test:80",
            "foo.invalid",
            "localhost",
            "web.localhost",
            "localhost.localdomain",
            "http://www.w3.org/2000/svg",
            "http://json-schema.org/draft-07/schema#",
            "rbac.authorization.k8s.io",
            "file://srv.acme.com/share",
            "db.acme.com:http",
            "db.acme.com:",
            "a..com",
            "-a.com",
            "acme",
            "see db.acme.com",
            "https://%s:%d/",
            "${env}.acme.com",
            "torch.gt",
            "f32.ne",
            "scipy.io",
            "pygments.styles.bw",
            "asset.info",
            "http://xml.org/sax/features/namespaces",
        ] {
            assert_eq!(hostname(value), None, "{value}");
        }
    }
}
