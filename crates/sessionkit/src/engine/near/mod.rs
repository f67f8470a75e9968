//! The near cache (`SESSION_NEAR_CACHE`): recently used records kept in this process, so a
//! request that only reads its session costs no store round trip, and one that writes costs
//! one (the versioned `replace`, which detects a stale copy; the save path then reloads and
//! merges as for any race).
//!
//! Another instance's changes are seen through an invalidation channel: Redis client-side
//! caching (`near/redis.rs`), PostgreSQL `LISTEN/NOTIFY` on deletes (`near/postgres.rs`);
//! and, for every store, the TTL: no entry is served longer than `SESSION_NEAR_CACHE_TTL`
//! after it was fetched. While a channel is down the cache is emptied and bypassed, so a lost channel never
//! serves data that may be stale beyond the TTL.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::store::{Addressing, Capabilities, RecordStore, RecordWrite, ScanPage, StoredRecord};
use super::{EngineError, Loaded};

mod entries;
#[cfg(any(feature = "postgres", feature = "redis"))]
mod listener;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "redis")]
pub(crate) mod redis;

use entries::Entries;
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) use listener::Listener;
#[cfg(any(feature = "postgres", feature = "redis"))]
use listener::spawn_listener;
#[cfg(feature = "postgres")]
pub(crate) use postgres::PostgresChannel;
#[cfg(feature = "redis")]
pub(crate) use redis::RedisChannel;

/// Where a near cache learns of changes made by other instances.
#[derive(Debug, Clone)]
pub(crate) enum Channel {
    /// None: entries are trusted for the TTL.
    TtlOnly,
    /// Redis client-side caching on the Redis store's own connection.
    #[cfg(feature = "redis")]
    Redis(RedisChannel),
    /// PostgreSQL notifications of deleted rows.
    #[cfg(feature = "postgres")]
    Postgres(PostgresChannel),
}

/// How big the near cache is and how long an entry is trusted without a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearCacheConfig {
    /// `SESSION_NEAR_CACHE_MAX_ENTRIES`, default 10,000: records kept, least recently used
    /// out first.
    pub max_entries: usize,
    /// `SESSION_NEAR_CACHE_TTL`, default 1 s: an entry fetched longer ago is fetched again;
    /// the staleness bound for changes no channel reports.
    pub ttl: Duration,
}

impl Default for NearCacheConfig {
    fn default() -> Self {
        NearCacheConfig {
            max_entries: 10_000,
            ttl: Duration::from_secs(1),
        }
    }
}

/// The cache state the store and its invalidation channel share.
#[derive(Debug)]
pub(crate) struct Shared {
    entries: Mutex<Entries>,
    /// Moves on with every invalidation: a fetch or write that began before one must not
    /// fill the cache with what it read (it may be the record just deleted elsewhere).
    epoch: AtomicU64,
    /// Whether entries may be served: false while the channel is down.
    live: AtomicBool,
}

impl Shared {
    fn new(config: NearCacheConfig, live: bool) -> Self {
        Shared {
            entries: Mutex::new(Entries::new(config.max_entries, config.ttl)),
            epoch: AtomicU64::new(0),
            live: AtomicBool::new(live),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves a map that is still a valid cache.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Another instance changed or deleted the record at `id`.
    pub(crate) fn invalidate(&self, id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries().remove(id);
    }

    /// Every entry may be stale (the store was flushed, or the channel restarted).
    #[cfg(any(feature = "postgres", feature = "redis"))]
    pub(crate) fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries().clear();
    }

    fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Keeps `record` unless an invalidation came after `epoch` (then the store may have
    /// moved on since it was read) or the cache is bypassed. Either way the entry held
    /// before goes: `record` is newer than it, so it is stale.
    fn fill(&self, epoch: u64, id: &str, record: Loaded, expires: Option<OffsetDateTime>) {
        let mut entries = self.entries();
        // Under the lock: an invalidation takes the lock after moving the epoch on.
        if self.is_live() && self.epoch() == epoch {
            entries.put(id, record, expires);
        } else {
            entries.remove(id);
        }
    }
}

/// A [`RecordStore`] that keeps recently used records of `S` in this process.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sessionkit::engine::{Data, MemoryStore, NearCacheConfig, NearCacheStore, RecordStore, RecordWrite};
///
/// let store = NearCacheStore::ttl_only(Arc::new(MemoryStore::new(10)), NearCacheConfig::default());
/// let data = Arc::new(Data::new());
/// let now = time::OffsetDateTime::now_utc();
/// let write = RecordWrite::new(&data, now + time::Duration::hours(1), now);
/// assert!(store.insert("a", write).await?);
/// assert_eq!(store.cached(), 1); // the insert filled the cache
/// assert!(store.replace("a", 1, write).await?); // writes go to the store, versioned
/// assert_eq!(store.fetch("a").await?.unwrap().version, 2);
/// store.remove("a").await?;
/// assert_eq!(store.cached(), 0);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NearCacheStore<S: ?Sized> {
    inner: Arc<S>,
    shared: Arc<Shared>,
}

impl<S: RecordStore + ?Sized> NearCacheStore<S> {
    /// A near cache bounded by the TTL alone: for stores without a push channel (SQLite,
    /// MySQL, files), where a change elsewhere is seen within `config.ttl`.
    pub fn ttl_only(inner: Arc<S>, config: NearCacheConfig) -> Self {
        Self::with_channel(inner, config, Channel::TtlOnly)
    }

