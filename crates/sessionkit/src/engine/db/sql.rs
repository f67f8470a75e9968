//! The SQL of the `db` engine, apart from the engine: which dialect and table layout, every
//! statement the store runs, the schema `migrate` creates, and the pool's options.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AssertSqlSafe, Connection as _};

use crate::config::{SqliteSynchronous, StoreScheme};

/// A pooled connection idle this long is pinged before use: the database may have restarted
/// or a firewall dropped it meanwhile. Connections in steady use are not pinged.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(10);

/// The SQL dialects the engine speaks.
///
/// ```
/// use sessionkit::engine::db::Dialect;
///
/// assert_eq!(Dialect::of_url("postgresql://app@db/app"), Some(Dialect::Postgres));
/// assert_eq!(Dialect::of_url("mariadb://app@db/app"), Some(Dialect::MySql));
/// ```
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
    ///
    /// ```
    /// use sessionkit::engine::db::Dialect;
    ///
    /// assert_eq!(Dialect::of_url("sqlite://sessions.sqlite3"), Some(Dialect::Sqlite));
    /// assert_eq!(Dialect::of_url("mysql://app@db/app"), Some(Dialect::MySql));
    /// assert_eq!(Dialect::of_url("redis://localhost"), None);
    /// ```
    pub fn of_url(url: &str) -> Option<Dialect> {
        match StoreScheme::of(url)? {
            StoreScheme::Sqlite => Some(Dialect::Sqlite),
            StoreScheme::Postgres => Some(Dialect::Postgres),
            StoreScheme::MySql => Some(Dialect::MySql),
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

    /// `?` (Unix seconds) as a value of Django's `expire_date` column.
    fn timestamp_param(self) -> &'static str {
        match self {
            Dialect::Sqlite => "datetime(?, 'unixepoch')",
            Dialect::Postgres => "to_timestamp(?)",
            // Django keeps naive UTC datetimes in MySQL; this avoids the session time zone.
            Dialect::MySql => "TIMESTAMPADD(SECOND, ?, '1970-01-01 00:00:00')",
        }
    }

    /// `0` as a 64-bit integer: the version of every row of Django's table, which has none.
    /// A bare `0` is a 32-bit integer to PostgreSQL, which a typed pool will not read as the
    /// version's `i64`.
    fn bigint_zero(self) -> &'static str {
        match self {
            Dialect::Sqlite | Dialect::Postgres => "CAST(0 AS BIGINT)",
            Dialect::MySql => "CAST(0 AS SIGNED)",
        }
    }

    /// Django's `expire_date` column as Unix seconds.
    fn timestamp_column(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST(strftime('%s', expire_date) AS INTEGER)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM expire_date) AS BIGINT)",
            Dialect::MySql => "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', expire_date)",
        }
    }
}

/// Which table layout the engine reads and writes: `SESSION_DB_TABLE=django_session` shares
/// the sessions with a Django app on the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableFormat {
    /// sessionkit's own table: hashed keys, a version for compare-and-swap, the user id.
    Sessionkit,
    /// Django's `django_session`, exactly: plain keys, no version, a datetime `expire_date`,
    /// so a Django app on the same database shares the sessions. Saves there are
    /// last-writer-wins, as in Django, because the table has no version to compare.
    Django,
}

impl TableFormat {
    /// The format `SESSION_DB_TABLE` selects: `django_session` (exactly) means Django's.
    pub(crate) fn of_table(table: &str) -> TableFormat {
        if table == "django_session" {
            TableFormat::Django
        } else {
            TableFormat::Sessionkit
        }
    }
}

/// Every statement the engine runs, built once for its table, format and dialect. The
/// statements of both formats take the same parameters in the same order where they can;
/// `insert` and `update` bind fewer for Django's table (see [`SqlStore`]).
#[derive(Debug)]
pub(super) struct Queries {
    pub(super) schema: Vec<Arc<str>>,
    pub(super) load: Arc<str>,
    pub(super) exists: Arc<str>,
    pub(super) by_user: Arc<str>,
    pub(super) scan: Arc<str>,
    pub(super) insert: Arc<str>,
    pub(super) update: Arc<str>,
    pub(super) delete: Arc<str>,
    pub(super) delete_expired_batch: Arc<str>,
    pub(super) count_expired: Arc<str>,
    pub(super) lock_held: Arc<str>,
    pub(super) drop_lapsed_lock: Arc<str>,
    pub(super) take_lock: Arc<str>,
    pub(super) release_lock: Arc<str>,
}

