//! Revocable cookie sessions (`SESSION_REVOCATION_URL`) on both cookie engines and every store
//! the list can live in:
//! a cookie copied before logout, or the old cookie of a session whose key was cycled at
//! login, is no session; without the list both still load (the signed-cookie lesson). "Log
//! out my other sessions" ends every other cookie of the user with the list, and is an error
//! without it.

use std::sync::Arc;

use serde_json::json;
use sessionkit::engine::{ChangeSet, Data, EngineError, SESSION_ID_KEY, SaveRequest, SessionKey};
use sessionkit::{EngineKind, Session, Sessions, Settings};

mod common;

/// Both cookie engines.
const ENGINES: [EngineKind; 2] = [EngineKind::SignedCookies, EngineKind::EncryptedCookies];

async fn sessions(engine: EngineKind, revocation_url: Option<&str>, prefix: &str) -> Sessions {
    Sessions::open(Settings {
        engine,
        revocation_url: revocation_url.map(str::to_owned),
        cache_key_prefix: prefix.to_owned(),
        ..Settings::new("revocation-test-secret")
    })
    .await
    .expect("the revocation list opens")
}

async fn load(sessions: &Sessions, cookie: &str) -> Session {
    sessions.start(Some(cookie)).load().await.unwrap()
}

/// Logs in, copies the cookie, logs out; returns whether the copy still loads.
async fn copy_survives_logout(sessions: &Sessions) -> bool {
    let session = sessions.start(None).load().await.unwrap();
    session.insert("user_id", 42).unwrap();
    let copy = session.save().await.unwrap().expect("a cookie");
    let logged_in = load(sessions, &copy).await;
    assert_eq!(logged_in.get::<i64>("user_id").unwrap(), Some(42));
    logged_in.flush();
    assert_eq!(logged_in.save().await.unwrap(), None);
    !load(sessions, &copy).await.is_empty()
}

/// Cycles the key of a logged-in session; returns whether the old cookie still loads and the
/// new one does.
async fn old_cookie_survives_cycle_key(sessions: &Sessions) -> (bool, bool) {
    let session = sessions.start(None).load().await.unwrap();
    session.insert("cart", [1]).unwrap();
    let old = session.save().await.unwrap().expect("a cookie");
    let next = load(sessions, &old).await;
    next.insert("user_id", 7).unwrap();
    next.cycle_key();
    let new = next.save().await.unwrap().expect("a new cookie");
    let fresh = load(sessions, &new).await;
    assert_eq!(fresh.get::<Vec<i32>>("cart").unwrap(), Some(vec![1]));
    (!load(sessions, &old).await.is_empty(), !fresh.is_empty())
}

/// A new session of `user` (a JSON id: `"7"` or `7`), saved; its cookie.
async fn logged_in(sessions: &Sessions, user: serde_json::Value) -> String {
    let session = sessions.start(None).load().await.unwrap();
    session.insert("_auth_user_id", user).unwrap();
    session.save().await.unwrap().expect("a cookie")
}

