//! `cache`: sessions in a cache, chosen by `SESSION_CACHE_URL`:
//! - `redis://host[:port][/db]`: shared by every app instance. Each session is a Redis hash
//!   (`d` = the data as JSON, `v` = its version) under `SESSION_CACHE_KEY_PREFIX` + the key's
//!   SHA-256, with the session's expiry as the Redis TTL, so Redis evicts it on its own.
//!   Conditional writes are Lua scripts, so they are atomic on the server. As `cached_db`'s
//!   cache ([`Cache`]), its entries also hold `e`, the epoch they were written under, and
//!   the current epoch is a counter at `SESSION_CACHE_KEY_PREFIX` + `epoch`.
//! - `memory://[?max_entries=N]`: this process only, bounded (default 100 000 sessions); when
//!   full it drops expired sessions first, then those closest to expiry.
//!
//! Like Django's cache backend, a cache may lose sessions (eviction, restart without
//! persistence); use `db` or `cached_db` where that is not acceptable.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::store::RecordStore;
use super::{EngineError, Loaded};
use crate::cache_url::memory_capacity;
use crate::config::ConfigError;

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use crate::cache_url::DEFAULT_MEMORY_ENTRIES;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// No epoch: what `cached_db` holds before it has seen one. No cache ever has it, so nothing
/// is written under it.
pub const NO_EPOCH: i64 = i64::MIN;

/// A version no write ever reaches: a fence at it keeps every write out (a deleted session).
pub const DELETED: i64 = i64::MAX;

/// What [`Cache::read_current`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheRead {
    /// The entry, if one was written under the current epoch and holds data (not a fence).
    pub record: Option<Loaded>,
    /// The current epoch: what a write of data read from the database *after* this must carry.
    pub epoch: i64,
}

/// A cache in front of a record of truth (what `cached_db` needs): entries carry the version
/// of the record they copy and the *epoch* they were written under, so that after a failure
/// everything written before it can be disowned at once ([`Cache::new_epoch`]) and a late
/// write can never overwrite fresher data or bring a deleted session back.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use sessionkit::engine::SessionKey;
/// use sessionkit::engine::cache::DELETED;
/// use sessionkit::engine::{Cache, Data, JsonText, Loaded, MemoryStore};
///
/// let cache = MemoryStore::new(100);
/// let epoch = cache.new_epoch().await?; // what a cache user does first
/// let id = SessionKey::generate().hashed();
/// let v = |version| Loaded {
///     data: Arc::new(Data::from_iter([("n", JsonText::from(version))])),
///     version,
/// };
/// let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
/// assert_eq!(cache.read_current(&id).await?.epoch, epoch);
/// assert!(cache.write_if_newer(&id, &v(2), expires, epoch).await?);
/// assert!(!cache.write_if_newer(&id, &v(1), expires, epoch).await?); // older: refused
/// assert_eq!(cache.read_current(&id).await?.record, Some(v(2)));
///
/// cache.fence(&id, DELETED, Duration::from_secs(5)).await?; // logged out
/// assert!(!cache.write_if_newer(&id, &v(3), expires, epoch).await?); // never revived
///
/// let other = SessionKey::generate().hashed();
/// cache.write_if_newer(&other, &v(1), expires, epoch).await?;
/// cache.new_epoch().await?; // after a failure: disown everything written so far
/// assert_eq!(cache.read_current(&other).await?.record, None);
/// assert!(!cache.write_if_newer(&other, &v(1), expires, epoch).await?); // a late write
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Cache: RecordStore {
    /// The entry of `id` if it was written under the current epoch (older ones are ignored),
    /// with that epoch — in one round trip. Fails if the cache has no epoch (it lost its
    /// data): it is not to be trusted again before [`Cache::new_epoch`].
    async fn read_current(&self, id: &str) -> Result<CacheRead, EngineError>;

    /// Stores `record` as the entry of `id` until `expires`, only if `epoch` is still the
    /// current epoch and the current entry holds no newer version (nor a fence at this version
    /// or a newer one). Returns whether it was written.
    async fn write_if_newer(
        &self,
        id: &str,
        record: &Loaded,
        expires: OffsetDateTime,
        epoch: i64,
    ) -> Result<bool, EngineError>;

    /// Replaces the entry of `id` by a fence that refuses, for `ttl`, every write of `version`
    /// or older — unless the entry already holds a newer version. [`DELETED`] fences out
    /// every write: what a delete leaves, so a write already under way cannot revive it.
    async fn fence(&self, id: &str, version: i64, ttl: Duration) -> Result<(), EngineError>;

    /// Starts a new epoch and returns it: every entry written before is ignored from now on,
    /// and every write still carrying an older epoch is refused.
    async fn new_epoch(&self) -> Result<i64, EngineError>;
}

