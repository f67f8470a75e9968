//! Opening the engine that settings select: the one place that maps settings to engines.
//!
//! Each engine takes a small config of its own ([`SignedCookieConfig`],
//! [`EncryptedCookieConfig`], [`DbConfig`], [`DbTableConfig`], [`CacheConfig`],
//! [`CachedDbTimeouts`]) and never reads [`Settings`]; the `From<&Settings>`
//! conversions below are the only code that reads settings for an engine. So config flows
//! one way — settings, engine config, engine — and an engine can be built in code from its
//! config alone.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

#[cfg(feature = "redis")]
use super::RedisStore;
use super::cache::{Cache, CacheConfig, open_cache};
#[cfg(feature = "_sql")]
use super::cached_db::CachedDbTimeouts;
#[cfg(feature = "_sql")]
use super::db::{DbConfig, DbTableConfig};
use super::encrypted_cookies::EncryptedCookieConfig;
#[cfg(feature = "postgres")]
use super::near::PostgresChannel;
#[cfg(feature = "redis")]
use super::near::RedisChannel;
use super::near::{Channel, NearCacheConfig, NearCacheStore};
use super::signed_cookies::SignedCookieConfig;
use super::store::RecordStore;
#[cfg(feature = "_sql")]
use super::{CachedDbStore, DbEngine, SqlStore};
use super::{
    EncryptedCookieEngine, Engine, EngineError, FileStore, MemoryStore, RevocationList,
    ServerEngine, SignedCookieEngine,
};
use crate::cache_url::memory_capacity;
use crate::config::{Secrets, StoreScheme, redact_password};
use crate::settings::{ConfigError, EngineKind, Settings};

/// Opens the engine `settings` select. A store this build has no Cargo feature for is an
/// [`OpenError::Config`] naming the feature to enable.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let settings = sessionkit::Settings::from_env()?;
/// let engine = sessionkit::engine::open(&settings).await?;
/// engine.migrate().await?;
/// # Ok(()) }
/// ```
pub async fn open(settings: &Settings) -> Result<Arc<dyn Engine>, OpenError> {
    // Boxed: the future of every engine's opening, nested in the caller's, is deep enough
    // to overflow the compiler's query depth in an application's crate (proving it `Send`).
    let opening: Pin<Box<dyn Future<Output = _> + Send + '_>> = Box::pin(open_engine(settings));
    opening.await
}

async fn open_engine(settings: &Settings) -> Result<Arc<dyn Engine>, OpenError> {
    settings.validate()?;
    // Here rather than in `validate`: settings for an engine built by hand need no feature.
    crate::features::check(settings.engine, &settings.db_url, &settings.cache_url)?;
    crate::features::check_ca_file(settings.store_ca_file.as_deref())?;
    let timeout = settings.store_timeout;
    let near = NearCacheConfig::from(settings);
    Ok(match settings.engine {
        EngineKind::SignedCookies => {
            let engine = SignedCookieEngine::new(settings);
            Arc::new(match revocations(settings).await? {
                Some(list) => engine.with_revocations(list),
                None => engine,
            })
        }
        EngineKind::EncryptedCookies => {
            let engine = EncryptedCookieEngine::new(settings);
            Arc::new(match revocations(settings).await? {
                Some(list) => engine.with_revocations(list),
                None => engine,
            })
        }
        #[cfg(feature = "_sql")]
        EngineKind::Db if !settings.near_cache => Arc::new(DbEngine::connect(settings).await?),
        #[cfg(feature = "_sql")]
        EngineKind::Db => {
            let store = Arc::new(SqlStore::connect(settings).await?);
            near_cached(store, near, db_channel(settings), timeout)
        }
        EngineKind::Cache if !settings.near_cache => {
            Arc::new(ServerEngine::shared(open_cache(settings).await?, timeout))
        }
        EngineKind::Cache => {
            let (cache, channel) = open_reporting_cache(settings).await?;
            near_cached(cache, near, channel, timeout)
        }
        #[cfg(feature = "_sql")]
        EngineKind::CachedDb if !settings.near_cache => {
            let store = CachedDbStore::new(
                open_cache(settings).await?,
                SqlStore::connect(settings).await?,
                settings,
            );
            Arc::new(ServerEngine::new(store, timeout))
        }
        #[cfg(feature = "_sql")]
        EngineKind::CachedDb => {
            // The database is the record of truth: its channel if it has one, else the cache's.
            let (cache, channel) = match db_channel(settings) {
                Channel::TtlOnly => open_reporting_cache(settings).await?,
                #[allow(unreachable_patterns)] // the only variant without a channel's feature
                channel => (open_cache(settings).await?, channel),
            };
            let store = CachedDbStore::new(cache, SqlStore::connect(settings).await?, settings);
            near_cached(Arc::new(store), near, channel, timeout)
        }
        // `features::check` above refused these settings already; this repeats its error.
        #[cfg(not(feature = "_sql"))]
        EngineKind::Db | EngineKind::CachedDb => {
            return Err(crate::features::no_sql_database(settings.engine).into());
        }
        EngineKind::File => {
            let store = Arc::new(FileStore::new(&settings.file_path));
            if settings.near_cache {
                near_cached(store, near, Channel::TtlOnly, timeout)
            } else {
                Arc::new(ServerEngine::shared(store, timeout))
            }
        }
    })
}

