//! Bringing your own client: a Redis connection the application already uses for its own keys
//! also carries its sessions (`RedisStore::with_connection`), against the real Redis
//! (docs/DESIGN.md §9), under a prefix of the test's own.

#[path = "common/mod.rs"]
mod common;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sessionkit::Sessions;
use sessionkit::engine::{RedisStore, SessionKey};

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
