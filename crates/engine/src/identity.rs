//! Who is acting. An identity is *authenticated* by the team's PostgreSQL store (the
//! database role the connection logged in as, `session_user`) or, on SQLite, by the OS
//! (the account of the process's real user id, never `$USER`). `--as NAME` and
//! `$FEARLESS_USER` are only *claims*: under `identity.mode: enforce` (the default) a
//! claim must name the authenticated identity, so nobody approves their own change by
//! typing someone else's name; under `trust` (a lab, a demo) a claim is taken at its word
//! and every state change says so.

use fearless_config::IdentityMode;

/// What vouched for who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vouch {
    /// The SSH key the actor signs state changes with, named in `identity.allowed_signers`.
    SshKey,
    /// The PostgreSQL role the store's connection authenticated as.
    DatabaseRole,
    /// The OS account the process runs as.
    OsAccount,
    /// A password (or token) of `fearless serve`'s users file, checked at login.
    Password,
    /// Nobody: a claim taken at its word (`identity.mode: trust`).
    Claim,
}

impl Vouch {
    /// The name journaled with each entry (`vouched_by`).
    pub fn as_str(self) -> &'static str {
        match self {
            Vouch::SshKey => "ssh-key",
            Vouch::DatabaseRole => "database-role",
            Vouch::OsAccount => "os-account",
            Vouch::Password => "password",
            Vouch::Claim => "claim",
        }
    }
}

/// Who acts, as the engine journals it: the name, and what vouched for it (`None` where
/// nothing was asked, such as a test or a record written before schema 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who<'a> {
    /// The name.
    pub name: &'a str,
    /// What vouched for it.
    pub vouched_by: Option<Vouch>,
}

impl<'a> From<&'a str> for Who<'a> {
    fn from(name: &'a str) -> Self {
        Who {
            name,
            vouched_by: None,
        }
    }
}

impl<'a> From<&'a Actor> for Who<'a> {
    fn from(actor: &'a Actor) -> Self {
        Who {
            name: &actor.name,
            vouched_by: Some(actor.by),
        }
    }
}

impl std::fmt::Display for Vouch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Vouch::SshKey => "an SSH key in identity.allowed_signers",
            Vouch::DatabaseRole => "the store's database role",
            Vouch::OsAccount => "the OS account",
            Vouch::Password => "a dashboard login (serve.users)",
            Vouch::Claim => "nobody (identity.mode: trust)",
        })
    }
}

/// An identity something vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The name.
    pub name: String,
    /// What vouched for it.
    pub by: Vouch,
}

/// A name someone said they are, and where they said it (`--as`, `$FEARLESS_USER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The name claimed.
    pub name: String,
    /// Where it was said.
    pub from: &'static str,
}

/// Who acts, and what vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The name journaled with every entry.
    pub name: String,
    /// What vouched for it.
    pub by: Vouch,
    /// Where the name was claimed, when it was.
    pub claimed: Option<&'static str>,
}

/// Why nobody may act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A claim that is not the authenticated identity, under `enforce`.
    #[error(
        "{from} {claimed}: you are {actual} (vouched for by {by}); identity.mode is enforce, so a name given with {from} must be your own"
    )]
    NotYou {
        /// Where the claim was made.
        from: &'static str,
        /// The name claimed.
        claimed: String,
        /// The authenticated name.
        actual: String,
        /// What vouched for it.
        by: Vouch,
    },
    /// A claimed name that could not be journaled as it is.
    #[error("{from}: {reason}")]
    BadName {
        /// Where the claim was made.
        from: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing authenticated who acts, and no claim may stand in.
    #[error("cannot tell who is acting: {reason}")]
    Unknown {
        /// Why nothing could vouch.
        reason: String,
    },
}

/// Check a name as it will be journaled and shown: no control character, at most 128
/// characters.
fn check_name(name: &str) -> Result<(), String> {
    if let Some((at, c)) = name.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "a name cannot hold a control character (U+{:04X} at byte {at})",
            u32::from(c)
        ));
    }
    if name.chars().count() > 128 {
        return Err("a name of more than 128 characters".into());
    }
    Ok(())
}

