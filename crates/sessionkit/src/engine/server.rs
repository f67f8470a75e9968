//! What every server-side engine shares: keys in the cookie, records in a store.
//!
//! Each storage kind implements the few record operations of [`RecordStore`] (fetch, insert if
//! absent, replace if unchanged, remove, purge, scan). [`ServerEngine`] turns any of them into
//! an [`Engine`] with one implementation of the parts that must not differ between stores:
//! key validation, hashing keys at rest, collision-free creation, the save that merges this
//! request's changes into a record another request updated meanwhile — never resurrecting one
//! that was deleted, and in one write for all of this instance's requests that lost the same
//! race (`server/lines.rs`) — and the export and import that copy sessions between stores.

mod lines;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use tracing::Instrument;

use super::store::{Address, Addressing, Capabilities, RecordStore, RecordWrite, is_key_hash};
use super::{
    Engine, EngineError, ExportPage, ExportedSession, ImportOutcome, Loaded, SaveRequest, Saved,
    UserSession,
};
use crate::key::SessionKey;
use crate::telemetry;
use lines::Lines;

/// How many fresh keys a create tries before deciding something is badly wrong.
const MAX_KEY_ATTEMPTS: u32 = 8;

/// A server-side engine over a [`RecordStore`] (a concrete one, or a `dyn Cache`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use sessionkit::engine::{MemoryStore, ServerEngine};
/// use sessionkit::{Sessions, Settings};
///
/// // Any RecordStore becomes an engine: keys, hashing, merging saves come with it.
/// let engine = ServerEngine::new(MemoryStore::new(1000), Duration::from_secs(5));
/// let sessions = Sessions::new(Arc::new(engine), Settings::new("secret"))?;
/// let session = sessions.start(None).load().await?;
/// session.insert("n", 1)?;
/// let cookie = session.save().await?.unwrap();
/// assert!(sessions.engine().exists(&cookie).await?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ServerEngine<S: ?Sized> {
    store: Arc<S>,
    timeout: Duration,
    /// Saves that lost a race, waiting to be merged; shared by the engine's clones.
    lines: Arc<Lines>,
}

impl<S: ?Sized> Clone for ServerEngine<S> {
    fn clone(&self) -> Self {
        ServerEngine {
            store: self.store.clone(),
            timeout: self.timeout,
            lines: self.lines.clone(),
        }
    }
}

impl<S: RecordStore> ServerEngine<S> {
    /// An engine storing records in `store`; any store operation taking longer than `timeout`
    /// (`SESSION_STORE_TIMEOUT`) fails as unavailable, so requests get a 503, not a hang.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionkit::engine::{FileStore, ServerEngine};
    /// use sessionkit::engine::Engine;
    ///
    /// let store = FileStore::new(std::env::temp_dir());
    /// let engine = ServerEngine::new(store, Duration::from_secs(2));
    /// assert_eq!(engine.name(), "file");
    /// assert!(engine.accepts("abcdefgh12345678"));
    /// assert!(!engine.accepts("abc/../../x")); // never a path
    /// ```
    pub fn new(store: S, timeout: Duration) -> Self {
        ServerEngine::shared(Arc::new(store), timeout)
    }
}

impl<S: RecordStore + ?Sized> ServerEngine<S> {
    /// Like [`ServerEngine::new`], for a store that is shared or unsized (`Arc<dyn Cache>`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::{sync::Arc, time::Duration};
    /// use sessionkit::engine::{Cache, MemoryStore, ServerEngine};
    /// use sessionkit::engine::Engine;
    ///
    /// let cache: Arc<dyn Cache> = Arc::new(MemoryStore::new(100));
    /// let engine = ServerEngine::shared(cache.clone(), Duration::from_secs(5));
    /// assert!(!engine.exists("abcdefgh12345678").await?);
    /// assert_eq!(Arc::strong_count(&cache), 2); // one store, two owners
    /// # Ok(()) }
    /// ```
    pub fn shared(store: Arc<S>, timeout: Duration) -> Self {
        ServerEngine {
            store,
            timeout,
            lines: Arc::default(),
        }
    }

