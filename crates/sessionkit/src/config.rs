//! The vocabulary settings, engines and feature checks share: which engine
//! ([`EngineKind`]), the cookie's `SameSite`, and [`ConfigError`], the one error a bad setting
//! gives. A leaf: it imports nothing of the crate but the cache URL reader, so engines can
//! report a bad setting without depending on [`Settings`](crate::Settings).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::cache_url::BadMemoryUrl;

/// The session engines: where session data lives. See the crate docs for which to pick.
///
/// ```
/// use sessionkit::EngineKind;
///
/// assert_eq!("signed_cookies".parse(), Ok(EngineKind::SignedCookies));
/// assert_eq!("encrypted_cookies".parse(), Ok(EngineKind::EncryptedCookies));
/// // Django's dotted paths work too, so a Django settings value can be reused as is.
/// assert_eq!("django.contrib.sessions.backends.cached_db".parse(), Ok(EngineKind::CachedDb));
/// assert!("memcached".parse::<EngineKind>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EngineKind {
    /// All data in a signed cookie on the client; nothing stored on the server.
    SignedCookies,
    /// All data in an encrypted cookie on the client: the user can no longer read it.
    EncryptedCookies,
    /// A SQL database (SQLite, PostgreSQL or MySQL/MariaDB) chosen by `SESSION_DB_URL`.
    Db,
    /// A cache (Redis, or bounded in-process memory) chosen by `SESSION_CACHE_URL`.
    Cache,
    /// Write-through: the cache for reads, the database as the record of truth.
    CachedDb,
    /// One file per session in `SESSION_FILE_PATH`.
    File,
}

impl EngineKind {
    /// Every engine, in the order the docs list them.
    ///
    /// ```
    /// use sessionkit::EngineKind;
    ///
    /// for kind in EngineKind::ALL {
    ///     assert_eq!(kind.name().parse(), Ok(kind)); // every engine round-trips through its name
    /// }
    /// ```
    pub const ALL: [EngineKind; 6] = [
        EngineKind::SignedCookies,
        EngineKind::EncryptedCookies,
        EngineKind::Db,
        EngineKind::Cache,
        EngineKind::CachedDb,
        EngineKind::File,
    ];

    /// The `SESSION_ENGINE` value that selects this engine.
    ///
    /// ```
    /// use sessionkit::EngineKind;
    ///
    /// assert_eq!(EngineKind::CachedDb.name(), "cached_db");
    /// assert_eq!(EngineKind::CachedDb.to_string(), "cached_db"); // `Display` is the same
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::SignedCookies => "signed_cookies",
            EngineKind::EncryptedCookies => "encrypted_cookies",
            EngineKind::Db => "db",
            EngineKind::Cache => "cache",
            EngineKind::CachedDb => "cached_db",
            EngineKind::File => "file",
        }
    }

    /// Whether session data lives on the server (only a key travels in the cookie).
    ///
    /// ```
    /// use sessionkit::EngineKind;
    ///
    /// assert!(!EngineKind::SignedCookies.is_server_side());
    /// assert!(!EngineKind::EncryptedCookies.is_server_side());
    /// assert!(EngineKind::File.is_server_side());
    /// ```
    pub fn is_server_side(self) -> bool {
        !matches!(
            self,
            EngineKind::SignedCookies | EngineKind::EncryptedCookies
        )
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Django's dotted module paths are accepted too, so a Django settings value works as is.
        let short = s.trim().rsplit('.').next().unwrap_or_default();
        EngineKind::ALL
            .into_iter()
            .find(|kind| kind.name() == short)
            .ok_or_else(|| format!("one of {}", allowed(EngineKind::ALL.map(EngineKind::name))))
    }
}

