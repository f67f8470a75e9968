//! The encrypted-cookie engine: the round trip, tampering, names, secrets, rotation, expiry
//! and size.

use serde_json::json;
use time::Duration;

use super::*;
use crate::error::SessionError;
use crate::settings::MAX_COOKIE_BYTES;
use crate::{EngineKind, Expiry, Sessions, Settings};

const OLD_SECRET: &str = "the secret before the rotation";
const NEW_SECRET: &str = "the secret after the rotation";

fn settings(secret: &str, fallbacks: &[&str]) -> Settings {
    Settings {
        engine: EngineKind::EncryptedCookies,
        secret_key_fallbacks: fallbacks.iter().map(|s| s.to_string()).collect(),
        ..Settings::new(secret)
    }
}

fn engine(secret: &str, fallbacks: &[&str]) -> EncryptedCookieEngine {
    EncryptedCookieEngine::new(&settings(secret, fallbacks))
}

async fn sessions(settings: Settings) -> Sessions {
    Sessions::open(settings)
        .await
        .expect("opens without a store")
}

fn data(value: serde_json::Value) -> Data {
    Data::try_from(value).expect("an object")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Loads `cookie` through `engine`: `Some(data)` or no session.
async fn opened(engine: &EncryptedCookieEngine, cookie: &str) -> Option<Data> {
    let loaded = engine
        .load(cookie)
        .await
        .expect("a cookie engine never fails");
    loaded.map(|loaded| Arc::unwrap_or_clone(loaded.data))
}

#[tokio::test]
async fn a_session_round_trips_through_the_cookie() {
    let sessions = sessions(settings(NEW_SECRET, &[])).await;
    let session = sessions.start(None).load().await.unwrap();
    session.insert("user_id", 42).unwrap();
    session.insert("name", "Zoë 🎉").unwrap();
    session
        .insert("cart", json!([{"sku": "A-1", "qty": 2}]))
        .unwrap();
    let cookie = session.save().await.unwrap().expect("a cookie");
    assert!(engine(NEW_SECRET, &[]).accepts(&cookie));

    let next = sessions.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(next.get::<i64>("user_id").unwrap(), Some(42));
    assert_eq!(
        next.get::<String>("name").unwrap().as_deref(),
        Some("Zoë 🎉")
    );
    assert_eq!(
        next.get_value("cart"),
        Some(json!([{"sku": "A-1", "qty": 2}]))
    );
    assert!(
        !next.modified(),
        "read with SECRET_KEY: nothing to re-issue"
    );
}

#[tokio::test]
async fn the_plaintext_never_appears_in_the_cookie() {
    let engine = engine(NEW_SECRET, &[]);
    let marker = "PLAINTEXT-MARKER-4f1c";
    let session = data(json!({"note": marker, "user_id": 42}));
    let cookie = engine.seal(&session, now()).unwrap();
    let json = to_python_json(&session);
    assert!(!cookie.contains(marker) && !cookie.contains("user_id"));
    // Nor its base64, at any of the three alignments a byte string can have in base64.
    for shift in 0..3 {
        let shifted = format!("{}{json}", "x".repeat(shift));
        let encoded = URL_SAFE_NO_PAD.encode_to_string(shifted.as_bytes());
        let inner = encoded.get(4..encoded.len() - 4).unwrap();
        assert!(
            !cookie.contains(inner),
            "base64 of the JSON at shift {shift}"
        );
    }
    let decoded = URL_SAFE_NO_PAD.decode_to_vec(&cookie).unwrap();
    assert!(
        !decoded
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
    );
    // Sealing twice gives two different values (fresh nonces) holding the same session.
    let again = engine.seal(&session, now()).unwrap();
    assert_ne!(again, cookie);
    assert_eq!(opened(&engine, &again).await, Some(session));
}

#[tokio::test]
async fn changing_any_byte_or_truncating_gives_no_session() {
    let engine = engine(NEW_SECRET, &[]);
    let session = data(json!({"user_id": 42, "is_staff": false}));
    let cookie = engine.seal(&session, now()).unwrap();
    assert_eq!(opened(&engine, &cookie).await, Some(session));
    let bytes = URL_SAFE_NO_PAD.decode_to_vec(&cookie).unwrap();
    for at in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut tampered = bytes.clone();
            tampered[at] ^= flip;
            let value = URL_SAFE_NO_PAD.encode_to_string(&tampered);
            assert_eq!(opened(&engine, &value).await, None, "byte {at} ^ {flip:#x}");
        }
    }
    for len in 0..bytes.len() {
        let value = URL_SAFE_NO_PAD.encode_to_string(&bytes[..len]);
        assert_eq!(opened(&engine, &value).await, None, "{len} bytes");
        assert!(engine.unseal(&value).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let value = URL_SAFE_NO_PAD.encode_to_string(&longer);
    assert_eq!(engine.unseal(&value), Err(UnsealError::Inauthentic));
}

#[tokio::test]
async fn another_version_or_malformed_values_give_no_session() {
    let engine = engine(NEW_SECRET, &[]);
    let cookie = engine.seal(&data(json!({"n": 1})), now()).unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode_to_vec(&cookie).unwrap();
    bytes[0] = 2;
    let next_version = URL_SAFE_NO_PAD.encode_to_string(&bytes);
    assert_eq!(
        engine.unseal(&next_version),
        Err(UnsealError::UnknownVersion(2))
    );
    assert_eq!(opened(&engine, &next_version).await, None);
    let padded = format!("{cookie}==");
    let signed = format!("{cookie}:1r31eq:x");
    for value in [
        "",
        "A",
        "AAAA",
        "!!!!",
        &padded,
        &signed,
        &cookie.replace('A', "+"),
    ] {
        assert_eq!(opened(&engine, value).await, None, "{value:?}");
        assert!(!engine.exists(value).await.unwrap(), "{value:?}");
    }
    assert!(
        !engine.accepts(&signed),
        "a signed cookie's shape is not this engine's"
    );
    assert!(
        !engine.accepts("0123456789abcdefghijklmnopqrstuv"),
        "nor a session key"
    );
}

#[tokio::test]
async fn a_cookie_moved_to_another_name_or_secret_gives_no_session() {
    let engine = engine(NEW_SECRET, &[]);
    let cookie = engine.seal(&data(json!({"user_id": 42})), now()).unwrap();
    let other_name = EncryptedCookieEngine::new(&Settings {
        cookie_name: "othersession".into(),
        ..settings(NEW_SECRET, &[])
    });
    assert_eq!(other_name.unseal(&cookie), Err(UnsealError::Inauthentic));
    assert_eq!(opened(&other_name, &cookie).await, None);
    let other_secret = self::engine("another secret", &[]);
    assert_eq!(other_secret.unseal(&cookie), Err(UnsealError::UnknownKey));
    assert_eq!(opened(&other_secret, &cookie).await, None);
}

#[tokio::test]
async fn a_fallback_key_still_opens_and_the_cookie_is_reissued_under_the_current_key() {
    let old = engine(OLD_SECRET, &[]);
    let cookie = old.seal(&data(json!({"user_id": 42})), now()).unwrap();
    assert_eq!(opened(&engine(NEW_SECRET, &[]), &cookie).await, None);

    let rotated = sessions(settings(NEW_SECRET, &[OLD_SECRET])).await;
    assert!(rotated.engine().needs_reissue(&cookie));
    let session = rotated.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));
    assert!(
        session.modified(),
        "the middleware saves it: a new cookie goes out"
    );
    let reissued = session.save().await.unwrap().expect("a cookie");
    assert!(!rotated.engine().needs_reissue(&reissued));

    let unsealed = engine(NEW_SECRET, &[]).unseal(&reissued).unwrap();
    assert_eq!(unsealed.data, data(json!({"user_id": 42})));
    assert!(!unsealed.with_fallback);
    assert_eq!(old.unseal(&reissued), Err(UnsealError::UnknownKey));
    assert_eq!(
        opened(&old, &reissued).await,
        None,
        "the old key alone cannot open it"
    );
}

