//! Cross-site request forgery protection with Django's rules (`CsrfViewMiddleware`): a tower
//! layer, [`CsrfLayer`], and a handle for pages, [`Csrf`].
//!
//! Another site can make a browser send a POST to yours with your cookies, but it can read
//! neither them nor your pages. So every form carries a token made from a secret the browser
//! keeps, and an unsafe request (anything but GET, HEAD, OPTIONS, TRACE) is let through only
//! if:
//!
//! 1. its `Origin` header, when present, is this site (`http(s)://` + `Host`) or one of the
//!    trusted origins (Django's `CSRF_TRUSTED_ORIGINS`); without one, an HTTPS request needs a
//!    `Referer` that is an HTTPS page of this host or of a trusted origin;
//! 2. it carries a token of the secret: in the `X-CSRFToken` header (scripts), or in the
//!    `csrfmiddlewaretoken` field of a URL-encoded form POST (HTML forms) — masked as Django
//!    masks it (a fresh mask per token, so a page compressed over TLS does not leak the secret,
//!    BREACH), or the bare secret, compared in constant time.
//!
//! Anything else is a 403 with Django's reason ("CSRF token missing.", "Origin checking
//! failed - … does not match any trusted origins.", …), plain text, or the page of a
//! [failure view](CsrfLayer::failure_view) (Django's `CSRF_FAILURE_VIEW`).
//!
//! **Where the secret lives.** By default in a cookie of its own, `csrftoken` (Django's
//! default): a visitor who only browses has no session, so the store keeps nothing for them.
//! With [`CsrfLayer::use_sessions`] (`CSRF_USE_SESSIONS`) it lives in the session under
//! Django's key `_csrftoken`, so a Django site sharing the sessions accepts the same tokens;
//! then the session layer must stand outside the CSRF layer. [`Csrf::rotate`] replaces the
//! secret at login, as Django's `rotate_token`; logout keeps a cookie secret, and flushing the
//! session drops a session secret.
//!
//! **Why the layer reads form bodies.** The token of an HTML form is in its body, which a
//! layer would rather not touch. The check is still the layer's, not a helper each handler must
//! remember to call: a check left to handlers is a check forgotten, and a forgotten check is a
//! hole no test notices. So a URL-encoded POST without the header is read here, up to
//! [`max_form_bytes`](CsrfLayer::max_form_bytes) (a larger one is a 413), and handed on as the
//! same bytes, which the handler's `Form` extractor would have buffered anyway. Other bodies
//! (JSON, multipart uploads) are not read: they must send the token in `X-CSRFToken`, as
//! Django's JavaScript recipe does.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, body::Body, response::Html, routing::get};
//! use http::{Request, StatusCode};
//! use sessionkit::csrf::{Csrf, CsrfLayer};
//! use sessionkit::{EngineKind, Sessions};
//! use tower::ServiceExt;
//!
//! async fn form(csrf: Csrf) -> Html<String> {
//!     Html(format!(
//!         r#"<form method="post">{}<button>Add to cart</button></form>"#,
//!         csrf.hidden_input()
//!     ))
//! }
//! async fn add() -> &'static str {
//!     "added"
//! }
//!
//! let sessions = Sessions::builder("secret").engine(EngineKind::Cache).open().await?;
//! let csrf = CsrfLayer::new().trusted_origins(["https://*.example.com"])?;
//! let app = Router::new()
//!     .route("/", get(form).post(add))
//!     .layer(csrf) // inside the session layer, which it may use
//!     .layer(sessions.layer());
//!
//! // A page gives the browser the secret's cookie and a token in the form.
//! let page = app.clone().oneshot(Request::get("/").body(Body::empty())?).await?;
//! let cookie = page.headers()["set-cookie"].to_str()?.split(';').next().unwrap().to_owned();
//! let html = axum::body::to_bytes(page.into_body(), 4096).await?;
//! let html = String::from_utf8(html.to_vec())?;
//! let token = html.split(r#"value=""#).nth(1).unwrap().split('"').next().unwrap();
//!
//! let post = |form: String| {
//!     Request::post("/")
//!         .header("cookie", &cookie)
//!         .header("content-type", "application/x-www-form-urlencoded")
//!         .body(Body::from(form))
//! };
//! let forged = app.clone().oneshot(post("item=1".into())?).await?;
//! assert_eq!(forged.status(), StatusCode::FORBIDDEN); // CSRF token missing.
//! let genuine = app.oneshot(post(format!("item=1&csrfmiddlewaretoken={token}"))?).await?;
//! assert_eq!(genuine.status(), StatusCode::OK);
//! # Ok(()) }
//! ```

