//! B. Persistence and keys (items 10–17): what a save stores, what `flush` and `cycle_key`
//! leave behind, what a key looks like, and that no save overwrites or resurrects a record.

use std::collections::HashSet;

use serde_json::json;
use time::OffsetDateTime;

use super::{Harness, flags, logs, object};
use crate::SessionError;
use crate::engine::{Data, EngineError, SessionKey};

/// Item 13: Data is still readable after save, in the same session and in the next request; an
/// update keeps a server session's key.
pub async fn saved_data_is_readable_before_and_after_reloading(h: &Harness) {
    let session = h.fresh().await;
    session.insert("user_id", 42).unwrap();
    session
        .insert("cart", json!([{"sku": "A1", "qty": 2}]))
        .unwrap();
    let cookie = h.save(&session).await;
    assert!(!session.modified(), "a save leaves nothing unsaved");
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));

    let next = h.reload(&cookie).await;
    assert_eq!(next.get::<i64>("user_id").unwrap(), Some(42));
    assert_eq!(
        next.get_value("cart"),
        Some(json!([{"sku": "A1", "qty": 2}]))
    );

    next.insert("user_id", 43).unwrap();
    let updated = h.save(&next).await;
    assert_eq!(
        h.reload(&updated).await.get::<i64>("user_id").unwrap(),
        Some(43)
    );
    if h.server_side() {
        assert_eq!(updated, cookie, "an update keeps the key");
    }
}

/// Item 13: A new session left empty (untouched, or emptied again) stores nothing.
pub async fn an_empty_new_session_is_not_saved(h: &Harness) {
    let session = h.fresh().await;
    assert_eq!(session.save().await.unwrap(), None);

    let session = h.fresh().await;
    session.insert("k", 1).unwrap();
    session.remove("k");
    assert!(session.modified());
    assert_eq!(session.save().await.unwrap(), None);
}

/// Item 10: After save, `exists`; never for a value that was not issued.
pub async fn exists_is_true_only_for_a_saved_session(h: &Harness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    assert!(h.engine().exists(&cookie).await.unwrap());
    let never_issued = SessionKey::generate();
    assert!(!h.engine().exists(never_issued.as_str()).await.unwrap());
    assert!(!h.engine().exists("").await.unwrap());
}

/// Item 11: `flush()`: key None, data empty, modified, nothing to save; a later write starts a new
/// session without the old data.
pub async fn flush_empties_the_session_and_a_later_write_starts_a_new_one(h: &Harness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let session = h.reload(&cookie).await;
    session.flush();
    assert!(session.is_empty());
    assert!(session.modified());
    assert_eq!(session.session_key(), None);
    assert!(session.keys().is_empty());
    assert_eq!(session.save().await.unwrap(), None);

    session.insert("cart", json!([7])).unwrap();
    let new_cookie = h.save(&session).await;
    assert_ne!(new_cookie, cookie);
    let next = h.reload(&new_cookie).await;
    assert_eq!(next.get_value("cart"), Some(json!([7])));
    assert!(!next.contains_key("user_id"));
}

/// Item 12: `cycle_key()` on a session whose data was not read yet: the data is unchanged under
/// the cookie the next save issues.
pub async fn cycle_key_keeps_the_data_it_has_not_loaded_yet(h: &Harness) {
    let in_order = Data::from_json(r#"{"user_id": 42, "cart": [1]}"#).unwrap();
    let cookie = h.saved_data(in_order).await;
    let session = h.reload(&cookie).await;
    assert_eq!(flags(&session), (false, false));
    session.cycle_key();
    assert!(session.modified());
    let new_cookie = h.save(&session).await;
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));

    let next = h.reload(&new_cookie).await;
    assert_eq!(next.keys(), ["user_id", "cart"]);
    assert_eq!(next.get_value("cart"), Some(json!([1])));
}

/// Item 17: Creating records never overwrites one: every create gets its own cookie and every
/// record keeps its own data.
pub async fn creating_sessions_never_overwrites_another(h: &Harness) {
    let now = OffsetDateTime::now_utc();
    let mut cookies = Vec::new();
    for n in 0..50 {
        cookies.push(h.store(&object(json!({"n": n})), now).await);
    }
    assert_eq!(cookies.iter().collect::<HashSet<_>>().len(), cookies.len());
    for (n, cookie) in cookies.iter().enumerate() {
        let loaded = h.engine().load(cookie).await.unwrap().expect("stored");
        assert_eq!(loaded.data["n"], json!(n), "record {n}");
    }
}

