//! The change record: what is changed, where, why, how risky, when, who approved it, and
//! what happened. Stored as JSON; only [`crate::apply`] moves it between states.

use crate::error::ChangeError;
use crate::policy::Policy;
use crate::window::Window;
use fearless_config::{Config, Selector};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A change record (ITIL "RFC").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The number `N` of `CHG-N`.
    pub number: u64,
    /// One line.
    pub title: String,
    /// What will be done.
    #[serde(default)]
    pub description: String,
    /// Why.
    #[serde(default)]
    pub justification: String,
    /// `standard`, `normal` or `emergency`.
    #[serde(rename = "type")]
    pub change_type: ChangeType,
    /// Where the record is in its life; changed only by [`crate::apply`].
    pub state: State,
    /// Who asked for it; may not approve it.
    pub requester: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Hosts and components, frozen at creation.
    pub scope: Scope,
    /// Impact × urgency.
    pub risk: Risk,
    /// How the change is carried out.
    #[serde(default)]
    pub implementation_plan: String,
    /// Components (`orders-api`) or checks (`orders-api/orders`) that prove it worked.
    #[serde(default)]
    pub test_plan: Vec<String>,
    /// How to undo it.
    #[serde(default)]
    pub rollback_plan: String,
    /// The planned window.
    pub window: Option<Window>,
    /// When implementation started.
    pub actual_start: Option<Timestamp>,
    /// When implementation ended.
    pub actual_end: Option<Timestamp>,
    /// Approval decisions, every round kept.
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// Authorisation round: bumped by every submit, so approvals before a rejection no
    /// longer count.
    #[serde(default)]
    pub round: u32,
    /// The last assessment (risk and conflicts at submit).
    pub assessment: Option<Assessment>,
    /// How implementation ended.
    pub close_code: Option<CloseCode>,
    /// Notes given at completion.
    pub close_notes: Option<String>,
    /// Post-implementation review.
    pub review_notes: Option<String>,
    /// Tickets, incidents, rollouts, documents.
    #[serde(default)]
    pub links: Vec<String>,
    /// What a source scan (`fearless scan`) of the code the change ships found, for the
    /// review; absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanSummary>,
    /// Everything that happened to the record, oldest first.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
}

/// `CHG-N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeNumber(pub u64);

impl fmt::Display for ChangeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CHG-{}", self.0)
    }
}

impl std::str::FromStr for ChangeNumber {
    type Err = String;
    /// `CHG-12`, `chg-12` or `12`.
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("chg-"))
            .map_or(s, |_| &s[4..]);
        digits
            .parse()
            .map(ChangeNumber)
            .map_err(|_| format!("`{s}` is not a change number (CHG-N)"))
    }
}

/// ITIL change types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ChangeType {
    /// Pre-approved, low risk: goes straight to `scheduled` on submit.
    Standard,
    /// Assessed, then authorised by `approvals_required` approvers.
    #[default]
    Normal,
    /// Skips assessment, needs one approval, may run in blackouts and outside windows.
    Emergency,
}

impl ChangeType {
    /// The name as written (`normal`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Standard => "standard",
            ChangeType::Normal => "normal",
            ChangeType::Emergency => "emergency",
        }
    }
}

impl std::str::FromStr for ChangeType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standard" => Ok(ChangeType::Standard),
            "normal" => Ok(ChangeType::Normal),
            "emergency" => Ok(ChangeType::Emergency),
            _ => Err(format!(
                "unknown change type `{s}` (expected standard, normal or emergency)"
            )),
        }
    }
}

/// The states of a change record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Draft: editable, not yet submitted.
    New,
    /// Being assessed (passed through on submit).
    Assess,
    /// Waiting for approvals.
    Authorize,
    /// Approved; waiting for its window.
    Scheduled,
    /// Being carried out.
    Implement,
    /// Done; waiting for review and close.
    Review,
    /// Finished.
    Closed,
    /// Abandoned.
    Cancelled,
}

impl State {
    /// Every state.
    pub const ALL: [State; 8] = [
        State::New,
        State::Assess,
        State::Authorize,
        State::Scheduled,
        State::Implement,
        State::Review,
        State::Closed,
        State::Cancelled,
    ];

