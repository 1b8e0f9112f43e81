//! Signers of journal entries: `ssh-keygen -Y sign` through the agent, or a key file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::{NAMESPACE, SignError, fingerprint};

/// How long one `ssh-keygen -Y sign` may take (an agent that asks for confirmation waits
/// for a person).
const SIGN_TIMEOUT_SECS: &str = "60";

/// The public key at `path`, or — when `path` is a private key — the `.pub` beside it, as
/// `ssh-keygen -Y sign -f` finds it.
pub fn read_public_key(path: &Path) -> Result<(PathBuf, PublicKey), SignError> {
    let read = |p: &Path| {
        fearless_io::read_text(p, fearless_io::Limit::CONFIG).map_err(|e| SignError::Read {
            path: p.display().to_string(),
            reason: e.to_string(),
        })
    };
    let text = read(path)?;
    if let Ok(key) = PublicKey::from_openssh(text.trim()) {
        return Ok((path.to_owned(), key));
    }
    if text.contains("PRIVATE KEY") {
        let mut beside = path.as_os_str().to_owned();
        beside.push(".pub");
        let beside = PathBuf::from(beside);
        let text = read(&beside)?;
        let key = PublicKey::from_openssh(text.trim()).map_err(|e| SignError::Parse {
            path: beside.display().to_string(),
            line: 1,
            reason: format!("not an OpenSSH public key: {e}"),
        })?;
        return Ok((path.to_owned(), key));
    }
    Err(SignError::Parse {
        path: path.display().to_string(),
        line: 1,
        reason: "not an OpenSSH public key (`ssh-ed25519 AAAA… comment`) nor a private key"
            .to_owned(),
    })
}

/// Signs with `ssh-keygen -Y sign -n fearless -f KEY`: given the public key, `ssh-keygen`
/// asks the agent (`$SSH_AUTH_SOCK`) for the signature, so the private key never leaves it.
#[derive(Debug, Clone)]
pub struct KeygenSigner {
    key_file: PathBuf,
    public: PublicKey,
}

impl KeygenSigner {
    /// The signer of the key at `path` (a public key, or a private key with its `.pub`).
    pub fn new(path: &Path) -> Result<KeygenSigner, SignError> {
        let (key_file, public) = read_public_key(path)?;
        Ok(KeygenSigner { key_file, public })
    }

    /// The key it signs with.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key's fingerprint (`SHA256:…`).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public)
    }
}

impl fearless_store::Signer for KeygenSigner {
    fn sign(&self, message: &[u8]) -> Result<String, String> {
        // argv only: the key path is one argument, never part of a shell string; coreutils
        // `timeout` bounds an agent that never answers.
        let mut child = Command::new("timeout")
            .args([
                "--kill-after=5",
                SIGN_TIMEOUT_SECS,
                "ssh-keygen",
                "-q",
                "-Y",
                "sign",
                "-n",
            ])
            .arg(NAMESPACE)
            .arg("-f")
            .arg(&self.key_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(message)
                .map_err(|e| format!("cannot give ssh-keygen the message: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("ssh-keygen: {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let said = stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("no message");
            let hint = if std::env::var_os("SSH_AUTH_SOCK").is_none() {
                " (no agent: $SSH_AUTH_SOCK is not set; start ssh-agent and ssh-add the key)"
            } else {
                " (is the key loaded in the agent? `ssh-add -l`)"
            };
            return Err(format!(
                "ssh-keygen -Y sign -f {} failed ({}): {}{hint}",
                self.key_file.display(),
                out.status,
                fearless_io::escape_terminal(said)
            ));
        }
        let armored = String::from_utf8(out.stdout)
            .map_err(|_| "ssh-keygen printed a signature that is not text".to_owned())?;
        let sig = SshSig::from_pem(&armored)
            .map_err(|e| format!("ssh-keygen printed no SSH signature: {e}"))?;
        self.public.verify(NAMESPACE, message, &sig).map_err(|_| {
            format!(
                "ssh-keygen signed with a key other than {} ({}): check the key file",
                self.key_file.display(),
                self.fingerprint()
            )
        })?;
        Ok(armored)
    }
}

/// Signs in-process with an unencrypted OpenSSH private key: for tests, benchmarks and
/// service accounts whose key is a file.
#[derive(Debug, Clone)]
pub struct KeyFileSigner {
    key: PrivateKey,
}

impl KeyFileSigner {
    /// The signer of the private key at `path`.
    pub fn new(path: &Path) -> Result<KeyFileSigner, SignError> {
        let text = fearless_io::read_text(path, fearless_io::Limit::CONFIG).map_err(|e| {
            SignError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        let key = PrivateKey::from_openssh(&text).map_err(|e| SignError::Parse {
            path: path.display().to_string(),
            line: 1,
            reason: format!("not an OpenSSH private key: {e}"),
        })?;
        if key.is_encrypted() {
            return Err(SignError::Parse {
                path: path.display().to_string(),
                line: 1,
                reason: "the key is encrypted: use the agent (KeygenSigner)".to_owned(),
            });
        }
        Ok(KeyFileSigner { key })
    }

    /// The key's public half.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key().clone()
    }
}

impl fearless_store::Signer for KeyFileSigner {
    fn sign(&self, message: &[u8]) -> Result<String, String> {
        self.key
            .sign(NAMESPACE, HashAlg::Sha512, message)
            .and_then(|sig| sig.to_pem(LineEnding::LF))
            .map_err(|e| format!("signing failed: {e}"))
    }
}
