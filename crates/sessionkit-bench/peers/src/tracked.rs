//! A store that remembers the ids of the sessions it created, so the server can delete them
//! from a shared Redis at exit (tower-sessions' Redis keys are bare ids, with no prefix to scan).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::Result;

/// `inner`, plus the ids it created (one entry per new session: not on the incr path).
#[derive(Debug, Clone)]
pub struct Tracked<S> {
    inner: S,
    created: Arc<Mutex<HashSet<Id>>>,
}

impl<S: SessionStore> Tracked<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            created: Arc::default(),
        }
    }

    /// Deletes every session this store created (deleting one already gone is a no-op).
    pub async fn delete_created(&self) -> Result<()> {
        let ids: Vec<Id> = self.created.lock().expect("not poisoned").drain().collect();
        for id in &ids {
            self.inner.delete(id).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for Tracked<S> {
    async fn create(&self, record: &mut Record) -> Result<()> {
        self.inner.create(record).await?;
        self.created.lock().expect("not poisoned").insert(record.id);
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.inner.save(record).await
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.inner.delete(id).await
    }
}
