//! Property tests of the state machine over random command sequences.

use crate::common::{REQUESTER, config, create, new_change, t};
use fearless_change::{
    ChangeError, ChangeRecord, ChangeType, CloseCode, Command, Edit, Policy, State, allowed, apply,
    parse_window,
};
use proptest::prelude::*;

const ACTORS: [&str; 4] = [REQUESTER, "bob", "carol", "dave"];

fn change_type() -> impl Strategy<Value = ChangeType> {
    prop_oneof![
        Just(ChangeType::Standard),
        Just(ChangeType::Normal),
        Just(ChangeType::Emergency)
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => Just(Command::Submit),
        4 => Just(Command::Approve { reason: None }),
        1 => prop_oneof![Just(String::new()), Just("not ready".to_owned())].prop_map(|reason| Command::Reject { reason }),
        2 => prop_oneof![
            Just(None),
            Just(Some("2026-05-01T09:00:00Z..2026-05-01T12:00:00Z")),
            Just(Some("2026-12-24T00:00:00Z..2026-12-24T04:00:00Z")),
        ]
        .prop_map(|w| Command::Schedule { window: w.map(|w| parse_window(w).expect("window")) }),
        3 => Just(Command::Start),
        2 => prop_oneof![Just(CloseCode::Successful), Just(CloseCode::BackedOut)]
            .prop_map(|code| Command::Complete { code, notes: None }),
        2 => prop_oneof![Just(String::new()), Just("ok".to_owned())].prop_map(|notes| Command::Review { notes }),
        2 => Just(Command::Close),
        1 => Just(Command::Cancel { reason: None }),
        1 => prop_oneof![Just(None), Just(Some("new title".to_owned()))]
            .prop_map(|title| Command::Edit(Box::new(Edit { title, ..Edit::default() }))),
    ]
}

/// The edges of the machine (DESIGN.md §3), with `cancel` from every non-terminal state and
/// the in-place commands (approve short of the quorum, schedule, review, edit).
fn legal_edge(from: State, to: State, command: &str, change_type: ChangeType) -> bool {
    use State::*;
    match command {
        "submit" => {
            matches!(from, New | Assess)
                && to
                    == if change_type == ChangeType::Standard {
                        Scheduled
                    } else {
                        Authorize
                    }
        }
        "approve" => from == Authorize && matches!(to, Authorize | Scheduled),
        "reject" => from == Authorize && to == New,
        "schedule" => matches!(from, Authorize | Scheduled) && to == from,
        "start" => from == Scheduled && to == Implement,
        "complete" => from == Implement && to == Review,
        "review" => from == Review && to == Review,
        "close" => from == Review && to == Closed,
        "cancel" => !from.is_terminal() && to == Cancelled,
        "edit" => from == New && to == New,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_stay_inside_the_machine(
        ty in change_type(),
        approvals in 1u32..=3,
        steps in proptest::collection::vec((command(), 0usize..ACTORS.len(), 0u32..48), 1..40),
    ) {
        let cfg = config(&format!(
            "change: {{ approvals_required: {approvals}, blackouts: [{{ name: xmas, from: \"2026-12-20T00:00:00Z\", to: \"2027-01-03T00:00:00Z\" }}] }}"
        ));
        let policy = Policy::from_config(&cfg);
        let mut record: ChangeRecord = create(&cfg, 1, new_change("api-1", &["orders-api"], ty));
        let mut events = record.timeline.len();
        let start = t("2026-05-01T09:00:00Z");
        for (command, who, hours) in steps {
            let actor = ACTORS[who];
            let name = command.name();
            let now = start + jiff::SignedDuration::from_mins(i64::from(hours) * 5);
            match apply(&record, command, actor, now, &policy, &[]) {
                Ok(applied) => {
                    let next = applied.record;
                    prop_assert!(allowed(record.state).contains(&name));
                    prop_assert!(legal_edge(record.state, next.state, name, ty),
                        "{} --{name}--> {} ({ty:?})", record.state, next.state);
                    prop_assert!(applied.kind.starts_with("change."));
                    prop_assert_eq!(applied.payload["from"].as_str(), Some(record.state.as_str()));
                    prop_assert_eq!(applied.payload["to"].as_str(), Some(next.state.as_str()));
                    // Exactly one event, mirrored in the timeline: every Ok records something.
                    prop_assert_eq!(next.timeline.len(), events + 1);
                    prop_assert_eq!(next.timeline.last().map(|e| e.kind.as_str()), Some(applied.kind));
                    prop_assert_ne!(&next, &record);
                    events += 1;
                    // Separation of duties holds on every accepted approval.
                    prop_assert!(next.approvals.iter().all(|a| a.by != next.requester));
                    let approvers: Vec<&str> = next.current_approvers().collect();
                    let mut unique = approvers.clone();
                    unique.sort_unstable();
                    unique.dedup();
                    prop_assert_eq!(unique.len(), approvers.len());
                    // Leaving authorize by approval means the quorum was met.
                    if name == "approve" && next.state == State::Scheduled {
                        prop_assert_eq!(approvers.len() as u32, policy.approvals_for(ty));
                    }
                    // The record round-trips through its stored form.
                    let json = serde_json::to_value(&next).expect("json");
                    prop_assert_eq!(serde_json::from_value::<ChangeRecord>(json).expect("parse"), next.clone());
                    record = next;
                }
                Err(e) => {
                    if !allowed(record.state).contains(&name) {
                        let is_illegal = matches!(e, ChangeError::IllegalTransition { .. });
                        prop_assert!(is_illegal, "{e}");
                        prop_assert!(e.to_string().contains("allowed now"));
                    }
                    // `record` is borrowed immutably by apply: an error cannot have changed it.
                }
            }
            prop_assert!(State::ALL.contains(&record.state));
        }
    }
}
