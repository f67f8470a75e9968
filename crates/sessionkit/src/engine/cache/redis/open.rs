//! Opening a [`RedisStore`]: from `SESSION_CACHE_URL` (on any topology, with what a failed
//! start says to check), or over a connection the application already has.

use std::path::Path;

use redis::PushInfo;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc::UnboundedSender;

use super::connection::Connection;
use super::keys::Keys;
use super::scripts::Scripts;
use super::topology::Topology;
use super::wait::WaitReplicas;
use super::{CacheConfig, RedisStore};
use crate::config::redact_password;
use crate::engine::EngineError;

impl RedisStore {
    /// Connects to `SESSION_CACHE_URL`. The connection manager reconnects by itself after a
    /// Redis restart; while Redis is down, operations fail within `SESSION_STORE_TIMEOUT` —
    /// or `SESSION_CACHE_TIMEOUT` when Redis is `cached_db`'s cache, so the database can
    /// still answer within the request's time.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::RedisStore;
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let settings = Settings {
    ///     cache_url: "redis://127.0.0.1:6379/0".into(),
    ///     cache_key_prefix: "myapp:sessions:".into(), // namespaces the keys in a shared Redis
    ///     ..Settings::new("secret")
    /// };
    /// let store = RedisStore::connect(&settings).await?; // fails if Redis cannot be reached
    /// assert!(format!("{store:?}").contains("myapp:sessions:"));
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: impl Into<CacheConfig>) -> Result<Self, EngineError> {
        Self::open(config.into(), None).await
    }

    /// Connects as [`RedisStore::connect`] does, on a single node, over RESP3 with what Redis
    /// pushes handed to `pushes`; and the connection, on which the near cache asks for
    /// client-side caching (`CLIENT TRACKING`). Its own writes then are not reported back to
    /// it, and every change made through another connection is.
    pub(crate) async fn connect_reporting(
        config: CacheConfig,
        pushes: UnboundedSender<PushInfo>,
    ) -> Result<(Self, ConnectionManager), EngineError> {
        let store = Self::open(config, Some(pushes)).await?;
        // `Connection::open` refuses pushes on anything but a single node.
        let Connection::Single(manager) = &store.connection else {
            let why = "client-side caching needs a single Redis node";
            return Err(EngineError::unavailable(std::io::Error::other(why)));
        };
        let manager = manager.clone();
        Ok((store, manager))
    }

    async fn open(
        config: CacheConfig,
        pushes: Option<UnboundedSender<PushInfo>>,
    ) -> Result<Self, EngineError> {
        let CacheConfig {
            url,
            key_prefix,
            ca_file,
            timeout,
            wait_replicas,
        } = config;
        let unreachable = |cause: String| {
            EngineError::unavailable(Unreachable {
                hint: start_up_hint(&url, &cause, ca_file.as_deref()),
                url: redact_password(&url),
                cause,
            })
        };
        let topology = Topology::parse(&url).map_err(unreachable)?;
        let tracked = pushes.is_some();
        let connection = Connection::open(&topology, ca_file.as_deref(), timeout, pushes)
            .await
            .map_err(unreachable)?;
        Ok(RedisStore {
            connection,
            keys: Keys::new(key_prefix, topology.is_cluster()),
            scripts: Scripts::new(tracked),
            wait: WaitReplicas::new(wait_replicas, timeout),
        })
    }

    /// A store over a connection the application already has, so that it and its sessions
    /// share one client: its timeouts, retries and TLS are the application's choice, and
    /// nothing is checked here. Keys go under `key_prefix` (`SESSION_CACHE_KEY_PREFIX`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use redis::aio::ConnectionManager;
    /// use sessionkit::Sessions;
    /// use sessionkit::engine::RedisStore;
    ///
    /// let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
    /// let connection = ConnectionManager::new(client).await?; // the app's own
    /// let store = RedisStore::with_connection(connection.clone(), "myapp:sessions:");
    /// let sessions = Sessions::builder("secret").store(store).open().await?;
    /// assert_eq!(sessions.engine().name(), "cache");
    /// # Ok(()) }
    /// ```
    pub fn with_connection(connection: ConnectionManager, key_prefix: impl Into<String>) -> Self {
        RedisStore {
            connection: Connection::Single(connection),
            keys: Keys::new(key_prefix.into(), false),
            scripts: Scripts::new(false),
            wait: None,
        }
    }

    /// [`RedisStore::with_connection`] on a Redis Cluster: the application's own cluster
    /// connection carries its sessions, with keys laid out in hash slots as with
    /// `redis+cluster://` (each session's keys in one slot; see the type's docs for the user
    /// index). The application's client settings — timeouts, retries, TLS, read from replicas
    /// or not — are its own.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use redis::cluster::ClusterClient;
    /// use sessionkit::Sessions;
    /// use sessionkit::engine::RedisStore;
    ///
    /// let client = ClusterClient::new(vec!["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])?;
    /// let connection = client.get_async_connection().await?; // the app's own
    /// let store = RedisStore::with_cluster_connection(connection.clone(), "myapp:sessions:");
    /// let sessions = Sessions::builder("secret").store(store).open().await?;
    /// # Ok(()) }
    /// ```
    pub fn with_cluster_connection(
        connection: redis::cluster_async::ClusterConnection,
        key_prefix: impl Into<String>,
    ) -> Self {
        RedisStore {
            connection: Connection::Cluster(connection),
            keys: Keys::new(key_prefix.into(), true),
            scripts: Scripts::new(false),
            wait: None,
        }
    }
}

/// The Redis of `SESSION_CACHE_URL` could not be reached when the engine was opened.
#[derive(Debug, thiserror::Error)]
#[error("SESSION_CACHE_URL {url}: {cause}{hint}")]
struct Unreachable {
    /// The URL, its password hidden.
    url: String,
    /// What redis said.
    cause: String,
    /// What to check; often empty.
    hint: String,
}

/// What to check after `cause` stopped the start: the CAs, after a refused certificate; a
/// server that may not speak TLS, after a `rediss://` handshake that never finished (a
/// plaintext Redis waits for a command line and never answers it).
fn start_up_hint(url: &str, cause: &str, ca_file: Option<&Path>) -> String {
    let hint = crate::tls::certificate_hint(cause, ca_file);
    if hint.is_empty() && crate::tls::cache_url_requires_tls(url) && cause.contains("timed out") {
        return " (does the server speak TLS on this port?)".to_owned();
    }
    hint
}
