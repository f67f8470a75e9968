//! The HTTP stack's floor: the routes of docs/DESIGN.md §10 on the same axum and tokio as
//! `sessionkit serve`, with no sessions at all. `/bench/incr` counts per process, so the load
//! generator cannot check lost updates here (run it with `--no-verify`).
//!
//! With `--session-cookie` it also sends what a session layer sends, with no session behind
//! it: `Vary: Cookie` on every response and, where the counter changes, a `Set-Cookie` as long
//! as sessionkit's server-side one, which the load generator's clients then send back. That is
//! the HTTP stack's floor for any session library: the cost of the cookie's bytes alone.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::header::{SET_COOKIE, VARY};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use clap::Parser;
use sessionkit_bench::serve::{self, ServeArgs};

/// The §10 benchmark routes with no sessions: the floor the session engines are compared to.
#[derive(Parser)]
#[command(name = "bare_axum")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    /// Send `Vary: Cookie`, and a session-sized `Set-Cookie` where the counter changes.
    #[arg(long)]
    session_cookie: bool,
}

/// A cookie as long as `sessionkit serve` sets for a server-side session (a 32-character key,
/// the default attributes with `SESSION_COOKIE_SECURE=true`, two weeks' `Max-Age`).
const SESSION_COOKIE: &str = "sessionid=0123456789abcdefghijklmnopqrstuv; HttpOnly; SameSite=Lax; \
    Secure; Path=/; Max-Age=1209600; Expires=Fri, 11 Dec 2026 00:00:00 GMT";

async fn vary_cookie(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("Cookie"));
    response
}

async fn set_cookie(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(SET_COOKIE, HeaderValue::from_static(SESSION_COOKIE));
    vary_cookie(response).await
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
    // The routes that change the counter set the cookie; the others only vary on it.
    let cookie_setting = |route: MethodRouter<Counter>| {
        if cli.session_cookie {
            route.layer(map_response(set_cookie))
        } else {
            route
        }
    };
    let cookie_varying = |route: MethodRouter<Counter>| {
        if cli.session_cookie {
            route.layer(map_response(vary_cookie))
        } else {
            route
        }
    };
    let bench = Router::new()
        .route("/incr", cookie_setting(get(incr)))
        .route("/read", cookie_varying(get(read)))
        .route("/login", cookie_setting(post(ok)))
        .route("/logout", cookie_varying(get(ok)))
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