/// A server engine over `store` behind a near cache told of changes by `channel`.
fn near_cached<S: RecordStore + ?Sized>(
    store: Arc<S>,
    config: NearCacheConfig,
    channel: Channel,
    timeout: std::time::Duration,
) -> Arc<dyn Engine> {
    Arc::new(ServerEngine::new(
        NearCacheStore::with_channel(store, config, channel),
        timeout,
    ))
}

#[cfg(feature = "_sql")]
/// The database's invalidation channel: PostgreSQL's notifications; other databases have none.
fn db_channel(settings: &Settings) -> Channel {
    #[cfg(feature = "postgres")]
    if StoreScheme::of(&settings.db_url) == Some(StoreScheme::Postgres) {
        return Channel::Postgres(PostgresChannel::new(&settings.db_url, &settings.db_table));
    }
    #[cfg(not(feature = "postgres"))]
    let _ = settings;
    Channel::TtlOnly
}

/// The cache of `settings` and its invalidation channel: Redis client-side caching on the
/// store's own connection; the memory cache needs none (it lives in this process, so no
/// other instance changes it).
async fn open_reporting_cache(settings: &Settings) -> Result<(Arc<dyn Cache>, Channel), OpenError> {
    #[cfg(feature = "redis")]
    if StoreScheme::of(&settings.cache_url) == Some(StoreScheme::Redis) {
        let (sender, pushes) = tokio::sync::mpsc::unbounded_channel();
        let (store, connection) =
            RedisStore::connect_reporting(CacheConfig::from(settings), sender).await?;
        let channel = RedisChannel::new(connection, pushes, settings.cache_key_prefix.clone());
        return Ok((Arc::new(store), Channel::Redis(channel)));
    }
    Ok((open_cache(settings).await?, Channel::TtlOnly))
}

/// The revocation list of a cookie engine, if `SESSION_REVOCATION_URL` asks for one.
async fn revocations(settings: &Settings) -> Result<Option<RevocationList>, OpenError> {
    match &settings.revocation_url {
        Some(url) => open_revocations(settings, url).await.map(Some),
        None => Ok(None),
    }
}

