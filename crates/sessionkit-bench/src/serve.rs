//! Start-up shared by the comparison servers: listen, say where, stop cleanly on Ctrl-C or
//! SIGTERM (what `scripts/bench.sh` sends when a target's runs are done).

use std::process::ExitCode;

use axum::Router;
use tokio::net::TcpListener;

/// The cookie `sessionkit serve` sets for a server-side session (a 32-character key, the default
/// attributes with `SESSION_COOKIE_SECURE=true`, two weeks' `Max-Age`): the floors send as many
/// bytes.
pub const SESSION_COOKIE: &str = "sessionid=0123456789abcdefghijklmnopqrstuv; HttpOnly; \
    SameSite=Lax; Secure; Path=/; Max-Age=1209600; Expires=Fri, 11 Dec 2026 00:00:00 GMT";

/// The comparison servers' command line.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8000")]
    pub addr: String,
}

/// Serves `app` on `addr` until Ctrl-C or SIGTERM, printing `<name> listening on http://…`.
pub async fn run(name: &str, app: Router, addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("{name} listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// [`run`] as a server binary's `main` ends: an error is printed after `name`, and the exit
/// code says whether it served.
pub async fn run_main(name: &str, app: Router, addr: &str) -> ExitCode {
    match run(name, app, addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
