//! New ssh connections paced fleet-wide (`inventory.ssh.connect_rate`): each waits for its
//! turn, one every `1/rate` seconds. A fleet's concurrency already bounds how many hosts
//! are worked on at once; pacing bounds how fast their connections start, for the sshd
//! they may all go through (a bastion's `MaxStartups`, 10 unauthenticated connections by
//! default, drops the ones past it) or a firewall that counts new connections.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// One turn every `gap`, whoever asks.
#[derive(Debug)]
pub(crate) struct Pace {
    gap: Duration,
    /// The next free turn.
    next: Mutex<Option<Instant>>,
}

impl Pace {
    /// At most `rate` new connections a second (at least 1).
    pub(crate) fn per_second(rate: u32) -> Self {
        Self {
            gap: Duration::from_secs(1) / rate.max(1),
            next: Mutex::new(None),
        }
    }

    /// Wait for this connection's turn: now if the last one was at least a gap ago, else
    /// a gap after the last turn given.
    pub(crate) async fn turn(&self) {
        let at = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.gap);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five connections asked for at once at 10 a second start 100 ms apart; one asked
    /// for after a pause goes at once.
    #[tokio::test(start_paused = true)]
    async fn turns_come_a_gap_apart_and_an_idle_pace_waits_for_nothing() {
        let pace = std::sync::Arc::new(Pace::per_second(10));
        let t0 = Instant::now();
        let turns = (0..5).map(|_| {
            let pace = pace.clone();
            tokio::spawn(async move {
                pace.turn().await;
                Instant::now() - t0
            })
        });
        let mut at: Vec<Duration> = futures::future::join_all(turns)
            .await
            .into_iter()
            .map(|r| r.expect("turn"))
            .collect();
        at.sort();
        let ms: Vec<u128> = at.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 100, 200, 300, 400]);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let t1 = Instant::now();
        pace.turn().await;
        assert_eq!(Instant::now(), t1);
    }
}
