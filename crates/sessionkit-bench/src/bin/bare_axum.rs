//! The HTTP stack's floor: the routes of DESIGN.md §10 on the same axum and tokio as
//! `sessionkit serve`, with no sessions at all. `/bench/incr` counts per process, so the load
//! generator cannot check lost updates here (run it with `--no-verify`).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use sessionkit_bench::serve::{self, ServeArgs};

/// The §10 benchmark routes with no sessions: the floor the session engines are compared to.
#[derive(Parser)]
#[command(name = "bare_axum")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

type Counter = Arc<AtomicU64>;

async fn incr(State(counter): State<Counter>) -> String {
    (counter.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

async fn read(State(counter): State<Counter>) -> String {
    counter.load(Ordering::Relaxed).to_string()
}

async fn ok() -> StatusCode {
    StatusCode::OK
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let bench = Router::new()
        .route("/incr", get(incr))
        .route("/read", get(read))
        .route("/login", post(ok))
        .route("/logout", get(ok))
        .with_state(Counter::default());
    let app = Router::new().nest("/bench", bench);
    match serve::run("bare_axum", app, &cli.serve.addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bare_axum: {error}");
            ExitCode::FAILURE
        }
    }
}
