//! OpenSSH's allowed-signers file (`ssh-keygen(1)`, ALLOWED SIGNERS): one key per line,
//!
//! ```text
//! principals [options] keytype base64-key [comment]
//! ```
//!
//! `principals` a comma-separated pattern list (`*`, `?`, `!` negation), options among
//! `cert-authority`, `namespaces="…"`, `valid-after="…"`, `valid-before="…"`. A line this
//! reader cannot take is an error naming the file and line, never skipped: a signer that
//! silently drops out would make their past entries fail, or a typo pass.

use std::path::Path;

use jiff::Timestamp;
use ssh_key::PublicKey;
use ssh_key::public::KeyData;

use crate::{NAMESPACE, SignError, fingerprint, parse_ssh_time};

/// A parsed allowed-signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    path: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    principals: Vec<String>,
    key: KeyData,
    cert_authority: bool,
    namespaces: Option<Vec<String>>,
    valid_after: Option<Timestamp>,
    valid_before: Option<Timestamp>,
}

/// Why the allowed signers do not let a key sign for a name at a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No line holds the key.
    #[error("the key is not in {0}")]
    UnknownKey(String),
    /// Lines hold the key, none for this name.
    #[error("{path} lists the key for {principals}, not for this name")]
    OtherName {
        /// The file.
        path: String,
        /// The principals the key is listed for.
        principals: String,
    },
    /// The key is listed for the name, but not for fearless's namespace.
    #[error("{0} lists the key for this name only for other namespaces")]
    Namespace(String),
    /// The key is listed for the name, but not at that time.
    #[error("{path}:{line}: the key is valid {window}, and the entry was signed at {at}")]
    NotValidThen {
        /// The file.
        path: String,
        /// The line.
        line: usize,
        /// When it is valid, in words.
        window: String,
        /// The entry's time.
        at: String,
    },
}

