//! Bringing your own client: a Redis connection the application already uses for its own keys
//! also carries its sessions (`RedisStore::with_connection`), against the real Redis
//! (docs/DESIGN.md §9), under a prefix of the test's own; and a Redis Cluster connection
//! (`RedisStore::with_cluster_connection`), on the private cluster of this test process.

#[path = "common/mod.rs"]
mod common;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::cluster::ClusterClient;
use sessionkit::Sessions;
use sessionkit::engine::{RedisStore, SessionKey};
use sessionkit_testkit::RedisCluster;

use common::{REDIS_URL, delete_redis_keys};

#[tokio::test]
async fn one_redis_connection_serves_the_apps_own_keys_and_its_sessions() {
    let prefix = format!("sk_own_client_{}:", SessionKey::generate().as_str());
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut connection = ConnectionManager::new(client)
        .await
        .expect("Redis is running");
    let app_key = format!("{prefix}app:greeting");
    let () = connection.set(&app_key, "hello").await.unwrap();

    let store = RedisStore::with_connection(connection.clone(), prefix.clone());
    let sessions = Sessions::builder("secret")
        .store(store)
        .open()
        .await
        .unwrap();
    let session = sessions.start(None).load().await.unwrap();
    session.insert("user_id", 7).unwrap();
    let cookie = session.save().await.unwrap().expect("a new session");

    let reloaded = sessions.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(reloaded.get::<i64>("user_id").unwrap(), Some(7));
    let hashed = SessionKey::parse(&cookie).unwrap().hashed();
    let exists: bool = connection
        .exists(format!("{prefix}{hashed}"))
        .await
        .unwrap();
    assert!(
        exists,
        "the session is in Redis under the prefix, by the hash of its key"
    );
    let greeting: String = connection.get(&app_key).await.unwrap();
    assert_eq!(greeting, "hello", "the app's own key is untouched");

    delete_redis_keys(&prefix).await;
}

#[tokio::test]
async fn one_cluster_connection_serves_the_apps_own_keys_and_its_sessions() {
    let prefix = format!("sk_own_cluster_{}:", SessionKey::generate().as_str());
    let nodes: Vec<String> = RedisCluster::shared()
        .ports()
        .map(|port| format!("redis://127.0.0.1:{port}"))
        .collect();
    let mut connection = ClusterClient::new(nodes)
        .unwrap()
        .get_async_connection()
        .await
        .expect("the private cluster is up");
    let app_key = format!("{prefix}app:greeting");
    let () = connection.set(&app_key, "hello").await.unwrap();

    let store = RedisStore::with_cluster_connection(connection.clone(), prefix.clone());
    let sessions = Sessions::builder("secret")
        .store(store)
        .open()
        .await
        .unwrap();
    let mut cookies = Vec::new();
    for _ in 0..3 {
        let session = sessions.start(None).load().await.unwrap();
        session.insert("_auth_user_id", "7").unwrap();
        cookies.push(session.save().await.unwrap().expect("a new session"));
    }
    let reloaded = sessions.start(Some(&cookies[0])).load().await.unwrap();
    assert_eq!(
        reloaded.get::<String>("_auth_user_id").unwrap().as_deref(),
        Some("7")
    );

    // On a cluster each session's key carries its hash tag, so its operations stay in one slot.
    let hashed = SessionKey::parse(&cookies[0]).unwrap().hashed();
    let exists: bool = connection
        .exists(format!("{prefix}{{{hashed}}}"))
        .await
        .unwrap();
    assert!(
        exists,
        "the session is under the prefix, hash-tagged by the hash of its key"
    );
    // The user index (in the user's slot) finds all three; ending the others keeps one.
    let engine = sessions.engine();
    assert_eq!(engine.user_sessions("7", None).await.unwrap().len(), 3);
    assert_eq!(
        engine
            .delete_user_sessions("7", Some(&cookies[0]))
            .await
            .unwrap(),
        2
    );
    assert!(engine.exists(&cookies[0]).await.unwrap());
    assert!(!engine.exists(&cookies[1]).await.unwrap());
    let greeting: String = connection.get(&app_key).await.unwrap();
    assert_eq!(greeting, "hello", "the app's own key is untouched");
    let () = connection.del(&app_key).await.unwrap();
}
