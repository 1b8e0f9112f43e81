//! The continuous test plan on checks of local listeners (no lab): damped hard transitions
//! journaled once and delivered to a file sink, the monitor's passes never overlapping and
//! its loop stopping on shutdown (between passes at once, within a pass after recording it),
//! retention after each pass, and a report whose timeline has a check's first failure from
//! the history with what changed on its host before it.

use std::time::{Duration, Instant};

use fearless_change::{Command, NewChange};
use fearless_config::Selector;
use fearless_engine::incident::OpenIncident;
use fearless_engine::monitor::{self, Trigger, Turn};
use fearless_engine::{Monitor, record};
use fearless_probe::result::{CheckResult, Status};
use fearless_rca::report;
use fearless_store::{JournalFilter, NewCheckRun};
use time::OffsetDateTime;
use tokio::net::TcpListener;

use super::common::World;

/// `orders-api/http` is a TCP connect from the controller to `{host.address}:PORT` on web-1
/// (127.0.0.1, where the listener is) and web-2 (127.0.0.2, where nothing listens); `slow`
/// runs `sleep 0.3` on web-1 through the local transport when `slow` is set.
fn config(port: u16, slow: bool, monitor: &str) -> String {
    let slow = if slow {
        "  slow:\n    runs_on: web-1\n    checks:\n      - { name: sleepy, command: { run: [sleep, \"0.3\"] } }\n"
    } else {
        ""
    };
    format!(
        "inventory:\n  hosts:\n    web-1: {{ address: 127.0.0.1, transport: local }}\n    web-2: {{ address: 127.0.0.2, transport: local }}\n\
         components:\n  orders-api:\n    runs_on: all\n    checks:\n      - {{ name: http, timeout: 2s, tcp: {{ address: \"{{host.address}}:{port}\" }} }}\n{slow}\
         events:\n  sinks:\n    log: {{ file: {{ path: events.jsonl }} }}\n  routes:\n    - {{ types: \"fearless.check.*\", sinks: [log] }}\n\
         monitor: {monitor}\n"
    )
}

async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

/// The events the file sink received: (type, subject).
fn delivered(w: &World) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(w.dir().join("events.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l).expect("event json");
            (
                e["type"].as_str().expect("type").to_owned(),
                e["subject"].as_str().expect("subject").to_owned(),
            )
        })
        .collect()
}

