//! `db`: sessions in a SQL table, on SQLite, PostgreSQL or MySQL/MariaDB (sqlx), in a pool
//! opened from `SESSION_DB_URL` or in a pool the application already has
//! ([`SqlStore::with_pool`]).
//!
//! The table (default `sessionkit_session`) holds, per session:
//! - `session_key_hash`: SHA-256 of the key, so a leaked table holds no usable cookie;
//! - `session_data`: Django's format (signed with the `django.contrib.sessions.SessionStore`
//!   salt), so the data can be decoded with Django's own tools;
//! - `expire_date` (indexed, Unix seconds), `created_at` and `version` (for compare-and-swap).
//!
//! The engine logic is written once; everything that differs between databases (placeholders,
//! column types, batched deletes) is in [`Dialect`], and the store is generic over the sqlx
//! database its pool is of ([`Backend`]: `Any` for the URL, or the app's typed pool).

#[cfg(feature = "sqlite")]
use std::path::PathBuf;
#[cfg(feature = "sqlite")]
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::pool::PoolConnection;
#[cfg(feature = "sqlite")]
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, Database, Pool};
use time::OffsetDateTime;

use super::server::ServerEngine;
use super::{Data, EngineError, Loaded};
use crate::config::redact_password;
use crate::django::signing::{SMALL_VALUE_BYTES, STORE_SALT, Signer};
use crate::tls::{certificate_hint, url_with_ca_file};

mod backend;
mod batches;
mod config;
mod connection;
mod group_commit;
mod records;
mod sql;

use backend::Param;
pub use backend::{Backend, TypedBackend};
use batches::StoreBatches;
pub use config::{DEFAULT_POOL_SIZE, DEFAULT_SQLITE_READERS, DbConfig, DbTableConfig};
use connection::Unreachable;
use group_commit::{GroupCommit, Outcome};
pub use sql::Dialect;
use sql::TableFormat;
use sql::{BatchQueries, Queries, SqliteRole, on_sqlite, pool_options};

/// The SQL engine: a [`ServerEngine`] over a [`SqlStore`]. `DbEngine` (on sqlx's `Any`) is
/// the one sessionkit opens from `SESSION_DB_URL`; `DbEngine<Postgres>` (or `MySql`,
/// `Sqlite`) runs on a pool the application already has ([`DbEngine::with_pool`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::DbEngine;
/// use sessionkit::Settings;
/// use sessionkit::engine::Engine;
///
/// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
/// let engine = DbEngine::connect(&settings).await?;
/// engine.migrate().await?; // creates sessionkit_session
/// engine.migrate().await?; // and is idempotent
/// assert!(!engine.exists("abcdefgh12345678").await?);
/// # Ok(()) }
/// ```
pub type DbEngine<DB = Any> = ServerEngine<SqlStore<DB>>;

impl DbEngine {
    /// Connects to `SESSION_DB_URL` (an SQLite file is created if missing). Does not create
    /// the table: call [`Engine::migrate`](super::Engine::migrate) (or `sessionkit migrate`).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::DbEngine;
    /// use sessionkit::engine::db::Dialect;
    /// use sessionkit::Settings;
    /// use sessionkit::engine::Engine;
    ///
    /// let settings = Settings {
    ///     db_url: "postgres://postgres@127.0.0.1:5432/test".into(),
    ///     ..Settings::new("secret")
    /// };
    /// let engine = DbEngine::connect(&settings).await?; // fails if the database is unreachable
    /// engine.migrate().await?;
    /// assert_eq!(engine.dialect(), Dialect::Postgres);
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: impl Into<DbConfig>) -> Result<Self, EngineError> {
        let config = config.into();
        Ok(ServerEngine::new(
            SqlStore::connect(config.clone()).await?,
            config.timeout,
        ))
    }
}

impl<DB: TypedBackend> DbEngine<DB> {
    /// The engine on the application's own pool; see [`SqlStore::with_pool`].
    /// [`SessionsBuilder::db_pool`](crate::SessionsBuilder::db_pool) does this from the
    /// settings being built.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{DbEngine, Engine};
    /// use sessionkit::Settings;
    /// use sqlx::sqlite::SqlitePoolOptions;
    ///
    /// let pool = SqlitePoolOptions::new() // the app's own
    ///     .max_connections(1)
    ///     .connect("sqlite::memory:")
    ///     .await?;
    /// let engine = DbEngine::with_pool(pool.clone(), &Settings::new("secret"));
    /// engine.migrate().await?;
    /// assert_eq!(pool.size(), 1); // no pool of its own: the app's one connection served it
    /// # Ok(()) }
    /// ```
    pub fn with_pool(pool: Pool<DB>, config: impl Into<DbTableConfig>) -> Self {
        let config = config.into();
        let timeout = config.timeout;
        ServerEngine::new(SqlStore::with_pool(pool, config), timeout)
    }
}

