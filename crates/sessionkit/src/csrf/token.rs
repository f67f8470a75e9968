//! The CSRF secret and its tokens, in Django's format: a secret is 32 characters of
//! [`ALLOWED_CHARS`]; a token is a fresh random mask followed by the secret *masked* with it
//! (Django's `_mask_cipher_secret`), so the token differs on every page and a page compressed
//! over TLS does not leak the secret byte by byte (BREACH).

use subtle::ConstantTimeEq;

/// Characters of a secret, and of a mask (Django's `CSRF_SECRET_LENGTH`).
pub(super) const SECRET_LENGTH: usize = 32;
/// Characters of a token: a mask, then the masked secret (Django's `CSRF_TOKEN_LENGTH`).
const TOKEN_LENGTH: usize = 2 * SECRET_LENGTH;
/// What secrets, masks and tokens are made of, in Django's order (`CSRF_ALLOWED_CHARS`): masking
/// adds characters' positions here, modulo its length.
const ALLOWED_CHARS: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A secret: [`SECRET_LENGTH`] characters of [`ALLOWED_CHARS`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Secret([u8; SECRET_LENGTH]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a submitted token or a stored secret is not one, in Django's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Malformed {
    /// Neither a secret's nor a token's length.
    Length,
    /// A character outside [`ALLOWED_CHARS`].
    Characters,
}

impl Malformed {
    /// Django's `InvalidTokenFormat` reason.
    pub(super) fn reason(self) -> &'static str {
        match self {
            Malformed::Length => "has incorrect length",
            Malformed::Characters => "has invalid characters",
        }
    }
}

impl Secret {
    /// 32 characters of [`ALLOWED_CHARS`] from the OS CSPRNG, each equally likely: random bytes
    /// are taken modulo 62 only below 248 (4 × 62), so no character is favoured.
    pub(super) fn generate() -> Self {
        Secret(random_chars())
    }

    /// A secret as a cookie or the session stores it (Django's `_check_token_format` for a
    /// secret).
    pub(super) fn parse(text: &str) -> Result<Self, Malformed> {
        let chars: [u8; SECRET_LENGTH] =
            text.as_bytes().try_into().map_err(|_| Malformed::Length)?;
        match chars.iter().all(|c| ALLOWED_CHARS.contains(c)) {
            true => Ok(Secret(chars)),
            false => Err(Malformed::Characters),
        }
    }