    /// The name as stored (`authorize`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Assess => "assess",
            State::Authorize => "authorize",
            State::Scheduled => "scheduled",
            State::Implement => "implement",
            State::Review => "review",
            State::Closed => "closed",
            State::Cancelled => "cancelled",
        }
    }

    /// No command changes a terminal record.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Closed | State::Cancelled)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a change touches, resolved and frozen when the record is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// The host selector as given.
    pub selector: String,
    /// Hosts it matched at creation, inventory order.
    pub hosts: Vec<String>,
    /// Components given, or else those running on `hosts`.
    pub components: Vec<String>,
}

/// A three-step rating of impact or urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

impl Rating {
    fn weight(self) -> u8 {
        self as u8 + 1
    }
}

impl std::str::FromStr for Rating {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Rating::Low),
            "medium" => Ok(Rating::Medium),
            "high" => Ok(Rating::High),
            _ => Err(format!(
                "unknown rating `{s}` (expected low, medium or high)"
            )),
        }
    }
}

/// Risk level: the impact × urgency matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Impact × urgency ≤ 2.
    Low,
    /// 3–4.
    Moderate,
    /// 6.
    High,
    /// 9 (high × high).
    Critical,
}

impl RiskLevel {
    /// The matrix: weights 1–3 multiplied.
    pub fn of(impact: Rating, urgency: Rating) -> Self {
        match impact.weight() * urgency.weight() {
            0..=2 => RiskLevel::Low,
            3..=4 => RiskLevel::Moderate,
            5..=6 => RiskLevel::High,
            _ => RiskLevel::Critical,
        }
    }

    /// The name (`moderate`).
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Moderate => "moderate",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }
}

impl std::str::FromStr for RiskLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(RiskLevel::Low),
            "moderate" => Ok(RiskLevel::Moderate),
            "high" => Ok(RiskLevel::High),
            "critical" => Ok(RiskLevel::Critical),
            _ => Err(format!(
                "unknown risk level `{s}` (expected low, moderate, high or critical)"
            )),
        }
    }
}

/// The risk of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    /// Impact: given by the requester, or computed from the scope.
    pub impact: Rating,
    /// Whether `impact` was given (else it is recomputed at submit).
    pub impact_given: bool,
    /// How the impact was arrived at.
    pub impact_basis: String,
    /// Urgency: given, or by type (emergency high, normal medium, standard low).
    pub urgency: Rating,
    /// What the matrix says.
    pub computed: RiskLevel,
    /// The level in force: `computed`, or the override.
    pub level: RiskLevel,
    /// Why `level` differs from `computed`, when overridden.
    pub override_reason: Option<String>,
}

/// A requester's override of the computed risk level; the reason is mandatory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskOverride {
    /// The level to use.
    pub level: RiskLevel,
    /// Why.
    pub reason: String,
}

/// One approval decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Identity of the approver.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// Approved or rejected.
    pub decision: Decision,
    /// Why (required for rejections).
    pub reason: Option<String>,
    /// The authorisation round it belongs to.
    pub round: u32,
}

/// An approval decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Approved.
    Approved,
    /// Rejected (the change went back to `new`).
    Rejected,
}

/// The assessment recorded at submit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// When.
    pub at: Timestamp,
    /// Risk at the time.
    pub risk: Risk,
    /// Conflicting changes found (they warn, they do not block).
    pub conflicts: Vec<crate::Conflict>,
}

/// How an implementation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseCode {
    /// It worked.
    Successful,
    /// It worked, with problems worth reviewing.
    SuccessfulWithIssues,
    /// It did not work.
    Unsuccessful,
    /// It was rolled back.
    BackedOut,
}

impl CloseCode {
    /// The name as written (`backed-out`).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseCode::Successful => "successful",
            CloseCode::SuccessfulWithIssues => "successful-with-issues",
            CloseCode::Unsuccessful => "unsuccessful",
            CloseCode::BackedOut => "backed-out",
        }
    }
}

