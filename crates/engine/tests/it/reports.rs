//! Post-incident reports of stories written through the store as the engine writes them:
//! a rollout that fails in wave 2, a canary failure with no bisect, a host whose rollback
//! did not bring its checks back. Each report says what the records show and nothing else
//! (snapshot-tested, times redacted).

use std::collections::BTreeMap;

use fearless_change::{Command, NewChange};
use fearless_engine::record::{
    self, CheckSeen, HostEnd, HostStep, Incident, IncidentHost, Milestones, Regression,
    RolloutRecord, RolloutResult, SnapshotDoc, StepDetail,
};
use fearless_pkg::{Installed, Manager, PackageSet};
use fearless_probe::baseline::Baseline;
use fearless_probe::result::{Reason, Status};
use fearless_rca::report;
use fearless_rollout::{HostState, RolloutState};

use super::common::World;

const HOSTS: [&str; 4] = ["web-1", "web-2", "web-3", "web-4"];

fn config() -> String {
    let v1 = std::fs::read_to_string(super::common::v1().join("fearless.yaml")).expect("config");
    v1.replace(
        "    web-3: { address: 127.0.0.13, labels: { role: web, az: c } }\n",
        "    web-3: { address: 127.0.0.13, labels: { role: web, az: c } }\n    web-4: { address: 127.0.0.14, labels: { role: web, az: a } }\n",
    )
}

fn set(libacme: &str) -> PackageSet {
    let p = |name: &str, version: &str| Installed {
        name: name.into(),
        arch: "all".into(),
        version: version.into(),
        manual: true,
    };
    PackageSet::new(
        Manager::Apt,
        vec![
            p("acme-api", "1.0"),
            p("acme-web", "1.0"),
            p("libacme", libacme),
        ],
    )
}

/// A story: a change implemented by a rollout of `libacme=2.0` and `acme-web=1.1` in
/// `waves`, whose hosts then take `steps`.
struct Story {
    w: World,
    rollout: u64,
    record: RolloutRecord,
}

impl Story {
    async fn new(waves: &[&[&str]]) -> Self {
        let w = World::new(&config(), None).await;
        let alice = w.engine("alice");
        let created = alice
            .create_change(NewChange {
                title: "monthly patch".into(),
                hosts: "web-*".into(),
                components: vec!["orders-api".into(), "checkout".into()],
                ..NewChange::default()
            })
            .await
            .expect("change");
        let id = created.id().to_string();
        alice
            .advance_id(&id, Command::Submit)
            .await
            .expect("submit");
        w.engine("bob")
            .advance_id(&id, Command::Approve { reason: None })
            .await
            .expect("approve");
        alice
            .advance_id(&id, Command::Schedule { window: None })
            .await
            .expect("schedule");
        alice.advance_id(&id, Command::Start).await.expect("start");
        let waves: Vec<Vec<String>> = waves
            .iter()
            .map(|w| w.iter().map(|h| (*h).to_owned()).collect())
            .collect();
        let record = RolloutRecord {
            v: record::VERSION,
            change: id,
            manifest: vec!["acme-web=1.1".into(), "libacme=2.0".into()],
            waves: waves.clone(),
            bake_ms: 1000,
            accept_baseline_failures: false,
            components: vec!["checkout".into(), "orders-api".into()],
            baseline: Baseline::from_results(&[]),
            timings: record::Timings::default(),
            leasing: None,
            result: None,
        };
        let hosts: Vec<(String, u32)> = waves
            .iter()
            .enumerate()
            .flat_map(|(i, w)| {
                w.iter()
                    .map(move |h| (h.clone(), u32::try_from(i + 1).expect("wave")))
            })
            .collect();
        let rollout = w
            .store
            .insert_rollout(
                "running",
                &serde_json::to_value(&record).expect("json"),
                &hosts,
                "pending",
                record::event(
                    "alice",
                    "",
                    &record::RolloutStarted {
                        v: record::VERSION,
                        change: record.change.clone(),
                        manifest: record.manifest.clone(),
                        waves: record.waves.clone(),
                    },
                ),
            )
            .await
            .expect("rollout")
            .number;
        Self { w, rollout, record }
    }

