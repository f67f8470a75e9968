//! `encrypted_cookies`: the whole session lives in the cookie, as with `signed_cookies`, but
//! encrypted and authenticated, so the user can neither read nor change it.
//!
//! Nothing is stored on the server. Two of `signed_cookies`' costs remain: the session must
//! fit in ~4 KB, and a cookie cannot be revoked before it expires (logout only stops *this*
//! browser from sending it) unless the revocation list (`SESSION_REVOCATION_URL`) is on;
//! concurrent requests cannot be merged either.
//!
//! # Format, version 1
//!
//! The cookie value is unpadded URL-safe base64 of
//!
//! ```text
//! version (1 byte, 1) ‖ key id (4) ‖ nonce (24) ‖ ciphertext of (issued at ‖ JSON) ‖ tag (16)
//! ```
//!
//! sealed with XChaCha20-Poly1305, the associated data being `version ‖ key id ‖ purpose ‖
//! cookie name`. "Issued at" is the save time in Unix seconds (8 bytes, big-endian); the JSON
//! is the session as `signed_cookies` writes it ([`to_python_json`]). The value is 71
//! characters longer than the base64 of its JSON.
//!
//! # Why this way
//!
//! - **XChaCha20-Poly1305, not AES-256-GCM**: its nonces are 192 bits, so every server that
//!   shares `SECRET_KEY` draws them at random, with no counter to keep and nothing to
//!   coordinate. AES-GCM's 96-bit random nonces repeat, which breaks both secrecy and
//!   authenticity, with probability about 2⁻³² after 2³² cookies under one key: a site
//!   issuing 100,000 cookies a second gets there in half a day. It is also constant-time in
//!   software, on CPUs without AES instructions.
//! - **The key is derived**, with HKDF-SHA256 from `SECRET_KEY` under [`PURPOSE`]: never the
//!   secret itself, nor the HMAC key `signed_cookies` signs with, so no other use of the
//!   secret shares this key.
//! - **The key id** (4 bytes derived from the same secret under another label) says which key
//!   sealed a cookie: loading tries that key alone rather than every fallback, and a cookie
//!   sealed with a key now in `SECRET_KEY_FALLBACKS` is known, without decrypting twice, to
//!   need re-sealing: the session is saved again under `SECRET_KEY` at the end of the request
//!   that reads it ([`Engine::needs_reissue`]). The id tells an onlooker only whether two
//!   cookies share a key.
//! - **The cookie name is associated data**: a value moved to another cookie (another
//!   application on the same domain with the same secret, say) does not open there.
//! - **The issue time is inside the ciphertext**, so `SESSION_COOKIE_AGE` and `set_expiry` are
//!   judged exactly as `signed_cookies` judges its signed timestamp.
//! - **No compression.** Compressing secret data before encrypting it makes the ciphertext's
//!   length depend on the content (CRIME, BREACH): an attacker who can put chosen text in a
//!   session and see the cookie's length learns the rest of it a few bytes at a time. So an
//!   encrypted cookie is as long as its JSON plus the overhead above, where `signed_cookies`
//!   compresses large sessions with zlib: 3 KB of repetitive JSON fits signed, not encrypted.
//! - **The version byte** comes first, so a later format can be read alongside this one.
//!
//! A value that is tampered with, truncated, of another version, sealed with another key or
//! for another cookie name, expired or malformed is no session (a warning in the log), never
//! an error.

use std::sync::Arc;

use async_trait::async_trait;
use base64_simd::{AsOut, URL_SAFE_NO_PAD};
use chacha20poly1305::XNonce;
use chacha20poly1305::aead::AeadInOut;
use time::OffsetDateTime;

use super::revocation::{CookieRevocations, CookieSession, RevocationList};
use super::signed_cookies::MAX_COOKIE_VALUE_BYTES;
use super::{Data, Engine, EngineError, Loaded, SaveRequest, Saved};
use crate::config::Secrets;
use crate::django::json::{from_python_json, to_python_json};
use crate::expiry::cookie_expiry;

/// What the encrypted-cookie engine needs: the secrets to derive its keys from, the cookie
/// name each value is bound to, and `SESSION_COOKIE_AGE`, past which a cookie is refused
/// however it was sealed. `From<&Settings>` fills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedCookieConfig {
    /// `SECRET_KEY` and `SECRET_KEY_FALLBACKS`.
    pub secrets: Secrets,
    /// `SESSION_COOKIE_NAME`: a value sealed for one name does not open under another.
    pub cookie_name: String,
    /// `SESSION_COOKIE_AGE`, in seconds.
    pub cookie_age: i64,
}

