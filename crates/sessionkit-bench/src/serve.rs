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

/// Installs a subscriber that keeps no log, as an application that logs nothing at these
/// levels: spans and events cost only the check that turns them off. Every comparison server
/// and in-process stack calls it, so none pays for logging the others do not.
///
/// Without any subscriber, the `log` feature of `tracing` (which actix-web turns on in this
/// crate, not a session library) makes every span, even a disabled `debug` one, build a log
/// record: a cost that would weigh on the layers with spans (sessionkit's, tower-sessions')
/// and not on the others. Logging at `info`, as `sessionkit serve` does, would instead time
/// the `info` spans tower-sessions makes around its store calls, which sessionkit has none
/// of: the measure is the session layers' work, not logging.
pub fn log_nothing() {
    // Set once per process: a second call (another stack's set-up) keeps the first.
    let _ = tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::new());
}

/// Serves `app` on `addr` until Ctrl-C or SIGTERM, printing `<name> listening on http://…`.
pub async fn run(name: &str, app: Router, addr: &str) -> std::io::Result<()> {
    log_nothing();
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
