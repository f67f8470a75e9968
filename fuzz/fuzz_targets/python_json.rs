//! sessionkit's JSON reader and its Python-compatible writer ([`Data::to_json`]), against
//! serde_json: every session the library reads or builds is written as printable ASCII that
//! reads back to the same text, serde_json agrees with the reader (see
//! [`agrees_with_serde_json`]), and a value built in code reads back as the value it was.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Number, Value};
use sessionkit::engine::{Data, JsonText};
use sessionkit_fuzz::agrees_with_serde_json;

/// The values `serde_json::to_value` makes from Rust data.
#[derive(Debug, Arbitrary)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
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
            // As `to_value` does: NaN and the infinities become null.
            Json::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Json::Text(s) => Value::String(s),
            Json::Array(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Object(pairs) => Value::Object(
                pairs
                    .into_iter()
                    .map(|(key, value)| (key, value.into_value()))
                    .collect(),
            ),
        }
    }
}

/// What is written for `data` is printable ASCII and reads back to the same text.
fn check_written(data: &Data) {
    let written = data.to_json();
    assert!(
        written.bytes().all(|b| matches!(b, b' '..=b'~')),
        "not printable ASCII: {written}"
    );
    let read_back = Data::from_json(&written).unwrap_or_else(|error| {
        panic!("the writer's output does not read back ({error}): {written}")
    });
    assert_eq!(read_back.to_json(), written, "writing is not idempotent");
}

// An even first byte: the rest is read as a session, as from a cookie, `session_data` or a
// session file. An odd one: the rest describes a value built in code, as `insert` stores one.
fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    if kind % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let read = Data::from_json(text);
        if let Err(disagreement) = agrees_with_serde_json(text, &read) {
            panic!("{disagreement}: {text}");
        }
        if let Ok(session) = read {
            check_written(&session);
        }
    } else {
        let Ok(built) = Json::arbitrary_take_rest(Unstructured::new(rest)) else {
            return;
        };
        let value = built.into_value();
        let Ok(text) = JsonText::new(&value) else {
            return; // nested deeper than a session holds: refused, as `insert` refuses it
        };
        assert_eq!(text.parse::<Value>().expect("reads back"), value);
        check_written(&Data::from_iter([("v", text)]));
    }
});
