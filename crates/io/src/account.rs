//! The OS account the process runs as: its real user id, named by the system's user
//! database (`getpwuid_r`, so NSS sources such as LDAP or SSSD answer too). The
//! environment (`$USER`, `$LOGNAME`) is never read: any process can set it.

/// An OS account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The real user id.
    pub uid: u32,
    /// Its name in the user database.
    pub name: String,
    /// Its home directory in the user database (what `~/` means for its files).
    pub home: std::path::PathBuf,
}

/// Why the account could not be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The user database has no entry for the uid (a container run with a bare `--user`).
    #[error("uid {uid} has no entry in the user database")]
    NoEntry {
        /// The real user id.
        uid: u32,
    },
    /// The lookup itself failed.
    #[error("cannot look up uid {uid} in the user database: {reason}")]
    Lookup {
        /// The real user id.
        uid: u32,
        /// What the system said.
        reason: String,
    },
}

/// The account of the process's real user id.
pub fn current() -> Result<Account, AccountError> {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => Ok(Account {
            uid: uid.as_raw(),
            name: user.name,
            home: user.dir,
        }),
        Ok(None) => Err(AccountError::NoEntry { uid: uid.as_raw() }),
        Err(e) => Err(AccountError::Lookup {
            uid: uid.as_raw(),
            reason: e.desc().to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name comes from the user database, whatever the environment says.
    #[test]
    fn the_account_is_the_uid_named_by_the_user_database() {
        let account = current().expect("the test runs as a known user");
        assert_eq!(account.uid, nix::unistd::getuid().as_raw());
        let passwd = std::fs::read_to_string("/etc/passwd").expect("passwd");
        let entry = passwd
            .lines()
            .find(|l| l.split(':').nth(2) == Some(&account.uid.to_string()))
            .expect("an entry for the uid");
        assert_eq!(entry.split(':').next(), Some(account.name.as_str()));
    }
}
