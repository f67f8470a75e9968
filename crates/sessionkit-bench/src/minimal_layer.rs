//! A yardstick, not a session library: the least a session layer does per request, written as
//! directly as it can be, so the benchmarks can show how far the real layers are from it. It
//! finds its cookie, reads the session (from a map behind one lock, or by verifying the cookie
//! with sessionkit's Django-compatible `Signer`), hands the handler a copy-on-write map of JSON
//! values, and after a write stores or signs the map and sets the cookie. No hashed keys, no
//! expiry, no merge of concurrent writes, no error handling.
//!
//! The in-process benchmarks call it next to the real layers (`floor_minimal_layer`,
//! `floor_minimal_signed_layer`); `minimal_layer_server` serves it over HTTP.

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

type Data = Arc<sessionkit::engine::Data>;

/// The tower layer of the yardstick: where it keeps its sessions, and its cookie.
#[derive(Clone)]
pub struct FloorLayer {
    sessions: Sessions,
    cookie_name: &'static str,
    cookie_attributes: &'static str,
}

/// Where the yardstick keeps its sessions.
#[derive(Clone)]
enum Sessions {
    /// In a map, by key; the cookie carries the key.
    Server(Arc<Mutex<HashMap<String, Data>>>),
    /// In the cookie, signed as Django signs a session cookie.
    Signed(Arc<Signer>),
}

impl FloorLayer {
    /// Sessions in a map in memory, the cookie naming one.
    pub fn server() -> Self {
        FloorLayer::keeping(Sessions::Server(Arc::default()))
    }

    /// Sessions in the cookie, signed with `secret` as Django signs a session cookie.
    pub fn signed(secret: &str) -> Self {
        let signer = Signer::new(COOKIE_SALT, secret, &[]).compressing_from(SMALL_VALUE_BYTES);
        FloorLayer::keeping(Sessions::Signed(Arc::new(signer)))
    }

    fn keeping(sessions: Sessions) -> Self {
        FloorLayer {
            sessions,
            cookie_name: "floorid",
            cookie_attributes: "HttpOnly; Path=/",
        }
    }

    /// The cookie's name and its attributes after the value (`floorid` and `HttpOnly; Path=/`
    /// unless set): over HTTP, a cookie as long as the one of the layer compared with it.
    pub fn with_cookie(mut self, name: &'static str, attributes: &'static str) -> Self {
        self.cookie_name = name;
        self.cookie_attributes = attributes;
        self
    }
}

impl Sessions {
    fn load(&self, cookie: &str) -> Option<Data> {
        match self {
            Sessions::Server(sessions) => sessions.lock().unwrap().get(cookie).cloned(),
            Sessions::Signed(signer) => signer
                .unsign_object(cookie, None, SystemTime::now())
                .ok()
                .map(|unsigned| Arc::new(unsigned.data)),
        }
    }

    /// Stores `data` and returns the cookie value that names it.
    fn save(&self, key: Option<&str>, data: &Data) -> String {
        match self {
            Sessions::Server(sessions) => {
                let mut sessions = sessions.lock().unwrap();
                let key = key.map_or_else(|| format!("{:032}", sessions.len()), str::to_owned);
                sessions.insert(key.clone(), data.clone());
                key
            }
            Sessions::Signed(signer) => {
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
    /// The number stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.0.lock().unwrap().data.get(key)?.parse().ok()
    }

    /// Stores `n` under `key`.
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
            layer: self.clone(),
        }
    }
}

/// The tower service of [`FloorLayer`].
#[derive(Clone)]
pub struct FloorService<S> {
    inner: S,
    layer: FloorLayer,
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
        let name = self.layer.cookie_name;
        let key = request
            .headers()
            .get(COOKIE)
            .and_then(|header| header.to_str().ok())
            .and_then(|header| header.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned);
        let data = key
            .as_deref()
            .and_then(|key| self.layer.sessions.load(key))
            .unwrap_or_default();
        let session = FloorSession(Arc::new(Mutex::new(State {
            key,
            data,
            modified: false,
        })));
        request.extensions_mut().insert(session.clone());
        let handled = self.inner.call(request);
        let layer = self.layer.clone();
        Box::pin(async move {
            let mut response = handled.await?;
            let state = session.0.lock().unwrap();
            if state.modified {
                let value = layer.sessions.save(state.key.as_deref(), &state.data);
                // In a buffer of its exact length, as sessionkit's `Set-Cookie` is built.
                let (name, attributes) = (layer.cookie_name, layer.cookie_attributes);
                let mut cookie =
                    String::with_capacity(name.len() + value.len() + attributes.len() + 3);
                for part in [name, "=", &value, "; ", attributes] {
                    cookie.push_str(part);
                }
                let headers = response.headers_mut();
                headers.insert(SET_COOKIE, HeaderValue::try_from(cookie).unwrap());
                headers.insert(VARY, HeaderValue::from_static("Cookie"));
            }
            Ok(response)
        })
    }
}
