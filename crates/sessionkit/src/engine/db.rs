//! `db`: sessions in a SQL table, on SQLite, PostgreSQL or MySQL/MariaDB (sqlx), chosen by
//! `SESSION_DB_URL`.
//!
//! The table (default `sessionkit_session`) holds, per session:
//! - `session_key_hash`: SHA-256 of the key, so a leaked table holds no usable cookie;
//! - `session_data`: Django's format (signed with the `django.contrib.sessions.SessionStore`
//!   salt), so the data can be decoded with Django's own tools;
//! - `expire_date` (indexed, Unix seconds), `created_at` and `version` (for compare-and-swap).
//!
//! The engine logic is written once; everything that differs between databases (placeholders,
//! column types, batched deletes) is in [`Dialect`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::server::{RecordStore, ServerEngine, StoredRecord, lease_window};
use super::{Data, EngineError, Loaded, user_of};
use crate::settings::{EngineKind, Settings};
use crate::signing::{STORE_SALT, Signer};

/// The SQL dialects the engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Dialect {
    /// The dialect of a `SESSION_DB_URL`.
    pub fn of_url(url: &str) -> Option<Dialect> {
        let scheme = url.split(':').next()?;
        match scheme {
            "sqlite" => Some(Dialect::Sqlite),
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            _ => None,
        }
    }

    /// Rewrites `?` placeholders into this dialect's form (`$1`, `$2`, … on PostgreSQL).
    fn placeholders(self, sql: &str) -> Arc<str> {
        if self != Dialect::Postgres {
            return sql.into();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out.into()
    }

    fn schema(self, table: &str) -> Vec<String> {
        let data_type = match self {
            Dialect::MySql => "LONGTEXT",
            Dialect::Sqlite | Dialect::Postgres => "TEXT",
        };
        let columns = format!(
            "session_key_hash VARCHAR(64) NOT NULL PRIMARY KEY, \
             session_data {data_type} NOT NULL, \
             expire_date BIGINT NOT NULL, \
             created_at BIGINT NOT NULL, \
             version BIGINT NOT NULL, \
             user_id VARCHAR(191) NULL"
        );
        let locks = format!(
            "CREATE TABLE IF NOT EXISTS {table}_lock (\
             session_key_hash VARCHAR(64) NOT NULL PRIMARY KEY, \
             token VARCHAR(64) NOT NULL, \
             expires_ms BIGINT NOT NULL)"
        );
        match self {
            // MySQL has no CREATE INDEX IF NOT EXISTS; inline indexes come with the table.
            Dialect::MySql => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} ({columns}, \
                     INDEX {table}_expire_date (expire_date), \
                     INDEX {table}_user_id (user_id))"
                ),
                locks,
            ],
            Dialect::Sqlite | Dialect::Postgres => vec![
                format!("CREATE TABLE IF NOT EXISTS {table} ({columns})"),
                format!("CREATE INDEX IF NOT EXISTS {table}_expire_date ON {table} (expire_date)"),
                format!("CREATE INDEX IF NOT EXISTS {table}_user_id ON {table} (user_id)"),
                locks,
            ],
        }
    }

    fn delete_expired_batch(self, table: &str) -> String {
        match self {
            Dialect::MySql => format!("DELETE FROM {table} WHERE expire_date < ? LIMIT ?"),
            Dialect::Sqlite | Dialect::Postgres => format!(
                "DELETE FROM {table} WHERE session_key_hash IN \
                 (SELECT session_key_hash FROM {table} WHERE expire_date < ? LIMIT ?)"
            ),
        }
    }
}

/// Every statement the engine runs, built once for its table and dialect.
#[derive(Debug)]
struct Queries {
    schema: Vec<Arc<str>>,
    load: Arc<str>,
    exists: Arc<str>,
    by_user: Arc<str>,
    insert: Arc<str>,
    update: Arc<str>,
    delete: Arc<str>,
    delete_expired_batch: Arc<str>,
    drop_lapsed_lock: Arc<str>,
    take_lock: Arc<str>,
    release_lock: Arc<str>,
}

