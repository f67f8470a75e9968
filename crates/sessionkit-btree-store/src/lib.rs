//! A store written the way another crate would write one — DynamoDB, MongoDB, memcached — with
//! nothing but sessionkit's public API: a `BTreeMap` behind a mutex. Its `tests/conformance.rs`
//! is one line, `sessionkit::testing::conformance!(make_store)`, which runs the behaviours the
//! built-in server engines pass: the proof that [`RecordStore`] is a contract someone else can
//! implement and test, not a list of what the built-in stores happen to do.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use sessionkit::engine::{
    Capabilities, EngineError, Loaded, RecordStore, RecordWrite, ScanPage, StoredRecord,
    lease_window, user_of,
};
use time::OffsetDateTime;

/// A record as the store keeps it.
struct Entry {
    record: Loaded,
    expires: OffsetDateTime,
}

impl Entry {
    fn live(&self, now: OffsetDateTime) -> Option<&Loaded> {
        (self.expires > now).then_some(&self.record)
    }

    fn listed(&self, id: &str, now: OffsetDateTime) -> Option<StoredRecord> {
        Some(StoredRecord {
            id: id.to_owned(),
            record: self.live(now)?.clone(),
            expires: self.expires,
        })
    }
}

/// Records and locks in ordered maps; a lock is `(token, until)` in wall-clock milliseconds,
/// as a store shared between processes would keep it.
#[derive(Default)]
pub struct BTreeStore {
    records: Mutex<BTreeMap<String, Entry>>,
    locks: Mutex<BTreeMap<String, (String, i64)>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl RecordStore for BTreeStore {
    fn name(&self) -> &'static str {
        "btree"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_locking().with_by_user().with_scan()
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        let now = OffsetDateTime::now_utc();
        Ok(locked(&self.records)
            .get(id)
            .and_then(|entry| entry.live(now).cloned()))
    }

    async fn insert(&self, id: &str, new: RecordWrite<'_>) -> Result<bool, EngineError> {
        let mut records = locked(&self.records);
        if records.get(id).is_some_and(|entry| entry.expires > new.now) {
            return Ok(false);
        }
        let record = Loaded {
            data: new.data.clone(),
            version: 1,
        };
        records.insert(
            id.to_owned(),
            Entry {
                record,
                expires: new.expires,
            },
        );
        Ok(true)
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        new: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        let mut records = locked(&self.records);
        match records.get_mut(id) {
            Some(entry) if entry.record.version == version => {
                entry.record = Loaded {
                    data: new.data.clone(),
                    version: version + 1,
                };
                entry.expires = new.expires;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        locked(&self.records).remove(id);
        Ok(())
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        let now = OffsetDateTime::now_utc();
        let mut records = locked(&self.records);
        let expired: Vec<String> = records
            .iter()
            .filter(|(_, entry)| entry.expires <= now)
            .map(|(id, _)| id.clone())
            .take(batch)
            .collect();
        for id in &expired {
            records.remove(id);
        }
        Ok(expired.len() as u64)
    }

    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        let (now, until) = lease_window(lease);
        let mut locks = locked(&self.locks);
        if locks
            .get(id)
            .is_some_and(|(_, held_until)| *held_until > now)
        {
            return Ok(false);
        }
        locks.insert(id.to_owned(), (token.to_owned(), until));
        Ok(true)
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        let mut locks = locked(&self.locks);
        if locks.get(id).is_some_and(|(holder, _)| holder == token) {
            locks.remove(id);
        }
        Ok(())
    }

    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        let now = OffsetDateTime::now_utc();
        Ok(locked(&self.records)
            .iter()
            .filter(|(_, entry)| user_of(&entry.record.data).as_deref() == Some(user_id))
            .filter_map(|(id, entry)| entry.listed(id, now))
            .collect())
    }

    /// Pages in address order; the cursor is the last address of the page.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        let now = OffsetDateTime::now_utc();
        let records = locked(&self.records);
        let after = cursor.unwrap_or_default();
        let page: Vec<StoredRecord> = records
            .range::<str, _>((
                std::ops::Bound::Excluded(after.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .filter_map(|(id, entry)| entry.listed(id, now))
            .take(limit)
            .collect();
        let next = (page.len() == limit)
            .then(|| page.last().map(|stored| stored.id.clone()))
            .flatten();
        Ok(ScanPage {
            records: page,
            unreadable: 0,
            next,
        })
    }
}
