//! `cache`: sessions in a cache, chosen by `SESSION_CACHE_URL`:
//! - `redis://host[:port][/db]`: shared by every app instance. Each session is a Redis hash
//!   (`d` = the data as JSON, `v` = its version) under `SESSION_CACHE_KEY_PREFIX` + the key's
//!   SHA-256, with the session's expiry as the Redis TTL, so Redis evicts it on its own.
//!   Conditional writes are Lua scripts, so they are atomic on the server. As `cached_db`'s
//!   cache ([`Cache`]), its entries also hold `e`, the epoch they were written under, and
//!   the current epoch is a counter at `SESSION_CACHE_KEY_PREFIX` + `epoch`.
//! - `memory://[?max_entries=N]`: this process only, bounded (default 100 000 sessions); when
//!   full it drops expired sessions first, then those closest to expiry.
//!
//! Like Django's cache backend, a cache may lose sessions (eviction, restart without
//! persistence); use `db` or `cached_db` where that is not acceptable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use time::OffsetDateTime;

use super::server::{RecordStore, ScanPage, StoredRecord, is_key_hash};
use super::{Data, EngineError, Loaded, user_of};
use crate::cache_url::memory_capacity;
use crate::json::to_python_json;
use crate::settings::{ConfigError, EngineKind, Settings};

pub use crate::cache_url::DEFAULT_MEMORY_ENTRIES;

/// No epoch: what `cached_db` holds before it has seen one. No cache ever has it, so nothing
/// is written under it.
pub const NO_EPOCH: i64 = i64::MIN;

/// A version no write ever reaches: a fence at it keeps every write out (a deleted session).
pub const DELETED: i64 = i64::MAX;

/// What [`Cache::read_current`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheRead {
    /// The entry, if one was written under the current epoch and holds data (not a fence).
    pub record: Option<Loaded>,
    /// The current epoch: what a write of data read from the database *after* this must carry.
    pub epoch: i64,
}

/// A cache in front of a record of truth (what `cached_db` needs): entries carry the version
/// of the record they copy and the *epoch* they were written under, so that after a failure
/// everything written before it can be disowned at once ([`Cache::new_epoch`]) and a late
/// write can never overwrite fresher data or bring a deleted session back.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use serde_json::json;
/// use sessionkit::SessionKey;
/// use sessionkit::engine::cache::DELETED;
/// use sessionkit::engine::{Cache, Data, Loaded, MemoryStore};
///
/// let cache = MemoryStore::new(100);
/// let epoch = cache.new_epoch().await?; // what a cache user does first
/// let id = SessionKey::generate().hashed();
/// let v = |version| Loaded {
///     data: Arc::new(Data::from_iter([("n".into(), json!(version))])),
///     version,
/// };
/// let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
/// assert_eq!(cache.read_current(&id).await?.epoch, epoch);
/// assert!(cache.write_if_newer(&id, &v(2), expires, epoch).await?);
/// assert!(!cache.write_if_newer(&id, &v(1), expires, epoch).await?); // older: refused
/// assert_eq!(cache.read_current(&id).await?.record, Some(v(2)));
///
/// cache.fence(&id, DELETED, Duration::from_secs(5)).await?; // logged out
/// assert!(!cache.write_if_newer(&id, &v(3), expires, epoch).await?); // never revived
///
/// let other = SessionKey::generate().hashed();
/// cache.write_if_newer(&other, &v(1), expires, epoch).await?;
/// cache.new_epoch().await?; // after a failure: disown everything written so far
/// assert_eq!(cache.read_current(&other).await?.record, None);
/// assert!(!cache.write_if_newer(&other, &v(1), expires, epoch).await?); // a late write
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Cache: RecordStore {
    /// The entry of `id` if it was written under the current epoch (older ones are ignored),
    /// with that epoch — in one round trip. Fails if the cache has no epoch (it lost its
    /// data): it is not to be trusted again before [`Cache::new_epoch`].
    async fn read_current(&self, id: &str) -> Result<CacheRead, EngineError>;

    /// Stores `record` as the entry of `id` until `expires`, only if `epoch` is still the
    /// current epoch and the current entry holds no newer version (nor a fence at this version
    /// or a newer one). Returns whether it was written.
    async fn write_if_newer(
        &self,
        id: &str,
        record: &Loaded,
        expires: OffsetDateTime,
        epoch: i64,
    ) -> Result<bool, EngineError>;

    /// Replaces the entry of `id` by a fence that refuses, for `ttl`, every write of `version`
    /// or older — unless the entry already holds a newer version. [`DELETED`] fences out
    /// every write: what a delete leaves, so a write already under way cannot revive it.
    async fn fence(&self, id: &str, version: i64, ttl: Duration) -> Result<(), EngineError>;

    /// Starts a new epoch and returns it: every entry written before is ignored from now on,
    /// and every write still carrying an older epoch is refused.
    async fn new_epoch(&self) -> Result<i64, EngineError>;
}

