//! Copying sessions between stores (`Engine::export`, `Engine::import`, `copy_sessions`): keys,
//! data and expiry survive, so the same cookie works against the destination; expired sessions
//! stay behind; nothing at the destination is overwritten; and a store that keeps only key
//! hashes cannot fill Django's table, which is reported instead of writing rows no cookie finds.
//!
//! Real services throughout (docs/DESIGN.md §9): each test works in a table, Redis prefix or
//! directory of its own and removes it at the end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use sessionkit::engine::SessionKey;
use sessionkit::engine::{
    self, ChangeSet, CopyReport, Data, Engine, EngineError, ExportedSession, ImportOutcome,
    SaveRequest,
};
use sessionkit::{EngineKind, Settings};
use sqlx::AssertSqlSafe;
use time::{Duration, OffsetDateTime};

mod common;
#[path = "common/redis_setups.rs"]
mod redis_setups;
use common::{REDIS_URL, delete_redis_keys};
use redis_setups::Setup;

const SECRET: &str = "copy-test-secret-key";
const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Small pages, so every test crosses page boundaries.
const PAGE: usize = 2;

fn unique() -> String {
    SessionKey::generate().as_str()[..12].to_owned()
}

fn object(value: Value) -> Data {
    Data::try_from(value).expect("a JSON object")
}

/// One store under test, opened as an application would, and what to remove afterwards.
struct Store {
    engine: Arc<dyn Engine>,
    settings: Settings,
    dir: Option<PathBuf>,
    redis_prefix: Option<String>,
    table: Option<(&'static str, String)>,
}

impl Store {
    async fn open(settings: Settings) -> Store {
        let engine = engine::open(&settings)
            .await
            .unwrap_or_else(|e| panic!("cannot open {} (is it running?): {e}", settings.engine));
        engine.migrate().await.expect("migrate");
        Store {
            engine,
            settings,
            dir: None,
            redis_prefix: None,
            table: None,
        }
    }

    fn temporary_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sessionkit-copy-{}", unique()));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        dir
    }

    async fn sqlite(table: &str) -> Store {
        let dir = Store::temporary_dir();
        let mut store = Store::open(Settings {
            engine: EngineKind::Db,
            db_url: format!("sqlite://{}", dir.join("sessions.sqlite3").display()),
            db_table: table.to_owned(),
            ..Settings::new(SECRET)
        })
        .await;
        store.dir = Some(dir);
        store
    }

    /// Django's `django_session` in an SQLite file of its own.
    async fn django_sqlite() -> Store {
        Store::sqlite("django_session").await
    }

    /// sessionkit's table in an SQLite file of its own.
    async fn sessionkit_sqlite() -> Store {
        Store::sqlite("sessionkit_session").await
    }

    /// sessionkit's table under a name of its own on a shared server.
    async fn sessionkit_table(server: &'static str) -> Store {
        let table = format!("sk_copy_{}", unique());
        let mut store = Store::open(Settings {
            engine: EngineKind::Db,
            db_url: server.to_owned(),
            db_table: table.clone(),
            ..Settings::new(SECRET)
        })
        .await;
        store.table = Some((server, table));
        store
    }

    async fn redis() -> Store {
        let prefix = format!("sk_copy_{}:", unique());
        let mut store = Store::open(Settings {
            engine: EngineKind::Cache,
            cache_url: REDIS_URL.to_owned(),
            cache_key_prefix: prefix.clone(),
            ..Settings::new(SECRET)
        })
        .await;
        store.redis_prefix = Some(prefix);
        store
    }

    /// The cache engine on the private cluster or Sentinel setup the testkit shares among
    /// this process's tests (its keys go with it).
    async fn redis_setup(setup: Setup) -> Store {
        let url = tokio::task::spawn_blocking(move || setup.url())
            .await
            .expect("start the Redis setup");
        Store::open(Settings {
            engine: EngineKind::Cache,
            cache_url: url,
            cache_key_prefix: format!("sk_copy_{}:", unique()),
            ..Settings::new(SECRET)
        })
        .await
    }

