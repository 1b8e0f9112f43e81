//! The state machine: [`apply`] is the one place a change record moves.
//!
//! ```text
//! new ─submit─► assess ─► authorize ─approve × N─► scheduled ─start─► implement ─complete─► review ─close─► closed
//!  ▲  (normal; emergency skips assess; standard goes straight to scheduled)
//!  └──────────── reject ◄─┘          schedule (authorize, scheduled)       review --notes (review)
//! cancel: from any state but closed and cancelled; edit: only in new
//! ```

use crate::conflict::{Conflict, conflicts};
use crate::error::ChangeError;
use crate::policy::{Policy, check_test_plan};
use crate::record::{
    Approval, Assessment, ChangeRecord, ChangeType, CloseCode, Decision, Rating, RiskLevel,
    RiskOverride, State, TimelineEntry,
};
use crate::window::Window;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Something someone asks of a change record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Assess (risk, conflicts) and send for authorisation; standard changes are scheduled.
    Submit,
    /// Approve (not by the requester; once per approver and round).
    Approve {
        /// Optional comment.
        reason: Option<String>,
    },
    /// Reject back to `new`, with a reason.
    Reject {
        /// Why (required).
        reason: String,
    },
    /// Set or move the window; `None` means "now for 4 hours".
    Schedule {
        /// The window.
        window: Option<Window>,
    },
    /// Begin implementation (inside the window unless emergency).
    Start,
    /// End implementation with a close code.
    Complete {
        /// How it went.
        code: CloseCode,
        /// Notes.
        notes: Option<String>,
    },
    /// Record the post-implementation review.
    Review {
        /// The review (required).
        notes: String,
    },
    /// Close after review.
    Close,
    /// Abandon the change.
    Cancel {
        /// Why.
        reason: Option<String>,
    },
    /// Change a draft.
    Edit(Box<Edit>),
}

impl Command {
    /// The verb (`approve`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Submit => "submit",
            Command::Approve { .. } => "approve",
            Command::Reject { .. } => "reject",
            Command::Schedule { .. } => "schedule",
            Command::Start => "start",
            Command::Complete { .. } => "complete",
            Command::Review { .. } => "review",
            Command::Close => "close",
            Command::Cancel { .. } => "cancel",
            Command::Edit(_) => "edit",
        }
    }
}

/// Fields of a draft to replace; `None` leaves a field alone. The scope is frozen at
/// creation and cannot be edited: cancel and create a new change instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Justification.
    pub justification: Option<String>,
    /// Type.
    #[serde(rename = "type")]
    pub change_type: Option<ChangeType>,
    /// Impact (then no longer computed).
    pub impact: Option<Rating>,
    /// Urgency.
    pub urgency: Option<Rating>,
    /// Risk override.
    pub risk_override: Option<RiskOverride>,
    /// Implementation plan.
    pub implementation_plan: Option<String>,
    /// Test plan.
    pub test_plan: Option<Vec<String>>,
    /// Rollback plan.
    pub rollback_plan: Option<String>,
    /// Planned window.
    pub window: Option<Window>,
    /// Links.
    pub links: Option<Vec<String>>,
    /// A source scan's summary, replacing the one attached.
    #[serde(default)]
    pub scan: Option<crate::ScanSummary>,
}

/// An accepted command: the new record and its one journal event.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The record after the command.
    pub record: ChangeRecord,
    /// Journal kind (`change.approved`).
    pub kind: &'static str,
    /// Journal payload: number, states before and after, what the command recorded.
    pub payload: Value,
    /// Things the caller should show (conflicts); they did not block the command.
    pub warnings: Vec<String>,
}

/// Commands allowed in `state` (whatever the actor, window or approvals).
pub fn allowed(state: State) -> Vec<&'static str> {
    match state {
        State::New => vec!["submit", "edit", "cancel"],
        State::Assess => vec!["submit", "cancel"],
        State::Authorize => vec!["approve", "reject", "schedule", "cancel"],
        State::Scheduled => vec!["schedule", "start", "cancel"],
        State::Implement => vec!["complete", "cancel"],
        State::Review => vec!["review", "close", "cancel"],
        State::Closed | State::Cancelled => vec![],
    }
}

