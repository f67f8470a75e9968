//! The engine contract: how a cookie value becomes session data and back.
//!
//! The middleware only ever sees the cookie value. A server engine reads it as a key into its
//! store; the `signed_cookies` engine reads the data out of the value itself. One object-safe
//! trait covers both, the way Django's backends share one `SessionBase` interface.
//!
//! Saves carry this request's per-key [`ChangeSet`] as well as the whole data, so a server
//! engine can apply the changes to the freshest stored record under a version check instead of
//! overwriting what a concurrent request wrote.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::expiry::expiry_date;
use crate::key::SessionKey;
use crate::settings::{ConfigError, EngineKind, Settings};
use cache::open_cache;

pub mod cache;
mod cache_health;
pub mod cached_db;
pub mod db;
pub mod file;
pub mod server;
pub mod signed_cookies;

pub use cache::{Cache, MemoryStore, RedisStore};
pub use cached_db::CachedDbStore;
pub use db::{DbEngine, SqlStore};
pub use file::FileStore;
pub use server::{Addressing, RecordStore, ScanPage, ServerEngine, StoredRecord};
pub use signed_cookies::SignedCookieEngine;

/// Session data: a JSON object in insertion order.
///
/// ```
/// use serde_json::json;
/// use sessionkit::engine::Data;
///
/// let mut data = Data::new();
/// data.insert("zebra".to_owned(), json!(1));
/// data.insert("apple".to_owned(), json!(2));
/// assert_eq!(data.keys().collect::<Vec<_>>(), ["zebra", "apple"]); // insertion order
/// ```
pub type Data = Map<String, Value>;

/// The session key naming the logged-in user (Django's `django.contrib.auth.SESSION_KEY`);
/// server engines index it so a user's sessions can be listed and ended together.
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
/// # let session = sessions.start(None).load().await?;
/// use sessionkit::engine::{USER_ID_KEY, user_of};
///
/// assert_eq!(USER_ID_KEY, "_auth_user_id"); // the key Django's login() writes
/// session.insert(USER_ID_KEY, 42)?;
/// assert_eq!(user_of(&session.to_map()).as_deref(), Some("42"));
/// # Ok(()) }
/// ```
pub const USER_ID_KEY: &str = "_auth_user_id";

/// The user a session belongs to: the value under [`USER_ID_KEY`], a string or a number.
///
/// ```
/// use serde_json::json;
/// use sessionkit::engine::{Data, USER_ID_KEY, user_of};
///
/// let with = |id| Data::from_iter([(USER_ID_KEY.to_owned(), id)]);
/// assert_eq!(user_of(&with(json!(42))).as_deref(), Some("42"));
/// assert_eq!(user_of(&with(json!("b7e1"))).as_deref(), Some("b7e1"));
/// assert_eq!(user_of(&with(json!(null))), None);
/// assert_eq!(user_of(&Data::new()), None); // anonymous
/// ```
pub fn user_of(data: &Data) -> Option<String> {
    match data.get(USER_ID_KEY)? {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// One of a user's live sessions, as [`Engine::user_sessions`] lists them.
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
/// use sessionkit::engine::USER_ID_KEY;
///
/// let mut cookies = Vec::new();
/// for device in ["phone", "laptop"] {
///     let session = sessions.start(None).load().await?;
///     session.insert(USER_ID_KEY, 42)?;
///     session.insert("device", device)?;
///     cookies.push(session.save().await?.unwrap());
/// }
/// let listed = sessions.engine().user_sessions("42", Some(&cookies[1])).await?;
/// assert_eq!(listed.len(), 2);
/// assert!(listed[0].current); // the caller's own session comes first
/// assert_eq!(listed[0].data["device"], "laptop");
/// assert!(listed.iter().all(|s| !cookies.contains(&s.id))); // ids are not keys
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UserSession {
    /// An opaque, stable identifier (derived from the key's hash; never the key itself).
    pub id: String,
    /// The session data (what the app stored: user agent, last seen, …).
    pub data: Data,
    /// When it expires.
    pub expires: OffsetDateTime,
    /// Whether it is the session of the cookie the caller passed.
    pub current: bool,
}

/// A live session as [`Engine::export`] hands it over, for [`Engine::import`] into another
/// store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use serde_json::json;
/// use sessionkit::engine::{Data, ExportedSession, ImportOutcome};
/// use sessionkit::{EngineKind, SessionKey, Settings};
///
/// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
/// let engine = sessionkit::engine::open(&settings).await?;
/// let key = SessionKey::generate();
/// let session = ExportedSession {
///     address: key.hashed(),
///     key: None, // the hash is enough for sessionkit's own stores
///     data: Data::from_iter([("user_id".to_owned(), json!(42))]),
///     expires: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
/// };
/// assert_eq!(engine.import(&session).await?, ImportOutcome::Copied);
/// assert!(engine.exists(key.as_str()).await?); // the user's cookie works here now
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq)]
pub struct ExportedSession {
    /// The record's address in the source store: the SHA-256 hex of the session key, or in
    /// Django's table the key itself (see [`Addressing`]).
    pub address: String,
    /// The session key, when the source store holds it (Django's table). `None` where the
    /// store keeps only the key's hash: enough for every store that addresses records by that
    /// hash, not for Django's table, which needs the key itself.
    pub key: Option<SessionKey>,
    /// The session data.
    pub data: Data,
    /// When it expires; the copy expires then too.
    pub expires: OffsetDateTime,
}

