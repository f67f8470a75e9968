//! Notes of the session's activity, for the account page's list of sessions: the browser
//! (`_user_agent`) and when it was last active (`_last_seen`, RFC 3339, UTC).
//!
//! They are written only by requests that change a logged-in user's session anyway (login,
//! the cart), so they cost nothing: a request that only reads the session still writes
//! nothing, and a visitor who only browses gets no session at all. `_last_seen` is therefore
//! the last change, not the last page view.

use axum::extract::Request;
use axum::http::header::USER_AGENT;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sessionkit::engine::USER_ID_KEY;
use sessionkit::{LazySession, Session, SessionError};
use time::OffsetDateTime;

use super::format::timestamp;

/// The browser's `User-Agent`, truncated.
pub const USER_AGENT_KEY: &str = "_user_agent";
/// When the session last changed.
pub const LAST_SEEN_KEY: &str = "_last_seen";
/// Longest `User-Agent` kept, in characters: enough to tell browsers apart.
const MAX_USER_AGENT_CHARS: usize = 160;

/// Middleware: after the handler, adds the notes if it changed a logged-in user's session —
/// the only sessions the account page lists. Not on anonymous ones: a logout, or the message
/// it leaves for the next page, must not gain notes that outlive it.
pub async fn note(lazy: LazySession, request: Request, next: Next) -> Response {
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
    let response = next.run(request).await;
    if response.status().is_server_error() {
        return response;
    }
    // Every store handler has loaded the session by now, so this does no I/O.
    let noted = match lazy.load().await {
        Ok(session) if session.modified() && session.contains_key(USER_ID_KEY) => {
            write(&session, user_agent.as_deref())
        }
        Ok(_) => Ok(()),
        Err(error) => Err(error),
    };
    match noted {
        Ok(()) => response,
        Err(error) => error.into_response(),
    }
}

fn write(session: &Session, user_agent: Option<&str>) -> Result<(), SessionError> {
    session.insert(LAST_SEEN_KEY, timestamp(OffsetDateTime::now_utc()))?;
    match user_agent {
        Some(user_agent) => session.insert(USER_AGENT_KEY, user_agent),
        None => {
            session.remove(USER_AGENT_KEY);
            Ok(())
        }
    }
}
