//! C. Expiry (items 21 and 43) where it depends on the engine: a signed cookie is judged by
//! today's SESSION_COOKIE_AGE; Redis expires records by TTL. The checks that apply to every
//! store are `sessionkit::testing::expiry`.

use serde_json::json;
use sessionkit::Expiry;
use sessionkit::engine::SessionKey;
use sessionkit::testing::{load, object};
use time::{Duration, OffsetDateTime};

use crate::harness::{EngineHarness, Setup, redis_connection};
use crate::redis_setups::keys_with_ttl;

/// Item 21 (signed cookies): the signed timestamp is judged against SESSION_COOKIE_AGE as
/// configured when the cookie comes back, so shortening the setting ends older cookies.
pub async fn a_cookie_older_than_the_current_cookie_age_is_not_loaded(h: &EngineHarness) {
    let data = object(json!({"user_id": 42}));
    let cookie = h
        .store(&data, OffsetDateTime::now_utc() - Duration::seconds(200))
        .await;
    let shorter = h.with_settings(|s| s.cookie_age = 100).await;
    assert!(load(&shorter, Some(&cookie)).await.is_empty());
    let longer = h.with_settings(|s| s.cookie_age = 300).await;
    assert_eq!(load(&longer, Some(&cookie)).await.to_map(), data);
}

/// Item 43: Redis holds each session with a TTL (so it evicts on its own), under the
/// configured prefix and a hash of the key, never the key itself.
pub async fn redis_keys_are_prefixed_hashed_and_expire_by_ttl(h: &EngineHarness) {
    let session = h.fresh().await;
    session.insert("n", 1).unwrap();
    session.set_expiry(Expiry::After(Duration::seconds(100)));
    let cookie = h.save(&session).await;
    let prefix = &h.settings.cache_key_prefix;
    let hashed = SessionKey::parse(&cookie).unwrap().hashed();
    let keys_with_ttl = match Setup::of(&h.settings.cache_url) {
        Some(setup) => setup.keys_with_ttl(&format!("{prefix}*")).await,
        None => keys_with_ttl(&mut redis_connection().await, &format!("{prefix}*")).await,
    };
    // On a cluster the hash is the key's hash tag, so the session's keys share its slot.
    let expected = match Setup::of(&h.settings.cache_url) {
        Some(Setup::Cluster) => format!("{prefix}{{{hashed}}}"),
        _ => format!("{prefix}{hashed}"),
    };
    let keys: Vec<&String> = keys_with_ttl.iter().map(|(key, _)| key).collect();
    assert_eq!(keys, [&expected]);
    let ttl = keys_with_ttl[0].1;
    assert!((95..=100).contains(&ttl), "TTL {ttl}");

    let gone = h.fresh().await;
    gone.insert("n", 2).unwrap();
    gone.set_expiry(Expiry::After(Duration::seconds(-5)));
    let gone = h.save(&gone).await;
    assert!(
        !h.engine().exists(&gone).await.unwrap(),
        "Redis dropped it at once"
    );
    assert_eq!(
        h.engine().clear_expired(100).await.unwrap(),
        0,
        "nothing to sweep"
    );
}
