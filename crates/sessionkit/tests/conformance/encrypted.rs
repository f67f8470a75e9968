//! D. Bad input (items 24–26) on `encrypted_cookies`: a sealed value changed in any byte, cut,
//! lengthened, moved to another cookie name, sealed with another secret or of another version
//! gives a fresh empty session, a warning and no panic; a cookie sealed with a secret now in
//! `SECRET_KEY_FALLBACKS` loads and goes out again sealed with `SECRET_KEY`.

use base64_simd::URL_SAFE_NO_PAD;
use serde_json::json;
use sessionkit::Settings;
use sessionkit::django::signing::{COOKIE_SALT, Signer};
use sessionkit::engine::EncryptedCookieEngine;
use sessionkit::engine::encrypted_cookies::UnsealError;
use sessionkit::testing::{SECRET, load, object};
use time::OffsetDateTime;

use crate::harness::EngineHarness;

const OLD_SECRET: &str = "the-secret-before-rotation";
const NEW_SECRET: &str = "the-secret-after-rotation";

/// An engine of the harness's cookie name sealing with `secret` alone.
fn sealer(h: &EngineHarness, secret: &str) -> EncryptedCookieEngine {
    EncryptedCookieEngine::new(&Settings {
        secret_key: secret.to_owned(),
        secret_key_fallbacks: Vec::new(),
        ..h.settings.clone()
    })
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

/// What a browser, or anyone holding the cookie, sees of the session: nothing.
pub async fn the_cookie_shows_nothing_of_the_session(h: &EngineHarness) {
    let marker = "a-secret-the-user-must-not-read";
    let cookie = h.saved(json!({ "note": marker })).await;
    let bytes = URL_SAFE_NO_PAD.decode_to_vec(&cookie).expect("base64");
    assert!(!cookie.contains(marker) && !cookie.contains("note"));
    assert!(!bytes.windows(marker.len()).any(|w| w == marker.as_bytes()));
    let signed = Signer::new(COOKIE_SALT, SECRET, &[]);
    let now = std::time::SystemTime::now();
    assert!(signed.unsign_object(&cookie, None, now).is_err());
}

/// Item 24: every byte of the sealed value changed, the value cut at every length, a byte
/// added, the case of the text changed.
pub async fn any_byte_changed_cut_or_added_gives_a_fresh_session(h: &EngineHarness) {
    let cookie = valid_cookie(h).await;
    let bytes = URL_SAFE_NO_PAD.decode_to_vec(&cookie).expect("base64");
    let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode_to_string(bytes);
    let mut variants = Vec::new();
    for at in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[at] ^= 0x01;
        variants.push((format!("byte {at} changed"), encode(&changed)));
    }
    for len in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        variants.push((format!("cut to {len} bytes"), encode(&bytes[..len])));
    }
    let mut longer = bytes.clone();
    longer.push(0);
    variants.push(("a byte added".to_owned(), encode(&longer)));
    variants.push(("upper-cased".to_owned(), cookie.to_uppercase()));
    variants.push(("lower-cased".to_owned(), cookie.to_lowercase()));
    for (what, value) in &variants {
        assert_ne!(value, &cookie, "{what}");
        // An empty value is no cookie at all: nothing to warn about.
        h.assert_no_session(value, what, !value.is_empty()).await;
    }
}

/// Item 24: garbage before or after a valid value, or around it.
pub async fn garbage_around_a_valid_cookie_gives_a_fresh_session(h: &EngineHarness) {
    let cookie = valid_cookie(h).await;
    let variants = [
        ("prefix", format!("x{cookie}")),
        ("suffix", format!("{cookie}x")),
        ("padding", format!("{cookie}==")),
        ("surrounding spaces", format!(" {cookie} ")),
        ("doubled", format!("{cookie}{cookie}")),
        (
            "a separator inside",
            format!("{}:{}", &cookie[..20], &cookie[20..]),
        ),
    ];
    for (what, value) in &variants {
        h.assert_no_session(value, what, true).await;
    }
}

