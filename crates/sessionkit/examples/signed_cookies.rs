//! Sessions with no server state: the data travels in the cookie, signed with `SECRET_KEY`
//! (Django's `signed_cookies` engine, byte for byte). Any instance that has the secret reads
//! the cookie; a tampered one is worth nothing (a fresh session).
//!
//! ```sh
//! SECRET_KEY=$(openssl rand -hex 32) cargo run -p sessionkit --example signed_cookies
//! curl -c jar -b jar http://127.0.0.1:3000/visit/home
//! curl -c jar -b jar http://127.0.0.1:3000/visit/cart   # home, cart
//! cat jar                                               # the pages, in the cookie itself
//! ```
//!
//! Mind that the visitor can read (not change) what the cookie holds, that it holds at most
//! 4 KB (a larger session is an error, never a cookie the browser drops) and that a stolen
//! cookie stays valid until it expires: keep secrets and logins on a server engine.

mod support;

use axum::extract::Path;
use axum::{Router, routing::get};
use sessionkit::{EngineKind, Session, SessionError, Sessions};

/// Pages remembered per visitor: few, as the cookie carries them all.
const PAGES_KEPT: usize = 5;

/// Records a visit to `page` and lists the visitor's last pages.
async fn visit(Path(page): Path<String>, session: Session) -> Result<String, SessionError> {
    let mut pages: Vec<String> = session.get("pages")?.unwrap_or_default();
    pages.push(page);
    let skip = pages.len().saturating_sub(PAGES_KEPT);
    pages.drain(..skip);
    session.insert("pages", &pages)?;
    Ok(pages.join(", "))
}

fn app(sessions: &Sessions) -> Router {
    Router::new()
        .route("/visit/{page}", get(visit))
        .layer(sessions.layer())
}

async fn open(secret: String) -> Result<Sessions, sessionkit::engine::OpenError> {
    Sessions::builder(secret)
        .engine(EngineKind::SignedCookies)
        .cookie_age(24 * 60 * 60)
        .open()
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions = open(support::secret_key()).await?;
    support::serve(app(&sessions)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use support::client::Client;

    /// A cookie made by one instance is read by another that has the same secret: the data is
    /// in the cookie, not in either process.
    #[tokio::test]
    async fn any_instance_with_the_secret_reads_the_cookie() {
        let mut browser = Client::new(app(&open("shared secret".into()).await.unwrap()));
        assert_eq!(browser.get("/visit/home").await, "home");

        let mut other_instance = Client::new(app(&open("shared secret".into()).await.unwrap()));
        other_instance.cookie = browser.cookie.clone();
        assert_eq!(other_instance.get("/visit/cart").await, "home, cart");
    }

    /// A changed cookie, or one signed with another secret, starts a fresh session.
    #[tokio::test]
    async fn a_forged_cookie_is_a_fresh_session() {
        let mut browser = Client::new(app(&open("our secret".into()).await.unwrap()));
        browser.get("/visit/home").await;
        let mut forger = Client::new(app(&open("their secret".into()).await.unwrap()));
        forger.get("/visit/admin").await;

        browser.cookie = forger.cookie.clone();
        assert_eq!(browser.get("/visit/cart").await, "cart");
    }

    /// Only the last pages are kept, so the cookie stays small.
    #[tokio::test]
    async fn keeps_the_last_pages() {
        let mut browser = Client::new(app(&open("secret".into()).await.unwrap()));
        for page in ["a", "b", "c", "d", "e", "f"] {
            browser.get(&format!("/visit/{page}")).await;
        }
        assert_eq!(browser.get("/visit/g").await, "c, d, e, f, g");
    }
}
