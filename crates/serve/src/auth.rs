//! Who may act through the dashboard: the users file (`serve.users`: one `NAME:PHC` line per
//! user, the password or token kept only as an argon2id hash), sessions (a random id in an
//! `HttpOnly`, `SameSite=Strict` cookie, kept in memory: a restart logs everyone out) and
//! the CSRF token each session's forms carry.
//!
//! What a user may do is not decided here: the engine applies `identity.roles` and the
//! change rules (separation of duties) to the name exactly as it does for the CLI.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use subtle::ConstantTimeEq;

/// The name of the session cookie.
pub const COOKIE: &str = "fearless_session";

/// How long a session lives without being used.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);

/// The users file could not be read, written or understood.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The file could not be read.
    #[error("cannot read the users file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: fearless_io::ReadError,
    },
    /// The file could not be written.
    #[error("cannot write the users file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: fearless_io::WriteError,
    },
    /// A line is not `NAME:HASH`.
    #[error("{path}:{line}: {why}")]
    Line {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// A user name that cannot be.
    #[error("`{0}` is not a user name: use letters, digits, `.`, `_` and `-`, at most 64")]
    Name(String),
    /// A password too short to be one.
    #[error("a password must be at least {MIN_PASSWORD} characters")]
    ShortPassword,
    /// Hashing failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Whether `name` may be a user's name (the same alphabet as an actor's).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('-')
}

/// The users file: names and their argon2 hashes, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    hashes: BTreeMap<String, String>,
}

impl Users {
    /// Reads `path`; a file that does not exist holds no users.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = match fearless_io::read_text(path, fearless_io::Limit::CONFIG) {
            Ok(t) => t,
            Err(fearless_io::ReadError::NotFound { .. }) => return Ok(Users::default()),
            Err(source) => {
                return Err(UsersError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Users::parse(path, &text)
    }

    /// Parses the text of a users file (`path` only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Users, UsersError> {
        let mut hashes = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: String| UsersError::Line {
                path: path.to_owned(),
                line: i + 1,
                why,
            };
            let Some((name, hash)) = line.split_once(':') else {
                return Err(bad("expected NAME:HASH".to_owned()));
            };
            if !valid_name(name) {
                return Err(bad(format!(
                    "`{}` is not a user name",
                    fearless_io::Escaped(name)
                )));
            }
            PasswordHash::new(hash)
                .map_err(|e| bad(format!("the hash of {name} is not a PHC string: {e}")))?;
            if hashes.insert(name.to_owned(), hash.to_owned()).is_some() {
                return Err(bad(format!("{name} is listed twice")));
            }
        }
        Ok(Users { hashes })
    }

    /// Whether there is no user.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.hashes.keys().map(String::as_str)
    }

    /// Whether `password` is `name`'s. Runs argon2 even for an unknown name, so the time
    /// taken does not tell which names exist.
    pub fn verify(&self, name: &str, password: &str) -> bool {
        // A fixed hash of nothing anybody knows, checked when the name is unknown.
        const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lkZWNveWRlY295$kBqjXzYBpaEjEHLo64Bhxy5S7ogSwqA9n2FbOnqkDJA";
        let (hash, known) = match self.hashes.get(name) {
            Some(h) => (h.as_str(), true),
            None => (DECOY, false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && known
    }

    /// Adds `name` (or replaces its password) with the argon2id hash of `password`.
    pub fn set(&mut self, name: &str, password: &str) -> Result<(), UsersError> {
        if !valid_name(name) {
            return Err(UsersError::Name(name.to_owned()));
        }
        if password.chars().count() < MIN_PASSWORD {
            return Err(UsersError::ShortPassword);
        }
        let salt = SaltString::encode_b64(&random_bytes::<16>())
            .map_err(|e| UsersError::Hash(e.to_string()))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| UsersError::Hash(e.to_string()))?
            .to_string();
        self.hashes.insert(name.to_owned(), hash);
        Ok(())
    }

    /// Removes `name`; whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.hashes.remove(name).is_some()
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# fearless serve users: NAME:ARGON2-HASH, written by `fearless user add`.\n",
        );
        for (name, hash) in &self.hashes {
            out.push_str(name);
            out.push(':');
            out.push_str(hash);
            out.push('\n');
        }
        out
    }

    /// Writes the file atomically, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), UsersError> {
        // Hashes are not secrets one can log in with, but nobody else needs to read them.
        let options = fearless_io::WriteOptions { mode: Some(0o600) };
        fearless_io::write_atomic_with(path, self.to_text().as_bytes(), options).map_err(|source| {
            UsersError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }
}

/// `N` random bytes from the OS.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS's generator does not fail on Linux once booted; a failure is not survivable.
    #[expect(clippy::expect_used, reason = "no safe way on without randomness")]
    getrandom::fill(&mut b).expect("the OS random generator failed");
    b
}

/// A random token, URL-safe.
pub fn token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A logged-in user's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub user: String,
    /// The token every form of this session carries.
    pub csrf: String,
    last_used: Instant,
}

/// The live sessions, by id.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session for `user`; its id.
    pub fn start(&self, user: &str) -> String {
        let id = token();
        let session = Session {
            user: user.to_owned(),
            csrf: token(),
            last_used: Instant::now(),
        };
        let mut map = self.lock();
        map.retain(|_, s| s.last_used.elapsed() < IDLE);
        map.insert(id.clone(), session);
        id
    }

    /// The session `id` names, if it is live (and marks it used).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.lock();
        let s = map.get_mut(id)?;
        if s.last_used.elapsed() >= IDLE {
            map.remove(id);
            return None;
        }
        s.last_used = Instant::now();
        Some(s.clone())
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value that starts session `id` (or, with `None`, ends it).
pub(crate) fn set_cookie(id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict"),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_set_password_verifies_and_nothing_else_does() {
        let mut users = Users::default();
        users.set("bob", "correct horse battery").unwrap();
        assert!(users.verify("bob", "correct horse battery"));
        assert!(!users.verify("bob", "correct horse batter"));
        assert!(!users.verify("eve", "correct horse battery"));
        let text = users.to_text();
        assert!(!text.contains("correct horse"), "{text}");
        let back = Users::parse(Path::new("users"), &text).unwrap();
        assert!(back.verify("bob", "correct horse battery"));
    }

    #[test]
    fn bad_lines_are_located() {
        let e = Users::parse(Path::new("u"), "# c\nbob\n").unwrap_err();
        assert_eq!(e.to_string(), "u:2: expected NAME:HASH");
        let e = Users::parse(Path::new("u"), "bob:plain\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("u:1: the hash of bob is not a PHC string"),
            "{e}"
        );
        let mut users = Users::default();
        assert!(matches!(
            users.set("-x", "long enough password"),
            Err(UsersError::Name(_))
        ));
        assert!(matches!(
            users.set("bob", "short"),
            Err(UsersError::ShortPassword)
        ));
    }

    #[test]
    fn sessions_and_cookies() {
        let s = Sessions::default();
        let id = s.start("bob");
        let got = s.get(&id).unwrap();
        assert_eq!(got.user, "bob");
        assert!(s.get("other").is_none());
        s.end(&id);
        assert!(s.get(&id).is_none());
        assert_eq!(cookie("a=1; fearless_session=xyz", COOKIE), Some("xyz"));
        assert!(set_cookie(Some("x")).contains("HttpOnly; SameSite=Strict"));
    }
}
