//! [`Sessions`]: one application's engine (with its fallbacks) and validated settings, which
//! every request's session shares. The tower layer and the request's cookie are read in
//! `middleware`, which builds on this type (`Sessions::layer`, `Sessions::cookie_value`).

use std::sync::Arc;

use crate::engine::{Engine, OpenError, open};
use crate::expiry_task::ExpiryTask;
use crate::session::{Config, LazySession};
use crate::settings::{ConfigError, Settings};
use crate::transport::Transport;

/// sessionkit for one application: an engine and the settings. Cheap to clone.
///
#[cfg_attr(feature = "axum", doc = "```no_run")]
#[cfg_attr(not(feature = "axum"), doc = "```ignore")]
/// use axum::{Router, routing::get};
/// use sessionkit::{Session, SessionError, Sessions, Settings};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     let n: u64 = session.get("visits")?.unwrap_or(0) + 1;
///     session.insert("visits", n)?;
///     Ok(format!("visit number {n}"))
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = Sessions::open(Settings::from_env()?).await?;
/// sessions.engine().migrate().await?;
/// let app: Router = Router::new().route("/", get(visits)).layer(sessions.layer());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sessions {
    config: Arc<Config>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("engine", &self.engine().name())
            .field("settings", self.settings())
            .finish()
    }
}

impl Sessions {
    /// Validates `settings` and opens the engine they select, and the fallback engines of
    /// `SESSION_ENGINE_FALLBACKS` (read from only, while sessions move to the primary).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::OpenError;
    /// use sessionkit::{EngineKind, Sessions, Settings};
    ///
    /// let settings = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
    /// let sessions = Sessions::open(settings).await?; // memory:// needs no server
    /// assert_eq!(sessions.engine().name(), "cache");
    ///
    /// let bad = Settings { cookie_age: -1, ..Settings::new("secret") };
    /// let error = Sessions::open(bad).await.unwrap_err();
    /// assert!(matches!(error, OpenError::Config(e) if e.setting == "SESSION_COOKIE_AGE"));
    /// # Ok(()) }
    /// ```
    pub async fn open(settings: Settings) -> Result<Self, OpenError> {
        let primary = open(&settings).await?;
        let mut fallbacks = Vec::with_capacity(settings.engine_fallbacks.len());
        for kind in &settings.engine_fallbacks {
            let fallback = Settings {
                engine: *kind,
                engine_fallbacks: Vec::new(),
                locking: false,
                ..settings.clone()
            };
            fallbacks.push(open(&fallback).await?);
        }
        Ok(Sessions::assemble(primary, fallbacks, settings))
    }

    /// Removes expired sessions every `every` in the background (on the current tokio runtime)
    /// until the returned handle is dropped: a SQL table or a session directory stops growing
    /// without `sessionkit clearsessions` from cron. Safe to run in every instance of an app;
    /// a store failure is logged and the next period tries again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use sessionkit::{EngineKind, Sessions};
    ///
    /// let sessions = Sessions::builder("secret").engine(EngineKind::Cache).open().await?;
    /// let expiry = sessions.spawn_expiry(Duration::from_millis(10));
    /// tokio::time::sleep(Duration::from_millis(50)).await;
    /// assert!(expiry.stats().sweeps >= 1);
    /// assert_eq!(expiry.stats().failures, 0);
    /// # Ok(()) }
    /// ```
    pub fn spawn_expiry(&self, every: std::time::Duration) -> ExpiryTask {
        ExpiryTask::spawn(self.engine().clone(), every)
    }

