//! The smallest app with sessions: a counter per visitor.
//!
//! ```sh
//! cargo run -p sessionkit --example counter
//! curl -c jar -b jar http://127.0.0.1:3000/   # 1, then 2, 3…
//! ```
//!
//! Settings come from the environment (and `sessionkit.toml`), as in production: by default
//! the `db` engine on `sessionkit.sqlite3` in the working directory. Try another engine with
//! `SESSION_ENGINE=cache` (process memory) or `SESSION_ENGINE=signed_cookies`; with
//! `SECRET_KEY` set, the count survives a restart on every engine but the memory cache.

mod support;

use axum::{Router, routing::get};
use sessionkit::{Session, SessionError, Sessions, Settings};

/// Adds one to this visitor's count.
async fn count(session: Session) -> Result<String, SessionError> {
    let visits: i64 = session.get("visits")?.unwrap_or(0) + 1;
    session.insert("visits", visits)?;
    Ok(visits.to_string())
}

fn app(sessions: &Sessions) -> Router {
    Router::new().route("/", get(count)).layer(sessions.layer())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env_or_secret(|| Ok(support::random_secret()))?;
    let sessions = Sessions::open(settings).await?;
    sessions.engine().migrate().await?; // the table, for `db`; nothing for the others
    support::serve(app(&sessions)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkit::EngineKind;

    /// Each visitor counts on their own; the memory cache keeps the test off the disk.
    #[tokio::test]
    async fn counts_per_visitor() {
        let sessions = Sessions::builder("test secret")
            .engine(EngineKind::Cache)
            .open()
            .await
            .unwrap();
        let mut alice = support::client::Client::new(app(&sessions));
        let mut bob = support::client::Client::new(app(&sessions));
        assert_eq!(alice.get("/").await, "1");
        assert_eq!(alice.get("/").await, "2");
        assert_eq!(bob.get("/").await, "1");
        assert_eq!(alice.get("/").await, "3");
    }
}
