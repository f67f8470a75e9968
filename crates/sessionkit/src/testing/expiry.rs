//! C. Expiry (items 18–22): Django's `set_expiry` / `get_expiry_age` / `get_expiry_date` /
//! `get_expire_at_browser_close`, and that nothing expired is ever loaded.

use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{Harness, load, object};
use crate::Expiry;
use crate::engine::clear_expired;

/// Item 18: The default expiry age is SESSION_COOKIE_AGE; `set_expiry(0)` keeps that age and makes
/// the session end when the browser closes, also after a save.
pub async fn the_default_expiry_is_the_cookie_age_and_browser_close_keeps_it(h: &Harness) {
    let sessions = h.with_settings(|s| s.cookie_age = 4321).await;
    let session = load(&sessions, None).await;
    assert_eq!(session.expiry_age(), 4321);
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        session.expiry_date_since(now),
        now + Duration::seconds(4321)
    );
    assert!(!session.expire_at_browser_close());

    session.set_expiry(Expiry::BrowserClose);
    assert_eq!(session.expiry_age(), 4321);
    assert!(session.expire_at_browser_close());

    session.insert("user_id", 42).unwrap();
    let cookie = session.save().await.unwrap().expect("a cookie");
    let next = load(&sessions, Some(&cookie)).await;
    assert!(next.expire_at_browser_close());
    assert_eq!(next.expiry_age(), 4321);
}

/// Item 19: `set_expiry(seconds)`, `set_expiry(datetime)`, `set_expiry(None)`: age and date are
/// counted from a given modification time; None resets to the default.
pub async fn a_custom_expiry_is_counted_from_the_modification_time(h: &Harness) {
    let modification = datetime!(2030-06-01 12:00 UTC);
    let age = h.settings.cookie_age;
    let session = h.fresh().await;

    session.set_expiry(Expiry::After(Duration::seconds(10)));
    assert!(session.modified());
    assert_eq!(session.expiry_age_since(modification), 10);
    assert_eq!(
        session.expiry_date_since(modification),
        modification + Duration::seconds(10)
    );

    session.set_expiry(Expiry::At(modification + Duration::seconds(10)));
    assert_eq!(session.expiry_age_since(modification), 10);
    assert_eq!(
        session.expiry_date_since(modification),
        modification + Duration::seconds(10)
    );

    session.set_expiry(Expiry::Default);
    assert_eq!(session.expiry_age_since(modification), age);
    assert_eq!(
        session.expiry_date_since(modification),
        modification + Duration::seconds(age)
    );
}

/// Item 19: A custom expiry is stored with the session: seconds and dates (to the microsecond)
/// come back from the next request.
pub async fn a_custom_expiry_survives_saving(h: &Harness) {
    let session = h.fresh().await;
    session.insert("k", 1).unwrap();
    session.set_expiry(Expiry::After(Duration::seconds(600)));
    let cookie = h.save(&session).await;
    let modification = datetime!(2030-06-01 12:00 UTC);
    assert_eq!(h.reload(&cookie).await.expiry_age_since(modification), 600);

    let at = datetime!(2031-02-03 04:05:06.789012 UTC);
    let session = h.fresh().await;
    session.insert("k", 1).unwrap();
    session.set_expiry(Expiry::At(at));
    let cookie = h.save(&session).await;
    let next = h.reload(&cookie).await;
    assert_eq!(next.expiry_date_since(modification), at);
    assert!(!next.expire_at_browser_close());
}

/// Item 20: `expire_at_browser_close()` for {10, 0, None} × SESSION_EXPIRE_AT_BROWSER_CLOSE
/// false/true: false, true, false / false, true, true.
pub async fn expire_at_browser_close_follows_the_setting_unless_overridden(h: &Harness) {
    let table = [(false, [false, true, false]), (true, [false, true, true])];
    for (setting, expected) in table {
        let sessions = h
            .with_settings(|s| s.expire_at_browser_close = setting)
            .await;
        let session = load(&sessions, None).await;
        let got = [
            Expiry::After(Duration::seconds(10)),
            Expiry::BrowserClose,
            Expiry::Default,
        ]
        .map(|expiry| {
            session.set_expiry(expiry);
            session.expire_at_browser_close()
        });
        assert_eq!(got, expected, "SESSION_EXPIRE_AT_BROWSER_CLOSE={setting}");
    }
}

