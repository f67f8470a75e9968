#![allow(dead_code)] // Each test binary uses what it needs.

//! The private Redis Cluster and Sentinel setups of the testkit, as the tests of the Redis
//! engine on them see them: the URL to configure and a connection to look at what the engine
//! stored.

use redis::aio::ConnectionLike;
use redis::cluster::ClusterClient;
use sessionkit_testkit::{RedisCluster, RedisSentinel};

/// A Redis deployment a test stores sessions in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The shared cluster of this test process (3 masters, 3 replicas).
    Cluster,
    /// The shared Sentinel setup of this test process (a master, a replica, 3 sentinels).
    Sentinel,
}

impl Setup {
    /// `SESSION_CACHE_URL` for it; starts it for the first test that asks.
    pub fn url(self) -> String {
        match self {
            Setup::Cluster => RedisCluster::shared().url(),
            Setup::Sentinel => RedisSentinel::shared().url(),
        }
    }

    /// Which setup `url` is, if one of these.
    pub fn of(url: &str) -> Option<Setup> {
        if url.starts_with("redis+cluster://") {
            Some(Setup::Cluster)
        } else if url.starts_with("redis+sentinel://") {
            Some(Setup::Sentinel)
        } else {
            None
        }
    }

    /// Every key matching `pattern` (`KEYS`, on every master of the cluster) with its TTL.
    pub async fn keys_with_ttl(self, pattern: &str) -> Vec<(String, i64)> {
        match self {
            Setup::Cluster => {
                let cluster = RedisCluster::shared();
                let nodes: Vec<String> = cluster
                    .ports()
                    .map(|port| format!("redis://127.0.0.1:{port}"))
                    .collect();
                let mut connection = ClusterClient::new(nodes)
                    .expect("cluster nodes")
                    .get_async_connection()
                    .await
                    .expect("reach the cluster");
                keys_with_ttl(&mut connection, pattern).await
            }
            Setup::Sentinel => {
                let master = RedisSentinel::shared().master().expect("the master's port");
                let mut connection = redis::Client::open(format!("redis://127.0.0.1:{master}"))
                    .expect("a Redis URL")
                    .get_multiplexed_async_connection()
                    .await
                    .expect("reach the master");
                keys_with_ttl(&mut connection, pattern).await
            }
        }
    }
}

/// Every key matching `pattern` on `connection`, with its TTL.
pub async fn keys_with_ttl(
    connection: &mut impl ConnectionLike,
    pattern: &str,
) -> Vec<(String, i64)> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(connection)
        .await
        .expect("KEYS");
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let ttl: i64 = redis::cmd("TTL")
            .arg(&key)
            .query_async(connection)
            .await
            .expect("TTL");
        found.push((key, ttl));
    }
    found
}
