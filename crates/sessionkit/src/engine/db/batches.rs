//! Loads and versioned updates on PostgreSQL, SQLite and MySQL, many to a statement. A request
//! with a session costs a `SELECT` and, when it saves, an `UPDATE … WHERE version = ?`. Run one
//! by one on PostgreSQL or MySQL, each is a checkout from the pool, a round trip, sqlx's ping
//! when the connection goes back and, for an update, a commit (a WAL or redo log flush); on
//! SQLite, each is two hand-offs between a tokio worker and the connection's thread. At 64
//! concurrent requests those per-statement costs set the pace. Here a task per kind of
//! statement takes the requests that wait together and sends them as one statement: their rows
//! travel as one JSON parameter (`json_to_recordset` on PostgreSQL, `json_each` on SQLite,
//! `JSON_TABLE` on MySQL, so it works through sqlx's `Any` driver, which binds no arrays), and
//! the statement returns what it found for each, by its place in the batch (a load) or by its
//! key (an update). One round trip (and one commit) per batch; each request is answered only
//! after it. MySQL has no `UPDATE … RETURNING`: there a batch of updates is a transaction of
//! three round trips (`BEGIN`, the `UPDATE`, `COMMIT`) when the `UPDATE` wrote a row for every
//! request or for none, and of four more (a `SELECT … FOR UPDATE` of the rows still at their
//! versions first) when it wrote some ([`BatchSql::CountedOrLocked`]).
//!
//! Each request keeps its own outcome. Of two updates of one row waiting together, only the
//! first goes in the batch: the other is reported stale after it, as it would be had it run
//! second, and its save reloads and merges (SQLite's `UPDATE … FROM` would apply one of the two
//! without saying which).
//!
//! Measured on a 2-core machine (`GET /bench/incr`, 64 clients, 3 alternating rounds of 5 s,
//! medians; PostgreSQL 15 over TLS, `synchronous_commit=on`): one statement per load and per
//! update 4,885 req/s (server CPU 136 µs per request), in batches 16,407 (42 µs); with the
//! near cache (one round trip per request, the update) 7,500 → 28,909. tower-sessions'
//! PostgreSQL store in the same rounds: 5,245. On an SQLite file (WAL, `synchronous=NORMAL`;
//! 3 alternating rounds of 5 s, medians): one statement per load and per update (the updates
//! committed in groups) 14,042 req/s at 101 µs of server CPU per request, in batches 24,950
//! (56 µs); the server's threads went to sleep 4.1 and 1.0 times per request. tower-sessions'
//! SQLite store in the same rounds: 6,752. On MariaDB 10.11 (3 alternating rounds of 5 s, no
//! TLS; `scripts/http-rounds.py --store-pid`): one by one 4,596 req/s (137 µs of server CPU per
//! request, and 215 µs of MariaDB's), in batches 10,041 (51 µs; MariaDB 90 µs), with the near
//! cache 12,748 (35 µs; MariaDB 63 µs); tower-sessions' MySQL store 4,548 (136 µs; 208 µs).
//! Sending the `UPDATE` first, without the locking `SELECT` unless a row was stale, took the
//! batches from 14,522 to 16,646 req/s and MariaDB from 60.2 to 51.6 µs per request (5
//! alternating rounds on a faster machine).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, Pool};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::StoredRow;
use super::backend::{Backend, Param};
use super::group_commit::Shared;
use super::sql::{BatchQueries, BatchSql};
use crate::engine::EngineError;

/// The most requests in one statement.
const MAX_BATCH: usize = 64;

/// How many times a batch is sent when the database ends it to break a deadlock.
const TRIES: usize = 3;

/// Statements of one kind in flight at once: while one batch runs (or waits for a row another
/// transaction holds), the next is being sent. Measured at 64 clients (`incr`, 3 alternating
/// rounds): 1 gave about 15 % more req/s than 2 (fuller batches), 4 about 18 % fewer; 2 keeps
/// the store answering while one statement is stuck until the timeout (test
/// `a_save_waiting_for_a_row_lock_does_not_hold_up_the_others`).
const IN_FLIGHT: usize = 2;

/// How long the next batch waits for the one sent before it, gathering requests meanwhile,
/// before it goes beside it: fuller batches, as one in flight would give, while a statement
/// stuck on a row lock holds the others up for no longer than this.
const PATIENCE: Duration = Duration::from_millis(5);

