//! The values the store hands out and takes in: change records as stored, journal events and
//! entries, filters, journal heads and the verification report.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;

use crate::StoreError;
use crate::canonical::GENESIS;

/// The kinds of versioned record the store keeps: a JSON document with a state and a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Document {
    /// A change record, `CHG-<n>`.
    Change,
    /// A patch rollout, `R-<n>`.
    Rollout,
    /// An incident, `INC-<n>`.
    Incident,
}

impl Document {
    /// `CHG-3`, `R-3`, `INC-3`: the id users see, and the subject of the record's journal entries.
    pub fn id(self, number: u64) -> String {
        let prefix = match self {
            Document::Change => "CHG",
            Document::Rollout => "R",
            Document::Incident => "INC",
        };
        format!("{prefix}-{number}")
    }
}

impl fmt::Display for Document {
    /// `change`, `rollout`, `incident`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Document::Change => "change",
            Document::Rollout => "rollout",
            Document::Incident => "incident",
        })
    }
}

/// The kinds of record the store keeps as they were taken, never changed: a number, a
/// time, who took it and canonical JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kept {
    /// A package snapshot, `SNAP-<n>`.
    Snapshot,
    /// A dependency observation, `OBS-<n>`.
    Observation,
}

impl Kept {
    /// `SNAP-3`, `OBS-3`.
    pub(crate) fn id(self, number: u64) -> String {
        match self {
            Kept::Snapshot => format!("SNAP-{number}"),
            Kept::Observation => format!("OBS-{number}"),
        }
    }

    /// `snapshot`, `observation`.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kept::Snapshot => "snapshot",
            Kept::Observation => "observation",
        }
    }

    /// Its statements (the same in both dialects).
    pub(crate) fn sql(self) -> &'static crate::sql::KeptSql {
        match self {
            Kept::Snapshot => &crate::sql::SNAPSHOTS,
            Kept::Observation => &crate::sql::OBSERVATIONS,
        }
    }
}

/// Which database a [`Store`](crate::Store) runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A local SQLite file (`sqlite:PATH`).
    Sqlite,
    /// A PostgreSQL server (`postgres://…`).
    Postgres,
}

/// A versioned record as stored — a change, a rollout or an incident: an opaque JSON
/// document with a state and a version.
///
/// The store knows nothing of their rules; `record` is whatever the domain wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The number of `CHG-<n>`, `R-<n>` or `INC-<n>`; assigned by the store (1, 2, …).
    pub number: u64,
    /// Bumped by every update; the token for optimistic locking. 1 after insert.
    pub version: u64,
    /// The state, kept in a column of its own so it can be listed without parsing records.
    pub state: String,
    /// The record.
    pub record: serde_json::Value,
    /// When the change was inserted (UTC, microseconds).
    pub created_at: OffsetDateTime,
    /// When the change was last written (UTC, microseconds).
    pub updated_at: OffsetDateTime,
}

/// One host of a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutHost {
    /// Inventory name.
    pub host: String,
    /// Its wave, from 1.
    pub wave: u32,
    /// Its state in the per-host state machine.
    pub state: String,
    /// The snapshot taken of it before it changed (`SNAP-<n>`).
    pub snapshot: Option<u64>,
    /// When it last moved.
    pub updated_at: OffsetDateTime,
}

/// A record kept as it was taken: a package snapshot (`SNAP-<n>`) or a dependency
/// observation (`OBS-<n>`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The number in its id; assigned by the store (1, 2, …).
    pub number: u64,
    /// When it was taken (UTC, microseconds).
    pub taken_at: OffsetDateTime,
    /// Who took it.
    pub actor: String,
    /// The document.
    pub record: serde_json::Value,
}

/// A package snapshot, `SNAP-<number>`.
pub type StoredSnapshot = StoredRecord;
/// A dependency observation, `OBS-<number>`.
pub type StoredObservation = StoredRecord;

/// An event to append to the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Who did it (`--as`, `FEARLESS_USER` or the OS user).
    pub actor: String,
    /// What happened, dotted: `change.approved`, `host.package.upgraded`.
    pub kind: String,
    /// What it happened to: `CHG-3`, `host:web-1`. Set by the store for change events.
    pub subject: String,
    /// Details; stored as canonical JSON.
    pub payload: serde_json::Value,
    /// What vouched for `actor`: `ssh-key`, `database-role`, `os-account`, or `claim`
    /// (nobody: `identity.mode: trust`); hashed with the entry when set.
    pub vouched_by: Option<String>,
    /// Sign the entry with the store's [`Signer`](crate::Signer), when it has one: a
    /// state-changing request (a change or incident transition, a rollout started, paused,
    /// resumed or aborted), not the work it sets off.
    pub sign: bool,
}

