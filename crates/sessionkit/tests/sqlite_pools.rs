//! The pools sessionkit opens on an SQLite file: one writer and readers beside it (WAL lets
//! them read during a write), each connection committing with `SESSION_DB_SQLITE_SYNCHRONOUS`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sessionkit::engine::{Data, DbEngine, Engine, RecordStore, RecordWrite, SessionKey};
use sessionkit::settings::SqliteSynchronous;
use sessionkit::{Sessions, Settings};
use sqlx::{Any, Pool};
use time::OffsetDateTime;

#[path = "common/batches.rs"]
mod batches;

/// A fresh directory for one test's database file.
fn temporary_directory(test: &str) -> PathBuf {
    let key = SessionKey::generate();
    let dir = std::env::temp_dir().join(format!("sk-sqlite-pools-{test}-{}", &key.as_str()[..12]));
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    dir
}

/// Settings for a database file in `dir`, with a short store timeout so that a statement
/// queued behind the writer would fail within the test.
fn settings_in(dir: &std::path::Path) -> Settings {
    Settings {
        db_url: format!("sqlite://{}", dir.join("sessions.sqlite3").display()),
        store_timeout: Duration::from_secs(2),
        ..Settings::new("secret")
    }
}

async fn pragma(pool: &Pool<Any>, name: &str) -> String {
    let sql = format!("SELECT CAST({name} AS TEXT) FROM pragma_{name}");
    let row: (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .expect("read the pragma");
    row.0
}

/// Issue 17: with one connection, a request that only reads waited for every write (and for
/// a long one, until the store timed out). Here the writer holds a write transaction open
/// while the engine loads, checks and lists a session: all of it completes, with the last
/// commit's data, and a write issued meanwhile completes once the transaction ends.
#[tokio::test]
async fn a_long_write_transaction_does_not_block_readers() {
    let dir = temporary_directory("write-tx");
    let settings = settings_in(&dir);
    let engine = Arc::new(DbEngine::connect(&settings).await.unwrap());
    engine.migrate().await.unwrap();
    let sessions = Sessions::new(engine.clone(), settings).unwrap();
    let session = sessions.start(None).load().await.unwrap();
    session.insert("user_id", 7).unwrap();
    session.insert("_auth_user_id", "7").unwrap();
    session.save().await.unwrap();
    let key = session.session_key().expect("a saved session has a key");
    let key = key.as_str().to_owned();

    let mut write = engine.pool().begin().await.unwrap();
    sqlx::query("UPDATE sessionkit_session SET version = version")
        .execute(&mut *write)
        .await
        .unwrap();

    let loaded = engine.load(&key).await.expect("a read during the write");
    assert_eq!(loaded.expect("the session is there").version, 1);
    assert!(engine.exists(&key).await.expect("a check during the write"));
    let session = sessions.start(Some(&key)).load().await.unwrap();
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(7));
    let listed = engine
        .user_sessions("7", None)
        .await
        .expect("a listing during the write");
    assert_eq!(listed.len(), 1);

    session.insert("user_id", 8).unwrap();
    let queued = tokio::spawn(async move { session.save().await });
    write.commit().await.unwrap();
    queued
        .await
        .unwrap()
        .expect("the write queued behind the transaction");
    let session = sessions.start(Some(&key)).load().await.unwrap();
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(8));

    engine.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// WAL and `synchronous` NORMAL by default (as Rails 8), FULL when asked for, on the writer
