//! The routes of docs/DESIGN.md §10 on actix-web with sessionkit-actix, for comparison with
//! actix-session (`actix_session_server`) and with `sessionkit serve --bench-routes` (axum).
//! Settings come from the environment, as for `sessionkit serve`:
//!
//! ```sh
//! SESSION_ENGINE=cache SESSION_CACHE_URL=memory:// actix_sessionkit_server --addr 127.0.0.1:8000
//! SESSION_ENGINE=signed_cookies SECRET_KEY=… actix_sessionkit_server
//! ```

use std::process::ExitCode;

use actix_web::{App, HttpResponse, HttpServer, web};
use clap::Parser;
use sessionkit::{Sessions, Settings};
use sessionkit_actix::{Session, SessionMiddleware, error};
use sessionkit_bench::serve::ServeArgs;

/// The §10 benchmark routes on actix-web with sessionkit, settings from the environment.
#[derive(Parser)]
#[command(name = "actix_sessionkit_server")]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn counter(session: &Session) -> Result<u64, actix_web::Error> {
    Ok(session.get("n").map_err(error)?.unwrap_or(0))
}

async fn incr(session: Session) -> Result<String, actix_web::Error> {
    let n = counter(&session)? + 1;
    session.insert("n", n).map_err(error)?;
    Ok(n.to_string())
}

/// Only reads, so the middleware writes nothing and sends no cookie.
async fn read(session: Session) -> Result<String, actix_web::Error> {
    Ok(counter(&session)?.to_string())
}

async fn login(session: Session) -> Result<HttpResponse, actix_web::Error> {
    session.cycle_key();
    session.insert("user_id", 42).map_err(error)?;
    session.insert("n", 0).map_err(error)?;
    Ok(HttpResponse::Ok().finish())
}

async fn logout(session: Session) -> HttpResponse {
    session.flush();
    HttpResponse::Ok().finish()
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let sessions = Sessions::open(Settings::from_env()?).await?;
    sessions.engine().migrate().await?;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(sessions.clone()))
            .route("/bench/incr", web::get().to(incr))
            .route("/bench/read", web::get().to(read))
            .route("/bench/login", web::post().to(login))
            .route("/bench/logout", web::get().to(logout))
    })
    .bind(&cli.serve.addr)?;
    for address in server.addrs() {
        println!("actix_sessionkit_server listening on http://{address}");
    }
    server.run().await?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    sessionkit_bench::serve::log_nothing();
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("actix_sessionkit_server: {error}");
            ExitCode::FAILURE
        }
    }
}
