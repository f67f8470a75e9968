//! One engine under test, in a store of its own, and the helpers every behaviour shares.
//!
//! Each test gets a fresh harness: signed cookies need nothing; SQLite gets a new file in a new
//! temporary directory; PostgreSQL and MariaDB get a new table (`SESSION_DB_TABLE`) in the
//! `test` database, so tests run in parallel without seeing each other. A server that is down
//! fails the test: the suite never skips an engine.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};
use sessionkit::engine::db::Dialect;
use sessionkit::engine::{
    ChangeSet, Data, DbEngine, Engine, SaveRequest, ServerEngine, SignedCookieEngine,
};
use sessionkit::{EngineKind, Session, SessionKey, Sessions, Settings};
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

pub use crate::common::{REDIS_URL, delete_redis_keys, redis_connection};

/// `SECRET_KEY` of every harness.
pub const SECRET: &str = "conformance-suite-secret-key";

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

fn temporary_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sessionkit-conformance-{}", unique()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// An engine under test with the settings it was opened with.
pub struct Harness {
    pub sessions: Sessions,
    pub settings: Settings,
    /// The db engine again (the same pool), for the tests that look at the table itself.
    db: Option<DbEngine>,
    /// The temporary directory of an SQLite or file harness, removed by `cleanup`.
    dir: Option<PathBuf>,
    /// The Redis key prefix of a Redis harness, whose keys `cleanup` deletes.
    redis_prefix: Option<String>,
    /// A database made for this harness (Django's table has a fixed name), as
    /// `(server URL, database)`: `cleanup` drops it.
    own_database: Option<(&'static str, String)>,
    /// An engine built by hand rather than opened from settings (a custom store), which
    /// `with_settings` reuses instead of opening another.
    by_hand: Option<Arc<dyn Engine>>,
}

impl Harness {
    pub async fn signed_cookies() -> Harness {
        logs::install();
        let settings = Settings {
            engine: EngineKind::SignedCookies,
            ..Settings::new(SECRET)
        };
        let engine = Arc::new(SignedCookieEngine::new(&settings));
        Harness {
            sessions: Sessions::new(engine, settings.clone()).expect("valid settings"),
            settings,
            db: None,
            dir: None,
            redis_prefix: None,
            own_database: None,
            by_hand: None,
        }
    }

    pub async fn db_sqlite() -> Harness {
        let dir = temporary_dir();
        let url = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
        Harness::db(url, Some(dir), unique_table()).await
    }

    pub async fn db_postgres() -> Harness {
        Harness::db(POSTGRES_URL.to_owned(), None, unique_table()).await
    }

    pub async fn db_mariadb() -> Harness {
        Harness::db(MARIADB_URL.to_owned(), None, unique_table()).await
    }

    /// Django's `django_session` table in an SQLite file of its own.
    pub async fn django_sqlite() -> Harness {
        let dir = temporary_dir();
        let url = format!("sqlite://{}", dir.join("django.sqlite3").display());
        Harness::db(url, Some(dir), DJANGO_TABLE.to_owned()).await
    }

    /// Django's `django_session` table in a PostgreSQL database of its own.
    pub async fn django_postgres() -> Harness {
        Harness::django_in_own_database(POSTGRES_URL).await
    }

    /// Django's `django_session` table in a MariaDB database of its own.
    pub async fn django_mariadb() -> Harness {
        Harness::django_in_own_database(MARIADB_URL).await
    }

    async fn django_in_own_database(server: &'static str) -> Harness {
        let name = unique_table();
        admin(server, &format!("CREATE DATABASE {name}")).await;
        let url = format!(
            "{}/{name}",
            server.rsplit_once('/').expect("a database URL").0
        );
        let mut harness = Harness::db(url, None, DJANGO_TABLE.to_owned()).await;
        harness.own_database = Some((server, name));
        harness
    }

