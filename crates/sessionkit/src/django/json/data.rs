//! Session data as Django keeps it: a JSON object whose keys stay in insertion order and whose
//! values keep the exact text Python wrote (an integer of any size, a float's shortest form).
//!
//! Each value is held as its JSON text ([`JsonText`]) and parsed when a handler reads it, so
//! sessionkit needs neither of serde_json's global features (`arbitrary_precision`,
//! `preserve_order`), which would change how every other crate of an application reads JSON.

use std::fmt;
use std::ops::Index;

use indexmap::IndexMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::read::{self, JsonError};
use super::write_python_string;

/// One session value: JSON text in Python's form (`json.dumps(value, separators=(",", ":"))`),
/// checked to be JSON that a session can hold.
///
/// ```
/// use sessionkit::engine::JsonText;
///
/// let price = JsonText::new(&1e-7)?;
/// assert_eq!(price.as_str(), "1e-07"); // Python's form, not Rust's `1e-7`
/// assert_eq!(price.parse::<f64>()?, 1e-7);
///
/// let big = JsonText::parse_json("123456789012345678901234567890")?;
/// assert_eq!(big.as_str(), "123456789012345678901234567890"); // every digit kept
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonText(Box<str>);

impl JsonText {
    /// `value` as JSON text. Fails if it is not representable as JSON (a map with non-string
    /// keys, a failing `Serialize`) or nests deeper than
    /// [`MAX_VALUE_DEPTH`](super::MAX_VALUE_DEPTH).
    pub fn new(value: &impl Serialize) -> Result<Self, serde_json::Error> {
        let text = serde_json::to_string(value)?;
        Self::parse_json(&text).map_err(|error| serde::ser::Error::custom(error.what))
    }

    /// Reads `text` as one JSON value and keeps it in Python's form.
    ///
    /// ```
    /// use sessionkit::engine::JsonText;
    ///
    /// assert_eq!(JsonText::parse_json(r#"{"name": "Zoë"}"#)?.as_str(), r#"{"name":"Zo\u00eb"}"#);
    /// assert!(JsonText::parse_json("NaN").is_err());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_json(text: &str) -> Result<Self, JsonError> {
        read::normalize(text).map(|text| JsonText(text.into()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as a `T`, read by serde_json. The text is exact; a float read from it is as
    /// exact as serde_json makes it (within one ULP, unless the application turns on
    /// serde_json's `float_roundtrip` feature, which sessionkit leaves to it).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The value as an id, as Django's auth stores a user's: a string's content, or a number's
    /// digits however many there are; `None` for any other JSON.
    ///
    /// ```
    /// use sessionkit::engine::JsonText;
    ///
    /// assert_eq!(JsonText::from("b7e1").id().as_deref(), Some("b7e1"));
    /// let big = JsonText::parse_json("123456789012345678901234567890")?;
    /// assert_eq!(big.id().as_deref(), Some("123456789012345678901234567890"));
    /// assert_eq!(JsonText::parse_json("[1]")?.id(), None);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(&self) -> Option<String> {
        match self.0.as_bytes().first()? {
            b'"' => self.parse().ok(),
            b'-' | b'0'..=b'9' => Some(self.0.to_string()),
            _ => None,
        }
    }

    /// The value as a [`serde_json::Value`]. Without serde_json's `arbitrary_precision`
    /// feature a `Value` holds an integer beyond 64 bits as the nearest float: read such a
    /// number as text with [`JsonText::as_str`] instead.
    pub fn to_value(&self) -> serde_json::Value {
        // Checked JSON nesting at most MAX_VALUE_DEPTH levels, so serde_json reads it.
        self.parse().unwrap_or_default()
    }
}

impl PartialEq<serde_json::Value> for JsonText {
    /// Whether this text holds `other`, as serde_json reads it.
    ///
    /// ```
    /// use serde_json::json;
    /// use sessionkit::engine::JsonText;
    ///
    /// assert_eq!(JsonText::parse_json("[1, 2.5]")?, json!([1, 2.5]));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.to_value() == *other
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for JsonText {
    /// A JSON string.
    ///
    /// ```
    /// use sessionkit::engine::JsonText;
    ///
    /// assert_eq!(JsonText::from("Zoë").as_str(), r#""Zo\u00eb""#);
    /// ```
    fn from(text: &str) -> Self {
        let mut out = String::with_capacity(text.len() + 2);
        write_python_string(text, &mut out);
        JsonText(out.into())
    }
}

impl From<i64> for JsonText {
    /// A JSON integer.
    fn from(number: i64) -> Self {
        JsonText(number.to_string().into())
    }
}

impl TryFrom<serde_json::Value> for JsonText {
    type Error = serde_json::Error;

