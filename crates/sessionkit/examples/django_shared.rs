//! One login for a Django site and a Rust service: both read and write Django's own
//! `django_session` table, so a visitor logged in on Django is known here, and what this
//! service stores is in `request.session` on the Django side.
//!
//! ```sh
//! # Django's settings.py SECRET_KEY, and its database:
//! SECRET_KEY='django-insecure-…' DJANGO_DATABASE_URL=sqlite:///path/to/django/db.sqlite3 \
//!     cargo run -p sessionkit --example django_shared
//! # PostgreSQL: DJANGO_DATABASE_URL=postgres://user:password@host/dbname and
//! #   cargo run -p sessionkit --features postgres --example django_shared
//! ```
//!
//! What must match Django's settings: `SECRET_KEY` (it signs `session_data`; list Django's
//! `SECRET_KEY_FALLBACKS` in `SECRET_KEY_FALLBACKS` too), the cookie name (`sessionid` on both
//! sides) and where the cookie is sent: serve both under one host, or set
//! `SESSION_COOKIE_DOMAIN` on both. Django's default `SESSION_SERIALIZER` (JSON) is the one
//! sessionkit speaks. Saves to Django's table are last-writer-wins, as in Django (it has no
//! version column). Django's `manage.py migrate` owns the table; `migrate()` below only
//! creates it where Django has not run yet.

mod support;

use axum::{Router, routing::get};
use sessionkit::django::DjangoLogin;
use sessionkit::{EngineKind, Session, SessionError, Sessions};

/// Who Django logged in (if anyone), and a visit count Django can read as
/// `request.session["rust_visits"]`.
async fn whoami(session: Session) -> Result<String, SessionError> {
    let visits: i64 = session.get("rust_visits")?.unwrap_or(0) + 1;
    session.insert("rust_visits", visits)?;
    // Before acting as this user, check the login as Django's `get_user` does: read the
    // user's `password` column from `auth_user` and call `login.verify(&session, &password,
    // SECRET_KEY, SECRET_KEY_FALLBACKS)`, which logs out sessions older than a password change.
    Ok(match DjangoLogin::from_session(&session) {
        Some(login) => format!("Django logged in user {} (visit {visits})", login.user_id),
        None => format!("not logged in on the Django site (visit {visits})"),
    })
}

fn app(sessions: &Sessions) -> Router {
    Router::new()
        .route("/", get(whoami))
        .layer(sessions.layer())
}

/// Sessions in Django's table on Django's database, signed with Django's secret.
async fn open(
    secret_key: String,
    database_url: String,
) -> Result<Sessions, Box<dyn std::error::Error>> {
    let sessions = Sessions::builder(secret_key)
        .engine(EngineKind::Db)
        .db_url(database_url)
        .configure(|settings| settings.db_table = "django_session".to_owned())
        .open()
        .await?;
    sessions.engine().migrate().await?;
    Ok(sessions)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret_key = std::env::var("SECRET_KEY")
        .map_err(|_| "set SECRET_KEY to Django's SECRET_KEY: it signs the shared sessions")?;
    let database_url =
        std::env::var("DJANGO_DATABASE_URL").unwrap_or_else(|_| "sqlite://db.sqlite3".to_owned());
    support::serve(app(&open(secret_key, database_url).await?)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkit::django::{BACKEND_SESSION_KEY, SESSION_KEY};

    /// A login Django wrote into the shared table is seen here; the visit count goes on.
    #[tokio::test]
    async fn sees_the_login_django_wrote() {
        let dir =
            std::env::temp_dir().join(format!("sessionkit-django-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("db.sqlite3").display());
        let sessions = open("django secret".into(), url).await.unwrap();
        let mut browser = support::client::Client::new(app(&sessions));
        assert_eq!(
            browser.get("/").await,
            "not logged in on the Django site (visit 1)"
        );

        // What Django's login() writes into the visitor's session:
        let cookie_value = browser
            .cookie
            .as_deref()
            .unwrap()
            .trim_start_matches("sessionid=");
        let session = sessions.start(Some(cookie_value)).load().await.unwrap();
        session.insert(SESSION_KEY, "42").unwrap();
        session
            .insert(
                BACKEND_SESSION_KEY,
                "django.contrib.auth.backends.ModelBackend",
            )
            .unwrap();
        session.save().await.unwrap();

        assert_eq!(browser.get("/").await, "Django logged in user 42 (visit 2)");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