impl AllowedSigners {
    /// Read and parse the file at `path`.
    pub fn read(path: &Path) -> Result<AllowedSigners, SignError> {
        let text = fearless_io::read_text(path, fearless_io::Limit::CONFIG).map_err(|e| {
            SignError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        AllowedSigners::parse(&text, &path.display().to_string())
    }

    /// Parse `text`, read from `path` (named in errors).
    pub fn parse(text: &str, path: &str) -> Result<AllowedSigners, SignError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_line(line, i + 1).map_err(|reason| SignError::Parse {
                path: path.to_owned(),
                line: i + 1,
                reason,
            })?;
            entries.push(entry);
        }
        Ok(AllowedSigners {
            path: path.to_owned(),
            entries,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// How many keys it lists.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it lists no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names `key` may sign for at `at` in fearless's namespace: the literal principals
    /// (no pattern) of every line that holds it and is valid then.
    pub fn names_of(&self, key: &PublicKey, at: Timestamp) -> Vec<String> {
        let mut names: Vec<String> = self
            .entries
            .iter()
            .filter(|e| !e.cert_authority && &e.key == key.key_data())
            .filter(|e| e.allows_namespace() && e.valid_at(at))
            .flat_map(|e| e.principals.iter())
            .filter(|p| !p.contains(['*', '?', '!']))
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether `key` may sign as `principal` at `at` in fearless's namespace, as
    /// `ssh-keygen -Y verify -I principal -O verify-time=…` decides.
    pub fn authorizes(&self, principal: &str, key: &KeyData, at: Timestamp) -> Result<(), Refusal> {
        let holding: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| !e.cert_authority && &e.key == key)
            .collect();
        if holding.is_empty() {
            return Err(Refusal::UnknownKey(self.path.clone()));
        }
        let for_name: Vec<&&Entry> = holding
            .iter()
            .filter(|e| matches_list(&e.principals, principal))
            .collect();
        if for_name.is_empty() {
            let mut principals: Vec<&str> = holding
                .iter()
                .flat_map(|e| e.principals.iter().map(String::as_str))
                .collect();
            principals.dedup();
            return Err(Refusal::OtherName {
                path: self.path.clone(),
                principals: principals.join(","),
            });
        }
        let in_namespace: Vec<&&&Entry> =
            for_name.iter().filter(|e| e.allows_namespace()).collect();
        let Some(first) = in_namespace.first() else {
            return Err(Refusal::Namespace(self.path.clone()));
        };
        if in_namespace.iter().any(|e| e.valid_at(at)) {
            return Ok(());
        }
        Err(Refusal::NotValidThen {
            path: self.path.clone(),
            line: first.line,
            window: first.window(),
            at: at.to_string(),
        })
    }
}

impl Entry {
    fn allows_namespace(&self) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|list| matches_list(list, NAMESPACE))
    }

    /// As `ssh-keygen`: not before `valid-after`, not after `valid-before`.
    fn valid_at(&self, at: Timestamp) -> bool {
        self.valid_after.is_none_or(|after| at >= after)
            && self.valid_before.is_none_or(|before| at <= before)
    }

    fn window(&self) -> String {
        match (self.valid_after, self.valid_before) {
            (Some(a), Some(b)) => format!("from {a} to {b}"),
            (Some(a), None) => format!("from {a}"),
            (None, Some(b)) => format!("until {b}"),
            (None, None) => "always".to_owned(),
        }
    }
}

/// One non-comment line.
fn parse_line(line: &str, number: usize) -> Result<Entry, String> {
    let (principals, rest) = token(line)?;
    if principals.is_empty() {
        return Err("no principals before the key".to_owned());
    }
    let principals: Vec<String> = principals.split(',').map(str::to_owned).collect();
    if principals.iter().any(String::is_empty) {
        return Err("an empty principal in the list".to_owned());
    }
    let rest = rest.trim_start();
    let (mut entry_options, key_text) = if starts_with_key_type(rest) {
        (Options::default(), rest)
    } else {
        let (options, after) = token(rest)?;
        (parse_options(&options)?, after.trim_start())
    };
    if key_text.is_empty() {
        return Err("no key after the principals".to_owned());
    }
    let key = PublicKey::from_openssh(key_text).map_err(|e| {
        format!("the key is not an OpenSSH public key (`keytype base64 [comment]`): {e}")
    })?;
    // Keep the fingerprint check honest: a key this build cannot verify with is said here.
    let _ = fingerprint(&key);
    Ok(Entry {
        line: number,
        principals,
        key: key.key_data().clone(),
        cert_authority: std::mem::take(&mut entry_options.cert_authority),
        namespaces: entry_options.namespaces,
        valid_after: entry_options.valid_after,
        valid_before: entry_options.valid_before,
    })
}

fn starts_with_key_type(text: &str) -> bool {
    ["ssh-", "ecdsa-", "sk-"]
        .iter()
        .any(|p| text.starts_with(p))
}

/// The next whitespace-delimited token, where double quotes keep spaces and commas inside;
/// the quotes stay in the token of options (values are unquoted there) and are removed
/// around a whole quoted principals field.
fn token(text: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            c if c.is_whitespace() && !quoted => return Ok((unquote_whole(out), &text[i..])),
            c => out.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".to_owned());
    }
    Ok((unquote_whole(out), ""))
}

fn unquote_whole(token: String) -> String {
    match token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner.to_owned(),
        _ => token,
    }
}

#[derive(Debug, Default)]
struct Options {
    cert_authority: bool,
    namespaces: Option<Vec<String>>,
    valid_after: Option<Timestamp>,
    valid_before: Option<Timestamp>,
}

/// `cert-authority,namespaces="a,b",valid-after="20260101"`.
fn parse_options(text: &str) -> Result<Options, String> {
    let mut options = Options::default();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest.split_once(['=', ',']).map_or((rest, ""), |(n, _)| {
            let at = n.len();
            (n, &rest[at..])
        });
        let (value, after) = if let Some(v) = after.strip_prefix('=') {
            let v = v
                .strip_prefix('"')
                .ok_or_else(|| format!("option {name}: its value must be in double quotes"))?;
            let end = v
                .find('"')
                .ok_or_else(|| format!("option {name}: the quote is not closed"))?;
            (Some(&v[..end]), &v[end + 1..])
        } else {
            (None, after)
        };
        rest = match after.strip_prefix(',') {
            Some(r) => r,
            None if after.is_empty() => after,
            None => {
                return Err(format!(
                    "option {name}: expected `,` after it, found `{after}`"
                ));
            }
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("cert-authority", None) => options.cert_authority = true,
            ("namespaces", Some(v)) => {
                options.namespaces = Some(v.split(',').map(str::to_owned).collect());
            }
            ("valid-after", Some(v)) => {
                options.valid_after =
                    Some(parse_ssh_time(v).map_err(|e| format!("valid-after: {e}"))?);
            }
            ("valid-before", Some(v)) => {
                options.valid_before =
                    Some(parse_ssh_time(v).map_err(|e| format!("valid-before: {e}"))?);
            }
            (other, _) => {
                return Err(format!(
                    "unknown option `{other}` (known: cert-authority, namespaces=\"…\", valid-after=\"…\", valid-before=\"…\")"
                ));
            }
        }
    }
    Ok(options)
}

