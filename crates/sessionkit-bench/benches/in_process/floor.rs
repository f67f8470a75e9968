//! A yardstick, not a session library: the least a session layer does per request, written as
//! directly as it can be, so the benchmarks can show how far the real layers are from it. It
//! finds its cookie, reads the session (from a map behind one lock, or by verifying the cookie
//! with sessionkit's Django-compatible `Signer`), hands the handler a copy-on-write map of JSON
//! values, and after a write stores or signs the map and sets the cookie. No hashed keys, no
//! expiry, no merge of concurrent writes, no error handling.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use http::header::{COOKIE, SET_COOKIE, VARY};
use http::request::Parts;
use http::{HeaderValue, Request, Response};
use sessionkit::django::signing::{COOKIE_SALT, SMALL_VALUE_BYTES, Signer};
use sessionkit::engine::JsonText;
use tower::{Layer, Service};

const COOKIE_NAME: &str = "floorid";

type Data = Arc<sessionkit::engine::Data>;

/// Where the yardstick keeps its sessions.
#[derive(Clone)]
pub enum FloorLayer {
    /// In a map, by key; the cookie carries the key.
    Server(Arc<Mutex<HashMap<String, Data>>>),
    /// In the cookie, signed as Django signs a session cookie.
    Signed(Arc<Signer>),
}

impl FloorLayer {
    pub fn server() -> Self {
        FloorLayer::Server(Arc::default())
    }

    pub fn signed(secret: &str) -> Self {
        let signer = Signer::new(COOKIE_SALT, secret, &[]).compressing_from(SMALL_VALUE_BYTES);
        FloorLayer::Signed(Arc::new(signer))
    }

    fn load(&self, cookie: &str) -> Option<Data> {
        match self {
            FloorLayer::Server(sessions) => sessions.lock().unwrap().get(cookie).cloned(),
            FloorLayer::Signed(signer) => signer
                .unsign_object(cookie, None, SystemTime::now())
                .ok()
                .map(|unsigned| Arc::new(unsigned.data)),
        }
    }

    /// Stores `data` and returns the cookie value that names it.
    fn save(&self, key: Option<&str>, data: &Data) -> String {
        match self {
            FloorLayer::Server(sessions) => {
                let mut sessions = sessions.lock().unwrap();
                let key = key.map_or_else(|| format!("{:032}", sessions.len()), str::to_owned);
                sessions.insert(key.clone(), data.clone());
                key
            }
            FloorLayer::Signed(signer) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                signer.sign_object(data, now.as_secs())
            }
        }
    }
}

/// One request's session, as the handler sees it.
#[derive(Clone)]
pub struct FloorSession(Arc<Mutex<State>>);

struct State {
    key: Option<String>,
    data: Data,
    modified: bool,
}

impl FloorSession {
    pub fn get(&self, key: &str) -> Option<u64> {
        self.0.lock().unwrap().data.get(key)?.parse().ok()
    }

    pub fn insert(&self, key: &str, n: u64) {
        let mut state = self.0.lock().unwrap();
        state.modified = true;
        Arc::make_mut(&mut state.data).insert(key, JsonText::new(&n).unwrap());
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FloorSession {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<FloorSession>()
            .cloned()
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl<S> Layer<S> for FloorLayer {
    type Service = FloorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FloorService {
            inner,
            sessions: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct FloorService<S> {
    inner: S,
    sessions: FloorLayer,
}

impl<S, B> Service<Request<B>> for FloorService<S>
where
    S: Service<Request<B>, Response = Response<axum::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let key = request
            .headers()
            .get(COOKIE)
            .and_then(|header| header.to_str().ok())
            .and_then(|header| header.strip_prefix(COOKIE_NAME)?.strip_prefix('='))
            .map(str::to_owned);
        let data = key
            .as_deref()
            .and_then(|key| self.sessions.load(key))
            .unwrap_or_default();
        let session = FloorSession(Arc::new(Mutex::new(State {
            key,
            data,
            modified: false,
        })));
        request.extensions_mut().insert(session.clone());
        let handled = self.inner.call(request);
        let sessions = self.sessions.clone();
        Box::pin(async move {
            let mut response = handled.await?;
            let state = session.0.lock().unwrap();
            if state.modified {
                let value = sessions.save(state.key.as_deref(), &state.data);
                let cookie = format!("{COOKIE_NAME}={value}; HttpOnly; Path=/");
                let headers = response.headers_mut();
                headers.insert(SET_COOKIE, HeaderValue::try_from(cookie).unwrap());
                headers.insert(VARY, HeaderValue::from_static("Cookie"));
            }
            Ok(response)
        })
    }
}
