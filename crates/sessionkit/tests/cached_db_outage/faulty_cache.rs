//! `cached_db` over a cache that fails or holds its writes back on command ([`FaultyCache`]):
//! a dead cache is probed, not hit on every request, and a cache write that lands late, after
//! a delete or a failure, is never served.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;
use sessionkit::engine::cache::CacheRead;
use sessionkit::engine::{
    Cache, CachedDbStore, Capabilities, Engine, EngineError, Loaded, MemoryStore, RecordStore,
    RecordWrite, ScanPage, ServerEngine, SessionKey, SqlStore, StoredRecord,
};
use sessionkit::{EngineKind, Sessions, Settings};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::{SECRET, TempDb};

/// A memory cache that can be made to fail, or to hold writes back until released, and that
/// counts the calls `cached_db` makes to it. A held write runs as a task of its own, as a
/// command sent over the network would: abandoning the call does not stop it landing.
struct FaultyCache {
    inner: Arc<MemoryStore>,
    down: AtomicBool,
    hold_writes: AtomicBool,
    /// Signalled when a write is being held; signal it back to let the write land.
    write_held: Arc<Notify>,
    release: Arc<Notify>,
    calls: AtomicUsize,
}

impl FaultyCache {
    fn new() -> Self {
        FaultyCache {
            inner: Arc::new(MemoryStore::new(1000)),
            down: AtomicBool::new(false),
            hold_writes: AtomicBool::new(false),
            write_held: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
            calls: AtomicUsize::new(0),
        }
    }

    /// Counts the call, and fails it if the cache is down.
    fn answer(&self) -> Result<(), EngineError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(EngineError::unavailable(std::io::Error::other(
                "cache down",
            )));
        }
        Ok(())
    }
}

/// Only the `Cache` calls matter to `cached_db`; the record operations go straight through.
#[async_trait]
impl RecordStore for FaultyCache {
    fn name(&self) -> &'static str {
        "faulty cache"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        self.inner.fetch(id).await
    }
    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        self.inner.insert(id, write).await
    }
    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        self.inner.replace(id, version, write).await
    }
    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.inner.remove(id).await
    }
    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.inner.purge_expired(batch).await
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

#[async_trait]
impl Cache for FaultyCache {
    async fn read_current(&self, id: &str) -> Result<CacheRead, EngineError> {
        self.answer()?;
        self.inner.read_current(id).await
    }

    async fn write_if_newer(
        &self,
        id: &str,
        record: &Loaded,
        expires: OffsetDateTime,
        epoch: i64,
    ) -> Result<bool, EngineError> {
        self.answer()?;
        let (inner, id, record) = (self.inner.clone(), id.to_owned(), record.clone());
        let held = self.hold_writes.load(Ordering::SeqCst);
        let (write_held, release) = (self.write_held.clone(), self.release.clone());
        let write = tokio::spawn(async move {
            if held {
                write_held.notify_one();
                release.notified().await;
            }
            inner.write_if_newer(&id, &record, expires, epoch).await
        });
        write.await.expect("the write task")
    }

    async fn fence(&self, id: &str, version: i64, ttl: Duration) -> Result<(), EngineError> {
        self.answer()?;
        self.inner.fence(id, version, ttl).await
    }

    async fn new_epoch(&self) -> Result<i64, EngineError> {
        self.answer()?;
        self.inner.new_epoch().await
    }
}

/// An engine on `cached_db` over `cache` and a SQLite file, as `open` would build it.
async fn engine_over(
    cache: Arc<FaultyCache>,
    db: &TempDb,
    cache_timeout: Duration,
) -> (Arc<ServerEngine<CachedDbStore>>, Sessions) {
    let settings = Settings {
        engine: EngineKind::CachedDb,
        db_url: db.url(),
        cache_timeout,
        ..Settings::new(SECRET)
    };
    let store = CachedDbStore::new(
        cache,
        SqlStore::connect(&settings).await.unwrap(),
        &settings,
    );
    let engine = Arc::new(ServerEngine::new(store, settings.store_timeout));
    engine.migrate().await.unwrap();
    let sessions = Sessions::new(engine.clone(), settings).unwrap();
    (engine, sessions)
}

/// A saved session holding `{"n": n}`; its cookie value.
async fn saved(sessions: &Sessions, n: i64) -> String {
    let session = sessions.start(None).load().await.unwrap();
    session.insert("n", n).unwrap();
    session.save().await.unwrap().unwrap()
}

fn address(cookie: &str) -> String {
    SessionKey::parse(cookie).unwrap().hashed()
}

