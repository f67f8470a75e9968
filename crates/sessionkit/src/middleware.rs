//! The tower layer: reads the session cookie before the handler and, after it, saves the
//! session and sets or deletes the cookie by Django's `SessionMiddleware` decision table:
//!
//! 1. The request carried the cookie and the session ended empty → delete the cookie.
//! 2. Otherwise, if the session was modified (or `SESSION_SAVE_EVERY_REQUEST`), is not empty,
//!    and the response is not a 5xx → save, and set the cookie.
//! 3. `Vary: Cookie` whenever the session was accessed, or the cookie set or deleted.
//!
//! Errors become responses here and only here: a store failure is a 503, a session deleted
//! meanwhile is a 400, a cookie too large for browsers is a 500 — each with a plain message.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use http::header::{COOKIE, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::engine::{Engine, OpenError, open};
use crate::error::SessionError;
use crate::session::{Config, LazySession, Shared};
use crate::set_cookie::CookieTemplate;
use crate::settings::{ConfigError, Settings};

/// Browsers keep a cookie only if its name and value together fit in 4096 bytes.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// sessionkit for one application: an engine and the settings. Cheap to clone.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use sessionkit::{Session, SessionError, Sessions, Settings};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     let n: u64 = session.get("visits")?.unwrap_or(0) + 1;
///     session.insert("visits", n)?;
///     Ok(format!("visit number {n}"))
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = Sessions::open(Settings::from_env()?).await?;
/// sessions.engine().migrate().await?;
/// let app: Router = Router::new().route("/", get(visits)).layer(sessions.layer());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sessions {
    config: Arc<Config>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("engine", &self.engine().kind())
            .field("settings", self.settings())
            .finish()
    }
}

impl Sessions {
    /// Validates `settings` and opens the engine they select, and the fallback engines of
    /// `SESSION_ENGINE_FALLBACKS` (read from only, while sessions move to the primary).
    pub async fn open(settings: Settings) -> Result<Self, OpenError> {
        let primary = open(&settings).await?;
        let mut fallbacks = Vec::with_capacity(settings.engine_fallbacks.len());
        for kind in &settings.engine_fallbacks {
            let fallback = Settings {
                engine: *kind,
                engine_fallbacks: Vec::new(),
                locking: false,
                ..settings.clone()
            };
            fallbacks.push(open(&fallback).await?);
        }
        Ok(Sessions::assemble(primary, fallbacks, settings))
    }

    /// Uses an engine built by hand (tests, custom engines) with `settings`; fallback
    /// engines, if any, come from [`Sessions::with_fallbacks`].
    pub fn new(engine: Arc<dyn Engine>, settings: Settings) -> Result<Self, ConfigError> {
        settings.validate()?;
        Ok(Sessions::assemble(engine, Vec::new(), settings))
    }

    /// Puts the parts together; `settings` are validated.
    fn assemble(
        primary: Arc<dyn Engine>,
        fallbacks: Vec<Arc<dyn Engine>>,
        settings: Settings,
    ) -> Self {
        Sessions {
            config: Arc::new(Config {
                primary,
                fallbacks,
                cookie: CookieTemplate::new(&settings),
                settings,
            }),
        }
    }

    /// The same, also reading sessions from `fallbacks` (tried in order when the primary
    /// engine does not recognize a cookie) and moving them to the primary engine.
    pub fn with_fallbacks(self, fallbacks: Vec<Arc<dyn Engine>>) -> Self {
        Sessions::assemble(
            self.config.primary.clone(),
            fallbacks,
            self.config.settings.clone(),
        )
    }

    /// The engine sessions are saved in.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.config.primary
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// The session of a request that carried `cookie_value` (not loaded yet).
    pub fn start(&self, cookie_value: Option<&str>) -> LazySession {
        LazySession::new(self.config.clone(), cookie_value.map(str::to_owned))
    }

    /// The tower layer that gives every request a session.
    pub fn layer(&self) -> SessionLayer {
        SessionLayer {
            sessions: self.clone(),
        }
    }

    /// The session cookie's value in `headers`, if the request carried one.
    pub fn cookie_value<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let name = self.settings().cookie_name.as_str();
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|header| header.to_str().ok())
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim())
    }

    /// Applies the decision table to `response` once the handler is done.
    async fn finish(
        &self,
        shared: &Shared,
        status: http::StatusCode,
        headers: &mut HeaderMap,
    ) -> Result<(), SessionError> {
        let save_every_request = self.settings().save_every_request;
        if save_every_request && shared.carried_cookie() {
            // The handler may not have touched the session; load it so "empty" means empty.
            shared.ensure_loaded(self.settings().locking).await?;
        }
        shared.delete_retired().await?;
        let empty = shared.is_empty();
        let (accessed, modified) = shared.flags();
        if shared.carried_cookie() && empty {
            headers.append(SET_COOKIE, self.config.cookie.delete());
            add_vary_cookie(headers);
            return Ok(());
        }
        if accessed {
            add_vary_cookie(headers);
        }
        if (modified || save_every_request) && !empty && !status.is_server_error() {
            let now = SystemTime::now();
            let max_age = shared.cookie_max_age(now);
            let value = shared.persist(now).await?;
            let size = self.settings().cookie_name.len() + value.len();
            if size > MAX_COOKIE_BYTES {
                return Err(SessionError::CookieTooLarge {
                    size,
                    limit: MAX_COOKIE_BYTES,
                });
            }
            headers.append(SET_COOKIE, self.config.cookie.set(&value, max_age, now));
            add_vary_cookie(headers);
        }
        Ok(())
    }
}

/// Django's `patch_vary_headers(response, ("Cookie",))`: add once, keep what is there.
fn add_vary_cookie(headers: &mut HeaderMap) {
    let present = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("cookie") || v.trim() == "*");
    if !present {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}

/// The tower [`Layer`] made by [`Sessions::layer`].
#[derive(Clone, Debug)]
pub struct SessionLayer {
    sessions: Sessions,
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            sessions: self.sessions.clone(),
        }
    }
}

/// The tower [`Service`] made by [`SessionLayer`].
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    sessions: Sessions,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let sessions = self.sessions.clone();
        let lazy = sessions.start(sessions.cookie_value(request.headers()));
        request.extensions_mut().insert(lazy.clone());
        // The clone that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            let status = response.status();
            let finished = sessions
                .finish(&lazy.0, status, response.headers_mut())
                .await;
            lazy.0.release_lock().await;
            match finished {
                Ok(()) => Ok(response),
                Err(error) => Ok(error.to_response()),
            }
        })
    }
}

#[cfg(feature = "axum")]
mod extract {
    use axum::extract::FromRequestParts;
    use http::request::Parts;

    use crate::error::SessionError;
    use crate::session::{LazySession, Session};

    /// Extracting a `Session` loads it (once per request). Without the session layer the
    /// rejection is [`SessionError::MissingLayer`]; a store failure is a 503.
    impl<S: Send + Sync> FromRequestParts<S> for Session {
        type Rejection = SessionError;

        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
            LazySession::from_request_parts(parts, state)
                .await?
                .load()
                .await
        }
    }

    /// Extracting a `LazySession` loads nothing; call [`LazySession::load`] when needed.
    impl<S: Send + Sync> FromRequestParts<S> for LazySession {
        type Rejection = SessionError;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<LazySession>()
                .cloned()
                .ok_or(SessionError::MissingLayer)
        }
    }
}
