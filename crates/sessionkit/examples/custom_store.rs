//! Sessions in a store of your own: implement `RecordStore`'s five operations and hand the
//! store to `Sessions::builder(…).store(…)`. `ServerEngine` does the rest (keys, hashing them
//! at rest, collision-free creation, merging concurrent saves, no resurrection after logout).
//!
//! ```sh
//! cargo run -p sessionkit --example custom_store
//! curl -c jar -b jar http://127.0.0.1:3000/   # 1, then 2, 3…
//! ```
//!
//! A real store (DynamoDB, MongoDB, memcached…) makes the same calls over the network. Test it
//! with the suite the built-in engines pass: `sessionkit::testing::conformance!(make_store)`
//! with the `testing` feature (see `crates/sessionkit-btree-store`). Locks and per-user
//! listing are optional (`RecordStore::capabilities`); this store has neither.

mod support;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use axum::{Router, routing::get};
use sessionkit::Sessions;
use sessionkit::engine::{EngineError, Loaded, RecordStore, RecordWrite};
use time::OffsetDateTime;

/// Records by address (the SHA-256 of the session key), with their expiry.
#[derive(Default)]
struct HashMapStore {
    records: Mutex<HashMap<String, (Loaded, OffsetDateTime)>>,
}

impl HashMapStore {
    /// Runs `change` on the map; a panic elsewhere leaves no half-written record, so a poisoned
    /// lock is still usable.
    fn with<T>(
        &self,
        change: impl FnOnce(&mut HashMap<String, (Loaded, OffsetDateTime)>) -> T,
    ) -> T {
        change(&mut self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl RecordStore for HashMapStore {
    fn name(&self) -> &'static str {
        "hashmap"
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        let now = OffsetDateTime::now_utc();
        Ok(self.with(|records| {
            let (record, expires) = records.get(id)?;
            (*expires > now).then(|| record.clone())
        }))
    }

    /// Only if no live record has this address: the engine relies on it to never hand two
    /// visitors one key.
    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        Ok(self.with(|records| {
            if records
                .get(id)
                .is_some_and(|(_, expires)| *expires > write.now)
            {
                return false;
            }
            let record = Loaded {
                data: write.data.clone(),
                version: 1,
            };
            records.insert(id.to_owned(), (record, write.expires));
            true
        }))
    }

    /// Only at the version the engine read: a concurrent save makes it re-read and merge.
    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        Ok(self.with(|records| match records.get_mut(id) {
            Some((record, expires)) if record.version == version => {
                *record = Loaded {
                    data: write.data.clone(),
                    version: version + 1,
                };
                *expires = write.expires;
                true
            }
            _ => false,
        }))
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.with(|records| records.remove(id));
        Ok(())
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        let now = OffsetDateTime::now_utc();
        Ok(self.with(|records| {
            let expired: Vec<String> = records
                .iter()
                .filter(|(_, (_, expires))| *expires <= now)
                .map(|(id, _)| id.clone())
                .take(batch)
                .collect();
            expired.iter().for_each(|id| drop(records.remove(id)));
            expired.len() as u64
        }))
    }
}

async fn open() -> Result<Sessions, sessionkit::engine::OpenError> {
    Sessions::builder(support::secret_key())
        .store(HashMapStore::default())
        .open()
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions = open().await?;
    support::serve(
        Router::new()
            .route("/", get(support::count))
            .layer(sessions.layer()),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_in_the_custom_store() {
        let sessions = open().await.unwrap();
        assert_eq!(sessions.engine().name(), "hashmap");
        let app = Router::new()
            .route("/", get(support::count))
            .layer(sessions.layer());
        let mut browser = support::client::Client::new(app);
        assert_eq!(browser.get("/").await, "1");
        assert_eq!(browser.get("/").await, "2");
    }
}
