//! The built-in engines under test: the library's [`Harness`], each engine in a store of its
//! own, plus what the engine-specific behaviours look at (the db engine's table).
//!
//! Each test gets a fresh harness: cookie engines need nothing; SQLite gets a new file in a new
//! temporary directory; PostgreSQL and MariaDB get a new table (`SESSION_DB_TABLE`) in the
//! `test` database, so tests run in parallel without seeing each other. A server that is down
//! fails the test: the suite never skips an engine. The `*_own_pool` engines run the db engine
//! on a typed sqlx pool the test opens and hands over as an application would
//! (`SessionsBuilder::db_pool`), two connections at most.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

use sessionkit::engine::SessionKey;
use sessionkit::engine::db::{Dialect, TypedBackend};
use sessionkit::engine::{CachedDbStore, DbEngine, MemoryStore, SqlStore};
use sessionkit::testing::{Harness, SECRET};
use sessionkit::{EngineKind, Sessions, Settings};
use sqlx::pool::PoolOptions;
use sqlx::{AssertSqlSafe, MySql, Pool, Postgres, Row, Sqlite};

pub use crate::common::{REDIS_URL, delete_redis_keys, redis_connection};
pub use crate::redis_setups::Setup;

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306/test";
/// Django's table name, which switches the db engine to Django's schema.
pub const DJANGO_TABLE: &str = "django_session";

fn unique_table() -> String {
    format!("sk_test_{}", unique())
}

/// Runs one administrative statement (CREATE/DROP DATABASE) on `server`'s `test` database.
async fn admin(server: &str, statement: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(server)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {server}: {e}"));
    sqlx::query(AssertSqlSafe(statement.to_owned()))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    pool.close().await;
}

/// `settings` with the near cache on.
fn near(settings: Settings) -> Settings {
    Settings {
        near_cache: true,
        ..settings
    }
}

fn temporary_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sessionkit-conformance-{}", unique()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// A built-in engine under test: the library's harness, and a connection of its own to the
/// session table of the engines that have one.
pub struct EngineHarness {
    harness: Harness,
    /// The table's database, for the tests that look at the table itself.
    db: Option<DbEngine>,
}

impl Deref for EngineHarness {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

impl AsRef<Harness> for EngineHarness {
    fn as_ref(&self) -> &Harness {
        &self.harness
    }
}

/// What a harness made and its cleanup removes.
#[derive(Default, Clone)]
struct Leftovers {
    /// The session table and a connection of its own to it: dropped (PostgreSQL and MariaDB
    /// tables in the shared `test` database), then closed.
    table: Option<(DbEngine, String)>,
    /// The temporary directory of an SQLite or file harness.
    dir: Option<PathBuf>,
    /// The Redis key prefix of a Redis harness, whose keys are deleted.
    redis_prefix: Option<String>,
    /// A database made for this harness (Django's table has a fixed name), as
    /// `(server URL, database)`: dropped.
    database: Option<(&'static str, String)>,
}

impl Leftovers {
    async fn remove(&self) {
        if let Some((db, table)) = &self.table {
            if db.dialect() != Dialect::Sqlite && self.database.is_none() {
                let drop = format!("DROP TABLE IF EXISTS {table}");
                sqlx::query(AssertSqlSafe(drop))
                    .execute(db.pool())
                    .await
                    .expect("drop the test table");
            }
            db.close().await;
        }
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir).expect("remove the temporary directory");
        }
        if let Some((server, name)) = &self.database {
            // The engine's own pool is still connected: PostgreSQL must be told to end it.
            let force = if server.starts_with("postgres") {
                " WITH (FORCE)"
            } else {
                ""
            };
            admin(server, &format!("DROP DATABASE {name}{force}")).await;
        }
        if let Some(prefix) = &self.redis_prefix {
            delete_redis_keys(prefix).await;
        }
    }
}

impl EngineHarness {
    pub async fn signed_cookies() -> EngineHarness {
        EngineHarness::opened(
            Settings {
                engine: EngineKind::SignedCookies,
                ..Settings::new(SECRET)
            },
            Leftovers::default(),
        )
        .await
    }

    pub async fn encrypted_cookies() -> EngineHarness {
        EngineHarness::opened(
            Settings {
                engine: EngineKind::EncryptedCookies,
                ..Settings::new(SECRET)
            },
            Leftovers::default(),
        )
        .await
    }

    pub async fn db_sqlite() -> EngineHarness {
        let dir = temporary_dir();
        let url = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
        EngineHarness::db(url, Some(dir), unique_table()).await
    }

    pub async fn db_postgres() -> EngineHarness {
        EngineHarness::db(POSTGRES_URL.to_owned(), None, unique_table()).await
    }

