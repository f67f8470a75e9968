//! Login and logout, with Django's session keys: the user's id under `_auth_user_id` (a string;
//! the library's [`USER_ID_KEY`], which server engines index to list a user's sessions) and,
//! for display, their name under `_auth_user_name`.

use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sessionkit::SessionError;
use sessionkit::django::messages::{self, Level};
use sessionkit::engine::USER_ID_KEY;

use super::format::escape;
use super::users::{self, User};
use super::visit::Visit;

/// The logged-in user's name, so pages need no user lookup to greet them.
pub const USER_NAME_KEY: &str = "_auth_user_name";

/// The demo users' passwords, shown on the login page. The store itself keeps only hashes.
pub const DEMO_PASSWORDS: [(&str, &str); 3] = [
    ("alice", "wonderland"),
    ("bob", "builder"),
    ("carol", "christmas"),
];

/// Logs `user` in. The session moves to a new key first, so a key planted in the browser
/// before login (session fixation) is worthless after it; the cart comes along. The CSRF secret
/// is replaced too, for the same reason.
fn log_in(visit: &Visit, user: &User) -> Result<(), SessionError> {
    let session = &visit.session;
    session.cycle_key();
    visit.rotate_csrf_secret();
    session.insert(USER_ID_KEY, user.id)?;
    session.insert(USER_NAME_KEY, user.name)
}

/// `GET /login`.
pub async fn login_page(visit: Visit) -> Result<Response, SessionError> {
    login_form(&visit, StatusCode::OK, "", None)
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// `POST /login`: back to the store if the credentials are right, else the form again.
pub async fn login(
    visit: Visit,
    Form(credentials): Form<Credentials>,
) -> Result<Response, SessionError> {
    let Credentials { username, password } = credentials;
    match users::authenticate(&username, password).await {
        Some(user) => {
            log_in(&visit, user)?;
            Ok(Redirect::to("/").into_response())
        }
        None => login_form(
            &visit,
            StatusCode::BAD_REQUEST,
            &username,
            Some("Unknown username or wrong password."),
        ),
    }
}

/// `POST /logout`: ends the session. Server engines delete its record, so even a copy of the
/// cookie is worthless afterwards; a signed cookie stays valid until it expires (unless the
/// revocation list is on). A new session carries only the "Logged out." message to the next
/// page, which ends it once shown.
pub async fn logout(visit: Visit) -> Result<Redirect, SessionError> {
    visit.session.flush();
    messages::add(&visit.session, Level::INFO, "Logged out.")?;
    Ok(Redirect::to("/"))
}

/// The login form, with `username` filled in and `error` above it.
fn login_form(
    visit: &Visit,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Result<Response, SessionError> {
    let error = error
        .map(|error| {
            format!(
                "<p class=\"error\" id=\"login-error\">{}</p>",
                escape(error)
            )
        })
        .unwrap_or_default();
    let already = match visit.user()? {
        Some(user) => format!(
            "<p class=\"note\">You are signed in as <strong>{}</strong>. Logging in again \
             switches to another user.</p>",
            escape(user.name)
        ),
        None => String::new(),
    };
    let demo: String = DEMO_PASSWORDS
        .iter()
        .map(|(username, password)| {
            format!(
                "<li><code>{}</code> / <code>{}</code></li>",
                escape(username),
                escape(password)
            )
        })
        .collect();
    let main = format!(
        "{already}{error}
<form class=\"stack\" method=\"post\" action=\"/login\">
  {token}
  <label>Username <input name=\"username\" value=\"{username}\" required autocomplete=\"username\"></label>
  <label>Password <input name=\"password\" type=\"password\" required autocomplete=\"current-password\"></label>
  <button id=\"login-button\" type=\"submit\">Log in</button>
</form>
<p>Demo users (username / password):</p>
<ul>{demo}</ul>
<p>Their passwords are stored only as PBKDF2-SHA256 hashes, in Django's format.</p>",
        token = visit.csrf_field(),
        username = escape(username),
    );
    visit.render(status, "Log in", &main)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::users::USERS;

    #[tokio::test]
    async fn the_passwords_on_the_login_page_are_the_users_passwords() {
        assert_eq!(DEMO_PASSWORDS.len(), USERS.len());
        for (username, password) in DEMO_PASSWORDS {
            let user = users::authenticate(username, password.to_owned()).await;
            assert_eq!(user.map(|u| u.username), Some(username), "{username}");
        }
    }
}