    /// The secret as stored: its characters.
    pub(super) fn as_str(&self) -> &str {
        // ALLOWED_CHARS are ASCII, so this is never the empty fallback.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// A token for a form: this secret under a new random mask.
    pub(super) fn mask(&self) -> String {
        mask_with(self, &random_chars())
    }

    /// Django's `_check_token_format` then `_does_token_match`: whether `submitted`, a token
    /// or (as Django accepts) the bare secret, is of this secret, compared in constant time.
    pub(super) fn check(&self, submitted: &str) -> Result<bool, Malformed> {
        let submitted = match submitted.len() {
            TOKEN_LENGTH => unmask(submitted)?,
            SECRET_LENGTH => Secret::parse(submitted)?,
            _ => return Err(Malformed::Length),
        };
        Ok(bool::from(submitted.0.ct_eq(&self.0)))
    }
}

/// The mask, then each secret character moved along [`ALLOWED_CHARS`] by its mask
/// character's position.
fn mask_with(secret: &Secret, mask: &[u8; SECRET_LENGTH]) -> String {
    let masked = secret
        .0
        .iter()
        .zip(mask)
        .map(|(&s, &m)| char_at(position(s) + position(m)));
    mask.iter().copied().chain(masked).map(char::from).collect()
}

/// Django's `_unmask_cipher_token`: the secret a token was made from.
fn unmask(token: &str) -> Result<Secret, Malformed> {
    let (mask, masked) = token
        .split_at_checked(SECRET_LENGTH)
        .ok_or(Malformed::Characters)?;
    let (mask, masked) = (Secret::parse(mask)?, Secret::parse(masked)?);
    let mut secret = [0u8; SECRET_LENGTH];
    for ((out, &m), &c) in secret.iter_mut().zip(&mask.0).zip(&masked.0) {
        *out = char_at(position(c) + ALLOWED_CHARS.len() - position(m));
    }
    Ok(Secret(secret))
}

/// Where `c`, one of [`ALLOWED_CHARS`], is in it.
fn position(c: u8) -> usize {
    ALLOWED_CHARS.iter().position(|&a| a == c).unwrap_or(0)
}

/// The character at `position` of [`ALLOWED_CHARS`], going round.
fn char_at(position: usize) -> u8 {
    let chars = ALLOWED_CHARS.as_slice();
    chars.get(position % chars.len()).copied().unwrap_or(b'a')
}

fn random_chars() -> [u8; SECRET_LENGTH] {
    let unbiased_below = (256 / ALLOWED_CHARS.len() * ALLOWED_CHARS.len()) as u8;
    let mut chars = [0u8; SECRET_LENGTH];
    let mut unfilled = chars.iter_mut();
    let mut next = unfilled.next();
    while next.is_some() {
        let mut bytes = [0u8; 2 * SECRET_LENGTH];
        // Without the OS CSPRNG no secret can be made at all; the session keys need it too.
        #[expect(
            clippy::expect_used,
            reason = "the operating system's CSPRNG is always there on supported platforms"
        )]
        getrandom::fill(&mut bytes).expect("the operating system CSPRNG is unavailable");
        for byte in bytes.into_iter().filter(|&b| b < unbiased_below) {
            let Some(slot) = next.take() else { break };
            *slot = char_at(usize::from(byte));
            next = unfilled.next();
        }
    }
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_of(text: &str) -> Secret {
        Secret::parse(text).expect("a well-formed secret")
    }

    /// Made by Django 5.2's `django.middleware.csrf._mask_cipher_secret(DJANGO_SECRET)`, its
    /// `get_random_string` patched to return the mask `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef`.
    const DJANGO_SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEF";
    const DJANGO_TOKEN: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefACEGIKMOQSUWY02468acegikmoACEGIK";

    #[test]
    fn unmasking_a_token_made_by_django_gives_its_secret() {
        assert_eq!(
            unmask(DJANGO_TOKEN),
            Ok(secret_of(DJANGO_SECRET)),
            "Django's masking, character by character"
        );
    }

    #[test]
    fn masking_the_secret_with_djangos_mask_gives_djangos_token() {
        let mask = secret_of(&DJANGO_TOKEN[..SECRET_LENGTH]);
        assert_eq!(mask_with(&secret_of(DJANGO_SECRET), &mask.0), DJANGO_TOKEN);
    }

    #[test]
    fn tokens_differ_every_time_and_unmask_to_the_secret() {
        let secret = Secret::generate();
        let (first, second) = (secret.mask(), secret.mask());
        assert_ne!(first, second, "a fresh mask per token");
        for token in [first, second] {
            assert_eq!(token.len(), TOKEN_LENGTH);
            assert!(token.bytes().all(|c| ALLOWED_CHARS.contains(&c)), "{token}");
            assert_eq!(unmask(&token), Ok(secret));
        }
    }

    #[test]
    fn only_a_token_or_the_bare_secret_matches() {
        let secret = secret_of(DJANGO_SECRET);
        let token = secret.mask();
        assert_eq!(secret.check(&token), Ok(true));
        assert_eq!(secret.check(DJANGO_TOKEN), Ok(true));
        assert_eq!(secret.check(DJANGO_SECRET), Ok(true));
        assert_eq!(secret.check(&Secret::generate().mask()), Ok(false));
        assert_eq!(secret.check("abcdefghijklmnopqrstuvwxyzABCDEG"), Ok(false));
        let mut wrong_char = token.clone();
        wrong_char.replace_range(TOKEN_LENGTH - 1.., "-");
        assert_eq!(secret.check(&wrong_char), Err(Malformed::Characters));
        for wrong_length in ["", &token[1..], &format!("{token}x")] {
            assert_eq!(secret.check(wrong_length), Err(Malformed::Length));
        }
    }

    #[test]
    fn random_secrets_use_every_character_and_differ() {
        let seen: std::collections::BTreeSet<u8> =
            (0..200).flat_map(|_| Secret::generate().0).collect();
        assert_eq!(seen.len(), ALLOWED_CHARS.len());
        assert_ne!(Secret::generate(), Secret::generate());
    }
}
