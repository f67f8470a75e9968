//! The CSRF check in front of every store route (the tokens are [`super::csrf`]'s): a form
//! whose token does not match the cookie's secret is refused with a 403 page in the store's
//! frame, which is why the check stands above the pages' [`Visit`].

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sessionkit::{LazySession, Session, SessionError};

use super::csrf::Csrf;
use super::state::Shop;
use super::visit::Visit;

/// The store's forms are a few fields; a larger body is not one of them.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// Middleware: gives the request its [`Csrf`]; lets safe methods (GET, HEAD, …) through, and
/// any other request only if its form carries a token of the cookie's secret; sets the cookie
/// when the secret is new. (The response already varies on `Cookie`: every store page reads the
/// session, and the session layer says so.)
pub async fn protect(State(shop): State<Shop>, mut request: Request, next: Next) -> Response {
    let csrf = Csrf::from_cookie(request.headers());
    request.extensions_mut().insert(csrf.clone());
    let mut response = if request.method().is_safe() {
        next.run(request).await
    } else {
        checked(&shop, &csrf, request, next).await
    };
    if let Some(cookie) = csrf.set_cookie(shop.sessions.settings().cookie_secure) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// Runs the handler if the form's token matches, else answers with the refusal page.
async fn checked(shop: &Shop, csrf: &Csrf, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_FORM_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.\n").into_response();
    };
    if csrf.accepts(submitted_token(&parts, &body).await.as_deref()) {
        return next.run(Request::from_parts(parts, Body::from(body))).await;
    }
    match session_of(&parts).await {
        Ok(session) => refusal(shop, csrf, session, &parts),
        Err(error) => error.into_response(),
    }
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

/// The 403 page.
fn refusal(shop: &Shop, csrf: &Csrf, session: Session, parts: &Parts) -> Response {
    let visit = Visit::new(session, shop.clone(), csrf.clone(), &parts.headers);
    let main = "<p class=\"error\">This form was refused (403 Forbidden): it did not carry \
        this browser's security token.</p>
<p>Forms of this store carry a secret token that must match the store's <code>csrftoken</code> \
cookie in your browser (protection against cross-site request forgery). The token was missing \
or wrong, or the cookie was: the form may have come from another site, or from a page opened \
before you logged in, or your browser does not keep the store's cookies.</p>
<p>Go back, reload the page and try again, or <a href=\"/\">return to the store</a>.</p>";
    visit
        .render(StatusCode::FORBIDDEN, "Form refused", main)
        .unwrap_or_else(IntoResponse::into_response)
}
