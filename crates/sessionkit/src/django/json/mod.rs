//! JSON written exactly as Python writes it, so signatures match Django byte for byte.
//!
//! Django signs `json.dumps(obj, separators=(",", ":"))`: no spaces, keys in insertion order,
//! every character outside printable ASCII escaped as `\uXXXX` (lowercase hex, surrogate pairs
//! above the BMP), `/` left alone, and floats in Python's `repr` form (`1e-07`, `1e+16`, `2.0`).
//! `serde_json` differs on the last two points, so we write the bytes ourselves.
//!
//! A session's values are kept as JSON text in that form ([`JsonText`], in a [`Data`] that
//! keeps its keys' order), read by a strict reader of our own that writes back what it read as
//! Python would. So integers beyond 64 bits written by Python survive a round trip unchanged
//! without serde_json's `arbitrary_precision` and `preserve_order` features, which Cargo would
//! turn on for the whole application. A handler's `get::<T>` parses the text with serde_json;
//! everything written here is JSON it reads. A number too large for a float (`1e400`)
//! keeps its text too: Python would write it back as `Infinity`, which no strict JSON reader
//! (serde_json among them) accepts, so the session would come back empty.
//!
//! Python's other extension, the bare constants `NaN`, `Infinity` and `-Infinity`, cannot be
//! read; [`holds_python_constants`] lets a decoder say so instead of "not JSON".

use std::fmt::Write as _;

mod data;
mod read;

pub use data::{Data, JsonText};
pub use read::JsonError;

/// Writes session data the way Python's `json.dumps(obj, separators=(",", ":"))` does: the
/// text Django signs and stores ([`Data::to_json`]).
///
/// ```
/// use sessionkit::engine::Data;
///
/// let data = Data::from_json(r#"{"name": "Zoë", "pi": 3.5, "tiny": 0.0000001, "path": "\/"}"#)?;
/// let text = sessionkit::django::json::to_python_json(&data);
/// assert_eq!(text, r#"{"name":"Zo\u00eb","pi":3.5,"tiny":1e-07,"path":"/"}"#);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn to_python_json(data: &Data) -> String {
    data.to_json()
}

/// Writes `s` as Python's `json.dumps` does by default (`ensure_ascii`): a JSON string of
/// printable ASCII.
pub(crate) fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    let mut rest = s;
    // Printable ASCII other than `"` and backslash is copied in runs; the rest is escaped.
    while let Some(at) = rest
        .bytes()
        .position(|b| !matches!(b, b' '..=b'~') || b == b'"' || b == b'\\')
    {
        // Everything before `at` is ASCII, so `at` starts a character.
        let (plain, special) = rest.split_at_checked(at).unwrap_or((rest, ""));
        out.push_str(plain);
        let Some(c) = special.chars().next() else {
            break;
        };
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
        rest = special.get(c.len_utf8()..).unwrap_or_default();
    }
    out.push_str(rest);
    out.push('"');
}

/// A JSON number's `text` as Python writes it: an integer keeps its digits, any other number
/// becomes the float it reads as, unless that float is infinite (see the module doc).
fn write_number(text: &str, out: &mut String) {
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        out.push_str(text);
    } else {
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => write_python_float(f, out),
            _ => out.push_str(text),
        }
    }
}

/// Python's `float.__repr__`: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in `-4..16`, else `d.ddde±XX` with at least two exponent digits.
fn write_python_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.25e-7".
    let sci = format!("{f:e}");
    let Some((mantissa, Ok(exponent))) = sci
        .split_once('e')
        .map(|(mantissa, exponent)| (mantissa, exponent.parse::<i32>()))
    else {
        out.push_str(&sci); // `{:e}` always has an integer exponent; never reached
        return;
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
                out.push_str(".0");
            } else {
                let (whole, fraction) = digits.split_at_checked(point).unwrap_or((&digits, ""));
                out.push_str(whole);
                out.push('.');
                out.push_str(fraction);
            }
        }
    } else {
        let (first, rest) = digits.split_at_checked(1).unwrap_or((&digits, ""));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        // Writing to a String cannot fail.
        let _ = write!(out, "e{exp_sign}{:02}", exponent.unsigned_abs());
    }
}