mod check;
mod handle;
mod origin;
mod token;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{Request, StatusCode};
use tower::{Layer, Service};

pub use check::{CsrfRefusal, FormRefusal, forbidden_text};
use check::{Verdict, verify};
pub use handle::Csrf;
use handle::Unread;
use origin::TrustedOrigins;

use crate::session::LazySession;
use crate::settings::ConfigError;

/// The cookie holding the secret (Django's `CSRF_COOKIE_NAME`).
pub const COOKIE_NAME: &str = "csrftoken";
/// The session key holding the secret with `CSRF_USE_SESSIONS` (Django's `CSRF_SESSION_KEY`).
pub const SESSION_KEY: &str = "_csrftoken";
/// The form field carrying the token (Django's `{% csrf_token %}`).
pub const FIELD_NAME: &str = "csrfmiddlewaretoken";
/// The header carrying the token (Django's `CSRF_HEADER_NAME`, `HTTP_X_CSRFTOKEN`).
pub const HEADER_NAME: &str = "x-csrftoken";

/// A URL-encoded form larger than this is refused unread: 64 KiB.
const DEFAULT_MAX_FORM_BYTES: usize = 64 * 1024;

/// A page for refused requests, in place of the plain 403 (Django's `CSRF_FAILURE_VIEW`): it
/// gets the request's parts (with its session, if the session layer is outside) and the
/// refusal, and should answer 403.
pub type FailureView = Arc<
    dyn Fn(Parts, CsrfRejection) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync,
>;

/// The tower layer checking unsafe requests (see the [module](self) for the rules).
///
/// ```
/// use sessionkit::csrf::CsrfLayer;
///
/// let csrf = CsrfLayer::new()
///     .use_sessions(true) // CSRF_USE_SESSIONS = True
///     .https(true) // served over HTTPS (behind a proxy that terminates TLS)
///     .trusted_origins(["https://admin.example.com"])?; // CSRF_TRUSTED_ORIGINS
/// # Ok::<(), sessionkit::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct CsrfLayer {
    config: Arc<Config>,
}

/// What the layer's services share.
#[derive(Clone)]
struct Config {
    use_sessions: bool,
    cookie_secure: bool,
    https: bool,
    trusted: TrustedOrigins,
    max_form_bytes: usize,
    failure_view: Option<FailureView>,
}

impl Default for CsrfLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for CsrfLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = &self.config;
        f.debug_struct("CsrfLayer")
            .field("use_sessions", &config.use_sessions)
            .field("cookie_secure", &config.cookie_secure)
            .field("https", &config.https)
            .field("trusted", &config.trusted)
            .field("max_form_bytes", &config.max_form_bytes)
            .field("failure_view", &config.failure_view.is_some())
            .finish()
    }
}

