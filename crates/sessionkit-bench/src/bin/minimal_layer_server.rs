//! The routes of docs/DESIGN.md §10 behind the least a session layer does
//! ([`sessionkit_bench::minimal_layer`], the in-process benchmarks' yardstick), over HTTP: how
//! near to the cookie floor (`bare_axum --session-cookie`) any session layer can come. Its
//! server-side cookie is as long as `sessionkit serve`'s; with `--signed` the session is in the
//! cookie, signed as Django signs it.

use std::process::ExitCode;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use sessionkit_bench::minimal_layer::{FloorLayer, FloorSession};
use sessionkit_bench::serve::{self, SESSION_COOKIE, ServeArgs};

/// The §10 benchmark routes behind the minimal session layer.
#[derive(Parser)]
#[command(name = "minimal_layer_server")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    /// Keep the session in a signed cookie instead of in memory.
    #[arg(long)]
    signed: bool,
}

/// The key of `SECRET_KEY` the signed cookies are signed with (any will do).
const SECRET: &str = "minimal-layer-server-secret-key-0123456789";

async fn incr(session: FloorSession) -> String {
    let n = session.get("n").unwrap_or(0) + 1;
    session.insert("n", n);
    n.to_string()
}

async fn read(session: FloorSession) -> String {
    session.get("n").unwrap_or(0).to_string()
}

async fn login(session: FloorSession) -> StatusCode {
    session.insert("n", 0);
    StatusCode::OK
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let layer = if cli.signed {
        FloorLayer::signed(SECRET)
    } else {
        FloorLayer::server()
    };
    let (name, rest) = SESSION_COOKIE.split_once('=').expect("a name=value cookie");
    let attributes = rest.split_once("; ").expect("attributes after the value").1;
    let app = Router::new()
        .route("/bench/incr", get(incr))
        .route("/bench/read", get(read))
        .route("/bench/login", post(login))
        .layer(layer.with_cookie(name, attributes));
    serve::run_main("minimal_layer_server", app, &cli.serve.addr).await
}
