//! Session expiry, stored as Django stores it: under `_session_expiry` in the session data, as
//! an integer number of seconds, an ISO-8601 date string, or `0` for "when the browser closes";
//! absent means `SESSION_COOKIE_AGE`.

use serde_json::Value;
use time::format_description::well_known::Iso8601;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::engine::{Data, JsonText};

/// The session key Django keeps the custom expiry under.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use sessionkit::{EngineKind, Sessions, Settings};
/// # let sessions = Sessions::open(Settings {
/// #     engine: EngineKind::SignedCookies,
/// #     ..Settings::new("secret")
/// # })
/// # .await?;
/// # let session = sessions.start(None).load().await?;
/// use sessionkit::Expiry;
/// use sessionkit::expiry::EXPIRY_KEY;
///
/// session.set_expiry(Expiry::After(time::Duration::minutes(10)));
/// assert_eq!(session.get::<i64>(EXPIRY_KEY)?, Some(600)); // as Django stores it
/// # Ok(()) }
/// ```
pub const EXPIRY_KEY: &str = "_session_expiry";

/// Unix seconds when the session was first stored: where `SESSION_ABSOLUTE_TIMEOUT` counts
/// from. Emptying the session (`flush` at logout, `clear`) removes it, so the next login starts
/// a new clock; activity, `set_expiry` and `cycle_key` do not.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use sessionkit::expiry::{ACTIVE_KEY, STARTED_KEY};
/// use sessionkit::{EngineKind, Sessions, Settings};
///
/// let sessions = Sessions::open(Settings {
///     engine: EngineKind::SignedCookies,
///     idle_timeout: Some(Duration::from_secs(15 * 60)),
///     absolute_timeout: Some(Duration::from_secs(8 * 60 * 60)),
///     ..Settings::new("secret")
/// })
/// .await?;
/// let session = sessions.start(None).load().await?;
/// session.insert("user_id", 42)?;
/// session.save().await?;
/// let started: i64 = session.get(STARTED_KEY)?.unwrap();
/// assert_eq!(session.get::<i64>(ACTIVE_KEY)?, Some(started)); // both clocks start now
/// # Ok(()) }
/// ```
pub const STARTED_KEY: &str = "_session_started";

/// Unix seconds of the session's last recorded activity: where `SESSION_IDLE_TIMEOUT` counts
/// from. A request that saves the session writes it; one that only reads it, at most once per
/// `SESSION_ACTIVITY_REFRESH`.
pub const ACTIVE_KEY: &str = "_session_active";

/// What [`crate::Session::set_expiry`] accepts (Django's `set_expiry(value)`).
///
/// ```
/// use sessionkit::Expiry;
///
/// let in_an_hour = Expiry::After(time::Duration::hours(1));
/// let at_close = Expiry::BrowserClose; // Django's set_expiry(0)
/// let default = Expiry::Default;       // Django's set_expiry(None)
/// # let _ = (in_an_hour, at_close, default);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Back to `SESSION_COOKIE_AGE` (and `SESSION_EXPIRE_AT_BROWSER_CLOSE`): Django's `None`.
    Default,
    /// The cookie lasts until the browser closes: Django's `0`.
    BrowserClose,
    /// Expire this long after the last modification: Django's integer seconds.
    /// Negative durations make the session expired already.
    After(Duration),
    /// Expire at this instant: Django's `datetime` (stored as an ISO-8601 string).
    At(OffsetDateTime),
}

impl Expiry {
    /// The value stored under [`EXPIRY_KEY`], or `None` to remove the key.
    pub(crate) fn to_stored(self) -> Option<JsonText> {
        match self {
            Expiry::Default => None,
            Expiry::BrowserClose => Some(JsonText::from(0)),
            Expiry::After(duration) => Some(JsonText::from(duration.whole_seconds())),
            Expiry::At(date) => Some(JsonText::from(python_isoformat(date).as_str())),
        }
    }
}

/// The stored form, interpreted.
enum Stored {
    /// Absent, `0`, or unreadable: the configured cookie age applies.
    CookieAge,
    Seconds(i64),
    At(OffsetDateTime),
}

/// The value under [`EXPIRY_KEY`] as serde_json reads it (a small number or a date string;
/// anything else means the cookie age).
fn stored_value(data: &Data) -> Option<Value> {
    data.get(EXPIRY_KEY).map(JsonText::to_value)
}

fn stored(data: &Data) -> Stored {
    match stored_value(data) {
        None | Some(Value::Null) => Stored::CookieAge,
        Some(Value::Number(n)) => match n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)) {
            Some(0) | None => Stored::CookieAge,
            Some(seconds) => Stored::Seconds(seconds),
        },
        Some(Value::String(text)) => match parse_isoformat(&text) {
            Some(date) => Stored::At(date),
            None => {
                tracing::warn!(value = %text, "unreadable {EXPIRY_KEY}; using SESSION_COOKIE_AGE");
                Stored::CookieAge
            }
        },
        Some(_) => Stored::CookieAge,
    }
}

/// Django's `get_expiry_age`: seconds from `modification` until the session expires.
///
/// ```
/// use sessionkit::engine::{Data, JsonText};
/// use sessionkit::expiry::{EXPIRY_KEY, expiry_age};
/// use time::macros::datetime;
///
/// let now = datetime!(2030-01-01 0:00 UTC);
/// assert_eq!(expiry_age(&Data::new(), now, 3600), 3600); // no custom expiry: the cookie age
/// let data = Data::from_iter([(EXPIRY_KEY, JsonText::from("2030-01-01T00:10:00+00:00"))]);
/// assert_eq!(expiry_age(&data, now, 3600), 600);
/// ```
pub fn expiry_age(data: &Data, modification: OffsetDateTime, cookie_age: i64) -> i64 {
    match stored(data) {
        Stored::CookieAge => cookie_age,
        Stored::Seconds(seconds) => seconds,
        // Python's `delta.days * 86400 + delta.seconds`: whole seconds, rounded down.
        Stored::At(date) => (date - modification)
            .whole_microseconds()
            .div_euclid(1_000_000) as i64,
    }
}

