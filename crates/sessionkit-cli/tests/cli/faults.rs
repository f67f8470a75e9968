//! The fault matrix (docs/FAULTS.md): each server store — Redis for `cache`, PostgreSQL and
//! MariaDB for `db`, and the Redis of `cached_db` (over SQLite) — is killed (SIGKILL, then
//! restarted), hung (SIGSTOP, then SIGCONT) or cut off (a partitioned proxy, then healed) while
//! clients keep using the real `sessionkit serve`, and must come through it with:
//!
//! - only 200s and 503s, each answered within [`ANSWER_LIMIT`], and no panic in the log;
//! - every client writing again within [`RECOVERY_LIMIT`] of the store's return, without the
//!   app being restarted;
//! - no acknowledged increment lost, and no acknowledged logout undone, in any session the
//!   clients had (each login starts a new one, so sessions left during the fault are read back
//!   untouched since);
//! - for `cached_db`, whose database stays up: no save refused while only its cache is down,
//!   and nothing answered from the cache that the database contradicts (every session reads the
//!   same after the cache is emptied) — issue 13.
//!
//! Each store is a private server from sessionkit-testkit (never the shared ones), reached
//! through a `TcpProxy` so the same cell can partition it. A killed Redis keeps what it
//! acknowledged because the private one runs with `appendfsync always`; a cache Redis without
//! persistence forgets every session when killed, which is data loss by configuration, not a
//! defect this suite could report.
//!
//! Each cell prints one row (store, fault, status counts, slowest answer, seconds to recover,
//! writes lost, logouts undone, stale cache reads); run them with
//! `cargo test -p sessionkit-cli --test cli faults -- --nocapture`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use sessionkit_testkit::{Kind, MariaDb, Postgres, PrivateServer, Redis, TcpProxy};

use crate::support::{Browser, Response, Server, TempDir};

/// `SESSION_STORE_TIMEOUT`: how long one store operation may take before it fails.
const STORE_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest any answer may take. With locking a request makes up to three store calls in a
/// row (take the lock, load or save, release the lock), each bounded by [`STORE_TIMEOUT`];
/// the second is slack for a machine busy with other builds.
const ANSWER_LIMIT: Duration = Duration::from_secs(4);

/// `SESSION_LOCK_LEASE`: a lock nobody releases — its release failed while the store was down,
/// or a hung store took it on resuming for a request that had already given up — lapses after
/// this long, so a short lease bounds how long its session stays locked after recovery.
const LOCK_LEASE_SECS: &str = "3";

/// How long after the store is back every client must have written again.
const RECOVERY_LIMIT: Duration = Duration::from_secs(20);

const CLIENTS: usize = 3;

/// Load before the fault.
const BEFORE_FAULT: Duration = Duration::from_secs(1);

/// How long the fault lasts: longer than [`ANSWER_LIMIT`], so a request that waits the fault
/// out instead of timing out is caught.
const FAULT_LASTS: Duration = Duration::from_secs(5);

/// Each client logs in, increments this many times, logs out, and starts over.
const INCREMENTS_PER_LOGIN: usize = 4;

/// Between two requests of a client: a bounded load on a machine shared with other builds.
const PAUSE: Duration = Duration::from_millis(5);

/// One cell at a time: cells measure answer times and recovery, which would mostly measure
/// each other if they ran side by side.
static ONE_CELL_AT_A_TIME: Mutex<()> = Mutex::new(());

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// SIGKILL to the store, then a restart on the same port and data.
    Kill,
    /// SIGSTOP to the store, then SIGCONT.
    Hang,
    /// The proxy drops its connections and holds new ones, then forwards again.
    Partition,
}

#[test]
fn cache_on_redis_survives_a_kill() {
    cache_on_redis(Fault::Kill);
}

#[test]
fn cache_on_redis_survives_a_hang() {
    cache_on_redis(Fault::Hang);
}

#[test]
fn cache_on_redis_survives_a_partition() {
    cache_on_redis(Fault::Partition);
}

