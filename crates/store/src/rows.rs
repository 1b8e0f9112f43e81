//! Journal rows read without trusting the database. The journal is evidence, so whoever can
//! write the database may have put anything in it: every cell is checked for NULL, for its
//! type and for UTF-8 before it is used, and what is wrong becomes words ("its payload is
//! BLOB, not TEXT") for `verify` to report — never a driver error.

use sqlx::error::BoxDynError;
use sqlx::{ColumnIndex, Decode, Row, Type, TypeInfo, ValueRef};

use crate::StoreError;
use crate::model::JournalEntry;
use crate::store::to_u64;

/// One cell as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell<T> {
    Value(T),
    Null,
    /// A value of another type than the store writes.
    Type {
        found: String,
        wanted: String,
    },
    /// Text that is not UTF-8.
    NotUtf8(String),
    /// A value the driver could not decode for another reason.
    Unreadable(String),
}

impl<T> Cell<T> {
    /// The value, or what is wrong with column `name`, e.g. "its payload is NULL".
    pub(crate) fn value(self, name: &str) -> Result<T, String> {
        match self {
            Cell::Value(v) => Ok(v),
            Cell::Null => Err(format!("its {name} is NULL")),
            Cell::Type { found, wanted } => Err(format!("its {name} is {found}, not {wanted}")),
            Cell::NotUtf8(why) => Err(format!("its {name} is not valid UTF-8 ({why})")),
            Cell::Unreadable(why) => Err(format!("its {name} cannot be read: {why}")),
        }
    }
}

/// Column `index` of `row`, checked before it is decoded.
pub(crate) fn cell<'r, R, T>(row: &'r R, index: usize) -> Cell<T>
where
    R: Row,
    usize: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    let raw = match row.try_get_raw(index) {
        Ok(raw) => raw,
        Err(e) => return Cell::Unreadable(e.to_string()),
    };
    if raw.is_null() {
        return Cell::Null;
    }
    let found = raw.type_info().into_owned();
    if !T::compatible(&found) {
        return Cell::Type {
            found: found.name().to_owned(),
            wanted: T::type_info().name().to_owned(),
        };
    }
    T::decode(raw).map_or_else(|e| undecodable(&e), Cell::Value)
}

fn undecodable<T>(error: &BoxDynError) -> Cell<T> {
    if error.is::<std::str::Utf8Error>() || error.is::<std::string::FromUtf8Error>() {
        Cell::NotUtf8(error.to_string())
    } else {
        Cell::Unreadable(error.to_string())
    }
}

/// A journal row (`seq, time, actor, kind, subject, payload, prev_hash, hash, vouched_by,
/// signature`) as found.
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    seq: Cell<i64>,
    text: [Cell<String>; 7],
    /// NULL for entries written before schema 6.
    vouched_by: Cell<String>,
    /// NULL for entries nobody signed.
    signature: Cell<String>,
}

/// A journal row whose every cell is of the type the store writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub(crate) seq: i64,
    pub(crate) time: String,
    pub(crate) actor: String,
    pub(crate) kind: String,
    pub(crate) subject: String,
    /// Canonical JSON text, exactly as stored (and hashed).
    pub(crate) payload: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
    pub(crate) vouched_by: Option<String>,
    pub(crate) signature: Option<String>,
}

/// What is wrong with a row: its seq if that much could be read, and why.
pub(crate) type Anomaly = (Option<i64>, String);

impl RawEntry {
    /// Read a row of any backend, trusting nothing.
    pub(crate) fn read<R>(row: &R) -> RawEntry
    where
        R: Row,
        usize: ColumnIndex<R>,
        for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    {
        RawEntry {
            seq: cell(row, 0),
            text: std::array::from_fn(|i| cell(row, i + 1)),
            vouched_by: cell(row, 8),
            signature: cell(row, 9),
        }
    }

    /// Every cell checked: the first thing wrong, in column order (the seq first).
    pub(crate) fn check(self) -> Result<Checked, Anomaly> {
        let seq = self.seq.value("seq").map_err(|why| (None, why))?;
        let [time, actor, kind, subject, payload, prev_hash, hash] = self.text;
        let text = |cell: Cell<String>, name| cell.value(name).map_err(|why| (Some(seq), why));
        let vouched_by = match self.vouched_by {
            Cell::Null => None,
            other => Some(text(other, "vouched_by")?),
        };
        let signature = match self.signature {
            Cell::Null => None,
            other => Some(text(other, "signature")?),
        };
        Ok(Checked {
            seq,
            time: text(time, "time")?,
            actor: text(actor, "actor")?,
            kind: text(kind, "kind")?,
            subject: text(subject, "subject")?,
            payload: text(payload, "payload")?,
            prev_hash: text(prev_hash, "prev_hash")?,
            hash: text(hash, "hash")?,
            vouched_by,
            signature,
        })
    }

    /// The entry for listing and export; a row that cannot be read back is
    /// [`StoreError::Corrupt`], naming it (by its seq, or as the row after entry `after`).
    pub(crate) fn into_entry(self, after: u64) -> Result<JournalEntry, StoreError> {
        let corrupt = |(seq, reason): Anomaly| StoreError::Corrupt {
            what: match seq {
                Some(seq) => format!("journal entry {seq}"),
                None => format!("journal row after entry {after}"),
            },
            reason,
        };
        let row = self.check().map_err(corrupt)?;
        let payload = serde_json::from_str(&row.payload)
            .map_err(|e| corrupt((Some(row.seq), format!("its payload is not JSON: {e}"))))?;
        Ok(JournalEntry {
            seq: to_u64(row.seq),
            time: row.time,
            actor: row.actor,
            kind: row.kind,
            subject: row.subject,
            payload,
            prev_hash: row.prev_hash,
            hash: row.hash,
            vouched_by: row.vouched_by,
            signature: row.signature,
        })
    }
}
