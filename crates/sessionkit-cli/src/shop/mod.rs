//! The demo store served by `sessionkit serve`: products, a cart kept in the session, login
//! with a few demo users, and an account page listing the user's sessions. Every page ends
//! with an "under the hood" panel showing what the session cookie holds on this engine.
//!
//! One module per concern, as in a small Django project:
//! - [`catalog`]: the products and their pages; [`cart`]: the cart in the session;
//! - [`users`], [`password`]: the demo users and their Django-format password hashes;
//! - [`auth`]: login and logout; [`account`]: the account page and the user's sessions;
//! - [`csrf`], [`activity`]: middleware guarding every form and noting the user's activity;
//! - [`headers`]: Django's default security headers on every response;
//! - [`visit`], [`layout`], [`hood`]: the per-request context and the HTML around each page;
//! - [`bench`]: the benchmark routes under `/bench/`, outside all of the above.

mod account;
mod activity;
mod auth;
mod bench;
mod cart;
mod cart_contents;
mod catalog;
mod csrf;
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
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use sessionkit::Sessions;

use state::Shop;

/// The store's routes, with the session layer of `sessions` in front of them all and the
/// security headers on every response. The store's own routes also get CSRF protection and
/// activity notes; the benchmark routes (mounted only with `bench_routes`) get neither, so
/// they measure the session layer alone.
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
        .route_layer(from_fn_with_state(shop.clone(), csrf_guard::protect))
        .with_state(shop);
    let routes = if bench_routes {
        store.nest("/bench", bench::router())
    } else {
        store
    };
    routes.layer(sessions.layer()).layer(from_fn(headers::add))
}
