//! Idle and absolute timeouts (OWASP ASVS 3.3.1 and 3.3.2), on every engine.
//!
//! Django has one expiry, which activity pushes back (`SESSION_SAVE_EVERY_REQUEST`) or not.
//! OWASP asks for two clocks: an idle one that activity restarts, and an absolute one that
//! nothing restarts but a new login. Both are kept in the session's own data, as Unix seconds
//! under `_session_started` and `_session_active`, so they travel with it on every engine (inside the
//! signed or encrypted cookie, or in the store's record) and an old copy replayed later carries
//! its old clocks. A session past either limit is no session: the request gets a fresh one and
//! a server engine's record is deleted.
//!
//! The idle clock needs a write to move. A request that changes the session writes anyway; one
//! that only reads it writes its activity at most once per `SESSION_ACTIVITY_REFRESH`, so an
//! idle timeout does not cost a store write on every request.

use std::time::Duration;

use time::OffsetDateTime;

use crate::engine::{Data, JsonText};
use crate::expiry::{ACTIVE_KEY, STARTED_KEY};
use crate::settings::Settings;

/// The two limits and how often activity is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    idle: Option<Duration>,
    absolute: Option<Duration>,
    refresh: Duration,
}

impl Timeouts {
    pub(crate) fn of(settings: &Settings) -> Self {
        Timeouts {
            idle: settings.idle_timeout,
            absolute: settings.absolute_timeout,
            refresh: settings.activity_refresh,
        }
    }

    /// Whether either limit is set: without one, sessions need no clock and no stamps.
    pub(crate) fn any(&self) -> bool {
        self.idle.is_some() || self.absolute.is_some()
    }

    /// Which limit `data` is past at `now`, if any. A session without the stamps (stored
    /// before the timeouts were turned on) is timed from its first request with them.
    pub(crate) fn exceeded(&self, data: &Data, now: OffsetDateTime) -> Option<&'static str> {
        // The limit first: without one, the session's data is not looked at.
        let past = |key, limit: Option<Duration>| {
            let limit = i64::try_from(limit?.as_secs()).unwrap_or(i64::MAX);
            let since = stamp(data, key)?;
            (now.unix_timestamp().saturating_sub(since) > limit).then_some(())
        };
        if past(STARTED_KEY, self.absolute).is_some() {
            return Some("absolute");
        }
        past(ACTIVE_KEY, self.idle).map(|()| "idle")
    }

    /// The stamps a session holding `data` needs at `now` when it is saved anyway: a start if
    /// it has none, and the activity.
    pub(crate) fn on_save(
        &self,
        data: &Data,
        now: OffsetDateTime,
    ) -> Vec<(&'static str, JsonText)> {
        if !self.any() || data.is_empty() {
            return Vec::new();
        }
        let now_seconds = JsonText::from(now.unix_timestamp());
        let mut stamps = Vec::with_capacity(2);
        if self.absolute.is_some() && stamp(data, STARTED_KEY).is_none() {
            stamps.push((STARTED_KEY, now_seconds.clone()));
        }
        if self.idle.is_some() && stamp(data, ACTIVE_KEY) != Some(now.unix_timestamp()) {
            stamps.push((ACTIVE_KEY, now_seconds));
        }
        stamps
    }

    /// Whether a stored session loaded at `now` should write its activity although the
    /// request may change nothing: its last recorded activity is `SESSION_ACTIVITY_REFRESH` old.
    pub(crate) fn activity_due(&self, data: &Data, now: OffsetDateTime) -> bool {
        if self.idle.is_none() || data.is_empty() {
            return false;
        }
        let refresh = i64::try_from(self.refresh.as_secs()).unwrap_or(i64::MAX);
        stamp(data, ACTIVE_KEY)
            .is_none_or(|active| now.unix_timestamp().saturating_sub(active) >= refresh)
    }
}

/// The Unix seconds under `key`, if it holds an integer.
fn stamp(data: &Data, key: &str) -> Option<i64> {
    data.get(key)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts(idle: Option<u64>, absolute: Option<u64>) -> Timeouts {
        Timeouts {
            idle: idle.map(Duration::from_secs),
            absolute: absolute.map(Duration::from_secs),
            refresh: Duration::from_secs(60),
        }
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    fn stamped(started: i64, active: i64) -> Data {
        Data::from_iter([
            ("user", JsonText::from("ada")),
            (STARTED_KEY, JsonText::from(started)),
            (ACTIVE_KEY, JsonText::from(active)),
        ])
    }

    #[test]
    fn a_session_is_past_its_idle_limit_only_after_the_limit() {
        let t = timeouts(Some(900), None);
        let data = stamped(0, 1_000);
        assert_eq!(
            t.exceeded(&data, at(1_900)),
            None,
            "exactly the limit is allowed"
        );
        assert_eq!(t.exceeded(&data, at(1_901)), Some("idle"));
    }

    #[test]
    fn the_absolute_limit_ignores_activity() {
        let t = timeouts(Some(900), Some(3_600));
        let busy = stamped(0, 3_599);
        assert_eq!(t.exceeded(&busy, at(3_600)), None);
        assert_eq!(t.exceeded(&busy, at(3_601)), Some("absolute"));
    }

    #[test]
    fn no_limit_no_stamps_and_an_unstamped_session_is_not_expired() {
        let off = timeouts(None, None);
        assert_eq!(off.exceeded(&stamped(0, 0), at(1_000_000)), None);
        assert!(off.on_save(&stamped(0, 0), at(5)).is_empty());
        let on = timeouts(Some(900), Some(3_600));
        let plain = Data::from_iter([("user", JsonText::from("ada"))]);
        assert_eq!(on.exceeded(&plain, at(1_000_000)), None);
    }

    #[test]
    fn saving_stamps_a_start_once_and_the_activity_each_time() {
        let t = timeouts(Some(900), Some(3_600));
        let plain = Data::from_iter([("user", JsonText::from("ada"))]);
        let keys = |stamps: Vec<(&'static str, JsonText)>| {
            stamps.into_iter().map(|(k, _)| k).collect::<Vec<_>>()
        };
        assert_eq!(keys(t.on_save(&plain, at(10))), [STARTED_KEY, ACTIVE_KEY]);
        assert_eq!(keys(t.on_save(&stamped(0, 5), at(10))), [ACTIVE_KEY]);
        assert!(
            t.on_save(&stamped(0, 10), at(10)).is_empty(),
            "nothing new to write"
        );
        assert!(
            t.on_save(&Data::new(), at(10)).is_empty(),
            "an empty session stays empty"
        );
    }

    #[test]
    fn activity_is_due_once_per_refresh() {
        let t = timeouts(Some(900), None);
        assert!(!t.activity_due(&stamped(0, 1_000), at(1_059)));
        assert!(t.activity_due(&stamped(0, 1_000), at(1_060)));
        let plain = Data::from_iter([("user", JsonText::from("ada"))]);
        assert!(
            t.activity_due(&plain, at(0)),
            "a session stored before gets its stamp"
        );
        assert!(
            !timeouts(None, Some(60)).activity_due(&plain, at(0)),
            "no idle clock"
        );
    }
}
