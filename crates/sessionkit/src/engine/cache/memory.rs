//! `memory://[?max_entries=N]`: sessions in this process's memory, bounded (default 100 000
//! sessions); when full it drops expired sessions first, then those closest to expiry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Cache, CacheRead};
use crate::engine::store::{Capabilities, RecordStore, RecordWrite, ScanPage, StoredRecord};
use crate::engine::{Data, EngineError, Loaded, user_of};

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
    fn name(&self) -> &'static str {
        "cache"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn in_process(&self) -> bool {
        true
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        // The clock is read before the lock, so other requests do not wait on it.
        let now = OffsetDateTime::now_utc();
        Ok(self.records().get(id).and_then(|r| r.live(now)))
    }

    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        let RecordWrite {
            data, expires, now, ..
        } = write;
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
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        let RecordWrite { data, expires, .. } = write;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::JsonText;
    use time::Duration;

    fn data(n: i64) -> Arc<Data> {
        Arc::new(Data::from_iter([("n", JsonText::from(n))]))
    }

    #[tokio::test]
    async fn a_full_memory_store_drops_expired_then_soonest_expiring_sessions() {
        let store = MemoryStore::new(32);
        let now = OffsetDateTime::now_utc();
        store
            .insert(
                "expired",
                RecordWrite::new(&data(0), now - Duration::seconds(1), now),
            )
            .await
            .unwrap();
        for i in 0..31 {
            let expires = now + Duration::seconds(100 + i);
            store
                .insert(&format!("s{i}"), RecordWrite::new(&data(i), expires, now))
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 32);
        store
            .insert(
                "new",
                RecordWrite::new(&data(99), now + Duration::hours(1), now),
            )
            .await
            .unwrap();
        assert_eq!(store.len(), 32, "only the expired session made room");
        assert!(store.fetch("expired").await.unwrap().is_none());
        store
            .insert(
                "newer",
                RecordWrite::new(&data(100), now + Duration::hours(1), now),
            )
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
