//! Metrics through the `metrics` facade (feature `metrics`), so any exporter the application
//! installs — Prometheus, StatsD, OpenTelemetry — gets them. The call sites are unconditional;
//! without the feature every function here is empty and compiles away.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `sessionkit_requests_total` | counter | `engine`, `outcome` (untouched, loaded, created, saved, rotated — saved under a new key, after `cycle_key` or a move out of a fallback engine —, flushed, failed) |
//! | `sessionkit_cookie_bytes` | histogram | `engine` |
//! | `sessionkit_store_call_seconds` | histogram | `store`, `op` |
//! | `sessionkit_store_errors_total` | counter | `store`, `op`, `kind` (unavailable, gone, conflict, unsupported) |
//! | `sessionkit_save_merges_total` | counter | `store`: saves that merged a concurrent change |
//! | `sessionkit_save_conflicts_total` | counter | `store`: saves that gave up |
//! | `sessionkit_lock_wait_seconds` | histogram | `engine`; `sessionkit_lock_timeouts_total` counts those that gave up |
//! | `sessionkit_cache_reads_total` | counter | `result` (hit, miss, bypassed): `cached_db`'s cache |
//! | `sessionkit_expired_removed_total` | counter | `engine` |

use std::time::Duration;

/// A request's session is done with: what happened, and the cookie's size if one was set.
pub(crate) fn request(engine: &'static str, outcome: &'static str, cookie_bytes: Option<usize>) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("sessionkit_requests_total", "engine" => engine, "outcome" => outcome)
            .increment(1);
        if let Some(bytes) = cookie_bytes {
            metrics::histogram!("sessionkit_cookie_bytes", "engine" => engine).record(bytes as f64);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (engine, outcome, cookie_bytes);
}

/// When a store call started; without the `metrics` feature it reads no clock, so the hot
/// path of an in-process store pays nothing for it.
#[derive(Clone, Copy)]
pub(crate) struct CallTimer {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl CallTimer {
    pub(crate) fn start() -> Self {
        CallTimer {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }
}

/// One store call, started at `timer`, ended, failing with an error of `error_kind`
/// ([`EngineError::kind`](crate::engine::EngineError::kind)) or not.
pub(crate) fn store_call(
    store: &'static str,
    op: &'static str,
    timer: CallTimer,
    error_kind: Option<&'static str>,
) {
    #[cfg(feature = "metrics")]
    {
        metrics::histogram!("sessionkit_store_call_seconds", "store" => store, "op" => op)
            .record(timer.started.elapsed().as_secs_f64());
        if let Some(kind) = error_kind {
            metrics::counter!("sessionkit_store_errors_total", "store" => store, "op" => op, "kind" => kind)
                .increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (store, op, timer, error_kind);
}

/// A save found the record changed and merged its changes into it.
pub(crate) fn save_merged(store: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("sessionkit_save_merges_total", "store" => store).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = store;
}

/// A save gave up after its retries.
pub(crate) fn save_conflict(store: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("sessionkit_save_conflicts_total", "store" => store).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = store;
}

/// A request waited `waited` for its session's lock, and got it or not.
pub(crate) fn lock_wait(engine: &'static str, waited: Duration, acquired: bool) {
    #[cfg(feature = "metrics")]
    {
        metrics::histogram!("sessionkit_lock_wait_seconds", "engine" => engine)
            .record(waited.as_secs_f64());
        if !acquired {
            metrics::counter!("sessionkit_lock_timeouts_total", "engine" => engine).increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (engine, waited, acquired);
}

/// `cached_db` read its cache: `hit`, `miss`, or `bypassed` (the cache is suspect).
#[cfg(feature = "_sql")]
pub(crate) fn cache_read(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("sessionkit_cache_reads_total", "result" => result).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}

/// The background expiry or `clearsessions` removed `removed` expired sessions.
pub(crate) fn expired_removed(engine: &'static str, removed: u64) {
    #[cfg(feature = "metrics")]
    metrics::counter!("sessionkit_expired_removed_total", "engine" => engine).increment(removed);
    #[cfg(not(feature = "metrics"))]
    let _ = (engine, removed);
}
