//! Issue 17: on PostgreSQL and on MariaDB, the loads and the saves that wait together go to the
//! database as one statement each (`engine/db/batches.rs`; on MySQL a save's batch is a transaction
//! of an `UPDATE`, or of a locking `SELECT` and an `UPDATE` where the first wrote fewer rows than
//! it sent), and each still gets its own answer. On the shared servers, in a table of the test's
//! own.

use std::sync::Arc;
use std::time::Duration;

use sessionkit::engine::db::TypedBackend;
use sessionkit::engine::{Data, DbEngine, Engine, RecordStore, RecordWrite, SessionKey, SqlStore};
use sessionkit::{Settings, engine::EngineError};
use sessionkit_testkit::PrivateMariaDb;
use sqlx::pool::PoolOptions;
use sqlx::{AnyConnection, Connection};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

#[path = "common/batches.rs"]
mod batches;

/// A database server the tests run on, and how they hold its locks and see who waits.
struct Server {
    url: &'static str,
    /// The query that counts the statements of `table` waiting for a lock.
    waiting_on_locks: fn(&str) -> String,
    /// The statements that make every statement of `table`, reads included, wait, and the one
    /// that lets them go.
    table_lock: fn(&str) -> [String; 2],
}

const POSTGRES: Server = Server {
    url: "postgres://postgres@127.0.0.1:5432/test",
    waiting_on_locks: |table| {
        format!(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE '% {table} %'"
        )
    },
    table_lock: |table| {
        [
            format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
            "ROLLBACK".to_owned(),
        ]
    },
};

/// MariaDB: a plain read never waits for a row lock, so the loads' test locks the table.
const MARIADB: Server = Server {
    url: "mysql://root@127.0.0.1:3306/test",
    waiting_on_locks: |table| {
        format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE ID <> CONNECTION_ID() AND INFO LIKE '% {table} %' \
             AND (STATE LIKE 'Waiting for table%' OR ID IN (SELECT trx_mysql_thread_id \
             FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'))"
        )
    },
    table_lock: |table| {
        [
            format!("LOCK TABLES {table} WRITE"),
            "UNLOCK TABLES".to_owned(),
        ]
    },
};

impl Server {
    async fn connect(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(self.url).await.unwrap()
    }

    async fn waiting_on_locks(&self, table: &str) -> i64 {
        let mut connection = self.connect().await;
        let sql = (self.waiting_on_locks)(table);
        let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut connection)
            .await
            .unwrap();
        count
    }

    /// A connection of the test's own that has run `hold` (statements separated by `; `): it
    /// holds the locks they took until [`Blocker::release`] runs `release`.
    async fn holding(&self, hold: &str, release: &str) -> Blocker {
        let mut connection = self.connect().await;
        for statement in hold.split("; ") {
            run_sql(&mut connection, statement).await.unwrap();
        }
        Blocker {
            connection,
            release: release.to_owned(),
        }
    }

    /// Holds, in a transaction, the row locks of the rows of `table` that `rows` selects (a
    /// `WHERE` clause, or nothing for every row).
    async fn holding_rows(&self, table: &str, rows: &str) -> Blocker {
        let hold = format!("BEGIN; SELECT 1 FROM {table} {rows} FOR UPDATE");
        self.holding(&hold, "COMMIT").await
    }

    /// Makes every statement of `table` wait, reads included.
    async fn holding_table(&self, table: &str) -> Blocker {
        let [hold, release] = (self.table_lock)(table);
        self.holding(&hold, &release).await
    }
}

/// Locks a test holds; they end with the blocker's `release` statement.
struct Blocker {
    connection: AnyConnection,
    release: String,
}

impl Blocker {
    async fn release(mut self) {
        run_sql(&mut self.connection, &self.release).await.unwrap();
    }
}