/// Opens the cache `SESSION_CACHE_URL` names.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::cache::open_cache;
/// use sessionkit::{EngineKind, Settings};
///
/// let settings = Settings { cache_url: "memory://?max_entries=10".into(), ..Settings::new("s") };
/// let cache = open_cache(&settings).await?;
/// assert_eq!(cache.kind(), EngineKind::Cache);
/// let bad_url = Settings { cache_url: "redis://[bad".into(), ..Settings::new("s") };
/// assert!(open_cache(&bad_url).await.is_err()); // an EngineError: the app cannot start
/// # Ok(()) }
/// ```
pub async fn open_cache(settings: &Settings) -> Result<Arc<dyn Cache>, EngineError> {
    let url = settings.cache_url.as_str();
    if let Some(query) = url.strip_prefix("memory://") {
        let capacity = memory_capacity(query)
            .map_err(|bad| EngineError::unavailable(ConfigError::from(bad)))?;
        Ok(Arc::new(MemoryStore::new(capacity)))
    } else {
        Ok(Arc::new(RedisStore::connect(settings).await?))
    }
}

/// Sessions in this process's memory.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use sessionkit::engine::{MemoryStore, ServerEngine};
/// use sessionkit::{Sessions, Settings};
///
/// let store = Arc::new(MemoryStore::new(1000));
/// let engine = ServerEngine::shared(store.clone(), Duration::from_secs(5));
/// let sessions = Sessions::new(Arc::new(engine), Settings::new("secret"))?;
/// let session = sessions.start(None).load().await?;
/// session.insert("n", 1)?;
/// session.save().await?;
/// assert_eq!(store.len(), 1); // in this process only: lost on restart
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    records: Mutex<Records>,
    /// Session locks: record id → (holder's token, lease end).
    locks: Mutex<HashMap<String, (String, Instant)>>,
    capacity: usize,
    /// The cache epoch ([`Cache`]).
    epoch: AtomicI64,
}

/// Records by id. An id is the SHA-256 of a session key, never a string a client chose, so the
/// map needs no defence against crafted collisions: foldhash hashes a 64-character id several
/// times faster than the standard library's SipHash, and twice per request adds up.
type Records = HashMap<String, MemoryRecord, foldhash::fast::RandomState>;

#[derive(Debug, Clone)]
struct MemoryRecord {
    /// `None` in a fence ([`Cache::fence`]): no session, only a bar to older writes.
    data: Option<Arc<Data>>,
    version: i64,
    expires: OffsetDateTime,
    /// The cache epoch it was written under ([`Cache`]); 0 for the `cache` engine's own.
    epoch: i64,
}

impl MemoryRecord {
    /// The session it holds, unless it has expired by `now` or is a fence.
    fn live(&self, now: OffsetDateTime) -> Option<Loaded> {
        let data = self.data.as_ref().filter(|_| self.expires > now)?;
        Some(Loaded {
            data: data.clone(),
            version: self.version,
        })
    }

    /// A record of the `cache` engine itself (no epoch).
    fn session(data: &Arc<Data>, version: i64, expires: OffsetDateTime) -> Self {
        MemoryRecord {
            data: Some(data.clone()),
            version,
            expires,
            epoch: 0,
        }
    }
}

