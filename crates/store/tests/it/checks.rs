//! The check history (schema 8): runs and their results read back, history by check and
//! host, the latest run, states moved with their journal entries in one transaction, the
//! failing streak, retention, a reopened store, a run that names a check twice.

crate::common::backend_tests!(
    runs_round_trip_and_list_newest_first,
    history_is_spans_per_check_newest_first_and_bounded,
    states_and_their_entries_are_written_together,
    failing_streak_starts_after_the_last_pass,
    retention_prunes_old_runs_and_keeps_newer,
    history_survives_a_reopen,
    a_check_twice_in_one_run_writes_nothing,
    a_large_run_is_one_statement
);

mod cases {
    use fearless_store::{
        CheckRow, CheckState, HistoryFilter, NewCheckRun, StateUpdate, StatusCounts, StoreError,
    };
    use serde_json::json;
    use time::OffsetDateTime;
    use time::macros::datetime;

    use crate::common::{TestDb, entries, event};

    pub(crate) fn row(component: &str, check: &str, host: Option<&str>, status: &str) -> CheckRow {
        CheckRow {
            component: component.into(),
            check: check.into(),
            host: host.map(str::to_owned),
            kind: "http".into(),
            runs_on: if host.is_some() {
                "hosts"
            } else {
                "controller"
            }
            .into(),
            status: status.into(),
            reason: (status != "pass").then(|| "refused".to_owned()),
            message: format!("{status} on {}", host.unwrap_or("-")),
            duration_ms: 12,
        }
    }

    fn run(at: OffsetDateTime, results: Vec<CheckRow>) -> NewCheckRun {
        NewCheckRun {
            started_at: at,
            finished_at: at + time::Duration::seconds(2),
            trigger: "monitor".into(),
            actor: "fearless".into(),
            results,
        }
    }

    const T0: OffsetDateTime = datetime!(2026-05-01 12:00:00 UTC);

    fn minute(m: i64) -> OffsetDateTime {
        T0 + time::Duration::minutes(m)
    }

