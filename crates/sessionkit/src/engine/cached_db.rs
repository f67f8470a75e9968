//! `cached_db`: the database is the record of truth, the cache (`SESSION_CACHE_URL`) answers
//! reads. Writes go to the database first (with the same version check as `db`), then to the
//! cache; reads try the cache and fall back to the database on a miss.
//!
//! What it guarantees, and what a cache failure costs:
//!
//! - **A cache failure never fails a request.** Each cache call has its own
//!   `SESSION_CACHE_TIMEOUT` (default 0.25 s), well inside `SESSION_STORE_TIMEOUT`, and the
//!   database answers when the cache does not. Saves and logouts succeed once the database has
//!   them; a logout's 200 means the session is over.
//! - **With one application instance, nothing stale is ever served**: no write acknowledged
//!   by the database is hidden, no logged-out session comes back. Cache entries carry the
//!   record's version and the cache *epoch* they were written under, and every cache write is
//!   conditional (Redis runs it as one script): refused if its epoch is no longer current, or
//!   if the entry already holds a newer version. A delete leaves a short-lived fence (longer
//!   than any write already under way can take to land), so no late write revives the
//!   session. After any cache failure — an error, a timeout, a call abandoned half-way — the
//!   cache is *suspect*: reads and existence checks go to the database, writes skip the cache,
//!   and before the cache is read again the instance must start a new epoch in it, which
//!   disowns every entry written before the failure (`cache_health.rs`). An instance starts
//!   with a new epoch too, so this holds across restarts (at the cost of a cold cache: each
//!   session is read from the database once more).
//! - **A dead or hung cache costs about nothing per request**: a suspect cache is probed at
//!   most once a second (one request waits up to `SESSION_CACHE_TIMEOUT` for the probe); the
//!   others go straight to the database, at the `db` engine's speed.
//! - **With several instances**, an instance that did not see the failure (a partition
//!   between one instance and the cache) may read an entry the failing instance could not
//!   update or fence, until that instance starts a new epoch — on its first request after the
//!   cache is reachable again. Cache entries live at most [`MAX_ENTRY_AGE`] (then they are
//!   re-read from the database), which bounds that window even if the failing instance never
//!   comes back. Use `db` where that bound is not acceptable.
//! - Locks, listing a user's sessions and export always use the database.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Any, Database};
use time::OffsetDateTime;

use super::cache::{Cache, CacheRead, DELETED, NO_EPOCH};
use super::cache_health::CacheHealth;
use super::db::{Backend, SqlStore};
use super::store::{Addressing, Capabilities, RecordStore, RecordWrite, ScanPage, StoredRecord};
use super::{EngineError, Loaded};
use crate::telemetry;

/// The longest a cache entry lives, however far off the session's expiry: a bound on how long
/// another instance can serve an entry made stale by a cache failure it did not see.
pub const MAX_ENTRY_AGE: time::Duration = time::Duration::minutes(5);

/// A cache in front of a SQL table: on the pool sessionkit opens from `SESSION_DB_URL`, or on
/// the application's own ([`SqlStore::with_pool`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::cache::open_cache;
/// use sessionkit::engine::{CachedDbStore, RecordStore, ServerEngine, SqlStore};
/// use sessionkit::{EngineKind, Sessions, Settings};
/// use sessionkit::engine::Engine;
/// use sessionkit::engine::SessionKey;
///
/// let settings = Settings {
///     engine: EngineKind::CachedDb,
///     db_url: "sqlite::memory:".into(),
///     ..Settings::new("secret")
/// };
/// let cache = open_cache(&settings).await?;
/// let db = SqlStore::connect(&settings).await?;
/// let store = CachedDbStore::new(cache.clone(), db, &settings);
/// let engine = std::sync::Arc::new(ServerEngine::new(store, settings.store_timeout));
/// engine.migrate().await?;
/// let sessions = Sessions::new(engine.clone(), settings)?;
/// # let session = sessions.start(None).load().await?;
/// # session.insert("n", 1)?;
/// let cookie = session.save().await?.unwrap(); // a session saved
/// let address = SessionKey::parse(&cookie).unwrap().hashed();
/// cache.remove(&address).await?; // evicted from the cache (or the cache restarted)
/// assert!(engine.load(&cookie).await?.is_some()); // the database still has it
/// # Ok(()) }
/// ```
pub struct CachedDbStore<DB: Database = Any> {
    cache: Arc<dyn Cache>,
    db: SqlStore<DB>,
    health: CacheHealth,
    /// How long one cache call may take before the database answers instead.
    cache_timeout: Duration,
    /// How long a delete's fence stays: longer than a write issued before the delete can take
    /// to land (it was issued within one store call, and acknowledged within the cache timeout,
    /// or else the cache is suspect).
    fence_ttl: Duration,
}

