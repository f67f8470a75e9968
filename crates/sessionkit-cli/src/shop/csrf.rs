//! Cross-site request forgery protection, as Django's `CsrfViewMiddleware` with
//! `CSRF_USE_SESSIONS = True`: a random token lives in the session, every form carries it in a
//! hidden field, and a POST whose field does not match it is refused with a 403 page.
//!
//! Another site can make a browser POST to the store with the user's cookie, but cannot read
//! the store's pages, so it cannot know the token. The token is made on first need and kept
//! until login (which replaces it, see [`rotate`]) or logout (which empties the session).

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sessionkit::{LazySession, Session, SessionError};
use subtle::ConstantTimeEq;

use super::Shop;
use super::layout::escape;
use super::visit::Visit;

/// Where the token is kept in the session.
pub const TOKEN_KEY: &str = "_csrf_token";
/// The name of the hidden form field.
const FIELD: &str = "csrf_token";
/// Random bytes in a token (shown as twice as many hex digits).
const TOKEN_BYTES: usize = 32;
/// The store's forms are a few fields; a larger body is not one of them.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The session's token, made and stored first if it has none.
pub fn token(session: &Session) -> Result<String, SessionError> {
    if let Some(token) = session.get::<String>(TOKEN_KEY)? {
        return Ok(token);
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system CSPRNG is unavailable");
    let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    session.insert(TOKEN_KEY, &token)?;
    Ok(token)
}

/// Drops the token, so the next form gets a new one. Called on login: a token an attacker
/// planted before login (with the session) is worthless after it.
pub fn rotate(session: &Session) {
    session.remove(TOKEN_KEY);
}

/// The hidden field that carries `token` in a form.
pub fn field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{FIELD}\" value=\"{}\">",
        escape(token)
    )
}

/// Middleware: lets safe methods (GET, HEAD, …) through, and any other request only if its
/// form carries the session's token.
pub async fn protect(State(shop): State<Shop>, request: Request, next: Next) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_FORM_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.\n").into_response();
    };
    let session = match session_of(&parts).await {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let submitted = submitted_token(&parts, &body).await;
    if matches_session(&session, submitted.as_deref()) {
        return next.run(Request::from_parts(parts, Body::from(body))).await;
    }
    refusal(&shop, session, &parts)
}

async fn session_of(parts: &Parts) -> Result<Session, SessionError> {
    match parts.extensions.get::<LazySession>() {
        Some(lazy) => lazy.load().await,
        None => Err(SessionError::MissingLayer),
    }
}

/// The token field of a URL-encoded form body, if the body is one and has it.
async fn submitted_token(parts: &Parts, body: &Bytes) -> Option<String> {
    #[derive(Deserialize)]
    struct Submitted {
        csrf_token: Option<String>,
    }
    let request = Request::from_parts(parts.clone(), Body::from(body.clone()));
    let Form(submitted) = Form::<Submitted>::from_request(request, &()).await.ok()?;
    submitted.csrf_token
}

/// Whether `submitted` is the session's token, compared in constant time. A session without
/// a token matches nothing.
fn matches_session(session: &Session, submitted: Option<&str>) -> bool {
    let expected = session.get::<String>(TOKEN_KEY).ok().flatten();
    match (expected, submitted) {
        (Some(expected), Some(submitted)) => {
            bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
        }
        _ => false,
    }
}

/// The 403 page. The session gets a token if it had none, so the form works on a retry.
fn refusal(shop: &Shop, session: Session, parts: &Parts) -> Response {
    let visit = Visit::new(session, shop.clone(), &parts.headers);
    let main = "<p class=\"error\">This form was refused (403 Forbidden): it did not carry \
        this session's security token.</p>
<p>Forms of this store carry a secret token tied to your session (protection against \
cross-site request forgery). The token was missing or wrong: the form may have come from \
another site, or from a page opened before you logged in or out.</p>
<p>Go back, reload the page and try again, or <a href=\"/\">return to the store</a>.</p>";
    visit
        .render(StatusCode::FORBIDDEN, "Form refused", main)
        .unwrap_or_else(IntoResponse::into_response)
}