    pub(super) async fn runs_round_trip_and_list_newest_first(db: &TestDb) {
        let store = db.open().await;
        assert!(store.latest_check_run().await.expect("latest").is_none());
        let first = store
            .insert_check_run(&run(
                minute(0),
                vec![
                    row("orders-api", "http", Some("web-2"), "pass"),
                    row("orders-api", "http", Some("web-1"), "fail"),
                    row("dns", "resolve", None, "degraded"),
                    row("ledger", "port", Some("web-1"), "skipped"),
                ],
            ))
            .await
            .expect("insert");
        let second = store
            .insert_check_run(&run(
                minute(1),
                vec![row("orders-api", "http", Some("web-1"), "error")],
            ))
            .await
            .expect("insert");
        assert!(second > first);

        let latest = store
            .latest_check_run()
            .await
            .expect("latest")
            .expect("a run");
        assert_eq!(latest.id, second);
        assert_eq!(latest.started_at, minute(1));
        assert_eq!(latest.finished_at, minute(1) + time::Duration::seconds(2));
        assert_eq!(
            (latest.trigger.as_str(), latest.actor.as_str()),
            ("monitor", "fearless")
        );
        assert_eq!(
            latest.results,
            [row("orders-api", "http", Some("web-1"), "error")]
        );

        // The first run's other results stay in the history: each is a span of one.
        let dns = store
            .check_history(&HistoryFilter {
                component: "dns".into(),
                check: "resolve".into(),
                host: None,
                since: None,
                until: None,
                limit: 10,
            })
            .await
            .expect("history");
        assert_eq!(
            dns.iter()
                .map(|s| (
                    s.host.as_deref(),
                    s.status.as_str(),
                    s.first_run,
                    s.last_run,
                    s.results
                ))
                .collect::<Vec<_>>(),
            [(None, "degraded", first, first, 1)]
        );
        assert_eq!(dns[0].last_message, "degraded on -");

        let runs = store.check_runs(None, 10).await.expect("runs");
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            [second, first]
        );
        assert_eq!(
            runs[1].counts,
            StatusCounts {
                pass: 1,
                degraded: 1,
                fail: 1,
                error: 0,
                skipped: 1
            }
        );
        let recent = store.check_runs(Some(minute(1)), 10).await.expect("runs");
        assert_eq!(recent.iter().map(|r| r.id).collect::<Vec<_>>(), [second]);
        assert_eq!(store.check_runs(None, 1).await.expect("runs").len(), 1);
        // Runs are not journaled.
        assert!(entries(&store).await.is_empty());
    }

    pub(super) async fn history_is_spans_per_check_newest_first_and_bounded(db: &TestDb) {
        let store = db.open().await;
        // web-1: pass, pass, fail, fail, fail, pass (durations 10, 20, … ms); web-2 passes
        // throughout; the tcp check fails throughout.
        let statuses = ["pass", "pass", "fail", "fail", "fail", "pass"];
        let mut ids = Vec::new();
        for (m, status) in statuses.iter().enumerate() {
            let mut web1 = row("orders-api", "http", Some("web-1"), status);
            web1.duration_ms = 10 * (m as u64 + 1);
            web1.message = format!("{status} at minute {m}");
            ids.push(
                store
                    .insert_check_run(&run(
                        minute(m as i64),
                        vec![
                            web1,
                            row("orders-api", "http", Some("web-2"), "pass"),
                            row("orders-api", "tcp", Some("web-1"), "fail"),
                        ],
                    ))
                    .await
                    .expect("insert"),
            );
        }
        let filter = |host: Option<&str>| HistoryFilter {
            component: "orders-api".into(),
            check: "http".into(),
            host: host.map(str::to_owned),
            since: None,
            until: None,
            limit: 100,
        };
        let web1 = store
            .check_history(&filter(Some("web-1")))
            .await
            .expect("history");
        assert_eq!(
            web1.iter()
                .map(|s| (s.status.as_str(), s.first_run, s.last_run, s.results))
                .collect::<Vec<_>>(),
            [
                ("pass", ids[5], ids[5], 1),
                ("fail", ids[2], ids[4], 3),
                ("pass", ids[0], ids[1], 2)
            ]
        );
        let failing = &web1[1];
        assert_eq!((failing.first_at, failing.last_at), (minute(2), minute(4)));
        assert_eq!(failing.reason.as_deref(), Some("refused"));
        assert_eq!(
            (
                failing.first_message.as_str(),
                failing.last_message.as_str()
            ),
            ("fail at minute 2", "fail at minute 4")
        );
        assert_eq!(
            (
                failing.last_ms,
                failing.min_ms,
                failing.max_ms,
                failing.mean_ms
            ),
            (50, 30, 50, 40)
        );

        let all = store.check_history(&filter(None)).await.expect("history");
        assert_eq!(
            all.iter()
                .map(|s| (s.host.as_deref(), s.first_run, s.results))
                .collect::<Vec<_>>(),
            [
                (Some("web-1"), ids[5], 1),
                (Some("web-1"), ids[2], 3),
                (Some("web-1"), ids[0], 2),
                (Some("web-2"), ids[0], 6)
            ],
            "newest first, hosts by name within a run; never the tcp check"
        );
        // A window holds the spans that overlap it.
        let window = store
            .check_history(&HistoryFilter {
                since: Some(minute(3)),
                until: Some(minute(4)),
                ..filter(Some("web-1"))
            })
            .await
            .expect("history");
        assert_eq!(
            window.iter().map(|s| s.first_run).collect::<Vec<_>>(),
            [ids[2]]
        );
        let limited = store
            .check_history(&HistoryFilter {
                limit: 2,
                ..filter(None)
            })
            .await
            .expect("history");
        assert_eq!(limited.len(), 2);
        assert!(
            store
                .check_history(&filter(Some("web-9")))
                .await
                .expect("history")
                .is_empty()
        );
        // Runs without the check do not end its spans.
        for m in 6..9 {
            store
                .insert_check_run(&run(minute(m), vec![row("dns", "resolve", None, "pass")]))
                .await
                .expect("insert");
        }
        let last = store
            .insert_check_run(&run(
                minute(9),
                vec![row("orders-api", "http", Some("web-1"), "pass")],
            ))
            .await
            .expect("insert");
        let newest = &store
            .check_history(&filter(Some("web-1")))
            .await
            .expect("history")[0];
        assert_eq!(
            (newest.first_run, newest.last_run, newest.results),
            (ids[5], last, 2)
        );
        // A new reason ends a span as a new status does.
        let mut timeout = row("orders-api", "tcp", Some("web-1"), "fail");
        timeout.reason = Some("timeout".into());
        store
            .insert_check_run(&run(minute(10), vec![timeout]))
            .await
            .expect("insert");
        let tcp = store
            .check_history(&HistoryFilter {
                check: "tcp".into(),
                ..filter(Some("web-1"))
            })
            .await
            .expect("history");
        assert_eq!(
            tcp.iter()
                .map(|s| (s.reason.as_deref(), s.results))
                .collect::<Vec<_>>(),
            [(Some("timeout"), 1), (Some("refused"), 6)]
        );
        assert!(
            store
                .check_history(&HistoryFilter {
                    limit: 0,
                    ..filter(None)
                })
                .await
                .expect("history")
                .is_empty()
        );
    }

    pub(super) async fn states_and_their_entries_are_written_together(db: &TestDb) {
        let store = db.open().await;
        let state = |hard: &str, run: u64| CheckState {
            component: "orders-api".into(),
            check: "http".into(),
            host: Some("web-1".into()),
            hard: hard.into(),
            since: minute(0),
            consecutive: 0,
            soft: None,
            soft_since: None,
            moved_in: run,
        };
        let recorded = store
            .record_check_run(
                &run(
                    minute(0),
                    vec![row("orders-api", "http", Some("web-1"), "fail")],
                ),
                |id, before| {
                    assert!(before.is_empty());
                    StateUpdate {
                        states: vec![state("fail", id)],
                        events: vec![event("fearless", "check.failed", json!({"run": id}))],
                    }
                },
            )
            .await
            .expect("record");
        assert_eq!(recorded.entries.len(), 1);
        assert_eq!(recorded.entries[0].kind, "check.failed");
        assert_eq!(
            store.check_states().await.expect("states"),
            [state("fail", recorded.id)]
        );

        // The states before are handed over; an upsert replaces them.
        let next = store
            .record_check_run(&run(minute(1), vec![]), |id, before| {
                assert_eq!(before, [state("fail", recorded.id)]);
                StateUpdate {
                    states: vec![CheckState {
                        consecutive: 1,
                        soft: Some("pass".into()),
                        soft_since: Some(minute(1)),
                        ..state("fail", id)
                    }],
                    events: vec![
                        event("fearless", "check.recovered", json!({})),
                        event("fearless", "check.failed", json!({})),
                    ],
                }
            })
            .await
            .expect("record");
        let states = store.check_states().await.expect("states");
        assert_eq!(states.len(), 1);
        assert_eq!(
            (
                states[0].consecutive,
                states[0].soft.as_deref(),
                states[0].soft_since
            ),
            (1, Some("pass"), Some(minute(1)))
        );
        assert_eq!(
            next.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [2, 3]
        );
        let report = store.verify().await.expect("verify");
        assert!(report.is_ok() && report.entries == 3, "{report:?}");

        // A journal entry that cannot be written takes the run and the states with it.
        let mut raw = db.raw().await;
        raw.tamper(
            "CREATE TRIGGER no_more BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'full'); END;",
            "CREATE FUNCTION no_more() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'full'; END $$; \
             CREATE TRIGGER no_more BEFORE INSERT ON journal FOR EACH ROW EXECUTE FUNCTION no_more();",
        )
        .await;
        raw.close().await;
        let failed = store
            .record_check_run(
                &run(
                    minute(2),
                    vec![row("orders-api", "http", Some("web-1"), "pass")],
                ),
                |id, _| StateUpdate {
                    states: vec![state("pass", id)],
                    events: vec![event("fearless", "check.recovered", json!({}))],
                },
            )
            .await;
        assert!(
            matches!(failed, Err(StoreError::Query { .. })),
            "{failed:?}"
        );
        assert_eq!(store.check_runs(None, 10).await.expect("runs").len(), 2);
        assert_eq!(store.check_states().await.expect("states")[0].hard, "fail");
    }

    pub(super) async fn failing_streak_starts_after_the_last_pass(db: &TestDb) {
        let store = db.open().await;
        let statuses = [
            "fail", "pass", "fail", "skipped", "error", "fail", "pass", "fail",
        ];
        let mut ids = Vec::new();
        for (m, s) in statuses.iter().enumerate() {
            let mut r = run(
                minute(i64::try_from(m).expect("m")),
                vec![row("orders-api", "http", Some("web-2"), s)],
            );
            if m == 2 {
                r.trigger = "check".into();
            }
            ids.push(store.insert_check_run(&r).await.expect("insert"));
        }
        let streak = |until| {
            let store = &store;
            async move {
                store
                    .failing_streak("orders-api", "http", Some("web-2"), until)
                    .await
                    .expect("streak")
            }
        };
        // At minute 5: the streak of runs 3..6 (a skip in it), after the pass of run 2.
        let s = streak(minute(5)).await.expect("a streak");
        assert_eq!(
            (
                s.first.first_run,
                s.first.first_at,
                s.first_trigger.as_str()
            ),
            (ids[2], minute(2), "check")
        );
        assert_eq!(s.first.status, "fail");
        assert_eq!(s.last_ok.as_ref().map(|p| p.last_run), Some(ids[1]));
        // At minute 6 (a pass) the streak under way is still the one that ended before it.
        assert_eq!(
            streak(minute(6)).await.expect("streak").first.first_run,
            ids[2]
        );
        // The newest streak, three results long: it starts at its first.
        for m in 8..10 {
            store
                .insert_check_run(&run(
                    minute(m),
                    vec![row("orders-api", "http", Some("web-2"), "fail")],
                ))
                .await
                .expect("insert");
        }
        let s = streak(minute(60)).await.expect("a streak");
        assert_eq!(
            (
                s.first.first_run,
                s.first.results,
                s.last_ok.map(|p| p.last_run)
            ),
            (ids[7], 3, Some(ids[6]))
        );
        // The first: nothing recorded before it.
        let s = streak(minute(0)).await.expect("a streak");
        assert_eq!((s.first.first_run, s.last_ok), (ids[0], None));
        // Before any run, and of an unknown check.
        assert!(streak(minute(-1)).await.is_none());
        assert!(
            store
                .failing_streak("orders-api", "http", None, minute(60))
                .await
                .expect("streak")
                .is_none()
        );
    }

    pub(super) async fn retention_prunes_old_runs_and_keeps_newer(db: &TestDb) {
        let store = db.open().await;
        let mut ids = Vec::new();
        for m in 0..4 {
            // web-1 passes in the first two runs, fails in the last two. The check on web-9
            // runs only in the oldest run: its key goes with it.
            let status = if m < 2 { "pass" } else { "fail" };
            let mut results = vec![row("orders-api", "http", Some("web-1"), status)];
            if m == 0 {
                results.push(row("orders-api", "http", Some("web-9"), "fail"));
            }
            ids.push(
                store
                    .insert_check_run(&run(minute(m * 60), results))
                    .await
                    .expect("insert"),
            );
        }
        assert_eq!(
            store.prune_check_history(minute(120)).await.expect("prune"),
            2
        );
        let runs = store.check_runs(None, 10).await.expect("runs");
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            [ids[3], ids[2]]
        );
        let history = |host: &str| {
            let store = &store;
            let host = host.to_owned();
            async move {
                store
                    .check_history(&HistoryFilter {
                        component: "orders-api".into(),
                        check: "http".into(),
                        host: Some(host),
                        since: None,
                        until: None,
                        limit: 10,
                    })
                    .await
                    .expect("history")
                    .iter()
                    .map(|s| (s.status.clone(), s.first_run))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(history("web-1").await, [("fail".to_owned(), ids[2])]);
        assert!(history("web-9").await.is_empty());
        assert_eq!(
            store.prune_check_history(minute(120)).await.expect("prune"),
            0
        );
        // A span that reaches past the cut is kept whole, with the run it starts in.
        assert_eq!(
            store.prune_check_history(minute(150)).await.expect("prune"),
            0
        );
        assert_eq!(history("web-1").await, [("fail".to_owned(), ids[2])]);
        assert_eq!(store.check_runs(None, 10).await.expect("runs").len(), 2);
        // Ids are never reused after a prune.
        let next = store
            .insert_check_run(&run(minute(300), vec![]))
            .await
            .expect("insert");
        assert!(next > ids[3]);
        store
            .prune_check_history(minute(1000))
            .await
            .expect("prune");
        let again = store
            .insert_check_run(&run(minute(1001), vec![]))
            .await
            .expect("insert");
        assert!(again > next, "{again} after {next}");
    }

    pub(super) async fn history_survives_a_reopen(db: &TestDb) {
        let store = db.open().await;
        let id = store
            .insert_check_run(&run(
                minute(0),
                vec![row("orders-api", "http", Some("web-1"), "fail")],
            ))
            .await
            .expect("insert");
        store.close().await;
        drop(store);
        let store = db.open().await;
        let latest = store
            .latest_check_run()
            .await
            .expect("latest")
            .expect("kept");
        assert_eq!(latest.id, id);
        assert_eq!(
            latest.results,
            [row("orders-api", "http", Some("web-1"), "fail")]
        );
        let next = store
            .insert_check_run(&run(minute(1), vec![]))
            .await
            .expect("insert");
        assert!(next > id);
    }

    pub(super) async fn a_check_twice_in_one_run_writes_nothing(db: &TestDb) {
        let store = db.open().await;
        let twice = run(
            minute(0),
            vec![
                row("orders-api", "http", Some("web-1"), "pass"),
                row("orders-api", "http", Some("web-1"), "fail"),
            ],
        );
        let err = store.insert_check_run(&twice).await.expect_err("refused");
        assert!(err.is_bad_input(), "{err}");
        assert_eq!(
            err.to_string(),
            "the check run holds two results of orders-api/http on web-1: nothing was recorded"
        );
        assert!(store.check_runs(None, 10).await.expect("runs").is_empty());
    }

    /// 1,000 hosts × 20 checks: two runs, the second extending every span; the latest run
    /// read back whole (`bench/monitor.sh` times it).
    pub(super) async fn a_large_run_is_one_statement(db: &TestDb) {
        let store = db.open().await;
        let results: Vec<CheckRow> = (0..1000)
            .flat_map(|h| {
                (0..20).map(move |c| {
                    row(
                        &format!("component-{}", c % 5),
                        &format!("check-{c}"),
                        Some(&format!("host-{h:04}")),
                        "pass",
                    )
                })
            })
            .collect();
        let first = store
            .insert_check_run(&run(minute(0), results.clone()))
            .await
            .expect("insert");
        let second = store
            .insert_check_run(&run(minute(1), results.clone()))
            .await
            .expect("insert");
        let latest = store
            .latest_check_run()
            .await
            .expect("latest")
            .expect("a run");
        assert_eq!(latest.id, second);
        assert_eq!(latest.results.len(), 20_000);
        let spans = store
            .check_history(&HistoryFilter {
                component: "component-3".into(),
                check: "check-3".into(),
                host: None,
                since: None,
                until: None,
                limit: 5_000,
            })
            .await
            .expect("history");
        assert_eq!(spans.len(), 1000, "one span a host");
        assert!(
            spans
                .iter()
                .all(|s| (s.first_run, s.last_run, s.results) == (first, second, 2))
        );
        let latest = store.check_runs(None, 1).await.expect("runs");
        assert_eq!(latest[0].counts.pass, 20_000);
    }
}
