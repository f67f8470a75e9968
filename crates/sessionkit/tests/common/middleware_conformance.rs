//! docs/CONFORMANCE.md §E: the middleware's decision table, one list of behaviours run against
//! every adapter and engine. An adapter's test binary includes this file, defines
//! `async fn serve(&Sessions) -> Box<dyn Server>` (the app below, in its framework, behind its
//! middleware) and calls `conformance_suite!(its test attribute)`:
//! `crates/sessionkit/tests/middleware.rs` (tower/axum) and
//! `crates/sessionkit-actix/tests/middleware.rs` (actix-web).
//!
//! The app's routes, in every framework: `/set` inserts `k = "v"`; `/noop` leaves the session
//! alone; `/read` answers `format!("{:?}", session.get_value("k"))`; `/flush`; `/cycle`
//! (`cycle_key`); `/status/{code}` inserts `k` and answers `code`; `/browser-close`
//! (`Expiry::BrowserClose`); `/big` inserts 6,400 random characters; `/logged-out-meanwhile`
//! deletes the record of the request's `sessionid` cookie from the engine, then writes.

#![allow(dead_code)] // Each binary uses what its adapter needs.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use sessionkit::django::signing::{COOKIE_SALT, Signer};
use sessionkit::engine::SessionKey;
use sessionkit::engine::{DbEngine, EncryptedCookieEngine, Engine, SignedCookieEngine};
use sessionkit::{EngineKind, Sessions, Settings};

/// The engines every behaviour runs on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    SignedCookies,
    EncryptedCookies,
    DbSqlite,
    CacheRedis,
}

impl Kind {
    /// Whether the session lives in the cookie, with no record on the server.
    pub fn in_cookie(self) -> bool {
        matches!(self, Kind::SignedCookies | Kind::EncryptedCookies)
    }
}

/// The Redis the cache engine's runs use; each run keeps to a key prefix of its own.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A response, whatever the framework: what the behaviours look at.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// The app of one adapter, answering GETs.
pub trait Server {
    /// GETs `path` with one `Cookie` header per item of `cookie_headers`, as they are.
    fn get<'a>(
        &'a self,
        path: &'a str,
        cookie_headers: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Reply> + 'a>>;
}

/// An app on one engine, with its scratch space (a temporary directory, a Redis key prefix)
/// removed on drop.
pub struct Env {
    pub kind: Kind,
    pub sessions: Sessions,
    /// The db engine, kept to reach its connection pool.
    pub db: Option<DbEngine>,
    server: Box<dyn Server>,
    dir: PathBuf,
    redis_prefix: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if self.kind == Kind::CacheRedis {
            delete_redis_keys(&self.redis_prefix);
        }
    }
}

/// Deletes the keys under `prefix` (synchronously: called on drop).
fn delete_redis_keys(prefix: &str) {
    let client = redis::Client::open(REDIS_URL).expect("a Redis URL");
    let mut redis = client.get_connection().expect("Redis is running");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut redis)
        .expect("list the test keys");
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query::<()>(&mut redis)
            .expect("delete the test keys");
    }
}

impl Env {
    pub async fn new(kind: Kind) -> Env {
        Env::with(kind, |_| {}).await
    }

    pub async fn with(kind: Kind, configure: impl FnOnce(&mut Settings)) -> Env {
        let unique = SessionKey::generate().as_str().to_owned();
        let dir = std::env::temp_dir().join(format!("sessionkit-mw-{unique}"));
        std::fs::create_dir_all(&dir).unwrap();
        let redis_prefix = format!("sessionkit-mw-{unique}:");
        let mut settings = Settings::new("middleware-test-secret");
        settings.engine = match kind {
            Kind::SignedCookies => EngineKind::SignedCookies,
            Kind::EncryptedCookies => EngineKind::EncryptedCookies,
            Kind::DbSqlite => EngineKind::Db,
            Kind::CacheRedis => EngineKind::Cache,
        };
        settings.db_url = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
        settings.cache_url = REDIS_URL.to_owned();
        settings.cache_key_prefix = redis_prefix.clone();
        configure(&mut settings);
        let (sessions, db) = match kind {
            Kind::SignedCookies => {
                let engine: Arc<dyn Engine> = Arc::new(SignedCookieEngine::new(&settings));
                (Sessions::new(engine, settings).unwrap(), None)
            }
            Kind::EncryptedCookies => {
                let engine: Arc<dyn Engine> = Arc::new(EncryptedCookieEngine::new(&settings));
                (Sessions::new(engine, settings).unwrap(), None)
            }
            Kind::DbSqlite => {
                let db = DbEngine::connect(&settings).await.unwrap();
                let engine: Arc<dyn Engine> = Arc::new(db.clone());
                (Sessions::new(engine, settings).unwrap(), Some(db))
            }
            Kind::CacheRedis => (Sessions::open(settings).await.unwrap(), None),
        };
        sessions.engine().migrate().await.unwrap();
        let server = crate::serve(&sessions).await;
        Env {
            kind,
            sessions,
            db,
            server,
            dir,
            redis_prefix,
        }
    }

