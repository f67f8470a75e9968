//! The tower layer: reads the session cookie before the handler and, after it, saves the
//! session and sets or deletes the cookie by Django's `SessionMiddleware` decision table:
//!
//! 1. The request carried the cookie and the session ended empty → delete the cookie.
//! 2. Otherwise, if the session was modified (or `SESSION_SAVE_EVERY_REQUEST`), is not empty,
//!    and the response is not a 5xx → save, and set the cookie.
//! 3. `Vary: Cookie` whenever the session was accessed, or the cookie set or deleted.
//!
//! With `SESSION_HEADER_NAME` the key travels in that header instead (see `transport`): the
//! same table, with "set the cookie" meaning "answer with the key in the header", "delete the
//! cookie" answering with an empty header, and `Vary` naming the header.
//!
//! Errors become responses here and only here: a store failure is a 503, a session deleted
//! meanwhile is a 400, a cookie too large for browsers is a 500 — each with a plain message.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response};
use time::OffsetDateTime;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::error::SessionError;
use crate::session::{LazySession, Outcome, Shared, delete_records};
use crate::sessions::Sessions;
use crate::telemetry;
use crate::transport::request_cookie;

/// The request-facing part of [`Sessions`]: the layer, and reading the cookie a request carried.
impl Sessions {
    /// The tower layer that gives every request a session.
    ///
    #[cfg_attr(feature = "axum", doc = "```")]
    #[cfg_attr(not(feature = "axum"), doc = "```ignore")]
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

    /// The session key a request carried in `headers`: the session cookie's value, or with
    /// `SESSION_HEADER_NAME` the header's. With [`Sessions::start`] and
    /// [`LazySession::finish`], what an adapter to another framework needs (sessionkit-actix).
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
    /// headers.insert(COOKIE, "sessionid=abc123".parse()?);
    /// assert_eq!(sessions.carried_key(&headers), Some("abc123"));
    /// # Ok(()) }
    /// ```
    pub fn carried_key<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        self.config().transport.incoming(headers)
    }

    /// The span an adapter runs each request in and hands to [`LazySession::finish`], which
    /// records in it what happened to the session (never the key); the store calls' spans
    /// nest inside it.
    pub fn request_span(&self) -> tracing::Span {
        tracing::debug_span!(
            "session",
            engine = self.engine().name(),
            outcome = tracing::field::Empty,
            cookie_bytes = tracing::field::Empty,
        )
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

/// Applies the decision table to `response` once the handler is done; returns what happened
/// to the session and the size of the cookie set, if any.
async fn finish(
    shared: &Shared,
    status: http::StatusCode,
    headers: &mut HeaderMap,
) -> Result<(&'static str, Option<usize>), SessionError> {
    let config = shared.config();
    let save_every_request = config.settings.save_every_request;
    if save_every_request && shared.carried_cookie() {
        // The handler may not have touched the session; load it so "empty" means empty.
        shared.ensure_loaded(config.settings.locking).await?;
    }
    let Outcome {
        empty,
        accessed,
        modified,
        retired,
    } = shared.outcome();
    let rotated = delete_records(retired).await?;
    if shared.carried_cookie() && empty {
        config.transport.end(headers);
        return Ok(("flushed", None));
    }
    if (modified || save_every_request) && !empty && !status.is_server_error() {
        // One clock reading for the record's expiry and the cookie's.
        let now = OffsetDateTime::now_utc();
        let (value, max_age) = shared.persist(now).await?;
        config.transport.send(headers, &value, max_age, now);
        let outcome = match (rotated, shared.carried_cookie()) {
            (true, _) => "rotated",
            (false, true) => "saved",
            (false, false) => "created",
        };
        return Ok((outcome, Some(value.len())));
    }
    if accessed {
        config.transport.vary(headers);
        return Ok(("loaded", None));
    }
    Ok(("untouched", None))
}

impl LazySession {
    /// Once the handler is done, applies the decision table (see the module's documentation)
    /// to a response of `status` with `headers`: saves the session if it must, adds to
    /// `headers` the cookie (or header) to set or delete and `Vary`, and releases the session's
    /// lock; records the outcome in `span` ([`Sessions::request_span`], or
    /// [`tracing::Span::none`]). Both the tower layer and sessionkit-actix end every request
    /// with it. An error is the response to send instead ([`SessionError::status`]); `headers`
    /// may then be partly written.
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
    /// use http::{HeaderMap, StatusCode};
    ///
    /// let lazy = sessions.start(None);
    /// lazy.load().await?.insert("user_id", 42)?;
    /// let mut headers = HeaderMap::new();
    /// lazy.finish(StatusCode::OK, &mut headers, &tracing::Span::none()).await?;
    /// assert!(headers["set-cookie"].to_str()?.starts_with("sessionid="));
    /// assert_eq!(headers["vary"], "Cookie");
    /// # Ok(()) }
    /// ```
    pub async fn finish(
        &self,
        status: http::StatusCode,
        headers: &mut HeaderMap,
        span: &tracing::Span,
    ) -> Result<(), SessionError> {
        let finished = finish(&self.0, status, headers).await;
        let load_failed = self.0.release().await;
        let (outcome, cookie_bytes) = match &finished {
            Ok(_) if load_failed => ("failed", None),
            Ok(done) => *done,
            Err(_) => ("failed", None),
        };
        // A span no subscriber wants records nothing; asking first skips the work of trying.
        if !span.is_disabled() {
            span.record("outcome", outcome);
            if let Some(bytes) = cookie_bytes {
                span.record("cookie_bytes", bytes);
            }
        }
        telemetry::request(self.0.config().primary.name(), outcome, cookie_bytes);
        finished.map(|_| ())
    }
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
            .start(self.sessions.carried_key(request.headers()));
        request.extensions_mut().insert(lazy.clone());
        // Called here, on the service that was polled ready: nothing needs to happen before
        // the handler, so the inner service is not cloned for the future to own.
        let handled = self.inner.call(request);
        // One span per request (never the key): what happened to the session, and the
        // `session_store` spans of its store calls inside it.
        let span = self.sessions.request_span();
        let request = {
            let span = span.clone();
            async move {
                let mut response = handled.await?;
                let finished = lazy.finish(response.status(), response.headers_mut(), &span);
                match finished.await {
                    Ok(()) => Ok(response),
                    Err(error) => Ok(error.to_response()),
                }
            }
        };
        if span.is_disabled() {
            Box::pin(request)
        } else {
            Box::pin(request.instrument(span))
        }
    }
}
