//! The continuous test plan's history (schema 8): check runs and their results, each check's
//! damped state, and the retention that prunes old runs.
//!
//! A run is not journaled (one a minute, thousands of results each): it is data, like a
//! metric. What the journal gets is each *hard* transition of a check's state (it turned
//! failing, it recovered), written in the same transaction as the state it moves, by
//! [`Store::record_check_run`].
//!
//! Results are kept as spans ([`HistorySpan`]): a stretch of results of one check on one
//! host with the same status and reason is one row, which each run that agrees with it
//! extends and the first that does not ends. The history's size follows how often checks
//! change, not how often they run: a month of a passing check every minute is one row. A
//! span keeps its first and last message, its last duration and the durations' minimum,
//! maximum and mean. Each key's open span lives in a small table of one row a key
//! (`check_open`), which every run rewrites; a span is moved to `check_spans`, which only
//! gets inserts and prunes, when a result disagrees with it — so a run writes about the same
//! whatever the length of the history. A run's results take four statements whatever their
//! number (a bound JSON array expanded by the database: extend the open spans that agree,
//! close the others, open spans for the keys left without one).

use std::collections::BTreeSet;

use serde::Serialize;
use time::OffsetDateTime;

use crate::StoreError;
use crate::model::{JournalEntry, NewEvent};
use crate::store::{
    format_time, insert_entry, missing_head, now, on_backend, parse_time, to_i64, to_u64,
};

/// A run of the test plan to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckRun {
    /// When the run started (the time every result of it is shown at).
    pub started_at: OffsetDateTime,
    /// When its last check ended.
    pub finished_at: OffsetDateTime,
    /// What ran it: `monitor` (the continuous plan) or `check` (`fearless check --record`).
    pub trigger: String,
    /// Who ran it.
    pub actor: String,
    /// Its results; a check on a host at most once.
    pub results: Vec<CheckRow>,
}

/// One result of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRow {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// The host it ran for; `None` when it ran once from the controller.
    pub host: Option<String>,
    /// Check kind (`http`, `process`, …), as it was when the result was taken.
    pub kind: String,
    /// Where it ran: `hosts` (through the host's transport) or `controller`.
    pub runs_on: String,
    /// `pass`, `degraded`, `fail`, `error` or `skipped`. `pass` and `degraded` are ok,
    /// `fail` and `error` are failing, `skipped` is neither.
    pub status: String,
    /// Why it did not pass (`refused`, `timeout`, …).
    pub reason: Option<String>,
    /// What was observed.
    pub message: String,
    /// Wall time of all its attempts, in milliseconds.
    pub duration_ms: u64,
}

/// A recorded run with its results (by component, check and host). Serialised as the
/// dashboard's API shows it, times in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRun {
    /// Its id: 1, 2, … in the order runs were recorded; never reused.
    pub id: u64,
    /// When it started (UTC, microseconds).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// `monitor` or `check`.
    pub trigger: String,
    /// Who ran it.
    pub actor: String,
    /// Its results.
    pub results: Vec<CheckRow>,
}

/// A recorded run without its results: what a list of runs shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunSummary {
    /// Its id.
    pub id: u64,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// When it ended.
    pub finished_at: OffsetDateTime,
    /// `monitor` or `check`.
    pub trigger: String,
    /// Who ran it.
    pub actor: String,
    /// Its results, counted by status.
    pub counts: StatusCounts,
}

/// Results counted by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// `pass`.
    pub pass: u64,
    /// `degraded`.
    pub degraded: u64,
    /// `fail`.
    pub fail: u64,
    /// `error`.
    pub error: u64,
    /// `skipped`.
    pub skipped: u64,
}

impl StatusCounts {
    /// The counts of `rows` (a status outside the five counts nowhere).
    pub fn of(rows: &[CheckRow]) -> StatusCounts {
        let mut c = StatusCounts::default();
        for r in rows {
            match r.status.as_str() {
                "pass" => c.pass += 1,
                "degraded" => c.degraded += 1,
                "fail" => c.fail += 1,
                "error" => c.error += 1,
                "skipped" => c.skipped += 1,
                _ => {}
            }
        }
        c
    }

    /// Every result counted.
    pub fn total(&self) -> u64 {
        self.pass + self.degraded + self.fail + self.error + self.skipped
    }
}