/// The loads and the updates of a store, each kind sent in batches of its own. Each task
/// starts with the first request of its kind, in its runtime: a store made outside one (a
/// pool the application hands over before it starts serving) batches too.
#[derive(Debug, Clone)]
pub(super) struct StoreBatches {
    queries: BatchQueries,
    limits: Limits,
    /// Whether the server takes the statements, once asked ([`StoreBatches::usable`]).
    usable: Arc<tokio::sync::OnceCell<bool>>,
    loads: Arc<OnceLock<Batches<Lookup, StoredRow>>>,
    updates: Arc<OnceLock<Batches<NewState, ()>>>,
}

/// A load: the row of key `k` if it expires after `n` (Unix seconds).
#[derive(Debug, Serialize)]
struct Lookup {
    k: String,
    n: i64,
}

/// An update: row `k`'s new state, if it still has version `v`.
#[derive(Debug, Serialize)]
pub(super) struct NewState {
    #[serde(rename = "k")]
    pub(super) key: String,
    #[serde(rename = "d")]
    pub(super) data: String,
    #[serde(rename = "e")]
    pub(super) expires: i64,
    #[serde(rename = "u")]
    pub(super) user: Option<String>,
    #[serde(rename = "v")]
    pub(super) version: i64,
}

impl NewState {
    fn key(&self) -> &str {
        &self.key
    }
}

impl StoreBatches {
    /// Batches that will run `queries` on connections of the store's pool, giving up finding
    /// out why there is no connection after `probe`, and on a statement after `timeout` (the
    /// store's: by then every request in the batch has given up, and a statement stuck on a
    /// lost connection must not hold its slot). The tasks end when the last clone is dropped.
    pub(super) fn new(queries: BatchQueries, probe: Duration, timeout: Duration) -> Self {
        StoreBatches {
            queries,
            limits: Limits { probe, timeout },
            usable: Arc::default(),
            loads: Arc::default(),
            updates: Arc::default(),
        }
    }

    /// Whether the server on `pool` takes the batches' statements. Where some servers of the
    /// dialect do not (MySQL's without `JSON_TABLE`), the first request asks it, on the
    /// application's pool as on sessionkit's own; a server that refuses the probe gets each
    /// load and update on its own from then on, and a warning says why. Until the server
    /// answers, each request asks again.
    pub(super) async fn usable<DB: Backend>(&self, pool: &Pool<DB>) -> Result<bool, EngineError> {
        let Some(probe) = &self.queries.probe else {
            return Ok(true);
        };
        let ask = || async {
            let mut connection = DB::acquire(pool, self.limits.probe)
                .await
                .map_err(EngineError::unavailable)?;
            match DB::execute(&mut connection, probe, &[]).await {
                Ok(_) => Ok(true),
                Err(sqlx::Error::Database(refusal)) => {
                    tracing::warn!(
                        %refusal,
                        "the database cannot take batches of session loads and saves (MySQL \
                         needs JSON_TABLE: MySQL 8.0.4, MariaDB 10.6); each goes on its own"
                    );
                    Ok(false)
                }
                Err(error) => Err(EngineError::unavailable(error)),
            }
        };
        self.usable.get_or_try_init(ask).await.copied()
    }

    /// The row of `key` if it is live at `now` (Unix seconds), in the next batch of loads on
    /// `readers` (the task starts on the first).
    pub(super) async fn load<DB: Backend>(
        &self,
        readers: &Pool<DB>,
        key: &str,
        now: i64,
    ) -> Result<Option<StoredRow>, EngineError> {
        let loads = self.loads.get_or_init(|| {
            Batches::start(Statement {
                pool: readers.clone(),
                sql: BatchSql::One(self.queries.load.clone()),
                limits: self.limits,
                busy: self.queries.busy,
                answers: Answers::ByPlace(|row: &DB::Row| StoredRow::read::<DB>(row, 1)),
            })
        });
        let lookup = Lookup {
            k: key.to_owned(),
            n: now,
        };
        loads.send(lookup).await
    }

    /// Makes `state` row's new state in the next batch of updates on `pool`: true if the row
    /// still had its version (and now has the next), false if not (another write came first,
    /// or it is gone).
    pub(super) async fn update<DB: Backend>(
        &self,
        pool: &Pool<DB>,
        state: NewState,
    ) -> Result<bool, EngineError> {
        let updates = self.updates.get_or_init(|| {
            Batches::start(Statement {
                pool: pool.clone(),
                sql: self.queries.update.clone(),
                limits: self.limits,
                busy: self.queries.busy,
                answers: Answers::ByKey {
                    key_of: NewState::key,
                    written: || (),
                },
            })
        });
        Ok(updates.send(state).await?.is_some())
    }
}

