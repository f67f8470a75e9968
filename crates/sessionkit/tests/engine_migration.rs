//! SESSION_ENGINE_FALLBACKS: switching engines logs nobody out. A cookie the new engine does
//! not recognize is looked up in the fallback engines; the session found is served and, at the
//! end of that same request, moved into the new engine (and removed from the old one).

use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Response};
use http_body_util::BodyExt;
use sessionkit::engine::SessionKey;
use sessionkit::{EngineKind, Session, SessionError, Sessions, Settings};
use tower::ServiceExt;

/// One app directory (its SQLite file) that outlives "restarts" with other settings.
struct AppDir(PathBuf);

impl AppDir {
    fn new() -> AppDir {
        let dir = std::env::temp_dir().join(format!(
            "sessionkit-migration-{}",
            SessionKey::generate().as_str()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        AppDir(dir)
    }

    /// The app as started with `engine` and `fallbacks`.
    async fn start(&self, engine: EngineKind, fallbacks: &[EngineKind]) -> (Sessions, Router) {
        let settings = Settings {
            engine,
            engine_fallbacks: fallbacks.to_vec(),
            db_url: format!("sqlite://{}", self.0.join("sessions.sqlite3").display()),
            ..Settings::new("migration-test-secret")
        };
        let sessions = Sessions::open(settings).await.unwrap();
        sessions.engine().migrate().await.unwrap();
        let app = Router::new()
            .route(
                "/login",
                get(|s: Session| async move {
                    s.cycle_key();
                    s.insert("_auth_user_id", "42")?;
                    Ok::<_, SessionError>("logged in")
                }),
            )
            .route(
                "/whoami",
                get(|s: Session| async move {
                    Ok::<_, SessionError>(s.get::<String>("_auth_user_id")?.unwrap_or_default())
                }),
            )
            .route("/untouched", get(|| async { "ok" }))
            .layer(sessions.layer());
        (sessions, app)
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn call(app: &Router, path: &str, cookie: Option<&str>) -> Response<Body> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("sessionid={cookie}"));
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

/// The new session cookie a response sets, if any (`None` for no Set-Cookie).
fn set_cookie(response: &Response<Body>) -> Option<String> {
    let header = response.headers().get("set-cookie")?.to_str().unwrap();
    let value = header.split(';').next()?.trim_start_matches("sessionid=");
    Some(value.to_owned())
}

async fn body(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn signed_cookie_users_stay_logged_in_when_the_app_moves_to_the_database() {
    let dir = AppDir::new();
    let (_, before) = dir.start(EngineKind::SignedCookies, &[]).await;
    let cookie = set_cookie(&call(&before, "/login", None).await).expect("a signed cookie");
    assert!(cookie.contains(':'), "the data is in the cookie");

    // "Restart" with the database as the engine and signed cookies as a fallback.
    let (sessions, after) = dir
        .start(EngineKind::Db, &[EngineKind::SignedCookies])
        .await;
    let untouched = call(&after, "/untouched", Some(&cookie)).await;
    assert!(
        set_cookie(&untouched).is_none(),
        "a fallback cookie is not deleted unread"
    );

    let response = call(&after, "/whoami", Some(&cookie)).await;
    let key = set_cookie(&response).expect("moved into the database: a new cookie");
    assert_eq!(body(response).await, "42", "still logged in");
    assert!(
        SessionKey::parse(&key).is_some(),
        "the new cookie is a database key"
    );
    let stored = sessions.engine().load(&key).await.unwrap().expect("a row");
    assert_eq!(stored.data["_auth_user_id"], serde_json::json!("42"));

    let response = call(&after, "/whoami", Some(&key)).await;
    assert!(set_cookie(&response).is_none(), "nothing left to move");
    assert_eq!(body(response).await, "42");
}

#[tokio::test]
async fn database_users_stay_logged_in_when_the_app_moves_to_signed_cookies() {
    let dir = AppDir::new();
    let (db, before) = dir.start(EngineKind::Db, &[]).await;
    let key = set_cookie(&call(&before, "/login", None).await).expect("a key");

    let (_, after) = dir
        .start(EngineKind::SignedCookies, &[EngineKind::Db])
        .await;
    let response = call(&after, "/whoami", Some(&key)).await;
    let cookie = set_cookie(&response).expect("moved into a signed cookie");
    assert_eq!(body(response).await, "42");
    assert!(cookie.contains(':'));
    assert!(
        !db.engine().exists(&key).await.unwrap(),
        "the row is gone once the session moved"
    );
    assert_eq!(
        body(call(&after, "/whoami", Some(&cookie)).await).await,
        "42"
    );
}

#[tokio::test]
async fn without_the_fallback_the_old_cookie_is_no_session() {
    let dir = AppDir::new();
    let (_, before) = dir.start(EngineKind::SignedCookies, &[]).await;
    let cookie = set_cookie(&call(&before, "/login", None).await).unwrap();
    let (_, after) = dir.start(EngineKind::Db, &[]).await;
    assert_eq!(body(call(&after, "/whoami", Some(&cookie)).await).await, "");
}
