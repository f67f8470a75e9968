//! tower-sessions 0.14 with its store crates on the routes of docs/DESIGN.md §10, for
//! `scripts/bench.sh`'s comparison with `sessionkit serve` on the same stores:
//!
//! - `--store sqlite --url sqlite://FILE`: `SqliteStore` on a WAL database with
//!   `synchronous=NORMAL` (sessionkit's default, so both pay the same fsyncs);
//! - `--store postgres --url postgres://…`: `PostgresStore` in its own schema `--pg-schema`,
//!   dropped at exit;
//! - `--store mysql --url mysql://…`: `MySqlStore` in its own database `--mysql-database`,
//!   dropped at exit;
//! - `--store redis --url redis://…`: `RedisStore` (fred); the keys are bare session ids, so the
//!   server remembers the ids it created and deletes them at exit (the Redis is shared).

mod tracked;

/// The routes, shared with the workspace's `tower_sessions_server`.
#[path = "../../src/tower_sessions_routes.rs"]
mod tower_sessions_routes;

/// Listening and graceful shutdown, shared with the workspace's comparison servers.
#[path = "../../src/serve.rs"]
mod serve;

use std::process::ExitCode;
use std::str::FromStr;

use clap::{Parser, ValueEnum};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tower_sessions::SessionStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_sqlx_store::{MySqlStore, PostgresStore, SqliteStore};

/// The §10 benchmark routes on tower-sessions 0.14 with a store.
#[derive(Parser)]
#[command(name = "tower_sessions_store_server")]
struct Cli {
    #[command(flatten)]
    serve: serve::ServeArgs,
    /// Where the sessions are kept.
    #[arg(long, value_enum)]
    store: Store,
    /// The store's URL.
    #[arg(long)]
    url: String,
    /// PostgreSQL schema of the session table (created, and dropped at exit).
    #[arg(long, default_value = "tower_sessions_bench")]
    pg_schema: String,
    /// MySQL database of the session table (created, and dropped at exit).
    #[arg(long, default_value = "tower_sessions_bench")]
    mysql_database: String,
    /// Connections in the SQL pool (sqlx's default is 10).
    #[arg(long, default_value_t = 10)]
    pool: u32,
    /// Sign the session id in the cookie.
    #[arg(long)]
    signed: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Store {
    Sqlite,
    Postgres,
    Mysql,
    Redis,
}

type Error = Box<dyn std::error::Error>;

/// Serves the routes with `store` until the server is told to stop.
async fn serve_with<S: SessionStore + Clone>(cli: &Cli, store: S) -> std::io::Result<()> {
    let name = "tower_sessions_store_server";
    serve::run(
        name,
        tower_sessions_routes::app(store, cli.signed),
        &cli.serve.addr,
    )
    .await
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.store {
        Store::Sqlite => {
            let options = SqliteConnectOptions::from_str(&cli.url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            let pool = SqlitePoolOptions::new()
                .max_connections(cli.pool)
                .connect_with(options)
                .await?;
            let store = SqliteStore::new(pool);
            store.migrate().await?;
            serve_with(&cli, store).await?;
        }
        Store::Postgres => {
            let pool = PgPoolOptions::new()
                .max_connections(cli.pool)
                .connect(&cli.url)
                .await?;
            let store = PostgresStore::new(pool.clone()).with_schema_name(&cli.pg_schema)?;
            store.migrate().await?;
            let served = serve_with(&cli, store).await;
            let drop = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", cli.pg_schema);
            sqlx::query(&drop).execute(&pool).await?;
            served?;
        }
        Store::Mysql => {
            let pool = MySqlPoolOptions::new()
                .max_connections(cli.pool)
                .connect(&cli.url)
                .await?;
            let store = MySqlStore::new(pool.clone()).with_schema_name(&cli.mysql_database)?;
            store.migrate().await?;
            let served = serve_with(&cli, store).await;
            let drop = format!("DROP DATABASE IF EXISTS `{}`", cli.mysql_database);
            sqlx::query(&drop).execute(&pool).await?;
            served?;
        }
        Store::Redis => {
            let pool = Pool::new(
                Config::from_url(&cli.url)?,
                None,
                None,
                None,
                cli.pool as usize,
            )?;
            pool.init().await?;
            let store = tracked::Tracked::new(RedisStore::new(pool.clone()));
            let served = serve_with(&cli, store.clone()).await;
            store.delete_created().await?;
            served?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // What `sessionkit_bench::serve::log_nothing` does for the workspace's servers.
    let _ = tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::new());
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tower_sessions_store_server: {error}");
            ExitCode::FAILURE
        }
    }
}