/// Apply `command` by `actor` at `now` to `record`, under `policy`, with `others` (every
/// other change record) for conflict detection. The one place transitions are decided.
///
/// On success the returned record differs from `record` (at least by one timeline entry)
/// and carries exactly one journal event; on error nothing changed.
pub fn apply(
    record: &ChangeRecord,
    command: Command,
    actor: &str,
    now: Timestamp,
    policy: &Policy,
    others: &[ChangeRecord],
) -> Result<Applied, ChangeError> {
    let name = command.name();
    if !allowed(record.state).contains(&name) {
        return Err(ChangeError::IllegalTransition {
            number: record.number,
            state: record.state.as_str(),
            command: name,
            allowed: allowed(record.state),
        });
    }
    if actor.trim().is_empty() {
        return Err(ChangeError::Empty { what: "actor" });
    }
    let mut next = record.clone();
    let from = record.state;
    let mut extra = json!({});
    let mut found: Vec<Conflict> = Vec::new();
    let (kind, note) = match command {
        Command::Submit => {
            let window = match (next.window, next.change_type) {
                // A standard change is scheduled by its submit: no window means now for 4 hours.
                (None, ChangeType::Standard) => Some(Window::starting_now(now)),
                (w, _) => w,
            };
            if let Some(w) = &window {
                policy.check_window(w, next.change_type)?;
            }
            next.window = window;
            if !next.risk.impact_given {
                let o = next
                    .risk
                    .override_reason
                    .clone()
                    .map(|reason| RiskOverride {
                        level: next.risk.level,
                        reason,
                    });
                next.risk = policy.risk(
                    &next.scope,
                    next.change_type,
                    None,
                    Some(next.risk.urgency),
                    o.as_ref(),
                );
            }
            if next.change_type == ChangeType::Standard && next.risk.level > RiskLevel::Moderate {
                return Err(ChangeError::StandardTooRisky {
                    number: next.number,
                    level: next.risk.level.as_str(),
                });
            }
            found = conflicts(&next, others, &policy.graph);
            next.round += 1;
            next.assessment = Some(Assessment {
                at: now,
                risk: next.risk.clone(),
                conflicts: found.clone(),
            });
            next.state = match next.change_type {
                ChangeType::Standard => State::Scheduled,
                ChangeType::Normal | ChangeType::Emergency => State::Authorize,
            };
            extra = json!({
                "risk": next.risk,
                "via": if next.change_type == ChangeType::Normal { vec!["assess"] } else { vec![] },
                "window": next.window.map(|w| w.to_string()),
                "approvals_required": policy.approvals_for(next.change_type),
            });
            (
                "change.submitted",
                format!("submitted; risk {}", next.risk.level.as_str()),
            )
        }
        Command::Approve { reason } => {
            policy.may_approve(actor, &next, "approve")?;
            if actor == next.requester {
                return Err(ChangeError::SelfApproval {
                    number: next.number,
                    actor: actor.to_owned(),
                });
            }
            if next.current_approvers().any(|a| a == actor) {
                return Err(ChangeError::AlreadyApproved {
                    number: next.number,
                    actor: actor.to_owned(),
                });
            }
            next.approvals.push(Approval {
                by: actor.to_owned(),
                at: now,
                decision: Decision::Approved,
                reason: reason.filter(|r| !r.trim().is_empty()),
                round: next.round,
            });
            let have = next.current_approvers().count() as u32;
            let need = policy.approvals_for(next.change_type);
            if have >= need {
                next.state = State::Scheduled;
            }
            extra = json!({ "approvals": have, "approvals_required": need });
            ("change.approved", format!("approved ({have} of {need})"))
        }
        Command::Reject { reason } => {
            policy.may_approve(actor, &next, "reject")?;
            if actor == next.requester {
                return Err(ChangeError::SelfApproval {
                    number: next.number,
                    actor: actor.to_owned(),
                });
            }
            if reason.trim().is_empty() {
                return Err(ChangeError::Empty {
                    what: "reject reason",
                });
            }
            next.approvals.push(Approval {
                by: actor.to_owned(),
                at: now,
                decision: Decision::Rejected,
                reason: Some(reason.clone()),
                round: next.round,
            });
            next.state = State::New;
            extra = json!({ "reason": reason });
            ("change.rejected", format!("rejected: {reason}"))
        }
        Command::Schedule { window } => {
            let window = window.unwrap_or_else(|| Window::starting_now(now));
            policy.check_window(&window, next.change_type)?;
            let before = next.window.replace(window);
            found = conflicts(&next, others, &policy.graph);
            extra =
                json!({ "window": window.to_string(), "previous": before.map(|w| w.to_string()) });
            ("change.scheduled", format!("window {window}"))
        }
        Command::Start => {
            if next.change_type != ChangeType::Emergency {
                let window = next.window.ok_or(ChangeError::NoWindow {
                    number: next.number,
                })?;
                if !window.contains(now) {
                    return Err(ChangeError::OutsideScheduledWindow {
                        number: next.number,
                        window: window.to_string(),
                        now,
                    });
                }
                if let Some(b) = policy.blackout_at(now) {
                    return Err(ChangeError::InBlackout {
                        window: window.to_string(),
                        name: b.name.clone(),
                        from: b.window.start,
                        to: b.window.end,
                    });
                }
            }
            next.actual_start = Some(now);
            next.state = State::Implement;
            ("change.started", "implementation started".to_owned())
        }
        Command::Complete { code, notes } => {
            next.actual_end = Some(now);
            next.close_code = Some(code);
            next.close_notes = notes.filter(|n| !n.trim().is_empty());
            next.state = State::Review;
            extra = json!({ "code": code, "notes": next.close_notes });
            ("change.completed", format!("completed: {}", code.as_str()))
        }
        Command::Review { notes } => {
            if notes.trim().is_empty() {
                return Err(ChangeError::Empty {
                    what: "review notes",
                });
            }
            next.review_notes = Some(notes.clone());
            extra = json!({ "notes": notes });
            ("change.reviewed", "review recorded".to_owned())
        }
        Command::Close => {
            if let Some(closers) = &policy.roles.close
                && !closers.contains(actor)
            {
                return Err(ChangeError::NotInRole {
                    number: next.number,
                    actor: actor.to_owned(),
                    action: "close",
                    role: "close",
                    allowed: closers.iter().cloned().collect(),
                });
            }
            if let Some(code) = next.close_code
                && code != CloseCode::Successful
                && next.review_notes.is_none()
            {
                return Err(ChangeError::ReviewRequired {
                    number: next.number,
                    code: code.as_str(),
                });
            }
            next.state = State::Closed;
            extra = json!({ "code": next.close_code });
            ("change.closed", "closed".to_owned())
        }
        Command::Cancel { reason } => {
            let reason = reason.filter(|r| !r.trim().is_empty());
            next.state = State::Cancelled;
            extra = json!({ "reason": reason });
            (
                "change.cancelled",
                reason.map_or_else(|| "cancelled".to_owned(), |r| format!("cancelled: {r}")),
            )
        }
        Command::Edit(edit) => {
            let fields = edit_draft(&mut next, *edit, policy)?;
            if fields.is_empty() {
                return Err(ChangeError::NothingToEdit {
                    number: next.number,
                });
            }
            extra = json!({ "fields": fields });
            ("change.edited", format!("edited {}", fields.join(", ")))
        }
    };
    let warnings: Vec<String> = found.iter().map(ToString::to_string).collect();
    let mut payload = json!({ "number": next.id().to_string(), "from": from, "to": next.state });
    if let (Some(p), Value::Object(e)) = (payload.as_object_mut(), extra) {
        p.extend(e);
        if matches!(kind, "change.submitted" | "change.scheduled") {
            p.insert(
                "conflicts".into(),
                serde_json::to_value(&found).unwrap_or(Value::Null),
            );
        }
    }
    next.timeline.push(TimelineEntry {
        at: now,
        actor: actor.to_owned(),
        kind: kind.to_owned(),
        from,
        to: next.state,
        note,
    });
    Ok(Applied {
        record: next,
        kind,
        payload,
        warnings,
    })
}

