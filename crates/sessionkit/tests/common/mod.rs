//! What several test binaries share: the local Redis and cleaning up after it.

/// The Redis every test binary talks to (docs/DESIGN.md §9).
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A direct connection to the shared Redis, for looking at (or cleaning up) what an engine
/// stored.
pub async fn redis_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS_URL)
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is running (docs/DESIGN.md §9)")
}

/// Deletes every key under `prefix`: a test's private namespace.
pub async fn delete_redis_keys(prefix: &str) {
    let mut redis = redis_connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut redis)
        .await
        .expect("list the test keys");
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut redis)
            .await
            .expect("delete the test keys");
    }
}
