//! D. Encoding and bad input (items 24–26), where it depends on the engine: a tampered,
//! malformed or foreign signed value gives a fresh empty session, a warning and no panic;
//! secrets rotate without logging anyone out; a corrupted db row is no session. The checks
//! that apply to every store are `sessionkit::testing::bad_input`.

use std::io::Write as _;
use std::time::SystemTime;

use base64_simd::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sessionkit::django::signing::{COOKIE_SALT, STORE_SALT, SignatureError, Signer, b62_encode};
use sessionkit::engine::SessionKey;
use sessionkit::testing::{SECRET, load, logs, object};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::harness::EngineHarness;

const OLD_SECRET: &str = "the-secret-before-rotation";
const NEW_SECRET: &str = "the-secret-after-rotation";

/// Item 26: A session saved under a secret now in SECRET_KEY_FALLBACKS loads; the next save is
/// signed with SECRET_KEY only (the old secret alone no longer reads it).
pub async fn a_fallback_secret_still_loads_and_the_next_save_uses_the_current_one(
    h: &EngineHarness,
) {
    let secrets = |current: &str, fallbacks: &[&str]| {
        let current = current.to_owned();
        let fallbacks: Vec<String> = fallbacks.iter().map(|s| s.to_string()).collect();
        h.with_settings(move |s| {
            s.secret_key = current;
            s.secret_key_fallbacks = fallbacks;
        })
    };
    let old = secrets(OLD_SECRET, &[]).await;
    let rotated = secrets(NEW_SECRET, &[OLD_SECRET]).await;
    let only_new = secrets(NEW_SECRET, &[]).await;
    let only_old = secrets(OLD_SECRET, &[]).await;

    let session = load(&old, None).await;
    session.insert("user_id", 42).unwrap();
    let cookie = session.save().await.unwrap().expect("a cookie");
    assert!(
        load(&only_new, Some(&cookie)).await.is_empty(),
        "without the fallback the old session does not load"
    );

    let session = load(&rotated, Some(&cookie)).await;
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));
    session.insert("after_rotation", true).unwrap();
    let resaved = session.save().await.unwrap().expect("a cookie");

    let with_new = load(&only_new, Some(&resaved)).await;
    assert_eq!(with_new.get::<i64>("user_id").unwrap(), Some(42));
    assert_eq!(with_new.get::<bool>("after_rotation").unwrap(), Some(true));
    assert!(
        load(&only_old, Some(&resaved)).await.is_empty(),
        "the re-saved session is signed with the old secret"
    );
}

/// The three parts of a signed value.
fn parts(cookie: &str) -> (&str, &str, &str) {
    let (payload, rest) = cookie.split_once(':').expect("payload:…");
    let (timestamp, signature) = rest.split_once(':').expect("timestamp:signature");
    (payload, timestamp, signature)
}

