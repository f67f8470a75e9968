//! One connection type for the three ways Redis is deployed, so the store's code is the same
//! on each: a single node (`redis://`, `rediss://`, `redis+unix://`), a Redis Cluster
//! (`redis+cluster://h1:p1,h2:p2,…`, `rediss+cluster://` for TLS: seed nodes, the topology
//! is discovered from them) and a Redis Sentinel setup
//! (`redis+sentinel://[[user]:password@]s1:p1,s2:p2,…/mastername[/db]`, `rediss+sentinel://`
//! for TLS to the sentinels and the data nodes alike: the master is asked of the sentinels, and
//! asked again after it fails, so a failover needs no restart; the credentials are the data
//! nodes', as in Lettuce's `redis-sentinel://` URLs).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Cmd, ConnectionAddr, Pipeline, PushInfo, RedisError, RedisFuture, Value};
use tokio::sync::mpsc::UnboundedSender;

/// Where `SESSION_CACHE_URL` says Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Topology {
    /// One server: the URL as redis reads it.
    Single(String),
    /// A Redis Cluster's seed nodes, as `redis://` (or `rediss://`) URLs.
    Cluster(Vec<String>),
    /// Sentinels (`host:port`), the master's name and the database number.
    Sentinel {
        sentinels: Vec<(String, u16)>,
        master: String,
        db: i64,
        /// `rediss+sentinel://`: TLS to the sentinels and to the nodes they name.
        tls: bool,
        /// Who the data nodes know the application as (the sentinels are asked anonymously).
        credentials: Credentials,
    },
}

/// A user name and password from a URL, percent-decoded as redis reads them in `redis://`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Credentials {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

impl Credentials {
    /// Reads `user:password@` (or `:password@`, `user@`, or nothing).
    fn parse(text: &str) -> Result<Credentials, String> {
        let decode = |part: &str| -> Result<Option<String>, String> {
            let decoded = percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map_err(|_| "has credentials that are not UTF-8 once percent-decoded")?;
            Ok((!decoded.is_empty()).then(|| decoded.into_owned()))
        };
        let Some(userinfo) = text.strip_suffix('@') else {
            return Ok(Credentials::default());
        };
        let (username, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        Ok(Credentials {
            username: decode(username)?,
            password: decode(password)?,
        })
    }
}

impl Topology {
    /// Reads `url`; the error says what is wrong with it (the caller names the setting).
    pub(crate) fn parse(url: &str) -> Result<Topology, String> {
        if let Some((scheme, rest)) = url
            .strip_prefix("redis+cluster://")
            .map(|rest| ("redis", rest))
            .or_else(|| {
                url.strip_prefix("rediss+cluster://")
                    .map(|rest| ("rediss", rest))
            })
        {
            let (credentials, hosts) = split_credentials(rest.trim_end_matches('/'));
            let nodes = host_list(hosts)?
                .into_iter()
                .map(|(host, port)| format!("{scheme}://{credentials}{host}:{port}"))
                .collect();
            return Ok(Topology::Cluster(nodes));
        }
        if let Some((tls, rest)) = url
            .strip_prefix("redis+sentinel://")
            .map(|rest| (false, rest))
            .or_else(|| {
                url.strip_prefix("rediss+sentinel://")
                    .map(|rest| (true, rest))
            })
        {
            let (hosts, path) = rest
                .split_once('/')
                .ok_or("names no master: use redis+sentinel://HOST:PORT,…/MASTERNAME[/DB]")?;
            let (credentials, hosts) = split_credentials(hosts);
            let (master, db) = match path.split_once('/') {
                Some((master, db)) => (
                    master,
                    db.parse()
                        .map_err(|_| format!("{db:?} is not a database number"))?,
                ),
                None => (path, 0),
            };
            if master.is_empty() {
                return Err("names no master: use redis+sentinel://HOST:PORT,…/MASTERNAME".into());
            }
            return Ok(Topology::Sentinel {
                sentinels: host_list(hosts)?,
                master: master.to_owned(),
                db,
                tls,
                credentials: Credentials::parse(credentials)?,
            });
        }
        Ok(Topology::Single(url.to_owned()))
    }

    /// Whether keys must be laid out in hash slots (a cluster).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Topology::Cluster(_))
    }
}

/// `user:password@` (kept, with its `@`) and the rest.
fn split_credentials(rest: &str) -> (&str, &str) {
    match rest.rfind('@') {
        Some(at) => rest.split_at(at + 1),
        None => ("", rest),
    }
}

