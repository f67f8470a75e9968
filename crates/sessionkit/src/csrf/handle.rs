//! [`Csrf`], one request's view of its CSRF secret: where it is kept (the `csrftoken` cookie,
//! or the session with `CSRF_USE_SESSIONS`), the tokens a page puts in its forms, and rotation
//! at login. The layer makes one per request; handlers extract it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::header::SET_COOKIE;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::token::Secret;
use super::{COOKIE_NAME, Config, FIELD_NAME, SESSION_KEY};
use crate::error::SessionError;
use crate::session::LazySession;
use crate::transport::{VARY_COOKIE, patch_vary, request_cookie};

/// How long browsers keep the `csrftoken` cookie: Django's `CSRF_COOKIE_AGE`, 52 weeks.
const COOKIE_MAX_AGE: u32 = 52 * 7 * 24 * 60 * 60;

/// The request's CSRF secret and its tokens. Extract it in a handler (the [`CsrfLayer`]
/// must stand in front); cheap to clone.
///
/// [`CsrfLayer`]: super::CsrfLayer
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, body::Body, response::Html, routing::get};
/// use http::Request;
/// use sessionkit::csrf::{Csrf, CsrfLayer};
/// use tower::ServiceExt;
///
/// async fn form(csrf: Csrf) -> Html<String> {
///     Html(format!("<form method=post>{}<button>Buy</button></form>", csrf.hidden_input()))
/// }
/// let app = Router::new().route("/", get(form)).layer(CsrfLayer::new());
/// let page = app.oneshot(Request::new(Body::empty())).await?;
/// // The first token a browser gets comes with the secret's cookie.
/// let cookie = page.headers()["set-cookie"].to_str()?;
/// assert!(cookie.starts_with("csrftoken="));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Csrf(Arc<Shared>);

struct Shared {
    config: Arc<Config>,
    /// With `CSRF_USE_SESSIONS`, the session the secret is read from and saved in.
    session: Option<LazySession>,
    state: Mutex<State>,
}

struct State {
    /// The stored secret if it was well-formed, else one made for this response, if any.
    secret: Option<Secret>,
    /// Whether `secret` is new, so the response must store it.
    is_new: bool,
    /// Whether the stored secret has been read (the cookie at once; the session on demand).
    read: bool,
    /// Whether a token was handed out, so the page depends on the cookie.
    used: bool,
}

/// What the layer leaves in the request for the extractor: a [`Csrf`] not read yet.
#[derive(Clone)]
pub(super) struct Unread(pub(super) Csrf);