    pub async fn db_mariadb() -> EngineHarness {
        EngineHarness::db(MARIADB_URL.to_owned(), None, unique_table()).await
    }

    /// Django's `django_session` table in an SQLite file of its own.
    pub async fn django_sqlite() -> EngineHarness {
        let dir = temporary_dir();
        let url = format!("sqlite://{}", dir.join("django.sqlite3").display());
        EngineHarness::db(url, Some(dir), DJANGO_TABLE.to_owned()).await
    }

    /// Django's `django_session` table in a PostgreSQL database of its own.
    pub async fn django_postgres() -> EngineHarness {
        let (settings, leftovers) = EngineHarness::django_in_own_database(POSTGRES_URL).await;
        EngineHarness::opened(settings, leftovers).await
    }

    /// Django's `django_session` table in a MariaDB database of its own.
    pub async fn django_mariadb() -> EngineHarness {
        let (settings, leftovers) = EngineHarness::django_in_own_database(MARIADB_URL).await;
        EngineHarness::opened(settings, leftovers).await
    }

    /// The settings of Django's table in a new database on `server`, which cleanup drops.
    async fn django_in_own_database(server: &'static str) -> (Settings, Leftovers) {
        let name = unique_table();
        admin(server, &format!("CREATE DATABASE {name}")).await;
        let url = format!(
            "{}/{name}",
            server.rsplit_once('/').expect("a database URL").0
        );
        let settings = EngineHarness::db_settings(url, DJANGO_TABLE.to_owned());
        let leftovers = Leftovers {
            database: Some((server, name)),
            ..Leftovers::default()
        };
        (settings, leftovers)
    }

    /// sessionkit's table on the test's own `Pool<Postgres>`.
    pub async fn db_postgres_own_pool() -> EngineHarness {
        let settings = EngineHarness::db_settings(POSTGRES_URL.to_owned(), unique_table());
        EngineHarness::on_own_pool::<Postgres>(settings, Leftovers::default()).await
    }

    /// sessionkit's table on the test's own `Pool<MySql>`, on MariaDB.
    pub async fn db_mariadb_own_pool() -> EngineHarness {
        let settings = EngineHarness::db_settings(MARIADB_URL.to_owned(), unique_table());
        EngineHarness::on_own_pool::<MySql>(settings, Leftovers::default()).await
    }

    /// sessionkit's table on the test's own `Pool<Sqlite>`, in a file of its own.
    pub async fn db_sqlite_own_pool() -> EngineHarness {
        let dir = temporary_dir();
        let url = format!("sqlite://{}?mode=rwc", dir.join("app.sqlite3").display());
        let settings = EngineHarness::db_settings(url, unique_table());
        let leftovers = Leftovers {
            dir: Some(dir),
            ..Leftovers::default()
        };
        EngineHarness::on_own_pool::<Sqlite>(settings, leftovers).await
    }

    /// Django's `django_session` table on the test's own `Pool<Postgres>`, in a database of
    /// its own.
    pub async fn django_postgres_own_pool() -> EngineHarness {
        let (settings, leftovers) = EngineHarness::django_in_own_database(POSTGRES_URL).await;
        EngineHarness::on_own_pool::<Postgres>(settings, leftovers).await
    }

    /// Django's `django_session` table on the test's own `Pool<MySql>`, in a MariaDB database
    /// of its own.
    pub async fn django_mariadb_own_pool() -> EngineHarness {
        let (settings, leftovers) = EngineHarness::django_in_own_database(MARIADB_URL).await;
        EngineHarness::on_own_pool::<MySql>(settings, leftovers).await
    }

    /// Django's `django_session` table on the test's own `Pool<Sqlite>`, in a file of its own.
    pub async fn django_sqlite_own_pool() -> EngineHarness {
        let dir = temporary_dir();
        let url = format!("sqlite://{}?mode=rwc", dir.join("django.sqlite3").display());
        let settings = EngineHarness::db_settings(url, DJANGO_TABLE.to_owned());
        let leftovers = Leftovers {
            dir: Some(dir),
            ..Leftovers::default()
        };
        EngineHarness::on_own_pool::<Sqlite>(settings, leftovers).await
    }

    /// The near cache (`SESSION_NEAR_CACHE`) over `db` on PostgreSQL: invalidated by
    /// `LISTEN/NOTIFY`.
    pub async fn near_db_postgres() -> EngineHarness {
        let settings = EngineHarness::db_settings(POSTGRES_URL.to_owned(), unique_table());
        EngineHarness::opened(near(settings), Leftovers::default()).await
    }

