//! What the fuzz targets share: the secrets they sign with and how they compare session data.

use serde_json::{Map, Value};

/// The secret of `crates/sessionkit/tests/vectors/django_signing.json`, so the seed corpora
/// (values Django signed) verify and the fuzzer starts from inside the signature check.
pub const SECRET: &str = "test-secret-key-for-vectors";
/// A retired secret (`SECRET_KEY_FALLBACKS`).
pub const OLD_SECRET: &str = "an-older-secret-key";

/// Whether two session maps hold the same data once written and read back: the same keys in
/// the same order, integers with the same digits, floats with the same `f64` value (the writer
/// puts them in Python's form: `1.50` comes back as `1.5`, `1E2` as `100.0`).
pub fn same_data(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_str(), b.as_str());
            if is_integer(a) || is_integer(b) {
                a == b
            } else {
                matches!((a.parse::<f64>(), b.parse::<f64>()),
                    (Ok(x), Ok(y)) if x.to_bits() == y.to_bits())
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(a), Value::Object(b)) => same_data(a, b),
        _ => a == b,
    }
}

/// JSON integers are written as they were read (Python reads them as `int`, of any size).
fn is_integer(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// Whether writing `session` gives JSON that `serde_json` cannot read back, for one of the two
/// known reasons that `Session::insert` refuses (`sessionkit::django::json::readable_back`), which the
/// targets leave aside since they build values without `insert`:
/// - an object key `$serde_json::private::Number`: with `arbitrary_precision`, serde_json takes
///   an object with that key for a number and fails on it;
/// - arrays and objects nested deeper than serde_json's recursion limit (128).
///
/// (A float too large for an `f64`, `1e400`, was a third: the writer now keeps its text.)
pub fn writes_unreadable_json(session: &Map<String, Value>) -> bool {
    depth(session.values()) >= RECURSION_LIMIT || has_unreadable_part(session)
}

/// serde_json's default recursion limit.
const RECURSION_LIMIT: usize = 128;

/// How deeply arrays and objects nest in an object with these values (the object counts).
fn depth<'a>(values: impl Iterator<Item = &'a Value>) -> usize {
    1 + values
        .map(|value| match value {
            Value::Array(items) => depth(items.iter()),
            Value::Object(map) => depth(map.values()),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

fn has_unreadable_part(session: &Map<String, Value>) -> bool {
    session
        .iter()
        .any(|(key, value)| key == NUMBER_TOKEN || is_unreadable(value))
}

/// serde_json's internal name for a number kept as text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

fn is_unreadable(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(is_unreadable),
        Value::Object(map) => has_unreadable_part(map),
        _ => false,
    }
}
