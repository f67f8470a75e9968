//! Opening the engine that settings select: the one place that maps settings to engines.

use std::sync::Arc;

use super::cache::open_cache;
#[cfg(feature = "_sql")]
use super::{CachedDbStore, DbEngine, SqlStore};
use super::{Engine, EngineError, FileStore, ServerEngine, SignedCookieEngine};
use crate::settings::{ConfigError, EngineKind, Settings};

/// Opens the engine `settings` select.
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
pub enum OpenError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be reached.
    #[error(transparent)]
    Engine(#[from] EngineError),
}
