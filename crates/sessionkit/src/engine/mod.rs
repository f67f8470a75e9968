//! The engine contract: how a cookie value becomes session data and back.
//!
//! The middleware only ever sees the cookie value. A server engine reads it as a key into its
//! store; the `signed_cookies` engine reads the data out of the value itself. One object-safe
//! trait covers both, the way Django's backends share one `SessionBase` interface.
//!
//! Saves carry this request's per-key [`ChangeSet`] as well as the whole data, so a server
//! engine can apply the changes to the freshest stored record under a version check instead of
//! overwriting what a concurrent request wrote.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

pub mod cache;
#[cfg(feature = "_sql")]
mod cache_health;
#[cfg(feature = "_sql")]
pub mod cached_db;
#[cfg(feature = "_sql")]
pub mod db;
pub mod encrypted_cookies;
pub mod file;
pub mod near;
mod open;
mod revocation;
mod save;
pub mod server;
pub mod signed_cookies;
pub mod store;
mod transfer;
mod user_sessions;

#[cfg(feature = "redis")]
pub use cache::RedisStore;
pub use cache::{Cache, MemoryStore};
#[cfg(feature = "_sql")]
pub use cached_db::CachedDbStore;
#[cfg(feature = "_sql")]
pub use db::{DbEngine, SqlStore};
pub use encrypted_cookies::EncryptedCookieEngine;
pub use file::FileStore;
pub use near::{NearCacheConfig, NearCacheStore};
pub use open::{OpenError, open};
pub use revocation::{RevocationList, SESSION_ID_KEY};
pub use save::{ChangeSet, Previous, SaveRequest, Saved};
pub use server::ServerEngine;
pub use signed_cookies::SignedCookieEngine;
pub use store::{
    Addressing, Capabilities, RecordStore, RecordWrite, ScanPage, StoredRecord, is_key_hash,
    lease_window,
};
pub use transfer::{CopyReport, ExportPage, ExportedSession, ImportOutcome, copy_sessions};
pub use user_sessions::{USER_ID_KEY, UserSession, user_of};

pub use crate::expiry_task::EXPIRY_BATCH;
pub use crate::key::SessionKey;

pub use crate::django::json::{Data, JsonText};

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
/// assert_eq!(loaded.data["n"].parse::<i32>()?, 1);
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
/// use sessionkit::SessionError;
/// use sessionkit::engine::EngineError;
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
#[non_exhaustive]
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
        /// The engine asked ([`Engine::name`]).
        engine: &'static str,
        /// What it was asked to do.
        what: &'static str,
    },
}

impl EngineError {
    /// Wraps a store error.
    ///
    /// ```
    /// use http::StatusCode;
    /// use sessionkit::SessionError;
    /// use sessionkit::engine::EngineError;
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

    /// The answer to what `engine` cannot do at all, e.g. `unsupported("file", "lock a session")`.
    ///
    /// ```
    /// use sessionkit::engine::EngineError;
    ///
    /// let error = EngineError::unsupported("dynamodb", "list a user's sessions");
    /// assert_eq!(error.to_string(), "the dynamodb engine cannot list a user's sessions");
    /// ```
    pub fn unsupported(engine: &'static str, what: &'static str) -> Self {
        EngineError::Unsupported { engine, what }
    }

    /// A short name of the kind of failure, for metrics and logs: `unavailable`, `gone`,
    /// `conflict` or `unsupported`.
    ///
    /// ```
    /// use sessionkit::engine::EngineError;
    ///
    /// assert_eq!(EngineError::Gone.kind(), "gone");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::Unavailable(_) => "unavailable",
            EngineError::Gone => "gone",
            EngineError::Conflict { .. } => "conflict",
            EngineError::Unsupported { .. } => "unsupported",
        }
    }
}