impl MemoryStore {
    /// An empty store holding at most `capacity` sessions.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::{sync::Arc, time::Duration};
    /// use sessionkit::engine::{MemoryStore, ServerEngine};
    /// use sessionkit::{Sessions, Settings};
    ///
    /// let store = Arc::new(MemoryStore::new(2)); // at most two sessions
    /// let engine = ServerEngine::shared(store.clone(), Duration::from_secs(5));
    /// let sessions = Sessions::new(Arc::new(engine), Settings::new("secret"))?;
    /// for n in 0..3 {
    ///     let session = sessions.start(None).load().await?;
    ///     session.insert("n", n)?;
    ///     session.save().await?;
    /// }
    /// assert_eq!(store.len(), 2); // full: the session closest to expiry made room
    /// # Ok(()) }
    /// ```
    pub fn new(capacity: usize) -> Self {
        MemoryStore {
            records: Mutex::new(Records::default()),
            locks: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            epoch: AtomicI64::new(0),
        }
    }

    /// How many sessions are held (live or not yet swept).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use sessionkit::engine::{Engine, MemoryStore, ServerEngine};
    /// use sessionkit::{Sessions, Settings};
    ///
    /// let store = MemoryStore::new(10);
    /// let engine = std::sync::Arc::new(ServerEngine::new(store, Duration::from_secs(5)));
    /// let sessions = Sessions::new(engine.clone(), Settings::new("secret"))?;
    /// # let session = sessions.start(None).load().await?;
    /// # session.insert("n", 1)?;
    /// let cookie = session.save().await?.unwrap(); // one session saved
    /// assert_eq!(engine.store().len(), 1);
    /// engine.delete(&cookie).await?;
    /// assert_eq!(engine.store().len(), 0);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> usize {
        self.records().len()
    }

    /// Whether no session is held.
    ///
    /// ```
    /// use sessionkit::engine::MemoryStore;
    ///
    /// let store = MemoryStore::new(10);
    /// assert!(store.is_empty());
    /// assert_eq!(store.len(), 0);
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        // Nothing panics while the lock is held; the map stays consistent.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes room for one more record: expired ones go first, then those expiring soonest
    /// (a sixteenth of the capacity at once, so a full cache does not sweep on every insert).
    fn make_room(records: &mut Records, capacity: usize) {
        if records.len() < capacity {
            return;
        }
        let now = OffsetDateTime::now_utc();
        records.retain(|_, r| r.expires > now);
        if records.len() < capacity {
            return;
        }
        let mut by_expiry: Vec<(OffsetDateTime, String)> = records
            .iter()
            .map(|(id, r)| (r.expires, id.clone()))
            .collect();
        let evict = (capacity / 16).max(1).min(by_expiry.len());
        by_expiry.select_nth_unstable(evict - 1);
        for (_, id) in by_expiry.into_iter().take(evict) {
            records.remove(&id);
        }
    }
}

#[async_trait]
impl RecordStore for MemoryStore {
    fn kind(&self) -> EngineKind {
        EngineKind::Cache
    }

    fn in_process(&self) -> bool {
        true
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        // The clock is read before the lock, so other requests do not wait on it.
        let now = OffsetDateTime::now_utc();
        Ok(self.records().get(id).and_then(|r| r.live(now)))
    }

    async fn insert(
        &self,
        id: &str,
        data: &Arc<Data>,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, EngineError> {
        let mut records = self.records();
        if records.get(id).is_some_and(|r| r.expires > now) {
            return Ok(false);
        }
        Self::make_room(&mut records, self.capacity);
        records.insert(id.to_owned(), MemoryRecord::session(data, 1, expires));
        Ok(true)
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        data: &Arc<Data>,
        expires: OffsetDateTime,
    ) -> Result<bool, EngineError> {
        let mut records = self.records();
        match records.get_mut(id) {
            Some(record) if record.version == version => {
                *record = MemoryRecord::session(data, version + 1, expires);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.records().remove(id);
        Ok(())
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        let mut records = self.records();
        let now = OffsetDateTime::now_utc();
        let expired: Vec<String> = records
            .iter()
            .filter(|(_, r)| r.expires <= now)
            .map(|(id, _)| id.clone())
            .take(batch)
            .collect();
        for id in &expired {
            records.remove(id);
        }
        Ok(expired.len() as u64)
    }

    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        Ok(self.by_user_now(user_id))
    }

    /// The `limit` smallest live ids after the cursor, picked without sorting the whole map.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        let now = OffsetDateTime::now_utc();
        let after = cursor.unwrap_or_default();
        let records = self.records();
        let mut ids: Vec<&String> = records
            .iter()
            .filter(|(id, r)| r.live(now).is_some() && id.as_str() > after.as_str())
            .map(|(id, _)| id)
            .collect();
        if ids.len() > limit {
            ids.select_nth_unstable(limit);
            ids.truncate(limit);
        }
        ids.sort_unstable();
        Ok(ScanPage {
            next: ids
                .last()
                .filter(|_| ids.len() == limit)
                .map(|id| (*id).clone()),
            records: ids
                .iter()
                .filter_map(|id| {
                    let r = records.get(*id)?; // listed from this map under the same lock
                    Some(StoredRecord {
                        id: (*id).clone(),
                        record: r.live(now)?,
                        expires: r.expires,
                    })
                })
                .collect(),
            unreadable: 0,
        })
    }

    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if locks.get(id).is_some_and(|(_, until)| *until > now) {
            return Ok(false);
        }
        // Lapsed leases of other sessions go too, so the table never outgrows the live locks.
        locks.retain(|_, (_, until)| *until > now);
        locks.insert(id.to_owned(), (token.to_owned(), now + lease));
        Ok(true)
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if locks.get(id).is_some_and(|(holder, _)| holder == token) {
            locks.remove(id);
        }
        Ok(())
    }
}

