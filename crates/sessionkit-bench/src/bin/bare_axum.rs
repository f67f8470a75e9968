//! The HTTP stack's floor: the routes of docs/DESIGN.md §10 on the same axum and tokio as
//! `sessionkit serve`, with no sessions at all. `/bench/incr` counts per process, so the load
//! generator cannot check lost updates here (run it with `--no-verify`).
//!
//! With `--session-cookie` it also sends what a session layer sends, with no session behind
//! it: `Vary: Cookie` on every response and, where the counter changes, a `Set-Cookie` as long
//! as sessionkit's server-side one, which the load generator's clients then send back. That is
//! the HTTP stack's floor for any session library: the cost of the cookie's bytes alone.
//!
//! With `--redis-write URL` as well, each change of the counter is also written to Redis, one
//! `SET … EX` of a session-sized value on one multiplexed connection (which sends the writes
//! waiting together in one go), before the response: the floor of any session layer that keeps
//! its sessions in Redis and acknowledges a change only once Redis has it, with no reads (a
//! near cache's best case), no versions and no session logic at all.

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
use sessionkit_bench::serve::{self, SESSION_COOKIE, ServeArgs};

/// The §10 benchmark routes with no sessions: the floor the session engines are compared to.
#[derive(Parser)]
#[command(name = "bare_axum")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    /// Send `Vary: Cookie`, and a session-sized `Set-Cookie` where the counter changes.
    #[arg(long)]
    session_cookie: bool,
    /// Also write each change of the counter to the Redis at this URL before answering.
    #[arg(long, value_name = "URL")]
    redis_write: Option<String>,
    /// What the keys of `--redis-write` start with (the run's prefix, for its clean-up).
    #[arg(long, value_name = "PREFIX", default_value = "bare_axum:")]
    redis_key_prefix: String,
}

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

/// The counter, and where its changes are written, if anywhere.
#[derive(Clone, Default)]
struct Counter {
    count: Arc<AtomicU64>,
    redis: Option<RedisWrites>,
}

/// A connection to the Redis each change is written to, and the keys' prefix.
#[derive(Clone)]
struct RedisWrites {
    connection: redis::aio::MultiplexedConnection,
    prefix: Arc<str>,
}

/// What each change writes to Redis: about as long as a sessionkit cache record of the
/// counter's session (its JSON, version and expiry).
const RECORD: &str = "{\"n\":1234567,\"_session_expiry\":1209600,\"v\":42,\"e\":1733500000}";

/// The keys the changes are written under, in turn: as many as the load generator's clients.
const KEYS: u64 = 64;

async fn incr(State(counter): State<Counter>) -> Result<String, StatusCode> {
    let n = counter.count.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(RedisWrites {
        mut connection,
        prefix,
    }) = counter.redis
    {
        redis::cmd("SET")
            .arg(format!("{prefix}{}", n % KEYS))
            .arg(RECORD)
            .arg("EX")
            .arg(1_209_600)
            .exec_async(&mut connection)
            .await
            .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    }
    Ok(n.to_string())
}

async fn read(State(counter): State<Counter>) -> String {
    counter.count.load(Ordering::Relaxed).to_string()
}

async fn ok() -> StatusCode {
    StatusCode::OK
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut counter = Counter::default();
    if let Some(url) = &cli.redis_write {
        let connected = match redis::Client::open(url.as_str()) {
            Ok(client) => client.get_multiplexed_async_connection().await,
            Err(error) => Err(error),
        };
        match connected {
            Ok(connection) => {
                counter.redis = Some(RedisWrites {
                    connection,
                    prefix: cli.redis_key_prefix.as_str().into(),
                })
            }
            Err(error) => {
                eprintln!("bare_axum: --redis-write {url}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
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
    // Written out, not nested under `/bench`, as in every benchmark server (a nested router
    // costs each request a prefix strip and a second routing).
    let app = Router::new()
        .route("/bench/incr", cookie_setting(get(incr)))
        .route("/bench/read", cookie_varying(get(read)))
        .route("/bench/login", cookie_setting(post(ok)))
        .route("/bench/logout", cookie_varying(get(ok)))
        .with_state(counter);
    serve::run_main("bare_axum", app, &cli.serve.addr).await
}
