//! Concurrent requests on one session (`docs/CONCURRENCY.md`): per-key merge keeps every
//! request's own keys; with `SESSION_LOCKING`, even read-modify-write of one key loses nothing;
//! a lock that is never released (its holder crashed) lapses after its lease. A store without
//! locks must say so instead.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use super::Harness;
use crate::engine::EngineError;
use crate::{Session, SessionError, Sessions, Settings};

/// Requests in flight at once on the shared session.
const CLIENTS: usize = 16;
/// Requests in flight at once when each sets a key of its own: more than a browser sends, so
/// that saves that lost a race queue up behind one another.
const CROWD: usize = 64;

/// The app under test: `/set/{name}` sets its own key; `/incr` increments `n`.
fn app(sessions: &Sessions) -> Router {
    Router::new()
        .route(
            "/set/{name}",
            get(|s: Session, Path(name): Path<String>| async move {
                s.insert(&name, true)?;
                Ok::<_, SessionError>("set")
            }),
        )
        .route(
            "/incr",
            get(|s: Session| async move {
                let n: i64 = s.get("n")?.unwrap_or(0) + 1;
                s.insert("n", n)?;
                Ok::<_, SessionError>(n.to_string())
            }),
        )
        .layer(sessions.layer())
}

async fn get_with_cookie(app: &Router, path: &str, cookie: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header("cookie", format!("sessionid={cookie}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The same store (same engine instance) under other settings.
fn sessions_with(h: &Harness, change: impl FnOnce(&mut Settings)) -> Sessions {
    let mut settings = h.settings.clone();
    change(&mut settings);
    Sessions::new(h.engine().clone(), settings).expect("valid settings")
}

/// Whether the store has no locks, having checked that it says so clearly: `try_lock` and
/// `unlock` answer [`EngineError::Unsupported`] and `SESSION_LOCKING` is refused at startup,
/// naming the setting. The lock behaviours have nothing more to check on such a store.
async fn has_no_locks(h: &Harness) -> bool {
    if h.engine().capabilities().locking {
        return false;
    }
    let cookie = h.saved(json!({"n": 0})).await;
    let engine = h.engine();
    let taken = engine
        .try_lock(&cookie, "holder", Duration::from_secs(1))
        .await;
    assert!(
        matches!(taken, Err(EngineError::Unsupported { .. })),
        "try_lock on a store without locks: {taken:?}"
    );
    let released = engine.unlock(&cookie, "holder").await;
    assert!(
        matches!(released, Err(EngineError::Unsupported { .. })),
        "unlock on a store without locks: {released:?}"
    );
    let locking = Settings {
        locking: true,
        ..h.settings.clone()
    };
    match Sessions::new(engine.clone(), locking) {
        Err(error) => assert_eq!(error.setting, "SESSION_LOCKING", "{error}"),
        Ok(_) => panic!("SESSION_LOCKING accepted on a store without locks"),
    }
    true
}

/// 64 concurrent requests on one session, each setting a key of its own: every one is
/// answered 200 and all 64 keys survive, because each save applies its own change to the
/// freshest record (no locking needed), and the saves that lost a race are merged rather than
/// left to race again until they give up.
pub async fn concurrent_requests_setting_their_own_keys_all_survive(h: &Harness) {
    let cookie = h.saved(json!({"start": true})).await;
    let app = app(&h.sessions);
    let requests = (0..CROWD).map(|i| {
        let (app, cookie) = (app.clone(), cookie.clone());
        tokio::spawn(async move { get_with_cookie(&app, &format!("/set/k{i}"), &cookie).await })
    });
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let session = h.reload(&cookie).await;
    for i in 0..CROWD {
        assert_eq!(
            session.get_value(&format!("k{i}")),
            Some(json!(true)),
            "k{i}"
        );
    }
}

/// With SESSION_LOCKING, 16 clients × 25 increments of one counter on one session end at
/// exactly 400: requests are serialized from their first access to their save.
pub async fn with_locking_no_increment_of_a_shared_counter_is_lost(h: &Harness) {
    if has_no_locks(h).await {
        return;
    }
    const EACH: usize = 25;
    let cookie = h.saved(json!({"n": 0})).await;
    let app = app(&sessions_with(h, |s| s.locking = true));
    let clients = (0..CLIENTS).map(|_| {
        let (app, cookie) = (app.clone(), cookie.clone());
        tokio::spawn(async move {
            for _ in 0..EACH {
                let (status, body) = get_with_cookie(&app, "/incr", &cookie).await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
        })
    });
    for client in clients {
        client.await.unwrap();
    }
    let n: i64 = h.reload(&cookie).await.get("n").unwrap().unwrap();
    assert_eq!(n, (CLIENTS * EACH) as i64);
}

/// A request that cannot get the lock within SESSION_LOCK_TIMEOUT gets a clear 503.
pub async fn a_request_that_cannot_get_the_lock_gets_a_503(h: &Harness) {
    if has_no_locks(h).await {
        return;
    }
    let cookie = h.saved(json!({"n": 0})).await;
    let engine = h.engine();
    assert!(
        engine
            .try_lock(&cookie, "holder", Duration::from_secs(60))
            .await
            .unwrap()
    );
    let app = app(&sessions_with(h, |s| {
        s.locking = true;
        s.lock_timeout = Duration::from_millis(200);
    }));
    let started = Instant::now();
    let (status, body) = get_with_cookie(&app, "/incr", &cookie).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("busy"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(2));
    engine.unlock(&cookie, "holder").await.unwrap();
    assert_eq!(get_with_cookie(&app, "/incr", &cookie).await.1, "1");
}

/// Only the holder's token releases a lock; once released, another taker gets it.
pub async fn a_lock_is_exclusive_until_its_holder_releases_it(h: &Harness) {
    if has_no_locks(h).await {
        return;
    }
    let cookie = h.saved(json!({"n": 0})).await;
    let engine = h.engine();
    let lease = Duration::from_secs(60);
    assert!(engine.try_lock(&cookie, "first", lease).await.unwrap());
    assert!(!engine.try_lock(&cookie, "second", lease).await.unwrap());
    engine.unlock(&cookie, "second").await.unwrap();
    assert!(
        !engine.try_lock(&cookie, "second", lease).await.unwrap(),
        "not its lock"
    );
    engine.unlock(&cookie, "first").await.unwrap();
    assert!(engine.try_lock(&cookie, "second", lease).await.unwrap());
    engine.unlock(&cookie, "second").await.unwrap();
}

/// A holder that dies without releasing (simulated: the lock is never released) blocks the
/// session no longer than its lease; the next request then proceeds.
pub async fn a_lock_whose_holder_died_lapses_after_its_lease(h: &Harness) {
    if has_no_locks(h).await {
        return;
    }
    let cookie = h.saved(json!({"n": 0})).await;
    let lease = Duration::from_millis(300);
    let app = app(&sessions_with(h, |s| {
        s.locking = true;
        s.lock_timeout = Duration::from_secs(5);
    }));
    // Timed from just before the lease is taken: the time the lock call itself takes on a
    // busy machine is part of the lease, not of the wait.
    let started = Instant::now();
    assert!(
        h.engine()
            .try_lock(&cookie, "crashed", lease)
            .await
            .unwrap()
    );
    let (status, body) = get_with_cookie(&app, "/incr", &cookie).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "it did wait: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(2),
        "no longer than the lease: {waited:?}"
    );
}
