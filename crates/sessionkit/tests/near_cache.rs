//! The near cache (`SESSION_NEAR_CACHE`) across two app instances, each an engine opened
//! from settings on one store: a delete on A is seen by B through the store's invalidation
//! channel (PostgreSQL `LISTEN/NOTIFY`, Redis client-side caching) long before the TTL; on
//! SQLite, which has no channel, within the TTL; and a lost channel never leaves B serving
//! what it cached before.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sessionkit::engine::{Engine, USER_ID_KEY, open};
use sessionkit::{EngineKind, Sessions, Settings};
use sessionkit_testkit::{PrivateRedis, TcpProxy, redis_cli};
use sqlx::AssertSqlSafe;

use common::{REDIS_URL, delete_redis_keys};

const SECRET: &str = "near-cache-test-secret";
const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Longer than any test waits: what B sees in time was told by the channel, not the TTL.
const LONG_TTL: Duration = Duration::from_secs(60);
/// How long B may take to see A's delete through a channel. Generous for a loaded machine;
/// the measured times are in `scripts/near-cache-logout.py`'s output.
const CHANNEL_BOUND: Duration = Duration::from_secs(5);

fn unique() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Two instances on `settings`: A (no near cache, it only writes) and B (near-cached).
async fn instances(settings: &Settings) -> (Sessions, Arc<dyn Engine>) {
    let a = Sessions::open(settings.clone()).await.expect("instance A");
    a.engine().migrate().await.expect("migrate");
    let b = open(&Settings {
        near_cache: true,
        ..settings.clone()
    })
    .await
    .expect("instance B");
    (a, b)
}

/// A session saved on A, with its cookie value.
async fn session_on(a: &Sessions) -> String {
    let session = a.start(None).load().await.unwrap();
    session.insert("user", "ada").unwrap();
    session.insert(USER_ID_KEY, "7").unwrap();
    session.save().await.unwrap().expect("a cookie")
}