/// The address is a usable cookie when the key is known, so `Debug` shows the key's
/// fingerprint instead (as [`SessionKey`] does), and the address only when it is a hash.
impl std::fmt::Debug for ExportedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("ExportedSession");
        match &self.key {
            Some(key) => debug.field("key", key),
            None => debug.field("address", &self.address),
        };
        debug
            .field("data", &self.data)
            .field("expires", &self.expires)
            .finish()
    }
}

/// One page of [`Engine::export`].
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
/// # for n in 0..3 {
/// #     let session = sessions.start(None).load().await?;
/// #     session.insert("n", n)?;
/// #     session.save().await?;
/// # }
/// let (mut cursor, mut seen) = (None, 0);
/// loop {
///     let page = sessions.engine().export(cursor, 2).await?;
///     seen += page.sessions.len();
///     match page.next {
///         Some(next) => cursor = Some(next),
///         None => break,
///     }
/// }
/// assert_eq!(seen, 3); // three sessions, in pages of about two
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPage {
    /// The live sessions of this page.
    pub sessions: Vec<ExportedSession>,
    /// Live records of this page that could not be read (data that does not verify with
    /// `SECRET_KEY` or its fallbacks, or is corrupted), hence not exported.
    pub unreadable: u64,
    /// Where the next page starts; `None` after the last page. A page may be short, even
    /// empty, while more follow.
    pub next: Option<String>,
}

/// What [`Engine::import`] did with one session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{self, ImportOutcome};
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
/// let (from, to) = (engine::open(&settings).await?, engine::open(&settings).await?);
/// # let sessions = sessionkit::Sessions::new(from.clone(), settings.clone())?;
/// # let session = sessions.start(None).load().await?;
/// # session.insert("user_id", 42)?;
/// # session.save().await?;
/// let page = from.export(None, 100).await?; // one session
/// let exported = &page.sessions[0];
/// assert_eq!(to.import(exported).await?, ImportOutcome::Copied);
/// assert_eq!(to.import(exported).await?, ImportOutcome::AlreadyPresent); // never overwrites
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Stored at the destination, with the same key, data and expiry.
    Copied,
    /// The destination already has a live session under that key; it was left as it is.
    AlreadyPresent,
    /// The session expired before it could be stored; nothing was written.
    Expired,
    /// The destination addresses records by the session key itself (Django's table) and the
    /// source only had the key's hash, from which the key cannot be recovered (or an address
    /// that is neither a valid key nor a key's hash): a record stored under it would never
    /// match a cookie, so nothing was written.
    KeyUnknown,
}

