//! Redis Sentinel: the client that asks the sentinels for the master, and the connection that
//! follows the master they name through failovers, so a failover needs no restart.

use std::path::Path;
use std::sync::{Arc, Mutex};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Cmd, ConnectionAddr, Pipeline, RedisError, RedisFuture, Value};

use super::tls::with_sentinel_tls;
use super::topology::Credentials;

/// The client that asks `sentinels` for `master`, and connects to it (over TLS with `tls`,
/// trusting only the CAs of `ca_file` when one is given) as `credentials` say.
pub(super) fn sentinel_client(
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
    pub(super) async fn open(
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
    pub(super) fn current(&self) -> (ConnectionManager, u64) {
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

    pub(super) fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (mut manager, generation) = self.current();
            let result = manager.req_packed_command(cmd).await;
            if let Err(error) = &result {
                self.follow(error, generation).await;
            }
            result
        })
    }

    pub(super) fn req_packed_commands<'a>(
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