    async fn db(db_url: String, dir: Option<PathBuf>, db_table: String) -> Harness {
        logs::install();
        let settings = Settings {
            engine: EngineKind::Db,
            db_url,
            db_table,
            ..Settings::new(SECRET)
        };
        let db = DbEngine::connect(&settings).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach {}: {e} (the conformance suite needs this server running)",
                settings.db_url
            )
        });
        db.migrate().await.expect("create the session table");
        Harness {
            sessions: Sessions::new(Arc::new(db.clone()), settings.clone())
                .expect("valid settings"),
            settings,
            db: Some(db),
            dir,
            redis_prefix: None,
            own_database: None,
            by_hand: None,
        }
    }

    pub async fn cache_memory() -> Harness {
        Harness::opened(
            Settings {
                engine: EngineKind::Cache,
                cache_url: "memory://".to_owned(),
                ..Settings::new(SECRET)
            },
            None,
        )
        .await
    }

    pub async fn cache_redis() -> Harness {
        Harness::opened(
            Settings {
                engine: EngineKind::Cache,
                cache_url: REDIS_URL.to_owned(),
                cache_key_prefix: format!("sk_test_{}:", unique()),
                ..Settings::new(SECRET)
            },
            None,
        )
        .await
    }

    pub async fn file() -> Harness {
        let dir = temporary_dir();
        Harness::opened(
            Settings {
                engine: EngineKind::File,
                file_path: dir.clone(),
                ..Settings::new(SECRET)
            },
            Some(dir),
        )
        .await
    }

    pub async fn cached_db_redis_postgres() -> Harness {
        Harness::opened(
            Settings {
                engine: EngineKind::CachedDb,
                cache_url: REDIS_URL.to_owned(),
                cache_key_prefix: format!("sk_test_{}:", unique()),
                db_url: POSTGRES_URL.to_owned(),
                db_table: format!("sk_test_{}", unique()),
                ..Settings::new(SECRET)
            },
            None,
        )
        .await
    }

    /// A store of the kind another crate would write, on the public API alone
    /// (`btree_store.rs`), behind the same `ServerEngine` as the built-in stores.
    pub async fn custom_store() -> Harness {
        logs::install();
        let settings = Settings::new(SECRET);
        let store = crate::btree_store::BTreeStore::default();
        let engine: Arc<dyn Engine> = Arc::new(ServerEngine::new(store, settings.store_timeout));
        Harness {
            sessions: Sessions::new(engine.clone(), settings.clone()).expect("valid settings"),
            settings,
            db: None,
            dir: None,
            redis_prefix: None,
            own_database: None,
            by_hand: Some(engine),
        }
    }

    pub async fn cached_db_memory_sqlite() -> Harness {
        let dir = temporary_dir();
        Harness::opened(
            Settings {
                engine: EngineKind::CachedDb,
                cache_url: "memory://".to_owned(),
                db_url: format!("sqlite://{}", dir.join("sessions.sqlite3").display()),
                ..Settings::new(SECRET)
            },
            Some(dir),
        )
        .await
    }

    /// An engine opened from `settings` as an application would, migrated. For engines with a
    /// table, a second connection to it is kept to drop it in `cleanup`.
    async fn opened(settings: Settings, dir: Option<PathBuf>) -> Harness {
        logs::install();
        let sessions = Sessions::open(settings.clone()).await.unwrap_or_else(|e| {
            panic!(
                "cannot open {}: {e} (is its server running?)",
                settings.engine
            )
        });
        sessions.engine().migrate().await.expect("migrate");
        let db = match settings.engine {
            EngineKind::CachedDb => Some(DbEngine::connect(&settings).await.expect("the table")),
            _ => None,
        };
        let redis_prefix = settings
            .cache_url
            .starts_with("redis://")
            .then(|| settings.cache_key_prefix.clone());
        Harness {
            sessions,
            settings,
            db,
            dir,
            redis_prefix,
            own_database: None,
            by_hand: None,
        }
    }

    /// Drops the table or removes the directory this harness made.
    pub async fn cleanup(&self) {
        if let Some(db) = &self.db {
            if db.dialect() != Dialect::Sqlite && self.own_database.is_none() {
                let drop = format!("DROP TABLE IF EXISTS {}", self.settings.db_table);
                sqlx::query(AssertSqlSafe(drop))
                    .execute(db.pool())
                    .await
                    .expect("drop the test table");
            }
            db.pool().close().await;
        }
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir).expect("remove the temporary directory");
        }
        if let Some((server, name)) = &self.own_database {
            admin(server, &format!("DROP DATABASE {name}")).await;
        }
        if let Some(prefix) = &self.redis_prefix {
            delete_redis_keys(prefix).await;
        }
    }

    pub fn engine(&self) -> &Arc<dyn Engine> {
        self.sessions.engine()
    }

    /// Whether the data lives on the server (only a key travels in the cookie).
    pub fn server_side(&self) -> bool {
        !self.engine().keeps_data_in_cookie()
    }

    /// A request without a cookie, its session loaded.
    pub async fn fresh(&self) -> Session {
        load(&self.sessions, None).await
    }

    /// A request carrying `cookie`, its session loaded.
    pub async fn reload(&self, cookie: &str) -> Session {
        load(&self.sessions, Some(cookie)).await
    }

    /// Saves `session`, which must not be empty, and returns its cookie value.
    pub async fn save(&self, session: &Session) -> String {
        session
            .save()
            .await
            .expect("save the session")
            .expect("a non-empty session gives a cookie value")
    }

    /// The cookie value of a new session holding `entries` (a JSON object).
    pub async fn saved(&self, entries: Value) -> String {
        let session = self.fresh().await;
        for (key, value) in object(entries) {
            session.insert(&key, value).expect("JSON values insert");
        }
        self.save(&session).await
    }

    /// Creates a record through the engine itself, as if saved at `now`.
    pub async fn store(&self, data: &Data, now: OffsetDateTime) -> String {
        self.engine()
            .save(SaveRequest {
                previous: None,
                data: &Arc::new(data.clone()),
                changes: &ChangeSet::default(),
                now,
                cookie_age: self.settings.cookie_age,
            })
            .await
            .expect("the engine saves")
            .cookie_value
    }

    /// Another `Sessions` on the same store (same file or table), with changed settings.
    pub async fn with_settings(&self, change: impl FnOnce(&mut Settings)) -> Sessions {
        let mut settings = self.settings.clone();
        change(&mut settings);
        match &self.by_hand {
            Some(engine) => Sessions::new(engine.clone(), settings).expect("valid settings"),
            None => Sessions::open(settings).await.expect("open the engine"),
        }
    }

    /// Asserts that `value` as a cookie gives a fresh, empty session and no store error, and,
    /// if `warning` is set, that sessionkit logged a warning about it.
    pub async fn assert_no_session(&self, value: &str, what: &str, warning: bool) {
        logs::take();
        let session = self.reload(value).await;
        assert!(session.is_empty(), "{what}: the session is not empty");
        assert!(session.keys().is_empty(), "{what}: {:?}", session.keys());
        let lines = logs::take();
        if warning {
            assert!(
                lines.iter().any(|line| line.starts_with("WARN")),
                "{what}: no warning logged (logged: {lines:?})"
            );
        }
        assert_eq!(self.engine().load(value).await.unwrap(), None, "{what}");
        assert!(!self.engine().exists(value).await.unwrap(), "{what}");
        logs::take();
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

    /// The single integer `sql` selects (`{table}` and `?` as in [`Harness::execute`]).
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

/// Loads the session of a request carrying `cookie`.
pub async fn load(sessions: &Sessions, cookie: Option<&str>) -> Session {
    sessions
        .start(cookie)
        .load()
        .await
        .expect("loading never fails for bad input")
}

/// `value` as session data; panics if it is not a JSON object.
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

/// `(accessed, modified)`.
pub fn flags(session: &Session) -> (bool, bool) {
    (session.accessed(), session.modified())
}

/// 16 random characters from `[a-z0-9]`, for table and directory names.
fn unique() -> String {
    SessionKey::generate().as_str()[..16].to_owned()
}

/// Captures what sessionkit logs, per test thread (each `#[tokio::test]` runs its runtime, and
/// so the whole test, on a thread of its own).
pub mod logs {
    use std::cell::RefCell;
    use std::fmt::Write as _;
    use std::sync::Once;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    thread_local! {
        static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    /// Records sessionkit's events as `LEVEL field=value …` lines.
    struct Capture;

    struct Line<'a>(&'a mut String);

    impl Visit for Line<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target().starts_with("sessionkit")
        }

        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }

        fn record(&self, _: &Id, _: &Record<'_>) {}

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut line = event.metadata().level().to_string();
            event.record(&mut Line(&mut line));
            LINES.with(|lines| lines.borrow_mut().push(line));
        }

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }

    /// Installs the capturing subscriber for the whole test binary (once).
    pub fn install() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            tracing::subscriber::set_global_default(Capture).expect("no other subscriber");
        });
    }

    /// The lines logged on this thread since the last call.
    pub fn take() -> Vec<String> {
        LINES.with(|lines| std::mem::take(&mut *lines.borrow_mut()))
    }
}
