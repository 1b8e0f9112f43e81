//! The machine's processes read once from `/proc` and grouped by PID namespace, so that a
//! question about a thousand lab hosts (which processes run in each, what memory they take)
//! reads every process once instead of once per host.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use crate::Footprint;
use crate::state::State;
use crate::sys::{self, ProcStat};

/// One reading of every process: its `stat` and its PID namespace.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    by_namespace: HashMap<PathBuf, Vec<(u32, ProcStat)>>,
}

impl Snapshot {
    /// Reads `/proc` now.
    pub(crate) fn take() -> Self {
        let mut by_namespace: HashMap<PathBuf, Vec<(u32, ProcStat)>> = HashMap::new();
        for pid in sys::all_pids() {
            let (Some(stat), Some(ns)) = (sys::proc_stat(pid), sys::pid_namespace(pid)) else {
                continue;
            };
            by_namespace.entry(ns).or_default().push((pid, stat));
        }
        Self { by_namespace }
    }

    /// The processes (not zombies) of the PID namespace `pid` is in.
    pub(crate) fn namespace_of(&self, pid: u32) -> &[(u32, ProcStat)] {
        sys::pid_namespace(pid)
            .and_then(|ns| self.by_namespace.get(&ns))
            .map_or(&[], Vec::as_slice)
    }

    /// The oldest process called `name` (its `comm`) in the PID namespace of `pid`, not a
    /// zombie: for sshd, the listener rather than a session.
    pub(crate) fn oldest_named(&self, pid: u32, name: &str) -> Option<u32> {
        self.namespace_of(pid)
            .iter()
            .filter(|(_, s)| s.comm == name && s.state != 'Z')
            .min_by_key(|(_, s)| s.start_time)
            .map(|(pid, _)| *pid)
    }
}

/// What the fleet hosts' processes of `state` take: each live host's `unshare` and every
/// process in its init's PID namespace.
pub(crate) fn footprint(state: &State) -> Footprint {
    let snapshot = Snapshot::take();
    let mut out = Footprint::default();
    for h in state.fleet() {
        let Some(init) = h.init.filter(|p| p.alive()) else {
            continue;
        };
        out.hosts += 1;
        let unshare = h.unshare.filter(|p| p.alive()).map(|p| p.pid);
        let members = snapshot
            .namespace_of(init.pid)
            .iter()
            .filter(|(_, s)| s.state != 'Z')
            .map(|(pid, _)| *pid);
        for pid in unshare.into_iter().chain(members) {
            if let Some((pss, rss)) = memory_of(pid) {
                out.processes += 1;
                out.pss_bytes += pss;
                out.rss_bytes += rss;
            }
        }
    }
    out
}

/// `(Pss, Rss)` of a process in bytes, from `/proc/PID/smaps_rollup`.
fn memory_of(pid: u32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some(parse_rollup(&text))
}

/// `(Pss, Rss)` in bytes of an `smaps_rollup` text (its values are in kB).
fn parse_rollup(text: &str) -> (u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("Pss"), field("Rss"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollup_values_are_read_in_bytes() {
        let text = "55d0c0a00000-7ffd3a5f1000 ---p 00000000 00:00 0                          [rollup]\n\
                    Rss:                5508 kB\nPss:                1203 kB\nPss_Dirty:           404 kB\n\
                    Pss_Anon:            396 kB\n";
        assert_eq!(parse_rollup(text), (1203 * 1024, 5508 * 1024));
        assert_eq!(parse_rollup(""), (0, 0));
    }

    #[test]
    fn our_own_process_is_in_our_namespace_and_has_memory() {
        let me = std::process::id();
        let snapshot = Snapshot::take();
        assert!(snapshot.namespace_of(me).iter().any(|(pid, _)| *pid == me));
        let (pss, rss) = memory_of(me).expect("own smaps_rollup");
        assert!(pss > 0 && rss >= pss, "pss {pss}, rss {rss}");
    }
}