impl std::str::FromStr for CloseCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "successful" => Ok(CloseCode::Successful),
            "successful-with-issues" => Ok(CloseCode::SuccessfulWithIssues),
            "unsuccessful" => Ok(CloseCode::Unsuccessful),
            "backed-out" => Ok(CloseCode::BackedOut),
            _ => Err(format!(
                "unknown close code `{s}` (expected successful, successful-with-issues, unsuccessful or backed-out)"
            )),
        }
    }
}

/// One event in a record's life (mirrors its journal entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// The journal kind (`change.approved`).
    pub kind: String,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// A one-line summary.
    pub note: String,
}

/// What a requester gives to create a change (flags or a YAML file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChange {
    /// One line (required).
    pub title: String,
    /// What will be done.
    #[serde(default)]
    pub description: String,
    /// Why.
    #[serde(default)]
    pub justification: String,
    /// Type (default normal).
    #[serde(default, rename = "type")]
    pub change_type: ChangeType,
    /// Host selector (required).
    pub hosts: String,
    /// Components changed.
    #[serde(default)]
    pub components: Vec<String>,
    /// Impact; computed from the scope when absent.
    #[serde(default)]
    pub impact: Option<Rating>,
    /// Urgency; from the type when absent.
    #[serde(default)]
    pub urgency: Option<Rating>,
    /// Override of the computed level.
    #[serde(default)]
    pub risk_override: Option<RiskOverride>,
    /// How.
    #[serde(default)]
    pub implementation_plan: String,
    /// Components or `component/check` names.
    #[serde(default)]
    pub test_plan: Vec<String>,
    /// How to undo.
    #[serde(default)]
    pub rollback_plan: String,
    /// Planned window.
    #[serde(default)]
    pub window: Option<Window>,
    /// Links.
    #[serde(default)]
    pub links: Vec<String>,
    /// A source scan's summary (`change new --scan REPORT`).
    #[serde(default)]
    pub scan: Option<ScanSummary>,
}

/// How many findings of a [`ScanSummary`] to keep with their location.
pub const SCAN_FIRST_FINDINGS: usize = 10;

/// How serious a scan finding is (`fearless scan`'s severities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanSeverity {
    /// Worth knowing.
    Info,
    /// Fragile: breaks on a patch or an OS change.
    Warning,
    /// Dangerous (a command built from data).
    Error,
}

impl ScanSeverity {
    /// The name (`warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            ScanSeverity::Info => "info",
            ScanSeverity::Warning => "warning",
            ScanSeverity::Error => "error",
        }
    }
}

/// How many findings one rule has at one severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRuleCount {
    /// The rule id (`injection`).
    pub rule: String,
    /// The severity of those findings.
    pub severity: ScanSeverity,
    /// How many.
    pub count: usize,
}

/// One finding kept in a [`ScanSummary`], with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanFindingRef {
    /// The rule id.
    pub rule: String,
    /// Its severity.
    pub severity: ScanSeverity,
    /// The file, relative to the scanned root.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// What was found.
    pub message: String,
}

/// A source scan report (`fearless scan --format json`) summarised for a change record:
/// the counts by rule and severity, the paths scanned and the first findings with their
/// place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSummary {
    /// The paths the scan was given.
    pub paths: Vec<String>,
    /// Files scanned.
    pub files_scanned: usize,
    /// Findings in the report.
    pub findings: usize,
    /// Findings per rule and severity, sorted by rule then severity.
    pub by_rule: Vec<ScanRuleCount>,
    /// The first [`SCAN_FIRST_FINDINGS`] findings, in the report's order (path, line).
    pub first: Vec<ScanFindingRef>,
    /// Findings the scan dropped for an inline suppression.
    #[serde(default)]
    pub suppressed: usize,
    /// Findings the scan dropped because its baseline had them.
    #[serde(default)]
    pub baselined: usize,
    /// Files the scan skipped or scanned in part.
    #[serde(default)]
    pub notes: usize,
}

