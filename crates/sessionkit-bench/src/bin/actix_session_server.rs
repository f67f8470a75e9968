//! The routes of docs/DESIGN.md §10 on actix-web with actix-session 0.11, for comparison with
//! `actix_sessionkit_server`: `--store cookie` (the session in a private, encrypted cookie) or
//! `--store redis` (`RedisSessionStore` on `--redis-url`).
//!
//! The session lasts two weeks (`PersistentSession`), so the cookie carries `Max-Age` as
//! sessionkit's does.

use std::process::ExitCode;

use actix_session::config::PersistentSession;
use actix_session::storage::{CookieSessionStore, RedisSessionStore, SessionStore};
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::error::ErrorServiceUnavailable;
use actix_web::{App, HttpResponse, HttpServer, web};
use clap::{Parser, ValueEnum};
use sessionkit_bench::serve::ServeArgs;

/// The §10 benchmark routes on actix-web with actix-session.
#[derive(Parser)]
#[command(name = "actix_session_server")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    /// Where actix-session keeps the session.
    #[arg(long, value_enum, default_value = "cookie")]
    store: Store,
    /// The Redis of `--store redis`.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Prefix of `--store redis`'s keys, so a script can delete them from a shared Redis.
    #[arg(long, default_value = "")]
    redis_key_prefix: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Store {
    Cookie,
    Redis,
}

fn counter(session: &Session) -> Result<u64, actix_web::Error> {
    Ok(session
        .get("n")
        .map_err(ErrorServiceUnavailable)?
        .unwrap_or(0))
}

async fn incr(session: Session) -> Result<String, actix_web::Error> {
    let n = counter(&session)? + 1;
    session.insert("n", n).map_err(ErrorServiceUnavailable)?;
    Ok(n.to_string())
}

async fn read(session: Session) -> Result<String, actix_web::Error> {
    Ok(counter(&session)?.to_string())
}

async fn login(session: Session) -> Result<HttpResponse, actix_web::Error> {
    session.renew();
    session
        .insert("user_id", 42)
        .map_err(ErrorServiceUnavailable)?;
    session.insert("n", 0).map_err(ErrorServiceUnavailable)?;
    Ok(HttpResponse::Ok().finish())
}

async fn logout(session: Session) -> HttpResponse {
    session.purge();
    HttpResponse::Ok().finish()
}

/// Serves the routes with sessions in the store `store` makes (one per worker thread) until
/// Ctrl-C or SIGTERM.
async fn serve<S, F>(store: F, addr: &str) -> Result<(), Box<dyn std::error::Error>>
where
    S: SessionStore + 'static,
    F: Fn() -> S + Clone + Send + 'static,
{
    let key = Key::generate();
    let server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(store(), key.clone())
            .session_lifecycle(
                PersistentSession::default()
                    .session_ttl(actix_web::cookie::time::Duration::weeks(2)),
            )
            .build();
        App::new()
            .wrap(sessions)
            .route("/bench/incr", web::get().to(incr))
            .route("/bench/read", web::get().to(read))
            .route("/bench/login", web::post().to(login))
            .route("/bench/logout", web::get().to(logout))
    })
    .bind(addr)?;
    for address in server.addrs() {
        println!("actix_session_server listening on http://{address}");
    }
    server.run().await?;
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.store {
        Store::Cookie => serve(CookieSessionStore::default, &cli.serve.addr).await,
        Store::Redis => {
            let prefix = cli.redis_key_prefix;
            let store = RedisSessionStore::builder(cli.redis_url)
                .cache_keygen(move |key| format!("{prefix}{key}"))
                .build()
                .await?;
            serve(move || store.clone(), &cli.serve.addr).await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    sessionkit_bench::serve::log_nothing();
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("actix_session_server: {error}");
            ExitCode::FAILURE
        }
    }
}
