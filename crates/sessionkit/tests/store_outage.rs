//! A store that goes away mid-run: requests get a clear 503 while it is down and work again
//! once it is back, without restarting the app; the error says why. Uses a private
//! `redis-server` on its own port, and reaches the shared PostgreSQL through a TCP proxy of its
//! own that it closes (both from sessionkit-testkit), so the services other tests use are never
//! disturbed.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use sessionkit::engine::DbEngine;
use sessionkit::engine::SessionKey;
use sessionkit::{EngineKind, Session, SessionError, Sessions, Settings};
use sessionkit_testkit::{PrivateRedis, TcpProxy, spare_port};
use tower::ServiceExt;

async fn incr(session: Session) -> Result<String, SessionError> {
    let n: i64 = session.get("n")?.unwrap_or(0) + 1;
    session.insert("n", n)?;
    Ok(n.to_string())
}

async fn call(app: &Router, cookie: Option<&str>) -> (StatusCode, Option<String>, String) {
    let mut request = Request::get("/incr");
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("sessionid={cookie}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let cookie = response.headers().get("set-cookie").map(|h| {
        h.to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("sessionid=")
            .to_owned()
    });
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, cookie, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn redis_down_gives_503s_then_recovers_without_a_restart() {
    let mut redis = PrivateRedis::start().expect("start a private redis-server");
    let settings = Settings {
        engine: EngineKind::Cache,
        cache_url: redis.url(),
        store_timeout: Duration::from_secs(1),
        ..Settings::new("outage-test-secret")
    };
    let sessions = Sessions::open(settings).await.unwrap();
    let app = Router::new()
        .route("/incr", get(incr))
        .layer(sessions.layer());

    let (status, cookie, body) = call(&app, None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    let cookie = cookie.expect("a session cookie");
    assert_eq!(call(&app, Some(&cookie)).await.2, "2");

    redis.kill().expect("kill redis-server");
    for cookie in [Some(cookie.as_str()), None] {
        let started = Instant::now();
        let (status, set_cookie, body) = call(&app, cookie).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("unavailable"), "{body}");
        assert!(set_cookie.is_none());
        assert!(started.elapsed() < Duration::from_secs(5), "failed fast");
    }

    // Same port and data: the app reconnects by itself.
    redis.restart().expect("restart redis-server");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, cookie, body) = call(&app, None).await;
        if status == StatusCode::OK {
            assert_eq!(body, "1");
            assert_eq!(call(&app, Some(&cookie.unwrap())).await.2, "2");
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {status} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A lock attempt sent to a hung Redis times out (503), but Redis runs it when it resumes: the
/// lock must not then keep the session locked for the whole lease (30 s here).
#[tokio::test]
async fn a_lock_taken_by_a_request_that_gave_up_is_released_soon() {
    let redis = PrivateRedis::start().expect("start a private redis-server");
    let settings = Settings {
        engine: EngineKind::Cache,
        cache_url: redis.url(),
        store_timeout: Duration::from_secs(1),
        locking: true,
        lock_timeout: Duration::from_secs(2),
        lock_lease: Duration::from_secs(30),
        ..Settings::new("outage-test-secret")
    };
    let sessions = Sessions::open(settings).await.unwrap();
    let app = Router::new()
        .route("/incr", get(incr))
        .layer(sessions.layer());
    let (_, cookie, _) = call(&app, None).await;
    let cookie = cookie.expect("a session cookie");

    redis.suspend().expect("suspend redis-server");
    let (status, _, body) = call(&app, Some(&cookie)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    redis.resume().expect("resume redis-server");

    let resumed = Instant::now();
    loop {
        let (status, _, body) = call(&app, Some(&cookie)).await;
        if status == StatusCode::OK {
            assert_eq!(body, "2", "the request that gave up changed nothing");
            break;
        }
        assert!(
            resumed.elapsed() < Duration::from_secs(12),
            "still locked {:?} after the store resumed: {status} {body}",
            resumed.elapsed()
        );
    }
}

/// Settings for the db engine at `url`, with a short store timeout.
fn db_settings(url: String) -> Settings {
    Settings {
        engine: EngineKind::Db,
        db_url: url,
        store_timeout: Duration::from_secs(1),
        ..Settings::new("outage-test-secret")
    }
}

/// Whether `message` names a connection refused (the OS's wording: "Connection refused").
fn says_refused(message: &str) -> bool {
    message.to_lowercase().contains("connection refused")
}

#[tokio::test]
async fn an_unreachable_database_at_start_up_names_the_setting_and_the_cause() {
    for scheme in ["postgres://postgres", "mysql://root"] {
        let url = format!("{scheme}@127.0.0.1:{}/test", spare_port().unwrap());
        let error = Sessions::open(db_settings(url)).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("SESSION_DB_URL"), "{message}");
        assert!(says_refused(&message), "{message}");
    }
}

#[tokio::test]
async fn a_database_lost_at_run_time_gives_503s_whose_error_says_why() {
    let proxy = TcpProxy::start(5432).unwrap();
    let table = format!("sk_outage_{}", &SessionKey::generate().as_str()[..12]);
    let settings = Settings {
        db_table: table.clone(),
        ..db_settings(format!(
            "postgres://postgres@127.0.0.1:{}/test",
            proxy.port()
        ))
    };
    let sessions = Sessions::open(settings.clone()).await.unwrap();
    sessions.engine().migrate().await.unwrap();
    let app = Router::new()
        .route("/incr", get(incr))
        .layer(sessions.layer());
    let (status, cookie, _) = call(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.expect("a session cookie");

    drop(proxy); // closes every connection through it; new ones are refused
    // The pooled connection died with the partition (its error says so); after it, the pool
    // has to connect, which is refused: the error must say that, not "pool timed out".
    let mut errors = Vec::new();
    while errors.len() < 5 && !errors.iter().any(|e: &String| says_refused(e)) {
        let (status, _, _) = call(&app, Some(&cookie)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let error = sessions.engine().load(&cookie).await.unwrap_err();
        errors.push(SessionError::from(error).to_string());
    }
    assert!(errors.iter().any(|e| says_refused(e)), "{errors:#?}");
    for error in &errors {
        assert!(!error.contains("pool timed out"), "{errors:#?}");
        assert!(!error.contains("did not answer"), "{errors:#?}");
    }

    let direct = DbEngine::connect(&Settings {
        db_url: "postgres://postgres@127.0.0.1:5432/test".into(),
        ..settings
    })
    .await
    .unwrap();
    for table in [table.clone(), format!("{table}_lock")] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(direct.pool())
            .await
            .unwrap();
    }
}
