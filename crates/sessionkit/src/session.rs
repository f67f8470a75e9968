//! `Session`: the dict-like handle a handler uses, with Django's `SessionBase` API and flags.
//!
//! The middleware puts a [`LazySession`] in every request; nothing is loaded until a handler
//! asks for the [`Session`] (the axum extractor, or [`LazySession::load`]). From then on every
//! method is synchronous: the data is in memory, and the middleware saves it after the
//! handler, following Django's decision table. Besides the data, the session records which
//! keys this request changed, so a server engine can merge them into a record that another
//! request updated meanwhile.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::OffsetDateTime;

use crate::engine::{ChangeSet, Data, Engine, Loaded, Previous, SaveRequest, Saved};
use crate::error::SessionError;
use crate::expiry::{EXPIRY_KEY, Expiry, expire_at_browser_close, expiry_age, expiry_date};
use crate::key::SessionKey;
use crate::middleware::MAX_COOKIE_BYTES;
use crate::set_cookie::CookieTemplate;
use crate::settings::Settings;

const TEST_COOKIE_NAME: &str = "testcookie";
/// The longest pause between two tries for a session lock.
const MAX_LOCK_POLL: Duration = Duration::from_millis(20);
const TEST_COOKIE_VALUE: &str = "worked";

/// The record a session was loaded from.
#[derive(Debug, Clone)]
struct Origin {
    /// Shared with [`Shared::incoming`] when it is that cookie: no copy per request.
    cookie_value: Arc<str>,
    version: i64,
}

struct State {
    loaded: bool,
    /// Set when the engine recognized the request's cookie (Django's `_session_key`).
    origin: Option<Origin>,
    /// Shared with the store's copy or a save in flight until the first write copies it.
    data: Arc<Data>,
    changes: ChangeSet,
    accessed: bool,
    modified: bool,
    /// Records to delete at the end of the request (after `flush` or `cycle_key`, or a
    /// session found in a fallback engine), with the engine that holds each.
    retired: Vec<(Arc<dyn Engine>, Arc<str>)>,
    /// The token of the session lock this request holds (`SESSION_LOCKING`).
    lock_token: Option<String>,
}

thread_local! {
    /// The data of a session that has none yet, shared by this thread's requests: most get
    /// their data from the store, and a write copies it anyway.
    static NO_DATA: Arc<Data> = Arc::default();
}

/// An empty session's data, without allocating.
fn no_data() -> Arc<Data> {
    NO_DATA.with(Arc::clone)
}

impl Default for State {
    fn default() -> Self {
        State {
            loaded: false,
            origin: None,
            data: no_data(),
            changes: ChangeSet::default(),
            accessed: false,
            modified: false,
            retired: Vec::new(),
            lock_token: None,
        }
    }
}

impl State {
    fn touch(&mut self) {
        self.accessed = true;
    }

    fn set(&mut self, key: &str, value: Value) {
        self.accessed = true;
        self.modified = true;
        self.changes.set(key);
        let data = Arc::make_mut(&mut self.data);
        // Overwriting keeps the key's place (as `insert` would) without copying its name.
        match data.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                data.insert(key.to_owned(), value);
            }
        }
    }

    fn remove(&mut self, key: &str) -> Option<Value> {
        self.accessed = true;
        if !self.data.contains_key(key) {
            return None;
        }
        self.modified = true;
        self.changes.remove(key);
        Arc::make_mut(&mut self.data).shift_remove(key)
    }

    fn clear(&mut self) {
        self.accessed = true;
        self.modified = true;
        match Arc::get_mut(&mut self.data) {
            Some(data) => data.clear(),
            None => self.data = no_data(),
        }
        self.changes.clear();
    }

    fn retire_origin(&mut self, engine: &Arc<dyn Engine>) {
        if let Some(origin) = self.origin.take() {
            self.retired.push((engine.clone(), origin.cookie_value));
        }
    }

    /// Makes every key a change, so the next save writes the whole session as a new record
    /// (after `cycle_key`, or when moving a session out of a fallback engine).
    fn rewrite_everything(&mut self) {
        self.modified = true;
        self.changes.clear();
        for key in self.data.keys() {
            self.changes.set(key);
        }
    }
}

