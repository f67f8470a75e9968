//! CSRF protection with `CSRF_USE_SESSIONS`: a token sessionkit puts in a page passes Django's
//! `CsrfViewMiddleware` for a session holding sessionkit's secret under `_csrftoken`, a token
//! Django's `get_token` makes passes sessionkit's layer, and both refuse a token of another
//! secret with the same reason.

use axum::Router;
use axum::body::Body;
use axum::response::Html;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sessionkit::csrf::{Csrf, CsrfLayer, SESSION_KEY};
use sessionkit::{EngineKind, Sessions};
use tower::ServiceExt;

use crate::python::Django;

const SECRET: &str = "django-interop-csrf-secret";
/// A secret of Django's shape that no session here holds.
const OTHER_SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEF";

/// An app with the secret in the session: a page with a form, and the form's target.
async fn app() -> (Router, Sessions) {
    let sessions = Sessions::builder(SECRET)
        .engine(EngineKind::Cache)
        .open()
        .await
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|csrf: Csrf| async move { Html(csrf.token()) }).post(|| async { "accepted" }),
        )
        .layer(CsrfLayer::new().use_sessions(true))
        .layer(sessions.layer());
    (app, sessions)
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Option<String>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response.headers().get("set-cookie").map(|c| {
        let c = c.to_str().unwrap();
        c["sessionid=".len()..c.find(';').unwrap()].to_owned()
    });
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, cookie, String::from_utf8(body.to_vec()).unwrap())
}

fn form_post(session_key: &str, token: &str) -> Request<Body> {
    Request::post("/")
        .header("cookie", format!("sessionid={session_key}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrfmiddlewaretoken={token}")))
        .unwrap()
}

#[tokio::test]
async fn csrf_tokens_pass_between_sessionkit_and_django_sharing_the_session_secret() {
    let (app, sessions) = app().await;
    let (status, key, token) = send(&app, Request::new(Body::empty())).await;
    assert_eq!(status, StatusCode::OK);
    let key = key.expect("the secret made a session");
    let session = sessions.start(Some(&key)).load().await.unwrap();
    let secret: String = session.get(SESSION_KEY).unwrap().expect("the secret");

    let django = Django::new(SECRET);
    let verdict = django.run("csrf", "check", json!({ "secret": secret, "token": token }));
    assert_eq!(verdict, Value::Null, "Django accepts sessionkit's token");

    let django_token = django.run("csrf", "token", json!({ "secret": secret }));
    let django_token = django_token.as_str().expect("a token");
    assert_eq!(django_token.len(), 64, "masked, as sessionkit's are");
    let (status, _, body) = send(&app, form_post(&key, django_token)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "accepted"));

    let refused = django.run(
        "csrf",
        "check",
        json!({ "secret": OTHER_SECRET, "token": token }),
    );
    assert_eq!(refused, json!("CSRF token from POST incorrect."));
    let other_token = django.run("csrf", "token", json!({ "secret": OTHER_SECRET }));
    let (status, _, body) = send(&app, form_post(&key, other_token.as_str().unwrap())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("Reason: CSRF token from POST incorrect."),
        "{body}"
    );
}
