//! The wave driver: each wave's hosts patched at once, the bake, the gate, the rollback of
//! failing hosts, the canary's bisect — and how a rollout ends: the change completed with
//! the outcome, an incident opened for a stopped one, the sinks told, the record closed.

use std::time::Duration;

use fearless_change::{CloseCode, Command};
use fearless_rollout::{HostState, RolloutState};
use fearless_store::Stored;

use super::host::{End, Run};
use super::{RolloutEnd, RolloutOutcome};
use crate::fleet::{Fleetwide, HostResult};
use crate::progress::Event;
use crate::record::{
    self, HostEnd, KeptBisect, RolloutMoved, RolloutRecord, RolloutResult, WaveBaked,
};
use crate::{Engine, EngineError};

/// Why the wave driver returned before the last wave.
#[derive(Debug)]
pub(crate) enum Halt {
    /// A wave failed; the canary's bisect, if one ran.
    Stopped {
        why: String,
        bisect: Option<KeptBisect>,
    },
    /// `rollout pause` asked to stop before this wave (1-based).
    Paused(usize),
    /// `rollout abort` took the rollout over; it rolls the hosts back.
    Aborted,
}

/// The ends of a fan-out of host work: a host the fleet could not even reach for the
/// work keeps its recorded state (`unreached`); the first step the store did not take stops
/// it all.
pub(crate) fn ends_of(
    results: Vec<HostResult<Result<End, EngineError>>>,
    wave_of: impl Fn(&str) -> usize,
    unreached: impl Fn(&str) -> HostState,
) -> Result<Vec<HostEnd>, EngineError> {
    let mut ends = Vec::new();
    let mut lost = None;
    for (host, r) in results {
        let (state, detail) = match r {
            Ok(Ok(end)) => end,
            Ok(Err(e)) => {
                lost.get_or_insert(e);
                continue;
            }
            Err(e) => (unreached(&host), e.to_string()),
        };
        ends.push(HostEnd {
            wave: wave_of(&host),
            host,
            state,
            detail,
        });
    }
    match lost {
        Some(e) => Err(e),
        None => Ok(ends),
    }
}

/// Roll back `hosts` (each from its state in `ends`), updating their ends.
pub(crate) async fn roll_back_all(
    run: &Run<'_, '_>,
    fw: &Fleetwide,
    hosts: &[&str],
    ends: &mut [HostEnd],
) -> Result<(), EngineError> {
    let from: Vec<(String, HostState)> = ends.iter().map(|e| (e.host.clone(), e.state)).collect();
    let back = fw
        .each_of(hosts, |b, t| {
            let state = from
                .iter()
                .find(|(h, _)| h == t.name)
                .map_or(HostState::Failed, |(_, s)| *s);
            async move { Ok(run.roll_back(&b, &t, state).await) }
        })
        .await;
    let state_of = |h: &str| {
        from.iter()
            .find(|(x, _)| x == h)
            .map_or(HostState::Failed, |(_, s)| *s)
    };
    for end in ends_of(back, |_| 0, state_of)? {
        if let Some(e) = ends.iter_mut().find(|e| e.host == end.host) {
            e.state = end.state;
            e.detail = format!("{}; {}", e.detail, end.detail);
        }
    }
    Ok(())
}