    /// The near cache over Django's table on PostgreSQL (plain keys in the notifications).
    pub async fn near_django_postgres() -> EngineHarness {
        let (settings, leftovers) = EngineHarness::django_in_own_database(POSTGRES_URL).await;
        EngineHarness::opened(near(settings), leftovers).await
    }

    /// The near cache over `db` on an SQLite file: TTL only.
    pub async fn near_db_sqlite() -> EngineHarness {
        let dir = temporary_dir();
        let url = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
        let settings = EngineHarness::db_settings(url, unique_table());
        let leftovers = Leftovers {
            dir: Some(dir),
            ..Leftovers::default()
        };
        EngineHarness::opened(near(settings), leftovers).await
    }

    /// The near cache over `cache` on Redis: invalidated by client-side caching.
    pub async fn near_cache_redis() -> EngineHarness {
        let settings = Settings {
            engine: EngineKind::Cache,
            cache_url: REDIS_URL.to_owned(),
            cache_key_prefix: format!("sk_test_{}:", unique()),
            ..Settings::new(SECRET)
        };
        EngineHarness::opened(near(settings), Leftovers::default()).await
    }

    fn db_settings(db_url: String, db_table: String) -> Settings {
        Settings {
            engine: EngineKind::Db,
            db_url,
            db_table,
            ..Settings::new(SECRET)
        }
    }

    async fn db(db_url: String, dir: Option<PathBuf>, db_table: String) -> EngineHarness {
        let settings = EngineHarness::db_settings(db_url, db_table);
        EngineHarness::opened(
            settings,
            Leftovers {
                dir,
                ..Leftovers::default()
            },
        )
        .await
    }

    pub async fn cache_memory() -> EngineHarness {
        EngineHarness::opened(
            Settings {
                engine: EngineKind::Cache,
                cache_url: "memory://".to_owned(),
                ..Settings::new(SECRET)
            },
            Leftovers::default(),
        )
        .await
    }

    pub async fn cache_redis() -> EngineHarness {
        EngineHarness::opened(
            Settings {
                engine: EngineKind::Cache,
                cache_url: REDIS_URL.to_owned(),
                cache_key_prefix: format!("sk_test_{}:", unique()),
                ..Settings::new(SECRET)
            },
            Leftovers::default(),
        )
        .await
    }

    /// `cache` on the shared private Redis Cluster of this test process (keys left there go
    /// with it when the process exits).
    pub async fn cache_redis_cluster() -> EngineHarness {
        EngineHarness::on_redis_setup(Setup::Cluster).await
    }

    /// `cache` on the shared private Sentinel setup of this test process.
    pub async fn cache_redis_sentinel() -> EngineHarness {
        EngineHarness::on_redis_setup(Setup::Sentinel).await
    }

    async fn on_redis_setup(setup: Setup) -> EngineHarness {
        // Starting the setup blocks (it runs redis-cli and waits): not on the test's runtime.
        let url = tokio::task::spawn_blocking(move || setup.url())
            .await
            .expect("start the Redis setup");
        EngineHarness::opened(
            Settings {
                engine: EngineKind::Cache,
                cache_url: url,
                cache_key_prefix: format!("sk_test_{}:", unique()),
                ..Settings::new(SECRET)
            },
            Leftovers::default(),
        )
        .await
    }

    pub async fn file() -> EngineHarness {
        let dir = temporary_dir();
        EngineHarness::opened(
            Settings {
                engine: EngineKind::File,
                file_path: dir.clone(),
                ..Settings::new(SECRET)
            },
            Leftovers {
                dir: Some(dir),
                ..Leftovers::default()
            },
        )
        .await
    }

    pub async fn cached_db_redis_postgres() -> EngineHarness {
        EngineHarness::opened(
            Settings {
                engine: EngineKind::CachedDb,
                cache_url: REDIS_URL.to_owned(),
                cache_key_prefix: format!("sk_test_{}:", unique()),
                db_url: POSTGRES_URL.to_owned(),
                db_table: format!("sk_test_{}", unique()),
                ..Settings::new(SECRET)
            },
            Leftovers::default(),
        )
        .await
    }

    pub async fn cached_db_memory_sqlite() -> EngineHarness {
        let dir = temporary_dir();
        EngineHarness::opened(
            Settings {
                engine: EngineKind::CachedDb,
                cache_url: "memory://".to_owned(),
                db_url: format!("sqlite://{}", dir.join("sessions.sqlite3").display()),
                ..Settings::new(SECRET)
            },
            Leftovers {
                dir: Some(dir),
                ..Leftovers::default()
            },
        )
        .await
    }