impl<DB: Backend> DbEngine<DB> {
    /// The connection pool, for callers that need to run their own queries (tests, tools).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use sessionkit::engine::DbEngine;
    /// use sessionkit::{Sessions, Settings};
    ///
    /// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
    /// let engine = Arc::new(DbEngine::connect(&settings).await?);
    /// # sessionkit::engine::Engine::migrate(&*engine).await?;
    /// # let sessions = Sessions::new(engine.clone(), settings)?;
    /// # let session = sessions.start(None).load().await?;
    /// # session.insert("n", 1)?;
    /// # session.save().await?;
    /// let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessionkit_session")
    ///     .fetch_one(engine.pool())
    ///     .await?;
    /// assert_eq!(count, 1); // one session saved
    /// # Ok(()) }
    /// ```
    pub fn pool(&self) -> &Pool<DB> {
        &self.store().pool
    }

    /// The pool that serves reads: on an SQLite file sessionkit opened, the readers beside
    /// the one writer ([`pool`](Self::pool)); otherwise the same pool.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::DbEngine;
    /// use sessionkit::Settings;
    ///
    /// let dir = std::env::temp_dir().join(format!("readers-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let db_url = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
    /// let engine = DbEngine::connect(&Settings { db_url, ..Settings::new("secret") }).await?;
    /// assert_eq!(engine.pool().options().get_max_connections(), 1); // one writer
    /// assert_eq!(engine.readers().options().get_max_connections(), 4); // and four readers
    /// engine.close().await;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn readers(&self) -> &Pool<DB> {
        &self.store().readers
    }

    /// Closes the engine's pools (the writer's and the readers'): later statements fail as
    /// with a database that is down.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{DbEngine, Engine};
    /// use sessionkit::Settings;
    ///
    /// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
    /// let engine = DbEngine::connect(&settings).await?;
    /// engine.close().await;
    /// assert!(engine.exists("abcdefgh12345678").await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) {
        self.store().pool.close().await;
        self.store().readers.close().await;
    }

    /// The dialect in use.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::DbEngine;
    /// use sessionkit::engine::db::Dialect;
    /// use sessionkit::Settings;
    ///
    /// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
    /// assert_eq!(DbEngine::connect(&settings).await?.dialect(), Dialect::Sqlite);
    /// # Ok(()) }
    /// ```
    pub fn dialect(&self) -> Dialect {
        self.store().dialect
    }
}

/// Session records in a SQL table: on sqlx's `Any` when opened from `SESSION_DB_URL`
/// ([`SqlStore::connect`]), or on the application's own `Pool<Postgres>`, `Pool<MySql>` or
/// `Pool<Sqlite>` ([`SqlStore::with_pool`]). The statements are the same; the dialect is the
/// URL's or the pool type's.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionkit::engine::{Addressing, RecordStore, SqlStore};
/// use sessionkit::Settings;
///
/// let db_url = "sqlite::memory:".to_owned();
/// let own = SqlStore::connect(&Settings { db_url: db_url.clone(), ..Settings::new("s") }).await?;
/// assert_eq!(own.addressing(), Addressing::Hashed);
/// let django = Settings { db_url, db_table: "django_session".into(), ..Settings::new("s") };
/// let django = SqlStore::connect(&django).await?;
/// assert_eq!(django.addressing(), Addressing::Plain); // Django looks rows up by the key
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SqlStore<DB: Database = Any> {
    /// Writes, locks and the schema; everything, unless `readers` is a pool of its own.
    pool: Pool<DB>,
    /// Reads that need no lock: on an SQLite file sessionkit opened, connections beside the
    /// one writer; otherwise `pool` again.
    readers: Pool<DB>,
    /// How long finding out why the pool had no connection may take.
    probe_timeout: Duration,
    dialect: Dialect,
    format: TableFormat,
    queries: Arc<Queries>,
    signer: Signer,
    /// On an SQLite file sessionkit opened, the writes are committed in groups.
    group_commit: Option<GroupCommit>,
    /// In sessionkit's format, loads and updates are sent in batches (on any pool: they start
    /// with the first request).
    batches: Option<StoreBatches>,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
            readers: self.readers.clone(),
            probe_timeout: self.probe_timeout,
            dialect: self.dialect,
            format: self.format,
            queries: self.queries.clone(),
            signer: self.signer.clone(),
            group_commit: self.group_commit.clone(),
            batches: self.batches.clone(),
        }
    }
}