/// Item 10: After `delete(key)` the record is gone; deleting again, or deleting what never
/// existed, is fine.
pub async fn delete_removes_the_record(h: &Harness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let other = h.saved(json!({"user_id": 7})).await;
    h.engine().delete(&cookie).await.unwrap();
    assert!(!h.engine().exists(&cookie).await.unwrap());
    assert!(h.reload(&cookie).await.is_empty());
    assert!(h.engine().exists(&other).await.unwrap(), "only that record");

    h.engine().delete(&cookie).await.unwrap();
    h.engine()
        .delete(SessionKey::generate().as_str())
        .await
        .unwrap();
    h.engine().delete("../not a key").await.unwrap();
}

/// Item 11: `flush()` deletes the old record: its key no longer exists.
pub async fn flush_deletes_the_old_record(h: &Harness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let session = h.reload(&cookie).await;
    session.flush();
    session.save().await.unwrap();
    assert!(!h.engine().exists(&cookie).await.unwrap());
    assert!(h.reload(&cookie).await.is_empty());
}

/// Item 12: `cycle_key()`: a new key, the old record gone, the new one holding the data.
pub async fn cycle_key_replaces_the_key_and_deletes_the_old_record(h: &Harness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let session = h.reload(&cookie).await;
    session.cycle_key();
    let new_cookie = h.save(&session).await;
    assert_ne!(new_cookie, cookie);
    assert!(!h.engine().exists(&cookie).await.unwrap());
    assert!(h.engine().exists(&new_cookie).await.unwrap());
    assert_eq!(
        session.session_key().map(|k| k.as_str().to_owned()),
        Some(new_cookie.clone())
    );
    assert_eq!(
        h.reload(&new_cookie).await.get::<i64>("user_id").unwrap(),
        Some(42)
    );
}

/// Item 14: Keys are 32 characters from `[a-z0-9]`, all different.
pub async fn session_keys_are_32_lowercase_alphanumerics(h: &Harness) {
    let mut keys = HashSet::new();
    for n in 0..20 {
        let session = h.fresh().await;
        session.insert("n", n).unwrap();
        let cookie = h.save(&session).await;
        assert_eq!(cookie.len(), 32, "{cookie}");
        assert!(
            cookie
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{cookie}"
        );
        assert_eq!(
            session.session_key().map(|k| k.as_str().to_owned()),
            Some(cookie.clone())
        );
        keys.insert(cookie);
    }
    assert_eq!(keys.len(), 20);
    let all: String = keys.into_iter().collect();
    assert!(all.bytes().any(|b| b.is_ascii_digit()), "no digit in {all}");
    assert!(all.bytes().any(|b| b.is_ascii_lowercase()), "no letter");
}

/// Item 14: "", "1" and 7-character values are no key; an 8-character value is a valid-looking
/// (unknown) key.
pub async fn values_shorter_than_8_characters_are_not_keys(h: &Harness) {
    for value in ["", "1", "abcdefg", "1234567"] {
        assert!(!h.engine().accepts(value), "{value:?}");
        assert!(SessionKey::parse(value).is_none(), "{value:?}");
        h.assert_no_session(value, &format!("{value:?}"), !value.is_empty())
            .await;
    }
    let eight = "abcdefgh";
    assert!(h.engine().accepts(eight));
    assert!(SessionKey::parse(eight).is_some());
    assert_eq!(h.engine().load(eight).await.unwrap(), None);
}

/// Item 14: Keys are never shown in clear: not by `Debug`/`Display`, not in the logs.
pub async fn session_keys_never_appear_in_debug_output_or_logs(h: &Harness) {
    logs::take();
    let session = h.fresh().await;
    session.insert("user_id", 42).unwrap();
    let cookie = h.save(&session).await;
    let key = session.session_key().expect("a saved session has a key");
    assert_eq!(key.as_str(), cookie);

    let loaded = h.reload(&cookie).await;
    let shown = [
        format!("{key:?}"),
        format!("{key}"),
        format!("{session:?}"),
        format!("{loaded:?}"),
        format!("{:?}", h.sessions.start(Some(&cookie))),
        format!("{:?}", h.sessions),
    ];
    for text in &shown {
        assert!(!text.contains(&cookie), "key shown in {text}");
    }

    loaded.cycle_key();
    let cycled = h.save(&loaded).await;
    loaded.flush();
    loaded.save().await.unwrap();
    let stale = h.reload(&cycled).await;
    assert!(stale.is_empty());
    for line in logs::take() {
        assert!(
            !line.contains(&cookie) && !line.contains(&cycled),
            "key logged: {line}"
        );
    }
}

/// Item 15: Strict mode: loading an unknown key creates no record and does not adopt the key; the
/// next save mints a new one.
pub async fn an_unknown_key_is_not_adopted(h: &Harness) {
    let unknown = SessionKey::generate();
    let unknown = unknown.as_str();
    let session = h.reload(unknown).await;
    assert!(session.is_empty());
    assert_eq!(session.session_key(), None);
    assert!(
        !h.engine().exists(unknown).await.unwrap(),
        "no record on load"
    );

    session.insert("user_id", 42).unwrap();
    let cookie = h.save(&session).await;
    assert_ne!(cookie, unknown);
    assert!(!h.engine().exists(unknown).await.unwrap());
    assert!(h.engine().exists(&cookie).await.unwrap());
}