#[test]
fn db_on_postgres_survives_a_kill() {
    db_on::<Postgres>("db on postgres", Fault::Kill);
}

#[test]
fn db_on_postgres_survives_a_hang() {
    db_on::<Postgres>("db on postgres", Fault::Hang);
}

#[test]
fn db_on_postgres_survives_a_partition() {
    db_on::<Postgres>("db on postgres", Fault::Partition);
}

#[test]
fn db_on_mariadb_survives_a_kill() {
    db_on::<MariaDb>("db on mariadb", Fault::Kill);
}

#[test]
fn db_on_mariadb_survives_a_hang() {
    db_on::<MariaDb>("db on mariadb", Fault::Hang);
}

#[test]
fn db_on_mariadb_survives_a_partition() {
    db_on::<MariaDb>("db on mariadb", Fault::Partition);
}

#[test]
fn cached_db_survives_its_redis_killed() {
    cached_db(Fault::Kill);
}

#[test]
fn cached_db_survives_its_redis_hung() {
    cached_db(Fault::Hang);
}

#[test]
fn cached_db_survives_its_redis_partitioned() {
    cached_db(Fault::Partition);
}

/// What a cell runs against.
struct Setup<K: Kind> {
    name: &'static str,
    /// The engine settings, for the store's URL (through the proxy) and the app's directory.
    env: fn(String, &Path) -> Vec<(&'static str, String)>,
    /// For a cache in front of a database: empties the cache, so that the app answers from
    /// the database alone.
    empty_cache: Option<fn(&PrivateServer<K>)>,
}

fn cache_on_redis(fault: Fault) {
    let setup = Setup::<Redis> {
        name: "cache on redis",
        env: |url, _| {
            vec![
                ("SESSION_ENGINE", "cache".into()),
                ("SESSION_CACHE_URL", url),
            ]
        },
        empty_cache: None,
    };
    run_cell(&setup, fault);
}

fn db_on<K: Kind>(name: &'static str, fault: Fault) {
    let setup = Setup::<K> {
        name,
        env: |url, _| vec![("SESSION_ENGINE", "db".into()), ("SESSION_DB_URL", url)],
        empty_cache: None,
    };
    run_cell(&setup, fault);
}

/// The Redis is faulted; the database (the record of truth) is a SQLite file beside the app.
fn cached_db(fault: Fault) {
    let setup = Setup::<Redis> {
        name: "cached_db, redis faulted",
        env: |url, dir| {
            let db = format!("sqlite://{}", dir.join("sessions.sqlite3").display());
            vec![
                ("SESSION_ENGINE", "cached_db".into()),
                ("SESSION_CACHE_URL", url),
                ("SESSION_DB_URL", db),
            ]
        },
        empty_cache: Some(|redis| redis.flush_all().expect("empty the cache")),
    };
    run_cell(&setup, fault);
}

/// A private store and the proxy the app reaches it through.
struct Store<K: Kind> {
    server: PrivateServer<K>,
    proxy: TcpProxy,
}

impl<K: Kind> Store<K> {
    fn start() -> Self {
        let server = PrivateServer::<K>::start().expect("start a private store");
        let proxy = TcpProxy::start(server.port()).expect("start a proxy");
        Store { server, proxy }
    }

    fn inject(&mut self, fault: Fault) {
        match fault {
            Fault::Kill => self.server.kill().expect("kill the store"),
            Fault::Hang => self.server.suspend().expect("suspend the store"),
            Fault::Partition => self.proxy.partition(),
        }
    }

