//! The middleware stacks the in-process benchmarks call (`micro` for time, `allocations` for
//! heap allocations): an axum router with the same three handlers on each session library,
//! called with `tower::ServiceExt::oneshot` (no sockets). Each request carries the cookie of a
//! session the stack's own login created; requests take turns over a few such sessions, as a
//! server's requests come from different clients, so that what a layer keeps from the request
//! before (the last key it hashed, a cache line) helps no more than it would there.
//!
//! Stacks: no sessions (the router's own cost), sessionkit with the memory cache, with signed
//! and with encrypted cookies, tower-sessions with its `MemoryStore`, with a plain and with a signed session-id
//! cookie, and the yardsticks of [`floor`] (`sessionkit_bench::minimal_layer`): the least a
//! server-side and a signed-cookie session layer can do.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::{get, post};
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response};
use sessionkit::{EngineKind, SessionError, Sessions, Settings};
use sessionkit_bench::minimal_layer as floor;
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// The `SECRET_KEY` of every benchmark.
pub const SECRET: &str = "benchmark-secret-key-that-is-long-enough-to-be-realistic-0123456789";

/// The handlers each stack is called on: `read` reads one key, `read_write` reads it and
/// writes it back plus one.
pub const PATHS: [&str; 2] = ["/read", "/read_write"];

/// How many sessions each stack's requests take turns over.
const SESSIONS: usize = 4;

/// One session library's router, with the cookies of sessions it created.
pub struct Stack {
    /// The benchmark's name for it, e.g. `sessionkit_memory`.
    pub name: &'static str,
    router: Router,
    /// None for the stack without sessions.
    cookies: Option<Vec<String>>,
    calls: Cell<usize>,
}

impl Stack {
    /// One `GET path` through the stack, with the next session's cookie.
    pub fn call(&self, runtime: &Runtime, path: &str) -> StatusCode {
        let turn = self.calls.replace(self.calls.get() + 1);
        let cookie = self.cookies.as_ref().map(|c| c[turn % c.len()].as_str());
        runtime
            .block_on(send(&self.router, "GET", path, cookie))
            .status()
    }
}

/// The runtime the stacks run on: one thread, as a handler's request runs on one.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every stack, logged in and checked (see [`check`]).
pub fn stacks(runtime: &Runtime) -> Vec<Stack> {
    // As the comparison servers: no stack pays for logging.
    sessionkit_bench::serve::log_nothing();
    let routers: Vec<(&'static str, Router)> = vec![
        ("axum_no_session", bare_router()),
        (
            "floor_minimal_layer",
            floor_router(floor::FloorLayer::server()),
        ),
        (
            "floor_minimal_signed_layer",
            floor_router(floor::FloorLayer::signed(SECRET)),
        ),
        (
            "sessionkit_memory",
            runtime.block_on(sessionkit_router(EngineKind::Cache)),
        ),
        (
            "sessionkit_signed_cookies",
            runtime.block_on(sessionkit_router(EngineKind::SignedCookies)),
        ),
        (
            "sessionkit_encrypted_cookies",
            runtime.block_on(sessionkit_router(EngineKind::EncryptedCookies)),
        ),
        ("tower_sessions_memory", tower_sessions_router(false)),
        (
            "tower_sessions_signed_id_memory",
            tower_sessions_router(true),
        ),
    ];
    routers
        .into_iter()
        .map(|(name, router)| {
            // What `axum::serve` does once: turn every route into its service now, instead of
            // building it (and applying the layers again) on every request.
            let router = router.with_state(());
            let has_sessions = name != "axum_no_session";
            let cookies: Option<Vec<String>> = (0..SESSIONS)
                .map(|_| runtime.block_on(session_cookie(&router)))
                .collect();
            assert_eq!(cookies.is_some(), has_sessions, "{name}: login cookies");
            match &cookies {
                Some(cookies) => {
                    for cookie in cookies {
                        runtime.block_on(check(&router, Some(cookie), true));
                    }
                    let mut distinct = cookies.clone();
                    distinct.sort();
                    distinct.dedup();
                    assert_eq!(distinct.len(), SESSIONS, "{name}: one session per login");
                }
                None => runtime.block_on(check(&router, None, false)),
            }
            Stack {
                name,
                router,
                cookies,
                calls: Cell::new(0),
            }
        })
        .collect()
}

