//! What every server-side engine shares: keys in the cookie, records in a store.
//!
//! Each storage kind implements the few record operations of [`RecordStore`] (fetch, insert if
//! absent, replace if unchanged, remove, purge, scan). [`ServerEngine`] turns any of them into
//! an [`Engine`] with one implementation of the parts that must not differ between stores:
//! key validation, hashing keys at rest, collision-free creation, the save that merges this
//! request's changes into a record another request updated meanwhile — never resurrecting one
//! that was deleted — and the export and import that copy sessions between stores.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    Data, Engine, EngineError, ExportPage, ExportedSession, ImportOutcome, Loaded, SaveRequest,
    Saved, UserSession,
};
use crate::key::{KeyHash, SessionKey};
use crate::settings::EngineKind;

/// How often a save re-applies its changes after losing a race before giving up.
const MAX_SAVE_ATTEMPTS: u32 = 64;
/// How many fresh keys a create tries before deciding something is badly wrong.
const MAX_KEY_ATTEMPTS: u32 = 8;

/// How a store names its records.
///
/// ```
/// use sessionkit::SessionKey;
/// use sessionkit::engine::{Addressing, MemoryStore, RecordStore};
///
/// let key = SessionKey::generate();
/// assert_eq!(Addressing::Hashed.of(&key), key.hashed());
/// assert_eq!(Addressing::Plain.of(&key), key.as_str()); // Django's table only
/// assert_eq!(MemoryStore::new(1).addressing(), Addressing::Hashed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// By the SHA-256 hex of the session key ([`SessionKey::hashed`]), so a leaked store holds
    /// no usable cookie: every store of sessionkit's own.
    Hashed,
    /// By the session key itself: Django's `django_session`, which Django must keep reading.
    Plain,
}

impl Addressing {
    /// The address of the record of `key`.
    ///
    /// ```
    /// use sessionkit::SessionKey;
    /// use sessionkit::engine::{Addressing, MemoryStore, RecordStore};
    ///
    /// let key = SessionKey::parse("abcdefgh12345678").unwrap();
    /// let address = Addressing::Hashed.of(&key);
    /// assert_eq!(address.len(), 64);
    /// assert_eq!(address, MemoryStore::new(1).address(&key)); // where the store keeps it
    /// ```
    #[expect(
        clippy::expect_used,
        reason = "a SessionKey is well formed by construction, which is all of_cookie checks"
    )]
    pub fn of(self, key: &SessionKey) -> String {
        self.of_cookie(key.as_str())
            .expect("a SessionKey is well formed")
            .as_str()
            .to_owned()
    }

    /// The address of the record a cookie value names, if it is a well-formed key; no
    /// allocation, as every request that uses its session asks.
    fn of_cookie(self, cookie_value: &str) -> Option<Address<'_>> {
        if !SessionKey::is_well_formed(cookie_value) {
            return None;
        }
        Some(match self {
            Addressing::Hashed => Address::Hash(KeyHash::of(cookie_value)),
            Addressing::Plain => Address::Key(cookie_value),
        })
    }
}

/// A record's address as [`Addressing::of_cookie`] finds it.
enum Address<'a> {
    Hash(KeyHash),
    Key(&'a str),
}

impl Address<'_> {
    fn as_str(&self) -> &str {
        match self {
            Address::Hash(hash) => hash.as_str(),
            Address::Key(key) => key,
        }
    }
}

