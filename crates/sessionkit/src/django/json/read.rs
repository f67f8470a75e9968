//! Reading JSON into Python's form: a strict RFC 8259 reader that writes back what it read as
//! `json.dumps(json.loads(text), separators=(",", ":"))` would, keeping every integer's digits
//! and the order of object keys.
//!
//! serde_json does this only with its `arbitrary_precision` and `preserve_order` features,
//! which Cargo would turn on for every crate of an application that uses sessionkit (changing
//! how its own numbers, untagged enums and flattened structs deserialize). This reader lets
//! sessionkit keep a session's values as JSON text instead and leave serde_json's features alone.

use std::borrow::Cow;
use std::fmt;

use super::{MAX_VALUE_DEPTH, write_number, write_python_string};

/// Why a text is not JSON that a session can hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// The byte offset where reading stopped.
    pub at: usize,
    /// What was wrong there.
    pub what: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for JsonError {}

/// Reads `text` as one JSON value (surrounding whitespace allowed) and returns it written in
/// Python's form.
pub(super) fn normalize(text: &str) -> Result<String, JsonError> {
    let mut reader = Reader::new(text);
    reader.skip_whitespace();
    reader.value(0)?;
    reader.end()?;
    Ok(reader.out)
}

/// Reads `text` as a JSON object and hands each member to `member` as its key and its value
/// written in Python's form, in order; `member` answers whether the key is new. A key that
/// appears twice is an error: readers disagree on which of the two counts (Python keeps the
/// last, others the first), and a session must mean the same to every reader.
pub(super) fn members(
    text: &str,
    mut member: impl FnMut(String, &str) -> bool,
) -> Result<(), JsonError> {
    let mut reader = Reader::new(text);
    reader.skip_whitespace();
    reader.expect(b'{', "not a JSON object")?;
    reader.skip_whitespace();
    if !reader.eat(b'}') {
        loop {
            let key = reader.key()?.into_owned();
            reader.value(0)?;
            if !member(key, &reader.out) {
                return Err(reader.error("an object repeats a key"));
            }
            // One buffer for every value: each is copied out at its exact size.
            reader.out.clear();
            if !reader.next_member(b'}')? {
                break;
            }
        }
    }
    reader.end()
}