/// `value` with the ASCII character at `at` replaced by another base64/base62 character.
fn change_char(value: &str, at: usize) -> String {
    let mut bytes = value.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

/// A valid cookie for `{"user_id": 42, "role": "customer"}`, checked to load.
async fn valid_cookie(h: &EngineHarness) -> String {
    let cookie = h.saved(json!({"user_id": 42, "role": "customer"})).await;
    assert_eq!(
        h.reload(&cookie).await.get::<i64>("user_id").unwrap(),
        Some(42)
    );
    cookie
}

/// Item 24: One character of the payload, timestamp or signature changed, or the case changed.
pub async fn tampered_payload_timestamp_or_signature_gives_a_fresh_session(h: &EngineHarness) {
    let cookie = valid_cookie(h).await;
    let (payload, timestamp, _) = parts(&cookie);
    let timestamp_at = payload.len() + 1;
    let signature_at = timestamp_at + timestamp.len() + 1;
    let variants = [
        ("payload changed", change_char(&cookie, payload.len() / 2)),
        ("timestamp changed", change_char(&cookie, timestamp_at)),
        ("signature changed", change_char(&cookie, signature_at + 10)),
        (
            "last signature character changed",
            change_char(&cookie, cookie.len() - 1),
        ),
        ("upper-cased", cookie.to_uppercase()),
        ("lower-cased", cookie.to_lowercase()),
    ];
    for (what, value) in &variants {
        assert_ne!(value, &cookie, "{what}");
        h.assert_no_session(value, what, true).await;
    }
}

/// Item 24: Garbage appended or prepended, with and without a separator; a separator removed.
pub async fn garbage_around_a_valid_cookie_gives_a_fresh_session(h: &EngineHarness) {
    let cookie = valid_cookie(h).await;
    let last_colon = cookie.rfind(':').expect("a separator");
    let variants = [
        ("prefix", format!("x{cookie}")),
        ("prefix and separator", format!("x:{cookie}")),
        ("leading separator", format!(":{cookie}")),
        ("suffix", format!("{cookie}x")),
        ("separator and suffix", format!("{cookie}:x")),
        ("trailing separator", format!("{cookie}:")),
        ("surrounding spaces", format!(" {cookie} ")),
        ("doubled", format!("{cookie}{cookie}")),
        ("first separator removed", cookie.replacen(':', "", 1)),
        (
            "last separator removed",
            format!("{}{}", &cookie[..last_colon], &cookie[last_colon + 1..]),
        ),
        ("both separators removed", cookie.replace(':', "")),
    ];
    for (what, value) in &variants {
        h.assert_no_session(value, what, true).await;
    }
}

/// Item 24: The payload of one valid cookie with the timestamp and signature of another.
pub async fn swapped_payloads_give_a_fresh_session(h: &EngineHarness) {
    let alice = h.saved(json!({"user": "alice"})).await;
    let admin = h.saved(json!({"user": "admin", "is_staff": true})).await;
    let (alice_payload, _, _) = parts(&alice);
    let (admin_payload, _, _) = parts(&admin);
    let admin_with_alices_signature = alice.replacen(alice_payload, admin_payload, 1);
    let alice_with_admins_signature = admin.replacen(admin_payload, alice_payload, 1);
    h.assert_no_session(&admin_with_alices_signature, "admin payload", true)
        .await;
    h.assert_no_session(&alice_with_admins_signature, "alice payload", true)
        .await;
}

fn now_seconds() -> u64 {
    OffsetDateTime::now_utc().unix_timestamp() as u64
}

/// Item 24: A value signed with another secret is not a session; the same data signed with
/// SECRET_KEY is.
pub async fn a_cookie_signed_with_another_secret_gives_a_fresh_session(h: &EngineHarness) {
    let data = object(json!({"user_id": 1, "is_staff": true}));
    let upper = SECRET.to_uppercase();
    for secret in ["another-secret", "", upper.as_str()] {
        let value = Signer::new(COOKIE_SALT, secret, &[]).sign_object(&data, now_seconds());
        h.assert_no_session(&value, &format!("secret {secret:?}"), true)
            .await;
    }
    let genuine = Signer::new(COOKIE_SALT, SECRET, &[]).sign_object(&data, now_seconds());
    assert_eq!(h.reload(&genuine).await.to_map(), data);
}

/// Item 24: `session_data` of a db row (same secret, the store's salt) used as a cookie.
pub async fn a_value_signed_with_the_db_salt_is_not_a_session_cookie(h: &EngineHarness) {
    let data = object(json!({"user_id": 1}));
    let value = Signer::new(STORE_SALT, SECRET, &[]).sign_object(&data, now_seconds());
    h.assert_no_session(&value, "store salt", true).await;
    let genuine = Signer::new(COOKIE_SALT, SECRET, &[]).sign_object(&data, now_seconds());
    assert_eq!(h.reload(&genuine).await.to_map(), data);
}

/// Signs `payload:timestamp` as Django does, with the harness secret and the cookie salt, so
/// that only what comes after the signature check is under test.
fn forge(payload: &str, timestamp: &str) -> String {
    let key = Sha256::new()
        .chain_update(COOKIE_SALT)
        .chain_update("signer")
        .chain_update(SECRET)
        .finalize();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    let signed = format!("{payload}:{timestamp}");
    mac.update(signed.as_bytes());
    format!(
        "{signed}:{}",
        URL_SAFE_NO_PAD.encode_to_string(mac.finalize().into_bytes())
    )
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode_to_string(bytes)
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("in memory");
    encoder.finish().expect("in memory")
}

/// Item 25: Validly signed, but the payload is not base64, not zlib after a `.`, not UTF-8, not
/// JSON, or JSON that is not an object; or the timestamp is not base62.
pub async fn validly_signed_payloads_that_are_not_a_json_object_give_a_fresh_session(
    h: &EngineHarness,
) {
    let now = b62_encode(now_seconds());
    let forged = forge(&b64(br#"{"user_id":7}"#), &now);
    assert_eq!(
        h.reload(&forged).await.get::<i64>("user_id").unwrap(),
        Some(7),
        "the forging helper signs as sessionkit does"
    );
    let object = b64(br#"{"user_id":7}"#);
    let variants = [
        ("invalid base64", forge("!!not*base64!!", &now)),
        (". then not zlib", forge(&format!(".{object}"), &now)),
        (". alone", forge(".", &now)),
        (
            "zlib without its .",
            forge(&b64(&zlib(br#"{"a":1}"#)), &now),
        ),
        (
            "zlib of a JSON array",
            forge(&format!(".{}", b64(&zlib(b"[1,2]"))), &now),
        ),
        ("truncated zlib", {
            let stream = zlib(br#"{"user_id":7,"padding":"aaaaaaaaaaaaaaaaaaaaaaaa"}"#);
            forge(&format!(".{}", b64(&stream[..stream.len() / 2])), &now)
        }),
        ("empty payload", forge("", &now)),
        ("non-UTF-8 bytes", forge(&b64(b"\xff\xfe\xfd"), &now)),
        (
            "non-UTF-8 in a string",
            forge(&b64(b"{\"a\":\"\xff\"}"), &now),
        ),
        ("truncated JSON", forge(&b64(br#"{"user_id":"#), &now)),
        ("JSON array", forge(&b64(b"[1,2]"), &now)),
        ("JSON string", forge(&b64(br#""admin""#), &now)),
        ("JSON number", forge(&b64(b"42"), &now)),
        ("JSON null", forge(&b64(b"null"), &now)),
        ("timestamp not base62", forge(&object, "!!")),
        ("empty timestamp", forge(&object, "")),
        (
            "timestamp beyond 64 bits",
            forge(&object, "zzzzzzzzzzzzzzzz"),
        ),
    ];
    for (what, value) in &variants {
        h.assert_no_session(value, what, true).await;
    }
}

/// Item 25: Validly signed values with a timestamp or a custom expiry past any representable date:
/// loading them must not panic (what they load as is left open).
pub async fn validly_signed_absurd_timestamps_and_expiries_do_not_panic(h: &EngineHarness) {
    let now = b62_encode(now_seconds());
    let object = b64(br#"{"user_id":7}"#);
    let variants = [
        (
            "timestamp in the year 33658",
            forge(&object, &b62_encode(1_000_000_000_000)),
        ),
        ("timestamp u64::MAX", forge(&object, &b62_encode(u64::MAX))),
        (
            "expiry of 10^20 seconds",
            forge(&b64(br#"{"_session_expiry":100000000000000000000}"#), &now),
        ),
        (
            "expiry of -10^20 seconds",
            forge(&b64(br#"{"_session_expiry":-100000000000000000000}"#), &now),
        ),
        (
            "expiry of i64::MAX seconds",
            forge(&b64(br#"{"_session_expiry":9223372036854775807}"#), &now),
        ),
        (
            "expiry in the year 9999",
            forge(
                &b64(br#"{"_session_expiry":"9999-12-31T23:59:59+00:00"}"#),
                &now,
            ),
        ),
    ];
    for (what, value) in &variants {
        h.reload(value).await;
        assert!(h.engine().load(value).await.is_ok(), "{what}");
    }
}

/// Item 26: The rotated cookie verifies with a signer holding only SECRET_KEY, not with one
/// holding only the old secret.
pub async fn a_cookie_signed_with_a_fallback_secret_is_resigned_with_the_current_one_only(
    h: &EngineHarness,
) {
    let old = h
        .with_settings(|s| s.secret_key = OLD_SECRET.to_owned())
        .await;
    let rotated = h
        .with_settings(|s| {
            s.secret_key = NEW_SECRET.to_owned();
            s.secret_key_fallbacks = vec![OLD_SECRET.to_owned()];
        })
        .await;
    let session = load(&old, None).await;
    session.insert("user_id", 42).unwrap();
    let cookie = session.save().await.unwrap().expect("a cookie");
    let verify = |secret: &str, value: &str| {
        Signer::new(COOKIE_SALT, secret, &[]).unsign_object(value, None, SystemTime::now())
    };
    assert!(verify(OLD_SECRET, &cookie).is_ok());

    let session = load(&rotated, Some(&cookie)).await;
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));
    session.insert("after_rotation", true).unwrap();
    let resaved = session.save().await.unwrap().expect("a cookie");
    let data = verify(NEW_SECRET, &resaved)
        .expect("signed with SECRET_KEY")
        .data;
    assert_eq!(data["user_id"], json!(42));
    assert_eq!(data["after_rotation"], json!(true));
    assert_eq!(
        verify(OLD_SECRET, &resaved),
        Err(SignatureError::BadSignature)
    );
}

/// Item 25 (db): A row whose `session_data` is garbage, truncated, or signed with another secret or
/// salt gives a fresh session and a warning ("session data corrupted"), not an error.
pub async fn corrupted_session_data_gives_a_fresh_session(h: &EngineHarness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let hash = SessionKey::parse(&cookie).expect("a key").hashed();
    let data = object(json!({"user_id": 1, "is_staff": true}));
    let genuine = Signer::new(STORE_SALT, SECRET, &[]).sign_object(&data, now_seconds());
    let update = "UPDATE {table} SET session_data = ? WHERE session_key_hash = ?";

    let variants = [
        ("garbage", "not signed data".to_owned()),
        ("empty", String::new()),
        ("truncated", genuine[..genuine.len() - 3].to_owned()),
        (
            "another secret",
            Signer::new(STORE_SALT, "another-secret", &[]).sign_object(&data, now_seconds()),
        ),
        (
            "the cookie salt",
            Signer::new(COOKIE_SALT, SECRET, &[]).sign_object(&data, now_seconds()),
        ),
    ];
    for (what, value) in &variants {
        assert_eq!(
            h.execute(update, &[value.as_str(), hash.as_str()]).await,
            1,
            "{what}"
        );
        logs::take();
        let session = h.reload(&cookie).await;
        assert!(session.keys().is_empty(), "{what}: {:?}", session.keys());
        let lines = logs::take();
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with("WARN") && line.contains("corrupted")),
            "{what}: no warning in {lines:?}"
        );
        assert_eq!(h.engine().load(&cookie).await.unwrap(), None, "{what}");
    }

    assert_eq!(
        h.execute(update, &[genuine.as_str(), hash.as_str()]).await,
        1
    );
    assert_eq!(h.reload(&cookie).await.to_map(), data, "the row is read");
}