/// Item 16: No resurrection: A loads, B logs out (flush + save deletes the record), A modifies and
/// saves → `Interrupted`, and the key stays dead.
pub async fn a_session_deleted_meanwhile_is_not_brought_back(h: &Harness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let a = h.reload(&cookie).await;
    let b = h.reload(&cookie).await;
    assert_eq!(a.get::<i64>("user_id").unwrap(), Some(42));

    b.flush();
    assert_eq!(b.save().await.unwrap(), None);
    assert!(!h.engine().exists(&cookie).await.unwrap());

    a.insert("cart", json!([1])).unwrap();
    match a.save().await {
        Err(SessionError::Interrupted) => {}
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert!(!h.engine().exists(&cookie).await.unwrap());
    let after = h.reload(&cookie).await;
    assert!(after.is_empty());
    assert!(after.keys().is_empty());
}

/// Item 16 and DESIGN §7: Two requests loaded from one cookie change different keys: both changes
/// survive (per-key merge on a version conflict); a key both set ends with the last save.
pub async fn concurrent_changes_to_different_keys_are_merged(h: &Harness) {
    let cookie = h.saved(json!({"keep": 1, "drop": 2, "both": 0})).await;
    let a = h.reload(&cookie).await;
    let b = h.reload(&cookie).await;
    a.insert("from_a", "a").unwrap();
    a.insert("both", "a").unwrap();
    b.insert("from_b", "b").unwrap();
    b.insert("both", "b").unwrap();
    b.remove("drop");
    assert_eq!(h.save(&a).await, cookie);
    assert_eq!(h.save(&b).await, cookie);

    let merged = h.reload(&cookie).await;
    assert_eq!(merged.get_value("keep"), Some(json!(1)));
    assert_eq!(merged.get_value("from_a"), Some(json!("a")));
    assert_eq!(merged.get_value("from_b"), Some(json!("b")));
    assert_eq!(merged.get_value("both"), Some(json!("b")));
    assert!(!merged.contains_key("drop"));
}

/// Server engines index `_auth_user_id`: a user's sessions are listed (marking the current
/// one) and "log out my other sessions" ends all but the current one, and no one else's. A
/// store without [`Capabilities::by_user`](crate::engine::Capabilities) must refuse instead.
pub async fn a_users_sessions_are_listed_and_the_others_can_be_ended(h: &Harness) {
    if !h.engine().capabilities().by_user {
        return listing_a_users_sessions_is_unsupported(h).await;
    }
    let mut mine = Vec::new();
    for device in ["phone", "laptop", "tablet"] {
        mine.push(
            h.saved(json!({"_auth_user_id": "7", "device": device}))
                .await,
        );
    }
    let numeric = h
        .saved(json!({"_auth_user_id": 7, "device": "old app"}))
        .await;
    let someone_else = h.saved(json!({"_auth_user_id": "8"})).await;
    let anonymous = h.saved(json!({"cart": [1]})).await;

    let listed = h.engine().user_sessions("7", Some(&mine[1])).await.unwrap();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
    assert!(listed[0].current, "the current session comes first");
    assert_eq!(listed[0].data["device"], json!("laptop"));
    for session in &listed {
        assert_eq!(session.id.len(), 16);
        assert!(mine.iter().all(|cookie| !cookie.contains(&session.id)));
    }

    let ended = h.engine().delete_user_sessions("7", Some(&mine[1])).await;
    assert_eq!(ended.unwrap(), 3);
    assert!(h.engine().exists(&mine[1]).await.unwrap());
    for gone in [&mine[0], &mine[2], &numeric] {
        assert!(!h.engine().exists(gone).await.unwrap());
    }
    for kept in [&someone_else, &anonymous] {
        assert!(h.engine().exists(kept).await.unwrap());
    }
    let left = h.engine().user_sessions("7", None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(!left[0].current);
}

/// An engine that cannot list a user's sessions — cookie sessions live only in browsers; a
/// store may have no index by user — says so instead of pretending.
pub async fn listing_a_users_sessions_is_unsupported(h: &Harness) {
    h.saved(json!({"_auth_user_id": "7"})).await;
    let listed = h.engine().user_sessions("7", None).await;
    assert!(
        matches!(listed, Err(EngineError::Unsupported { .. })),
        "{listed:?}"
    );
    let ended = h.engine().delete_user_sessions("7", None).await;
    assert!(
        matches!(ended, Err(EngineError::Unsupported { .. })),
        "{ended:?}"
    );
}
