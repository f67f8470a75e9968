//! The same suite on the store stripped to the five required operations: no locks, no listing
//! by user, no scan. The behaviours that need them check that the store says so clearly
//! (`EngineError::Unsupported`, `SESSION_LOCKING` refused at startup) instead of skipping.

use async_trait::async_trait;
use sessionkit::engine::{EngineError, Loaded, RecordStore, RecordWrite};
use sessionkit_btree_store::BTreeStore;

/// [`BTreeStore`] through the required operations alone.
#[derive(Default)]
struct FiveOperations(BTreeStore);

#[async_trait]
impl RecordStore for FiveOperations {
    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        self.0.fetch(id).await
    }

    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        self.0.insert(id, write).await
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        self.0.replace(id, version, write).await
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.0.remove(id).await
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        self.0.purge_expired(batch).await
    }
}

async fn make_store() -> FiveOperations {
    FiveOperations::default()
}

sessionkit::testing::conformance!(make_store);
