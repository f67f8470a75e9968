//! Reading `SESSION_CACHE_URL`: which schemes it may have and what a `memory://` URL asks for.
//!
//! A leaf that imports nothing of the crate, so that settings validation and the cache engine
//! share one reading of the URL without settings depending on the engines.

/// Sessions an in-process cache holds unless `max_entries` says otherwise.
///
/// ```
/// use std::time::Duration;
/// use sessionkit::engine::cache::DEFAULT_MEMORY_ENTRIES;
/// use sessionkit::engine::{MemoryStore, ServerEngine};
/// use sessionkit::{EngineKind, Settings};
///
/// // What `SESSION_CACHE_URL=memory://` opens:
/// let store = MemoryStore::new(DEFAULT_MEMORY_ENTRIES);
/// let engine = ServerEngine::new(store, Duration::from_secs(5));
/// assert!(engine.store().is_empty());
/// // A smaller bound is `memory://?max_entries=N`, with N > 0:
/// let zero = Settings {
///     engine: EngineKind::Cache,
///     cache_url: "memory://?max_entries=0".into(),
///     ..Settings::new("secret")
/// };
/// assert_eq!(zero.validate().unwrap_err().setting, "SESSION_CACHE_URL");
/// ```
pub const DEFAULT_MEMORY_ENTRIES: usize = 100_000;

/// A `memory://` URL with options other than `?max_entries=N` (N > 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("memory://{query}: the only option is ?max_entries=N (N > 0)")]
pub(crate) struct BadMemoryUrl {
    /// The URL's options, as given.
    query: String,
}

/// The capacity a `memory://` URL asks for (the part after the scheme).
pub(crate) fn memory_capacity(query: &str) -> Result<usize, BadMemoryUrl> {
    let query = query.trim_start_matches('/').trim_start_matches('?');
    if query.is_empty() {
        return Ok(DEFAULT_MEMORY_ENTRIES);
    }
    query
        .strip_prefix("max_entries=")
        .and_then(|n| n.parse().ok())
        .filter(|n: &usize| *n > 0)
        .ok_or_else(|| BadMemoryUrl {
            query: query.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_take_only_max_entries() {
        assert_eq!(memory_capacity("").unwrap(), DEFAULT_MEMORY_ENTRIES);
        assert_eq!(memory_capacity("?max_entries=10").unwrap(), 10);
        assert!(memory_capacity("?max_entries=0").is_err());
        assert!(memory_capacity("?size=10").is_err());
    }
}
