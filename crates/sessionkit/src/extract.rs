//! The axum extractors: `Session` (loaded) and `LazySession` (not yet), from the request's
//! extensions where the session layer put them.

use axum_core::extract::FromRequestParts;
use http::request::Parts;

use crate::error::SessionError;
use crate::session::{LazySession, Session};

/// Extracting a `Session` loads it (once per request). Without the session layer the
/// rejection is [`SessionError::MissingLayer`]; a store failure is a 503.
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Loaded from the request's own handle: the session gets one new owner, not two.
        parts
            .extensions
            .get::<LazySession>()
            .ok_or(SessionError::MissingLayer)?
            .load()
            .await
    }
}

/// Extracting a `LazySession` loads nothing; call [`LazySession::load`] when needed.
impl<S: Send + Sync> FromRequestParts<S> for LazySession {
    type Rejection = SessionError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<LazySession>()
            .cloned()
            .ok_or(SessionError::MissingLayer)
    }
}