/// and on every reader; readers refuse to write.
#[tokio::test]
async fn sqlite_synchronous_reaches_the_writer_and_the_readers() {
    let dir = temporary_directory("synchronous");
    let default = DbEngine::connect(&settings_in(&dir)).await.unwrap();
    assert_eq!(pragma(default.pool(), "journal_mode").await, "wal");
    // 1 is NORMAL, 2 is FULL.
    assert_eq!(pragma(default.pool(), "synchronous").await, "1");
    assert_eq!(pragma(default.readers(), "synchronous").await, "1");
    default.migrate().await.unwrap();
    let written = sqlx::query("DELETE FROM sessionkit_session")
        .execute(default.readers())
        .await;
    assert!(written.is_err(), "a reader refuses to write");
    default.close().await;

    let mut full = settings_in(&dir);
    full.set("SESSION_DB_SQLITE_SYNCHRONOUS", "full").unwrap();
    assert_eq!(full.db_sqlite_synchronous, SqliteSynchronous::Full);
    let full = DbEngine::connect(&full).await.unwrap();
    assert_eq!(pragma(full.pool(), "synchronous").await, "2");
    assert_eq!(pragma(full.readers(), "synchronous").await, "2");
    full.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// On an SQLite file: one writer, and `SESSION_DB_POOL_SIZE` readers (4 by default). An
/// in-memory database lives in one pool, which the setting sizes (1 by default).
#[tokio::test]
async fn the_pool_size_sizes_the_sqlite_readers() {
    let dir = temporary_directory("sizes");
    let default = DbEngine::connect(&settings_in(&dir)).await.unwrap();
    assert_eq!(default.pool().options().get_max_connections(), 1);
    assert_eq!(default.readers().options().get_max_connections(), 4);
    default.close().await;
    let mut sized = settings_in(&dir);
    sized.set("SESSION_DB_POOL_SIZE", "2").unwrap();
    let sized = DbEngine::connect(&sized).await.unwrap();
    assert_eq!(sized.pool().options().get_max_connections(), 1);
    assert_eq!(sized.readers().options().get_max_connections(), 2);
    sized.close().await;

    let memory = Settings {
        db_url: "sqlite::memory:".to_owned(),
        ..Settings::new("secret")
    };
    let memory = DbEngine::connect(&memory).await.unwrap();
    assert_eq!(memory.pool().options().get_max_connections(), 1);
    assert_eq!(memory.readers().options().get_max_connections(), 1);
    memory.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The frames in an SQLite file's write-ahead log: each commit appends the pages it changed.
fn wal_frames(dir: &std::path::Path) -> u64 {
    const HEADER: u64 = 32;
    const FRAME_HEADER: u64 = 24;
    let wal = std::fs::metadata(dir.join("sessions.sqlite3-wal")).map_or(0, |wal| wal.len());
    wal.saturating_sub(HEADER) / (4096 + FRAME_HEADER)
}

/// Issue 17: writes that wait together are committed in one transaction (one WAL append for
/// the group, not one per write), and each still gets its own answer: of two inserts of one
/// key in a group exactly one wins (the other's unique violation undoes only itself), and of
/// two replaces at one version exactly one.
#[tokio::test]
async fn concurrent_writes_commit_in_groups_and_each_gets_its_own_answer() {
    let dir = temporary_directory("groups");
    let engine = Arc::new(DbEngine::connect(&settings_in(&dir)).await.unwrap());
    engine.migrate().await.unwrap();
    let ids: Vec<String> = (0..32).map(|_| SessionKey::generate().hashed()).collect();
    let now = OffsetDateTime::now_utc();
    let data = Arc::new(Data::new());
    let frames_before = wal_frames(&dir);

    // The writer is busy (an open transaction of the test's), so every write queues.
    let mut blocker = engine.pool().begin().await.unwrap();
    sqlx::query("UPDATE sessionkit_session SET version = version")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let mut inserts = Vec::new();
    for id in ids.iter().chain(&ids) {
        let (engine, id, data) = (engine.clone(), id.clone(), data.clone());
        inserts.push(tokio::spawn(async move {
            let write = RecordWrite::new(&data, now + time::Duration::hours(1), now);
            let inserted = engine.store().insert(&id, write).await;
            inserted.map(|inserted| (id, inserted))
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    blocker.commit().await.unwrap();
    let mut won = std::collections::HashMap::new();
    for insert in inserts {
        let (id, inserted) = insert.await.unwrap().expect("an insert is answered");
        *won.entry(id).or_insert(0) += u32::from(inserted);
    }
    assert_eq!(won.len(), ids.len());
    assert!(
        won.values().all(|&wins| wins == 1),
        "one insert per key: {won:?}"
    );
    let frames = wal_frames(&dir) - frames_before;
    assert!(
        frames < 32,
        "64 inserts appended {frames} WAL frames: they were not committed in groups"
    );

    let store: Arc<dyn RecordStore> = Arc::new(engine.store().clone());
    let replaces = batches::save_each_twice(&store, &ids);
    batches::one_winner_each(&*store, replaces, &ids).await;
    engine.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 17: loads that wait together go to a reader as one statement (`engine/db/batches.rs`,
/// a join of `json_each` with the table), and each gets its own row: 64 loads at once, two of
/// each key (30 live, one expired, one never stored). At most two batches run at a time, so
/// they never take more than two of the four readers; one load at a time, they would take all
/// four.
#[tokio::test]
async fn loads_waiting_together_go_as_one_statement_each_with_its_own_row() {
    let dir = temporary_directory("batched-loads");
    let engine = DbEngine::connect(&settings_in(&dir)).await.unwrap();
    engine.migrate().await.unwrap();
    let store: Arc<dyn RecordStore> = Arc::new(engine.store().clone());
    let stored = batches::store_sessions(&*store).await;
    let loads = batches::load_each_twice(&store, &stored);
    batches::each_found_its_own(loads, &stored).await;
    let readers = engine.readers().size();
    assert!(
        readers <= 2,
        "64 loads opened {readers} readers: they were not batched"
    );
    engine.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