    async fn memory() -> Store {
        Store::open(Settings {
            engine: EngineKind::Cache,
            cache_url: "memory://".to_owned(),
            ..Settings::new(SECRET)
        })
        .await
    }

    async fn file() -> Store {
        let dir = Store::temporary_dir();
        let mut store = Store::open(Settings {
            engine: EngineKind::File,
            file_path: dir.clone(),
            ..Settings::new(SECRET)
        })
        .await;
        store.dir = Some(dir);
        store
    }

    /// Redis in front of a PostgreSQL table.
    async fn cached_db() -> Store {
        let (prefix, table) = (
            format!("sk_copy_{}:", unique()),
            format!("sk_copy_{}", unique()),
        );
        let mut store = Store::open(Settings {
            engine: EngineKind::CachedDb,
            cache_url: REDIS_URL.to_owned(),
            cache_key_prefix: prefix.clone(),
            db_url: POSTGRES_URL.to_owned(),
            db_table: table.clone(),
            ..Settings::new(SECRET)
        })
        .await;
        store.redis_prefix = Some(prefix);
        store.table = Some((POSTGRES_URL, table));
        store
    }

    /// Creates a session holding `data`, saved at `now` with a cookie age of `age` seconds;
    /// returns its cookie value.
    async fn create_at(&self, data: Value, now: OffsetDateTime, age: i64) -> String {
        self.engine
            .save(SaveRequest {
                previous: None,
                data: &Arc::new(object(data)),
                changes: &ChangeSet::default(),
                now,
                cookie_age: age,
            })
            .await
            .expect("the engine saves")
            .cookie_value
    }

    /// Creates a live session holding `data`, expiring in `age` seconds.
    async fn create(&self, data: Value, age: i64) -> String {
        self.create_at(data, OffsetDateTime::now_utc(), age).await
    }

    /// Creates a session that expired an hour ago.
    async fn create_expired(&self, data: Value) -> String {
        self.create_at(data, OffsetDateTime::now_utc() - Duration::hours(2), 3600)
            .await
    }

    /// Every session `export` lists, page by page.
    async fn export_all(&self) -> Vec<ExportedSession> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.engine.export(cursor, PAGE).await.expect("export");
            assert_eq!(page.unreadable, 0, "{}", self.settings.engine);
            all.extend(page.sessions);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return all,
            }
        }
    }

    /// Every exported session by its key's hash (the address in every store but Django's
    /// table, so stores of both kinds compare), checking that none is listed twice.
    async fn exported(&self) -> BTreeMap<String, (Data, OffsetDateTime)> {
        let mut all = BTreeMap::new();
        for session in self.export_all().await {
            let previous = all.insert(hash_of(&session), (session.data, session.expires));
            assert!(previous.is_none(), "listed twice: {:?}", session.address);
        }
        all
    }

    async fn data(&self, cookie: &str) -> Option<Data> {
        self.engine
            .load(cookie)
            .await
            .expect("load")
            .map(|loaded| Arc::unwrap_or_clone(loaded.data))
    }

    async fn cleanup(self) {
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir).expect("remove the temporary directory");
        }
        if let Some((server, table)) = &self.table {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(server)
                .await
                .expect("reach the server");
            for name in [table.clone(), format!("{table}_lock")] {
                sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
                    .execute(&pool)
                    .await
                    .expect("drop the test table");
            }
            pool.close().await;
        }
        if let Some(prefix) = &self.redis_prefix {
            delete_redis_keys(prefix).await;
        }
    }
}

/// The SHA-256 of the session's key: its key hashed when the source knew the key, else its
/// address, which is that hash.
fn hash_of(session: &ExportedSession) -> String {
    match &session.key {
        Some(key) => key.hashed(),
        None => session.address.clone(),
    }
}

async fn copy(from: &Store, to: &Store) -> CopyReport {
    engine::copy_sessions(from.engine.as_ref(), to.engine.as_ref(), PAGE, |_| {})
        .await
        .expect("copy the sessions")
}

