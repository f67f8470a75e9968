//! Settings, under Django's names, from environment variables and an optional `sessionkit.toml`.
//!
//! Every setting is read from an environment variable of the same name, else from the TOML file,
//! else it takes its default. A bad value is a [`ConfigError`] naming the setting and what it
//! accepts, raised when the settings are loaded or validated — never at the first request.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::redact_password;
pub use crate::config::{
    ConfigError, EngineKind, SameSite, Secrets, SqliteSynchronous, StoreScheme,
};
pub use crate::set_cookie::MAX_COOKIE_BYTES;

mod load;
mod rules;
#[cfg(test)]
mod tests;
mod validate;

/// All sessionkit settings. Field docs give the setting's name and default.
///
/// ```
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings {
///     engine: EngineKind::SignedCookies,
///     cookie_age: 3600,
///     ..Settings::new("a long random secret")
/// };
/// settings.validate().unwrap();
/// assert_eq!(settings.cookie_name, "sessionid");
/// ```
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// `SESSION_ENGINE`, default `db`.
    pub engine: EngineKind,
    /// `SESSION_ENGINE_FALLBACKS` (comma-separated), default none: engines read from, in
    /// order, when the primary engine does not recognize a cookie; a session found there is
    /// served and moved to the primary engine, so switching engines logs nobody out.
    pub engine_fallbacks: Vec<EngineKind>,
    /// `SESSION_DB_URL`, default `sqlite://sessionkit.sqlite3` (created if missing).
    pub db_url: String,
    /// `SESSION_DB_POOL_SIZE`, default none: 10 connections at most in the pool the `db`
    /// engine opens; on an SQLite file, the readers beside its one writer (4 by default);
    /// from 1 to [`MAX_DB_POOL_SIZE`]. A pool the application brings keeps its own size.
    pub db_pool_size: Option<u32>,
    /// `SESSION_DB_IDLE_TIMEOUT` in seconds, default 600: a connection of that pool unused
    /// this long is closed (sqlx's default). Shorter for a database, proxy or firewall that
    /// drops idle connections sooner.
    pub db_idle_timeout: Duration,
    /// `SESSION_DB_SQLITE_SYNCHRONOUS`, `normal` (the default) or `full`: whether a commit to
    /// an SQLite file also survives power loss (see [`SqliteSynchronous`]). Other databases
    /// ignore it.
    pub db_sqlite_synchronous: SqliteSynchronous,
    /// `SESSION_DB_TABLE`, default `sessionkit_session`.
    pub db_table: String,
    /// `SESSION_CACHE_URL`, default `memory://` (bounded, in this process); or `redis://…`.
    pub cache_url: String,
    /// `SESSION_CACHE_KEY_PREFIX`, default `sessionkit:`: namespaces the cache's keys.
    pub cache_key_prefix: String,
    /// `SESSION_REDIS_WAIT_REPLICAS`, default 0 (off): on Redis, a session write (save,
    /// delete, revocation) is answered only after this many replicas have it (`WAIT`), so a
    /// failover right after it cannot lose it; too few within half of `SESSION_STORE_TIMEOUT`
    /// is a store error (503). Costs a replica round trip per write.
    pub redis_wait_replicas: u32,
    /// `SESSION_STORE_CA_FILE`, default none: a PEM bundle of the CAs that sign the
    /// database's and Redis's certificates, for a private CA (the built-in Mozilla roots cover
    /// public ones). TLS itself is asked for in the URLs: `sslmode=verify-full`,
    /// `ssl-mode=VERIFY_IDENTITY`, `rediss://`. Needs the `tls` feature.
    pub store_ca_file: Option<PathBuf>,
    /// `SESSION_FILE_PATH`, default the OS temporary directory; must exist.
    pub file_path: PathBuf,
    /// `SESSION_STORE_TIMEOUT` in seconds, default 5: how long a store operation may take
    /// before the request gets a 503.
    pub store_timeout: Duration,
    /// `SESSION_CACHE_TIMEOUT` in seconds, default 0.25: how long `cached_db` waits for its
    /// cache before it asks the database instead. Shorter than `SESSION_STORE_TIMEOUT`, so a
    /// hung cache still leaves the request time to reach the database.
    pub cache_timeout: Duration,
    /// `SESSION_LOCKING`, default false: serialize the requests of one session, from their
    /// first access to their save, with a lock in the store (no lost read-modify-write).
    pub locking: bool,
    /// `SESSION_LOCK_TIMEOUT` in seconds, default 10: how long a request waits for the lock
    /// before it gets a 503.
    pub lock_timeout: Duration,
    /// `SESSION_LOCK_LEASE` in seconds, default 30: a lock lapses after this long even if its
    /// holder never releases it (a crashed process cannot block a session for good).
    pub lock_lease: Duration,
    /// `SESSION_COOKIE_NAME`, default `sessionid`.
    pub cookie_name: String,
    /// `SESSION_COOKIE_AGE` in seconds, default 1209600 (two weeks).
    pub cookie_age: i64,
    /// `SESSION_COOKIE_DOMAIN`, default none (host-only cookie).
    pub cookie_domain: Option<String>,
    /// `SESSION_COOKIE_PATH`, default `/`.
    pub cookie_path: String,
    /// `SESSION_COOKIE_SECURE`, default **true** (Django: false). Browsers treat
    /// `http://localhost` as secure, so local development still works.
    pub cookie_secure: bool,
    /// `SESSION_COOKIE_HTTPONLY`, default true.
    pub cookie_httponly: bool,
    /// `SESSION_COOKIE_SAMESITE`, default `Lax`; `None` here means the attribute is left out.
    pub cookie_samesite: Option<SameSite>,
    /// `SESSION_HEADER_NAME`, default none: the request header that carries the session key
    /// instead of the cookie (e.g. `X-Session-Token`, for mobile apps and scripts). The key
    /// comes back in the same response header, empty when the session ended; no cookie is ever
    /// set. Server engines only.
    pub header_name: Option<String>,
    /// `SESSION_SAVE_EVERY_REQUEST`, default false.
    pub save_every_request: bool,
    /// `SESSION_NEAR_CACHE`, default false: server engines keep recently used records in
    /// this process, so a request that only reads its session makes no store round trip.
    /// Other instances' deletes (logouts) are seen through Redis client-side caching or
    /// PostgreSQL `LISTEN/NOTIFY`; other changes, and every change on other stores, within
    /// `SESSION_NEAR_CACHE_TTL`.
    pub near_cache: bool,
    /// `SESSION_NEAR_CACHE_MAX_ENTRIES`, default 10,000: records the near cache keeps, least
    /// recently used out first.
    pub near_cache_max_entries: usize,
    /// `SESSION_NEAR_CACHE_TTL` in seconds, default 1: a near-cached record fetched longer
    /// ago is fetched again; the staleness bound for changes no channel reports.
    pub near_cache_ttl: Duration,
    /// `SESSION_REVOCATION_URL`, default none: where the cookie engines keep the list of
    /// logged-out sessions, whose copied cookies it then refuses (`memory://`, `redis://…` or a
    /// database URL). Cookie engines only: server engines delete a logged-out session.
    pub revocation_url: Option<String>,
    /// `SESSION_IDLE_TIMEOUT` in seconds, default none: a session unused this long is no
    /// session (OWASP's idle timeout). Every request that loads the session is activity.
    pub idle_timeout: Option<Duration>,
    /// `SESSION_ABSOLUTE_TIMEOUT` in seconds, default none: a session this old is no session,
    /// however active (OWASP's absolute timeout). Its clock starts when the session is first
    /// stored and restarts only when the session is emptied (`flush`, a new login).
    pub absolute_timeout: Option<Duration>,
    /// `SESSION_ACTIVITY_REFRESH` in seconds, default 60: with an idle timeout, a request that
    /// changes nothing writes its activity at most this often, so reading a session does not
    /// cost a store write per request. Less than `SESSION_IDLE_TIMEOUT`.
    pub activity_refresh: Duration,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`, default false.
    pub expire_at_browser_close: bool,
    /// `SECRET_KEY`, required. Signs cookies and stored session data.
    pub secret_key: String,
    /// `SECRET_KEY_FALLBACKS` (comma-separated in the environment): old keys that still verify.
    pub secret_key_fallbacks: Vec<String>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("engine", &self.engine)
            .field("engine_fallbacks", &self.engine_fallbacks)
            .field("db_url", &redact_password(&self.db_url))
            .field("db_pool_size", &self.db_pool_size)
            .field("db_idle_timeout", &self.db_idle_timeout)
            .field("db_sqlite_synchronous", &self.db_sqlite_synchronous)
            .field("db_table", &self.db_table)
            .field("cache_url", &redact_password(&self.cache_url))
            .field("cache_key_prefix", &self.cache_key_prefix)
            .field("store_ca_file", &self.store_ca_file)
            .field("file_path", &self.file_path)
            .field("store_timeout", &self.store_timeout)
            .field("cache_timeout", &self.cache_timeout)
            .field("locking", &self.locking)
            .field("lock_timeout", &self.lock_timeout)
            .field("lock_lease", &self.lock_lease)
            .field("cookie_name", &self.cookie_name)
            .field("cookie_age", &self.cookie_age)
            .field("cookie_domain", &self.cookie_domain)
            .field("cookie_path", &self.cookie_path)
            .field("cookie_secure", &self.cookie_secure)
            .field("cookie_httponly", &self.cookie_httponly)
            .field("cookie_samesite", &self.cookie_samesite)
            .field("header_name", &self.header_name)
            .field("save_every_request", &self.save_every_request)
            .field("near_cache", &self.near_cache)
            .field("near_cache_max_entries", &self.near_cache_max_entries)
            .field("near_cache_ttl", &self.near_cache_ttl)
            .field(
                "revocation_url",
                &self.revocation_url.as_deref().map(redact_password),
            )
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("activity_refresh", &self.activity_refresh)
            .field("expire_at_browser_close", &self.expire_at_browser_close)
            .field("secret_key", &"<redacted>")
            .field("secret_key_fallbacks", &self.secret_key_fallbacks.len())
            .finish()
    }
}

/// `SESSION_COOKIE_AGE`'s default: two weeks, in seconds.
///
/// ```
/// use sessionkit::Settings;
/// use sessionkit::settings::DEFAULT_COOKIE_AGE;
///
/// assert_eq!(DEFAULT_COOKIE_AGE, 14 * 24 * 60 * 60);
/// assert_eq!(Settings::new("secret").cookie_age, DEFAULT_COOKIE_AGE);
/// ```
pub const DEFAULT_COOKIE_AGE: i64 = 1_209_600;

/// The longest `SESSION_COOKIE_AGE`: 400 days, the most browsers keep a cookie (Chrome and
/// Firefox cap Max-Age there), so a longer age would only keep records nobody can present.
///
/// ```
/// use sessionkit::Settings;
/// use sessionkit::settings::MAX_COOKIE_AGE;
///
/// let forever = Settings { cookie_age: MAX_COOKIE_AGE + 1, ..Settings::new("secret") };
/// assert_eq!(forever.validate().unwrap_err().setting, "SESSION_COOKIE_AGE");
/// ```
pub const MAX_COOKIE_AGE: i64 = 400 * 24 * 60 * 60;

/// The largest `SESSION_DB_POOL_SIZE`: more connections than a database server usually
/// allows in total, so a larger value can only be a slip.
///
/// ```
/// use sessionkit::Settings;
/// use sessionkit::settings::MAX_DB_POOL_SIZE;
///
/// let mut settings = Settings::new("secret");
/// settings.set("SESSION_DB_POOL_SIZE", "20")?;
/// assert_eq!(settings.db_pool_size, Some(20));
/// let huge = settings.set("SESSION_DB_POOL_SIZE", &(MAX_DB_POOL_SIZE + 1).to_string());
/// assert_eq!(huge.unwrap_err().setting, "SESSION_DB_POOL_SIZE");
/// # Ok::<(), sessionkit::ConfigError>(())
/// ```
pub const MAX_DB_POOL_SIZE: u32 = 1000;

/// Names of every setting, as accepted in the environment and in `sessionkit.toml`.
///
/// ```
/// use sessionkit::Settings;
/// use sessionkit::settings::SETTING_NAMES;
///
/// assert!(SETTING_NAMES.contains(&"SESSION_COOKIE_AGE"));
/// let mut settings = Settings::new("secret");
/// let typo = settings.set("SESSION_COOKIE_AGES", "60").unwrap_err(); // a typo is an error
/// assert_eq!(typo.setting, "SESSION_COOKIE_AGES");
/// assert!(typo.message.contains("SESSION_COOKIE_AGE,"));
/// ```
pub const SETTING_NAMES: [&str; 36] = [
    "SESSION_ENGINE",
    "SESSION_ENGINE_FALLBACKS",
    "SESSION_DB_URL",
    "SESSION_DB_POOL_SIZE",
    "SESSION_DB_IDLE_TIMEOUT",
    "SESSION_DB_SQLITE_SYNCHRONOUS",
    "SESSION_DB_TABLE",
    "SESSION_CACHE_URL",
    "SESSION_CACHE_KEY_PREFIX",
    "SESSION_REDIS_WAIT_REPLICAS",
    "SESSION_STORE_CA_FILE",
    "SESSION_FILE_PATH",
    "SESSION_STORE_TIMEOUT",
    "SESSION_CACHE_TIMEOUT",
    "SESSION_LOCKING",
    "SESSION_LOCK_TIMEOUT",
    "SESSION_LOCK_LEASE",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_AGE",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_HEADER_NAME",
    "SESSION_SAVE_EVERY_REQUEST",
    "SESSION_NEAR_CACHE",
    "SESSION_NEAR_CACHE_MAX_ENTRIES",
    "SESSION_NEAR_CACHE_TTL",
    "SESSION_REVOCATION_URL",
    "SESSION_IDLE_TIMEOUT",
    "SESSION_ABSOLUTE_TIMEOUT",
    "SESSION_ACTIVITY_REFRESH",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
];

impl Settings {
    /// Defaults for everything, with `secret_key` set.
    ///
    /// ```
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let settings = Settings::new("a long random secret");
    /// assert_eq!(settings.engine, EngineKind::Db); // Django's default engine
    /// assert_eq!(settings.cookie_age, 1_209_600);
    /// assert!(settings.cookie_secure); // unlike Django's default
    /// assert!(settings.validate().is_ok());
    /// ```
    pub fn new(secret_key: impl Into<String>) -> Self {
        Settings {
            engine: EngineKind::Db,
            engine_fallbacks: Vec::new(),
            db_url: "sqlite://sessionkit.sqlite3".to_owned(),
            db_pool_size: None,
            db_idle_timeout: Duration::from_secs(600),
            db_sqlite_synchronous: SqliteSynchronous::Normal,
            db_table: "sessionkit_session".to_owned(),
            cache_url: "memory://".to_owned(),
            cache_key_prefix: "sessionkit:".to_owned(),
            redis_wait_replicas: 0,
            store_ca_file: None,
            file_path: std::env::temp_dir(),
            store_timeout: Duration::from_secs(5),
            cache_timeout: Duration::from_millis(250),
            locking: false,
            lock_timeout: Duration::from_secs(10),
            lock_lease: Duration::from_secs(30),
            cookie_name: "sessionid".to_owned(),
            cookie_age: DEFAULT_COOKIE_AGE,
            cookie_domain: None,
            cookie_path: "/".to_owned(),
            cookie_secure: true,
            cookie_httponly: true,
            cookie_samesite: Some(SameSite::Lax),
            header_name: None,
            save_every_request: false,
            near_cache: false,
            near_cache_max_entries: 10_000,
            near_cache_ttl: Duration::from_secs(1),
            revocation_url: None,
            idle_timeout: None,
            absolute_timeout: None,
            activity_refresh: Duration::from_secs(60),
            expire_at_browser_close: false,
            secret_key: secret_key.into(),
            secret_key_fallbacks: Vec::new(),
        }
    }
}
