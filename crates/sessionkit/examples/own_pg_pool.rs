//! An app passing its own PostgreSQL pool: the sqlx pool it runs its own queries on also keeps
//! its sessions (`SessionsBuilder::db_pool`), so the database sees one pool, sized by the app.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run -p sessionkit --features postgres --example own_pg_pool
//! curl -c jar -b jar http://127.0.0.1:3000/   # visit 1; 1 page views in all, then 2; 2…
//! ```
//!
//! The pool is a `sqlx::PgPool` of the sqlx sessionkit is built with (0.9). Its size, timeouts
//! and TLS are the app's: `SESSION_DB_POOL_SIZE` and `SESSION_STORE_CA_FILE` only shape the
//! pool sessionkit opens itself from `SESSION_DB_URL`. The table is `SESSION_DB_TABLE`
//! (`.db_table(…)`, default `sessionkit_session`; `django_session` shares Django's), and a
//! session call that gets no answer within `SESSION_STORE_TIMEOUT` (5 s) is a 503, as usual.

mod support;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::get};
use sessionkit::{Session, SessionError, Sessions};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// This visitor's visits, kept in the session, and every page view, kept in the app's own
/// table: both through the one pool.
async fn visit(State(pool): State<PgPool>, session: Session) -> Result<String, AppError> {
    let visits: i64 = session.get("visits")?.unwrap_or(0) + 1;
    session.insert("visits", visits)?;
    sqlx::query("INSERT INTO page_views (path) VALUES ('/')")
        .execute(&pool)
        .await?;
    let views: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM page_views")
        .fetch_one(&pool)
        .await?;
    Ok(format!("visit {visits}; {views} page views in all"))
}

/// What a request can fail on: its session, or the app's own query.
enum AppError {
    Session(SessionError),
    Database(sqlx::Error),
}

impl From<SessionError> for AppError {
    fn from(error: SessionError) -> Self {
        AppError::Session(error)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        AppError::Database(error)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Session(error) => error.into_response(),
            AppError::Database(error) => {
                eprintln!("page_views: {error}");
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
    }
}

/// The app's own table, then sessions on the same pool, and their table.
async fn open(pool: PgPool, secret_key: String) -> Result<Sessions, Box<dyn std::error::Error>> {
    sqlx::query("CREATE TABLE IF NOT EXISTS page_views (id BIGSERIAL PRIMARY KEY, path TEXT)")
        .execute(&pool)
        .await?;
    let sessions = Sessions::builder(secret_key).db_pool(pool).open().await?;
    sessions.engine().migrate().await?; // sessionkit_session, through the app's pool
    Ok(sessions)
}

fn app(pool: PgPool, sessions: &Sessions) -> Router {
    Router::new()
        .route("/", get(visit))
        .with_state(pool)
        .layer(sessions.layer())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let database_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    // The app's pool, as it would have one anyway: five connections for everything.
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect(&database_url)
        .await?;
    let sessions = open(pool.clone(), support::secret_key()).await?;
    support::serve(app(pool, &sessions)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, PgConnection};

    const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

    /// Two browsers on a pool of two connections, in a database of the test's own: the
    /// sessions and the page views share it.
    #[tokio::test]
    async fn sessions_and_the_apps_rows_share_one_pool() {
        let database = format!("own_pg_pool_example_{}", std::process::id());
        let mut admin = PgConnection::connect(&format!("{SERVER}/test"))
            .await
            .unwrap();
        let create = format!("CREATE DATABASE {database}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut admin)
            .await
            .unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&format!("{SERVER}/{database}"))
            .await
            .unwrap();
        let sessions = open(pool.clone(), "secret".to_owned()).await.unwrap();

        let mut first = support::client::Client::new(app(pool.clone(), &sessions));
        let mut second = support::client::Client::new(app(pool.clone(), &sessions));
        assert_eq!(first.get("/").await, "visit 1; 1 page views in all");
        assert_eq!(first.get("/").await, "visit 2; 2 page views in all");
        assert_eq!(second.get("/").await, "visit 1; 3 page views in all");
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessionkit_session")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 2, "both sessions are in the app's database");
        assert!(pool.size() <= 2);

        pool.close().await;
        let drop = format!("DROP DATABASE {database} WITH (FORCE)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