impl MemoryStore {
    fn by_user_now(&self, user_id: &str) -> Vec<StoredRecord> {
        let now = OffsetDateTime::now_utc();
        self.records()
            .iter()
            .filter_map(|(id, r)| {
                let record = r.live(now)?;
                (user_of(&record.data).as_deref() == Some(user_id)).then(|| StoredRecord {
                    id: id.clone(),
                    record,
                    expires: r.expires,
                })
            })
            .collect()
    }
}

/// The same rules as Redis's scripts, under the map's lock; the epoch is a counter. (An
/// in-process cache never fails, so its epoch only moves when asked to.)
#[async_trait]
impl Cache for MemoryStore {
    async fn read_current(&self, id: &str) -> Result<CacheRead, EngineError> {
        let now = OffsetDateTime::now_utc();
        let records = self.records();
        let epoch = self.epoch.load(Ordering::Acquire);
        let record = records
            .get(id)
            .filter(|r| r.epoch == epoch)
            .and_then(|r| r.live(now));
        Ok(CacheRead { record, epoch })
    }

    async fn write_if_newer(
        &self,
        id: &str,
        record: &Loaded,
        expires: OffsetDateTime,
        epoch: i64,
    ) -> Result<bool, EngineError> {
        let now = OffsetDateTime::now_utc();
        let mut records = self.records();
        if epoch != self.epoch.load(Ordering::Acquire) {
            return Ok(false);
        }
        match records.get(id) {
            Some(held) if held.epoch == epoch && held.expires > now => {
                if !admits(held.data.is_some(), held.version, record.version) {
                    return Ok(false);
                }
            }
            Some(_) => {}
            None => Self::make_room(&mut records, self.capacity),
        }
        records.insert(
            id.to_owned(),
            MemoryRecord {
                epoch,
                ..MemoryRecord::session(&record.data, record.version, expires)
            },
        );
        Ok(true)
    }

    async fn fence(&self, id: &str, version: i64, ttl: Duration) -> Result<(), EngineError> {
        let now = OffsetDateTime::now_utc();
        let mut records = self.records();
        let epoch = self.epoch.load(Ordering::Acquire);
        match records.get(id) {
            Some(held) if held.epoch == epoch && held.expires > now => {
                if outranks(held.data.is_some(), held.version, version) {
                    return Ok(());
                }
            }
            Some(_) => {}
            None => Self::make_room(&mut records, self.capacity),
        }
        records.insert(
            id.to_owned(),
            MemoryRecord {
                data: None,
                version,
                expires: time::Duration::try_from(ttl)
                    .ok()
                    .and_then(|ttl| now.checked_add(ttl))
                    .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc()),
                epoch,
            },
        );
        Ok(())
    }

    async fn new_epoch(&self) -> Result<i64, EngineError> {
        Ok(self.epoch.fetch_add(1, Ordering::AcqRel) + 1)
    }
}

/// Whether an entry of the current epoch at `held` (data, or a fence if `!has_data`) lets a
/// write of version `incoming` replace it: data gives way to the same version (the same
/// record, refreshed) or a newer one; a fence only to a newer one.
fn admits(has_data: bool, held: i64, incoming: i64) -> bool {
    if has_data {
        incoming >= held
    } else {
        incoming > held
    }
}