/// A session at the end of its request, as Django's `SessionMiddleware` judges it.
pub(crate) struct Outcome {
    /// [`Shared::is_empty`].
    pub(crate) empty: bool,
    /// Django's `accessed`: the response must vary on the cookie.
    pub(crate) accessed: bool,
    /// Django's `modified`: the session must be saved.
    pub(crate) modified: bool,
}

/// What every request of one application shares, behind one `Arc`.
pub(crate) struct Config {
    /// The engine sessions are saved in.
    pub(crate) primary: Arc<dyn Engine>,
    /// Engines only read from while moving off them (`SESSION_ENGINE_FALLBACKS`).
    pub(crate) fallbacks: Vec<Arc<dyn Engine>>,
    /// Validated settings.
    pub(crate) settings: Settings,
    /// The session cookie's `Set-Cookie` header, rendered from the settings.
    pub(crate) cookie: CookieTemplate,
}

/// What one request's session shares between the middleware and the handler.
pub(crate) struct Shared {
    config: Arc<Config>,
    /// The cookie value the request carried, if any.
    incoming: Option<Arc<str>>,
    /// Whether the primary engine could recognize `incoming` (judged once, from its shape).
    primary_accepts: bool,
    /// Whether the primary engine or a fallback could.
    plausible: bool,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The application's sessions, for the middleware.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    fn engine(&self) -> &Arc<dyn Engine> {
        &self.config.primary
    }

    fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// The incoming cookie value if some engine could recognize it, without I/O.
    fn plausible_cookie(&self) -> Option<&Arc<str>> {
        self.incoming.as_ref().filter(|_| self.plausible)
    }

    /// The incoming cookie value if the primary engine could recognize it.
    fn primary_cookie(&self) -> Option<&str> {
        self.incoming.as_deref().filter(|_| self.primary_accepts)
    }

    /// The session behind `value` in a fallback engine, with that engine.
    async fn load_from_fallback(
        &self,
        value: &str,
    ) -> Result<Option<(Arc<dyn Engine>, Loaded)>, SessionError> {
        for engine in &self.config.fallbacks {
            if engine.accepts(value)
                && let Some(loaded) = engine.load(value).await?
            {
                tracing::info!(
                    from = %engine.kind(),
                    to = %self.engine().kind(),
                    "moving a session out of a fallback engine"
                );
                return Ok(Some((engine.clone(), loaded)));
            }
        }
        Ok(None)
    }

    pub(crate) fn carried_cookie(&self) -> bool {
        self.incoming.is_some()
    }

    pub(crate) fn is_loaded(&self) -> bool {
        self.state().loaded
    }

    /// Loads the session once; with `exclusive`, first takes the session's lock in the store,
    /// held until [`Shared::release_lock`] (the middleware calls it after saving).
    pub(crate) async fn ensure_loaded(&self, exclusive: bool) -> Result<(), SessionError> {
        if self.state().loaded {
            return Ok(());
        }
        if let Some(cookie) = self.primary_cookie().filter(|_| exclusive) {
            let token = self.acquire_lock(cookie).await?;
            self.state().lock_token = Some(token);
        }
        let Some(value) = self.plausible_cookie().cloned() else {
            if self.incoming.as_deref().is_some_and(|v| !v.is_empty()) {
                tracing::warn!(engine = %self.engine().kind(), "ignoring a malformed session cookie");
            }
            self.state().loaded = true;
            return Ok(());
        };
        let primary = match self.primary_cookie() {
            Some(value) => self.engine().load(value).await?,
            None => None,
        };
        let fallback = match primary {
            Some(_) => None,
            None => self.load_from_fallback(&value).await?,
        };
        let mut state = self.state();
        if state.loaded {
            return Ok(());
        }
        state.loaded = true;
        if let Some(loaded) = primary {
            state.origin = Some(Origin {
                cookie_value: value,
                version: loaded.version,
            });
            state.data = loaded.data;
        } else if let Some((engine, loaded)) = fallback {
            // Served now, written to the primary engine at the end of this request.
            state.data = loaded.data;
            state.rewrite_everything();
            state.retired.push((engine, value));
        }
        Ok(())
    }

    /// Waits for the session's lock, polling with backoff up to `SESSION_LOCK_TIMEOUT`.
    async fn acquire_lock(&self, cookie: &str) -> Result<String, SessionError> {
        let token = SessionKey::generate().as_str().to_owned();
        let settings = self.settings();
        let deadline = Instant::now() + settings.lock_timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            if self
                .engine()
                .try_lock(cookie, &token, settings.lock_lease)
                .await?
            {
                return Ok(token);
            }
            if Instant::now() + pause > deadline {
                return Err(SessionError::Locked {
                    waited: settings.lock_timeout,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_LOCK_POLL);
        }
    }

    /// Releases the session lock if this request holds one. A failure is only logged: the
    /// lease ends the lock anyway.
    pub(crate) async fn release_lock(&self) {
        let token = self.state().lock_token.take();
        let (Some(token), Some(cookie)) = (token, self.incoming.as_deref()) else {
            return;
        };
        if let Err(error) = self.engine().unlock(cookie, &token).await {
            tracing::warn!(%error, "could not release a session lock; its lease will end it");
        }
    }

    /// Django's `is_empty`: no recognized record and no data. Before loading, only the cookie's
    /// shape can tell.
    pub(crate) fn is_empty(&self) -> bool {
        self.is_empty_in(&self.state())
    }

    fn is_empty_in(&self, state: &State) -> bool {
        if state.loaded {
            state.origin.is_none() && state.data.is_empty()
        } else {
            self.plausible_cookie().is_none()
        }
    }

    pub(crate) fn flags(&self) -> (bool, bool) {
        let state = self.state();
        (state.accessed, state.modified)
    }

    /// What the middleware's decision table reads, under one lock.
    pub(crate) fn outcome(&self) -> Outcome {
        let state = self.state();
        Outcome {
            empty: self.is_empty_in(&state),
            accessed: state.accessed,
            modified: state.modified,
        }
    }

    /// `Max-Age` for the cookie set at `now`: `None` for a browser-close session.
    pub(crate) fn cookie_max_age(&self, now: OffsetDateTime) -> Option<i64> {
        let state = self.state();
        if expire_at_browser_close(&state.data, self.settings().expire_at_browser_close) {
            None
        } else {
            Some(expiry_age(&state.data, now, self.settings().cookie_age))
        }
    }

    /// Deletes the records that `flush` or `cycle_key` left behind.
    pub(crate) async fn delete_retired(&self) -> Result<(), SessionError> {
        let retired = std::mem::take(&mut self.state().retired);
        for (engine, cookie_value) in retired {
            engine.delete(&cookie_value).await?;
        }
        Ok(())
    }

    /// `saved`, unless its cookie is one browsers would drop (only a cookie engine's value can be
    /// that long, and such an engine stored nothing).
    fn fits_a_cookie(&self, saved: Saved) -> Result<Saved, SessionError> {
        let size = self.settings().cookie_name.len() + saved.cookie_value.len();
        if size > MAX_COOKIE_BYTES {
            return Err(SessionError::CookieTooLarge {
                size,
                limit: MAX_COOKIE_BYTES,
            });
        }
        Ok(saved)
    }

    /// Saves through the engine as of `now` and returns the cookie value to send, or
    /// [`SessionError::CookieTooLarge`] if browsers would drop that cookie.
    pub(crate) async fn persist(&self, now: OffsetDateTime) -> Result<String, SessionError> {
        // The data is shared, not copied; the changes are taken, and put back if the save fails.
        let (origin, data, changes) = {
            let mut state = self.state();
            (
                state.origin.clone(),
                state.data.clone(),
                std::mem::take(&mut state.changes),
            )
        };
        let saved = self
            .engine()
            .save(SaveRequest {
                previous: origin.as_ref().map(|o| Previous {
                    cookie_value: &o.cookie_value,
                    version: o.version,
                }),
                data: &data,
                changes: &changes,
                now,
                cookie_age: self.settings().cookie_age,
            })
            .await
            .map_err(SessionError::from)
            .and_then(|saved| self.fits_a_cookie(saved));
        let mut state = self.state();
        let saved = match saved {
            Ok(saved) => saved,
            Err(error) => {
                // Nothing was stored: the session stays modified, with all its changes.
                let later = std::mem::replace(&mut state.changes, changes);
                state.changes.extend(later);
                return Err(error);
            }
        };
        // A server engine's record keeps its key: reuse the copy already made.
        let cookie_value = match origin {
            Some(origin) if *origin.cookie_value == *saved.cookie_value => origin.cookie_value,
            _ => Arc::from(saved.cookie_value.as_str()),
        };
        state.origin = Some(Origin {
            cookie_value,
            version: saved.version,
        });
        state.modified = !state.changes.is_empty();
        Ok(saved.cookie_value)
    }
}

