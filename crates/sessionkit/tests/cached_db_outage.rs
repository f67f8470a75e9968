//! `cached_db` when its cache fails: requests keep working from the database, and once the
//! cache is back nothing it holds from before is served — no acknowledged write hidden, no
//! logged-out session signed in again. Redis is a private `redis-server` (sessionkit-testkit)
//! that keeps its data through the outage: suspended (SIGSTOP), so calls hang; cut off by a
//! partitioned proxy, so connections drop and new ones hang; or refusing clients (a password
//! set, connections dropped), so calls fail at once. SQLite is a temporary file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use sessionkit::engine::Engine;
use sessionkit::engine::EngineError;
use sessionkit::engine::SessionKey;
use sessionkit::engine::cache::{CacheRead, DELETED};
use sessionkit::engine::{
    Cache, CachedDbStore, Capabilities, Data, JsonText, Loaded, MemoryStore, RecordStore,
    RecordWrite, RedisStore, ScanPage, ServerEngine, SqlStore, StoredRecord,
};
use sessionkit::{EngineKind, Session, SessionError};
use sessionkit::{Sessions, Settings};
use sessionkit_testkit::{PrivateRedis, TcpProxy, TempDir};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tower::ServiceExt;

const SECRET: &str = "cached-db-outage-secret";

/// A SQLite file in a temporary directory of its own, removed on drop.
struct TempDb(TempDir);

impl TempDb {
    fn new() -> TempDb {
        TempDb(TempDir::new("cached-db-sqlite").expect("a temporary directory"))
    }

    fn url(&self) -> String {
        format!(
            "sqlite://{}",
            self.0.path().join("sessions.sqlite3").display()
        )
    }
}

async fn incr(session: Session) -> Result<String, SessionError> {
    let n: i64 = session.get("n")?.unwrap_or(0) + 1;
    session.insert("n", n)?;
    Ok(n.to_string())
}

/// The counter, read without changing the session (no save).
async fn read(session: Session) -> Result<String, SessionError> {
    Ok(session
        .get::<i64>("n")?
        .map_or_else(|| "no session".to_owned(), |n| n.to_string()))
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "bye"
}

/// How the cache fails, its data kept.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// Calls hang until it resumes.
    Hung,
    /// Open connections drop, new ones hang until the network heals.
    Partitioned,
    /// Calls fail at once.
    Refusing,
}

const OUTAGES: [Outage; 3] = [Outage::Hung, Outage::Partitioned, Outage::Refusing];

/// GETs `path` from `router` with the session cookie, if any: status, new cookie value, body.
async fn request(
    router: &Router,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut builder = Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", format!("sessionid={cookie}"));
    }
    let response = router
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let cookie = response.headers().get("set-cookie").map(|h| {
        let pair = h.to_str().unwrap().split(';').next().unwrap();
        pair.trim_start_matches("sessionid=").to_owned()
    });
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, cookie, String::from_utf8(body.to_vec()).unwrap())
}

/// An app on `cached_db` over a private Redis (behind a proxy) and a SQLite file.
struct App {
    router: Router,
    redis: PrivateRedis,
    proxy: TcpProxy,
    /// A connection of the test's own, kept through the outages it causes.
    admin: redis::aio::MultiplexedConnection,
    settings: Settings,
    _db: TempDb,
}

