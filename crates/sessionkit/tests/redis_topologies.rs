//! The Redis engine on a Redis Cluster and a Sentinel setup, beyond the conformance suite
//! (which runs on both): what the deployment itself changes. A master killed (SIGKILL) under
//! the engine, which carries on without a restart and, with `SESSION_REDIS_WAIT_REPLICAS`,
//! loses nothing it acknowledged; too few replicas is an error, never a silent success; the
//! user index, written apart from the session on a cluster, drops entries that name no
//! session of the user.
//!
//! Each test that kills a node starts a private setup of its own (testkit, spare ports, a
//! temporary directory) and stops it; the others share the process's setups.

#[path = "common/redis_setups.rs"]
mod redis_setups;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_setups::Setup;
use serde_json::json;
use sessionkit::engine::{self, ChangeSet, Data, Engine, EngineError, SaveRequest, SessionKey};
use sessionkit::{EngineKind, Settings};
use sessionkit_testkit::{RedisCluster, RedisSentinel, redis_cli};
use time::OffsetDateTime;

const SECRET: &str = "redis-topologies-secret";

/// How long a failover may take here: the node timeout plus an election, on a busy machine.
const FAILOVER_PATIENCE: Duration = Duration::from_secs(60);

async fn open(url: String, wait_replicas: u32) -> Arc<dyn Engine> {
    let settings = Settings {
        engine: EngineKind::Cache,
        cache_url: url,
        cache_key_prefix: format!("sk_topo_{}:", &SessionKey::generate().as_str()[..12]),
        redis_wait_replicas: wait_replicas,
        store_timeout: Duration::from_secs(2),
        ..Settings::new(SECRET)
    };
    engine::open(&settings).await.expect("open the engine")
}

/// Saves a new session holding `value`; its cookie.
async fn save(engine: &dyn Engine, value: serde_json::Value) -> Result<String, EngineError> {
    let data = Arc::new(Data::try_from(value).expect("an object"));
    let saved = engine
        .save(SaveRequest {
            previous: None,
            data: &data,
            changes: &ChangeSet::default(),
            now: OffsetDateTime::now_utc(),
            cookie_age: 3600,
        })
        .await?;
    Ok(saved.cookie_value)
}

/// Retries `operation` while the store is unavailable, for at most [`FAILOVER_PATIENCE`];
/// its answer and how long it took.
async fn retry<T, F>(mut operation: impl FnMut() -> F) -> (T, Duration)
where
    F: Future<Output = Result<T, EngineError>>,
{
    let start = Instant::now();
    loop {
        match operation().await {
            Ok(answer) => return (answer, start.elapsed()),
            Err(EngineError::Unavailable(_)) if start.elapsed() < FAILOVER_PATIENCE => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the store did not come back: {error}"),
        }
    }
}

/// Saves 30 sessions, each holding its number, and returns their cookies.
async fn thirty_sessions(engine: &dyn Engine) -> Vec<String> {
    thirty_sessions_checked(engine).await.expect("save")
}

/// Whether every session of `cookies` loads with its number; panics on one lost.
async fn all_there(engine: &dyn Engine, cookies: &[String]) -> Result<(), EngineError> {
    for (n, cookie) in cookies.iter().enumerate() {
        let loaded = engine
            .load(cookie)
            .await?
            .expect("an acknowledged save was lost");
        assert_eq!(*loaded.data, Data::try_from(json!({ "n": n })).unwrap());
    }
    Ok(())
}

