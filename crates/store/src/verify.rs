//! [`Store::verify`]: walk the whole journal, recompute every link and hash, and check that
//! the head agrees with the last entry — and, given the head an auditor kept elsewhere, that
//! the journal still holds it.
//!
//! Whatever is wrong with the data is a [`BrokenLink`] in the report, never an `Err`: an
//! edited, missing, repeated or reordered entry, a value of the wrong type, a NULL, text that
//! is not UTF-8, a payload that is not JSON, rows outside the chain, a head that is missing,
//! repeated or disagrees with the last entry, even a journal table or column that is gone.
//! An `Err` means the store could not be read at all (connection, disk, permissions).

use crate::StoreError;
use crate::canonical::{GENESIS, Hashed};
use crate::model::{BrokenLink, ChainEntry, JournalHead, VerifyReport};
use crate::rows::{Cell, Checked, RawEntry, cell};
use crate::store::{PAGE, Store, not_utf8, on_backend, to_u64};

impl Store {
    /// Walk the whole chain, recomputing every hash and link; the first broken link, if any.
    ///
    /// Detects an edited entry (its hash no longer matches), a deleted one (a gap in `seq`, or
    /// a tail shorter than the head records), reordered or inserted ones (a `prev_hash` that is
    /// not the previous entry's hash), and rows the store could not have written (see the
    /// module documentation). A tail cut off together with a rewritten head is invisible from
    /// inside the store: keep the report's head elsewhere and use [`Store::verify_expecting`].
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.verify_expecting(None).await
    }

    /// [`Store::verify`], and check that the journal still holds `expected` (a head kept
    /// elsewhere): its entry `seq` must exist and have that hash. Entries appended after it
    /// are fine; a journal that ends before it, or whose entry there has another hash, is
    /// broken.
    pub async fn verify_expecting(
        &self,
        expected: Option<&JournalHead>,
    ) -> Result<VerifyReport, StoreError> {
        self.verify_visiting(expected, &mut |_| {}).await
    }

    /// [`Store::verify_expecting`], showing `visit` every entry whose link verified, in
    /// order: what a check beyond the chain (the signatures) needs.
    pub async fn verify_visiting(
        &self,
        expected: Option<&JournalHead>,
        visit: &mut (dyn FnMut(ChainEntry<'_>) + Send),
    ) -> Result<VerifyReport, StoreError> {
        let mut walk = Walk {
            intact: 0,
            prev_hash: GENESIS.to_owned(),
            expected: expected.cloned(),
        };
        let broken = match self.walk(&mut walk, visit).await {
            Ok(broken) => broken,
            Err(error) => match structural(&error) {
                Some(what) => Some(walk.broken_after(format!(
                    "the journal's tables are not as fearless made them: {what}"
                ))),
                None => return Err(StoreError::query(error)),
            },
        };
        Ok(VerifyReport {
            entries: walk.intact,
            head: JournalHead {
                seq: walk.intact,
                hash: walk.prev_hash,
            },
            expected: walk.expected,
            broken,
        })
    }

    /// The chain, then the rows outside it, then the head, then the expected head.
    async fn walk(
        &self,
        walk: &mut Walk,
        visit: &mut (dyn FnMut(ChainEntry<'_>) + Send),
    ) -> Result<Option<BrokenLink>, sqlx::Error> {
        let mut limit = PAGE;
        loop {
            let rows = match self.page(walk.intact, limit).await {
                Ok(rows) => rows,
                // PostgreSQL refuses a whole page for one row it cannot send as UTF-8: go on a
                // row at a time, so the failing read is that row.
                Err(error) if not_utf8(&error).is_some() && limit > 1 => {
                    limit = 1;
                    continue;
                }
                Err(error) => match not_utf8(&error) {
                    Some(why) => {
                        let intact = walk.intact;
                        return Ok(Some(walk.broken_after(format!(
                            "the row after entry {intact} holds text that is not valid UTF-8 ({why})"
                        ))));
                    }
                    None => return Err(error),
                },
            };
            if rows.is_empty() {
                break;
            }
            for raw in rows {
                let row = match walk.entry(raw) {
                    Ok(row) => row,
                    Err(broken) => return Ok(Some(broken)),
                };
                visit(ChainEntry {
                    seq: walk.intact,
                    time: &row.time,
                    actor: &row.actor,
                    kind: &row.kind,
                    hash: &row.hash,
                    vouched_by: row.vouched_by.as_deref(),
                    signature: row.signature.as_deref(),
                });
            }
        }
        let (rows, with_seq): (i64, i64) =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::JOURNAL_COUNT)
                .persistent(false)
                .fetch_one(pool)
                .await?);
        if let Some(broken) = walk.count(to_u64(rows), to_u64(with_seq)) {
            return Ok(Some(broken));
        }
        let (heads, with_id_one) = on_backend!(self, |pool| {
            let heads: Vec<(Cell<i64>, Cell<String>)> = sqlx::query(crate::sql::HEAD_ROWS)
                .persistent(false)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| (cell(row, 0), cell(row, 1)))
                .collect();
            let (with_id_one,): (i64,) = sqlx::query_as(crate::sql::HEAD_WITH_ID_ONE)
                .persistent(false)
                .fetch_one(pool)
                .await?;
            (heads, with_id_one)
        });
        if let Some(broken) = walk.head(heads, with_id_one) {
            return Ok(Some(broken));
        }
        Ok(walk.cut_short())
    }
}

