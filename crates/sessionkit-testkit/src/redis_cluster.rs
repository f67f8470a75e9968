//! A private Redis Cluster: 3 masters and 3 replicas on spare ports under a temporary
//! directory, made with `redis-cli --cluster create … --cluster-replicas 1`.

use std::io;
use std::sync::OnceLock;

use crate::daemon::Daemon;
use crate::redis_node::{self, Reach, redis_cli, redis_cli_setup, wait_until};
use crate::{TempDir, spare_port};

/// How long a node may miss before the cluster fails it over (`cluster-node-timeout`, ms):
/// short, so a failover test is quick, but not so short that a busy machine fails nodes.
pub const NODE_TIMEOUT_MS: u64 = 2000;

/// Masters, each with one replica.
const MASTERS: usize = 3;

/// A Redis Cluster of 3 masters and 3 replicas. Dropping it stops every node and removes its
/// directory.
pub struct RedisCluster {
    nodes: Vec<Daemon>,
    // Dropped after the nodes.
    dir: TempDir,
}

impl RedisCluster {
    /// Starts 6 nodes, joins them into a cluster with one replica per master and waits until
    /// every node says the cluster is ok and every replica is in sync.
    pub fn start() -> io::Result<RedisCluster> {
        let dir = TempDir::new("redis-cluster")?;
        let mut nodes = Vec::with_capacity(2 * MASTERS);
        for _ in 0..2 * MASTERS {
            let port = spare_port()?;
            // The bus port explicitly: PORT + 10000, its default, may be past 65535.
            let bus_port = spare_port()?;
            let extra = [
                "--cluster-port",
                &bus_port.to_string(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                &NODE_TIMEOUT_MS.to_string(),
            ];
            let extra = extra.iter().map(|arg| arg.to_string()).collect();
            nodes.push(redis_node::start(
                &dir.path().join(port.to_string()),
                port,
                extra,
                &Reach::default(),
            )?);
        }
        let mut create = vec!["--cluster".to_owned(), "create".to_owned()];
        create.extend(
            nodes
                .iter()
                .map(|node| format!("127.0.0.1:{}", node.port())),
        );
        create.extend(["--cluster-replicas", "1", "--cluster-yes"].map(str::to_owned));
        redis_cli_setup(&create)?;
        let cluster = RedisCluster { nodes, dir };
        cluster.wait_until_healthy()?;
        Ok(cluster)
    }

    /// One cluster for every test of this process, started by the first to ask and stopped
    /// when the process exits. For tests that do not kill nodes; they use keys of their own.
    pub fn shared() -> &'static RedisCluster {
        static SHARED: OnceLock<RedisCluster> = OnceLock::new();
        SHARED.get_or_init(|| {
            let cluster = RedisCluster::start().expect("start a private Redis Cluster");
            let pids: Vec<u32> = cluster.nodes.iter().filter_map(Daemon::pid).collect();
            redis_node::stop_when_this_process_exits(&pids, cluster.dir.path())
                .expect("watch the test process");
            cluster
        })
    }

    /// `redis+cluster://127.0.0.1:P1,…` naming every node as a seed.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.ports().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The ports of every node still running.
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|node| node.pid().is_some())
            .map(Daemon::port)
    }

    /// The ports of the masters the cluster counts now (not failed), sorted.
    pub fn masters(&self) -> io::Result<Vec<u16>> {
        let mut last_error = io::Error::other("no node is running");
        for port in self.ports() {
            match redis_cli(port, &["cluster", "nodes"]) {
                Ok(nodes) => return Ok(masters_in(&nodes)),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// SIGKILL to the node on `port`: it dies at once, as in a crash.
    pub fn kill(&mut self, port: u16) -> io::Result<()> {
        redis_node::by_port(&mut self.nodes, port)?.kill()
    }

    /// Starts the node on `port` again (killed first if it still runs), as a supervisor would
    /// after a crash; with no data of its own, it rejoins as a replica of the master that
    /// replaced it.
    pub fn restart(&mut self, port: u16) -> io::Result<()> {
        redis_node::by_port(&mut self.nodes, port)?.restart()
    }

    /// Waits until every running node says `cluster_state:ok` and sees `MASTERS` masters, each
    /// with a replica whose link to it is up.
    pub fn wait_until_healthy(&self) -> io::Result<()> {
        wait_until("the cluster was not ok", || {
            self.ports().all(|port| {
                redis_cli(port, &["cluster", "info"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            }) && self.masters().is_ok_and(|masters| masters.len() == MASTERS)
                && self.replicas_in_sync()
        })
    }

    /// Whether every running replica's link to its master is up.
    fn replicas_in_sync(&self) -> bool {
        self.ports().all(|port| {
            redis_cli(port, &["info", "replication"]).is_ok_and(|info| {
                info.contains("role:master") || info.contains("master_link_status:up")
            })
        })
    }
}

/// The ports of the masters in `CLUSTER NODES` output that are not failed, sorted.
fn masters_in(nodes: &str) -> Vec<u16> {
    let mut masters: Vec<u16> = nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|flag| flag == "master") || flags.contains("fail") {
                return None;
            }
            let address = fields.get(1)?.split('@').next()?;
            address.rsplit_once(':')?.1.parse().ok()
        })
        .collect();
    masters.sort_unstable();
    masters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_are_read_from_cluster_nodes() {
        let nodes = "\
a 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
b 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922
c 127.0.0.1:7003@17003 master,fail - 0 0 3 connected
d 127.0.0.1:7004@17004 slave a 0 0 1 connected
";
        assert_eq!(masters_in(nodes), [7001, 7002]);
    }
}
