//! The smallest actix-web app with sessions: a counter per visitor.
//!
//! ```sh
//! cargo run -p sessionkit-actix --example counter
//! curl -c jar -b jar http://127.0.0.1:3000/   # 1, then 2, 3…
//! ```
//!
//! Settings come from the environment (and `sessionkit.toml`), as for the axum examples: by
//! default the `db` engine on `sessionkit.sqlite3` in the working directory; try
//! `SESSION_ENGINE=cache` (process memory) or `SESSION_ENGINE=signed_cookies`.

use actix_web::{App, HttpServer, web};
use sessionkit::engine::SessionKey;
use sessionkit::{Sessions, Settings};
use sessionkit_actix::{Session, SessionMiddleware, error};

/// Adds one to this visitor's count.
async fn count(session: Session) -> Result<String, actix_web::Error> {
    let visits: i64 = session.get("visits").map_err(error)?.unwrap_or(0) + 1;
    session.insert("visits", visits).map_err(error)?;
    Ok(visits.to_string())
}

/// The app's routes, behind the session middleware.
fn routes(config: &mut web::ServiceConfig) {
    config.route("/", web::get().to(count));
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env_or_secret(|| {
        eprintln!("SECRET_KEY is not set: using a random one, so sessions end with this process");
        Ok(SessionKey::generate().as_str().to_owned())
    })?;
    let sessions = Sessions::open(settings).await?;
    sessions.engine().migrate().await?; // the table, for `db`; nothing for the others
    println!("listening on http://127.0.0.1:3000");
    HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(sessions.clone()))
            .configure(routes)
    })
    .bind(("127.0.0.1", 3000))?
    .run()
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test;
    use sessionkit::EngineKind;

    /// Each visitor counts on their own, by the cookie they were given.
    #[actix_web::test]
    async fn counts_per_visitor() {
        let sessions = Sessions::builder("test secret")
            .engine(EngineKind::Cache)
            .open()
            .await
            .unwrap();
        let app = test::init_service(
            App::new()
                .wrap(SessionMiddleware::new(sessions))
                .configure(routes),
        )
        .await;
        let visit = |cookie: Option<String>| {
            let mut request = test::TestRequest::get().uri("/");
            if let Some(cookie) = cookie {
                request = request.insert_header(("cookie", cookie));
            }
            test::call_service(&app, request.to_request())
        };
        let first = visit(None).await;
        let alice = first.headers().get("set-cookie").unwrap().to_str().unwrap();
        let alice = alice.split(';').next().unwrap().to_owned();
        assert_eq!(test::read_body(first).await, "1");
        assert_eq!(test::read_body(visit(Some(alice.clone())).await).await, "2");
        assert_eq!(test::read_body(visit(None).await).await, "1", "bob");
        assert_eq!(test::read_body(visit(Some(alice)).await).await, "3");
    }
}