    /// Undoes `fault`; returns once the store answers again.
    fn restore(&mut self, fault: Fault) {
        match fault {
            Fault::Kill => self.server.restart().expect("restart the store"),
            Fault::Hang => self.server.resume().expect("resume the store"),
            Fault::Partition => self.proxy.heal(),
        }
    }
}

/// What the load's clients share with the cell.
#[derive(Default)]
struct Control {
    /// When the store came back.
    restored_at: Mutex<Option<Instant>>,
    /// How many clients have written since then.
    recovered: AtomicUsize,
    /// Set once all clients have recovered (or the limit passed): each ends at its next
    /// acknowledged increment, so its last session's stored counter is known exactly.
    stop: AtomicBool,
}

impl Control {
    fn restored_at(&self) -> Option<Instant> {
        *self
            .restored_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// How a session's client left it.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// Still in use when the load stopped, right after an acknowledged increment.
    Open,
    /// Logged out, acknowledged.
    LoggedOut,
    /// The logout got a 503: it may or may not have happened.
    LogoutRefused,
}

/// A session as its client knows it.
struct Tracked {
    /// A jar holding the session's cookie.
    browser: Browser,
    /// Its counter as last acknowledged.
    acknowledged: u64,
    ending: Ending,
}

impl Tracked {
    /// What is wrong with `shown`, the counter `/bench/read` shows for the session now:
    /// (acknowledged increments lost, whether an acknowledged logout was undone, a note).
    fn judge(&self, shown: u64) -> Option<(u64, bool, String)> {
        let acknowledged = self.acknowledged;
        let lost = acknowledged.saturating_sub(shown);
        let wrong = match self.ending {
            Ending::LoggedOut => shown != 0,
            // Either the logout happened or the session is as acknowledged (or further, by
            // increments that got a 503 but landed).
            Ending::LogoutRefused => shown != 0 && shown < acknowledged,
            // Nothing of this client's came after the acknowledged increment.
            Ending::Open => shown != acknowledged,
        };
        wrong.then(|| {
            let undone = self.ending == Ending::LoggedOut;
            let lost = if undone { 0 } else { lost };
            (
                lost,
                undone,
                format!("{:?} at {acknowledged}, shows {shown}", self.ending),
            )
        })
    }
}

impl std::fmt::Debug for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ending::Open => "open",
            Ending::LoggedOut => "logged out",
            Ending::LogoutRefused => "logout refused",
        })
    }
}

/// One client's view of the run.
#[derive(Default)]
struct Client {
    browser: Browser,
    /// The jar's session as last acknowledged; `None` when the jar holds none or a 503 on
    /// login left unknown which session it holds.
    current: Option<Tracked>,
    /// The sessions it is done with.
    finished: Vec<Tracked>,
    ok: u64,
    unavailable: u64,
    /// 503s on a login or an increment.
    saves_refused: u64,
    other: Vec<String>,
    slowest: Duration,
    /// Acknowledged increments missing from a later answer.
    lost: u64,
    /// From the store's return to this client's first acknowledged write after it.
    recovery: Option<Duration>,
}

impl Client {
    /// Runs login, increments, logout cycles until told to stop and its last increment was
    /// acknowledged, or until `give_up` passes.
    fn run(server: &Server, control: &Control, give_up: Instant) -> Client {
        let mut client = Client::default();
        while Instant::now() < give_up {
            client.log_in(server);
            for _ in 0..INCREMENTS_PER_LOGIN {
                if client.increment(server, control) && control.stop.load(Ordering::SeqCst) {
                    client.finished.extend(client.current.take());
                    return client;
                }
            }
            client.log_out(server);
        }
        client
    }

    /// Sends a request, timing it and counting its status.
    fn send(&mut self, path: &str, request: impl FnOnce(&mut Browser) -> Response) -> Response {
        sleep(PAUSE);
        let started = Instant::now();
        let response = request(&mut self.browser);
        self.slowest = self.slowest.max(started.elapsed());
        match response.status {
            200 => self.ok += 1,
            503 => self.unavailable += 1,
            status => self
                .other
                .push(format!("{status} on {path}: {}", response.body)),
        }
        response
    }

    fn log_in(&mut self, server: &Server) {
        let response = self.send("/bench/login", |b| b.post(server, "/bench/login", ""));
        self.current = match response.status {
            200 => Some(Tracked {
                browser: self.browser.clone(),
                acknowledged: 0,
                ending: Ending::Open,
            }),
            _ => {
                self.saves_refused += 1;
                None
            }
        };
    }