impl Queries {
    fn new(dialect: Dialect, table: &str) -> Self {
        let sql = |text: String| dialect.placeholders(&text);
        Queries {
            schema: dialect.schema(table).into_iter().map(sql).collect(),
            load: sql(format!(
                "SELECT session_data, version, expire_date FROM {table} \
                 WHERE session_key_hash = ? AND expire_date > ?"
            )),
            exists: sql(format!(
                "SELECT 1 FROM {table} WHERE session_key_hash = ? AND expire_date > ?"
            )),
            by_user: sql(format!(
                "SELECT session_data, version, expire_date, session_key_hash FROM {table} \
                 WHERE user_id = ? AND expire_date > ?"
            )),
            insert: sql(format!(
                "INSERT INTO {table} \
                 (session_key_hash, session_data, expire_date, created_at, version, user_id) \
                 VALUES (?, ?, ?, ?, 1, ?)"
            )),
            update: sql(format!(
                "UPDATE {table} SET session_data = ?, expire_date = ?, user_id = ?, \
                 version = version + 1 WHERE session_key_hash = ? AND version = ?"
            )),
            delete: sql(format!("DELETE FROM {table} WHERE session_key_hash = ?")),
            delete_expired_batch: sql(dialect.delete_expired_batch(table)),
            drop_lapsed_lock: sql(format!(
                "DELETE FROM {table}_lock WHERE session_key_hash = ? AND expires_ms < ?"
            )),
            take_lock: sql(format!(
                "INSERT INTO {table}_lock (session_key_hash, token, expires_ms) VALUES (?, ?, ?)"
            )),
            release_lock: sql(format!(
                "DELETE FROM {table}_lock WHERE session_key_hash = ? AND token = ?"
            )),
        }
    }
}

/// The SQL engine: a [`ServerEngine`] over a [`SqlStore`].
pub type DbEngine = ServerEngine<SqlStore>;

impl DbEngine {
    /// Connects to `SESSION_DB_URL` (an SQLite file is created if missing). Does not create
    /// the table: call [`Engine::migrate`](super::Engine::migrate) (or `sessionkit migrate`).
    pub async fn connect(settings: &Settings) -> Result<Self, EngineError> {
        Ok(ServerEngine::new(
            SqlStore::connect(settings).await?,
            settings.store_timeout,
        ))
    }

    /// The connection pool, for callers that need to run their own queries (tests, tools).
    pub fn pool(&self) -> &AnyPool {
        &self.store().pool
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.store().dialect
    }
}

/// Session records in a SQL table.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    queries: Arc<Queries>,
    signer: Signer,
}

impl SqlStore {
    /// Connects to `SESSION_DB_URL`; see [`DbEngine::connect`].
    pub async fn connect(settings: &Settings) -> Result<Self, EngineError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(&settings.db_url).ok_or_else(|| {
            EngineError::unavailable(std::io::Error::other(
                "SESSION_DB_URL has an unknown scheme",
            ))
        })?;
        let url = match dialect {
            Dialect::Sqlite => sqlite_url_creating_the_file(&settings.db_url),
            Dialect::Postgres | Dialect::MySql => settings.db_url.clone(),
        };
        let pool = AnyPoolOptions::new()
            .acquire_timeout(settings.store_timeout)
            .connect(&url)
            .await
            .map_err(EngineError::unavailable)?;
        if dialect == Dialect::Sqlite {
            // WAL lets readers proceed while a writer commits; the mode sticks to the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await
                .map_err(EngineError::unavailable)?;
        }
        Ok(SqlStore {
            pool,
            dialect,
            queries: Arc::new(Queries::new(dialect, &settings.db_table)),
            signer: Signer::new(
                STORE_SALT,
                &settings.secret_key,
                &settings.secret_key_fallbacks,
            ),
        })
    }

    /// `session_data` in Django's format, signed at `now`.
    fn encode(&self, data: &Data, now: OffsetDateTime) -> String {
        self.signer.sign_object(
            data,
            u64::try_from(now.unix_timestamp()).unwrap_or_default(),
        )
    }

    /// Decodes `session_data`; data that fails verification is logged and treated as absent,
    /// as Django does with "Session data corrupted".
    fn decode(&self, row: &AnyRow) -> Result<Option<(Loaded, OffsetDateTime)>, EngineError> {
        let text: String = row.try_get(0).map_err(EngineError::unavailable)?;
        let version: i64 = row.try_get(1).map_err(EngineError::unavailable)?;
        let expires: i64 = row.try_get(2).map_err(EngineError::unavailable)?;
        let expires =
            OffsetDateTime::from_unix_timestamp(expires).map_err(EngineError::unavailable)?;
        match self.signer.unsign_object(&text, None, SystemTime::now()) {
            Ok(unsigned) => Ok(Some((
                Loaded {
                    data: unsigned.data,
                    version,
                },
                expires,
            ))),
            Err(reason) => {
                tracing::warn!(%reason, "session data corrupted; treating it as no session");
                Ok(None)
            }
        }
    }
}

