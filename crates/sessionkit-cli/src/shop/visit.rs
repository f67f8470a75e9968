//! [`Visit`]: what a page handler needs besides its own input — the session, who is logged
//! in, and the cookie the request carried — and the one way pages are rendered.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sessionkit::{Session, SessionError};

use super::users::User;
use super::{Shop, auth, cart, csrf, hood, layout};

/// One request to a store page. Extracting it loads the session.
pub struct Visit {
    pub session: Session,
    shop: Shop,
    /// The session cookie's value as the request carried it.
    cookie: Option<String>,
}

impl FromRequestParts<Shop> for Visit {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Self, SessionError> {
        let session = Session::from_request_parts(parts, shop).await?;
        Ok(Visit::new(session, shop.clone(), &parts.headers))
    }
}

impl Visit {
    pub fn new(session: Session, shop: Shop, headers: &HeaderMap) -> Self {
        let cookie = shop.sessions.cookie_value(headers).map(str::to_owned);
        Visit {
            session,
            shop,
            cookie,
        }
    }

    pub fn shop(&self) -> &Shop {
        &self.shop
    }

    /// The session cookie's value as the request carried it.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// Who is logged in.
    pub fn user(&self) -> Result<Option<&'static User>, SessionError> {
        auth::current_user(&self.session)
    }

    /// The session's CSRF token, for a form on the page.
    pub fn csrf_token(&self) -> Result<String, SessionError> {
        csrf::token(&self.session)
    }

    /// The page titled `title` with `main` (HTML) as its content, in the store's frame.
    pub fn page(&self, title: &str, main: &str) -> Result<Response, SessionError> {
        self.render(StatusCode::OK, title, main)
    }

    /// Like [`Visit::page`], with another status.
    pub fn render(
        &self,
        status: StatusCode,
        title: &str,
        main: &str,
    ) -> Result<Response, SessionError> {
        let user = self.user()?;
        // Only the logout button needs a token; pages with forms of their own ask for it.
        let csrf_token = user.map(|_| self.csrf_token()).transpose()?;
        let html = layout::render(&layout::Frame {
            title,
            user,
            cart_items: cart::item_count(&self.session)?,
            csrf_token: csrf_token.as_deref(),
            main,
            hood: &hood::panel(self),
        });
        Ok((status, Html(html)).into_response())
    }

    /// The 404 page.
    pub fn not_found(&self) -> Result<Response, SessionError> {
        self.render(
            StatusCode::NOT_FOUND,
            "Not found",
            "<p>There is no such page in this store. <a href=\"/\">See all products</a>.</p>",
        )
    }
}
