//! A private Redis Sentinel setup: a master, its replica and 3 sentinels watching them, on
//! spare ports under a temporary directory; plain, or secured (TLS everywhere, a password on
//! the data nodes).

use std::io;
use std::sync::OnceLock;

use crate::daemon::Daemon;
use crate::redis_node::{self, Reach, wait_until};
use crate::{TempDir, TestCa, spare_port};

/// The name the sentinels know the master by.
pub const MASTER_NAME: &str = "sessionkit";

/// How long the master may be silent before a sentinel thinks it down
/// (`down-after-milliseconds`).
pub const DOWN_AFTER_MS: u64 = 2000;

/// A master, a replica and 3 sentinels (quorum 2). Dropping it stops them all and removes
/// the directory.
pub struct RedisSentinel {
    /// The two data nodes: the first started as master, the second as its replica.
    servers: Vec<Daemon>,
    sentinels: Vec<Daemon>,
    /// How the data nodes are reached, and the sentinels (never with a password).
    data_reach: Reach,
    sentinel_reach: Reach,
    // Dropped after the processes.
    dir: TempDir,
}

impl RedisSentinel {
    /// Starts the master, its replica and the sentinels, and waits until the replica is in
    /// sync and every sentinel knows the replica and the other two sentinels.
    pub fn start() -> io::Result<RedisSentinel> {
        Self::start_with(
            TempDir::new("redis-sentinel")?,
            Reach::default(),
            Reach::default(),
        )
    }

    /// Like [`RedisSentinel::start`], secured: every node speaks only TLS, presenting `ca`'s
    /// server certificate, and the data nodes require `password` (which the sentinels know).
    pub fn start_secured(ca: &TestCa, password: &str) -> io::Result<RedisSentinel> {
        let dir = TempDir::new("redis-sentinel-secured")?;
        let tls = Some(ca.server_files_in(dir.path())?);
        let data_reach = Reach {
            tls: tls.clone(),
            password: Some(password.to_owned()),
        };
        let sentinel_reach = Reach {
            tls,
            password: None,
        };
        Self::start_with(dir, data_reach, sentinel_reach)
    }

    fn start_with(dir: TempDir, data_reach: Reach, sentinel_reach: Reach) -> io::Result<Self> {
        let master_port = spare_port()?;
        let master = redis_node::start(
            &dir.path().join("master"),
            master_port,
            Vec::new(),
            &data_reach,
        )?;
        let replica_port = spare_port()?;
        let replica = redis_node::start(
            &dir.path().join("replica"),
            replica_port,
            vec![
                "--replicaof".into(),
                "127.0.0.1".into(),
                master_port.to_string(),
            ],
            &data_reach,
        )?;
        let auth_pass = match &data_reach.password {
            Some(password) => format!("sentinel auth-pass {MASTER_NAME} {password}\n"),
            None => String::new(),
        };
        let mut sentinels = Vec::with_capacity(3);
        for n in 0..3 {
            let port = spare_port()?;
            let sentinel_dir = dir.path().join(format!("sentinel{n}"));
            std::fs::create_dir_all(&sentinel_dir)?;
            let config = sentinel_dir.join("sentinel.conf");
            std::fs::write(
                &config,
                format!(
                    "sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n\
                     sentinel failover-timeout {MASTER_NAME} 10000\n\
                     sentinel parallel-syncs {MASTER_NAME} 1\n\
                     {auth_pass}"
                ),
            )?;
            let extra = vec![config.display().to_string(), "--sentinel".into()];
            sentinels.push(redis_node::start(
                &sentinel_dir,
                port,
                extra,
                &sentinel_reach,
            )?);
        }
        let setup = RedisSentinel {
            servers: vec![master, replica],
            sentinels,
            data_reach,
            sentinel_reach,
            dir,
        };
        setup.wait_until_healthy()?;
        Ok(setup)
    }

    /// One setup for every test of this process, started by the first to ask and stopped
    /// when the process exits. For tests that do not kill the master.
    pub fn shared() -> &'static RedisSentinel {
        static SHARED: OnceLock<RedisSentinel> = OnceLock::new();
        SHARED.get_or_init(|| {
            let setup = RedisSentinel::start().expect("start a private Redis Sentinel setup");
            let pids: Vec<u32> = (setup.servers.iter().chain(&setup.sentinels))
                .filter_map(Daemon::pid)
                .collect();
            redis_node::stop_when_this_process_exits(&pids, setup.dir.path())
                .expect("watch the test process");
            setup
        })
    }

    /// `redis+sentinel://127.0.0.1:S1,…/MASTER_NAME`; secured,
    /// `rediss+sentinel://:PASSWORD@127.0.0.1:S1,…/MASTER_NAME`.
    pub fn url(&self) -> String {
        let sentinels: Vec<String> = self
            .sentinels
            .iter()
            .map(|sentinel| format!("127.0.0.1:{}", sentinel.port()))
            .collect();
        let scheme = match self.data_reach.tls {
            Some(_) => "rediss+sentinel",
            None => "redis+sentinel",
        };
        let credentials = match &self.data_reach.password {
            Some(password) => format!(":{password}@"),
            None => String::new(),
        };
        format!(
            "{scheme}://{credentials}{}/{MASTER_NAME}",
            sentinels.join(",")
        )
    }

    /// The port of the master the sentinels name now.
    pub fn master(&self) -> io::Result<u16> {
        let mut last_error = io::Error::other("no sentinel is running");
        for sentinel in &self.sentinels {
            let answer = self.sentinel_reach.cli(
                sentinel.port(),
                &["sentinel", "get-master-addr-by-name", MASTER_NAME],
            );
            match answer {
                Ok(answer) => {
                    return answer
                        .lines()
                        .nth(1)
                        .and_then(|port| port.trim().parse().ok())
                        .ok_or_else(|| io::Error::other(format!("no master in {answer:?}")));
                }
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// SIGKILL to the data node on `port`: it dies at once, as in a crash.
    pub fn kill(&mut self, port: u16) -> io::Result<()> {
        redis_node::by_port(&mut self.servers, port)?.kill()
    }

    /// Starts the data node on `port` again (killed first if it still runs), as a supervisor would
    /// after a crash; with no data of its own, it rejoins as a replica of the master that
    /// replaced it.
    pub fn restart(&mut self, port: u16) -> io::Result<()> {
        redis_node::by_port(&mut self.servers, port)?.restart()
    }

    /// Waits until the replica's link to the master is up and each sentinel sees one
    /// replica and two other sentinels.
    fn wait_until_healthy(&self) -> io::Result<()> {
        let replica = self.servers[1].port();
        wait_until("the Sentinel setup did not settle", || {
            let in_sync = (self.data_reach.cli(replica, &["info", "replication"]))
                .is_ok_and(|info| info.contains("master_link_status:up"));
            in_sync
                && self.sentinels.iter().all(|sentinel| {
                    (self
                        .sentinel_reach
                        .cli(sentinel.port(), &["sentinel", "master", MASTER_NAME]))
                    .is_ok_and(|fields| {
                        field(&fields, "num-slaves") == Some("1")
                            && field(&fields, "num-other-sentinels") == Some("2")
                    })
                })
        })
    }
}

/// The value after `name` in redis-cli's one-item-per-line answer to `SENTINEL MASTER`.
fn field<'a>(fields: &'a str, name: &str) -> Option<&'a str> {
    let mut lines = fields.lines().map(str::trim);
    lines.find(|line| *line == name)?;
    lines.next()
}
