//! `redis://host[:port][/db]`, `redis+cluster://…`, `redis+sentinel://…` (and each with `rediss`
//! for TLS): sessions in Redis,
//! shared by every app instance. Each session is a hash (`d` = the data as JSON, `v` = its
//! version) whose TTL is the session's expiry; conditional writes are Lua scripts
//! ([`scripts`]), atomic on the server. [`connection`] hides which deployment it is; [`keys`]
//! lays the keys out so that on a cluster each session operation touches one hash slot;
//! [`wait`] makes writes wait for replicas (`SESSION_REDIS_WAIT_REPLICAS`); [`open`] opens the
//! store from a URL or over the application's connection.
//!
//! On a cluster a session and its user's index are in different slots, so the index entry is
//! written first and the session second; a crash between them leaves an index entry naming
//! no session of that user, which listing and `delete_user_sessions` skip and remove (see
//! [`RedisStore`]). Scans go over every master in turn.

mod connection;
mod keys;
mod open;
mod scripts;
mod sentinel;
mod tls;
mod topology;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::{ErrorKind, FromRedisValue, Pipeline, ServerErrorKind, Value};
use time::OffsetDateTime;

use super::CacheConfig;
use super::{Cache, CacheRead};
use crate::engine::store::{Capabilities, RecordStore, RecordWrite, ScanPage, StoredRecord};
use crate::engine::{Data, EngineError, Loaded, user_of};
use connection::{Connection, ScanPosition};
use keys::Keys;
use scripts::Scripts;
use wait::WaitReplicas;

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
///
/// # On a Redis Cluster: the user index
///
/// A session and its user's index (`user:{id}`, for listing a user's sessions and logging
/// out the others) are in different hash slots, so no script writes both. The index entry is
/// written first, then the session. A crash between the two writes leaves an index entry
/// naming a session that does not exist (or belongs to no one or someone else): listing
/// ([`RecordStore::by_user`], which `delete_user_sessions` uses) reads each entry's session
/// and keeps it only if it is live and its user is the one listed, dropping the stale entry
/// on the way. The reverse order could leave a session its user's list never shows — one
/// that "log out my other sessions" would miss; this order can only leave entries that are
/// ignored and cleaned.
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    keys: Keys,
    scripts: Scripts,
    /// `SESSION_REDIS_WAIT_REPLICAS`, if set.
    wait: Option<WaitReplicas>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    fn redis_key(&self, id: &str) -> String {
        self.keys.session(id)
    }

    /// The set of a user's session ids, or "" (no index) for a session without a user.
    fn user_key(&self, data: &Data) -> String {
        user_of(data)
            .map(|user| self.keys.user(&user))
            .unwrap_or_default()
    }

    /// Runs `script` on the session key and, where one script may also touch the user index
    /// (not on a cluster), on the index; on a cluster the index entry is written first, on
    /// its own (see the type's docs for why this order).
    async fn write_session(
        &self,
        script: &redis::Script,
        id: &str,
        data: &Data,
        args: &[String],
        expires: i64,
    ) -> Result<bool, EngineError> {
        let user_key = self.user_key(data);
        let mut invocation = script.key(self.redis_key(id));
        if self.keys.is_tagged() {
            if !user_key.is_empty() {
                let mut index = self.scripts.index_only.key(&user_key);
                index.arg(id).arg(expires);
                self.write::<i64>(Some(&self.scripts.index_only), |pipe| {
                    pipe.invoke_script(&index);
                })
                .await?;
            }
        } else {
            invocation.key(user_key);
        }
        invocation.arg(id);
        for arg in args {
            invocation.arg(arg);
        }
        invocation.arg(expires);
        let written: i64 = self
            .write(Some(script), |pipe| {
                pipe.invoke_script(&invocation);
            })
            .await?;
        Ok(written == 1)
    }

    /// Sends the one write `add` puts in a pipeline, followed by `WAIT` when
    /// `SESSION_REDIS_WAIT_REPLICAS` asks for it ([`wait`]), and returns the write's answer.
    /// A write that runs `script` is sent again after the script, if Redis does not know it
    /// yet (a new or restarted node, or a failover to a replica that never ran it) — unless
    /// the first `WAIT` already came back short, which waiting again would only repeat.
    async fn write<T: FromRedisValue>(
        &self,
        script: Option<&redis::Script>,
        add: impl Fn(&mut Pipeline),
    ) -> Result<T, EngineError> {
        let send = |load: Option<&redis::Script>| {
            let mut pipe = redis::pipe();
            if let Some(script) = load {
                pipe.load_script(script).ignore();
            }
            add(&mut pipe);
            if let Some(wait) = &self.wait {
                wait.append_to(&mut pipe);
            }
            let mut connection = self.connection();
            async move {
                pipe.ignore_errors()
                    .query_async::<Vec<redis::RedisResult<Value>>>(&mut connection)
                    .await
                    .map_err(EngineError::unavailable)
            }
        };
        let mut answers = send(None).await?;
        let unknown_script = |answers: &[redis::RedisResult<Value>]| {
            matches!(answers.first(), Some(Err(error))
                if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript))
        };
        if script.is_some() && unknown_script(&answers) {
            self.check_wait(&mut answers)?;
            answers = send(script).await?;
        }
        self.check_wait(&mut answers)?;
        let written = answers
            .pop()
            .unwrap_or(Ok(Value::Nil))
            .map_err(EngineError::unavailable)?;
        redis::from_redis_value(written).map_err(EngineError::unavailable)
    }

    /// Takes the answer to `WAIT` off the end of `answers`, if one was asked for, and fails
    /// if it is short.
    fn check_wait(&self, answers: &mut Vec<redis::RedisResult<Value>>) -> Result<(), EngineError> {
        let Some(wait) = &self.wait else {
            return Ok(());
        };
        let reached = answers
            .pop()
            .unwrap_or(Ok(Value::Nil))
            .map_err(EngineError::unavailable)?;
        wait.check(redis::from_redis_value(reached).map_err(EngineError::unavailable)?)
    }

    /// Each session's raw fields and expiry (Unix ms by the server's clock, or its PTTL when
    /// it has none): in two round trips on one node; on a cluster, where the keys are in many
    /// slots, in two per session.
    async fn read_all<'i>(&self, ids: &[&'i str]) -> Result<Vec<RawRecord<'i>>, EngineError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if self.keys.is_tagged() && ids.len() > 1 {
            let mut all = Vec::with_capacity(ids.len());
            for id in ids {
                all.extend(Box::pin(self.read_all(std::slice::from_ref(id))).await?);
            }
            return Ok(all);
        }
        let mut connection = self.connection();
        let mut hashes = redis::pipe();
        let mut expiries = self.scripts.expiries.prepare_invoke();
        for id in ids {
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
        Ok(ids.iter().copied().zip(hashes).zip(expiries).collect())
    }

    fn connection(&self) -> Connection {
        // A cheap handle onto the one multiplexed connection.
        self.connection.clone()
    }
}