    /// Whether the increment was acknowledged.
    fn increment(&mut self, server: &Server, control: &Control) -> bool {
        let sent = Instant::now();
        let response = self.send("/bench/incr", |b| b.get(server, "/bench/incr"));
        if response.status != 200 {
            self.saves_refused += 1;
            return false;
        }
        let counter: u64 = response.body.parse().expect("a counter");
        match &mut self.current {
            Some(tracked) if tracked.browser.cookie == self.browser.cookie => {
                // A 503'd increment may have landed too, so the counter may jump; it never
                // falls back.
                self.lost += (tracked.acknowledged + 1).saturating_sub(counter);
                tracked.acknowledged = counter;
            }
            // A new cookie: the server no longer knew the session, and all it had is lost.
            current => {
                self.lost += current.as_ref().map_or(0, |lost| lost.acknowledged);
                *current = Some(Tracked {
                    browser: self.browser.clone(),
                    acknowledged: counter,
                    ending: Ending::Open,
                });
            }
        }
        if let Some(restored) = control.restored_at().filter(|&at| sent >= at)
            && self.recovery.is_none()
        {
            self.recovery = Some(restored.elapsed());
            control.recovered.fetch_add(1, Ordering::SeqCst);
        }
        true
    }

    fn log_out(&mut self, server: &Server) {
        let response = self.send("/bench/logout", |b| b.get(server, "/bench/logout"));
        if let Some(mut tracked) = self.current.take() {
            tracked.ending = match response.status {
                200 => Ending::LoggedOut,
                _ => Ending::LogoutRefused,
            };
            self.finished.push(tracked);
        }
    }
}

/// The counter `/bench/read` shows for `browser`'s cookie (0 without a session).
fn read_counter(server: &Server, browser: &Browser) -> u64 {
    let response = browser.clone().get(server, "/bench/read");
    assert_eq!(response.status, 200, "{}", response.body);
    response.body.parse().expect("a counter")
}

/// What the sessions show once the load is over.
#[derive(Default)]
struct Verdict {
    lost: u64,
    logouts_undone: u64,
    /// Sessions that read differently once the cache was emptied.
    stale: u64,
    notes: Vec<String>,
}

impl Verdict {
    /// Reads every session the clients had (and, with a cache in front of a database, again
    /// after emptying the cache) and judges what it shows.
    fn of<K: Kind>(
        clients: &[Client],
        server: &Server,
        store: &Store<K>,
        setup: &Setup<K>,
    ) -> Verdict {
        let sessions: Vec<&Tracked> = clients.iter().flat_map(|c| &c.finished).collect();
        let shown: Vec<u64> = sessions
            .iter()
            .map(|tracked| read_counter(server, &tracked.browser))
            .collect();
        let mut verdict = Verdict {
            lost: clients.iter().map(|c| c.lost).sum(),
            ..Verdict::default()
        };
        for (tracked, &shown) in sessions.iter().zip(&shown) {
            if let Some((lost, undone, note)) = tracked.judge(shown) {
                verdict.lost += lost;
                verdict.logouts_undone += u64::from(undone);
                verdict.notes.push(note);
            }
        }
        if let Some(empty_cache) = setup.empty_cache {
            empty_cache(&store.server);
            for (tracked, &shown) in sessions.iter().zip(&shown) {
                let truth = read_counter(server, &tracked.browser);
                if truth != shown {
                    verdict.stale += 1;
                    verdict.notes.push(format!(
                        "{:?} at {}: the cache showed {shown}, the database {truth}",
                        tracked.ending, tracked.acknowledged
                    ));
                }
            }
        }
        verdict
    }
}