/// The client-side engine whose cookies the client cannot read.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use sessionkit::engine::{ChangeSet, Engine, EncryptedCookieEngine, SaveRequest};
/// use sessionkit::Settings;
///
/// let engine = EncryptedCookieEngine::new(&Settings::new("secret"));
/// let data = std::sync::Arc::new(sessionkit::engine::Data::from_json(r#"{"cart": [7]}"#).unwrap());
/// let saved = engine
///     .save(SaveRequest {
///         previous: None,
///         data: &data,
///         changes: &ChangeSet::default(),
///         now: time::OffsetDateTime::now_utc(),
///         cookie_age: 3600,
///     })
///     .await
///     .unwrap();
/// let cookie = saved.cookie_value;
/// assert!(!cookie.contains("cart")); // not readable, in base64 or otherwise
/// assert_eq!(engine.load(&cookie).await.unwrap().unwrap().data, data);
/// let mut tampered = cookie.into_bytes();
/// tampered[40] = if tampered[40] == b'A' { b'B' } else { b'A' };
/// let tampered = String::from_utf8(tampered).unwrap();
/// assert!(engine.load(&tampered).await.unwrap().is_none()); // no session, no error
/// # }
/// ```
#[derive(Clone)]
pub struct EncryptedCookieEngine {
    /// Seals every new cookie.
    current: SealingKey,
    /// Still open what they sealed (`SECRET_KEY_FALLBACKS`).
    fallbacks: Vec<SealingKey>,
    cookie_age: i64,
    /// The logged-out sessions (`SESSION_REVOCATION_URL`), if the list is on.
    revocations: CookieRevocations,
}

impl std::fmt::Debug for EncryptedCookieEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedCookieEngine")
            .field("fallbacks", &self.fallbacks.len())
            .field("cookie_age", &self.cookie_age)
            .finish_non_exhaustive()
    }
}

/// An opened cookie: the session and when it was issued.
///
/// ```
/// use sessionkit::engine::EncryptedCookieEngine;
/// use sessionkit::Settings;
///
/// let engine = EncryptedCookieEngine::new(&Settings::new("secret"));
/// let data = sessionkit::engine::Data::from_json(r#"{"user_id": 42}"#).unwrap();
/// let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
/// let opened = engine.unseal(&engine.seal(&data, now).unwrap()).unwrap();
/// assert_eq!((opened.data, opened.issued_at, opened.with_fallback), (data, now, false));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Unsealed {
    /// The session data.
    pub data: Data,
    /// When the cookie was issued (sealed), to the second.
    pub issued_at: OffsetDateTime,
    /// Whether a `SECRET_KEY_FALLBACKS` key sealed it (it is re-sealed with `SECRET_KEY` when
    /// read).
    pub with_fallback: bool,
}