/// A save, for [`retry`].
async fn a_save(engine: &dyn Engine) -> Result<String, EngineError> {
    save(engine, json!({"after": "failover"})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_master_killed_loses_no_save_acknowledged_with_wait() {
    let mut cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap()
        .expect("start a private cluster");
    let engine = open(cluster.url(), 1).await;
    let cookies = thirty_sessions(engine.as_ref()).await;
    let victim = cluster.masters().expect("the masters")[0];
    cluster.kill(victim).expect("kill a master");
    // 30 sessions over 3 masters: the killed one held some of them (nearly surely); they
    // come back from its replica once the cluster has promoted it.
    let ((), outage) = retry(|| all_there(engine.as_ref(), &cookies)).await;
    eprintln!("reads failed for {outage:?} after master {victim} was killed");
    let masters = cluster.masters().expect("the masters");
    assert!(
        !masters.contains(&victim) && masters.len() == 3,
        "{masters:?}"
    );
    // The promoted master has no replica until the killed node is back as one: saves to its
    // slots wait in vain and fail, then succeed again.
    let cluster = tokio::task::spawn_blocking(move || cluster.restart(victim).map(|()| cluster))
        .await
        .unwrap()
        .expect("restart the killed node");
    let more = retry(|| thirty_sessions_checked(engine.as_ref())).await.0;
    assert_eq!(more.len(), 30);
    tokio::task::spawn_blocking(move || cluster.wait_until_healthy())
        .await
        .unwrap()
        .expect("the cluster heals");
}

/// [`thirty_sessions`], failing (for [`retry`]) rather than panicking while the store is out.
async fn thirty_sessions_checked(engine: &dyn Engine) -> Result<Vec<String>, EngineError> {
    let mut cookies = Vec::new();
    for n in 0..30 {
        cookies.push(save(engine, json!({ "n": n })).await?);
    }
    Ok(cookies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_follows_a_sentinel_failover_without_a_restart() {
    let mut setup = tokio::task::spawn_blocking(RedisSentinel::start)
        .await
        .unwrap()
        .expect("start a private Sentinel setup");
    let engine = open(setup.url(), 1).await;
    let cookies = thirty_sessions(engine.as_ref()).await;
    let master = setup.master().expect("the master");
    setup.kill(master).expect("kill the master");
    let ((), outage) = retry(|| all_there(engine.as_ref(), &cookies)).await;
    eprintln!("reads failed for {outage:?} after master {master} was killed");
    assert_ne!(setup.master().expect("the new master"), master);
    // Alone, the new master cannot satisfy SESSION_REDIS_WAIT_REPLICAS=1: a 503, not a
    // success a second failover could undo.
    let error = a_save(engine.as_ref()).await.unwrap_err();
    assert!(error.to_string().contains("replicas"), "{error}");
    // The old master, restarted, is made a replica of the new one by the sentinels.
    let _setup = tokio::task::spawn_blocking(move || setup.restart(master).map(|()| setup))
        .await
        .unwrap()
        .expect("restart the old master");
    let (_, outage) = retry(|| a_save(engine.as_ref())).await;
    eprintln!("saves with WAIT 1 came back {outage:?} after the old master restarted");
    all_there(engine.as_ref(), &cookies).await.unwrap();
}

#[tokio::test]
async fn too_few_replicas_is_an_error_not_a_silent_success() {
    // One replica per master: two can never answer.
    let url = tokio::task::spawn_blocking(|| Setup::Cluster.url())
        .await
        .unwrap();
    let engine = open(url, 2).await;
    let error = save(engine.as_ref(), json!({"n": 1})).await.unwrap_err();
    assert!(matches!(error, EngineError::Unavailable(_)), "{error}");
    assert!(error.to_string().contains("replicas"), "{error}");
    let enough = open(Setup::Cluster.url(), 1).await;
    save(enough.as_ref(), json!({"n": 1}))
        .await
        .expect("one replica answers");
}

#[tokio::test]
async fn on_a_cluster_index_entries_without_their_session_are_dropped() {
    let url = tokio::task::spawn_blocking(|| Setup::Cluster.url())
        .await
        .unwrap();
    let settings_prefix;
    let engine = {
        let prefix = format!("sk_topo_{}:", &SessionKey::generate().as_str()[..12]);
        settings_prefix = prefix.clone();
        let settings = Settings {
            engine: EngineKind::Cache,
            cache_url: url,
            cache_key_prefix: prefix,
            ..Settings::new(SECRET)
        };
        engine::open(&settings).await.expect("open the engine")
    };
    let kept = save(engine.as_ref(), json!({"_auth_user_id": "7"}))
        .await
        .unwrap();
    save(engine.as_ref(), json!({"_auth_user_id": "7"}))
        .await
        .unwrap();
    // What a crash between the index write and the session write leaves: an entry naming a
    // session that was never written.
    let index = format!("{settings_prefix}user:{{7}}");
    let stale = SessionKey::generate().hashed();
    let port = RedisCluster::shared().masters().unwrap()[0];
    redis_cli(port, &["-c", "sadd", &index, &stale]).expect("SADD");
    let listed = engine.user_sessions("7", Some(&kept)).await.unwrap();
    assert_eq!(listed.len(), 2, "the stale entry is not listed");
    let members = redis_cli(port, &["-c", "smembers", &index]).expect("SMEMBERS");
    assert!(!members.contains(&stale), "and is dropped: {members}");
    assert_eq!(
        engine.delete_user_sessions("7", Some(&kept)).await.unwrap(),
        1
    );
    assert!(engine.load(&kept).await.unwrap().is_some());
}