/// The cookie name is sealed in: the same value under another name (another application on
/// the same domain with the same secret) is no session there.
pub async fn a_cookie_moved_to_another_cookie_name_gives_a_fresh_session(h: &EngineHarness) {
    let cookie = valid_cookie(h).await;
    let other_name = h
        .with_settings(|s| s.cookie_name = "othersession".to_owned())
        .await;
    assert!(load(&other_name, Some(&cookie)).await.is_empty());
    let other_engine = EncryptedCookieEngine::new(&Settings {
        cookie_name: "othersession".to_owned(),
        ..h.settings.clone()
    });
    assert_eq!(other_engine.unseal(&cookie), Err(UnsealError::Inauthentic));
}

/// Item 24: a value sealed with another secret, or carrying another format version, is no
/// session; the same data sealed with SECRET_KEY is.
pub async fn a_cookie_of_another_secret_or_version_gives_a_fresh_session(h: &EngineHarness) {
    let data = object(json!({"user_id": 1, "is_staff": true}));
    let now = OffsetDateTime::now_utc();
    let upper = SECRET.to_uppercase();
    for secret in ["another-secret", upper.as_str()] {
        let value = sealer(h, secret).seal(&data, now).unwrap();
        h.assert_no_session(&value, &format!("secret {secret:?}"), true)
            .await;
    }
    let genuine = sealer(h, SECRET).seal(&data, now).unwrap();
    assert_eq!(h.reload(&genuine).await.to_map(), data);
    let mut bytes = URL_SAFE_NO_PAD.decode_to_vec(&genuine).unwrap();
    for version in [0, 2, 255] {
        bytes[0] = version;
        let value = URL_SAFE_NO_PAD.encode_to_string(&bytes);
        h.assert_no_session(&value, &format!("version {version}"), true)
            .await;
    }
}

/// A `signed_cookies` cookie of the same secret is not an `encrypted_cookies` one (moving
/// between them goes through SESSION_ENGINE_FALLBACKS).
pub async fn a_signed_cookie_is_not_an_encrypted_one(h: &EngineHarness) {
    let data = object(json!({"user_id": 1}));
    let now = OffsetDateTime::now_utc().unix_timestamp() as u64;
    let signed = Signer::new(COOKIE_SALT, SECRET, &[]).sign_object(&data, now);
    assert!(!h.engine().accepts(&signed));
    h.assert_no_session(&signed, "a signed cookie", false).await;
}

/// Item 26: a cookie sealed with a secret now in SECRET_KEY_FALLBACKS loads, and the request
/// that reads it sends it out again sealed with SECRET_KEY, even though nothing changed: the
/// old secret alone no longer opens it.
pub async fn a_cookie_sealed_with_a_fallback_secret_is_resealed_when_read(h: &EngineHarness) {
    let rotated = h
        .with_settings(|s| {
            s.secret_key = NEW_SECRET.to_owned();
            s.secret_key_fallbacks = vec![OLD_SECRET.to_owned()];
        })
        .await;
    let data = object(json!({"user_id": 42}));
    let cookie = sealer(h, OLD_SECRET)
        .seal(&data, OffsetDateTime::now_utc())
        .unwrap();

    let session = load(&rotated, Some(&cookie)).await;
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));
    assert!(session.modified(), "to be saved at the end of the request");
    let resealed = session.save().await.unwrap().expect("a cookie");
    let opened = sealer(h, NEW_SECRET)
        .unseal(&resealed)
        .expect("sealed with SECRET_KEY");
    assert_eq!(opened.data, data);
    assert_eq!(
        sealer(h, OLD_SECRET).unseal(&resealed),
        Err(UnsealError::UnknownKey)
    );

    let next = load(&rotated, Some(&resealed)).await;
    assert_eq!(next.get::<i64>("user_id").unwrap(), Some(42));
    assert!(
        !next.modified(),
        "sealed with SECRET_KEY: nothing more to do"
    );
}
