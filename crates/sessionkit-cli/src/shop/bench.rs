//! The benchmark workload of docs/DESIGN.md §10, so any load tool can measure any engine through
//! the real HTTP stack. The counter lives under the session key `n`.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use sessionkit::{Session, SessionError};

/// The routes under `/bench/`, written out rather than nested: a nested router costs every
/// request a prefix strip and a second routing, which the floors and peers do not pay.
pub fn router() -> Router {
    Router::new()
        .route("/bench/incr", get(incr))
        .route("/bench/read", get(read))
        .route("/bench/login", post(login))
        .route("/bench/logout", get(logout))
}

fn counter(session: &Session) -> Result<u64, SessionError> {
    Ok(session.get("n")?.unwrap_or(0))
}

async fn incr(session: Session) -> Result<String, SessionError> {
    let n = counter(&session)? + 1;
    session.insert("n", n)?;
    Ok(n.to_string())
}

/// Only reads, so the middleware writes nothing and sends no cookie.
async fn read(session: Session) -> Result<String, SessionError> {
    Ok(counter(&session)?.to_string())
}

async fn login(session: Session) -> Result<StatusCode, SessionError> {
    session.cycle_key();
    session.insert("user_id", 42)?;
    session.insert("n", 0)?;
    Ok(StatusCode::OK)
}

async fn logout(session: Session) -> StatusCode {
    session.flush();
    StatusCode::OK
}
