//! The CSRF check in front of every store route: sessionkit's [`CsrfLayer`], with Django's
//! default of the secret in a `csrftoken` cookie (so a visitor who only browses has no
//! session), and its refusals rendered as a page in the store's frame — which is why the check
//! stands above the pages' [`Visit`].

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use sessionkit::csrf::{CsrfLayer, CsrfRejection};
use sessionkit::{LazySession, SessionError};

use super::format::escape;
use super::state::Shop;
use super::visit::Visit;

/// The layer for the store's routes; the cookie is `Secure` when the session cookie is.
pub fn layer(shop: &Shop) -> CsrfLayer {
    let page_shop = shop.clone();
    CsrfLayer::new()
        .cookie_secure(shop.sessions.settings().cookie_secure)
        .failure_view(move |parts, rejection| {
            let shop = page_shop.clone();
            Box::pin(async move { refusal(shop, parts, rejection).await })
        })
}

/// The 403 page.
async fn refusal(shop: Shop, parts: Parts, rejection: CsrfRejection) -> Response {
    let session = match parts.extensions.get::<LazySession>() {
        Some(lazy) => lazy.load().await,
        None => Err(SessionError::MissingLayer),
    };
    let session = match session {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let visit = Visit::new(session, shop, rejection.csrf().clone(), &parts.headers);
    let main = format!(
        "<p class=\"error\">This form was refused (403 Forbidden): it did not carry \
        this browser's security token.</p>
<p>Forms of this store carry a secret token that must match the store's <code>csrftoken</code> \
cookie in your browser (protection against cross-site request forgery). The token was missing \
or wrong, or the cookie was: the form may have come from another site, or from a page opened \
before you logged in, or your browser does not keep the store's cookies.</p>
<p class=\"note\" id=\"csrf-reason\">{reason}</p>
<p>Go back, reload the page and try again, or <a href=\"/\">return to the store</a>.</p>",
        reason = escape(rejection.reason()),
    );
    visit
        .render(StatusCode::FORBIDDEN, "Form refused", &main)
        .unwrap_or_else(IntoResponse::into_response)
}
