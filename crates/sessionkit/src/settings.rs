//! Settings, under Django's names, from environment variables and an optional `sessionkit.toml`.
//!
//! Every setting is read from an environment variable of the same name, else from the TOML file,
//! else it takes its default. A bad value is a [`ConfigError`] naming the setting and what it
//! accepts, raised when the settings are loaded or validated — never at the first request.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::cache_url::{BadMemoryUrl, has_known_scheme, memory_capacity};
use crate::features::{TOML, db_url_feature};

/// The session engines: where session data lives. See the crate docs for which to pick.
///
/// ```
/// use sessionkit::EngineKind;
///
/// assert_eq!("signed_cookies".parse(), Ok(EngineKind::SignedCookies));
/// // Django's dotted paths work too, so a Django settings value can be reused as is.
/// assert_eq!("django.contrib.sessions.backends.cached_db".parse(), Ok(EngineKind::CachedDb));
/// assert!("memcached".parse::<EngineKind>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EngineKind {
    /// All data in a signed cookie on the client; nothing stored on the server.
    SignedCookies,
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
    pub const ALL: [EngineKind; 5] = [
        EngineKind::SignedCookies,
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
    /// assert!(EngineKind::File.is_server_side());
    /// ```
    pub fn is_server_side(self) -> bool {
        self != EngineKind::SignedCookies
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
/// use sessionkit::{SameSite, Settings};
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
    /// `SESSION_DB_TABLE`, default `sessionkit_session`.
    pub db_table: String,
    /// `SESSION_CACHE_URL`, default `memory://` (bounded, in this process); or `redis://…`.
    pub cache_url: String,
    /// `SESSION_CACHE_KEY_PREFIX`, default `sessionkit:`: namespaces the cache's keys.
    pub cache_key_prefix: String,
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
    /// `SESSION_SAVE_EVERY_REQUEST`, default false.
    pub save_every_request: bool,
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
            .field("db_table", &self.db_table)
            .field("cache_url", &redact_password(&self.cache_url))
            .field("cache_key_prefix", &self.cache_key_prefix)
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
            .field("save_every_request", &self.save_every_request)
            .field("expire_at_browser_close", &self.expire_at_browser_close)
            .field("secret_key", &"<redacted>")
            .field("secret_key_fallbacks", &self.secret_key_fallbacks.len())
            .finish()
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

/// The shortest duration setting: below a millisecond every store call would time out.
const MIN_DURATION: Duration = Duration::from_millis(1);

/// The longest value of each duration setting. Past these a value can only be a slip (a
/// request held for hours), and huge ones overflow timers and clocks.
const MAX_DURATIONS: [(&str, Duration); 3] = [
    ("SESSION_STORE_TIMEOUT", Duration::from_secs(600)),
    ("SESSION_LOCK_TIMEOUT", Duration::from_secs(600)),
    ("SESSION_LOCK_LEASE", Duration::from_secs(24 * 60 * 60)),
];

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
pub const SETTING_NAMES: [&str; 23] = [
    "SESSION_ENGINE",
    "SESSION_ENGINE_FALLBACKS",
    "SESSION_DB_URL",
    "SESSION_DB_TABLE",
    "SESSION_CACHE_URL",
    "SESSION_CACHE_KEY_PREFIX",
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
    "SESSION_SAVE_EVERY_REQUEST",
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
            db_table: "sessionkit_session".to_owned(),
            cache_url: "memory://".to_owned(),
            cache_key_prefix: "sessionkit:".to_owned(),
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
            save_every_request: false,
            expire_at_browser_close: false,
            secret_key: secret_key.into(),
            secret_key_fallbacks: Vec::new(),
        }
    }

    /// Reads the process environment and, if present, `sessionkit.toml` in the working
    /// directory (or the file named by `SESSIONKIT_CONFIG`). The environment wins.
    ///
    /// ```no_run
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// // SESSION_ENGINE=cache SECRET_KEY=… ./app
    /// let settings = Settings::from_env()?;
    /// assert_eq!(settings.engine, EngineKind::Cache);
    /// # Ok::<(), sessionkit::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_or_secret(|| Err(missing_secret()))
    }

    /// Like [`Settings::from_env`], but when neither source sets `SECRET_KEY`, it comes from
    /// `default_secret` (the demo server keeps a generated one in a file).
    ///
    /// ```
    /// use sessionkit::Settings;
    ///
    /// let settings = Settings::from_env_or_secret(|| Ok("a generated dev secret".to_owned()))?;
    /// if std::env::var_os("SECRET_KEY").is_none() {
    ///     assert_eq!(settings.secret_key, "a generated dev secret");
    /// }
    /// # Ok::<(), sessionkit::ConfigError>(())
    /// ```
    pub fn from_env_or_secret(
        default_secret: impl FnOnce() -> Result<String, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let config_path = std::env::var_os("SESSIONKIT_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("sessionkit.toml"));
        let file = match std::fs::read_to_string(&config_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(ConfigError::new(
                    "SESSIONKIT_CONFIG",
                    format!("cannot read {}: {e}", config_path.display()),
                ));
            }
        };
        let env = SETTING_NAMES
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)));
        let mut settings = Self::parse(raw_settings(file.as_deref(), &config_path, env)?)?;
        if settings.secret_key.trim().is_empty() {
            // Report any other bad setting before touching the default secret's source.
            match settings.validate() {
                Err(error) if error.setting != "SECRET_KEY" => return Err(error),
                _ => settings.secret_key = default_secret()?,
            }
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Builds settings from TOML text (`file`, whose path is used in messages) and
    /// `(name, value)` pairs that override it. What `from_env` uses; handy in tests.
    ///
    #[cfg_attr(feature = "toml", doc = "```")]
    #[cfg_attr(not(feature = "toml"), doc = "```ignore")]
    /// use std::path::Path;
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let toml = r#"
    /// SESSION_ENGINE = "cache"
    /// SESSION_COOKIE_AGE = 3600
    /// SECRET_KEY = "from the file"
    /// "#;
    /// let env = [("SESSION_COOKIE_AGE".to_owned(), "60".to_owned())];
    /// let settings = Settings::from_sources(Some(toml), Path::new("sessionkit.toml"), env)?;
    /// assert_eq!(settings.engine, EngineKind::Cache);
    /// assert_eq!(settings.cookie_age, 60); // the override wins over the file
    /// # Ok::<(), sessionkit::ConfigError>(())
    /// ```
    pub fn from_sources(
        file: Option<&str>,
        file_path: &Path,
        overrides: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let settings = Self::parse(raw_settings(file, file_path, overrides)?)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Applies every raw value over the defaults, without checking how they combine.
    fn parse(raw: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut settings = Settings::new("");
        for (name, value) in raw {
            settings.set(&name, &value)?;
        }
        Ok(settings)
    }

    /// Sets one setting by its Django name from its text form, as in the environment.
    ///
    /// ```
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let mut settings = Settings::new("secret");
    /// settings.set("SESSION_ENGINE", "django.contrib.sessions.backends.cache")?;
    /// settings.set("SESSION_LOCKING", "on")?;
    /// assert_eq!(settings.engine, EngineKind::Cache);
    /// assert!(settings.locking);
    /// let error = settings.set("SESSION_COOKIE_SECURE", "sometimes").unwrap_err();
    /// assert_eq!(error.setting, "SESSION_COOKIE_SECURE");
    /// # Ok::<(), sessionkit::ConfigError>(())
    /// ```
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let setting = SETTING_NAMES
            .into_iter()
            .find(|known| *known == name)
            .ok_or_else(|| {
                ConfigError::new(
                    name.to_owned(),
                    format!(
                        "unknown setting; the known ones are {}",
                        allowed(SETTING_NAMES)
                    ),
                )
            })?;
        let value = value.trim();
        match setting {
            "SESSION_ENGINE" => {
                self.engine = value.parse().map_err(|allowed: String| {
                    ConfigError::new(
                        setting,
                        format!("{value:?} is not an engine; use {allowed}"),
                    )
                })?
            }
            "SESSION_ENGINE_FALLBACKS" => {
                self.engine_fallbacks = list(value)
                    .map(|name| {
                        name.parse().map_err(|allowed: String| {
                            ConfigError::new(
                                setting,
                                format!("{name:?} is not an engine; use {allowed}"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            "SESSION_DB_URL" => self.db_url = value.to_owned(),
            "SESSION_DB_TABLE" => self.db_table = value.to_owned(),
            "SESSION_CACHE_URL" => self.cache_url = value.to_owned(),
            "SESSION_CACHE_KEY_PREFIX" => self.cache_key_prefix = value.to_owned(),
            "SESSION_FILE_PATH" => self.file_path = PathBuf::from(value),
            "SESSION_STORE_TIMEOUT" => self.store_timeout = parse_seconds(setting, value)?,
            "SESSION_CACHE_TIMEOUT" => self.cache_timeout = parse_seconds(setting, value)?,
            "SESSION_LOCKING" => self.locking = parse_bool(setting, value)?,
            "SESSION_LOCK_TIMEOUT" => self.lock_timeout = parse_seconds(setting, value)?,
            "SESSION_LOCK_LEASE" => self.lock_lease = parse_seconds(setting, value)?,
            "SESSION_COOKIE_NAME" => self.cookie_name = value.to_owned(),
            "SESSION_COOKIE_AGE" => {
                self.cookie_age = value.parse().map_err(|_| {
                    ConfigError::new(setting, format!("{value:?} is not a number of seconds"))
                })?
            }
            "SESSION_COOKIE_DOMAIN" => {
                self.cookie_domain = (!value.is_empty()).then(|| value.to_owned())
            }
            "SESSION_COOKIE_PATH" => self.cookie_path = value.to_owned(),
            "SESSION_COOKIE_SECURE" => self.cookie_secure = parse_bool(setting, value)?,
            "SESSION_COOKIE_HTTPONLY" => self.cookie_httponly = parse_bool(setting, value)?,
            "SESSION_COOKIE_SAMESITE" => self.cookie_samesite = parse_samesite(value)?,
            "SESSION_SAVE_EVERY_REQUEST" => self.save_every_request = parse_bool(setting, value)?,
            "SESSION_EXPIRE_AT_BROWSER_CLOSE" => {
                self.expire_at_browser_close = parse_bool(setting, value)?
            }
            "SECRET_KEY" => self.secret_key = value.to_owned(),
            "SECRET_KEY_FALLBACKS" => {
                self.secret_key_fallbacks = list(value).map(str::to_owned).collect()
            }
            _ => unreachable!("every name in SETTING_NAMES is handled above"),
        }
        Ok(())
    }

    /// Checks the combination of settings; the first problem found is returned.
    ///
    /// ```
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let zero_age = Settings { cookie_age: 0, ..Settings::new("secret") };
    /// let error = zero_age.validate().unwrap_err();
    /// let message = "SESSION_COOKIE_AGE: must be a positive number of seconds up to 34560000";
    /// assert!(error.to_string().starts_with(message));
    ///
    /// let cookies_locked = Settings {
    ///     engine: EngineKind::SignedCookies,
    ///     locking: true,
    ///     ..Settings::new("secret")
    /// };
    /// assert_eq!(cookies_locked.validate().unwrap_err().setting, "SESSION_LOCKING");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cookie_name.is_empty() || !self.cookie_name.bytes().all(is_cookie_name_byte) {
            return Err(ConfigError::new(
                "SESSION_COOKIE_NAME",
                format!(
                    "{:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)",
                    self.cookie_name
                ),
            ));
        }
        if !(1..=MAX_COOKIE_AGE).contains(&self.cookie_age) {
            return Err(ConfigError::new(
                "SESSION_COOKIE_AGE",
                format!(
                    "must be a positive number of seconds up to {MAX_COOKIE_AGE} (400 days, \
                     the most browsers keep a cookie), not {}",
                    self.cookie_age
                ),
            ));
        }
        check_duration("SESSION_STORE_TIMEOUT", self.store_timeout)?;
        check_duration("SESSION_CACHE_TIMEOUT", self.cache_timeout)?;
        check_duration("SESSION_LOCK_TIMEOUT", self.lock_timeout)?;
        check_duration("SESSION_LOCK_LEASE", self.lock_lease)?;
        // RFC 6265: a path is any ASCII but control characters and ';'.
        if !self.cookie_path.starts_with('/')
            || !self
                .cookie_path
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b';')
        {
            return Err(ConfigError::new(
                "SESSION_COOKIE_PATH",
                format!(
                    "{:?} must start with '/' and hold only printable ASCII other than ';'",
                    self.cookie_path
                ),
            ));
        }
        if let Some(domain) = &self.cookie_domain
            && !domain.bytes().all(|b| b.is_ascii_graphic() && b != b';')
        {
            return Err(ConfigError::new(
                "SESSION_COOKIE_DOMAIN",
                format!("{domain:?} is not a domain"),
            ));
        }
        if self.cookie_samesite == Some(SameSite::None) && !self.cookie_secure {
            return Err(ConfigError::new(
                "SESSION_COOKIE_SAMESITE",
                "None requires SESSION_COOKIE_SECURE=true (browsers reject it otherwise)",
            ));
        }
        if self.cookie_name.starts_with("__Host-") {
            let problem = if !self.cookie_secure {
                Some("requires SESSION_COOKIE_SECURE=true")
            } else if self.cookie_domain.is_some() {
                Some("forbids SESSION_COOKIE_DOMAIN")
            } else if self.cookie_path != "/" {
                Some("requires SESSION_COOKIE_PATH=/")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(ConfigError::new(
                    "SESSION_COOKIE_NAME",
                    format!("a __Host- cookie name {problem}"),
                ));
            }
        }
        if self.cookie_name.starts_with("__Secure-") && !self.cookie_secure {
            return Err(ConfigError::new(
                "SESSION_COOKIE_NAME",
                "a __Secure- cookie name requires SESSION_COOKIE_SECURE=true",
            ));
        }
        if matches!(self.engine, EngineKind::Cache | EngineKind::CachedDb) {
            if let Some(query) = self.cache_url.strip_prefix("memory://") {
                memory_capacity(query)?;
            }
            if !has_known_scheme(&self.cache_url) {
                return Err(ConfigError::new(
                    "SESSION_CACHE_URL",
                    format!(
                        "{:?} is not a cache URL; use memory:// or redis://HOST[:PORT][/DB]",
                        redact_password(&self.cache_url)
                    ),
                ));
            }
        }
        if self.engine == EngineKind::CachedDb && self.cache_timeout >= self.store_timeout {
            return Err(ConfigError::new(
                "SESSION_CACHE_TIMEOUT",
                format!(
                    "{:?} must be less than SESSION_STORE_TIMEOUT ({:?}), so a hung cache \
                     leaves the request time to ask the database",
                    self.cache_timeout, self.store_timeout
                ),
            ));
        }
        for (i, fallback) in self.engine_fallbacks.iter().enumerate() {
            let earlier = self.engine_fallbacks.iter().take(i);
            if *fallback == self.engine || earlier.clone().any(|e| e == fallback) {
                return Err(ConfigError::new(
                    "SESSION_ENGINE_FALLBACKS",
                    format!("{fallback} is listed twice (or is SESSION_ENGINE itself)"),
                ));
            }
            let as_primary = Settings {
                engine: *fallback,
                engine_fallbacks: Vec::new(),
                locking: false,
                ..self.clone()
            };
            as_primary.validate()?;
        }
        if self.locking && !self.engine.is_server_side() {
            return Err(ConfigError::new(
                "SESSION_LOCKING",
                "needs a server-side SESSION_ENGINE: signed_cookies keeps sessions in browsers, \
                 where nothing can lock them",
            ));
        }
        if self.engine == EngineKind::File && !self.file_path.is_dir() {
            return Err(ConfigError::new(
                "SESSION_FILE_PATH",
                format!(
                    "{} is not an existing directory; create it or point the setting elsewhere",
                    self.file_path.display()
                ),
            ));
        }
        if matches!(self.engine, EngineKind::Db | EngineKind::CachedDb) {
            if db_url_feature(&self.db_url).is_none() {
                return Err(ConfigError::new(
                    "SESSION_DB_URL",
                    format!(
                        "{:?} is not a database URL; use sqlite://PATH, postgres://… or mysql://…",
                        redact_password(&self.db_url)
                    ),
                ));
            }
            let table_ok = !self.db_table.is_empty()
                && self.db_table.len() <= 50
                && self
                    .db_table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !self.db_table.starts_with(|c: char| c.is_ascii_digit());
            if !table_ok {
                return Err(ConfigError::new(
                    "SESSION_DB_TABLE",
                    format!(
                        "{:?} is not a plain table name (letters, digits, _; at most 50)",
                        self.db_table
                    ),
                ));
            }
        }
        if self.secret_key.trim().is_empty() {
            return Err(missing_secret());
        }
        Ok(())
    }
}

fn missing_secret() -> ConfigError {
    ConfigError::new(
        "SECRET_KEY",
        "is required: set it to a long random string (the demo server generates one)",
    )
}

/// The settings' text values, from TOML text overridden by `overrides`.
fn raw_settings(
    file: Option<&str>,
    file_path: &Path,
    overrides: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut raw = BTreeMap::new();
    if let Some(text) = file {
        TOML.require(
            "SESSIONKIT_CONFIG",
            &format!("reading {}", file_path.display()),
        )?;
        raw.extend(parse_toml(text, file_path)?);
    }
    raw.extend(overrides);
    Ok(raw)
}

fn is_cookie_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn allowed<const N: usize>(names: [&str; N]) -> String {
    names.join(", ")
}

/// The items of a comma-separated setting.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The longest value `setting` accepts (see [`MAX_DURATIONS`]).
fn max_duration(setting: &str) -> Duration {
    MAX_DURATIONS
        .iter()
        .find(|(name, _)| *name == setting)
        .map_or(Duration::from_secs(600), |(_, max)| *max)
}

/// Seconds (a decimal number) within the setting's range; checked before converting, since a
/// huge value cannot become a `Duration` at all.
fn parse_seconds(setting: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let seconds = value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| {
            ConfigError::new(
                setting,
                format!("{value:?} is not a positive number of seconds"),
            )
        })?;
    let max = max_duration(setting);
    if seconds > max.as_secs_f64() {
        return Err(out_of_range(setting, value));
    }
    let duration =
        Duration::try_from_secs_f64(seconds).map_err(|_| out_of_range(setting, value))?;
    check_duration(setting, duration)?;
    Ok(duration)
}

/// A duration given in code (the fields are public) must be within the same range.
fn check_duration(setting: &'static str, duration: Duration) -> Result<(), ConfigError> {
    if (MIN_DURATION..=max_duration(setting)).contains(&duration) {
        Ok(())
    } else {
        Err(out_of_range(setting, &format!("{duration:?}")))
    }
}

fn out_of_range(setting: &'static str, value: &str) -> ConfigError {
    ConfigError::new(
        setting,
        format!(
            "{value} is out of range: use from {} to {} seconds",
            MIN_DURATION.as_secs_f64(),
            max_duration(setting).as_secs()
        ),
    )
}

fn parse_bool(setting: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(
            setting,
            format!("{value:?} is not a boolean; use true or false"),
        )),
    }
}

fn parse_samesite(value: &str) -> Result<Option<SameSite>, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "lax" => Ok(Some(SameSite::Lax)),
        "strict" => Ok(Some(SameSite::Strict)),
        "none" => Ok(Some(SameSite::None)),
        "" | "false" | "off" => Ok(None),
        _ => Err(ConfigError::new(
            "SESSION_COOKIE_SAMESITE",
            format!("{value:?} is not allowed; use Lax, Strict, None or off"),
        )),
    }
}

