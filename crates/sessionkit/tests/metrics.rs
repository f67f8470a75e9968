//! Metrics (feature `metrics`): a Prometheus recorder installed as an application would sees
//! each request's outcome, each store call by operation, and store failures by kind.

#[path = "common/counter_app.rs"]
mod counter_app;

use std::time::Duration;

use async_trait::async_trait;
use http::StatusCode;
use metrics_exporter_prometheus::PrometheusBuilder;
use sessionkit::engine::{EngineError, Loaded, RecordStore, RecordWrite};
use sessionkit::{EngineKind, Sessions};

use counter_app::{cookie_of, get_with, router};

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
