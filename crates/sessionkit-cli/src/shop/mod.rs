//! The demo store served by `sessionkit serve`. For now a storefront that counts visits and
//! lets a user log in and out: enough to watch a session survive restarts and key changes.
//! The benchmark routes live beside it under `/bench/`.

mod bench;
mod page;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sessionkit::{EngineKind, Session, SessionError, Sessions};

use page::Page;

/// Longest accepted username, in characters.
const MAX_USERNAME_CHARS: usize = 64;

/// The store's routes, with the session layer of `sessions` in front of them all.
pub fn router(sessions: &Sessions) -> Router {
    let shop = Shop {
        engine: sessions.settings().engine,
    };
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .with_state(shop)
        .nest("/bench", bench::router())
        .layer(sessions.layer())
}

/// What every page shows besides the session.
#[derive(Clone, Copy)]
struct Shop {
    engine: EngineKind,
}

impl Shop {
    /// The page for `session` as it is now, with `error` above the forms.
    fn page(self, session: &Session, error: Option<&str>) -> Result<String, SessionError> {
        let user: Option<String> = session.get("user")?;
        Ok(page::render(&Page {
            engine: self.engine,
            visits: session.get("visits")?.unwrap_or(0),
            user: user.as_deref(),
            error,
        }))
    }
}

async fn index(State(shop): State<Shop>, session: Session) -> Result<Html<String>, SessionError> {
    let visits: u64 = session.get("visits")?.unwrap_or(0);
    session.insert("visits", visits + 1)?;
    Ok(Html(shop.page(&session, None)?))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
}

/// Logs in under a new session key, so a key planted in the browser before login (session
/// fixation) is worthless after it. The rest of the session, such as the visit count, stays.
async fn login(
    State(shop): State<Shop>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Result<Response, SessionError> {
    let username = form.username.trim();
    if !(1..=MAX_USERNAME_CHARS).contains(&username.chars().count()) {
        let error = format!("A username has 1 to {MAX_USERNAME_CHARS} characters.");
        let page = shop.page(&session, Some(&error))?;
        return Ok((StatusCode::BAD_REQUEST, Html(page)).into_response());
    }
    session.cycle_key();
    session.insert("user", username)?;
    Ok(Redirect::to("/").into_response())
}

/// Ends the session. Server engines delete its record, so even a copy of the cookie is
/// worthless afterwards; a signed cookie stays valid until it expires.
async fn logout(session: Session) -> Redirect {
    session.flush();
    Redirect::to("/")
}