/// Run waves `first..` of `waves` (hosts already settled are in `ends`): per host
/// snapshot/apply/verify, bake, and on failure roll the failing hosts back and stop.
/// Returns every host's end and why the rollout stopped, if it did.
pub(crate) async fn drive(
    run: &Run<'_, '_>,
    fw: &Fleetwide,
    waves: &[Vec<String>],
    mut ends: Vec<HostEnd>,
    first: usize,
    bake: Duration,
) -> Result<(Vec<HostEnd>, Option<Halt>), EngineError> {
    let engine = run.engine;
    let policy = &engine.config.patch;
    for (i, wave) in waves.iter().enumerate().skip(first) {
        let number = i + 1;
        // `rollout pause` / `rollout abort` take effect between waves.
        if i > 0 {
            match engine.rollout_state(run.rollout).await? {
                RolloutState::Running => {}
                RolloutState::Paused => return Ok((ends, Some(Halt::Paused(number)))),
                _ => return Ok((ends, Some(Halt::Aborted))),
            }
        }
        // Hosts of this wave already settled (resume) are not patched again.
        let names: Vec<&str> = wave
            .iter()
            .map(String::as_str)
            .filter(|h| !ends.iter().any(|e| e.host == *h))
            .collect();
        let settled: Vec<HostEnd> = ends.iter().filter(|e| e.wave == number).cloned().collect();
        ends.retain(|e| e.wave != number);
        engine.progress.event(Event::WaveStarted {
            wave: number,
            waves: waves.len(),
            hosts: names.iter().map(|h| (*h).to_owned()).collect(),
            shared: run.team.is_some(),
        });
        let mut wave_ends = match &run.team {
            None => {
                let results = fw
                    .each_of(
                        &names,
                        |b, t| async move { Ok(run.patch_host(&b, &t).await) },
                    )
                    .await;
                ends_of(results, |_| number, |_| HostState::Pending)?
            }
            // Leased: whoever handles a host, its end is on its lease.
            Some(team) => super::workers::leased_wave(run, fw, team, number, &names).await?,
        };
        wave_ends.extend(settled);
        // An abort during the wave has taken the hosts over.
        if engine.rollout_state(run.rollout).await? == RolloutState::Aborting {
            ends.extend(wave_ends);
            return Ok((ends, Some(Halt::Aborted)));
        }
        let failing = |ends: &[HostEnd]| {
            ends.iter()
                .filter(|e| e.state != HostState::Verified)
                .count()
        };
        let mut failed = failing(&wave_ends);
        engine.progress.event(Event::WaveEnded {
            wave: number,
            waves: waves.len(),
            verified: wave_ends.len() - failed,
            failed,
        });
        if failed == 0 && !bake.is_zero() {
            engine.progress.event(Event::Baking { wave: number, bake });
            engine.clock.sleep(bake).await;
            let now = engine.rollout_state(run.rollout).await?;
            if !matches!(now, RolloutState::Running | RolloutState::Paused) {
                ends.extend(wave_ends);
                return Ok((ends, Some(Halt::Aborted)));
            }
            for e in &mut wave_ends {
                let regressions = run.verify_again(&e.host).await?;
                if !regressions.is_empty() {
                    e.state = HostState::Failed;
                    e.detail = format!("after the bake: {}", regressions.join("; "));
                }
            }
            failed = failing(&wave_ends);
            if failed == 0 {
                // `rollout resume` bakes again a wave whose bake has no end on record.
                run.note(&WaveBaked { wave: number }).await?;
            }
        }
        let over = failed > usize::try_from(policy.max_failed_hosts).unwrap_or(usize::MAX);
        if over || (failed > 0 && i == 0) {
            let why = format!("wave {number} failed on {failed} host(s)");
            if policy.rollback_auto {
                // The failing hosts, or every changed host of the wave (`rollback_scope: wave`).
                let back: Vec<String> = wave_ends
                    .iter()
                    .filter(|e| {
                        e.state == HostState::Failed
                            || (policy.rollback_wave && e.state == HostState::Verified)
                    })
                    .map(|e| e.host.clone())
                    .collect();
                let back: Vec<&str> = back.iter().map(String::as_str).collect();
                roll_back_all(run, fw, &back, &mut wave_ends).await?;
            }
            // `bisect: auto`: the canary, back on its snapshot, names the culprit.
            let bisect = if i == 0 && policy.bisect_auto {
                run.bisect_canary(fw, &wave_ends).await?
            } else {
                None
            };
            ends.extend(wave_ends);
            return Ok((ends, Some(Halt::Stopped { why, bisect })));
        }
        ends.extend(wave_ends);
    }
    Ok((ends, None))
}

/// What [`finish`] needs to know of the rollout.
pub(crate) struct Ending<'r> {
    pub(crate) rollout: u64,
    pub(crate) record: &'r RolloutRecord,
    pub(crate) ends: &'r [HostEnd],
    pub(crate) stopped: Option<String>,
    /// Open an incident for a stopped rollout (not for an abort someone asked for).
    pub(crate) open_incident: bool,
    pub(crate) bisect: Option<KeptBisect>,
}

