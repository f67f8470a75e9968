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
use crate::settings::{ConfigError, EngineKind, Settings};
use cache::open_cache;

pub mod cache;
pub mod cached_db;
pub mod db;
pub mod file;
pub mod server;
pub mod signed_cookies;

pub use cache::{Cache, MemoryStore, RedisStore};
pub use cached_db::CachedDbStore;
pub use db::{DbEngine, SqlStore};
pub use file::FileStore;
pub use server::{RecordStore, ServerEngine, StoredRecord};
pub use signed_cookies::SignedCookieEngine;

/// Session data: a JSON object in insertion order.
pub type Data = Map<String, Value>;

/// The session key naming the logged-in user (Django's `django.contrib.auth.SESSION_KEY`);
/// server engines index it so a user's sessions can be listed and ended together.
pub const USER_ID_KEY: &str = "_auth_user_id";

/// The user a session belongs to: the value under [`USER_ID_KEY`], a string or a number.
pub fn user_of(data: &Data) -> Option<String> {
    match data.get(USER_ID_KEY)? {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// One of a user's live sessions, as [`Engine::user_sessions`] lists them.
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

/// A record an engine found for a cookie value.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The session data.
    pub data: Data,
    /// The stored version, for compare-and-swap saves (always 0 for cookie engines).
    pub version: i64,
}

/// What a save replaces: the cookie value the record was loaded from, and its version then.
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    /// The cookie value the request carried.
    pub cookie_value: &'a str,
    /// [`Loaded::version`] at load time.
    pub version: i64,
}

/// The changes one request made, key by key, in the order that reproduces them.
///
/// ```
/// use serde_json::json;
/// use sessionkit::engine::ChangeSet;
///
/// let mut changes = ChangeSet::default();
/// changes.set("cart", json!([1]));
/// changes.remove("coupon");
/// let mut stored = json!({"coupon": "X", "theme": "dark"}).as_object().unwrap().clone();
/// changes.apply_to(&mut stored);
/// assert_eq!(serde_json::Value::Object(stored), json!({"theme": "dark", "cart": [1]}));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// The request cleared the session first (`clear`, `flush`, `cycle_key`).
    pub cleared: bool,
    /// Keys set, with their final values.
    pub set: Data,
    /// Keys removed (and not set again afterwards).
    pub removed: BTreeSet<String>,
}

impl ChangeSet {
    /// Records `key = value`.
    pub fn set(&mut self, key: &str, value: Value) {
        self.removed.remove(key);
        self.set.insert(key.to_owned(), value);
    }

    /// Records the removal of `key`.
    pub fn remove(&mut self, key: &str) {
        self.set.shift_remove(key);
        self.removed.insert(key.to_owned());
    }

    /// Records that the session was emptied: earlier changes no longer matter.
    pub fn clear(&mut self) {
        *self = ChangeSet {
            cleared: true,
            ..ChangeSet::default()
        };
    }

    /// Whether the request changed nothing.
    pub fn is_empty(&self) -> bool {
        !self.cleared && self.set.is_empty() && self.removed.is_empty()
    }

    /// Applies these changes to `data` (the freshest stored version of the session).
    pub fn apply_to(&self, data: &mut Data) {
        if self.cleared {
            data.clear();
        }
        for key in &self.removed {
            data.shift_remove(key);
        }
        for (key, value) in &self.set {
            data.insert(key.clone(), value.clone());
        }
    }
}

/// What a save produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The cookie value to send: the key, or for `signed_cookies` the signed data.
    pub cookie_value: String,
    /// The record's version after the save, for the next compare-and-swap.
    pub version: i64,
}

/// Everything an engine needs to persist one request's session.
#[derive(Debug, Clone, Copy)]
pub struct SaveRequest<'a> {
    /// The record being updated; `None` creates a new one (new session, or `cycle_key`).
    pub previous: Option<Previous<'a>>,
    /// The data as the handler left it.
    pub data: &'a Data,
    /// What the handler changed, for merging into a record that moved on meanwhile.
    pub changes: &'a ChangeSet,
    /// The modification time: expiry is counted from here.
    pub now: OffsetDateTime,
    /// `SESSION_COOKIE_AGE`, for sessions without a custom expiry.
    pub cookie_age: i64,
}

impl SaveRequest<'_> {
    /// When `data` expires if saved now (Django's `get_expiry_date`).
    pub fn expiry_date(&self, data: &Data) -> OffsetDateTime {
        expiry_date(data, self.now, self.cookie_age)
    }
}

/// Why an engine could not do its job. Bad input is never an error (it is "no session").
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
    pub fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        EngineError::Unavailable(Box::new(error))
    }
}

/// A session engine: one per storage kind, all interchangeable behind this trait.
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
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be reached.
    #[error(transparent)]
    Engine(#[from] EngineError),
}
