//! The store contract: what a storage backend implements to keep sessions.
//!
//! A store keeps records — data, a version, an expiry — under addresses derived from session
//! keys. [`RecordStore`] is all a new backend implements; [`ServerEngine`] turns it into an
//! [`Engine`](super::Engine). [`lease_window`] and [`is_key_hash`] are the helpers the built-in
//! stores use, public so a store of another crate can use them too.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Data, EngineError, Loaded};
use crate::key::{KeyHash, SessionKey};

#[cfg(doc)]
use super::ServerEngine;

/// How a store names its records.
///
/// ```
/// use sessionkit::engine::SessionKey;
/// use sessionkit::engine::{Addressing, MemoryStore, RecordStore};
///
/// let key = SessionKey::generate();
/// assert_eq!(Addressing::Hashed.of(&key), key.hashed());
/// assert_eq!(Addressing::Plain.of(&key), key.as_str()); // Django's table only
/// assert_eq!(MemoryStore::new(1).addressing(), Addressing::Hashed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
    /// use sessionkit::engine::SessionKey;
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
    pub(crate) fn of_cookie(self, cookie_value: &str) -> Option<Address<'_>> {
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
pub(crate) enum Address<'a> {
    Hash(KeyHash),
    Key(&'a str),
}

impl Address<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Address::Hash(hash) => hash.as_str(),
            Address::Key(key) => key,
        }
    }
}

/// What a store can do beyond the five operations every store has. [`ServerEngine`] refuses
/// what a store cannot do with [`EngineError::Unsupported`], and
/// [`Sessions::new`](crate::Sessions::new) refuses `SESSION_LOCKING` on a store without locks.
///
/// ```
/// use sessionkit::engine::{Capabilities, MemoryStore, RecordStore};
///
/// assert_eq!(MemoryStore::new(1).capabilities(), Capabilities::ALL);
/// let listing_only = Capabilities::NONE.with_by_user().with_scan();
/// assert!(listing_only.by_user && listing_only.scan && !listing_only.locking);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Per-session locks ([`RecordStore::try_lock`], [`RecordStore::unlock`]), for
    /// `SESSION_LOCKING`.
    pub locking: bool,
    /// Listing a user's sessions ([`RecordStore::by_user`]): "log out my other devices".
    pub by_user: bool,
    /// Listing every session page by page ([`RecordStore::scan`]): copying between stores.
    pub scan: bool,
}

impl Capabilities {
    /// Only the five required operations.
    pub const NONE: Capabilities = Capabilities {
        locking: false,
        by_user: false,
        scan: false,
    };
    /// Everything: every store of sessionkit's own.
    pub const ALL: Capabilities = Capabilities {
        locking: true,
        by_user: true,
        scan: true,
    };

    /// The same, with locks.
    pub const fn with_locking(self) -> Self {
        Capabilities {
            locking: true,
            ..self
        }
    }

    /// The same, with per-user listing.
    pub const fn with_by_user(self) -> Self {
        Capabilities {
            by_user: true,
            ..self
        }
    }

    /// The same, with scanning.
    pub const fn with_scan(self) -> Self {
        Capabilities { scan: true, ..self }
    }
}

/// What [`RecordStore::insert`] and [`RecordStore::replace`] write: the data, when it expires,
/// and the time of the write (a record expired by then counts as absent).
///
/// ```
/// use std::sync::Arc;
/// use sessionkit::engine::{Data, RecordWrite};
///
/// let now = time::OffsetDateTime::now_utc();
/// let data = Arc::new(Data::new());
/// let write = RecordWrite::new(&data, now + time::Duration::hours(1), now);
/// assert!(write.expires > write.now);
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RecordWrite<'a> {
    /// The whole session data.
    pub data: &'a Arc<Data>,
    /// When the record stops being live.
    pub expires: OffsetDateTime,
    /// Now, as the engine sees it: one clock for the whole save.
    pub now: OffsetDateTime,
}

impl<'a> RecordWrite<'a> {
    /// A write of `data`, live until `expires`, made at `now`.
    pub fn new(data: &'a Arc<Data>, expires: OffsetDateTime, now: OffsetDateTime) -> Self {
        RecordWrite { data, expires, now }
    }
}

