//! [`SessionsBuilder`]: [`Sessions`] built in code — no environment variables, no
//! `sessionkit.toml` — for applications that keep their configuration elsewhere, and for tests.

use std::path::PathBuf;
use std::sync::Arc;

#[cfg(feature = "_sql")]
use crate::engine::DbEngine;
#[cfg(feature = "_sql")]
use crate::engine::db::TypedBackend;
use crate::engine::{Engine, OpenError, RecordStore, ServerEngine};
use crate::sessions::Sessions;
use crate::settings::{EngineKind, Settings};

/// Builds [`Sessions`] step by step, starting from the secure defaults of [`Settings::new`].
/// The common choices have methods; [`SessionsBuilder::configure`] reaches every setting.
/// Nothing is checked or opened until [`SessionsBuilder::open`], which fails with the same
/// errors, naming the setting, as [`Sessions::open`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::{EngineKind, Sessions};
///
/// let sessions = Sessions::builder("a long random secret")
///     .engine(EngineKind::Cache)
///     .cache_url("memory://?max_entries=10000")
///     .cookie_name("__Host-session")
///     .cookie_age(8 * 60 * 60)
///     .configure(|settings| settings.save_every_request = true)
///     .open()
///     .await?;
/// assert_eq!(sessions.engine().name(), "cache");
/// assert_eq!(sessions.settings().cookie_age, 8 * 60 * 60);
///
/// let wrong = Sessions::builder("secret").cookie_age(-1).open().await.unwrap_err();
/// assert!(matches!(wrong, sessionkit::engine::OpenError::Config(e) if e.setting == "SESSION_COOKIE_AGE"));
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `open` is called"]
pub struct SessionsBuilder {
    settings: Settings,
    /// The engine given instead of `SESSION_ENGINE`'s, made from the final settings.
    engine: Option<MakeEngine>,
}

type MakeEngine = Box<dyn FnOnce(&Settings) -> Arc<dyn Engine> + Send>;

impl std::fmt::Debug for SessionsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionsBuilder")
            .field("settings", &self.settings)
            .field("own_engine", &self.engine.is_some())
            .finish()
    }
}

impl Sessions {
    /// Starts building `Sessions` in code, from [`Settings::new`]`(secret_key)`: no
    /// environment variables, no file. See [`SessionsBuilder`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sessions = sessionkit::Sessions::builder("secret")
    ///     .engine(sessionkit::EngineKind::SignedCookies)
    ///     .open()
    ///     .await?;
    /// assert!(sessions.engine().keeps_data_in_cookie());
    /// # Ok(()) }
    /// ```
    pub fn builder(secret_key: impl Into<String>) -> SessionsBuilder {
        SessionsBuilder::new(secret_key)
    }
}

impl SessionsBuilder {
    pub(crate) fn new(secret_key: impl Into<String>) -> Self {
        SessionsBuilder {
            settings: Settings::new(secret_key),
            engine: None,
        }
    }

    /// `SESSION_ENGINE`: where session data lives.
    pub fn engine(mut self, kind: EngineKind) -> Self {
        self.settings.engine = kind;
        self
    }

    /// `SESSION_DB_URL`, for `db` and `cached_db`.
    pub fn db_url(mut self, url: impl Into<String>) -> Self {
        self.settings.db_url = url.into();
        self
    }

    /// `SESSION_DB_TABLE`, for `db` and `cached_db` (and [`SessionsBuilder::db_pool`]);
    /// `django_session` shares Django's table.
    pub fn db_table(mut self, table: impl Into<String>) -> Self {
        self.settings.db_table = table.into();
        self
    }

    /// `SESSION_CACHE_URL`, for `cache` and `cached_db`.
    pub fn cache_url(mut self, url: impl Into<String>) -> Self {
        self.settings.cache_url = url.into();
        self
    }

