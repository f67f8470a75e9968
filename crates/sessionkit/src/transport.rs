//! How the session key travels between client and server: in the session cookie (Django's
//! way, the default), or, with `SESSION_HEADER_NAME`, in a request header that the response
//! answers in the same header — for clients that keep a token rather than cookies (mobile
//! apps, scripts, a single-page app on another origin).
//!
//! In a header, the key comes and goes as is: the new key when the session is created or
//! rotated (`cycle_key` at login), and an **empty value** when the session ended (`flush` at
//! logout, or the last key removed), which tells the client to forget its token. Nothing else
//! changes: the same engines decide whether the value names a session, so an unknown, expired
//! or malformed value is no session, and a session saved under it gets a fresh key.

use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;

use crate::set_cookie::CookieTemplate;
use crate::settings::Settings;

/// The carrier of one application's session key, built once from its settings.
#[derive(Debug)]
pub(crate) enum Transport {
    /// The session cookie: `SESSION_COOKIE_NAME` and its attributes.
    Cookie {
        /// The cookie's name, to find it in a request.
        name: String,
        /// Its `Set-Cookie` headers.
        template: CookieTemplate,
    },
    /// `SESSION_HEADER_NAME`: the same header in requests and responses, never a cookie.
    Header(HeaderName),
}

impl Transport {
    /// The carrier `settings` ask for. They must have passed [`Settings::validate`], which
    /// checks that `SESSION_HEADER_NAME` is a header name.
    pub(crate) fn new(settings: &Settings) -> Self {
        let header = settings
            .header_name
            .as_deref()
            .and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok());
        match header {
            Some(header) => Transport::Header(header),
            None => Transport::Cookie {
                name: settings.cookie_name.clone(),
                template: CookieTemplate::new(settings),
            },
        }
    }

    /// The session key a request carried, if any. Of several headers the last wins, as of
    /// several cookies; a value that is not visible ASCII is no key at all.
    pub(crate) fn incoming<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        match self {
            Transport::Cookie { name, .. } => request_cookie(headers, name),
            Transport::Header(header) => headers
                .get_all(header)
                .iter()
                .next_back()
                .and_then(|value| value.to_str().ok())
                .filter(|value| !value.is_empty()),
        }
    }

    /// Gives the client `value`, the key of the session just saved, for `max_age` seconds
    /// from `now` (a header carries no expiry: the server's record has it).
    pub(crate) fn send(
        &self,
        headers: &mut HeaderMap,
        value: &str,
        max_age: Option<i64>,
        now: OffsetDateTime,
    ) {
        match self {
            Transport::Cookie { template, .. } => {
                headers.append(http::header::SET_COOKIE, template.set(value, max_age, now));
            }
            Transport::Header(header) => {
                // Server engines' values are keys of letters and digits: always header-safe.
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(header.clone(), value);
                }
            }
        }
        self.vary(headers);
    }

    /// Tells the client that its session ended: the cookie deleted, or the header empty.
    pub(crate) fn end(&self, headers: &mut HeaderMap) {
        match self {
            Transport::Cookie { template, .. } => {
                headers.append(http::header::SET_COOKIE, template.delete());
            }
            Transport::Header(header) => {
                headers.insert(header.clone(), HeaderValue::from_static(""));
            }
        }
        self.vary(headers);
    }

    /// `Vary` on the carrier: the response depends on the cookie or the header.
    pub(crate) fn vary(&self, headers: &mut HeaderMap) {
        match self {
            Transport::Cookie { .. } => patch_vary(headers, VARY_COOKIE),
            // A header name's value shares its bytes: no copy.
            Transport::Header(header) => patch_vary(headers, header.clone().into()),
        }
    }
}

/// `Vary: Cookie`, without allocating a value per response.
pub(crate) const VARY_COOKIE: HeaderValue = HeaderValue::from_static("Cookie");

