//! A. Dict API and flags (items 1–9): Django's `SessionBase` dict methods and the `accessed` /
//! `modified` flags the middleware decides by.

use serde_json::json;

use super::{Harness, flags};
use crate::engine::Data;
use crate::{Session, SessionError};

/// Item 1: A new session: `accessed == false`, `modified == false`, `is_empty()`; a session loaded
/// from a cookie starts untouched too.
pub async fn a_new_session_is_empty_and_untouched(h: &Harness) {
    let session = h.fresh().await;
    assert!(session.is_empty());
    assert_eq!(flags(&session), (false, false), "is_empty sets no flag");
    assert_eq!(session.session_key(), None);

    let cookie = h.saved(json!({"user_id": 42})).await;
    let loaded = h.reload(&cookie).await;
    assert!(!loaded.is_empty());
    assert_eq!(flags(&loaded), (false, false), "loading sets no flag");
}

/// Item 2: `get` of a missing key → None; sets accessed, not modified.
pub async fn getting_a_missing_key_gives_none_and_marks_only_accessed(h: &Harness) {
    let session = h.fresh().await;
    assert_eq!(session.get::<i64>("missing").unwrap(), None);
    assert_eq!(flags(&session), (true, false));

    let session = h.fresh().await;
    assert_eq!(session.get_value("missing"), None);
    assert_eq!(flags(&session), (true, false));
}

/// Item 3: `insert` sets accessed and modified.
pub async fn insert_marks_accessed_and_modified(h: &Harness) {
    let session = h.fresh().await;
    session.insert("user_id", 42).unwrap();
    assert_eq!(flags(&session), (true, true));
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(42));
    assert!(!session.is_empty());
}

/// Item 3: `pop` of an existing key returns it, sets accessed and modified, and the key is gone.
pub async fn pop_of_a_present_key_returns_it_and_removes_it(h: &Harness) {
    let cookie = h.saved(json!({"cart": [1, 2], "theme": "dark"})).await;
    let session = h.reload(&cookie).await;
    assert_eq!(session.pop::<Vec<i64>>("cart").unwrap(), Some(vec![1, 2]));
    assert_eq!(flags(&session), (true, true));
    assert!(!session.contains_key("cart"));
    assert_eq!(session.keys(), ["theme"]);

    let cookie = h.save(&session).await;
    assert!(!h.reload(&cookie).await.contains_key("cart"));
}

/// Item 4: `pop` of a missing key: the Rust API returns `Ok(None)` (the caller supplies the default
/// with `unwrap_or`), sets accessed and **not** modified; `remove` behaves the same.
pub async fn pop_of_a_missing_key_gives_none_and_does_not_mark_modified(h: &Harness) {
    let cookie = h.saved(json!({"theme": "dark"})).await;
    let session = h.reload(&cookie).await;
    let value = session
        .pop::<String>("missing")
        .unwrap()
        .unwrap_or_else(|| "default".to_owned());
    assert_eq!(value, "default");
    assert_eq!(flags(&session), (true, false));

    let session = h.reload(&cookie).await;
    assert_eq!(session.remove("missing"), None);
    assert_eq!(flags(&session), (true, false));
}

/// Item 5: `setdefault`: the first call inserts and returns the value, the second returns the
/// stored one; on a stored key it modifies nothing.
pub async fn setdefault_inserts_once_then_returns_the_stored_value(h: &Harness) {
    let session = h.fresh().await;
    assert_eq!(session.setdefault("visits", 1).unwrap(), 1);
    assert_eq!(flags(&session), (true, true));
    assert_eq!(session.setdefault("visits", 2).unwrap(), 1);
    assert_eq!(session.get::<i64>("visits").unwrap(), Some(1));

    let cookie = h.save(&session).await;
    let session = h.reload(&cookie).await;
    assert_eq!(session.setdefault("visits", 5).unwrap(), 1);
    assert_eq!(flags(&session), (true, false));
}

