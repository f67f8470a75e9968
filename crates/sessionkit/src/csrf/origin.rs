//! Where an unsafe request came from, by Django's rules (`CsrfViewMiddleware._origin_verified`
//! and `_check_referer`): the `Origin` header must name this site or a trusted origin; without
//! one, an HTTPS request's `Referer` must be an HTTPS page of this host or a trusted one. A
//! browser sets both itself, so another site cannot forge them; a token alone does not prove
//! that a request made over HTTPS did not come from a man in the middle's plain-HTTP page.

use http::HeaderMap;
use http::header::{HOST, ORIGIN, REFERER};

use crate::settings::ConfigError;

/// `CSRF_TRUSTED_ORIGINS`: origins besides the site's own that may send unsafe requests, such
/// as `https://admin.example.com`, or every subdomain with `https://*.example.com`.
#[derive(Debug, Clone, Default)]
pub(super) struct TrustedOrigins {
    /// Origins matched exactly (`scheme://host[:port]`), lower-cased.
    exact: Vec<String>,
    /// `(scheme, host pattern)` of the wildcard entries; a pattern starting with `.` matches
    /// that domain and its subdomains (Django's `is_same_domain`).
    subdomains: Vec<(String, String)>,
}

impl TrustedOrigins {
    /// Parses `CSRF_TRUSTED_ORIGINS`; an entry without a scheme is an error naming the
    /// setting, as in Django (4.0 and later).
    pub(super) fn parse<I, S>(origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut trusted = TrustedOrigins::default();
        for origin in origins {
            let origin = origin.as_ref().trim().to_ascii_lowercase();
            let Some((scheme, host)) = split_url(&origin).filter(|(_, host)| !host.is_empty())
            else {
                return Err(ConfigError::new(
                    "CSRF_TRUSTED_ORIGINS",
                    format!(
                        "{origin:?} must be an origin with a scheme, such as \
                         https://example.com or https://*.example.com"
                    ),
                ));
            };
            match host.strip_prefix('*') {
                Some(pattern) => trusted
                    .subdomains
                    .push((scheme.to_owned(), pattern.to_owned())),
                None => trusted.exact.push(origin.clone()),
            }
        }
        Ok(trusted)
    }

    /// Whether `origin`, an `Origin` header, is one of these.
    fn accepts_origin(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        if self.exact.contains(&origin) {
            return true;
        }
        split_url(&origin).is_some_and(|(scheme, host)| {
            self.subdomains
                .iter()
                .any(|(s, pattern)| s == scheme && is_same_domain(host, pattern))
        })
    }

    /// Whether `host` (with its port, if any), a `Referer`'s, is one of these hosts.
    fn accepts_referer_host(&self, host: &str) -> bool {
        let exact_hosts = self
            .exact
            .iter()
            .filter_map(|o| split_url(o).map(|(_, h)| h));
        let patterns = self.subdomains.iter().map(|(_, pattern)| pattern.as_str());
        exact_hosts
            .chain(patterns)
            .any(|pattern| is_same_domain(host, pattern))
    }
}

/// Why a request's origin was refused, in Django's words (`REASON_BAD_ORIGIN`, …).
pub(super) fn check(
    headers: &HeaderMap,
    uri: &http::Uri,
    https: bool,
    trusted: &TrustedOrigins,
) -> Result<(), String> {
    let host = request_host(headers, uri);
    let https = uri.scheme_str().map_or(https, |scheme| scheme == "https");
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let scheme = if https { "https" } else { "http" };
        let own =
            host.is_some_and(|host| origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")));
        if own || trusted.accepts_origin(origin) {
            return Ok(());
        }
        return Err(format!(
            "Origin checking failed - {origin} does not match any trusted origins."
        ));
    }
    if https {
        return check_referer(headers.get(REFERER), host, trusted);
    }
    Ok(())
}

