//! Whether `cached_db` may trust its cache: a circuit breaker with the cache epoch.
//!
//! Any failed cache call (an error, a timeout, or a call abandoned half-way) makes the cache
//! *suspect*: its entries may be stale, and a write or delete that failed may still land later.
//! A suspect cache is neither read nor written. At most once per [`PROBE_INTERVAL`] one request
//! tries to start a new epoch ([`Cache::new_epoch`](super::Cache::new_epoch)), which disowns
//! everything written before; only when that succeeds — with no failure reported while it ran
//! — is the cache trusted again. So a dead or hung cache costs one attempt a second, not one
//! per request.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::cache::NO_EPOCH;

/// How often a suspect cache is probed.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The breaker's state, shared by every request of one store.
#[derive(Debug)]
pub(crate) struct CacheHealth {
    /// Even: trusted; odd: suspect. A failure moves it to the next odd number (so a probe can
    /// tell that a failure came in while it ran), a successful probe to the next even one.
    state: AtomicU64,
    /// When the next probe may start, in milliseconds since `origin`.
    next_probe: AtomicU64,
    origin: Instant,
    /// The epoch last seen; writes carry it. [`NO_EPOCH`] until the first probe.
    epoch: AtomicI64,
}

/// The right to probe, with the state seen when it was taken.
#[derive(Debug)]
pub(crate) struct Probe {
    state: u64,
}

impl CacheHealth {
    /// Suspect, with a probe due at once: the cache may hold what an earlier run of this
    /// process could not update before it stopped, so the first request starts a new epoch.
    pub(crate) fn new() -> Self {
        CacheHealth {
            state: AtomicU64::new(1),
            next_probe: AtomicU64::new(0),
            origin: Instant::now(),
            epoch: AtomicI64::new(NO_EPOCH),
        }
    }

    pub(crate) fn is_trusted(&self) -> bool {
        trusted(self.state.load(Ordering::Acquire))
    }

    /// The epoch a write must carry; read it *before* the database operation whose result
    /// is written, so a new epoch started meanwhile refuses the write.
    pub(crate) fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Records the current epoch as a read reported it.
    pub(crate) fn saw_epoch(&self, epoch: i64) {
        self.epoch.store(epoch, Ordering::Release);
    }

    /// A cache call failed: suspect until a probe succeeds, and none before the interval.
    pub(crate) fn failed(&self) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                Some(state + if trusted(state) { 1 } else { 2 })
            });
        self.next_probe
            .store(self.millis_from_now(PROBE_INTERVAL), Ordering::Release);
    }

    /// The right to probe a suspect cache, to one caller per interval.
    pub(crate) fn probe_due(&self) -> Option<Probe> {
        let state = self.state.load(Ordering::Acquire);
        let due = self.next_probe.load(Ordering::Acquire);
        if trusted(state) || self.millis_from_now(Duration::ZERO) < due {
            return None;
        }
        self.next_probe
            .compare_exchange(
                due,
                self.millis_from_now(PROBE_INTERVAL),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .ok()?;
        Some(Probe { state })
    }

    /// The probe started `epoch`: trusted again, unless a failure came in since it began.
    pub(crate) fn recovered(&self, probe: Probe, epoch: i64) -> bool {
        self.saw_epoch(epoch);
        self.state
            .compare_exchange(
                probe.state,
                probe.state + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Milliseconds since `origin` at `delay` from now.
    fn millis_from_now(&self, delay: Duration) -> u64 {
        u64::try_from((self.origin.elapsed() + delay).as_millis()).unwrap_or(u64::MAX)
    }

    /// A guard that reports a failure if dropped before [`CallGuard::finished`]: a cache
    /// call abandoned half-way (its request timed out) may still land, like a failed one.
    pub(crate) fn guard(&self) -> CallGuard<'_> {
        CallGuard { health: Some(self) }
    }
}

/// Whether a value of [`CacheHealth::state`] means trusted.
fn trusted(state: u64) -> bool {
    state.is_multiple_of(2)
}

/// See [`CacheHealth::guard`].
pub(crate) struct CallGuard<'a> {
    health: Option<&'a CacheHealth>,
}

impl CallGuard<'_> {
    pub(crate) fn finished(mut self) {
        self.health = None;
    }
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if let Some(health) = self.health {
            health.failed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted_health() -> CacheHealth {
        let health = CacheHealth::new();
        let probe = health.probe_due().expect("due at once");
        assert!(health.recovered(probe, 1));
        health
    }

    #[test]
    fn a_failure_makes_the_cache_suspect_until_a_probe_succeeds() {
        let health = trusted_health();
        assert!(
            health.probe_due().is_none(),
            "a trusted cache needs no probe"
        );
        health.failed();
        assert!(!health.is_trusted());
        assert!(health.probe_due().is_none(), "not before the interval");
        health.next_probe.store(0, Ordering::Release);
        let probe = health.probe_due().expect("due");
        assert!(health.probe_due().is_none(), "one prober at a time");
        assert!(health.recovered(probe, 7));
        assert!(health.is_trusted());
        assert_eq!(health.epoch(), 7);
    }

    #[test]
    fn a_new_cache_is_probed_before_it_is_used() {
        let health = CacheHealth::new();
        assert!(!health.is_trusted());
        let probe = health.probe_due().expect("due at once");
        assert!(health.recovered(probe, 3));
        assert!(health.is_trusted());
    }

    #[test]
    fn a_failure_during_a_probe_keeps_the_cache_suspect() {
        let health = trusted_health();
        health.failed();
        health.next_probe.store(0, Ordering::Release);
        let probe = health.probe_due().expect("due");
        health.failed(); // a call that began before the new epoch failed meanwhile
        assert!(!health.recovered(probe, 8));
        assert!(!health.is_trusted());
    }

    #[test]
    fn an_abandoned_call_counts_as_a_failure() {
        let health = trusted_health();
        health.guard().finished();
        assert!(health.is_trusted());
        drop(health.guard());
        assert!(!health.is_trusted());
    }
}
