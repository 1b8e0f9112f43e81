//! Ansible host patterns, read the way `ansible-inventory` reads them: `host:port`,
//! `[ipv6]:port`, numeric ranges with zero padding and strides (`www[01:50:2]`) and
//! alphabetic ranges (`db-[a:f]`), several ranges in one name (`r[1:2]-[a:b]`).
//!
//! The split of `host:port` follows Ansible's `parse_address`: a trailing `:digits` is a
//! port only when what is left is a valid host name, IPv4 or IPv6 address (ranges allowed);
//! otherwise the whole pattern is the name. Unlike Ansible, an empty range (`[5:1]`, which
//! Ansible silently expands to no host) is an error, and one pattern expands to at most
//! [`MAX_HOSTS_PER_PATTERN`] hosts: a typo such as `[1:10000000]` is refused, not expanded.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The most hosts one pattern may expand to.
pub(crate) const MAX_HOSTS_PER_PATTERN: u64 = 100_000;

/// A host pattern split into what it names and the port it gives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The host part, ranges not yet expanded.
    pub(crate) host: String,
    /// The `:port` digits, when given (range-checked later, where the error is located).
    pub(crate) port: Option<String>,
}

/// Split `host:port` / `[host]:port` as Ansible's `parse_address(allow_ranges=True)` does.
pub(crate) fn parse_address(pattern: &str) -> Pattern {
    let whole = || Pattern {
        host: pattern.to_owned(),
        port: None,
    };
    let mut address = pattern;
    let mut port = None;
    if let Some((inner, p)) = bracketed_hostport(address) {
        address = inner;
        port = Some(p);
    }
    if let Some((inner, p)) = hostport(address) {
        address = inner;
        port = Some(p);
    }
    if is_ipv4(address) || is_ipv6(address) || is_hostname(address) {
        Pattern {
            host: address.to_owned(),
            port: port.map(str::to_owned),
        }
    } else {
        whole()
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `^\[(.+)\]:([0-9]+)$`
fn bracketed_hostport(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('[')?;
    let (inner, port) = rest.rsplit_once("]:")?;
    (!inner.is_empty() && all_digits(port)).then_some((inner, port))
}

/// `^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$`: everything before the last `:digits`, with
/// colons allowed only inside complete brackets.
fn hostport(s: &str) -> Option<(&str, &str)> {
    let (head, port) = s.rsplit_once(':')?;
    if !all_digits(port) {
        return None;
    }
    let mut in_bracket = false;
    for c in head.chars() {
        match (in_bracket, c) {
            (false, '[') => in_bracket = true,
            (false, ':' | ']') => return None,
            (true, ']') => in_bracket = false,
            _ => {}
        }
    }
    (!in_bracket).then_some((head, port))
}

/// A `[…]` range as Ansible's address patterns accept it, at the start of `s`; returns its
/// length. `alpha` allows one-letter alphabetic bounds; `hex` hexadecimal ones.
fn range_at(s: &str, alpha: bool, hex: bool) -> Option<usize> {
    let end = s.find(']')?;
    let inner = s.strip_prefix('[')?.get(..end - 1)?;
    let parts: Vec<&str> = inner.split(':').collect();
    let bound = |b: &str| {
        all_digits(b)
            || (hex && !b.is_empty() && b.bytes().all(|c| c.is_ascii_hexdigit()))
            || (alpha && b.len() == 1 && b.bytes().all(|c| c.is_ascii_alphabetic()))
    };
    let ok = match parts.as_slice() {
        [a, b] => bound(a) && bound(b),
        [a, b, step] => bound(a) && bound(b) && all_digits(step),
        _ => false,
    };
    ok.then_some(end + 1)
}

/// Dotted-quad, each part 0–255 or a numeric range.
fn is_ipv4(s: &str) -> bool {
    if !s.contains('[') {
        return s.parse::<Ipv4Addr>().is_ok();
    }
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            range_at(p, false, false) == Some(p.len())
                || (all_digits(p) && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255))
        })
}

