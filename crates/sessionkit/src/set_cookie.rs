//! The session's `Set-Cookie` header. The name and the attributes that come from settings are
//! rendered once, when the layer is built; a response only adds the value, `Max-Age` and
//! `Expires`, into one buffer that becomes the header without another copy.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use httpdate::HttpDate;

use crate::settings::{SameSite, Settings};

/// The last second an `Expires` date can name (9999-12-31 23:59:59 UTC, RFC 6265's last year).
const LAST_EXPIRES: Duration = Duration::from_secs(253_402_300_799);

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
        write!(attributes, "; Path={}", settings.cookie_path).expect("writing to a String");
        if let Some(domain) = &settings.cookie_domain {
            write!(attributes, "; Domain={domain}").expect("writing to a String");
        }
        let mut template = CookieTemplate {
            name: format!("{}=", settings.cookie_name),
            attributes,
            deletion: HeaderValue::from_static(""),
        };
        template.deletion = template.set("", Some(0), SystemTime::UNIX_EPOCH);
        template
    }

    /// The header that sets the cookie to `value` for `max_age` seconds from `now` (`None`:
    /// until the browser closes).
    pub(crate) fn set(&self, value: &str, max_age: Option<i64>, now: SystemTime) -> HeaderValue {
        let mut header =
            String::with_capacity(self.name.len() + value.len() + self.attributes.len() + 64);
        header.push_str(&self.name);
        header.push_str(value);
        header.push_str(&self.attributes);
        if let Some(age) = max_age {
            let age = u64::try_from(age).unwrap_or(0);
            let expires = now
                .checked_add(Duration::from_secs(age))
                .map_or(LAST_EXPIRES, |at| {
                    at.duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default()
                        .min(LAST_EXPIRES)
                });
            write!(
                header,
                "; Max-Age={age}; Expires={}",
                HttpDate::from(SystemTime::UNIX_EPOCH + expires)
            )
            .expect("writing to a String");
        }
        HeaderValue::try_from(header)
            .expect("cookie values and validated settings are header-safe text")
    }

    /// The header that deletes the cookie.
    pub(crate) fn delete(&self) -> HeaderValue {
        self.deletion.clone()
    }
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
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
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
    fn negative_and_far_future_ages_stay_valid_dates() {
        let template = CookieTemplate::new(&Settings::new("s"));
        let now = SystemTime::now();
        assert!(text(&template.set("a", Some(-5), now)).contains("; Max-Age=0; Expires="));
        assert!(
            text(&template.set("a", Some(i64::MAX), now))
                .ends_with("Expires=Fri, 31 Dec 9999 23:59:59 GMT")
        );
    }
}
