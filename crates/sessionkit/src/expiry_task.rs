//! Expiry that runs itself: a background task that removes expired sessions, so a SQL table or
//! a session directory stops growing without a cron job (Django needs `clearsessions` from
//! cron; Redis and the memory cache drop expired sessions by themselves, and the task costs
//! them one no-op call per period).
//!
//! Several instances of an app may run it against one store at once: each batch is one short
//! `DELETE` that deletes only rows still there, so they share the work instead of failing, and
//! each instance starts at a random point of its period, so they do not sweep in step.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::engine::{Engine, clear_expired};

/// How many expired sessions one step removes: one short statement, so readers and writers of
/// live sessions wait at most that long.
pub const EXPIRY_BATCH: usize = 10_000;

/// The running background expiry of [`Sessions::spawn_expiry`](crate::Sessions::spawn_expiry).
/// It stops when this handle is dropped (or [`ExpiryTask::stop`] is called).
#[derive(Debug)]
#[must_use = "the background expiry stops when its handle is dropped"]
pub struct ExpiryTask {
    handle: JoinHandle<()>,
    counts: Arc<ExpiryCounts>,
}

/// What a background expiry has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExpiryStats {
    /// Sweeps that ran to the end.
    pub sweeps: u64,
    /// Expired sessions removed, in all.
    pub removed: u64,
    /// Sweeps cut short by a store failure (logged; the next period tries again).
    pub failures: u64,
}

#[derive(Debug, Default)]
struct ExpiryCounts {
    sweeps: AtomicU64,
    removed: AtomicU64,
    failures: AtomicU64,
}

impl ExpiryTask {
    /// Starts sweeping `engine` every `every` on the current tokio runtime.
    pub(crate) fn spawn(engine: Arc<dyn Engine>, every: Duration) -> Self {
        let every = every.max(Duration::from_millis(1));
        let counts = Arc::new(ExpiryCounts::default());
        let handle = tokio::spawn(sweep_forever(engine, every, counts.clone()));
        ExpiryTask { handle, counts }
    }

    /// What the task has done so far.
    pub fn stats(&self) -> ExpiryStats {
        ExpiryStats {
            sweeps: self.counts.sweeps.load(Ordering::Relaxed),
            removed: self.counts.removed.load(Ordering::Relaxed),
            failures: self.counts.failures.load(Ordering::Relaxed),
        }
    }

    /// Stops the task; a sweep in progress ends after its current batch statement.
    pub fn stop(self) {}
}

impl Drop for ExpiryTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

async fn sweep_forever(engine: Arc<dyn Engine>, every: Duration, counts: Arc<ExpiryCounts>) {
    // A random start within the first period spreads the instances of a fleet.
    tokio::time::sleep(jittered(every)).await;
    loop {
        match clear_expired(engine.as_ref(), EXPIRY_BATCH, |_| {}).await {
            Ok(removed) => {
                counts.sweeps.fetch_add(1, Ordering::Relaxed);
                counts.removed.fetch_add(removed, Ordering::Relaxed);
                if removed > 0 {
                    tracing::debug!(engine = engine.name(), removed, "removed expired sessions");
                }
            }
            Err(error) => {
                counts.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(engine = engine.name(), %error, "expiry sweep failed; retrying next period");
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// A random duration in `[0, every)`.
fn jittered(every: Duration) -> Duration {
    let fraction = f64::from(getrandom::u32().unwrap_or(0)) / (f64::from(u32::MAX) + 1.0);
    every.mul_f64(fraction)
}