/// Record operations of one storage kind. Records are addressed by the SHA-256 hex of the
/// session key ([`SessionKey::hashed`]), never by the key itself — except in Django's table.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sessionkit::SessionKey;
/// use sessionkit::engine::{Data, MemoryStore, RecordStore};
///
/// let store = MemoryStore::new(10);
/// let id = SessionKey::generate().hashed();
/// let data = Arc::new(Data::new());
/// let now = time::OffsetDateTime::now_utc();
/// let expires = now + time::Duration::hours(1);
/// assert!(store.insert(&id, &data, expires, now).await?); // version 1
/// assert!(!store.insert(&id, &data, expires, now).await?); // taken: never overwritten
/// assert!(store.replace(&id, 1, &data, expires).await?); // version 1 → 2
/// assert!(!store.replace(&id, 1, &data, expires).await?); // stale version: refused
/// assert_eq!(store.fetch(&id).await?.unwrap().version, 2);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    /// The engine this store backs.
    fn kind(&self) -> EngineKind;

    /// How records are named: by the key's hash unless the store says otherwise. (Django's
    /// own table is the one exception: it holds plain keys.)
    fn addressing(&self) -> Addressing {
        Addressing::Hashed
    }

    /// Where the record of `key` lives, as [`RecordStore::addressing`] says. Not meant to be
    /// overridden: export and import rely on the two agreeing.
    fn address(&self, key: &SessionKey) -> String {
        self.addressing().of(key)
    }

    /// Whether the store lives in this process and answers without waiting (the memory
    /// cache): its operations need no timeout, and are spared the timer.
    fn in_process(&self) -> bool {
        false
    }

    /// The live (unexpired) record, if any.
    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError>;

    /// Stores a new record at version 1 unless `id` is taken (then `Ok(false)`, nothing
    /// written).
    async fn insert(
        &self,
        id: &str,
        data: &Arc<Data>,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, EngineError>;

    /// Overwrites the record with `data` and bumps its version, only if it is still at
    /// `version` — atomically. `Ok(false)` if it moved on or is gone.
    async fn replace(
        &self,
        id: &str,
        version: i64,
        data: &Arc<Data>,
        expires: OffsetDateTime,
    ) -> Result<bool, EngineError>;

    /// Deletes the record, if any.
    async fn remove(&self, id: &str) -> Result<(), EngineError>;

    /// Whether a live record exists. Defaults to a fetch; stores that can answer more
    /// cheaply override it.
    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        Ok(self.fetch(id).await?.is_some())
    }

    /// Deletes at most `batch` expired records, in one short step; returns how many went.
    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError>;

    /// Creates the store's schema if missing (idempotent).
    async fn migrate(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Takes the lock of record `id` for `token` if it is free or its lease has lapsed —
    /// atomically, so two takers never both succeed. The lock lapses after `lease`.
    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError>;

    /// Releases the lock of record `id` if `token` holds it.
    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError>;

    /// The live records whose [`USER_ID_KEY`](super::USER_ID_KEY) is `user_id`.
    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError>;

    /// One page of live records in a stable order, starting after `cursor` (`None`: at the
    /// start), about `limit` of them, for copying the whole store ([`Engine::export`]).
    ///
    /// The cursor is the store's own (the last address of the page for SQL, files and memory;
    /// Redis's `SCAN` cursor) and opaque to callers. Every record live for the whole scan is
    /// listed at least once; a record written meanwhile may be missed, and Redis may list one
    /// twice — which an import, never overwriting, counts as already present.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError>;
}

/// One page of [`RecordStore::scan`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sessionkit::SessionKey;
/// use sessionkit::engine::{Data, MemoryStore, RecordStore};
///
/// let store = MemoryStore::new(10);
/// # let now = time::OffsetDateTime::now_utc();
/// # let data = Arc::new(Data::new());
/// for _ in 0..3 {
///     let id = SessionKey::generate().hashed();
///     store.insert(&id, &data, now + time::Duration::hours(1), now).await?;
/// }
/// let page = store.scan(None, 100).await?;
/// assert_eq!(page.records.len(), 3);
/// assert_eq!((page.unreadable, page.next), (0, None)); // all read, last page
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScanPage {
    /// The live records of the page that could be read.
    pub records: Vec<StoredRecord>,
    /// Live records of the page that could not be read (bad signature, corrupted data).
    pub unreadable: u64,
    /// The cursor of the next page; `None` after the last one.
    pub next: Option<String>,
}

/// A record with its address and expiry, as [`RecordStore::by_user`] and
/// [`RecordStore::scan`] list them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use serde_json::json;
/// use sessionkit::SessionKey;
/// use sessionkit::engine::{Data, MemoryStore, RecordStore, USER_ID_KEY};
///
/// let store = MemoryStore::new(10);
/// let id = SessionKey::generate().hashed();
/// let data = Arc::new(Data::from_iter([(USER_ID_KEY.to_owned(), json!(42))]));
/// let now = time::OffsetDateTime::now_utc();
/// let expires = now + time::Duration::hours(1);
/// store.insert(&id, &data, expires, now).await?;
/// let found = store.by_user("42").await?;
/// assert_eq!((found[0].id.as_str(), found[0].expires), (id.as_str(), expires));
/// assert_eq!(found[0].record.data, data);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The record's address: the SHA-256 hex of its key (the key itself in Django's table).
    pub id: String,
    /// Data and version.
    pub record: Loaded,
    /// When it expires.
    pub expires: OffsetDateTime,
}

/// Wall-clock milliseconds now, and when a lease of `lease` taken now ends. Leases are
/// compared across processes and machines, hence the wall clock.
pub(crate) fn lease_window(lease: Duration) -> (i64, i64) {
    let now = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    (now, now.saturating_add(lease))
}

/// A random pause before retry `attempt` of a save: up to 100 µs × 2^attempt, at most ~26 ms.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 100u64 << attempt.min(8);
    let jitter = u64::from(getrandom::u32().unwrap_or(0)) % ceiling;
    Duration::from_micros(jitter)
}

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
}

