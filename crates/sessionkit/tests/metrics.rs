//! Metrics (feature `metrics`): a Prometheus recorder installed as an application would sees
//! each request's outcome, each store call by operation, and store failures by kind.

use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use metrics_exporter_prometheus::PrometheusBuilder;
use sessionkit::engine::{EngineError, Loaded, RecordStore, RecordWrite};
use sessionkit::{EngineKind, Session, SessionError, Sessions};
use tower::ServiceExt;

async fn counter(session: Session) -> Result<String, SessionError> {
    let n: i64 = session.get("n")?.unwrap_or(0) + 1;
    session.insert("n", n)?;
    Ok(n.to_string())
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "bye"
}

/// A store whose every call fails, as one that is down does.
struct Down;

fn down() -> EngineError {
    EngineError::unavailable(std::io::Error::other("store down"))
}

#[async_trait]
impl RecordStore for Down {
    fn name(&self) -> &'static str {
        "down"
    }
    async fn fetch(&self, _: &str) -> Result<Option<Loaded>, EngineError> {
        Err(down())
    }
    async fn insert(&self, _: &str, _: RecordWrite<'_>) -> Result<bool, EngineError> {
        Err(down())
    }
    async fn replace(&self, _: &str, _: i64, _: RecordWrite<'_>) -> Result<bool, EngineError> {
        Err(down())
    }
    async fn remove(&self, _: &str) -> Result<(), EngineError> {
        Err(down())
    }
    async fn purge_expired(&self, _: usize) -> Result<u64, EngineError> {
        Err(down())
    }
}

fn router(sessions: &Sessions) -> Router {
    Router::new()
        .route("/", get(counter))
        .route("/logout", get(logout))
        .layer(sessions.layer())
}

async fn get_with(app: &Router, path: &str, cookie: Option<&str>) -> http::Response<Body> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("sessionid={cookie}"));
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn cookie_of(response: &http::Response<Body>) -> String {
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let value = set_cookie.strip_prefix("sessionid=").unwrap();
    value.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn requests_store_calls_and_store_failures_are_counted() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder of this test binary");

    let sessions = Sessions::builder("secret")
        .engine(EngineKind::Cache)
        .open()
        .await
        .unwrap();
    let app = router(&sessions);
    let first = get_with(&app, "/", None).await;
    let cookie = cookie_of(&first);
    for _ in 0..3 {
        assert_eq!(
            get_with(&app, "/", Some(&cookie)).await.status(),
            StatusCode::OK
        );
    }
    get_with(&app, "/logout", Some(&cookie)).await;

    let broken = Sessions::builder("secret")
        .store(Down)
        .configure(|s| s.store_timeout = Duration::from_secs(1))
        .open()
        .await
        .unwrap();
    let response = get_with(&router(&broken), "/", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let text = handle.render();
    for line in [
        r#"sessionkit_requests_total{engine="cache",outcome="created"} 1"#,
        r#"sessionkit_requests_total{engine="cache",outcome="saved"} 3"#,
        r#"sessionkit_requests_total{engine="cache",outcome="flushed"} 1"#,
        r#"sessionkit_requests_total{engine="down",outcome="failed"} 1"#,
        r#"sessionkit_store_call_seconds_count{store="cache",op="insert"} 1"#,
        r#"sessionkit_store_call_seconds_count{store="cache",op="replace"} 3"#,
        r#"sessionkit_store_call_seconds_count{store="cache",op="remove"} 1"#,
        r#"sessionkit_store_errors_total{store="down",op="fetch",kind="unavailable"} 1"#,
        r#"sessionkit_cookie_bytes_count{engine="cache"} 4"#,
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
    assert!(!text.contains(&cookie), "a session key in the metrics");
}