/// Five sessions of assorted shapes: a logged-in user, nested data, non-ASCII text, a custom
/// expiry (`_session_expiry`) and an empty cart, with different lifetimes.
async fn five_sessions(store: &Store) -> Vec<String> {
    let mut cookies = Vec::new();
    for (data, age) in [
        (json!({"_auth_user_id": "42", "theme": "dark"}), 3600),
        (json!({"cart": [{"sku": "A-1", "qty": 2}], "n": 7}), 600),
        (json!({"greeting": "grüß dich ☃"}), 86_400),
        (json!({"_session_expiry": 120, "flash": null}), 3600),
        (json!({"cart": []}), 1_209_600),
    ] {
        cookies.push(store.create(data, age).await);
    }
    cookies
}

/// Copies five sessions from `from` to `to` and checks that the destination holds the same
/// sessions, data and expiry, and that each cookie loads the same data from it.
async fn assert_copies_everything(from: &Store, to: &Store) {
    let cookies = five_sessions(from).await;
    let report = copy(from, to).await;
    assert_eq!(
        report,
        CopyReport {
            copied: 5,
            ..CopyReport::default()
        }
    );
    let (source, destination) = (from.exported().await, to.exported().await);
    assert_eq!(source.len(), 5);
    assert_eq!(source, destination, "same sessions, data and expiry");
    for cookie in &cookies {
        let data = to.data(cookie).await;
        assert!(
            data.is_some(),
            "the cookie finds its session at the destination"
        );
        assert_eq!(data, from.data(cookie).await);
    }
}

#[tokio::test]
async fn djangos_table_copied_into_redis_keeps_keys_data_and_expiry() {
    let (from, to) = (Store::django_sqlite().await, Store::redis().await);
    assert_copies_everything(&from, &to).await;
    from.cleanup().await;
    to.cleanup().await;
}

/// Moving from one Redis to a cluster without logging anyone out: `copy-sessions` from the
/// single node's key names to the cluster's hash-tagged ones, every cookie still valid.
#[tokio::test]
async fn one_redis_copied_into_a_cluster_keeps_keys_data_and_expiry() {
    let (from, to) = (
        Store::redis().await,
        Store::redis_setup(Setup::Cluster).await,
    );
    assert_copies_everything(&from, &to).await;
    from.cleanup().await;
    to.cleanup().await;
}

#[tokio::test]
async fn sessionkit_table_on_postgres_copied_into_files_keeps_keys_data_and_expiry() {
    let (from, to) = (
        Store::sessionkit_table(POSTGRES_URL).await,
        Store::file().await,
    );
    assert_copies_everything(&from, &to).await;
    from.cleanup().await;
    to.cleanup().await;
}

#[tokio::test]
async fn expired_sessions_are_not_copied() {
    let (from, to) = (Store::sessionkit_sqlite().await, Store::file().await);
    let live = from.create(json!({"n": 1}), 3600).await;
    let expired = from.create_expired(json!({"n": 2})).await;
    let report = copy(&from, &to).await;
    assert_eq!(
        report,
        CopyReport {
            copied: 1,
            ..CopyReport::default()
        }
    );
    assert!(to.data(&live).await.is_some());
    assert!(to.data(&expired).await.is_none());
    assert!(!to.engine.exists(&expired).await.unwrap());

    // A session that expires between export and import is not stored either.
    let mut session = from.export_all().await.pop().expect("the live session");
    session.expires = OffsetDateTime::now_utc() - Duration::seconds(1);
    session.address = SessionKey::generate().hashed();
    assert_eq!(
        to.engine.import(&session).await.unwrap(),
        ImportOutcome::Expired
    );
    assert_eq!(to.exported().await.len(), 1, "nothing written");
    from.cleanup().await;
    to.cleanup().await;
}

