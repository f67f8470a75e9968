//! `sessionkit serve`: the demo store over HTTP, on whichever engine the settings select.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::net::TcpListener;

use crate::{Failure, config, shop};

const EXAMPLES: &str = "\
Examples:
  sessionkit serve                                  # then open http://localhost:8000/
  sessionkit serve --addr 0.0.0.0:8080              # reachable from other machines
  SESSION_ENGINE=signed_cookies sessionkit serve    # sessions in the cookie, nothing stored
  SESSION_DB_URL=postgres://postgres@127.0.0.1/test sessionkit serve

  # the benchmark routes (docs/DESIGN.md section 10), only when asked, one cookie jar per client:
  sessionkit serve --bench-routes
  curl -c jar -b jar http://localhost:8000/bench/incr

The session table is created at start-up if missing, and expired sessions are removed every
five minutes (--expire-every). The cookie is Secure by default; browsers
and curl accept Secure cookies over plain HTTP on localhost only. Stop with Ctrl-C or SIGTERM:
requests in flight finish and their sessions are saved.";

/// Arguments of `sessionkit serve`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8000")]
    addr: String,
    /// Also answer the benchmark routes under /bench/ (incr, read, login, logout). They have no
    /// CSRF protection and share the store's session, so they are off unless asked for.
    #[arg(long)]
    bench_routes: bool,
    /// Serve the library's metrics in Prometheus text format at http://HOST:PORT/metrics.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Remove expired sessions in the background every this many seconds (0: never, leaving
    /// it to `sessionkit clearsessions`). Safe with several `serve` processes on one store.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    expire_every: u64,
}

/// `sessionkit serve`: runs until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> Result<(), Failure> {
    if let Some(addr) = &args.metrics_addr {
        serve_metrics(addr).await?;
    }
    let sessions = config::open().await?;
    sessions.engine().migrate().await.map_err(Failure::other)?;
    let _expiry = (args.expire_every > 0)
        .then(|| sessions.spawn_expiry(Duration::from_secs(args.expire_every)));
    let listener = TcpListener::bind(&args.addr)
        .await
        .map_err(|e| Failure::Other(format!("cannot listen on {}: {e}", args.addr)))?;
    let local = listener.local_addr().map_err(Failure::other)?;
    println!(
        "sessionkit demo store ({} engine): open {}",
        sessions.settings().engine,
        url_to_open(local)
    );
    axum::serve(listener, shop::router(&sessions, args.bench_routes))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(Failure::other)?;
    tracing::info!("stopped");
    Ok(())
}

/// Installs a Prometheus recorder for the library's metrics and serves its text at
/// `/metrics` on `addr`, on a listener of its own so scraping never competes with the store.
async fn serve_metrics(addr: &str) -> Result<(), Failure> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(Failure::other)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Other(format!("cannot listen on {addr} for metrics: {e}")))?;
    println!(
        "metrics: http://{}/metrics",
        listener.local_addr().map_err(Failure::other)?
    );
    let upkeep = handle.clone();
    tokio::spawn(async move {
        // Summaries drop old samples only when asked.
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// Browsers and curl keep a Secure cookie sent over plain HTTP from `localhost`, but not
/// necessarily from `127.0.0.1`, so a local address is shown as `localhost`.
fn url_to_open(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("http://localhost:{}/", addr.port())
    } else {
        format!("http://{addr}/")
    }
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` and systemd send).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {error}");
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
            Err(error) => {
                tracing::error!("cannot listen for SIGTERM: {error}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down; finishing requests in flight");
}