#[tokio::test]
async fn signed_cookie_sessions_move_to_encrypted_ones_through_the_engine_fallbacks() {
    let signed = sessions(Settings {
        engine: EngineKind::SignedCookies,
        ..Settings::new(NEW_SECRET)
    })
    .await;
    let session = signed.start(None).load().await.unwrap();
    session.insert("user_id", 42).unwrap();
    let signed_cookie = session.save().await.unwrap().unwrap();

    let moving = sessions(Settings {
        engine_fallbacks: vec![EngineKind::SignedCookies],
        ..settings(NEW_SECRET, &[])
    })
    .await;
    let session = moving.start(Some(&signed_cookie)).load().await.unwrap();
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));
    assert!(session.modified(), "moved at the end of the request");
    let moved = session.save().await.unwrap().unwrap();
    let unsealed = engine(NEW_SECRET, &[]).unseal(&moved).unwrap();
    assert_eq!(unsealed.data, data(json!({"user_id": 42})));
}

#[tokio::test]
async fn an_expired_cookie_gives_no_session() {
    let engine = engine(NEW_SECRET, &[]);
    let age = settings(NEW_SECRET, &[]).cookie_age;
    let session = data(json!({"user_id": 42}));
    let at_the_limit = engine
        .seal(&session, now() - Duration::seconds(age - 5))
        .unwrap();
    assert_eq!(opened(&engine, &at_the_limit).await, Some(session.clone()));
    let past_it = engine
        .seal(&session, now() - Duration::seconds(age + 1))
        .unwrap();
    assert_eq!(opened(&engine, &past_it).await, None);

    // set_expiry can only end a cookie sooner, as with signed_cookies.
    let sessions = sessions(settings(NEW_SECRET, &[])).await;
    let short = sessions.start(None).load().await.unwrap();
    short.insert("user_id", 42).unwrap();
    short.set_expiry(Expiry::After(Duration::seconds(60)));
    let cookie = short.save().await.unwrap().unwrap();
    let data = engine.unseal(&cookie).unwrap().data;
    let issued_two_minutes_ago = engine.seal(&data, now() - Duration::seconds(120)).unwrap();
    assert_eq!(opened(&engine, &issued_two_minutes_ago).await, None);
    assert!(opened(&engine, &cookie).await.is_some());
    let far = data_with_expiry(&data, json!(10 * age));
    let beyond_cookie_age = engine
        .seal(&far, now() - Duration::seconds(age + 1))
        .unwrap();
    assert_eq!(opened(&engine, &beyond_cookie_age).await, None);
}