/// Which cache to open and how long to wait for it. `From<&Settings>` fills it from
/// `SESSION_CACHE_URL`, `SESSION_CACHE_KEY_PREFIX` and the timeout of the engine it serves
/// (`SESSION_CACHE_TIMEOUT` under `cached_db`, else `SESSION_STORE_TIMEOUT`).
///
/// ```
/// use sessionkit::{EngineKind, Settings};
/// use sessionkit::engine::cache::CacheConfig;
///
/// let settings = Settings { engine: EngineKind::CachedDb, ..Settings::new("secret") };
/// let config = CacheConfig::from(&settings);
/// assert_eq!(config.timeout, settings.cache_timeout); // the database answers if it is slow
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// `SESSION_CACHE_URL`: `memory://[?max_entries=N]`, `redis://`, `rediss://`,
    /// `redis+unix://`, `redis+cluster://` (`rediss+cluster://`) or `redis+sentinel://`
    /// (`rediss+sentinel://`).
    pub url: String,
    /// `SESSION_CACHE_KEY_PREFIX`: namespaces the keys in a shared Redis.
    pub key_prefix: String,
    /// `SESSION_STORE_CA_FILE`: for a `rediss…://` URL, the PEM CAs Redis's certificate is
    /// checked against instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// The longest a cache call may take.
    pub timeout: Duration,
    /// `SESSION_REDIS_WAIT_REPLICAS`: on Redis, how many replicas a session write waits for
    /// (`WAIT`) before it counts as done; 0, the default, waits for none.
    pub wait_replicas: u32,
}

/// Opens the cache `SESSION_CACHE_URL` names.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::cache::open_cache;
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings { cache_url: "memory://?max_entries=10".into(), ..Settings::new("s") };
/// let cache = open_cache(&settings).await?;
/// assert_eq!(cache.name(), "cache");
/// let bad_url = Settings { cache_url: "redis://[bad".into(), ..Settings::new("s") };
/// assert!(open_cache(&bad_url).await.is_err()); // an EngineError: the app cannot start
/// # Ok(()) }
/// ```
pub async fn open_cache(config: impl Into<CacheConfig>) -> Result<Arc<dyn Cache>, EngineError> {
    let config = config.into();
    let url = config.url.as_str();
    if let Some(query) = url.strip_prefix("memory://") {
        let capacity = memory_capacity(query)
            .map_err(|bad| EngineError::unavailable(ConfigError::from(bad)))?;
        Ok(Arc::new(MemoryStore::new(capacity)))
    } else {
        open_redis(config).await
    }
}

#[cfg(feature = "redis")]
async fn open_redis(config: CacheConfig) -> Result<Arc<dyn Cache>, EngineError> {
    Ok(Arc::new(RedisStore::connect(config).await?))
}

/// Without the feature the settings are refused first; this says the same to a direct caller.
#[cfg(not(feature = "redis"))]
async fn open_redis(config: CacheConfig) -> Result<Arc<dyn Cache>, EngineError> {
    crate::features::check(crate::EngineKind::Cache, "", &config.url)
        .map_err(EngineError::unavailable)?;
    Err(EngineError::unavailable(ConfigError::new(
        "SESSION_CACHE_URL",
        "is not a memory:// URL, and this build has no other cache",
    )))
}