/// How far the walk got.
#[derive(Debug)]
struct Walk {
    /// How many entries verified: the seq of the last one.
    intact: u64,
    /// The hash of the last entry that verified ([`GENESIS`] before the first).
    prev_hash: String,
    expected: Option<JournalHead>,
}

impl Walk {
    /// A link broken at `seq`.
    fn broken(seq: u64, why: String) -> BrokenLink {
        BrokenLink { seq, why }
    }

    /// A link broken just after the last entry that verified.
    fn broken_after(&self, why: String) -> BrokenLink {
        Walk::broken(self.intact + 1, why)
    }

    /// Check the next row of the chain; move on when it holds, returning it.
    fn entry(&mut self, raw: RawEntry) -> Result<Checked, BrokenLink> {
        let intact = self.intact;
        let row = match raw.check() {
            Ok(row) => row,
            Err((None, why)) => {
                return Err(self.broken_after(format!("the row after entry {intact}: {why}")));
            }
            Err((Some(seq), why)) => {
                return Err(self.position(seq).unwrap_or_else(|| self.broken_after(why)));
            }
        };
        if let Some(broken) = self.position(row.seq) {
            return Err(broken);
        }
        if let Some(why) = self.link(&row) {
            return Err(self.broken_after(why));
        }
        self.intact += 1;
        self.prev_hash.clone_from(&row.hash);
        Ok(row)
    }

    /// Whether a row with this seq stands where the next entry must.
    fn position(&self, seq: i64) -> Option<BrokenLink> {
        let intact = self.intact;
        let next = intact + 1;
        let why = match u64::try_from(seq) {
            Ok(seq) if seq == next => return None,
            Ok(seq) if seq > next => format!(
                "entry {next} is missing: the journal goes from entry {intact} to entry {seq}"
            ),
            Ok(seq) if seq >= 1 => {
                format!("entry {seq} appears again after entry {intact}: a row was repeated")
            }
            _ => format!("a row has seq {seq}: the journal counts from 1"),
        };
        Some(self.broken_after(why))
    }

