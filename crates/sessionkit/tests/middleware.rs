//! docs/CONFORMANCE.md §E: the middleware's decision table, through a real axum router, for every
//! engine. Each behaviour is one function taking the engine; `for_each_engine!` runs it on all.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use sessionkit::django::signing::{COOKIE_SALT, Signer};
use sessionkit::engine::SessionKey;
use sessionkit::engine::{DbEngine, Engine, SignedCookieEngine};
use sessionkit::{EngineKind, Expiry, Session, Sessions, Settings};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    SignedCookies,
    DbSqlite,
}

/// An app on one engine, in its own temporary directory (removed on drop).
struct Env {
    kind: Kind,
    sessions: Sessions,
    /// The db engine, kept to reach its connection pool.
    db: Option<DbEngine>,
    app: Router,
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("sessionkit-mw-{}", SessionKey::generate().as_str()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Env {
    async fn new(kind: Kind) -> Env {
        Env::with(kind, |_| {}).await
    }

    async fn with(kind: Kind, configure: impl FnOnce(&mut Settings)) -> Env {
        let dir = unique_dir();
        let mut settings = Settings::new("middleware-test-secret");
        settings.engine = match kind {
            Kind::SignedCookies => EngineKind::SignedCookies,
            Kind::DbSqlite => EngineKind::Db,
        };
        settings.db_url = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
        configure(&mut settings);
        let (engine, db): (Arc<dyn Engine>, _) = match kind {
            Kind::SignedCookies => (Arc::new(SignedCookieEngine::new(&settings)), None),
            Kind::DbSqlite => {
                let db = DbEngine::connect(&settings).await.unwrap();
                (Arc::new(db.clone()), Some(db))
            }
        };
        let sessions = Sessions::new(engine, settings).unwrap();
        sessions.engine().migrate().await.unwrap();
        let app = app(&sessions);
        Env {
            kind,
            sessions,
            db,
            app,
            dir,
        }
    }

    fn engine(&self) -> &Arc<dyn Engine> {
        self.sessions.engine()
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Response<Body> {
        let header = cookie.map(|cookie| format!("sessionid={cookie}"));
        self.get_with_cookie_headers(path, header.as_slice()).await
    }

    /// GETs `path` with one `Cookie` header per item of `headers`, as they are.
    async fn get_with_cookie_headers(&self, path: &str, headers: &[String]) -> Response<Body> {
        let mut request = Request::get(path);
        for header in headers {
            request = request.header("cookie", header);
        }
        self.app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    /// A cookie for a stored session holding `k = "v"`.
    async fn existing_cookie(&self) -> String {
        let response = self.get("/set", None).await;
        session_cookie(&response).expect("/set sets a cookie").value
    }

    /// A value of the right shape that the engine does not recognize.
    fn stale_cookie(&self) -> String {
        match self.kind {
            Kind::DbSqlite => SessionKey::generate().as_str().to_owned(),
            Kind::SignedCookies => {
                let data =
                    sessionkit::engine::Data::try_from(serde_json::json!({"k": "v"})).unwrap();
                Signer::new(COOKIE_SALT, "another-secret", &[]).sign_object(&data, 1_700_000_000)
            }
        }
    }
}

fn app(sessions: &Sessions) -> Router {
    let engine = sessions.engine().clone();
    Router::new()
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("k", "v")?;
                Ok::<_, sessionkit::SessionError>("set")
            }),
        )
        .route("/noop", get(|| async { "nothing" }))
        .route(
            "/read",
            get(|s: Session| async move { format!("{:?}", s.get_value("k")) }),
        )
        .route(
            "/flush",
            get(|s: Session| async move {
                s.flush();
                "flushed"
            }),
        )
        .route(
            "/cycle",
            get(|s: Session| async move {
                s.cycle_key();
                "cycled"
            }),
        )
        .route(
            "/status/{code}",
            get(|s: Session, Path(code): Path<u16>| async move {
                s.insert("k", format!("written with {code}"))?;
                Ok::<_, sessionkit::SessionError>(StatusCode::from_u16(code).unwrap())
            }),
        )
        .route(
            "/browser-close",
            get(|s: Session| async move {
                s.set_expiry(Expiry::BrowserClose);
                "until the browser closes"
            }),
        )
        .route(
            "/big",
            get(|s: Session| async move {
                // Random keys do not compress, so the signed cookie really is this large.
                let blob: String = (0..200)
                    .map(|_| SessionKey::generate().as_str().to_owned())
                    .collect();
                s.insert("blob", blob)?;
                Ok::<_, sessionkit::SessionError>("stored a big value")
            }),
        )
        .route(
            "/logged-out-meanwhile",
            get(move |s: Session, headers: http::HeaderMap| {
                let engine = engine.clone();
                async move {
                    // Another request (say, a logout in another tab) deletes the record now.
                    let cookie = headers["cookie"].to_str().unwrap();
                    let cookie = cookie.trim_start_matches("sessionid=").to_owned();
                    engine.delete(&cookie).await.unwrap();
                    s.insert("k", "written after the logout")?;
                    Ok::<_, sessionkit::SessionError>("too late")
                }
            }),
        )
        .layer(sessions.layer())
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

fn session_cookie(response: &Response<Body>) -> Option<SetCookie> {
    let headers: Vec<&str> = response
        .headers()
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

fn varies_on_cookie(response: &Response<Body>) -> bool {
    response
        .headers()
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

async fn body(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

// 28
async fn no_cookie_and_a_write_sets_a_new_cookie_and_varies(kind: Kind) {
    let env = Env::new(kind).await;
    let response = env.get("/set", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response).expect("a session cookie");
    assert!(!cookie.value.is_empty());
    assert!(varies_on_cookie(&response));
    let loaded = env.engine().load(&cookie.value).await.unwrap().unwrap();
    assert_eq!(loaded.data["k"], serde_json::json!("v"));
}

// 29
async fn untouched_session_sends_neither_cookie_nor_vary(kind: Kind) {
    let env = Env::new(kind).await;
    let cookie = env.existing_cookie().await;
    let response = env.get("/noop", Some(&cookie)).await;
    assert!(session_cookie(&response).is_none());
    assert!(!varies_on_cookie(&response));
}

// 30
async fn reading_sends_vary_only(kind: Kind) {
    let env = Env::new(kind).await;
    let cookie = env.existing_cookie().await;
    let response = env.get("/read", Some(&cookie)).await;
    assert!(session_cookie(&response).is_none());
    assert!(varies_on_cookie(&response));
    assert_eq!(body(response).await, r#"Some(String("v"))"#);
}

// 31
async fn stale_cookie_read_deletes_the_cookie(kind: Kind) {
    let env = Env::new(kind).await;
    let response = env.get("/read", Some(&env.stale_cookie())).await;
    let cookie = session_cookie(&response).expect("a deletion");
    assert!(is_deletion(&cookie), "{cookie:?}");
    assert!(varies_on_cookie(&response));
    assert_eq!(body(response).await, "None");
}

// 32
async fn malformed_cookie_is_deleted_even_when_untouched(kind: Kind) {
    let env = Env::new(kind).await;
    for value in ["abc", ""] {
        let response = env.get("/noop", Some(value)).await;
        let cookie = session_cookie(&response).expect("a deletion");
        assert!(is_deletion(&cookie), "{value:?}: {cookie:?}");
        assert!(varies_on_cookie(&response));
    }
}

// 33
async fn server_errors_save_nothing(kind: Kind) {
    let env = Env::new(kind).await;
    for code in [500, 503] {
        let response = env.get(&format!("/status/{code}"), None).await;
        assert_eq!(response.status().as_u16(), code);
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
async fn flush_deletes_the_cookie_with_the_same_attributes(kind: Kind) {
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
    if kind != Kind::SignedCookies {
        assert!(!env.engine().exists(&set.value).await.unwrap());
    }

    let response = env.get("/flush", None).await;
    assert!(session_cookie(&response).is_none());
    assert!(varies_on_cookie(&response));
}

// 35
async fn cycle_key_sets_a_new_cookie_and_forgets_the_old_record(kind: Kind) {
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
    if kind != Kind::SignedCookies {
        assert_ne!(new, old);
        assert!(!env.engine().exists(&old).await.unwrap());
    }
}

// 36
async fn save_every_request_refreshes_an_untouched_session(kind: Kind) {
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
async fn browser_close_cookies_have_no_max_age_or_expires(kind: Kind) {
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
async fn cookie_attributes_are_exactly_as_configured(kind: Kind) {
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
async fn the_session_comes_only_from_the_cookie(kind: Kind) {
    let env = Env::new(kind).await;
    let cookie = env.existing_cookie().await;
    let response = env.get(&format!("/read?sessionid={cookie}"), None).await;
    assert_eq!(body(response).await, "None");
}

// 39 — Django's `parse_cookie` fills a dict, so of two session cookies the last one counts.
async fn the_last_of_duplicate_session_cookies_wins(kind: Kind) {
    let env = Env::new(kind).await;
    let (live, stale) = (env.existing_cookie().await, env.stale_cookie());
    let env = &env;
    let read = |headers: Vec<String>| async move {
        body(env.get_with_cookie_headers("/read", &headers).await).await
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
async fn an_oversized_cookie_is_an_error_not_a_dropped_cookie(kind: Kind) {
    let env = Env::new(kind).await;
    let response = env.get("/big", None).await;
    if kind == Kind::SignedCookies {
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(session_cookie(&response).is_none());
    } else {
        // Server engines keep big data on the server; the cookie stays a short key.
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(session_cookie(&response).unwrap().value.len(), 32);
    }
}

/// Runs every behaviour above on one engine, as a module named after it.
macro_rules! engine_suite {
    ($engine:ident => $kind:expr) => {
        mod $engine {
            const KIND: super::Kind = $kind;
            engine_suite!(@tests
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
    (@tests $($test:ident),+ $(,)?) => {
        $(#[tokio::test]
        async fn $test() {
            super::$test(KIND).await
        })+
    };
}

engine_suite!(signed_cookies => super::Kind::SignedCookies);
engine_suite!(db_sqlite => super::Kind::DbSqlite);

// 40 — only server engines have a store that can fail.
#[tokio::test]
async fn a_store_failure_is_a_clear_503() {
    let env = Env::new(Kind::DbSqlite).await;
    let cookie = env.existing_cookie().await;
    env.db.as_ref().expect("the db engine").close().await;
    let response = env.get("/read", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body(response).await.contains("unavailable"));
}

// DESIGN §5 rule 5 — a save after a concurrent delete is refused, never resurrected.
#[tokio::test]
async fn a_session_deleted_meanwhile_is_not_written_back() {
    let env = Env::new(Kind::DbSqlite).await;
    let cookie = env.existing_cookie().await;
    let response = env.get("/logged-out-meanwhile", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(session_cookie(&response).is_none());
    assert!(!env.engine().exists(&cookie).await.unwrap());
    assert!(env.engine().load(&cookie).await.unwrap().is_none());
}
