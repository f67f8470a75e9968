//! The account page: who is logged in, this session's details and, on server engines, every
//! session of the user, with "log out my other sessions". On the cookie engines it explains why
//! there is no such list: each session lives only in its browser's cookie; with the revocation
//! list on (`SESSION_REVOCATION_URL`) it still offers to log out the other sessions.

use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sessionkit::SessionError;
use sessionkit::engine::EngineError;
use sessionkit::engine::{Data, UserSession};

use super::activity::{LAST_SEEN_KEY, USER_AGENT_KEY};
use super::format::{escape, timestamp};
use super::users::User;
use super::visit::Visit;

/// What the page reports after "log out my other sessions": how many ended, or `others` on a
/// cookie engine, which cannot count the browsers holding a cookie.
#[derive(Deserialize)]
pub struct Notice {
    ended: Option<String>,
}

/// The notice of a cookie engine's "log out my other sessions".
const ENDED_UNCOUNTED: &str = "others";

/// `GET /account`: for logged-in users; others go to the login page.
pub async fn show(visit: Visit, Query(notice): Query<Notice>) -> Result<Response, SessionError> {
    let Some(user) = visit.user()? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let notice = match notice.ended.as_deref() {
        None => String::new(),
        Some(ENDED_UNCOUNTED) => {
            "<p class=\"note\" id=\"ended\">Logged out your other sessions.</p>".to_owned()
        }
        Some(n) => {
            let n: u64 = n.parse().unwrap_or_default();
            let plural = if n == 1 { "" } else { "s" };
            format!("<p class=\"note\" id=\"ended\">Ended {n} other session{plural}.</p>")
        }
    };
    let sessions = sessions(&visit, user).await?;
    let data = visit.session.to_map();
    let main = format!(
        "{notice}<p>Signed in as <strong>{name}</strong> (username <code>{username}</code>, user id \
<code>{id}</code>).</p>
<h2>This session</h2>
<table>
<tr><th>Browser</th><td id=\"this-browser\">{agent}</td></tr>
<tr><th>Last change</th><td>{seen}</td></tr>
<tr><th>Expires</th><td>{expires}</td></tr>
</table>
<h2>Your sessions</h2>
{sessions}",
        name = escape(user.name),
        username = escape(user.username),
        id = escape(user.id),
        agent = noted(&data, USER_AGENT_KEY),
        seen = noted(&data, LAST_SEEN_KEY),
        expires = timestamp(visit.session.expiry_date()),
    );
    visit.page("Your account", &main)
}

/// `POST /account/end-other-sessions`: "log out my other sessions" (every session of the user
/// but this one), then back to the account page saying how many ended.
pub async fn end_other_sessions(visit: Visit) -> Result<Response, SessionError> {
    let Some(user) = visit.user()? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let engine = visit.shop().sessions.engine();
    match engine.delete_user_sessions(user.id, visit.cookie()).await {
        Ok(_) if engine.keeps_data_in_cookie() => {
            Ok(Redirect::to(&format!("/account?ended={ENDED_UNCOUNTED}")).into_response())
        }
        Ok(ended) => Ok(Redirect::to(&format!("/account?ended={ended}")).into_response()),
        // The page explains why this engine cannot; show it again.
        Err(EngineError::Unsupported { .. }) => Ok(Redirect::to("/account").into_response()),
        Err(error) => Err(error.into()),
    }
}

/// The user's sessions with the button that ends the others, or why the engine has no list.
async fn sessions(visit: &Visit, user: &User) -> Result<String, SessionError> {
    let engine = visit.shop().sessions.engine();
    let listed = match engine.user_sessions(user.id, visit.cookie()).await {
        Ok(listed) => listed,
        Err(EngineError::Unsupported { .. }) => return Ok(no_list_on_cookies(visit)),
        Err(error) => return Err(error.into()),
    };
    let rows: String = listed.iter().map(session_row).collect();
    let others = listed.iter().filter(|session| !session.current).count();
    let button = match others {
        0 => "<p>This is your only session.</p>".to_owned(),
        n => end_others_button(visit, &format!(" ({n})")),
    };
    Ok(format!(
        "<p>Every browser where you are logged in, as the server keeps them. Ending a session \
deletes its record, so that browser is logged out at its next request.</p>
<table>
<thead><tr><th>Browser</th><th>Last change</th><th>Expires</th><th></th></tr></thead>
<tbody>
{rows}</tbody>
</table>
{button}"
    ))
}

fn session_row(session: &UserSession) -> String {
    let this = if session.current {
        "<span class=\"badge\">this session</span>"
    } else {
        ""
    };
    format!(
        "<tr class=\"user-session\" data-id=\"{id}\"><td>{agent}</td><td class=\"when\">{seen}</td><td class=\"when\">{expires}</td><td>{this}</td></tr>\n",
        id = escape(&session.id),
        agent = noted(&session.data, USER_AGENT_KEY),
        seen = noted(&session.data, LAST_SEEN_KEY),
        expires = timestamp(session.expires),
    )
}

/// The form of "log out my other sessions", its button saying `count`.
fn end_others_button(visit: &Visit, count: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/account/end-other-sessions\">{token}\
<button id=\"end-others\">Log out my other sessions{count}</button></form>",
        token = visit.csrf_field(),
    )
}

/// Why a cookie engine has no list of sessions, and, with the revocation list, the button that
/// ends the others anyway.
fn no_list_on_cookies(visit: &Visit) -> String {
    let sessions = &visit.shop().sessions;
    let kind = match sessions.engine().name() {
        "encrypted_cookies" => "encrypted cookies",
        _ => "signed cookies",
    };
    let why = format!(
        "<p class=\"note\" id=\"no-session-list\">This store keeps sessions in <strong>{kind}\
</strong>, so it cannot list your sessions. Each session lives only in its browser's cookie; \
the server keeps nothing it could list or delete."
    );
    if sessions.settings().revocation_url.is_none() {
        return format!(
            "{why} Logging out makes one browser forget its cookie, and a copy of that cookie \
stays valid until it expires, so it cannot log out your other sessions either. To end them, \
turn on the revocation list (<code>SESSION_REVOCATION_URL</code>), or run the store on a \
server engine to see them too, e.g. <code>SESSION_ENGINE=db</code>.</p>"
        );
    }
    format!(
        "{why} With the revocation list on, it can still log out every other one: the server \
notes the time, and any cookie of your account issued until then, except this session's, is \
refused.</p>\n{button}",
        button = end_others_button(visit, ""),
    )
}

/// An activity note in `data`, escaped, or a dash.
fn noted(data: &Data, key: &str) -> String {
    data.get(key)
        .and_then(|value| value.parse::<String>().ok())
        .map_or_else(|| "—".to_owned(), |note| escape(&note))
}
