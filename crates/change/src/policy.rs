//! The rules a change is held to, taken from the config once: approvals, blackouts, allowed
//! windows, the component graph (for conflicts and impact), and the checks a test plan may name.

use crate::error::ChangeError;
use crate::record::{ChangeType, Rating, Risk, RiskLevel, RiskOverride, Scope};
use crate::window::{Blackout, Window, describe, within};
use fearless_config::{ChangeWindow, Config};
use fearless_graph::Graph;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

/// What [`crate::apply`] needs to know of the configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Distinct approvals a normal change needs (emergency changes need one).
    pub approvals_required: u32,
    /// Blackouts (`change.blackouts`).
    pub blackouts: Vec<Blackout>,
    /// Allowed recurring windows (`change.windows`); empty means any time.
    pub windows: Vec<ChangeWindow>,
    /// The component graph.
    pub graph: Graph,
    /// Hosts in the inventory (to rate impact).
    pub fleet_size: usize,
    /// Check names per component (to validate test plans).
    pub checks: BTreeMap<String, Vec<String>>,
    /// Who may approve, reject and close (`identity.roles`).
    pub roles: fearless_config::Roles,
    /// The tier of each component that has one (roles by `tier:NAME`).
    pub tiers: BTreeMap<String, String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            approvals_required: 1,
            blackouts: Vec::new(),
            windows: Vec::new(),
            graph: Graph::default(),
            fleet_size: 0,
            checks: BTreeMap::new(),
            roles: fearless_config::Roles::default(),
            tiers: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// The policy of a loaded config.
    pub fn from_config(config: &Config) -> Self {
        let change = &config.change;
        let blackouts = change
            .blackouts
            .iter()
            .filter_map(|b| {
                let from = Timestamp::try_from(b.from).ok()?;
                let to = Timestamp::try_from(b.to).ok()?;
                Some(Blackout {
                    name: b.name.clone(),
                    window: Window::new(from, to).ok()?,
                })
            })
            .collect();
        Self {
            approvals_required: change.approvals_required.max(1),
            blackouts,
            windows: change.windows.clone(),
            graph: Graph::new(
                config
                    .components
                    .values()
                    .map(|c| (c.name.as_str(), c.depends_on.as_slice())),
            ),
            fleet_size: config.inventory.hosts.len(),
            checks: config
                .components
                .values()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.checks.iter().map(|k| k.name.clone()).collect(),
                    )
                })
                .collect(),
            roles: config.identity.roles.clone(),
            tiers: config
                .components
                .values()
                .filter_map(|c| Some((c.name.clone(), c.tier.clone()?)))
                .collect(),
        }
    }

    /// Refuse `actor` the `action` (approve, reject) on `record` unless `identity.roles.approve`
    /// allows them for its change type.
    pub fn may_approve(
        &self,
        actor: &str,
        record: &crate::record::ChangeRecord,
        action: &'static str,
    ) -> Result<(), ChangeError> {
        let kind = record.change_type.as_str();
        let mut scopes = Vec::new();
        for c in &record.scope.components {
            scopes.push(format!("component:{c}"));
            if let Some(tier) = self.tiers.get(c) {
                scopes.push(format!("tier:{tier}"));
            }
        }
        if self.roles.may_approve(actor, kind, &scopes) {
            return Ok(());
        }
        Err(ChangeError::NotInRole {
            number: record.number,
            actor: actor.to_owned(),
            action,
            role: "approve",
            allowed: self.roles.approvers(kind, &scopes).unwrap_or_default(),
        })
    }

    /// Approvals a change of this type needs before it is scheduled.
    pub fn approvals_for(&self, change_type: ChangeType) -> u32 {
        match change_type {
            ChangeType::Standard => 0,
            ChangeType::Normal => self.approvals_required.max(1),
            ChangeType::Emergency => 1,
        }
    }

    /// Refuse a window inside a blackout or outside every allowed window, unless the change
    /// is an emergency.
    pub fn check_window(
        &self,
        window: &Window,
        change_type: ChangeType,
    ) -> Result<(), ChangeError> {
        if change_type == ChangeType::Emergency {
            return Ok(());
        }
        if let Some(b) = self.blackouts.iter().find(|b| b.window.overlaps(window)) {
            return Err(ChangeError::InBlackout {
                window: window.to_string(),
                name: b.name.clone(),
                from: b.window.start,
                to: b.window.end,
            });
        }
        if !self.windows.is_empty() && !self.windows.iter().any(|w| within(w, window)) {
            let allowed = self
                .windows
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ChangeError::OutsideWindows {
                window: window.to_string(),
                allowed,
            });
        }
        Ok(())
    }

    /// The blackout `t` falls in, if any.
    pub fn blackout_at(&self, t: Timestamp) -> Option<&Blackout> {
        self.blackouts.iter().find(|b| b.window.contains(t))
    }

    /// Rate the risk of a scope.
    ///
    /// Impact, unless given, comes from the scope: **high** when it covers at least half
    /// the fleet or affects four or more components (its own plus every transitive
    /// dependent), **medium** from a fifth of the fleet or two affected components, else
    /// **low**. Urgency, unless given, comes from the type. The level is the impact ×
    /// urgency matrix ([`RiskLevel::of`]), unless overridden with a reason.
    pub fn risk(
        &self,
        scope: &Scope,
        change_type: ChangeType,
        impact: Option<Rating>,
        urgency: Option<Rating>,
        risk_override: Option<&RiskOverride>,
    ) -> Risk {
        let affected: BTreeSet<String> = scope
            .components
            .iter()
            .flat_map(|c| std::iter::once(c.clone()).chain(self.graph.blast_radius(c)))
            .collect();
        let (impact_value, impact_basis) = match impact {
            Some(i) => (i, "given by the requester".to_owned()),
            None => {
                let hosts = scope.hosts.len();
                let share = if self.fleet_size == 0 {
                    0.0
                } else {
                    hosts as f64 / self.fleet_size as f64
                };
                let rating = if share >= 0.5 || affected.len() >= 4 {
                    Rating::High
                } else if share >= 0.2 || affected.len() >= 2 {
                    Rating::Medium
                } else {
                    Rating::Low
                };
                let names = affected
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    rating,
                    format!(
                        "{hosts} of {} hosts; affects {} component(s): {names}",
                        self.fleet_size,
                        affected.len()
                    ),
                )
            }
        };
        let urgency = urgency.unwrap_or(match change_type {
            ChangeType::Standard => Rating::Low,
            ChangeType::Normal => Rating::Medium,
            ChangeType::Emergency => Rating::High,
        });
        let computed = RiskLevel::of(impact_value, urgency);
        let (level, override_reason) = match risk_override {
            Some(o) => (o.level, Some(o.reason.clone())),
            None => (computed, None),
        };
        Risk {
            impact: impact_value,
            impact_given: impact.is_some(),
            impact_basis,
            urgency,
            computed,
            level,
            override_reason,
        }
    }
}

/// Check that every test plan entry names a component (`orders-api`) or one of its checks
/// (`orders-api/orders`) in the config.
pub fn check_test_plan(plan: &[String], policy: &Policy) -> Result<(), ChangeError> {
    for entry in plan {
        let known = match entry.split_once('/') {
            Some((component, check)) => policy
                .checks
                .get(component)
                .is_some_and(|cs| cs.iter().any(|c| c == check)),
            None => policy.checks.contains_key(entry.as_str()),
        };
        if !known {
            return Err(ChangeError::UnknownTestPlanEntry {
                entry: entry.clone(),
            });
        }
    }
    Ok(())
}
