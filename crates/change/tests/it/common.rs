//! A small config (the acme shop) and helpers to create and drive change records.

use fearless_change::{
    Applied, ChangeError, ChangeRecord, ChangeType, Command, NewChange, Policy, State, apply,
};
use fearless_config::Config;
use jiff::Timestamp;
use std::path::Path;

pub(crate) const REQUESTER: &str = "alice";

pub(crate) fn config(extra: &str) -> Config {
    let yaml = format!(
        r#"
inventory:
  hosts:
    web-1: {{ address: 10.0.1.11, labels: {{ role: web }} }}
    web-2: {{ address: 10.0.1.12, labels: {{ role: web }} }}
    api-1: {{ address: 10.0.2.11, labels: {{ role: api }} }}
    batch-1: {{ address: 10.0.3.11, labels: {{ role: batch }} }}
components:
  checkout:
    runs_on: "role=web"
    depends_on: [orders-api, queue]
    checks:
      - {{ name: health, http: {{ url: "http://{{host.address}}:8080/health" }} }}
  orders-api:
    runs_on: "role=api"
    depends_on: [db]
    checks:
      - {{ name: orders, http: {{ url: "http://{{host.address}}:9090/orders" }} }}
  batch:
    runs_on: "role=batch"
  queue:
    external: true
  db:
    external: true
{extra}
"#
    );
    match fearless_config::load_str(Path::new("/tmp/fearless.yaml"), yaml) {
        Ok(l) => l.config,
        Err(e) => panic!(
            "{}",
            e.problems
                .iter()
                .map(fearless_config::Problem::plain)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

pub(crate) fn t(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

pub(crate) fn new_change(hosts: &str, components: &[&str], change_type: ChangeType) -> NewChange {
    NewChange {
        title: format!("patch {hosts}"),
        change_type,
        hosts: hosts.to_owned(),
        components: components.iter().map(|c| (*c).to_owned()).collect(),
        ..NewChange::default()
    }
}

pub(crate) fn create(cfg: &Config, number: u64, new: NewChange) -> ChangeRecord {
    ChangeRecord::new(new, number, REQUESTER, t("2026-05-01T09:00:00Z"), cfg).expect("created")
}

/// Drives one record, asserting the one-event contract on every step.
pub(crate) struct Driver {
    pub(crate) record: ChangeRecord,
    pub(crate) policy: Policy,
    pub(crate) others: Vec<ChangeRecord>,
    pub(crate) now: Timestamp,
}

impl Driver {
    /// A driver of change `number`, created from `new` by [`REQUESTER`].
    pub(crate) fn new(cfg: &Config, number: u64, new: NewChange) -> Self {
        Self {
            record: create(cfg, number, new),
            policy: Policy::from_config(cfg),
            others: Vec::new(),
            now: t("2026-05-01T10:00:00Z"),
        }
    }

    pub(crate) fn run(&mut self, actor: &str, command: Command) -> Result<Applied, ChangeError> {
        let result = apply(
            &self.record,
            command,
            actor,
            self.now,
            &self.policy,
            &self.others,
        );
        if let Ok(applied) = &result {
            assert_eq!(
                applied.record.timeline.len(),
                self.record.timeline.len() + 1
            );
            self.record = applied.record.clone();
        }
        result
    }

    pub(crate) fn ok(&mut self, actor: &str, command: Command) -> Applied {
        self.run(actor, command).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Driver::ok`], after which the record must be in `state`.
    #[track_caller]
    pub(crate) fn ok_to(&mut self, actor: &str, command: Command, state: State) -> Applied {
        let applied = self.ok(actor, command);
        assert_eq!(self.record.state, state, "after {}", applied.kind);
        applied
    }
}
