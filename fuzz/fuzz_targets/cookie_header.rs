//! Finding the session cookie's value in a request's `Cookie` headers
//! ([`Sessions::cookie_value`]): any header bytes a client sends, for a few cookie names.

#![no_main]

use std::sync::{Arc, LazyLock};

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sessionkit::engine::SignedCookieEngine;
use sessionkit::{EngineKind, Sessions, Settings};
use sessionkit_fuzz::SECRET;

const NAMES: [&str; 3] = ["sessionid", "s", "__Secure-session_id"];

static SESSIONS: LazyLock<Vec<Sessions>> = LazyLock::new(|| {
    NAMES
        .iter()
        .map(|name| {
            let settings = Settings {
                engine: EngineKind::SignedCookies,
                cookie_name: (*name).to_owned(),
                cookie_secure: true,
                ..Settings::new(SECRET)
            };
            let engine = Arc::new(SignedCookieEngine::new(&settings));
            Sessions::new(engine, settings).expect("valid settings")
        })
        .collect()
});

// The first byte picks the cookie name; each following line is one raw `Cookie` header value
// (bytes that HTTP does not allow in a header are refused by `http` before sessionkit sees
// them), except the last line, a value to plant under the session cookie's name.
fuzz_target!(|data: &[u8]| {
    let Some((&name, rest)) = data.split_first() else {
        return;
    };
    let index = usize::from(name) % NAMES.len();
    let (name, sessions) = (NAMES[index], &SESSIONS[index]);
    let mut lines: Vec<&[u8]> = rest.split(|&b| b == b'\n').collect();
    let planted = lines.pop().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for raw in lines {
        if let Ok(value) = HeaderValue::from_bytes(raw) {
            headers.append(COOKIE, value);
        }
    }
    let found = sessions.cookie_value(&headers);
    if let Some(value) = found {
        // A piece of one header: one cookie's value, trimmed, never spanning a `;`.
        let inside_a_header = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .any(|text| is_slice_of(value, text));
        assert!(inside_a_header, "{value:?} is not a slice of the headers");
        assert!(!value.contains(';'), "{value:?}");
        assert_eq!(value, value.trim());
    }

    // Planted in a new last header, the cookie is found whatever came before (the last of
    // several wins, as in Django); planted before the others, it is found when none of them
    // named it.
    let planted: String = planted
        .iter()
        .map(|&b| char::from(b))
        .filter(|c| c.is_ascii_graphic() && *c != ';')
        .collect();
    let pair = HeaderValue::try_from(format!("{name}={planted}")).expect("visible ASCII");
    let mut last = headers.clone();
    last.append(COOKIE, pair.clone());
    assert_eq!(sessions.cookie_value(&last), Some(planted.as_str()));
    let mut first = HeaderMap::new();
    first.append(COOKIE, pair);
    for value in headers.get_all(COOKIE) {
        first.append(COOKIE, value.clone());
    }
    let expected = found.unwrap_or(planted.as_str());
    assert_eq!(sessions.cookie_value(&first), Some(expected));
});

/// Whether `part` lies within `whole` (the same memory, not merely equal text).
fn is_slice_of(part: &str, whole: &str) -> bool {
    let whole = whole.as_bytes().as_ptr_range();
    let part = part.as_bytes().as_ptr_range();
    whole.start <= part.start && part.end <= whole.end
}
