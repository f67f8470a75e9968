//! The bounds and messages that loading and validating share, so each lives once.

use std::time::Duration;

use super::{ConfigError, MAX_DB_POOL_SIZE};

/// The shortest duration setting: below a millisecond every store call would time out.
const MIN_DURATION: Duration = Duration::from_millis(1);

/// The longest value of each duration setting. Past these a value can only be a slip (a
/// request held for hours), and huge ones overflow timers and clocks.
const MAX_DURATIONS: [(&str, Duration); 8] = [
    ("SESSION_DB_IDLE_TIMEOUT", Duration::from_secs(DAY)),
    ("SESSION_STORE_TIMEOUT", Duration::from_secs(600)),
    ("SESSION_LOCK_TIMEOUT", Duration::from_secs(600)),
    ("SESSION_LOCK_LEASE", Duration::from_secs(DAY)),
    // As long as browsers keep a cookie (SESSION_COOKIE_AGE's limit).
    ("SESSION_IDLE_TIMEOUT", Duration::from_secs(400 * DAY)),
    ("SESSION_ABSOLUTE_TIMEOUT", Duration::from_secs(400 * DAY)),
    ("SESSION_ACTIVITY_REFRESH", Duration::from_secs(DAY)),
    // A staleness bound: past a minute a logout on a store without a channel is too slow.
    ("SESSION_NEAR_CACHE_TTL", Duration::from_secs(60)),
];

const DAY: u64 = 24 * 60 * 60;

/// The longest value `setting` accepts (see [`MAX_DURATIONS`]).
pub(super) fn max_duration(setting: &str) -> Duration {
    MAX_DURATIONS
        .iter()
        .find(|(name, _)| *name == setting)
        .map_or(Duration::from_secs(600), |(_, max)| *max)
}

/// A duration given in code (the fields are public) must be within the same range.
pub(super) fn check_duration(setting: &'static str, duration: Duration) -> Result<(), ConfigError> {
    if (MIN_DURATION..=max_duration(setting)).contains(&duration) {
        Ok(())
    } else {
        Err(out_of_range(setting, &format!("{duration:?}")))
    }
}

pub(super) fn out_of_range(setting: &'static str, value: &str) -> ConfigError {
    ConfigError::new(
        setting,
        format!(
            "{value} is out of range: use from {} to {} seconds",
            MIN_DURATION.as_secs_f64(),
            max_duration(setting).as_secs()
        ),
    )
}

/// A pool size given in code must be in the range the setting accepts.
pub(super) fn check_pool_size(size: u32) -> Result<(), ConfigError> {
    if (1..=MAX_DB_POOL_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "SESSION_DB_POOL_SIZE",
            format!("{size} is out of range: use from 1 to {MAX_DB_POOL_SIZE} connections"),
        ))
    }
}

pub(super) fn missing_secret() -> ConfigError {
    ConfigError::new(
        "SECRET_KEY",
        "is required: set it to a long random string (the demo server generates one)",
    )
}
