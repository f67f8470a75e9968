//! Cross-site request forgery protection, as Django's `CsrfViewMiddleware` with its default
//! `CSRF_USE_SESSIONS = False`: a random secret lives in a cookie of its own, `csrftoken`;
//! every form carries a token, the secret *masked* by a fresh random mask; and a POST whose
//! token does not unmask to the cookie's secret is refused with a 403 page
//! ([`super::csrf_guard`], the middleware; this module holds the secret and its tokens).
//!
//! Another site can make a browser POST to the store with the store's cookies, but can read
//! neither them nor the store's pages, so it cannot know the secret. The mask makes the token
//! differ on every page, so a page compressed over TLS does not leak the secret byte by byte
//! (BREACH). Keeping the secret out of the session means that a visitor who only browses has
//! no session at all: the store keeps nothing for them. Login replaces the secret
//! ([`Csrf::rotate`]); logout keeps it, as Django does.

use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderValue};
use sessionkit::request_cookie;
use subtle::ConstantTimeEq;

use super::format::escape;

/// The cookie holding the secret (Django's `CSRF_COOKIE_NAME`).
pub const COOKIE_NAME: &str = "csrftoken";
/// How long browsers keep it: Django's `CSRF_COOKIE_AGE`, 52 weeks.
const COOKIE_MAX_AGE: u32 = 52 * 7 * 24 * 60 * 60;
/// The name of the hidden form field.
const FIELD: &str = "csrf_token";
/// Characters of a secret, and of a mask (Django's `CSRF_SECRET_LENGTH`).
const SECRET_LENGTH: usize = 32;
/// Characters of a token: a mask, then the masked secret (Django's `CSRF_TOKEN_LENGTH`).
const TOKEN_LENGTH: usize = 2 * SECRET_LENGTH;
/// What secrets, masks and tokens are made of, in Django's order (`CSRF_ALLOWED_CHARS`): masking
/// adds characters' positions here, modulo its length.
const ALLOWED_CHARS: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Characters of [`ALLOWED_CHARS`], a secret or a mask.
type Chars = [u8; SECRET_LENGTH];

/// The request's CSRF secret, shared by [`protect`](super::csrf_guard::protect) (which reads
/// the cookie and, when the secret is new, sets it) and the page (which puts tokens in its
/// forms). Cheap to clone.
#[derive(Clone)]
pub struct Csrf(Arc<Mutex<Secret>>);

struct Secret {
    /// The cookie's secret if it was well-formed, else one made for this response, if any.
    chars: Option<Chars>,
    /// Whether `chars` is new, so the response must set the cookie.
    is_new: bool,
}

impl Csrf {
    /// The secret of the `csrftoken` cookie in `headers`; a malformed one counts as none.
    pub fn from_cookie(headers: &HeaderMap) -> Self {
        let chars = request_cookie(headers, COOKIE_NAME).and_then(|value| parse(value).ok());
        Csrf(Arc::new(Mutex::new(Secret {
            chars,
            is_new: false,
        })))
    }

    fn secret(&self) -> std::sync::MutexGuard<'_, Secret> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A token for a form: the secret, made first if the browser has none, under a new mask.
    pub fn token(&self) -> String {
        let mut secret = self.secret();
        let chars = match secret.chars {
            Some(chars) => chars,
            None => {
                let chars = random_chars();
                *secret = Secret {
                    chars: Some(chars),
                    is_new: true,
                };
                chars
            }
        };
        mask(&chars)
    }

    /// Replaces the secret (on login), so a secret planted in the browser before is worthless.
    pub fn rotate(&self) {
        let mut secret = self.secret();
        secret.chars = Some(random_chars());
        secret.is_new = true;
    }

    /// Whether `submitted` is a token of the cookie's secret, compared in constant time. As in
    /// Django, a bare secret is accepted too (it is as secret as the cookie it comes from);
    /// without the cookie nothing matches.
    pub fn accepts(&self, submitted: Option<&str>) -> bool {
        let (Some(expected), Some(submitted)) = (self.secret().chars, submitted) else {
            return false;
        };
        let submitted = match submitted.len() {
            TOKEN_LENGTH => unmask(submitted),
            _ => parse(submitted),
        };
        submitted.is_ok_and(|submitted| bool::from(submitted.ct_eq(&expected)))
    }

    /// The `Set-Cookie` that gives the browser a new secret, if the response needs one.
    pub fn set_cookie(&self, secure: bool) -> Option<HeaderValue> {
        let secret = self.secret();
        let chars = secret.chars.filter(|_| secret.is_new)?;
        let secure = if secure { "; Secure" } else { "" };
        let value = format!(
            "{COOKIE_NAME}={}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Lax{secure}",
            String::from_utf8_lossy(&chars)
        );
        HeaderValue::from_str(&value).ok()
    }
}

/// A secret as the cookie or a bare-secret form field carries it.
fn parse(text: &str) -> Result<Chars, Malformed> {
    let chars: Chars = text.as_bytes().try_into().map_err(|_| Malformed)?;
    match chars.iter().all(|c| ALLOWED_CHARS.contains(c)) {
        true => Ok(chars),
        false => Err(Malformed),
    }
}

/// A token or secret that is not one: wrong length or characters.
struct Malformed;

/// Django's `_mask_cipher_secret`: a token of `secret` under a random mask.
fn mask(secret: &Chars) -> String {
    mask_with(secret, &random_chars())
}