/// Loads on B until it says the session is gone; how long that took, or a panic after `bound`.
async fn gone_on_b_within(b: &dyn Engine, cookie: &str, bound: Duration) -> Duration {
    let start = Instant::now();
    while b.load(cookie).await.unwrap().is_some() {
        assert!(
            start.elapsed() < bound,
            "B still served the deleted session after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

/// Loads on B until it has the session (the channel is up once the cache serves).
async fn cached_on_b(b: &dyn Engine, cookie: &str) {
    for _ in 0..3 {
        assert!(
            b.load(cookie).await.unwrap().is_some(),
            "B finds the session"
        );
    }
}

async fn drop_table(table: &str) {
    let pool = sqlx::PgPool::connect(POSTGRES_URL).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_on_a_is_seen_by_b_through_postgres_notifications() {
    let table = format!("sk_near_{}", unique());
    let settings = Settings {
        engine: EngineKind::Db,
        db_url: POSTGRES_URL.to_owned(),
        db_table: table.clone(),
        near_cache_ttl: LONG_TTL,
        ..Settings::new(SECRET)
    };
    deletes_on_a_are_seen_by_b(&settings).await;
    drop_table(&table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_on_a_is_seen_by_b_through_redis_tracking() {
    let prefix = format!("sk_near_{}:", unique());
    let settings = Settings {
        engine: EngineKind::Cache,
        cache_url: REDIS_URL.to_owned(),
        cache_key_prefix: prefix.clone(),
        near_cache_ttl: LONG_TTL,
        ..Settings::new(SECRET)
    };
    deletes_on_a_are_seen_by_b(&settings).await;
    delete_redis_keys(&prefix).await;
}

/// Two instances on one store: a session B has cached is gone on B within the channel's
/// bound after A deletes it (a logout), and after A logs out all of its user's sessions.
async fn deletes_on_a_are_seen_by_b(settings: &Settings) {
    let (a, b) = instances(settings).await;
    for _ in 0..3 {
        let cookie = session_on(&a).await;
        cached_on_b(&*b, &cookie).await;
        a.engine().delete(&cookie).await.unwrap();
        gone_on_b_within(&*b, &cookie, CHANNEL_BOUND).await;
    }
    // "Log out other sessions" is a delete too.
    let cookie = session_on(&a).await;
    cached_on_b(&*b, &cookie).await;
    assert_eq!(a.engine().delete_user_sessions("7", None).await.unwrap(), 1);
    gone_on_b_within(&*b, &cookie, CHANNEL_BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_on_a_is_seen_by_b_on_postgres_within_the_ttl_and_never_lost_by_a_write() {
    let table = format!("sk_near_{}", unique());
    let ttl = Duration::from_millis(300);
    let settings = Settings {
        engine: EngineKind::Db,
        db_url: POSTGRES_URL.to_owned(),
        db_table: table.clone(),
        near_cache_ttl: ttl,
        ..Settings::new(SECRET)
    };
    let (a, _) = instances(&settings).await;
    let b = Sessions::open(Settings {
        near_cache: true,
        ..settings.clone()
    })
    .await
    .unwrap();
    let cookie = session_on(&a).await;
    let on_b = b.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(on_b.get::<String>("user").unwrap().as_deref(), Some("ada"));
    // A changes one key; B, from its cached copy, another: the versioned write merges.
    let on_a = a.start(Some(&cookie)).load().await.unwrap();
    on_a.insert("theme", "dark").unwrap();
    on_a.save().await.unwrap();
    let on_b = b.start(Some(&cookie)).load().await.unwrap();
    on_b.insert("cart", 3).unwrap();
    on_b.save().await.unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let merged = b.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(
        merged.get::<String>("theme").unwrap().as_deref(),
        Some("dark")
    );
    assert_eq!(merged.get::<i64>("cart").unwrap(), Some(3));
    drop_table(&table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_b_sees_a_delete_once_the_ttl_has_passed() {
    let dir = std::env::temp_dir().join(format!("sk-near-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let ttl = Duration::from_secs(2);
    let settings = Settings {
        engine: EngineKind::Db,
        db_url: format!("sqlite://{}", dir.join("sessions.sqlite3").display()),
        near_cache_ttl: ttl,
        ..Settings::new(SECRET)
    };
    let (a, b) = instances(&settings).await;
    let cookie = session_on(&a).await;
    cached_on_b(&*b, &cookie).await;
    a.engine().delete(&cookie).await.unwrap();
    // No channel: B's copy stands until the TTL, then B asks the store again.
    assert!(
        b.load(&cookie).await.unwrap().is_some(),
        "B serves its copy"
    );
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert!(
        b.load(&cookie).await.unwrap().is_none(),
        "B sees the delete"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_redis_channel_empties_and_bypasses_the_cache() {
    let redis = PrivateRedis::start().expect("start a private redis-server");
    let proxy = TcpProxy::start(redis.port()).expect("start a proxy");
    let settings = on_private_redis(&redis);
    let a = Sessions::open(settings.clone()).await.unwrap();
    // B reaches Redis through the proxy: its store connection and its channel.
    let b = open(&Settings {
        near_cache: true,
        cache_url: redis.url_via(&proxy),
        ..settings.clone()
    })
    .await
    .unwrap();
    let cookie = session_on(&a).await;
    cached_on_b(&*b, &cookie).await;
    // The channel goes; meanwhile A deletes the session, and no push reaches B.
    proxy.partition();
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.engine().delete(&cookie).await.unwrap();
    proxy.heal();
    // B must not serve its copy: the loss emptied the cache, and B asks Redis (whose store
    // connection the partition broke too: the first calls may fail while it reconnects).
    let mut answer = b.load(&cookie).await;
    for _ in 0..100 {
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = b.load(&cookie).await;
    }
    assert!(answer.expect("Redis answers B again").is_none());
    // And once the channel is back, B caches and is told again.
    let cookie = session_on(&a).await;
    cached_on_b(&*b, &cookie).await;
    a.engine().delete(&cookie).await.unwrap();
    gone_on_b_within(&*b, &cookie, CHANNEL_BOUND).await;
}

/// The `cache` engine on `redis`, one of the test's own, with a near-cache TTL no test outlasts.
fn on_private_redis(redis: &PrivateRedis) -> Settings {
    Settings {
        engine: EngineKind::Cache,
        cache_url: redis.url(),
        near_cache_ttl: LONG_TTL,
        ..Settings::new(SECRET)
    }
}

/// How many `HMGET`s the Redis at `port` has answered: the store's fetches (its scripts
/// read with `HGET`).
fn fetches_answered(port: u16) -> u64 {
    calls(port, "hmget")
}

/// How many times the Redis on `port` ran `command`, inside scripts too.
fn calls(port: u16, command: &str) -> u64 {
    let stats = redis_cli(port, &["INFO", "commandstats"]).expect("INFO commandstats");
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_tracked_connection_reads_again_what_it_wrote() {
    // The read that keeps a written key tracked is wasted where nothing tracks it: a save
    // without the near cache reads the version once (to compare), one with it twice.
    let redis = PrivateRedis::start().expect("start a private redis-server");
    let settings = on_private_redis(&redis);
    for (near_cache, reads_per_save) in [(false, 1), (true, 2)] {
        let sessions = Sessions::open(Settings {
            near_cache,
            ..settings.clone()
        })
        .await
        .unwrap();
        let session = sessions.start(None).load().await.unwrap();
        session.insert("n", 0).unwrap();
        let mut cookie = session.save().await.unwrap().expect("a cookie");
        let before = calls(redis.port(), "hget");
        for n in 1..=10 {
            let session = sessions.start(Some(&cookie)).load().await.unwrap();
            assert_eq!(
                session.get::<i64>("n").unwrap(),
                Some(n - 1),
                "{near_cache}"
            );
            session.insert("n", n).unwrap();
            cookie = session.save().await.unwrap().expect("a cookie");
        }
        let reads = calls(redis.port(), "hget") - before;
        assert_eq!(reads, 10 * reads_per_save, "near cache: {near_cache}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_is_not_told_of_its_own_writes_so_they_stay_cached() {
    // Each request reads and writes its session; the write refreshes the cached copy, and
    // Redis must not report it back (which would drop the copy and make every load fetch).
    let redis = PrivateRedis::start().expect("start a private redis-server");
    let settings = on_private_redis(&redis);
    let b = Sessions::open(Settings {
        near_cache: true,
        ..settings.clone()
    })
    .await
    .unwrap();
    // No user: on Redis 7.0 the user index's read in the write script would track the
    // session's key again by itself (a read in a script tracks all of the script's keys).
    let session = b.start(None).load().await.unwrap();
    session.insert("n", -1).unwrap();
    let mut cookie = session.save().await.unwrap().expect("a cookie");
    let before = fetches_answered(redis.port());
    for n in 0..20 {
        let session = b.start(Some(&cookie)).load().await.unwrap();
        session.insert("n", n).unwrap();
        cookie = session.save().await.unwrap().expect("a cookie");
        // Time for a push about the write to arrive, were Redis to send one.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fetches = fetches_answered(redis.port()) - before;
    // One fetch at most: the first load, if the channel was not up when the session was made.
    assert!(fetches <= 1, "{fetches} of 20 loads went to Redis");
    // And its own writes left the key tracked: a change on another instance is reported.
    let a = Sessions::open(settings).await.unwrap();
    let on_a = a.start(Some(&cookie)).load().await.unwrap();
    on_a.insert("n", 100).unwrap();
    on_a.save().await.unwrap();
    let start = Instant::now();
    loop {
        let on_b = b.start(Some(&cookie)).load().await.unwrap();
        if on_b.get::<i64>("n").unwrap() == Some(100) {
            break;
        }
        assert!(
            start.elapsed() < CHANNEL_BOUND,
            "B still served its copy after {CHANNEL_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_of_many_sessions_at_once_are_never_lost_on_a_near_cached_redis() {
    // Invalidations of the other sessions skip the cache's fills: a skipped fill must not
    // leave the copy from before the write to be served.
    let prefix = format!("sk_near_{}:", unique());
    let sessions = Sessions::open(Settings {
        engine: EngineKind::Cache,
        cache_url: REDIS_URL.to_owned(),
        cache_key_prefix: prefix.clone(),
        near_cache: true,
        near_cache_ttl: LONG_TTL,
        ..Settings::new(SECRET)
    })
    .await
    .unwrap();
    let clients = (0..8).map(|_| {
        let sessions = sessions.clone();
        tokio::spawn(async move {
            let mut cookie = session_on(&sessions).await;
            for _ in 0..200 {
                let session = sessions.start(Some(&cookie)).load().await.unwrap();
                let n: i64 = session.get("n").unwrap().unwrap_or(0);
                session.insert("n", n + 1).unwrap();
                cookie = session.save().await.unwrap().expect("a cookie");
            }
            let session = sessions.start(Some(&cookie)).load().await.unwrap();
            session.get::<i64>("n").unwrap()
        })
    });
    for client in clients.collect::<Vec<_>>() {
        assert_eq!(client.await.unwrap(), Some(200));
    }
    delete_redis_keys(&prefix).await;
}
