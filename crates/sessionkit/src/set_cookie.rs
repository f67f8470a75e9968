//! The session cookie: browsers' size limit for it, and its `Set-Cookie` header. The name and
//! the attributes that come from settings are rendered once, when the layer is built; a
//! response only adds the value, `Max-Age` and `Expires`, into one buffer that becomes the
//! header without another copy.

use std::cell::Cell;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use httpdate::HttpDate;
use time::OffsetDateTime;

use crate::settings::{SameSite, Settings};

/// Browsers keep a cookie only if its name and value together fit in 4096 bytes.
///
#[cfg_attr(feature = "axum", doc = "```")]
#[cfg_attr(not(feature = "axum"), doc = "```ignore")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use sessionkit::{EngineKind, Sessions, Settings};
/// # let sessions = Sessions::open(Settings {
/// #     engine: EngineKind::SignedCookies,
/// #     ..Settings::new("secret")
/// # })
/// # .await?;
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use sessionkit::{Session, SessionError};
/// use sessionkit::settings::MAX_COOKIE_BYTES;
/// use sessionkit::engine::SessionKey;
/// use tower::ServiceExt;
///
/// async fn hoard(session: Session) -> Result<(), SessionError> {
///     // About 6 KB of random text: even compressed, no browser would keep the cookie.
///     let blob: String = (0..200).map(|_| SessionKey::generate().as_str().to_owned()).collect();
///     session.insert("blob", blob)
/// }
/// let app = Router::new().route("/", get(hoard)).layer(sessions.layer());
/// let response = app.oneshot(Request::new(Body::empty())).await?;
/// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR); // not a dropped cookie
/// assert!(response.headers().get("set-cookie").is_none());
/// # assert_eq!(MAX_COOKIE_BYTES, 4096);
/// # Ok(()) }
/// ```
pub const MAX_COOKIE_BYTES: usize = 4096;

/// The last second an `Expires` date can name (9999-12-31 23:59:59 UTC, RFC 6265's last year).
const LAST_EXPIRES: u64 = 253_402_300_799;

/// The session cookie of one [`Settings`], ready to be set or deleted.
#[derive(Debug)]
pub(crate) struct CookieTemplate {
    /// `name=`.
    name: String,
    /// `; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=…`, as the settings ask.
    attributes: String,
    /// The header that deletes the cookie: empty, `Max-Age=0`, expired in 1970 (Django's
    /// `delete_cookie`).
    deletion: HeaderValue,
}

impl CookieTemplate {
    /// Renders the fixed parts. `settings` must have passed [`Settings::validate`], which
    /// keeps the name, path and domain to header-safe characters.
    pub(crate) fn new(settings: &Settings) -> Self {
        let mut attributes = String::new();
        if settings.cookie_httponly {
            attributes.push_str("; HttpOnly");
        }
        match settings.cookie_samesite {
            Some(SameSite::Lax) => attributes.push_str("; SameSite=Lax"),
            Some(SameSite::Strict) => attributes.push_str("; SameSite=Strict"),
            Some(SameSite::None) => attributes.push_str("; SameSite=None"),
            None => {}
        }
        if settings.cookie_secure {
            attributes.push_str("; Secure");
        }
        // Writing to a String cannot fail.
        let _ = write!(attributes, "; Path={}", settings.cookie_path);
        if let Some(domain) = &settings.cookie_domain {
            let _ = write!(attributes, "; Domain={domain}");
        }
        let mut template = CookieTemplate {
            name: format!("{}=", settings.cookie_name),
            attributes,
            deletion: HeaderValue::from_static(""),
        };
        template.deletion = template.set("", Some(0), OffsetDateTime::UNIX_EPOCH);
        template
    }

