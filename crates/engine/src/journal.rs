//! `journal verify`: the hash chain (the store's walk) **and** every signature beside it,
//! each against the allowed signers valid at the entry's time.
//!
//! A signed entry passes when its signature is an SSH signature in namespace `fearless`
//! over exactly the entry's hash, by a key the allowed signers let sign as the entry's actor
//! at the entry's time (a key removed later still verifies its past entries when its
//! `valid-before` says so). A state change whose actor was vouched for by an SSH key
//! (`vouched_by: ssh-key`, hashed with the entry) must carry its signature: one that is
//! gone was removed. Under `strict`, every state change must be signed.
//!
//! The chain is walked once; the signatures are checked afterwards on every core (the
//! checks are independent), and reported in `seq` order.

use fearless_sign::AllowedSigners;
use fearless_store::{BrokenLink, ChainEntry, JournalHead, Store, StoreError, VerifyReport};
use serde::Serialize;

use crate::identity::Vouch;
use crate::record::is_state_change;

/// What `journal verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct JournalCheck {
    /// The hash chain.
    #[serde(skip)]
    pub chain: VerifyReport,
    /// The signatures.
    pub signatures: SignatureReport,
    /// Unsigned state changes fail the check.
    pub strict: bool,
}

impl JournalCheck {
    /// The chain is intact and no signature is wrong (and, under `strict`, no state change
    /// is unsigned and every signature could be checked against allowed signers).
    pub fn is_ok(&self) -> bool {
        let s = &self.signatures;
        self.chain.is_ok()
            && s.problems.is_empty()
            && (!self.strict || (s.unsigned_state_changes == 0 && s.not_checked == 0))
    }
}

/// The signatures of the entries whose links verified.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SignatureReport {
    /// The allowed-signers file they were checked against, if one was given.
    pub allowed_signers: Option<String>,
    /// Entries that carry a signature.
    pub signed: u64,
    /// Signatures that verified, against the allowed signers.
    pub verified: u64,
    /// Signatures that sign their entry but could not be checked for who signed (no allowed
    /// signers given).
    pub not_checked: u64,
    /// State changes without a signature (allowed unless `strict`).
    pub unsigned_state_changes: u64,
    /// The first unsigned state changes, by seq (at most [`SHOWN`]).
    pub unsigned: Vec<u64>,
    /// Every signature that is wrong or missing, by seq.
    pub problems: Vec<BrokenLink>,
}

/// How many unsigned entries a report names.
pub const SHOWN: usize = 20;

/// One entry whose signature is to be checked.
#[derive(Debug)]
struct Job {
    seq: u64,
    time: String,
    actor: String,
    hash: String,
    signature: String,
}

/// Walk the chain (against `expected`, a head kept elsewhere) and check every signature
/// against `allowed` (or, without it, only that each signs its entry).
pub async fn verify(
    store: &Store,
    expected: Option<&JournalHead>,
    allowed: Option<&AllowedSigners>,
    strict: bool,
) -> Result<JournalCheck, StoreError> {
    let mut jobs = Vec::new();
    let mut report = SignatureReport {
        allowed_signers: allowed.map(|a| a.path().to_owned()),
        ..SignatureReport::default()
    };
    let chain = store
        .verify_visiting(expected, &mut |e: ChainEntry<'_>| {
            let state_change = is_state_change(e.kind);
            match e.signature {
                Some(signature) => jobs.push(Job {
                    seq: e.seq,
                    time: e.time.to_owned(),
                    actor: e.actor.to_owned(),
                    hash: e.hash.to_owned(),
                    signature: signature.to_owned(),
                }),
                None if state_change && e.vouched_by == Some(Vouch::SshKey.as_str()) => {
                    report.problems.push(BrokenLink {
                        seq: e.seq,
                        why: "its actor was vouched for by an SSH key, but its signature is missing: it was removed"
                            .to_owned(),
                    });
                }
                None if state_change => {
                    report.unsigned_state_changes += 1;
                    if report.unsigned.len() < SHOWN {
                        report.unsigned.push(e.seq);
                    }
                }
                None => {}
            }
        })
        .await?;
    report.signed = jobs.len() as u64;
    for (seq, outcome) in check_all(&jobs, allowed) {
        match outcome {
            Ok(Checked::Verified) => report.verified += 1,
            Ok(Checked::SignsOnly) => report.not_checked += 1,
            Err(why) => report.problems.push(BrokenLink { seq, why }),
        }
    }
    report.problems.sort_by_key(|p| p.seq);
    if strict {
        for &seq in &report.unsigned {
            report.problems.push(BrokenLink {
                seq,
                why: "a state change without a signature (--strict)".to_owned(),
            });
        }
        report.problems.sort_by_key(|p| p.seq);
    }
    Ok(JournalCheck {
        chain,
        signatures: report,
        strict,
    })
}

enum Checked {
    /// Against the allowed signers.
    Verified,
    /// It signs its entry; who signed was not checked.
    SignsOnly,
}

/// Every job checked, spread over the machine's cores; results in job order.
fn check_all(
    jobs: &[Job],
    allowed: Option<&AllowedSigners>,
) -> Vec<(u64, Result<Checked, String>)> {
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .min(jobs.len().max(1));
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|job| (job.seq, check_one(job, allowed)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![(0, Err("the check panicked".to_owned()))])
            })
            .collect()
    })
}

fn check_one(job: &Job, allowed: Option<&AllowedSigners>) -> Result<Checked, String> {
    let at: jiff::Timestamp = job
        .time
        .parse()
        .map_err(|e| format!("its time `{}` cannot be read: {e}", job.time))?;
    match allowed {
        Some(allowed) => {
            fearless_sign::check(&job.signature, job.hash.as_bytes(), &job.actor, at, allowed)
                .map(|_| Checked::Verified)
                .map_err(|e| e.to_string())
        }
        None => fearless_sign::check_content(&job.signature, job.hash.as_bytes())
            .map(|_| Checked::SignsOnly)
            .map_err(|e| e.to_string()),
    }
}
