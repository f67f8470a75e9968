//! One connection type for the three ways Redis is deployed ([`Topology`]), so the store's code
//! is the same on each: a single node, a Redis Cluster, and the master a Sentinel setup names.

use std::path::Path;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, PushInfo, RedisError, RedisFuture, Value};
use tokio::sync::mpsc::UnboundedSender;

use super::sentinel::{SentinelMaster, sentinel_client};
use super::tls::{client, with_ca_file};
use super::topology::Topology;

/// The connection the store talks through; cheap to clone (a handle on shared connections).
#[derive(Clone)]
pub(crate) enum Connection {
    /// A single node, reconnected by the manager after a restart.
    Single(ConnectionManager),
    /// A Redis Cluster: commands go to the master of their keys' slot.
    Cluster(ClusterConnection),
    /// The master a Sentinel setup names, followed through failovers.
    Sentinel(SentinelMaster),
}

impl Connection {
    /// Connects to `topology`, with `timeout` for connecting and for every answer. With
    /// `pushes`, a single node's connection speaks RESP3 and hands what Redis pushes on it
    /// (and the manager's `Disconnection` before each reconnect) to `pushes`: the near
    /// cache's invalidation channel is then this very connection.
    pub(crate) async fn open(
        topology: &Topology,
        ca_file: Option<&Path>,
        timeout: Duration,
        pushes: Option<UnboundedSender<PushInfo>>,
    ) -> Result<Connection, String> {
        let text = |error: RedisError| error.to_string();
        if pushes.is_some() && !matches!(topology, Topology::Single(_)) {
            // Settings validation refuses the near cache on these first.
            return Err("client-side caching needs a single Redis node".to_owned());
        }
        match topology {
            Topology::Single(url) => {
                let (client, config) = match pushes {
                    Some(pushes) => (
                        client(&resp3(url), ca_file)?,
                        manager_config(timeout).set_push_sender(pushes),
                    ),
                    None => (client(url, ca_file)?, manager_config(timeout)),
                };
                let manager = ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(text)?;
                Ok(Connection::Single(manager))
            }
            Topology::Cluster(nodes) => {
                #[cfg(feature = "tls")]
                if nodes.iter().any(|node| node.starts_with("rediss://")) {
                    super::tls::install_crypto_provider();
                }
                let builder = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(timeout)
                    .response_timeout(timeout);
                let client = with_ca_file(builder, ca_file)?.build().map_err(text)?;
                let connection = client.get_async_connection().await.map_err(text)?;
                Ok(Connection::Cluster(connection))
            }
            Topology::Sentinel {
                sentinels,
                master,
                db,
                tls,
                credentials,
            } => {
                let client = sentinel_client(sentinels, master, *db, *tls, credentials, ca_file)?;
                Ok(Connection::Sentinel(
                    SentinelMaster::open(client, manager_config(timeout))
                        .await
                        .map_err(text)?,
                ))
            }
        }
    }
}

impl Connection {
    /// One page of `SCAN … MATCH pattern COUNT limit` from `position`, and where the next
    /// page starts (`None` after the last). On a cluster the masters are scanned one after
    /// the other, in the order of their addresses: a failover between two pages may make a
    /// scan skip or repeat a node's keys, as `SCAN` itself may repeat keys.
    pub(crate) async fn scan(
        &mut self,
        position: ScanPosition,
        pattern: &str,
        limit: usize,
    ) -> Result<(Option<ScanPosition>, Vec<String>), RedisError> {
        let mut scan = redis::cmd("SCAN");
        scan.arg(position.cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(limit);
        let Connection::Cluster(cluster) = self else {
            let (next, keys): (u64, Vec<String>) = scan.query_async(self).await?;
            let next = (next != 0).then_some(ScanPosition {
                node: 0,
                cursor: next,
            });
            return Ok((next, keys));
        };
        let masters = cluster_masters(cluster).await?;
        let Some((host, port)) = masters.get(position.node).cloned() else {
            return Ok((None, Vec::new()));
        };
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
        let answer = cluster.route_command(scan, routing).await?;
        let (next, keys): (u64, Vec<String>) = redis::from_redis_value(answer)?;
        let next = if next != 0 {
            Some(ScanPosition {
                cursor: next,
                ..position
            })
        } else {
            (position.node + 1 < masters.len()).then_some(ScanPosition {
                node: position.node + 1,
                cursor: 0,
            })
        };
        Ok((next, keys))
    }
}

/// The cluster's masters that are not failed, by address, sorted (`CLUSTER NODES`).
async fn cluster_masters(
    cluster: &mut ClusterConnection,
) -> Result<Vec<(String, u16)>, RedisError> {
    let nodes = cluster
        .route_command(
            redis::cmd("CLUSTER").arg("NODES").clone(),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary),
        )
        .await?;
    let nodes: String = redis::from_redis_value(nodes)?;
    let mut masters: Vec<(String, u16)> = nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|flag| flag == "master") || flags.contains("fail") {
                return None;
            }
            let address = fields.get(1)?.split('@').next()?;
            let (host, port) = address.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect();
    masters.sort();
    Ok(masters)
}

/// Where a scan is: the master's place in the sorted list of masters (always 0 off a
/// cluster) and the `SCAN` cursor on it. Written `CURSOR` on node 0 (what a single node's
/// cursor always was), else `NODE:CURSOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ScanPosition {
    node: usize,
    cursor: u64,
}

impl ScanPosition {
    /// The position a page's `next` names, or the start.
    pub(crate) fn parse(text: Option<&str>) -> Result<ScanPosition, std::io::Error> {
        let Some(text) = text else {
            return Ok(ScanPosition::default());
        };
        let bad = || std::io::Error::other(format!("{text:?} is not a Redis SCAN cursor"));
        let (node, cursor) = match text.split_once(':') {
            Some((node, cursor)) => (node.parse().map_err(|_| bad())?, cursor),
            None => (0, text),
        };
        Ok(ScanPosition {
            node,
            cursor: cursor.parse().map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for ScanPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.node {
            0 => write!(f, "{}", self.cursor),
            node => write!(f, "{node}:{}", self.cursor),
        }
    }
}

/// `url` asking for RESP3, which carries pushes on the connection itself.
fn resp3(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}protocol=resp3")
}

/// Timeouts of `timeout`, one retry, and reconnects no further apart than half a second.
fn manager_config(timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500))
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
            Connection::Sentinel(master) => master.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Connection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Connection::Sentinel(master) => master.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
            Connection::Sentinel(master) => master.current().0.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_asks_for_resp3() {
        assert_eq!(resp3("redis://h:6379/0"), "redis://h:6379/0?protocol=resp3");
        assert_eq!(resp3("rediss://h/0?x=1"), "rediss://h/0?x=1&protocol=resp3");
    }

    #[test]
    fn scan_positions_read_back() {
        for text in ["17", "2:0", "1:99"] {
            let position = ScanPosition::parse(Some(text)).unwrap();
            assert_eq!(position.to_string(), text);
        }
        assert_eq!(ScanPosition::parse(None).unwrap(), ScanPosition::default());
        assert!(ScanPosition::parse(Some("x")).is_err());
    }
}
