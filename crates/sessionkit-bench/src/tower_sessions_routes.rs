//! The §10 benchmark routes on tower-sessions, shared by `tower_sessions_server` (tower-sessions
//! 0.15, memory store) and the store-backed peers in `peers/` (tower-sessions 0.14, which its
//! store crates need). The peers project includes this file by path, so it uses only what both
//! versions spell the same way.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

type Failure = (StatusCode, String);

fn failed(error: tower_sessions::session::Error) -> Failure {
    (StatusCode::SERVICE_UNAVAILABLE, error.to_string())
}

async fn counter(session: &Session) -> Result<u64, Failure> {
    Ok(session.get("n").await.map_err(failed)?.unwrap_or(0))
}

async fn incr(session: Session) -> Result<String, Failure> {
    let n = counter(&session).await? + 1;
    session.insert("n", n).await.map_err(failed)?;
    Ok(n.to_string())
}

async fn read(session: Session) -> Result<String, Failure> {
    Ok(counter(&session).await?.to_string())
}

async fn login(session: Session) -> Result<StatusCode, Failure> {
    session.cycle_id().await.map_err(failed)?;
    session.insert("user_id", 42).await.map_err(failed)?;
    session.insert("n", 0).await.map_err(failed)?;
    Ok(StatusCode::OK)
}

async fn logout(session: Session) -> Result<StatusCode, Failure> {
    session.flush().await.map_err(failed)?;
    Ok(StatusCode::OK)
}

/// The `/bench/*` routes with sessions in `store`, lasting two weeks of inactivity (so the
/// cookie carries `Max-Age` and `Expires` as sessionkit's does); `signed` signs the session id
/// in the cookie with a key generated at start (`with_signed`). The routes are written out, not
/// nested, as in every benchmark server.
pub fn app<S: SessionStore + Clone>(store: S, signed: bool) -> Router {
    let bench = Router::new()
        .route("/bench/incr", get(incr))
        .route("/bench/read", get(read))
        .route("/bench/login", post(login))
        .route("/bench/logout", get(logout));
    let layer =
        SessionManagerLayer::new(store).with_expiry(Expiry::OnInactivity(time::Duration::weeks(2)));
    if signed {
        let key = tower_sessions::cookie::Key::generate();
        bench.layer(layer.with_signed(key))
    } else {
        bench.layer(layer)
    }
}
