//! Idle timeouts cost few store writes: a request that only reads the session writes its
//! activity at most once per `SESSION_ACTIVITY_REFRESH` (issue 16: "store writes per 100
//! read-only requests"). The store counts its writes; the requests go through an axum router.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, header};
use sessionkit::engine::{
    Addressing, Capabilities, Data, EngineError, JsonText, Loaded, MemoryStore, RecordStore,
    RecordWrite, SessionKey,
};
use sessionkit::expiry::ACTIVE_KEY;
use sessionkit::{Session, SessionError, Sessions};
use time::OffsetDateTime;
use tower::ServiceExt;

/// A memory store that counts the records it writes.
#[derive(Clone)]
struct CountingStore {
    inner: Arc<MemoryStore>,
    writes: Arc<AtomicUsize>,
}

#[async_trait]
impl RecordStore for CountingStore {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        self.inner.fetch(id).await
    }
    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.insert(id, write).await
    }
    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.replace(id, version, write).await
    }
    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.inner.remove(id).await
    }
    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.inner.purge_expired(batch).await
    }
}

async fn login(session: Session) -> Result<&'static str, SessionError> {
    session.insert("user_id", 7)?;
    Ok("in")
}

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(format!("{:?}", session.get::<i64>("user_id")?))
}

/// Sets the recorded activity of the session behind `cookie` back 61 seconds, in the store
/// itself (a save through the session would record new activity), as if a minute had passed.
async fn a_minute_passes(store: &MemoryStore, cookie: &str) {
    let id = Addressing::Hashed.of(&SessionKey::parse(cookie).unwrap());
    let loaded = store.fetch(&id).await.unwrap().expect("the session");
    let mut data = Data::clone(&loaded.data);
    let active: i64 = data[ACTIVE_KEY].parse().unwrap();
    data.insert(ACTIVE_KEY, JsonText::from(active - 61));
    let now = OffsetDateTime::now_utc();
    let data = Arc::new(data);
    let write = RecordWrite::new(&data, now + time::Duration::hours(1), now);
    assert!(store.replace(&id, loaded.version, write).await.unwrap());
}

async fn request(app: &Router, path: &str, cookie: &str) -> http::Response<Body> {
    let request = Request::get(path)
        .header(header::COOKIE, format!("sessionid={cookie}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap()
}

#[tokio::test]
async fn a_hundred_read_only_requests_write_the_activity_at_most_once_per_refresh() {
    let writes = Arc::new(AtomicUsize::new(0));
    let memory = Arc::new(MemoryStore::new(100));
    let store = CountingStore {
        inner: memory.clone(),
        writes: writes.clone(),
    };
    let sessions = Sessions::builder("timeouts-test-secret")
        .configure(|s| {
            s.idle_timeout = Some(Duration::from_secs(15 * 60));
            s.activity_refresh = Duration::from_secs(60);
        })
        .store(store)
        .open()
        .await
        .unwrap();
    let app = Router::new()
        .route("/login", get(login))
        .route("/read", get(read))
        .layer(sessions.layer());

    let response = app
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set_cookie["sessionid=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(writes.swap(0, Ordering::SeqCst), 1, "the login writes once");

    for _ in 0..100 {
        let response = request(&app, "/read", &cookie).await;
        assert!(response.headers().get(header::SET_COOKIE).is_none());
    }
    assert_eq!(
        writes.swap(0, Ordering::SeqCst),
        0,
        "within the refresh: no write"
    );

    a_minute_passes(&memory, &cookie).await;
    for _ in 0..100 {
        request(&app, "/read", &cookie).await;
    }
    assert_eq!(
        writes.load(Ordering::SeqCst),
        1,
        "a minute later: one activity write for a hundred reads"
    );
}