/// `h1:p1,h2:p2,…`: at least one host, each with its port.
fn host_list(hosts: &str) -> Result<Vec<(String, u16)>, String> {
    let list: Result<Vec<_>, String> = hosts
        .split(',')
        .map(|node| {
            let (host, port) = node
                .rsplit_once(':')
                .ok_or_else(|| format!("{node:?} is not HOST:PORT"))?;
            let port = port
                .parse()
                .map_err(|_| format!("{node:?} has no valid port"))?;
            if host.is_empty() {
                return Err(format!("{node:?} has no host"));
            }
            Ok((host.to_owned(), port))
        })
        .collect();
    list
}

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
                    install_crypto_provider();
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

/// The client that asks `sentinels` for `master`, and connects to it (over TLS with `tls`,
/// trusting only the CAs of `ca_file` when one is given) as `credentials` say.
fn sentinel_client(
    sentinels: &[(String, u16)],
    master: &str,
    db: i64,
    tls: bool,
    credentials: &Credentials,
    ca_file: Option<&Path>,
) -> Result<SentinelClient, String> {
    let text = |error: RedisError| error.to_string();
    let addresses = sentinels.iter().map(|(host, port)| match tls {
        true => ConnectionAddr::TcpTls {
            host: host.clone(),
            port: *port,
            insecure: false,
            tls_params: None,
        },
        false => ConnectionAddr::Tcp(host.clone(), *port),
    });
    let mut builder = SentinelClientBuilder::new(addresses, master, SentinelServerType::Master)
        .map_err(text)?
        .set_client_to_redis_db(db);
    if let Some(username) = &credentials.username {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(password) = &credentials.password {
        builder = builder.set_client_to_redis_password(password);
    }
    if tls {
        builder = with_sentinel_tls(builder, ca_file)?;
    }
    builder.build().map_err(text)
}

/// TLS to the sentinels and the data nodes, with the CAs of `ca_file` when one is given.
#[cfg(feature = "tls")]
fn with_sentinel_tls(
    builder: SentinelClientBuilder,
    ca_file: Option<&Path>,
) -> Result<SentinelClientBuilder, String> {
    install_crypto_provider();
    let mut builder = builder
        .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure)
        .set_client_to_redis_tls_mode(redis::TlsMode::Secure);
    if let Some(ca_file) = ca_file {
        let root_cert = crate::tls::read_ca_file(ca_file).map_err(|e| e.to_string())?;
        let certificates = || redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert.clone()),
        };
        builder = builder
            .set_client_to_sentinel_certificates(certificates())
            .set_client_to_redis_certificates(certificates());
    }
    Ok(builder)
}

/// Without the `tls` feature `features::check` refuses a `rediss+sentinel://` URL at start-up.
#[cfg(not(feature = "tls"))]
fn with_sentinel_tls(
    _builder: SentinelClientBuilder,
    _ca_file: Option<&Path>,
) -> Result<SentinelClientBuilder, String> {
    Err("rediss+sentinel:// needs sessionkit's Cargo feature \"tls\"".to_owned())
}

/// `builder`, trusting only the CAs of `ca_file` when one is given (a `rediss+cluster://` URL).
fn with_ca_file(
    builder: ClusterClientBuilder,
    ca_file: Option<&Path>,
) -> Result<ClusterClientBuilder, String> {
    #[cfg(feature = "tls")]
    if let Some(ca_file) = ca_file {
        let root_cert = crate::tls::read_ca_file(ca_file).map_err(|e| e.to_string())?;
        return Ok(builder.certs(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        }));
    }
    // Without TLS nothing reads a CA file: `features::check_ca_file` refuses one at start-up.
    let _ = ca_file;
    Ok(builder)
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

/// The master a Sentinel setup names. Commands go to a connection manager on the master last
/// named; when one fails as if the master were gone (connection lost or refused, timed out,
/// or `READONLY`: the old master came back as a replica), the sentinels are asked again and
/// the next command goes to the master they name now. The failed command is not retried —
/// a write may have been applied — it fails (a 503), and the next request succeeds.
#[derive(Clone)]
pub(crate) struct SentinelMaster {
    sentinels: Arc<tokio::sync::Mutex<SentinelClient>>,
    /// The manager on the master last named, and how many times it was replaced: a command
    /// that failed on an older one need not ask the sentinels again.
    current: Arc<Mutex<(ConnectionManager, u64)>>,
    config: ConnectionManagerConfig,
}

impl SentinelMaster {
    async fn open(
        mut sentinels: SentinelClient,
        config: ConnectionManagerConfig,
    ) -> Result<SentinelMaster, RedisError> {
        let client = sentinels.async_get_client().await?;
        let manager = ConnectionManager::new_with_config(client, config.clone()).await?;
        Ok(SentinelMaster {
            sentinels: Arc::new(tokio::sync::Mutex::new(sentinels)),
            current: Arc::new(Mutex::new((manager, 0))),
            config,
        })
    }

