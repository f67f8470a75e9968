//! Checking a combination of settings before anything is opened with them.

use super::rules::{check_duration, check_pool_size, missing_secret};
use super::{ConfigError, EngineKind, MAX_COOKIE_AGE, SameSite, Settings};
use crate::cache_url::memory_capacity;
use crate::config::{StoreScheme, redact_password};
use crate::features::db_url_feature;
use crate::tls::read_ca_file;

impl Settings {
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
        self.check_cookie()?;
        self.check_cookie_prefixes()?;
        self.check_header()?;
        self.check_durations()?;
        self.check_stores()?;
        self.check_redis_topology()?;
        self.check_revocation()?;
        self.check_fallbacks_and_locking()?;
        if self.secret_key.trim().is_empty() {
            return Err(missing_secret());
        }
        Ok(())
    }

    /// The cookie: a name, age, path, domain and `SameSite` browsers accept.
    fn check_cookie(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// The rules browsers enforce for the `__Host-` and `__Secure-` name prefixes.
    fn check_cookie_prefixes(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// `SESSION_HEADER_NAME`: a header name a request can carry, and an engine whose key fits
    /// in it (a signed cookie is the session itself, kilobytes a header would carry around).
    fn check_header(&self) -> Result<(), ConfigError> {
        let Some(name) = &self.header_name else {
            return Ok(());
        };
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || RESERVED_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
        {
            return Err(ConfigError::new(
                "SESSION_HEADER_NAME",
                format!(
                    "{name:?} is not a header of its own: use a name of letters, digits and \
                     '-' such as X-Session-Token, not one HTTP already uses"
                ),
            ));
        }
        if !self.engine.is_server_side() {
            return Err(ConfigError::new(
                "SESSION_HEADER_NAME",
                format!(
                    "needs a server-side SESSION_ENGINE: {} keeps the session in the cookie \
                     itself; use db, cache, cached_db or file",
                    self.engine
                ),
            ));
        }
        Ok(())
    }

    /// Every duration within its range.
    fn check_durations(&self) -> Result<(), ConfigError> {
        check_duration("SESSION_STORE_TIMEOUT", self.store_timeout)?;
        check_duration("SESSION_CACHE_TIMEOUT", self.cache_timeout)?;
        check_duration("SESSION_DB_IDLE_TIMEOUT", self.db_idle_timeout)?;
        check_duration("SESSION_LOCK_TIMEOUT", self.lock_timeout)?;
        check_duration("SESSION_LOCK_LEASE", self.lock_lease)?;
        check_duration("SESSION_ACTIVITY_REFRESH", self.activity_refresh)?;
        check_duration("SESSION_NEAR_CACHE_TTL", self.near_cache_ttl)?;
        if let Some(idle) = self.idle_timeout {
            check_duration("SESSION_IDLE_TIMEOUT", idle)?;
            if self.activity_refresh >= idle {
                return Err(ConfigError::new(
                    "SESSION_ACTIVITY_REFRESH",
                    format!(
                        "{:?} must be less than SESSION_IDLE_TIMEOUT ({idle:?}), or an active \
                         session would time out between two of its activity writes",
                        self.activity_refresh
                    ),
                ));
            }
        }
        if let Some(absolute) = self.absolute_timeout {
            check_duration("SESSION_ABSOLUTE_TIMEOUT", absolute)?;
        }
        Ok(())
    }

    /// `SESSION_REVOCATION_URL`: a store URL, for an engine that keeps sessions in cookies.
    fn check_revocation(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.revocation_url else {
            return Ok(());
        };
        if self.engine.is_server_side() {
            return Err(ConfigError::new(
                "SESSION_REVOCATION_URL",
                format!(
                    "is for engines that keep sessions in cookies; {} deletes a logged-out \
                     session itself, so leave it unset",
                    self.engine
                ),
            ));
        }
        match StoreScheme::of(url) {
            Some(StoreScheme::Memory) => memory_capacity(url.trim_start_matches("memory://"))
                .map(|_| ())
                .map_err(|error| ConfigError::new("SESSION_REVOCATION_URL", error.to_string())),
            Some(_) => Ok(()),
            None => Err(ConfigError::new(
                "SESSION_REVOCATION_URL",
                format!(
                    "{:?} is not a store URL; use memory://, redis://HOST[:PORT][/DB] or a \
                     database URL (sqlite://, postgres://, mysql://)",
                    redact_password(url)
                ),
            )),
        }
    }

    /// Whether the near cache would take its invalidations from `SESSION_CACHE_URL` (the
    /// cache engine, or cached_db over a database without a channel of its own) and that URL
    /// names a Redis Cluster or Sentinel setup.
    fn near_cache_listens_to_a_redis_topology(&self) -> bool {
        let topology = [
            "redis+cluster://",
            "rediss+cluster://",
            "redis+sentinel://",
            "rediss+sentinel://",
        ]
        .iter()
        .any(|scheme| self.cache_url.starts_with(scheme));
        let listens_to_the_cache = match self.engine {
            EngineKind::Cache => true,
            EngineKind::CachedDb => StoreScheme::of(&self.db_url) != Some(StoreScheme::Postgres),
            _ => false,
        };
        topology && listens_to_the_cache
    }

    /// What a Redis Cluster cannot do, and `SESSION_REDIS_WAIT_REPLICAS` without a Redis.
    fn check_redis_topology(&self) -> Result<(), ConfigError> {
        let cluster =
            |url: &str| url.starts_with("redis+cluster://") || url.starts_with("rediss+cluster://");
        if self.engine == EngineKind::CachedDb && cluster(&self.cache_url) {
            return Err(ConfigError::new(
                "SESSION_CACHE_URL",
                "cached_db's cache keeps one epoch key that every cache write checks, which a \
                 Redis Cluster cannot keep in each session's hash slot; use the cache engine on \
                 the cluster, or cached_db with one Redis or a Sentinel setup",
            ));
        }
        let on_redis = |url: &str| StoreScheme::of(url) == Some(StoreScheme::Redis);
        let redis_used = (matches!(self.engine, EngineKind::Cache | EngineKind::CachedDb)
            && on_redis(&self.cache_url))
            || self.revocation_url.as_deref().is_some_and(on_redis);
        if self.redis_wait_replicas > 0 && !redis_used {
            return Err(ConfigError::new(
                "SESSION_REDIS_WAIT_REPLICAS",
                format!(
                    "waits for Redis replicas, but the {} engine writes to no Redis here; \
                     leave it unset",
                    self.engine
                ),
            ));
        }
        Ok(())
    }

    /// The store the engine uses: a URL it can open, a table name, an existing directory, a
    /// CA file of PEM certificates.
    fn check_stores(&self) -> Result<(), ConfigError> {
        if matches!(self.engine, EngineKind::Cache | EngineKind::CachedDb) {
            if let Some(query) = self.cache_url.strip_prefix("memory://") {
                memory_capacity(query)?;
            }
            if StoreScheme::of(&self.cache_url).is_none_or(|scheme| scheme.is_database()) {
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
        if let Some(ca_file) = &self.store_ca_file {
            read_ca_file(ca_file)?;
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
            if let Some(size) = self.db_pool_size {
                check_pool_size(size)?;
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
        Ok(())
    }

    /// Fallback engines (each valid as a primary) and locking (only where a store can lock).
    fn check_fallbacks_and_locking(&self) -> Result<(), ConfigError> {
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
                near_cache: false,
                ..self.clone()
            };
            as_primary.validate()?;
        }
        if self.near_cache && !self.engine.is_server_side() {
            return Err(ConfigError::new(
                "SESSION_NEAR_CACHE",
                format!(
                    "needs a server-side SESSION_ENGINE: {} keeps sessions in browsers, with \
                     no record to cache; use db, cache, cached_db or file",
                    self.engine
                ),
            ));
        }
        if self.near_cache && self.near_cache_listens_to_a_redis_topology() {
            return Err(ConfigError::new(
                "SESSION_NEAR_CACHE",
                "its invalidation channel (Redis client-side caching) listens to one Redis \
                 node, not to a Redis Cluster or a Sentinel setup, so deletes elsewhere would \
                 go unseen; leave it off there, or use it with one Redis"
                    .to_owned(),
            ));
        }
        if self.near_cache && self.near_cache_max_entries == 0 {
            return Err(ConfigError::new(
                "SESSION_NEAR_CACHE_MAX_ENTRIES",
                "0 entries is no cache: use at least 1, or SESSION_NEAR_CACHE=false".to_owned(),
            ));
        }
        if self.locking && !self.engine.is_server_side() {
            return Err(ConfigError::new(
                "SESSION_LOCKING",
                format!(
                    "needs a server-side SESSION_ENGINE: {} keeps sessions in browsers, where \
                     nothing can lock them",
                    self.engine
                ),
            ));
        }
        Ok(())
    }
}

/// Headers with a meaning of their own, which the session key must not take over.
const RESERVED_HEADERS: [&str; 5] = ["cookie", "set-cookie", "authorization", "host", "vary"];

fn is_cookie_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
