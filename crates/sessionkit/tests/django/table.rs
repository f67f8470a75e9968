//! The `django_session` table shared by Django and sessionkit (`SESSION_DB_TABLE=
//! django_session`), on SQLite and PostgreSQL: rows Django's db backend writes load in
//! sessionkit, and rows sessionkit writes load in Django, for every data set.

use std::sync::Arc;

use serde_json::{Value, json};
use sessionkit::django::json::to_python_json;
use sessionkit::engine::SessionKey;
use sessionkit::engine::{ChangeSet, DbEngine, Engine, SaveRequest};
use sessionkit::{EngineKind, Settings};
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::data_sets;
use crate::python::{Django, loaded_json, text};

const SECRET: &str = "django-interop-table-secret";
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

/// A database both sides use: its URL for sessionkit and its DATABASES entry for Django.
struct SharedDatabase {
    url: String,
    django: Value,
    /// What to remove afterwards: a directory, or a PostgreSQL database.
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(std::path::PathBuf),
    PostgresDatabase(String),
}

impl SharedDatabase {
    fn sqlite() -> SharedDatabase {
        let dir = std::env::temp_dir().join(format!(
            "sessionkit-django-table-{}",
            SessionKey::generate().as_str()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("shared.sqlite3");
        SharedDatabase {
            url: format!("sqlite://{}", file.display()),
            django: json!({"ENGINE": "django.db.backends.sqlite3", "NAME": file}),
            cleanup: Cleanup::Directory(dir),
        }
    }

    async fn postgres() -> SharedDatabase {
        let name = format!("sk_django_{}", &SessionKey::generate().as_str()[..12]);
        admin(&format!("CREATE DATABASE {name}")).await;
        SharedDatabase {
            url: format!("{POSTGRES}/{name}"),
            django: json!({
                "ENGINE": "django.db.backends.postgresql",
                "NAME": name, "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432",
            }),
            cleanup: Cleanup::PostgresDatabase(name),
        }
    }

    async fn remove(self) {
        match self.cleanup {
            Cleanup::Directory(dir) => std::fs::remove_dir_all(dir).unwrap(),
            Cleanup::PostgresDatabase(name) => {
                admin(&format!("DROP DATABASE {name} WITH (FORCE)")).await
            }
        }
    }

    fn django(&self) -> Django {
        Django::new(SECRET)
    }

    async fn sessionkit(&self) -> Arc<dyn Engine> {
        let settings = Settings {
            engine: EngineKind::Db,
            db_url: self.url.clone(),
            db_table: "django_session".to_owned(),
            ..Settings::new(SECRET)
        };
        let engine = DbEngine::connect(&settings)
            .await
            .expect("the shared database");
        engine
            .migrate()
            .await
            .expect("migrate leaves Django's table as it is");
        Arc::new(engine)
    }
}

async fn admin(statement: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("{POSTGRES}/test"))
        .await
        .unwrap();
    sqlx::query(AssertSqlSafe(statement.to_owned()))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    pool.close().await;
}

/// Django writes every data set into the table; sessionkit loads each by its key.
async fn django_rows_load_in_sessionkit(db: SharedDatabase) {
    let sets = data_sets::all();
    let written = db.django().run(
        "table",
        "write",
        json!({"database": db.django, "data_sets": data_sets::requests(&sets)}),
    );
    let engine = db.sessionkit().await;
    for (set, row) in sets.iter().zip(written.as_array().expect("a list")) {
        let key = text(row, "key");
        let loaded = engine.load(key).await.unwrap().unwrap_or_else(|| {
            panic!("{}: sessionkit found no session for Django's row", set.name)
        });
        assert_eq!(
            to_python_json(&loaded.data),
            to_python_json(&set.data),
            "{}",
            set.name
        );
    }
    db.remove().await;
}

/// sessionkit writes every data set into the table; Django's SessionStore loads each.
async fn sessionkit_rows_load_in_django(db: SharedDatabase) {
    let sets = data_sets::all();
    // Django's migrations create the table, as in a real Django project.
    db.django().run(
        "table",
        "write",
        json!({"database": db.django, "data_sets": []}),
    );
    let engine = db.sessionkit().await;
    let mut keys = Vec::new();
    for set in &sets {
        let saved = engine
            .save(SaveRequest {
                previous: None,
                data: &Arc::new(set.data.clone()),
                changes: &ChangeSet::default(),
                now: OffsetDateTime::now_utc(),
                cookie_age: 1_209_600,
            })
            .await
            .unwrap();
        keys.push(saved.cookie_value);
    }
    let read = db.django().run(
        "table",
        "read",
        json!({"database": db.django, "keys": keys}),
    );
    for (set, answer) in sets.iter().zip(read.as_array().expect("a list")) {
        assert_eq!(
            loaded_json(answer, set.name),
            to_python_json(&set.data),
            "{}: Django loaded something else",
            set.name
        );
    }
    db.remove().await;
}

#[tokio::test]
async fn django_rows_in_sqlite_load_in_sessionkit() {
    django_rows_load_in_sessionkit(SharedDatabase::sqlite()).await;
}

#[tokio::test]
async fn django_rows_in_postgres_load_in_sessionkit() {
    django_rows_load_in_sessionkit(SharedDatabase::postgres().await).await;
}

#[tokio::test]
async fn sessionkit_rows_in_sqlite_load_in_django() {
    sessionkit_rows_load_in_django(SharedDatabase::sqlite()).await;
}

#[tokio::test]
async fn sessionkit_rows_in_postgres_load_in_django() {
    sessionkit_rows_load_in_django(SharedDatabase::postgres().await).await;
}
