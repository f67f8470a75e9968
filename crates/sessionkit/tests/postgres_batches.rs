//! Issue 17: on PostgreSQL, the loads and the saves that wait together go to the database as
//! one statement each (`engine/db/batches.rs`), and each still gets its own answer. On the
//! shared PostgreSQL, in a table of the test's own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sessionkit::engine::{Data, DbEngine, Engine, RecordStore, RecordWrite, SessionKey, SqlStore};
use sessionkit::{Settings, engine::EngineError};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use time::OffsetDateTime;

#[path = "common/batches.rs"]
mod batches;

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Statements on the test's table that wait for a lock.
async fn waiting_on_locks(table: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE wait_event_type = 'Lock' AND query LIKE '% {table} %'"
    );
    let mut connection = PgConnection::connect(URL).await.unwrap();
    let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut connection)
        .await
        .unwrap();
    count
}

/// A transaction of the test's, on a connection of its own, that has run `sql`: it holds the
/// locks `sql` took until it ends.
async fn holding(sql: String) -> Transaction<'static, Postgres> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(URL)
        .await
        .unwrap();
    let mut transaction = pool.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *transaction)
        .await
        .unwrap();
    transaction
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

/// The engine on a new table of its own, and the table's name.
async fn engine_on_a_table_of_its_own() -> (Arc<DbEngine>, String) {
    let table = format!("sk_batches_{}", &SessionKey::generate().as_str()[..12]);
    let settings = Settings {
        db_url: URL.into(),
        db_table: table.clone(),
        store_timeout: Duration::from_secs(10),
        ..Settings::new("secret")
    };
    let engine = Arc::new(DbEngine::connect(&settings).await.unwrap());
    engine.migrate().await.unwrap();
    (engine, table)
}

async fn drop_tables(engine: &DbEngine, table: &str) {
    for table in [table.to_owned(), format!("{table}_lock")] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(engine.pool())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn saves_waiting_together_go_as_one_statement_each_with_its_own_answer() {
    let (engine, table) = engine_on_a_table_of_its_own().await;
    let ids: Vec<String> = (0..32).map(|_| SessionKey::generate().hashed()).collect();
    let now = OffsetDateTime::now_utc();
    let empty = Arc::new(Data::new());
    for id in &ids {
        let write = RecordWrite::new(&empty, now + time::Duration::hours(1), now);
        assert!(engine.store().insert(id, write).await.unwrap());
    }

    // The rows are locked by a transaction of the test's, so every save waits: two of each
    // key, all at version 1.
    let blocker = holding(format!("SELECT 1 FROM {table} FOR UPDATE")).await;
    let mut saves = Vec::new();
    for (n, id) in ids.iter().chain(&ids).enumerate() {
        let (engine, id) = (engine.clone(), id.clone());
        let written = Arc::new(Data::from_json(&format!(r#"{{"writer":{n}}}"#)).unwrap());
        saves.push(tokio::spawn(async move {
            let replaced = replace(&engine, &id, 1, &written).await.unwrap();
            if !replaced {
                batches::stale_after_the_winner(engine.store(), &id).await;
            }
            (id, n, replaced)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One at a time, 64 saves would hold all 10 of the pool's connections, each waiting.
    let waiting = waiting_on_locks(&table).await;
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

    drop_tables(&engine, &table).await;
}

#[tokio::test]
async fn a_save_waiting_for_a_row_lock_does_not_hold_up_the_others() {
    let (engine, table) = engine_on_a_table_of_its_own().await;
    let now = OffsetDateTime::now_utc();
    let empty = Arc::new(Data::new());
    let (locked, free) = (
        SessionKey::generate().hashed(),
        SessionKey::generate().hashed(),
    );
    for id in [&locked, &free] {
        let write = RecordWrite::new(&empty, now + time::Duration::hours(1), now);
        assert!(engine.store().insert(id, write).await.unwrap());
    }
    let blocker = holding(format!(
        "SELECT 1 FROM {table} WHERE session_key_hash = '{locked}' FOR UPDATE"
    ))
    .await;
    let waiting_save = {
        let (engine, locked, data) = (engine.clone(), locked.clone(), empty.clone());
        tokio::spawn(async move { replace(&engine, &locked, 1, &data).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(waiting_on_locks(&table).await, 1, "the first save waits");

    // Its batch waits for the row; the next batch goes beside it.
    let other = tokio::time::timeout(Duration::from_secs(3), replace(&engine, &free, 1, &empty));
    assert!(
        other
            .await
            .expect("a save of another row is not held up")
            .unwrap()
    );
    assert!(!waiting_save.is_finished(), "the first save still waits");
    blocker.commit().await.unwrap();
    assert!(
        waiting_save.await.unwrap(),
        "and succeeds once the row is free"
    );

    drop_tables(&engine, &table).await;
}

#[tokio::test]
async fn loads_waiting_together_go_as_one_statement_each_with_its_own_row() {
    let (engine, table) = engine_on_a_table_of_its_own().await;
    loads_go_in_batches(Arc::new(engine.store().clone()), &table).await;
    drop_tables(&engine, &table).await;
}

#[tokio::test]
async fn a_pool_the_app_hands_over_batches_too() {
    let (engine, table) = engine_on_a_table_of_its_own().await;
    // Made outside any runtime, as an app may build its state before serving.
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_lazy(URL)
        .unwrap();
    let settings = Settings {
        db_table: table.clone(),
        store_timeout: Duration::from_secs(10),
        ..Settings::new("secret")
    };
    let store = std::thread::spawn(move || SqlStore::with_pool(pool, &settings))
        .join()
        .unwrap();
    loads_go_in_batches(Arc::new(store), &table).await;
    drop_tables(&engine, &table).await;
}

/// 64 loads wait together on a locked table, two of each key (30 live, one expired, one
/// never stored): they wait as at most two statements, and each gets its own row or none.
async fn loads_go_in_batches(store: Arc<dyn RecordStore>, table: &str) {
    let stored = batches::store_sessions(&*store).await;
    let blocker = holding(format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")).await;
    let loads = batches::load_each_twice(&store, &stored);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One at a time, 64 loads would hold all 10 of the pool's connections, each waiting.
    let waiting = waiting_on_locks(table).await;
    assert!(
        (1..=2).contains(&waiting),
        "{waiting} statements wait for the lock: the loads were not batched"
    );
    blocker.rollback().await.unwrap();
    batches::each_found_its_own(loads, &stored).await;
}