impl App {
    async fn start() -> App {
        let redis = PrivateRedis::start().expect("start a private redis-server");
        let proxy = TcpProxy::start(redis.port()).expect("start a proxy");
        let db = TempDb::new();
        let settings = Settings {
            engine: EngineKind::CachedDb,
            cache_url: format!("redis://127.0.0.1:{}", proxy.port()),
            db_url: db.url(),
            store_timeout: Duration::from_secs(2),
            ..Settings::new(SECRET)
        };
        let router = App::router(&settings).await;
        // Patient: a resumed server on a busy machine may take longer than the default 0.5 s.
        let patient =
            redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(10)));
        let admin = redis::Client::open(redis.url())
            .unwrap()
            .get_multiplexed_async_connection_with_config(&patient)
            .await
            .unwrap();
        App {
            router,
            redis,
            proxy,
            admin,
            settings,
            _db: db,
        }
    }

    /// The app's routes, on an engine opened from `settings` as at start-up.
    async fn router(settings: &Settings) -> Router {
        let sessions = Sessions::open(settings.clone()).await.unwrap();
        sessions.engine().migrate().await.unwrap();
        Router::new()
            .route("/incr", get(incr))
            .route("/read", get(read))
            .route("/logout", get(logout))
            .layer(sessions.layer())
    }

    /// Stops the app and starts it again: a new process on the same cache and database.
    async fn restart(&mut self) {
        self.router = App::router(&self.settings).await;
    }

    async fn admin(&self, command: &[&str]) {
        redis::cmd(command[0])
            .arg(&command[1..])
            .query_async::<()>(&mut self.admin.clone())
            .await
            .unwrap();
    }

    async fn cut(&self, outage: Outage) {
        match outage {
            Outage::Hung => self.redis.suspend().expect("suspend redis-server"),
            Outage::Partitioned => self.proxy.partition(),
            Outage::Refusing => {
                self.admin(&["CONFIG", "SET", "requirepass", "partitioned"])
                    .await;
                self.admin(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
                    .await;
            }
        }
    }

    async fn heal(&self, outage: Outage) {
        match outage {
            Outage::Hung => self.redis.resume().expect("resume redis-server"),
            Outage::Partitioned => self.proxy.heal(),
            Outage::Refusing => self.admin(&["CONFIG", "SET", "requirepass", ""]).await,
        }
    }

    /// GETs `path` with the session cookie, if any: status, new cookie value, body.
    async fn get(&self, path: &str, cookie: Option<&str>) -> (StatusCode, Option<String>, String) {
        request(&self.router, path, cookie).await
    }

    /// A new session with its counter at `n`.
    async fn counter_at(&self, n: i64) -> String {
        let (_, cookie, _) = self.get("/incr", None).await;
        let cookie = cookie.expect("a session cookie");
        for _ in 1..n {
            self.get("/incr", Some(&cookie)).await;
        }
        assert_eq!(self.read(&cookie).await, n.to_string());
        cookie
    }

    async fn read(&self, cookie: &str) -> String {
        let (status, _, body) = self.get("/read", Some(cookie)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The cache epoch as Redis holds it.
    async fn epoch(&self) -> Option<String> {
        redis::cmd("GET")
            .arg(format!("{}epoch", self.settings.cache_key_prefix))
            .query_async(&mut self.admin.clone())
            .await
            .unwrap()
    }

    /// Reads `cookie` every 100 ms until the app has started a new epoch after `before`
    /// (its probe runs on a request, at most once a second), checking each answer is
    /// `expected`. Gives up after 10 s.
    async fn read_until_new_epoch(&self, cookie: &str, before: &Option<String>, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert_eq!(self.read(cookie).await, expected);
            if self.epoch().await != *before {
                return;
            }
            assert!(Instant::now() < deadline, "the cache never came back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Reads `cookie` every 100 ms until the cache serves its counter at `n` (probes that hung
    /// during the outage may still move the epoch on when it heals), checking each answer is
    /// `n`. Gives up after 10 s.
    async fn read_until_cached(&self, cookie: &str, n: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cached_counter(cookie).await != Some(n) {
            assert!(Instant::now() < deadline, "the cache is never used again");
            assert_eq!(self.read(cookie).await, n.to_string());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The counter the cache holds for `cookie`, if its entry belongs to the current epoch
    /// (so it would be served).
    async fn cached_counter(&self, cookie: &str) -> Option<i64> {
        let (epoch, data): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.cache_key(cookie))
            .arg("e")
            .arg("d")
            .query_async(&mut self.admin.clone())
            .await
            .unwrap();
        let data: serde_json::Value = serde_json::from_str(&data?).unwrap();
        (epoch.is_some() && epoch == self.epoch().await).then(|| data["n"].as_i64().unwrap())
    }

    /// Where the cache keeps the session of `cookie`.
    fn cache_key(&self, cookie: &str) -> String {
        let address = SessionKey::parse(cookie).unwrap().hashed();
        format!("{}{address}", self.settings.cache_key_prefix)
    }
}

#[tokio::test]
async fn cache_entries_live_at_most_five_minutes_whatever_the_session_s_expiry() {
    let app = App::start().await;
    let cookie = app.counter_at(1).await; // a session of two weeks
    let ttl: i64 = redis::cmd("TTL")
        .arg(app.cache_key(&cookie))
        .query_async(&mut app.admin.clone())
        .await
        .unwrap();
    assert!((1..=300).contains(&ttl), "TTL {ttl} s");
}

#[tokio::test]
async fn a_failing_cache_falls_back_to_the_database_within_the_request() {
    for outage in OUTAGES {
        let app = App::start().await;
        let cookie = app.counter_at(1).await;

        app.cut(outage).await;
        let (status, _, body) = app.get("/incr", Some(&cookie)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "2"), "{outage:?}");
        assert_eq!(app.read(&cookie).await, "2");
        let (status, new_cookie, body) = app.get("/incr", None).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "1"),
            "a new session"
        );
        assert_eq!(app.read(&new_cookie.unwrap()).await, "1");
        let (status, _, _) = app.get("/logout", Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "a logout needs only the database");
        assert_eq!(app.read(&cookie).await, "no session");
        app.heal(outage).await;
    }
}

#[tokio::test]
async fn writes_acknowledged_during_a_cache_outage_are_read_back_after_it_heals() {
    for outage in OUTAGES {
        let app = App::start().await;
        let cookie = app.counter_at(3).await;
        let epoch = app.epoch().await;

        app.cut(outage).await; // Redis keeps its copy of the counter at 3
        for expected in ["4", "5"] {
            let (status, _, body) = app.get("/incr", Some(&cookie)).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::OK, expected),
                "{outage:?}"
            );
        }
        app.heal(outage).await;

        app.read_until_new_epoch(&cookie, &epoch, "5").await;
        app.read_until_cached(&cookie, 5).await;
        let (status, _, body) = app.get("/incr", Some(&cookie)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "6"));
        assert_eq!(app.read(&cookie).await, "6");
    }
}