    /// A near cache told of changes by `channel`, which it starts listening on; it serves
    /// nothing until the channel is up. Needs a Tokio runtime.
    pub(crate) fn with_channel(inner: Arc<S>, config: NearCacheConfig, channel: Channel) -> Self {
        let store = NearCacheStore {
            inner,
            shared: Arc::new(Shared::new(config, matches!(channel, Channel::TtlOnly))),
        };
        match channel {
            Channel::TtlOnly => {}
            #[cfg(feature = "redis")]
            Channel::Redis(redis) => spawn_listener(redis, &store.shared),
            #[cfg(feature = "postgres")]
            Channel::Postgres(postgres) => spawn_listener(postgres, &store.shared),
        }
        store
    }

    /// How many records are kept now.
    pub fn cached(&self) -> usize {
        self.shared.entries().len()
    }

    /// Whether entries are served (false while the invalidation channel is down).
    pub fn is_serving(&self) -> bool {
        self.shared.is_live()
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: RecordStore + ?Sized> RecordStore for NearCacheStore<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn addressing(&self) -> Addressing {
        self.inner.addressing()
    }

    fn in_process(&self) -> bool {
        self.inner.in_process()
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        if self.shared.is_live()
            && let Some(hit) = self.shared.entries().get(id, OffsetDateTime::now_utc())
        {
            return Ok(Some(hit));
        }
        let epoch = self.shared.epoch();
        let Some(stored) = self.inner.fetch(id).await? else {
            return Ok(None);
        };
        // A fetch tells no expiry: the TTL, far shorter than any session, bounds the entry.
        self.shared.fill(epoch, id, stored.clone(), None);
        Ok(Some(stored))
    }

    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        let epoch = self.shared.epoch();
        let inserted = self.inner.insert(id, write).await?;
        if inserted {
            self.shared
                .fill(epoch, id, written(write, 1), Some(write.expires));
        }
        Ok(inserted)
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        let epoch = self.shared.epoch();
        match self.inner.replace(id, version, write).await {
            Ok(true) => {
                self.shared
                    .fill(epoch, id, written(write, version + 1), Some(write.expires));
                Ok(true)
            }
            other => {
                // Stale or gone (or unknown): the save path fetches it again, from the store.
                self.shared.entries().remove(id);
                other
            }
        }
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.shared.invalidate(id);
        let removed = self.inner.remove(id).await;
        // Again, after: a fetch that raced the delete may have filled the cache meanwhile.
        self.shared.invalidate(id);
        removed
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.inner.purge_expired(batch).await
    }

    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        self.inner.contains(id).await
    }

    async fn migrate(&self) -> Result<(), EngineError> {
        self.inner.migrate().await
    }

    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        self.inner.try_lock(id, token, lease).await
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        self.inner.unlock(id, token).await
    }

    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        self.inner.by_user(user_id).await
    }

    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        self.inner.scan(cursor, limit).await
    }
}

/// The record a successful write left at `version`.
fn written(write: RecordWrite<'_>, version: i64) -> Loaded {
    Loaded {
        data: write.data.clone(),
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Data, MemoryStore};

    fn store() -> NearCacheStore<MemoryStore> {
        NearCacheStore::ttl_only(Arc::new(MemoryStore::new(10)), NearCacheConfig::default())
    }

    fn record(version: i64) -> Loaded {
        Loaded {
            data: Arc::new(Data::new()),
            version,
        }
    }

    #[test]
    fn a_fill_skipped_by_another_records_invalidation_still_drops_the_old_entry() {
        // The lost update this prevents: a write's fill skipped (another session was
        // invalidated meanwhile) left the copy from before the write to be served next.
        let store = store();
        let now = OffsetDateTime::now_utc();
        store
            .shared
            .fill(store.shared.epoch(), "a", record(1), None);
        let before_write = store.shared.epoch();
        store.shared.invalidate("b");
        store.shared.fill(before_write, "a", record(2), None);
        assert!(store.shared.entries().get("a", now).is_none());
    }

    #[cfg(any(feature = "postgres", feature = "redis"))]
    #[test]
    fn nothing_is_served_or_kept_while_the_channel_is_down() {
        let store = store();
        let now = OffsetDateTime::now_utc();
        store
            .shared
            .fill(store.shared.epoch(), "a", record(1), None);
        store.shared.channel_down("test", "lost");
        assert_eq!(store.cached(), 0);
        assert!(!store.is_serving());
        store
            .shared
            .fill(store.shared.epoch(), "a", record(1), None);
        assert_eq!(store.cached(), 0);
        store.shared.channel_up();
        store
            .shared
            .fill(store.shared.epoch(), "a", record(1), None);
        assert_eq!(
            store.shared.entries().get("a", now).map(|r| r.version),
            Some(1)
        );
    }

    #[tokio::test]
    async fn a_refused_write_drops_the_copy_and_the_next_fetch_asks_the_store() {
        let store = store();
        let data = Arc::new(Data::new());
        let now = OffsetDateTime::now_utc();
        let write = RecordWrite::new(&data, now + time::Duration::hours(1), now);
        assert!(store.insert("a", write).await.unwrap());
        // Another instance moves the record on behind this cache's back.
        assert!(store.inner().replace("a", 1, write).await.unwrap());
        assert!(!store.replace("a", 1, write).await.unwrap());
        assert_eq!(store.cached(), 0);
        assert_eq!(store.fetch("a").await.unwrap().unwrap().version, 2);
    }
}
