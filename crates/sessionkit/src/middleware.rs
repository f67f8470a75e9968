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

use http::header::{COOKIE, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue, Request, Response};
use time::OffsetDateTime;
use tower::{Layer, Service};

use crate::engine::{Engine, OpenError, open};
use crate::error::SessionError;
use crate::session::{Config, LazySession, Outcome, Shared};
use crate::set_cookie::CookieTemplate;
use crate::settings::{ConfigError, Settings};

/// Browsers keep a cookie only if its name and value together fit in 4096 bytes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use sessionkit::{EngineKind, Sessions, Settings};
/// # let sessions = Sessions::open(Settings {
/// #     engine: EngineKind::SignedCookies,
/// #     ..Settings::new("secret")
/// # })
/// # .await?;
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use sessionkit::{MAX_COOKIE_BYTES, Session, SessionError, SessionKey};
/// use tower::ServiceExt;
///
/// async fn hoard(session: Session) -> Result<(), SessionError> {
///     // About 6 KB of random text: even compressed, no browser would keep the cookie.
///     let blob: String = (0..200).map(|_| SessionKey::generate().as_str().to_owned()).collect();
///     session.insert("blob", blob)
/// }
/// let app = Router::new().route("/", get(hoard)).layer(sessions.layer());
/// let response = app.oneshot(Request::new(Body::empty())).await?;
/// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR); // not a dropped cookie
/// assert!(response.headers().get("set-cookie").is_none());
/// # assert_eq!(MAX_COOKIE_BYTES, 4096);
/// # Ok(()) }
/// ```
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
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::OpenError;
    /// use sessionkit::{EngineKind, Sessions, Settings};
    ///
    /// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
    /// let sessions = Sessions::open(settings).await?; // memory:// needs no server
    /// assert_eq!(sessions.engine().kind(), EngineKind::Cache);
    ///
    /// let bad = Settings { cookie_age: -1, ..Settings::new("secret") };
    /// let error = Sessions::open(bad).await.unwrap_err();
    /// assert!(matches!(error, OpenError::Config(e) if e.setting == "SESSION_COOKIE_AGE"));
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sessionkit::engine::SignedCookieEngine;
    /// use sessionkit::{EngineKind, Sessions, Settings};
    ///
    /// let settings = Settings { engine: EngineKind::SignedCookies, ..Settings::new("secret") };
    /// let engine = Arc::new(SignedCookieEngine::new(&settings));
    /// let sessions = Sessions::new(engine.clone(), settings)?;
    /// assert_eq!(sessions.engine().kind(), EngineKind::SignedCookies);
    /// assert!(Sessions::new(engine, Settings::new("")).is_err()); // no SECRET_KEY
    /// # Ok::<(), sessionkit::ConfigError>(())
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::{EngineKind, Sessions, Settings};
    ///
    /// // Yesterday's sessions live in signed cookies; today's go to the cache.
    /// let old = Sessions::open(Settings {
    ///     engine: EngineKind::SignedCookies,
    ///     ..Settings::new("secret")
    /// })
    /// .await?;
    /// # let session = old.start(None).load().await?;
    /// # session.insert("user_id", 42)?;
    /// # let old_cookie = session.save().await?.unwrap();
    /// let new = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
    /// let sessions = Sessions::open(new).await?.with_fallbacks(vec![old.engine().clone()]);
    /// let session = sessions.start(Some(&old_cookie)).load().await?;
    /// assert_eq!(session.get::<u64>("user_id")?, Some(42)); // still logged in
    /// let new_cookie = session.save().await?.unwrap();
    /// assert!(sessions.engine().exists(&new_cookie).await?); // moved to the cache
    /// # Ok(()) }
    /// ```
    pub fn with_fallbacks(self, fallbacks: Vec<Arc<dyn Engine>>) -> Self {
        Sessions::assemble(
            self.config.primary.clone(),
            fallbacks,
            self.config.settings.clone(),
        )
    }

    /// The engine sessions are saved in.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::Cache,
    /// #     cache_url: "memory://".into(),
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// assert_eq!(sessions.engine().kind(), sessionkit::EngineKind::Cache);
    /// sessions.engine().migrate().await?; // nothing to create for a cache
    /// assert!(!sessions.engine().exists("abcdefgh12345678").await?);
    /// # Ok(()) }
    /// ```
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.config.primary
    }

    /// The settings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::Cache,
    /// #     cache_url: "memory://".into(),
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// assert_eq!(sessions.settings().cookie_name, "sessionid");
    /// assert_eq!(sessions.settings().cache_url, "memory://");
    /// # Ok(()) }
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// The session of a request that carried `cookie_value` (not loaded yet).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::Cache,
    /// #     cache_url: "memory://".into(),
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// let session = sessions.start(None).load().await?; // a first visit
    /// session.insert("n", 1)?;
    /// let cookie = session.save().await?.unwrap();
    ///
    /// let next = sessions.start(Some(&cookie)).load().await?; // the next request
    /// assert_eq!(next.get::<i32>("n")?, Some(1));
    /// # Ok(()) }
    /// ```
    pub fn start(&self, cookie_value: Option<&str>) -> LazySession {
        LazySession::new(self.config.clone(), cookie_value.map(Arc::from))
    }

    /// The tower layer that gives every request a session.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// use axum::{Router, body::Body, routing::get};
    /// use http::Request;
    /// use sessionkit::{Session, SessionError};
    /// use tower::ServiceExt;
    ///
    /// async fn login(session: Session) -> Result<(), SessionError> {
    ///     session.insert("user_id", 42)
    /// }
    /// let app = Router::new().route("/", get(login)).layer(sessions.layer());
    /// let response = app.oneshot(Request::new(Body::empty())).await?;
    /// let set_cookie = response.headers()["set-cookie"].to_str()?;
    /// assert!(set_cookie.starts_with("sessionid="));
    /// assert!(set_cookie.contains("HttpOnly"));
    /// assert_eq!(response.headers()["vary"], "Cookie");
    /// # Ok(()) }
    /// ```
    pub fn layer(&self) -> SessionLayer {
        SessionLayer {
            sessions: self.clone(),
        }
    }

    /// The session cookie's value in `headers`, if the request carried one; of several, the
    /// last (see [`request_cookie`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// use http::{HeaderMap, header::COOKIE};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(COOKIE, "theme=dark; sessionid=abc123; lang=en".parse()?);
    /// assert_eq!(sessions.cookie_value(&headers), Some("abc123"));
    /// assert_eq!(sessions.cookie_value(&HeaderMap::new()), None);
    /// # Ok(()) }
    /// ```
    pub fn cookie_value<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        request_cookie(headers, &self.settings().cookie_name)
    }
}