/// The queue to the task that sends one kind of statement in batches: each request an `Item`
/// the statement reads as a row of its JSON parameter, each answer what the statement
/// returned for it (`Found`), if anything. Cloning it shares the task.
#[derive(Debug)]
struct Batches<Item, Found> {
    queue: mpsc::UnboundedSender<Request<Item, Found>>,
}

impl<Item, Found> Clone for Batches<Item, Found> {
    fn clone(&self) -> Self {
        Batches {
            queue: self.queue.clone(),
        }
    }
}

/// One request and where its answer goes.
struct Request<Item, Found> {
    item: Item,
    reply: oneshot::Sender<Result<Option<Found>, EngineError>>,
}

/// A request's row in the statement's parameter: its own fields and, where the statement
/// names the requests it answers by place rather than by key, its place in the batch.
#[derive(Serialize)]
struct Placed<'a, Item> {
    #[serde(skip_serializing_if = "Option::is_none")]
    i: Option<usize>,
    #[serde(flatten)]
    item: &'a Item,
}

/// Reads what a statement found for a request from the row it returned (column 0 names the
/// request, by place or by key).
type ReadFound<DB, Found> = fn(&<DB as sqlx::Database>::Row) -> Result<Found, sqlx::Error>;

/// The row a request is for, where a batch may hold only one request per row.
type KeyOf<Item> = fn(&Item) -> &str;

/// Why a batch failed: every request in it is answered with it.
type BatchError = Box<dyn std::error::Error + Send + Sync>;

/// How long a batch may wait for a connection, and for its statement.
#[derive(Debug, Clone, Copy)]
struct Limits {
    probe: Duration,
    timeout: Duration,
}

/// One kind of statement as every batch of it runs: `sql` on connections of `pool`, the
/// requests answered as `answers` says; after a batch of `busy` requests or more, the next
/// waits for it ([`BatchQueries::busy`]).
struct Statement<DB: Backend, Item, Found> {
    pool: Pool<DB>,
    sql: BatchSql,
    limits: Limits,
    busy: usize,
    answers: Answers<DB, Item, Found>,
}

/// How what a batch's statement returns answers its requests.
enum Answers<DB: Backend, Item, Found> {
    /// Each row returned starts with the place in the batch of the request it is for; `read`
    /// reads what was found for it.
    ByPlace(ReadFound<DB, Found>),
    /// Each row returned, or counted as written ([`BatchSql::CountedOrLocked`]), is the row of
    /// a request's key, which gets `written()`. A batch sends only the first request for each
    /// key, in the order of the keys. (SQLite's `RETURNING` cannot name the batch's rows, and
    /// looking the place up again in the parameter would cost a scan of it per row.) In that
    /// order, two batches in flight that update some of the same rows lock them in the same
    /// order, and cannot deadlock.
    ByKey {
        key_of: KeyOf<Item>,
        written: fn() -> Found,
    },
}