/// The revocation list `SESSION_REVOCATION_URL` names, its schema created: the memory store,
/// Redis under `SESSION_CACHE_KEY_PREFIX` + `revoked:`, or the table `sessionkit_revoked`.
async fn open_revocations(settings: &Settings, url: &str) -> Result<RevocationList, OpenError> {
    crate::features::check_revocation_url(url)?;
    let timeout = settings.store_timeout;
    let list = match StoreScheme::of(url) {
        Some(StoreScheme::Memory) => {
            let capacity = memory_capacity(url.trim_start_matches("memory://"))
                .map_err(|error| ConfigError::new("SESSION_REVOCATION_URL", error.to_string()))?;
            RevocationList::new(MemoryStore::new(capacity), timeout)
        }
        #[cfg(feature = "redis")]
        Some(StoreScheme::Redis) => {
            let store = RedisStore::connect(CacheConfig {
                url: url.to_owned(),
                key_prefix: format!("{}revoked:", settings.cache_key_prefix),
                ca_file: settings.store_ca_file.clone(),
                timeout,
                wait_replicas: settings.redis_wait_replicas,
            })
            .await?;
            RevocationList::new(store, timeout)
        }
        #[cfg(feature = "_sql")]
        Some(StoreScheme::Sqlite | StoreScheme::Postgres | StoreScheme::MySql) => {
            // The database settings (pool size, timeouts, CA file) for another URL and table.
            let store = SqlStore::connect(DbConfig {
                url: url.to_owned(),
                table: "sessionkit_revoked".to_owned(),
                ..DbConfig::from(settings)
            })
            .await?;
            RevocationList::new(store, timeout)
        }
        // `check_revocation_url` above refused a store this build leaves out, and settings
        // validation any other URL.
        _ => {
            return Err(ConfigError::new(
                "SESSION_REVOCATION_URL",
                format!("{:?} is not a store this build has", redact_password(url)),
            )
            .into());
        }
    };
    list.migrate().await?;
    Ok(list)
}

/// `SECRET_KEY`, `SECRET_KEY_FALLBACKS` and `SESSION_COOKIE_AGE`.
impl From<&Settings> for SignedCookieConfig {
    fn from(settings: &Settings) -> Self {
        SignedCookieConfig {
            secrets: secrets(settings),
            cookie_age: settings.cookie_age,
        }
    }
}

/// `SECRET_KEY`, `SECRET_KEY_FALLBACKS`, `SESSION_COOKIE_NAME` and `SESSION_COOKIE_AGE`.
impl From<&Settings> for EncryptedCookieConfig {
    fn from(settings: &Settings) -> Self {
        EncryptedCookieConfig {
            secrets: secrets(settings),
            cookie_name: settings.cookie_name.clone(),
            cookie_age: settings.cookie_age,
        }
    }
}

/// `SESSION_DB_URL`, `SESSION_DB_POOL_SIZE`, `SESSION_DB_IDLE_TIMEOUT`,
/// `SESSION_DB_SQLITE_SYNCHRONOUS`, `SESSION_DB_TABLE`, `SESSION_STORE_CA_FILE`,
/// `SESSION_STORE_TIMEOUT` and the secrets.
#[cfg(feature = "_sql")]
impl From<&Settings> for DbConfig {
    fn from(settings: &Settings) -> Self {
        DbConfig {
            url: settings.db_url.clone(),
            pool_size: settings.db_pool_size,
            idle_timeout: settings.db_idle_timeout,
            sqlite_synchronous: settings.db_sqlite_synchronous,
            table: settings.db_table.clone(),
            ca_file: settings.store_ca_file.clone(),
            timeout: settings.store_timeout,
            secrets: secrets(settings),
        }
    }
}

/// `SESSION_DB_TABLE`, `SESSION_STORE_TIMEOUT` and the secrets: what a pool the application
/// brings is used with.
#[cfg(feature = "_sql")]
impl From<&Settings> for DbTableConfig {
    fn from(settings: &Settings) -> Self {
        DbTableConfig {
            table: settings.db_table.clone(),
            timeout: settings.store_timeout,
            secrets: secrets(settings),
        }
    }
}

