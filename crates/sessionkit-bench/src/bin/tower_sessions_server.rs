//! The routes of docs/DESIGN.md §10 with tower-sessions and its `MemoryStore`, for comparison with
//! `SESSION_ENGINE=cache SESSION_CACHE_URL=memory:// sessionkit serve`.
//!
//! Only the memory store here: tower-sessions' SQL and Redis stores (`tower-sessions-sqlx-store`
//! 0.15, `tower-sessions-redis-store` 0.16) need tower-sessions 0.14 and sqlx 0.8, so they are
//! served by the separate cargo project `peers/` with the same routes.
//!
//! `--signed` signs the session id in the cookie (`with_signed`).

use std::process::ExitCode;

use clap::Parser;
use sessionkit_bench::serve::{self, ServeArgs};
use sessionkit_bench::tower_sessions_routes;
use tower_sessions::MemoryStore;

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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let app = tower_sessions_routes::app(MemoryStore::default(), cli.signed);
    serve::run_main("tower_sessions_server", app, &cli.serve.addr).await
}