    pub fn engine(&self) -> &Arc<dyn Engine> {
        self.sessions.engine()
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let header = cookie.map(|cookie| format!("sessionid={cookie}"));
        self.get_with_cookie_headers(path, header.as_slice()).await
    }

    /// GETs `path` with one `Cookie` header per item of `headers`, as they are.
    pub async fn get_with_cookie_headers(&self, path: &str, headers: &[String]) -> Reply {
        self.server.get(path, headers).await
    }

    /// A cookie for a stored session holding `k = "v"`.
    pub async fn existing_cookie(&self) -> String {
        let response = self.get("/set", None).await;
        session_cookie(&response).expect("/set sets a cookie").value
    }

    /// A value of the right shape that the engine does not recognize.
    fn stale_cookie(&self) -> String {
        match self.kind {
            Kind::DbSqlite | Kind::CacheRedis => SessionKey::generate().as_str().to_owned(),
            Kind::SignedCookies => {
                let data =
                    sessionkit::engine::Data::try_from(serde_json::json!({"k": "v"})).unwrap();
                Signer::new(COOKIE_SALT, "another-secret", &[]).sign_object(&data, 1_700_000_000)
            }
            Kind::EncryptedCookies => {
                let data = sessionkit::engine::Data::from_json(r#"{"k": "v"}"#).unwrap();
                EncryptedCookieEngine::new(&Settings::new("another-secret"))
                    .seal(&data, time::OffsetDateTime::now_utc())
                    .unwrap()
            }
        }
    }
}

#[derive(Debug)]
struct SetCookie {
    value: String,
    attributes: Vec<String>,
}

impl SetCookie {
    fn has(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find_map(|a| {
            let (key, value) = a.split_once('=')?;
            key.eq_ignore_ascii_case(name).then_some(value)
        })
    }
}

fn session_cookie(response: &Reply) -> Option<SetCookie> {
    let headers: Vec<&str> = response
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|h| h.to_str().unwrap())
        .filter(|h| h.starts_with("sessionid="))
        .collect();
    assert!(
        headers.len() <= 1,
        "one session cookie at most: {headers:?}"
    );
    let header = headers.first()?;
    let mut parts = header.split(';').map(str::trim);
    let value = parts.next()?.trim_start_matches("sessionid=").to_owned();
    Some(SetCookie {
        value,
        attributes: parts.map(str::to_owned).collect(),
    })
}

fn varies_on_cookie(response: &Reply) -> bool {
    response
        .headers
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Cookie"))
}

fn is_deletion(cookie: &SetCookie) -> bool {
    cookie.value.is_empty()
        && cookie.attribute("Max-Age") == Some("0")
        && cookie
            .attribute("Expires")
            .is_some_and(|e| e.contains("1970"))
}

// 28
pub async fn no_cookie_and_a_write_sets_a_new_cookie_and_varies(kind: Kind) {
    let env = Env::new(kind).await;
    let response = env.get("/set", None).await;
    assert_eq!(response.status, StatusCode::OK);
    let cookie = session_cookie(&response).expect("a session cookie");
    assert!(!cookie.value.is_empty());
    assert!(varies_on_cookie(&response));
    let loaded = env.engine().load(&cookie.value).await.unwrap().unwrap();
    assert_eq!(loaded.data["k"], serde_json::json!("v"));
}

// 29
pub async fn untouched_session_sends_neither_cookie_nor_vary(kind: Kind) {
    let env = Env::new(kind).await;
    let cookie = env.existing_cookie().await;
    let response = env.get("/noop", Some(&cookie)).await;
    assert!(session_cookie(&response).is_none());
    assert!(!varies_on_cookie(&response));
}