/// Reads session data written by [`to_python_json`] (or by Python): the inverse every engine
/// that keeps whole sessions as JSON text shares. `Err` says why the bytes are no session,
/// naming Python's `NaN`/`Infinity` rather than "not JSON" when those are the cause.
///
/// ```
/// use sessionkit::django::json::{from_python_json, to_python_json};
/// use sessionkit::engine::Data;
///
/// let data = Data::from_json(r#"{"name": "Zoë", "cart": [7, 12]}"#)?;
/// assert_eq!(from_python_json(to_python_json(&data).as_bytes()), Ok(data));
/// assert!(from_python_json(b"[1, 2]").is_err()); // a session is an object
/// assert!(from_python_json(br#"{"x": NaN}"#).unwrap_err().contains("NaN"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn from_python_json(json: &[u8]) -> Result<Data, &'static str> {
    let text = std::str::from_utf8(json).map_err(|_| "not UTF-8 text")?;
    Data::from_json(text).map_err(|_| {
        if holds_python_constants(json) {
            "holds NaN or Infinity, Python's JSON extension, which sessionkit does not read"
        } else {
            "not a JSON object"
        }
    })
}

/// How deeply a session value may nest: serde_json reads at most 128 levels, and the session
/// object holding the value is one of them. Deeper values are refused when stored and when
/// read, so reading never exhausts the stack.
pub const MAX_VALUE_DEPTH: usize = 126;