/// One entry of the journal, as stored and exported (one JSON line per entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    /// Position in the chain: 1, 2, … without gaps.
    pub seq: u64,
    /// When it was appended: RFC 3339 UTC with microseconds, e.g. `2026-05-01T12:00:00.000001Z`.
    pub time: String,
    /// Who did it.
    pub actor: String,
    /// What happened.
    pub kind: String,
    /// What it happened to.
    pub subject: String,
    /// Details.
    pub payload: serde_json::Value,
    /// The hash of the previous entry (64 zeros for the first), lower-case hex.
    pub prev_hash: String,
    /// SHA-256 of `prev_hash`, a newline and the canonical JSON of this entry, lower-case hex.
    pub hash: String,
    /// What vouched for `actor` (absent on entries written before schema 6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vouched_by: Option<String>,
    /// The actor's SSH signature over `hash` (`ssh-keygen -Y sign -n fearless`, armored),
    /// when the entry was signed; outside the hash it signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Which journal entries to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalFilter {
    /// Only entries at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only entries about this subject (`CHG-3`).
    pub subject: Option<String>,
}

/// One entry of the journal named by its position and hash, written `SEQ:HASH`: what an
/// auditor keeps outside the store to detect a journal cut short (`journal verify
/// --expect-head`). `0:` and 64 zeros is the head of an empty journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalHead {
    /// The entry's seq (0 for the empty journal).
    pub seq: u64,
    /// The entry's hash, lower-case hex ([`GENESIS`] for the empty journal).
    pub hash: String,
}

impl JournalHead {
    /// The head of an empty journal: `0:000…000`.
    pub fn genesis() -> JournalHead {
        JournalHead {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

impl fmt::Display for JournalHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl FromStr for JournalHead {
    type Err = StoreError;

    /// `SEQ:HASH`: a whole number and 64 hex digits (either case; kept lower-case).
    fn from_str(value: &str) -> Result<JournalHead, StoreError> {
        let bad = |reason: &str| StoreError::BadHead {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let (seq, hash) = value
            .trim()
            .split_once(':')
            .ok_or_else(|| bad("there is no `:` between the seq and the hash"))?;
        let seq: u64 = seq
            .parse()
            .map_err(|_| bad("the seq is not a whole number"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the hash is not 64 hex digits"));
        }
        let hash = hash.to_ascii_lowercase();
        if seq == 0 && hash != GENESIS {
            return Err(bad(
                "entry 0 is the start of the chain: its hash is 64 zeros",
            ));
        }
        Ok(JournalHead { seq, hash })
    }
}

/// The result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// How many entries were found intact (all of them when nothing is broken).
    pub entries: u64,
    /// The last entry found intact (`0:000…` when none): with an intact chain, the journal's
    /// head, to keep somewhere fearless cannot write and compare later (`--expect-head`).
    pub head: JournalHead,
    /// The head the journal was checked against, if one was given: the chain must still hold
    /// that entry with that hash.
    pub expected: Option<JournalHead>,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

impl VerifyReport {
    /// True when the chain is intact.
    pub fn is_ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// An entry whose link verified, as [`Store::verify_visiting`](crate::Store::verify_visiting)
/// shows it: what a check of its signature needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainEntry<'a> {
    /// Its position.
    pub seq: u64,
    /// When it was appended (RFC 3339 UTC).
    pub time: &'a str,
    /// Who did it.
    pub actor: &'a str,
    /// What happened.
    pub kind: &'a str,
    /// Its hash, which a signature signs.
    pub hash: &'a str,
    /// What vouched for the actor.
    pub vouched_by: Option<&'a str>,
    /// The armored SSH signature over `hash`, if any.
    pub signature: Option<&'a str>,
}

/// Where and why the chain breaks: an edited, missing, repeated or reordered entry, a value of
/// the wrong type, a NULL, text that is not UTF-8, a head that is missing, repeated or
/// disagrees with the last entry, or an expected head the journal no longer holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The first sequence number that does not check out.
    pub seq: u64,
    /// Why, in words.
    pub why: String,
}
