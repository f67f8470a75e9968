//! The `signed_cookies` session cookie, both ways: Django's signed_cookies `SessionStore`
//! against sessionkit's `SignedCookieEngine`, including a `SECRET_KEY` rotation.

use std::sync::Arc;

use serde_json::{Value, json};
use sessionkit::django::json::to_python_json;
use sessionkit::engine::{ChangeSet, Data, Engine, JsonText, SaveRequest, SignedCookieEngine};
use sessionkit::{EngineKind, Sessions, Settings};
use time::OffsetDateTime;

use crate::data_sets::{self, DataSet};
use crate::python::{Django, loaded_json, text};

const SECRET: &str = "django-interop-cookie-secret";
const OLD_SECRET: &str = "django-interop-cookie-secret-before-rotation";

fn settings(secret: &str, fallbacks: &[&str]) -> Settings {
    Settings {
        engine: EngineKind::SignedCookies,
        secret_key_fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
        ..Settings::new(secret)
    }
}

fn sessions(secret: &str, fallbacks: &[&str]) -> Sessions {
    let settings = settings(secret, fallbacks);
    Sessions::new(Arc::new(SignedCookieEngine::new(&settings)), settings).expect("valid settings")
}

/// Cookies Django's signed_cookies backend wrote for `sets`, in order.
fn django_cookies(django: &Django, sets: &[DataSet]) -> Vec<Value> {
    let written = django.run(
        "cookies",
        "write",
        json!({"data_sets": data_sets::requests(sets)}),
    );
    written.as_array().expect("a list of cookies").clone()
}

/// What Django reads from each of `cookies`: `signing.loads` and `SessionStore.load`.
fn django_reads(django: &Django, cookies: &[String]) -> Vec<Value> {
    let read = django.run("cookies", "read", json!({ "cookies": cookies }));
    read.as_array().expect("a list of answers").clone()
}

async fn engine_save(engine: &SignedCookieEngine, data: &Data) -> String {
    engine
        .save(SaveRequest {
            previous: None,
            data: &Arc::new(data.clone()),
            changes: &ChangeSet::default(),
            now: OffsetDateTime::now_utc(),
            cookie_age: Settings::new(SECRET).cookie_age,
        })
        .await
        .expect("signed cookies always save")
        .cookie_value
}

#[tokio::test]
async fn djangos_cookies_load_in_sessionkit_with_the_same_data() {
    let sets = data_sets::all();
    let written = django_cookies(&Django::new(SECRET), &sets);
    let engine = SignedCookieEngine::new(&settings(SECRET, &[]));
    for (set, written) in sets.iter().zip(&written) {
        let name = set.name;
        assert_eq!(
            to_python_json(&set.data),
            text(written, "json"),
            "{name}: sessionkit and Python serialize the data differently"
        );
        let cookie = text(written, "cookie");
        if name == "compressible" {
            assert!(
                cookie.starts_with('.'),
                "{name} is not compressed: {cookie}"
            );
        }
        let loaded = engine
            .load(cookie)
            .await
            .expect("no store to fail")
            .unwrap_or_else(|| panic!("{name}: sessionkit refused Django's cookie {cookie}"));
        assert_eq!(*loaded.data, set.data, "{name}");
        assert_eq!(
            to_python_json(&loaded.data),
            text(written, "json"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn sessionkits_cookies_load_in_django_with_the_same_data() {
    let sets = data_sets::all();
    let engine = SignedCookieEngine::new(&settings(SECRET, &[]));
    let mut cookies = Vec::new();
    for set in &sets {
        cookies.push(engine_save(&engine, &set.data).await);
    }
    let read = django_reads(&Django::new(SECRET), &cookies);
    for ((set, cookie), answer) in sets.iter().zip(&cookies).zip(&read) {
        let name = set.name;
        if name == "compressible" {
            assert!(
                cookie.starts_with('.'),
                "{name} is not compressed: {cookie}"
            );
        }
        let expected = to_python_json(&set.data);
        assert_eq!(loaded_json(&answer["loads"], name), expected, "{name}");
        assert_eq!(loaded_json(&answer["store"], name), expected, "{name}");
    }
}

#[tokio::test]
async fn a_django_cookie_signed_before_a_key_rotation_loads_and_is_resigned_with_the_new_key() {
    let sets = data_sets::all();
    let nested = sets
        .iter()
        .find(|s| s.name == "nested")
        .expect("a nested set");
    let written = django_cookies(&Django::new(OLD_SECRET), std::slice::from_ref(nested));
    let old_cookie = text(&written[0], "cookie");

    let sessions = sessions(SECRET, &[OLD_SECRET]);
    let session = sessions.start(Some(old_cookie)).load().await.unwrap();
    assert_eq!(session.to_map(), nested.data);
    session.insert("visits", 1).unwrap();
    let new_cookie = session.save().await.unwrap().expect("a cookie");

    let mut expected = nested.data.clone();
    expected.insert("visits", JsonText::from(1));
    let expected = to_python_json(&expected);
    let with_new_key = django_reads(&Django::new(SECRET), std::slice::from_ref(&new_cookie));
    assert_eq!(loaded_json(&with_new_key[0]["loads"], "new key"), expected);
    let with_old_key = django_reads(&Django::new(OLD_SECRET), &[new_cookie]);
    assert!(
        with_old_key[0]["loads"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("BadSignature")),
        "the re-signed cookie must not verify with the old key: {}",
        with_old_key[0]
    );
}

#[tokio::test]
async fn a_sessionkit_cookie_signed_before_a_key_rotation_loads_in_django_with_the_fallback() {
    let sessions = sessions(OLD_SECRET, &[]);
    let session = sessions.start(None).load().await.unwrap();
    session.insert("cart", json!([7, 8])).unwrap();
    let cookie = session.save().await.unwrap().expect("a cookie");

    let rotated = django_reads(
        &Django::with_fallbacks(SECRET, &[OLD_SECRET]),
        std::slice::from_ref(&cookie),
    );
    assert_eq!(
        loaded_json(&rotated[0]["loads"], "fallback"),
        r#"{"cart":[7,8]}"#
    );
    let without_fallback = django_reads(&Django::new(SECRET), &[cookie]);
    assert!(
        without_fallback[0]["loads"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("BadSignature")),
        "{}",
        without_fallback[0]
    );
}