#[tokio::test]
async fn a_logout_during_a_cache_outage_stays_logged_out_after_it_heals() {
    for outage in OUTAGES {
        let app = App::start().await;
        let cookie = app.counter_at(1).await;
        let epoch = app.epoch().await;

        app.cut(outage).await; // Redis keeps the session, with its full expiry
        let (status, _, body) = app.get("/logout", Some(&cookie)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "bye"),
            "{outage:?}"
        );
        app.heal(outage).await;

        app.read_until_new_epoch(&cookie, &epoch, "no session")
            .await;
        assert_eq!(app.read(&cookie).await, "no session");
    }
}

#[tokio::test]
async fn an_app_restarted_after_a_cache_outage_never_serves_what_the_cache_missed() {
    let mut app = App::start().await;
    let cookie = app.counter_at(3).await;
    let logged_out = app.counter_at(1).await;

    app.cut(Outage::Refusing).await;
    for expected in ["4", "5"] {
        let (status, _, body) = app.get("/incr", Some(&cookie)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, expected));
    }
    assert_eq!(
        app.get("/logout", Some(&logged_out)).await.0,
        StatusCode::OK
    );
    app.heal(Outage::Refusing).await;
    app.restart().await; // before this process could start a new epoch itself

    assert_eq!(app.read(&cookie).await, "5");
    assert_eq!(app.read(&logged_out).await, "no session");
}

#[tokio::test]
async fn another_instance_reads_fresh_data_once_the_instance_that_failed_has_probed() {
    let app = App::start().await; // this instance reaches Redis through the proxy…
    let other = App::router(&Settings {
        cache_url: app.redis.url(), // …this one directly
        ..app.settings.clone()
    })
    .await;
    let cookie = app.counter_at(3).await;
    assert_eq!(request(&other, "/read", Some(&cookie)).await.2, "3");
    let epoch = app.epoch().await;

    app.cut(Outage::Partitioned).await; // only the first instance is cut off
    for expected in ["4", "5"] {
        let (status, _, body) = app.get("/incr", Some(&cookie)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, expected));
    }
    // Meanwhile the other instance may still read 3 from the cache: the window the module
    // documentation of cached_db describes, closed by the first instance's probe.
    app.heal(Outage::Partitioned).await;
    app.read_until_new_epoch(&cookie, &epoch, "5").await;
    assert_eq!(request(&other, "/read", Some(&cookie)).await.2, "5");
}

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