impl CsrfLayer {
    /// Django's defaults: the secret in the `csrftoken` cookie (marked `Secure`, as
    /// sessionkit's session cookie is by default), no trusted origins besides the site's own,
    /// requests taken as plain HTTP unless their URI says otherwise.
    pub fn new() -> Self {
        CsrfLayer {
            config: Arc::new(Config {
                use_sessions: false,
                cookie_secure: true,
                https: false,
                trusted: TrustedOrigins::default(),
                max_form_bytes: DEFAULT_MAX_FORM_BYTES,
                failure_view: None,
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// `CSRF_USE_SESSIONS`: keep the secret in the session (key `_csrftoken`) rather than in
    /// the `csrftoken` cookie. The session layer must then stand outside this one.
    pub fn use_sessions(self, on: bool) -> Self {
        self.with(|config| config.use_sessions = on)
    }

    /// `CSRF_COOKIE_SECURE`, default true: mark the `csrftoken` cookie `Secure`.
    pub fn cookie_secure(self, on: bool) -> Self {
        self.with(|config| config.cookie_secure = on)
    }

    /// Whether the site is served over HTTPS (Django's `request.is_secure()`), default false:
    /// the own origin is then `https://` + `Host`, and a request without `Origin` needs an
    /// HTTPS `Referer` of this host. A request whose URI has a scheme (HTTP/2) says it itself.
    pub fn https(self, on: bool) -> Self {
        self.with(|config| config.https = on)
    }

    /// `CSRF_TRUSTED_ORIGINS`: origins besides the site's own allowed to send unsafe
    /// requests, each with its scheme; `https://*.example.com` allows every subdomain. An
    /// entry without a scheme is a [`ConfigError`] naming the setting.
    ///
    /// ```
    /// use sessionkit::csrf::CsrfLayer;
    ///
    /// let error = CsrfLayer::new().trusted_origins(["example.com"]).unwrap_err();
    /// assert_eq!(error.setting, "CSRF_TRUSTED_ORIGINS");
    /// ```
    pub fn trusted_origins<I, S>(self, origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let trusted = TrustedOrigins::parse(origins)?;
        Ok(self.with(|config| config.trusted = trusted))
    }

    /// The largest URL-encoded form the layer reads for its token, default 64 KiB; a larger
    /// one is refused with a 413.
    pub fn max_form_bytes(self, bytes: usize) -> Self {
        self.with(|config| config.max_form_bytes = bytes)
    }

    /// Renders refusals with `view` instead of the plain 403 (Django's `CSRF_FAILURE_VIEW`).
    ///
    /// ```
    /// use axum::response::{Html, IntoResponse};
    /// use http::StatusCode;
    /// use sessionkit::csrf::CsrfLayer;
    ///
    /// let csrf = CsrfLayer::new().failure_view(|_parts, rejection| {
    ///     Box::pin(async move {
    ///         let page = format!("<h1>Form refused</h1><p>{}</p>", rejection.reason());
    ///         (StatusCode::FORBIDDEN, Html(page)).into_response()
    ///     })
    /// });
    /// ```
    pub fn failure_view<F>(self, view: F) -> Self
    where
        F: Fn(Parts, CsrfRejection) -> Pin<Box<dyn Future<Output = Response> + Send>>
            + Send
            + Sync
            + 'static,
    {
        self.with(|config| config.failure_view = Some(Arc::new(view)))
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The tower [`Service`] made by [`CsrfLayer`].
#[derive(Clone)]
pub struct CsrfService<S> {
    inner: S,
    layer: CsrfLayer,
}

impl<S> std::fmt::Debug for CsrfService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrfService").finish_non_exhaustive()
    }
}

/// Why a request was refused, for a [`FailureView`]; with the request's [`Csrf`], so the page
/// can carry forms of its own.
#[derive(Debug, Clone)]
pub struct CsrfRejection {
    reason: String,
    csrf: Csrf,
}

impl CsrfRejection {
    /// Django's reason, such as `CSRF token missing.`: for the page or a log, never secret.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The request's CSRF handle, for tokens on the refusal page.
    pub fn csrf(&self) -> &Csrf {
        &self.csrf
    }
}

impl<S> Service<Request<Body>> for CsrfService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The service polled ready is the one to call; a clone stays behind for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let session = request.extensions().get::<LazySession>().cloned();
            let csrf = match layer.start(request.headers(), session) {
                Ok(csrf) => csrf,
                Err(error) => return Ok(error.into_response()),
            };
            request.extensions_mut().insert(Unread(csrf.clone()));
            let verdict = match request.method().is_safe() {
                true => Verdict::Pass(request),
                false => verify(&layer, &csrf, request).await,
            };
            let mut response = match verdict {
                Verdict::Pass(request) => inner.call(request).await?,
                Verdict::Refuse(parts, reason) => refuse(&layer.config, parts, reason, &csrf).await,
                Verdict::Answer(response) => return Ok(response),
            };
            if let Err(error) = csrf.finish(response.headers_mut()).await {
                return Ok(error.into_response());
            }
            Ok(response)
        })
    }
}

/// The refusal: the failure view's page, or a plain 403 with Django's wording.
async fn refuse(config: &Config, parts: Parts, reason: String, csrf: &Csrf) -> Response {
    tracing::warn!(reason, path = parts.uri.path(), "forbidden (CSRF)");
    if let Some(view) = &config.failure_view {
        let rejection = CsrfRejection {
            reason,
            csrf: csrf.clone(),
        };
        return view(parts, rejection).await;
    }
    (StatusCode::FORBIDDEN, forbidden_text(&reason)).into_response()
}
