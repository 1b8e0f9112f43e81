//! A bounded pool of threads for per-host work (start, stop, look at a host): a 1,000-host
//! lab must neither run its hosts one after the other nor start 1,000 threads at once.
//! Results come back in the order of the items; the caller hears of each one as it ends.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

/// How many hosts `up` starts (and `down` stops) at once: enough to hide each host's waits
/// (mount, fork, sshd's first accept) on a small machine without a storm of processes.
pub const HOST_WORKERS: usize = 16;

/// How many hosts are looked at from the controller at once (a TCP connect, a banner).
pub(crate) const PROBE_WORKERS: usize = 64;

/// Runs `work` on every item with at most `workers` threads; `done(index, &result)` is
/// called on the calling thread as each item finishes (in completion order). When
/// `stop_on` says a result is fatal, no further item is started; the items never started
/// are `None`.
pub(crate) fn run<T, R>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
    stop_on: impl Fn(&R) -> bool,
    mut done: impl FnMut(usize, &R),
) -> Vec<Option<R>>
where
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, R)>();
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            let tx = tx.clone();
            let (next, stop, work) = (&next, &stop, &work);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if tx.send((i, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            if stop_on(&result) {
                stop.store(true, Ordering::Relaxed);
            }
            done(i, &result);
            results[i] = Some(result);
        }
    });
    results
}

/// [`run`] without early stop or completion callback: every item's result, in order.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    run(items, workers, work, |_| false, |_, _| {})
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[test]
    fn results_keep_the_items_order_and_no_more_than_the_workers_run_at_once() {
        let running = AtomicUsize::new(0);
        let most = Mutex::new(0usize);
        let items: Vec<usize> = (0..50).collect();
        let out = map(&items, 4, |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            {
                let mut m = most.lock().expect("lock");
                *m = (*m).max(now);
            }
            thread::sleep(Duration::from_millis(2));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        let most = *most.lock().expect("lock");
        assert!((1..=4).contains(&most), "{most} ran at once");
    }

    #[test]
    fn a_fatal_result_starts_nothing_more_and_every_end_is_reported() {
        let items: Vec<usize> = (0..100).collect();
        let mut seen = 0;
        let out = run(
            &items,
            2,
            |i| {
                thread::sleep(Duration::from_millis(1));
                if *i == 3 { Err(*i) } else { Ok(*i) }
            },
            Result::is_err,
            |_, _| seen += 1,
        );
        assert_eq!(out[3], Some(Err(3)));
        let finished = out.iter().flatten().count();
        assert_eq!(seen, finished);
        assert!(finished < 100, "the pool went on after the failure");
        assert!(map::<usize, usize>(&[], 8, |i| *i).is_empty());
    }
}