/// The value of the cookie `name` in a request's `Cookie` headers. Of several cookies of that
/// name the **last** wins, as in Django (whose `parse_cookie` fills a dict), so a request seen
/// by both a Django app and this one means the same session to each.
///
/// ```
/// use http::{HeaderMap, header::COOKIE};
/// use sessionkit::request_cookie;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(COOKIE, "sessionid=first; theme=dark; sessionid=second".parse()?);
/// assert_eq!(request_cookie(&headers, "sessionid"), Some("second"));
/// assert_eq!(request_cookie(&headers, "theme"), Some("dark"));
/// assert_eq!(request_cookie(&headers, "lang"), None);
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
pub fn request_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .rfind(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
}

/// Sessions on `signed_cookies` with the secret `"secret"`: no service needed, for unit tests.
#[cfg(test)]
pub(crate) async fn signed_cookie_sessions() -> Sessions {
    Sessions::open(Settings {
        engine: crate::EngineKind::SignedCookies,
        ..Settings::new("secret")
    })
    .await
    .expect("signed_cookies opens without any service")
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

/// Applies the decision table to `response` once the handler is done.
async fn finish(
    shared: &Shared,
    status: http::StatusCode,
    headers: &mut HeaderMap,
) -> Result<(), SessionError> {
    let config = shared.config();
    let save_every_request = config.settings.save_every_request;
    if save_every_request && shared.carried_cookie() {
        // The handler may not have touched the session; load it so "empty" means empty.
        shared.ensure_loaded(config.settings.locking).await?;
    }
    shared.delete_retired().await?;
    let Outcome {
        empty,
        accessed,
        modified,
    } = shared.outcome();
    if shared.carried_cookie() && empty {
        headers.append(SET_COOKIE, config.cookie.delete());
        add_vary_cookie(headers);
    } else if (modified || save_every_request) && !empty && !status.is_server_error() {
        // One clock reading for the record's expiry and the cookie's.
        let now = OffsetDateTime::now_utc();
        let max_age = shared.cookie_max_age(now);
        let value = shared.persist(now).await?;
        headers.append(SET_COOKIE, config.cookie.set(&value, max_age, now));
        add_vary_cookie(headers);
    } else if accessed {
        add_vary_cookie(headers);
    }
    Ok(())
}

/// The tower [`Layer`] made by [`Sessions::layer`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use sessionkit::{EngineKind, Sessions, Settings};
/// # let sessions = Sessions::open(Settings {
/// #     engine: EngineKind::SignedCookies,
/// #     ..Settings::new("secret")
/// # })
/// # .await?;
/// use http::{Request, Response};
/// use sessionkit::{LazySession, SessionError};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// // Any tower service works, not only axum: the session is in the request's extensions.
/// let service = ServiceBuilder::new().layer(sessions.layer()).service(service_fn(
///     |request: Request<String>| async move {
///         let session = request.extensions().get::<LazySession>().unwrap().load().await?;
///         session.insert("seen", true)?;
///         Ok::<_, SessionError>(Response::new(String::new()))
///     },
/// ));
/// let response = service.oneshot(Request::new(String::new())).await?;
/// assert!(response.headers().contains_key("set-cookie"));
/// # Ok(()) }
/// ```
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
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use sessionkit::{EngineKind, Sessions, Settings};
/// # let sessions = Sessions::open(Settings {
/// #     engine: EngineKind::SignedCookies,
/// #     ..Settings::new("secret")
/// # })
/// # .await?;
/// use http::{Request, Response};
/// use sessionkit::{LazySession, SessionError};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// // A handler that only reads the session: no cookie is set, but caches must vary on it.
/// let service = ServiceBuilder::new().layer(sessions.layer()).service(service_fn(
///     |request: Request<String>| async move {
///         let session = request.extensions().get::<LazySession>().unwrap().load().await?;
///         let _ = session.contains_key("user_id");
///         Ok::<_, SessionError>(Response::new(String::new()))
///     },
/// ));
/// let response = service.oneshot(Request::new(String::new())).await?;
/// assert!(!response.headers().contains_key("set-cookie"));
/// assert_eq!(response.headers()["vary"], "Cookie");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    sessions: Sessions,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let lazy = self
            .sessions
            .start(self.sessions.cookie_value(request.headers()));
        request.extensions_mut().insert(lazy.clone());
        // Called here, on the service that was polled ready: nothing needs to happen before
        // the handler, so the inner service is not cloned for the future to own.
        let handled = self.inner.call(request);
        Box::pin(async move {
            let mut response = handled.await?;
            let status = response.status();
            let finished = finish(&lazy.0, status, response.headers_mut()).await;
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