    /// `cached_db` as memory over PostgreSQL, on the test's own `Pool<Postgres>`.
    pub async fn cached_db_memory_postgres_own_pool() -> EngineHarness {
        let settings = Settings {
            engine: EngineKind::CachedDb,
            cache_url: "memory://".to_owned(),
            ..EngineHarness::db_settings(POSTGRES_URL.to_owned(), unique_table())
        };
        EngineHarness::on_own_pool::<Postgres>(settings, Leftovers::default()).await
    }

    /// The `db` engine (or `cached_db`, over a memory cache) on a pool of at most two
    /// connections to `settings.db_url`, opened as an application opens its own and handed
    /// over through the builder, migrated.
    async fn on_own_pool<DB: TypedBackend>(
        settings: Settings,
        leftovers: Leftovers,
    ) -> EngineHarness {
        let pool: Pool<DB> = PoolOptions::new()
            .max_connections(2)
            .connect(&settings.db_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach {}: {e}", settings.db_url));
        let builder = Sessions::builder(SECRET).configure(|own| *own = settings.clone());
        let builder = match settings.engine {
            EngineKind::CachedDb => builder.store(CachedDbStore::new(
                Arc::new(MemoryStore::new(10_000)),
                SqlStore::with_pool(pool, &settings),
                &settings,
            )),
            _ => builder.db_pool(pool),
        };
        let sessions = builder.open().await.expect("the engine on the pool");
        sessions.engine().migrate().await.expect("migrate");
        let harness = Harness::for_engine(sessions.engine().clone(), settings.clone())
            .expect("valid settings");
        EngineHarness::with_leftovers(harness, settings, leftovers).await
    }

    /// An engine opened from `settings` as an application would, migrated.
    async fn opened(settings: Settings, leftovers: Leftovers) -> EngineHarness {
        let harness = Harness::open(settings.clone()).await.unwrap_or_else(|e| {
            panic!(
                "cannot open {}: {e} (the conformance suite needs its server running)",
                settings.engine
            )
        });
        EngineHarness::with_leftovers(harness, settings, leftovers).await
    }

    /// `harness`, cleaned up after. For engines with a table, a connection of its own to it
    /// is kept for the tests and to drop it in cleanup.
    async fn with_leftovers(
        harness: Harness,
        settings: Settings,
        mut leftovers: Leftovers,
    ) -> EngineHarness {
        let db = match settings.engine {
            EngineKind::Db | EngineKind::CachedDb => {
                Some(DbEngine::connect(&settings).await.expect("the table"))
            }
            _ => None,
        };
        leftovers.table = db.clone().map(|db| (db, settings.db_table.clone()));
        if settings.engine == EngineKind::Cache || settings.engine == EngineKind::CachedDb {
            leftovers.redis_prefix = settings
                .cache_url
                .starts_with("redis://")
                .then(|| settings.cache_key_prefix.clone());
        }
        let harness = harness.with_cleanup(move || {
            let leftovers = leftovers.clone();
            async move { leftovers.remove().await }
        });
        EngineHarness { harness, db }
    }

    /// The db engine; panics on other engines (for db-only tests).
    pub fn db_engine(&self) -> &DbEngine {
        self.db.as_ref().expect("a db harness")
    }

    /// Runs `sql` on the harness's database: `{table}` is the session table, `?` a parameter.
    pub async fn execute(&self, sql: &str, params: &[&str]) -> u64 {
        let db = self.db_engine();
        let sql = self.sql(sql);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for param in params {
            query = query.bind(*param);
        }
        query
            .execute(db.pool())
            .await
            .expect("run SQL")
            .rows_affected()
    }

    /// The single integer `sql` selects (`{table}` and `?` as in [`EngineHarness::execute`]).
    pub async fn count(&self, sql: &str, params: &[&str]) -> i64 {
        let db = self.db_engine();
        let sql = self.sql(sql);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for param in params {
            query = query.bind(*param);
        }
        let row = query.fetch_one(db.pool()).await.expect("run SQL");
        row.try_get(0).expect("an integer column")
    }

    fn sql(&self, sql: &str) -> String {
        let sql = sql.replace("{table}", &self.settings.db_table);
        if self.db_engine().dialect() != Dialect::Postgres {
            return sql;
        }
        let mut numbered = String::with_capacity(sql.len());
        for (n, part) in sql.split('?').enumerate() {
            if n > 0 {
                numbered.push_str(&format!("${n}"));
            }
            numbered.push_str(part);
        }
        numbered
    }
}

/// 16 random characters from `[a-z0-9]`, for table and directory names.
fn unique() -> String {
    SessionKey::generate().as_str()[..16].to_owned()
}