/// Item 6: `update(map)` and `clear()` set accessed and modified (Django sets `modified` on every
/// `update`, even an empty one).
pub async fn update_and_clear_mark_accessed_and_modified(h: &Harness) {
    let cookie = h.saved(json!({"a": 1})).await;

    let session = h.reload(&cookie).await;
    session.update([("b", 2), ("a", 3)]).unwrap();
    assert_eq!(flags(&session), (true, true));
    assert_eq!(session.keys(), ["a", "b"]);
    assert_eq!(session.get::<i64>("a").unwrap(), Some(3));
    assert_eq!(session.get::<i64>("b").unwrap(), Some(2));

    let session = h.reload(&cookie).await;
    session.clear();
    assert_eq!(flags(&session), (true, true));
    assert!(session.keys().is_empty());

    let session = h.reload(&cookie).await;
    session.update(std::iter::empty::<(&str, i32)>()).unwrap();
    assert_eq!(flags(&session), (true, true));
}

/// A read that must leave `modified` alone.
type Probe = fn(&Session);

/// Item 7: `contains_key`, `keys`, `values`, `items`: accessed only, in insertion order.
pub async fn contains_key_keys_values_and_items_mark_only_accessed(h: &Harness) {
    let in_order = Data::from_json(r#"{"b": 1, "a": [true]}"#).unwrap();
    let cookie = h.saved_data(in_order).await;
    let probes: [(&str, Probe); 4] = [
        ("contains_key", |s| {
            assert!(s.contains_key("a"));
            assert!(!s.contains_key("z"));
        }),
        ("keys", |s| assert_eq!(s.keys(), ["b", "a"])),
        ("values", |s| {
            assert_eq!(s.values(), [json!(1), json!([true])]);
        }),
        ("items", |s| {
            let items = s.items();
            let items: Vec<_> = items
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(items, [("b", "1"), ("a", "[true]")]);
        }),
    ];
    for (name, probe) in probes {
        let session = h.reload(&cookie).await;
        probe(&session);
        assert_eq!(flags(&session), (true, false), "after {name}");
    }
}

/// Item 8: Typed access to a value of another type is a clear error naming the key, not a panic.
pub async fn reading_a_value_as_another_type_is_a_type_error(h: &Harness) {
    let session = h.fresh().await;
    session.insert("name", "alice").unwrap();
    session.insert("count", 3).unwrap();

    match session.get::<i64>("name") {
        Err(error @ SessionError::Type { .. }) => {
            assert!(error.to_string().contains("\"name\""), "{error}");
        }
        other => panic!("expected a type error, got {other:?}"),
    }
    assert!(matches!(
        session.get::<String>("count"),
        Err(SessionError::Type { key, .. }) if key == "count"
    ));
    assert!(matches!(
        session.setdefault::<Vec<i64>>("name", vec![]),
        Err(SessionError::Type { .. })
    ));
    assert_eq!(
        session.get::<String>("name").unwrap().as_deref(),
        Some("alice")
    );
}

/// Item 8: A typed `pop` that fails leaves the session as it was: an error has no side effect.
pub async fn a_pop_with_the_wrong_type_leaves_the_value_in_place(h: &Harness) {
    let session = h.fresh().await;
    session.insert("name", "alice").unwrap();
    assert!(matches!(
        session.pop::<i64>("name"),
        Err(SessionError::Type { .. })
    ));
    assert_eq!(
        session.get::<String>("name").unwrap().as_deref(),
        Some("alice"),
        "the value was lost by a failed pop"
    );
}

/// Item 9: Test cookie: set → `test_cookie_worked()` (also on the next request) → delete → false.
pub async fn the_test_cookie_is_set_checked_and_deleted(h: &Harness) {
    let session = h.fresh().await;
    assert!(!session.test_cookie_worked());
    session.set_test_cookie();
    assert!(session.test_cookie_worked());
    assert!(session.modified());

    let cookie = h.save(&session).await;
    let next = h.reload(&cookie).await;
    assert!(next.test_cookie_worked());
    next.delete_test_cookie();
    assert!(!next.test_cookie_worked());
    assert!(next.modified());
}