/// Turn the driver's halt into the rollout's end: a pause or an abort leaves the rest to
/// `rollout resume` / `rollout abort`; anything else completes the change.
pub(crate) async fn conclude(
    engine: &Engine<'_>,
    rollout: u64,
    record: &RolloutRecord,
    ends: &[HostEnd],
    halt: Option<Halt>,
) -> Result<RolloutOutcome, EngineError> {
    let (stopped, bisect) = match halt {
        Some(Halt::Paused(wave)) => {
            return Ok(RolloutOutcome::Paused {
                rollout,
                before_wave: wave,
            });
        }
        Some(Halt::Aborted) => return Ok(RolloutOutcome::Aborting { rollout }),
        Some(Halt::Stopped { why, bisect }) => (Some(why), bisect),
        None => (None, None),
    };
    let end = finish(
        engine,
        Ending {
            rollout,
            record,
            ends,
            stopped,
            open_incident: true,
            bisect,
        },
    )
    .await?;
    Ok(RolloutOutcome::Ended(end))
}

/// Complete the change with the rollout's outcome, open an incident for a stopped one,
/// tell the sinks, record the rollout's end.
pub(crate) async fn finish(
    engine: &Engine<'_>,
    ending: Ending<'_>,
) -> Result<RolloutEnd, EngineError> {
    let Ending {
        rollout: r,
        record,
        ends,
        stopped,
        open_incident,
        bisect,
    } = ending;
    let (code, state) = match &stopped {
        None => (CloseCode::Successful, RolloutState::Completed),
        Some(_) if ends.iter().any(|e| e.state == HostState::RollbackFailed) => {
            (CloseCode::Unsuccessful, RolloutState::Failed)
        }
        Some(_) => (CloseCode::BackedOut, RolloutState::BackedOut),
    };
    let notes = match &stopped {
        None => format!("R-{r}: every wave passed"),
        Some(why) => format!("R-{r}: {why}; failing hosts rolled back"),
    };
    engine
        .advance_id(
            &record.change,
            Command::Complete {
                code,
                notes: Some(notes),
            },
        )
        .await?;
    let incident = match &stopped {
        Some(why) if open_incident => Some(
            engine
                .open_rollout_incident(r, record, ends, why, bisect)
                .await?,
        ),
        _ => None,
    };
    let result = RolloutResult {
        incident: incident.clone(),
        change: record.change.clone(),
        manifest: record.manifest.clone(),
        waves: record.waves.clone(),
        hosts: ends.to_vec(),
        stopped: stopped.clone(),
    };
    let (stored, _) = engine.rollout(r).await?;
    let mut closed = record.clone();
    closed.result = Some(result.clone());
    engine
        .store_rollout(
            &stored,
            state,
            &closed,
            RolloutMoved {
                stopped: stopped.clone(),
                code: Some(code.as_str().to_owned()),
            },
        )
        .await?;
    let sent = fearless_events::Event::for_change(
        format!("fearless.rollout.{state}.v1"),
        fearless_events::local_source(),
        &record.change,
        serde_json::json!({
            "rollout": format!("R-{r}"),
            "manifest": record.manifest,
            "hosts": ends,
            "incident": incident,
        }),
    )
    .severity(if stopped.is_some() {
        fearless_events::Severity::Error
    } else {
        fearless_events::Severity::Info
    });
    engine.emit(&sent).await;
    if let Some(inc) = &incident {
        let opened = fearless_events::Event::for_change(
            "fearless.incident.opened.v1",
            fearless_events::local_source(),
            &record.change,
            serde_json::json!({"incident": inc, "rollout": format!("R-{r}"), "reason": stopped}),
        )
        .severity(fearless_events::Severity::Warning);
        engine.emit(&opened).await;
    }
    let untouched = record
        .waves
        .iter()
        .flatten()
        .filter(|h| !ends.iter().any(|e| &e.host == *h))
        .cloned()
        .collect();
    Ok(RolloutEnd {
        rollout: r,
        state,
        code,
        result,
        untouched,
    })
}

impl Engine<'_> {
    /// Write `record` over rollout `stored` (its version must still be the one read), in
    /// `state`, journaled as `rollout.<state>` with `moved`.
    pub(crate) async fn store_rollout(
        &self,
        stored: &Stored,
        state: RolloutState,
        record: &RolloutRecord,
        moved: RolloutMoved,
    ) -> Result<Stored, EngineError> {
        let value = serde_json::to_value(record)
            .map_err(|e| EngineError::corrupt(format!("rollout R-{}", stored.number), e))?;
        Ok(self
            .store
            .update_rollout(
                stored.number,
                stored.version,
                state.as_str(),
                &value,
                record::event_of(self.actor, &format!("rollout.{state}"), "", &moved),
            )
            .await?)
    }
}