/// Whether an entry of the current epoch at `held` stays when fenced at `version`: data
/// newer than the fence, or a fence at least as high.
fn outranks(has_data: bool, held: i64, version: i64) -> bool {
    if has_data {
        held > version
    } else {
        held >= version
    }
}

/// Adds the session (ARGV[1], its id) to its user's index set KEYS[2], whose TTL is kept at
/// least as long as the session's (ARGV[2]); no-op without a user (KEYS[2] == "").
const INDEX_USER: &str = r"
local function index_user(user_key, id, expires)
  if user_key == '' then return end
  redis.call('SADD', user_key, id)
  local ttl = redis.call('TTL', user_key)
  if ttl == -1 or ttl < tonumber(expires) - tonumber(redis.call('TIME')[1]) then
    redis.call('EXPIREAT', user_key, expires)
  end
end
";

/// Creates the hash only if the key is free.
/// KEYS: session, user index (or ""); ARGV: id, data, expiry (Unix seconds).
const INSERT_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', 1)
redis.call('EXPIREAT', KEYS[1], ARGV[3])
index_user(KEYS[2], ARGV[1], ARGV[3])
return 1";

/// Overwrites the hash only at the expected version.
/// KEYS: session, user index (or ""); ARGV: id, version, data, expiry.
const REPLACE_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[3], 'v', tonumber(ARGV[2]) + 1)
redis.call('EXPIREAT', KEYS[1], ARGV[4])
index_user(KEYS[2], ARGV[1], ARGV[4])
return 1";

/// Deletes the lock KEYS[1] only if the token ARGV[1] still holds it.
const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// The expiry of each key of KEYS in Unix milliseconds by the server's clock (so the client's
/// clock does not matter), or its PTTL when it has none (-1) or is gone (-2).
const EXPIRIES_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiries = {}
for i, key in ipairs(KEYS) do
  local ttl = redis.call('PTTL', key)
  if ttl >= 0 then expiries[i] = now + ttl else expiries[i] = ttl end
end
return expiries";

/// The cache epoch stored at `key`, for the scripts that write; created if missing. A missing
/// epoch (a fresh Redis, or the key evicted) starts at the server's clock in microseconds,
/// never at a value an earlier epoch had — else entries of that epoch would be served again.
const CURRENT_EPOCH: &str = r"
local function current_epoch(key)
  local epoch = redis.call('GET', key)
  if epoch then return epoch end
  local now = redis.call('TIME')
  epoch = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', key, epoch)
  return epoch
end
";

/// The rules of [`admits`] and [`outranks`] for an entry's fields as HMGET returns them.
const RANKS: &str = r"
local function admits(entry, epoch, incoming)
  if entry[1] ~= epoch or not entry[2] then return true end
  local held = tonumber(entry[2])
  if entry[3] then return incoming >= held end
  return incoming > held
end
local function outranks(entry, epoch, version)
  if entry[1] ~= epoch or not entry[2] then return false end
  local held = tonumber(entry[2])
  if entry[3] then return held > version end
  return held >= version
end
";

/// Writes the entry if ARGV's epoch is current and the entry admits the version; 1 if written.
/// KEYS: entry, epoch; ARGV: epoch, version, data, expiry (Unix seconds).
const WRITE_IF_NEWER_SCRIPT: &str = r"
if current_epoch(KEYS[2]) ~= ARGV[1] then return 0 end
local entry = redis.call('HMGET', KEYS[1], 'e', 'v', 'd')
if not admits(entry, ARGV[1], tonumber(ARGV[2])) then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
return 1";

/// Replaces the entry by a fence at ARGV's version unless it outranks it; 1 if fenced.
/// KEYS: entry, epoch; ARGV: version, lifetime (milliseconds).
const FENCE_SCRIPT: &str = r"
local epoch = current_epoch(KEYS[2])
local entry = redis.call('HMGET', KEYS[1], 'e', 'v', 'd')
if outranks(entry, epoch, tonumber(ARGV[1])) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'e', epoch, 'v', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1";

/// Moves the epoch on. KEYS: epoch.
const NEW_EPOCH_SCRIPT: &str = r"
current_epoch(KEYS[1])
return redis.call('INCR', KEYS[1])";

