//! `cached_db` when its cache fails: requests keep working from the database, and once the
//! cache is back nothing it holds from before is served — no acknowledged write hidden, no
//! logged-out session signed in again. Redis is a private `redis-server` (sessionkit-testkit)
//! that keeps its data through the outage: suspended (SIGSTOP), so calls hang; cut off by a
//! partitioned proxy, so connections drop and new ones hang; or refusing clients (a password
//! set, connections dropped), so calls fail at once. SQLite is a temporary file.
//!
//! [`faulty_cache`] fails the cache or holds its writes back on command, to show a dead cache
//! probed rather than hit and a late write never served; [`epochs`] checks the rules of
//! `Cache` (epochs and fences) that all of this relies on.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use sessionkit::engine::SessionKey;
use sessionkit::{EngineKind, Session, SessionError};
use sessionkit::{Sessions, Settings};
use sessionkit_testkit::{PrivateRedis, TcpProxy, TempDir};
use tower::ServiceExt;

mod epochs;
mod faulty_cache;

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