impl Drop for Shared {
    /// A request dropped mid-way (client gone, handler panicked) still releases its lock.
    fn drop(&mut self) {
        // Dropping is exclusive access: no need to take the mutex.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let token = state.lock_token.take();
        let (Some(token), Some(cookie)) = (token, self.incoming.take()) else {
            return;
        };
        let engine = self.engine().clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = engine.unlock(&cookie, &token).await;
            });
        }
    }
}

/// The session of a request, not loaded yet. The middleware puts one in the request's
/// extensions; [`LazySession::load`] (or the axum `Session` extractor) loads it on first use.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::{EngineKind, Sessions, Settings};
///
/// let sessions = Sessions::open(Settings {
///     engine: EngineKind::SignedCookies,
///     ..Settings::new("secret")
/// })
/// .await?;
/// let lazy = sessions.start(None); // a request without a cookie
/// let session = lazy.load().await?;
/// assert!(session.is_empty());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LazySession(pub(crate) Arc<Shared>);

impl LazySession {
    pub(crate) fn new(config: Arc<Config>, incoming: Option<Arc<str>>) -> Self {
        let (primary_accepts, plausible) = match incoming.as_deref() {
            Some(value) => {
                let primary = config.primary.accepts(value);
                let fallback = || config.fallbacks.iter().any(|e| e.accepts(value));
                (primary, primary || fallback())
            }
            None => (false, false),
        };
        LazySession(Arc::new(Shared {
            config,
            incoming,
            primary_accepts,
            plausible,
            state: Mutex::new(State::default()),
        }))
    }

