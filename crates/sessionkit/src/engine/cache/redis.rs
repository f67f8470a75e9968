//! `redis://host[:port][/db]`: sessions in Redis, shared by every app instance. Each session
//! is a hash (`d` = the data as JSON, `v` = its version) whose TTL is the session's expiry;
//! conditional writes are the Lua scripts below, atomic on the server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use time::OffsetDateTime;

use super::CacheConfig;
use super::{Cache, CacheRead};
use crate::config::redact_password;
use crate::engine::store::{
    Capabilities, RecordStore, RecordWrite, ScanPage, StoredRecord, is_key_hash,
};
use crate::engine::{Data, EngineError, Loaded, user_of};

/// Adds the session (ARGV[1], its id) to its user's index set KEYS[2], whose TTL is kept at
/// least as long as the session's (ARGV[2]); no-op without a user (KEYS[2] == "").
const INDEX_USER: &str = r"
local function index_user(user_key, id, expires)
  if user_key == '' then return end
  redis.call('SADD', user_key, id)
  local ttl = redis.call('TTL', user_key)
  if ttl == -1 or ttl < tonumber(expires) - tonumber(redis.call('TIME')[1]) then
    redis.call('EXPIREAT', user_key, expires)
  end
end
";

/// Creates the hash only if the key is free.
/// KEYS: session, user index (or ""); ARGV: id, data, expiry (Unix seconds).
const INSERT_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', 1)
redis.call('EXPIREAT', KEYS[1], ARGV[3])
index_user(KEYS[2], ARGV[1], ARGV[3])
return 1";

/// Overwrites the hash only at the expected version.
/// KEYS: session, user index (or ""); ARGV: id, version, data, expiry.
const REPLACE_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[3], 'v', tonumber(ARGV[2]) + 1)
redis.call('EXPIREAT', KEYS[1], ARGV[4])
index_user(KEYS[2], ARGV[1], ARGV[4])
return 1";

/// Deletes the lock KEYS[1] only if the token ARGV[1] still holds it.
const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// The expiry of each key of KEYS in Unix milliseconds by the server's clock (so the client's
/// clock does not matter), or its PTTL when it has none (-1) or is gone (-2).
const EXPIRIES_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiries = {}
for i, key in ipairs(KEYS) do
  local ttl = redis.call('PTTL', key)
  if ttl >= 0 then expiries[i] = now + ttl else expiries[i] = ttl end
end
return expiries";

/// The cache epoch stored at `key`, for the scripts that write; created if missing. A missing
/// epoch (a fresh Redis, or the key evicted) starts at the server's clock in microseconds,
/// never at a value an earlier epoch had — else entries of that epoch would be served again.
const CURRENT_EPOCH: &str = r"
local function current_epoch(key)
  local epoch = redis.call('GET', key)
  if epoch then return epoch end
  local now = redis.call('TIME')
  epoch = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', key, epoch)
  return epoch
end
";

/// The memory store's rules (`admits` and `outranks` in `memory.rs`) for an entry's fields as HMGET returns them.
const RANKS: &str = r"
local function admits(entry, epoch, incoming)
  if entry[1] ~= epoch or not entry[2] then return true end
  local held = tonumber(entry[2])
  if entry[3] then return incoming >= held end
  return incoming > held
end
local function outranks(entry, epoch, version)
  if entry[1] ~= epoch or not entry[2] then return false end
  local held = tonumber(entry[2])
  if entry[3] then return held > version end
  return held >= version
end
";

/// Writes the entry if ARGV's epoch is current and the entry admits the version; 1 if written.
/// KEYS: entry, epoch; ARGV: epoch, version, data, expiry (Unix seconds).
const WRITE_IF_NEWER_SCRIPT: &str = r"
if current_epoch(KEYS[2]) ~= ARGV[1] then return 0 end
local entry = redis.call('HMGET', KEYS[1], 'e', 'v', 'd')
if not admits(entry, ARGV[1], tonumber(ARGV[2])) then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
return 1";

