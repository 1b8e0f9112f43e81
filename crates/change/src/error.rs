//! Why a change record could not be created or a command was refused.

use jiff::Timestamp;

/// A refused command or an invalid new change. Nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The command is not allowed in the record's current state.
    #[error("cannot {command} CHG-{number}: it is {state}; allowed now: {}", allowed_list(.allowed))]
    IllegalTransition {
        /// The change.
        number: u64,
        /// Its current state (`new`, `authorize`, …).
        state: &'static str,
        /// The refused command (`approve`, …).
        command: &'static str,
        /// The commands the state allows.
        allowed: Vec<&'static str>,
    },
    /// Separation of duties: the requester approved or rejected their own change.
    #[error(
        "{actor} requested CHG-{number} and cannot approve or reject it (separation of duties)"
    )]
    SelfApproval {
        /// The change.
        number: u64,
        /// The requester.
        actor: String,
    },
    /// `identity.roles` does not give the actor this action.
    #[error("{actor} may not {action} CHG-{number}: identity.roles.{role} allows {}", allowed_list_of(.allowed))]
    NotInRole {
        /// The change.
        number: u64,
        /// Who tried.
        actor: String,
        /// What they tried (`approve`, `reject`, `close`).
        action: &'static str,
        /// The role's key (`approve`, `close`).
        role: &'static str,
        /// The names the role allows.
        allowed: Vec<String>,
    },
    /// The same identity approved twice in one authorisation round.
    #[error("CHG-{number} is already approved by {actor}; another approver is needed")]
    AlreadyApproved {
        /// The change.
        number: u64,
        /// The approver.
        actor: String,
    },
    /// A window whose end is not after its start.
    #[error("window ends before it starts: {start}..{end}")]
    WindowEndsBeforeStart {
        /// Start.
        start: Timestamp,
        /// End.
        end: Timestamp,
    },
    /// A window that does not parse as `START..END`.
    #[error("invalid window `{text}`: {reason}")]
    BadWindow {
        /// What was given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The window overlaps a blackout (and the change is not an emergency).
    #[error(
        "window {window} overlaps blackout `{name}` ({from}..{to}); only emergency changes may run then"
    )]
    InBlackout {
        /// The window, as `START..END`.
        window: String,
        /// The blackout.
        name: String,
        /// Blackout start.
        from: Timestamp,
        /// Blackout end.
        to: Timestamp,
    },
    /// The window is not inside any allowed change window (and the change is not an emergency).
    #[error(
        "window {window} is outside the allowed change windows ({allowed}); only emergency changes may run then"
    )]
    OutsideWindows {
        /// The window, as `START..END`.
        window: String,
        /// The allowed windows, described.
        allowed: String,
    },
    /// `start` outside the scheduled window (and the change is not an emergency).
    #[error("CHG-{number} is scheduled for {window}; it cannot start at {now}")]
    OutsideScheduledWindow {
        /// The change.
        number: u64,
        /// Its window.
        window: String,
        /// When it was tried.
        now: Timestamp,
    },
    /// `start` without a scheduled window (and the change is not an emergency).
    #[error("CHG-{number} has no window; schedule it first")]
    NoWindow {
        /// The change.
        number: u64,
    },
    /// A component the config does not declare.
    #[error("unknown component `{name}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownComponent {
        /// The name given.
        name: String,
        /// The closest declared name.
        suggestion: Option<String>,
    },
    /// A test plan entry naming no component or check of the config.
    #[error(
        "test plan entry `{entry}` names no component or check of the config (write COMPONENT or COMPONENT/CHECK)"
    )]
    UnknownTestPlanEntry {
        /// The entry.
        entry: String,
    },
    /// A host selector that does not parse.
    #[error("invalid host selector `{selector}`: {reason}")]
    BadSelector {
        /// The selector.
        selector: String,
        /// Why.
        reason: String,
    },
    /// A scope with no host and no component: nothing would change.
    #[error("selector `{selector}` matches no host and no component was given")]
    EmptyScope {
        /// The selector.
        selector: String,
    },
    /// A required text (title, reason, notes) is empty.
    #[error("{what} must not be empty")]
    Empty {
        /// What is missing (`title`, `reject reason`, …).
        what: &'static str,
    },
    /// An edit that changes nothing.
    #[error("nothing to edit in CHG-{number}")]
    NothingToEdit {
        /// The change.
        number: u64,
    },
    /// A standard change whose risk is too high to bypass authorisation.
    #[error(
        "CHG-{number} is a standard change but its risk is {level}; submit it as a normal change"
    )]
    StandardTooRisky {
        /// The change.
        number: u64,
        /// Its risk level.
        level: &'static str,
    },
    /// `close` of a change that did not succeed, before its review notes are recorded.
    #[error("CHG-{number} closed as {code} needs review notes before it can be closed")]
    ReviewRequired {
        /// The change.
        number: u64,
        /// Its close code.
        code: &'static str,
    },
}

fn allowed_list(allowed: &[&str]) -> String {
    if allowed.is_empty() {
        "nothing (the change is finished)".to_owned()
    } else {
        allowed.join(", ")
    }
}

/// `a, b and c`, or `nobody` for an empty role.
fn allowed_list_of(names: &[String]) -> String {
    match names {
        [] => "nobody".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