/// Why a value is not a cookie of this engine. None of these is a server error: the engine
/// treats the value as no session.
///
/// ```
/// use sessionkit::engine::EncryptedCookieEngine;
/// use sessionkit::engine::encrypted_cookies::UnsealError;
/// use sessionkit::Settings;
///
/// let engine = EncryptedCookieEngine::new(&Settings::new("secret"));
/// let other = EncryptedCookieEngine::new(&Settings::new("another secret"));
/// let data = sessionkit::engine::Data::from_json(r#"{"user_id": 42}"#).unwrap();
/// let cookie = other.seal(&data, time::OffsetDateTime::now_utc()).unwrap();
/// assert_eq!(engine.unseal(&cookie), Err(UnsealError::UnknownKey));
/// assert!(matches!(engine.unseal("not:base64"), Err(UnsealError::Malformed(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    /// Not base64, or too short to hold a sealed session.
    #[error("malformed encrypted value: {0}")]
    Malformed(&'static str),
    /// The first byte names a format this version of sessionkit does not know.
    #[error("unknown encrypted cookie version {0}")]
    UnknownVersion(u8),
    /// Neither `SECRET_KEY` nor a fallback sealed it (another secret, or a forged key id).
    #[error("sealed with a key that is neither SECRET_KEY nor one of SECRET_KEY_FALLBACKS")]
    UnknownKey,
    /// The key is known but the value does not open: tampered with, truncated, or sealed for
    /// another cookie name.
    #[error("does not decrypt: tampered with, or sealed for another cookie name")]
    Inauthentic,
    /// It opens, but what it holds is not a session (only a holder of the key could seal it).
    #[error("decrypted payload is not a session: {0}")]
    BadPayload(&'static str),
}

impl EncryptedCookieEngine {
    /// An engine sealing with the key derived from `SECRET_KEY` and opening with the keys of
    /// its fallbacks too.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sessionkit::engine::{EncryptedCookieEngine, Engine};
    /// use sessionkit::Settings;
    ///
    /// let before = EncryptedCookieEngine::new(&Settings::new("old secret"));
    /// let data = sessionkit::engine::Data::from_json(r#"{"user_id": 42}"#).unwrap();
    /// let old_cookie = before.seal(&data, time::OffsetDateTime::now_utc())?;
    /// let rotated = EncryptedCookieEngine::new(&Settings {
    ///     secret_key: "new secret".into(),
    ///     secret_key_fallbacks: vec!["old secret".into()],
    ///     ..Settings::new("")
    /// });
    /// assert!(rotated.load(&old_cookie).await?.is_some()); // still valid after the rotation
    /// assert!(rotated.needs_reissue(&old_cookie)); // and sealed anew when read
    /// # Ok(()) }
    /// ```
    pub fn new(config: impl Into<EncryptedCookieConfig>) -> Self {
        let config = config.into();
        let key = |secret: &String| SealingKey::derive(secret, &config.cookie_name);
        EncryptedCookieEngine {
            current: key(&config.secrets.key),
            fallbacks: config.secrets.fallbacks.iter().map(key).collect(),
            cookie_age: config.cookie_age,
            revocations: CookieRevocations::default(),
        }
    }

    /// The same engine, refusing the cookies of sessions that were logged out (see
    /// [`RevocationList`]).
    pub fn with_revocations(mut self, revocations: RevocationList) -> Self {
        self.revocations = CookieRevocations::on(revocations);
        self
    }

    /// The session of a sealed, unexpired cookie.
    fn verified(&self, cookie_value: &str) -> Option<CookieSession> {
        let unsealed = match self.unseal(cookie_value) {
            Ok(unsealed) => unsealed,
            Err(reason) => {
                tracing::warn!(%reason, "ignoring session cookie");
                return None;
            }
        };
        let expires = cookie_expiry(&unsealed.data, unsealed.issued_at, self.cookie_age);
        if OffsetDateTime::now_utc() > expires {
            tracing::warn!(%expires, "ignoring expired session cookie");
            return None;
        }
        Some(CookieSession {
            data: unsealed.data,
            issued_at: unsealed.issued_at,
            expires,
        })
    }

    /// The cookie value holding `data`, issued at `issued_at`, sealed with `SECRET_KEY`.
    /// Only the operating system's random source can fail (for the nonce).
    pub fn seal(&self, data: &Data, issued_at: OffsetDateTime) -> Result<String, EngineError> {
        self.seal_payload(to_python_json(data).as_bytes(), issued_at.unix_timestamp())
    }

    /// The cookie value holding `json`, whatever its bytes, issued at `issued_at` Unix
    /// seconds, sealed with `SECRET_KEY`: [`EncryptedCookieEngine::seal`] without the JSON
    /// writer, so the fuzz target can seal what only a key holder (or a bug) could.
    pub(crate) fn seal_payload(&self, json: &[u8], issued_at: i64) -> Result<String, EngineError> {
        let key = &self.current;
        let mut nonce = [0; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(EngineError::unavailable)?;
        let mut sealed = Vec::with_capacity(OVERHEAD_BYTES + json.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&key.id);
        sealed.extend_from_slice(&nonce);
        let plaintext_at = sealed.len();
        sealed.extend_from_slice(&issued_at.to_be_bytes());
        sealed.extend_from_slice(json);
        let plaintext = sealed.get_mut(plaintext_at..).unwrap_or_default();
        let tag = key
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), &key.associated_data, plaintext.into())
            .map_err(|_| EngineError::unavailable(std::io::Error::other("session too large")))?;
        sealed.extend_from_slice(&tag);
        Ok(URL_SAFE_NO_PAD.encode_to_string(&sealed))
    }

    /// What `cookie_value` holds, if one of the keys sealed it for this cookie name. Its age
    /// is not judged here: [`Engine::load`] does that.
    pub fn unseal(&self, cookie_value: &str) -> Result<Unsealed, UnsealError> {
        let mut bytes = URL_SAFE_NO_PAD
            .decode_to_vec(cookie_value)
            .map_err(|_| UnsealError::Malformed("not unpadded URL-safe base64"))?;
        let too_short = UnsealError::Malformed("too short to hold a session");
        let (header, rest) = bytes
            .split_first_chunk_mut::<HEADER_BYTES>()
            .ok_or(too_short.clone())?;
        let [version, id @ ..] = *header;
        if version != VERSION {
            return Err(UnsealError::UnknownVersion(version));
        }
        let (nonce, rest) = rest
            .split_first_chunk_mut::<NONCE_BYTES>()
            .ok_or(too_short.clone())?;
        let (ciphertext, tag) = rest
            .split_last_chunk_mut::<TAG_BYTES>()
            .ok_or(too_short.clone())?;
        if ciphertext.len() < ISSUED_AT_BYTES {
            return Err(too_short);
        }
        let nonce = XNonce::from(*nonce);
        let tag = (*tag).into();
        // Ids are 32 bits: two keys may share one, so each with the id is tried. The tag is
        // checked before anything is decrypted, so a failed try leaves the bytes as they were.
        let keys = std::iter::once(&self.current).chain(&self.fallbacks);
        let mut candidates = keys.enumerate().filter(|(_, key)| key.id == id).peekable();
        if candidates.peek().is_none() {
            return Err(UnsealError::UnknownKey);
        }
        let (position, _) = candidates
            .find(|(_, key)| {
                let ciphertext = (&mut *ciphertext).into();
                let opened = key.cipher.decrypt_inout_detached(
                    &nonce,
                    &key.associated_data,
                    ciphertext,
                    &tag,
                );
                opened.is_ok()
            })
            .ok_or(UnsealError::Inauthentic)?;
        let (issued_at, json) = ciphertext
            .split_first_chunk::<ISSUED_AT_BYTES>()
            .ok_or(UnsealError::BadPayload("no issue time"))?;
        let issued_at = OffsetDateTime::from_unix_timestamp(i64::from_be_bytes(*issued_at))
            .map_err(|_| UnsealError::BadPayload("an impossible issue time"))?;
        Ok(Unsealed {
            data: from_python_json(json).map_err(UnsealError::BadPayload)?,
            issued_at,
            with_fallback: position > 0,
        })
    }

    /// The key id in the header of `cookie_value`, read without decrypting anything.
    fn key_id(cookie_value: &str) -> Option<[u8; KEY_ID_BYTES]> {
        let mut header = [0; HEADER_CHARS / 4 * 3];
        let chars = cookie_value.get(..HEADER_CHARS)?;
        URL_SAFE_NO_PAD
            .decode(chars.as_bytes(), header.as_mut_slice().as_out())
            .ok()?;
        let (_, rest) = header.split_first()?;
        rest.first_chunk::<KEY_ID_BYTES>().copied()
    }
}

