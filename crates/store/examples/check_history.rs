//! Times the check history for `bench/monitor.sh`: RUNS runs of HOSTS × CHECKS results each
//! inserted with `Store::insert_check_run` (one transaction and one statement per run), then
//! the reads a dashboard makes — the latest run, the list of runs, one check's history (its
//! spans) on all hosts and on one host, a failing streak — and a retention prune. Figures go to stdout as
//! `name seconds` lines.
//!
//! Usage: check_history STORE_URL [HOSTS] [CHECKS] [RUNS]   (default 1000 20 10)

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::Instant;

use fearless_store::{CheckRow, HistoryFilter, NewCheckRun, Store};
use time::OffsetDateTime;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        return Err("usage: check_history STORE_URL [HOSTS] [CHECKS] [RUNS]".into());
    };
    let mut number = |default: u32| -> Result<u32, Box<dyn std::error::Error>> {
        Ok(args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (hosts, checks, runs) = (number(1000)?, number(20)?, number(10)?);
    let store = Store::open(&url).await?;
    let start = OffsetDateTime::now_utc() - time::Duration::minutes(i64::from(runs));
    let mut inserts = Vec::new();
    for run in 0..runs {
        let at = start + time::Duration::minutes(i64::from(run));
        let results: Vec<CheckRow> = (0..hosts)
            .flat_map(|h| {
                (0..checks).map(move |c| {
                    // One host in a hundred fails one check in every other run.
                    let failing = h % 100 == 7 && c == 3 && run % 2 == 1;
                    CheckRow {
                        component: format!("component-{}", c % 5),
                        check: format!("check-{c}"),
                        host: Some(format!("host-{h:04}")),
                        kind: "http".into(),
                        runs_on: "controller".into(),
                        status: if failing { "fail" } else { "pass" }.into(),
                        reason: failing.then(|| "assertion".to_owned()),
                        message: if failing {
                            "HTTP 502 (expected 200)".into()
                        } else {
                            "HTTP 200 in 12 ms".into()
                        },
                        duration_ms: u64::from(12 + (h + c) % 30),
                    }
                })
            })
            .collect();
        let run = NewCheckRun {
            started_at: at,
            finished_at: at + time::Duration::seconds(20),
            trigger: "monitor".into(),
            actor: "bench".into(),
            results,
        };
        let t = Instant::now();
        store.insert_check_run(&run).await?;
        inserts.push(t.elapsed().as_secs_f64());
        if run.started_at == start
            && let Some(path) = url.strip_prefix("sqlite:")
        {
            println!(
                "peer_row_by_row_seconds {:.4}",
                row_by_row(path, &run.results).await?
            );
        }
    }
    let first = inserts.first().copied().unwrap_or_default();
    let mut rest: Vec<f64> = inserts.iter().skip(1).copied().collect();
    rest.sort_by(f64::total_cmp);
    println!("results_per_run {}", hosts * checks);
    println!("insert_first_run_seconds {first:.4}");
    if let (Some(min), Some(max)) = (rest.first(), rest.last()) {
        println!("insert_run_median_seconds {:.4}", rest[rest.len() / 2]);
        println!("insert_run_min_seconds {min:.4}");
        println!("insert_run_max_seconds {max:.4}");
    }
    let timed =
        |name: &'static str, t: Instant| println!("{name} {:.4}", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let latest = store.latest_check_run().await?.ok_or("no run")?;
    timed("latest_run_seconds", t);
    assert_eq!(latest.results.len(), (hosts * checks) as usize);
    let t = Instant::now();
    store.check_runs(None, 100).await?;
    timed("list_runs_seconds", t);
    let filter = HistoryFilter {
        component: "component-3".into(),
        check: "check-3".into(),
        host: None,
        since: Some(start),
        until: None,
        limit: 1000,
    };
    let t = Instant::now();
    let all = store.check_history(&filter).await?;
    timed("history_all_hosts_1000_spans_seconds", t);
    let t = Instant::now();
    let one = store
        .check_history(&HistoryFilter {
            host: Some("host-0007".into()),
            ..filter.clone()
        })
        .await?;
    timed("history_one_host_seconds", t);
    println!("history_spans {} {}", all.len(), one.len());
    let t = Instant::now();
    store
        .failing_streak(
            "component-3",
            "check-3",
            Some("host-0007"),
            OffsetDateTime::now_utc(),
        )
        .await?;
    timed("failing_streak_seconds", t);
    let t = Instant::now();
    let pruned = store
        .prune_check_history(start + time::Duration::minutes(1))
        .await?;
    timed("prune_first_run_seconds", t);
    println!("pruned_spans {pruned}");
    store.close().await;
    Ok(())
}

/// The peer: `rows` inserted one statement each, in one transaction, into a scratch SQLite
/// file beside `path`; the seconds it took.
async fn row_by_row(path: &str, rows: &[CheckRow]) -> Result<f64, Box<dyn std::error::Error>> {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(format!("{path}.peer"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    sqlx::query(
        "CREATE TABLE results (run_id INTEGER, component TEXT, check_name TEXT, host TEXT, \
         kind TEXT, runs_on TEXT, status TEXT, reason TEXT, message TEXT, duration_ms INTEGER)",
    )
    .execute(&mut conn)
    .await?;
    let t = Instant::now();
    let mut tx = conn.begin().await?;
    for r in rows {
        sqlx::query(
            "INSERT INTO results (run_id, component, check_name, host, kind, runs_on, status, \
             reason, message, duration_ms) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&r.component)
        .bind(&r.check)
        .bind(r.host.as_deref())
        .bind(&r.kind)
        .bind(&r.runs_on)
        .bind(&r.status)
        .bind(r.reason.as_deref())
        .bind(&r.message)
        .bind(i64::try_from(r.duration_ms)?)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(t.elapsed().as_secs_f64())
}