/// Django's `get_expiry_date`: when the session expires, counted from `modification`.
///
/// ```
/// use sessionkit::engine::{Data, JsonText};
/// use sessionkit::expiry::{EXPIRY_KEY, expiry_date};
/// use time::macros::datetime;
///
/// let now = datetime!(2030-01-01 0:00 UTC);
/// assert_eq!(expiry_date(&Data::new(), now, 3600), datetime!(2030-01-01 1:00 UTC));
/// let data = Data::from_iter([(EXPIRY_KEY, JsonText::from(60))]);
/// assert_eq!(expiry_date(&data, now, 3600), datetime!(2030-01-01 0:01 UTC));
/// ```
pub fn expiry_date(data: &Data, modification: OffsetDateTime, cookie_age: i64) -> OffsetDateTime {
    match stored(data) {
        // Saturating: a validly signed but absurd expiry must not overflow the calendar.
        Stored::CookieAge => modification.saturating_add(Duration::seconds(cookie_age)),
        Stored::Seconds(seconds) => modification.saturating_add(Duration::seconds(seconds)),
        Stored::At(date) => date,
    }
}

/// When a session kept whole in a cookie issued at `issued_at` expires: its own expiry
/// (`set_expiry`) can only end it sooner, never later than `cookie_age` after issue (Django's
/// `signed_cookies` rule), so shortening `SESSION_COOKIE_AGE` ends older cookies too.
pub(crate) fn cookie_expiry(
    data: &Data,
    issued_at: OffsetDateTime,
    cookie_age: i64,
) -> OffsetDateTime {
    let latest = issued_at.saturating_add(Duration::seconds(cookie_age));
    expiry_date(data, issued_at, cookie_age).min(latest)
}

/// Django's `get_expire_at_browser_close`.
///
/// ```
/// use sessionkit::engine::{Data, JsonText};
/// use sessionkit::expiry::{EXPIRY_KEY, expire_at_browser_close};
///
/// assert!(expire_at_browser_close(&Data::new(), true)); // no custom expiry: the setting
/// let at_close = Data::from_iter([(EXPIRY_KEY, JsonText::from(0))]);
/// assert!(expire_at_browser_close(&at_close, false));
/// let timed = Data::from_iter([(EXPIRY_KEY, JsonText::from(60))]);
/// assert!(!expire_at_browser_close(&timed, true));
/// ```
pub fn expire_at_browser_close(data: &Data, setting: bool) -> bool {
    match stored_value(data) {
        None => setting,
        Some(value) => value.as_i64() == Some(0),
    }
}

/// Python's `datetime.isoformat()` for an aware datetime: microseconds only when non-zero.
#[expect(
    clippy::expect_used,
    reason = "every OffsetDateTime has a year of at most four digits, which this format takes"
)]
pub(crate) fn python_isoformat(date: OffsetDateTime) -> String {
    let utc = date.to_offset(UtcOffset::UTC);
    let base = utc
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .expect("dates in range format");
    match utc.microsecond() {
        0 => format!("{base}+00:00"),
        micros => format!("{base}.{micros:06}+00:00"),
    }
}

/// Python's `datetime.fromisoformat` for the forms Django writes; a naive value is taken as UTC.
pub(crate) fn parse_isoformat(text: &str) -> Option<OffsetDateTime> {
    if let Ok(date) = OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(date);
    }
    let naive = text.replace(' ', "T");
    PrimitiveDateTime::parse(&naive, &Iso8601::DEFAULT)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn with_expiry(value: Value) -> Data {
        Data::try_from(json!({ EXPIRY_KEY: value })).unwrap()
    }

    #[test]
    fn isoformat_round_trips_like_python() {
        let date = datetime!(2030-01-01 0:00 UTC);
        assert_eq!(python_isoformat(date), "2030-01-01T00:00:00+00:00");
        let precise = datetime!(2030-01-01 0:00:00.123456 UTC);
        assert_eq!(
            python_isoformat(precise),
            "2030-01-01T00:00:00.123456+00:00"
        );
        assert_eq!(parse_isoformat("2030-01-01T00:00:00+00:00"), Some(date));
        assert_eq!(parse_isoformat("2030-01-01T01:00:00+01:00"), Some(date));
        assert_eq!(parse_isoformat("2030-01-01 00:00:00"), Some(date));
        assert_eq!(
            parse_isoformat("2030-01-01T00:00:00.123456+00:00"),
            Some(precise)
        );
        assert_eq!(parse_isoformat("next tuesday"), None);
    }

    #[test]
    fn age_and_date_follow_django() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let empty = Data::new();
        assert_eq!(expiry_age(&empty, now, 100), 100);
        assert_eq!(expiry_date(&empty, now, 100), now + Duration::seconds(100));
        let ten = with_expiry(json!(10));
        assert_eq!(expiry_age(&ten, now, 100), 10);
        assert_eq!(expiry_date(&ten, now, 100), now + Duration::seconds(10));
        let at_close = with_expiry(json!(0));
        assert_eq!(expiry_age(&at_close, now, 100), 100);
        let dated = with_expiry(json!("2026-01-01T00:00:10.500000+00:00"));
        assert_eq!(expiry_age(&dated, now, 100), 10);
        let past = with_expiry(json!("2025-12-31T23:59:59.500000+00:00"));
        assert_eq!(expiry_age(&past, now, 100), -1);
    }
}
