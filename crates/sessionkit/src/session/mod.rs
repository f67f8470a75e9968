//! `Session`: the dict-like handle a handler uses, with Django's `SessionBase` API and flags.
//!
//! The middleware puts a [`LazySession`] in every request; nothing is loaded until a handler
//! asks for the [`Session`] (the axum extractor, or [`LazySession::load`]). From then on every
//! method is synchronous: the data is in memory, and the middleware saves it after the
//! handler, following Django's decision table. Besides the data, the session records which
//! keys this request changed, so a server engine can merge them into a record that another
//! request updated meanwhile.
//!
//! The parts: [`state`] holds the data, flags and changes; [`lifecycle`] loads, locks and
//! saves through the engines; [`lazy`] is the request's not-yet-loaded handle; [`dict`] and
//! [`expiry`] are Django's API on the loaded [`Session`].

mod dict;
mod expiry;
mod lazy;
mod lifecycle;
mod state;
mod timeouts;

use std::sync::{Arc, MutexGuard};

use time::OffsetDateTime;

use crate::error::SessionError;
use crate::key::SessionKey;
pub use lazy::LazySession;
pub(crate) use lifecycle::{Config, Shared, delete_records};
pub(crate) use state::Outcome;
use state::State;

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
            .field("engine", &self.0.engine().name())
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
        if self.0.engine().keeps_data_in_cookie() {
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
    /// ([`MAX_COOKIE_BYTES`](crate::settings::MAX_COOKIE_BYTES)) with [`SessionError::CookieTooLarge`].
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
        let (cookie_value, _) = self.0.persist(OffsetDateTime::now_utc()).await?;
        Ok(Some(cookie_value))
    }
}