impl SqlStore {
    /// The live record and when it expires (what `cached_db` needs to fill its cache).
    pub async fn fetch_with_expiry(
        &self,
        id: &str,
    ) -> Result<Option<(Loaded, OffsetDateTime)>, EngineError> {
        let row = sqlx::query(AssertSqlSafe(self.queries.load.clone()))
            .bind(id)
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .fetch_optional(&self.pool)
            .await
            .map_err(EngineError::unavailable)?;
        match row {
            Some(row) => self.decode(&row),
            None => Ok(None),
        }
    }
}

/// sqlx opens SQLite files read-write but does not create them unless asked (`mode=rwc`).
fn sqlite_url_creating_the_file(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[async_trait]
impl RecordStore for SqlStore {
    fn kind(&self) -> EngineKind {
        EngineKind::Db
    }

    async fn fetch(&self, id: &str) -> Result<Option<Loaded>, EngineError> {
        Ok(self.fetch_with_expiry(id).await?.map(|(record, _)| record))
    }

    async fn insert(
        &self,
        id: &str,
        data: &Data,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, EngineError> {
        let inserted = sqlx::query(AssertSqlSafe(self.queries.insert.clone()))
            .bind(id)
            .bind(self.encode(data, now))
            .bind(expires.unix_timestamp())
            .bind(now.unix_timestamp())
            .bind(user_of(data))
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(EngineError::unavailable(e)),
        }
    }

    async fn replace(
        &self,
        id: &str,
        version: i64,
        data: &Data,
        expires: OffsetDateTime,
    ) -> Result<bool, EngineError> {
        let done = sqlx::query(AssertSqlSafe(self.queries.update.clone()))
            .bind(self.encode(data, OffsetDateTime::now_utc()))
            .bind(expires.unix_timestamp())
            .bind(user_of(data))
            .bind(id)
            .bind(version)
            .execute(&self.pool)
            .await
            .map_err(EngineError::unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        sqlx::query(AssertSqlSafe(self.queries.delete.clone()))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(EngineError::unavailable)?;
        Ok(())
    }

    async fn contains(&self, id: &str) -> Result<bool, EngineError> {
        let row = sqlx::query(AssertSqlSafe(self.queries.exists.clone()))
            .bind(id)
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .fetch_optional(&self.pool)
            .await
            .map_err(EngineError::unavailable)?;
        Ok(row.is_some())
    }

    async fn purge_expired(&self, batch: usize) -> Result<u64, EngineError> {
        let done = sqlx::query(AssertSqlSafe(self.queries.delete_expired_batch.clone()))
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .bind(i64::try_from(batch).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await
            .map_err(EngineError::unavailable)?;
        Ok(done.rows_affected())
    }

    /// A row in `{table}_lock` is the lock; the primary key makes taking it atomic, and a
    /// lapsed lease is deleted first so a crashed holder blocks no one for long.
    async fn try_lock(&self, id: &str, token: &str, lease: Duration) -> Result<bool, EngineError> {
        let (now, until) = lease_window(lease);
        sqlx::query(AssertSqlSafe(self.queries.drop_lapsed_lock.clone()))
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(EngineError::unavailable)?;
        let taken = sqlx::query(AssertSqlSafe(self.queries.take_lock.clone()))
            .bind(id)
            .bind(token)
            .bind(until)
            .execute(&self.pool)
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(EngineError::unavailable(e)),
        }
    }

    async fn unlock(&self, id: &str, token: &str) -> Result<(), EngineError> {
        sqlx::query(AssertSqlSafe(self.queries.release_lock.clone()))
            .bind(id)
            .bind(token)
            .execute(&self.pool)
            .await
            .map_err(EngineError::unavailable)?;
        Ok(())
    }

    async fn by_user(&self, user_id: &str) -> Result<Vec<StoredRecord>, EngineError> {
        let rows = sqlx::query(AssertSqlSafe(self.queries.by_user.clone()))
            .bind(user_id)
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .fetch_all(&self.pool)
            .await
            .map_err(EngineError::unavailable)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some((record, expires)) = self.decode(&row)? {
                let id: String = row.try_get(3).map_err(EngineError::unavailable)?;
                found.push(StoredRecord {
                    id,
                    record,
                    expires,
                });
            }
        }
        Ok(found)
    }

    async fn migrate(&self) -> Result<(), EngineError> {
        for statement in &self.queries.schema {
            sqlx::query(AssertSqlSafe(statement.clone()))
                .execute(&self.pool)
                .await
                .map_err(EngineError::unavailable)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_gets_numbered_placeholders() {
        assert_eq!(
            &*Dialect::Postgres.placeholders("a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(&*Dialect::MySql.placeholders("a = ?"), "a = ?");
    }

    #[test]
    fn sqlite_urls_create_their_file() {
        assert_eq!(
            sqlite_url_creating_the_file("sqlite://x.db"),
            "sqlite://x.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating_the_file("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
    }
}