    /// The current manager and its generation.
    fn current(&self) -> (ConnectionManager, u64) {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// After `error` on the manager of `generation`, asks the sentinels for the master again
    /// if the error says it may have moved, unless another command did so meanwhile. A
    /// failure to reach it leaves the current manager, to be tried again next time.
    async fn follow(&self, error: &RedisError, generation: u64) {
        let moved = error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_timeout()
            || error.to_string().contains("READONLY");
        if !moved {
            return;
        }
        let mut sentinels = self.sentinels.lock().await;
        if self.current().1 != generation {
            return;
        }
        let Ok(client) = sentinels.async_get_client().await else {
            return;
        };
        if let Ok(manager) = ConnectionManager::new_with_config(client, self.config.clone()).await {
            *self.current.lock().unwrap_or_else(|p| p.into_inner()) = (manager, generation + 1);
        }
    }

    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (mut manager, generation) = self.current();
            let result = manager.req_packed_command(cmd).await;
            if let Err(error) = &result {
                self.follow(error, generation).await;
            }
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (mut manager, generation) = self.current();
            let result = manager.req_packed_commands(pipeline, offset, count).await;
            if let Err(error) = &result {
                self.follow(error, generation).await;
            }
            result
        })
    }
}

/// A client for `url`; a `rediss://` one trusts only the CAs of `ca_file` when it is given.
fn client(url: &str, ca_file: Option<&Path>) -> Result<redis::Client, String> {
    #[cfg(feature = "tls")]
    if crate::tls::cache_url_requires_tls(url) {
        install_crypto_provider();
        if let Some(ca_file) = ca_file {
            let root_cert = crate::tls::read_ca_file(ca_file).map_err(|e| e.to_string())?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert),
            };
            return redis::Client::build_with_tls(url, certificates).map_err(|e| e.to_string());
        }
    }
    // Without TLS nothing reads a CA file: `features::check_ca_file` refuses one at start-up.
    #[cfg(not(feature = "tls"))]
    let _ = ca_file;
    redis::Client::open(url).map_err(|e| e.to_string())
}

/// redis's rustls takes the process's default crypto provider, which rustls picks by itself
/// only when exactly one is compiled in; an app's other crates may compile in a second. So
/// ring (what sessionkit's TLS uses) is installed, unless the app chose one already.
#[cfg(feature = "tls")]
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_topology() {
        assert_eq!(
            Topology::parse("redis://127.0.0.1:6379/0"),
            Ok(Topology::Single("redis://127.0.0.1:6379/0".into()))
        );
        assert_eq!(
            Topology::parse("redis+cluster://:pw@a:7000,b:7001"),
            Ok(Topology::Cluster(vec![
                "redis://:pw@a:7000".into(),
                "redis://:pw@b:7001".into()
            ]))
        );
        assert_eq!(
            Topology::parse("rediss+cluster://a:7000"),
            Ok(Topology::Cluster(vec!["rediss://a:7000".into()]))
        );
        assert_eq!(
            Topology::parse("redis+sentinel://s1:26379,s2:26380/main/2"),
            Ok(Topology::Sentinel {
                sentinels: vec![("s1".into(), 26379), ("s2".into(), 26380)],
                master: "main".into(),
                db: 2,
                tls: false,
                credentials: Credentials::default(),
            })
        );
        assert_eq!(
            Topology::parse("rediss+sentinel://app:p%40ss@s1:26379/main"),
            Ok(Topology::Sentinel {
                sentinels: vec![("s1".into(), 26379)],
                master: "main".into(),
                db: 0,
                tls: true,
                credentials: Credentials {
                    username: Some("app".into()),
                    password: Some("p@ss".into()),
                },
            })
        );
    }

    #[test]
    fn credentials_read_as_redis_reads_them() {
        let parsed = |text| Credentials::parse(text).unwrap();
        assert_eq!(parsed(""), Credentials::default());
        assert_eq!(parsed(":secret@").password.as_deref(), Some("secret"));
        assert_eq!(parsed(":secret@").username, None);
        assert_eq!(parsed("app@").username.as_deref(), Some("app"));
        assert_eq!(parsed("app@").password, None);
        assert!(Credentials::parse(":%FF@").is_err(), "not UTF-8");
    }

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

    #[test]
    fn bad_urls_say_why() {
        assert!(Topology::parse("redis+cluster://a").is_err());
        assert!(Topology::parse("redis+cluster://a:x").is_err());
        assert!(Topology::parse("redis+sentinel://s1:26379").is_err());
        assert!(Topology::parse("redis+sentinel://s1:26379/").is_err());
        assert!(Topology::parse("redis+sentinel://s1:26379/m/x").is_err());
        assert!(
            Topology::parse("rediss+sentinel://:pw@/m").is_err(),
            "no sentinel"
        );
    }
}