/// A record an engine found for a cookie value.
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
/// # let session = sessions.start(None).load().await?;
/// session.insert("n", 1)?;
/// let cookie = session.save().await?.unwrap();
/// let loaded = sessions.engine().load(&cookie).await?.expect("a live record");
/// assert_eq!(loaded.data["n"], 1);
/// assert_eq!(loaded.version, 1); // a new record
/// assert_eq!(sessions.engine().load("abcdefgh12345678").await?, None); // unknown key
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The session data, shared rather than copied: a store that keeps records in memory
    /// hands out its own copy, and a request copies it only if it writes.
    pub data: Arc<Data>,
    /// The stored version, for compare-and-swap saves (always 0 for cookie engines).
    pub version: i64,
}

/// What a save replaces: the cookie value the record was loaded from, and its version then.
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
/// use std::sync::Arc;
/// use serde_json::json;
/// use sessionkit::engine::{ChangeSet, Data, Previous, SaveRequest};
///
/// let data = Arc::new(Data::from_iter([("n".to_owned(), json!(1))]));
/// let changes = ChangeSet::default();
/// let now = time::OffsetDateTime::now_utc();
/// let request = SaveRequest {
///     previous: None,
///     data: &data,
///     changes: &changes,
///     now,
///     cookie_age: 60,
/// };
/// let created = sessions.engine().save(request).await?;
/// let previous = Previous { cookie_value: &created.cookie_value, version: created.version };
/// let update = SaveRequest { previous: Some(previous), ..request };
/// let updated = sessions.engine().save(update).await?;
/// assert_eq!(updated.cookie_value, created.cookie_value); // the same record
/// assert_eq!(updated.version, created.version + 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    /// The cookie value the request carried.
    pub cookie_value: &'a str,
    /// [`Loaded::version`] at load time.
    pub version: i64,
}

/// The changes one request made, key by key: which keys it set and which it removed. The values
/// set are not copied here: they are the session's data at save time
/// ([`SaveRequest::data`]), which a request always saves together with its changes.
///
/// ```
/// use serde_json::json;
/// use sessionkit::engine::ChangeSet;
///
/// let mut changes = ChangeSet::default();
/// changes.set("cart");
/// changes.remove("coupon");
/// // This request's session: the cart it set, without the coupon.
/// let ours = json!({"theme": "light", "cart": [1]}).as_object().unwrap().clone();
/// // Meanwhile another request changed the theme.
/// let mut stored = json!({"coupon": "X", "theme": "dark"}).as_object().unwrap().clone();
/// changes.apply_to(&mut stored, &ours);
/// assert_eq!(serde_json::Value::Object(stored), json!({"theme": "dark", "cart": [1]}));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// The request cleared the session first (`clear`, `flush`, `cycle_key`).
    pub cleared: bool,
    /// Keys set; their final values are in the session's data.
    pub set: BTreeSet<String>,
    /// Keys removed (and not set again afterwards).
    pub removed: BTreeSet<String>,
}

impl ChangeSet {
    /// Records that `key` was set.
    ///
    /// ```
    /// use sessionkit::engine::ChangeSet;
    ///
    /// let mut changes = ChangeSet::default();
    /// changes.remove("cart");
    /// changes.set("cart");
    /// assert!(changes.set.contains("cart"));
    /// assert!(changes.removed.is_empty()); // set after remove: only the set remains
    /// ```
    pub fn set(&mut self, key: &str) {
        self.removed.remove(key);
        if !self.set.contains(key) {
            self.set.insert(key.to_owned());
        }
    }

    /// Records the removal of `key`.
    ///
    /// ```
    /// use sessionkit::engine::ChangeSet;
    ///
    /// let mut changes = ChangeSet::default();
    /// changes.set("coupon");
    /// changes.remove("coupon");
    /// assert!(changes.set.is_empty());
    /// assert!(changes.removed.contains("coupon"));
    /// ```
    pub fn remove(&mut self, key: &str) {
        self.set.remove(key);
        if !self.removed.contains(key) {
            self.removed.insert(key.to_owned());
        }
    }