fn data_with_expiry(data: &Data, expiry: serde_json::Value) -> Data {
    let mut data = data.clone();
    data.insert(crate::expiry::EXPIRY_KEY, expiry.try_into().expect("JSON"));
    data
}

#[tokio::test]
async fn a_session_too_large_for_a_cookie_is_an_error_not_a_truncated_cookie() {
    let sessions = sessions(settings(NEW_SECRET, &[])).await;
    let session = sessions.start(None).load().await.unwrap();
    // Repetitive, so zlib would shrink it: encryption must not (no compression).
    session.insert("blob", "a".repeat(3_100)).unwrap();
    let error = session.save().await.unwrap_err();
    assert!(
        matches!(error, SessionError::CookieTooLarge { size, limit: MAX_COOKIE_BYTES } if size > MAX_COOKIE_BYTES),
        "{error:?}"
    );
    assert!(session.modified(), "kept for a retry with less data");
}

#[test]
fn the_cookie_is_as_long_as_its_json_and_the_fixed_overhead() {
    let engine = engine(NEW_SECRET, &[]);
    for n in [0, 100, 1_000, 2_000] {
        let session = data(json!({"blob": "a".repeat(n)}));
        let json_len = to_python_json(&session).len();
        let cookie = engine.seal(&session, now()).unwrap();
        let expected = ((OVERHEAD_BYTES + json_len) * 4).div_ceil(3);
        assert_eq!(
            cookie.len(),
            expected,
            "{n} repeated bytes are not compressed"
        );
    }
}