/// The rules of [`Cache`], which `cached_db` relies on, checked on `cache`.
async fn epochs_and_fences_hold(cache: &dyn Cache) {
    let record = |n: i64| Loaded {
        data: Arc::new(Data::from_iter([("n", JsonText::from(n))])),
        version: n,
    };
    let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let fence_ttl = Duration::from_secs(30);
    let id = SessionKey::generate().hashed();
    let epoch = cache.new_epoch().await.unwrap(); // what cached_db does first
    assert_eq!(
        cache.read_current(&id).await.unwrap().epoch,
        epoch,
        "stable"
    );

    assert!(
        cache
            .write_if_newer(&id, &record(2), expires, epoch)
            .await
            .unwrap()
    );
    assert!(
        cache
            .write_if_newer(&id, &record(2), expires, epoch)
            .await
            .unwrap(),
        "same"
    );
    assert!(
        !cache
            .write_if_newer(&id, &record(1), expires, epoch)
            .await
            .unwrap(),
        "older"
    );
    assert!(
        cache
            .write_if_newer(&id, &record(3), expires, epoch)
            .await
            .unwrap()
    );
    assert_eq!(
        cache.read_current(&id).await.unwrap().record,
        Some(record(3))
    );

    cache.fence(&id, 2, fence_ttl).await.unwrap(); // the entry is newer: it stays
    assert_eq!(
        cache.read_current(&id).await.unwrap().record,
        Some(record(3))
    );
    cache.fence(&id, 3, fence_ttl).await.unwrap(); // known stale: dropped and fenced
    assert_eq!(cache.read_current(&id).await.unwrap().record, None);
    assert!(
        !cache
            .write_if_newer(&id, &record(3), expires, epoch)
            .await
            .unwrap()
    );
    assert!(
        cache
            .write_if_newer(&id, &record(4), expires, epoch)
            .await
            .unwrap()
    );

    cache.fence(&id, DELETED, fence_ttl).await.unwrap();
    cache.fence(&id, 5, fence_ttl).await.unwrap(); // does not lower the delete's fence
    assert!(
        !cache
            .write_if_newer(&id, &record(6), expires, epoch)
            .await
            .unwrap()
    );
    assert_eq!(cache.read_current(&id).await.unwrap().record, None);

    let other = SessionKey::generate().hashed();
    assert!(
        cache
            .write_if_newer(&other, &record(1), expires, epoch)
            .await
            .unwrap()
    );
    let next = cache.new_epoch().await.unwrap();
    assert_ne!(next, epoch);
    let read = cache.read_current(&other).await.unwrap();
    assert_eq!(
        (read.record, read.epoch),
        (None, next),
        "disowned by the new epoch"
    );
    assert!(
        !cache
            .write_if_newer(&other, &record(1), expires, epoch)
            .await
            .unwrap(),
        "late"
    );
    assert!(
        cache
            .write_if_newer(&other, &record(1), expires, next)
            .await
            .unwrap()
    );
    assert_eq!(
        cache.read_current(&other).await.unwrap().record,
        Some(record(1))
    );
}

#[tokio::test]
async fn the_memory_cache_keeps_epochs_and_fences() {
    epochs_and_fences_hold(&MemoryStore::new(100)).await;
}

#[tokio::test]
async fn the_redis_cache_keeps_epochs_and_fences() {
    let redis = PrivateRedis::start().expect("start a private redis-server");
    let settings = Settings {
        engine: EngineKind::CachedDb,
        cache_url: redis.url(),
        ..Settings::new(SECRET)
    };
    epochs_and_fences_hold(&RedisStore::connect(&settings).await.unwrap()).await;
}

#[tokio::test]
async fn a_redis_that_lost_its_epoch_is_not_trusted_and_never_serves_older_entries() {
    let redis = PrivateRedis::start().expect("start a private redis-server");
    let settings = Settings {
        engine: EngineKind::CachedDb,
        cache_url: redis.url(),
        ..Settings::new(SECRET)
    };
    let cache = RedisStore::connect(&settings).await.unwrap();
    let id = SessionKey::generate().hashed();
    assert!(cache.read_current(&id).await.is_err(), "no epoch yet");
    let record = Loaded {
        data: Arc::new(Data::new()),
        version: 1,
    };
    let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let first = cache.new_epoch().await.unwrap();
    assert!(
        cache
            .write_if_newer(&id, &record, expires, first)
            .await
            .unwrap()
    );
    cache.new_epoch().await.unwrap(); // disowns the entry…
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("DEL") // …and the epoch is lost (evicted, say)
        .arg(format!("{}epoch", settings.cache_key_prefix))
        .query_async::<()>(&mut connection)
        .await
        .unwrap();

    assert!(cache.read_current(&id).await.is_err(), "a failure: probe");
    let fresh = cache.new_epoch().await.unwrap();
    assert_ne!(fresh, first, "a fresh epoch, never the first one again");
    let read = cache.read_current(&id).await.unwrap();
    assert_eq!((read.epoch, read.record), (fresh, None));
}