    /// Records that the session was emptied: earlier changes no longer matter.
    ///
    /// ```
    /// use serde_json::json;
    /// use sessionkit::engine::ChangeSet;
    ///
    /// let mut changes = ChangeSet::default();
    /// changes.set("a");
    /// changes.clear();
    /// changes.set("b");
    /// let ours = json!({"b": 2}).as_object().unwrap().clone();
    /// let mut stored = json!({"a": 0, "z": 9}).as_object().unwrap().clone();
    /// changes.apply_to(&mut stored, &ours);
    /// assert_eq!(serde_json::Value::Object(stored), json!({"b": 2})); // other keys go too
    /// ```
    pub fn clear(&mut self) {
        *self = ChangeSet {
            cleared: true,
            ..ChangeSet::default()
        };
    }

    /// Adds `later`, changes made after these ones.
    ///
    /// ```
    /// use serde_json::json;
    /// use sessionkit::engine::ChangeSet;
    ///
    /// let mut earlier = ChangeSet::default();
    /// earlier.set("a");
    /// earlier.set("y");
    /// let mut later = ChangeSet::default();
    /// later.remove("a");
    /// later.set("c");
    /// earlier.extend(later);
    /// let ours = json!({"y": 2, "c": 3}).as_object().unwrap().clone();
    /// let mut stored = json!({"a": 0, "z": 9}).as_object().unwrap().clone();
    /// earlier.apply_to(&mut stored, &ours);
    /// assert_eq!(stored.keys().collect::<Vec<_>>(), ["z", "y", "c"]); // new keys in our order
    /// assert_eq!(serde_json::Value::Object(stored), json!({"z": 9, "y": 2, "c": 3}));
    /// ```
    pub fn extend(&mut self, later: ChangeSet) {
        if later.cleared {
            *self = later;
            return;
        }
        // A key is either set or removed in `later`, so the order of the two does not matter.
        for key in &later.removed {
            self.remove(key);
        }
        for key in &later.set {
            self.set(key);
        }
    }

    /// Whether the request changed nothing.
    ///
    /// ```
    /// use sessionkit::engine::ChangeSet;
    ///
    /// let mut changes = ChangeSet::default();
    /// assert!(changes.is_empty());
    /// changes.clear();
    /// assert!(!changes.is_empty()); // emptying the session is a change
    /// ```
    pub fn is_empty(&self) -> bool {
        !self.cleared && self.set.is_empty() && self.removed.is_empty()
    }

    /// Applies these changes to `data` (the freshest stored version of the session), with the
    /// values set taken from `values` (this request's session data). Keys new to `data` are
    /// added in the order `values` has them.
    ///
    /// ```
    /// use serde_json::json;
    /// use sessionkit::engine::ChangeSet;
    ///
    /// // This request added to the cart; meanwhile another one stored a theme.
    /// let mut changes = ChangeSet::default();
    /// changes.set("cart");
    /// let ours = json!({"cart": [7]}).as_object().unwrap().clone();
    /// let mut freshest = json!({"cart": [], "theme": "dark"}).as_object().unwrap().clone();
    /// changes.apply_to(&mut freshest, &ours);
    /// assert_eq!(serde_json::Value::Object(freshest), json!({"cart": [7], "theme": "dark"}));
    /// ```
    pub fn apply_to(&self, data: &mut Data, values: &Data) {
        if self.cleared {
            data.clear();
        }
        for key in &self.removed {
            data.shift_remove(key);
        }
        for (key, value) in values {
            if self.set.contains(key) {
                data.insert(key.clone(), value.clone());
            }
        }
    }
}

/// What a save produced.
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
/// use std::sync::Arc;
/// use sessionkit::SessionKey;
/// use sessionkit::engine::{ChangeSet, Data, SaveRequest};
///
/// let (data, changes) = (Arc::new(Data::new()), ChangeSet::default());
/// let now = time::OffsetDateTime::now_utc();
/// let request = SaveRequest {
///     previous: None,
///     data: &data,
///     changes: &changes,
///     now,
///     cookie_age: 60,
/// };
/// let saved = sessions.engine().save(request).await?;
/// assert!(SessionKey::is_well_formed(&saved.cookie_value)); // a server engine's cookie: a key
/// assert_eq!(saved.version, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The cookie value to send: the key, or for `signed_cookies` the signed data.
    pub cookie_value: String,
    /// The record's version after the save, for the next compare-and-swap.
    pub version: i64,
}

