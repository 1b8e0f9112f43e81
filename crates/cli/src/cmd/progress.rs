//! The engine's progress events on stderr (nothing with `-q`): a line per event, except
//! inside a wave of more than [`HOST_LINES`] hosts, which keeps one bar (on a terminal) and
//! prints only what a person must read — a host that failed, or was found mid-way — and a
//! summary when the wave ends.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fearless_engine::progress::{Event, HostEvent};
use fearless_events::Outcome;
use fearless_io::Escaped;
use fearless_rollout::Recovery;

/// A wave of up to this many hosts gets a line per host event; a larger one, a bar.
pub(crate) const HOST_LINES: usize = 12;

/// How many of a large wave's hosts its first line names.
const NAMED: usize = 3;

/// Progress to stderr.
#[derive(Debug, Clone)]
pub(crate) struct Stderr {
    quiet: bool,
    /// The bar of the wave in progress, when it is a large one.
    wave: Arc<Mutex<Option<WaveBar>>>,
    /// The wave in progress is shared between workers: other workers' hosts print no
    /// line here, so even a small wave's end is said.
    shared: Arc<AtomicBool>,
}

/// A large wave in progress: its bar (hidden when stderr is not a terminal, still counting)
/// and when it started.
#[derive(Debug)]
struct WaveBar {
    bar: indicatif::ProgressBar,
    started: Instant,
}

impl Stderr {
    pub(crate) fn new(quiet: bool) -> Self {
        Self {
            quiet,
            wave: Arc::default(),
            shared: Arc::default(),
        }
    }

    fn wave(&self) -> std::sync::MutexGuard<'_, Option<WaveBar>> {
        self.wave.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Print `text` above the bar of a wave in progress, if there is one.
    fn say(wave: Option<&WaveBar>, text: &str) {
        match wave {
            Some(w) if !w.bar.is_hidden() => w.bar.suspend(|| note(text)),
            _ => note(text),
        }
    }
}

impl fearless_engine::Progress for Stderr {
    fn event(&self, event: Event) {
        // A warning about an event the sinks did not take is shown even with `-q`.
        if self.quiet && !matches!(event, Event::Undelivered { .. }) {
            return;
        }
        let mut wave = self.wave();
        if let Event::WaveStarted { shared, .. } = &event {
            self.shared.store(*shared, Ordering::Relaxed);
        }
        match &event {
            Event::WaveStarted {
                wave: n,
                waves,
                hosts,
                shared,
            } if hosts.len() > HOST_LINES => {
                if let Some(old) = wave.take() {
                    old.bar.finish_and_clear();
                }
                note(&large_wave(*n, *waves, hosts, *shared));
                *wave = Some(WaveBar {
                    bar: bar(*n, *waves, hosts.len(), *shared),
                    started: Instant::now(),
                });
            }
            Event::Host { host, what } if let Some(w) = wave.as_ref() => {
                if matches!(what, HostEvent::Verified | HostEvent::Failed { .. }) {
                    w.bar.inc(1);
                }
                if !in_the_bar(what) {
                    Self::say(Some(w), &format!("{}: {}", Escaped(host), host_line(what)));
                }
            }
            // A small wave's hosts said it all, line by line, unless other workers had some.
            Event::WaveEnded { .. } => {
                if let Some(w) = wave.take() {
                    w.bar.finish_and_clear();
                    note(&format!(
                        "{}, in {:.1}s",
                        line(&event),
                        w.started.elapsed().as_secs_f64()
                    ));
                } else if self.shared.load(Ordering::Relaxed) {
                    note(&line(&event));
                }
            }
            _ => Self::say(wave.as_ref(), &line(&event)),
        }
    }
}

/// What every host of a large wave does on its way, which its bar shows (a line each would
/// be thousands of lines); the rest — a failure, a takeover, a host found mid-way — a
/// person must read.
fn in_the_bar(what: &HostEvent) -> bool {
    matches!(
        what,
        HostEvent::Verified
            | HostEvent::Claimed { .. }
            | HostEvent::Applying { .. }
            | HostEvent::PackagesChanged { .. }
            | HostEvent::Restarted { .. }
            | HostEvent::Rebooting { .. }
            | HostEvent::Rebooted { .. }
    )
}

/// The first line of a large wave: how many hosts, and the first few by name.
fn large_wave(n: usize, waves: usize, hosts: &[String], shared: bool) -> String {
    let named: Vec<String> = hosts
        .iter()
        .take(NAMED)
        .map(|h| Escaped(h).to_string())
        .collect();
    format!(
        "wave {n}/{waves}: {} hosts ({}, … and {} more){}",
        hosts.len(),
        named.join(", "),
        hosts.len() - named.len(),
        if shared {
            ", shared between workers"
        } else {
            ""
        }
    )
}

/// A large wave's bar: drawn only on a terminal. A shared wave's bar counts the hosts
/// this process brought to an end, which are not all of them.
fn bar(n: usize, waves: usize, hosts: usize, shared: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::hidden();
    bar.set_length(u64::try_from(hosts).unwrap_or(u64::MAX));
    let done = if shared {
        "{pos} of {len} hosts done here"
    } else {
        "{pos}/{len} hosts done"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} wave {n}/{waves}: {done} {{wide_bar}} {{elapsed}}"
    )) {
        bar.set_style(style);
    }
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.enable_steady_tick(Duration::from_millis(120));
    }
    bar
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
        Event::WaveStarted {
            wave,
            waves,
            hosts,
            shared,
        } => format!(
            "wave {wave}/{waves}: {}{}",
            Escaped(&hosts.join(", ")),
            if *shared {
                " (shared between workers)"
            } else {
                ""
            }
        ),
        Event::WaveEnded {
            wave,
            waves,
            verified,
            failed,
        } => format!("wave {wave}/{waves}: {verified} verified, {failed} not"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_wave_names_its_first_hosts_escaped_and_counts_the_rest() {
        let mut hosts: Vec<String> = (1..=25).map(|i| format!("web-{i}")).collect();
        hosts[1] = "web\x1b[2J".to_owned();
        assert_eq!(
            large_wave(3, 4, &hosts, false),
            "wave 3/4: 25 hosts (web-1, web\\x1b[2J, web-3, … and 22 more)"
        );
        assert_eq!(
            large_wave(3, 4, &hosts[..13], true),
            "wave 3/4: 13 hosts (web-1, web\\x1b[2J, web-3, … and 10 more), shared between workers"
        );
    }

    #[test]
    fn a_large_wave_shows_the_way_in_its_bar_and_the_news_in_lines() {
        let worker = || "ci-1-0a1b".to_owned();
        for quiet in [
            HostEvent::Claimed { worker: worker() },
            HostEvent::Applying { snapshot: 3 },
            HostEvent::Verified,
        ] {
            assert!(in_the_bar(&quiet), "{quiet:?}");
        }
        for news in [
            HostEvent::Failed { why: "x".into() },
            HostEvent::TakenOver {
                from: worker(),
                by: worker(),
            },
            HostEvent::LeaseLost { worker: worker() },
            HostEvent::RollingBack,
        ] {
            assert!(!in_the_bar(&news), "{news:?}");
        }
    }

    #[test]
    fn a_wave_end_in_words() {
        let end = Event::WaveEnded {
            wave: 2,
            waves: 4,
            verified: 48,
            failed: 2,
        };
        assert_eq!(line(&end), "wave 2/4: 48 verified, 2 not");
    }
}
