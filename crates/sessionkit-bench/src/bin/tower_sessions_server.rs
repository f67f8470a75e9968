//! The routes of docs/DESIGN.md §10 with tower-sessions and its `MemoryStore`, for comparison with
//! `SESSION_ENGINE=cache SESSION_CACHE_URL=memory:// sessionkit serve`.
//!
//! Only the memory store: tower-sessions' SQL and Redis stores (`tower-sessions-sqlx-store`
//! 0.15, `tower-sessions-redis-store` 0.16) still depend on `tower-sessions-core` 0.14, which
//! the current `tower-sessions` 0.15 cannot use.
//!
//! The session lasts two weeks of inactivity, so the cookie carries `Max-Age` and `Expires`
//! as sessionkit's does; `--signed` signs the session id in the cookie (`with_signed`).

use std::process::ExitCode;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use sessionkit_bench::serve::{self, ServeArgs};
use tower_sessions::cookie::Key;
use tower_sessions::{Expiry, MemoryStore, Session, SessionManagerLayer};

/// The §10 benchmark routes on tower-sessions with its in-memory store.
#[derive(Parser)]
#[command(name = "tower_sessions_server")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    /// Sign the session id in the cookie with a key generated at start.
    #[arg(long)]
    signed: bool,
}

type Failure = (StatusCode, String);

fn failed(error: tower_sessions::session::Error) -> Failure {
    (StatusCode::SERVICE_UNAVAILABLE, error.to_string())
}

async fn counter(session: &Session) -> Result<u64, Failure> {
    Ok(session.get("n").await.map_err(failed)?.unwrap_or(0))
}

async fn incr(session: Session) -> Result<String, Failure> {
    let n = counter(&session).await? + 1;
    session.insert("n", n).await.map_err(failed)?;
    Ok(n.to_string())
}

async fn read(session: Session) -> Result<String, Failure> {
    Ok(counter(&session).await?.to_string())
}

async fn login(session: Session) -> Result<StatusCode, Failure> {
    session.cycle_id().await.map_err(failed)?;
    session.insert("user_id", 42).await.map_err(failed)?;
    session.insert("n", 0).await.map_err(failed)?;
    Ok(StatusCode::OK)
}

async fn logout(session: Session) -> Result<StatusCode, Failure> {
    session.flush().await.map_err(failed)?;
    Ok(StatusCode::OK)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let bench = Router::new()
        .route("/incr", get(incr))
        .route("/read", get(read))
        .route("/login", post(login))
        .route("/logout", get(logout));
    let layer = SessionManagerLayer::new(MemoryStore::default())
        .with_expiry(Expiry::OnInactivity(time::Duration::weeks(2)));
    let app = if cli.signed {
        Router::new()
            .nest("/bench", bench)
            .layer(layer.with_signed(Key::generate()))
    } else {
        Router::new().nest("/bench", bench).layer(layer)
    };
    match serve::run("tower_sessions_server", app, &cli.serve.addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tower_sessions_server: {error}");
            ExitCode::FAILURE
        }
    }
}
