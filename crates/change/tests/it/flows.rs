//! End-to-end paths through the machine, separation of duties, windows and blackouts.

use crate::common::{Driver, REQUESTER, config, create, new_change, t};
use fearless_change::{
    ChangeError, ChangeRecord, ChangeType, CloseCode, Command, Decision, Edit, NewChange,
    RiskLevel, ScanFindingRef, ScanRuleCount, ScanSeverity, ScanSummary, State, Window,
    parse_window,
};

const YEAR_END: &str = r#"
change:
  approvals_required: 1
  blackouts: [{ name: year-end, from: "2026-12-20T00:00:00Z", to: "2027-01-03T00:00:00Z" }]
"#;

fn window(text: &str) -> Option<Window> {
    Some(parse_window(text).expect("window"))
}

fn approve() -> Command {
    Command::Approve { reason: None }
}

/// A driver of change `number`, of `change_type` on `hosts` (its components inferred).
fn driver(
    cfg: &fearless_config::Config,
    number: u64,
    hosts: &str,
    change_type: ChangeType,
) -> Driver {
    Driver::new(cfg, number, new_change(hosts, &[], change_type))
}

#[test]
fn normal_change_goes_through_assess_authorize_schedule_implement_review_close() {
    let cfg = config(YEAR_END);
    let mut d = Driver::new(
        &cfg,
        1,
        new_change("api-1", &["orders-api"], ChangeType::Normal),
    );
    assert_eq!(d.record.state, State::New);

    let submitted = d.ok_to(REQUESTER, Command::Submit, State::Authorize);
    assert_eq!(submitted.kind, "change.submitted");
    assert_eq!(submitted.payload["via"], serde_json::json!(["assess"]));
    assert!(d.record.assessment.is_some());
    // api-1 is 1 of 4 hosts, but orders-api takes checkout with it: medium impact × medium urgency.
    assert_eq!(d.record.risk.level, RiskLevel::Moderate);

    let approved = d.ok_to("bob", approve(), State::Scheduled);
    assert_eq!(approved.kind, "change.approved");

    d.ok(REQUESTER, Command::Schedule { window: None });
    assert_eq!(
        d.record.window,
        Some(Window::new(d.now, t("2026-05-01T14:00:00Z")).expect("window"))
    );

    d.ok("carol", Command::Start);
    assert_eq!(
        (d.record.state, d.record.actual_start),
        (State::Implement, Some(d.now))
    );
    let complete = Command::Complete {
        code: CloseCode::Successful,
        notes: Some("fine".into()),
    };
    d.ok_to("carol", complete, State::Review);
    let notes = "no findings".into();
    d.ok_to("dave", Command::Review { notes }, State::Review);
    let closed = d.ok_to("dave", Command::Close, State::Closed);
    assert_eq!(closed.kind, "change.closed");

    let kinds: Vec<&str> = d.record.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "change.created",
            "change.submitted",
            "change.approved",
            "change.scheduled",
            "change.started",
            "change.completed",
            "change.reviewed",
            "change.closed"
        ]
    );
    // The record survives its JSON round trip (that is how it is stored).
    let json = serde_json::to_string(&d.record).expect("json");
    assert!(json.contains(r#""start":"2026-05-01T10:00:00Z""#), "{json}");
    assert_eq!(
        serde_json::from_str::<ChangeRecord>(&json).expect("parse"),
        d.record
    );
}

#[test]
fn standard_change_is_scheduled_on_submit_without_approval() {
    let cfg = config(YEAR_END);
    let mut d = driver(&cfg, 1, "batch-1", ChangeType::Standard);
    assert_eq!(
        d.record.scope.components,
        ["batch"],
        "components inferred from the hosts"
    );
    let applied = d.ok(REQUESTER, Command::Submit);
    assert_eq!(applied.payload["from"], "new");
    assert_eq!(applied.payload["to"], "scheduled");
    assert_eq!(
        d.record.window.map(|w| w.start),
        Some(d.now),
        "no window: now for 4 hours"
    );
    d.ok_to(REQUESTER, Command::Start, State::Implement);
}

#[test]
fn emergency_change_skips_assess_but_needs_one_approval_even_when_policy_wants_two() {
    let cfg = config("change: { approvals_required: 2 }");
    let mut d = driver(&cfg, 1, "web-*", ChangeType::Emergency);
    let applied = d.ok_to(REQUESTER, Command::Submit, State::Authorize);
    assert_eq!(applied.payload["via"], serde_json::json!([]));
    assert!(matches!(
        d.run(REQUESTER, approve()),
        Err(ChangeError::SelfApproval { .. })
    ));
    d.ok_to("bob", approve(), State::Scheduled);
    // No window and it is an emergency: it may start right away.
    d.ok_to(REQUESTER, Command::Start, State::Implement);
}

#[test]
fn requester_cannot_approve_own_change() {
    let cfg = config("");
    let mut d = driver(&cfg, 7, "api-1", ChangeType::Normal);
    d.ok(REQUESTER, Command::Submit);
    let before = d.record.clone();
    let err = d.run(REQUESTER, approve()).expect_err("self approval");
    assert_eq!(
        err,
        ChangeError::SelfApproval {
            number: 7,
            actor: REQUESTER.into()
        }
    );
    assert!(err.to_string().contains("separation of duties"), "{err}");
    assert_eq!(d.record, before, "nothing recorded");
}

#[test]
fn two_approvals_required_means_two_distinct_approvers() {
    let cfg = config("change: { approvals_required: 2 }");
    let mut d = driver(&cfg, 3, "api-1", ChangeType::Normal);
    d.ok(REQUESTER, Command::Submit);
    d.ok("bob", approve());
    assert_eq!(d.record.state, State::Authorize, "one of two");
    let err = d.run("bob", approve()).expect_err("twice");
    assert_eq!(
        err.to_string(),
        "CHG-3 is already approved by bob; another approver is needed"
    );
    assert_eq!(
        d.record.state,
        State::Authorize,
        "the same approver twice counts once"
    );
    d.ok_to("carol", approve(), State::Scheduled);
    assert_eq!(
        d.record.current_approvers().collect::<Vec<_>>(),
        ["bob", "carol"]
    );
}

#[test]
fn reject_returns_to_new_with_the_reason_and_resubmission_starts_a_new_round() {
    let cfg = config("change: { approvals_required: 2 }");
    let mut d = driver(&cfg, 4, "api-1", ChangeType::Normal);
    d.ok(REQUESTER, Command::Submit);
    d.ok("bob", approve());
    assert!(matches!(
        d.run("carol", Command::Reject { reason: " ".into() }),
        Err(ChangeError::Empty { .. })
    ));
    let reason = "no rollback plan".into();
    let applied = d.ok_to("carol", Command::Reject { reason }, State::New);
    assert_eq!(applied.payload["reason"], "no rollback plan");
    let last = d.record.approvals.last().expect("decision");
    assert_eq!(
        (last.by.as_str(), last.decision, last.reason.as_deref()),
        ("carol", Decision::Rejected, Some("no rollback plan"))
    );

    d.ok(
        REQUESTER,
        Command::Edit(Box::new(Edit {
            rollback_plan: Some("apt rollback".into()),
            ..Edit::default()
        })),
    );
    d.ok(REQUESTER, Command::Submit);
    d.ok("bob", approve());
    assert_eq!(
        d.record.state,
        State::Authorize,
        "bob's approval of the first round no longer counts twice"
    );
    d.ok_to("dave", approve(), State::Scheduled);
}

#[test]
fn illegal_command_names_the_allowed_ones() {
    let cfg = config("");
    let mut d = driver(&cfg, 9, "api-1", ChangeType::Normal);
    let err = d.run("bob", approve()).expect_err("not submitted");
    assert_eq!(
        err.to_string(),
        "cannot approve CHG-9: it is new; allowed now: submit, edit, cancel"
    );
    d.ok(
        REQUESTER,
        Command::Cancel {
            reason: Some("superseded".into()),
        },
    );
    let err = d.run(REQUESTER, Command::Submit).expect_err("cancelled");
    assert!(
        matches!(err, ChangeError::IllegalTransition { state: "cancelled", ref allowed, .. } if allowed.is_empty())
    );
    // Edit only in new.
    let mut d = driver(&cfg, 10, "api-1", ChangeType::Normal);
    d.ok(REQUESTER, Command::Submit);
    let edit = Command::Edit(Box::new(Edit {
        title: Some("x".into()),
        ..Edit::default()
    }));
    assert!(matches!(
        d.run(REQUESTER, edit),
        Err(ChangeError::IllegalTransition {
            command: "edit",
            ..
        })
    ));
}

#[test]
fn schedule_inside_a_blackout_is_refused_for_normal_and_allowed_for_emergency() {
    let cfg = config(YEAR_END);
    let xmas = window("2026-12-24T22:00:00Z..2026-12-25T02:00:00Z");
    let mut d = driver(&cfg, 1, "api-1", ChangeType::Normal);
    d.ok(REQUESTER, Command::Submit);
    let err = d
        .run(REQUESTER, Command::Schedule { window: xmas })
        .expect_err("blackout");
    assert!(
        matches!(&err, ChangeError::InBlackout { name, .. } if name == "year-end"),
        "{err}"
    );
    assert_eq!(d.record.window, None);

    let mut d = driver(&cfg, 2, "api-1", ChangeType::Emergency);
    d.ok(REQUESTER, Command::Submit);
    d.ok(REQUESTER, Command::Schedule { window: xmas });
    assert_eq!(d.record.window, xmas);
}

#[test]
fn a_window_set_at_creation_is_checked_at_submit() {
    let cfg = config(YEAR_END);
    let new = NewChange {
        window: window("2026-12-31T22:00:00Z..2027-01-01T01:00:00Z"),
        ..new_change("api-1", &[], ChangeType::Normal)
    };
    let mut d = Driver::new(&cfg, 1, new);
    assert!(matches!(
        d.run(REQUESTER, Command::Submit),
        Err(ChangeError::InBlackout { .. })
    ));
    assert_eq!(d.record.state, State::New);
}

#[test]
fn window_that_ends_before_it_starts_is_an_error() {
    let err = parse_window("2026-05-02T00:00:00Z..2026-05-01T00:00:00Z").expect_err("backwards");
    assert!(matches!(err, ChangeError::WindowEndsBeforeStart { .. }));
    assert_eq!(
        err.to_string(),
        "window ends before it starts: 2026-05-02T00:00:00Z..2026-05-01T00:00:00Z"
    );
    assert!(matches!(
        parse_window("2026-05-01T00:00:00Z"),
        Err(ChangeError::BadWindow { .. })
    ));
    assert!(matches!(
        parse_window("tomorrow..later"),
        Err(ChangeError::BadWindow { .. })
    ));
    // Offsets are accepted and stored in UTC.
    let w = parse_window("2026-05-01T22:00:00+02:00..2026-05-01T23:00:00+02:00").expect("offsets");
    assert_eq!(w.to_string(), "2026-05-01T20:00:00Z..2026-05-01T21:00:00Z");
}

#[test]
fn allowed_windows_refuse_schedules_outside_them_unless_emergency() {
    // 2026-05-01 is a Friday.
    let cfg = config(
        r#"change: { windows: [{ name: nightly, days: [mon, tue, wed, thu, fri], from: "22:00", to: "04:00" }] }"#,
    );
    let mut d = driver(&cfg, 1, "api-1", ChangeType::Normal);
    d.ok(REQUESTER, Command::Submit);
    // Friday night into Saturday morning: inside the occurrence that starts Friday.
    d.ok(
        REQUESTER,
        Command::Schedule {
            window: window("2026-05-01T23:00:00Z..2026-05-02T03:00:00Z"),
        },
    );
    // Saturday night: no occurrence starts on Saturday.
    let err = d.run(
        REQUESTER,
        Command::Schedule {
            window: window("2026-05-02T23:00:00Z..2026-05-03T01:00:00Z"),
        },
    );
    assert!(
        matches!(&err, Err(ChangeError::OutsideWindows { allowed, .. }) if allowed.contains("nightly")),
        "{err:?}"
    );
    // Running past the end of the occurrence.
    let err = d.run(
        REQUESTER,
        Command::Schedule {
            window: window("2026-05-01T23:00:00Z..2026-05-02T05:00:00Z"),
        },
    );
    assert!(matches!(err, Err(ChangeError::OutsideWindows { .. })));

    let mut d = driver(&cfg, 2, "api-1", ChangeType::Emergency);
    d.ok(REQUESTER, Command::Submit);
    d.ok(
        REQUESTER,
        Command::Schedule {
            window: window("2026-05-02T12:00:00Z..2026-05-02T13:00:00Z"),
        },
    );
}

#[test]
fn start_outside_the_window_is_refused_unless_emergency() {
    let cfg = config("");
    let mut d = driver(&cfg, 1, "api-1", ChangeType::Normal);
    d.ok(REQUESTER, Command::Submit);
    d.ok("bob", approve());
    assert!(matches!(
        d.run(REQUESTER, Command::Start),
        Err(ChangeError::NoWindow { number: 1 })
    ));
    d.ok(
        REQUESTER,
        Command::Schedule {
            window: window("2026-05-02T00:00:00Z..2026-05-02T02:00:00Z"),
        },
    );
    let err = d.run(REQUESTER, Command::Start).expect_err("too early");
    assert!(matches!(err, ChangeError::OutsideScheduledWindow { .. }));
    d.now = t("2026-05-02T01:00:00Z");
    d.ok(REQUESTER, Command::Start);
}

#[test]
fn close_of_a_failed_change_needs_review_notes() {
    let cfg = config("");
    let mut d = driver(&cfg, 1, "batch-1", ChangeType::Standard);
    d.ok(REQUESTER, Command::Submit);
    d.ok(REQUESTER, Command::Start);
    d.ok(
        REQUESTER,
        Command::Complete {
            code: CloseCode::BackedOut,
            notes: None,
        },
    );
    assert!(matches!(
        d.run(REQUESTER, Command::Close),
        Err(ChangeError::ReviewRequired {
            code: "backed-out",
            ..
        })
    ));
    d.ok(
        "bob",
        Command::Review {
            notes: "libacme 2.0 broke orders".into(),
        },
    );
    d.ok(REQUESTER, Command::Close);
}

#[test]
fn new_change_resolves_and_freezes_its_scope_and_checks_its_test_plan() {
    let cfg = config("");
    let rec = create(
        &cfg,
        1,
        new_change("role=web", &["checkout"], ChangeType::Normal),
    );
    assert_eq!(rec.scope.hosts, ["web-1", "web-2"]);
    assert_eq!(rec.id().to_string(), "CHG-1");

    let err = ChangeRecord::new(
        new_change("all", &["orders-ap"], ChangeType::Normal),
        2,
        REQUESTER,
        t("2026-05-01T00:00:00Z"),
        &cfg,
    )
    .expect_err("unknown component");
    assert_eq!(
        err.to_string(),
        "unknown component `orders-ap` (did you mean `orders-api`?)"
    );

    let err = ChangeRecord::new(
        new_change("role=db", &[], ChangeType::Normal),
        2,
        REQUESTER,
        t("2026-05-01T00:00:00Z"),
        &cfg,
    )
    .expect_err("empty scope");
    assert!(matches!(err, ChangeError::EmptyScope { .. }));

    let plan = |entries: &[&str]| NewChange {
        test_plan: entries.iter().map(|e| (*e).to_owned()).collect(),
        ..new_change("api-1", &[], ChangeType::Normal)
    };
    assert!(
        ChangeRecord::new(
            plan(&["checkout", "orders-api/orders"]),
            3,
            REQUESTER,
            t("2026-05-01T00:00:00Z"),
            &cfg
        )
        .is_ok()
    );
    let err = ChangeRecord::new(
        plan(&["orders-api/health"]),
        3,
        REQUESTER,
        t("2026-05-01T00:00:00Z"),
        &cfg,
    )
    .expect_err("bad plan");
    assert!(
        matches!(err, ChangeError::UnknownTestPlanEntry { entry } if entry == "orders-api/health")
    );
}

#[test]
fn risk_is_impact_times_urgency_with_an_override_that_needs_a_reason() {
    let cfg = config("");
    let rec = create(&cfg, 1, new_change("all", &[], ChangeType::Emergency));
    assert_eq!(
        (rec.risk.computed, rec.risk.level),
        (RiskLevel::Critical, RiskLevel::Critical)
    );
    let lowered = NewChange {
        risk_override: Some(fearless_change::RiskOverride {
            level: RiskLevel::High,
            reason: "tested in staging".into(),
        }),
        ..new_change("all", &[], ChangeType::Emergency)
    };
    let rec = create(&cfg, 2, lowered);
    assert_eq!(
        (rec.risk.computed, rec.risk.level),
        (RiskLevel::Critical, RiskLevel::High)
    );
    assert_eq!(
        rec.risk.override_reason.as_deref(),
        Some("tested in staging")
    );
}

fn scan_summary(findings: usize) -> ScanSummary {
    ScanSummary {
        paths: vec!["src".into()],
        files_scanned: 12,
        findings,
        by_rule: vec![ScanRuleCount {
            rule: "injection".into(),
            severity: ScanSeverity::Error,
            count: findings,
        }],
        first: vec![ScanFindingRef {
            rule: "injection".into(),
            severity: ScanSeverity::Error,
            path: "app/run.py".into(),
            line: 7,
            message: "os.system with a command built from data".into(),
        }],
        suppressed: 0,
        baselined: 0,
        notes: 0,
    }
}

#[test]
fn a_scan_summary_is_kept_replaced_by_an_edit_and_optional_in_stored_records() {
    let cfg = config("");
    let new = NewChange {
        scan: Some(scan_summary(3)),
        ..new_change("api-1", &[], ChangeType::Normal)
    };
    let mut d = Driver::new(&cfg, 11, new);
    assert_eq!(d.record.scan, Some(scan_summary(3)));
    let applied = d.ok(
        REQUESTER,
        Command::Edit(Box::new(Edit {
            scan: Some(scan_summary(1)),
            ..Edit::default()
        })),
    );
    assert_eq!(applied.payload["fields"], serde_json::json!(["scan"]));
    assert_eq!(d.record.scan.as_ref().map(|s| s.findings), Some(1));
    let same = d.run(
        REQUESTER,
        Command::Edit(Box::new(Edit {
            scan: Some(scan_summary(1)),
            ..Edit::default()
        })),
    );
    assert!(matches!(same, Err(ChangeError::NothingToEdit { .. })));

    // Round trip, and a record stored before the field existed still reads.
    let json = serde_json::to_value(&d.record).expect("json");
    assert_eq!(json["scan"]["by_rule"][0]["severity"], "error");
    let back: ChangeRecord = serde_json::from_value(json.clone()).expect("read back");
    assert_eq!(back, d.record);
    let mut old = json;
    old.as_object_mut().expect("object").remove("scan");
    let old: ChangeRecord = serde_json::from_value(old).expect("older record");
    assert_eq!(old.scan, None);
    assert!(
        serde_json::to_value(&old)
            .expect("json")
            .get("scan")
            .is_none(),
        "no scan, no key"
    );
}

#[test]
fn roles_say_who_may_approve_each_type_and_who_may_close() {
    let cfg = config(
        "identity:\n  roles:\n    approve: { normal: [carol], any: [dave] }\n    close: [erin]\n",
    );
    let mut d = driver(&cfg, 4, "api-1", ChangeType::Normal);
    d.ok(REQUESTER, Command::Submit);
    let before = d.record.clone();
    let err = d.run("bob", approve()).expect_err("bob approves nothing");
    assert_eq!(
        err.to_string(),
        "bob may not approve CHG-4: identity.roles.approve allows carol and dave"
    );
    let err = d
        .run(
            "bob",
            Command::Reject {
                reason: "no".into(),
            },
        )
        .expect_err("nor rejects");
    assert!(
        err.to_string().starts_with("bob may not reject CHG-4"),
        "{err}"
    );
    assert_eq!(d.record, before, "nothing recorded");
    d.ok_to("carol", approve(), State::Scheduled);

    // `any` covers every type: dave approves an emergency change, carol may not
    let mut e = driver(&cfg, 5, "api-1", ChangeType::Emergency);
    e.ok(REQUESTER, Command::Submit);
    e.run("carol", approve()).expect_err("carol: normal only");
    e.ok_to("dave", approve(), State::Scheduled);

    d.ok(REQUESTER, Command::Schedule { window: None });
    d.ok("carol", Command::Start);
    d.ok(
        "carol",
        Command::Complete {
            code: CloseCode::Successful,
            notes: None,
        },
    );
    let err = d
        .run("carol", Command::Close)
        .expect_err("only erin closes");
    assert_eq!(
        err.to_string(),
        "carol may not close CHG-4: identity.roles.close allows erin"
    );
    d.ok_to("erin", Command::Close, State::Closed);
}

#[test]
fn roles_by_component_narrow_who_approves_what_touches_it() {
    let cfg = config(
        "identity:\n  roles:\n    approve: { normal: [carol, dina], \"component:orders-api\": [dina] }\n",
    );
    // orders-api: the type's list and the component's must both name the approver
    let mut d = Driver::new(
        &cfg,
        6,
        new_change("api-1", &["orders-api"], ChangeType::Normal),
    );
    d.ok(REQUESTER, Command::Submit);
    let before = d.record.clone();
    let err = d
        .run("carol", approve())
        .expect_err("carol: not for orders-api");
    assert_eq!(
        err.to_string(),
        "carol may not approve CHG-6: identity.roles.approve allows dina"
    );
    assert_eq!(d.record, before, "nothing recorded");
    d.ok_to("dina", approve(), State::Scheduled);

    // a change that does not touch orders-api: the type's list alone
    let mut e = Driver::new(
        &cfg,
        7,
        new_change("web-1", &["checkout"], ChangeType::Normal),
    );
    e.ok(REQUESTER, Command::Submit);
    e.ok_to("carol", approve(), State::Scheduled);

    // a component the config does not have is a located config error
    let yaml = "inventory:\n  hosts:\n    web-1: { address: 10.0.1.11 }\nidentity:\n  roles:\n    approve: { \"component:nope\": [dina] }\n";
    let e = fearless_config::load_str(std::path::Path::new("/tmp/fearless.yaml"), yaml.to_owned())
        .expect_err("unknown component");
    let text = e
        .problems
        .iter()
        .map(fearless_config::Problem::plain)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("`identity.roles.approve` is keyed by change type, `component:NAME` or `tier:NAME` of the config, found `component:nope`"),
        "{text}"
    );
}
