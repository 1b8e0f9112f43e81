//! A store written by the release before typed records (`tests/fixtures/v1`) reads through
//! today's types: every rollout, host, incident and journal payload another module reads,
//! and the post-incident report of its incident, which says what the old journal does not
//! hold instead of inventing it.

use fearless_engine::record::{
    self, BisectEnded, BisectStarted, Bisected, HostStep, IncidentMoved, IncidentOpened,
    RcaAttached, RebootFinished, RebootStarted, ReportWritten, RolloutMoved, RolloutStarted,
    SnapshotTaken, WaveBaked,
};
use fearless_engine::rollout::RolloutOutcome;
use fearless_rollout::{HostState, RolloutState};
use fearless_store::JournalFilter;

use super::common::{World, v1};

async fn golden() -> World {
    let config = std::fs::read_to_string(v1().join("fearless.yaml")).expect("config");
    World::new(&config, Some(&v1().join("state.db"))).await
}

#[tokio::test]
async fn every_record_of_the_previous_schema_reads_through_its_type() {
    let w = golden().await;
    let engine = w.engine("auditor");

    let rollouts = engine.rollouts().await.expect("rollouts");
    let states: Vec<(u64, &str)> = rollouts
        .iter()
        .map(|(s, _)| (s.number, s.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [(1, "backed-out"), (2, "completed"), (3, "completed")]
    );
    for (s, r) in &rollouts {
        assert_eq!(r.v, 1, "R-{}", s.number);
        let result = r
            .result
            .as_ref()
            .expect("an ended rollout keeps its result");
        assert_eq!(result.change, r.change);
    }
    let r1 = &rollouts[0].1;
    assert_eq!(r1.manifest.len(), 10);
    assert_eq!(r1.waves, [vec!["web-1"], vec!["web-2", "web-3"]]);
    let ends = &r1.result.as_ref().expect("result").hosts;
    assert_eq!(ends.len(), 1);
    assert_eq!(
        (ends[0].host.as_str(), ends[0].state),
        ("web-1", HostState::RolledBack)
    );
    let hosts = engine.rollout_hosts(1).await.expect("hosts");
    let hs: Vec<(&str, HostState)> = hosts.iter().map(|(h, s)| (h.host.as_str(), *s)).collect();
    assert_eq!(
        hs,
        [
            ("web-1", HostState::RolledBack),
            ("web-2", HostState::Pending),
            ("web-3", HostState::Pending)
        ]
    );

    let incidents = engine.incidents().await.expect("incidents");
    assert_eq!(incidents.len(), 2);
    let inc1 = &incidents[0].record;
    assert_eq!(inc1.rollout.as_deref(), Some("R-1"));
    let kept = inc1.bisect.as_ref().expect("the canary's bisect is kept");
    assert_eq!(kept.host, "web-1");
    assert!(kept.report.restored);
    assert!(inc1.milestones.resolved.is_some());
    assert_eq!(inc1.notes.len(), 1);
    let attached = inc1.report.as_ref().expect("the report is attached");
    assert!(attached.attribution.contains("libacme 1.0 → 2.0"));
    let inc2 = &incidents[1].record;
    assert_eq!(inc2.rollout, None);
    assert_eq!(inc2.components, ["orders-api"]);
    assert!(
        inc2.checks.iter().all(|c| c.before.is_none()),
        "version 1 wrote `before: pass` for checks nobody had seen pass: {:?}",
        inc2.checks
    );

    // Every journal entry of a kind something reads back decodes through its type.
    let entries = w
        .store
        .journal(&JournalFilter::default())
        .await
        .expect("journal");
    assert_eq!(entries.len(), 94);
    let mut typed = 0;
    for e in &entries {
        let read = if let Some(step) = HostStep::decode(e) {
            let step = step.expect("host step");
            assert_eq!(e.kind, HostStep::kind(step.to));
            assert_eq!(
                step.from.on_step_to(step.to),
                Some(step.to),
                "entry {}",
                e.seq
            );
            true
        } else if e.kind.starts_with("rollout.")
            && e.kind["rollout.".len()..].parse::<RolloutState>().is_ok()
        {
            record::decode_as::<RolloutMoved>(e).expect("rollout moved");
            true
        } else if e.kind.starts_with("incident.")
            && ["mitigated", "resolved", "closed"].contains(&&e.kind["incident.".len()..])
        {
            record::decode_as::<IncidentMoved>(e).expect("incident moved");
            true
        } else {
            macro_rules! any_of {
                ($($t:ty),*) => {
                    false $(|| record::decode::<$t>(e).map(|r| r.expect(stringify!($t))).is_some())*
                };
            }
            any_of!(
                RolloutStarted,
                WaveBaked,
                RebootStarted,
                RebootFinished,
                BisectStarted,
                BisectEnded,
                Bisected,
                SnapshotTaken,
                IncidentOpened,
                ReportWritten,
                RcaAttached
            )
        };
        if read {
            typed += 1;
        } else {
            assert!(
                e.kind.starts_with("change."),
                "entry {} ({}) has no type",
                e.seq,
                e.kind
            );
        }
    }
    let changes = entries
        .iter()
        .filter(|e| e.kind.starts_with("change."))
        .count();
    assert!(
        typed + changes >= entries.len(),
        "every entry but change transitions is typed"
    );
    // The reboots of R-3, with the boot id flag of the old payload.
    let reboots: Vec<RebootFinished> = entries
        .iter()
        .filter_map(record::decode::<RebootFinished>)
        .map(|r| r.expect("reboot"))
        .collect();
    assert_eq!(reboots.len(), 3);
    assert!(reboots.iter().all(|r| r.ok && r.new_boot_id == Some(false)));
}

#[tokio::test]
async fn an_ended_rollout_of_the_previous_schema_is_not_resumed_or_aborted() {
    let w = golden().await;
    let engine = w.engine("ops");
    for outcome in [
        engine.resume(2).await.expect("resume"),
        engine.abort(1).await.expect("abort"),
    ] {
        assert!(
            matches!(outcome, RolloutOutcome::Nothing { .. }),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn the_report_of_an_old_incident_says_what_its_journal_does_not_hold() {
    let w = golden().await;
    let engine = w.engine("auditor");
    let incident = engine.incident("INC-1").await.expect("INC-1");
    let evidence = engine.evidence(&incident, false).await.expect("evidence");
    // The old journal has no check results after the rollback: no transition is made up.
    assert!(
        evidence.checks.iter().all(|c| c.to != "pass"),
        "{:?}",
        evidence.checks
    );
    assert!(
        evidence
            .gaps
            .iter()
            .any(|g| g
                .starts_with("web-1: the checks' results after its rollback were not recorded")),
        "{:?}",
        evidence.gaps
    );
    let report = fearless_rca::report::build(evidence);
    assert!(
        report
            .attribution
            .starts_with("Upgrading libacme 1.0 → 2.0 on web-1 broke check 'orders' of orders-api"),
        "{}",
        report.attribution
    );
    assert!(report.confirmed);
    let markdown = fearless_rca::report::markdown(&report);
    crate::redacted!({
        insta::assert_snapshot!("v1_incident_report", markdown);
    });
}
