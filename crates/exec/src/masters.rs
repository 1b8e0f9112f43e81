//! How many private ssh masters a fleet keeps open at once. Each master is an `ssh`
//! process (about 8 MB) with its descriptors; a round over 1,000 hosts would otherwise end
//! with 1,000 of them. When a new master makes more than the cap, the least recently used
//! masters with no session in flight are told to exit; their hosts connect again on their
//! next command. Persistent masters (`inventory.ssh.persist`) are meant to outlive the
//! process and are not counted.

use crate::ExecError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};

/// One host's master, as its transport and the fleet's [`Masters`] both see it.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) master: tokio::sync::Mutex<Option<Result<Arc<crate::ssh::Master>, ExecError>>>,
    /// When it was last used, on the fleet's clock.
    used: AtomicU64,
}

/// The open private masters of a fleet, and its cap.
#[derive(Debug)]
pub(crate) struct Masters {
    cap: usize,
    open: SyncMutex<Vec<Arc<Slot>>>,
    clock: AtomicU64,
}

impl Masters {
    /// At most `cap` masters open at once (at least 1).
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            open: SyncMutex::new(Vec::new()),
            clock: AtomicU64::new(0),
        }
    }

    /// `slot` is in use now.
    pub(crate) fn touch(&self, slot: &Slot) {
        slot.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }

    /// `slot` has just opened a master: count it, and close the least recently used idle
    /// ones past the cap.
    pub(crate) async fn opened(&self, slot: &Arc<Slot>) {
        let victims = {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if !open.iter().any(|s| Arc::ptr_eq(s, slot)) {
                open.push(slot.clone());
            }
            let mut victims = Vec::new();
            if open.len() > self.cap {
                let mut order: Vec<Arc<Slot>> = open
                    .iter()
                    .filter(|s| !Arc::ptr_eq(s, slot))
                    .cloned()
                    .collect();
                order.sort_by_key(|s| s.used.load(Ordering::Relaxed));
                let mut excess = open.len() - self.cap;
                for s in order {
                    if excess == 0 {
                        break;
                    }
                    // Busy (opening, or a command on it) or already closed: not a victim.
                    let Ok(mut guard) = s.master.try_lock() else {
                        continue;
                    };
                    let idle = match &*guard {
                        Some(Ok(m)) => Arc::strong_count(m) == 1,
                        _ => true,
                    };
                    if !idle {
                        continue;
                    }
                    if let Some(Ok(m)) = guard.take() {
                        victims.push(m);
                    }
                    open.retain(|o| !Arc::ptr_eq(o, &s));
                    excess -= 1;
                }
            }
            victims
        };
        let exits = victims
            .into_iter()
            .filter_map(|m| Arc::try_unwrap(m).ok())
            .map(crate::ssh::Master::exit);
        futures::future::join_all(exits).await;
    }

    /// `slot`'s master was closed by its transport.
    pub(crate) fn closed(&self, slot: &Arc<Slot>) {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|o| !Arc::ptr_eq(o, slot));
    }
}