/// Replaces the entry by a fence at ARGV's version unless it outranks it; 1 if fenced.
/// KEYS: entry, epoch; ARGV: version, lifetime (milliseconds).
const FENCE_SCRIPT: &str = r"
local epoch = current_epoch(KEYS[2])
local entry = redis.call('HMGET', KEYS[1], 'e', 'v', 'd')
if outranks(entry, epoch, tonumber(ARGV[1])) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'e', epoch, 'v', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1";

/// Moves the epoch on. KEYS: epoch.
const NEW_EPOCH_SCRIPT: &str = r"
current_epoch(KEYS[1])
return redis.call('INCR', KEYS[1])";

/// Sessions in Redis.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{RedisStore, ServerEngine};
/// use sessionkit::{EngineKind, Settings};
/// use sessionkit::engine::Engine;
///
/// let settings = Settings {
///     engine: EngineKind::Cache,
///     cache_url: "redis://127.0.0.1:6379/0".into(),
///     ..Settings::new("secret")
/// };
/// let engine = ServerEngine::new(RedisStore::connect(&settings).await?, settings.store_timeout);
/// assert_eq!(engine.clear_expired(1000).await?, 0); // Redis expires sessions by itself
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    insert: redis::Script,
    replace: redis::Script,
    unlock: redis::Script,
    expiries: redis::Script,
    write_if_newer: redis::Script,
    fence: redis::Script,
    new_epoch: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

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
        let CacheConfig {
            url,
            key_prefix,
            ca_file,
            timeout,
        } = config.into();
        let unreachable = |cause: String| {
            EngineError::unavailable(Unreachable {
                hint: start_up_hint(&url, &cause, ca_file.as_deref()),
                url: redact_password(&url),
                cause,
            })
        };
        let client = client(&url, ca_file.as_deref()).map_err(unreachable)?;
        let timeout = Some(timeout);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        Ok(RedisStore::with_connection(connection, key_prefix))
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
            connection,
            prefix: key_prefix.into(),
            insert: redis::Script::new(&format!("{INDEX_USER}{INSERT_SCRIPT}")),
            replace: redis::Script::new(&format!("{INDEX_USER}{REPLACE_SCRIPT}")),
            unlock: redis::Script::new(UNLOCK_SCRIPT),
            expiries: redis::Script::new(EXPIRIES_SCRIPT),
            write_if_newer: redis::Script::new(&format!(
                "{CURRENT_EPOCH}{RANKS}{WRITE_IF_NEWER_SCRIPT}"
            )),
            fence: redis::Script::new(&format!("{CURRENT_EPOCH}{RANKS}{FENCE_SCRIPT}")),
            new_epoch: redis::Script::new(&format!("{CURRENT_EPOCH}{NEW_EPOCH_SCRIPT}")),
        }
    }

    fn redis_key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The set of a user's session ids, or "" (no index) for a session without a user.
    fn user_key(&self, data: &Data) -> String {
        user_of(data)
            .map(|user| self.user_key_of(&user))
            .unwrap_or_default()
    }

    /// The cache epoch's counter ([`Cache`]).
    fn epoch_key(&self) -> String {
        format!("{}epoch", self.prefix)
    }

    fn lock_key(&self, id: &str) -> String {
        format!("{}lock:{id}", self.prefix)
    }

    fn user_key_of(&self, user_id: &str) -> String {
        format!("{}user:{user_id}", self.prefix)
    }

    fn connection(&self) -> ConnectionManager {
        // A cheap handle onto the one multiplexed connection.
        self.connection.clone()
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

/// A client for `url`; a `rediss://` one trusts only the CAs of `ca_file` when it is given.
pub(crate) fn client(url: &str, ca_file: Option<&Path>) -> Result<redis::Client, String> {
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

#[async_trait]
impl RecordStore for RedisStore {
    fn name(&self) -> &'static str {
        "cache"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        let (data, version): (Option<String>, Option<i64>) = redis::cmd("HMGET")
            .arg(self.redis_key(id))
            .arg("d")
            .arg("v")
            .query_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        let (Some(data), Some(version)) = (data, version) else {
            return Ok(None);
        };
        match Data::from_json(&data) {
            Ok(data) => Ok(Some(Loaded {
                data: Arc::new(data),
                version,
            })),
            Err(error) => {
                tracing::warn!(%error, "session data in Redis is not a JSON object; ignoring it");
                Ok(None)
            }
        }
    }

    async fn insert(&self, id: &str, write: RecordWrite<'_>) -> Result<bool, EngineError> {
        let RecordWrite { data, expires, .. } = write;
        let inserted: i64 = self
            .insert
            .key(self.redis_key(id))
            .key(self.user_key(data))
            .arg(id)
            .arg(data.to_json())
            .arg(expires.unix_timestamp())
            .invoke_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        Ok(inserted == 1)
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        let RecordWrite { data, expires, .. } = write;
        let replaced: i64 = self
            .replace
            .key(self.redis_key(id))
            .key(self.user_key(data))
            .arg(id)
            .arg(version)
            .arg(data.to_json())
            .arg(expires.unix_timestamp())
            .invoke_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        Ok(replaced == 1)
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        redis::cmd("DEL")
            .arg(self.redis_key(id))
            .query_async::<()>(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)
    }

    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        redis::cmd("EXISTS")
            .arg(self.redis_key(id))
            .query_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)
    }

    /// Redis expires sessions itself (their TTL); there is nothing to sweep.
    async fn purge_expired(&self, _batch: usize) -> Result<u64, EngineError> {
        Ok(0)
    }

    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.lock_key(id))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis().max(1) as u64)
            .query_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        Ok(taken.is_some())
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        self.unlock
            .key(self.lock_key(id))
            .arg(token)
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(EngineError::unavailable)
    }

    /// `SCAN` over the prefix's keys (the prefix's glob characters escaped). Only keys that
    /// end in a key hash are sessions; the user indexes (`user:…`) and locks (`lock:…`) under
    /// the same prefix are not. The expiry is read back from the TTL, which was set in whole
    /// seconds (`EXPIREAT`), hence the rounding.
    // Long, as one round trip is: SCAN, then one pipelined read of every key it found, then
    // the decoding of each answer, kept together so the page is read in two round trips.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        let cursor: u64 = match cursor {
            None => 0,
            Some(cursor) => cursor.parse().map_err(|_| {
                EngineError::unavailable(std::io::Error::other(format!(
                    "{cursor:?} is not a Redis SCAN cursor"
                )))
            })?,
        };
        let mut connection = self.connection();
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", glob_escape(&self.prefix)))
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut connection)
            .await
            .map_err(EngineError::unavailable)?;
        let ids: Vec<&str> = keys
            .iter()
            .filter_map(|key| key.strip_prefix(&self.prefix))
            .filter(|id| is_key_hash(id))
            .collect();
        let mut page = ScanPage {
            next: (next != 0).then(|| next.to_string()),
            ..ScanPage::default()
        };
        if ids.is_empty() {
            return Ok(page);
        }
        let mut hashes = redis::pipe();
        let mut expiries = self.expiries.prepare_invoke();
        for id in &ids {
            hashes
                .cmd("HMGET")
                .arg(self.redis_key(id))
                .arg("d")
                .arg("v");
            expiries.key(self.redis_key(id));
        }
        let hashes: Vec<(Option<String>, Option<i64>)> = hashes
            .query_async(&mut connection)
            .await
            .map_err(EngineError::unavailable)?;
        let expiries: Vec<i64> = expiries
            .invoke_async(&mut connection)
            .await
            .map_err(EngineError::unavailable)?;
        for ((id, (data, version)), expiry_ms) in ids.into_iter().zip(hashes).zip(expiries) {
            // Gone since SCAN listed it (expired or deleted): nothing to copy.
            if (data.is_none() && version.is_none()) || expiry_ms == -2 {
                continue;
            }
            let expires = (expiry_ms >= 0)
                .then(|| OffsetDateTime::from_unix_timestamp((expiry_ms + 500) / 1000).ok())
                .flatten();
            let data = data.and_then(|data| Data::from_json(&data).ok().map(Arc::new));
            match (data, version, expires) {
                (Some(data), Some(version), Some(expires)) => page.records.push(StoredRecord {
                    id: id.to_owned(),
                    record: Loaded { data, version },
                    expires,
                }),
                _ => {
                    tracing::warn!("unreadable session record in Redis (no data, version or TTL)");
                    page.unreadable += 1;
                }
            }
        }
        Ok(page)
    }

    /// Reads the user's index set; members whose session is gone or now belongs to someone
    /// else are dropped from it on the way.
    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        let user_key = self.user_key_of(user_id);
        let mut connection = self.connection();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&user_key)
            .query_async(&mut connection)
            .await
            .map_err(EngineError::unavailable)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let ttl: i64 = redis::cmd("TTL")
                .arg(self.redis_key(&id))
                .query_async(&mut connection)
                .await
                .map_err(EngineError::unavailable)?;
            let record = self.fetch(&id).await?;
            match record {
                Some(record) if ttl > 0 && user_of(&record.data).as_deref() == Some(user_id) => {
                    let expires = OffsetDateTime::now_utc() + time::Duration::seconds(ttl);
                    found.push(StoredRecord {
                        id,
                        record,
                        expires,
                    });
                }
                _ => {
                    redis::cmd("SREM")
                        .arg(&user_key)
                        .arg(&id)
                        .query_async::<()>(&mut connection)
                        .await
                        .map_err(EngineError::unavailable)?;
                }
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl Cache for RedisStore {
    /// `GET` of the epoch and `HMGET` of the entry (fields e = epoch, v = version, d = data;
    /// no d in a fence) in one pipeline — no script, this is every request's call. Another
    /// client may start a new epoch between the two, which is as if this read came first:
    /// an entry of the epoch read was written while that epoch was current.
    async fn read_current(&self, id: &str) -> Result<CacheRead, EngineError> {
        type Entry = (Option<i64>, Option<i64>, Option<String>);
        let (epoch, entry): (Option<i64>, Entry) = redis::pipe()
            .cmd("GET")
            .arg(self.epoch_key())
            .cmd("HMGET")
            .arg(self.redis_key(id))
            .arg("e")
            .arg("v")
            .arg("d")
            .query_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        let Some(epoch) = epoch else {
            return Err(EngineError::unavailable(std::io::Error::other(
                "the session cache has lost its epoch (restarted empty, or evicted it)",
            )));
        };
        let record = match entry {
            (Some(written), Some(version), Some(data)) if written == epoch => {
                match Data::from_json(&data) {
                    Ok(data) => Some(Loaded {
                        data: Arc::new(data),
                        version,
                    }),
                    Err(error) => {
                        tracing::warn!(%error, "session data in Redis is not a JSON object");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(CacheRead { record, epoch })
    }

    async fn write_if_newer(
        &self,
        id: &str,
        record: &Loaded,
        expires: OffsetDateTime,
        epoch: i64,
    ) -> Result<bool, EngineError> {
        let written: i64 = self
            .write_if_newer
            .key(self.redis_key(id))
            .key(self.epoch_key())
            .arg(epoch)
            .arg(record.version)
            .arg(record.data.to_json())
            .arg(expires.unix_timestamp())
            .invoke_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)?;
        Ok(written == 1)
    }

    async fn fence(&self, id: &str, version: i64, ttl: Duration) -> Result<(), EngineError> {
        self.fence
            .key(self.redis_key(id))
            .key(self.epoch_key())
            .arg(version)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(EngineError::unavailable)
    }

    async fn new_epoch(&self) -> Result<i64, EngineError> {
        self.new_epoch
            .key(self.epoch_key())
            .invoke_async(&mut self.connection())
            .await
            .map_err(EngineError::unavailable)
    }
}

/// `text` with Redis's glob characters escaped, to match it literally in `SCAN … MATCH`.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_of_a_prefix_match_literally() {
        assert_eq!(glob_escape("app:sessions:"), "app:sessions:");
        assert_eq!(glob_escape(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }
}