/// "Log out my other sessions" from one of user 7's sessions: the others (copies included, and
/// one whose id is a number) are no session; the one that asked goes on, as do another user's
/// and an anonymous one; a login after the mark works.
async fn other_sessions_end(sessions: &Sessions) {
    let phone = logged_in(sessions, json!("7")).await;
    let laptop = logged_in(sessions, json!("7")).await;
    let old_app = logged_in(sessions, json!(7)).await;
    let someone_else = logged_in(sessions, json!("8")).await;
    let anonymous = sessions.start(None).load().await.unwrap();
    anonymous.insert("cart", [1]).unwrap();
    let anonymous = anonymous.save().await.unwrap().expect("a cookie");

    let ended = sessions
        .engine()
        .delete_user_sessions("7", Some(&laptop))
        .await;
    assert_eq!(ended.unwrap(), 0, "cookies cannot be counted");
    for gone in [&phone, &old_app] {
        assert!(load(sessions, gone).await.is_empty());
        assert!(!sessions.engine().exists(gone).await.unwrap());
    }
    for kept in [&laptop, &someone_else, &anonymous] {
        assert!(!load(sessions, kept).await.is_empty());
    }
    // The session that asked is saved again (a new cookie, the same id) and still loads.
    let next = load(sessions, &laptop).await;
    next.insert("n", 1).unwrap();
    let reissued = next.save().await.unwrap().expect("a cookie");
    assert_eq!(
        load(sessions, &reissued).await.get::<i64>("n").unwrap(),
        Some(1)
    );

    // A login in a later second than the mark (issued 2 s from now, not slept for) works.
    let data = Arc::new(Data::from_json(r#"{"_auth_user_id": "7"}"#).unwrap());
    let later = sessions
        .engine()
        .save(SaveRequest {
            previous: None,
            data: &data,
            changes: &ChangeSet::default(),
            now: time::OffsetDateTime::now_utc() + time::Duration::seconds(2),
            cookie_age: 3600,
        })
        .await
        .unwrap()
        .cookie_value;
    assert!(!load(sessions, &later).await.is_empty(), "a later login");
}

async fn check(url: &str, prefix: &str) {
    for engine in ENGINES {
        check_on(engine, url, prefix).await;
    }
}

async fn check_on(engine: EngineKind, url: &str, prefix: &str) {
    let with = sessions(engine, Some(url), prefix).await;
    assert!(
        !copy_survives_logout(&with).await,
        "{url}: the copy is revoked"
    );
    assert_eq!(
        old_cookie_survives_cycle_key(&with).await,
        (false, true),
        "{url}"
    );
    // A second session's id is not the first one's: saving the same session keeps its id.
    let session = with.start(None).load().await.unwrap();
    session.insert("n", 1).unwrap();
    let cookie = session.save().await.unwrap().unwrap();
    let id: String = load(&with, &cookie)
        .await
        .get(SESSION_ID_KEY)
        .unwrap()
        .unwrap();
    let again = load(&with, &cookie).await;
    again.insert("n", 2).unwrap();
    let resaved = again.save().await.unwrap().unwrap();
    let same: String = load(&with, &resaved)
        .await
        .get(SESSION_ID_KEY)
        .unwrap()
        .unwrap();
    assert_eq!(id, same, "{url}: one session, one id");
    other_sessions_end(&with).await;
}

#[tokio::test]
async fn without_the_list_a_copied_signed_cookie_outlives_logout() {
    for engine in ENGINES {
        let without = sessions(engine, None, "unused").await;
        assert!(copy_survives_logout(&without).await, "{engine}");
        assert_eq!(
            old_cookie_survives_cycle_key(&without).await,
            (true, true),
            "{engine}"
        );
        let cookie = logged_in(&without, json!("7")).await;
        let ended = without
            .engine()
            .delete_user_sessions("7", Some(&cookie))
            .await;
        assert!(
            matches!(ended, Err(EngineError::Unsupported { .. })),
            "{engine}: {ended:?}"
        );
    }
}

#[tokio::test]
async fn a_list_in_memory_revokes_logged_out_cookies() {
    check("memory://", "unused").await;
}

#[tokio::test]
async fn a_list_in_redis_revokes_logged_out_cookies() {
    let prefix = format!("sk_revoked_{}:", &SessionKey::generate().as_str()[..12]);
    check(common::REDIS_URL, &prefix).await;
    common::delete_redis_keys(&prefix).await;
}

#[tokio::test]
async fn a_list_in_sqlite_revokes_logged_out_cookies() {
    let dir = std::env::temp_dir().join(format!(
        "sessionkit-revocation-{}",
        SessionKey::generate().as_str()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("revoked.sqlite3").display());
    check(&url, "unused").await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_list_is_for_cookie_engines_only() {
    let settings = Settings {
        engine: EngineKind::Cache,
        revocation_url: Some("memory://".to_owned()),
        ..Settings::new("revocation-test-secret")
    };
    let error = settings.validate().unwrap_err();
    assert_eq!(error.setting, "SESSION_REVOCATION_URL");
    let bad = Settings {
        engine: EngineKind::SignedCookies,
        revocation_url: Some("mongodb://x".to_owned()),
        ..Settings::new("revocation-test-secret")
    };
    assert_eq!(
        bad.validate().unwrap_err().setting,
        "SESSION_REVOCATION_URL"
    );
}