/// `SESSION_CACHE_URL`, `SESSION_CACHE_KEY_PREFIX`, `SESSION_STORE_CA_FILE` and
/// `SESSION_REDIS_WAIT_REPLICAS`; under
/// `cached_db` a cache call waits `SESSION_CACHE_TIMEOUT` (then the database answers alone),
/// else `SESSION_STORE_TIMEOUT`.
impl From<&Settings> for CacheConfig {
    fn from(settings: &Settings) -> Self {
        CacheConfig {
            url: settings.cache_url.clone(),
            key_prefix: settings.cache_key_prefix.clone(),
            ca_file: settings.store_ca_file.clone(),
            timeout: match settings.engine {
                EngineKind::CachedDb => settings.cache_timeout,
                _ => settings.store_timeout,
            },
            wait_replicas: settings.redis_wait_replicas,
        }
    }
}

/// `SESSION_NEAR_CACHE_MAX_ENTRIES` and `SESSION_NEAR_CACHE_TTL`.
impl From<&Settings> for NearCacheConfig {
    fn from(settings: &Settings) -> Self {
        NearCacheConfig {
            max_entries: settings.near_cache_max_entries,
            ttl: settings.near_cache_ttl,
        }
    }
}

/// `SESSION_CACHE_TIMEOUT` and `SESSION_STORE_TIMEOUT`.
#[cfg(feature = "_sql")]
impl From<&Settings> for CachedDbTimeouts {
    fn from(settings: &Settings) -> Self {
        CachedDbTimeouts {
            cache: settings.cache_timeout,
            store: settings.store_timeout,
        }
    }
}

fn secrets(settings: &Settings) -> Secrets {
    Secrets::new(&settings.secret_key, settings.secret_key_fallbacks.clone())
}

/// Why an engine could not be opened.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{self, OpenError};
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings {
///     engine: EngineKind::File,
///     file_path: "/no/such/directory".into(),
///     ..Settings::new("secret")
/// };
/// let error = engine::open(&settings).await.err().unwrap();
/// assert!(matches!(error, OpenError::Config(e) if e.setting == "SESSION_FILE_PATH"));
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be reached.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// What a build without a store's feature says; a build with them all has nothing to test here.
#[cfg(all(test, not(all(feature = "redis", feature = "mysql"))))]
mod tests {
    use super::*;
    use crate::Sessions;

    /// The error opening fails with, or a panic naming what opened instead.
    async fn open_error(settings: Settings) -> ConfigError {
        match Sessions::open(settings).await {
            Err(OpenError::Config(error)) => error,
            Err(other) => panic!("expected a setting's error, got {other}"),
            Ok(_) => panic!("opened an engine this build cannot have"),
        }
    }

    #[tokio::test]
    #[cfg(not(feature = "redis"))]
    async fn a_redis_url_without_the_feature_stops_the_start_naming_it() {
        let fallback_on_redis = Settings {
            engine: EngineKind::SignedCookies,
            engine_fallbacks: vec![EngineKind::Cache],
            cache_url: "redis://127.0.0.1:6379".into(),
            ..Settings::new("secret")
        };
        let error = open_error(fallback_on_redis).await;
        assert_eq!(error.setting, "SESSION_CACHE_URL");
        assert!(error.message.contains("features = [\"redis\"]"), "{error}");
    }

    #[tokio::test]
    #[cfg(not(feature = "mysql"))]
    async fn a_database_url_without_its_feature_stops_the_start_naming_it() {
        let error = open_error(Settings {
            engine: EngineKind::Db,
            db_url: "mariadb://app@127.0.0.1/app".into(),
            ..Settings::new("secret")
        })
        .await;
        assert!(error.message.contains("\"mysql\""), "{error}");
        let blamed = if cfg!(feature = "_sql") {
            "SESSION_DB_URL"
        } else {
            "SESSION_ENGINE"
        };
        assert_eq!(error.setting, blamed);
    }
}
