//! One validation for what names and reaches a host — its inventory name, address, login
//! user and SSH port — whatever the source (`inventory.hosts`, an Ansible INI or YAML
//! inventory).
//!
//! These values end up in `ssh`'s argument list and in `hint:` lines that users copy into
//! a shell, so they are held to an allow-list rather than a deny-list: a name or address
//! is letters, digits and `. - _ : %` (IPv6 literals and zone ids included); a user is
//! letters, digits and `. - _ @`. None may be empty, start with `-` (ssh would read
//! `-oProxyCommand=…` as an option) or be longer than 255 bytes; whitespace, control
//! characters and shell metacharacters (`; | & $ ( ) < > \` ' " \ * ? [ ] { } ! # ~ ,`)
//! are never allowed. A port is a number from 1 to 65535.

use fearless_io::escape_terminal;
use std::fmt;

/// What a value is, for the rules and the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// An inventory host name.
    HostName,
    /// An address ssh connects to.
    Address,
    /// A login user.
    User,
    /// An Ansible group name (the same rules as host names).
    Group,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::HostName => "host name",
            Field::Address => "address",
            Field::User => "user",
            Field::Group => "group name",
        })
    }
}

/// Longest accepted value, in bytes (a DNS name is at most 253).
const MAX_LEN: usize = 255;

impl Field {
    fn allows(self, c: char) -> bool {
        c.is_alphanumeric()
            || match self {
                Field::HostName | Field::Address | Field::Group => ".-_:%".contains(c),
                Field::User => ".-_@".contains(c),
            }
    }

    fn allowed(self) -> &'static str {
        match self {
            Field::HostName | Field::Address | Field::Group => "letters, digits and . - _ : %",
            Field::User => "letters, digits and . - _ @",
        }
    }
}

/// Check `value` as a `field`; the error is a complete, lower-case message that shows the
/// value escaped for the terminal.
pub(crate) fn check(field: Field, value: &str) -> Result<(), String> {
    let shown = escape_terminal(value);
    if value.is_empty() {
        return Err(format!("{field} is empty"));
    }
    if value.starts_with('-') {
        return Err(format!(
            "{field} `{shown}` starts with `-`, which ssh would read as an option"
        ));
    }
    if value.len() > MAX_LEN {
        return Err(format!(
            "{field} `{}…` is longer than {MAX_LEN} bytes",
            escape_terminal(&value[..value.floor_char_boundary(40)])
        ));
    }
    if let Some(c) = value.chars().find(|c| !field.allows(*c)) {
        let article = if field == Field::Address { "an" } else { "a" };
        return Err(format!(
            "{field} `{shown}` contains {}; {article} {field} may contain only {}",
            describe(c),
            field.allowed()
        ));
    }
    Ok(())
}

/// A character as a message names it.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '`' => "a backtick".into(),
        c if c.is_whitespace() && !c.is_control() => format!("whitespace `{}`", c.escape_unicode()),
        c if fearless_io::is_terminal_unsafe(c) => {
            format!(
                "the control character `{}`",
                escape_terminal(&c.to_string())
            )
        }
        c => format!("`{c}`"),
    }
}

/// The message for a port that is not a number from 1 to 65535 (`found` as written).
pub(crate) fn port_message(key: &str, found: &str) -> String {
    format!(
        "`{key}` must be a number from 1 to 65535, found {}",
        found_text(found)
    )
}

/// Parse an SSH port written as text (Ansible variables are text).
pub(crate) fn port(text: &str) -> Option<u16> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u16>().ok().filter(|p| *p > 0)
}

/// `found` quoted and escaped, or "nothing" when empty.
pub(crate) fn found_text(found: &str) -> String {
    if found.is_empty() {
        "nothing".into()
    } else {
        format!("`{}`", escape_terminal(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_addresses_and_users_pass() {
        for name in [
            "web-1",
            "db_2.example.com",
            "10.0.0.1",
            "fe80::1%eth0",
            "2001:db8::1",
            "wéb",
        ] {
            assert_eq!(check(Field::HostName, name), Ok(()), "{name}");
            assert_eq!(check(Field::Address, name), Ok(()), "{name}");
        }
        for user in ["root", "deploy", "svc.backup", "alice@corp.example"] {
            assert_eq!(check(Field::User, user), Ok(()), "{user}");
        }
    }

    #[test]
    fn options_metacharacters_and_controls_are_refused() {
        assert_eq!(
            check(Field::Address, "-oProxyCommand=touch /tmp/x"),
            Err("address `-oProxyCommand=touch /tmp/x` starts with `-`, which ssh would read as an option".into())
        );
        assert_eq!(
            check(Field::HostName, "web;reboot"),
            Err("host name `web;reboot` contains `;`; a host name may contain only letters, digits and . - _ : %".into())
        );
        assert_eq!(
            check(Field::HostName, "a$(id)"),
            Err("host name `a$(id)` contains `$`; a host name may contain only letters, digits and . - _ : %".into())
        );
        assert_eq!(
            check(Field::User, "root\nx"),
            Err("user `root\\nx` contains the control character `\\n`; a user may contain only letters, digits and . - _ @".into())
        );
        assert_eq!(
            check(Field::HostName, "a b"),
            Err("host name `a b` contains a space; a host name may contain only letters, digits and . - _ : %".into())
        );
        assert!(
            check(Field::Address, "user@host").is_err(),
            "ssh would take the user from it"
        );
        assert_eq!(check(Field::User, ""), Err("user is empty".into()));
        assert!(check(Field::HostName, &"a".repeat(256)).is_err());
    }

    #[test]
    fn ports_are_1_to_65535_written_as_digits() {
        assert_eq!(port("22"), Some(22));
        assert_eq!(port(" 2222 "), Some(2222));
        for bad in ["0", "65536", "99999", "abc", "", "-1", "+22", "22.0"] {
            assert_eq!(port(bad), None, "{bad}");
        }
    }
}