/// `load` and `update` for many keys in one statement, the requests' rows in a JSON array
/// (the one parameter), a load's with its place (`i`); every row returned starts with the place
/// (a load) or the key (an update, one per key in a batch; see [`batches`](super::batches)). On
/// PostgreSQL, SQLite (which has `json_each`, `UPDATE … FROM` and `RETURNING` in the version
/// sqlx bundles) and MySQL (`JSON_TABLE`: MySQL 8, MariaDB 10.6).
///
/// Each key is looked up on its own, in a `LATERAL` subquery with `LIMIT 1` (which PostgreSQL
/// does not fold into a join), so it is always a probe of the primary key: as a plain join
/// of `json_to_recordset` (estimated at 100 rows) with a table of a few thousand rows,
/// PostgreSQL chose a hash join over a sequential scan, dead rows and all, for every batch
/// (136 µs of PostgreSQL's CPU per request; 52 µs with the probes). The update then finds its
/// row by the address the probe returned (`ctid`): a row updated since is at a new address,
/// so it is not updated and reported stale, as its version would have it anyway.
#[derive(Debug, Clone)]
pub(super) struct BatchQueries {
    pub(super) load: Arc<str>,
    pub(super) update: BatchSql,
    /// A statement that fails on a server without what `load` and `update` need, where some
    /// servers of the dialect lack it: on MySQL, `JSON_TABLE` (MySQL 5.7 and MariaDB 10.5 have
    /// none, nor have some servers that speak MySQL's protocol).
    pub(super) probe: Option<Arc<str>>,
    /// The size of a batch after which the next waits for it (`PATIENCE` in batches.rs):
    /// requests that came together once will likely come together again. 2 on PostgreSQL and
    /// MySQL: after a batch of one, waiting there only adds a network round trip to the next
    /// request's time. 1 on SQLite, whose round trip is a hand-off to its connection's thread.
    /// Measured (`incr`, 3 alternating rounds, req/s against two in flight without waiting):
    /// PostgreSQL 1.14× at 64 clients, 1.12× at 8, 0.98× at 2 (waiting after every batch:
    /// 1.18×, 1.13×, 0.82×); MariaDB 1.18× at 64, 1.02× at 2. SQLite, waiting after every
    /// batch against after batches of two or more: 0.99× at 64 clients, 1.12× at 8 and at 2;
    /// in a second run, 1.10× at 64 and at 2.
    pub(super) busy: usize,
}

/// How a batch's statement runs.
#[derive(Debug, Clone)]
pub(super) enum BatchSql {
    /// One statement, whose rows answer the requests.
    One(Arc<str>),
    /// MySQL has no `UPDATE … RETURNING`, but it counts the rows an `UPDATE` wrote. So, in a
    /// transaction, `update` writes the rows still at their versions: when it wrote one for each
    /// request sent (the common case), it commits and every request's row was written; when it
    /// wrote none, every request was stale. When it wrote some, it is rolled back and a second
    /// transaction finds out which: `lock` returns (and locks) the rows still at their versions,
    /// whose keys answer the requests, then `update` writes them. (A count of fewer cannot say
    /// which rows: a row another writer moved to the version this batch would have given it looks
    /// the same.)
    CountedOrLocked { update: Arc<str>, lock: Arc<str> },
}

impl BatchQueries {
    /// The statements for `table`, where batches can be sent: in sessionkit's format (Django's
    /// table has no version to compare).
    pub(super) fn of(dialect: Dialect, format: TableFormat, table: &str) -> Option<Self> {
        match (dialect, format) {
            (Dialect::Postgres, TableFormat::Sessionkit) => Some(BatchQueries::postgres(table)),
            (Dialect::Sqlite, TableFormat::Sessionkit) => Some(BatchQueries::sqlite(table)),
            (Dialect::MySql, TableFormat::Sessionkit) => Some(BatchQueries::mysql(table)),
            (_, TableFormat::Django) => None,
        }
    }