/// Runs one cell: starts the store, its proxy and the app, runs the load through the fault,
/// prints the row and checks it.
fn run_cell<K: Kind>(setup: &Setup<K>, fault: Fault) {
    let _one_at_a_time = ONE_CELL_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mut store = Store::<K>::start();
    let dir = TempDir::new("faults");
    let mut env = (setup.env)(store.server.url_via(&store.proxy), dir.path());
    env.extend([
        ("SECRET_KEY", "fault-matrix".into()),
        ("SESSION_STORE_TIMEOUT", STORE_TIMEOUT.as_secs().to_string()),
        ("SESSION_LOCKING", "true".into()),
        ("SESSION_LOCK_TIMEOUT", STORE_TIMEOUT.as_secs().to_string()),
        ("SESSION_LOCK_LEASE", LOCK_LEASE_SECS.into()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(dir.path(), &env);

    let control = Control::default();
    let give_up = Instant::now() + BEFORE_FAULT + FAULT_LASTS + RECOVERY_LIMIT * 2;
    let clients: Vec<Client> = thread::scope(|scope| {
        let load: Vec<_> = (0..CLIENTS)
            .map(|_| scope.spawn(|| Client::run(&server, &control, give_up)))
            .collect();
        sleep(BEFORE_FAULT);
        store.inject(fault);
        sleep(FAULT_LASTS);
        store.restore(fault);
        let restored = Instant::now();
        *control
            .restored_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(restored);
        while control.recovered.load(Ordering::SeqCst) < CLIENTS
            && restored.elapsed() < RECOVERY_LIMIT
        {
            sleep(Duration::from_millis(20));
        }
        control.stop.store(true, Ordering::SeqCst);
        load.into_iter()
            .map(|client| client.join().expect("a client thread"))
            .collect()
    });
    let verdict = Verdict::of(&clients, &server, &store, setup);

    let ok: u64 = clients.iter().map(|c| c.ok).sum();
    let unavailable: u64 = clients.iter().map(|c| c.unavailable).sum();
    let saves_refused: u64 = clients.iter().map(|c| c.saves_refused).sum();
    let other: Vec<&String> = clients.iter().flat_map(|c| &c.other).collect();
    let slowest = clients.iter().map(|c| c.slowest).max().unwrap_or_default();
    let recovery: Option<Duration> = clients
        .iter()
        .map(|c| c.recovery)
        .collect::<Option<Vec<_>>>()
        .and_then(|all| all.into_iter().max());
    println!(
        "fault matrix | {:<24} | {:<9} | 200: {ok:>5} | 503: {unavailable:>4} | other: {:>2} | \
         slowest {:>4.2} s | recovered in {} | writes lost: {} | logouts undone: {} | \
         stale cache reads: {}",
        setup.name,
        format!("{fault:?}").to_lowercase(),
        other.len(),
        slowest.as_secs_f64(),
        recovery.map_or("never".to_owned(), |r| format!("{:.2} s", r.as_secs_f64())),
        verdict.lost,
        verdict.logouts_undone,
        setup
            .empty_cache
            .map_or("-".to_owned(), |_| verdict.stale.to_string()),
    );

    let logs = server.logs();
    assert!(!logs.contains("panicked"), "a panic in the log:\n{logs}");
    assert!(
        other.is_empty(),
        "answers other than 200 and 503: {other:?}"
    );
    assert!(
        slowest <= ANSWER_LIMIT,
        "an answer took {slowest:?}, over {ANSWER_LIMIT:?}"
    );
    assert!(
        recovery.is_some_and(|r| r <= RECOVERY_LIMIT),
        "not every client wrote again within {RECOVERY_LIMIT:?} of the store's return"
    );
    assert_eq!(
        (verdict.lost, verdict.logouts_undone, verdict.stale),
        (0, 0, 0),
        "acknowledged writes lost, logouts undone or stale cache reads: {:?}",
        verdict.notes
    );
    if setup.empty_cache.is_some() {
        assert_eq!(
            saves_refused, 0,
            "the database was up, yet {saves_refused} saves got a 503 while the cache was down"
        );
    } else {
        assert!(unavailable > 0, "the fault never showed: no 503 at all");
    }
}