/// Sessions in Redis.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{RedisStore, ServerEngine};
/// use sessionkit::{Engine, EngineKind, Settings};
///
/// let settings = Settings {
///     engine: EngineKind::Cache,
///     cache_url: "redis://127.0.0.1:6379/0".into(),
///     ..Settings::new("secret")
/// };
/// let engine = ServerEngine::new(RedisStore::connect(&settings).await?, settings.store_timeout);
/// assert_eq!(engine.clear_expired(1000).await?, 0); // Redis expires sessions by itself
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    insert: redis::Script,
    replace: redis::Script,
    unlock: redis::Script,
    expiries: redis::Script,
    write_if_newer: redis::Script,
    fence: redis::Script,
    new_epoch: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `SESSION_CACHE_URL`. The connection manager reconnects by itself after a
    /// Redis restart; while Redis is down, operations fail within `SESSION_STORE_TIMEOUT` —
    /// or `SESSION_CACHE_TIMEOUT` when Redis is `cached_db`'s cache, so the database can
    /// still answer within the request's time.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::RedisStore;
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let settings = Settings {
    ///     cache_url: "redis://127.0.0.1:6379/0".into(),
    ///     cache_key_prefix: "myapp:sessions:".into(), // namespaces the keys in a shared Redis
    ///     ..Settings::new("secret")
    /// };
    /// let store = RedisStore::connect(&settings).await?; // fails if Redis cannot be reached
    /// assert!(format!("{store:?}").contains("myapp:sessions:"));
    /// # Ok(()) }
    /// ```
    pub async fn connect(settings: &Settings) -> Result<Self, EngineError> {
        let client =
            redis::Client::open(settings.cache_url.as_str()).map_err(EngineError::unavailable)?;
        let timeout = Some(match settings.engine {
            EngineKind::CachedDb => settings.cache_timeout,
            _ => settings.store_timeout,
        });
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(EngineError::unavailable)?;
        Ok(RedisStore {
            connection,
            prefix: settings.cache_key_prefix.clone(),
            insert: redis::Script::new(&format!("{INDEX_USER}{INSERT_SCRIPT}")),
            replace: redis::Script::new(&format!("{INDEX_USER}{REPLACE_SCRIPT}")),
            unlock: redis::Script::new(UNLOCK_SCRIPT),
            expiries: redis::Script::new(EXPIRIES_SCRIPT),
            write_if_newer: redis::Script::new(&format!(
                "{CURRENT_EPOCH}{RANKS}{WRITE_IF_NEWER_SCRIPT}"
            )),
            fence: redis::Script::new(&format!("{CURRENT_EPOCH}{RANKS}{FENCE_SCRIPT}")),
            new_epoch: redis::Script::new(&format!("{CURRENT_EPOCH}{NEW_EPOCH_SCRIPT}")),
        })
    }

    fn redis_key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The set of a user's session ids, or "" (no index) for a session without a user.
    fn user_key(&self, data: &Data) -> String {
        user_of(data)
            .map(|user| self.user_key_of(&user))
            .unwrap_or_default()
    }

    /// The cache epoch's counter ([`Cache`]).
    fn epoch_key(&self) -> String {
        format!("{}epoch", self.prefix)
    }

    fn lock_key(&self, id: &str) -> String {
        format!("{}lock:{id}", self.prefix)
    }

    fn user_key_of(&self, user_id: &str) -> String {
        format!("{}user:{user_id}", self.prefix)
    }

    fn connection(&self) -> ConnectionManager {
        // A cheap handle onto the one multiplexed connection.
        self.connection.clone()
    }
}

#[async_trait]
impl RecordStore for RedisStore {
    fn kind(&self) -> EngineKind {
        EngineKind::Cache
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        let (data, version): (Option<String>, Option<i64>) = redis::cmd("HMGET")
            .arg(self.redis_key(id))
            .arg("d")
            .arg("v")
            .query_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        let (Some(data), Some(version)) = (data, version) else {
            return Ok(None);
        };
        match serde_json::from_str(&data) {
            Ok(data) => Ok(Some(Loaded {
                data: Arc::new(data),
                version,
            })),
            Err(error) => {
                tracing::warn!(%error, "session data in Redis is not a JSON object; ignoring it");
                Ok(None)
            }
        }
    }

