//! SSH signatures over fearless's journal, as git signs commits: the operator's key signs
//! each state-changing entry's hash through `ssh-keygen -Y sign` and the agent (namespace
//! [`NAMESPACE`]), and an OpenSSH `allowed_signers` file says whose key it is, for which
//! names and between which times.
//!
//! - [`AllowedSigners`]: the file, parsed as `ssh-keygen -Y verify` reads it (principal
//!   patterns, `namespaces`, `valid-after`, `valid-before`, `cert-authority`), every
//!   problem located by line.
//! - [`KeygenSigner`]: a [`fearless_store::Signer`] that runs `ssh-keygen -Y sign` with the
//!   operator's public key, so the private key stays in the agent; each signature is checked
//!   against that key before the entry is written.
//! - [`KeyFileSigner`]: signs in-process with an unencrypted private key file (tests,
//!   benchmarks, a service account).
//! - [`check`]: one signature over one entry's hash, natively (no process per entry), against
//!   the signers valid at the entry's time.

#![warn(missing_docs)]

mod allowed;
mod signer;
mod timestamp;

pub use allowed::{AllowedSigners, Refusal};
pub use signer::{KeyFileSigner, KeygenSigner, read_public_key};
pub use timestamp::parse_ssh_time;

use ssh_key::{HashAlg, PublicKey, SshSig};

/// The namespace of every fearless signature (`ssh-keygen -Y sign -n fearless`): a signature
/// made for git or for a file cannot pass for one of fearless's, nor the other way round.
pub const NAMESPACE: &str = "fearless";

/// What goes wrong with signing or with reading the files signing needs.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A file could not be read.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A line of an allowed-signers file or a key file is not what OpenSSH writes.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a signature does not stand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigProblem {
    /// The text is not an armored SSH signature.
    #[error("its signature is not an SSH signature: {0}")]
    Malformed(String),
    /// The signature was made for another namespace.
    #[error("its signature is for namespace `{0}`, not `fearless`")]
    Namespace(String),
    /// The signature does not sign this entry's hash: it was made over other content.
    #[error("its signature (key {0}) does not sign this entry: it was made over other content")]
    OtherContent(String),
    /// The key made the signature, but the allowed signers do not let it sign for the actor.
    #[error("its signature (key {fingerprint}) is not allowed for {actor}: {refusal}")]
    NotAllowed {
        /// The signing key's fingerprint.
        fingerprint: String,
        /// The entry's actor.
        actor: String,
        /// Why not.
        refusal: Box<Refusal>,
    },
}

/// The SHA-256 fingerprint of a key, as `ssh-keygen -l` prints it (`SHA256:…`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Check `signature` (armored) over `message` (an entry's hash) as `actor`'s, at `at` (the
/// entry's time): a valid SSH signature in namespace `fearless` over exactly this message,
/// by a key `allowed` lets sign for `actor` at that time. Returns the key's fingerprint.
pub fn check(
    signature: &str,
    message: &[u8],
    actor: &str,
    at: jiff::Timestamp,
    allowed: &AllowedSigners,
) -> Result<String, SigProblem> {
    let (sig, fp) = signed_content(signature, message)?;
    allowed
        .authorizes(actor, sig.public_key(), at)
        .map_err(|refusal| SigProblem::NotAllowed {
            fingerprint: fp.clone(),
            actor: actor.to_owned(),
            refusal: Box::new(refusal),
        })?;
    Ok(fp)
}

/// Only the first half of [`check`]: `signature` is an SSH signature in namespace
/// `fearless` over exactly `message`, by the key it carries — not who that key is.
/// Returns the key's fingerprint.
pub fn check_content(signature: &str, message: &[u8]) -> Result<String, SigProblem> {
    signed_content(signature, message).map(|(_, fp)| fp)
}

fn signed_content(signature: &str, message: &[u8]) -> Result<(SshSig, String), SigProblem> {
    let sig = SshSig::from_pem(signature).map_err(|e| SigProblem::Malformed(e.to_string()))?;
    if sig.namespace() != NAMESPACE {
        return Err(SigProblem::Namespace(sig.namespace().to_owned()));
    }
    let key = PublicKey::from(sig.public_key().clone());
    let fp = fingerprint(&key);
    key.verify(NAMESPACE, message, &sig)
        .map_err(|_| SigProblem::OtherContent(fp.clone()))?;
    Ok((sig, fp))
}