    /// Whether a handler (or the middleware) loaded the session already.
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
    /// let lazy = sessions.start(None);
    /// assert!(!lazy.is_loaded()); // the middleware never loads a session nobody asked for
    /// lazy.load().await?;
    /// assert!(lazy.is_loaded());
    /// # Ok(()) }
    /// ```
    pub fn is_loaded(&self) -> bool {
        self.0.is_loaded()
    }

    /// Loads the session (once per request; later calls return the same session).
    /// A store failure is an error; an unknown, expired or tampered cookie is an empty session.
    /// With `SESSION_LOCKING`, it first waits for the session's lock.
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
    /// let lazy = sessions.start(None);
    /// lazy.load().await?.insert("n", 1)?;
    /// assert_eq!(lazy.load().await?.get::<i32>("n")?, Some(1)); // the same session
    ///
    /// // A cookie that is not ours (or expired, or tampered with) is just an empty session.
    /// let session = sessions.start(Some("forged.cookie")).load().await?;
    /// assert!(session.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn load(&self) -> Result<Session, SessionError> {
        self.0.ensure_loaded(self.0.settings().locking).await?;
        Ok(Session(self.0.clone()))
    }

    /// Loads the session holding its lock until the response is sent, whatever
    /// `SESSION_LOCKING` says: for the one route that does a read-modify-write (a counter,
    /// a stock level) in an app that does not lock every route.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use sessionkit::{EngineKind, SessionError, Sessions, Settings};
    ///
    /// let sessions = Sessions::open(Settings {
    ///     engine: EngineKind::Cache,
    ///     lock_timeout: Duration::from_millis(50),
    ///     ..Settings::new("secret")
    /// })
    /// .await?;
    /// # let first = sessions.start(None).load().await?;
    /// # first.insert("stock", 5)?;
    /// # let cookie = first.save().await?.unwrap();
    /// let session = sessions.start(Some(&cookie)).load_locked().await?;
    /// assert_eq!(session.get::<i32>("stock")?, Some(5));
    /// // Meanwhile a second request for the same session waits, and gives up after the timeout.
    /// let other = sessions.start(Some(&cookie)).load_locked().await;
    /// assert!(matches!(other, Err(SessionError::Locked { .. })));
    /// # Ok(()) }
    /// ```
    pub async fn load_locked(&self) -> Result<Session, SessionError> {
        self.0.ensure_loaded(true).await?;
        Ok(Session(self.0.clone()))
    }
}