#[tokio::test]
async fn sessions_already_at_the_destination_are_not_overwritten() {
    let (from, to) = (Store::redis().await, Store::sessionkit_sqlite().await);
    let taken = from.create(json!({"n": 1}), 3600).await;
    let free = from.create(json!({"n": 2}), 3600).await;
    // The destination already has `taken`'s key, with other data.
    let mut theirs = from
        .export_all()
        .await
        .into_iter()
        .find(|s| s.address == SessionKey::parse(&taken).unwrap().hashed())
        .expect("the taken session");
    theirs.data = object(json!({"n": "the destination's own"}));
    assert_eq!(
        to.engine.import(&theirs).await.unwrap(),
        ImportOutcome::Copied
    );

    let report = copy(&from, &to).await;
    assert_eq!(
        report,
        CopyReport {
            copied: 1,
            already_present: 1,
            ..CopyReport::default()
        }
    );
    assert_eq!(to.data(&taken).await, Some(theirs.data.clone()));
    assert_eq!(to.data(&free).await, from.data(&free).await);

    let again = copy(&from, &to).await;
    assert_eq!(
        again,
        CopyReport {
            already_present: 2,
            ..CopyReport::default()
        },
        "a second copy changes nothing"
    );
    from.cleanup().await;
    to.cleanup().await;
}

#[tokio::test]
async fn hashed_keys_cannot_be_copied_into_djangos_table_and_say_so() {
    let (from, to) = (
        Store::sessionkit_sqlite().await,
        Store::django_sqlite().await,
    );
    let cookies = [
        from.create(json!({"n": 1}), 3600).await,
        from.create(json!({"n": 2}), 3600).await,
    ];
    let report = copy(&from, &to).await;
    assert_eq!(
        report,
        CopyReport {
            key_unknown: 2,
            ..CopyReport::default()
        }
    );
    assert_eq!(report.not_copied(), 2);
    assert!(to.exported().await.is_empty(), "no row written");
    for cookie in &cookies {
        assert!(to.data(cookie).await.is_none());
    }
    from.cleanup().await;
    to.cleanup().await;
}

#[tokio::test]
async fn every_server_store_lists_each_live_session_once_page_by_page() {
    for store in [
        Store::sessionkit_sqlite().await,
        Store::django_sqlite().await,
        Store::sessionkit_table(POSTGRES_URL).await,
        Store::sessionkit_table(MARIADB_URL).await,
        Store::redis().await,
        Store::redis_setup(Setup::Cluster).await,
        Store::redis_setup(Setup::Sentinel).await,
        Store::memory().await,
        Store::file().await,
        Store::cached_db().await,
    ] {
        let what = format!(
            "{} {} {}",
            store.settings.engine, store.settings.db_table, store.settings.cache_url
        );
        let cookies = five_sessions(&store).await;
        store.create_expired(json!({"gone": true})).await;
        // A lock and (for the logged-in session) a user index live beside the records.
        assert!(
            store
                .engine
                .try_lock(&cookies[0], "token", std::time::Duration::from_secs(30))
                .await
                .unwrap()
        );
        let listed = store.exported().await;
        let hashes: Vec<String> = cookies
            .iter()
            .map(|c| SessionKey::parse(c).unwrap().hashed())
            .collect();
        let mut expected = hashes.clone();
        expected.sort();
        assert_eq!(
            listed.keys().cloned().collect::<Vec<_>>(),
            expected,
            "{what}"
        );
        for (cookie, hash) in cookies.iter().zip(&hashes) {
            assert_eq!(
                Some(&listed[hash].0),
                store.data(cookie).await.as_ref(),
                "{what}"
            );
        }
        store.cleanup().await;
    }
}

#[tokio::test]
async fn signed_cookies_have_nothing_to_export_or_import_into() {
    let store = Store::open(Settings {
        engine: EngineKind::SignedCookies,
        ..Settings::new(SECRET)
    })
    .await;
    assert!(matches!(
        store.engine.export(None, PAGE).await,
        Err(EngineError::Unsupported { .. })
    ));
    let session = ExportedSession {
        address: SessionKey::generate().hashed(),
        key: None,
        data: object(json!({"n": 1})),
        expires: OffsetDateTime::now_utc() + Duration::hours(1),
    };
    assert!(matches!(
        store.engine.import(&session).await,
        Err(EngineError::Unsupported { .. })
    ));
}
