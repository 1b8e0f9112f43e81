//! The engine every front end drives: patch rollouts (gate, preflight, frozen manifest,
//! canary waves, per-host steps, bake, rollback, bisect on the canary, resume, pause,
//! abort), package bisects, change transitions, incidents, the evidence a post-incident
//! report is built from, each host's OS and its support (`os`), the parity of two sets
//! of hosts (`parity`), DR rehearsals of a host's role on a new OS (`rehearse`), and the
//! advisories of vulnerability feeds that apply to each host (`vulns`, and `patch --fixes`),
//! and the continuous test plan with its damped check states (`monitor`); rollouts and
//! runs of the test plan split between several controllers through the store's leases
//! (`patch --workers`, `check --workers`, `fearless worker`).
//!
//! An [`Engine`] holds its I/O as handles — the configuration, the [`Store`], the
//! [`Events`] sinks, the actor, a [`Progress`] sink and a [`Clock`] — so the CLI, a
//! dashboard and the tests run the same code; hosts are reached through [`Fleetwide`] and
//! checks through [`CheckSet`]. It decides and persists; it never prints.
//!
//! Invariants: no host state change without its journal entry, written (compare-and-set)
//! before the work it announces; a step the store did not take stops the rollout
//! ([`EngineError::StepLost`]) and nothing is reported that the store does not hold; every
//! record another module reads is a type of [`record`].

pub mod bisect;
pub mod changes;
pub mod check_round;
pub mod checks;
pub mod clock;
pub mod discover;
mod error;
pub mod evidence;
pub mod fleet;
pub mod identity;
pub mod incident;
pub mod init;
pub mod inventory;
pub mod journal;
pub mod map;
pub mod monitor;
pub mod os;
pub mod packages;
pub mod parity;
pub mod progress;
pub mod record;
pub mod rehearse;
pub mod rollout;
pub mod snapshots;
pub mod views;
pub mod vulns;

pub use checks::CheckSet;
pub use clock::{Clock, SystemClock};
pub use error::{Class, EngineError};
pub use fleet::Fleetwide;
pub use monitor::{Monitor, MonitorStatus, RecordedRun, Transition, Trigger};
pub use progress::{Event, HostEvent, Progress, Silent};

use fearless_config::Config;
use fearless_events::Events;
use fearless_store::{JournalEntry, JournalFilter, Store};

/// The engine's handles: what it reads, where it records, whom it tells, who acts.
#[derive(Clone, Copy)]
pub struct Engine<'a> {
    /// The loaded configuration.
    pub config: &'a Config,
    /// Records and the journal.
    pub store: &'a Store,
    /// The `send_message` sinks.
    pub events: &'a Events,
    /// Who is acting, and what vouched for it (journaled with every entry).
    pub actor: identity::Who<'a>,
    /// Where progress goes.
    pub progress: &'a dyn Progress,
    /// Now, and waiting.
    pub clock: &'a dyn Clock,
}

impl std::fmt::Debug for Engine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store.location())
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl Engine<'_> {
    /// Every journal entry about `subject` (`CHG-3`, `R-2`, `host:web-1`), oldest first.
    pub async fn journal_of(&self, subject: &str) -> Result<Vec<JournalEntry>, EngineError> {
        journal_of(self.store, subject).await
    }

    /// Say `event` through the sinks; a failed delivery never fails the caller, and is
    /// never silent: it goes to the progress sink.
    pub async fn emit(&self, event: &fearless_events::Event) {
        let delivery = self.events.send_message(event).await;
        for p in delivery.problems() {
            self.progress.event(Event::Undelivered {
                event: event.summary(),
                sink: p.sink.clone(),
                outcome: p.outcome.clone(),
            });
        }
    }
}

/// The number of an id written `PREFIX-N` (`R-3`, `INC-3`, `SNAP-3`; the prefix in any case)
/// or `N`; anything else is bad input, with `hint`.
pub fn number_of(id: &str, prefix: &str, what: &str, hint: &str) -> Result<u64, EngineError> {
    let digits = id
        .get(..prefix.len() + 1)
        .filter(|p| p.eq_ignore_ascii_case(&format!("{prefix}-")))
        .map_or(id, |_| &id[prefix.len() + 1..]);
    digits
        .parse()
        .map_err(|_| EngineError::bad_input(format!("`{id}` is not {what}"), Some(hint)))
}

/// Every journal entry about `subject`, oldest first.
pub async fn journal_of(store: &Store, subject: &str) -> Result<Vec<JournalEntry>, EngineError> {
    Ok(store
        .journal(&JournalFilter {
            since: None,
            subject: Some(subject.to_owned()),
        })
        .await?)
}