    /// The record store.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionkit::engine::{MemoryStore, ServerEngine};
    ///
    /// let engine = ServerEngine::new(MemoryStore::new(100), Duration::from_secs(5));
    /// assert!(engine.store().is_empty());
    /// ```
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Where the record of `cookie_value` lives, if the value is a well-formed key.
    fn address_of<'c>(&self, cookie_value: &'c str) -> Option<Address<'c>> {
        self.store.addressing().of_cookie(cookie_value)
    }

    /// Runs one store operation within the timeout, in a `session_store` span (store,
    /// operation, and the error if it failed; never the key) when a subscriber wants it.
    async fn bounded<T>(
        &self,
        op: &'static str,
        operation: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let span = tracing::debug_span!(
            "session_store",
            store = self.store.name(),
            op,
            error = tracing::field::Empty
        );
        let timed = async {
            if self.store.in_process() {
                return operation.await;
            }
            tokio::time::timeout(self.timeout, operation)
                .await
                .unwrap_or_else(|_| {
                    Err(EngineError::unavailable(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the session store did not answer within {:?}", self.timeout),
                    )))
                })
        };
        let timer = telemetry::CallTimer::start();
        let result = if span.is_disabled() {
            timed.await
        } else {
            let result = timed.instrument(span.clone()).await;
            if let Err(error) = &result {
                span.record("error", tracing::field::display(error));
            }
            result
        };
        telemetry::store_call(
            self.store.name(),
            op,
            timer,
            result.as_ref().err().map(EngineError::kind),
        );
        result
    }

    /// Inserts under fresh keys until one is free, so no existing record is overwritten.
    async fn create(&self, request: &SaveRequest<'_>) -> Result<Saved, EngineError> {
        let expires = request.expiry_date(request.data);
        for _ in 0..MAX_KEY_ATTEMPTS {
            let key = SessionKey::generate();
            if self
                .bounded(
                    "insert",
                    self.store.insert(
                        &self.store.address(&key),
                        RecordWrite::new(request.data, expires, request.now),
                    ),
                )
                .await?
            {
                return Ok(Saved {
                    cookie_value: key.as_str().to_owned(),
                    version: 1,
                });
            }
            tracing::warn!(
                engine = self.store.name(),
                "session key collision; drawing another"
            );
        }
        Err(EngineError::unavailable(std::io::Error::other(
            "could not find an unused session key",
        )))
    }
}

