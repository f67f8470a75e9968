//! Django-style sessions for actix-web 4, over sessionkit's engines and settings.
//!
//! [`SessionMiddleware`] gives every request a session, loaded on first use, and ends every
//! request with sessionkit's decision table ([`sessionkit::LazySession::finish`], the very
//! function the tower layer calls): the cookie set only when the session was modified, deleted
//! when it ended empty, `Vary: Cookie` when it was read, nothing saved on a 5xx, a store failure
//! a 503. Handlers take a [`Session`] (loaded) or a [`LazySession`] (not yet).
//!
//! ```
//! use actix_web::{App, test, web};
//! use sessionkit::{EngineKind, SessionError, Sessions, Settings};
//! use sessionkit_actix::{Session, SessionMiddleware};
//!
//! async fn login(session: Session) -> Result<&'static str, actix_web::Error> {
//!     session.insert("user_id", 42).map_err(sessionkit_actix::error)?;
//!     Ok("logged in")
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let sessions = Sessions::open(Settings {
//!     engine: EngineKind::SignedCookies,
//!     ..Settings::new("secret")
//! })
//! .await?;
//! let app = test::init_service(
//!     App::new()
//!         .wrap(SessionMiddleware::new(sessions))
//!         .route("/login", web::get().to(login)),
//! )
//! .await;
//! let response = test::call_service(&app, test::TestRequest::get().uri("/login").to_request()).await;
//! assert!(response.headers().get("set-cookie").unwrap().to_str()?.starts_with("sessionid="));
//! assert_eq!(response.headers().get("vary").unwrap(), "Cookie");
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! actix-web 4 speaks `http` 0.2 and sessionkit `http` 1: the middleware copies the few headers
//! sessionkit reads (the cookie, or `SESSION_HEADER_NAME`) and writes (`Set-Cookie`, `Vary`,
//! the header) between the two.

#[cfg(feature = "csrf")]
pub mod csrf;

use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use sessionkit::{SessionError, Sessions};
use tracing::Instrument;

/// The actix-web middleware: `App::new().wrap(SessionMiddleware::new(sessions))`.
///
/// ```
/// use actix_web::App;
/// use sessionkit::{EngineKind, Sessions, Settings};
/// use sessionkit_actix::SessionMiddleware;
///
/// # actix_web::rt::System::new().block_on(async {
/// let sessions = Sessions::open(Settings {
///     engine: EngineKind::SignedCookies,
///     ..Settings::new("secret")
/// })
/// .await?;
/// let app = App::new().wrap(SessionMiddleware::new(sessions));
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct SessionMiddleware {
    shared: Rc<Carriers>,
}

/// What every request of one app reads: the sessions, and the request headers that can carry
/// a session key, named once.
#[derive(Debug)]
struct Carriers {
    sessions: Sessions,
    /// `Cookie`, and `SESSION_HEADER_NAME` when set.
    request_headers: Vec<http::HeaderName>,
}

impl SessionMiddleware {
    /// The middleware for `sessions` (opened from settings, as for the tower layer).
    pub fn new(sessions: Sessions) -> Self {
        let header = sessions.settings().header_name.as_deref();
        let request_headers = std::iter::once(http::header::COOKIE)
            .chain(header.and_then(|name| http::HeaderName::from_bytes(name.as_bytes()).ok()))
            .collect();
        SessionMiddleware {
            shared: Rc::new(Carriers {
                sessions,
                request_headers,
            }),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service,
            shared: self.shared.clone(),
        }))
    }
}