/// OpenSSH's `match_pattern_list`: the name matches when some pattern matches it and no
/// negated (`!`) pattern does.
fn matches_list(patterns: &[String], name: &str) -> bool {
    let mut matched = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(negated) if glob(negated.as_bytes(), name.as_bytes()) => return false,
            Some(_) => {}
            None => matched |= glob(p.as_bytes(), name.as_bytes()),
        }
    }
    matched
}

/// `*` any run, `?` one character, everything else itself.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && glob(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGwcjPYTmEdF0pRx4ZRYj0qwwiBoE3S9l1F3HP9wonht alice";
    const BOB: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti bob";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).expect("key")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    #[test]
    fn names_windows_and_namespaces() {
        let text = format!(
            "# team\nalice {ALICE}\n\"bob,robert\" namespaces=\"git,fearless\",valid-after=\"20260101Z\",valid-before=\"20260601Z\" {BOB}\n*@ops.example namespaces=\"git\" {ALICE}\n"
        );
        let a = AllowedSigners::parse(&text, "allowed_signers").expect("parses");
        assert_eq!(a.len(), 3);
        assert_eq!(
            a.names_of(&key(ALICE), at("2026-03-01T00:00:00Z")),
            ["alice"]
        );
        assert_eq!(
            a.names_of(&key(BOB), at("2026-03-01T00:00:00Z")),
            ["bob", "robert"]
        );
        assert!(a.names_of(&key(BOB), at("2026-07-01T00:00:00Z")).is_empty());
        let bob = key(BOB);
        assert_eq!(
            a.authorizes("bob", bob.key_data(), at("2026-03-01T00:00:00Z")),
            Ok(())
        );
        let e = a
            .authorizes("bob", bob.key_data(), at("2026-07-01T00:00:00Z"))
            .expect_err("expired");
        assert!(
            e.to_string().starts_with("allowed_signers:3: the key is valid from 2026-01-01T00:00:00Z to 2026-06-01T00:00:00Z"),
            "{e}"
        );
        let e = a
            .authorizes("alice", bob.key_data(), at("2026-03-01T00:00:00Z"))
            .expect_err("not alice");
        assert_eq!(
            e.to_string(),
            "allowed_signers lists the key for bob,robert, not for this name"
        );
        // alice's key under the pattern line is only for git
        let alice = key(ALICE);
        assert!(matches!(
            a.authorizes(
                "x@ops.example",
                alice.key_data(),
                at("2026-03-01T00:00:00Z")
            ),
            Err(Refusal::OtherName { .. } | Refusal::Namespace(_))
        ));
    }

    #[test]
    fn bad_lines_are_located() {
        for (text, want) in [
            ("alice", "2: no key after the principals"),
            (
                "alice ssh-ed25519 AAAA",
                "2: the key is not an OpenSSH public key",
            ),
            (
                "alice bogus=\"x\" ssh-ed25519 AAAA",
                "2: unknown option `bogus`",
            ),
            (
                "alice valid-after=\"2026\" ssh-ed25519 AAAA",
                "2: valid-after: `2026` is not a time",
            ),
            ("\"alice ssh-ed25519 AAAA", "2: a quote is not closed"),
        ] {
            let e = AllowedSigners::parse(&format!("# c\n{text}\n"), "f")
                .expect_err(text)
                .to_string();
            assert!(e.starts_with(&format!("f:{want}")), "{text}: {e}");
        }
    }

    #[test]
    fn patterns_as_openssh() {
        let list = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
        assert!(matches_list(&list("*@example.com"), "ann@example.com"));
        assert!(!matches_list(
            &list("*@example.com,!eve@example.com"),
            "eve@example.com"
        ));
        assert!(matches_list(&list("a?c"), "abc"));
        assert!(!matches_list(&list("a?c"), "ac"));
    }
}
