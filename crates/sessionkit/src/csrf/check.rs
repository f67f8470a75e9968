//! The checks of an unsafe request, in Django's order, apart from any framework: the tower
//! layer runs them, and so can an adapter of another framework (sessionkit-actix) through
//! [`CsrfLayer::start`] and [`CsrfLayer::check`].

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::{Config, Csrf, CsrfLayer, FIELD_NAME, HEADER_NAME, origin};
use crate::error::SessionError;
use crate::session::LazySession;

/// Why [`CsrfLayer::check`] did not let a request through.
#[derive(Debug)]
pub enum CsrfRefusal {
    /// Refused, with Django's reason (such as `CSRF token missing.`): answer 403, with
    /// [`forbidden_text`] or a page of your own.
    Forbidden(String),
    /// The session failed while the secret was read from it (`CSRF_USE_SESSIONS`): answer as
    /// for any session error (a store failure is a 503).
    Session(SessionError),
}

/// Why the form carrying a request's token was not read: the adapters answer alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormRefusal {
    /// Longer than [`CsrfLayer::form_limit`]: 413.
    TooLarge,
    /// The body broke off: 400.
    Unreadable,
}

impl FormRefusal {
    /// The answer's status.
    pub fn status(self) -> StatusCode {
        match self {
            FormRefusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            FormRefusal::Unreadable => StatusCode::BAD_REQUEST,
        }
    }

    /// The answer's plain text.
    ///
    /// ```
    /// use sessionkit::csrf::FormRefusal;
    ///
    /// assert_eq!(FormRefusal::TooLarge.status(), 413);
    /// assert_eq!(FormRefusal::TooLarge.text(), "The form is too large.\n");
    /// ```
    pub fn text(self) -> &'static str {
        match self {
            FormRefusal::TooLarge => "The form is too large.\n",
            FormRefusal::Unreadable => "The form could not be read.\n",
        }
    }
}

impl IntoResponse for FormRefusal {
    fn into_response(self) -> Response {
        (self.status(), self.text()).into_response()
    }
}

/// Django's plain 403 text for a refusal.
///
/// ```
/// let text = sessionkit::csrf::forbidden_text("CSRF token missing.");
/// assert!(text.ends_with("Reason: CSRF token missing.\n"));
/// ```
pub fn forbidden_text(reason: &str) -> String {
    format!("Forbidden (403)\nCSRF verification failed. Request aborted.\n\nReason: {reason}\n")
}

impl CsrfLayer {
    /// Starts one request's check (for adapters; the tower layer calls it too): its [`Csrf`]
    /// handle, with the secret of its `csrftoken` cookie, or with `CSRF_USE_SESSIONS` the
    /// request's `session` to read it from — without one, the session layer is missing.
    pub fn start(
        &self,
        headers: &HeaderMap,
        session: Option<LazySession>,
    ) -> Result<Csrf, SessionError> {
        let session = match (self.config.use_sessions, session) {
            (false, _) => None,
            (true, Some(session)) => Some(session),
            (true, None) => return Err(SessionError::MissingLayer),
        };
        Ok(Csrf::for_request(self.config.clone(), headers, session))
    }

    /// Whether [`check`](CsrfLayer::check) needs the request's body: an unsafe URL-encoded
    /// form POST without an `X-CSRFToken` header carries its token in the body. Read it, up to
    /// [`form_limit`](CsrfLayer::form_limit) bytes, and hand the same bytes on.
    pub fn reads_form(&self, method: &Method, headers: &HeaderMap) -> bool {
        *method == Method::POST && header_token(headers).is_none() && is_form(headers)
    }

    /// The largest form body the check reads (`max_form_bytes`); a larger one is a 413.
    pub fn form_limit(&self) -> usize {
        self.config.max_form_bytes
    }

    /// Checks a request, in Django's order: nothing for a safe method; else the origin, then
    /// that the browser has a secret, then the token — of the `X-CSRFToken` header, or of the
    /// `form` body when [`reads_form`](CsrfLayer::reads_form) said so. The secret is read
    /// first, so a refusal page's tokens are of it, never a new one that would replace it.
    pub async fn check(
        &self,
        csrf: &Csrf,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        form: Option<&[u8]>,
    ) -> Result<(), CsrfRefusal> {
        if method.is_safe() {
            return Ok(());
        }
        csrf.read().await.map_err(CsrfRefusal::Session)?;
        check_unsafe(&self.config, csrf, uri, headers, form).map_err(CsrfRefusal::Forbidden)
    }
}

