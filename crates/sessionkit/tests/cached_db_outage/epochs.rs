//! The rules of [`Cache`] that `cached_db` relies on (epochs and fences), on the memory cache
//! and on a private Redis, and a Redis that lost its epoch.

use std::sync::Arc;
use std::time::Duration;

use sessionkit::engine::cache::DELETED;
use sessionkit::engine::{Cache, Data, JsonText, Loaded, MemoryStore, RedisStore, SessionKey};
use sessionkit::{EngineKind, Settings};
use sessionkit_testkit::PrivateRedis;
use time::OffsetDateTime;

use super::SECRET;

/// The rules of [`Cache`], which `cached_db` relies on, checked on `cache`.
async fn epochs_and_fences_hold(cache: &dyn Cache) {
    let record = |n: i64| Loaded {
        data: Arc::new(Data::from_iter([("n", JsonText::from(n))])),
        version: n,
    };
    let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let fence_ttl = Duration::from_secs(30);
    let id = SessionKey::generate().hashed();
    let epoch = cache.new_epoch().await.unwrap(); // what cached_db does first
    assert_eq!(
        cache.read_current(&id).await.unwrap().epoch,
        epoch,
        "stable"
    );

    assert!(
        cache
            .write_if_newer(&id, &record(2), expires, epoch)
            .await
            .unwrap()
    );
    assert!(
        cache
            .write_if_newer(&id, &record(2), expires, epoch)
            .await
            .unwrap(),
        "same"
    );
    assert!(
        !cache
            .write_if_newer(&id, &record(1), expires, epoch)
            .await
            .unwrap(),
        "older"
    );
    assert!(
        cache
            .write_if_newer(&id, &record(3), expires, epoch)
            .await
            .unwrap()
    );
    assert_eq!(
        cache.read_current(&id).await.unwrap().record,
        Some(record(3))
    );

    cache.fence(&id, 2, fence_ttl).await.unwrap(); // the entry is newer: it stays
    assert_eq!(
        cache.read_current(&id).await.unwrap().record,
        Some(record(3))
    );
    cache.fence(&id, 3, fence_ttl).await.unwrap(); // known stale: dropped and fenced
    assert_eq!(cache.read_current(&id).await.unwrap().record, None);
    assert!(
        !cache
            .write_if_newer(&id, &record(3), expires, epoch)
            .await
            .unwrap()
    );
    assert!(
        cache
            .write_if_newer(&id, &record(4), expires, epoch)
            .await
            .unwrap()
    );

    cache.fence(&id, DELETED, fence_ttl).await.unwrap();
    cache.fence(&id, 5, fence_ttl).await.unwrap(); // does not lower the delete's fence
    assert!(
        !cache
            .write_if_newer(&id, &record(6), expires, epoch)
            .await
            .unwrap()
    );
    assert_eq!(cache.read_current(&id).await.unwrap().record, None);

    let other = SessionKey::generate().hashed();
    assert!(
        cache
            .write_if_newer(&other, &record(1), expires, epoch)
            .await
            .unwrap()
    );
    let next = cache.new_epoch().await.unwrap();
    assert_ne!(next, epoch);
    let read = cache.read_current(&other).await.unwrap();
    assert_eq!(
        (read.record, read.epoch),
        (None, next),
        "disowned by the new epoch"
    );
    assert!(
        !cache
            .write_if_newer(&other, &record(1), expires, epoch)
            .await
            .unwrap(),
        "late"
    );
    assert!(
        cache
            .write_if_newer(&other, &record(1), expires, next)
            .await
            .unwrap()
    );
    assert_eq!(
        cache.read_current(&other).await.unwrap().record,
        Some(record(1))
    );
}

#[tokio::test]
async fn the_memory_cache_keeps_epochs_and_fences() {
    epochs_and_fences_hold(&MemoryStore::new(100)).await;
}

#[tokio::test]
async fn the_redis_cache_keeps_epochs_and_fences() {
    let redis = PrivateRedis::start().expect("start a private redis-server");
    let settings = Settings {
        engine: EngineKind::CachedDb,
        cache_url: redis.url(),
        ..Settings::new(SECRET)
    };
    epochs_and_fences_hold(&RedisStore::connect(&settings).await.unwrap()).await;
}

#[tokio::test]
async fn a_redis_that_lost_its_epoch_is_not_trusted_and_never_serves_older_entries() {
    let redis = PrivateRedis::start().expect("start a private redis-server");
    let settings = Settings {
        engine: EngineKind::CachedDb,
        cache_url: redis.url(),
        ..Settings::new(SECRET)
    };
    let cache = RedisStore::connect(&settings).await.unwrap();
    let id = SessionKey::generate().hashed();
    assert!(cache.read_current(&id).await.is_err(), "no epoch yet");
    let record = Loaded {
        data: Arc::new(Data::new()),
        version: 1,
    };
    let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let first = cache.new_epoch().await.unwrap();
    assert!(
        cache
            .write_if_newer(&id, &record, expires, first)
            .await
            .unwrap()
    );
    cache.new_epoch().await.unwrap(); // disowns the entry…
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("DEL") // …and the epoch is lost (evicted, say)
        .arg(format!("{}epoch", settings.cache_key_prefix))
        .query_async::<()>(&mut connection)
        .await
        .unwrap();

    assert!(cache.read_current(&id).await.is_err(), "a failure: probe");
    let fresh = cache.new_epoch().await.unwrap();
    assert_ne!(fresh, first, "a fresh epoch, never the first one again");
    let read = cache.read_current(&id).await.unwrap();
    assert_eq!((read.epoch, read.record), (fresh, None));
}