/// Item 21: A session past its custom expiry (seconds or a date, stored with the data) is not
/// loaded and does not exist; one with a future custom expiry is.
pub async fn a_session_past_its_custom_expiry_is_not_loaded(h: &Harness) {
    let now = OffsetDateTime::now_utc();
    for expiry in [
        Expiry::After(Duration::seconds(-10)),
        Expiry::At(now - Duration::minutes(1)),
    ] {
        let session = h.fresh().await;
        session.insert("user_id", 42).unwrap();
        session.set_expiry(expiry);
        let cookie = h.save(&session).await;
        let next = h.reload(&cookie).await;
        assert!(next.is_empty(), "{expiry:?}");
        assert_eq!(next.get::<i64>("user_id").unwrap(), None, "{expiry:?}");
        assert!(!h.engine().exists(&cookie).await.unwrap(), "{expiry:?}");
    }

    let session = h.fresh().await;
    session.insert("user_id", 42).unwrap();
    session.set_expiry(Expiry::After(Duration::seconds(60)));
    let cookie = h.save(&session).await;
    assert_eq!(
        h.reload(&cookie).await.get::<i64>("user_id").unwrap(),
        Some(42)
    );
}

/// Item 21: A session saved longer ago than SESSION_COOKIE_AGE is not loaded (server engines by
/// the stored expiry, signed cookies by the signed timestamp); a younger one is.
pub async fn a_session_older_than_the_cookie_age_is_not_loaded(h: &Harness) {
    let age = h.settings.cookie_age;
    let now = OffsetDateTime::now_utc();
    let data = object(json!({"user_id": 42}));

    let stale = h.store(&data, now - Duration::seconds(age + 5)).await;
    assert_eq!(h.engine().load(&stale).await.unwrap(), None);
    assert!(!h.engine().exists(&stale).await.unwrap());
    assert!(h.reload(&stale).await.is_empty());

    let recent = h.store(&data, now - Duration::seconds(age - 60)).await;
    let loaded = h
        .engine()
        .load(&recent)
        .await
        .unwrap()
        .expect("still valid");
    assert_eq!(*loaded.data, data);
}

/// Item 22: `clear_expired` removes the expired records only, in batches, and says how many.
pub async fn clear_expired_removes_only_expired_records_and_counts_them(h: &Harness) {
    let past = OffsetDateTime::now_utc() - Duration::seconds(h.settings.cookie_age + 60);
    let mut expired = Vec::new();
    for n in 0..3 {
        expired.push(h.store(&object(json!({"n": n})), past).await);
    }
    let session = h.fresh().await;
    session.insert("n", 3).unwrap();
    session.set_expiry(Expiry::After(Duration::seconds(-5)));
    expired.push(h.save(&session).await);
    let live = [
        h.saved(json!({"live": 0})).await,
        h.saved(json!({"live": 1})).await,
    ];

    let mut batches = Vec::new();
    let removed = clear_expired(h.engine().as_ref(), 3, |n| batches.push(n)).await;
    assert_eq!(removed.unwrap(), 4);
    assert_eq!(batches, [3, 4], "a batch at a time");
    for (n, cookie) in live.iter().enumerate() {
        assert_eq!(
            h.reload(cookie).await.get_value("live"),
            Some(json!(n)),
            "live record {n} survives"
        );
    }
    for cookie in &expired {
        assert!(!h.engine().exists(cookie).await.unwrap());
    }
    assert_eq!(h.engine().clear_expired(3).await.unwrap(), 0);
}