/// Everything an engine needs to persist one request's session.
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
/// use std::sync::Arc;
/// use serde_json::json;
/// use sessionkit::engine::{ChangeSet, Data, Previous, SaveRequest};
///
/// let engine = sessions.engine();
/// let data = Arc::new(Data::from_iter([("a".to_owned(), json!(1))]));
/// let (none, now) = (ChangeSet::default(), time::OffsetDateTime::now_utc());
/// let new = SaveRequest { previous: None, data: &data, changes: &none, now, cookie_age: 60 };
/// let created = engine.save(new).await?;
/// let previous = Some(Previous { cookie_value: &created.cookie_value, version: 1 });
/// engine.save(SaveRequest { previous, ..new }).await?; // another request saved: version 2
/// // This request also loaded version 1 and set "b": its change is merged, not lost.
/// let mut changes = ChangeSet::default();
/// changes.set("b");
/// let stale = Arc::new(Data::from_iter([("b".to_owned(), json!(2))]));
/// engine.save(SaveRequest { previous, data: &stale, changes: &changes, ..new }).await?;
/// let stored = engine.load(&created.cookie_value).await?.unwrap();
/// assert_eq!(serde_json::Value::Object((*stored.data).clone()), json!({"a": 1, "b": 2}));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SaveRequest<'a> {
    /// The record being updated; `None` creates a new one (new session, or `cycle_key`).
    pub previous: Option<Previous<'a>>,
    /// The data as the handler left it (an engine that keeps it can share it).
    pub data: &'a Arc<Data>,
    /// What the handler changed, for merging into a record that moved on meanwhile; the values
    /// it set are those in `data`.
    pub changes: &'a ChangeSet,
    /// The modification time: expiry is counted from here.
    pub now: OffsetDateTime,
    /// `SESSION_COOKIE_AGE`, for sessions without a custom expiry.
    pub cookie_age: i64,
}

impl SaveRequest<'_> {
    /// When `data` expires if saved now (Django's `get_expiry_date`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use serde_json::json;
    /// use sessionkit::engine::{ChangeSet, Data, SaveRequest};
    /// use sessionkit::expiry::EXPIRY_KEY;
    /// use time::macros::datetime;
    ///
    /// let (data, changes) = (Arc::new(Data::new()), ChangeSet::default());
    /// let now = datetime!(2030-01-01 0:00 UTC);
    /// let request = SaveRequest {
    ///     previous: None,
    ///     data: &data,
    ///     changes: &changes,
    ///     now,
    ///     cookie_age: 3600,
    /// };
    /// assert_eq!(request.expiry_date(&data), datetime!(2030-01-01 1:00 UTC)); // cookie_age
    /// let custom = Data::from_iter([(EXPIRY_KEY.to_owned(), json!(60))]);
    /// assert_eq!(request.expiry_date(&custom), datetime!(2030-01-01 0:01 UTC));
    /// ```
    pub fn expiry_date(&self, data: &Data) -> OffsetDateTime {
        expiry_date(data, self.now, self.cookie_age)
    }
}

/// Why an engine could not do its job. Bad input is never an error (it is "no session").
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
/// # let session = sessions.start(None).load().await?;
/// use http::StatusCode;
/// use sessionkit::{EngineError, SessionError};
///
/// session.insert("n", 1)?;
/// let cookie = session.save().await?.unwrap();
/// let other_tab = sessions.start(Some(&cookie)).load().await?;
/// other_tab.insert("n", 2)?;
/// sessions.engine().delete(&cookie).await?; // logout in another tab
/// let error = other_tab.save().await.unwrap_err(); // the engine said EngineError::Gone
/// assert!(matches!(error, SessionError::Interrupted));
/// assert_eq!(error.status(), StatusCode::BAD_REQUEST);
/// # let _ = EngineError::Gone;
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed or could not be reached: the request gets a 503.
    #[error("session store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The session was deleted while this request ran (e.g. logout in another tab); saving
    /// would bring it back to life, so the save is refused.
    #[error("the session was deleted by another request while this one ran")]
    Gone,
    /// Concurrent writers kept winning; the save gave up after its retries.
    #[error("the session changed concurrently {attempts} times; gave up saving")]
    Conflict {
        /// How many attempts were made.
        attempts: u32,
    },
    /// The engine cannot do this at all (e.g. list sessions kept only in browsers' cookies).
    #[error("the {engine} engine cannot {what}")]
    Unsupported {
        /// The engine asked.
        engine: EngineKind,
        /// What it was asked to do.
        what: &'static str,
    },
}