/// The actix-web [`Service`] made by [`SessionMiddleware`].
pub struct SessionService<S> {
    service: S,
    shared: Rc<Carriers>,
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let sessions = &self.shared.sessions;
        let carried = copy_to_http(request.headers(), &self.shared.request_headers);
        let lazy = sessions.start(sessions.carried_key(&carried));
        request.extensions_mut().insert(lazy.clone());
        let handled = self.service.call(request);
        let span = sessions.request_span();
        let request = {
            let span = span.clone();
            async move {
                let mut response = match handled.await {
                    Ok(response) => response,
                    Err(error) => {
                        // An error rather than a response: treated as a 500, so nothing is
                        // saved, and the session's lock is released.
                        let _ = lazy
                            .finish(
                                http::StatusCode::INTERNAL_SERVER_ERROR,
                                &mut Default::default(),
                                &span,
                            )
                            .await;
                        return Err(error);
                    }
                };
                let vary = [http::header::VARY];
                let mut headers = copy_to_http(response.headers(), &vary);
                let status = http::StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                match lazy.finish(status, &mut headers, &span).await {
                    Ok(()) => {
                        copy_from_http(&headers, response.headers_mut());
                        Ok(response.map_into_left_body())
                    }
                    Err(error) => {
                        let (request, _) = response.into_parts();
                        let response = error_response(&error);
                        Ok(ServiceResponse::new(request, response).map_into_right_body())
                    }
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

/// The headers `names` of an actix (`http` 0.2) map, in sessionkit's `http` 1 map, in order.
fn copy_to_http(from: &HeaderMap, names: &[http::HeaderName]) -> http::HeaderMap {
    let mut to = http::HeaderMap::new();
    for name in names {
        for value in from.get_all(name.as_str()) {
            if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
                to.append(name.clone(), value);
            }
        }
    }
    to
}

/// Writes what the decision table produced back to the actix response: `Set-Cookie` added to
/// any the handler set, every other header (`Vary`, `SESSION_HEADER_NAME`) replaced by
/// sessionkit's (it started from the response's own `Vary`).
fn copy_from_http(from: &http::HeaderMap, to: &mut HeaderMap) {
    for name in from.keys() {
        let Ok(actix_name) = HeaderName::from_bytes(name.as_str().as_bytes()) else {
            continue;
        };
        if name != http::header::SET_COOKIE {
            to.remove(&actix_name);
        }
        for value in from.get_all(name) {
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                to.append(actix_name.clone(), value);
            }
        }
    }
}

/// The response for a session error: the tower layer's ([`SessionError::to_response`]), which
/// also logs it.
fn error_response(error: &SessionError) -> HttpResponse {
    let response: http::Response<String> = error.to_response();
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers() {
        builder.append_header((name.as_str(), value.as_bytes()));
    }
    builder.body(response.into_body())
}

/// A [`SessionError`] as an actix-web error, answered as the tower layer answers it (a store
/// failure is a 503, a session ended meanwhile a 400), for `?` in handlers.
///
/// ```
/// use actix_web::ResponseError;
/// use sessionkit::SessionError;
///
/// let error = sessionkit_actix::error(SessionError::Interrupted);
/// assert_eq!(error.as_response_error().status_code(), 400);
/// ```
pub fn error(error: SessionError) -> actix_web::Error {
    let response = error_response(&error);
    InternalError::from_response(error, response).into()
}

/// The request's session, loaded: extract it in a handler. It dereferences to
/// [`sessionkit::Session`], the same type axum handlers get. Without [`SessionMiddleware`] the
/// extraction fails with a 500; a store failure is a 503.
///
/// ```
/// use sessionkit_actix::Session;
///
/// async fn visits(session: Session) -> Result<String, actix_web::Error> {
///     let visits = session.get::<u32>("visits").map_err(sessionkit_actix::error)?;
///     let visits = visits.unwrap_or(0) + 1;
///     session.insert("visits", visits).map_err(sessionkit_actix::error)?;
///     Ok(format!("{visits} visits"))
/// }
/// ```
#[derive(Clone)]
pub struct Session(pub sessionkit::Session);

impl Session {
    /// The sessionkit session, to pass on to code that knows no actix.
    pub fn into_inner(self) -> sessionkit::Session {
        self.0
    }
}

impl Deref for Session {
    type Target = sessionkit::Session;

    fn deref(&self) -> &sessionkit::Session {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let lazy = lazy_session(request);
        Box::pin(async move { Ok(Session(lazy?.load().await.map_err(error)?)) })
    }
}

/// The request's session, not loaded yet: [`sessionkit::LazySession::load`] it when needed, so
/// a request that never does costs no store call.
///
/// ```
/// use sessionkit_actix::LazySession;
///
/// async fn page(session: LazySession, admin: bool) -> Result<String, actix_web::Error> {
///     if !admin {
///         return Ok("public".to_owned()); // no store call
///     }
///     let session = session.load().await.map_err(sessionkit_actix::error)?;
///     Ok(format!("{:?}", session.get_value("user_id")))
/// }
/// ```
#[derive(Clone)]
pub struct LazySession(pub sessionkit::LazySession);

impl Deref for LazySession {
    type Target = sessionkit::LazySession;

    fn deref(&self) -> &sessionkit::LazySession {
        &self.0
    }
}

impl FromRequest for LazySession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(lazy_session(request).map(LazySession))
    }
}

/// The session the middleware put in the request, or the error of a missing middleware.
fn lazy_session(request: &HttpRequest) -> Result<sessionkit::LazySession, actix_web::Error> {
    request
        .extensions()
        .get::<sessionkit::LazySession>()
        .cloned()
        .ok_or_else(|| error(SessionError::MissingLayer))
}
