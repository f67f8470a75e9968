//! Idle and absolute timeouts (`SESSION_IDLE_TIMEOUT`, `SESSION_ABSOLUTE_TIMEOUT`): a session
//! past either is no session, on every engine; only a new login restarts the absolute clock;
//! activity is written at most once per `SESSION_ACTIVITY_REFRESH`. The clocks are set back
//! by storing sessions with old stamps, so no behaviour waits.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::Harness;
use crate::engine::{ChangeSet, Data, JsonText, SaveRequest};
use crate::expiry::{ACTIVE_KEY, STARTED_KEY};
use crate::{Expiry, Sessions};

const IDLE: i64 = 900;
const ABSOLUTE: i64 = 8 * 60 * 60;

/// The harness's engine with both timeouts on (a store opened from settings is opened again).
async fn with_timeouts(h: &Harness) -> Sessions {
    h.with_settings(|s| {
        s.idle_timeout = Some(Duration::from_secs(IDLE as u64));
        s.absolute_timeout = Some(Duration::from_secs(ABSOLUTE as u64));
    })
    .await
}

/// A session of user 7 stored through `sessions`' engine, started `started` and last active
/// `active` seconds ago.
async fn stored(sessions: &Sessions, started: i64, active: i64) -> String {
    let now = OffsetDateTime::now_utc();
    let data = Data::from_iter([
        ("user_id", JsonText::from(7)),
        (STARTED_KEY, JsonText::from(now.unix_timestamp() - started)),
        (ACTIVE_KEY, JsonText::from(now.unix_timestamp() - active)),
    ]);
    let request = SaveRequest {
        previous: None,
        data: &Arc::new(data),
        changes: &ChangeSet::default(),
        now,
        cookie_age: sessions.settings().cookie_age,
    };
    let saved = sessions.engine().save(request).await;
    saved.expect("the engine saves").cookie_value
}

/// Asserts that `cookie` gives no session under `sessions`, and that the request's end
/// deletes a server engine's record.
async fn assert_timed_out(h: &Harness, sessions: &Sessions, cookie: &str, what: &str) {
    let session = sessions.start(Some(cookie)).load().await.unwrap();
    assert!(session.is_empty(), "{what}: {:?}", session.keys());
    assert_eq!(session.get::<i64>("user_id").unwrap(), None, "{what}");
    let saved = session.save().await.unwrap();
    assert_eq!(saved, None, "{what}: nothing to save");
    if h.server_side() {
        let record = sessions.engine().load(cookie).await.unwrap();
        assert_eq!(record, None, "{what}: record deleted");
    }
}

/// A session unused for longer than the idle timeout is no session (and its record is
/// deleted); one used just within it loads.
pub async fn a_session_idle_past_the_idle_timeout_is_no_session(h: &Harness) {
    let sessions = with_timeouts(h).await;
    let recent = stored(&sessions, 3_600, IDLE - 30).await;
    let session = sessions.start(Some(&recent)).load().await.unwrap();
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(7));

    let idle = stored(&sessions, 3_600, IDLE + 5).await;
    assert_timed_out(h, &sessions, &idle, "idle").await;
    // Without the timeouts, the same session is still there: the default is Django's.
    let without = Sessions::new(sessions.engine().clone(), h.settings.clone()).unwrap();
    let idle = stored(&sessions, 3_600, IDLE + 5).await;
    let session = without.start(Some(&idle)).load().await.unwrap();
    assert_eq!(session.get::<i64>("user_id").unwrap(), Some(7));
}

/// A session older than the absolute timeout is no session, however active.
pub async fn a_session_older_than_the_absolute_timeout_is_no_session(h: &Harness) {
    let sessions = with_timeouts(h).await;
    let old = stored(&sessions, ABSOLUTE + 5, 1).await;
    assert_timed_out(h, &sessions, &old, "absolute").await;
}

/// Activity, `set_expiry` and `cycle_key` keep the absolute clock where it was; `flush` (a
/// logout, then a new login) starts a new one.
pub async fn only_a_new_login_restarts_the_absolute_clock(h: &Harness) {
    let sessions = with_timeouts(h).await;
    let cookie = stored(&sessions, ABSOLUTE - 100, 500).await;
    let session = sessions.start(Some(&cookie)).load().await.unwrap();
    let started: i64 = session.get(STARTED_KEY).unwrap().expect("a start");
    session.insert("cart", [1, 2]).unwrap();
    session.set_expiry(Expiry::After(time::Duration::days(30)));
    session.cycle_key();
    let cookie = session.save().await.unwrap().expect("saved");
    let next = sessions.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(next.get::<i64>(STARTED_KEY).unwrap(), Some(started));
    let active: i64 = next.get(ACTIVE_KEY).unwrap().expect("activity");
    assert!(
        active > started + ABSOLUTE - 200,
        "the save recorded activity"
    );

    next.flush();
    next.insert("user_id", 8).unwrap();
    let cookie = next.save().await.unwrap().expect("a new login");
    let after_login = sessions.start(Some(&cookie)).load().await.unwrap();
    let restarted: i64 = after_login.get(STARTED_KEY).unwrap().expect("a start");
    let now = OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        now - restarted <= 5,
        "the new login starts the clock: {restarted} vs {now}"
    );
}

/// A request that only reads the session writes its activity once the last one is
/// `SESSION_ACTIVITY_REFRESH` old, not before: an idle timeout is not a write per request.
pub async fn activity_is_written_at_most_once_per_refresh(h: &Harness) {
    let sessions = with_timeouts(h).await;
    let fresh = stored(&sessions, 100, 10).await;
    let session = sessions.start(Some(&fresh)).load().await.unwrap();
    assert!(!session.modified(), "written 10 s ago: nothing to write");

    let stale = stored(&sessions, 100, 61).await;
    let session = sessions.start(Some(&stale)).load().await.unwrap();
    assert!(session.modified(), "written 61 s ago: the activity is due");
    let cookie = session.save().await.unwrap().expect("saved");
    let next = sessions.start(Some(&cookie)).load().await.unwrap();
    let active: i64 = next.get(ACTIVE_KEY).unwrap().expect("activity");
    assert!(OffsetDateTime::now_utc().unix_timestamp() - active <= 5);
    assert!(!next.modified(), "and not again on the next request");
}

/// Without the timeouts (the default), sessions carry no clocks, as in Django.
pub async fn without_timeouts_sessions_carry_no_clocks(h: &Harness) {
    let session = h.fresh().await;
    session.insert("user_id", 7).unwrap();
    let cookie = h.save(&session).await;
    assert_eq!(h.reload(&cookie).await.keys(), ["user_id"]);
    let anonymous = with_timeouts(h).await.start(None).load().await.unwrap();
    assert!(!anonymous.modified(), "an anonymous visit stores nothing");
    assert_eq!(anonymous.save().await.unwrap(), None);
}