impl EngineError {
    /// Wraps a store error.
    ///
    /// ```
    /// use http::StatusCode;
    /// use sessionkit::{EngineError, SessionError};
    ///
    /// // In a custom engine: a failure of the store's client becomes a 503, not a 500.
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "redis is down");
    /// let error = SessionError::from(EngineError::unavailable(io));
    /// assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert!(error.to_string().contains("redis is down")); // for the log, not the response
    /// ```
    pub fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        EngineError::Unavailable(Box::new(error))
    }
}

/// A session engine: one per storage kind, all interchangeable behind this trait.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sessionkit::{Engine, EngineKind, SessionKey, Settings};
///
/// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
/// let engine: Arc<dyn Engine> = sessionkit::engine::open(&settings).await?;
/// assert_eq!(engine.kind(), EngineKind::Cache);
/// assert!(engine.accepts(SessionKey::generate().as_str()));
/// assert!(!engine.accepts("../../etc/passwd")); // refused before any I/O
/// assert!(engine.load(SessionKey::generate().as_str()).await?.is_none()); // unknown: no session
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Which engine this is.
    fn kind(&self) -> EngineKind;

    /// Whether `cookie_value` has a shape this engine could ever recognize, judged without I/O.
    /// Values that fail it are not a session (Django's `_validate_session_key`).
    fn accepts(&self, cookie_value: &str) -> bool;

    /// The record for `cookie_value`; `None` for an unknown, expired, tampered or malformed
    /// value. Only a store failure is an error.
    async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError>;

    /// Persists a session and returns the cookie value to send with the new version.
    ///
    /// Server engines create a record under a fresh key when `previous` is `None` (never
    /// overwriting an existing one), and otherwise update the previous record, merging
    /// `changes` into it if it changed meanwhile. If it was deleted meanwhile, they return
    /// [`EngineError::Gone`] and write nothing.
    async fn save(&self, request: SaveRequest<'_>) -> Result<Saved, EngineError>;

    /// Deletes the record behind `cookie_value`, if any.
    async fn delete(&self, cookie_value: &str) -> Result<(), EngineError>;

    /// Whether a live record exists for `cookie_value`.
    async fn exists(&self, cookie_value: &str) -> Result<bool, EngineError>;

    /// Removes at most `batch` expired records in one short step and returns how many went;
    /// [`clear_expired`] repeats it until none are left. Engines whose records expire by
    /// themselves (cookies, Redis) return `Ok(0)`.
    async fn clear_expired(&self, batch: usize) -> Result<u64, EngineError>;

    /// Creates the engine's schema if it is missing (idempotent). Nothing to do by default.
    async fn migrate(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Tries once to take the lock of the session behind `cookie_value` for `token`; the lock
    /// lapses after `lease` unless released. `Ok(false)` if another holder has it.
    async fn try_lock(
        &self,
        _cookie_value: &str,
        _token: &str,
        _lease: Duration,
    ) -> Result<bool, EngineError> {
        Err(EngineError::Unsupported {
            engine: self.kind(),
            what: "lock a session",
        })
    }

    /// Releases the lock if `token` still holds it (a lapsed lock may belong to someone else).
    async fn unlock(&self, _cookie_value: &str, _token: &str) -> Result<(), EngineError> {
        Err(EngineError::Unsupported {
            engine: self.kind(),
            what: "lock a session",
        })
    }

    /// One page of the store's live sessions, from `cursor` (`None`: from the start), about
    /// `limit` of them, for copying every session to another store ([`copy_sessions`]). The
    /// cursor is opaque: pass the page's `next` to get the following page. Only server
    /// engines can answer; cookie sessions live in browsers.
    async fn export(
        &self,
        _cursor: Option<String>,
        _limit: usize,
    ) -> Result<ExportPage, EngineError> {
        Err(EngineError::Unsupported {
            engine: self.kind(),
            what: "list its sessions",
        })
    }

    /// Stores `session`, exported from another engine, under the same key (so the users'
    /// cookies keep working) unless a live session already has that key: an import never
    /// overwrites. Only server engines can store a session without a request.
    async fn import(&self, _session: &ExportedSession) -> Result<ImportOutcome, EngineError> {
        Err(EngineError::Unsupported {
            engine: self.kind(),
            what: "import sessions",
        })
    }

    /// The live sessions of `user_id` (by [`USER_ID_KEY`]), marking the one of
    /// `current_cookie`. Only server engines can answer; cookie sessions live in browsers.
    async fn user_sessions(
        &self,
        _user_id: &str,
        _current_cookie: Option<&str>,
    ) -> Result<Vec<UserSession>, EngineError> {
        Err(EngineError::Unsupported {
            engine: self.kind(),
            what: "list a user's sessions",
        })
    }

    /// Ends every session of `user_id` except the one of `keep_cookie` ("log out my other
    /// sessions", or everywhere with `None`); returns how many ended.
    async fn delete_user_sessions(
        &self,
        _user_id: &str,
        _keep_cookie: Option<&str>,
    ) -> Result<u64, EngineError> {
        Err(EngineError::Unsupported {
            engine: self.kind(),
            what: "end a user's sessions",
        })
    }
}

/// Removes every expired record, `batch` at a time (one short transaction each, so readers
/// are never blocked for long), calling `progress` with the running total after each batch.
///
/// ```no_run
/// # async fn demo(engine: &dyn sessionkit::Engine) -> Result<(), sessionkit::EngineError> {
/// let removed = sessionkit::engine::clear_expired(engine, 10_000, |n| eprint!("\r{n}")).await?;
/// println!("deleted {removed} expired sessions");
/// # Ok(()) }
/// ```
pub async fn clear_expired(
    engine: &dyn Engine,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> Result<u64, EngineError> {
    let batch = batch.max(1);
    let mut removed = 0;
    loop {
        let done = engine.clear_expired(batch).await?;
        removed += done;
        progress(removed);
        if done < batch as u64 {
            return Ok(removed);
        }
    }
}

/// What [`copy_sessions`] did, session by session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{self, CopyReport};
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
/// let (from, to) = (engine::open(&settings).await?, engine::open(&settings).await?);
/// # let sessions = sessionkit::Sessions::new(from.clone(), settings.clone())?;
/// # let session = sessions.start(None).load().await?;
/// # session.insert("user_id", 42)?;
/// # session.save().await?;
/// let report = engine::copy_sessions(&*from, &*to, 100, |_| {}).await?; // one session
/// assert_eq!(report, CopyReport { copied: 1, ..CopyReport::default() });
/// let again = engine::copy_sessions(&*from, &*to, 100, |_| {}).await?;
/// assert_eq!(again.already_present, 1); // a second run changes nothing
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Sessions stored at the destination.
    pub copied: u64,
    /// Sessions the destination already had (left untouched).
    pub already_present: u64,
    /// Sessions that expired during the copy.
    pub expired: u64,
    /// Sessions the destination could not address: see [`ImportOutcome::KeyUnknown`].
    pub key_unknown: u64,
    /// Live records of the source that could not be read: see [`ExportPage::unreadable`].
    pub unreadable: u64,
}

impl CopyReport {
    /// How many records were looked at so far.
    ///
    /// ```
    /// use sessionkit::engine::CopyReport;
    ///
    /// let report = CopyReport {
    ///     copied: 5,
    ///     already_present: 2,
    ///     unreadable: 1,
    ///     ..CopyReport::default()
    /// };
    /// assert_eq!(report.seen(), 8);
    /// ```
    pub fn seen(&self) -> u64 {
        self.copied + self.already_present + self.expired + self.key_unknown + self.unreadable
    }

    /// Live sessions of the source that are not at the destination after the copy.
    ///
    /// ```
    /// use sessionkit::engine::CopyReport;
    ///
    /// let report = CopyReport {
    ///     copied: 5,
    ///     expired: 2,
    ///     key_unknown: 1,
    ///     unreadable: 1,
    ///     ..Default::default()
    /// };
    /// assert_eq!(report.not_copied(), 2); // expired sessions need no copy
    /// ```
    pub fn not_copied(&self) -> u64 {
        self.key_unknown + self.unreadable
    }

    fn count(&mut self, outcome: ImportOutcome) {
        *match outcome {
            ImportOutcome::Copied => &mut self.copied,
            ImportOutcome::AlreadyPresent => &mut self.already_present,
            ImportOutcome::Expired => &mut self.expired,
            ImportOutcome::KeyUnknown => &mut self.key_unknown,
        } += 1;
    }
}

/// Copies every live session of `from` into `to`, `batch` at a time, calling `progress` with
/// the running report after each page. Sessions keep their keys, data and expiry, so users
/// stay logged in when the application moves to `to`; sessions `to` already has are left as
/// they are. Meant to run while no application writes to either store: a session saved in
/// `from` after its page was read is not copied again.
///
/// ```no_run
/// # async fn demo(
/// #     from: &dyn sessionkit::Engine,
/// #     to: &dyn sessionkit::Engine,
/// # ) -> Result<(), sessionkit::EngineError> {
/// let report = sessionkit::engine::copy_sessions(from, to, 1000, |r| eprint!("\r{}", r.seen()))
///     .await?;
/// println!("copied {} sessions", report.copied);
/// # Ok(()) }
/// ```
pub async fn copy_sessions(
    from: &dyn Engine,
    to: &dyn Engine,
    batch: usize,
    mut progress: impl FnMut(&CopyReport),
) -> Result<CopyReport, EngineError> {
    let batch = batch.max(1);
    let mut report = CopyReport::default();
    let mut cursor = None;
    loop {
        let page = from.export(cursor, batch).await?;
        report.unreadable += page.unreadable;
        for session in &page.sessions {
            report.count(to.import(session).await?);
        }
        progress(&report);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(report),
        }
    }
}