/// Who acts, from the mode, the claim (if any) and what authenticated the caller (or why
/// nothing could).
pub fn resolve(
    mode: IdentityMode,
    claim: Option<Claim>,
    authenticated: Result<Authenticated, String>,
) -> Result<Actor, IdentityError> {
    if let Some(c) = &claim {
        check_name(&c.name).map_err(|reason| IdentityError::BadName {
            from: c.from,
            reason,
        })?;
    }
    match (mode, claim, authenticated) {
        (IdentityMode::Trust, Some(c), Ok(auth)) if c.name == auth.name => Ok(Actor {
            name: auth.name,
            by: auth.by,
            claimed: Some(c.from),
        }),
        (IdentityMode::Trust, Some(c), _) => Ok(Actor {
            name: c.name,
            by: Vouch::Claim,
            claimed: Some(c.from),
        }),
        (IdentityMode::Enforce, Some(c), Ok(auth)) => {
            if c.name == auth.name {
                Ok(Actor {
                    name: auth.name,
                    by: auth.by,
                    claimed: Some(c.from),
                })
            } else {
                Err(IdentityError::NotYou {
                    from: c.from,
                    claimed: c.name,
                    actual: auth.name,
                    by: auth.by,
                })
            }
        }
        (_, None, Ok(auth)) => Ok(Actor {
            name: auth.name,
            by: auth.by,
            claimed: None,
        }),
        (IdentityMode::Enforce, Some(_), Err(reason)) | (_, None, Err(reason)) => {
            Err(IdentityError::Unknown { reason })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(name: &str) -> Result<Authenticated, String> {
        Ok(Authenticated {
            name: name.into(),
            by: Vouch::OsAccount,
        })
    }

    fn claim(name: &str) -> Option<Claim> {
        Some(Claim {
            name: name.into(),
            from: "--as",
        })
    }

    #[test]
    fn under_enforce_a_claim_must_be_your_own() {
        let e = resolve(IdentityMode::Enforce, claim("bob"), os("alice")).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "--as bob: you are alice (vouched for by the OS account); identity.mode is enforce, \
             so a name given with --as must be your own"
        );
        let a = resolve(IdentityMode::Enforce, claim("alice"), os("alice")).expect("own name");
        assert_eq!((a.name.as_str(), a.by), ("alice", Vouch::OsAccount));
        let db = Ok(Authenticated {
            name: "bob".into(),
            by: Vouch::DatabaseRole,
        });
        let a = resolve(IdentityMode::Enforce, None, db).expect("the role");
        assert_eq!((a.name.as_str(), a.by), ("bob", Vouch::DatabaseRole));
    }

    #[test]
    fn under_trust_a_claim_is_taken_at_its_word_and_says_so() {
        let a = resolve(IdentityMode::Trust, claim("bob"), os("root")).expect("trusted");
        assert_eq!(
            (a.name.as_str(), a.by, a.claimed),
            ("bob", Vouch::Claim, Some("--as"))
        );
        let a =
            resolve(IdentityMode::Trust, claim("bob"), Err("no entry".into())).expect("trusted");
        assert_eq!(a.by, Vouch::Claim);
        let a = resolve(IdentityMode::Trust, None, os("root")).expect("os");
        assert_eq!(a.by, Vouch::OsAccount);
    }

    #[test]
    fn nothing_authenticated_is_an_error_unless_trusted() {
        let e = resolve(
            IdentityMode::Enforce,
            claim("bob"),
            Err("uid 4242 has no entry".into()),
        )
        .expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "cannot tell who is acting: uid 4242 has no entry"
        );
        assert!(resolve(IdentityMode::Trust, None, Err("x".into())).is_err());
    }

    #[test]
    fn a_claimed_name_is_checked_as_it_will_be_journaled() {
        let e = resolve(IdentityMode::Trust, claim("bob\nroot"), os("root")).expect_err("bad");
        assert!(
            e.to_string()
                .starts_with("--as: a name cannot hold a control character (U+000A")
        );
        let long = "x".repeat(129);
        assert!(resolve(IdentityMode::Trust, claim(&long), os("root")).is_err());
    }
}