    /// Uses an engine built by hand (tests, custom engines) with `settings`; fallback
    /// engines, if any, come from [`Sessions::with_fallbacks`]. `SESSION_LOCKING` is refused
    /// for an engine without locks, so a store of another crate need not have them.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sessionkit::engine::SignedCookieEngine;
    /// use sessionkit::{EngineKind, Sessions, Settings};
    ///
    /// let settings = Settings { engine: EngineKind::SignedCookies, ..Settings::new("secret") };
    /// let engine = Arc::new(SignedCookieEngine::new(&settings));
    /// let sessions = Sessions::new(engine.clone(), settings)?;
    /// assert_eq!(sessions.engine().name(), "signed_cookies");
    /// assert!(Sessions::new(engine, Settings::new("")).is_err()); // no SECRET_KEY
    /// # Ok::<(), sessionkit::ConfigError>(())
    /// ```
    ///
    /// A store of your own needs five operations; [`ServerEngine`](crate::engine::ServerEngine)
    /// adds keys, hashing at rest, merging saves and everything else:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::collections::HashMap;
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use async_trait::async_trait;
    /// use sessionkit::engine::{EngineError, Loaded, RecordStore, RecordWrite, ServerEngine};
    /// use sessionkit::{Sessions, Settings};
    ///
    /// #[derive(Default)]
    /// struct MapStore(Mutex<HashMap<String, (Loaded, time::OffsetDateTime)>>);
    ///
    /// #[async_trait]
    /// impl RecordStore for MapStore {
    ///     async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
    ///         let now = time::OffsetDateTime::now_utc();
    ///         let map = self.0.lock().unwrap();
    ///         Ok(map.get(id).filter(|(_, expires)| *expires > now).map(|(r, _)| r.clone()))
    ///     }
    ///     async fn insert(&self, id: &str, new: RecordWrite<'_>) -> Result<bool, EngineError> {
    ///         let mut map = self.0.lock().unwrap();
    ///         if map.get(id).is_some_and(|(_, expires)| *expires > new.now) {
    ///             return Ok(false);
    ///         }
    ///         let record = Loaded { data: new.data.clone(), version: 1 };
    ///         map.insert(id.to_owned(), (record, new.expires));
    ///         Ok(true)
    ///     }
    ///     async fn replace(&self, id: &str, version: i64, new: RecordWrite<'_>)
    ///         -> Result<bool, EngineError> {
    ///         let mut map = self.0.lock().unwrap();
    ///         let Some((record, expires)) = map.get_mut(id) else { return Ok(false) };
    ///         if record.version != version {
    ///             return Ok(false);
    ///         }
    ///         *record = Loaded { data: new.data.clone(), version: version + 1 };
    ///         *expires = new.expires;
    ///         Ok(true)
    ///     }
    ///     async fn remove(&self, id: &str) -> Result<(), EngineError> {
    ///         self.0.lock().unwrap().remove(id);
    ///         Ok(())
    ///     }
    ///     async fn purge_expired(&self, _batch: usize) -> Result<u64, EngineError> {
    ///         Ok(0) // a real store would delete expired records here
    ///     }
    /// }
    ///
    /// let engine = Arc::new(ServerEngine::new(MapStore::default(), Duration::from_secs(5)));
    /// let sessions = Sessions::new(engine.clone(), Settings::new("secret"))?;
    /// let session = sessions.start(None).load().await?;
    /// session.insert("n", 1)?;
    /// let cookie = session.save().await?.unwrap();
    /// assert_eq!(sessions.start(Some(&cookie)).load().await?.get::<i32>("n")?, Some(1));
    ///
    /// // MapStore has no locks, so SESSION_LOCKING is a startup error naming the setting.
    /// let locking = Settings { locking: true, ..Settings::new("secret") };
    /// let error = Sessions::new(engine, locking).unwrap_err();
    /// assert_eq!(error.setting, "SESSION_LOCKING");
    /// # Ok(()) }
    /// ```
    pub fn new(engine: Arc<dyn Engine>, settings: Settings) -> Result<Self, ConfigError> {
        settings.validate()?;
        if settings.locking && !engine.capabilities().locking {
            return Err(ConfigError::new(
                "SESSION_LOCKING",
                format!(
                    "the {} engine cannot lock sessions; turn the setting off or use a store \
                     with locks",
                    engine.name()
                ),
            ));
        }
        Ok(Sessions::assemble(engine, Vec::new(), settings))
    }

