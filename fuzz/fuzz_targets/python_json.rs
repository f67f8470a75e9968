//! The Python-compatible JSON writer ([`to_python_json`]) against the reader, `serde_json`:
//! every session the library can read or build is written as printable ASCII that reads back
//! to the same data, and writing that again gives the same bytes.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};
use sessionkit::django::json::to_python_json;
use sessionkit_fuzz::{same_data, writes_unreadable_json};

/// The values `serde_json::to_value` makes from Rust data.
#[derive(Debug, Arbitrary)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Wide(i128),
    Float(f64),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn into_value(self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Int(n) => Value::from(n),
            Json::Unsigned(n) => Value::from(n),
            Json::Wide(n) => serde_json::to_value(n).expect("i128 is a JSON number"),
            // As `to_value` does: NaN and the infinities become null.
            Json::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Json::Text(s) => Value::String(s),
            Json::Array(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Object(pairs) => Value::Object(object(pairs)),
        }
    }
}

fn object(pairs: Vec<(String, Json)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(key, value)| (key, value.into_value()))
        .collect()
}

// An even first byte: the rest is read as a session, as from a cookie, `session_data` or a
// session file. An odd one: the rest describes a session built in code, as `insert` builds one.
fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let session = if kind % 2 == 0 {
        match serde_json::from_slice::<Map<String, Value>>(rest) {
            Ok(session) => session,
            Err(_) => return,
        }
    } else {
        match Vec::arbitrary_take_rest(Unstructured::new(rest)) {
            Ok(pairs) => object(pairs),
            Err(_) => return,
        }
    };
    if writes_unreadable_json(&session) {
        return; // Known and reported (see `writes_unreadable_json`).
    }
    let written = to_python_json(&session);
    assert!(
        written.bytes().all(|b| matches!(b, b' '..=b'~')),
        "not printable ASCII: {written}"
    );
    let read_back: Map<String, Value> = match serde_json::from_str(&written) {
        Ok(read_back) => read_back,
        Err(error) => panic!("the writer's output does not read back ({error}): {written}"),
    };
    assert!(
        same_data(&session, &read_back),
        "{session:?} came back as {read_back:?}"
    );
    assert_eq!(to_python_json(&read_back), written);
});