async fn kinds_of(w: &World, subject: &str) -> Vec<String> {
    w.store
        .journal(&JournalFilter {
            since: None,
            subject: Some(subject.to_owned()),
        })
        .await
        .expect("journal")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// `results` with the result of `host` set to `status`.
fn with_status(results: &[CheckResult], host: &str, status: Status) -> Vec<CheckResult> {
    results
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.host.as_deref() == Some(host) {
                r.status = status;
            }
            r
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_transitions_are_journaled_and_sent_once_flapping_is_not() {
    let (_listening, port) = listener().await;
    let w = World::new(&config(port, false, "{ interval: 1s, confirm: 2 }"), None).await;
    let engine = w.engine("fearless");
    let m = Monitor::new(w.config.monitor);
    let mut runs = Vec::new();
    for _ in 0..4 {
        runs.push(m.run_once(engine).await.expect("pass"));
    }
    // web-2 fails every time: soft in run 1, hard in run 2, nothing more after.
    let turns: Vec<(usize, usize)> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r.transitions.len()))
        .collect();
    assert_eq!(turns, [(0, 0), (1, 1), (2, 0), (3, 0)]);
    let t = &runs[1].transitions[0];
    assert_eq!(
        (t.turn, t.subject.as_str()),
        (Turn::Failed, "check:orders-api/http@web-2")
    );
    assert_eq!(
        (t.state.from.as_str(), t.state.to.as_str()),
        ("unknown", "fail")
    );
    assert_eq!((t.state.run, t.state.consecutive), (runs[1].id, 2));
    assert_eq!(
        kinds_of(&w, "check:orders-api/http@web-2").await,
        ["check.failed"]
    );
    assert!(kinds_of(&w, "check:orders-api/http@web-1").await.is_empty());
    assert_eq!(
        delivered(&w),
        [(
            "fearless.check.failed.v1".to_owned(),
            "check:orders-api/http@web-2".to_owned()
        )]
    );
    // The journal entry reads back as its type, dated from the streak's first failure.
    let entry = &w
        .store
        .journal(&JournalFilter {
            since: None,
            subject: Some(t.subject.clone()),
        })
        .await
        .expect("journal")[0];
    let failed = record::decode::<record::CheckFailed>(entry)
        .expect("its kind")
        .expect("its payload");
    assert_eq!(failed.0, t.state);
    let first_run = w.store.check_runs(None, 10).await.expect("runs");
    let first_run = first_run.last().expect("runs");
    assert_eq!(failed.0.since, monitor::timestamp(first_run.started_at));

    // web-1 flaps pass/fail/pass/fail/pass: damped. web-2 passes twice: one recovery.
    let latest = m.run_once(engine).await.expect("pass");
    assert!(latest.transitions.is_empty());
    let results = w
        .store
        .latest_check_run()
        .await
        .expect("latest")
        .expect("run");
    assert_eq!(results.results.len(), 2);
    let live: Vec<CheckResult> = {
        let set = fearless_engine::CheckSet::for_components(
            &w.config,
            &[],
            &["web-1".into(), "web-2".into()],
        )
        .expect("plan");
        let r = set.run_all().await;
        set.close().await;
        r
    };
    let now = OffsetDateTime::now_utc();
    let mut turned = Vec::new();
    for (i, (web1, web2)) in [
        (Status::Fail, Status::Fail),
        (Status::Pass, Status::Pass),
        (Status::Fail, Status::Pass),
        (Status::Pass, Status::Pass),
    ]
    .into_iter()
    .enumerate()
    {
        let results = with_status(&with_status(&live, "web-1", web1), "web-2", web2);
        let run = engine
            .record_checks(now, now, &results, Trigger::Check)
            .await
            .expect("record");
        turned.extend(run.transitions.into_iter().map(|t| (t.turn, t.subject)));
        if i == 0 {
            // The stored run localises like the results it was taken from.
            let stored = w
                .store
                .latest_check_run()
                .await
                .expect("latest")
                .expect("run");
            assert_eq!(stored.trigger, "check");
            let from_store = monitor::localise_run(&w.config, &stored);
            assert_eq!(
                serde_json::to_value(&from_store).expect("json"),
                serde_json::to_value(monitor::localise(&w.config, &results)).expect("json")
            );
            assert_eq!(from_store.suspects.len(), 1, "{from_store:?}");
        }
    }
    assert_eq!(
        turned,
        [(Turn::Recovered, "check:orders-api/http@web-2".to_owned())]
    );
    assert_eq!(
        delivered(&w)
            .into_iter()
            .map(|(ty, _)| ty)
            .collect::<Vec<_>>(),
        ["fearless.check.failed.v1", "fearless.check.recovered.v1"]
    );
    let states = w.store.check_states().await.expect("states");
    let hard: Vec<(&str, &str)> = states
        .iter()
        .map(|s| (s.host.as_deref().unwrap_or("-"), s.hard.as_str()))
        .collect();
    assert_eq!(hard, [("web-1", "pass"), ("web-2", "pass")]);
    let report = w.store.verify().await.expect("verify");
    assert!(report.is_ok(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_never_overlaps_and_stops_on_shutdown() {
    let (_listening, port) = listener().await;
    let w = World::new(&config(port, true, "{ interval: 5s }"), None).await;
    let engine = w.engine("fearless");
    let m = Monitor::new(w.config.monitor);
    let mut status = m.status();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let looped = async {
        m.run(engine, async {
            let _ = stopped.await;
        })
        .await;
        Instant::now()
    };
    let driver = async {
        // Two passes asked for by hand while the loop runs its first: they queue.
        let (a, b) = tokio::join!(m.run_once(engine), m.run_once(engine));
        a.expect("pass");
        b.expect("pass");
        // Mid-interval: the loop waits 5s ± 10% for its next pass.
        status
            .wait_for(|s| s.passes >= 3 && !s.running && s.next.is_some())
            .await
            .expect("status");
        let _ = stop.send(());
        Instant::now()
    };
    let (ended, asked) = tokio::join!(looped, driver);
    assert!(
        ended.duration_since(asked) < Duration::from_secs(1),
        "stopped mid-interval at once"
    );
    let s = m.status().borrow().clone();
    assert_eq!((s.passes, s.running, s.next), (3, false, None));
    assert!(s.error.is_none(), "{s:?}");
    let last = s.last.expect("last");
    assert!(last.duration_ms >= 300, "{last:?}");

    let mut runs = w.store.check_runs(None, 10).await.expect("runs");
    runs.reverse();
    assert_eq!(runs.len(), 3);
    for pair in runs.windows(2) {
        assert!(
            pair[0].finished_at <= pair[1].started_at,
            "runs {} and {} overlap",
            pair[0].id,
            pair[1].id
        );
    }
    assert_eq!(last.id, runs[2].id);

    // A shutdown during a pass: the pass is finished and recorded, then the loop ends.
    let m = Monitor::new(w.config.monitor);
    let mut status = m.status();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let looped = m.run(engine, async {
        let _ = stopped.await;
    });
    let driver = async {
        status.wait_for(|s| s.running).await.expect("status");
        let _ = stop.send(());
    };
    tokio::join!(looped, driver);
    let s = m.status().borrow().clone();
    assert_eq!((s.passes, s.running), (1, false));
    assert_eq!(w.store.check_runs(None, 10).await.expect("runs").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pass_prunes_what_retention_no_longer_keeps() {
    let (_listening, port) = listener().await;
    let w = World::new(
        &config(port, false, "{ interval: 1m, retention: 1h }"),
        None,
    )
    .await;
    // A failing result two hours ago, then a passing one: the failing span ends before the
    // retention and goes with its run; the passing one stays.
    let old = |hours: i64, status: &str| NewCheckRun {
        started_at: OffsetDateTime::now_utc() - time::Duration::hours(hours),
        finished_at: OffsetDateTime::now_utc() - time::Duration::hours(hours),
        trigger: "monitor".into(),
        actor: "fearless".into(),
        results: vec![fearless_store::CheckRow {
            component: "ledger".into(),
            check: "gone".into(),
            host: None,
            kind: "tcp".into(),
            runs_on: "controller".into(),
            status: status.into(),
            reason: None,
            message: String::new(),
            duration_ms: 1,
        }],
    };
    let gone = w
        .store
        .insert_check_run(&old(2, "fail"))
        .await
        .expect("insert");
    let kept = w
        .store
        .insert_check_run(&old(0, "pass"))
        .await
        .expect("insert");
    let m = Monitor::new(w.config.monitor);
    let run = m.run_once(w.engine("fearless")).await.expect("pass");
    assert_eq!(m.status().borrow().last.as_ref().map(|l| l.pruned), Some(1));
    let ids: Vec<u64> = w
        .store
        .check_runs(None, 10)
        .await
        .expect("runs")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [run.id, kept]);
    assert!(!ids.contains(&gone));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_dates_a_check_from_its_first_recorded_failure() {
    let (listening, port) = listener().await;
    let w = World::new(&config(port, false, "{ interval: 1m }"), None).await;
    // web-2 is on 127.0.0.2 in this config; make both reach the listener first.
    let yaml = config(port, false, "{ interval: 1m }").replace("127.0.0.2", "127.0.0.1");
    std::fs::write(w.dir().join("fearless.yaml"), &yaml).expect("config");
    let config = fearless_config::load(&w.dir().join("fearless.yaml"))
        .expect("config")
        .config;
    let engine = fearless_engine::Engine {
        config: &config,
        ..w.engine("fearless")
    };
    let m = Monitor::new(config.monitor);
    let passed = m.run_once(engine).await.expect("pass");
    assert_eq!(passed.counts.pass, 2);

    // A change on web-2 starts, then the service goes away.
    let alice = fearless_engine::Engine {
        config: &config,
        ..w.engine("alice")
    };
    let change = alice
        .create_change(NewChange {
            title: "restart orders".into(),
            hosts: "web-2".into(),
            components: vec!["orders-api".into()],
            ..NewChange::default()
        })
        .await
        .expect("change");
    let id = change.id().to_string();
    alice
        .advance_id(&id, Command::Submit)
        .await
        .expect("submit");
    fearless_engine::Engine {
        config: &config,
        ..w.engine("bob")
    }
    .advance_id(&id, Command::Approve { reason: None })
    .await
    .expect("approve");
    alice
        .advance_id(&id, Command::Schedule { window: None })
        .await
        .expect("schedule");
    alice.advance_id(&id, Command::Start).await.expect("start");
    drop(listening);
    let first = m.run_once(engine).await.expect("pass");
    let second = m.run_once(engine).await.expect("pass");
    assert_eq!((first.counts.fail, second.transitions.len()), (2, 2));

    let incident = alice
        .open_incident(OpenIncident {
            components: vec!["orders-api".into()],
            hosts: Some(Selector::parse("web-2").expect("selector")),
            since: Some(Duration::from_secs(3600)),
            title: None,
        })
        .await
        .expect("incident");
    let evidence = alice.evidence(&incident, false).await.expect("evidence");
    assert_eq!(
        evidence.first_failures.len(),
        1,
        "{:?}",
        evidence.first_failures
    );
    let runs = w.store.check_runs(None, 10).await.expect("runs");
    let run_at = |id: u64| {
        let r = runs.iter().find(|r| r.id == id).expect("run");
        monitor::timestamp(r.started_at)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let started = alice
        .changes()
        .await
        .expect("changes")
        .into_iter()
        .find(|c| c.id().to_string() == id)
        .and_then(|c| c.actual_start)
        .expect("started");
    let built = report::build(evidence.clone());
    let line = built
        .timeline
        .iter()
        .find(|e| e.what.contains("first failed"))
        .expect("a first failure in the timeline");
    let f = &evidence.first_failures[0];
    assert_eq!(
        line.what,
        format!(
            "orders-api/http on web-2 first failed at {} UTC (run {}, monitor): fail ({}); before it, since its last pass at {} UTC (run {}): {id} (restart orders) started at {} UTC",
            run_at(first.id),
            first.id,
            f.detail,
            run_at(passed.id),
            passed.id,
            started.strftime("%Y-%m-%d %H:%M:%S"),
        )
    );
    // Same evidence, same report bytes; gathered again, the same evidence.
    let again = alice.evidence(&incident, false).await.expect("evidence");
    assert_eq!(
        report::markdown(&built),
        report::markdown(&report::build(again))
    );
}