    /// `host` steps through `to`, each with its detail (a snapshot is taken first).
    async fn walk(&self, host: &str, path: Vec<(HostState, StepDetail)>) {
        let mut from = HostState::Pending;
        for (to, mut detail) in path {
            let mut snapshot = None;
            if to == HostState::Snapshotted {
                let doc = SnapshotDoc {
                    hosts: BTreeMap::from([(host.to_owned(), set("1.0"))]),
                    errors: BTreeMap::new(),
                    rollout: Some(format!("R-{}", self.rollout)),
                };
                let n = self
                    .w
                    .store
                    .insert_snapshot(
                        &serde_json::to_value(&doc).expect("json"),
                        record::event(
                            "alice",
                            "",
                            &record::SnapshotTaken {
                                hosts: vec![host.to_owned()],
                                ..record::SnapshotTaken::default()
                            },
                        ),
                    )
                    .await
                    .expect("snapshot")
                    .number;
                detail.snapshot = Some(format!("SNAP-{n}"));
                snapshot = Some(n);
            }
            let step = HostStep {
                v: record::VERSION,
                host: host.to_owned(),
                from,
                to,
                detail,
            };
            self.w
                .store
                .move_host(
                    self.rollout,
                    host,
                    &from.to_string(),
                    &to.to_string(),
                    snapshot,
                    record::event_of("alice", &HostStep::kind(to), "", &step),
                )
                .await
                .expect("step");
            from = to;
        }
    }

    /// The rollout stops (`why`) with `ends`; its incident is opened with `milestones`.
    async fn stop(&self, why: &str, ends: Vec<HostEnd>, milestones: Milestones) -> String {
        let (stored, _) = self
            .w
            .engine("alice")
            .rollout(self.rollout)
            .await
            .expect("rollout");
        let mut closed = self.record.clone();
        let failing: Vec<&HostEnd> = ends
            .iter()
            .filter(|e| e.state != HostState::Verified)
            .collect();
        closed.result = Some(RolloutResult {
            incident: Some("INC-1".into()),
            change: closed.change.clone(),
            manifest: closed.manifest.clone(),
            waves: closed.waves.clone(),
            hosts: ends.clone(),
            stopped: Some(why.into()),
        });
        self.w
            .store
            .update_rollout(
                stored.number,
                stored.version,
                RolloutState::BackedOut.as_str(),
                &serde_json::to_value(&closed).expect("json"),
                record::event_of(
                    "alice",
                    "rollout.backed-out",
                    "",
                    &record::RolloutMoved {
                        stopped: Some(why.into()),
                        code: Some("backed-out".into()),
                    },
                ),
            )
            .await
            .expect("end");
        let incident = Incident {
            v: record::VERSION,
            title: format!(
                "{}: rollout R-{} stopped: {why}",
                closed.change, self.rollout
            ),
            opened_by: format!("R-{}", self.rollout),
            change: Some(closed.change.clone()),
            rollout: Some(format!("R-{}", self.rollout)),
            wave: failing.first().map(|e| e.wave),
            manifest: closed.manifest.clone(),
            hosts: failing.iter().map(|e| IncidentHost::from(*e)).collect(),
            milestones,
            ..Incident::default()
        };
        let state = if incident.milestones.mitigated.is_some() {
            "mitigated"
        } else {
            "open"
        };
        let stored = self
            .w
            .store
            .insert_incident(
                state,
                &serde_json::to_value(&incident).expect("json"),
                record::event("alice", "", &record::IncidentOpened::default()),
            )
            .await
            .expect("incident");
        format!("INC-{}", stored.number)
    }

    async fn report(&self, id: &str) -> report::Report {
        let engine = self.w.engine("auditor");
        let incident = engine.incident(id).await.expect("incident");
        let evidence = engine.evidence(&incident, false).await.expect("evidence");
        report::build(evidence)
    }
}

fn applied() -> Vec<(HostState, StepDetail)> {
    vec![
        (HostState::Snapshotted, StepDetail::default()),
        (
            HostState::Applying,
            StepDetail {
                manifest: Some(2),
                ..StepDetail::default()
            },
        ),
        (
            HostState::Applied,
            StepDetail {
                changed: Some(2),
                ..StepDetail::default()
            },
        ),
        (HostState::Verifying, StepDetail::default()),
    ]
}

fn verified() -> Vec<(HostState, StepDetail)> {
    let mut path = applied();
    path.push((HostState::Verified, StepDetail::default()));
    path
}

fn orders(host: &str, status: Status, message: &str) -> CheckSeen {
    CheckSeen {
        component: "orders-api".into(),
        check: "orders".into(),
        host: Some(host.into()),
        status,
        reason: (status != Status::Pass).then_some(Reason::Assertion),
        message: message.into(),
    }
}