/// Which results of one check to read ([`Store::check_history`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// One host (`Some("")` never matches a host; `None`: every host, and the controller).
    pub host: Option<String>,
    /// Only spans that end at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only spans that start at or before this time.
    pub until: Option<OffsetDateTime>,
    /// At most this many spans.
    pub limit: u32,
}

/// A stretch of one check's results on one host with the same status and reason: the
/// runs from `first_run` to `last_run` in which it ran (a run it did not take part in does
/// not end a span).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistorySpan {
    /// The host (`None`: the controller).
    pub host: Option<String>,
    /// The status of every result in it.
    pub status: String,
    /// Why they did not pass.
    pub reason: Option<String>,
    /// The run of its first result.
    pub first_run: u64,
    /// When that run started.
    #[serde(with = "time::serde::rfc3339")]
    pub first_at: OffsetDateTime,
    /// The run of its last result.
    pub last_run: u64,
    /// When that run started.
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    /// How many results it holds.
    pub results: u64,
    /// What its first result observed.
    pub first_message: String,
    /// What its last result observed.
    pub last_message: String,
    /// Its last result's wall time, in milliseconds.
    pub last_ms: u64,
    /// The shortest wall time of its results.
    pub min_ms: u64,
    /// The longest.
    pub max_ms: u64,
    /// The mean (rounded down).
    pub mean_ms: u64,
}

/// A check's damped state (Nagios' soft and hard states).
///
/// `hard` is the confirmed status — `pass`, `degraded`, `fail`, `error`, or `unknown` for a
/// check whose first results fail but are not confirmed yet — held since `since`.
/// `consecutive` results in a row have disagreed with it since `soft_since`, the latest of
/// them `soft`; a hard transition happens when they are enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckState {
    /// Component.
    pub component: String,
    /// Check name.
    pub check: String,
    /// Host (`None`: the controller).
    pub host: Option<String>,
    /// The confirmed status.
    pub hard: String,
    /// Since when it holds (the first result of the streak that confirmed it).
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// How many results in a row disagree with `hard` (0: none).
    pub consecutive: u32,
    /// The latest disagreeing status, while `consecutive` > 0.
    pub soft: Option<String>,
    /// When the disagreeing streak began, while `consecutive` > 0.
    #[serde(with = "time::serde::rfc3339::option")]
    pub soft_since: Option<OffsetDateTime>,
    /// The run that last moved it.
    pub moved_in: u64,
}

/// What the caller of [`Store::record_check_run`] decides from the run and the states
/// before it: the states that moved, and one journal event per hard transition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateUpdate {
    /// The states to write (new or changed ones only).
    pub states: Vec<CheckState>,
    /// The journal events (their subjects set by the caller), appended in order.
    pub events: Vec<NewEvent>,
}

/// A recorded run: its id and the journal entries of its transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCheckRun {
    /// The run's id.
    pub id: u64,
    /// The entries appended, in order.
    pub entries: Vec<JournalEntry>,
}

/// The failing streak of one check on one host, as its history shows it
/// ([`Store::failing_streak`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streak {
    /// The span it starts with: its first failing result is that span's first.
    pub first: HistorySpan,
    /// What ran that result's run (`monitor`, `check`).
    pub first_trigger: String,
    /// The ok span just before it (its last result is the last ok one); `None` when none
    /// is recorded.
    pub last_ok: Option<HistorySpan>,
}

/// A run row: id, started_at, finished_at, triggered, actor, and the five counts.
type RunRow = (i64, String, String, String, String, i64, i64, i64, i64, i64);
/// A result row: component, check, host, kind, runs_on, status, reason, message, duration.
type ResultRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
);
/// A span row: host, status, reason, first run and time, last run and time, results, first
/// and last message, last, min, max and total milliseconds.
type SpanRow = (
    String,
    String,
    Option<String>,
    i64,
    String,
    i64,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
);
/// A span row followed by the trigger of the run it starts in.
type SpanTriggerRow = (
    String,
    String,
    Option<String>,
    i64,
    String,
    i64,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    String,
);
/// A state row, as the table holds it.
type StateRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    i64,
);

/// `None` is kept as `''` in the key and state tables (a host name is never empty), so the
/// unique keys hold for controller checks too.
fn host_key(host: Option<&str>) -> &str {
    host.unwrap_or("")
}

