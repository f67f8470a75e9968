//! `sessionkit::django`: a login made by `django.contrib.auth.login` on a signed_cookies
//! session is trusted by `DjangoLogin::verify` exactly as long as Django's `get_user` trusts it.

use std::sync::Arc;

use serde_json::{Value, json};
use sessionkit::django::json::to_python_json;
use sessionkit::django::{DjangoLogin, HASH_SESSION_KEY, session_auth_hash};
use sessionkit::engine::SignedCookieEngine;
use sessionkit::{EngineKind, Sessions, Settings};

use crate::python::{Django, text};

const SECRET: &str = "django-interop-auth-secret";
const OLD_SECRET: &str = "django-interop-auth-secret-before-rotation";
const MODEL_BACKEND: &str = "django.contrib.auth.backends.ModelBackend";

fn sessions(secret: &str, fallbacks: &[&str]) -> Sessions {
    let settings = Settings {
        engine: EngineKind::SignedCookies,
        secret_key_fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
        ..Settings::new(secret)
    };
    Sessions::new(Arc::new(SignedCookieEngine::new(&settings)), settings).expect("valid settings")
}

/// Django creates `alice` and logs her in; then her password changes.
struct DjangoLoginRun {
    cookie: String,
    session_json: String,
    user_id: String,
    password_hash: String,
    new_password_hash: String,
}

fn django_login(django: &Django) -> DjangoLoginRun {
    let out = django.run(
        "auth",
        "login",
        json!({"username": "alice", "password": "correct horse battery staple"}),
    );
    DjangoLoginRun {
        cookie: text(&out, "cookie").to_owned(),
        session_json: text(&out, "session_json").to_owned(),
        user_id: text(&out, "user_id").to_owned(),
        password_hash: text(&out, "password_hash").to_owned(),
        new_password_hash: text(&out, "new_password_hash").to_owned(),
    }
}

/// What Django's `get_user` makes of `cookie` for the user with `password_hash`.
fn django_get_user(django: &Django, cookie: &str, user_id: &str, password_hash: &str) -> Value {
    django.run(
        "auth",
        "get_user",
        json!({"cookie": cookie, "user_id": user_id, "password_hash": password_hash}),
    )
}

#[tokio::test]
async fn a_django_login_is_trusted_until_the_password_changes() {
    let django = Django::new(SECRET);
    let run = django_login(&django);
    let sessions = sessions(SECRET, &[]);

    let session = sessions.start(Some(&run.cookie)).load().await.unwrap();
    assert_eq!(to_python_json(&session.to_map()), run.session_json);
    let login = DjangoLogin::from_session(&session).expect("Django's login is found");
    assert_eq!(
        login,
        DjangoLogin {
            user_id: run.user_id.clone(),
            backend: MODEL_BACKEND.to_owned()
        }
    );
    assert_eq!(
        session.get::<String>(HASH_SESSION_KEY).unwrap(),
        Some(session_auth_hash(&run.password_hash, SECRET)),
        "sessionkit computes the hash Django stored"
    );
    assert!(login.verify(&session, &run.password_hash, SECRET, &[]));

    // The password changed: both refuse the same cookie.
    let session = sessions.start(Some(&run.cookie)).load().await.unwrap();
    assert!(!login.verify(&session, &run.new_password_hash, SECRET, &[]));
    assert!(
        session.is_empty(),
        "a refused login is flushed, as Django does"
    );
    let django_view = django_get_user(&django, &run.cookie, &run.user_id, &run.new_password_hash);
    assert_eq!(django_view["authenticated"], json!(false), "{django_view}");
    let django_view = django_get_user(&django, &run.cookie, &run.user_id, &run.password_hash);
    assert_eq!(django_view["authenticated"], json!(true), "{django_view}");
}

#[tokio::test]
async fn a_login_from_before_a_key_rotation_is_renewed_and_django_accepts_the_renewal() {
    let run = django_login(&Django::new(OLD_SECRET));
    let rotated = Django::with_fallbacks(SECRET, &[OLD_SECRET]);
    let sessions = sessions(SECRET, &[OLD_SECRET]);

    let session = sessions.start(Some(&run.cookie)).load().await.unwrap();
    let login = DjangoLogin::from_session(&session).expect("Django's login is found");
    assert!(!login.verify(
        &sessions.start(Some(&run.cookie)).load().await.unwrap(),
        &run.password_hash,
        SECRET,
        &[]
    ));
    assert!(login.verify(
        &session,
        &run.password_hash,
        SECRET,
        &[OLD_SECRET.to_owned()]
    ));
    let renewed = session.save().await.unwrap().expect("a cookie");

    // Django agrees the old login stands under the rotation, and renews it the same way.
    let django_view = django_get_user(&rotated, &run.cookie, &run.user_id, &run.password_hash);
    assert_eq!(django_view["authenticated"], json!(true), "{django_view}");
    assert_eq!(
        text(&django_view, "session_json"),
        to_python_json(&session.to_map())
    );
    // The renewed session needs neither the old key nor its fallback any more.
    let current_only = Django::new(SECRET);
    let django_view = django_get_user(&current_only, &renewed, &run.user_id, &run.password_hash);
    assert_eq!(django_view["authenticated"], json!(true), "{django_view}");
    assert_eq!(django_view["user_id"], json!(run.user_id));
}
