//! `SESSION_HEADER_NAME`: the session key travels in `X-Session-Token` both ways, never in a
//! cookie, through a real axum router on the real SQLite and Redis engines. Login rotates the
//! key, logout answers with an empty header, and a bad header value is no session, never a
//! 500.

mod common;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use sessionkit::engine::SessionKey;
use sessionkit::{EngineKind, Session, SessionError, Sessions};
use tower::ServiceExt;

use common::{REDIS_URL, delete_redis_keys};

const HEADER: &str = "x-session-token";

/// An app whose sessions travel in [`HEADER`], on the db engine (SQLite) or Redis.
struct Api {
    app: Router,
    sessions: Sessions,
    /// The SQLite file's directory, or the Redis key prefix: removed on drop.
    scratch: Scratch,
}

enum Scratch {
    Dir(std::path::PathBuf),
    RedisPrefix(String),
}

impl Api {
    async fn sqlite() -> Api {
        let name = format!("sessionkit-header-{}", SessionKey::generate().as_str());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
        let builder = Sessions::builder("header-test-secret")
            .engine(EngineKind::Db)
            .db_url(url);
        Api::open(builder, Scratch::Dir(dir)).await
    }

    async fn redis() -> Api {
        let prefix = format!("sessionkit-header-{}:", SessionKey::generate().as_str());
        let key_prefix = prefix.clone();
        let builder = Sessions::builder("header-test-secret")
            .engine(EngineKind::Cache)
            .cache_url(REDIS_URL)
            .configure(|s| s.cache_key_prefix = key_prefix);
        Api::open(builder, Scratch::RedisPrefix(prefix)).await
    }

    async fn open(builder: sessionkit::SessionsBuilder, scratch: Scratch) -> Api {
        let sessions = builder.header_name("X-Session-Token").open().await.unwrap();
        sessions.engine().migrate().await.unwrap();
        Api {
            app: app(&sessions),
            sessions,
            scratch,
        }
    }

    async fn cleanup(self) {
        match &self.scratch {
            Scratch::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::RedisPrefix(prefix) => delete_redis_keys(prefix).await,
        }
    }

    /// Sends `method path` carrying `token` (raw header bytes) in the session header.
    async fn call(&self, method: &str, path: &str, token: Option<&[u8]>) -> Response<Body> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(HEADER, HeaderValue::from_bytes(token).unwrap());
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(
            !response.headers().contains_key("set-cookie"),
            "a header session never sets a cookie: {:?}",
            response.headers()
        );
        response
    }

    /// Logs in without a token and returns the key the response hands out.
    async fn log_in(&self) -> String {
        let response = self.call("POST", "/login", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        token_of(&response).expect("login hands out a key")
    }

    async fn whoami(&self, token: &str) -> String {
        let response = self.call("GET", "/whoami", Some(token.as_bytes())).await;
        assert_eq!(response.status(), StatusCode::OK);
        body(response).await
    }
}

/// The session header of a response, if it has one.
fn token_of(response: &Response<Body>) -> Option<String> {
    let value = response.headers().get(HEADER)?;
    Some(value.to_str().unwrap().to_owned())
}

async fn body(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn app(sessions: &Sessions) -> Router {
    Router::new()
        .route(
            "/login",
            post(|session: Session| async move {
                session.cycle_key();
                session.insert("user", "alice")?;
                Ok::<_, SessionError>("logged in")
            }),
        )
        .route(
            "/whoami",
            get(|session: Session| async move {
                let user: Option<String> = session.get("user")?;
                Ok::<_, SessionError>(user.unwrap_or_else(|| "nobody".to_owned()))
            }),
        )
        .route(
            "/cart/add",
            post(|session: Session| async move {
                let items: u32 = session.get("items")?.unwrap_or(0);
                session.insert("items", items + 1)?;
                Ok::<_, SessionError>("added")
            }),
        )
        .route(
            "/logout",
            post(|session: Session| async move {
                session.flush();
                "logged out"
            }),
        )
        .layer(sessions.layer())
}

/// Runs `check` on SQLite, then on Redis.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let api = super::Api::sqlite().await;
                super::$name(&api).await;
                api.cleanup().await;
            })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                let api = super::Api::redis().await;
                super::$name(&api).await;
                api.cleanup().await;
            })*
        }
    };
}

on_both_engines!(
    login_hands_out_a_key_in_the_header_that_later_requests_carry,
    login_again_rotates_the_key_and_the_old_one_is_gone,
    logout_answers_with_an_empty_header_and_the_key_is_dead,
    an_unknown_key_gets_a_fresh_key_not_the_one_offered,
    bad_header_values_are_no_session_never_an_error,
    a_cookie_is_ignored_when_sessions_travel_in_a_header,
);

