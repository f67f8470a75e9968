//! A store that goes away mid-run: requests get a clear 503 while it is down and work again
//! once it is back, without restarting the app. Uses a private `redis-server` on its own port
//! (sessionkit-testkit), so the shared Redis other tests use is never disturbed.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use sessionkit::{EngineKind, Session, SessionError, Sessions, Settings};
use sessionkit_testkit::{PrivateRedis, spare_port};
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

#[tokio::test]
async fn an_unreachable_database_at_start_up_is_a_clear_error() {
    let settings = Settings {
        engine: EngineKind::Db,
        db_url: format!(
            "postgres://postgres@127.0.0.1:{}/test",
            spare_port().unwrap()
        ),
        store_timeout: Duration::from_secs(1),
        ..Settings::new("outage-test-secret")
    };
    let error = Sessions::open(settings).await.unwrap_err();
    assert!(error.to_string().contains("unavailable"), "{error}");
}