impl<S: ?Sized> Clone for ServerEngine<S> {
    fn clone(&self) -> Self {
        ServerEngine {
            store: self.store.clone(),
            timeout: self.timeout,
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
    /// use sessionkit::{Engine, EngineKind};
    ///
    /// let store = FileStore::new(std::env::temp_dir());
    /// let engine = ServerEngine::new(store, Duration::from_secs(2));
    /// assert_eq!(engine.kind(), EngineKind::File);
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
    /// use sessionkit::Engine;
    ///
    /// let cache: Arc<dyn Cache> = Arc::new(MemoryStore::new(100));
    /// let engine = ServerEngine::shared(cache.clone(), Duration::from_secs(5));
    /// assert!(!engine.exists("abcdefgh12345678").await?);
    /// assert_eq!(Arc::strong_count(&cache), 2); // one store, two owners
    /// # Ok(()) }
    /// ```
    pub fn shared(store: Arc<S>, timeout: Duration) -> Self {
        ServerEngine { store, timeout }
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

    /// Runs one store operation within the timeout.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
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
    }

    /// Inserts under fresh keys until one is free, so no existing record is overwritten.
    async fn create(&self, request: &SaveRequest<'_>) -> Result<Saved, EngineError> {
        let expires = request.expiry_date(request.data);
        for _ in 0..MAX_KEY_ATTEMPTS {
            let key = SessionKey::generate();
            if self
                .bounded(self.store.insert(
                    &self.store.address(&key),
                    request.data,
                    expires,
                    request.now,
                ))
                .await?
            {
                return Ok(Saved {
                    cookie_value: key.as_str().to_owned(),
                    version: 1,
                });
            }
            tracing::warn!(engine = %self.store.kind(), "session key collision; drawing another");
        }
        Err(EngineError::unavailable(std::io::Error::other(
            "could not find an unused session key",
        )))
    }
}

#[async_trait]
impl<S: RecordStore + ?Sized> Engine for ServerEngine<S> {
    fn kind(&self) -> EngineKind {
        self.store.kind()
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        SessionKey::is_well_formed(cookie_value)
    }

    async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => self.bounded(self.store.fetch(id.as_str())).await,
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
        let expires = request.expiry_date(request.data);
        if self
            .bounded(
                self.store
                    .replace(id, previous.version, request.data, expires),
            )
            .await?
        {
            return Ok(saved(previous.version));
        }
        // Another request saved first: apply this request's changes on top of what it wrote.
        for attempt in 1..MAX_SAVE_ATTEMPTS {
            // Writers that collided would collide again if they retried in step.
            tokio::time::sleep(backoff(attempt)).await;
            let Some(fresh) = self.bounded(self.store.fetch(id)).await? else {
                return Err(EngineError::Gone);
            };
            let mut merged = fresh.data;
            request
                .changes
                .apply_to(Arc::make_mut(&mut merged), request.data);
            let expires = request.expiry_date(&merged);
            if self
                .bounded(self.store.replace(id, fresh.version, &merged, expires))
                .await?
            {
                return Ok(saved(fresh.version));
            }
        }
        Err(EngineError::Conflict {
            attempts: MAX_SAVE_ATTEMPTS,
        })
    }

    async fn delete(&self, cookie_value: &str) -> Result<(), EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => self.bounded(self.store.remove(id.as_str())).await,
            None => Ok(()),
        }
    }

    async fn exists(&self, cookie_value: &str) -> Result<bool, EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => self.bounded(self.store.contains(id.as_str())).await,
            None => Ok(false),
        }
    }

    async fn clear_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.bounded(self.store.purge_expired(batch.max(1))).await
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
                self.bounded(self.store.try_lock(id.as_str(), token, lease))
                    .await
            }
            None => Ok(true),
        }
    }

    async fn unlock(&self, cookie_value: &str, token: &str) -> Result<(), EngineError> {
        match self.address_of(cookie_value) {
            Some(id) => self.bounded(self.store.unlock(id.as_str(), token)).await,
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
            .bounded(self.store.by_user(user_id))
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
        let page = self.bounded(self.store.scan(cursor, limit.max(1))).await?;
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
            .bounded(self.store.insert(&address, &data, session.expires, now))
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
        for stored in self.bounded(self.store.by_user(user_id)).await? {
            if keep != Some(stored.id.as_str()) {
                self.bounded(self.store.remove(&stored.id)).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }
}

/// Whether `address` has the shape of [`SessionKey::hashed`]: 64 lowercase hex digits. An
/// address from elsewhere is checked before it names a record (or a file) here.
pub(crate) fn is_key_hash(address: &str) -> bool {
    address.len() == 64
        && address
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
