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
        let labels = [("engine", engine), ("outcome", outcome)];
        keys::counter("sessionkit_requests_total", labels, 1);
        if let Some(bytes) = cookie_bytes {
            keys::histogram(
                "sessionkit_cookie_bytes",
                [("engine", engine)],
                bytes as f64,
            );
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
        let seconds = timer.started.elapsed().as_secs_f64();
        keys::histogram(
            "sessionkit_store_call_seconds",
            [("store", store), ("op", op)],
            seconds,
        );
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
    keys::counter("sessionkit_cache_reads_total", [("result", result)], 1);
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

/// The keys of the metrics recorded on every request, kept per thread. The `metrics` macros
/// build a key on every call, hashing its name and labels and allocating the labels (about
/// 500 instructions, and more than 2,000 for a request to the memory cache), whether or not a
/// recorder is installed. The recorder is still asked on every call, so a recorder installed
/// later, or a test's local one, gets every value.
#[cfg(feature = "metrics")]
mod keys {
    use std::cell::RefCell;

    use metrics::{Key, Label, Level, Metadata, Recorder};

    /// What the macros would give these metrics.
    static METADATA: Metadata<'static> =
        Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

    type Labels = Vec<(&'static str, &'static str)>;

    thread_local! {
        /// Each key with the name and labels it was built from. Label values come from small
        /// sets (engines, stores, operations, outcomes), so the list stays short.
        static KEYS: RefCell<Vec<(&'static str, Labels, Key)>> = const { RefCell::new(Vec::new()) };
    }

    /// Runs `record` with the recorder and the key of `name` and `labels`.
    fn with_key<const N: usize>(
        name: &'static str,
        labels: [(&'static str, &'static str); N],
        record: impl FnOnce(&dyn Recorder, &Key),
    ) {
        KEYS.with(|cell| {
            // Shared borrows nest, should a recorder record one of these itself.
            if let Ok(keys) = cell.try_borrow()
                && let Some((_, _, key)) = keys
                    .iter()
                    .find(|(n, l, _)| same(n, name) && same_labels(l, &labels))
            {
                return metrics::with_recorder(|recorder| record(recorder, key));
            }
            let labels_of_key = labels.iter().map(|&(key, value)| Label::new(key, value));
            let key = Key::from_parts(name, labels_of_key.collect::<Vec<_>>());
            metrics::with_recorder(|recorder| record(recorder, &key));
            if let Ok(mut keys) = cell.try_borrow_mut() {
                keys.push((name, labels.to_vec(), key));
            }
        });
    }

    /// The same string: the same literal or `name()` of the same engine, compared by address,
    /// not text. A string equal in text at another address only adds a key with the same name
    /// and labels, which the recorder counts as one.
    fn same(a: &'static str, b: &'static str) -> bool {
        std::ptr::eq(a, b)
    }

    fn same_labels(a: &[(&'static str, &'static str)], b: &[(&'static str, &'static str)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(a, b)| same(a.0, b.0) && same(a.1, b.1))
    }

    pub(super) fn counter<const N: usize>(
        name: &'static str,
        labels: [(&'static str, &'static str); N],
        increment: u64,
    ) {
        with_key(name, labels, |recorder, key| {
            recorder
                .register_counter(key, &METADATA)
                .increment(increment);
        });
    }

    pub(super) fn histogram<const N: usize>(
        name: &'static str,
        labels: [(&'static str, &'static str); N],
        value: f64,
    ) {
        with_key(name, labels, |recorder, key| {
            recorder.register_histogram(key, &METADATA).record(value);
        });
    }
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    #[test]
    fn kept_keys_reach_whichever_recorder_is_installed_and_same_labels_count_as_one() {
        // Recorded with no recorder first, so the keys are kept before the recorder exists.
        request("cache", "saved", Some(100));
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // The same label text at another address.
        let cache_elsewhere: &'static str = Box::leak(String::from("cache").into_boxed_str());
        metrics::with_local_recorder(&recorder, || {
            request("cache", "saved", Some(100));
            request(cache_elsewhere, "saved", Some(300));
            request("cache", "loaded", None);
            store_call("cache", "fetch", CallTimer::start(), None);
        });
        let text = handle.render();
        let line = |series: &str| {
            text.lines()
                .find(|line| line.starts_with(series))
                .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
                .to_owned()
        };
        assert_eq!(
            line(r#"sessionkit_requests_total{engine="cache",outcome="saved"}"#),
            r#"sessionkit_requests_total{engine="cache",outcome="saved"} 2"#
        );
        assert!(
            line(r#"sessionkit_requests_total{engine="cache",outcome="loaded"}"#).ends_with(" 1")
        );
        assert!(line(r#"sessionkit_cookie_bytes_sum{engine="cache"}"#).ends_with(" 400"));
        assert!(
            line(r#"sessionkit_store_call_seconds_count{store="cache",op="fetch"}"#)
                .ends_with(" 1")
        );
    }
}