impl Csrf {
    /// The request's handle: the cookie read now, the session left for [`Csrf::read`].
    pub(super) fn for_request(
        config: Arc<Config>,
        headers: &HeaderMap,
        session: Option<LazySession>,
    ) -> Self {
        let secret = match &session {
            None => request_cookie(headers, COOKIE_NAME).and_then(|v| Secret::parse(v).ok()),
            Some(_) => None,
        };
        Csrf(Arc::new(Shared {
            config,
            state: Mutex::new(State {
                secret,
                is_new: false,
                read: session.is_none(),
                used: false,
            }),
            session,
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the secret from the session, once (with `CSRF_USE_SESSIONS`; the cookie needs
    /// nothing). A value there that is not a secret counts as none. Extractors call it before
    /// handing the handle to a handler, so its tokens are of the stored secret.
    pub async fn read(&self) -> Result<(), SessionError> {
        let Some(lazy) = &self.0.session else {
            return Ok(());
        };
        if self.state().read {
            return Ok(());
        }
        let session = lazy.load().await?;
        let stored: Option<String> = session.get(SESSION_KEY).unwrap_or_default();
        let mut state = self.state();
        if !state.read {
            state.secret = stored.and_then(|text| Secret::parse(&text).ok());
            state.read = true;
        }
        Ok(())
    }

    /// The stored secret, if the request came with one.
    pub(super) fn secret(&self) -> Option<Secret> {
        self.state().secret
    }

    /// A token for a form or an `X-CSRFToken` header: the secret, made first if there is
    /// none, under a fresh mask — a new token every time, all of one secret.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use axum::{Router, body::Body, routing::get};
    /// use http::Request;
    /// use sessionkit::csrf::{Csrf, CsrfLayer};
    /// use tower::ServiceExt;
    ///
    /// async fn two_tokens(csrf: Csrf) -> String {
    ///     format!("{} {}", csrf.token(), csrf.token())
    /// }
    /// let app = Router::new().route("/", get(two_tokens)).layer(CsrfLayer::new());
    /// let response = app.oneshot(Request::new(Body::empty())).await?;
    /// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
    /// let body = String::from_utf8(body.to_vec())?;
    /// let (first, second) = body.split_once(' ').unwrap();
    /// assert_eq!(first.len(), 64);
    /// assert_ne!(first, second); // masked differently, so a page never repeats its secret
    /// # Ok(()) }
    /// ```
    pub fn token(&self) -> String {
        let mut state = self.state();
        state.used = true;
        let secret = match state.secret {
            Some(secret) => secret,
            None => {
                let secret = Secret::generate();
                state.secret = Some(secret);
                state.is_new = true;
                secret
            }
        };
        secret.mask()
    }

    /// The hidden form field carrying a new [`token`](Csrf::token), named
    /// `csrfmiddlewaretoken` as in Django's `{% csrf_token %}`.
    ///
    /// ```
    /// # use sessionkit::csrf::Csrf;
    /// # fn page(csrf: Csrf) {
    /// let field = csrf.hidden_input();
    /// assert!(field.starts_with(r#"<input type="hidden" name="csrfmiddlewaretoken" value=""#));
    /// # }
    /// ```
    pub fn hidden_input(&self) -> String {
        // Tokens are letters and digits: nothing to escape.
        format!(
            "<input type=\"hidden\" name=\"{FIELD_NAME}\" value=\"{}\">",
            self.token()
        )
    }

    /// Replaces the secret, as Django's `rotate_token` does at login: a secret planted in the
    /// browser before (or a token copied from a page before) is worthless afterwards. Pages
    /// rendered after it get tokens of the new secret.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use axum::{Router, body::Body, routing::post};
    /// use http::Request;
    /// use sessionkit::csrf::{Csrf, CsrfLayer};
    /// use sessionkit::{Session, SessionError};
    /// use tower::ServiceExt;
    ///
    /// async fn log_in(session: Session, csrf: Csrf) -> Result<&'static str, SessionError> {
    ///     session.cycle_key(); // a new session key …
    ///     csrf.rotate(); // … and a new CSRF secret
    ///     session.insert("_auth_user_id", "42")?;
    ///     Ok("welcome")
    /// }
    /// # let sessions = sessionkit::Sessions::builder("secret")
    /// #     .engine(sessionkit::EngineKind::Cache).open().await?;
    /// let app = Router::new().route("/login", post(log_in)).layer(CsrfLayer::new());
    /// # let app = app.layer(sessions.layer());
    /// let request = Request::post("/login")
    ///     .header("cookie", "csrftoken=abcdefghijklmnopqrstuvwxyzABCDEF")
    ///     .header("x-csrftoken", "abcdefghijklmnopqrstuvwxyzABCDEF")
    ///     .body(Body::empty())?;
    /// let response = app.oneshot(request).await?;
    /// let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    /// assert!(cookies.iter().any(|c| c.to_str().unwrap().starts_with("csrftoken=")));
    /// # Ok(()) }
    /// ```
    pub fn rotate(&self) {
        let mut state = self.state();
        state.secret = Some(Secret::generate());
        state.is_new = true;
    }

    /// Stores a new secret once the handler is done: a `Set-Cookie` (and `Vary: Cookie` when
    /// a token was handed out) in the response's `headers`, or the session (which the session
    /// layer, outside, then saves). The tower layer calls it; so must an adapter of another
    /// framework, after the handler.
    pub async fn finish(&self, headers: &mut HeaderMap) -> Result<(), SessionError> {
        let (new_secret, used) = {
            let state = self.state();
            (state.secret.filter(|_| state.is_new), state.used)
        };
        match &self.0.session {
            None => {
                if let Some(secret) = new_secret {
                    headers.append(SET_COOKIE, self.cookie(&secret));
                }
                if used || new_secret.is_some() {
                    patch_vary(headers, VARY_COOKIE);
                }
            }
            Some(lazy) => {
                if let Some(secret) = new_secret {
                    lazy.load().await?.insert(SESSION_KEY, secret.as_str())?;
                }
            }
        }
        Ok(())
    }

    /// The `Set-Cookie` of the `csrftoken` cookie, as Django's defaults have it: a year, the
    /// whole site, `SameSite=Lax`, readable by scripts (which send it back as `X-CSRFToken`).
    #[expect(
        clippy::expect_used,
        reason = "a secret is letters and digits, the attributes fixed ASCII: header-safe"
    )]
    fn cookie(&self, secret: &Secret) -> HeaderValue {
        let secure = if self.0.config.cookie_secure {
            "; Secure"
        } else {
            ""
        };
        let value = format!(
            "{COOKIE_NAME}={}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Lax{secure}",
            secret.as_str()
        );
        HeaderValue::try_from(value).expect("secrets and attributes are header-safe text")
    }
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Csrf")
            .field("use_sessions", &self.0.session.is_some())
            .field("has_secret", &state.secret.is_some())
            .field("is_new", &state.is_new)
            .finish()
    }
}

/// Extracting a [`Csrf`] reads the secret (with `CSRF_USE_SESSIONS`, by loading the session).
/// Without the [`CsrfLayer`](super::CsrfLayer) in front the rejection is a 500 saying so.
impl<S: Send + Sync> FromRequestParts<S> for Csrf {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(Unread(csrf)) = parts.extensions.get::<Unread>().cloned() else {
            let missing = "This handler needs sessionkit's CsrfLayer in front of it.\n";
            return Err((StatusCode::INTERNAL_SERVER_ERROR, missing).into_response());
        };
        csrf.read().await.map_err(IntoResponse::into_response)?;
        Ok(csrf)
    }
}
