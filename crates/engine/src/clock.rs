//! Time as the engine sees it: the [`Clock`] handle gives "now" for the records it writes
//! and the waits it makes (a wave's bake), so a front end or a test can run it on a clock
//! of its own.

use std::time::Duration;

use futures::future::BoxFuture;

/// Now, and waiting.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> jiff::Timestamp;

    /// A future that completes after `d`.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
}

/// The system's clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}