/// Apply an edit to a draft; the names of the fields that changed.
fn edit_draft(
    next: &mut ChangeRecord,
    edit: Edit,
    policy: &Policy,
) -> Result<Vec<&'static str>, ChangeError> {
    let mut changed = Vec::new();
    fn set<T: PartialEq>(
        field: &mut T,
        value: Option<T>,
        name: &'static str,
        changed: &mut Vec<&'static str>,
    ) {
        if let Some(v) = value
            && *field != v
        {
            *field = v;
            changed.push(name);
        }
    }
    if edit.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(ChangeError::Empty { what: "title" });
    }
    if let Some(plan) = &edit.test_plan {
        check_test_plan(plan, policy)?;
    }
    if let Some(o) = &edit.risk_override
        && o.reason.trim().is_empty()
    {
        return Err(ChangeError::Empty {
            what: "risk override reason",
        });
    }
    set(&mut next.title, edit.title, "title", &mut changed);
    set(
        &mut next.description,
        edit.description,
        "description",
        &mut changed,
    );
    set(
        &mut next.justification,
        edit.justification,
        "justification",
        &mut changed,
    );
    set(
        &mut next.change_type,
        edit.change_type,
        "type",
        &mut changed,
    );
    set(
        &mut next.implementation_plan,
        edit.implementation_plan,
        "implementation_plan",
        &mut changed,
    );
    set(
        &mut next.test_plan,
        edit.test_plan,
        "test_plan",
        &mut changed,
    );
    set(
        &mut next.rollback_plan,
        edit.rollback_plan,
        "rollback_plan",
        &mut changed,
    );
    set(&mut next.links, edit.links, "links", &mut changed);
    set(&mut next.scan, edit.scan.map(Some), "scan", &mut changed);
    set(
        &mut next.window,
        edit.window.map(Some),
        "window",
        &mut changed,
    );
    let impact = edit
        .impact
        .or(next.risk.impact_given.then_some(next.risk.impact));
    let urgency = edit.urgency.unwrap_or(next.risk.urgency);
    let current_override = next
        .risk
        .override_reason
        .clone()
        .map(|reason| RiskOverride {
            level: next.risk.level,
            reason,
        });
    let risk_override = edit.risk_override.or(current_override);
    let risk = policy.risk(
        &next.scope,
        next.change_type,
        impact,
        Some(urgency),
        risk_override.as_ref(),
    );
    // The basis text depends on the policy; only count the edit when the rating itself moved.
    if (
        risk.impact,
        risk.impact_given,
        risk.urgency,
        risk.level,
        &risk.override_reason,
    ) != (
        next.risk.impact,
        next.risk.impact_given,
        next.risk.urgency,
        next.risk.level,
        &next.risk.override_reason,
    ) {
        next.risk = risk;
        changed.push("risk");
    }
    Ok(changed)
}