/// A session's id, its `d` and `v` fields and its expiry, as [`RedisStore::read_all`] reads them.
type RawRecord<'i> = ((&'i str, (Option<String>, Option<i64>)), i64);

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
        let args = [data.to_json()];
        self.write_session(
            &self.scripts.insert,
            id,
            data,
            &args,
            expires.unix_timestamp(),
        )
        .await
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        write: RecordWrite<'_>,
    ) -> Result<bool, EngineError> {
        let RecordWrite { data, expires, .. } = write;
        let args = [
            version.to_string(),
            (version + 1).to_string(),
            data.to_json(),
        ];
        self.write_session(
            &self.scripts.replace,
            id,
            data,
            &args,
            expires.unix_timestamp(),
        )
        .await
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.write::<()>(None, |pipe| {
            pipe.cmd("DEL").arg(self.redis_key(id));
        })
        .await
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
            .arg(self.keys.lock(id))
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
        self.scripts
            .unlock
            .key(self.keys.lock(id))
            .arg(token)
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(EngineError::unavailable)
    }

    /// `SCAN` over the prefix's keys (the prefix's glob characters escaped), on every master
    /// of a cluster in turn. Only keys that name a key hash are sessions; the user indexes
    /// (`user:…`) and locks (`lock:…`) under the same prefix are not. The expiry is read back
    /// from the TTL, which was set in whole seconds (`EXPIREAT`), hence the rounding.
    async fn scan(&self, cursor: Option<String>, limit: usize) -> Result<ScanPage, EngineError> {
        let position = ScanPosition::parse(cursor.as_deref()).map_err(EngineError::unavailable)?;
        let pattern = format!("{}*", glob_escape(self.keys.prefix()));
        let (next, keys) = self
            .connection()
            .scan(position, &pattern, limit)
            .await
            .map_err(EngineError::unavailable)?;
        let ids: Vec<&str> = keys.iter().filter_map(|key| self.keys.id_of(key)).collect();
        let mut page = ScanPage {
            next: next.map(|position| position.to_string()),
            ..ScanPage::default()
        };
        for ((id, (data, version)), expiry_ms) in self.read_all(&ids).await? {
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
        let user_key = self.keys.user(user_id);
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
            .arg(self.keys.epoch())
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
            .scripts
            .write_if_newer
            .key(self.redis_key(id))
            .key(self.keys.epoch())
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
        self.scripts
            .fence
            .key(self.redis_key(id))
            .key(self.keys.epoch())
            .arg(version)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(EngineError::unavailable)
    }

    async fn new_epoch(&self) -> Result<i64, EngineError> {
        self.scripts
            .new_epoch
            .key(self.keys.epoch())
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
