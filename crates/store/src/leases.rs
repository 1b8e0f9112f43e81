//! Host leases (schema 10): how several controllers — workers, in one process or on other
//! machines — split the hosts of a round (a rollout's wave) through the store alone.
//!
//! A coordinator opens a lease for each host of the wave ([`Store::open_leases`]). A worker
//! claims one ([`Store::claim_lease`]): a host nobody holds, in one short transaction that
//! on PostgreSQL takes its row with `SELECT … FOR UPDATE SKIP LOCKED`, so claimers never
//! wait for each other nor take the same row; on SQLite the transaction holds the
//! database's write lock, which serialises claimers (processes sharing the file on one
//! machine). While it works the worker renews the lease ([`Store::renew_lease`], its
//! heartbeat); when the host has reached an end it writes that end on the lease
//! ([`Store::end_lease`]). A lease whose holder stopped renewing is taken over once it has
//! expired, and that takeover is journaled in the claim's transaction.
//!
//! Leases are coordination, not history: claims and renewals are not journaled. They decide
//! who works on a host, never what is done to it: a host's steps stay compare-and-sets with
//! their journal entries, so two workers that both believe they hold a host cannot apply it
//! twice.
//!
//! Times are the claimers' clocks (the store's fixed-width UTC text): controllers that share
//! a store keep their clocks in step (NTP), well within a lease's length.

use std::time::Duration;

use time::OffsetDateTime;

use crate::StoreError;
use crate::model::NewEvent;
use crate::store::{
    Store, format_time, insert_entry, missing_head, now, on_backend, parse_time, to_u64,
};

/// In the open transaction `$tx`: give the lease of `($round, $host)` to `$worker` from
/// `$now` until `$expires`, adding `$takeovers` (0 or 1) to its count of takeovers.
macro_rules! take {
    ($tx:ident, ($round:expr, $host:expr), $worker:expr, ($now:expr, $expires:expr), $takeovers:expr) => {
        sqlx::query(crate::sql::TAKE_LEASE)
            .bind($round)
            .bind($host)
            .bind($worker)
            .bind($now)
            .bind($expires)
            .bind($takeovers)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query)?
    };
}

/// A lease row as read: host, wave, worker, claimed_at, expires_at, takeovers, end_state,
/// end_detail.
type LeaseRow = (
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
);

/// A host one worker claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The host.
    pub host: String,
    /// The worker that held it before and let its lease expire; `None` for a host nobody
    /// held.
    pub taken_from: Option<String>,
}

/// One host's lease, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The host.
    pub host: String,
    /// Its wave, from 1.
    pub wave: u32,
    /// Who holds (or last held) it; `None` until it is claimed.
    pub worker: Option<String>,
    /// When its holder claimed it.
    pub claimed_at: Option<OffsetDateTime>,
    /// When it expires unless its holder renews it.
    pub expires_at: Option<OffsetDateTime>,
    /// How many times it was taken over.
    pub takeovers: u64,
    /// The host's end (its state and what happened, in words), once written.
    pub end: Option<(String, String)>,
}