/// A session engine: one per storage kind, all interchangeable behind this trait.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sessionkit::engine::Capabilities;
/// use sessionkit::{EngineKind, Settings};
/// use sessionkit::engine::Engine;
/// use sessionkit::engine::SessionKey;
///
/// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
/// let engine: Arc<dyn Engine> = sessionkit::engine::open(&settings).await?;
/// assert_eq!(engine.name(), "cache");
/// assert_eq!(engine.capabilities(), Capabilities::ALL);
/// assert!(!engine.keeps_data_in_cookie());
/// assert!(engine.accepts(SessionKey::generate().as_str()));
/// assert!(!engine.accepts("../../etc/passwd")); // refused before any I/O
/// assert!(engine.load(SessionKey::generate().as_str()).await?.is_none()); // unknown: no session
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// A short name for logs and errors: "signed_cookies", "encrypted_cookies", "db", "cache",
    /// "cached_db", "file", or a custom store's own.
    fn name(&self) -> &'static str;

    /// Whether the cookie carries the session data itself (`signed_cookies`,
    /// `encrypted_cookies`) rather than a
    /// key into a store: such a session has no key and cannot be listed or locked, and is
    /// revoked only through the revocation list (`SESSION_REVOCATION_URL`).
    fn keeps_data_in_cookie(&self) -> bool {
        false
    }

    /// Whether a session just loaded from `cookie_value` should be saved again at the end of
    /// the request even if it is unchanged, judged without I/O. The cookie engines say so for
    /// a value signed or sealed with a key now only in `SECRET_KEY_FALLBACKS`: making it again
    /// with `SECRET_KEY` moves active users off the old key, which can then be dropped. `false`
    /// by default.
    ///
    /// ```
    /// use sessionkit::engine::{Engine, SessionKey};
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
    /// let engine = sessionkit::engine::open(&settings).await?;
    /// assert!(!engine.needs_reissue(SessionKey::generate().as_str())); // a key stays a key
    /// # Ok(()) }
    /// ```
    fn needs_reissue(&self, _cookie_value: &str) -> bool {
        false
    }

    /// What the engine can do beyond loading and saving sessions; nothing by default.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

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

    /// How many expired records are still stored, waiting for [`clear_expired`]; `None` if
    /// the engine cannot tell (cookies, stores that expire records by themselves).
    async fn count_expired(&self) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }

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
        Err(EngineError::unsupported(self.name(), "lock a session"))
    }

    /// Releases the lock if `token` still holds it (a lapsed lock may belong to someone else).
    async fn unlock(&self, _cookie_value: &str, _token: &str) -> Result<(), EngineError> {
        Err(EngineError::unsupported(self.name(), "lock a session"))
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
        Err(EngineError::unsupported(self.name(), "list its sessions"))
    }

    /// Stores `session`, exported from another engine, under the same key (so the users'
    /// cookies keep working) unless a live session already has that key: an import never
    /// overwrites. Only server engines can store a session without a request.
    async fn import(&self, _session: &ExportedSession) -> Result<ImportOutcome, EngineError> {
        Err(EngineError::unsupported(self.name(), "import sessions"))
    }

    /// The live sessions of `user_id` (by [`USER_ID_KEY`]), marking the one of
    /// `current_cookie`. Only server engines can answer; cookie sessions live in browsers.
    async fn user_sessions(
        &self,
        _user_id: &str,
        _current_cookie: Option<&str>,
    ) -> Result<Vec<UserSession>, EngineError> {
        Err(EngineError::unsupported(
            self.name(),
            "list a user's sessions",
        ))
    }

    /// Ends every session of `user_id` except the one of `keep_cookie` ("log out my other
    /// sessions", or everywhere with `None`); returns how many ended. The cookie engines can
    /// only with the revocation list: they mark the user there and return 0, as no one can
    /// count the browsers holding a cookie ([`RevocationList`]).
    async fn delete_user_sessions(
        &self,
        _user_id: &str,
        _keep_cookie: Option<&str>,
    ) -> Result<u64, EngineError> {
        Err(EngineError::unsupported(
            self.name(),
            "end a user's sessions",
        ))
    }
}

/// How long one step of [`clear_expired`] should take: long enough that a step costs little
/// more than its share of one plain `DELETE`, short enough that no reader waits noticeably.
pub const CLEAR_STEP_TARGET: Duration = Duration::from_millis(100);

/// The size of the first step of [`clear_expired`], before it has timed one.
const FIRST_CLEAR_STEP: usize = 1_000;

/// Removes every expired record in short steps (one statement each, so readers are never
/// blocked for long), calling `progress` with the running total after each. Steps start at
/// 1,000 records and double while one takes under [`CLEAR_STEP_TARGET`] (halving past twice
/// that), up to `max_batch`: a million expired PostgreSQL rows go in a few dozen statements.
///
/// ```no_run
/// # async fn demo(engine: &dyn sessionkit::engine::Engine) -> Result<(), sessionkit::engine::EngineError> {
/// let removed = sessionkit::engine::clear_expired(engine, 100_000, |n| eprint!("\r{n}")).await?;
/// println!("deleted {removed} expired sessions");
/// # Ok(()) }
/// ```
pub async fn clear_expired(
    engine: &dyn Engine,
    max_batch: usize,
    mut progress: impl FnMut(u64),
) -> Result<u64, EngineError> {
    let max_batch = max_batch.max(1);
    let mut batch = FIRST_CLEAR_STEP.min(max_batch);
    let mut removed = 0;
    loop {
        let started = Instant::now();
        let done = engine.clear_expired(batch).await?;
        crate::telemetry::expired_removed(engine.name(), done);
        removed += done;
        progress(removed);
        if done < batch as u64 {
            return Ok(removed);
        }
        let took = started.elapsed();
        if took < CLEAR_STEP_TARGET {
            batch = batch.saturating_mul(2).min(max_batch);
        } else if took > CLEAR_STEP_TARGET * 2 {
            batch = (batch / 2).max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// An engine holding `left` expired records, noting the size of every step asked of it.
    struct Expired {
        left: Mutex<u64>,
        asked: Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl Engine for Expired {
        fn name(&self) -> &'static str {
            "expired"
        }
        fn accepts(&self, _: &str) -> bool {
            false
        }
        async fn load(&self, _: &str) -> Result<Option<Loaded>, EngineError> {
            Ok(None)
        }
        async fn save(&self, _: SaveRequest<'_>) -> Result<Saved, EngineError> {
            Err(EngineError::Gone)
        }
        async fn delete(&self, _: &str) -> Result<(), EngineError> {
            Ok(())
        }
        async fn exists(&self, _: &str) -> Result<bool, EngineError> {
            Ok(false)
        }
        async fn clear_expired(&self, batch: usize) -> Result<u64, EngineError> {
            self.asked.lock().unwrap().push(batch);
            let mut left = self.left.lock().unwrap();
            let done = (*left).min(batch as u64);
            *left -= done;
            Ok(done)
        }
    }

    #[tokio::test]
    async fn quick_steps_double_up_to_the_maximum_and_the_last_short_one_ends_it() {
        let engine = Expired {
            left: Mutex::new(20_500),
            asked: Mutex::new(Vec::new()),
        };
        let mut seen = Vec::new();
        let removed = clear_expired(&engine, 5_000, |n| seen.push(n))
            .await
            .unwrap();
        assert_eq!(removed, 20_500);
        let asked = engine.asked.into_inner().unwrap();
        assert_eq!(asked, [1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
        assert_eq!(seen, [1_000, 3_000, 7_000, 12_000, 17_000, 20_500]);
    }
}