/// The `SameSite` attribute of the session cookie.
///
/// ```
/// use sessionkit::Settings;
/// use sessionkit::settings::SameSite;
///
/// let mut settings = Settings::new("secret");
/// settings.set("SESSION_COOKIE_SAMESITE", "Strict")?;
/// assert_eq!(settings.cookie_samesite, Some(SameSite::Strict));
///
/// // Browsers reject `SameSite=None` without `Secure`, so the settings do too.
/// settings.cookie_samesite = Some(SameSite::None);
/// settings.cookie_secure = false;
/// assert_eq!(settings.validate().unwrap_err().setting, "SESSION_COOKIE_SAMESITE");
/// # Ok::<(), sessionkit::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their sub-requests (the default).
    Lax,
    /// Never sent on requests started by other sites.
    Strict,
    /// Sent everywhere; browsers require `Secure` with it.
    None,
}

/// How SQLite makes a commit durable (`PRAGMA synchronous`), for the pool the `db` engine
/// opens on an SQLite file. Both run in WAL mode.
///
/// ```
/// use sessionkit::Settings;
/// use sessionkit::settings::SqliteSynchronous;
///
/// let mut settings = Settings::new("secret");
/// assert_eq!(settings.db_sqlite_synchronous, SqliteSynchronous::Normal); // as Rails 8
/// settings.set("SESSION_DB_SQLITE_SYNCHRONOUS", "full")?;
/// assert_eq!(settings.db_sqlite_synchronous, SqliteSynchronous::Full);
/// let bad = settings.set("SESSION_DB_SQLITE_SYNCHRONOUS", "off").unwrap_err();
/// assert_eq!(bad.setting, "SESSION_DB_SQLITE_SYNCHRONOUS");
/// # Ok::<(), sessionkit::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// Fsync at checkpoints only (the default): a commit survives the application crashing,
    /// but the last commits may be lost if the machine loses power.
    #[default]
    Normal,
    /// Fsync the log at every commit: a commit survives power loss too, at the cost of one
    /// fsync per write.
    Full,
}

impl SqliteSynchronous {
    /// The `PRAGMA synchronous` value.
    ///
    /// ```
    /// use sessionkit::settings::SqliteSynchronous;
    ///
    /// assert_eq!(SqliteSynchronous::Full.pragma(), "FULL");
    /// ```
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Normal => "NORMAL",
            SqliteSynchronous::Full => "FULL",
        }
    }
}

/// A bad setting: which one, what it was, and what it accepts.
///
/// ```
/// use std::path::Path;
/// use sessionkit::Settings;
///
/// let env = [("SESSION_COOKIE_AGE".to_owned(), "soon".to_owned())];
/// let error = Settings::from_sources(None, Path::new("sessionkit.toml"), env).unwrap_err();
/// assert_eq!(error.setting, "SESSION_COOKIE_AGE");
/// assert_eq!(error.to_string(), r#"SESSION_COOKIE_AGE: "soon" is not a number of seconds"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    /// The setting's name, e.g. `SESSION_COOKIE_SAMESITE` (or the unknown name given).
    pub setting: Cow<'static, str>,
    /// What is wrong and what would be right.
    pub message: String,
}

/// A bad `memory://` URL is a wrong `SESSION_CACHE_URL`.
impl From<BadMemoryUrl> for ConfigError {
    fn from(error: BadMemoryUrl) -> Self {
        ConfigError::new("SESSION_CACHE_URL", error.to_string())
    }
}