    /// On SQLite a join of `json_each` with the table: its planner probes the primary key for
    /// each element. `UPDATE … FROM` applies one of two rows for a key without saying which,
    /// hence one update per key in a batch.
    fn sqlite(table: &str) -> Self {
        BatchQueries {
            load: format!(
                "SELECT json_extract(b.value, '$.i'), t.session_data, t.version, t.expire_date \
                 FROM json_each(?) AS b JOIN {table} AS t \
                 ON t.session_key_hash = json_extract(b.value, '$.k') \
                 AND t.expire_date > json_extract(b.value, '$.n')"
            )
            .into(),
            update: BatchSql::One(
                format!(
                    "UPDATE {table} AS t SET session_data = json_extract(b.value, '$.d'), \
                     expire_date = json_extract(b.value, '$.e'), \
                     user_id = json_extract(b.value, '$.u'), version = t.version + 1 \
                     FROM json_each(?) AS b \
                     WHERE t.session_key_hash = json_extract(b.value, '$.k') \
                     AND t.version = json_extract(b.value, '$.v') \
                     RETURNING session_key_hash"
                )
                .into(),
            ),
            probe: None,
            busy: 1,
        }
    }

    fn postgres(table: &str) -> Self {
        BatchQueries {
            load: format!(
                "SELECT b.i, t.session_data, t.version, t.expire_date \
                 FROM json_to_recordset($1::json) AS b(i BIGINT, k TEXT, n BIGINT) \
                 CROSS JOIN LATERAL (SELECT session_data, version, expire_date FROM {table} \
                 WHERE session_key_hash = b.k AND expire_date > b.n LIMIT 1) AS t"
            )
            .into(),
            update: BatchSql::One(
                format!(
                    "UPDATE {table} AS t SET session_data = b.d, expire_date = b.e, \
                     user_id = b.u, version = t.version + 1 \
                     FROM json_to_recordset($1::json) \
                     AS b(k TEXT, d TEXT, e BIGINT, u TEXT, v BIGINT) \
                     CROSS JOIN LATERAL \
                     (SELECT ctid AS address FROM {table} \
                     WHERE session_key_hash = b.k LIMIT 1) AS r \
                     WHERE t.ctid = r.address AND t.version = b.v \
                     RETURNING t.session_key_hash"
                )
                .into(),
            ),
            probe: None,
            busy: 2,
        }
    }

    /// On MySQL each request's row joins the table's by primary key, in the order of the
    /// parameter (`STRAIGHT_JOIN`, `FORCE INDEX`): on a small table the planner would rather
    /// scan it, and a locking scan locks every row it passes. The key is ASCII, so it compares
    /// with the key column whatever that column's character set (as `utf8mb4`, against a
    /// `latin1` column, it would keep the index from being used).
    fn mysql(table: &str) -> Self {
        let rows = |columns: &str| {
            format!(
                "JSON_TABLE(?, '$[*]' COLUMNS (k VARCHAR(64) CHARACTER SET ascii PATH '$.k', \
                 {columns})) AS b STRAIGHT_JOIN {table} AS t FORCE INDEX (PRIMARY) \
                 ON t.session_key_hash = b.k"
            )
        };
        let load = rows("i BIGINT PATH '$.i', n BIGINT PATH '$.n'");
        let lock = rows("v BIGINT PATH '$.v'");
        let update = rows(
            "d LONGTEXT PATH '$.d', e BIGINT PATH '$.e', u VARCHAR(191) PATH '$.u', \
             v BIGINT PATH '$.v'",
        );
        BatchQueries {
            load: format!(
                "SELECT b.i, t.session_data, t.version, t.expire_date FROM {load} \
                 AND t.expire_date > b.n"
            )
            .into(),
            update: BatchSql::CountedOrLocked {
                update: format!(
                    "UPDATE {update} AND t.version = b.v SET t.session_data = b.d, \
                     t.expire_date = b.e, t.user_id = b.u, t.version = t.version + 1"
                )
                .into(),
                lock: format!(
                    "SELECT t.session_key_hash FROM {lock} AND t.version = b.v FOR UPDATE"
                )
                .into(),
            },
            probe: Some(
                "SELECT COUNT(*) FROM JSON_TABLE('[1]', '$[*]' COLUMNS (n INT PATH '$')) AS b"
                    .into(),
            ),
            busy: 2,
        }
    }
}

