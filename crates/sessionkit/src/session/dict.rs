//! Django's dict API on [`Session`] (`get`, `insert`, `remove`, `pop`, `setdefault`, `update`,
//! `clear`, `keys`, …) and the test-cookie trio that checks the browser keeps cookies.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Session;
use crate::engine::{Data, JsonText};
use crate::error::SessionError;

const TEST_COOKIE_NAME: &str = "testcookie";
const TEST_COOKIE_VALUE: &str = "worked";

impl Session {
    /// The value under `key`, deserialized; `Ok(None)` if absent, an error if it has
    /// another type. Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// session.insert("user_id", 42)?;
    /// assert_eq!(session.get::<u64>("user_id")?, Some(42));
    /// assert_eq!(session.get::<u64>("missing")?, None);
    /// assert!(session.get::<String>("user_id").is_err()); // stored as a number
    /// # Ok(()) }
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let mut state = self.state();
        state.touch();
        state.data.get(key).map(|v| typed(key, v)).transpose()
    }

    /// The value under `key` as a [`serde_json::Value`]. Sets `accessed`. An integer beyond 64
    /// bits comes back as the nearest float (serde_json's `Value` holds no more without its
    /// `arbitrary_precision` feature); [`Session::get_json`] has its exact text.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// use serde_json::json;
    ///
    /// session.insert("cart", json!({ "items": 2 }))?;
    /// assert_eq!(session.get_value("cart"), Some(json!({ "items": 2 })));
    /// assert_eq!(session.get_value("missing"), None);
    /// # Ok(()) }
    /// ```
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.get_json(key).map(|value| value.to_value())
    }

    /// The value under `key` as the JSON text it is stored as. Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// session.insert("big", u128::MAX)?;
    /// assert_eq!(session.get_json("big").unwrap().as_str(), u128::MAX.to_string());
    /// # Ok(()) }
    /// ```
    pub fn get_json(&self, key: &str) -> Option<JsonText> {
        let mut state = self.state();
        state.touch();
        state.data.get(key).cloned()
    }

    /// Stores `value` under `key` (Django's `session[key] = value`). Sets `accessed` and
    /// `modified`. Fails only if `value` cannot be represented as JSON.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// session.insert("cart", ["apple", "pear"])?;
    /// assert_eq!(session.get::<Vec<String>>("cart")?.unwrap(), ["apple", "pear"]);
    /// assert!(session.modified());
    ///
    /// // JSON object keys are strings: a map keyed by tuples cannot be stored.
    /// let grid: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
    /// assert!(session.insert("grid", grid).is_err());
    ///
    /// // Nothing is accepted that could not be read back on the next request.
    /// let deep = (0..200).fold(serde_json::json!(1), |inner, _| serde_json::json!([inner]));
    /// assert!(session.insert("deep", deep).is_err());
    /// # Ok(()) }
    /// ```
    pub fn insert(&self, key: &str, value: impl Serialize) -> Result<(), SessionError> {
        let value = JsonText::new(&value).map_err(|source| type_error(key, source))?;
        self.state().set(key, value);
        Ok(())
    }

    /// Stores `value`, already JSON, under `key`: [`Session::insert`] without serializing.
    /// Sets `accessed` and `modified`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// use sessionkit::engine::JsonText;
    ///
    /// session.insert_json("big", JsonText::parse_json("123456789012345678901234567890")?);
    /// assert_eq!(session.get_json("big").unwrap().as_str(), "123456789012345678901234567890");
    /// # Ok(()) }
    /// ```
    pub fn insert_json(&self, key: &str, value: JsonText) {
        self.state().set(key, value);
    }

    /// Removes `key` and returns its value (Django's `del session[key]`, without the error
    /// for a missing key). `modified` is set only if the key was there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let first = sessions.start(None).load().await?;
    /// # first.insert("cart", 3)?;
    /// # let cookie = first.save().await?.unwrap();
    /// let session = sessions.start(Some(&cookie)).load().await?; // holds {"cart": 3}
    /// assert_eq!(session.remove("coupon"), None);
    /// assert!(!session.modified());
    /// assert_eq!(session.remove("cart").unwrap().as_str(), "3");
    /// assert!(session.modified());
    /// # Ok(()) }
    /// ```
    pub fn remove(&self, key: &str) -> Option<JsonText> {
        self.state().remove(key)
    }

    /// Removes `key` and returns its value deserialized (Django's `pop`). A missing key gives
    /// `Ok(None)` and leaves `modified` alone, like `pop(key, default)` in Django.
    /// A value of another type is an error and stays in place.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let first = sessions.start(None).load().await?;
    /// # first.insert("user_id", 42)?;
    /// # let cookie = first.save().await?.unwrap();
    /// let session = sessions.start(Some(&cookie)).load().await?; // holds {"user_id": 42}
    /// assert_eq!(session.pop::<u64>("missing")?, None);
    /// assert!(!session.modified());
    /// assert!(session.pop::<String>("user_id").is_err()); // wrong type: the value stays
    /// assert_eq!(session.pop::<u64>("user_id")?, Some(42));
    /// assert!(!session.contains_key("user_id"));
    /// assert!(session.modified());
    /// # Ok(()) }
    /// ```
    pub fn pop<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let mut state = self.state();
        state.touch();
        let Some(value) = state.data.get(key) else {
            return Ok(None);
        };
        let value = typed(key, value)?;
        state.remove(key);
        Ok(Some(value))
    }

    /// The value under `key`; if absent, stores `default` first and returns it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// assert_eq!(session.setdefault("theme", "dark".to_owned())?, "dark"); // stored
    /// assert_eq!(session.setdefault("theme", "light".to_owned())?, "dark"); // kept
    /// assert_eq!(session.get::<String>("theme")?.as_deref(), Some("dark"));
    /// # Ok(()) }
    /// ```
    pub fn setdefault<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        default: T,
    ) -> Result<T, SessionError> {
        if let Some(existing) = self.get(key)? {
            return Ok(existing);
        }
        self.insert(key, &default)?;
        Ok(default)
    }

    /// Whether `key` is present. Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// assert!(!session.contains_key("cart"));
    /// assert!(session.accessed() && !session.modified());
    /// session.insert("cart", 1)?;
    /// assert!(session.contains_key("cart"));
    /// # Ok(()) }
    /// ```
    pub fn contains_key(&self, key: &str) -> bool {
        let mut state = self.state();
        state.touch();
        state.data.contains_key(key)
    }

    /// The keys, in insertion order. Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// session.insert("b", 1)?;
    /// session.insert("a", 2)?;
    /// assert_eq!(session.keys(), ["b", "a"]); // insertion order, not sorted
    /// # Ok(()) }
    /// ```
    pub fn keys(&self) -> Vec<String> {
        let mut state = self.state();
        state.touch();
        state.data.keys().map(str::to_owned).collect()
    }

    /// The values, in insertion order. Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// session.insert("n", 1)?;
    /// session.insert("name", "Ada")?;
    /// let values = session.values();
    /// assert_eq!(values.iter().map(|v| v.as_str()).collect::<Vec<_>>(), ["1", r#""Ada""#]);
    /// # Ok(()) }
    /// ```
    pub fn values(&self) -> Vec<JsonText> {
        let mut state = self.state();
        state.touch();
        state.data.values().cloned().collect()
    }

    /// The `(key, value)` pairs, in insertion order. Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// session.insert("user_id", 42)?;
    /// let items = session.items();
    /// assert_eq!(items, [("user_id".to_owned(), sessionkit::engine::JsonText::new(&42)?)]);
    /// # Ok(()) }
    /// ```
    pub fn items(&self) -> Vec<(String, JsonText)> {
        let mut state = self.state();
        state.touch();
        state
            .data
            .iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect()
    }

    /// Stores every entry of `entries` (Django's `update`), or none of them if one cannot be
    /// stored (see [`Session::insert`]). Sets `accessed` and `modified`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// use serde_json::json;
    ///
    /// session.update([("a", json!(1)), ("b", json!([2, 3]))])?;
    /// assert_eq!(session.get::<Vec<i32>>("b")?, Some(vec![2, 3]));
    /// assert!(session.modified());
    ///
    /// let deep = (0..200).fold(json!(1), |inner, _| json!([inner]));
    /// assert!(session.update([("c", json!(4)), ("deep", deep)]).is_err());
    /// assert!(!session.contains_key("c")); // all or nothing
    /// # Ok(()) }
    /// ```
    pub fn update<K: AsRef<str>, V: Serialize>(
        &self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), SessionError> {
        let entries = entries
            .into_iter()
            .map(|(key, value)| match JsonText::new(&value) {
                Ok(value) => Ok((key, value)),
                Err(source) => Err(type_error(key.as_ref(), source)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = self.state();
        state.touch();
        state.modified = true;
        for (key, value) in entries {
            state.set(key.as_ref(), value);
        }
        Ok(())
    }

    /// Removes every key but keeps the session (and its key). Sets `accessed` and `modified`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::Cache,
    /// #     cache_url: "memory://".into(),
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let first = sessions.start(None).load().await?;
    /// # first.insert("cart", 3)?;
    /// # let cookie = first.save().await?.unwrap();
    /// let session = sessions.start(Some(&cookie)).load().await?; // holds {"cart": 3}
    /// let key = session.session_key();
    /// session.clear();
    /// assert!(session.keys().is_empty());
    /// assert_eq!(session.session_key(), key); // unlike `flush`, the same record, now empty
    /// assert!(session.modified());
    /// # Ok(()) }
    /// ```
    pub fn clear(&self) {
        self.state().clear();
    }

    /// Django's `is_empty`: no stored record behind the cookie and no data. Sets no flag.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// assert!(session.is_empty()); // a new session
    /// assert!(!session.accessed());
    /// session.insert("n", 1)?;
    /// assert!(!session.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Stores a marker to check on the next request that the browser keeps cookies.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// // Request 1 (e.g. showing the login form):
    /// session.set_test_cookie();
    /// let cookie = session.save().await?.unwrap();
    /// // Request 2 (the form's POST) carries the cookie back if the browser keeps cookies:
    /// let next = sessions.start(Some(&cookie)).load().await?;
    /// assert!(next.test_cookie_worked());
    /// # Ok(()) }
    /// ```
    pub fn set_test_cookie(&self) {
        self.insert_json(TEST_COOKIE_NAME, JsonText::from(TEST_COOKIE_VALUE));
    }

    /// Whether the marker of [`Session::set_test_cookie`] came back.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// let session = sessions.start(None).load().await?; // the browser sent no cookie back
    /// assert!(!session.test_cookie_worked());
    /// # Ok(()) }
    /// ```
    pub fn test_cookie_worked(&self) -> bool {
        self.get::<String>(TEST_COOKIE_NAME)
            .ok()
            .flatten()
            .as_deref()
            == Some(TEST_COOKIE_VALUE)
    }

    /// Removes the marker of [`Session::set_test_cookie`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// session.set_test_cookie();
    /// session.delete_test_cookie();
    /// assert!(!session.test_cookie_worked());
    /// assert!(!session.contains_key("testcookie"));
    /// # Ok(()) }
    /// ```
    pub fn delete_test_cookie(&self) {
        self.remove(TEST_COOKIE_NAME);
    }

    /// The data as a JSON object (a copy). Sets `accessed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::SignedCookies,
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// # let session = sessions.start(None).load().await?;
    /// session.insert("a", 1)?;
    /// let map = session.to_map();
    /// session.insert("a", 2)?;
    /// assert_eq!(map["a"].parse::<i32>()?, 1); // a copy, not a view
    /// # Ok(()) }
    /// ```
    pub fn to_map(&self) -> Data {
        let mut state = self.state();
        state.touch();
        Data::clone(&state.data)
    }
}

/// `value` as a `T`.
fn typed<T: DeserializeOwned>(key: &str, value: &JsonText) -> Result<T, SessionError> {
    value.parse().map_err(|source| type_error(key, source))
}

/// The value under `key` could not be written as, or read as, the type asked for.
fn type_error(key: &str, source: serde_json::Error) -> SessionError {
    SessionError::Type {
        key: key.to_owned(),
        source,
    }
}