/// The mask, then each secret character moved along [`ALLOWED_CHARS`] by its mask
/// character's position.
fn mask_with(secret: &Chars, mask: &Chars) -> String {
    let masked = secret
        .iter()
        .zip(mask)
        .map(|(&s, &m)| ALLOWED_CHARS[(position(s) + position(m)) % ALLOWED_CHARS.len()]);
    mask.iter().copied().chain(masked).map(char::from).collect()
}

/// Django's `_unmask_cipher_token`: the secret a token was made from.
fn unmask(token: &str) -> Result<Chars, Malformed> {
    let (mask, masked) = token.split_at_checked(SECRET_LENGTH).ok_or(Malformed)?;
    let (mask, masked) = (parse(mask)?, parse(masked)?);
    let length = ALLOWED_CHARS.len();
    Ok(std::array::from_fn(|i| {
        ALLOWED_CHARS[(position(masked[i]) + length - position(mask[i])) % length]
    }))
}

/// Where `c`, one of [`ALLOWED_CHARS`], is in it.
fn position(c: u8) -> usize {
    ALLOWED_CHARS.iter().position(|&a| a == c).unwrap_or(0)
}

/// 32 characters of [`ALLOWED_CHARS`] from the OS CSPRNG, each equally likely: random bytes
/// are taken modulo 62 only below 248 (4 × 62), so no character is favoured.
fn random_chars() -> Chars {
    let unbiased_below = (256 / ALLOWED_CHARS.len() * ALLOWED_CHARS.len()) as u8;
    let mut chars = [0u8; SECRET_LENGTH];
    let mut filled = 0;
    while filled < SECRET_LENGTH {
        let mut bytes = [0u8; 2 * SECRET_LENGTH];
        getrandom::fill(&mut bytes).expect("the operating system CSPRNG is unavailable");
        for byte in bytes.into_iter().filter(|&b| b < unbiased_below) {
            if filled < SECRET_LENGTH {
                chars[filled] = ALLOWED_CHARS[usize::from(byte) % ALLOWED_CHARS.len()];
                filled += 1;
            }
        }
    }
    chars
}

/// The hidden field that carries `token` in a form.
pub fn field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{FIELD}\" value=\"{}\">",
        escape(token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_of(text: &str) -> Chars {
        parse(text).ok().expect("a well-formed secret")
    }

    /// Made by Django 5.2's `django.middleware.csrf._mask_cipher_secret(DJANGO_SECRET)`, its
    /// `get_random_string` patched to return the mask `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef`.
    const DJANGO_SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEF";
    const DJANGO_TOKEN: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefACEGIKMOQSUWY02468acegikmoACEGIK";

    #[test]
    fn unmasking_a_token_made_by_django_gives_its_secret() {
        assert_eq!(
            unmask(DJANGO_TOKEN).ok(),
            Some(secret_of(DJANGO_SECRET)),
            "Django's masking, character by character"
        );
    }

    #[test]
    fn masking_the_secret_with_djangos_mask_gives_djangos_token() {
        let token = mask_with(
            &secret_of(DJANGO_SECRET),
            &secret_of(&DJANGO_TOKEN[..SECRET_LENGTH]),
        );
        assert_eq!(token, DJANGO_TOKEN);
    }

    #[test]
    fn tokens_differ_every_time_and_unmask_to_the_secret() {
        let secret = random_chars();
        let (first, second) = (mask(&secret), mask(&secret));
        assert_ne!(first, second, "a fresh mask per token");
        for token in [first, second] {
            assert_eq!(token.len(), TOKEN_LENGTH);
            assert!(token.bytes().all(|c| ALLOWED_CHARS.contains(&c)), "{token}");
            assert_eq!(unmask(&token).ok(), Some(secret));
        }
    }

    #[test]
    fn only_a_token_or_the_bare_secret_of_the_cookie_is_accepted() {
        let csrf = Csrf::from_cookie(&HeaderMap::from_iter([(
            axum::http::header::COOKIE,
            HeaderValue::from_static("csrftoken=abcdefghijklmnopqrstuvwxyzABCDEF"),
        )]));
        let token = csrf.token();
        assert!(csrf.accepts(Some(&token)));
        assert!(csrf.accepts(Some(DJANGO_TOKEN)));
        assert!(csrf.accepts(Some(DJANGO_SECRET)));
        assert!(
            csrf.set_cookie(true).is_none(),
            "the cookie's secret is kept"
        );
        let other = mask(&random_chars());
        let mut wrong_char = token.clone();
        wrong_char.replace_range(TOKEN_LENGTH - 1.., "-");
        for refused in [
            None,
            Some(""),
            Some(other.as_str()),
            Some(&token[1..]),
            Some(&wrong_char),
            Some("abcdefghijklmnopqrstuvwxyzABCDEG"),
        ] {
            assert!(!csrf.accepts(refused), "{refused:?}");
        }
    }

    #[test]
    fn without_a_cookie_nothing_matches_and_a_token_brings_a_new_secret() {
        let csrf = Csrf::from_cookie(&HeaderMap::new());
        assert!(!csrf.accepts(Some(DJANGO_TOKEN)));
        assert!(csrf.set_cookie(true).is_none(), "nothing to send yet");
        let token = csrf.token();
        let cookie = csrf.set_cookie(true).expect("the new secret is sent");
        let secret = unmask(&token).ok().expect("a well-formed token");
        assert!(cookie.as_bytes()[COOKIE_NAME.len() + 1..].starts_with(&secret));
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("csrftoken="), "{cookie}");
        assert!(
            cookie.ends_with("; Max-Age=31449600; Path=/; SameSite=Lax; Secure"),
            "{cookie}"
        );
    }
}