/// The two handlers and the login that creates the session, for one session library.
macro_rules! bench_router {
    ($session:ty, $get:expr, $insert:expr, $error:ty) => {{
        async fn read(session: $session) -> Result<String, $error> {
            let n: u64 = $get(&session).await?.unwrap_or(0);
            Ok(n.to_string())
        }
        async fn read_write(session: $session) -> Result<String, $error> {
            let n: u64 = $get(&session).await?.unwrap_or(0) + 1;
            $insert(&session, "n", n).await?;
            Ok(n.to_string())
        }
        async fn login(session: $session) -> Result<StatusCode, $error> {
            // A user id per login, so that even signed cookies differ between sessions.
            static LOGINS: AtomicU64 = AtomicU64::new(0);
            $insert(&session, "user_id", LOGINS.fetch_add(1, Ordering::Relaxed)).await?;
            $insert(&session, "n", 0).await?;
            Ok(StatusCode::OK)
        }
        Router::new()
            .route("/read", get(read))
            .route("/read_write", get(read_write))
            .route("/login", post(login))
    }};
}

async fn sk_get(session: &sessionkit::Session) -> Result<Option<u64>, SessionError> {
    session.get("n")
}

async fn sk_insert(session: &sessionkit::Session, key: &str, n: u64) -> Result<(), SessionError> {
    session.insert(key, n)
}

async fn floor_get(session: &floor::FloorSession) -> Result<Option<u64>, StatusCode> {
    Ok(session.get("n"))
}

async fn floor_insert(session: &floor::FloorSession, key: &str, n: u64) -> Result<(), StatusCode> {
    session.insert(key, n);
    Ok(())
}

fn floor_router(layer: floor::FloorLayer) -> Router {
    bench_router!(floor::FloorSession, floor_get, floor_insert, StatusCode).layer(layer)
}

type TsError = (StatusCode, String);

async fn ts_get(session: &tower_sessions::Session) -> Result<Option<u64>, TsError> {
    session
        .get("n")
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn ts_insert(session: &tower_sessions::Session, key: &str, n: u64) -> Result<(), TsError> {
    session
        .insert(key, n)
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn sessionkit_router(engine: EngineKind) -> Router {
    let settings = Settings {
        engine,
        cache_url: "memory://".to_owned(),
        ..Settings::new(SECRET)
    };
    let sessions = Sessions::open(settings).await.unwrap();
    bench_router!(sessionkit::Session, sk_get, sk_insert, SessionError).layer(sessions.layer())
}

fn tower_sessions_router(signed: bool) -> Router {
    use tower_sessions::{Expiry, MemoryStore, SessionManagerLayer};
    let router = bench_router!(tower_sessions::Session, ts_get, ts_insert, TsError);
    // Two weeks of inactivity: the cookie gets Max-Age and Expires, like sessionkit's.
    let layer = SessionManagerLayer::new(MemoryStore::default())
        .with_expiry(Expiry::OnInactivity(time::Duration::weeks(2)));
    if signed {
        router.layer(layer.with_signed(tower_sessions::cookie::Key::generate()))
    } else {
        router.layer(layer)
    }
}

fn bare_router() -> Router {
    async fn read() -> String {
        0.to_string()
    }
    async fn read_write() -> String {
        1.to_string()
    }
    async fn login() -> StatusCode {
        StatusCode::OK
    }
    Router::new()
        .route("/read", get(read))
        .route("/read_write", get(read_write))
        .route("/login", post(login))
}

/// One request through `router`, with the session cookie `cookie` (`name=value`) if given.
async fn send(router: &Router, method: &str, path: &str, cookie: Option<&str>) -> Response<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie);
    }
    let request = builder.body(Body::empty()).unwrap();
    router.clone().oneshot(request).await.unwrap()
}

/// Logs in once and returns the `name=value` of the session cookie it set.
async fn session_cookie(router: &Router) -> Option<String> {
    let response = send(router, "POST", "/login", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers().get(SET_COOKIE)?.to_str().unwrap();
    Some(set_cookie.split(';').next().unwrap().to_owned())
}

/// Checks the stack behaves before timing it: both handlers answer 200, only the writer sets a
/// cookie (a reader that wrote would not be measuring a read).
async fn check(router: &Router, cookie: Option<&str>, sessions: bool) {
    let read = send(router, "GET", "/read", cookie).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert!(read.headers().get(SET_COOKIE).is_none());
    let write = send(router, "GET", "/read_write", cookie).await;
    assert_eq!(write.status(), StatusCode::OK);
    assert_eq!(write.headers().get(SET_COOKIE).is_some(), sessions);
}
