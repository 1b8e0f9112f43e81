//! The durable outbox: one JSON file per undelivered (event, sink) pair.
//!
//! A file is written through `fearless_io::write_atomic` (a temporary name beside it,
//! fsynced, renamed into place, the directory fsynced), so a crash leaves either the old
//! entry or the new one, never half of one. The
//! file name is derived from the event id and the sink name, so the same pair can never be
//! queued twice: a retry that fails again overwrites its own entry.

use crate::Event;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One undelivered event for one sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Sink name.
    pub sink: String,
    /// The event, as emitted.
    pub event: Event,
    /// Delivery attempts so far (the first send counts).
    pub attempts: u32,
    /// When the first attempt failed (Unix milliseconds).
    pub first_failed_ms: u64,
    /// When the next retry is due (Unix milliseconds).
    pub next_attempt_ms: u64,
    /// Why the last attempt failed.
    pub last_error: String,
}

/// The outbox directory.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    dir: PathBuf,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Outbox {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_name(event_id: &str, sink: &str) -> String {
        // Sink names are YAML keys (any text): hex keeps the file name portable.
        let hex: String = sink.bytes().map(|b| format!("{b:02x}")).collect();
        let id: String = event_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        format!("{id}.{hex}.json")
    }

    /// Write (or overwrite) the entry for its (event, sink) pair, durably.
    pub(crate) async fn put(&self, entry: &OutboxEntry) -> std::io::Result<()> {
        let dir = self.dir.clone();
        let name = Self::file_name(&entry.event.id, &entry.sink);
        let body = serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?;
        blocking(move || {
            std::fs::create_dir_all(&dir)?;
            fearless_io::write_atomic(&dir.join(&name), &body).map_err(std::io::Error::other)
        })
        .await
    }

    /// Remove the entry of a delivered (event, sink) pair.
    pub(crate) async fn remove(&self, event_id: &str, sink: &str) -> std::io::Result<()> {
        let dir = self.dir.clone();
        let name = Self::file_name(event_id, sink);
        blocking(move || {
            match std::fs::remove_file(dir.join(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
    }

    /// Every entry, oldest event first, and the files that could not be read.
    pub(crate) async fn list(&self) -> std::io::Result<(Vec<OutboxEntry>, Vec<PathBuf>)> {
        let dir = self.dir.clone();
        blocking(move || {
            let mut entries = Vec::new();
            let mut unreadable = Vec::new();
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok((entries, unreadable));
                }
                Err(e) => return Err(e),
            };
            for item in rd {
                let path = item?.path();
                let is_entry = path.extension().is_some_and(|x| x == "json")
                    && !path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if !is_entry {
                    continue;
                }
                match std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<OutboxEntry>(&b).ok())
                {
                    Some(e) => entries.push(e),
                    None => unreadable.push(path),
                }
            }
            // UUIDv7 ids sort by creation time.
            entries.sort_by(|a, b| (&a.event.id, &a.sink).cmp(&(&b.event.id, &b.sink)));
            Ok((entries, unreadable))
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

/// When attempt `attempts + 1` is due: `base · 2^(attempts-1)`, capped at `max`.
pub(crate) fn backoff(attempts: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (b, m) = (Duration::from_secs(30), Duration::from_secs(3600));
        assert_eq!(backoff(1, b, m), Duration::from_secs(30));
        assert_eq!(backoff(2, b, m), Duration::from_secs(60));
        assert_eq!(backoff(4, b, m), Duration::from_secs(240));
        assert_eq!(backoff(40, b, m), m);
    }
}
