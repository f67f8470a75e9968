//! Invalidation from Redis: client-side caching (`CLIENT TRACKING`) on the store's own
//! RESP3 connection. Redis remembers the keys this connection reads and pushes the name of
//! each one another client then changes, deletes or expires; the entry of that session is
//! dropped. `NOLOOP` leaves out the connection's own writes — the cache already holds what
//! it wrote — and the store's write scripts read the key they wrote, so it stays tracked.
//!
//! Tracking is on the store's connection rather than a connection of its own because only
//! there does Redis know which writes are this instance's: a broadcast (`BCAST`) channel
//! would report every own write back and empty the entry the write had just refreshed.
//! After a reconnect the new connection tracks nothing, so the cache is emptied and
//! bypassed until tracking is asked for again.

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{Listener, Shared};

/// How often a channel with nothing pushed checks whether its cache is still there.
const DROPPED_CHECK: Duration = Duration::from_secs(1);

/// The Redis store's connection, what Redis pushes on it, and the store's key prefix.
#[derive(Clone)]
pub(crate) struct RedisChannel {
    connection: ConnectionManager,
    pushes: Arc<Mutex<UnboundedReceiver<PushInfo>>>,
    prefix: String,
}

impl std::fmt::Debug for RedisChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChannel")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisChannel {
    /// The channel of a store whose keys start with `prefix`, connected by `connection`,
    /// whose pushes arrive on `pushes`.
    pub(crate) fn new(
        connection: ConnectionManager,
        pushes: UnboundedReceiver<PushInfo>,
        prefix: String,
    ) -> Self {
        RedisChannel {
            connection,
            pushes: Arc::new(Mutex::new(pushes)),
            prefix,
        }
    }
}

impl Listener for RedisChannel {
    type Connection = OwnedMutexGuard<UnboundedReceiver<PushInfo>>;
    const STORE: &'static str = "redis";

    /// Asks for tracking on the connection as it is now (after a reconnect, a new one).
    async fn connect(&self) -> Result<Self::Connection, String> {
        let mut pushes = self.pushes.clone().lock_owned().await;
        // What came before this call is about a connection that is gone or untracked.
        while pushes.try_recv().is_ok() {}
        redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("NOLOOP")
            .exec_async(&mut self.connection.clone())
            .await
            .map_err(|error| error.to_string())?;
        Ok(pushes)
    }

    async fn forward(&self, mut pushes: Self::Connection, shared: &Weak<Shared>) -> String {
        loop {
            // The wait is bounded so that a dropped cache lets go of the store's connection
            // (held here for `connect`) even when Redis pushes nothing.
            let push = tokio::time::timeout(DROPPED_CHECK, pushes.recv()).await;
            let Some(shared) = shared.upgrade() else {
                return "the cache was dropped".to_owned();
            };
            let push = match push {
                Ok(Some(push)) => push,
                Ok(None) => return "the Redis connection was closed".to_owned(),
                Err(_elapsed) => continue,
            };
            match push.kind {
                PushKind::Invalidate => self.invalidate(&shared, &push.data),
                PushKind::Disconnection => return "the Redis connection was lost".to_owned(),
                _ => {}
            }
        }
    }
}

impl RedisChannel {
    /// One invalidation message: an array of key names, or null when Redis was flushed.
    fn invalidate(&self, shared: &Shared, data: &[Value]) {
        match data.first() {
            Some(Value::Array(keys)) => {
                for key in keys {
                    if let Value::BulkString(name) = key
                        && let Some(id) = name.strip_prefix(self.prefix.as_bytes())
                    {
                        // A lock or user-index key names no entry: removing it is a no-op.
                        shared.invalidate(&String::from_utf8_lossy(id));
                    }
                }
            }
            _ => shared.invalidate_all(),
        }
    }
}