/// Never called: [`raw_settings`] refuses a settings file when this build reads no TOML.
#[cfg(not(feature = "toml"))]
fn parse_toml(_text: &str, _path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    Ok(Vec::new())
}

/// Flattens `sessionkit.toml` into `(name, text)` pairs: strings as they are, numbers and
/// booleans in their TOML form, arrays joined with commas (for the list settings).
#[cfg(feature = "toml")]
fn parse_toml(text: &str, path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::new(
            "SESSIONKIT_CONFIG",
            format!("{} is not valid TOML: {}", path.display(), e.message()),
        )
    })?;
    table
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Array(items) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned).unwrap_or(item.to_string()))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            Ok((name, text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_sources(
            file,
            Path::new("sessionkit.toml"),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_are_secure_and_match_the_design() {
        let s = load(None, &[("SECRET_KEY", "k")]).unwrap();
        assert_eq!(s.engine, EngineKind::Db);
        assert_eq!(s.db_url, "sqlite://sessionkit.sqlite3");
        assert_eq!(s.cookie_age, 1_209_600);
        assert!(s.cookie_secure && s.cookie_httponly);
        assert_eq!(s.cookie_samesite, Some(SameSite::Lax));
    }

    #[test]
    #[cfg(feature = "toml")]
    fn environment_wins_over_the_file() {
        let file = "SECRET_KEY = \"from-file\"\nSESSION_ENGINE = \"db\"\nSESSION_COOKIE_AGE = 60\nSECRET_KEY_FALLBACKS = [\"a\", \"b\"]";
        let s = load(Some(file), &[("SESSION_ENGINE", "signed_cookies")]).unwrap();
        assert_eq!(s.engine, EngineKind::SignedCookies);
        assert_eq!(s.secret_key, "from-file");
        assert_eq!(s.cookie_age, 60);
        assert_eq!(s.secret_key_fallbacks, ["a", "b"]);
    }

    #[test]
    fn django_engine_paths_are_accepted() {
        let s = load(
            None,
            &[
                ("SECRET_KEY", "k"),
                (
                    "SESSION_ENGINE",
                    "django.contrib.sessions.backends.signed_cookies",
                ),
            ],
        )
        .unwrap();
        assert_eq!(s.engine, EngineKind::SignedCookies);
    }

    #[test]
    fn bad_values_name_the_setting_and_the_choices() {
        /// Settings given, the setting blamed, a fragment of the message.
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[], "SECRET_KEY", "required"),
            (
                &[("SESSION_ENGINE", "mongo")],
                "SESSION_ENGINE",
                "signed_cookies, db, cache, cached_db, file",
            ),
            (
                &[
                    ("SESSION_ENGINE", "cache"),
                    ("SESSION_CACHE_URL", "memcached://x"),
                ],
                "SESSION_CACHE_URL",
                "memory:// or redis://",
            ),
            (
                &[
                    ("SESSION_ENGINE", "cache"),
                    ("SESSION_CACHE_URL", "memory://?size=9"),
                ],
                "SESSION_CACHE_URL",
                "max_entries",
            ),
            (
                &[
                    ("SESSION_ENGINE", "file"),
                    ("SESSION_FILE_PATH", "/no/such/dir"),
                ],
                "SESSION_FILE_PATH",
                "not an existing directory",
            ),
            (
                &[("SESSION_STORE_TIMEOUT", "-1")],
                "SESSION_STORE_TIMEOUT",
                "positive",
            ),
            (
                &[
                    ("SESSION_ENGINE", "cached_db"),
                    ("SESSION_STORE_TIMEOUT", "0.5"),
                    ("SESSION_CACHE_TIMEOUT", "0.5"),
                ],
                "SESSION_CACHE_TIMEOUT",
                "less than SESSION_STORE_TIMEOUT",
            ),
            (
                &[("SESSION_CACHE_TIMEOUT", "0")],
                "SESSION_CACHE_TIMEOUT",
                "positive",
            ),
            (
                &[("SESSION_CACHE_TIMEOUT", "1e300")],
                "SESSION_CACHE_TIMEOUT",
                "out of range",
            ),
            (
                &[("SESSION_LOCK_LEASE", "soon")],
                "SESSION_LOCK_LEASE",
                "seconds",
            ),
            (
                &[
                    ("SESSION_ENGINE", "signed_cookies"),
                    ("SESSION_LOCKING", "true"),
                ],
                "SESSION_LOCKING",
                "server-side",
            ),
            (
                &[("SESSION_ENGINE_FALLBACKS", "signed_cookies, cookies")],
                "SESSION_ENGINE_FALLBACKS",
                "not an engine",
            ),
            (
                &[("SESSION_ENGINE_FALLBACKS", "db")],
                "SESSION_ENGINE_FALLBACKS",
                "SESSION_ENGINE itself",
            ),
            (
                &[
                    ("SESSION_ENGINE_FALLBACKS", "file"),
                    ("SESSION_FILE_PATH", "/no/such"),
                ],
                "SESSION_FILE_PATH",
                "not an existing directory",
            ),
            (
                &[("SESSION_COOKIE_AGE", "soon")],
                "SESSION_COOKIE_AGE",
                "seconds",
            ),
            (
                &[("SESSION_COOKIE_AGE", "0")],
                "SESSION_COOKIE_AGE",
                "positive",
            ),
            (
                &[("SESSION_COOKIE_AGE", "9223372036854775807")],
                "SESSION_COOKIE_AGE",
                "400 days",
            ),
            (
                &[("SESSION_STORE_TIMEOUT", "1e300")],
                "SESSION_STORE_TIMEOUT",
                "out of range",
            ),
            (
                &[("SESSION_STORE_TIMEOUT", "1e19")],
                "SESSION_STORE_TIMEOUT",
                "out of range",
            ),
            (
                &[("SESSION_STORE_TIMEOUT", "1e-12")],
                "SESSION_STORE_TIMEOUT",
                "out of range",
            ),
            (
                &[("SESSION_LOCK_TIMEOUT", "1e20")],
                "SESSION_LOCK_TIMEOUT",
                "out of range",
            ),
            (
                &[("SESSION_LOCK_LEASE", "1e30")],
                "SESSION_LOCK_LEASE",
                "out of range",
            ),
            (
                &[("SESSION_LOCK_LEASE", "inf")],
                "SESSION_LOCK_LEASE",
                "positive number",
            ),
            (
                &[("SESSION_COOKIE_SECURE", "maybe")],
                "SESSION_COOKIE_SECURE",
                "true or false",
            ),
            (
                &[("SESSION_COOKIE_SAMESITE", "loose")],
                "SESSION_COOKIE_SAMESITE",
                "Lax, Strict",
            ),
            (
                &[
                    ("SESSION_COOKIE_SAMESITE", "None"),
                    ("SESSION_COOKIE_SECURE", "false"),
                ],
                "SESSION_COOKIE_SAMESITE",
                "requires SESSION_COOKIE_SECURE=true",
            ),
            (
                &[
                    ("SESSION_COOKIE_NAME", "__Host-id"),
                    ("SESSION_COOKIE_DOMAIN", "example.com"),
                ],
                "SESSION_COOKIE_NAME",
                "forbids SESSION_COOKIE_DOMAIN",
            ),
            (
                &[
                    ("SESSION_COOKIE_NAME", "__Host-id"),
                    ("SESSION_COOKIE_SECURE", "false"),
                ],
                "SESSION_COOKIE_NAME",
                "requires SESSION_COOKIE_SECURE",
            ),
            (
                &[("SESSION_COOKIE_PATH", "/a\u{1}b")],
                "SESSION_COOKIE_PATH",
                "printable ASCII",
            ),
            (
                &[("SESSION_COOKIE_DOMAIN", "exa\u{7f}mple.com")],
                "SESSION_COOKIE_DOMAIN",
                "is not a domain",
            ),
            (
                &[("SESSION_COOKIE_NAME", "a b")],
                "SESSION_COOKIE_NAME",
                "not a valid cookie name",
            ),
            (
                &[("SESSION_DB_URL", "redis://x")],
                "SESSION_DB_URL",
                "not a database URL",
            ),
            (
                &[("SESSION_DB_TABLE", "x; drop")],
                "SESSION_DB_TABLE",
                "plain table name",
            ),
        ];
        for (env, setting, fragment) in cases {
            let mut env = env.to_vec();
            if *setting != "SECRET_KEY" {
                env.push(("SECRET_KEY", "k"));
            }
            let err = load(None, &env).expect_err(setting);
            assert_eq!(err.setting, *setting, "{env:?}");
            assert!(
                err.to_string().contains(fragment),
                "{err} lacks {fragment:?}"
            );
        }
    }

    #[test]
    fn a_host_prefixed_name_with_secure_and_root_path_is_fine() {
        load(
            None,
            &[("SECRET_KEY", "k"), ("SESSION_COOKIE_NAME", "__Host-sid")],
        )
        .unwrap();
    }

    #[test]
    #[cfg(feature = "toml")]
    fn unknown_file_keys_and_broken_toml_are_errors() {
        let err = load(Some("SECRET_KEY = \"k\"\nSESSION_COOKIE_AEG = 5"), &[]).unwrap_err();
        assert_eq!(err.setting, "SESSION_COOKIE_AEG");
        assert!(err.message.starts_with("unknown setting"), "{err}");
        let err = load(Some("SECRET_KEY = "), &[]).unwrap_err();
        assert_eq!(err.setting, "SESSIONKIT_CONFIG");
    }

    #[test]
    #[cfg(not(feature = "toml"))]
    fn a_settings_file_without_the_toml_feature_names_it() {
        let error = load(Some("SECRET_KEY = \"k\""), &[]).unwrap_err();
        assert_eq!(error.setting, "SESSIONKIT_CONFIG");
        assert!(error.message.contains("features = [\"toml\"]"), "{error}");
    }

    #[test]
    fn debug_hides_secrets_and_passwords() {
        let mut s = Settings::new("super-secret-value");
        s.db_url = "postgres://app:hunter2@db/app".to_owned();
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret-value"));
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("postgres://app:***@db/app"));
    }
}
