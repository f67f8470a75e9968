//! Opening the engine that settings select: the one place that maps settings to engines.

use std::sync::Arc;

use super::cache::open_cache;
#[cfg(feature = "_sql")]
use super::{CachedDbStore, DbEngine, SqlStore};
use super::{Engine, EngineError, FileStore, ServerEngine, SignedCookieEngine};
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
    settings.validate()?;
    // Here rather than in `validate`: settings for an engine built by hand need no feature.
    crate::features::check(settings.engine, &settings.db_url, &settings.cache_url)?;
    let timeout = settings.store_timeout;
    Ok(match settings.engine {
        EngineKind::SignedCookies => Arc::new(SignedCookieEngine::new(settings)),
        #[cfg(feature = "_sql")]
        EngineKind::Db => Arc::new(DbEngine::connect(settings).await?),
        EngineKind::Cache => Arc::new(ServerEngine::shared(open_cache(settings).await?, timeout)),
        #[cfg(feature = "_sql")]
        EngineKind::CachedDb => {
            let store = CachedDbStore::new(
                open_cache(settings).await?,
                SqlStore::connect(settings).await?,
                settings,
            );
            Arc::new(ServerEngine::new(store, timeout))
        }
        // `validate` refused these settings already; this repeats its error.
        #[cfg(not(feature = "_sql"))]
        EngineKind::Db | EngineKind::CachedDb => {
            return Err(crate::features::no_sql_database(settings.engine).into());
        }
        EngineKind::File => Arc::new(ServerEngine::new(
            FileStore::new(&settings.file_path),
            timeout,
        )),
    })
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