impl ConfigError {
    /// A configuration error for `setting`.
    ///
    /// ```
    /// use sessionkit::ConfigError;
    ///
    /// // An application's own check of a setting, reported the same way.
    /// let error = ConfigError::new("SESSION_COOKIE_DOMAIN", "must be set in production");
    /// assert_eq!(error.to_string(), "SESSION_COOKIE_DOMAIN: must be set in production");
    /// ```
    pub fn new(setting: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ConfigError {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// Hides the password part of a URL such as `postgres://user:password@host/db`.
pub(crate) fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn allowed<const N: usize>(names: [&str; N]) -> String {
    names.join(", ")
}

/// `SECRET_KEY` and `SECRET_KEY_FALLBACKS`, for the engines that sign: never printed.
///
/// ```
/// use sessionkit::settings::Secrets;
///
/// let secrets = Secrets::new("current", vec!["old".into()]);
/// assert_eq!(format!("{secrets:?}"), "Secrets { key: \"<redacted>\", fallbacks: 1 }");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    /// The secret new values are signed with.
    pub key: String,
    /// Older secrets still accepted when verifying, so a rotation logs nobody out.
    pub fallbacks: Vec<String>,
}

impl Secrets {
    /// `key`, with `fallbacks` still accepted.
    pub fn new(key: impl Into<String>, fallbacks: Vec<String>) -> Self {
        Secrets {
            key: key.into(),
            fallbacks,
        }
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("key", &"<redacted>")
            .field("fallbacks", &self.fallbacks.len())
            .finish()
    }
}

/// A session store, by the scheme of its URL (`SESSION_DB_URL`, `SESSION_CACHE_URL`): the one
/// reading of store URLs that settings validation, the Cargo feature check, the engines and
/// the `sessionkit` command share.
///
/// ```
/// use sessionkit::EngineKind;
/// use sessionkit::settings::StoreScheme;
///
/// assert_eq!(StoreScheme::of("postgresql://app@db/app"), Some(StoreScheme::Postgres));
/// assert_eq!(StoreScheme::of("mariadb://app@db/app"), Some(StoreScheme::MySql));
/// assert_eq!(StoreScheme::of("rediss://cache:6380/0"), Some(StoreScheme::Redis));
/// assert_eq!(StoreScheme::of("memory://?max_entries=10").map(StoreScheme::engine), Some(EngineKind::Cache));
/// assert_eq!(StoreScheme::of("memcached://cache:11211"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreScheme {
    /// `sqlite:` (`sqlite://PATH`, `sqlite::memory:`).
    Sqlite,
    /// `postgres:` or `postgresql:`.
    Postgres,
    /// `mysql:` or `mariadb:`.
    MySql,
    /// `memory://`: the bounded in-process cache.
    Memory,
    /// `redis://`, `rediss://` (TLS), `redis+unix://`, a Redis Cluster
    /// (`redis+cluster://`, `rediss+cluster://`) or a Redis Sentinel setup
    /// (`redis+sentinel://`, `rediss+sentinel://`).
    Redis,
}

impl StoreScheme {
    /// Every scheme, by the prefix that selects it.
    const PREFIXES: [(&'static str, StoreScheme); 13] = [
        ("sqlite:", StoreScheme::Sqlite),
        ("postgres:", StoreScheme::Postgres),
        ("postgresql:", StoreScheme::Postgres),
        ("mysql:", StoreScheme::MySql),
        ("mariadb:", StoreScheme::MySql),
        ("memory://", StoreScheme::Memory),
        ("redis://", StoreScheme::Redis),
        ("rediss://", StoreScheme::Redis),
        ("redis+unix://", StoreScheme::Redis),
        ("redis+cluster://", StoreScheme::Redis),
        ("rediss+cluster://", StoreScheme::Redis),
        ("redis+sentinel://", StoreScheme::Redis),
        ("rediss+sentinel://", StoreScheme::Redis),
    ];

    /// The store `url` names; `None` for a scheme sessionkit has no store for.
    pub fn of(url: &str) -> Option<StoreScheme> {
        Self::PREFIXES
            .iter()
            .find(|(prefix, _)| url.starts_with(prefix))
            .map(|(_, scheme)| *scheme)
    }

    /// Whether it is a SQL database (a `SESSION_DB_URL`), rather than a cache.
    pub fn is_database(self) -> bool {
        matches!(
            self,
            StoreScheme::Sqlite | StoreScheme::Postgres | StoreScheme::MySql
        )
    }

    /// The engine that keeps sessions in such a store alone: `db` or `cache`.
    pub fn engine(self) -> EngineKind {
        if self.is_database() {
            EngineKind::Db
        } else {
            EngineKind::Cache
        }
    }
}