/// Applied, failed on `orders` (HTTP 500), and rolled back: its checks after the rollback
/// as `after`.
fn failed_and_rolled_back(host: &str, after: Status) -> Vec<(HostState, StepDetail)> {
    let mut path = applied();
    path.push((
        HostState::Failed,
        StepDetail {
            error: Some(format!("orders-api/orders on {host}: fail (HTTP 500)")),
            checks: vec![Regression {
                component: "orders-api".into(),
                check: "orders".into(),
                host: Some(host.into()),
                before: Some(Status::Pass),
                after: Status::Fail,
                reason: Some(Reason::Assertion),
                message: Some("HTTP 500".into()),
            }],
            ..StepDetail::default()
        },
    ));
    path.push((HostState::RollingBack, StepDetail::default()));
    let restored = after == Status::Pass;
    path.push((
        if restored {
            HostState::RolledBack
        } else {
            HostState::RollbackFailed
        },
        StepDetail {
            detail: Some(if restored {
                "rolled back to its snapshot, checks pass".into()
            } else {
                format!(
                    "rolled back, but still failing: orders-api/orders on {host}: fail (HTTP 500)"
                )
            }),
            after: vec![orders(
                host,
                after,
                if restored { "HTTP 200" } else { "HTTP 500" },
            )],
            ..StepDetail::default()
        },
    ));
    path
}

fn end(host: &str, wave: usize, state: HostState) -> HostEnd {
    HostEnd {
        host: host.into(),
        wave,
        state,
        detail: String::new(),
    }
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// The report of a story over the canary (web-1) and then the other hosts, whose hosts take
/// `walks` and which then stops (`why`) with `ends`. Its incident was detected once the walks
/// ended, and mitigated then too when `mitigated`.
async fn told(
    walks: Vec<(&str, Vec<(HostState, StepDetail)>)>,
    why: &str,
    ends: Vec<HostEnd>,
    mitigated: bool,
) -> report::Report {
    let s = Story::new(&[&["web-1"], &HOSTS[1..]]).await;
    let started = now();
    for (host, path) in walks {
        s.walk(host, path).await;
    }
    let milestones = Milestones {
        started: Some(started),
        detected: Some(now()),
        mitigated: mitigated.then(now),
        ..Milestones::default()
    };
    let id = s.stop(why, ends, milestones).await;
    s.report(&id).await
}

/// Require the report `md` to say each of `says` and none of `never`.
#[track_caller]
fn assert_says(md: &str, says: &[&str], never: &[&str]) {
    for line in says {
        assert!(md.contains(line), "no {line:?} in\n{md}");
    }
    for line in never {
        assert!(!md.contains(line), "{line:?} in\n{md}");
    }
}

#[tokio::test]
async fn a_rollout_that_fails_in_wave_2_is_told_as_wave_2() {
    let r = told(
        vec![
            ("web-1", verified()),
            ("web-2", verified()),
            ("web-3", failed_and_rolled_back("web-3", Status::Pass)),
            ("web-4", verified()),
        ],
        "wave 2 failed on 1 host(s)",
        vec![
            end("web-1", 1, HostState::Verified),
            end("web-2", 2, HostState::Verified),
            end("web-3", 2, HostState::RolledBack),
            end("web-4", 2, HostState::Verified),
        ],
        true,
    )
    .await;
    let md = report::markdown(&r);
    assert_says(
        &md,
        &[
            "caught in wave 2, after 4 host(s) had taken the batch",
            // The rollback's effect is the recorded check, not an assumption.
            "| orders-api/orders | web-3 | fail | pass | after the rollback: HTTP 200 |",
        ],
        // Not the canary's story, and no bisect that did not happen.
        &["stayed on the canary", "taken apart to find it"],
    );
    crate::redacted!({
        insta::assert_snapshot!("wave_2_failure", md);
    });
}

#[tokio::test]
async fn a_canary_failure_without_a_bisect_is_inferred_and_says_so() {
    let r = told(
        vec![("web-1", failed_and_rolled_back("web-1", Status::Pass))],
        "wave 1 failed on 1 host(s)",
        vec![end("web-1", 1, HostState::RolledBack)],
        true,
    )
    .await;
    assert!(!r.confirmed);
    assert!(r.evidence.bisect.is_none());
    let md = report::markdown(&r);
    assert_says(
        &md,
        &[
            "no bisect took the batch apart",
            "the failure stayed on the canary (web-1)",
            "the rollout touched no other host after that",
        ],
        &["; confirmed by bisect"],
    );
    crate::redacted!({
        insta::assert_snapshot!("canary_without_bisect", md);
    });
}

#[tokio::test]
async fn a_host_whose_rollback_did_not_restore_it_is_reported_as_still_failing() {
    let r = told(
        vec![("web-1", failed_and_rolled_back("web-1", Status::Fail))],
        "wave 1 failed on 1 host(s)",
        vec![end("web-1", 1, HostState::RollbackFailed)],
        false,
    )
    .await;
    assert_eq!(r.impact.ended, None);
    let md = report::markdown(&r);
    assert_says(
        &md,
        &[
            "Service is not known to be restored.",
            "its checks STILL FAIL",
            "rolled back, but the checks still fail",
        ],
        &["service restored", "| fail | pass |"],
    );
    crate::redacted!({
        insta::assert_snapshot!("rollback_did_not_restore", md);
    });
}
