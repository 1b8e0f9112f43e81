//! Errors that need no running lab.

use fearless_lab::{LabError, Scenario};

#[test]
fn publish_without_a_lab_says_to_start_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = fearless_lab::publish(dir.path(), Scenario::Routine).expect_err("no lab");
    assert!(matches!(err, LabError::NotUp { .. }), "{err}");
    assert_eq!(
        err.hint().as_deref(),
        Some("start one with: fearless lab up")
    );
}

#[test]
fn ssh_into_an_unknown_lab_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = fearless_lab::ssh_argv(dir.path(), "web-1").expect_err("no lab");
    assert!(matches!(err, LabError::NotUp { .. }), "{err}");
}

#[test]
fn status_of_no_lab_is_absent_not_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = fearless_lab::status(dir.path()).expect("status");
    assert!(!status.present && status.hosts.is_empty() && !status.healthy());
}

#[test]
fn down_of_no_lab_is_a_no_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("never-up");
    let report = fearless_lab::down(&missing, &mut |_| {}).expect("down");
    assert!(report.is_empty());
}

#[test]
fn unknown_scenario_error_has_a_hint() {
    let err: LabError = "bad-libc".parse::<Scenario>().expect_err("unknown").into();
    assert_eq!(
        err.to_string(),
        "unknown scenario `bad-libc`; valid scenarios are: routine, bad-libacme, fixed-libacme, needs-reboot, stale-service"
    );
    assert!(err.hint().is_some_and(|h| h.contains("bad-libacme")));
}

#[test]
fn zero_hosts_is_invalid() {
    let opts = fearless_lab::UpOptions {
        hosts: 0,
        ..Default::default()
    };
    let err = fearless_lab::up(&opts, &mut |_| {}).expect_err("invalid");
    assert!(matches!(err, LabError::InvalidOptions(_)), "{err}");
}
