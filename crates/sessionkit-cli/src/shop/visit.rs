//! [`Visit`]: what a page handler needs besides its own input — the session, who is logged
//! in, the cookie the request carried and the CSRF handle for its forms — and the one way
//! pages are rendered.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sessionkit::csrf::Csrf;
use sessionkit::django::messages;
use sessionkit::{Session, SessionError};

use super::state::Shop;
use super::users::{self, User};
use super::{cart_contents, hood, layout};

/// One request to a store page. Extracting it loads the session.
pub struct Visit {
    pub session: Session,
    shop: Shop,
    /// The session cookie's value as the request carried it.
    cookie: Option<String>,
    csrf: Csrf,
}

impl FromRequestParts<Shop> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Self, Response> {
        let csrf = Csrf::from_request_parts(parts, shop).await?;
        let session = Session::from_request_parts(parts, shop)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Visit::new(session, shop.clone(), csrf, &parts.headers))
    }
}

impl Visit {
    pub fn new(session: Session, shop: Shop, csrf: Csrf, headers: &HeaderMap) -> Self {
        let cookie = shop.sessions.cookie_value(headers).map(str::to_owned);
        Visit {
            session,
            shop,
            cookie,
            csrf,
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
        users::current_user(&self.session)
    }

    /// The hidden CSRF field for a form on the page (a new token each time, all of one
    /// secret).
    pub fn csrf_field(&self) -> String {
        self.csrf.hidden_input()
    }

    /// Replaces the CSRF secret (on login).
    pub fn rotate_csrf_secret(&self) {
        self.csrf.rotate();
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
        let messages = messages::take(&self.session)?;
        if !messages.is_empty() && self.session.keys().is_empty() {
            // A session that only carried a message (the "Logged out." of a logout) ends once
            // it is shown, so an anonymous visitor keeps no session, as before logging in.
            self.session.flush();
        }
        // Only the logout button needs a token; pages with forms of their own ask for it.
        let csrf_field = user.map(|_| self.csrf_field());
        let html = layout::render(&layout::Frame {
            title,
            user,
            cart_items: cart_contents::item_count(&self.session)?,
            csrf_field: csrf_field.as_deref(),
            messages: &messages,
            main,
            hood: &hood::panel(&self.shop, &self.session, self.cookie()),
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