impl SqlStore {
    /// Connects to `SESSION_DB_URL`; see [`DbEngine::connect`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{RecordStore, SqlStore};
    /// use sessionkit::{EngineKind, Settings};
    ///
    /// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
    /// let store = SqlStore::connect(&settings).await?;
    /// store.migrate().await?; // connecting does not create the table
    /// assert_eq!(store.name(), "db");
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: impl Into<DbConfig>) -> Result<Self, EngineError> {
        let DbConfig {
            url: db_url,
            pool_size,
            idle_timeout,
            sqlite_synchronous,
            table,
            ca_file,
            timeout,
            secrets,
        } = config.into();
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(&db_url).ok_or_else(|| {
            EngineError::unavailable(std::io::Error::other(
                "SESSION_DB_URL has an unknown scheme",
            ))
        })?;
        let url = match dialect {
            Dialect::Sqlite => sqlite_url_creating_the_file(&db_url),
            Dialect::Postgres | Dialect::MySql => match &ca_file {
                Some(ca_file) => url_with_ca_file(&db_url, ca_file),
                None => db_url.clone(),
            },
        };
        let config = DbTableConfig {
            table,
            timeout,
            secrets,
        };
        // The pool gives up before the store timeout, so that finding out why (one direct
        // attempt to connect, up to a fifth of it) still ends within the timeout.
        let options = |connections| pool_options(connections, timeout * 3 / 4, idle_timeout);
        let lazy = |options: sqlx::any::AnyPoolOptions| {
            options.connect_lazy(&url).map_err(EngineError::unavailable)
        };
        let unreachable = |cause: connection::NoConnection| {
            EngineError::unavailable(Unreachable {
                url: redact_password(&db_url),
                hint: certificate_hint(&cause.to_string(), ca_file.as_deref()),
                cause,
            })
        };
        let store = match dialect {
            Dialect::Postgres | Dialect::MySql => {
                let pool = lazy(options(pool_size.unwrap_or(DEFAULT_POOL_SIZE)))?;
                SqlStore::on_pool(pool, dialect, config)
            }
            // An in-memory database lives in its pool's connections (sqlx shares it between
            // them through SQLite's shared cache, which has no WAL): one pool does everything.
            Dialect::Sqlite if sqlite_in_memory(&url) => {
                let pool = lazy(options(pool_size.unwrap_or(1)))?;
                SqlStore::on_pool(pool, dialect, config)
            }
            // SQLite runs one writer at a time; several writing connections would only take
            // turns through its busy handler, which sleeps in steps of up to 100 ms. One writer
            // queues writes in the pool instead, without sleeping, and readers beside it read
            // the last commit while it writes.
            Dialect::Sqlite => {
                let writer = on_sqlite(options(1), sqlite_synchronous, SqliteRole::Writer);
                let readers = pool_size.unwrap_or(DEFAULT_SQLITE_READERS);
                let readers = on_sqlite(options(readers), sqlite_synchronous, SqliteRole::Reader);
                SqlStore::on_pool(lazy(writer)?, dialect, config)
                    .with_readers(lazy(readers)?)
                    .committing_in_groups()
            }
        };
        // Connect now, so that an unreachable database stops the start-up, saying why.
        let mut first = connection::acquire(&store.pool, store.probe_timeout)
            .await
            .map_err(unreachable)?;
        if dialect == Dialect::Sqlite {
            // WAL lets readers proceed while the writer commits; the mode sticks to the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&mut *first)
                .await
                .map_err(EngineError::unavailable)?;
        }
        drop(first);
        connection::acquire(&store.readers, store.probe_timeout)
            .await
            .map_err(unreachable)?;
        Ok(store)
    }
}