impl Queries {
    // Long, as a list of statements is: every query of the store, written out once here.
    pub(super) fn new(dialect: Dialect, format: TableFormat, table: &str) -> Self {
        let sql = |text: String| dialect.placeholders(&text);
        let (key, expire_param, expire_column, version) = match format {
            TableFormat::Sessionkit => ("session_key_hash", "?", "expire_date", "version"),
            TableFormat::Django => (
                "session_key",
                dialect.timestamp_param(),
                dialect.timestamp_column(),
                dialect.bigint_zero(),
            ),
        };
        let (insert, update) = match format {
            TableFormat::Sessionkit => (
                format!(
                    "INSERT INTO {table} \
                     (session_key_hash, session_data, expire_date, created_at, version, user_id) \
                     VALUES (?, ?, ?, ?, 1, ?)"
                ),
                format!(
                    "UPDATE {table} SET session_data = ?, expire_date = ?, user_id = ?, \
                     version = version + 1 WHERE session_key_hash = ? AND version = ?"
                ),
            ),
            TableFormat::Django => (
                format!(
                    "INSERT INTO {table} (session_key, session_data, expire_date) \
                     VALUES (?, ?, {expire_param})"
                ),
                format!(
                    "UPDATE {table} SET session_data = ?, expire_date = {expire_param} \
                     WHERE session_key = ?"
                ),
            ),
        };
        let delete_expired_batch = match dialect {
            Dialect::MySql => {
                format!("DELETE FROM {table} WHERE expire_date < {expire_param} LIMIT ?")
            }
            // By row address: no second lookup of each row by its key.
            Dialect::Sqlite => format!(
                "DELETE FROM {table} WHERE rowid IN \
                 (SELECT rowid FROM {table} WHERE expire_date < {expire_param} LIMIT ?)"
            ),
            // By row address (`ctid`), with no second lookup of each row by its key. No row
            // locks (`FOR UPDATE SKIP LOCKED` halved the rate, 204k -> 424k rows/s without):
            // an instance sweeping at the same time finds the rows gone, and a row renewed
            // meanwhile has a new `ctid`, so it is kept.
            Dialect::Postgres => format!(
                "DELETE FROM {table} WHERE ctid = ANY(ARRAY(\
                 SELECT ctid FROM {table} WHERE expire_date < {expire_param} LIMIT ?))"
            ),
        };
        Queries {
            schema: schema(dialect, format, table)
                .into_iter()
                .map(sql)
                .collect(),
            load: sql(format!(
                "SELECT session_data, {version}, {expire_column} FROM {table} \
                 WHERE {key} = ? AND expire_date > {expire_param}"
            )),
            exists: sql(format!(
                "SELECT 1 FROM {table} WHERE {key} = ? AND expire_date > {expire_param}"
            )),
            by_user: sql(format!(
                "SELECT session_data, version, expire_date, session_key_hash FROM {table} \
                 WHERE user_id = ? AND expire_date > ?"
            )),
            scan: sql(format!(
                "SELECT session_data, {version}, {expire_column}, {key} FROM {table} \
                 WHERE {key} > ? AND expire_date > {expire_param} ORDER BY {key} LIMIT ?"
            )),
            insert: sql(insert),
            update: sql(update),
            delete: sql(format!("DELETE FROM {table} WHERE {key} = ?")),
            delete_expired_batch: sql(delete_expired_batch),
            count_expired: sql(format!(
                "SELECT COUNT(*) FROM {table} WHERE expire_date < {expire_param}"
            )),
            lock_held: sql(format!(
                "SELECT 1 FROM {table}_lock WHERE session_key_hash = ? AND expires_ms >= ?"
            )),
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

/// `options` whose every new SQLite connection commits with `synchronous` and, for a
/// reader, refuses to write (`query_only`): a statement routed to the wrong pool fails loudly
/// instead of writing past the one writer.
pub(super) fn on_sqlite(
    options: AnyPoolOptions,
    synchronous: SqliteSynchronous,
    role: SqliteRole,
) -> AnyPoolOptions {
    let pragmas = format!(
        "PRAGMA synchronous = {}; PRAGMA query_only = {}",
        synchronous.pragma(),
        match role {
            SqliteRole::Writer => "OFF",
            SqliteRole::Reader => "ON",
        }
    );
    let pragmas: Arc<str> = pragmas.into();
    options.after_connect(move |connection, _| {
        let pragmas = pragmas.clone();
        Box::pin(async move {
            sqlx::raw_sql(AssertSqlSafe(pragmas))
                .execute(connection)
                .await?;
            Ok(())
        })
    })
}

/// Which of sessionkit's two SQLite pools a connection is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SqliteRole {
    /// The one connection that writes.
    Writer,
    /// One of the connections that read beside it (WAL lets them read during a write).
    Reader,
}

/// A pool of up to `connections` that waits at most `acquire_timeout` for one and closes one
/// unused for `idle_timeout`.
pub(super) fn pool_options(
    connections: u32,
    acquire_timeout: Duration,
    idle_timeout: Duration,
) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(acquire_timeout)
        .idle_timeout(idle_timeout)
        // sqlx pings every connection it hands out by default: one more round trip per
        // statement, a third of the server's CPU per request on PostgreSQL. A connection in
        // steady use is known to be alive; only one idle for a while is checked.
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// The tables `migrate` creates: the session table (with its indexes) and `{table}_lock`.
// Long, as DDL is: each table and index spelled out per dialect.
fn schema(dialect: Dialect, format: TableFormat, table: &str) -> Vec<String> {
    let text = match dialect {
        Dialect::MySql => "LONGTEXT",
        Dialect::Sqlite | Dialect::Postgres => "TEXT",
    };
    let (columns, indexed) = match format {
        TableFormat::Sessionkit => (
            format!(
                "session_key_hash VARCHAR(64) NOT NULL PRIMARY KEY, \
                 session_data {text} NOT NULL, \
                 expire_date BIGINT NOT NULL, \
                 created_at BIGINT NOT NULL, \
                 version BIGINT NOT NULL, \
                 user_id VARCHAR(191) NULL"
            ),
            vec!["expire_date", "user_id"],
        ),
        // Django's own DDL for django.contrib.sessions (migration 0001).
        TableFormat::Django => {
            let datetime = match dialect {
                Dialect::Sqlite => "datetime",
                Dialect::Postgres => "timestamp with time zone",
                Dialect::MySql => "datetime(6)",
            };
            (
                format!(
                    "session_key VARCHAR(40) NOT NULL PRIMARY KEY, \
                     session_data {text} NOT NULL, \
                     expire_date {datetime} NOT NULL"
                ),
                vec!["expire_date"],
            )
        }
    };
    let index_name = |column: &str| match (format, column) {
        // The name Django's migration gives it, so Django's migrations find it in place.
        (TableFormat::Django, _) => "django_session_expire_date_a5c62663".to_owned(),
        (TableFormat::Sessionkit, column) => format!("{table}_{column}"),
    };
    let locks = format!(
        "CREATE TABLE IF NOT EXISTS {table}_lock (\
         session_key_hash VARCHAR(64) NOT NULL PRIMARY KEY, \
         token VARCHAR(64) NOT NULL, \
         expires_ms BIGINT NOT NULL)"
    );
    match dialect {
        // MySQL has no CREATE INDEX IF NOT EXISTS; inline indexes come with the table.
        Dialect::MySql => {
            let indexes: Vec<String> = indexed
                .iter()
                .map(|column| format!(", INDEX {} ({column})", index_name(column)))
                .collect();
            vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} ({columns}{})",
                    indexes.concat()
                ),
                locks,
            ]
        }
        Dialect::Sqlite | Dialect::Postgres => {
            let mut statements = vec![format!("CREATE TABLE IF NOT EXISTS {table} ({columns})")];
            statements.extend(indexed.iter().map(|column| {
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {table} ({column})",
                    index_name(column)
                )
            }));
            statements.push(locks);
            statements
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_name_django_session_selects_djangos_table() {
        assert_eq!(
            TableFormat::of_table("sessionkit_session"),
            TableFormat::Sessionkit
        );
        assert_eq!(TableFormat::of_table("django_session"), TableFormat::Django);
        assert_eq!(
            TableFormat::of_table("Django_Session"),
            TableFormat::Sessionkit
        );
    }

    #[test]
    fn postgres_gets_numbered_placeholders() {
        assert_eq!(
            &*Dialect::Postgres.placeholders("a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(&*Dialect::MySql.placeholders("a = ?"), "a = ?");
    }
}
