//! # sessionkit
//!
//! Django's session framework for tower and axum: `session.insert("user_id", 42)` in a handler,
//! and the framework remembers it across requests. Where the data lives is one setting,
//! `SESSION_ENGINE`; security (signing, CSPRNG keys, cookie attributes), expiry and clean-up
//! are handled for you, with Django's semantics and wire formats.
//!
//! ## 1. Add the layer
//!
#![cfg_attr(feature = "axum", doc = "```no_run")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use axum::{Router, routing::get};
//! use sessionkit::{Session, SessionError, Sessions, Settings};
//!
//! async fn counter(session: Session) -> Result<String, SessionError> {
//!     let n: i64 = session.get("n")?.unwrap_or(0) + 1;
//!     session.insert("n", n)?;
//!     Ok(n.to_string())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // SESSION_ENGINE, SECRET_KEY, … from the environment or sessionkit.toml
//!     let sessions = Sessions::open(Settings::from_env()?).await?;
//!     sessions.engine().migrate().await?; // creates the table for `db`; no-op otherwise
//!     let app = Router::new().route("/", get(counter)).layer(sessions.layer());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! ## 2. Configure it
//!
//! [`Settings::from_env`] reads Django's setting names from the environment (and
//! `sessionkit.toml`); [`Sessions::builder`] configures the same settings in code. Every bad
//! value stops the start with a [`ConfigError`] naming the setting, never a failure at the
//! first request.
//!
//! ## 3. Choose an engine
//!
//! | engine | data lives | pick it when | mind that |
//! |---|---|---|---|
//! | `signed_cookies` | in the cookie, signed | small, non-sensitive data; no server state wanted | the user can read it; ≤ 4 KB; cannot be revoked; concurrent requests cannot be merged |
//! | `encrypted_cookies` | in the cookie, encrypted | data the user must not read; no server state wanted | ≤ 4 KB, never compressed; cannot be revoked; concurrent requests cannot be merged |
//! | `db` | SQL table (SQLite, PostgreSQL, MySQL/MariaDB) | anything sensitive or large; "log out" must really end the session | one query per request that uses the session |
//! | `cache` | Redis, or bounded memory in this process | speed; sessions may be lost with the cache (memory: with the process) | a full memory cache drops the sessions nearest their expiry |
//! | `cached_db` | SQL table, read through a cache | `db`'s durability at nearly `cache`'s read speed | writes go to both; the cache is fenced so a failed write never serves stale data |
//! | `file` | one file per session in a directory | one server, no database | a shared directory across servers needs a shared filesystem |
//!
//! Server engines put only a random key in the cookie; stores keep a SHA-256 of that key (all
//! but Django's own table), so even a leaked store yields no usable cookie. Cookie overflow is
//! an error ([`SessionError::CookieTooLarge`]), never a cookie the browser silently drops.
//!
//! ## 4. Or write a store
//!
//! Sessions in DynamoDB, MongoDB, memcached…: implement [`engine::RecordStore`] — five
//! operations (`fetch`, `insert` if absent, `replace` at a version, `remove`,
//! `purge_expired`), with locks, per-user listing and scanning optional by
//! [`engine::Capabilities`] — and pass it to [`SessionsBuilder::store`]. [`engine::ServerEngine`]
//! adds the rest: keys, hashing at rest, collision-free creation, merging concurrent saves,
//! no resurrection of a deleted session. [`Sessions::new`] shows a complete one. Then test it
//! with the suite the built-in engines pass: `sessionkit::testing::conformance!(make_store)`
//! in one test file, with the `testing` feature (`crates/sessionkit-btree-store` does).
//!
//! ## Features
//!
//! Each store's client is a Cargo feature: `sqlite`, `postgres`, `mysql`, `redis`; plus `axum`
//! (the extractors), `csrf` (Django's CSRF protection, `sessionkit::csrf`), `toml`
//! (`sessionkit.toml`) and `testing` (the conformance suite, for a store's tests). Defaults:
//! `axum`, `sqlite`, `toml`.
//! `signed_cookies`, `encrypted_cookies`, `file` and `memory://` need none. Settings that select a store left out
//! fail [`Sessions::open`] with a [`ConfigError`] naming the feature to enable.
//!
//! ## Layout
//!
//! The crate root holds what an application needs: [`Sessions`] (and [`SessionsBuilder`]),
//! [`Session`] / [`LazySession`] (Django's `SessionBase` API), [`SessionLayer`],
//! [`SessionError`], [`Settings`], [`EngineKind`], [`ConfigError`], [`Expiry`] and the
//! background [`ExpiryTask`]. The rest is in five modules, and `csrf` with its feature:
//!
//! - [`settings`]: every setting, its default and range;
//! - [`engine`]: for store authors — the [`engine::Engine`] trait, the store contract
//!   ([`engine::RecordStore`], [`engine::ServerEngine`]) and one module per built-in engine;
//! - [`django`]: interoperating with Django — its signed format ([`django::signing`]) and JSON
//!   ([`django::json`]) byte for byte, and trusting a login made by `django.contrib.auth`;
//! - [`expiry`]: Django's expiry rules (`get_expiry_age`, `get_expiry_date`);
//! - `testing` (feature `testing`): the conformance suite, for a store of your own.
//! - `csrf` (feature `csrf`): Django's CSRF protection, a tower layer and a `Csrf` extractor.

#![warn(missing_docs)]
// docs.rs (nightly, `--cfg docsrs`) marks each item with the features it needs; stable
// builds never see the attribute.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The library never panics on input or settings: no unwrap, expect, panic or unchecked index
// outside tests. The few that remain stand on an invariant, and say which one in `reason`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod builder;
mod cache_url;
mod config;
#[cfg(feature = "csrf")]
pub mod csrf;
pub mod django;
pub mod engine;
mod error;
pub mod expiry;
mod expiry_task;
#[cfg(feature = "axum")]
mod extract;
mod features;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod key;
mod middleware;
mod session;
mod sessions;
mod set_cookie;
pub mod settings;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod transport;

pub use builder::SessionsBuilder;
pub use error::SessionError;
pub use expiry::Expiry;
pub use expiry_task::{ExpiryStats, ExpiryTask};
pub use middleware::{SessionLayer, SessionService};
pub use session::{LazySession, Session};
pub use sessions::Sessions;
pub use settings::{ConfigError, EngineKind, Settings};
pub use transport::request_cookie;