impl Store {
    /// Open a lease for each of `hosts` in `round` (`R-3`), wave `wave`; a lease that is open
    /// already is left as it is. Not journaled.
    pub async fn open_leases(
        &self,
        round: &str,
        wave: u32,
        hosts: &[String],
    ) -> Result<(), StoreError> {
        self.writable()?;
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await.map_err(StoreError::query)?;
            for host in hosts {
                sqlx::query(crate::sql::OPEN_LEASE)
                    .bind(round)
                    .bind(host)
                    .bind(i64::from(wave))
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
            }
            tx.commit().await.map_err(StoreError::query)?;
        });
        Ok(())
    }

    /// Claim for `worker`, for `lease`, one host of `round`'s wave `wave` that has no end yet:
    /// one nobody holds (not journaled), else one whose lease expired — a takeover, journaled
    /// as `takeover(host, previous holder)` returns, in the claim's transaction. `None`:
    /// every host of the wave is held or ended.
    pub async fn claim_lease<F>(
        &self,
        round: &str,
        wave: u32,
        worker: &str,
        lease: Duration,
        takeover: F,
    ) -> Result<Option<Claim>, StoreError>
    where
        F: FnOnce(&str, &str) -> NewEvent,
    {
        self.writable()?;
        let (now, now_text) = now();
        let expires = format_time(now + lease);
        let wave = i64::from(wave);
        // A free host first: a short transaction of its own, no journal.
        let free = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let found: Option<(String,)> = sqlx::query_as(sql.claim_free)
                .bind(round)
                .bind(wave)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            if let Some((host,)) = &found {
                take!(tx, (round, host), worker, (&now_text, &expires), 0_i64);
            }
            tx.commit().await.map_err(StoreError::query)?;
            found
        });
        if let Some((host,)) = free {
            return Ok(Some(Claim {
                host,
                taken_from: None,
            }));
        }
        // An expired one: looked for without a lock first, so idle workers polling a wave
        // in progress do not queue on the journal head.
        let (expired,): (i64,) =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::EXPIRED_LEASES)
                .bind(round)
                .bind(wave)
                .bind(&now_text)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query)?);
        if expired == 0 {
            return Ok(None);
        }
        on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            // The journal head first, as every write takes it: no two locks in two orders.
            let head: Option<(i64, String)> = sqlx::query_as(sql.lock_head)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let head = head.ok_or_else(missing_head)?;
            let found: Option<(String, String)> = sqlx::query_as(sql.claim_expired)
                .bind(round)
                .bind(wave)
                .bind(&now_text)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            // Someone else took it in between: nothing to write.
            let Some((host, previous)) = found else {
                return Ok(None);
            };
            take!(tx, (round, &host), worker, (&now_text, &expires), 1_i64);
            let entry = insert_entry!(self, tx, head, &now_text, takeover(&host, &previous));
            sqlx::query(crate::sql::MOVE_HEAD)
                .bind(entry.seq)
                .bind(&entry.hash)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            tx.commit().await.map_err(StoreError::query)?;
            Ok(Some(Claim {
                host,
                taken_from: Some(previous),
            }))
        })
    }

    /// `worker`'s heartbeat on its lease of `host` in `round`: it now expires `lease` from
    /// now. `false`: the lease is no longer `worker`'s (taken over) or the host has ended.
    pub async fn renew_lease(
        &self,
        round: &str,
        host: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        self.writable()?;
        let (now, _) = now();
        let renewed = on_backend!(self, |pool| sqlx::query(crate::sql::RENEW_LEASE)
            .bind(round)
            .bind(host)
            .bind(worker)
            .bind(format_time(now + lease))
            .execute(pool)
            .await
            .map_err(StoreError::query)?
            .rows_affected());
        Ok(renewed == 1)
    }

    /// Write `host`'s end (`state`, `detail`) on `worker`'s lease of it in `round`. `false`:
    /// the lease is no longer `worker`'s, and nothing is written.
    pub async fn end_lease(
        &self,
        round: &str,
        host: &str,
        worker: &str,
        (state, detail): (&str, &str),
    ) -> Result<bool, StoreError> {
        self.writable()?;
        let ended = on_backend!(self, |pool| sqlx::query(crate::sql::END_LEASE)
            .bind(round)
            .bind(host)
            .bind(worker)
            .bind(state)
            .bind(detail)
            .execute(pool)
            .await
            .map_err(StoreError::query)?
            .rows_affected());
        Ok(ended == 1)
    }

    /// How many leases of `round`'s wave `wave` have no end yet (0: the wave is done,
    /// whoever worked its hosts).
    pub async fn unended_leases(&self, round: &str, wave: u32) -> Result<u64, StoreError> {
        let (n,): (i64,) = on_backend!(self, |pool| sqlx::query_as(crate::sql::UNENDED_LEASES)
            .bind(round)
            .bind(i64::from(wave))
            .fetch_one(pool)
            .await
            .map_err(StoreError::query)?);
        Ok(to_u64(n))
    }

    /// The first wave of `round` with a lease that has no end: the wave workers work on.
    pub async fn open_wave(&self, round: &str) -> Result<Option<u32>, StoreError> {
        let (wave,): (Option<i64>,) =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::OPEN_WAVE)
                .bind(round)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query)?);
        Ok(wave.and_then(|w| u32::try_from(w).ok()))
    }

    /// Open `round`, a round that is not a rollout (a check round), with `spec` (what it is
    /// about, for the workers that join it). Not journaled.
    pub async fn open_round(&self, round: &str, spec: &str) -> Result<(), StoreError> {
        self.writable()?;
        let (_, now_text) = now();
        on_backend!(self, |pool| sqlx::query(crate::sql::OPEN_ROUND)
            .bind(round)
            .bind(spec)
            .bind(&now_text)
            .execute(pool)
            .await
            .map(drop)
            .map_err(StoreError::query)?);
        Ok(())
    }

    /// `round`'s spec and whether it is over, if [`Store::open_round`] opened it.
    pub async fn lease_round(&self, round: &str) -> Result<Option<(String, bool)>, StoreError> {
        let row: Option<(String, Option<String>)> =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::ROUND)
                .bind(round)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query)?);
        Ok(row.map(|(spec, closed)| (spec, closed.is_some())))
    }

    /// `round` is over: workers that joined it stop.
    pub async fn close_round(&self, round: &str) -> Result<(), StoreError> {
        self.writable()?;
        let (_, now_text) = now();
        on_backend!(self, |pool| sqlx::query(crate::sql::CLOSE_ROUND)
            .bind(round)
            .bind(&now_text)
            .execute(pool)
            .await
            .map(drop)
            .map_err(StoreError::query)?);
        Ok(())
    }

    /// Every lease of `round`, by wave then host.
    pub async fn leases(&self, round: &str) -> Result<Vec<Lease>, StoreError> {
        let rows: Vec<LeaseRow> = on_backend!(self, |pool| sqlx::query_as(crate::sql::LEASES)
            .bind(round)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query)?);
        rows.into_iter()
            .map(
                |(host, wave, worker, claimed_at, expires_at, takeovers, state, detail)| {
                    let what = || format!("the lease of {host} in {round}");
                    let time = |t: Option<String>| t.map(|t| parse_time(&t, what())).transpose();
                    Ok(Lease {
                        wave: u32::try_from(wave).unwrap_or(0),
                        worker,
                        claimed_at: time(claimed_at)?,
                        expires_at: time(expires_at)?,
                        takeovers: to_u64(takeovers),
                        end: state.map(|s| (s, detail.unwrap_or_default())),
                        host,
                    })
                },
            )
            .collect()
    }

    /// Whether this store can lease hosts to workers: PostgreSQL 9.5 or newer (`SKIP
    /// LOCKED`), or SQLite (processes that share its file, on one machine). The reason when
    /// it cannot.
    pub async fn can_lease(&self) -> Result<Result<(), String>, StoreError> {
        if self.read_only {
            return Ok(Err(format!("the store {} is read-only", self.location)));
        }
        match &self.pool {
            crate::store::Pool::Sqlite(_) => Ok(Ok(())),
            crate::store::Pool::Postgres(pool) => {
                let version: String = sqlx::query_scalar("SHOW server_version_num")
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::query)?;
                Ok(match version.trim().parse::<u32>() {
                    Ok(v) if v >= 90_500 => Ok(()),
                    _ => Err(format!(
                        "PostgreSQL {version} cannot lease hosts: `SELECT … FOR UPDATE SKIP LOCKED` needs 9.5 or newer"
                    )),
                })
            }
        }
    }
}