    /// Puts the parts together; `settings` are validated.
    fn assemble(
        primary: Arc<dyn Engine>,
        fallbacks: Vec<Arc<dyn Engine>>,
        settings: Settings,
    ) -> Self {
        Sessions {
            config: Arc::new(Config {
                primary,
                fallbacks,
                transport: Transport::new(&settings),
                settings,
            }),
        }
    }

    /// The same, also reading sessions from `fallbacks` (tried in order when the primary
    /// engine does not recognize a cookie) and moving them to the primary engine.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::{EngineKind, Sessions, Settings};
    ///
    /// // Yesterday's sessions live in signed cookies; today's go to the cache.
    /// let old = Sessions::open(Settings {
    ///     engine: EngineKind::SignedCookies,
    ///     ..Settings::new("secret")
    /// })
    /// .await?;
    /// # let session = old.start(None).load().await?;
    /// # session.insert("user_id", 42)?;
    /// # let old_cookie = session.save().await?.unwrap();
    /// let new = Settings { engine: EngineKind::Cache, ..Settings::new("secret") };
    /// let sessions = Sessions::open(new).await?.with_fallbacks(vec![old.engine().clone()]);
    /// let session = sessions.start(Some(&old_cookie)).load().await?;
    /// assert_eq!(session.get::<u64>("user_id")?, Some(42)); // still logged in
    /// let new_cookie = session.save().await?.unwrap();
    /// assert!(sessions.engine().exists(&new_cookie).await?); // moved to the cache
    /// # Ok(()) }
    /// ```
    pub fn with_fallbacks(self, fallbacks: Vec<Arc<dyn Engine>>) -> Self {
        Sessions::assemble(
            self.config.primary.clone(),
            fallbacks,
            self.config.settings.clone(),
        )
    }

    /// What every request's session shares: engines, settings, how the key travels.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The engine sessions are saved in.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::Cache,
    /// #     cache_url: "memory://".into(),
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// assert_eq!(sessions.engine().name(), "cache");
    /// sessions.engine().migrate().await?; // nothing to create for a cache
    /// assert!(!sessions.engine().exists("abcdefgh12345678").await?);
    /// # Ok(()) }
    /// ```
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.config.primary
    }

    /// The settings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::Cache,
    /// #     cache_url: "memory://".into(),
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// assert_eq!(sessions.settings().cookie_name, "sessionid");
    /// assert_eq!(sessions.settings().cache_url, "memory://");
    /// # Ok(()) }
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// The session of a request that carried `cookie_value` (not loaded yet).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use sessionkit::{EngineKind, Sessions, Settings};
    /// # let sessions = Sessions::open(Settings {
    /// #     engine: EngineKind::Cache,
    /// #     cache_url: "memory://".into(),
    /// #     ..Settings::new("secret")
    /// # })
    /// # .await?;
    /// let session = sessions.start(None).load().await?; // a first visit
    /// session.insert("n", 1)?;
    /// let cookie = session.save().await?.unwrap();
    ///
    /// let next = sessions.start(Some(&cookie)).load().await?; // the next request
    /// assert_eq!(next.get::<i32>("n")?, Some(1));
    /// # Ok(()) }
    /// ```
    pub fn start(&self, cookie_value: Option<&str>) -> LazySession {
        LazySession::new(self.config.clone(), cookie_value.map(Arc::from))
    }
}