fn is_ipv6(s: &str) -> bool {
    s.parse::<Ipv6Addr>().is_ok()
}

/// Labels of word characters and `-`, each starting with a word character and not ending
/// in `-` or `_`, ranges allowed anywhere in a label.
fn is_hostname(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_label)
}

fn is_label(label: &str) -> bool {
    // Items: a character, or a whole range (which counts as a word character).
    let mut items = Vec::new();
    let mut i = 0;
    while i < label.len() {
        let rest = &label[i..];
        if let Some(n) = range_at(rest, true, false) {
            items.push(None);
            i += n;
        } else if let Some(c) = rest.chars().next() {
            items.push(Some(c));
            i += c.len_utf8();
        }
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    match (items.first(), items.last()) {
        (Some(first), Some(last)) => {
            first.is_none_or(word)
                && items.iter().all(|c| c.is_none_or(|c| word(c) || c == '-'))
                && last.is_none_or(|c| c != '-' && c != '_')
        }
        _ => false,
    }
}

/// Expand every `[begin:end(:step)]` range of `host`, left to right, as Ansible's
/// `expand_hostname_range` does; an error is a complete message.
pub(crate) fn expand(host: &str) -> Result<Vec<String>, String> {
    if !host.contains('[') {
        return Ok(vec![host.to_owned()]);
    }
    // Split into literal, range, literal, range, … first, so the size is known before
    // anything is expanded.
    let mut literals = Vec::new();
    let mut ranges: Vec<Vec<String>> = Vec::new();
    let mut rest = host;
    while let Some(open) = rest.find('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("host range in `{host}` has no closing `]`"))?;
        if close < open {
            return Err(format!("host pattern `{host}` has `]` before `[`"));
        }
        literals.push(&rest[..open]);
        ranges.push(range_values(host, &rest[open + 1..close])?);
        rest = &rest[close + 1..];
    }
    literals.push(rest);
    let count = ranges
        .iter()
        .try_fold(1u64, |acc, r| acc.checked_mul(r.len() as u64))
        .unwrap_or(u64::MAX);
    if count > MAX_HOSTS_PER_PATTERN {
        return Err(format!(
            "host pattern `{host}` expands to {} hosts, more than the {MAX_HOSTS_PER_PATTERN} \
             fearless accepts from one pattern",
            if count == u64::MAX {
                "too many".to_owned()
            } else {
                count.to_string()
            }
        ));
    }
    let mut out = vec![literals[0].to_owned()];
    for (range, literal) in ranges.iter().zip(&literals[1..]) {
        out = out
            .iter()
            .flat_map(|prefix| range.iter().map(move |v| format!("{prefix}{v}{literal}")))
            .collect();
    }
    Ok(out)
}

/// The values of one range (`01:50:2`, `a:f`), as Ansible spells them.
fn range_values(host: &str, spec: &str) -> Result<Vec<String>, String> {
    let err = |why: &str| Err(format!("host range `[{spec}]` in `{host}` {why}"));
    let bounds: Vec<&str> = spec.split(':').collect();
    let (beg, end, step) = match bounds.as_slice() {
        [b, e] => (*b, *e, "1"),
        [b, e, s] => (*b, *e, *s),
        _ => return err("must be [begin:end] or [begin:end:step]"),
    };
    let beg = if beg.is_empty() { "0" } else { beg };
    if end.is_empty() {
        return err("has no end value");
    }
    let step: u64 = match step.parse() {
        Ok(s) if all_digits(step) && s > 0 => s,
        _ => return err("must have a step of 1 or more"),
    };
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let letter = |s: &str| (s.len() == 1).then(|| LETTERS.find(s)).flatten();
    if let (Some(b), Some(e)) = (letter(beg), letter(end)) {
        if b > e {
            return err("has its begin after its end");
        }
        let step = usize::try_from(step).unwrap_or(usize::MAX);
        return Ok(LETTERS[b..=e]
            .chars()
            .step_by(step)
            .map(String::from)
            .collect());
    }
    if !all_digits(beg) || !all_digits(end) {
        return err("must have numeric bounds (01:50) or single-letter bounds (a:f)");
    }
    let (Ok(b), Ok(e)) = (beg.parse::<u64>(), end.parse::<u64>()) else {
        return Err(format!(
            "host pattern `{host}` expands to more than the {MAX_HOSTS_PER_PATTERN} hosts \
             fearless accepts from one pattern"
        ));
    };
    if b > e {
        return err("is empty: its begin is greater than its end");
    }
    let width = if beg.starts_with('0') && beg.len() > 1 {
        if beg.len() != end.len() {
            return err("must write begin and end with the same number of digits when zero-padded");
        }
        beg.len()
    } else {
        0
    };
    let count = (e - b) / step + 1;
    if count > MAX_HOSTS_PER_PATTERN {
        return Err(format!(
            "host pattern `{host}` expands to {count} hosts, more than the \
             {MAX_HOSTS_PER_PATTERN} fearless accepts from one pattern"
        ));
    }
    Ok((b..=e)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .map(|n| format!("{n:0width$}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> (String, Option<String>) {
        let p = parse_address(s);
        (p.host, p.port)
    }

    #[test]
    fn ports_split_like_ansible() {
        let some = |h: &str, p: &str| (h.to_owned(), Some(p.to_owned()));
        let none = |h: &str| (h.to_owned(), None);
        assert_eq!(
            addr("bar.example.com:2222"),
            some("bar.example.com", "2222")
        );
        assert_eq!(addr("10.0.0.1:22"), some("10.0.0.1", "22"));
        assert_eq!(addr("[2001:db8::1]:2222"), some("2001:db8::1", "2222"));
        assert_eq!(addr("2001:db8::1"), none("2001:db8::1"));
        assert_eq!(
            addr("www[01:50].example.com:2200"),
            some("www[01:50].example.com", "2200")
        );
        assert_eq!(
            addr("web-:22"),
            none("web-:22"),
            "not a valid host name: no split"
        );
        assert_eq!(
            addr("host:99999"),
            some("host", "99999"),
            "range-checked later"
        );
        assert_eq!(addr("-oProxyCommand=x"), none("-oProxyCommand=x"));
    }

    #[test]
    fn ranges_expand_with_padding_strides_and_letters() {
        assert_eq!(
            expand("www[01:03].example.com").expect("ok"),
            [
                "www01.example.com",
                "www02.example.com",
                "www03.example.com"
            ]
        );
        assert_eq!(
            expand("www[01:09:4]").expect("ok"),
            ["www01", "www05", "www09"]
        );
        assert_eq!(expand("db-[a:c]").expect("ok"), ["db-a", "db-b", "db-c"]);
        assert_eq!(
            expand("db-[y:B]").expect("ok"),
            ["db-y", "db-z", "db-A", "db-B"]
        );
        assert_eq!(
            expand("r[1:2]-[a:b]").expect("ok"),
            ["r1-a", "r1-b", "r2-a", "r2-b"]
        );
        assert_eq!(expand("n[:2]").expect("ok"), ["n0", "n1", "n2"]);
        assert_eq!(expand("n[8:10]").expect("ok"), ["n8", "n9", "n10"]);
    }

    #[test]
    fn malformed_and_enormous_ranges_are_errors() {
        for (p, why) in [
            ("w[1:]", "has no end value"),
            ("w[5:1]", "is empty"),
            ("w[c:a]", "begin after its end"),
            ("w[1:5:0]", "step of 1 or more"),
            ("w[01:100]", "same number of digits"),
            ("w[1]", "must be [begin:end]"),
            ("w[1:2", "no closing"),
            ("w]1:2[", "`]` before `[`"),
            ("w[a:9]", "numeric bounds"),
            ("w[1:1000000]", "more than the 100000"),
            ("w[1:1000]x[1:1000]", "expands to 1000000 hosts"),
        ] {
            let e = expand(p).expect_err(p);
            assert!(e.contains(why), "{p}: {e}");
        }
        assert_eq!(expand("w[1:100000]").expect("at the cap").len(), 100_000);
    }
}