impl<Item, Found> Batches<Item, Found>
where
    Item: Serialize + Send + Sync + 'static,
    Found: Send + 'static,
{
    /// Starts the task that sends `statement` in batches.
    fn start<DB: Backend>(statement: Statement<DB, Item, Found>) -> Self {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(send_batches(Arc::new(statement), requests));
        Batches { queue }
    }

    /// Sends `item` in the next batch; what the statement returned for it.
    async fn send(&self, item: Item) -> Result<Option<Found>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || EngineError::unavailable(std::io::Error::other("the batches stopped"));
        self.queue
            .send(Request { item, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The task: takes the requests waiting now, up to [`MAX_BATCH`], and sends them as one
/// statement, with up to [`IN_FLIGHT`] statements at a time. After a batch of the statement's
/// `busy` requests or more, unless a full batch waits, it gives that batch up to [`PATIENCE`]
/// to finish first.
async fn send_batches<DB, Item, Found>(
    statement: Arc<Statement<DB, Item, Found>>,
    mut requests: mpsc::UnboundedReceiver<Request<Item, Found>>,
) where
    DB: Backend,
    Item: Serialize + Send + Sync + 'static,
    Found: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut previous: Option<(JoinHandle<()>, usize)> = None;
    loop {
        if let Some((previous, size)) = previous.take()
            && size >= statement.busy
            && requests.len() < MAX_BATCH
        {
            let _ = tokio::time::timeout(PATIENCE, previous).await;
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MAX_BATCH);
        if requests.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        // A request that has given up (timed out, or its client left) is not sent.
        batch.retain(|request: &Request<Item, Found>| !request.reply.is_closed());
        let (statement, size) = (statement.clone(), batch.len());
        let sent = tokio::spawn(async move {
            statement.send(batch).await;
            drop(slot);
        });
        previous = Some((sent, size));
    }
}

/// A connection that goes back to the pool only if the transaction on it ended as it should;
/// cut short (the batch timed out, or a statement failed), it is closed instead. A `BEGIN`
/// whose answer never came (the store hung) leaves the server in a transaction that sqlx does
/// not know of: pooled, the connection would serve later loads from that transaction's old
/// snapshot, and a session would read as it was before writes that were acknowledged.
struct ClosedIfCutShort<DB: Database> {
    connection: PoolConnection<DB>,
    done: bool,
}

impl<DB: Database> Drop for ClosedIfCutShort<DB> {
    fn drop(&mut self) {
        if !self.done {
            self.connection.close_on_drop();
        }
    }
}

impl<DB: Backend, Item: Serialize, Found> Statement<DB, Item, Found> {
    /// Runs one batch and answers each request. A request the batch did not send (a repeated
    /// key) is answered "nothing found" with the others, after the first for its key.
    async fn send(&self, batch: Vec<Request<Item, Found>>) {
        if batch.is_empty() {
            return;
        }
        let outcome = tokio::time::timeout(self.limits.timeout, self.run_to_the_end(&batch))
            .await
            .unwrap_or_else(|_| {
                Err("the database did not answer the batch within the store timeout".into())
            });
        match outcome {
            Ok(found) => {
                let mut answers: Vec<Option<Found>> = batch.iter().map(|_| None).collect();
                for (place, value) in found {
                    if let Some(answer) = answers.get_mut(place) {
                        *answer = Some(value);
                    }
                }
                for (request, answer) in batch.into_iter().zip(answers) {
                    let _ = request.reply.send(Ok(answer));
                }
            }
            Err(cause) => {
                let cause = Shared(Arc::from(cause));
                for request in batch {
                    let _ = request
                        .reply
                        .send(Err(EngineError::unavailable(cause.clone())));
                }
            }
        }
    }

    /// Runs the batch, again if the database ended it to break a deadlock or a serialization
    /// conflict with another transaction ([`rolled_back_whole`]): an application's own
    /// transaction on the table, or a delete of many rows, may lock rows in another order than
    /// the batch's. Up to [`TRIES`] times, within the store timeout.
    async fn run_to_the_end(
        &self,
        batch: &[Request<Item, Found>],
    ) -> Result<Vec<(usize, Found)>, BatchError> {
        let mut tries = 1;
        loop {
            match self.run(batch).await {
                Err(error) if tries < TRIES && rolled_back_whole(&*error) => {
                    tracing::warn!(
                        %error,
                        "the database ended a batch of session statements to resolve a conflict \
                         with another transaction; sending it again"
                    );
                    tries += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Sends the batch's statement; what it returned, by place.
    async fn run(&self, batch: &[Request<Item, Found>]) -> Result<Vec<(usize, Found)>, BatchError> {
        let mut places = HashMap::new();
        let rows: Vec<Placed<'_, Item>> = match self.answers {
            Answers::ByKey { key_of, .. } => {
                let mut rows: Vec<_> = batch
                    .iter()
                    .enumerate()
                    .filter(
                        |&(place, request)| match places.entry(key_of(&request.item)) {
                            Entry::Vacant(entry) => {
                                entry.insert(place);
                                true
                            }
                            Entry::Occupied(_) => false,
                        },
                    )
                    .map(|(_, request)| Placed {
                        i: None,
                        item: &request.item,
                    })
                    .collect();
                rows.sort_unstable_by(|a, b| key_of(a.item).cmp(key_of(b.item)));
                rows
            }
            Answers::ByPlace(_) => batch
                .iter()
                .enumerate()
                .map(|(place, request)| Placed {
                    i: Some(place),
                    item: &request.item,
                })
                .collect(),
        };
        let sent = rows.len();
        let rows = serde_json::to_string(&rows)?;
        let params = [Param::Text(&rows)];
        let mut connection = DB::acquire(&self.pool, self.limits.probe).await?;
        let returned = match &self.sql {
            BatchSql::One(sql) => Some(DB::fetch_all(&mut connection, sql, &params).await?),
            BatchSql::CountedOrLocked { update, lock } => {
                let mut guarded = ClosedIfCutShort {
                    connection,
                    done: false,
                };
                let locked =
                    counted_or_locked(&mut guarded.connection, update, lock, &params, sent).await?;
                guarded.done = true;
                locked
            }
        };
        match (&self.answers, returned) {
            (Answers::ByPlace(read), Some(rows)) => rows
                .iter()
                .map(|row| {
                    let place = usize::try_from(DB::integer(row, 0)?).unwrap_or(usize::MAX);
                    Ok((place, read(row)?))
                })
                .collect(),
            (Answers::ByKey { written, .. }, Some(rows)) => rows
                .iter()
                .map(|row| {
                    let place = places.get(DB::text(row, 0)?.as_str()).copied();
                    Ok((place.unwrap_or(usize::MAX), written()))
                })
                .collect(),
            (Answers::ByKey { written, .. }, None) => Ok(places
                .into_values()
                .map(|place| (place, written()))
                .collect()),
            (Answers::ByPlace(_), None) => Err("a count of rows written answers no load".into()),
        }
    }
}

/// Whether `error` is the database ending a transaction whole, to be run again: a deadlock
/// (SQLSTATE `40P01` on PostgreSQL; MySQL's error 1213 has `40001`) or a serialization failure
/// (`40001`). Nothing of it was written, so sending the batch again cannot write twice. Not
/// the rest of class `40`: a `40003` (statement completion unknown) may have been written.
fn rolled_back_whole(error: &(dyn std::error::Error + 'static)) -> bool {
    match error.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(error)) => {
            matches!(error.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// A batch of updates on MySQL ([`BatchSql::CountedOrLocked`]): `None` if `update` wrote a row
/// for each of the `sent`; no rows if it wrote none; else the rows `lock` found still at their
/// versions, which it then wrote.
async fn counted_or_locked<DB: Backend>(
    connection: &mut PoolConnection<DB>,
    update: &Arc<str>,
    lock: &Arc<str>,
    params: &[Param<'_>],
    sent: usize,
) -> Result<Option<Vec<DB::Row>>, sqlx::Error> {
    let mut transaction = connection.begin().await?;
    let written = DB::execute(&mut transaction, update, params).await?;
    if usize::try_from(written) == Ok(sent) {
        transaction.commit().await?;
        return Ok(None);
    }
    transaction.rollback().await?;
    if written == 0 {
        // No row was at its version, and none will be again (versions only grow): every
        // request is stale, as the locking `SELECT` would say, without its transaction. The
        // case of saves that lost a race on a session many requests write at once.
        return Ok(Some(Vec::new()));
    }
    let mut transaction = connection.begin().await?;
    let locked = DB::fetch_all(&mut transaction, lock, params).await?;
    DB::execute(&mut transaction, update, params).await?;
    transaction.commit().await?;
    Ok(Some(locked))
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    /// Batches whose server is asked `probe` first.
    fn probing(probe: Option<&str>) -> StoreBatches {
        let queries = BatchQueries {
            load: "SELECT 1".into(),
            update: BatchSql::One("SELECT 1".into()),
            probe: probe.map(Into::into),
            busy: 1,
        };
        StoreBatches::new(queries, Duration::from_secs(5), Duration::from_secs(5))
    }

    /// A server to ask: an SQLite database in memory.
    async fn in_memory() -> Pool<sqlx::Sqlite> {
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_server_that_refuses_the_probe_gets_no_batches_and_is_asked_once() {
        let pool = in_memory().await;
        assert!(probing(None).usable(&pool).await.unwrap(), "nothing to ask");
        assert!(probing(Some("SELECT 1")).usable(&pool).await.unwrap());

        let refused = probing(Some("SELECT n FROM missing_feature"));
        assert!(!refused.usable(&pool).await.unwrap());
        sqlx::query("CREATE TABLE missing_feature (n INT)")
            .execute(&pool)
            .await
            .unwrap();
        assert!(
            !refused.usable(&pool).await.unwrap(),
            "the first answer stands"
        );
        assert!(
            probing(Some("SELECT n FROM missing_feature"))
                .usable(&pool)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_server_that_cannot_be_asked_is_unavailable_and_asked_again() {
        let pool = in_memory().await;
        let batches = probing(Some("SELECT 1"));
        pool.close().await;
        assert!(
            batches.usable(&pool).await.is_err(),
            "no answer is no refusal"
        );
        assert!(batches.usable.get().is_none(), "so it is asked again");
    }
}