impl<DB: Database> std::fmt::Debug for CachedDbStore<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDbStore")
            .field("db", &self.db)
            .field("cache_trusted", &self.health.is_trusted())
            .finish_non_exhaustive()
    }
}

/// How long `cached_db` waits: for each cache call before the database answers alone
/// (`SESSION_CACHE_TIMEOUT`), and for the database (`SESSION_STORE_TIMEOUT`), which bounds
/// how long a logout's fence must outlive a write in flight. `From<&Settings>` fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedDbTimeouts {
    /// `SESSION_CACHE_TIMEOUT`.
    pub cache: Duration,
    /// `SESSION_STORE_TIMEOUT`.
    pub store: Duration,
}

impl<DB: Backend> CachedDbStore<DB> {
    /// Composes `cache` over `db`, with `SESSION_CACHE_TIMEOUT` for each cache call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{CachedDbStore, MemoryStore, RecordStore, SqlStore};
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
    /// let db = SqlStore::connect(&settings).await?;
    /// let cache = std::sync::Arc::new(MemoryStore::new(10_000));
    /// let store = CachedDbStore::new(cache, db, &settings);
    /// assert_eq!(store.name(), "cached_db");
    /// # Ok(()) }
    /// ```
    pub fn new(
        cache: Arc<dyn Cache>,
        db: SqlStore<DB>,
        timeouts: impl Into<CachedDbTimeouts>,
    ) -> Self {
        let timeouts = timeouts.into();
        CachedDbStore {
            cache,
            db,
            health: CacheHealth::new(),
            cache_timeout: timeouts.cache,
            fence_ttl: timeouts
                .store
                .saturating_add(timeouts.cache)
                .saturating_add(Duration::from_secs(1)),
        }
    }

    /// The database behind the cache.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{CachedDbStore, MemoryStore, RecordStore, SqlStore};
    /// use sessionkit::Settings;
    ///
    /// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
    /// let db = SqlStore::connect(&settings).await?;
    /// let store = CachedDbStore::new(std::sync::Arc::new(MemoryStore::new(10)), db, &settings);
    /// store.db().migrate().await?; // work on the table itself, past the cache
    /// assert!(store.db().fetch_with_expiry(&"0".repeat(64)).await?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn db(&self) -> &SqlStore<DB> {
        &self.db
    }

    /// Whether the cache may be used now: it is trusted, or this caller's probe just made it
    /// so. A suspect cache is probed by one caller per interval; the others go without.
    async fn cache_usable(&self) -> bool {
        if self.health.is_trusted() {
            return true;
        }
        let Some(probe) = self.health.probe_due() else {
            return false;
        };
        match self.call(self.cache.new_epoch()).await {
            Ok(epoch) => {
                let trusted = self.health.recovered(probe, epoch);
                if trusted {
                    tracing::info!(epoch, "session cache trusted from a new epoch on");
                }
                trusted
            }
            Err(_) => false,
        }
    }

    /// Runs one cache call within the cache timeout; any failure — an error, the timeout,
    /// or the call being abandoned by its request — makes the cache suspect.
    async fn call<T>(
        &self,
        operation: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let guard = self.health.guard();
        let outcome = if self.cache.in_process() {
            operation.await
        } else {
            tokio::time::timeout(self.cache_timeout, operation)
                .await
                .unwrap_or_else(|_| {
                    Err(EngineError::unavailable(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "the session cache did not answer within {:?}",
                            self.cache_timeout
                        ),
                    )))
                })
        };
        guard.finished();
        if let Err(error) = &outcome {
            self.health.failed();
            tracing::warn!(%error, "session cache failed; using the database alone until it answers");
        }
        outcome
    }

    /// The cache's current entry, if the cache may be used and answers.
    async fn read_cache(&self, id: &str) -> Option<CacheRead> {
        if !self.cache_usable().await {
            return None;
        }
        let read = self.call(self.cache.read_current(id)).await.ok()?;
        self.health.saw_epoch(read.epoch);
        Some(read)
    }

    /// Copies a record the database holds into the cache, under `epoch` (read before the
    /// database was). Refused, harmlessly, if the cache moved on meanwhile.
    async fn write_cache(&self, id: &str, record: &Loaded, expires: OffsetDateTime, epoch: i64) {
        if epoch == NO_EPOCH || !self.cache_usable().await {
            return;
        }
        let expires = expires.min(OffsetDateTime::now_utc() + MAX_ENTRY_AGE);
        let _ = self
            .call(self.cache.write_if_newer(id, record, expires, epoch))
            .await;
    }

    /// Fences the cache entry of `id` at `version` (see [`Cache::fence`]). A failure makes
    /// the cache suspect, which keeps the entry from being served here until a new epoch
    /// disowns it.
    async fn fence_cache(&self, id: &str, version: i64) {
        if self.cache_usable().await {
            let _ = self
                .call(self.cache.fence(id, version, self.fence_ttl))
                .await;
        }
    }
}