/// Sessions on `signed_cookies` with the secret `"secret"`: no service needed, for unit tests.
#[cfg(test)]
pub(crate) async fn signed_cookie_sessions() -> Sessions {
    Sessions::open(Settings {
        engine: crate::EngineKind::SignedCookies,
        ..Settings::new("secret")
    })
    .await
    .expect("signed_cookies opens without any service")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::engine::{EngineError, Loaded, MemoryStore, SaveRequest, Saved, ServerEngine};
    use crate::error::SessionError;
    use crate::key::SessionKey;
    use crate::set_cookie::MAX_COOKIE_BYTES;

    /// The memory cache, with a switch that makes the next save fail as a store outage would.
    struct FailNextSave {
        inner: ServerEngine<MemoryStore>,
        fail: AtomicBool,
    }

    #[async_trait]
    impl Engine for FailNextSave {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        fn accepts(&self, cookie_value: &str) -> bool {
            self.inner.accepts(cookie_value)
        }
        async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError> {
            self.inner.load(cookie_value).await
        }
        async fn save(&self, request: SaveRequest<'_>) -> Result<Saved, EngineError> {
            if self.fail.swap(false, Ordering::SeqCst) {
                return Err(EngineError::unavailable(std::io::Error::other(
                    "store down",
                )));
            }
            self.inner.save(request).await
        }
        async fn delete(&self, cookie_value: &str) -> Result<(), EngineError> {
            self.inner.delete(cookie_value).await
        }
        async fn exists(&self, cookie_value: &str) -> Result<bool, EngineError> {
            self.inner.exists(cookie_value).await
        }
        async fn clear_expired(&self, batch: usize) -> Result<u64, EngineError> {
            self.inner.clear_expired(batch).await
        }
    }

    #[tokio::test]
    async fn saving_a_cookie_browsers_would_drop_is_an_error_and_leaves_the_session_modified() {
        let sessions = signed_cookie_sessions().await;
        let session = sessions.start(None).load().await.unwrap();
        // 6,400 random [a-z0-9] characters stay above 4096 bytes even zlibbed and in base64.
        let blob: String = (0..200)
            .map(|_| SessionKey::generate().as_str().to_owned())
            .collect();
        session.insert("n", 1).unwrap();
        session.insert("blob", blob).unwrap();
        let error = session.save().await.unwrap_err();
        let SessionError::CookieTooLarge { size, limit } = error else {
            panic!("expected CookieTooLarge, got {error}");
        };
        assert!(
            size > limit && limit == MAX_COOKIE_BYTES,
            "{size} of {limit}"
        );
        assert!(session.modified());
        session.remove("blob");
        let cookie = session.save().await.unwrap().expect("a cookie that fits");
        let reloaded = sessions.start(Some(&cookie)).load().await.unwrap();
        assert_eq!(reloaded.get::<i64>("n").unwrap(), Some(1));
    }

    #[tokio::test]
    async fn a_failed_save_keeps_the_changes_so_a_retry_merges_them() {
        let engine = Arc::new(FailNextSave {
            inner: ServerEngine::new(MemoryStore::new(16), Duration::from_secs(1)),
            fail: AtomicBool::new(false),
        });
        let sessions = Sessions::new(engine.clone(), Settings::new("secret")).unwrap();
        let first = sessions.start(None).load().await.unwrap();
        first.insert("a", 1).unwrap();
        let cookie = first.save().await.unwrap().expect("a new session");

        let session = sessions.start(Some(&cookie)).load().await.unwrap();
        session.insert("b", 2).unwrap();
        engine.fail.store(true, Ordering::SeqCst);
        assert!(session.save().await.is_err());
        assert!(session.modified());
        // Meanwhile another request moves the record on, so the retry has to merge.
        let other = sessions.start(Some(&cookie)).load().await.unwrap();
        other.insert("a", 5).unwrap();
        other.save().await.unwrap();
        session.save().await.unwrap();
        assert!(!session.modified());

        let stored = sessions.start(Some(&cookie)).load().await.unwrap();
        assert_eq!(stored.get::<i64>("a").unwrap(), Some(5));
        assert_eq!(stored.get::<i64>("b").unwrap(), Some(2));
    }
}
