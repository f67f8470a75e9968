//! The near cache's records: a bounded map from address to record, least recently used out
//! first, each entry good for the TTL after it was fetched.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::engine::Loaded;

/// One cached record.
#[derive(Debug, Clone)]
struct Entry {
    record: Loaded,
    /// The record's own expiry, when the write that cached it set one: past it, the record
    /// is no session at all.
    expires: Option<OffsetDateTime>,
    /// When the store said so: past `ttl` after it, the entry is fetched again.
    fetched: Instant,
    /// Position in the recency order (`Entries::order`).
    tick: u64,
}

/// Records by address, at most `capacity` of them.
#[derive(Debug)]
pub(super) struct Entries {
    capacity: usize,
    ttl: Duration,
    map: HashMap<String, Entry>,
    /// Ticks of use, oldest first, to find the entry to evict without a scan.
    order: BTreeMap<u64, String>,
    next_tick: u64,
}

impl Entries {
    pub(super) fn new(capacity: usize, ttl: Duration) -> Self {
        Entries {
            capacity: capacity.max(1),
            ttl,
            map: HashMap::new(),
            order: BTreeMap::new(),
            next_tick: 0,
        }
    }

    /// The record at `id` if it is fresh (fetched within the TTL) and still live at `now`;
    /// a stale or expired entry is dropped.
    pub(super) fn get(&mut self, id: &str, now: OffsetDateTime) -> Option<Loaded> {
        let entry = self.map.get(id)?;
        if entry.fetched.elapsed() >= self.ttl || entry.expires.is_some_and(|e| e <= now) {
            self.remove(id);
            return None;
        }
        Some(self.touch(id)?.record.clone())
    }

    /// Keeps `record` at `id` as fetched now, evicting the least recently used when full.
    /// An entry already there is refreshed in place (every save through the cache does
    /// that), keeping its copies of the key.
    pub(super) fn put(&mut self, id: &str, record: Loaded, expires: Option<OffsetDateTime>) {
        if let Some(entry) = self.touch(id) {
            entry.record = record;
            entry.expires = expires;
            entry.fetched = Instant::now();
            return;
        }
        while self.map.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&oldest);
        }
        let tick = self.tick();
        self.order.insert(tick, id.to_owned());
        self.map.insert(
            id.to_owned(),
            Entry {
                record,
                expires,
                fetched: Instant::now(),
                tick,
            },
        );
    }

    /// Makes the entry at `id`, if there is one, the most recently used, and hands it out.
    fn touch(&mut self, id: &str) -> Option<&mut Entry> {
        let tick = self.tick();
        let entry = self.map.get_mut(id)?;
        if let Some(key) = self.order.remove(&entry.tick) {
            self.order.insert(tick, key);
        }
        entry.tick = tick;
        Some(entry)
    }

    pub(super) fn remove(&mut self, id: &str) {
        if let Some(entry) = self.map.remove(id) {
            self.order.remove(&entry.tick);
        }
    }

    #[cfg(any(feature = "postgres", feature = "redis"))]
    pub(super) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::Data;

    fn record(version: i64) -> Loaded {
        Loaded {
            data: Arc::new(Data::new()),
            version,
        }
    }

    fn later() -> Option<OffsetDateTime> {
        Some(OffsetDateTime::now_utc() + time::Duration::hours(1))
    }

    #[test]
    fn a_fresh_entry_is_served_with_its_version() {
        let mut entries = Entries::new(10, Duration::from_secs(60));
        entries.put("a", record(3), later());
        let now = OffsetDateTime::now_utc();
        assert_eq!(entries.get("a", now).map(|r| r.version), Some(3));
        assert!(entries.get("b", now).is_none());
    }

    #[test]
    fn the_least_recently_used_goes_first_when_full() {
        let mut entries = Entries::new(2, Duration::from_secs(60));
        let now = OffsetDateTime::now_utc();
        entries.put("a", record(1), later());
        entries.put("b", record(1), later());
        assert!(entries.get("a", now).is_some()); // a is now the more recent
        entries.put("c", record(1), later());
        assert_eq!(entries.len(), 2);
        assert!(entries.get("b", now).is_none());
        assert!(entries.get("a", now).is_some() && entries.get("c", now).is_some());
    }

    #[test]
    fn an_entry_older_than_the_ttl_is_fetched_again() {
        let mut entries = Entries::new(10, Duration::from_millis(20));
        entries.put("a", record(1), later());
        std::thread::sleep(Duration::from_millis(30));
        assert!(entries.get("a", OffsetDateTime::now_utc()).is_none());
        assert_eq!(entries.len(), 0);
    }

    #[test]
    fn an_expired_record_is_never_served() {
        let mut entries = Entries::new(10, Duration::from_secs(60));
        let now = OffsetDateTime::now_utc();
        entries.put("a", record(1), Some(now - time::Duration::seconds(1)));
        assert!(entries.get("a", now).is_none());
    }

    #[test]
    fn rewriting_an_entry_keeps_one_copy() {
        let mut entries = Entries::new(10, Duration::from_secs(60));
        entries.put("a", record(1), later());
        entries.put("a", record(2), later());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries.order.len(), 1);
        // Rewritten, it is the most recently used: a full cache evicts the other first.
        let mut full = Entries::new(2, Duration::from_secs(60));
        full.put("a", record(1), later());
        full.put("b", record(1), later());
        full.put("a", record(2), later());
        full.put("c", record(1), later());
        let now = OffsetDateTime::now_utc();
        assert!(full.get("b", now).is_none());
        assert_eq!(full.get("a", now).map(|r| r.version), Some(2));
        assert_eq!(entries.get("a", now).map(|r| r.version), Some(2));
        entries.remove("a");
        assert!(entries.get("a", now).is_none() && entries.order.is_empty());
    }
}