    /// `SESSION_FILE_PATH`, for `file`.
    pub fn file_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.file_path = path.into();
        self
    }

    /// `SESSION_COOKIE_NAME`.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.settings.cookie_name = name.into();
        self
    }

    /// `SESSION_COOKIE_AGE`, in seconds.
    pub fn cookie_age(mut self, seconds: i64) -> Self {
        self.settings.cookie_age = seconds;
        self
    }

    /// `SESSION_LOCKING`: one request at a time per session.
    pub fn locking(mut self, on: bool) -> Self {
        self.settings.locking = on;
        self
    }

    /// `SESSION_HEADER_NAME`: the session key travels in this request and response header
    /// (e.g. `X-Session-Token`) instead of a cookie; server engines only.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::{EngineKind, Sessions};
    ///
    /// let sessions = Sessions::builder("secret")
    ///     .engine(EngineKind::Cache)
    ///     .header_name("X-Session-Token")
    ///     .open()
    ///     .await?;
    /// assert_eq!(sessions.settings().header_name.as_deref(), Some("X-Session-Token"));
    ///
    /// // A signed cookie is the session itself: it does not travel in a header.
    /// let signed = Sessions::builder("secret")
    ///     .engine(EngineKind::SignedCookies)
    ///     .header_name("X-Session-Token")
    ///     .open()
    ///     .await;
    /// assert!(signed.unwrap_err().to_string().contains("SESSION_HEADER_NAME"));
    /// # Ok(()) }
    /// ```
    pub fn header_name(mut self, name: impl Into<String>) -> Self {
        self.settings.header_name = Some(name.into());
        self
    }

    /// Any other setting, on the [`Settings`] being built.
    pub fn configure(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(&mut self.settings);
        self
    }

    /// Keeps sessions in a store of your own instead of the one `SESSION_ENGINE` names; it
    /// runs behind [`ServerEngine`] with `SESSION_STORE_TIMEOUT` as set when `open` runs.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::Sessions;
    /// use sessionkit::engine::MemoryStore; // any RecordStore, e.g. one of another crate
    ///
    /// let sessions = Sessions::builder("secret").store(MemoryStore::new(100)).open().await?;
    /// assert_eq!(sessions.engine().name(), "cache");
    /// # Ok(()) }
    /// ```
    pub fn store(mut self, store: impl RecordStore) -> Self {
        self.engine = Some(Box::new(move |settings: &Settings| {
            Arc::new(ServerEngine::new(store, settings.store_timeout)) as Arc<dyn Engine>
        }));
        self
    }

    /// Keeps sessions with the `db` engine on the application's own sqlx pool
    /// (`Pool<Postgres>`, `Pool<MySql>` or `Pool<Sqlite>`), instead of a pool of its own from
    /// `SESSION_DB_URL`: the app's queries and its sessions share the pool's connections.
    /// The table, timeout and secrets are the settings' (`SESSION_DB_TABLE`, …) as set when
    /// `open` runs; see [`SqlStore::with_pool`](crate::engine::SqlStore::with_pool).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::Sessions;
    ///
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?; // the app's own
    /// let sessions = Sessions::builder("secret")
    ///     .db_table("app_sessions")
    ///     .db_pool(pool.clone())
    ///     .open()
    ///     .await?;
    /// sessions.engine().migrate().await?; // creates app_sessions through the app's pool
    /// assert_eq!(sessions.engine().name(), "db");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "_sql")]
    pub fn db_pool<DB: TypedBackend>(mut self, pool: sqlx::Pool<DB>) -> Self {
        // The table name goes into SQL: as `db`, `open` checks it like SESSION_DB_TABLE's.
        self.settings.engine = EngineKind::Db;
        self.engine = Some(Box::new(move |settings: &Settings| {
            Arc::new(DbEngine::with_pool(pool, settings)) as Arc<dyn Engine>
        }));
        self
    }

    /// Uses `engine`, built by hand, instead of the one `SESSION_ENGINE` names.
    pub fn with_engine(mut self, engine: Arc<dyn Engine>) -> Self {
        self.engine = Some(Box::new(move |_: &Settings| engine));
        self
    }

    /// Checks the settings and opens the engine (connecting to its store), or takes the one
    /// given; fails with the setting to fix or the store that could not be reached.
    pub async fn open(self) -> Result<Sessions, OpenError> {
        match self.engine {
            Some(make) => Ok(Sessions::new(make(&self.settings), self.settings)?),
            None => Sessions::open(self.settings).await,
        }
    }
}