/// An error if two of `keys` are the same.
fn refuse_repeated(keys: &mut [Cow<'_, str>], reader: &Reader<'_>) -> Result<(), JsonError> {
    keys.sort_unstable();
    match keys.windows(2).any(|pair| pair.first() == pair.last()) {
        true => Err(reader.error("an object repeats a key")),
        false => Ok(()),
    }
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
    /// What has been read so far, in Python's form.
    out: String,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            text,
            at: 0,
            out: String::with_capacity(text.len().min(4096)),
        }
    }

    fn error(&self, what: &'static str) -> JsonError {
        JsonError { at: self.at, what }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), JsonError> {
        match self.eat(byte) {
            true => Ok(()),
            false => Err(self.error(what)),
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Result<(), JsonError> {
        self.skip_whitespace();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("text after the JSON value")),
        }
    }

    /// After a member or an element: `true` if another follows, `false` at `close`.
    fn next_member(&mut self, close: u8) -> Result<bool, JsonError> {
        self.skip_whitespace();
        if self.eat(b',') {
            self.skip_whitespace();
            return Ok(true);
        }
        match self.eat(close) {
            true => Ok(false),
            false => Err(self.error("expected a comma or the end of the container")),
        }
    }

    /// An object key and its colon; the value follows.
    fn key(&mut self) -> Result<Cow<'a, str>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.error("an object key must be a string"));
        }
        let key = self.string()?;
        self.skip_whitespace();
        self.expect(b':', "expected a colon after an object key")?;
        self.skip_whitespace();
        Ok(key)
    }

    /// One value, written to `out`. `depth` is how many containers hold it.
    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                match self.string()? {
                    // Printable ASCII without escapes is written as it was read.
                    Cow::Borrowed(plain) if plain.bytes().all(|b| matches!(b, b' '..=b'~')) => {
                        self.out.push('"');
                        self.out.push_str(plain);
                        self.out.push('"');
                    }
                    text => write_python_string(&text, &mut self.out),
                }
                Ok(())
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("not a JSON value")),
            None => Err(self.error("the text ends before a value")),
        }
    }

    fn container_depth(&self, depth: usize) -> Result<(), JsonError> {
        match depth > MAX_VALUE_DEPTH {
            true => Err(self.error("nested too deeply")),
            false => Ok(()),
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), JsonError> {
        self.container_depth(depth)?;
        self.at += 1;
        self.out.push('{');
        self.skip_whitespace();
        if self.eat(b'}') {
            self.out.push('}');
            return Ok(());
        }
        let mut keys = Vec::new();
        loop {
            let key = self.key()?;
            write_python_string(&key, &mut self.out);
            keys.push(key);
            self.out.push(':');
            self.value(depth)?;
            if !self.next_member(b'}')? {
                break;
            }
            self.out.push(',');
        }
        self.out.push('}');
        refuse_repeated(&mut keys, self)
    }

    fn array(&mut self, depth: usize) -> Result<(), JsonError> {
        self.container_depth(depth)?;
        self.at += 1;
        self.out.push('[');
        self.skip_whitespace();
        if self.eat(b']') {
            self.out.push(']');
            return Ok(());
        }
        loop {
            self.value(depth)?;
            if !self.next_member(b']')? {
                break;
            }
            self.out.push(',');
        }
        self.out.push(']');
        Ok(())
    }

    fn literal(&mut self, word: &'static str) -> Result<(), JsonError> {
        match self.text.get(self.at..self.at + word.len()) == Some(word) {
            true => {
                self.at += word.len();
                self.out.push_str(word);
                Ok(())
            }
            false => Err(self.error("not a JSON value")),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`: an integer keeps its digits, any other
    /// number is written as Python writes the float it reads as.
    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.at;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("a number needs digits")),
        }
        if self.eat(b'.') {
            self.required_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.required_digits()?;
        }
        let text = self.text.get(start..self.at).unwrap_or_default();
        write_number(text, &mut self.out);
        Ok(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), JsonError> {
        let start = self.at;
        self.digits();
        match self.at > start {
            true => Ok(()),
            false => Err(self.error("a number needs digits")),
        }
    }

    /// A string (at its opening quote), with its escapes decoded; borrowed from the text when
    /// it has none.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.at += 1;
        let start = self.at;
        // Filled only from the first escape on.
        let mut decoded: Option<String> = None;
        loop {
            let rest = self.text.get(self.at..).unwrap_or_default();
            // Everything up to a quote, a backslash or a control character is copied as it is.
            let plain = rest
                .bytes()
                .position(|b| b == b'"' || b == b'\\' || b < 0x20)
                .ok_or(JsonError {
                    at: self.text.len(),
                    what: "a string is not closed",
                })?;
            if let Some(decoded) = &mut decoded {
                decoded.push_str(rest.get(..plain).unwrap_or_default());
            }
            self.at += plain;
            match self.peek() {
                Some(b'"') => {
                    let end = self.at;
                    self.at += 1;
                    return Ok(match decoded {
                        Some(decoded) => Cow::Owned(decoded),
                        None => Cow::Borrowed(self.text.get(start..end).unwrap_or_default()),
                    });
                }
                Some(b'\\') => {
                    let decoded = decoded.get_or_insert_with(|| {
                        self.text.get(start..self.at).unwrap_or_default().to_owned()
                    });
                    self.at += 1;
                    decoded.push(self.escape()?);
                }
                _ => return Err(self.error("a control character in a string")),
            }
        }
    }

    /// The character of an escape (after its backslash).
    fn escape(&mut self) -> Result<char, JsonError> {
        let Some(byte) = self.peek() else {
            return Err(self.error("a string is not closed"));
        };
        self.at += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{08}',
            b'f' => '\u{0c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(),
            _ => return Err(self.error("an unknown escape in a string")),
        })
    }

    /// `\uXXXX`, or a surrogate pair of two. A lone surrogate is refused: it is not a
    /// character, so no Rust string (and no strict JSON reader) can hold it.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.text.get(self.at..self.at + 2) != Some("\\u") {
                    return Err(self.error("a lone surrogate in a string"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("a lone surrogate in a string"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("a lone surrogate in a string")),
            _ => first,
        };
        char::from_u32(code).ok_or_else(|| self.error("not a character"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("\\u needs four hex digits"))?;
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("\\u needs four hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members_of(text: &str) -> Result<Vec<(String, String)>, JsonError> {
        let mut found: Vec<(String, String)> = Vec::new();
        members(text, |key, value| {
            let new = found.iter().all(|(seen, _)| *seen != key);
            found.push((key, value.to_owned()));
            new
        })?;
        Ok(found)
    }

    #[test]
    fn values_are_rewritten_in_python_form() {
        let cases = [
            (" 1E+16 ", "1e+16"),
            ("1.50", "1.5"),
            ("-0", "-0"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            (r#""caf\u00e9 \/ é""#, r#""caf\u00e9 / \u00e9""#),
            (r#""\ud83d\ude00""#, r#""\ud83d\ude00""#),
            (
                "[ 1 , { \"a\" : null } , [ ] , true , false ]",
                r#"[1,{"a":null},[],true,false]"#,
            ),
            ("1e400", "1e400"),
        ];
        for (text, python) in cases {
            assert_eq!(normalize(text).as_deref(), Ok(python), "{text}");
        }
    }

    #[test]
    fn what_strict_json_refuses_is_refused() {
        for text in [
            "",
            "01",
            "1.",
            ".5",
            "1e",
            "-",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "'a'",
            "\"a",
            "\"\t\"",
            r#""\x""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\u12""#,
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "[1 2]",
            "{\"a\" 1}",
            "1 2",
            "[",
            "{\"a\":1,\"a\":2}",
        ] {
            assert!(normalize(text).is_err(), "{text:?} was read");
        }
    }

    #[test]
    fn members_come_in_order_and_a_repeated_key_is_refused() {
        let found = members_of(r#" {"z": 1.0, "a": [2], "m": {"k": "v"}} "#).unwrap();
        let expected = [("z", "1.0"), ("a", "[2]"), ("m", r#"{"k":"v"}"#)];
        let expected: Vec<_> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(found, expected);
        assert_eq!(members_of("{}").unwrap(), []);
        let escaped = members_of(r#"{"a\"b": "x\ty", "plain": "v", "caf\u00e9": "Zo\u00eb"}"#);
        let escaped: Vec<(String, String)> = escaped.unwrap();
        assert_eq!(escaped[0], (r#"a"b"#.to_owned(), r#""x\ty""#.to_owned()));
        assert_eq!(escaped[1], ("plain".to_owned(), r#""v""#.to_owned()));
        assert_eq!(escaped[2], ("café".to_owned(), r#""Zo\u00eb""#.to_owned()));
        let repeated = members_of(r#"{"a":1,"b":2,"a":3}"#).unwrap_err();
        assert_eq!(repeated.what, "an object repeats a key");
        for not_an_object in ["[]", "1", r#""{}""#, "{} {}", "{"] {
            assert!(members_of(not_an_object).is_err(), "{not_an_object}");
        }
    }

    #[test]
    fn nesting_is_limited_without_exhausting_the_stack() {
        let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        assert!(normalize(&nested(MAX_VALUE_DEPTH)).is_ok());
        let too_deep = normalize(&nested(MAX_VALUE_DEPTH + 1)).unwrap_err();
        assert_eq!(too_deep.what, "nested too deeply");
        assert!(normalize(&nested(1_000_000)).is_err());
    }
}