#[async_trait]
impl<DB: Backend> RecordStore for CachedDbStore<DB> {
    fn name(&self) -> &'static str {
        "cached_db"
    }

    /// The database's: the cache only speeds up reads.
    fn capabilities(&self) -> Capabilities {
        self.db.capabilities()
    }

    /// Whatever the database uses, so both tiers agree on the record's address.
    fn addressing(&self) -> Addressing {
        self.db.addressing()
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        let epoch = match self.read_cache(id).await {
            Some(read) => match read.record {
                Some(record) => {
                    telemetry::cache_read("hit");
                    return Ok(Some(record));
                }
                None => {
                    telemetry::cache_read("miss");
                    read.epoch
                }
            },
            None => {
                telemetry::cache_read("bypassed");
                NO_EPOCH
            }
        };
        let Some((record, expires)) = self.db.fetch_with_expiry(id).await? else {
            return Ok(None);
        };
        self.write_cache(id, &record, expires, epoch).await;
        Ok(Some(record))
    }

    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        let RecordWrite { data, expires, .. } = write;
        let epoch = self.health.epoch();
        let inserted = self.db.insert(id, write).await?;
        if inserted {
            let record = Loaded {
                data: data.clone(),
                version: 1,
            };
            self.write_cache(id, &record, expires, epoch).await;
        }
        Ok(inserted)
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        let RecordWrite { data, expires, .. } = write;
        let epoch = self.health.epoch();
        if self.db.replace(id, version, write).await? {
            let record = Loaded {
                data: data.clone(),
                version: version + 1,
            };
            self.write_cache(id, &record, expires, epoch).await;
            Ok(true)
        } else {
            // The cached copy may be what misled this writer: the retry must not read it.
            self.fence_cache(id, version).await;
            Ok(false)
        }
    }

    /// Deleted from the database, then fenced in the cache; a cache failure does not undo
    /// the logout (see the module documentation).
    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.db.remove(id).await?;
        self.fence_cache(id, DELETED).await;
        Ok(())
    }

    /// Answered from the cache when it has the session, without a database query.
    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        match self.read_cache(id).await {
            Some(read) if read.record.is_some() => Ok(true),
            _ => self.db.contains(id).await,
        }
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.db.purge_expired(batch).await
    }

    async fn count_expired(&self) -> Result<Option<u64>, EngineError> {
        self.db.count_expired().await
    }

    async fn migrate(&self) -> Result<(), EngineError> {
        self.db.migrate().await
    }

    /// Locks live in the database, the one store every instance shares for sure.
    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        self.db.try_lock(id, token, lease).await
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        self.db.unlock(id, token).await
    }

    /// Listed from the database, the record of truth.
    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        self.db.by_user(user_id).await
    }

    /// Scanned in the database: the cache may have lost sessions, never the database.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        self.db.scan(cursor, limit).await
    }
}