/// Django's `patch_vary_headers(response, (name,))`: adds `name` to `Vary` once, keeping what
/// is there.
pub(crate) fn patch_vary(headers: &mut HeaderMap, name: HeaderValue) {
    let wanted = name.as_bytes();
    let present = headers
        .get_all(http::header::VARY)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .any(|v| v.eq_ignore_ascii_case(wanted) || v == b"*");
    if !present {
        headers.append(http::header::VARY, name);
    }
}

/// The value of the cookie `name` in a request's `Cookie` headers. Of several cookies of that
/// name the **last** wins, as in Django (whose `parse_cookie` fills a dict), so a request seen
/// by both a Django app and this one means the same session to each.
///
/// ```
/// use http::{HeaderMap, header::COOKIE};
/// use sessionkit::request_cookie;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(COOKIE, "sessionid=first; theme=dark; sessionid=second".parse()?);
/// assert_eq!(request_cookie(&headers, "sessionid"), Some("second"));
/// assert_eq!(request_cookie(&headers, "theme"), Some("dark"));
/// assert_eq!(request_cookie(&headers, "lang"), None);
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
pub fn request_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        // `to_str` let through visible ASCII only: ASCII trimming is all the trimming there is.
        .filter_map(|pair| pair.split_once('='))
        .rfind(|(key, _)| key.trim_ascii() == name)
        .map(|(_, value)| value.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_transport() -> Transport {
        Transport::new(&Settings {
            header_name: Some("X-Session-Token".to_owned()),
            ..Settings::new("s")
        })
    }

    #[test]
    fn vary_names_the_cookie_once_and_keeps_what_was_there() {
        let vary = |existing: &[&'static str]| {
            let mut headers = HeaderMap::new();
            for value in existing {
                headers.append(http::header::VARY, HeaderValue::from_static(value));
            }
            patch_vary(&mut headers, VARY_COOKIE);
            let values = headers.get_all(http::header::VARY).iter();
            values
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(vary(&[]), ["Cookie"]);
        assert_eq!(vary(&["Accept-Encoding"]), ["Accept-Encoding", "Cookie"]);
        assert_eq!(
            vary(&["Accept-Encoding , cookie"]),
            ["Accept-Encoding , cookie"]
        );
        assert_eq!(vary(&["Origin", "COOKIE"]), ["Origin", "COOKIE"]);
        assert_eq!(vary(&["*"]), ["*"], "everything already varies");
        assert_eq!(
            vary(&["Cookies"]),
            ["Cookies", "Cookie"],
            "a whole name only"
        );
    }

    #[test]
    fn a_header_transport_reads_the_last_visible_ascii_value() {
        let transport = header_transport();
        let mut headers = HeaderMap::new();
        assert_eq!(transport.incoming(&headers), None);
        headers.append("x-session-token", HeaderValue::from_static("first"));
        headers.append("x-session-token", HeaderValue::from_static("second"));
        assert_eq!(transport.incoming(&headers), Some("second"));
        headers.insert("x-session-token", HeaderValue::from_static(""));
        assert_eq!(transport.incoming(&headers), None, "empty is no key");
        let latin1 = HeaderValue::from_bytes(b"caf\xe9").unwrap();
        headers.insert("x-session-token", latin1);
        assert_eq!(transport.incoming(&headers), None, "not ASCII");
    }

    #[test]
    fn a_header_transport_answers_in_its_header_and_varies_on_it_once() {
        let transport = header_transport();
        let mut headers = HeaderMap::new();
        transport.send(&mut headers, "abc", Some(60), OffsetDateTime::now_utc());
        transport.end(&mut headers);
        assert_eq!(headers["x-session-token"], "", "the end replaces the key");
        assert_eq!(headers.get_all("x-session-token").iter().count(), 1);
        assert!(!headers.contains_key(http::header::SET_COOKIE));
        let vary: Vec<_> = headers.get_all(http::header::VARY).iter().collect();
        assert_eq!(vary, ["x-session-token"]);
    }
}