/// Opens the engine `settings` select.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let settings = sessionkit::Settings::from_env()?;
/// let engine = sessionkit::engine::open(&settings).await?;
/// engine.migrate().await?;
/// # Ok(()) }
/// ```
pub async fn open(settings: &Settings) -> Result<Arc<dyn Engine>, OpenError> {
    settings.validate()?;
    let timeout = settings.store_timeout;
    Ok(match settings.engine {
        EngineKind::SignedCookies => Arc::new(SignedCookieEngine::new(settings)),
        EngineKind::Db => Arc::new(DbEngine::connect(settings).await?),
        EngineKind::Cache => Arc::new(ServerEngine::shared(open_cache(settings).await?, timeout)),
        EngineKind::CachedDb => {
            let store = CachedDbStore::new(
                open_cache(settings).await?,
                SqlStore::connect(settings).await?,
                settings,
            );
            Arc::new(ServerEngine::new(store, timeout))
        }
        EngineKind::File => Arc::new(ServerEngine::new(
            FileStore::new(&settings.file_path),
            timeout,
        )),
    })
}

/// Why an engine could not be opened.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{self, OpenError};
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings {
///     engine: EngineKind::File,
///     file_path: "/no/such/directory".into(),
///     ..Settings::new("secret")
/// };
/// let error = engine::open(&settings).await.err().unwrap();
/// assert!(matches!(error, OpenError::Config(e) if e.setting == "SESSION_FILE_PATH"));
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be reached.
    #[error(transparent)]
    Engine(#[from] EngineError),
}