// 30
pub async fn reading_sends_vary_only(kind: Kind) {
    let env = Env::new(kind).await;
    let cookie = env.existing_cookie().await;
    let response = env.get("/read", Some(&cookie)).await;
    assert!(session_cookie(&response).is_none());
    assert!(varies_on_cookie(&response));
    assert_eq!(response.body, r#"Some(String("v"))"#);
}

// 31
pub async fn stale_cookie_read_deletes_the_cookie(kind: Kind) {
    let env = Env::new(kind).await;
    let response = env.get("/read", Some(&env.stale_cookie())).await;
    let cookie = session_cookie(&response).expect("a deletion");
    assert!(is_deletion(&cookie), "{cookie:?}");
    assert!(varies_on_cookie(&response));
    assert_eq!(response.body, "None");
}

// 32
pub async fn malformed_cookie_is_deleted_even_when_untouched(kind: Kind) {
    let env = Env::new(kind).await;
    for value in ["abc", ""] {
        let response = env.get("/noop", Some(value)).await;
        let cookie = session_cookie(&response).expect("a deletion");
        assert!(is_deletion(&cookie), "{value:?}: {cookie:?}");
        assert!(varies_on_cookie(&response));
    }
}

// 33
pub async fn server_errors_save_nothing(kind: Kind) {
    let env = Env::new(kind).await;
    for code in [500, 503] {
        let response = env.get(&format!("/status/{code}"), None).await;
        assert_eq!(response.status.as_u16(), code);
        assert!(session_cookie(&response).is_none(), "{code}");
    }
    let cookie = env.existing_cookie().await;
    let response = env.get("/status/500", Some(&cookie)).await;
    assert!(session_cookie(&response).is_none());
    let stored = env.engine().load(&cookie).await.unwrap().unwrap();
    assert_eq!(
        stored.data["k"],
        serde_json::json!("v"),
        "the 500's write must not be stored"
    );

    let response = env.get("/status/499", None).await;
    let cookie = session_cookie(&response).expect("a 499 still saves");
    let stored = env.engine().load(&cookie.value).await.unwrap().unwrap();
    assert_eq!(stored.data["k"], serde_json::json!("written with 499"));
}

// 34
pub async fn flush_deletes_the_cookie_with_the_same_attributes(kind: Kind) {
    let env = Env::with(kind, |s| s.cookie_domain = Some("example.com".into())).await;
    let set = session_cookie(&env.get("/set", None).await).unwrap();
    let response = env.get("/flush", Some(&set.value)).await;
    let deleted = session_cookie(&response).expect("a deletion");
    assert!(is_deletion(&deleted), "{deleted:?}");
    for attribute in ["Domain", "Path", "SameSite"] {
        assert_eq!(
            deleted.attribute(attribute),
            set.attribute(attribute),
            "{attribute}"
        );
    }
    assert!(varies_on_cookie(&response));
    if !kind.in_cookie() {
        assert!(!env.engine().exists(&set.value).await.unwrap());
    }

    let response = env.get("/flush", None).await;
    assert!(session_cookie(&response).is_none());
    assert!(varies_on_cookie(&response));
}

// 35
pub async fn cycle_key_sets_a_new_cookie_and_forgets_the_old_record(kind: Kind) {
    let env = Env::new(kind).await;
    let old = env.existing_cookie().await;
    let response = env.get("/cycle", Some(&old)).await;
    let new = session_cookie(&response).expect("a new cookie").value;
    let loaded = env.engine().load(&new).await.unwrap().unwrap();
    assert_eq!(
        loaded.data["k"],
        serde_json::json!("v"),
        "data survives the new key"
    );
    if !kind.in_cookie() {
        assert_ne!(new, old);
        assert!(!env.engine().exists(&old).await.unwrap());
    }
}

// 36
pub async fn save_every_request_refreshes_an_untouched_session(kind: Kind) {
    let env = Env::with(kind, |s| s.save_every_request = true).await;
    let cookie = env.existing_cookie().await;
    let response = env.get("/noop", Some(&cookie)).await;
    let refreshed = session_cookie(&response).expect("a refreshed cookie");
    assert_eq!(refreshed.attribute("Max-Age"), Some("1209600"));
    assert!(
        varies_on_cookie(&response),
        "CVE-2026-35192: Vary with the cookie"
    );

    let response = env.get("/noop", None).await;
    assert!(session_cookie(&response).is_none());
}

// 37
pub async fn browser_close_cookies_have_no_max_age_or_expires(kind: Kind) {
    let env = Env::new(kind).await;
    let closing = session_cookie(&env.get("/browser-close", None).await).unwrap();
    assert!(closing.attribute("Max-Age").is_none(), "{closing:?}");
    assert!(closing.attribute("Expires").is_none(), "{closing:?}");

    let lasting = session_cookie(&env.get("/set", None).await).unwrap();
    assert_eq!(lasting.attribute("Max-Age"), Some("1209600"));
    let expires = lasting.attribute("Expires").expect("Expires");
    let expires = httpdate_to_time(expires).expect("an IMF-fixdate");
    let expected = time::OffsetDateTime::now_utc() + time::Duration::seconds(1_209_600);
    assert!(
        (expires - expected).abs() < time::Duration::seconds(5),
        "{expires}"
    );
}

/// `Wed, 10 Dec 2026 10:00:00 GMT` (cookie dates use the IMF-fixdate form).
fn httpdate_to_time(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text, &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

// 38
pub async fn cookie_attributes_are_exactly_as_configured(kind: Kind) {
    let env = Env::new(kind).await;
    let cookie = session_cookie(&env.get("/set", None).await).unwrap();
    assert!(cookie.has("HttpOnly") && cookie.has("Secure"), "{cookie:?}");
    assert_eq!(cookie.attribute("SameSite"), Some("Lax"));
    assert_eq!(cookie.attribute("Path"), Some("/"));
    assert_eq!(cookie.attribute("Domain"), None);

    let env = Env::with(kind, |s| {
        s.cookie_secure = false;
        s.cookie_httponly = false;
        s.cookie_samesite = Some(sessionkit::settings::SameSite::Strict);
        s.cookie_path = "/app".into();
        s.cookie_domain = Some("example.com".into());
    })
    .await;
    let cookie = session_cookie(&env.get("/set", None).await).unwrap();
    assert!(
        !cookie.has("HttpOnly") && !cookie.has("Secure"),
        "{cookie:?}"
    );
    assert_eq!(cookie.attribute("SameSite"), Some("Strict"));
    assert_eq!(cookie.attribute("Path"), Some("/app"));
    assert_eq!(cookie.attribute("Domain"), Some("example.com"));
}

// 39
pub async fn the_session_comes_only_from_the_cookie(kind: Kind) {
    let env = Env::new(kind).await;
    let cookie = env.existing_cookie().await;
    let response = env.get(&format!("/read?sessionid={cookie}"), None).await;
    assert_eq!(response.body, "None");
}

// 39 — Django's `parse_cookie` fills a dict, so of two session cookies the last one counts.
pub async fn the_last_of_duplicate_session_cookies_wins(kind: Kind) {
    let env = Env::new(kind).await;
    let (live, stale) = (env.existing_cookie().await, env.stale_cookie());
    let env = &env;
    let read = |headers: Vec<String>| async move {
        env.get_with_cookie_headers("/read", &headers).await.body
    };
    let live_last = read(vec![format!(
        "sessionid={stale}; theme=dark; sessionid={live}"
    )])
    .await;
    assert_eq!(live_last, "Some(String(\"v\"))");
    let stale_last = read(vec![format!("sessionid={live}; sessionid={stale}")]).await;
    assert_eq!(stale_last, "None");
    // HTTP/2 sends each cookie in a header of its own; they count in order.
    let split = read(vec![
        format!("sessionid={stale}"),
        format!("sessionid={live}"),
    ])
    .await;
    assert_eq!(split, "Some(String(\"v\"))");
}

// 41
pub async fn an_oversized_cookie_is_an_error_not_a_dropped_cookie(kind: Kind) {
    let env = Env::new(kind).await;
    let response = env.get("/big", None).await;
    if kind.in_cookie() {
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(session_cookie(&response).is_none());
    } else {
        // Server engines keep big data on the server; the cookie stays a short key.
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(session_cookie(&response).unwrap().value.len(), 32);
    }
}

// 40 — only server engines have a store that can fail.
pub async fn a_store_failure_is_a_clear_503() {
    let env = Env::new(Kind::DbSqlite).await;
    let cookie = env.existing_cookie().await;
    env.db.as_ref().expect("the db engine").close().await;
    let response = env.get("/read", Some(&cookie)).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.body.contains("unavailable"));
}

// DESIGN §5 rule 5 — a save after a concurrent delete is refused, never resurrected.
pub async fn a_session_deleted_meanwhile_is_not_written_back() {
    let env = Env::new(Kind::DbSqlite).await;
    let cookie = env.existing_cookie().await;
    let response = env.get("/logged-out-meanwhile", Some(&cookie)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(session_cookie(&response).is_none());
    assert!(!env.engine().exists(&cookie).await.unwrap());
    assert!(env.engine().load(&cookie).await.unwrap().is_none());
}

/// Key rotation on a cookie engine: a request that only reads a session signed or sealed
/// with a key now in SECRET_KEY_FALLBACKS gets the session back in a new cookie made with
/// SECRET_KEY, which the old key alone does not accept; the next read, with that cookie, gets
/// none. Judged over HTTP only, so one behaviour serves `signed_cookies` and
/// `encrypted_cookies`.
pub async fn a_read_only_request_reissues_a_cookie_of_a_fallback_key(kind: Kind) {
    let secret = |secret: &'static str, fallbacks: &'static [&'static str]| {
        move |settings: &mut Settings| {
            settings.secret_key = secret.to_owned();
            settings.secret_key_fallbacks = fallbacks.iter().map(|s| s.to_string()).collect();
        }
    };
    let old = Env::with(kind, secret("the old secret", &[])).await;
    let current = Env::with(kind, secret("the new secret", &[])).await;
    let rotated = Env::with(kind, secret("the new secret", &["the old secret"])).await;
    let cookie = old.existing_cookie().await;
    assert_eq!(current.get("/read", Some(&cookie)).await.body, "None");

    let response = rotated.get("/read", Some(&cookie)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body, "Some(String(\"v\"))");
    let reissued = session_cookie(&response).expect("a re-issued cookie").value;
    assert_ne!(reissued, cookie);
    assert_eq!(
        old.get("/read", Some(&reissued)).await.body,
        "None",
        "the old key alone does not accept it"
    );
    assert_eq!(
        current.get("/read", Some(&reissued)).await.body,
        "Some(String(\"v\"))"
    );

    let response = rotated.get("/read", Some(&reissued)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        session_cookie(&response).is_none(),
        "nothing more to re-issue"
    );
}

/// Every behaviour above as a test, per engine (a module named after it), under the adapter's
/// test attribute (`tokio::test`, `actix_web::test`). The including binary names this file's
/// module `behaviours`, with `#[macro_use]`.
macro_rules! conformance_suite {
    ($test:meta) => {
        conformance_suite!(@engine $test, signed_cookies, SignedCookies;
            a_read_only_request_reissues_a_cookie_of_a_fallback_key);
        conformance_suite!(@engine $test, encrypted_cookies, EncryptedCookies;
            a_read_only_request_reissues_a_cookie_of_a_fallback_key);
        conformance_suite!(@engine $test, db_sqlite, DbSqlite;);
        conformance_suite!(@engine $test, cache_redis, CacheRedis;);
        conformance_suite!(@tests $test, ();
            a_store_failure_is_a_clear_503,
            a_session_deleted_meanwhile_is_not_written_back,
        );
    };
    // Each engine's module: every behaviour above, then those of its kind of engine only.
    (@engine $test:meta, $module:ident, $kind:ident; $($only:ident),*) => {
        mod $module {
            $(conformance_suite!(@tests $test, (crate::behaviours::Kind::$kind); $only);)*
            conformance_suite!(@tests $test, (crate::behaviours::Kind::$kind);
                no_cookie_and_a_write_sets_a_new_cookie_and_varies,
                untouched_session_sends_neither_cookie_nor_vary,
                reading_sends_vary_only,
                stale_cookie_read_deletes_the_cookie,
                malformed_cookie_is_deleted_even_when_untouched,
                server_errors_save_nothing,
                flush_deletes_the_cookie_with_the_same_attributes,
                cycle_key_sets_a_new_cookie_and_forgets_the_old_record,
                save_every_request_refreshes_an_untouched_session,
                browser_close_cookies_have_no_max_age_or_expires,
                cookie_attributes_are_exactly_as_configured,
                the_session_comes_only_from_the_cookie,
                the_last_of_duplicate_session_cookies_wins,
                an_oversized_cookie_is_an_error_not_a_dropped_cookie,
            );
        }
    };
    (@tests $test:meta, $arguments:tt; $($name:ident),+ $(,)?) => {
        $(#[$test]
        async fn $name() {
            crate::behaviours::$name $arguments.await
        })+
    };
}
