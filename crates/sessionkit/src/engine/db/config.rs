//! What the `db` engine is configured with: [`DbConfig`] when it opens its own pool (from
//! `SESSION_DB_*`), [`DbTableConfig`] on a pool the application brings; both filled from the
//! settings in `engine/open.rs`.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Secrets, SqliteSynchronous};

/// Where and how the `db` engine keeps sessions when it opens its own pool. `From<&Settings>`
/// fills it from `SESSION_DB_URL`, `SESSION_DB_POOL_SIZE`, `SESSION_DB_IDLE_TIMEOUT`,
/// `SESSION_DB_SQLITE_SYNCHRONOUS`, `SESSION_DB_TABLE`, `SESSION_STORE_CA_FILE`,
/// `SESSION_STORE_TIMEOUT` and the secrets.
///
/// ```
/// use std::time::Duration;
/// use sessionkit::Settings;
/// use sessionkit::engine::db::DbConfig;
///
/// let config = DbConfig::from(&Settings::new("secret"));
/// assert_eq!(config.table, "sessionkit_session");
/// assert_eq!(config.timeout, Duration::from_secs(5));
/// assert_eq!(config.pool_size, None); // 10 connections; on an SQLite file 1 writer, 4 readers
/// assert_eq!(config.idle_timeout, Duration::from_secs(600));
/// assert_eq!(config.sqlite_synchronous.pragma(), "NORMAL");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbConfig {
    /// `SESSION_DB_URL`: `sqlite:`, `postgres:` or `mysql:`/`mariadb:`.
    pub url: String,
    /// `SESSION_DB_POOL_SIZE`: the most connections the pool opens; `None` for the default,
    /// [`DEFAULT_POOL_SIZE`]. On an SQLite file, the readers beside the one writer (default
    /// [`DEFAULT_SQLITE_READERS`]); on an in-memory SQLite database, its one pool (default 1).
    pub pool_size: Option<u32>,
    /// `SESSION_DB_IDLE_TIMEOUT`: a pooled connection unused this long is closed.
    pub idle_timeout: Duration,
    /// `SESSION_DB_SQLITE_SYNCHRONOUS`: how an SQLite file makes commits durable; other
    /// databases ignore it.
    pub sqlite_synchronous: SqliteSynchronous,
    /// `SESSION_DB_TABLE`; `django_session` selects Django's own schema.
    pub table: String,
    /// `SESSION_STORE_CA_FILE`: the PEM CAs PostgreSQL's or MySQL's certificate is checked
    /// against (with the URL's `sslmode=verify-…`/`ssl-mode=VERIFY_…`), besides the built-in
    /// roots.
    pub ca_file: Option<PathBuf>,
    /// `SESSION_STORE_TIMEOUT`: the longest a statement may take before the request gets a 503.
    pub timeout: Duration,
    /// For Django's table, whose `session_data` is signed.
    pub secrets: Secrets,
}

/// `SESSION_DB_POOL_SIZE`'s default on PostgreSQL and MySQL: the connections sessionkit's own
/// pool opens at most.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// `SESSION_DB_POOL_SIZE`'s default on an SQLite file: the connections that read beside the
/// one writer. In WAL mode they read while it writes, so a request that only reads never
/// waits for a commit.
pub const DEFAULT_SQLITE_READERS: u32 = 4;

/// What the `db` engine needs on a pool the application brings
/// ([`SqlStore::with_pool`](super::SqlStore::with_pool)): the table and how to use it; the
/// pool's size and timeouts are the application's. `From<&Settings>` fills it from
/// `SESSION_DB_TABLE`, `SESSION_STORE_TIMEOUT` and the secrets.
///
/// ```
/// use sessionkit::Settings;
/// use sessionkit::engine::db::DbTableConfig;
///
/// let settings = Settings { db_table: "django_session".into(), ..Settings::new("secret") };
/// assert_eq!(DbTableConfig::from(&settings).table, "django_session");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTableConfig {
    /// `SESSION_DB_TABLE`; `django_session` selects Django's own schema.
    pub table: String,
    /// `SESSION_STORE_TIMEOUT`: the longest a statement may take before the request gets a 503.
    pub timeout: Duration,
    /// For Django's table, whose `session_data` is signed.
    pub secrets: Secrets,
}