impl ChangeRecord {
    /// A new record in state `new`, its scope resolved against the config's inventory and
    /// components and frozen, its risk computed and its test plan checked.
    pub fn new(
        new: NewChange,
        number: u64,
        requester: &str,
        now: Timestamp,
        config: &Config,
    ) -> Result<Self, ChangeError> {
        let policy = Policy::from_config(config);
        if new.title.trim().is_empty() {
            return Err(ChangeError::Empty { what: "title" });
        }
        if requester.trim().is_empty() {
            return Err(ChangeError::Empty { what: "requester" });
        }
        let scope = resolve_scope(&new.hosts, &new.components, config)?;
        crate::policy::check_test_plan(&new.test_plan, &policy)?;
        if let Some(o) = &new.risk_override
            && o.reason.trim().is_empty()
        {
            return Err(ChangeError::Empty {
                what: "risk override reason",
            });
        }
        let risk = policy.risk(
            &scope,
            new.change_type,
            new.impact,
            new.urgency,
            new.risk_override.as_ref(),
        );
        let note = format!("created {} change: {}", new.change_type.as_str(), new.title);
        Ok(Self {
            number,
            title: new.title,
            description: new.description,
            justification: new.justification,
            change_type: new.change_type,
            state: State::New,
            requester: requester.to_owned(),
            created_at: now,
            scope,
            risk,
            implementation_plan: new.implementation_plan,
            test_plan: new.test_plan,
            rollback_plan: new.rollback_plan,
            window: new.window,
            actual_start: None,
            actual_end: None,
            approvals: Vec::new(),
            round: 0,
            assessment: None,
            close_code: None,
            close_notes: None,
            review_notes: None,
            links: new.links,
            scan: new.scan,
            timeline: vec![TimelineEntry {
                at: now,
                actor: requester.to_owned(),
                kind: "change.created".into(),
                from: State::New,
                to: State::New,
                note,
            }],
        })
    }

    /// `CHG-N`.
    pub fn id(&self) -> ChangeNumber {
        ChangeNumber(self.number)
    }

    /// The journal event of the record's creation (kind `change.created`), to be written
    /// with the insert.
    pub fn created(self) -> crate::Applied {
        let payload = serde_json::json!({
            "number": self.id().to_string(),
            "to": self.state,
            "type": self.change_type,
            "title": self.title,
            "scope": self.scope,
            "risk": self.risk.level,
        });
        crate::Applied {
            record: self,
            kind: "change.created",
            payload,
            warnings: Vec::new(),
        }
    }

    /// Approvals that count in the current round, oldest first.
    pub fn current_approvers(&self) -> impl Iterator<Item = &str> {
        self.approvals
            .iter()
            .filter(|a| a.round == self.round && a.decision == Decision::Approved)
            .map(|a| a.by.as_str())
    }
}

/// Resolve a selector and component names against the config.
fn resolve_scope(
    selector: &str,
    components: &[String],
    config: &Config,
) -> Result<Scope, ChangeError> {
    let parsed = Selector::parse(selector).map_err(|e| ChangeError::BadSelector {
        selector: selector.to_owned(),
        reason: e.to_string(),
    })?;
    let hosts: Vec<String> = config
        .inventory
        .select(&parsed)
        .into_iter()
        .map(|h| h.name.clone())
        .collect();
    let mut seen = BTreeSet::new();
    let mut named = Vec::new();
    for c in components {
        if !config.components.contains_key(c) {
            let suggestion =
                closest(c, config.components.keys().map(String::as_str)).map(str::to_owned);
            return Err(ChangeError::UnknownComponent {
                name: c.clone(),
                suggestion,
            });
        }
        if seen.insert(c.as_str()) {
            named.push(c.clone());
        }
    }
    if hosts.is_empty() && named.is_empty() {
        return Err(ChangeError::EmptyScope {
            selector: selector.to_owned(),
        });
    }
    let components = if named.is_empty() {
        // Nothing named: whatever runs on the scoped hosts is what the change can break.
        config
            .components
            .values()
            .filter(|c| {
                c.runs_on.as_ref().is_some_and(|s| {
                    config
                        .inventory
                        .select(s)
                        .iter()
                        .any(|h| hosts.contains(&h.name))
                })
            })
            .map(|c| c.name.clone())
            .collect()
    } else {
        named
    };
    Ok(Scope {
        selector: selector.to_owned(),
        hosts,
        components,
    })
}

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
