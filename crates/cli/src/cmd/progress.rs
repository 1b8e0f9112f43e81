//! The engine's progress events as lines on stderr (nothing with `-q`).

use std::io::Write as _;

use fearless_engine::progress::{Event, HostEvent};
use fearless_events::Outcome;
use fearless_io::Escaped;
use fearless_rollout::Recovery;

/// Progress to stderr, one line per event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stderr {
    quiet: bool,
}

impl Stderr {
    pub(crate) fn new(quiet: bool) -> Self {
        Self { quiet }
    }
}

impl fearless_engine::Progress for Stderr {
    fn event(&self, event: Event) {
        // A warning about an event the sinks did not take is shown even with `-q`.
        if self.quiet && !matches!(event, Event::Undelivered { .. }) {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", line(&event));
    }
}

/// One event in words.
pub(crate) fn line(event: &Event) -> String {
    match event {
        Event::Preflight { hosts, checks } => {
            format!("preflight: {hosts} host(s); baseline: {checks} check(s)")
        }
        Event::Fixes { lines } => lines
            .iter()
            .map(|l| format!("fixes: {}", Escaped(l)))
            .collect::<Vec<_>>()
            .join("\n"),
        Event::RolloutStarted {
            rollout,
            pins,
            waves,
        } => format!("R-{rollout}: {pins} pin(s), {waves} wave(s)"),
        Event::Resuming { rollout, hosts } => {
            format!("R-{rollout}: resuming; {hosts} host(s) to settle")
        }
        Event::Aborting { rollout, hosts } => {
            format!("R-{rollout}: aborting; rolling back {hosts} host(s)")
        }
        Event::WaveStarted { wave, waves, hosts } => {
            format!("wave {wave}/{waves}: {}", Escaped(&hosts.join(", ")))
        }
        Event::Baking { wave, bake } => {
            format!("wave {wave}: baking {}", humantime::format_duration(*bake))
        }
        Event::NotBaked { rollout, wave } => {
            format!("R-{rollout}: wave {wave} was not done baking")
        }
        Event::Host { host, what } => format!("{}: {}", Escaped(host), host_line(what)),
        Event::Observing { hosts, window } => format!(
            "map: observing {hosts} host(s) for {}",
            humantime::format_duration(*window)
        ),
        Event::ObservingFor {
            elapsed,
            window,
            samples,
        } => format!(
            "map: {}s of {}s, {samples} sample(s)",
            elapsed.as_secs(),
            window.as_secs()
        ),
        Event::NotObserved { host, error } => {
            format!("map: {} not observed: {}", Escaped(host), Escaped(error))
        }
        Event::Undelivered {
            event,
            sink,
            outcome,
        } => {
            let what = match outcome {
                Outcome::Queued { reason, attempts } => {
                    format!("queued in the outbox after {attempts} attempt(s): {reason}")
                }
                Outcome::Lost { reason } => {
                    format!("LOST (the outbox could not be written): {reason}")
                }
                Outcome::Delivered => "delivered".to_owned(),
            };
            format!(
                "warning: event {} to sink `{}` {}\nhint: `fearless events status` shows the outbox; `fearless events replay` retries",
                Escaped(event),
                Escaped(sink),
                Escaped(&what)
            )
        }
        Event::Rehearsing { step } => format!("rehearse: {}", Escaped(step)),
        Event::WorkerJoined {
            round,
            worker,
            tasks,
        } => format!(
            "{}: worker {} joined ({tasks} host(s) at a time)",
            Escaped(round),
            Escaped(worker)
        ),
        Event::RoundOpened { round, hosts } => format!(
            "check round {r}: {hosts} host(s) leased; more controllers join with `fearless worker --check {r}`",
            r = Escaped(round)
        ),
    }
}

fn host_line(what: &HostEvent) -> String {
    match what {
        HostEvent::Applying { snapshot } => format!("applying (snapshot SNAP-{snapshot})"),
        HostEvent::Failed { why } => format!("FAILED {}", Escaped(why)),
        HostEvent::Verified => "verified".into(),
        HostEvent::Stale { said } => format!("warning: {}", Escaped(said)),
        HostEvent::Restarted { services } => format!(
            "restarted {} (still on replaced code after the transaction)",
            Escaped(&services.join(", "))
        ),
        HostEvent::Rebooting { asked } => format!("rebooting ({})", Escaped(asked)),
        HostEvent::Rebooted { took, command } => {
            format!(
                "back after {:.1}s ({})",
                took.as_secs_f64(),
                Escaped(command)
            )
        }
        HostEvent::Claimed { worker } => format!("claimed by worker {}", Escaped(worker)),
        HostEvent::TakenOver { from, by } => format!(
            "taken over by worker {} (the lease of {} expired); settling it",
            Escaped(by),
            Escaped(from)
        ),
        HostEvent::LeaseLost { worker } => format!(
            "worker {} lost its lease (taken over): it stops working on it",
            Escaped(worker)
        ),
        HostEvent::SettlingReboot => "was being rebooted; looking for its new boot".into(),
        HostEvent::RebootSettled => "back from its reboot".into(),
        HostEvent::RebootNeverRan => "its reboot never ran".into(),
        HostEvent::RollingBack => "rolling back".into(),
        HostEvent::RolledBack => "rolled back and verified".into(),
        HostEvent::Found { state, action } => format!("found {state}; {}", recovery(action)),
        HostEvent::UndoingBisect => "restoring its snapshot after an unfinished bisect".into(),
        HostEvent::Bisecting { packages, checks } => {
            format!("bisecting {packages} package(s) against {checks} check(s)")
        }
        HostEvent::BisectTest {
            n,
            packages,
            failed,
        } => format!(
            "test {n}: {} → {}",
            Escaped(&packages.join(" ")),
            if *failed { "fail" } else { "pass" }
        ),
        HostEvent::NoBisect { why } => format!("no bisect: {}", Escaped(why)),
        HostEvent::PackagesChanged { rollback, changed } => format!(
            "{} ({changed} package(s) changed)",
            if *rollback { "rolled back" } else { "applied" }
        ),
        HostEvent::PackagesFailed { kind } => kind.clone(),
    }
}

fn recovery(action: &Recovery) -> String {
    match action {
        Recovery::Untouched => "never touched: left as it is".into(),
        Recovery::Apply => "nothing was applied yet: applying".into(),
        Recovery::Verify => "the manifest is on it: verifying, not applying again".into(),
        Recovery::RollBack => "rolling back to its snapshot".into(),
        Recovery::RecordRolledBack => "already on its snapshot: verifying it there".into(),
        Recovery::Done => "its end state holds".into(),
        Recovery::Investigate(why) => format!("left for a person: {}", Escaped(why)),
    }
}

/// A line of progress from a command itself.
pub(crate) fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
