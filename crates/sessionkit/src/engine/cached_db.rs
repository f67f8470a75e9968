//! `cached_db`: the database is the record of truth, the cache (`SESSION_CACHE_URL`) answers
//! reads. Writes go to the database first (with the same version check as `db`), then refresh
//! the cache; reads try the cache and fall back to the database on a miss.
//!
//! A cache failure never fails a read or a save — it is logged and the database answers — but
//! a delete must reach the cache too, or a logged-out session could still be read from it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::cache::Cache;
use super::db::SqlStore;
use super::server::{Addressing, RecordStore, ScanPage, StoredRecord};
use super::{Data, EngineError, Loaded};
use crate::settings::EngineKind;

/// A cache in front of a SQL table.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::cache::open_cache;
/// use sessionkit::engine::{CachedDbStore, RecordStore, ServerEngine, SqlStore};
/// use sessionkit::{Engine, EngineKind, SessionKey, Sessions, Settings};
///
/// let settings = Settings {
///     engine: EngineKind::CachedDb,
///     db_url: "sqlite::memory:".into(),
///     ..Settings::new("secret")
/// };
/// let cache = open_cache(&settings).await?;
/// let store = CachedDbStore::new(cache.clone(), SqlStore::connect(&settings).await?);
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
pub struct CachedDbStore {
    cache: Arc<dyn Cache>,
    db: SqlStore,
}

impl std::fmt::Debug for CachedDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDbStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl CachedDbStore {
    /// Composes `cache` over `db`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{CachedDbStore, MemoryStore, RecordStore, SqlStore};
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
    /// let db = SqlStore::connect(&settings).await?;
    /// let store = CachedDbStore::new(std::sync::Arc::new(MemoryStore::new(10_000)), db);
    /// assert_eq!(store.kind(), EngineKind::CachedDb);
    /// # Ok(()) }
    /// ```
    pub fn new(cache: Arc<dyn Cache>, db: SqlStore) -> Self {
        CachedDbStore { cache, db }
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
    /// let store = CachedDbStore::new(std::sync::Arc::new(MemoryStore::new(10)), db);
    /// store.db().migrate().await?; // work on the table itself, past the cache
    /// assert!(store.db().fetch_with_expiry(&"0".repeat(64)).await?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn db(&self) -> &SqlStore {
        &self.db
    }

    /// Refreshes the cache after a database write; failure only costs a later cache miss.
    async fn refresh_cache(&self, id: &str, record: &Loaded, expires: OffsetDateTime) {
        if let Err(error) = self.cache.put(id, record, expires).await {
            tracing::warn!(%error, "session cache write failed; the database has the session");
        }
    }

    /// Drops a cache entry that may be stale; failure is logged (the entry expires anyway).
    async fn forget_cached(&self, id: &str) {
        if let Err(error) = self.cache.remove(id).await {
            tracing::warn!(%error, "could not drop a stale session from the cache");
        }
    }
}

#[async_trait]
impl RecordStore for CachedDbStore {
    fn kind(&self) -> EngineKind {
        EngineKind::CachedDb
    }

    /// Whatever the database uses, so both tiers agree on the record's address.
    fn addressing(&self) -> Addressing {
        self.db.addressing()
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        match self.cache.fetch(id).await {
            Ok(Some(record)) => return Ok(Some(record)),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "session cache read failed; asking the database"),
        }
        let Some((record, expires)) = self.db.fetch_with_expiry(id).await? else {
            return Ok(None);
        };
        self.refresh_cache(id, &record, expires).await;
        Ok(Some(record))
    }

    async fn insert(
        &self,
        id: &str,
        data: &Arc<Data>,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, EngineError> {
        let inserted = self.db.insert(id, data, expires, now).await?;
        if inserted {
            let record = Loaded {
                data: data.clone(),
                version: 1,
            };
            self.refresh_cache(id, &record, expires).await;
        }
        Ok(inserted)
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        data: &Arc<Data>,
        expires: OffsetDateTime,
    ) -> Result<bool, EngineError> {
        if self.db.replace(id, version, data, expires).await? {
            let record = Loaded {
                data: data.clone(),
                version: version + 1,
            };
            self.refresh_cache(id, &record, expires).await;
            Ok(true)
        } else {
            // The cached copy may be what misled this writer: the retry must read the database.
            self.forget_cached(id).await;
            Ok(false)
        }
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.db.remove(id).await?;
        self.cache.remove(id).await
    }

    /// Answered from the cache when it has the session, without a database query.
    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        match self.cache.contains(id).await {
            Ok(true) => Ok(true),
            Ok(false) => self.db.contains(id).await,
            Err(error) => {
                tracing::warn!(%error, "session cache read failed; asking the database");
                self.db.contains(id).await
            }
        }
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.db.purge_expired(batch).await
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