    /// What is wrong with the link from the last entry to `row`, or its content, if anything.
    fn link(&self, row: &Checked) -> Option<String> {
        let intact = self.intact;
        if row.prev_hash != self.prev_hash {
            return Some(format!(
                "its prev_hash is not the hash of entry {intact}: an entry was deleted, inserted or moved here"
            ));
        }
        let hashed = Hashed {
            seq: intact + 1,
            time: &row.time,
            actor: &row.actor,
            kind: &row.kind,
            subject: &row.subject,
            payload: &row.payload,
            vouched_by: row.vouched_by.as_deref(),
        };
        if hashed.hash(&self.prev_hash) != row.hash {
            return Some("its content does not match its hash: the entry was edited".to_owned());
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&row.payload) {
            return Some(format!("its payload is not JSON: {e}"));
        }
        match &self.expected {
            Some(head) if head.seq == intact + 1 && head.hash != row.hash => Some(format!(
                "its hash is {}, not {} as the expected head {head} says: the journal was rewritten",
                row.hash, head.hash
            )),
            _ => None,
        }
    }

    /// Rows the walk did not reach: with a NULL seq, or repeating one across a page.
    fn count(&self, rows: u64, with_seq: u64) -> Option<BrokenLink> {
        let intact = self.intact;
        if rows > with_seq {
            let nulls = rows - with_seq;
            return Some(self.broken_after(format!(
                "{nulls} journal row{} a NULL seq, outside the chain",
                if nulls == 1 { " has" } else { "s have" }
            )));
        }
        (rows != intact).then(|| {
            self.broken_after(format!(
                "the journal holds {rows} rows but its chain only {intact}: the others repeat a seq"
            ))
        })
    }

    /// The head must be one row, with id 1, recording the last entry.
    fn head(&self, heads: Vec<(Cell<i64>, Cell<String>)>, with_id_one: i64) -> Option<BrokenLink> {
        let intact = self.intact;
        let head = match <[_; 1]>::try_from(heads) {
            Ok([head]) => head,
            Err(heads) if heads.is_empty() => {
                return Some(self.broken_after(
                    "the journal head is missing (table journal_head has no row): whether entries were cut off its end cannot be told"
                        .to_owned(),
                ));
            }
            Err(heads) => {
                return Some(self.broken_after(format!(
                    "the journal head is repeated: table journal_head has {} rows, not one",
                    heads.len()
                )));
            }
        };
        if with_id_one != 1 {
            return Some(
                self.broken_after("the journal head's row has an id other than 1".to_owned()),
            );
        }
        let (seq, hash) = head;
        let seq = match seq.value("seq") {
            Ok(seq) => seq,
            Err(why) => return Some(self.broken_after(format!("the journal head: {why}"))),
        };
        let hash = match hash.value("hash") {
            Ok(hash) => hash,
            Err(why) => return Some(self.broken_after(format!("the journal head: {why}"))),
        };
        if u64::try_from(seq).ok() != Some(intact) {
            return Some(self.broken_after(format!(
                "the journal ends at entry {intact} but its head records entry {seq}: entries were deleted from, or added to, its end"
            )));
        }
        (hash != self.prev_hash).then(|| {
            if intact == 0 {
                Walk::broken(
                    0,
                    "the journal is empty but its head records a hash: the head was edited"
                        .to_owned(),
                )
            } else {
                Walk::broken(
                    intact,
                    "the last entry's hash differs from the one its head records: the entry was replaced"
                        .to_owned(),
                )
            }
        })
    }

    /// A journal that ends before the expected head was cut short.
    fn cut_short(&self) -> Option<BrokenLink> {
        let intact = self.intact;
        let head = self.expected.as_ref()?;
        (head.seq > intact).then(|| {
            self.broken_after(format!(
                "the journal ends at entry {intact}, before the expected head {head}: entries were cut off its end"
            ))
        })
    }
}

/// A query that failed because the journal's tables or columns are not there, or not of the
/// types fearless made them (someone altered them): the data's fault, so a broken link.
fn structural(error: &sqlx::Error) -> Option<String> {
    let db = error.as_database_error()?;
    let message = db.message();
    // PostgreSQL: undefined table, column or function (an operator on an altered type), a
    // datatype mismatch. SQLite says it in words.
    let postgres = matches!(
        db.code().as_deref(),
        Some("42P01" | "42703" | "42883" | "42804")
    );
    let sqlite = message.starts_with("no such table") || message.starts_with("no such column");
    (postgres || sqlite).then(|| message.to_owned())
}