    /// The header that sets the cookie to `value` for `max_age` seconds from `now` (`None`:
    /// until the browser closes).
    #[expect(
        clippy::expect_used,
        reason = "values are session keys or base64 and settings passed validate: header-safe"
    )]
    pub(crate) fn set(
        &self,
        value: &str,
        max_age: Option<i64>,
        now: OffsetDateTime,
    ) -> HeaderValue {
        let max_age = max_age.map(|age| u64::try_from(age).unwrap_or(0));
        // Exactly the header's length: a buffer with no spare room becomes the header's bytes
        // without another allocation.
        let dated = max_age.map_or(0, |age| {
            "; Max-Age=; Expires=".len() + decimal_digits(age) + HTTP_DATE_BYTES
        });
        let mut header =
            String::with_capacity(self.name.len() + value.len() + self.attributes.len() + dated);
        header.push_str(&self.name);
        header.push_str(value);
        header.push_str(&self.attributes);
        if let Some(age) = max_age {
            let now = u64::try_from(now.unix_timestamp()).unwrap_or(0);
            let expires = now.saturating_add(age).min(LAST_EXPIRES);
            let _ = write!(header, "; Max-Age={age}; Expires=");
            push_http_date(expires, &mut header);
        }
        debug_assert_eq!(header.len(), header.capacity());
        HeaderValue::try_from(header)
            .expect("cookie values and validated settings are header-safe text")
    }

    /// The header that deletes the cookie.
    pub(crate) fn delete(&self) -> HeaderValue {
        self.deletion.clone()
    }
}

/// How many digits `n` takes in decimal.
fn decimal_digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Length of an IMF-fixdate, `Tue, 14 Nov 2023 22:14:20 GMT`.
const HTTP_DATE_BYTES: usize = 29;

thread_local! {
    /// The last `Expires` date this thread rendered, by Unix second: under load, the cookies
    /// set within one second share it, so the calendar arithmetic runs once per second.
    static LAST_HTTP_DATE: Cell<(u64, [u8; HTTP_DATE_BYTES])> =
        const { Cell::new((u64::MAX, [0; HTTP_DATE_BYTES])) };
}

/// Appends `seconds` after the Unix epoch as an HTTP date.
fn push_http_date(seconds: u64, out: &mut String) {
    let (cached_seconds, cached) = LAST_HTTP_DATE.get();
    let date = if cached_seconds == seconds {
        cached
    } else {
        let mut date = [0; HTTP_DATE_BYTES];
        let text =
            HttpDate::from(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)).to_string();
        date.copy_from_slice(text.as_bytes());
        LAST_HTTP_DATE.set((seconds, date));
        date
    };
    // HTTP dates are ASCII, so this is never the empty fallback.
    out.push_str(std::str::from_utf8(&date).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(header: &HeaderValue) -> &str {
        header.to_str().unwrap()
    }

    #[test]
    fn renders_the_attributes_of_the_settings() {
        let mut settings = Settings::new("s");
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let template = CookieTemplate::new(&settings);
        assert_eq!(
            text(&template.set("abc", Some(60), at)),
            "sessionid=abc; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60; \
             Expires=Tue, 14 Nov 2023 22:14:20 GMT"
        );
        assert_eq!(
            text(&template.delete()),
            "sessionid=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
        settings.cookie_name = "sid".to_owned();
        settings.cookie_httponly = false;
        settings.cookie_secure = false;
        settings.cookie_samesite = None;
        settings.cookie_path = "/app".to_owned();
        settings.cookie_domain = Some(".example.com".to_owned());
        assert_eq!(
            text(&CookieTemplate::new(&settings).set("abc", None, at)),
            "sid=abc; Path=/app; Domain=.example.com"
        );
    }

    #[test]
    fn the_date_kept_from_the_last_cookie_is_used_only_for_the_same_second() {
        let template = CookieTemplate::new(&Settings::new("s"));
        let at = |seconds| OffsetDateTime::from_unix_timestamp(seconds).unwrap();
        let expires = |seconds| {
            let header = template.set("a", Some(0), at(seconds));
            text(&header).rsplit_once("Expires=").unwrap().1.to_owned()
        };
        for _ in 0..2 {
            assert_eq!(expires(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
            assert_eq!(expires(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
            assert_eq!(expires(1_700_000_001), "Tue, 14 Nov 2023 22:13:21 GMT");
        }
    }

    #[test]
    fn negative_and_far_future_ages_stay_valid_dates() {
        let template = CookieTemplate::new(&Settings::new("s"));
        let now = OffsetDateTime::now_utc();
        assert!(text(&template.set("a", Some(-5), now)).contains("; Max-Age=0; Expires="));
        assert!(
            text(&template.set("a", Some(i64::MAX), now))
                .ends_with("Expires=Fri, 31 Dec 9999 23:59:59 GMT")
        );
    }
}
