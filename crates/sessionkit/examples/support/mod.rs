//! What the examples share: their secret, serving until Ctrl-C, the counter of those whose
//! point is elsewhere, and (in their tests) a client that keeps the session cookie.

// Each example is a crate of its own that uses part of this module.
#![allow(dead_code)]

use axum::Router;
use sessionkit::{Session, SessionError};

#[cfg(test)]
pub mod client;

/// Where the examples listen.
const ADDR: &str = "127.0.0.1:3000";

/// `SECRET_KEY` from the environment, or a random one for this run only (sessions signed with
/// it do not outlive the process), so an example starts with no setup.
pub fn secret_key() -> String {
    std::env::var("SECRET_KEY").unwrap_or_else(|_| random_secret())
}

/// A fresh 256-bit secret, and a note saying what it costs.
pub fn random_secret() -> String {
    eprintln!("SECRET_KEY is not set: using a random one, so sessions end with this process");
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Adds one to this visitor's count (the `counter` example explains it).
pub async fn count(session: Session) -> Result<String, SessionError> {
    let visits: i64 = session.get("visits")?.unwrap_or(0) + 1;
    session.insert("visits", visits)?;
    Ok(visits.to_string())
}

/// Serves `app` on 127.0.0.1:3000 until Ctrl-C.
pub async fn serve(app: Router) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(ADDR).await?;
    println!("listening on http://{ADDR}/ (Ctrl-C stops)");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // An error here means no signal handler: then serve until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
}
