//! Issue 17: on PostgreSQL, the saves that wait together go to the database as one statement
//! (`engine/db/update_batches.rs`), and each still gets its own answer. On the shared
//! PostgreSQL, in a table of the test's own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sessionkit::engine::{Data, DbEngine, Engine, RecordStore, RecordWrite, SessionKey};
use sessionkit::{Settings, engine::EngineError};
use time::OffsetDateTime;

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Connections of the test's table that wait for a row lock.
async fn waiting_on_locks(engine: &DbEngine, table: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE {table} %'"
    );
    let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(engine.pool())
        .await
        .unwrap();
    count
}

async fn replace(
    engine: &DbEngine,
    id: &str,
    version: i64,
    data: &Arc<Data>,
) -> Result<bool, EngineError> {
    let now = OffsetDateTime::now_utc();
    let write = RecordWrite::new(data, now + time::Duration::hours(1), now);
    engine.store().replace(id, version, write).await
}

#[tokio::test]
async fn saves_waiting_together_go_as_one_statement_each_with_its_own_answer() {
    let table = format!("sk_batches_{}", &SessionKey::generate().as_str()[..12]);
    let settings = Settings {
        db_url: URL.into(),
        db_table: table.clone(),
        store_timeout: Duration::from_secs(10),
        ..Settings::new("secret")
    };
    let engine = Arc::new(DbEngine::connect(&settings).await.unwrap());
    engine.migrate().await.unwrap();
    let ids: Vec<String> = (0..32).map(|_| SessionKey::generate().hashed()).collect();
    let now = OffsetDateTime::now_utc();
    let empty = Arc::new(Data::new());
    for id in &ids {
        let write = RecordWrite::new(&empty, now + time::Duration::hours(1), now);
        assert!(engine.store().insert(id, write).await.unwrap());
    }

    // The rows are locked by a transaction of the test's, so every save waits: two of each
    // key, all at version 1.
    let mut blocker = engine.pool().begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT 1 FROM {table} FOR UPDATE"
    )))
    .execute(&mut *blocker)
    .await
    .unwrap();
    let mut saves = Vec::new();
    for (n, id) in ids.iter().chain(&ids).enumerate() {
        let (engine, id) = (engine.clone(), id.clone());
        let written = Arc::new(Data::from_json(&format!(r#"{{"writer":{n}}}"#)).unwrap());
        saves.push(tokio::spawn(async move {
            let replaced = replace(&engine, &id, 1, &written).await.unwrap();
            (id, n, replaced)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One at a time, 64 saves would hold all 10 of the pool's connections, each waiting.
    let waiting = waiting_on_locks(&engine, &table).await;
    assert!(
        (1..=2).contains(&waiting),
        "{waiting} statements wait for the lock: the saves were not batched"
    );
    blocker.commit().await.unwrap();

    let mut winners = HashMap::new();
    for save in saves {
        let (id, n, replaced) = save.await.unwrap();
        if replaced {
            assert!(
                winners.insert(id, n).is_none(),
                "two saves won at version 1"
            );
        }
    }
    assert_eq!(winners.len(), ids.len(), "each key has one winner");
    for (id, n) in &winners {
        let stored = engine.store().fetch(id).await.unwrap();
        let stored = stored.expect("the session is there");
        assert_eq!(stored.version, 2);
        assert_eq!(stored.data.to_json(), format!(r#"{{"writer":{n}}}"#));
    }

    // A save at a version gone stale is refused, and one of a record gone is too.
    assert!(!replace(&engine, &ids[0], 1, &empty).await.unwrap());
    engine.store().remove(&ids[1]).await.unwrap();
    assert!(!replace(&engine, &ids[1], 2, &empty).await.unwrap());
    assert!(replace(&engine, &ids[2], 2, &empty).await.unwrap());

    for table in [table.clone(), format!("{table}_lock")] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(engine.pool())
            .await
            .unwrap();
    }
}