/// The checks of an unsafe request once its secret is read: `Err` holds Django's reason.
fn check_unsafe(
    config: &Config,
    csrf: &Csrf,
    uri: &Uri,
    headers: &HeaderMap,
    form: Option<&[u8]>,
) -> Result<(), String> {
    origin::check(headers, uri, config.https, &config.trusted)?;
    let Some(secret) = csrf.secret() else {
        return Err("CSRF cookie not set.".to_owned());
    };
    let (submitted, source) = match header_token(headers) {
        Some(token) => (token, "the 'X-CSRFToken' HTTP header"),
        None => {
            let token = form.and_then(|form| form_field(form, FIELD_NAME));
            (token.unwrap_or_default(), "POST")
        }
    };
    if submitted.is_empty() {
        return Err("CSRF token missing.".to_owned());
    }
    match secret.check(&submitted) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("CSRF token from {source} incorrect.")),
        Err(malformed) => Err(format!("CSRF token from {source} {}.", malformed.reason())),
    }
}

/// What the tower layer's check decided.
pub(super) enum Verdict {
    /// Let through, with the body as it was (or as read for its token).
    Pass(Request<Body>),
    /// Refused: the request's parts and Django's reason.
    Refuse(http::request::Parts, String),
    /// An answer of its own: a body too large, or the session failing.
    Answer(Response),
}

/// The tower layer's check: [`CsrfLayer::check`], with the form read from the body first
/// when the token is in it.
pub(super) async fn verify(layer: &CsrfLayer, csrf: &Csrf, request: Request<Body>) -> Verdict {
    let (parts, body) = request.into_parts();
    let (form, body) = match layer.reads_form(&parts.method, &parts.headers) {
        true => match read_form(body, layer.form_limit()).await {
            Ok(bytes) => (Some(bytes.clone()), Body::from(bytes)),
            Err(refusal) => return Verdict::Answer(refusal.into_response()),
        },
        false => (None, body),
    };
    let checked = layer
        .check(
            csrf,
            &parts.method,
            &parts.uri,
            &parts.headers,
            form.as_deref(),
        )
        .await;
    match checked {
        Ok(()) => Verdict::Pass(Request::from_parts(parts, body)),
        Err(CsrfRefusal::Forbidden(reason)) => Verdict::Refuse(parts, reason),
        Err(CsrfRefusal::Session(error)) => Verdict::Answer(error.into_response()),
    }
}

/// The token of the `X-CSRFToken` header, if it carries one.
fn header_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(HEADER_NAME)?.to_str().ok()?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// Whether the body is a URL-encoded form (what a browser sends for a `<form>` without files).
fn is_form(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(CONTENT_TYPE) else {
        return false;
    };
    let essence = content_type.to_str().unwrap_or_default().split(';').next();
    essence.is_some_and(|e| {
        e.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// The form, up to `limit` bytes, or why it was not read.
async fn read_form(body: Body, limit: usize) -> Result<Bytes, FormRefusal> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(FormRefusal::TooLarge),
        Err(_) => Err(FormRefusal::Unreadable),
    }
}

/// The first value of the field `name` in a URL-encoded form, decoded.
fn form_field(form: &[u8], name: &str) -> Option<String> {
    form.split(|&b| b == b'&')
        .filter_map(|pair| {
            let split = pair.iter().position(|&b| b == b'=');
            let (key, value) = match split {
                Some(at) => (pair.get(..at)?, pair.get(at + 1..)?),
                None => (pair, &[][..]),
            };
            Some((percent_decode(key), value))
        })
        .find(|(key, _)| key == name)
        .map(|(_, value)| percent_decode(value))
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; bytes that are
/// not UTF-8 become U+FFFD (they can never be part of a token).
fn percent_decode(text: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.iter();
    while let Some(&byte) = rest.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = rest
                    .as_slice()
                    .get(..2)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(decoded) => {
                        bytes.push(decoded);
                        rest.nth(1);
                    }
                    None => bytes.push(b'%'),
                }
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_field_is_found_and_decoded_anywhere_in_the_form() {
        let form = b"slug=pad+lock&csrfmiddlewaretoken=ab%43d&x";
        assert_eq!(form_field(form, FIELD_NAME).as_deref(), Some("abCd"));
        assert_eq!(form_field(form, "slug").as_deref(), Some("pad lock"));
        assert_eq!(form_field(form, "x").as_deref(), Some(""));
        assert_eq!(form_field(b"csrfmiddlewaretoken%3D=1", FIELD_NAME), None);
        assert_eq!(form_field(b"%zz=%", "%zz").as_deref(), Some("%"));
        assert_eq!(form_field(b"", FIELD_NAME), None);
    }
}