#[tokio::test]
async fn a_dead_cache_is_probed_not_hit_on_every_request() {
    let db = TempDb::new();
    let cache = Arc::new(FaultyCache::new());
    let (engine, sessions) = engine_over(cache.clone(), &db, Duration::from_millis(250)).await;
    let cookie = saved(&sessions, 1).await;
    engine.load(&cookie).await.unwrap(); // the cache's epoch is known from here on

    cache.down.store(true, Ordering::SeqCst);
    let calls_before = cache.calls.load(Ordering::SeqCst);
    let started = Instant::now();
    for n in 2..=101 {
        let session = sessions.start(Some(&cookie)).load().await.unwrap();
        assert_eq!(session.get::<i64>("n").unwrap(), Some(n - 1));
        session.insert("n", n).unwrap();
        session.save().await.expect("saved in the database");
    }
    let calls = cache.calls.load(Ordering::SeqCst) - calls_before;
    // The failure itself, then one probe per second at most.
    let allowed = 2 + started.elapsed().as_secs() as usize;
    assert!(calls <= allowed, "{calls} cache calls for 200 store calls");

    // Back up, still holding the counter at 1 (written before it went down): never served.
    cache.down.store(false, Ordering::SeqCst);
    let cached_counter = || async {
        let read = cache.inner.read_current(&address(&cookie)).await.unwrap();
        read.record.map(|record| record.data["n"].to_value())
    };
    assert_eq!(cached_counter().await, Some(json!(1)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while cached_counter().await != Some(json!(101)) {
        assert!(Instant::now() < deadline, "the cache is never used again");
        assert_eq!(
            engine.load(&cookie).await.unwrap().unwrap().data["n"],
            json!(101)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_late_cache_write_never_revives_a_deleted_session() {
    let db = TempDb::new();
    let cache = Arc::new(FaultyCache::new());
    // Long enough that the held write is late, not failed: only the fence stops it.
    let (engine, sessions) = engine_over(cache.clone(), &db, Duration::from_secs(4)).await;
    let cookie = saved(&sessions, 1).await;
    engine.load(&cookie).await.unwrap();
    cache.inner.remove(&address(&cookie)).await.unwrap(); // evicted: the next read refills

    cache.hold_writes.store(true, Ordering::SeqCst);
    let reader = tokio::spawn({
        let (engine, cookie) = (engine.clone(), cookie.clone());
        async move { engine.load(&cookie).await }
    });
    cache.write_held.notified().await; // the reader read the database, its refill is held
    cache.hold_writes.store(false, Ordering::SeqCst);
    engine.delete(&cookie).await.unwrap(); // logout meanwhile
    cache.release.notify_one();
    assert!(
        reader.await.unwrap().unwrap().is_some(),
        "read before the logout"
    );

    assert!(
        engine.load(&cookie).await.unwrap().is_none(),
        "stays logged out"
    );
    assert!(!engine.exists(&cookie).await.unwrap());
    let entry = cache.inner.read_current(&address(&cookie)).await.unwrap();
    assert_eq!(entry.record, None, "the late write was refused");
}

#[tokio::test]
async fn a_cache_write_that_lands_after_a_failure_is_never_served() {
    let db = TempDb::new();
    let cache = Arc::new(FaultyCache::new());
    let (engine, sessions) = engine_over(cache.clone(), &db, Duration::from_millis(100)).await;
    let cookie = saved(&sessions, 1).await;
    engine.load(&cookie).await.unwrap();
    cache.inner.remove(&address(&cookie)).await.unwrap();

    cache.hold_writes.store(true, Ordering::SeqCst);
    // The refill is held past the cache timeout: a failure, the cache is suspect.
    assert!(engine.load(&cookie).await.unwrap().is_some());
    cache.hold_writes.store(false, Ordering::SeqCst);
    engine.delete(&cookie).await.unwrap();
    cache.release.notify_one(); // the refill lands now, after the logout
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache
        .inner
        .read_current(&address(&cookie))
        .await
        .unwrap()
        .record
        .is_none()
    {
        assert!(Instant::now() < deadline, "the late write never landed");
        tokio::task::yield_now().await;
    }

    // Served from the database until the cache is trusted again, then disowned by the new
    // epoch: the session stays logged out throughout.
    let landed_epoch = cache.inner.read_current("").await.unwrap().epoch;
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.inner.read_current("").await.unwrap().epoch == landed_epoch {
        assert!(Instant::now() < deadline, "the cache never came back");
        assert!(engine.load(&cookie).await.unwrap().is_none());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(engine.load(&cookie).await.unwrap().is_none());
    assert!(!engine.exists(&cookie).await.unwrap());
}