/// Whether `json` uses `NaN`, `Infinity` or `-Infinity` outside its strings: Python's
/// `json.dumps` writes them for non-finite floats, serde_json rejects them.
///
/// ```
/// use sessionkit::django::json::holds_python_constants;
///
/// assert!(holds_python_constants(br#"{"x":NaN}"#));
/// assert!(holds_python_constants(br#"{"x":[1,-Infinity]}"#));
/// assert!(!holds_python_constants(br#"{"NaN":"Infinity"}"#));
/// ```
pub fn holds_python_constants(json: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if byte == b'"' {
            in_string = true;
        } else if byte == b'N' || byte == b'I' {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn py(value: Value) -> String {
        Data::try_from(value)
            .expect("test values are objects")
            .to_json()
    }

    fn float(f: f64) -> String {
        let mut out = String::new();
        write_python_float(f, &mut out);
        out
    }

    #[test]
    fn floats_follow_python_repr() {
        let cases = [
            (2.71, "2.71"),
            (1e-7, "1e-07"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (2.0, "2.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123456.789, "123456.789"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (value, expected) in cases {
            assert_eq!(float(value), expected, "{value:?}");
        }
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        let text = py(json!({"s": "a\"b\\c/d\te\nf\u{7f}\u{1}é😀"}));
        assert_eq!(
            text,
            r#"{"s":"a\"b\\c/d\te\nf\u007f\u0001\u00e9\ud83d\ude00"}"#
        );
    }

    #[test]
    fn escapes_between_runs_of_plain_text_keep_both() {
        let text = py(json!({"s": "\u{0}plain \"quoted\" text é and more😀 end"}));
        assert_eq!(
            text,
            r#"{"s":"\u0000plain \"quoted\" text \u00e9 and more\ud83d\ude00 end"}"#
        );
    }

    #[test]
    fn every_character_survives_and_the_output_is_printable_ascii() {
        let all: String = (0..0x11_0000u32)
            .step_by(7)
            .filter_map(char::from_u32)
            .collect();
        let text = py(json!({ "s": all }));
        assert!(text.bytes().all(|b| matches!(b, b' '..=b'~')));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["s"], all);
        assert_eq!(Data::from_json(&text).unwrap().to_json(), text);
    }

    #[test]
    fn big_integers_keep_their_digits() {
        let text = r#"{"big":123456789012345678901234567890,"neg":-5}"#;
        let data = Data::from_json(text).unwrap();
        assert_eq!(to_python_json(&data), text);
        let big = JsonText::new(&u128::MAX).unwrap();
        assert_eq!(big.as_str(), u128::MAX.to_string());
        assert_eq!(big.parse::<u128>().unwrap(), u128::MAX);
    }

    #[test]
    fn parsed_floats_are_rewritten_in_python_form() {
        let data = Data::from_json(r#"{"a":1E+16,"b":1.50}"#).unwrap();
        assert_eq!(to_python_json(&data), r#"{"a":1e+16,"b":1.5}"#);
    }

    #[test]
    fn numbers_beyond_a_float_keep_their_text_and_read_back() {
        for text in ["1e400", "-1e400", "1e999999999999", "-2.5e999"] {
            let data = Data::from_json(&format!(r#"{{"x":{text}}}"#)).expect("read");
            let written = to_python_json(&data);
            assert!(!written.contains("Infinity"), "{written}");
            assert_eq!(written, format!(r#"{{"x":{text}}}"#));
            assert_eq!(Data::from_json(&written).expect("reads back"), data);
        }
    }

    #[test]
    fn a_float_written_with_millions_of_digits_is_written_as_python_reads_it() {
        let huge_one = format!("1.{}", "0".repeat(3_000_000));
        let one = Data::from_json(&format!(r#"{{"x":{huge_one}}}"#)).expect("read");
        let written = to_python_json(&one);
        assert!(written == r#"{"x":1.0}"#, "not 1.0: {written:.40}");
    }

    #[test]
    fn the_deepest_value_accepted_reads_back_and_one_deeper_is_refused() {
        let nested = |levels: usize| (0..levels).fold(json!(1), |inner, _| json!([inner]));
        let deepest = nested(MAX_VALUE_DEPTH);
        let stored = JsonText::new(&deepest).expect("the deepest value is accepted");
        assert_eq!(
            stored.parse::<Value>().expect("serde_json reads it"),
            deepest
        );
        let written = py(json!({ "v": deepest }));
        assert_eq!(Data::from_json(&written).unwrap()["v"], stored);
        assert!(JsonText::new(&nested(MAX_VALUE_DEPTH + 1)).is_err());
        let too_deep = format!(r#"{{"v":{}}}"#, nested(MAX_VALUE_DEPTH + 1));
        assert!(Data::from_json(&too_deep).is_err(), "refused when read too");
    }

    #[test]
    fn python_constants_are_found_outside_strings_only() {
        assert!(holds_python_constants(br#"{"a":Infinity}"#));
        assert!(holds_python_constants(br#"{"a":"\\",b:NaN}"#));
        assert!(!holds_python_constants(br#"{"a":"\"NaN\""}"#));
        assert!(!holds_python_constants(br#"{"a":1e400,"b":true,"c":null}"#));
    }

    #[test]
    fn nesting_and_order_are_kept() {
        let text = r#"{"z":[1,[2,{}],[]],"a":{"y":null,"x":true}}"#;
        assert_eq!(Data::from_json(text).unwrap().to_json(), text);
        assert_eq!(
            JsonText::new(&json!({"y": null, "x": true}))
                .unwrap()
                .as_str(),
            r#"{"x":true,"y":null}"#,
            "serde_json's own map sorts its keys: sessionkit leaves its features alone"
        );
    }

    #[test]
    fn output_parses_back_to_the_same_value() {
        let value = json!({"k": "é\u{0}\u{ffff}😀", "f": 0.1, "n": [-1, 2.5]});
        let back: Value = serde_json::from_str(&py(value.clone())).unwrap();
        assert_eq!(back, value);
    }
}