    /// Fails only for a value nested deeper than a session can hold.
    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        JsonText::new(&value)
    }
}

/// Session data: a JSON object in insertion order, each value kept as its JSON text.
///
/// ```
/// use sessionkit::engine::{Data, JsonText};
///
/// let mut data = Data::new();
/// data.insert("zebra", JsonText::new(&1)?);
/// data.insert("apple", JsonText::new(&[2])?);
/// assert_eq!(data.keys().collect::<Vec<_>>(), ["zebra", "apple"]); // insertion order
/// assert_eq!(data["apple"].parse::<Vec<u8>>()?, [2]);
/// assert_eq!(data.to_json(), r#"{"zebra":1,"apple":[2]}"#);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Data(IndexMap<String, JsonText, foldhash::fast::RandomState>);

impl Data {
    /// No data.
    pub fn new() -> Self {
        Data::default()
    }

    /// Reads a session's JSON object. A key written twice is refused (see [`JsonError`]).
    ///
    /// ```
    /// use sessionkit::engine::Data;
    ///
    /// let data = Data::from_json(r#"{"big": 123456789012345678901234567890, "f": 1E+16}"#)?;
    /// assert_eq!(data.to_json(), r#"{"big":123456789012345678901234567890,"f":1e+16}"#);
    /// assert!(Data::from_json("[1]").is_err());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, JsonError> {
        let mut data = Data::new();
        read::members(text, |key, value| {
            data.0.insert(key, JsonText(value.into())).is_none()
        })?;
        Ok(data)
    }

    /// The object as Python's `json.dumps(data, separators=(",", ":"))` writes it: the text
    /// Django signs and stores.
    pub fn to_json(&self) -> String {
        let size: usize = self.0.iter().map(|(k, v)| k.len() + v.0.len() + 4).sum();
        let mut out = String::with_capacity(size + 2);
        out.push('{');
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_python_string(key, &mut out);
            out.push(':');
            out.push_str(&value.0);
        }
        out.push('}');
        out
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&JsonText> {
        self.0.get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Stores `value` under `key` and returns what was there. A key already present keeps its
    /// place, as in a Python dict.
    pub fn insert(&mut self, key: &str, value: JsonText) -> Option<JsonText> {
        match self.0.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.0.insert(key.to_owned(), value);
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<JsonText> {
        self.0.shift_remove(key)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The values, in order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &JsonText> {
        self.0.values()
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &JsonText)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value))
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Index<&str> for Data {
    type Output = JsonText;

    /// The value under `key`; panics if there is none, as `HashMap` does.
    #[allow(
        clippy::panic,
        reason = "Index's contract, as HashMap's: a missing key is the caller's mistake (get is the fallible form)"
    )]
    fn index(&self, key: &str) -> &JsonText {
        match self.0.get(key) {
            Some(value) => value,
            None => panic!("no session key {key:?}"),
        }
    }
}

impl<K: Into<String>> FromIterator<(K, JsonText)> for Data {
    /// Later entries replace earlier ones under the same key, which keeps its first place.
    fn from_iter<I: IntoIterator<Item = (K, JsonText)>>(entries: I) -> Self {
        let mut data = Data::new();
        for (key, value) in entries {
            data.0.insert(key.into(), value);
        }
        data
    }
}

impl TryFrom<serde_json::Value> for Data {
    type Error = serde_json::Error;

    /// A JSON object's members as session data (in the object's order if serde_json keeps
    /// one); anything but an object is an error.
    ///
    /// ```
    /// use serde_json::json;
    /// use sessionkit::engine::Data;
    ///
    /// let data = Data::try_from(json!({"n": 1}))?;
    /// assert_eq!(data["n"].parse::<i32>()?, 1);
    /// assert!(Data::try_from(json!([1])).is_err());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        let serde_json::Value::Object(map) = value else {
            return Err(serde::de::Error::custom(
                "session data must be a JSON object",
            ));
        };
        map.into_iter()
            .map(|(key, value)| Ok((key, JsonText::new(&value)?)))
            .collect()
    }
}

impl<'a> IntoIterator for &'a Data {
    type Item = (&'a String, &'a JsonText);
    type IntoIter = indexmap::map::Iter<'a, String, JsonText>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Data {
    type Item = (String, JsonText);
    type IntoIter = indexmap::map::IntoIter<String, JsonText>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
