//! What the fuzz targets share: the secrets they sign with and how they compare session data.

use serde_json::Value;
use sessionkit::django::json::JsonError;
use sessionkit::engine::Data;

/// The secret of `crates/sessionkit/tests/vectors/django_signing.json`, so the seed corpora
/// (values Django signed) verify and the fuzzer starts from inside the signature check.
pub const SECRET: &str = "test-secret-key-for-vectors";
/// A retired secret (`SECRET_KEY_FALLBACKS`).
pub const OLD_SECRET: &str = "an-older-secret-key";

/// Whether serde_json (with its default features) and sessionkit's reader agree on `text`:
/// every object serde_json reads, sessionkit reads too, unless it repeats a key (which
/// sessionkit refuses on purpose) or nests past sessionkit's limit; and everything sessionkit
/// reads, serde_json reads, unless it holds a number beyond a float (`1e400`, which sessionkit
/// keeps as text). When both read it, they read the same value.
pub fn agrees_with_serde_json(text: &str, ours: &Result<Data, JsonError>) -> Result<(), String> {
    let theirs = serde_json::from_str::<Value>(text);
    match (ours, &theirs) {
        (Ok(data), Ok(value)) => {
            let written: Value = serde_json::from_str(&data.to_json())
                .map_err(|error| format!("serde_json cannot read what we wrote: {error}"))?;
            match written == *value {
                true => Ok(()),
                false => Err(format!("{value} was read as {written}")),
            }
        }
        (Ok(_), Err(error)) if error.to_string().contains("number out of range") => Ok(()),
        (Ok(_), Err(error)) => Err(format!("only sessionkit reads it; serde_json: {error}")),
        (Err(error), Ok(Value::Object(_))) => match error.what {
            "an object repeats a key" | "nested too deeply" => Ok(()),
            _ => Err(format!("only serde_json reads it; sessionkit: {error}")),
        },
        (Err(_), _) => Ok(()),
    }
}