/// Runs `sql` on a connection of the test's own.
async fn run_sql(connection: &mut AnyConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(connection)
        .await
        .map(drop)
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

/// Starts [`replace`] in a task of its own.
fn spawn_replace(
    engine: &Arc<DbEngine>,
    id: &str,
    version: i64,
    data: &Arc<Data>,
) -> JoinHandle<Result<bool, EngineError>> {
    let (engine, id, data) = (engine.clone(), id.to_owned(), data.clone());
    tokio::spawn(async move { replace(&engine, &id, version, &data).await })
}

/// The engine on a new table of its own, and the table's name.
async fn engine_on_a_table_of_its_own(server: &Server) -> (Arc<DbEngine>, String) {
    let table = format!("sk_batches_{}", &SessionKey::generate().as_str()[..12]);
    let settings = Settings {
        db_url: server.url.into(),
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

/// Stores `count` empty sessions, each at version 1, and returns their ids.
async fn empty_sessions(engine: &DbEngine, count: usize) -> Vec<String> {
    let now = OffsetDateTime::now_utc();
    let empty = Arc::new(Data::new());
    let mut ids = Vec::new();
    for _ in 0..count {
        let id = SessionKey::generate().hashed();
        let write = RecordWrite::new(&empty, now + time::Duration::hours(1), now);
        assert!(engine.store().insert(&id, write).await.unwrap());
        ids.push(id);
    }
    ids
}

async fn saves_waiting_together_go_as_one_statement_each_with_its_own_answer(server: &Server) {
    let (engine, table) = engine_on_a_table_of_its_own(server).await;
    let ids = empty_sessions(&engine, 32).await;
    let empty = Arc::new(Data::new());

    // The rows are locked by a transaction of the test's, so every save waits: two of each
    // key, all at version 1.
    let blocker = server.holding_rows(&table, "").await;
    let store: Arc<dyn RecordStore> = Arc::new(engine.store().clone());
    let saves = batches::save_each_twice(&store, &ids);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One at a time, 64 saves would hold all 10 of the pool's connections, each waiting.
    let waiting = server.waiting_on_locks(&table).await;
    assert!(
        (1..=2).contains(&waiting),
        "{waiting} statements wait for the lock: the saves were not batched"
    );
    blocker.release().await;
    batches::one_winner_each(&*store, saves, &ids).await;

    // A save at a version gone stale is refused, and one of a record gone is too.
    assert!(!replace(&engine, &ids[0], 1, &empty).await.unwrap());
    engine.store().remove(&ids[1]).await.unwrap();
    assert!(!replace(&engine, &ids[1], 2, &empty).await.unwrap());
    assert!(replace(&engine, &ids[2], 2, &empty).await.unwrap());

    drop_tables(&engine, &table).await;
}

async fn a_save_waiting_for_a_row_lock_does_not_hold_up_the_others(server: &Server) {
    let (engine, table) = engine_on_a_table_of_its_own(server).await;
    let [locked, free]: [String; 2] = empty_sessions(&engine, 2).await.try_into().unwrap();
    let empty = Arc::new(Data::new());
    let only_locked = format!("WHERE session_key_hash = '{locked}'");
    let blocker = server.holding_rows(&table, &only_locked).await;
    let waiting_save = spawn_replace(&engine, &locked, 1, &empty);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.waiting_on_locks(&table).await,
        1,
        "the first save waits"
    );

    // Its batch waits for the row; the next batch goes beside it.
    let other = tokio::time::timeout(Duration::from_secs(3), replace(&engine, &free, 1, &empty));
    assert!(
        other
            .await
            .expect("a save of another row is not held up")
            .unwrap()
    );
    assert!(!waiting_save.is_finished(), "the first save still waits");
    blocker.release().await;
    assert!(
        waiting_save.await.unwrap().unwrap(),
        "and succeeds once the row is free"
    );

    drop_tables(&engine, &table).await;
}

async fn loads_waiting_together_go_as_one_statement_each_with_its_own_row(server: &Server) {
    let (engine, table) = engine_on_a_table_of_its_own(server).await;
    loads_go_in_batches(server, Arc::new(engine.store().clone()), &table).await;
    drop_tables(&engine, &table).await;
}

async fn a_pool_the_app_hands_over_batches_too<DB: TypedBackend>(server: &Server) {
    let (engine, table) = engine_on_a_table_of_its_own(server).await;
    // Made outside any runtime, as an app may build its state before serving.
    let pool = PoolOptions::<DB>::new()
        .max_connections(10)
        .connect_lazy(server.url)
        .unwrap();
    let settings = Settings {
        db_table: table.clone(),
        store_timeout: Duration::from_secs(10),
        ..Settings::new("secret")
    };
    let store = std::thread::spawn(move || SqlStore::with_pool(pool, &settings))
        .join()
        .unwrap();
    loads_go_in_batches(server, Arc::new(store), &table).await;
    drop_tables(&engine, &table).await;
}

/// 64 loads wait together on a locked table, two of each key (30 live, one expired, one
/// never stored): they wait as at most two statements, and each gets its own row or none.
async fn loads_go_in_batches(server: &Server, store: Arc<dyn RecordStore>, table: &str) {
    let stored = batches::store_sessions(&*store).await;
    let blocker = server.holding_table(table).await;
    let loads = batches::load_each_twice(&store, &stored);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One at a time, 64 loads would hold all 10 of the pool's connections, each waiting.
    let waiting = server.waiting_on_locks(table).await;
    assert!(
        (1..=2).contains(&waiting),
        "{waiting} statements wait for the lock: the loads were not batched"
    );
    blocker.release().await;
    batches::each_found_its_own(loads, &stored).await;
}

/// Two batches of saves of the same rows, sent in opposite orders while a transaction of the
/// test's holds the rows, then let go together: both succeed or are refused as stale, neither
/// fails. (Had each batch locked its rows in the order they came, each would hold a row the
/// other waits for, and the database would end one with a deadlock error.)
async fn batches_of_shared_rows_do_not_deadlock(server: &Server) {
    let (engine, table) = engine_on_a_table_of_its_own(server).await;
    let ids = empty_sessions(&engine, 8).await;
    let empty = Arc::new(Data::new());
    let blocker = server.holding_rows(&table, "").await;
    let mut saves = Vec::new();
    for wave in [ids.clone(), ids.iter().rev().cloned().collect()] {
        for id in wave {
            saves.push(spawn_replace(&engine, &id, 1, &empty));
        }
        // The first wave's batch is on its way (and waits for the rows) before the second's.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(server.waiting_on_locks(&table).await, 2, "two batches wait");
    blocker.release().await;
    let mut replaced = 0;
    for save in saves {
        replaced += u64::from(save.await.unwrap().expect("no save fails"));
    }
    assert_eq!(replaced, 8, "one save of each row wins");
    drop_tables(&engine, &table).await;
}

/// Saves of fresh and of stale versions waiting together: each fresh one is written, each
/// stale one refused and its row left as it was. (On MySQL a batch whose `UPDATE` wrote fewer
/// rows than it sent, but some, is rolled back and run again, locking the rows still at their
/// versions.)
async fn a_batch_of_fresh_and_stale_saves_writes_only_the_fresh(server: &Server) {
    a_batch_writes_the_fresh_saves_only(server, |n| n % 2 == 0).await;
}

/// Only stale saves waiting together: none is written. (On MySQL the `UPDATE` wrote no row,
/// which says so without the locking second transaction.)
async fn a_batch_of_stale_saves_writes_nothing(server: &Server) {
    a_batch_writes_the_fresh_saves_only(server, |_| false).await;
}

/// 16 saves of version 1 waiting together, of which those where `fresh` says no find their
/// row moved on to version 2.
async fn a_batch_writes_the_fresh_saves_only(server: &Server, fresh: fn(usize) -> bool) {
    let (engine, table) = engine_on_a_table_of_its_own(server).await;
    let ids = empty_sessions(&engine, 16).await;
    let empty = Arc::new(Data::new());
    for (_, stale) in ids.iter().enumerate().filter(|(n, _)| !fresh(*n)) {
        assert!(replace(&engine, stale, 1, &empty).await.unwrap());
    }
    let blocker = server.holding_rows(&table, "").await;
    let saves: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let data = Arc::new(Data::from_json(&format!(r#"{{"writer":{n}}}"#)).unwrap());
            spawn_replace(&engine, id, 1, &data)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The saves wait for the held rows in one or two batches; but PostgreSQL does not wait for
    // a row its `WHERE` no longer matches, so a batch of stale saves alone may not wait there.
    let waiting = server.waiting_on_locks(&table).await;
    let least = i64::from((0..ids.len()).any(fresh) || server.url.starts_with("mysql"));
    assert!((least..=2).contains(&waiting), "{waiting} statements wait");
    blocker.release().await;
    for ((n, id), save) in ids.iter().enumerate().zip(saves) {
        let fresh = fresh(n);
        assert_eq!(save.await.unwrap().unwrap(), fresh, "save {n}");
        let stored = engine.store().fetch(id).await.unwrap().unwrap();
        assert_eq!(stored.version, 2, "save {n}");
        let expected = if fresh {
            format!(r#"{{"writer":{n}}}"#)
        } else {
            "{}".to_owned()
        };
        assert_eq!(stored.data.to_json(), expected, "save {n}");
    }
    drop_tables(&engine, &table).await;
}

/// A batch the database ends to break a deadlock is sent again, and its saves succeed. A
/// transaction of the test's holds the second row of a batch of two; the batch locks the
/// first and waits for the second; the transaction then asks for the first. The database ends
/// one of the two: PostgreSQL the one that has waited longest (the batch), MariaDB the lighter
/// (the batch too: the transaction has first updated twenty other rows).
async fn a_batch_ended_by_a_deadlock_is_sent_again(server: &Server) {
    let (engine, table) = engine_on_a_table_of_its_own(server).await;
    let mut ids = empty_sessions(&engine, 22).await;
    ids.sort();
    let empty = Arc::new(Data::new());
    // The first save starts the batches (and, on MariaDB, the question whether it has
    // `JSON_TABLE`), so that the two saves below go in one batch.
    assert!(replace(&engine, &ids[21], 1, &empty).await.unwrap());
    // One row at a time: a statement that scans the table (MariaDB's plan for an `IN` list on
    // a small table) would lock the batch's rows too.
    let row =
        |id: &str| format!("SELECT 1 FROM {table} WHERE session_key_hash = '{id}' FOR UPDATE");
    let mut hold = vec!["BEGIN".to_owned()];
    for id in &ids[2..] {
        hold.push(format!(
            "UPDATE {table} SET expire_date = expire_date + 1 WHERE session_key_hash = '{id}'"
        ));
    }
    hold.push(row(&ids[1]));
    let hold = hold.join("; ");
    let mut blocker = server.holding(&hold, "COMMIT").await;
    let saves: Vec<_> = ids[..2]
        .iter()
        .map(|id| spawn_replace(&engine, id, 1, &empty))
        .collect();
    let waiting = async {
        while server.waiting_on_locks(&table).await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the batch waits for the second row");

    run_sql(&mut blocker.connection, &row(&ids[0]))
        .await
        .expect("the database ends the batch, not the test's transaction");
    blocker.release().await;
    for save in saves {
        let saved = save.await.unwrap();
        assert!(
            saved.expect("the batch is sent again"),
            "and its saves succeed"
        );
    }
    for id in &ids[..2] {
        let stored = engine.store().fetch(id).await.unwrap().unwrap();
        assert_eq!(stored.version, 2);
    }
    drop_tables(&engine, &table).await;
}

/// A save that goes in a batch travels inside the batch's JSON parameter: the database reads
/// it back out of that JSON. It must store every character as sent (quotes, backslashes,
/// control characters, characters beyond the BMP, a line separator), a large value whole, and
/// the user the data names, or none.
async fn a_batched_save_stores_the_data_as_sent(server: &Server) {
    let (engine, table) = engine_on_a_table_of_its_own(server).await;
    let id = empty_sessions(&engine, 1).await.remove(0);
    let empty = Arc::new(Data::new());

    // No NUL: PostgreSQL's text cannot hold one.
    let text = "quote\" backslash\\ tab\t control\u{1} é 😀 separator\u{2028}";
    let data = serde_json::json!({
        "_auth_user_id": "ü-42",
        "text": text,
        "large": "x".repeat(200_000),
    });
    let data = Arc::new(Data::from_json(&data.to_string()).unwrap());
    assert!(replace(&engine, &id, 1, &data).await.unwrap());
    let stored = engine.store().fetch(&id).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.data.to_json(), data.to_json());
    let listed = engine.store().by_user("ü-42").await.unwrap();
    assert_eq!(listed.len(), 1, "the user's one session is listed");

    // A save whose data names no user clears the user.
    assert!(replace(&engine, &id, 2, &empty).await.unwrap());
    assert!(engine.store().by_user("ü-42").await.unwrap().is_empty());
    drop_tables(&engine, &table).await;
}

/// MySQL's batch of updates is a transaction. A server that hangs while its `BEGIN` is on the
/// way (here a private MariaDB, stopped) answers it only after the batch has timed out: had
/// the connection gone back to the pool, the server would hold it in that transaction, and
/// the loads sent on it later would read one old snapshot, blind to writes made since. The
/// pool has one connection, so each load after the hang goes where the `BEGIN` went.
#[tokio::test]
async fn mariadb_a_batch_cut_short_by_a_hang_leaves_no_transaction_open() {
    let server = PrivateMariaDb::start().expect("a private MariaDB");
    let table = format!("sk_batches_{}", &SessionKey::generate().as_str()[..12]);
    let settings = Settings {
        db_url: server.url(),
        db_table: table.clone(),
        db_pool_size: Some(1),
        store_timeout: Duration::from_secs(1),
        ..Settings::new("secret")
    };
    let engine = DbEngine::connect(&settings).await.unwrap();
    engine.migrate().await.unwrap();
    let id = empty_sessions(&engine, 1).await.remove(0);
    let empty = Arc::new(Data::new());
    assert!(replace(&engine, &id, 1, &empty).await.unwrap());

    server.suspend().unwrap();
    let cut_short = replace(&engine, &id, 2, &empty).await;
    assert!(
        cut_short.is_err(),
        "the hung server does not answer in time"
    );
    server.resume().unwrap();

    let version = |engine: &DbEngine| {
        let id = id.clone();
        let store = engine.store().clone();
        async move { store.fetch(&id).await.unwrap().unwrap().version }
    };
    assert_eq!(version(&engine).await, 2);
    // Written on a connection of the test's own, as another instance would.
    let mut other = AnyConnection::connect(&server.url()).await.unwrap();
    let sql = format!("UPDATE {table} SET version = 3 WHERE session_key_hash = '{id}'");
    run_sql(&mut other, &sql).await.unwrap();
    assert_eq!(version(&engine).await, 3, "a load sees the latest write");
}

/// Each scenario as a test on PostgreSQL and one on MariaDB.
macro_rules! on_each_server {
    ($($scenario:ident $(::<$postgres:ty, $mysql:ty>)?),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario$(::<$postgres>)?(&super::POSTGRES).await;
                }
            )*
        }
        mod mariadb {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario$(::<$mysql>)?(&super::MARIADB).await;
                }
            )*
        }
    };
}

on_each_server!(
    saves_waiting_together_go_as_one_statement_each_with_its_own_answer,
    a_save_waiting_for_a_row_lock_does_not_hold_up_the_others,
    loads_waiting_together_go_as_one_statement_each_with_its_own_row,
    a_pool_the_app_hands_over_batches_too::<sqlx::Postgres, sqlx::MySql>,
    batches_of_shared_rows_do_not_deadlock,
    a_batch_of_fresh_and_stale_saves_writes_only_the_fresh,
    a_batch_of_stale_saves_writes_nothing,
    a_batch_ended_by_a_deadlock_is_sent_again,
    a_batched_save_stores_the_data_as_sent,
);
