//! Bringing your own pool: an application's sqlx pool of two connections carries both its own
//! queries and its sessions (`SessionsBuilder::db_pool`), on the real PostgreSQL, MariaDB and
//! SQLite (docs/DESIGN.md §9), in tables of the test's own. And `SESSION_DB_POOL_SIZE` sizes
//! the pool sessionkit opens when it opens its own.

#[path = "common/counter_app.rs"]
mod counter_app;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sessionkit::engine::db::TypedBackend;
use sessionkit::engine::{DbEngine, SessionKey};
use sessionkit::{Sessions, Settings};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{
    AssertSqlSafe, ColumnIndex, Connection, Database, Decode, Executor, IntoArguments, MySql,
    PgConnection, Pool, Type,
};

use counter_app::{cookie_of, get_with, router};

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306/test";
/// The connections the application's pool may open, for its queries and its sessions alike.
const APP_CONNECTIONS: u32 = 2;

/// 16 random characters from `[a-z0-9]`, for table and application names.
fn unique() -> String {
    SessionKey::generate().as_str()[..16].to_owned()
}

#[tokio::test]
async fn one_postgres_pool_of_two_connections_serves_the_apps_queries_and_its_sessions() {
    let app_name = format!("sk_own_pool_{}", unique());
    let options = PgConnectOptions::from_str(POSTGRES_URL)
        .unwrap()
        .application_name(&app_name);
    let pool = PgPoolOptions::new()
        .max_connections(APP_CONNECTIONS)
        .connect_with(options)
        .await
        .expect("PostgreSQL is running");
    let table = format!("sk_own_pool_{}", unique());
    app_and_sessions_share_the_pool(pool.clone(), &table).await;

    // Seen from the server, through a connection of the test's own: the app's connections
    // are all there is under its name, and no more than it allowed.
    let mut monitor = PgConnection::connect(POSTGRES_URL).await.unwrap();
    let (connections,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(&app_name)
            .fetch_one(&mut monitor)
            .await
            .unwrap();
    assert!(
        (1..=i64::from(APP_CONNECTIONS)).contains(&connections),
        "{connections} connections"
    );
    drop_tables(&pool, &table).await;
    pool.close().await;
}

#[tokio::test]
async fn one_mariadb_pool_of_two_connections_serves_the_apps_queries_and_its_sessions() {
    let pool: Pool<MySql> = PoolOptions::new()
        .max_connections(APP_CONNECTIONS)
        .connect(MARIADB_URL)
        .await
        .expect("MariaDB is running");
    let table = format!("sk_own_pool_{}", unique());
    app_and_sessions_share_the_pool(pool.clone(), &table).await;
    drop_tables(&pool, &table).await;
    pool.close().await;
}

#[tokio::test]
async fn one_sqlite_pool_of_two_connections_serves_the_apps_queries_and_its_sessions() {
    let dir = std::env::temp_dir().join(format!("sessionkit-own-pool-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("app.sqlite3").display());
    let pool = SqlitePoolOptions::new()
        .max_connections(APP_CONNECTIONS)
        .connect(&url)
        .await
        .unwrap();
    app_and_sessions_share_the_pool(pool.clone(), "sessions").await;
    pool.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The app keeps a row of its own in `{table}_app` and its sessions in `table`, through
/// `pool`: visitors count their visits concurrently while the pool's size is watched.
async fn app_and_sessions_share_the_pool<DB>(pool: Pool<DB>, table: &str)
where
    DB: TypedBackend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: Type<DB> + for<'r> Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let app_table = format!("{table}_app");
    execute(
        &pool,
        &format!("CREATE TABLE {app_table} (note VARCHAR(20) NOT NULL)"),
    )
    .await;
    execute(
        &pool,
        &format!("INSERT INTO {app_table} (note) VALUES ('hello')"),
    )
    .await;

    let sessions = Sessions::builder("secret")
        .db_table(table)
        .db_pool(pool.clone())
        .open()
        .await
        .expect("the db engine on the app's pool");
    sessions.engine().migrate().await.unwrap();
    let largest = watch_size(pool.clone());

    let app = router(&sessions);
    let mut visitors = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let app = app.clone();
        visitors.spawn(async move {
            let first = get_with(&app, "/", None).await;
            let cookie = cookie_of(&first);
            for visit in 2..=3 {
                let response = get_with(&app, "/", Some(&cookie)).await;
                let body = axum::body::to_bytes(response.into_body(), 64)
                    .await
                    .unwrap();
                assert_eq!(body, visit.to_string(), "the session counts the visits");
            }
            cookie
        });
    }
    let cookies = visitors.join_all().await;

    let stored = count(&pool, &format!("SELECT COUNT(*) FROM {table}")).await;
    assert_eq!(
        stored, 8,
        "every visitor's session is in the app's database"
    );
    let hashed = SessionKey::parse(&cookies[0]).unwrap().hashed();
    let found = count(
        &pool,
        &format!("SELECT COUNT(*) FROM {table} WHERE session_key_hash = '{hashed}'"),
    )
    .await;
    assert_eq!(found, 1, "under the hash of its key");
    let notes = count(&pool, &format!("SELECT COUNT(*) FROM {app_table}")).await;
    assert_eq!(notes, 1, "the app's own row is beside them");
    let largest = largest.load(Ordering::Relaxed);
    assert!(
        (1..=APP_CONNECTIONS).contains(&largest),
        "the pool grew to {largest} connections"
    );
    assert!(pool.size() <= APP_CONNECTIONS);
}

/// The largest size `pool` reaches from now on, sampled every millisecond.
fn watch_size<DB: Database>(pool: Pool<DB>) -> Arc<AtomicU32> {
    let largest = Arc::new(AtomicU32::new(0));
    let watched = largest.clone();
    tokio::spawn(async move {
        while !pool.is_closed() {
            watched.fetch_max(pool.size(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    largest
}

async fn execute<DB>(pool: &Pool<DB>, sql: &str)
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count<DB>(pool: &Pool<DB>, sql: &str) -> i64
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: Type<DB> + for<'r> Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The session table, its lock table and the app's, in the shared `test` database.
async fn drop_tables<DB>(pool: &Pool<DB>, table: &str)
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    for suffix in ["", "_lock", "_app"] {
        execute(pool, &format!("DROP TABLE IF EXISTS {table}{suffix}")).await;
    }
}

/// Secrets reach a store on the app's pool as they reach one sessionkit opens: a session
/// signed with a secret now among the fallbacks still loads.
#[tokio::test]
async fn a_store_on_the_apps_pool_signs_with_the_settings_secrets() {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let open = |secret: &str, fallbacks: Vec<String>| {
        Sessions::builder(secret)
            .db_table("django_session")
            .configure(|settings| settings.secret_key_fallbacks = fallbacks)
            .db_pool(pool.clone())
            .open()
    };
    let before = open("old secret", Vec::new()).await.unwrap();
    before.engine().migrate().await.unwrap();
    let session = before.start(None).load().await.unwrap();
    session.insert("user_id", 7).unwrap();
    let cookie = session.save().await.unwrap().expect("a new session");

    let unknown = open("new secret", Vec::new()).await.unwrap();
    let session = unknown.start(Some(&cookie)).load().await.unwrap();
    assert!(session.is_empty(), "another secret cannot read it");
    let rotated = open("new secret", vec!["old secret".to_owned()])
        .await
        .unwrap();
    let session = rotated.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(7));
}

/// `SESSION_DB_POOL_SIZE` sizes the pool sessionkit opens (by default 10 connections, and one
/// on SQLite), and `SESSION_DB_IDLE_TIMEOUT` closes its unused connections (by default after
/// ten minutes).
#[tokio::test]
async fn the_pool_settings_shape_the_pool_sessionkit_opens() {
    let postgres = |size: Option<u32>, idle: u64| Settings {
        db_url: POSTGRES_URL.to_owned(),
        db_pool_size: size,
        db_idle_timeout: Duration::from_secs(idle),
        ..Settings::new("secret")
    };
    let sized = DbEngine::connect(&postgres(Some(3), 30)).await.unwrap();
    assert_eq!(sized.pool().options().get_max_connections(), 3);
    let idle = sized.pool().options().get_idle_timeout();
    assert_eq!(idle, Some(Duration::from_secs(30)));
    let default = DbEngine::connect(&postgres(None, 600)).await.unwrap();
    assert_eq!(default.pool().options().get_max_connections(), 10);
    let idle = default.pool().options().get_idle_timeout();
    assert_eq!(idle, Some(Duration::from_secs(600)));
    let settings = Settings::new("secret");
    assert_eq!(settings.db_idle_timeout, Duration::from_secs(600));
    let sqlite = Settings {
        db_url: "sqlite::memory:".to_owned(),
        ..Settings::new("secret")
    };
    let sqlite = DbEngine::connect(&sqlite).await.unwrap();
    assert_eq!(sqlite.pool().options().get_max_connections(), 1);
    let mut from_text = Settings::new("secret");
    from_text.set("SESSION_DB_POOL_SIZE", "4").unwrap();
    from_text.db_url = "sqlite::memory:".to_owned();
    let sqlite = DbEngine::connect(&from_text).await.unwrap();
    assert_eq!(sqlite.pool().options().get_max_connections(), 4);
    sized.pool().close().await;
    default.pool().close().await;
}
