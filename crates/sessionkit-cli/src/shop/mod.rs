//! The demo store served by `sessionkit serve`: products, a cart kept in the session, login
//! with a few demo users, and an account page listing the user's sessions. Every page ends
//! with an "under the hood" panel showing what the session cookie holds on this engine.
//!
//! One module per concern, as in a small Django project, in layers whose imports run only
//! downwards (a module uses those below it, never one above):
//! - this module: the router, on top of everything;
//! - pages: [`catalog`] (the products), [`cart`], [`auth`] (login and logout), [`account`]
//!   (the user's sessions), and [`csrf_guard`], sessionkit's CSRF layer guarding every
//!   form, whose refusal is a page too;
//! - [`visit`]: the per-request context every page is rendered through;
//! - the frame around each page: [`layout`], with the [`hood`] panel;
//! - what pages and frame are made of: [`products`], [`cart_contents`] (the cart in the
//!   session), [`users`] and [`password`] (the demo users, their hashes, who is logged in),
//!   [`activity`] (middleware noting the user's activity), [`state`] (the [`Shop`] every
//!   handler shares), [`format`](mod@format) (escaping, money, timestamps);
//! - apart: [`headers`], Django's default security headers on every response of the store, and
//!   [`bench`](mod@bench), the benchmark routes under `/bench/`, outside all of the above.

mod account;
mod activity;
mod auth;
mod bench;
mod cart;
mod cart_contents;
mod catalog;
mod csrf_guard;
mod format;
mod headers;
mod hood;
mod layout;
mod password;
mod products;
mod state;
mod users;
mod visit;

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use sessionkit::Sessions;

use state::Shop;

/// The store's routes, with the session layer of `sessions` in front of them all. The store's
/// own routes also get the security headers, CSRF protection and activity notes; the
/// benchmark routes (mounted only with `bench_routes`) get none of them, so they measure the
/// session layer alone.
pub fn router(sessions: &Sessions, bench_routes: bool) -> Router {
    let shop = Shop::new(sessions);
    let store = Router::new()
        .route("/", get(catalog::index))
        .route("/products/{slug}", get(catalog::product))
        .route("/cart", get(cart::show))
        .route("/cart/add", post(cart::add))
        .route("/cart/remove", post(cart::remove))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/account", get(account::show))
        .route(
            "/account/end-other-sessions",
            post(account::end_other_sessions),
        )
        .route_layer(from_fn(activity::note))
        .route_layer(csrf_guard::layer(&shop))
        .with_state(shop);
    // The headers go outside the session layer, so that its own answers (a 503 when the
    // store fails) carry them too.
    let store = store.layer(sessions.layer()).layer(from_fn(headers::add));
    if !bench_routes {
        return store;
    }
    // The benchmark routes answer a counter in plain text, like the floors and peers they
    // are measured against, which send no security headers.
    // Merged into the benchmark routes, not the other way round: of two default fallbacks,
    // axum keeps the merged router's, and the store's (a 404 with the headers) must win.
    bench::router().layer(sessions.layer()).merge(store)
}
