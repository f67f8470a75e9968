//! `session_data`, the signed text in `django_session` rows and session files (salt
//! `django.contrib.sessions.SessionStore`), both ways; and what `_session_expiry` means.

use std::time::SystemTime;

use serde_json::{Value, json};
use sessionkit::django::json::to_python_json;
use sessionkit::django::signing::{STORE_SALT, Signer};
use sessionkit::expiry::{expire_at_browser_close, expiry_age, expiry_date};
use time::OffsetDateTime;

use crate::data_sets;
use crate::python::{Django, loaded_json, text};

const SECRET: &str = "django-interop-session-data-secret";
/// Django's default `SESSION_COOKIE_AGE`, which the Python side runs with.
const COOKIE_AGE: i64 = 1_209_600;

#[test]
fn djangos_session_data_unsigns_in_sessionkit() {
    let sets = data_sets::all();
    let encoded = Django::new(SECRET).run(
        "session_data",
        "encode",
        json!({"data_sets": data_sets::requests(&sets)}),
    );
    let signer = Signer::new(STORE_SALT, SECRET, &[]);
    for (set, encoded) in sets.iter().zip(encoded.as_array().expect("a list")) {
        let name = set.name;
        let session_data = text(encoded, "text");
        if name == "compressible" {
            assert!(
                session_data.starts_with('.'),
                "{name} is not compressed: {session_data}"
            );
        }
        let unsigned = signer
            .unsign_object(session_data, None, SystemTime::now())
            .unwrap_or_else(|e| panic!("{name}: sessionkit refused Django's session_data: {e}"));
        assert_eq!(unsigned.data, set.data, "{name}");
        assert_eq!(
            to_python_json(&unsigned.data),
            text(encoded, "json"),
            "{name}"
        );
    }
}

#[test]
fn sessionkits_session_data_decodes_in_django() {
    let sets = data_sets::all();
    let signer = Signer::new(STORE_SALT, SECRET, &[]);
    let now = OffsetDateTime::now_utc().unix_timestamp() as u64;
    let texts: Vec<String> = sets
        .iter()
        .map(|set| signer.sign_object(&set.data, now))
        .collect();
    let decoded = Django::new(SECRET).run("session_data", "decode", json!({ "texts": texts }));
    for (set, answer) in sets.iter().zip(decoded.as_array().expect("a list")) {
        let name = set.name;
        let expected = to_python_json(&set.data);
        assert_eq!(loaded_json(&answer["loads"], name), expected, "{name}");
        assert_eq!(loaded_json(&answer["store"], name), expected, "{name}");
    }
}

#[test]
fn django_and_sessionkit_agree_on_what_every_expiry_means() {
    let sets = data_sets::all();
    let modification = 1_700_000_000;
    let answers = Django::new(SECRET).run(
        "session_data",
        "expiry",
        json!({"data_sets": data_sets::requests(&sets), "modification": modification}),
    );
    let modified_at = OffsetDateTime::from_unix_timestamp(modification).unwrap();
    for (set, django) in sets.iter().zip(answers.as_array().expect("a list")) {
        let name = set.name;
        assert_eq!(
            json!(expiry_age(&set.data, modified_at, COOKIE_AGE)),
            django["age"],
            "{name}: get_expiry_age"
        );
        let date = expiry_date(&set.data, modified_at, COOKIE_AGE);
        assert_eq!(
            json!(date.unix_timestamp_nanos() / 1000),
            django["date_us"],
            "{name}: get_expiry_date"
        );
        assert_eq!(
            Value::Bool(expire_at_browser_close(&set.data, false)),
            django["browser_close"],
            "{name}: get_expire_at_browser_close"
        );
    }
}