async fn login_hands_out_a_key_in_the_header_that_later_requests_carry(api: &Api) {
    let token = api.log_in().await;
    assert!(SessionKey::is_well_formed(&token), "{token}");
    assert!(api.sessions.engine().exists(&token).await.unwrap());
    assert_eq!(api.whoami(&token).await, "alice");
    let response = api.call("POST", "/cart/add", Some(token.as_bytes())).await;
    assert_eq!(
        token_of(&response).as_deref(),
        Some(token.as_str()),
        "saved"
    );
    assert_eq!(response.headers()["vary"], HEADER);
    let response = api.call("GET", "/whoami", Some(token.as_bytes())).await;
    assert_eq!(token_of(&response), None, "read only: nothing to hand out");
    assert_eq!(
        response.headers()["vary"],
        HEADER,
        "but it depends on the key"
    );
}

async fn login_again_rotates_the_key_and_the_old_one_is_gone(api: &Api) {
    let first = api.log_in().await;
    let response = api.call("POST", "/login", Some(first.as_bytes())).await;
    let second = token_of(&response).expect("a new key");
    assert_ne!(second, first, "cycle_key hands out a new key");
    assert_eq!(api.whoami(&second).await, "alice");
    assert_eq!(api.whoami(&first).await, "nobody", "the old key is dead");
    assert!(!api.sessions.engine().exists(&first).await.unwrap());
}

async fn logout_answers_with_an_empty_header_and_the_key_is_dead(api: &Api) {
    let token = api.log_in().await;
    let response = api.call("POST", "/logout", Some(token.as_bytes())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        token_of(&response).as_deref(),
        Some(""),
        "the session ended"
    );
    assert_eq!(response.headers()["vary"], HEADER);
    assert_eq!(api.whoami(&token).await, "nobody");
    assert!(!api.sessions.engine().exists(&token).await.unwrap());
    let again = api.call("POST", "/logout", None).await;
    assert_eq!(token_of(&again), None, "no session, nothing to end");
}

async fn an_unknown_key_gets_a_fresh_key_not_the_one_offered(api: &Api) {
    let planted = SessionKey::generate().as_str().to_owned();
    let response = api
        .call("POST", "/cart/add", Some(planted.as_bytes()))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh = token_of(&response).expect("a session was created");
    assert_ne!(
        fresh, planted,
        "strict mode: a key the server never made is not adopted"
    );
    assert!(!api.sessions.engine().exists(&planted).await.unwrap());
}

async fn bad_header_values_are_no_session_never_an_error(api: &Api) {
    let token = api.log_in().await;
    let too_long = format!("{token}{}", "a".repeat(4096));
    let bad: [&[u8]; 5] = [
        "clé-non-ascii".as_bytes(),
        b"\xff\xfe\x80",
        too_long.as_bytes(),
        b"garbage; sessionid=x, \"quoted\"",
        &token.as_bytes()[1..],
    ];
    for value in bad {
        let response = api.call("GET", "/whoami", Some(value)).await;
        assert_eq!(response.status(), StatusCode::OK, "{value:?}");
        // Absent, or empty ("forget that token", as a cookie that names no session is deleted).
        assert_eq!(token_of(&response).unwrap_or_default(), "", "{value:?}");
        assert_eq!(body(response).await, "nobody", "{value:?}");
        let response = api.call("POST", "/cart/add", Some(value)).await;
        assert_eq!(response.status(), StatusCode::OK, "{value:?}");
        let fresh = token_of(&response).expect("a fresh session");
        assert!(SessionKey::is_well_formed(&fresh), "{value:?}: {fresh}");
    }
    assert_eq!(
        api.whoami(&token).await,
        "alice",
        "the real session is untouched"
    );
}

async fn a_cookie_is_ignored_when_sessions_travel_in_a_header(api: &Api) {
    let token = api.log_in().await;
    let request = Request::get("/whoami")
        .header("cookie", format!("sessionid={token}"))
        .body(Body::empty())
        .unwrap();
    let response = api.app.clone().oneshot(request).await.unwrap();
    assert_eq!(
        body(response).await,
        "nobody",
        "only the header carries the key"
    );
}

#[tokio::test]
async fn signed_cookies_cannot_travel_in_a_header() {
    let error = Sessions::builder("secret")
        .engine(EngineKind::SignedCookies)
        .header_name("X-Session-Token")
        .open()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("SESSION_HEADER_NAME"), "{message}");
    assert!(message.contains("server-side"), "{message}");
}