impl std::fmt::Debug for LazySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazySession")
            .field("engine", &self.0.engine().kind())
            .field("loaded", &self.0.is_loaded())
            .finish()
    }
}

/// A loaded session: a JSON object with Django's dict API and flags.
///
/// Reads set `accessed`; writes set `accessed` and `modified`. Cloning gives another handle
/// to the same session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sessionkit::SessionError> {
/// # let sessions = sessionkit::Sessions::open(sessionkit::Settings {
/// #     engine: sessionkit::EngineKind::SignedCookies,
/// #     ..sessionkit::Settings::new("secret")
/// # }).await.unwrap();
/// # let session = sessions.start(None).load().await?;
/// let visits: u64 = session.get("visits")?.unwrap_or(0);
/// session.insert("visits", visits + 1)?;
/// assert_eq!(session.get::<u64>("visits")?, Some(visits + 1));
/// assert!(session.modified());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session(Arc<Shared>);

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.0.state();
        f.debug_struct("Session")
            .field("engine", &self.0.engine().kind())
            .field("keys", &state.data.keys().collect::<Vec<_>>())
            .field("accessed", &state.accessed)
            .field("modified", &state.modified)
            .finish()
    }
}

impl Session {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state()
    }

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

    /// The raw JSON value under `key`. Sets `accessed`.
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
    /// # Ok(()) }
    /// ```
    pub fn insert(&self, key: &str, value: impl Serialize) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|source| SessionError::Type {
            key: key.to_owned(),
            source,
        })?;
        self.state().set(key, value);
        Ok(())
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
    /// assert_eq!(session.remove("cart"), Some(serde_json::json!(3)));
    /// assert!(session.modified());
    /// # Ok(()) }
    /// ```
    pub fn remove(&self, key: &str) -> Option<Value> {
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
        state.data.keys().cloned().collect()
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
    /// use serde_json::json;
    ///
    /// session.insert("n", 1)?;
    /// session.insert("name", "Ada")?;
    /// assert_eq!(session.values(), [json!(1), json!("Ada")]);
    /// # Ok(()) }
    /// ```
    pub fn values(&self) -> Vec<Value> {
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
    /// assert_eq!(items, [("user_id".to_owned(), serde_json::json!(42))]);
    /// # Ok(()) }
    /// ```
    pub fn items(&self) -> Vec<(String, Value)> {
        let mut state = self.state();
        state.touch();
        state
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Stores every entry of `entries`. Sets `accessed` and `modified`.
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
    /// session.update([("a".to_owned(), json!(1)), ("b".to_owned(), json!([2, 3]))]);
    /// assert_eq!(session.get::<Vec<i32>>("b")?, Some(vec![2, 3]));
    /// assert!(session.modified());
    /// # Ok(()) }
    /// ```
    pub fn update(&self, entries: impl IntoIterator<Item = (String, Value)>) {
        let mut state = self.state();
        state.touch();
        state.modified = true;
        for (key, value) in entries {
            state.set(&key, value);
        }
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

    /// Logs out: empties the session and deletes its record; a later write starts a new
    /// session under a new key. Use it on logout.
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
    /// # first.insert("user_id", 42)?;
    /// # let cookie = first.save().await?.unwrap();
    /// let session = sessions.start(Some(&cookie)).load().await?; // a logged-in user
    /// session.flush();
    /// assert!(session.is_empty());
    /// assert_eq!(session.session_key(), None);
    /// session.save().await?; // deletes the record (the middleware does this after the response)
    /// assert!(sessions.start(Some(&cookie)).load().await?.is_empty()); // the old cookie is dead
    /// # Ok(()) }
    /// ```
    pub fn flush(&self) {
        let mut state = self.state();
        state.clear();
        state.retire_origin(self.0.engine());
    }

    /// Keeps the data under a new key and deletes the old record. Use it on login, against
    /// session fixation.
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
    /// # let old_cookie = first.save().await?.unwrap();
    /// let session = sessions.start(Some(&old_cookie)).load().await?;
    /// session.insert("user_id", 42)?; // logging in
    /// session.cycle_key();
    /// let new_cookie = session.save().await?.unwrap();
    /// assert_ne!(new_cookie, old_cookie);
    /// assert_eq!(session.get::<i32>("cart")?, Some(3)); // the data stays
    /// assert!(sessions.start(Some(&old_cookie)).load().await?.is_empty()); // the old key is dead
    /// # Ok(()) }
    /// ```
    pub fn cycle_key(&self) {
        let mut state = self.state();
        state.touch();
        state.retire_origin(self.0.engine());
        state.rewrite_everything();
    }

    /// Sets when the session expires (Django's `set_expiry`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sessionkit::SessionError> {
    /// # let sessions = sessionkit::Sessions::open(sessionkit::Settings {
    /// #     engine: sessionkit::EngineKind::SignedCookies,
    /// #     ..sessionkit::Settings::new("secret")
    /// # }).await.unwrap();
    /// # let session = sessions.start(None).load().await?;
    /// use sessionkit::Expiry;
    ///
    /// session.set_expiry(Expiry::After(time::Duration::minutes(30)));
    /// assert_eq!(session.expiry_age(), 1800);
    /// session.set_expiry(Expiry::BrowserClose);
    /// assert!(session.expire_at_browser_close());
    /// # Ok(()) }
    /// ```
    pub fn set_expiry(&self, expiry: Expiry) {
        match expiry.to_stored() {
            Some(value) => self.state().set(EXPIRY_KEY, value),
            None => {
                self.remove(EXPIRY_KEY);
            }
        }
    }

    /// Seconds until expiry, counted from now (Django's `get_expiry_age`). Sets `accessed`.
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
    /// use sessionkit::Expiry;
    ///
    /// assert_eq!(session.expiry_age(), 1_209_600); // SESSION_COOKIE_AGE: two weeks
    /// session.set_expiry(Expiry::After(time::Duration::minutes(5)));
    /// assert_eq!(session.expiry_age(), 300);
    /// # Ok(()) }
    /// ```
    pub fn expiry_age(&self) -> i64 {
        self.expiry_age_since(OffsetDateTime::now_utc())
    }

    /// Seconds until expiry, counted from `modification`. Sets `accessed`.
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
    /// use sessionkit::Expiry;
    /// use time::macros::datetime;
    ///
    /// session.set_expiry(Expiry::At(datetime!(2030-01-01 12:00 UTC)));
    /// assert_eq!(session.expiry_age_since(datetime!(2030-01-01 11:00 UTC)), 3600);
    /// # Ok(()) }
    /// ```
    pub fn expiry_age_since(&self, modification: OffsetDateTime) -> i64 {
        let mut state = self.state();
        state.touch();
        expiry_age(&state.data, modification, self.0.settings().cookie_age)
    }

    /// When the session expires if saved now (Django's `get_expiry_date`). Sets `accessed`.
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
    /// use sessionkit::Expiry;
    /// use time::macros::datetime;
    ///
    /// session.set_expiry(Expiry::At(datetime!(2030-01-01 12:00 UTC)));
    /// assert_eq!(session.expiry_date(), datetime!(2030-01-01 12:00 UTC));
    /// # Ok(()) }
    /// ```
    pub fn expiry_date(&self) -> OffsetDateTime {
        self.expiry_date_since(OffsetDateTime::now_utc())
    }

    /// When the session expires if saved at `modification`. Sets `accessed`.
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
    /// use sessionkit::Expiry;
    /// use time::macros::datetime;
    ///
    /// let saved = datetime!(2030-01-01 0:00 UTC);
    /// assert_eq!(session.expiry_date_since(saved), datetime!(2030-01-15 0:00 UTC)); // 2 weeks
    /// session.set_expiry(Expiry::After(time::Duration::hours(1)));
    /// assert_eq!(session.expiry_date_since(saved), datetime!(2030-01-01 1:00 UTC));
    /// # Ok(()) }
    /// ```
    pub fn expiry_date_since(&self, modification: OffsetDateTime) -> OffsetDateTime {
        let mut state = self.state();
        state.touch();
        expiry_date(&state.data, modification, self.0.settings().cookie_age)
    }

    /// Whether the cookie ends with the browser session (Django's
    /// `get_expire_at_browser_close`). Sets `accessed`.
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
    /// assert!(!session.expire_at_browser_close()); // SESSION_EXPIRE_AT_BROWSER_CLOSE=false
    /// session.set_expiry(sessionkit::Expiry::BrowserClose);
    /// assert!(session.expire_at_browser_close());
    /// # Ok(()) }
    /// ```
    pub fn expire_at_browser_close(&self) -> bool {
        let mut state = self.state();
        state.touch();
        expire_at_browser_close(&state.data, self.0.settings().expire_at_browser_close)
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
        self.state()
            .set(TEST_COOKIE_NAME, Value::from(TEST_COOKIE_VALUE));
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
        self.get_value(TEST_COOKIE_NAME)
            .as_ref()
            .and_then(Value::as_str)
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

    /// The key of the stored record, for server engines once the session exists in the store.
    /// `None` for a new or flushed session and for `signed_cookies`.
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
    /// assert_eq!(session.session_key(), None); // new: no record yet
    /// session.insert("n", 1)?;
    /// let cookie = session.save().await?.unwrap();
    /// assert_eq!(session.session_key().unwrap().as_str(), cookie);
    /// # Ok(()) }
    /// ```
    pub fn session_key(&self) -> Option<SessionKey> {
        if !self.0.engine().kind().is_server_side() {
            return None;
        }
        let state = self.state();
        state
            .origin
            .as_ref()
            .and_then(|o| SessionKey::parse(&o.cookie_value))
    }

    /// Whether the handler read or wrote the session (Django's `accessed`).
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
    /// assert!(!session.accessed());
    /// let _ = session.contains_key("cart");
    /// assert!(session.accessed()); // the response gets `Vary: Cookie`
    /// assert!(!session.modified());
    /// # Ok(()) }
    /// ```
    pub fn accessed(&self) -> bool {
        self.0.flags().0
    }

    /// Whether the handler changed the session (Django's `modified`).
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
    /// let mut cart: Vec<String> = session.get("cart")?.unwrap_or_default();
    /// cart.push("apple".to_owned()); // a copy: the session has not changed
    /// assert!(!session.modified());
    /// session.insert("cart", cart)?; // as in Django, store it again to save it
    /// assert!(session.modified());
    /// # Ok(()) }
    /// ```
    pub fn modified(&self) -> bool {
        self.0.flags().1
    }

    /// Saves now, as the middleware does after a successful response, and returns the cookie
    /// value (`None` if the session is empty and nothing was stored). Records left behind by
    /// `flush` or `cycle_key` are deleted first. For use outside the middleware: background
    /// jobs, tests, tools. Unlike the middleware, it saves a session that was not modified too.
    /// Like the middleware, it refuses a cookie value browsers would drop
    /// ([`MAX_COOKIE_BYTES`]) with [`SessionError::CookieTooLarge`].
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
    /// assert_eq!(session.save().await?, None); // empty: nothing stored, no cookie
    /// session.insert("n", 1)?;
    /// let cookie = session.save().await?.expect("a cookie value");
    /// assert!(!session.modified());
    /// let next = sessions.start(Some(&cookie)).load().await?;
    /// assert_eq!(next.get::<i32>("n")?, Some(1));
    /// # Ok(()) }
    /// ```
    pub async fn save(&self) -> Result<Option<String>, SessionError> {
        self.0.delete_retired().await?;
        if self.0.is_empty() {
            return Ok(None);
        }
        self.0.persist(OffsetDateTime::now_utc()).await.map(Some)
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
    /// assert_eq!(map["a"], 1); // a copy, not a view
    /// # Ok(()) }
    /// ```
    pub fn to_map(&self) -> Data {
        let mut state = self.state();
        state.touch();
        Data::clone(&state.data)
    }
}

/// `value` as a `T`, read in place (no copy of the JSON).
fn typed<T: DeserializeOwned>(key: &str, value: &Value) -> Result<T, SessionError> {
    T::deserialize(value).map_err(|source| SessionError::Type {
        key: key.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::Sessions;
    use crate::engine::{EngineError, MemoryStore, Saved, ServerEngine};
    use crate::middleware::signed_cookie_sessions;
    use crate::settings::EngineKind;

    /// The memory cache, with a switch that makes the next save fail as a store outage would.
    struct FailNextSave {
        inner: ServerEngine<MemoryStore>,
        fail: AtomicBool,
    }

    #[async_trait]
    impl Engine for FailNextSave {
        fn kind(&self) -> EngineKind {
            self.inner.kind()
        }
        fn accepts(&self, cookie_value: &str) -> bool {
            self.inner.accepts(cookie_value)
        }
        async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError> {
            self.inner.load(cookie_value).await
        }
        async fn save(&self, request: SaveRequest<'_>) -> Result<Saved, EngineError> {
            if self.fail.swap(false, Ordering::SeqCst) {
                return Err(EngineError::unavailable(std::io::Error::other(
                    "store down",
                )));
            }
            self.inner.save(request).await
        }
        async fn delete(&self, cookie_value: &str) -> Result<(), EngineError> {
            self.inner.delete(cookie_value).await
        }
        async fn exists(&self, cookie_value: &str) -> Result<bool, EngineError> {
            self.inner.exists(cookie_value).await
        }
        async fn clear_expired(&self, batch: usize) -> Result<u64, EngineError> {
            self.inner.clear_expired(batch).await
        }
    }

    #[tokio::test]
    async fn saving_a_cookie_browsers_would_drop_is_an_error_and_leaves_the_session_modified() {
        let sessions = signed_cookie_sessions().await;
        let session = sessions.start(None).load().await.unwrap();
        // 6,400 random [a-z0-9] characters stay above 4096 bytes even zlibbed and in base64.
        let blob: String = (0..200)
            .map(|_| SessionKey::generate().as_str().to_owned())
            .collect();
        session.insert("n", 1).unwrap();
        session.insert("blob", blob).unwrap();
        let error = session.save().await.unwrap_err();
        let SessionError::CookieTooLarge { size, limit } = error else {
            panic!("expected CookieTooLarge, got {error}");
        };
        assert!(
            size > limit && limit == MAX_COOKIE_BYTES,
            "{size} of {limit}"
        );
        assert!(session.modified());
        session.remove("blob");
        let cookie = session.save().await.unwrap().expect("a cookie that fits");
        let reloaded = sessions.start(Some(&cookie)).load().await.unwrap();
        assert_eq!(reloaded.get::<i64>("n").unwrap(), Some(1));
    }

    #[tokio::test]
    async fn a_failed_save_keeps_the_changes_so_a_retry_merges_them() {
        let engine = Arc::new(FailNextSave {
            inner: ServerEngine::new(MemoryStore::new(16), Duration::from_secs(1)),
            fail: AtomicBool::new(false),
        });
        let sessions = Sessions::new(engine.clone(), Settings::new("secret")).unwrap();
        let first = sessions.start(None).load().await.unwrap();
        first.insert("a", 1).unwrap();
        let cookie = first.save().await.unwrap().expect("a new session");

        let session = sessions.start(Some(&cookie)).load().await.unwrap();
        session.insert("b", 2).unwrap();
        engine.fail.store(true, Ordering::SeqCst);
        assert!(session.save().await.is_err());
        assert!(session.modified());
        // Meanwhile another request moves the record on, so the retry has to merge.
        let other = sessions.start(Some(&cookie)).load().await.unwrap();
        other.insert("a", 5).unwrap();
        other.save().await.unwrap();
        session.save().await.unwrap();
        assert!(!session.modified());

        let stored = sessions.start(Some(&cookie)).load().await.unwrap();
        assert_eq!(stored.get::<i64>("a").unwrap(), Some(5));
        assert_eq!(stored.get::<i64>("b").unwrap(), Some(2));
    }
}