#[async_trait]
impl Engine for EncryptedCookieEngine {
    fn name(&self) -> &'static str {
        "encrypted_cookies"
    }

    fn keeps_data_in_cookie(&self) -> bool {
        true
    }

    /// A cookie sealed with a fallback key is sealed again with `SECRET_KEY` by the request
    /// that reads it, so a rotation moves every active user off the old key.
    fn needs_reissue(&self, cookie_value: &str) -> bool {
        Self::key_id(cookie_value).is_some_and(|id| id != self.current.id)
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        (MIN_VALUE_CHARS..=MAX_COOKIE_VALUE_BYTES).contains(&cookie_value.len())
            && cookie_value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    async fn load(&self, cookie_value: &str) -> Result<Option<Loaded>, EngineError> {
        let Some(session) = self.verified(cookie_value) else {
            return Ok(None);
        };
        if self.revocations.refuses(&session).await? {
            return Ok(None);
        }
        Ok(Some(Loaded {
            data: Arc::new(session.data),
            version: 0,
        }))
    }

    async fn save(&self, request: SaveRequest<'_>) -> Result<Saved, EngineError> {
        let data = self.revocations.to_save(&request);
        Ok(Saved {
            cookie_value: self.seal(&data, request.now)?,
            version: 0,
        })
    }

    /// Nothing is stored server-side: the middleware's expired Set-Cookie is what logs the
    /// browser out, and a copied cookie stays valid until it expires, unless the revocation
    /// list is on: then the session's id is listed until then.
    async fn delete(&self, cookie_value: &str) -> Result<(), EngineError> {
        self.revocations.end(|| self.verified(cookie_value)).await
    }

    /// Whether `cookie_value` is a sealed, unexpired session.
    async fn exists(&self, cookie_value: &str) -> Result<bool, EngineError> {
        Ok(self.accepts(cookie_value) && self.load(cookie_value).await?.is_some())
    }

    /// "Log out my other sessions": with the revocation list, a mark ending every cookie of
    /// `user_id` issued until now but those of `keep_cookie`'s session (see [`RevocationList`]);
    /// returns 0, as no one can count the browsers holding a cookie. Without the list,
    /// [`EngineError::Unsupported`]: a cookie cannot be ended before it expires.
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep_cookie: Option<&str>,
    ) -> Result<u64, EngineError> {
        let keep = keep_cookie.and_then(|cookie| self.verified(cookie));
        self.revocations
            .end_user_sessions(self.name(), user_id, keep, self.cookie_age)
            .await
    }

    /// Cookies expire on their own; there is nothing to clear.
    async fn clear_expired(&self, _batch: usize) -> Result<u64, EngineError> {
        Ok(0)
    }
}

mod key;
#[cfg(test)]
mod tests;

use key::{
    HEADER_BYTES, HEADER_CHARS, ISSUED_AT_BYTES, KEY_ID_BYTES, MIN_VALUE_CHARS, NONCE_BYTES,
    OVERHEAD_BYTES, SealingKey, TAG_BYTES,
};
pub use key::{PURPOSE, VERSION};
