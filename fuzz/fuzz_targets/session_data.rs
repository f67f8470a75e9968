//! What the server engines store and read back: `session_data` (the db engine's column, in
//! Django's signed format) and the file engine's session files. Whatever a store holds decodes
//! without a panic, re-encodes to the same data, and the expiry read from it is consistent.

#![no_main]

use std::sync::LazyLock;
use std::time::SystemTime;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sessionkit::django::signing::{SMALL_VALUE_BYTES, STORE_SALT, Signer};
use sessionkit::engine::{Data, user_of};
use sessionkit::expiry::{expire_at_browser_close, expiry_age, expiry_date};
use sessionkit::fuzzing::{parse_session_file, render_session_file};
use sessionkit_fuzz::SECRET;
use time::{Duration, OffsetDateTime};

/// The db engine's signer (Django's `SessionBase.key_salt`).
static STORE: LazyLock<Signer> =
    LazyLock::new(|| Signer::new(STORE_SALT, SECRET, &[]).compressing_from(SMALL_VALUE_BYTES));

/// When the session was last modified (Unix seconds) and `SESSION_COOKIE_AGE`.
#[derive(Debug, Arbitrary)]
struct Clock {
    modified: i32,
    cookie_age: u32,
}

// The first byte picks what the store holds: a `session_data` column as it is (seeded with
// values Django wrote), JSON the store signed (by Django, or another version of sessionkit),
// or a session file's text. Then come the [`Clock`]'s fields, then the stored bytes.
fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let mut fields = Unstructured::new(rest);
    let Ok(Clock {
        modified,
        cookie_age,
    }) = Clock::arbitrary(&mut fields)
    else {
        return;
    };
    let modified = OffsetDateTime::UNIX_EPOCH + Duration::seconds(modified.into());
    let cookie_age = i64::from(cookie_age);
    let check = |data: &Data| check_session(data, modified, cookie_age);
    match kind % 3 {
        0 => {
            if let Some(data) = <&str>::arbitrary_take_rest(fields)
                .ok()
                .and_then(decode_column)
            {
                check(&data);
            }
        }
        1 => {
            if let Ok((timestamp, json)) = <(u32, &[u8])>::arbitrary_take_rest(fields) {
                check_signed_json(json, timestamp.into(), check);
            }
        }
        _ => {
            if let Ok(text) = <&str>::arbitrary_take_rest(fields) {
                check_file(text, check);
            }
        }
    }
});

/// JSON the store signed decodes when it is an object, and re-encodes to the same data.
fn check_signed_json(json: &[u8], timestamp: u64, check: impl Fn(&Data)) {
    let column = STORE.sign_payload(json, timestamp);
    let reads = std::str::from_utf8(json).is_ok_and(|text| Data::from_json(text).is_ok());
    let data = decode_column(&column);
    assert_eq!(data.is_some(), reads, "{column}");
    if let Some(data) = data {
        check(&data);
        let again = STORE.sign_object(&data, timestamp);
        let decoded = decode_column(&again).expect("the store reads what it wrote");
        assert_eq!(decoded.to_json(), data.to_json());
    }
}

/// A session file that parses is written back as a file that parses to the same record, and
/// writing that gives the same text.
fn check_file(text: &str, check: impl Fn(&Data)) {
    let Some((version, expires, data)) = parse_session_file(text) else {
        return;
    };
    check(&data);
    let rendered = render_session_file(version, expires, data.clone());
    let (version_again, expires_again, data_again) = parse_session_file(&rendered)
        .unwrap_or_else(|| panic!("the file engine cannot read {rendered:?}"));
    assert_eq!((version_again, expires_again), (version, expires));
    assert_eq!(data_again.to_json(), data.to_json());
    assert_eq!(render_session_file(version, expires, data_again), rendered);
}

/// The db engine's decoding: Django's `signing.loads` with the store's salt and no age limit.
fn decode_column(column: &str) -> Option<Data> {
    STORE
        .unsign_object(column, None, SystemTime::now())
        .ok()
        .map(|unsigned| unsigned.data)
}

/// What the engines compute from a loaded session: its expiry (Django's `get_expiry_age`,
/// `get_expiry_date`, `get_expire_at_browser_close`) and its user.
fn check_session(data: &Data, modified: OffsetDateTime, cookie_age: i64) {
    let age = expiry_age(data, modified, cookie_age);
    let date = expiry_date(data, modified, cookie_age);
    // The age is the whole seconds from the modification to the date, unless the date had to
    // be clamped to the calendar.
    let clamped = date == OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT)
        || date == OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX);
    if !clamped {
        let whole_seconds = (date - modified).whole_microseconds().div_euclid(1_000_000);
        assert_eq!(i128::from(age), whole_seconds, "{data:?}");
    }
    let _ = expire_at_browser_close(data, false);
    let _ = user_of(data);
}
