//! Invalidation from Redis: client-side caching in broadcast mode. A dedicated RESP3
//! connection asks `CLIENT TRACKING on BCAST PREFIX <prefix>`, and Redis then pushes the name
//! of every key under the prefix that any client changes, deletes or expires; the entry of
//! that session is dropped. Losing the connection empties and bypasses the cache until a new
//! connection tracks again.

use std::path::PathBuf;
use std::sync::Weak;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::{Listener, Shared};

/// Where to listen: the cache's URL, key prefix and CA file.
#[derive(Debug, Clone)]
pub(crate) struct RedisChannel {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) ca_file: Option<PathBuf>,
}

impl Listener for RedisChannel {
    type Connection = (MultiplexedConnection, UnboundedReceiver<PushInfo>);
    const STORE: &'static str = "redis";

    /// A connection that tracks the prefix, and the pushes it receives.
    async fn connect(&self) -> Result<Self::Connection, String> {
        self.track().await
    }

    async fn forward(
        &self,
        (connection, pushes): Self::Connection,
        shared: &Weak<Shared>,
    ) -> String {
        let why = self.forward_pushes(shared, pushes).await;
        drop(connection);
        why.to_owned()
    }
}

impl RedisChannel {
    async fn track(&self) -> Result<(MultiplexedConnection, UnboundedReceiver<PushInfo>), String> {
        let client =
            crate::engine::cache::redis_client(&resp3(&self.url), self.ca_file.as_deref())?;
        let (sender, pushes) = unbounded_channel();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_push_sender(sender);
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|error| error.to_string())?;
        redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("BCAST")
            .arg("PREFIX")
            .arg(&self.prefix)
            .exec_async(&mut connection)
            .await
            .map_err(|error| error.to_string())?;
        Ok((connection, pushes))
    }

    /// Drops the entries Redis names until the connection ends; says why it ended.
    async fn forward_pushes(
        &self,
        shared: &Weak<Shared>,
        mut pushes: UnboundedReceiver<PushInfo>,
    ) -> &'static str {
        while let Some(push) = pushes.recv().await {
            let Some(shared) = shared.upgrade() else {
                return "the cache was dropped";
            };
            match push.kind {
                PushKind::Invalidate => self.invalidate(&shared, &push.data),
                PushKind::Disconnection => return "the Redis connection was lost",
                _ => {}
            }
        }
        "the Redis connection was closed"
    }

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

/// `url` asking for RESP3, which carries the pushes on the connection itself.
fn resp3(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}protocol=resp3")
}

#[cfg(test)]
mod tests {
    use super::resp3;

    #[test]
    fn the_url_asks_for_resp3() {
        assert_eq!(resp3("redis://h:6379/0"), "redis://h:6379/0?protocol=resp3");
        assert_eq!(resp3("rediss://h/0?x=1"), "rediss://h/0?x=1&protocol=resp3");
    }
}
