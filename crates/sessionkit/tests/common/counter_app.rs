//! A counter app behind the session layer, and requests to it through tower: what the tests
//! that watch the layer from outside (metrics, tracing) drive.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Response, header};
use sessionkit::{Session, SessionError, Sessions};
use tower::ServiceExt;

async fn counter(session: Session) -> Result<String, SessionError> {
    let n: i64 = session.get("n")?.unwrap_or(0) + 1;
    session.insert("n", n)?;
    Ok(n.to_string())
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "bye"
}

/// `/` counts the visits of a session, `/logout` flushes it.
pub fn router(sessions: &Sessions) -> Router {
    Router::new()
        .route("/", get(counter))
        .route("/logout", get(logout))
        .layer(sessions.layer())
}

/// `GET path`, with the session cookie `cookie` if given.
pub async fn get_with(app: &Router, path: &str, cookie: Option<&str>) -> Response<Body> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("sessionid={cookie}"));
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("the router answers")
}

/// The session cookie's value that `response` sets.
pub fn cookie_of(response: &Response<Body>) -> String {
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("an ASCII header");
    let value = set_cookie
        .strip_prefix("sessionid=")
        .expect("the session cookie");
    value.split(';').next().unwrap_or_default().to_owned()
}