#[async_trait]
impl<S: RecordStore + ?Sized> Engine for ServerEngine<S> {
    fn name(&self) -> &'static str {
        self.store.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        SessionKey::is_well_formed(cookie_value)
    }

    async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => self.bounded("fetch", self.store.fetch(id.as_str())).await,
            None => Ok(None),
        }
    }

    async fn save(&self, request: SaveRequest<'_>) -> Result<Saved, EngineError> {
        let Some(previous) = request.previous else {
            return self.create(&request).await;
        };
        // Only well-formed keys are ever loaded, so a bad one here cannot name a live record;
        // Gone (rather than a fresh record) keeps "no resurrection" true for any caller.
        let address = self
            .address_of(previous.cookie_value)
            .ok_or(EngineError::Gone)?;
        let id = address.as_str();
        let saved = |version: i64| Saved {
            cookie_value: previous.cookie_value.to_owned(),
            version: version + 1,
        };
        // While this instance's saves of the record are in line, the version read earlier is
        // almost surely stale: skip the write that would only lose.
        if !self.lines.has_line(id) {
            let expires = request.expiry_date(request.data);
            let write = RecordWrite::new(request.data, expires, request.now);
            let replaced = self.store.replace(id, previous.version, write);
            if self.bounded("replace", replaced).await? {
                return Ok(saved(previous.version));
            }
        }
        // Another request saved first: apply this request's changes on top of what it wrote,
        // in one write with every other request of this instance that lost the same race.
        self.save_in_line(id, &request).await.map(saved)
    }

    async fn delete(&self, cookie_value: &str) -> Result<(), EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => self.bounded("remove", self.store.remove(id.as_str())).await,
            None => Ok(()),
        }
    }

    async fn exists(&self, cookie_value: &str) -> Result<bool, EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => {
                self.bounded("contains", self.store.contains(id.as_str()))
                    .await
            }
            None => Ok(false),
        }
    }

    async fn clear_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.bounded("purge_expired", self.store.purge_expired(batch.max(1)))
            .await
    }

    async fn count_expired(&self) -> Result<Option<u64>, EngineError> {
        self.bounded("count_expired", self.store.count_expired())
            .await
    }

    async fn migrate(&self) -> Result<(), EngineError> {
        self.store.migrate().await
    }

    async fn try_lock(
        &self,
        cookie_value: &str,
        token: &str,
        lease: Duration,
    ) -> Result<bool, EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => {
                self.bounded("try_lock", self.store.try_lock(id.as_str(), token, lease))
                    .await
            }
            None => Ok(true),
        }
    }

    async fn unlock(&self, cookie_value: &str, token: &str) -> Result<(), EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => {
                self.bounded("unlock", self.store.unlock(id.as_str(), token))
                    .await
            }
            None => Ok(()),
        }
    }

    async fn user_sessions(
        &self,
        user_id: &str,
        current_cookie: Option<&str>,
    ) -> Result<Vec<UserSession>, EngineError> {
        let current = current_cookie.and_then(|cookie| self.address_of(cookie));
        let current = current.as_ref().map(Address::as_str);
        let mut sessions: Vec<UserSession> = self
            .bounded("by_user", self.store.by_user(user_id))
            .await?
            .into_iter()
            .map(|stored| UserSession {
                current: current == Some(stored.id.as_str()),
                id: stored.id[..16].to_owned(),
                data: Arc::unwrap_or_clone(stored.record.data),
                expires: stored.expires,
            })
            .collect();
        sessions.sort_by(|a, b| b.current.cmp(&a.current).then(b.expires.cmp(&a.expires)));
        Ok(sessions)
    }

    /// The page as the store lists it, with each record's key where the store holds it
    /// ([`Addressing::Plain`]): the address *is* the key there, and only a well-formed key is
    /// one a cookie could carry.
    async fn export(
        &self,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<ExportPage, EngineError> {
        let page = self
            .bounded("scan", self.store.scan(cursor, limit.max(1)))
            .await?;
        let addressing = self.store.addressing();
        let sessions = page
            .records
            .into_iter()
            .map(|stored| ExportedSession {
                key: match addressing {
                    Addressing::Plain => SessionKey::parse(&stored.id),
                    Addressing::Hashed => None,
                },
                address: stored.id,
                data: Arc::unwrap_or_clone(stored.record.data),
                expires: stored.expires,
            })
            .collect();
        Ok(ExportPage {
            sessions,
            unreadable: page.unreadable,
            next: page.next,
        })
    }

    /// Finds the session's address here — from its key when known, else the source's address,
    /// which is the key's hash and so right for a store addressed by hash — and inserts it
    /// if absent, the same insert that makes creation collision-free. A store addressed by
    /// plain keys (Django's table) cannot use a hash: that is [`ImportOutcome::KeyUnknown`],
    /// never a record no cookie could ever find.
    async fn import(&self, session: &ExportedSession) -> Result<ImportOutcome, EngineError> {
        let now = OffsetDateTime::now_utc();
        if session.expires <= now {
            return Ok(ImportOutcome::Expired);
        }
        let address = match (&session.key, self.store.addressing()) {
            (Some(key), addressing) => addressing.of(key),
            (None, Addressing::Hashed) if is_key_hash(&session.address) => session.address.clone(),
            (None, _) => return Ok(ImportOutcome::KeyUnknown),
        };
        let data = Arc::new(session.data.clone());
        let inserted = self
            .bounded(
                "insert",
                self.store
                    .insert(&address, RecordWrite::new(&data, session.expires, now)),
            )
            .await?;
        Ok(if inserted {
            ImportOutcome::Copied
        } else {
            ImportOutcome::AlreadyPresent
        })
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep_cookie: Option<&str>,
    ) -> Result<u64, EngineError> {
        let keep = keep_cookie.and_then(|cookie| self.address_of(cookie));
        let keep = keep.as_ref().map(Address::as_str);
        let mut ended = 0;
        for stored in self.bounded("by_user", self.store.by_user(user_id)).await? {
            if keep != Some(stored.id.as_str()) {
                self.bounded("remove", self.store.remove(&stored.id))
                    .await?;
                ended += 1;
            }
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests;
