//! [`LazySession`]: what the middleware puts in every request; it loads the [`Session`] on a
//! handler's first use, so a request that never asks for it costs no I/O.

use std::sync::Arc;

use super::Session;
use super::lifecycle::{Config, Shared};
use crate::error::SessionError;

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
        LazySession(Arc::new(Shared::new(config, incoming)))
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
            .field("engine", &self.0.engine().name())
            .field("loaded", &self.0.is_loaded())
            .finish()
    }
}
