//! Store URLs: which backend, where, and how to print one without its password.

use std::path::PathBuf;

use crate::StoreError;

/// Where a store lives, parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// `sqlite:PATH`, `sqlite://PATH` (relative) or `sqlite:///PATH` (absolute).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, as given.
    Postgres(String),
}

impl Location {
    /// Parse a store URL.
    pub(crate) fn parse(url: &str) -> Result<Location, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad_url(
                    url,
                    "the sqlite url has no file path (expected `sqlite:PATH`)",
                ));
            }
            if path == ":memory:" || path.starts_with(":memory:?") {
                return Err(bad_url(
                    url,
                    "an in-memory sqlite store would lose everything on exit",
                ));
            }
            Ok(Location::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Location::Postgres(url.to_owned()))
        } else {
            Err(bad_url(
                url,
                "expected `sqlite:PATH` or `postgres://USER@HOST/DATABASE`",
            ))
        }
    }
}

fn bad_url(url: &str, reason: &str) -> StoreError {
    StoreError::BadUrl {
        url: redact(url),
        reason: reason.to_owned(),
    }
}

/// The URL with any password replaced by `***`: `postgres://me:***@db/fearless`. Also redacts
/// a `password=` query parameter.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_userinfo_and_query() {
        assert_eq!(
            redact("postgres://me:s3cr%40t@db:5432/f"),
            "postgres://me:***@db:5432/f"
        );
        assert_eq!(redact("postgres://me@db/f"), "postgres://me@db/f");
        assert_eq!(
            redact("postgres://db/f?user=me&password=x&sslmode=off"),
            "postgres://db/f?user=me&password=***&sslmode=off"
        );
        assert_eq!(redact("sqlite:/tmp/a.db"), "sqlite:/tmp/a.db");
    }

    #[test]
    fn sqlite_forms() {
        assert_eq!(
            Location::parse("sqlite:a/b.db").ok(),
            Some(Location::Sqlite("a/b.db".into()))
        );
        assert_eq!(
            Location::parse("sqlite://a.db").ok(),
            Some(Location::Sqlite("a.db".into()))
        );
        assert_eq!(
            Location::parse("sqlite:///abs.db").ok(),
            Some(Location::Sqlite("/abs.db".into()))
        );
        assert!(Location::parse("sqlite:").is_err());
        assert!(Location::parse("mysql://x").is_err());
    }
}