fn host_of(key: String) -> Option<String> {
    (!key.is_empty()).then_some(key)
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Record a run without touching the checks' states: its results in one statement, one
    /// transaction, no journal entry. Returns the run's id. (The monitor and `check --record`
    /// go through [`Store::record_check_run`]; this is the same insert, for tools that fill
    /// a store with history.)
    pub async fn insert_check_run(&self, run: &NewCheckRun) -> Result<u64, StoreError> {
        Ok(self
            .record_check_run(run, |_, _| StateUpdate::default())
            .await?
            .id)
    }

    /// Record a run and move the checks' states, in one transaction: the run and its
    /// results are inserted, then `decide` gets the run's id and every state as it was
    /// before (read inside the transaction, under the journal's write lock, so two
    /// recorders never decide from the same states) and returns the states that moved and
    /// the journal events of the hard transitions; both are written, and the transaction
    /// commits. Nothing is written when any step fails.
    pub async fn record_check_run<F>(
        &self,
        run: &NewCheckRun,
        decide: F,
    ) -> Result<RecordedCheckRun, StoreError>
    where
        F: FnOnce(u64, &[CheckState]) -> StateUpdate,
    {
        self.writable()?;
        let mut seen = BTreeSet::new();
        for r in &run.results {
            if !seen.insert((&r.component, &r.check, r.host.as_deref())) {
                return Err(StoreError::DuplicateCheck {
                    component: r.component.clone(),
                    check: r.check.clone(),
                    host: r.host.clone(),
                });
            }
        }
        let results = results_json(&run.results);
        let counts = StatusCounts::of(&run.results);
        let (_, now_text) = now();
        let recorded = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let head: Option<(i64, String)> = sqlx::query_as(sql.lock_head)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let mut head = head.ok_or_else(missing_head)?;
            let (id,): (i64,) = sqlx::query_as(crate::sql::INSERT_CHECK_RUN)
                .bind(format_time(run.started_at))
                .bind(format_time(run.finished_at))
                .bind(&run.trigger)
                .bind(&run.actor)
                .bind(count(counts.pass))
                .bind(count(counts.degraded))
                .bind(count(counts.fail))
                .bind(count(counts.error))
                .bind(count(counts.skipped))
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            if !run.results.is_empty() {
                sqlx::query(sql.checks.insert_keys)
                    .bind(&results)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
                // Extend the open spans that agree; close (copy, then drop) the others of
                // the run's keys; open a span for every key left without one.
                let started = format_time(run.started_at);
                sqlx::query(sql.checks.extend_spans)
                    .bind(id)
                    .bind(&started)
                    .bind(&results)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
                for statement in [sql.checks.close_spans, sql.checks.drop_closed] {
                    sqlx::query(statement)
                        .bind(id)
                        .bind(&results)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::query)?;
                }
                sqlx::query(sql.checks.open_spans)
                    .bind(id)
                    .bind(&started)
                    .bind(&results)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
            }
            let rows: Vec<StateRow> = sqlx::query_as(crate::sql::CHECK_STATES)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let before = rows
                .into_iter()
                .map(state_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let update = decide(to_u64(id), &before);
            if !update.states.is_empty() {
                sqlx::query(sql.checks.upsert_states)
                    .bind(states_json(&update.states))
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
            }
            let mut entries = Vec::with_capacity(update.events.len());
            for event in update.events {
                let entry = insert_entry!(self, tx, head, &now_text, event);
                head = (entry.seq, entry.hash.clone());
                entries.push(entry.into_entry());
            }
            if !entries.is_empty() {
                sqlx::query(crate::sql::MOVE_HEAD)
                    .bind(head.0)
                    .bind(&head.1)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
            }
            tx.commit().await.map_err(StoreError::query)?;
            RecordedCheckRun {
                id: to_u64(id),
                entries,
            }
        });
        Ok(recorded)
    }

    /// The newest run with its results, if any run is recorded.
    pub async fn latest_check_run(&self) -> Result<Option<CheckRun>, StoreError> {
        let row: Option<RunRow> =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::LATEST_CHECK_RUN)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query)?);
        let Some(row) = row else {
            return Ok(None);
        };
        let summary = summary_from_row(row)?;
        let results = self.run_results(summary.id).await?;
        Ok(Some(CheckRun {
            id: summary.id,
            started_at: summary.started_at,
            finished_at: summary.finished_at,
            trigger: summary.trigger,
            actor: summary.actor,
            results,
        }))
    }

    /// The results of run `id` as the spans it ended in hold them, by component, check and
    /// host: exact for the newest run (every span it took part in ends in it), a part of
    /// an older one.
    async fn run_results(&self, id: u64) -> Result<Vec<CheckRow>, StoreError> {
        let rows: Vec<ResultRow> =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::RUN_RESULTS)
                .bind(to_i64(id))
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?);
        Ok(rows
            .into_iter()
            .map(
                |(component, check, host, kind, runs_on, status, reason, message, ms)| CheckRow {
                    component,
                    check,
                    host: host_of(host),
                    kind,
                    runs_on,
                    status,
                    reason,
                    message,
                    duration_ms: to_u64(ms),
                },
            )
            .collect())
    }

    /// The runs started at or after `since` (all when `None`), newest first, at most `limit`.
    pub async fn check_runs(
        &self,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<CheckRunSummary>, StoreError> {
        let since = since.map(format_time);
        let rows: Vec<RunRow> = on_backend!(self, |pool, sql| sqlx::query_as(sql.checks.runs)
            .bind(since.as_deref())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(StoreError::query)?);
        rows.into_iter().map(summary_from_row).collect()
    }

    /// One check's spans (on one host, or all of them), newest first (hosts by name among
    /// spans that start in the same run), at most `filter.limit`.
    pub async fn check_history(
        &self,
        filter: &HistoryFilter,
    ) -> Result<Vec<HistorySpan>, StoreError> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        let since = filter.since.map(format_time);
        let until = filter.until.map(format_time);
        let rows: Vec<SpanRow> = on_backend!(self, |pool, sql| sqlx::query_as(sql.checks.history)
            .bind(&filter.component)
            .bind(&filter.check)
            .bind(filter.host.as_deref())
            .bind(since.as_deref())
            .bind(until.as_deref())
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await
            .map_err(StoreError::query)?);
        rows.into_iter().map(span_from_row).collect()
    }

    /// Every check's damped state, by component, check and host.
    pub async fn check_states(&self) -> Result<Vec<CheckState>, StoreError> {
        let rows: Vec<StateRow> =
            on_backend!(self, |pool| sqlx::query_as(crate::sql::CHECK_STATES)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?);
        rows.into_iter().map(state_from_row).collect()
    }

    /// The failing streak of `component/check` on `host` (`None`: the controller) that was
    /// under way at `until`: from the newest failing span started by `until` back to the
    /// last ok span before it (skipped results neither break nor start a streak), its first
    /// failing span, and that ok span. `None` when no failing result is recorded.
    pub async fn failing_streak(
        &self,
        component: &str,
        check: &str,
        host: Option<&str>,
        until: OffsetDateTime,
    ) -> Result<Option<Streak>, StoreError> {
        let host = host_key(host);
        let until = format_time(until);
        let run_of = |sql: &'static str, bound: Bound| {
            let until = &until;
            async move {
                let value: Option<i64> = on_backend!(self, |pool| {
                    let query = sqlx::query_scalar(sql)
                        .bind(component)
                        .bind(check)
                        .bind(host);
                    let query = match bound {
                        Bound::Until => query.bind(until.clone()),
                        Bound::Run(run) => query.bind(run),
                    };
                    query.fetch_one(pool).await.map_err(StoreError::query)?
                });
                Ok::<_, StoreError>(value)
            }
        };
        let Some(last) = run_of(crate::sql::LAST_FAILING_SPAN, Bound::Until).await? else {
            return Ok(None);
        };
        let last_ok = run_of(crate::sql::LAST_OK_SPAN_BEFORE, Bound::Run(last)).await?;
        let first = run_of(
            crate::sql::FIRST_FAILING_SPAN_AFTER,
            Bound::Run(last_ok.unwrap_or(0)),
        )
        .await?
        .unwrap_or(last);
        let span = |run: i64| async move {
            let row: Option<SpanTriggerRow> =
                on_backend!(self, |pool| sqlx::query_as(crate::sql::SPAN_FROM)
                    .bind(component)
                    .bind(check)
                    .bind(host)
                    .bind(run)
                    .fetch_optional(pool)
                    .await
                    .map_err(StoreError::query)?);
            let gone = || StoreError::Corrupt {
                what: format!("history of {component}/{check}"),
                reason: format!("the span from run {run} it names, or that run, is not there"),
            };
            let (h, st, re, fr, fa, lr, la, n, fm, lm, ms, min, max, total, trigger) =
                row.ok_or_else(gone)?;
            Ok::<_, StoreError>((
                span_from_row((h, st, re, fr, fa, lr, la, n, fm, lm, ms, min, max, total))?,
                trigger,
            ))
        };
        let (first, first_trigger) = span(first).await?;
        let last_ok = match last_ok {
            Some(run) => Some(span(run).await?.0),
            None => None,
        };
        Ok(Some(Streak {
            first,
            first_trigger,
            last_ok,
        }))
    }

    /// Delete the spans whose last result is older than `before`, the runs started before
    /// it that no span starts in, and the keys no span names any more, in one transaction;
    /// how many spans were deleted. A span that reaches past `before` is kept whole. States
    /// are kept: they are the checks' present, not their history.
    pub async fn prune_check_history(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.writable()?;
        let before = format_time(before);
        let deleted = on_backend!(self, |pool, sql| {
            let mut tx = pool
                .begin_with(sql.begin_write)
                .await
                .map_err(StoreError::query)?;
            let mut spans = 0;
            for statement in [crate::sql::PRUNE_SPANS, crate::sql::PRUNE_OPEN] {
                spans += sqlx::query(statement)
                    .bind(&before)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?
                    .rows_affected();
            }
            sqlx::query(crate::sql::PRUNE_RUNS)
                .bind(&before)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            if spans > 0 {
                sqlx::query(crate::sql::PRUNE_KEYS)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
            }
            tx.commit().await.map_err(StoreError::query)?;
            spans
        });
        Ok(deleted)
    }
}