    async fn insert(
        &self,
        id: &str,
        data: &Arc<Data>,
        expires: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<bool, EngineError> {
        let inserted: i64 = self
            .insert
            .key(self.redis_key(id))
            .key(self.user_key(data))
            .arg(id)
            .arg(to_python_json(data))
            .arg(expires.unix_timestamp())
            .invoke_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        Ok(inserted == 1)
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        data: &Arc<Data>,
        expires: OffsetDateTime,
    ) -> Result<bool, EngineError> {
        let replaced: i64 = self
            .replace
            .key(self.redis_key(id))
            .key(self.user_key(data))
            .arg(id)
            .arg(version)
            .arg(to_python_json(data))
            .arg(expires.unix_timestamp())
            .invoke_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        Ok(replaced == 1)
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        redis::cmd("DEL")
            .arg(self.redis_key(id))
            .query_async::<()>(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)
    }

    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        redis::cmd("EXISTS")
            .arg(self.redis_key(id))
            .query_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)
    }

    /// Redis expires sessions itself (their TTL); there is nothing to sweep.
    async fn purge_expired(&self, _batch: usize) -> Result<u64, EngineError> {
        Ok(0)
    }

    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.lock_key(id))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis().max(1) as u64)
            .query_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        Ok(taken.is_some())
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        self.unlock
            .key(self.lock_key(id))
            .arg(token)
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(EngineError::unavailable)
    }

    /// `SCAN` over the prefix's keys (the prefix's glob characters escaped). Only keys that
    /// end in a key hash are sessions; the user indexes (`user:…`) and locks (`lock:…`) under
    /// the same prefix are not. The expiry is read back from the TTL, which was set in whole
    /// seconds (`EXPIREAT`), hence the rounding.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        let cursor: u64 = match cursor {
            None => 0,
            Some(cursor) => cursor.parse().map_err(|_| {
                EngineError::unavailable(std::io::Error::other(format!(
                    "{cursor:?} is not a Redis SCAN cursor"
                )))
            })?,
        };
        let mut connection = self.connection();
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", glob_escape(&self.prefix)))
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut connection)
            .await
            .map_err(EngineError::unavailable)?;
        let ids: Vec<&str> = keys
            .iter()
            .filter_map(|key| key.strip_prefix(&self.prefix))
            .filter(|id| is_key_hash(id))
            .collect();
        let mut page = ScanPage {
            next: (next != 0).then(|| next.to_string()),
            ..ScanPage::default()
        };
        if ids.is_empty() {
            return Ok(page);
        }
        let mut hashes = redis::pipe();
        let mut expiries = self.expiries.prepare_invoke();
        for id in &ids {
            hashes
                .cmd("HMGET")
                .arg(self.redis_key(id))
                .arg("d")
                .arg("v");
            expiries.key(self.redis_key(id));
        }
        let hashes: Vec<(Option<String>, Option<i64>)> = hashes
            .query_async(&mut connection)
            .await
            .map_err(EngineError::unavailable)?;
        let expiries: Vec<i64> = expiries
            .invoke_async(&mut connection)
            .await
            .map_err(EngineError::unavailable)?;
        for ((id, (data, version)), expiry_ms) in ids.into_iter().zip(hashes).zip(expiries) {
            // Gone since SCAN listed it (expired or deleted): nothing to copy.
            if (data.is_none() && version.is_none()) || expiry_ms == -2 {
                continue;
            }
            let expires = (expiry_ms >= 0)
                .then(|| OffsetDateTime::from_unix_timestamp((expiry_ms + 500) / 1000).ok())
                .flatten();
            let data = data.and_then(|data| serde_json::from_str(&data).ok().map(Arc::new));
            match (data, version, expires) {
                (Some(data), Some(version), Some(expires)) => page.records.push(StoredRecord {
                    id: id.to_owned(),
                    record: Loaded { data, version },
                    expires,
                }),
                _ => {
                    tracing::warn!("unreadable session record in Redis (no data, version or TTL)");
                    page.unreadable += 1;
                }
            }
        }
        Ok(page)
    }

    /// Reads the user's index set; members whose session is gone or now belongs to someone
    /// else are dropped from it on the way.
    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        let user_key = self.user_key_of(user_id);
        let mut connection = self.connection();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&user_key)
            .query_async(&mut connection)
            .await
            .map_err(EngineError::unavailable)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let ttl: i64 = redis::cmd("TTL")
                .arg(self.redis_key(&id))
                .query_async(&mut connection)
                .await
                .map_err(EngineError::unavailable)?;
            let record = self.fetch(&id).await?;
            match record {
                Some(record) if ttl > 0 && user_of(&record.data).as_deref() == Some(user_id) => {
                    let expires = OffsetDateTime::now_utc() + time::Duration::seconds(ttl);
                    found.push(StoredRecord {
                        id,
                        record,
                        expires,
                    });
                }
                _ => {
                    redis::cmd("SREM")
                        .arg(&user_key)
                        .arg(&id)
                        .query_async::<()>(&mut connection)
                        .await
                        .map_err(EngineError::unavailable)?;
                }
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl Cache for RedisStore {
    /// `GET` of the epoch and `HMGET` of the entry (fields e = epoch, v = version, d = data;
    /// no d in a fence) in one pipeline — no script, this is every request's call. Another
    /// client may start a new epoch between the two, which is as if this read came first:
    /// an entry of the epoch read was written while that epoch was current.
    async fn read_current(&self, id: &str) -> Result<CacheRead, EngineError> {
        type Entry = (Option<i64>, Option<i64>, Option<String>);
        let (epoch, entry): (Option<i64>, Entry) = redis::pipe()
            .cmd("GET")
            .arg(self.epoch_key())
            .cmd("HMGET")
            .arg(self.redis_key(id))
            .arg("e")
            .arg("v")
            .arg("d")
            .query_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        let Some(epoch) = epoch else {
            return Err(EngineError::unavailable(std::io::Error::other(
                "the session cache has lost its epoch (restarted empty, or evicted it)",
            )));
        };
        let record = match entry {
            (Some(written), Some(version), Some(data)) if written == epoch => {
                match serde_json::from_str(&data) {
                    Ok(data) => Some(Loaded {
                        data: Arc::new(data),
                        version,
                    }),
                    Err(error) => {
                        tracing::warn!(%error, "session data in Redis is not a JSON object");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(CacheRead { record, epoch })
    }

    async fn write_if_newer(
        &self,
        id: &str,
        record: &Loaded,
        expires: OffsetDateTime,
        epoch: i64,
    ) -> Result<bool, EngineError> {
        let written: i64 = self
            .write_if_newer
            .key(self.redis_key(id))
            .key(self.epoch_key())
            .arg(epoch)
            .arg(record.version)
            .arg(to_python_json(&record.data))
            .arg(expires.unix_timestamp())
            .invoke_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        Ok(written == 1)
    }

    async fn fence(&self, id: &str, version: i64, ttl: Duration) -> Result<(), EngineError> {
        self.fence
            .key(self.redis_key(id))
            .key(self.epoch_key())
            .arg(version)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(EngineError::unavailable)
    }

    async fn new_epoch(&self) -> Result<i64, EngineError> {
        self.new_epoch
            .key(self.epoch_key())
            .invoke_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)
    }
}

/// `text` with Redis's glob characters escaped, to match it literally in `SCAN … MATCH`.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn glob_characters_of_a_prefix_match_literally() {
        assert_eq!(glob_escape("app:sessions:"), "app:sessions:");
        assert_eq!(glob_escape(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }

    fn data(n: i64) -> Arc<Data> {
        Arc::new(serde_json::json!({ "n": n }).as_object().unwrap().clone())
    }

    #[tokio::test]
    async fn a_full_memory_store_drops_expired_then_soonest_expiring_sessions() {
        let store = MemoryStore::new(32);
        let now = OffsetDateTime::now_utc();
        store
            .insert("expired", &data(0), now - Duration::seconds(1), now)
            .await
            .unwrap();
        for i in 0..31 {
            let expires = now + Duration::seconds(100 + i);
            store
                .insert(&format!("s{i}"), &data(i), expires, now)
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 32);
        store
            .insert("new", &data(99), now + Duration::hours(1), now)
            .await
            .unwrap();
        assert_eq!(store.len(), 32, "only the expired session made room");
        assert!(store.fetch("expired").await.unwrap().is_none());
        store
            .insert("newer", &data(100), now + Duration::hours(1), now)
            .await
            .unwrap();
        assert!(store.len() <= 32);
        assert!(
            store.fetch("s0").await.unwrap().is_none(),
            "soonest to expire went"
        );
        assert!(store.fetch("s30").await.unwrap().is_some());
        assert!(store.fetch("newer").await.unwrap().is_some());
    }
}
