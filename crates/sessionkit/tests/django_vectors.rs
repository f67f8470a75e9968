//! Django 5.2's own signed values (`tests/vectors/django_signing.json`, the
//! vectors the project was given) against sessionkit's signer: docs/DESIGN.md §8.

use std::time::SystemTime;

use serde_json::Value;
use serde_json::value::RawValue;
use sessionkit::django::json::to_python_json;
use sessionkit::django::signing::{COOKIE_SALT, SignatureError, Signer};
use sessionkit::engine::Data;

const VECTORS: &str = include_str!("vectors/django_signing.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("the vector file is JSON")
}

/// A vector's `data` as the file writes it: serde_json's `Value` would sort the keys and round
/// the big integers, so the object is kept as text (`RawValue`) and read as session data.
#[derive(serde::Deserialize)]
struct RawVector {
    name: Option<String>,
    data: Box<RawValue>,
}

#[derive(serde::Deserialize)]
struct RawFile {
    vectors: Vec<RawVector>,
    rotation_vector: RawVector,
}

fn field<'a>(vector: &'a Value, name: &str) -> &'a str {
    vector[name]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {name}"))
}

/// The `data` of `vector` (the rotation vector is the one without a name).
fn data(vector: &Value) -> Data {
    let file: RawFile = serde_json::from_str(VECTORS).expect("the vector file is JSON");
    let raw = match vector.get("name").and_then(Value::as_str) {
        Some(name) => file
            .vectors
            .into_iter()
            .find(|v| v.name.as_deref() == Some(name)),
        None => Some(file.rotation_vector),
    };
    let data = Data::from_json(raw.expect("the vector is in the file").data.get());
    let data = data.expect("vector data is an object");
    let value = serde_json::from_str::<Value>(&data.to_json()).expect("JSON");
    assert_eq!(value, vector["data"], "the text read is the vector's data");
    data
}

fn signer(vector: &Value, fallbacks: &[String]) -> Signer {
    Signer::new(field(vector, "salt"), field(vector, "secret"), fallbacks)
}

#[test]
fn every_vector_decodes_to_its_data() {
    let all = vectors();
    let list = all["vectors"].as_array().unwrap();
    assert_eq!(list.len(), 14);
    for vector in list {
        let decoded = signer(vector, &[])
            .unsign_object(field(vector, "value"), None, SystemTime::now())
            .unwrap_or_else(|e| panic!("{}: {e}", field(vector, "name")));
        assert_eq!(decoded.data, data(vector), "{}", field(vector, "name"));
        assert_eq!(decoded.timestamp, vector["timestamp"].as_u64().unwrap());
    }
}

#[test]
fn every_vector_serializes_to_djangos_exact_json() {
    for vector in vectors()["vectors"].as_array().unwrap() {
        assert_eq!(
            to_python_json(&data(vector)),
            field(vector, "serialized_json"),
            "{}",
            field(vector, "name")
        );
    }
}

#[test]
fn uncompressed_vectors_are_reproduced_byte_for_byte() {
    let all = vectors();
    let uncompressed: Vec<&Value> = all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["compressed"] == Value::Bool(false))
        .collect();
    assert_eq!(uncompressed.len(), 4);
    for vector in uncompressed {
        let timestamp = vector["timestamp"].as_u64().unwrap();
        assert_eq!(
            signer(vector, &[]).sign_object(&data(vector), timestamp),
            field(vector, "value"),
            "{}",
            field(vector, "name")
        );
    }
}

#[test]
fn compressed_vectors_are_compressed_by_us_too_and_decode_back() {
    for vector in vectors()["vectors"].as_array().unwrap() {
        let signer = signer(vector, &[]);
        let ours = signer.sign_object(&data(vector), vector["timestamp"].as_u64().unwrap());
        let compressed = vector["compressed"] == Value::Bool(true);
        assert_eq!(
            ours.starts_with('.'),
            compressed,
            "{}",
            field(vector, "name")
        );
        let back = signer
            .unsign_object(&ours, None, SystemTime::now())
            .unwrap();
        assert_eq!(back.data, data(vector));
    }
}

#[test]
fn the_rotation_vector_verifies_only_with_the_old_key_as_fallback() {
    let all = vectors();
    let rotation = &all["rotation_vector"];
    let value = field(rotation, "value");
    let fallbacks: Vec<String> =
        serde_json::from_value(rotation["secret_key_fallbacks"].clone()).unwrap();
    assert_eq!(
        signer(rotation, &[]).unsign_object(value, None, SystemTime::now()),
        Err(SignatureError::BadSignature)
    );
    let rotated = signer(rotation, &fallbacks);
    let decoded = rotated
        .unsign_object(value, None, SystemTime::now())
        .unwrap();
    assert_eq!(decoded.data, data(rotation));

    // Re-signing uses SECRET_KEY, never the fallback.
    let resigned = rotated.sign_object(&decoded.data, 1_700_000_000);
    assert!(
        signer(rotation, &[])
            .unsign_object(&resigned, None, SystemTime::now())
            .is_ok()
    );
    let old_only = Signer::new(COOKIE_SALT, &fallbacks[0], &[]);
    assert_eq!(
        old_only.unsign_object(&resigned, None, SystemTime::now()),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn db_and_cookie_salts_do_not_verify_each_other() {
    for vector in vectors()["vectors"].as_array().unwrap() {
        let other_salt = if field(vector, "backend") == "db" {
            COOKIE_SALT
        } else {
            sessionkit::django::signing::STORE_SALT
        };
        let crossed = Signer::new(other_salt, field(vector, "secret"), &[]);
        assert_eq!(
            crossed.unsign_object(field(vector, "value"), None, SystemTime::now()),
            Err(SignatureError::BadSignature),
            "{}",
            field(vector, "name")
        );
    }
}
