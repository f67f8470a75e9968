//! One engine under test with its settings, and the helpers every behaviour shares.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use super::{SECRET, load, logs, object};
use crate::engine::{ChangeSet, Data, Engine, OpenError, RecordStore, SaveRequest, ServerEngine};
use crate::{ConfigError, Session, Sessions, Settings};

/// What [`Harness::cleanup`] runs: it removes what the harness made (a table, a directory).
type CleanupHook = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How [`Harness::with_settings`] gets an engine for other settings.
enum OtherSettings {
    /// The same engine, so the same records: a store built by hand cannot be opened again.
    SameEngine,
    /// An engine opened from the settings, as an application would: settings the engine
    /// itself reads (`SECRET_KEY` for signing) take effect.
    Reopen,
}

/// An engine under test, in a store of its own, with the settings it runs under.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use serde_json::json;
/// use sessionkit::engine::MemoryStore;
/// use sessionkit::testing::Harness;
///
/// let harness = Harness::for_store(MemoryStore::new(100));
/// let cookie = harness.saved(json!({"user_id": 42})).await;
/// assert_eq!(harness.reload(&cookie).await.get::<i64>("user_id").unwrap(), Some(42));
/// # }
/// ```
pub struct Harness {
    /// The sessions the behaviours load and save.
    pub sessions: Sessions,
    /// The settings they run under.
    pub settings: Settings,
    other_settings: OtherSettings,
    cleanup: Option<CleanupHook>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

impl AsRef<Harness> for Harness {
    fn as_ref(&self) -> &Harness {
        self
    }
}

impl Harness {
    /// `store` behind a [`ServerEngine`], with the default settings and [`SECRET`]: what
    /// [`conformance!`](super::conformance) runs the suite on.
    pub fn for_store<S: RecordStore>(store: S) -> Harness {
        let settings = Settings::new(SECRET);
        let engine = Arc::new(ServerEngine::new(store, settings.store_timeout));
        Harness::for_engine(engine, settings).expect("the default settings are valid")
    }

    /// An engine built by hand, with `settings`; [`Harness::with_settings`] reuses it.
    pub fn for_engine(engine: Arc<dyn Engine>, settings: Settings) -> Result<Harness, ConfigError> {
        Ok(Harness {
            sessions: Sessions::new(engine, settings.clone())?,
            settings,
            other_settings: OtherSettings::SameEngine,
            cleanup: None,
        })
    }

    /// The engine `settings` select, opened and migrated as an application would;
    /// [`Harness::with_settings`] opens another one on the same store.
    pub async fn open(settings: Settings) -> Result<Harness, OpenError> {
        let sessions = Sessions::open(settings.clone()).await?;
        sessions.engine().migrate().await?;
        Ok(Harness {
            sessions,
            settings,
            other_settings: OtherSettings::Reopen,
            cleanup: None,
        })
    }

    /// The same harness, running `hook` in [`Harness::cleanup`]: to drop the table or remove
    /// the directory it made.
    ///
    /// ```
    /// use sessionkit::engine::MemoryStore;
    /// use sessionkit::testing::Harness;
    ///
    /// async fn make_harness() -> Harness {
    ///     let table = "sessions_test_1"; // made for this test, say
    ///     Harness::for_store(MemoryStore::new(100))
    ///         .with_cleanup(move || async move { println!("DROP TABLE {table}") })
    /// }
    ///
    /// sessionkit::testing::conformance!(harness = make_harness);
    /// # fn main() {}
    /// ```
    pub fn with_cleanup<F>(mut self, hook: impl Fn() -> F + Send + Sync + 'static) -> Harness
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.cleanup = Some(Box::new(move || Box::pin(hook())));
        self
    }

    /// Removes what the harness made, if it was given a hook for it.
    pub async fn cleanup(&self) {
        if let Some(hook) = &self.cleanup {
            hook().await;
        }
    }

    /// The engine under test.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        self.sessions.engine()
    }

    /// Whether the data lives on the server (only a key travels in the cookie).
    pub fn server_side(&self) -> bool {
        !self.engine().keeps_data_in_cookie()
    }

    /// A request without a cookie, its session loaded.
    pub async fn fresh(&self) -> Session {
        load(&self.sessions, None).await
    }

    /// A request carrying `cookie`, its session loaded.
    pub async fn reload(&self, cookie: &str) -> Session {
        load(&self.sessions, Some(cookie)).await
    }

    /// Saves `session`, which must not be empty, and returns its cookie value.
    pub async fn save(&self, session: &Session) -> String {
        session
            .save()
            .await
            .expect("save the session")
            .expect("a non-empty session gives a cookie value")
    }

    /// The cookie value of a new session holding `entries` (a JSON object; `json!` orders its
    /// keys unless serde_json's `preserve_order` is on: [`Harness::saved_data`] keeps an order).
    pub async fn saved(&self, entries: Value) -> String {
        self.saved_data(object(entries)).await
    }

    /// The cookie value of a new session holding `data`, in its order.
    pub async fn saved_data(&self, data: Data) -> String {
        let session = self.fresh().await;
        for (key, value) in data {
            session.insert_json(&key, value);
        }
        self.save(&session).await
    }

    /// Creates a record through the engine itself, as if saved at `now`.
    pub async fn store(&self, data: &Data, now: OffsetDateTime) -> String {
        self.engine()
            .save(SaveRequest {
                previous: None,
                data: &Arc::new(data.clone()),
                changes: &ChangeSet::default(),
                now,
                cookie_age: self.settings.cookie_age,
            })
            .await
            .expect("the engine saves")
            .cookie_value
    }

    /// Another `Sessions` on the same store, with changed settings.
    pub async fn with_settings(&self, change: impl FnOnce(&mut Settings)) -> Sessions {
        let mut settings = self.settings.clone();
        change(&mut settings);
        match self.other_settings {
            OtherSettings::SameEngine => {
                Sessions::new(self.engine().clone(), settings).expect("valid settings")
            }
            OtherSettings::Reopen => Sessions::open(settings).await.expect("open the engine"),
        }
    }

    /// Asserts that `value` as a cookie gives a fresh, empty session and no store error, and,
    /// if `warning` is set, that sessionkit logged a warning about it.
    pub async fn assert_no_session(&self, value: &str, what: &str, warning: bool) {
        logs::take();
        let session = self.reload(value).await;
        assert!(session.is_empty(), "{what}: the session is not empty");
        assert!(session.keys().is_empty(), "{what}: {:?}", session.keys());
        let lines = logs::take();
        if warning {
            assert!(
                lines.iter().any(|line| line.starts_with("WARN")),
                "{what}: no warning logged (logged: {lines:?})"
            );
        }
        assert_eq!(self.engine().load(value).await.unwrap(), None, "{what}");
        assert!(!self.engine().exists(value).await.unwrap(), "{what}");
        logs::take();
    }
}