/// Record operations of one storage kind: the contract a new backend (DynamoDB, MongoDB,
/// memcached…) implements. Five operations are required; [`ServerEngine`] builds everything
/// else on them (keys, hashing, collision-free creation, merging saves, no resurrection).
/// Locks, per-user listing and scanning are optional: a store that has them says so in
/// [`RecordStore::capabilities`] and overrides their methods.
///
/// Records are addressed by the SHA-256 hex of the session key ([`SessionKey::hashed`]), never
/// by the key itself — except in Django's table.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sessionkit::engine::SessionKey;
/// use sessionkit::engine::{Data, MemoryStore, RecordStore, RecordWrite};
///
/// let store = MemoryStore::new(10);
/// let id = SessionKey::generate().hashed();
/// let data = Arc::new(Data::new());
/// let now = time::OffsetDateTime::now_utc();
/// let write = RecordWrite::new(&data, now + time::Duration::hours(1), now);
/// assert!(store.insert(&id, write).await?); // version 1
/// assert!(!store.insert(&id, write).await?); // taken: never overwritten
/// assert!(store.replace(&id, 1, write).await?); // version 1 → 2
/// assert!(!store.replace(&id, 1, write).await?); // stale version: refused
/// assert_eq!(store.fetch(&id).await?.unwrap().version, 2);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    /// A short name for logs and errors ("db", "cache", …).
    fn name(&self) -> &'static str {
        "custom"
    }

    /// What the store can do beyond the required operations; nothing by default.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

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

    /// Stores a new record at version 1 unless a live record has `id` (then `Ok(false)`,
    /// nothing written) — atomically, so two inserts of one `id` never both succeed.
    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError>;

    /// Overwrites the record and bumps its version, only if it is still at `version` —
    /// atomically. `Ok(false)` if it moved on or is gone.
    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError>;

    /// Deletes the record, if any.
    async fn remove(&self, id: &str) -> Result<(), EngineError>;

    /// Deletes at most `batch` expired records, in one short step; returns how many went. A
    /// store whose records expire by themselves returns `Ok(0)`.
    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError>;

    /// How many expired records are still stored (waiting for [`purge_expired`]), or `None`
    /// if the store cannot tell cheaply or expires records by itself.
    ///
    /// [`purge_expired`]: RecordStore::purge_expired
    async fn count_expired(&self) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }

    /// Whether a live record exists. Defaults to a fetch; stores that can answer more
    /// cheaply override it.
    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        Ok(self.fetch(id).await?.is_some())
    }

    /// Creates the store's schema if missing (idempotent).
    async fn migrate(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Takes the lock of record `id` for `token` if it is free or its lease has lapsed —
    /// atomically, so two takers never both succeed. The lock lapses after `lease`
    /// ([`lease_window`] gives the wall-clock bounds). Only with [`Capabilities::locking`].
    async fn try_lock(
        &self,
        _id: &str,
        _token: &str,
        _lease: Duration,
    ) -> Result<bool, EngineError> {
        Err(EngineError::unsupported(self.name(), "lock a session"))
    }

    /// Releases the lock of record `id` if `token` holds it.
    async fn unlock(&self, _id: &str, _token: &str) -> Result<(), EngineError> {
        Err(EngineError::unsupported(self.name(), "lock a session"))
    }

    /// The live records whose [`USER_ID_KEY`](super::USER_ID_KEY) is `user_id` ([`user_of`]
    /// reads it from data). Only with [`Capabilities::by_user`].
    ///
    /// [`user_of`]: super::user_of
    async fn by_user(&self, _user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        Err(EngineError::unsupported(
            self.name(),
            "list a user's sessions",
        ))
    }

    /// One page of live records in a stable order, starting after `cursor` (`None`: at the
    /// start), about `limit` of them, for copying the whole store ([`Engine::export`]).
    /// Only with [`Capabilities::scan`].
    ///
    /// The cursor is the store's own (the last address of the page for SQL, files and memory;
    /// Redis's `SCAN` cursor) and opaque to callers. Every record live for the whole scan is
    /// listed at least once; a record written meanwhile may be missed, and Redis may list one
    /// twice — which an import, never overwriting, counts as already present.
    ///
    /// [`Engine::export`]: super::Engine::export
    async fn scan(&self, _cursor: Option<String>, _limit: usize) -> Result<ScanPage, EngineError> {
        Err(EngineError::unsupported(self.name(), "list its sessions"))
    }
}

/// One page of [`RecordStore::scan`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sessionkit::engine::SessionKey;
/// use sessionkit::engine::{Data, MemoryStore, RecordStore, RecordWrite};
///
/// let store = MemoryStore::new(10);
/// # let now = time::OffsetDateTime::now_utc();
/// # let data = Arc::new(Data::new());
/// for _ in 0..3 {
///     let id = SessionKey::generate().hashed();
///     let write = RecordWrite::new(&data, now + time::Duration::hours(1), now);
///     store.insert(&id, write).await?;
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
/// use sessionkit::engine::SessionKey;
/// use sessionkit::engine::{Data, JsonText, MemoryStore, RecordStore, RecordWrite, USER_ID_KEY};
///
/// let store = MemoryStore::new(10);
/// let id = SessionKey::generate().hashed();
/// let data = Arc::new(Data::from_iter([(USER_ID_KEY, JsonText::from(42))]));
/// let now = time::OffsetDateTime::now_utc();
/// let expires = now + time::Duration::hours(1);
/// store.insert(&id, RecordWrite::new(&data, expires, now)).await?;
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

/// Wall-clock milliseconds now, and when a lease of `lease` taken now ends: what a store's
/// [`RecordStore::try_lock`] writes and compares. Leases are compared across processes and
/// machines, hence the wall clock.
///
/// ```
/// use std::time::Duration;
///
/// let (now, until) = sessionkit::engine::lease_window(Duration::from_secs(5));
/// assert_eq!(until - now, 5_000);
/// ```
pub fn lease_window(lease: Duration) -> (i64, i64) {
    let now = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    (now, now.saturating_add(lease))
}

/// Whether `address` has the shape of [`SessionKey::hashed`]: 64 lowercase hex digits. An
/// address from elsewhere (an import, a file name) is checked before it names a record here.
///
/// ```
/// use sessionkit::engine::SessionKey;
/// use sessionkit::engine::is_key_hash;
///
/// assert!(is_key_hash(&SessionKey::generate().hashed()));
/// assert!(!is_key_hash("../../etc/passwd"));
/// ```
pub fn is_key_hash(address: &str) -> bool {
    address.len() == 64
        && address
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