use crate::Store;

/// The last bind of a streak query: a time or a run.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Until,
    Run(i64),
}

/// The results as the JSON array the insert statements expand.
fn results_json(rows: &[CheckRow]) -> String {
    let array: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!([
                r.component,
                r.check,
                host_key(r.host.as_deref()),
                r.kind,
                r.runs_on,
                r.status,
                r.reason,
                r.message,
                count(r.duration_ms),
            ])
        })
        .collect();
    serde_json::Value::Array(array).to_string()
}

/// The states as the JSON array the upsert expands.
fn states_json(states: &[CheckState]) -> String {
    let array: Vec<serde_json::Value> = states
        .iter()
        .map(|s| {
            serde_json::json!([
                s.component,
                s.check,
                host_key(s.host.as_deref()),
                s.hard,
                format_time(s.since),
                s.consecutive,
                s.soft,
                s.soft_since.map(format_time),
                count(s.moved_in),
            ])
        })
        .collect();
    serde_json::Value::Array(array).to_string()
}

fn summary_from_row(
    (id, started, finished, trigger, actor, pass, degraded, fail, error, skipped): RunRow,
) -> Result<CheckRunSummary, StoreError> {
    let what = || format!("check run {id}");
    Ok(CheckRunSummary {
        id: to_u64(id),
        started_at: parse_time(&started, what())?,
        finished_at: parse_time(&finished, what())?,
        trigger,
        actor,
        counts: StatusCounts {
            pass: to_u64(pass),
            degraded: to_u64(degraded),
            fail: to_u64(fail),
            error: to_u64(error),
            skipped: to_u64(skipped),
        },
    })
}