/// Django's `_check_referer`, for an HTTPS request without `Origin`.
fn check_referer(
    referer: Option<&http::HeaderValue>,
    host: Option<&str>,
    trusted: &TrustedOrigins,
) -> Result<(), String> {
    let Some(referer) = referer else {
        return Err("Referer checking failed - no Referer.".to_owned());
    };
    let referer = referer.to_str().unwrap_or_default();
    let Some((scheme, referer_host)) = split_url(referer).filter(|(_, h)| !h.is_empty()) else {
        return Err("Referer checking failed - Referer is malformed.".to_owned());
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return Err("Referer checking failed - Referer is insecure while host is secure.".into());
    }
    let referer_host = referer_host.to_ascii_lowercase();
    let own = host.is_some_and(|host| host.eq_ignore_ascii_case(&referer_host));
    if own || trusted.accepts_referer_host(&referer_host) {
        return Ok(());
    }
    Err(format!(
        "Referer checking failed - {referer} does not match any trusted origins."
    ))
}

/// The host the request was sent to (`Host`, or the authority of an HTTP/2 request), with its
/// port if any.
fn request_host<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    uri.authority()
        .map(|authority| authority.as_str())
        .or_else(|| headers.get(HOST).and_then(|host| host.to_str().ok()))
        .filter(|host| !host.is_empty())
}

/// `scheme://host[:port]` out of a URL or origin, without user info, path, query or fragment;
/// `None` without a scheme.
fn split_url(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    Some((scheme, host))
}

/// Django's `is_same_domain`: `host` is `pattern`, or with a pattern starting with `.`, that
/// domain or a subdomain of it. Both lower-case.
fn is_same_domain(host: &str, pattern: &str) -> bool {
    match pattern.strip_prefix('.') {
        Some(domain) => host.ends_with(pattern) || host == domain,
        None => host == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    http::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    fn trusted() -> TrustedOrigins {
        TrustedOrigins::parse(["https://admin.example.com", "https://*.shop.example"]).unwrap()
    }

    fn verdict(pairs: &[(&'static str, &'static str)], https: bool) -> Result<(), String> {
        check(
            &headers(pairs),
            &http::Uri::from_static("/cart"),
            https,
            &trusted(),
        )
    }

    #[test]
    fn an_origin_must_be_this_site_or_a_trusted_one() {
        let host = ("host", "www.example.com");
        assert!(verdict(&[host, ("origin", "https://www.example.com")], true).is_ok());
        assert!(verdict(&[host, ("origin", "http://www.example.com")], false).is_ok());
        assert!(verdict(&[host, ("origin", "https://admin.example.com")], true).is_ok());
        assert!(verdict(&[host, ("origin", "https://a.b.shop.example")], true).is_ok());
        assert!(verdict(&[host, ("origin", "https://shop.example")], true).is_ok());
        for refused in [
            "http://www.example.com", // downgraded from HTTPS
            "https://evil.example",
            "http://a.shop.example", // the wildcard is for https only
            "null",
        ] {
            let pairs = [host, ("origin", refused)];
            let reason = verdict(&pairs, true).unwrap_err();
            assert_eq!(
                reason,
                format!("Origin checking failed - {refused} does not match any trusted origins.")
            );
        }
    }

    #[test]
    fn an_https_request_without_origin_needs_a_secure_referer_of_this_host() {
        let host = ("host", "www.example.com");
        assert!(
            verdict(&[host], false).is_ok(),
            "plain HTTP: no Referer check"
        );
        assert!(verdict(&[host, ("referer", "https://www.example.com/cart")], true).is_ok());
        assert!(verdict(&[host, ("referer", "https://admin.example.com/x")], true).is_ok());
        assert!(verdict(&[host, ("referer", "https://x.shop.example/")], true).is_ok());
        let cases = [
            (None, "Referer checking failed - no Referer."),
            (
                Some("/cart"),
                "Referer checking failed - Referer is malformed.",
            ),
            (
                Some("http://www.example.com/cart"),
                "Referer checking failed - Referer is insecure while host is secure.",
            ),
            (
                Some("https://evil.example/"),
                "Referer checking failed - https://evil.example/ does not match any trusted \
                 origins.",
            ),
        ];
        for (referer, reason) in cases {
            let mut pairs = vec![host];
            pairs.extend(referer.map(|r| ("referer", r)));
            assert_eq!(verdict(&pairs, true).unwrap_err(), reason, "{referer:?}");
        }
    }

    #[test]
    fn trusted_origins_need_a_scheme() {
        let error = TrustedOrigins::parse(["example.com"]).unwrap_err();
        assert_eq!(error.setting, "CSRF_TRUSTED_ORIGINS");
        assert!(error.message.contains("https://example.com"), "{error}");
    }
}
