//! Reading settings from the environment and `sessionkit.toml`, one named value at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rules::{check_duration, check_pool_size, max_duration, missing_secret, out_of_range};
use super::{ConfigError, SETTING_NAMES, SameSite, Settings, SqliteSynchronous};
use crate::config::allowed;
use crate::features::TOML;

impl Settings {
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
    // Long, as a table is: one line per setting, each its own parse.
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
            "SESSION_DB_POOL_SIZE" => self.db_pool_size = Some(parse_pool_size(value)?),
            "SESSION_DB_IDLE_TIMEOUT" => self.db_idle_timeout = parse_seconds(setting, value)?,
            "SESSION_DB_SQLITE_SYNCHRONOUS" => {
                self.db_sqlite_synchronous = parse_sqlite_synchronous(value)?
            }
            "SESSION_DB_TABLE" => self.db_table = value.to_owned(),
            "SESSION_CACHE_URL" => self.cache_url = value.to_owned(),
            "SESSION_CACHE_KEY_PREFIX" => self.cache_key_prefix = value.to_owned(),
            "SESSION_REDIS_WAIT_REPLICAS" => {
                self.redis_wait_replicas = value.parse().map_err(|_| {
                    ConfigError::new(setting, format!("{value:?} is not a number of replicas"))
                })?
            }
            "SESSION_STORE_CA_FILE" => {
                self.store_ca_file = (!value.is_empty()).then(|| PathBuf::from(value))
            }
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
            "SESSION_IDLE_TIMEOUT" => self.idle_timeout = parse_optional_seconds(setting, value)?,
            "SESSION_ABSOLUTE_TIMEOUT" => {
                self.absolute_timeout = parse_optional_seconds(setting, value)?
            }
            "SESSION_ACTIVITY_REFRESH" => self.activity_refresh = parse_seconds(setting, value)?,
            "SESSION_REVOCATION_URL" => {
                self.revocation_url = (!value.is_empty()).then(|| value.to_owned())
            }
            "SESSION_HEADER_NAME" => {
                self.header_name = (!value.is_empty()).then(|| value.to_owned())
            }
            "SESSION_SAVE_EVERY_REQUEST" => self.save_every_request = parse_bool(setting, value)?,
            "SESSION_NEAR_CACHE" => self.near_cache = parse_bool(setting, value)?,
            "SESSION_NEAR_CACHE_MAX_ENTRIES" => {
                self.near_cache_max_entries = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|entries| *entries > 0)
                    .ok_or_else(|| {
                        ConfigError::new(
                            setting,
                            format!("{value:?} is not a positive number of entries"),
                        )
                    })?
            }
            "SESSION_NEAR_CACHE_TTL" => self.near_cache_ttl = parse_seconds(setting, value)?,
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

/// The items of a comma-separated setting.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
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

/// [`parse_seconds`], or none for an empty value, `0` or `off`: a timeout that is off.
fn parse_optional_seconds(
    setting: &'static str,
    value: &str,
) -> Result<Option<Duration>, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "off" | "none" => Ok(None),
        _ => parse_seconds(setting, value).map(Some),
    }
}

/// A number of connections, from 1 to [`MAX_DB_POOL_SIZE`](super::MAX_DB_POOL_SIZE).
fn parse_pool_size(value: &str) -> Result<u32, ConfigError> {
    let size = value.parse().map_err(|_| {
        ConfigError::new(
            "SESSION_DB_POOL_SIZE",
            format!("{value:?} is not a number of connections"),
        )
    })?;
    check_pool_size(size)?;
    Ok(size)
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

fn parse_sqlite_synchronous(value: &str) -> Result<SqliteSynchronous, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "normal" => Ok(SqliteSynchronous::Normal),
        "full" => Ok(SqliteSynchronous::Full),
        _ => Err(ConfigError::new(
            "SESSION_DB_SQLITE_SYNCHRONOUS",
            format!("{value:?} is not allowed; use normal or full"),
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