fn span_from_row(
    (
        host,
        status,
        reason,
        first_run,
        first_at,
        last_run,
        last_at,
        results,
        first_message,
        last_message,
        last_ms,
        min_ms,
        max_ms,
        total_ms,
    ): SpanRow,
) -> Result<HistorySpan, StoreError> {
    let results = to_u64(results).max(1);
    Ok(HistorySpan {
        host: host_of(host),
        status,
        reason,
        first_run: to_u64(first_run),
        first_at: parse_time(&first_at, format!("check run {first_run}"))?,
        last_run: to_u64(last_run),
        last_at: parse_time(&last_at, format!("check run {last_run}"))?,
        results,
        first_message,
        last_message,
        last_ms: to_u64(last_ms),
        min_ms: to_u64(min_ms),
        max_ms: to_u64(max_ms),
        mean_ms: to_u64(total_ms) / results,
    })
}

fn state_from_row(
    (component, check, host, hard, since, consecutive, soft, soft_since, moved_in): StateRow,
) -> Result<CheckState, StoreError> {
    let what = || format!("state of {component}/{check}");
    Ok(CheckState {
        since: parse_time(&since, what())?,
        soft_since: soft_since.map(|t| parse_time(&t, what())).transpose()?,
        consecutive: u32::try_from(consecutive).unwrap_or(u32::MAX),
        moved_in: to_u64(moved_in),
        component,
        check,
        host: host_of(host),
        hard,
        soft,
    })
}