impl<DB: TypedBackend> SqlStore<DB> {
    /// Keeps sessions on the application's own pool: one pool for the app's queries and its
    /// sessions, sized and configured by the app. Opens nothing; the table is created by
    /// [`RecordStore::migrate`](super::RecordStore::migrate) as usual. On SQLite, the journal mode, the `synchronous`
    /// setting and the connections stay the app's choice (sessionkit's own pool turns on WAL
    /// and reads beside its writer). On PostgreSQL and MySQL the loads and updates go in batches
    /// as on sessionkit's own pool, taking up to four of the pool's connections at a time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{RecordStore, SqlStore};
    /// use sessionkit::engine::db::{DbTableConfig, Dialect};
    /// use sessionkit::Settings;
    ///
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    /// let settings = Settings { db_table: "app_sessions".into(), ..Settings::new("secret") };
    /// let store = SqlStore::with_pool(pool.clone(), &settings);
    /// store.migrate().await?;
    /// let tables: i64 = sqlx::query_scalar(
    ///     "SELECT COUNT(*) FROM sqlite_master WHERE name = 'app_sessions'",
    /// )
    /// .fetch_one(&pool)
    /// .await?;
    /// assert_eq!(tables, 1); // on the app's pool
    /// # Ok(()) }
    /// ```
    pub fn with_pool(pool: Pool<DB>, config: impl Into<DbTableConfig>) -> Self {
        SqlStore::on_pool(pool, DB::DIALECT, config.into())
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// The store on `pool`, which speaks `dialect`.
    fn on_pool(pool: Pool<DB>, dialect: Dialect, config: DbTableConfig) -> Self {
        let DbTableConfig {
            table,
            timeout,
            secrets,
        } = config;
        let format = TableFormat::of_table(&table);
        let probe_timeout = timeout / 5;
        let batches = BatchQueries::of(dialect, format, &table)
            .map(|queries| StoreBatches::new(queries, probe_timeout, timeout));
        SqlStore {
            readers: pool.clone(),
            pool,
            probe_timeout,
            dialect,
            format,
            queries: Arc::new(Queries::new(dialect, format, &table)),
            signer: Signer::new(STORE_SALT, &secrets.key, &secrets.fallbacks)
                .compressing_from(SMALL_VALUE_BYTES),
            group_commit: None,
            batches,
        }
    }

    /// The store reading through `readers` instead of its pool.
    fn with_readers(self, readers: Pool<DB>) -> Self {
        SqlStore { readers, ..self }
    }

    /// The store committing its writes in groups ([`group_commit`]), for a pool of one
    /// writing connection.
    fn committing_in_groups(self) -> Self {
        let group_commit = GroupCommit::start(self.pool.clone(), self.probe_timeout);
        SqlStore {
            group_commit: Some(group_commit),
            ..self
        }
    }

    /// Runs `sql`, a statement that writes: in the next group where writes are committed in
    /// groups, else on a connection of the pool.
    async fn write(&self, sql: &Arc<str>, params: &[Param<'_>]) -> Outcome {
        match &self.group_commit {
            Some(group_commit) => group_commit.write(sql, params).await,
            None => Ok(DB::execute(&mut *self.connection().await?, sql, params).await),
        }
    }

    /// A connection for a statement that writes (or must see the writer's own state).
    async fn connection(&self) -> Result<PoolConnection<DB>, EngineError> {
        self.acquire(&self.pool).await
    }

    /// A connection for a statement that only reads: it does not wait for the writer.
    async fn reader(&self) -> Result<PoolConnection<DB>, EngineError> {
        self.acquire(&self.readers).await
    }

    /// The batches, where this store sends its loads and updates in batches and the server
    /// takes them ([`StoreBatches::usable`]).
    async fn batches(&self) -> Result<Option<&StoreBatches>, EngineError> {
        match &self.batches {
            Some(batches) if batches.usable(&self.pool).await? => Ok(Some(batches)),
            _ => Ok(None),
        }
    }

    /// A pooled connection from `pool`; if there is none, the error says why.
    async fn acquire(&self, pool: &Pool<DB>) -> Result<PoolConnection<DB>, EngineError> {
        DB::acquire(pool, self.probe_timeout)
            .await
            .map_err(EngineError::unavailable)
    }

    /// `session_data` in Django's format, signed at `now`.
    fn encode(&self, data: &Data, now: OffsetDateTime) -> String {
        self.signer.sign_object(
            data,
            u64::try_from(now.unix_timestamp()).unwrap_or_default(),
        )
    }

    /// Decodes a row whose first columns are `load`'s (see [`StoredRow`]).
    fn decode(&self, row: &DB::Row) -> Result<Option<(Loaded, OffsetDateTime)>, EngineError> {
        let stored = StoredRow::read::<DB>(row, 0).map_err(EngineError::unavailable)?;
        self.decode_stored(stored)
    }

    /// Decodes `session_data`; data that fails verification is logged and treated as absent,
    /// as Django does with "Session data corrupted".
    fn decode_stored(
        &self,
        stored: StoredRow,
    ) -> Result<Option<(Loaded, OffsetDateTime)>, EngineError> {
        let StoredRow {
            data: text,
            version,
            expires,
        } = stored;
        let expires =
            OffsetDateTime::from_unix_timestamp(expires).map_err(EngineError::unavailable)?;
        match self.signer.unsign_object(&text, None, SystemTime::now()) {
            Ok(unsigned) => Ok(Some((
                Loaded {
                    data: Arc::new(unsigned.data),
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

    /// The live record and when it expires (what `cached_db` needs to fill its cache).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use sessionkit::engine::{Data, RecordStore, RecordWrite, SqlStore};
    /// use sessionkit::Settings;
    /// use sessionkit::engine::SessionKey;
    ///
    /// let settings = Settings { db_url: "sqlite::memory:".into(), ..Settings::new("secret") };
    /// let store = SqlStore::connect(&settings).await?;
    /// store.migrate().await?;
    /// let id = SessionKey::generate().hashed();
    /// let now = time::OffsetDateTime::now_utc().replace_nanosecond(0)?;
    /// let expires = now + time::Duration::hours(1);
    /// let data = Arc::new(Data::new());
    /// store.insert(&id, RecordWrite::new(&data, expires, now)).await?;
    /// let (loaded, when) = store.fetch_with_expiry(&id).await?.unwrap();
    /// assert_eq!((loaded.version, when), (1, expires));
    /// # Ok(()) }
    /// ```
    pub async fn fetch_with_expiry(
        &self,
        id: &str,
    ) -> Result<Option<(Loaded, OffsetDateTime)>, EngineError> {
        let stored = match self.batches().await? {
            Some(batches) => batches.load(&self.readers, id, now_seconds()).await?,
            None => {
                let params = [Param::Text(id), Param::Integer(now_seconds())];
                let sql = &self.queries.load;
                DB::fetch_optional(&mut *self.reader().await?, sql, &params)
                    .await
                    .and_then(|row| row.map(|row| StoredRow::read::<DB>(&row, 0)).transpose())
                    .map_err(EngineError::unavailable)?
            }
        };
        match stored {
            Some(stored) => self.decode_stored(stored),
            None => Ok(None),
        }
    }
}

/// A row's `session_data`, `version` and `expire_date` (Unix seconds), as `load` selects
/// them.
#[derive(Debug)]
struct StoredRow {
    data: String,
    version: i64,
    expires: i64,
}

impl StoredRow {
    /// Reads them from `row`, starting at column `first`.
    fn read<DB: Backend>(row: &DB::Row, first: usize) -> Result<Self, sqlx::Error> {
        Ok(StoredRow {
            data: DB::text(row, first)?,
            version: DB::integer(row, first + 1)?,
            expires: DB::integer(row, first + 2)?,
        })
    }
}

/// The current time in Unix seconds, as the table keeps expiry dates.
fn now_seconds() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A deadlock or serialization failure (SQLSTATE class 40): the statement lost a race, the
/// database is fine.
fn is_lock_contention(error: &dyn sqlx::error::DatabaseError) -> bool {
    error.code().is_some_and(|code| code.starts_with("40"))
}

/// The file an SQLite `SESSION_DB_URL` names, or `None` for an in-memory database or another
/// dialect. Opening the engine creates a missing file (empty), so a tool that expects sessions
/// there (`sessionkit clearsessions`) checks first that it exists.
///
/// ```
/// use std::path::Path;
/// use sessionkit::engine::db::sqlite_file;
///
/// let file = sqlite_file("sqlite://sessionkit.sqlite3");
/// assert_eq!(file.as_deref(), Some(Path::new("sessionkit.sqlite3")));
/// let file = sqlite_file("sqlite:///var/lib/app/sessions.db?mode=rwc");
/// assert_eq!(file.as_deref(), Some(Path::new("/var/lib/app/sessions.db")));
/// assert_eq!(sqlite_file("sqlite::memory:"), None);
/// assert_eq!(sqlite_file("postgres://app@db/app"), None);
/// ```
#[cfg(feature = "sqlite")]
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if Dialect::of_url(url) != Some(Dialect::Sqlite) || sqlite_in_memory(url) {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    Some(options.get_filename().to_owned())
}

/// Whether an SQLite URL names an in-memory database rather than a file.
fn sqlite_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
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

#[cfg(test)]
mod tests {
    use super::*;

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
