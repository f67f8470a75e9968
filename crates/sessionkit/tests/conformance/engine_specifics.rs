//! F. Engine specifics: the db schema (item 42; the rest of 42 is this whole suite passing on
//! SQLite, PostgreSQL and MariaDB) and cookie engines without a store (item 46).

use serde_json::json;
use sessionkit::django::signing::{STORE_SALT, Signer};
use sessionkit::engine::SessionKey;
use sessionkit::engine::db::Dialect;
use sessionkit::testing::{SECRET, object};

use crate::harness::EngineHarness;

/// Item 42: `migrate` can run again and again (as `sessionkit migrate` on every deploy) without
/// failing or losing sessions.
pub async fn migrate_is_idempotent_and_keeps_the_data(h: &EngineHarness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    h.engine().migrate().await.expect("a second migrate");
    h.engine().migrate().await.expect("a third migrate");
    assert_eq!(
        h.reload(&cookie).await.get::<i64>("user_id").unwrap(),
        Some(42)
    );
}

/// Item 42: `expire_date` is indexed (once, however often `migrate` ran), so `clear_expired` does
/// not scan the table.
pub async fn expire_date_and_user_id_are_indexed(h: &EngineHarness) {
    h.engine().migrate().await.expect("a second migrate");
    for column in ["expire_date", "user_id"] {
        let sql = match h.db_engine().dialect() {
            Dialect::Sqlite => format!(
                "SELECT COUNT(*) FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name = ? AND sql LIKE '%({column})%'"
            ),
            Dialect::Postgres => format!(
                "SELECT COUNT(*) FROM pg_indexes \
                 WHERE tablename = ? AND indexdef LIKE '%({column})%'"
            ),
            Dialect::MySql => format!(
                "SELECT COUNT(*) FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND table_name = ? \
                 AND column_name = '{column}' AND seq_in_index = 1"
            ),
        };
        assert_eq!(h.count(&sql, &[&h.settings.db_table]).await, 1, "{column}");
    }
}

/// DESIGN §7 (hashed keys at rest): the table holds the SHA-256 of the key, never the key, so
/// a leaked table yields no usable cookie.
pub async fn the_table_holds_a_hash_of_the_key_not_the_key(h: &EngineHarness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let hash = SessionKey::parse(&cookie).expect("a key").hashed();
    let by_hash = "SELECT COUNT(*) FROM {table} WHERE session_key_hash = ?";
    assert_eq!(h.count("SELECT COUNT(*) FROM {table}", &[]).await, 1);
    assert_eq!(h.count(by_hash, &[&hash]).await, 1);
    assert_eq!(h.count(by_hash, &[&cookie]).await, 0);
    let anywhere = "SELECT COUNT(*) FROM {table} \
                    WHERE session_key_hash LIKE ? OR session_data LIKE ?";
    let pattern = format!("%{cookie}%");
    assert_eq!(h.count(anywhere, &[&pattern, &pattern]).await, 0);
}

/// Item 46: Cookie engines have no store: `exists` means "validly signed (or sealed) and
/// unexpired", `delete`
/// and `clear_expired` do nothing (a copied cookie stays valid until it expires, as
/// documented), and `cycle_key` and `flush` still work through the same API.
pub async fn exists_delete_cycle_key_and_flush_work_without_a_store(h: &EngineHarness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let engine = h.engine();
    assert!(engine.exists(&cookie).await.unwrap());
    assert!(!engine.exists(&format!("x{cookie}")).await.unwrap());
    assert!(!engine.exists("").await.unwrap());

    engine.delete(&cookie).await.unwrap();
    assert!(
        engine.exists(&cookie).await.unwrap(),
        "nothing server-side to delete"
    );
    assert_eq!(engine.clear_expired(100).await.unwrap(), 0);
    engine.migrate().await.unwrap();

    let session = h.reload(&cookie).await;
    assert_eq!(session.session_key(), None, "no key for cookie sessions");
    session.cycle_key();
    assert!(session.modified());
    let cycled = h.save(&session).await;
    assert_eq!(
        h.reload(&cycled).await.get::<i64>("user_id").unwrap(),
        Some(42)
    );

    session.flush();
    assert!(session.is_empty());
    assert_eq!(session.session_key(), None);
    assert_eq!(session.save().await.unwrap(), None);
}

/// Django interop: with `SESSION_DB_TABLE=django_session` the engine uses Django's schema —
/// plain keys, Django-format `session_data`, a datetime `expire_date` — so rows Django wrote
/// load here and rows written here are where Django looks for them.
pub async fn djangos_table_has_djangos_schema_and_plain_keys(h: &EngineHarness) {
    let cookie = h.saved(json!({"_auth_user_id": "42"})).await;
    let by_key = "SELECT COUNT(*) FROM {table} WHERE session_key = ?";
    assert_eq!(
        h.count(by_key, &[&cookie]).await,
        1,
        "the plain key is the primary key"
    );

    // Rows as Django writes them: its datetime format, its signing of the data.
    let (live, expired) = (
        "djangowrotethis0000000000000live",
        "djangowrotethis000000000expired",
    );
    let data = Signer::new(STORE_SALT, SECRET, &[])
        .sign_object(&object(json!({"from": "django"})), 1_700_000_000);
    let (future, past) = match h.db_engine().dialect() {
        Dialect::Sqlite => ("2099-01-01 00:00:00.123456", "2001-01-01 00:00:00"),
        Dialect::Postgres => ("2099-01-01 00:00:00.123456+00", "2001-01-01 00:00:00+00"),
        Dialect::MySql => ("2099-01-01 00:00:00.123456", "2001-01-01 00:00:00.000000"),
    };
    let insert = "INSERT INTO {table} (session_key, session_data, expire_date) VALUES (?, ?, ?)";
    let timestamp = match h.db_engine().dialect() {
        Dialect::Postgres => insert.replace("?)", "CAST(? AS TIMESTAMPTZ))"),
        _ => insert.to_owned(),
    };
    h.execute(&timestamp, &[live, &data, future]).await;
    h.execute(&timestamp, &[expired, &data, past]).await;

    let session = h.reload(live).await;
    assert_eq!(session.get_value("from"), Some(json!("django")));
    assert!(h.reload(expired).await.is_empty());
    assert_eq!(h.engine().clear_expired(100).await.unwrap(), 1);
    assert_eq!(h.count("SELECT COUNT(*) FROM {table}", &[]).await, 2);
}
